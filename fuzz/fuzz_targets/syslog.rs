//! Syslog parsers and the RFC 6587 framer: no input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_ingest::{Framer, FramerConfig, ParseContext, detect_and_parse, syslog};

fuzz_target!(|data: &[u8]| {
    let ctx = ParseContext::new(jiff_epoch());
    let _ = syslog::parse_syslog(data, &ctx);
    let _ = syslog::parse_rfc5424(data, &ctx);
    let _ = syslog::parse_rfc3164(data, &ctx);
    let _ = detect_and_parse(data, &ctx);
    // The first byte picks the chunk size and framing mode.
    let (mode, rest) = data.split_first().map_or((0, data), |(m, r)| (*m, r));
    let mut f = Framer::new(FramerConfig { max_frame: 256, multiline: mode & 1 == 1 });
    for c in rest.chunks((mode as usize >> 1).max(1)) {
        f.push(c);
        while let Some(frame) = f.next_frame() {
            if let vigil_ingest::Frame::Message { bytes, .. } = frame {
                assert!(bytes.len() <= 256, "frames never exceed the maximum");
                let _ = syslog::parse_syslog(&bytes, &ctx);
            }
        }
    }
    let _ = f.finish();
});

fn jiff_epoch() -> vigil_ingest::parsed::Timestamp {
    vigil_ingest::parsed::Timestamp::from_second(1_800_000_000).unwrap_or_default()
}
