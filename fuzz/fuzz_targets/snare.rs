//! Snare / NXLog `MSWinEventLog` Windows events carried in syslog (RFC 3164 and RFC 5424),
//! reached only through `syslog::parse_syslog` (the Snare module is private). The fixed
//! prefixes put the fuzzed bytes where the TAB-separated columns and the expanded message are.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_ingest::{ParseContext, parsed::Timestamp, syslog};

fuzz_target!(|data: &[u8]| {
    let ctx = ParseContext::new(Timestamp::from_second(1_800_000_000).unwrap_or_default());
    for prefix in [
        &b"<14>Feb 18 06:42:17 dc01 MSWinEventLog\t"[..],
        b"<14>1 2025-02-18T06:42:17Z dc01 MSWinEventLog - - - MSWinEventLog\t",
        b"<14>Feb 18 06:42:17 dc01 MSWinEventLog\t1\tSecurity\t42\tTue Feb 18 06:42:17 2025\t4624\t",
        b"<14>Feb 18 06:42:17 dc01 MSWinEventLog\t1\tSecurity\t42\tTue Feb 18 06:42:17 2025\t4688\tMicrosoft-Windows-Security-Auditing\tN/A\tN/A\tSuccess Audit\tdc01\tProcess Creation\t\t",
    ] {
        let mut line = prefix.to_vec();
        line.extend_from_slice(data);
        let _ = syslog::parse_syslog(&line, &ctx);
    }
});
