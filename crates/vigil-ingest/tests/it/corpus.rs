//! Every file of the shared corpora parses without a panic; rejects are counted and bounded.
//! Run with `--nocapture` to see the per-corpus summary lines.

use crate::ctx;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vigil_ingest::{
    Frame, Framer, FramerConfig, Parsed, Reject, SourceFormat, access, auditd, cef, eve, leef,
    parse_batch, parse_lines, syslog, zeek,
};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .is_some_and(|n| n != "SOURCE.txt" && n != "LICENSE" && n != "LICENSE.txt")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn lines(doc: &[u8]) -> usize {
    doc.split(|c| *c == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .count()
}

fn summary(name: &str, files: usize, lines: usize, events: usize, rejects: &[Reject]) {
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rejects {
        *kinds.entry(r.error.kind.as_str()).or_default() += 1;
    }
    println!(
        "CORPUS {name}: {files} files, {lines} lines, {events} events, {} rejects {kinds:?}",
        rejects.len()
    );
}

#[test]
fn syslog_samples() {
    let Some(dir) = vigil_testkit::shared_data("syslog-samples", "syslog_samples") else {
        return;
    };
    let c = ctx();
    let (mut nfiles, mut nlines, mut events) = (0, 0, Vec::<Parsed>::new());
    let mut rejects = Vec::new();
    for f in files(&dir) {
        if f.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let doc = read(&f);
        nfiles += 1;
        nlines += lines(&doc);
        let name = f.to_string_lossy();
        // TCP test streams go through the framer, as a listener would.
        let multiline = name.contains("multi_line")
            || name.contains("multiline")
            || name.contains("framing_regex");
        let mut framer = Framer::new(FramerConfig {
            max_frame: 64 * 1024,
            multiline,
        });
        framer.push(&doc);
        let mut frames = Vec::new();
        while let Some(fr) = framer.next_frame() {
            frames.push(fr);
        }
        frames.extend(framer.finish());
        for fr in frames {
            match fr {
                Frame::Message { bytes, .. } => match syslog::parse_syslog(&bytes, &c) {
                    Ok(p) => events.push(p),
                    Err(e) => rejects.push((name.to_string(), e)),
                },
                Frame::Oversized { head, .. } => panic!(
                    "{name}: unexpected oversized frame {}",
                    String::from_utf8_lossy(&head)
                ),
            }
        }
    }
    summary("syslog-samples", nfiles, nlines, events.len(), &[]);
    assert!(
        rejects.is_empty(),
        "parse_syslog keeps every line: {rejects:?}"
    );
    let snare = events
        .iter()
        .filter(|e| e.format == vigil_ingest::Format::Snare)
        .count();
    println!("CORPUS syslog-samples: {snare} Snare Windows events");
    assert!(snare >= 370, "Snare events recognized: {snare}");
    let unparsed = events
        .iter()
        .filter(|e| e.format == vigil_ingest::Format::SyslogUnparsed)
        .count();
    let unparsed_lines: Vec<_> = events
        .iter()
        .filter(|e| e.format == vigil_ingest::Format::SyslogUnparsed)
        .map(|e| {
            (
                String::from_utf8_lossy(&e.raw).into_owned(),
                e.notes.clone(),
            )
        })
        .collect();
    assert_eq!(
        unparsed, 0,
        "every sample has a readable header: {unparsed_lines:?}"
    );
    // The multi-line test stream joins its continuation lines into one message.
    assert!(events.iter().any(|e| {
        e.fields
            .get_str("message")
            .is_some_and(|m| m.starts_with("multi\nl\ni\nn"))
    }));
}

#[test]
fn suricata_eve() {
    let Some(dir) = vigil_testkit::shared_data("suricata-eve", "suricata_eve") else {
        return;
    };
    let c = ctx();
    let (mut nfiles, mut nlines, mut n) = (0, 0, 0);
    let mut rejects = Vec::new();
    for f in files(&dir)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "json" || e == "log"))
    {
        let doc = read(&f);
        nfiles += 1;
        nlines += lines(&doc);
        let (ev, rej) = eve::parse_eve_document(&doc, &c);
        assert!(!ev.is_empty(), "{}", f.display());
        for e in &ev {
            assert!(e.fields.get_str("event.type").is_some());
            assert_eq!(e.logsource.product.as_deref(), Some("suricata"));
        }
        n += ev.len();
        rejects.extend(rej);
    }
    summary("suricata-eve", nfiles, nlines, n, &rejects);
    assert!(rejects.is_empty(), "{rejects:?}");
    assert!(n >= 150, "records: {n}");
}

#[test]
fn zeek_logs() {
    let Some(dir) = vigil_testkit::shared_data("zeek-logs", "zeek_logs") else {
        return;
    };
    let c = ctx();
    let (mut nfiles, mut nlines, mut n, mut with_time, mut not_logs) = (0, 0, 0, 0, 0);
    let mut rejects = Vec::new();
    for f in files(&dir) {
        let doc = read(&f);
        nfiles += 1;
        nlines += lines(&doc);
        let first = doc
            .split(|c| *c == b'\n')
            .find(|l| !l.is_empty() && !l.starts_with(b"### "))
            .unwrap_or_default();
        let (ev, rej) = if first.starts_with(b"{") {
            let mut fc = c.clone();
            fc.zeek_path = f.file_stem().map(|s| {
                s.to_string_lossy()
                    .split('.')
                    .next()
                    .unwrap_or("")
                    .to_string()
            });
            parse_lines(&doc, |l| {
                if l.starts_with(b"### ") {
                    // The btest banner is not part of a log.
                    Err(vigil_ingest::ParseError::new(
                        vigil_ingest::ErrorKind::Header,
                        "btest banner",
                    ))
                } else {
                    zeek::parse_zeek_json(l, &fc)
                }
            })
        } else {
            zeek::parse_zeek_tsv_document(&doc, &c)
        };
        with_time += ev.iter().filter(|e| e.timestamp.is_some()).count();
        n += ev.len();
        let rej: Vec<Reject> = rej
            .into_iter()
            .filter(|r| r.error.message != "btest banner")
            .collect();
        // `output`/`output.log` are the test scripts' own prints, not Zeek logs: parsed for
        // robustness, counted apart.
        if f.file_stem().is_some_and(|s| s == "output") {
            not_logs += rej.len();
        } else {
            rejects.extend(rej);
        }
    }
    summary("zeek-logs", nfiles, nlines, n, &rejects);
    println!(
        "CORPUS zeek-logs: {with_time} events with a real timestamp, {not_logs} rejected lines in non-log script output"
    );
    assert!(n > 5_000, "events: {n}");
    assert!(with_time >= 10, "real timestamps: {with_time}");
    // Known bad input in log files: btest's XXXXXXXXXX.XXXXXX inside JSON (invalid JSON),
    // a non-standard meta prefix (ascii-empty), `zeek-cut` output without any header.
    assert!(rejects.len() * 50 < n, "rejects {} of {n}", rejects.len());
}

#[test]
fn cef_leef() {
    let Some(dir) = vigil_testkit::shared_data("cef-leef", "cef_leef") else {
        return;
    };
    let c = ctx();
    let (mut nfiles, mut nlines, mut n) = (0, 0, 0);
    let mut rejects = Vec::new();
    for f in files(&dir) {
        let doc = read(&f);
        nfiles += 1;
        nlines += lines(&doc);
        let is_leef = f
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("leef"));
        let (ev, rej) = parse_lines(&doc, |l| {
            if is_leef {
                leef::parse_leef(l, &c)
            } else {
                cef::parse_cef(l, &c)
            }
        });
        n += ev.len();
        rejects.extend(rej);
    }
    summary("cef-leef", nfiles, nlines, n, &rejects);
    // Lines 5-8 of rscript_tocef.expected.cef.txt are bare escaped values, not records.
    assert_eq!(rejects.len(), 4, "{rejects:?}");
    assert!(rejects.iter().all(|r| (5..=8).contains(&r.line)));
    assert_eq!(n, 23);
}

#[test]
fn auditd() {
    let Some(dir) = vigil_testkit::shared_data("auditd", "auditd") else {
        return;
    };
    let c = ctx();
    for f in files(&dir) {
        let doc = read(&f);
        let (ev, rej) = auditd::parse_auditd_document(&doc, &c);
        summary("auditd", 1, lines(&doc), ev.len(), &rej);
        assert!(rej.is_empty(), "{rej:?}");
        assert!(ev.len() >= 14);
        assert!(
            ev.iter()
                .all(|e| e.time_quality == vigil_ingest::TimeQuality::Exact)
        );
    }
}

#[test]
fn web_access() {
    let Some(dir) = vigil_testkit::shared_data("web-access", "web_access") else {
        return;
    };
    let c = ctx();
    for f in files(&dir) {
        let doc = read(&f);
        let (ev, rej) = parse_lines(&doc, |l| access::parse_access(l, &c));
        summary("web-access", 1, lines(&doc), ev.len(), &rej);
        assert!(rej.is_empty(), "{rej:?}");
        assert_eq!(ev.len(), 7);
    }
}

#[test]
fn real_logs_detected() {
    let Some(dir) = vigil_testkit::shared_data("real-logs", "real_logs_detected") else {
        return;
    };
    let c = ctx();
    let mut by_format: BTreeMap<String, BTreeMap<&'static str, usize>> = BTreeMap::new();
    let (mut nfiles, mut nlines, mut n) = (0, 0, 0);
    let mut rejects = Vec::new();
    for f in files(&dir)
        .into_iter()
        .filter(|f| f.to_string_lossy().ends_with("_2k.log"))
    {
        let doc = read(&f);
        nfiles += 1;
        nlines += lines(&doc);
        let (ev, rej) = parse_batch(&doc, SourceFormat::Auto, &c);
        let system = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        for e in &ev {
            *by_format
                .entry(system.clone())
                .or_default()
                .entry(e.format.as_str())
                .or_default() += 1;
        }
        n += ev.len();
        rejects.extend(rej);
    }
    summary("real-logs", nfiles, nlines, n, &rejects);
    for (system, counts) in &by_format {
        println!("CORPUS real-logs {system}: {counts:?}");
    }
    assert_eq!(n + rejects.len(), nlines);
    let syslog = |s: &str| {
        by_format
            .get(s)
            .and_then(|m| m.get("rfc3164"))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(syslog("Linux_2k"), 2000);
    assert_eq!(syslog("OpenSSH_2k"), 2000);
}

/// Every record of every EVTX sample normalizes: a time, a host, an event code, a Windows log
/// source; the attack samples yield logons with users and process creations with images.
#[test]
fn evtx_samples() {
    let Some(dir) = vigil_testkit::shared_data("evtx-samples", "evtx_samples") else {
        return;
    };
    let (mut n_files, mut records, mut broken) = (0usize, 0usize, 0usize);
    let mut by_category: BTreeMap<String, usize> = BTreeMap::new();
    let (mut logons_with_user, mut processes_with_name) = (0usize, 0usize);
    for f in files(&dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "evtx"))
    {
        let Ok(parser) = evtx::EvtxParser::from_path(&f) else {
            broken += 1;
            continue;
        };
        n_files += 1;
        let mut parser = parser.with_configuration(evtx::ParserSettings::new().num_threads(1));
        for rec in parser.records_json_value() {
            let Ok(r) = rec else {
                broken += 1;
                continue;
            };
            records += 1;
            let p = vigil_ingest::winevt::parse_evtx_record(&r.data, b"")
                .unwrap_or_else(|e| panic!("{}: record {}: {e}", f.display(), r.event_record_id));
            assert!(p.timestamp.is_some(), "{}: no time", f.display());
            assert!(p.fields.get_str("event.code").is_some(), "{}", f.display());
            assert_eq!(p.logsource.product.as_deref(), Some("windows"));
            if let Some(c) = p.logsource.category.as_deref() {
                *by_category.entry(c.to_string()).or_default() += 1;
            }
            if p.fields.get_str("event.category") == Some("authentication")
                && p.fields.get_str("user.name").is_some()
            {
                logons_with_user += 1;
            }
            if p.logsource.category.as_deref() == Some("process_creation")
                && p.fields.get_str("process.name").is_some()
            {
                processes_with_name += 1;
            }
        }
    }
    println!(
        "CORPUS evtx: {n_files} files, {records} records, {broken} unreadable files or records, \
         categories {by_category:?}, {logons_with_user} logons with a user, \
         {processes_with_name} process creations with an image"
    );
    assert!(records > 10_000, "{records}");
    assert!(logons_with_user > 100, "{logons_with_user}");
    assert!(processes_with_name > 100, "{processes_with_name}");
}
