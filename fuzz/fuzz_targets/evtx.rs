//! Windows EVTX files: arbitrary bytes read as a whole `.evtx` file by the `evtx` crate the
//! way `vigil events import-evtx` and `vigil hunt` read them (one thread, records as JSON
//! values, a broken chunk or record is an `Err` item to report and go on), every record
//! normalized by `winevt::parse_evtx_record`. The same bytes are also tried as one record's
//! JSON, which reaches the normalization without a valid binary file around it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_ingest::winevt;

fuzz_target!(|data: &[u8]| {
    if let Ok(parser) = evtx::EvtxParser::from_buffer(data.to_vec()) {
        let mut parser = parser.with_configuration(evtx::ParserSettings::new().num_threads(1));
        for rec in parser.records_json_value() {
            match rec {
                Ok(r) => {
                    let raw = r.data.to_string().into_bytes();
                    let _ = winevt::parse_evtx_record(&r.data, &raw);
                }
                // What the CLI and hunt report for the chunk or record (hunt with the
                // error's whole source chain), then go on.
                Err(e) => {
                    let mut cause: Option<&dyn std::error::Error> = Some(&e);
                    while let Some(c) = cause {
                        drop(c.to_string());
                        cause = c.source();
                    }
                }
            }
        }
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = winevt::parse_evtx_record(&v, data);
    }
});
