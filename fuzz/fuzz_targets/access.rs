//! Apache / nginx access-log lines, alone, in batches, and behind a valid host and time so
//! that mutations reach the request, status, size and quoted extras.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_ingest::{
    ParseContext, SourceFormat, access, detect_and_parse, parse_batch, parsed::Timestamp,
};

fuzz_target!(|data: &[u8]| {
    let ctx = ParseContext::new(Timestamp::from_second(1_800_000_000).unwrap_or_default());
    let _ = access::parse_access(data, &ctx);
    let _ = detect_and_parse(data, &ctx);
    let (events, rejects) = parse_batch(data, SourceFormat::AccessLog, &ctx);
    assert!(events.len() + rejects.len() <= data.split(|c| *c == b'\n').count());
    // Past the host fields: the time (vhost form too), then the rest of the line.
    for prefix in [
        &b"1.2.3.4 - - ["[..],
        b"vhost.example:8080 ::1 - bob [",
        b"1.2.3.4 - - [04/Jul/2019:09:20:46 +0200] ",
        b"1.2.3.4 - - [04/Jul/2019:09:20:46 +0200] \"GET / HTTP/1.1\" ",
    ] {
        let mut line = prefix.to_vec();
        line.extend_from_slice(data);
        let _ = access::parse_access(&line, &ctx);
    }
});
