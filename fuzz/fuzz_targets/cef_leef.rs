//! CEF and LEEF parsers, bare and behind syslog headers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_ingest::{ParseContext, cef, leef, parsed::Timestamp};

fuzz_target!(|data: &[u8]| {
    let ctx = ParseContext::new(Timestamp::from_second(1_800_000_000).unwrap_or_default());
    let _ = cef::parse_cef(data, &ctx);
    let _ = leef::parse_leef(data, &ctx);
    let mut with_prefix = b"CEF:0|".to_vec();
    with_prefix.extend_from_slice(data);
    let _ = cef::parse_cef(&with_prefix, &ctx);
    let mut with_prefix = b"<14>Sep 17 13:45:35 fw LEEF:2.0|".to_vec();
    with_prefix.extend_from_slice(data);
    let _ = leef::parse_leef(&with_prefix, &ctx);
});
