//! Zeek TSV documents (header-driven) and JSON records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_ingest::{ParseContext, parsed::Timestamp, zeek};

fuzz_target!(|data: &[u8]| {
    let ctx = ParseContext::new(Timestamp::from_second(1_800_000_000).unwrap_or_default());
    let _ = zeek::parse_zeek_tsv_document(data, &ctx);
    let _ = zeek::parse_zeek_json(data, &ctx);
    // Data lines behind a fixed header reach the value decoding.
    let mut doc = b"#separator \\x09\n#set_separator\t,\n#fields\tts\tid.orig_h\tss\tn\n#types\ttime\taddr\tset[string]\tcount\n".to_vec();
    doc.extend_from_slice(data);
    let _ = zeek::parse_zeek_tsv_document(&doc, &ctx);
});
