//! auditd records and the assembler that joins them by serial.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_ingest::{ParseContext, auditd, parsed::Timestamp};

fuzz_target!(|data: &[u8]| {
    let ctx = ParseContext::new(Timestamp::from_second(1_800_000_000).unwrap_or_default());
    let _ = auditd::parse_audit_record(data);
    let _ = auditd::parse_auditd_document(data, &ctx);
    let mut line = b"type=EXECVE msg=audit(1.5:7): ".to_vec();
    line.extend_from_slice(data);
    let _ = auditd::parse_auditd_document(&line, &ctx);
});
