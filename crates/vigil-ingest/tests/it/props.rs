//! Properties: no input panics any parser; RFC 5424 messages built from random parts parse
//! back to those parts; framing recovers messages however the stream is chunked.

use crate::ctx;
use proptest::prelude::*;
use vigil_ingest::{
    Frame, Framer, FramerConfig, access, auditd, cef, detect_and_parse, eve, json, leef, syslog,
    zeek,
};

proptest! {
    #[test]
    fn no_parser_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let c = ctx();
        let _ = detect_and_parse(&bytes, &c);
        let _ = syslog::parse_syslog(&bytes, &c);
        let _ = syslog::parse_rfc5424(&bytes, &c);
        let _ = syslog::parse_rfc3164(&bytes, &c);
        let _ = cef::parse_cef(&bytes, &c);
        let _ = leef::parse_leef(&bytes, &c);
        let _ = eve::parse_eve(&bytes, &c);
        let _ = json::parse_json(&bytes, &c);
        let _ = zeek::parse_zeek_json(&bytes, &c);
        let _ = zeek::parse_zeek_tsv_document(&bytes, &c);
        let _ = auditd::parse_auditd_document(&bytes, &c);
        let _ = access::parse_access(&bytes, &c);
        let _ = vigil_ingest::detect_and_parse_document(&bytes, &c);
    }

    /// Mutations of valid lines reach deeper than random bytes do.
    #[test]
    fn no_parser_panics_on_mutated_lines(
        which in 0usize..8,
        cut in 0usize..400,
        insert in proptest::collection::vec(prop_oneof![Just(b'\\'), Just(b'"'), Just(b']'), Just(b'='), Just(b'|'), Just(b' '), Just(b'\t'), any::<u8>()], 0..6),
    ) {
        let seeds: [&[u8]; 8] = [
            br#"<34>1 2026-07-23T09:30:45+02:00 host app 123 msg [meta@32473 value="escaped\]bracket" quote="\""] payload"#,
            b"<14>Sep 17 13:45:35 fw LEEF:1.0|Palo Alto Networks|PAN-OS|11|allow|cat=TRAFFIC|devTime=Sep 17 2025 11:45:34 GMT|src=1.2.3.4",
            b"CEF:0|V\\|X|P|1|2|n|5|msg=a\\=b c src=1.2.3.4 cs1Label=x cs1=y",
            br#"{"timestamp":"2018-07-05T15:01:09.820360-0400","flow_id":2211411903323127,"event_type":"dns","dns":{"rrname":"a"}}"#,
            b"type=EXECVE msg=audit(1581371984.206:579393): argc=2 a0=\"ls\" a1=2D6C61",
            br#"::1 - - [26/Dec/2016:16:16:48 +0200] "GET / HTTP/1.1" 408 - "-" "ua""#,
            b"<14>Sep 17 16:37:25 W MSWinEventLog\t1\tSecurity\t1\tFri Sep 17 16:37:25 2021\t4624\tP\tN/A\tN/A\tSuccess Audit\tW\tLogon\t\tSubject:  Account Name:  x\t1",
            b"#fields\tts\tid.orig_h\n#types\ttime\taddr\n1.5\t1.2.3.4",
        ];
        let mut line = seeds[which].to_vec();
        let at = cut.min(line.len());
        line.splice(at..at, insert);
        let c = ctx();
        let _ = detect_and_parse(&line, &c);
        let _ = syslog::parse_syslog(&line, &c);
        let _ = cef::parse_cef(&line, &c);
        let _ = leef::parse_leef(&line, &c);
        let _ = auditd::parse_auditd_document(&line, &c);
        let _ = vigil_ingest::detect_and_parse_document(&line, &c);
    }

    #[test]
    fn rfc5424_from_random_parts_parses_back(
        pri in 0u8..=191,
        secs in 0i64..4_102_444_800,
        micros in 0u32..1_000_000,
        host in "[!-~]{1,255}",
        app in "[!-~]{1,48}",
        procid in "[!-~]{1,128}",
        msgid in "[!-~]{1,32}",
        params in proptest::collection::vec(("[a-zA-Z0-9_.@-]{1,32}", "[^\u{0}]{0,20}"), 0..4),
        msg in "[^\r\n\u{0}\u{feff}]{0,60}",
    ) {
        prop_assume!(![host.as_str(), app.as_str(), procid.as_str(), msgid.as_str()].contains(&"-"));
        let t = jiff::Timestamp::new(secs, (micros * 1000) as i32).expect("in range");
        let ts = t.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string();
        let mut sd = String::new();
        for (i, (name, value)) in params.iter().enumerate() {
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"").replace(']', "\\]");
            sd.push_str(&format!("[id{i}@32473 {name}=\"{escaped}\"]"));
        }
        if sd.is_empty() {
            sd.push('-');
        }
        let line = if msg.is_empty() {
            format!("<{pri}>1 {ts} {host} {app} {procid} {msgid} {sd}")
        } else {
            format!("<{pri}>1 {ts} {host} {app} {procid} {msgid} {sd} {msg}")
        };
        let p = syslog::parse_rfc5424(line.as_bytes(), &ctx()).map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?;
        prop_assert_eq!(p.timestamp, Some(t));
        prop_assert_eq!(p.fields.get("log.syslog.priority").and_then(|v| v.as_u64()), Some(pri as u64));
        prop_assert_eq!(p.fields.get_str("host.name"), Some(host.as_str()));
        prop_assert_eq!(p.fields.get_str("log.syslog.appname"), Some(app.as_str()));
        prop_assert_eq!(p.fields.get_str("log.syslog.procid"), Some(procid.as_str()));
        prop_assert_eq!(p.fields.get_str("log.syslog.msgid"), Some(msgid.as_str()));
        for (i, (name, value)) in params.iter().enumerate() {
            let key = format!("log.syslog.structured_data.id{i}@32473.{name}");
            prop_assert_eq!(p.fields.get_str(&key), Some(value.as_str()), "{}", key);
        }
        let want_msg = msg.trim_end_matches(['\r', '\n', '\0']);
        prop_assert_eq!(p.fields.get_str("message"), (!want_msg.is_empty()).then_some(want_msg));
        prop_assert_eq!(p.raw, line.into_bytes());
    }

    #[test]
    fn framing_recovers_messages_however_chunked(
        msgs in proptest::collection::vec(("<[0-9]{1,3}>[ -~]{0,40}", any::<bool>()), 1..20),
        chunk in 1usize..64,
    ) {
        let mut stream = Vec::new();
        for (m, counted) in &msgs {
            if *counted {
                stream.extend(format!("{} {m}", m.len()).into_bytes());
            } else {
                stream.extend(m.as_bytes());
                stream.push(b'\n');
            }
        }
        let mut f = Framer::new(FramerConfig { max_frame: 4096, multiline: false });
        let mut got = Vec::new();
        for c in stream.chunks(chunk) {
            f.push(c);
            while let Some(fr) = f.next_frame() {
                got.push(fr);
            }
        }
        got.extend(f.finish());
        let got: Vec<String> = got
            .into_iter()
            .map(|fr| match fr {
                Frame::Message { bytes, .. } => String::from_utf8_lossy(&bytes).into_owned(),
                Frame::Oversized { .. } => "OVERSIZED".into(),
            })
            .collect();
        let want: Vec<String> = msgs.iter().map(|(m, counted)| if *counted { m.clone() } else { m.trim_end_matches('\r').to_string() }).collect();
        prop_assert_eq!(got, want);
    }
}
