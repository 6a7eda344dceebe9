//! Golden outputs for representative lines of the shared corpora: the JSON view of the parsed
//! event (fields, native fields, time, log source) must equal `tests/fixtures/golden/*.json`.
//! `VIGIL_UPDATE_GOLDEN=1` rewrites the files (review the diff before committing).

use crate::ctx;
use serde_json::Value;
use std::path::PathBuf;
use vigil_ingest::{Parsed, auditd, cef, eve, leef, syslog, zeek};

fn line(rel: &str, n: usize, test: &str) -> Option<Vec<u8>> {
    let p = vigil_testkit::shared_data(rel, test)?;
    let doc = std::fs::read(&p).expect("readable corpus file");
    let l = doc
        .split(|c| *c == b'\n')
        .nth(n - 1)
        .unwrap_or_else(|| panic!("{rel} has no line {n}"));
    Some(l.strip_suffix(b"\r").unwrap_or(l).to_vec())
}

fn check(name: &str, p: &Parsed) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/golden/{name}.json"));
    let got = p.to_json();
    if std::env::var("VIGIL_UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        let text = serde_json::to_string_pretty(&got).expect("serializes") + "\n";
        std::fs::write(&path, text).expect("writes golden file");
        return;
    }
    let want: Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (run with VIGIL_UPDATE_GOLDEN=1)", path.display())
        }))
        .expect("golden file is JSON");
    assert_eq!(
        got,
        want,
        "{name} differs from its golden file:\n{}",
        serde_json::to_string_pretty(&got).unwrap_or_default()
    );
}

#[test]
fn golden_rfc5424() {
    let Some(l) = line(
        "syslog-samples/rsyslog/tests/fuzz/corpus/syslog-message/rfc5424-escaped-sd",
        1,
        "golden_rfc5424",
    ) else {
        return;
    };
    check(
        "rfc5424_escaped_sd",
        &syslog::parse_syslog(&l, &ctx()).expect("parses"),
    );
}

#[test]
fn golden_rfc3164_loghub_linux() {
    let Some(l) = line("real-logs/Linux/Linux_2k.log", 1, "golden_rfc3164") else {
        return;
    };
    check(
        "rfc3164_linux",
        &syslog::parse_syslog(&l, &ctx()).expect("parses"),
    );
}

#[test]
fn golden_snare() {
    let Some(l) = line(
        "syslog-samples/rsyslog/tests/testsuites/mmsnareparse/sample-events.data",
        1,
        "golden_snare",
    ) else {
        return;
    };
    check(
        "snare_4624",
        &syslog::parse_syslog(&l, &ctx()).expect("parses"),
    );
}

#[test]
fn golden_cef() {
    let Some(l) = line("cef-leef/elastic-beats/fp-ngfw-smc.log", 3, "golden_cef") else {
        return;
    };
    check(
        "cef_forcepoint",
        &cef::parse_cef(&l, &ctx()).expect("parses"),
    );
}

#[test]
fn golden_leef() {
    let Some(l) = line(
        "cef-leef/rsyslog/mmleefparse_basic.leef.txt",
        1,
        "golden_leef",
    ) else {
        return;
    };
    check("leef_panos", &leef::parse_leef(&l, &ctx()).expect("parses"));
}

#[test]
fn golden_eve() {
    let Some(l) = line("suricata-eve/elastic-beats/eve-small.log", 2, "golden_eve") else {
        return;
    };
    check(
        "eve_alert_tls",
        &eve::parse_eve(&l, &ctx()).expect("parses"),
    );
    let Some(l) = line("suricata-eve/elastic-beats/eve-small.log", 4, "golden_eve") else {
        return;
    };
    check("eve_fileinfo", &eve::parse_eve(&l, &ctx()).expect("parses"));
}

#[test]
fn golden_zeek_tsv() {
    let Some(p) = vigil_testkit::shared_data(
        "zeek-logs/scripts.base.frameworks.logging.json-non-printable-escaping/http.log.tsv",
        "golden_zeek_tsv",
    ) else {
        return;
    };
    let (ev, rej) = zeek::parse_zeek_tsv_document(&std::fs::read(p).expect("readable"), &ctx());
    assert!(rej.is_empty(), "{rej:?}");
    check("zeek_http_tsv", &ev[2]);
}

#[test]
fn golden_auditd() {
    let Some(p) = vigil_testkit::shared_data("auditd/elastic-beats/test.log", "golden_auditd")
    else {
        return;
    };
    let (ev, _) = auditd::parse_auditd_document(&std::fs::read(p).expect("readable"), &ctx());
    let e = ev
        .iter()
        .find(|e| {
            e.fields.get_str("event.action") == Some("syscall")
                && e.fields.get_str("process.name") == Some("charon")
        })
        .expect("the charon SYSCALL event");
    check("auditd_syscall_hex_exe", e);
}
