//! Suricata EVE records and documents (NDJSON and JSON arrays).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_ingest::{ParseContext, eve, json, parsed::Timestamp};

fuzz_target!(|data: &[u8]| {
    let ctx = ParseContext::new(Timestamp::from_second(1_800_000_000).unwrap_or_default());
    let _ = eve::parse_eve(data, &ctx);
    let _ = eve::parse_eve_document(data, &ctx);
    let _ = json::parse_json(data, &ctx);
});
