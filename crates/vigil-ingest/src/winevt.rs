//! Windows event log records (EVTX) as the `evtx` crate renders them to JSON, normalized.
//!
//! Input shape: `{"Event": {"System": {...}, "EventData": {...} | "UserData": {...}}}`, where
//! a value may carry XML attributes as `{"#attributes": {...}, "#text": value}`. This module
//! does no IO: the caller reads the file (vigil-cli's `events import-evtx`, the pipeline) and
//! hands over each record's JSON.
//!
//! Output: ECS fields (`@timestamp` from `TimeCreated/@SystemTime`, `host.name`, `event.code`,
//! `event.provider`, `winlog.channel`, `winlog.record_id`, `winlog.event_id`,
//! `winlog.computer_name`, `winlog.event_data.*`, and where the event data carries them
//! `user.name`/`user.domain`, `source.ip`/`source.port`, `process.*`), plus a category, action
//! and outcome for the Windows event ids analysts filter on most (logons, process creation,
//! account changes, service installs, Sysmon). The Sigma log source is product `windows`,
//! service from the channel, and category `process_creation` for Security 4688 and Sysmon 1
//! (whose event data the SigmaHQ process-creation rules are written against), and the other
//! Sysmon categories by event id.

use crate::error::{ErrorKind, ParseError};
use crate::parsed::{Format, LogSource, Parsed, TimeQuality};
use serde_json::Value;
use std::borrow::Cow;

fn path<'a>(mut v: &'a Value, segs: &[&str]) -> Option<&'a Value> {
    for s in segs {
        v = v.as_object()?.get(*s)?;
    }
    Some(v)
}

/// The element text of a value that may carry attributes.
fn text_of(v: &Value) -> &Value {
    match v {
        Value::Object(m) => m.get("#text").unwrap_or(v),
        _ => v,
    }
}

/// A scalar as text; `None` for null, empty, "-" (Windows' "no value") and containers.
fn scalar(v: &Value) -> Option<String> {
    match text_of(v) {
        Value::String(s) if s.is_empty() || s == "-" => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// (category, type, action, outcome) of well-known event ids, by channel family.
fn classify(
    channel: &str,
    id: i64,
) -> Option<(
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
)> {
    let sysmon = channel.eq_ignore_ascii_case("Microsoft-Windows-Sysmon/Operational");
    if sysmon {
        return match id {
            1 => Some(("process", "start", "process-created", None)),
            3 => Some(("network", "connection", "network-connection", None)),
            5 => Some(("process", "end", "process-terminated", None)),
            7 => Some(("library", "start", "image-loaded", None)),
            8 => Some(("process", "change", "remote-thread-created", None)),
            10 => Some(("process", "access", "process-accessed", None)),
            11 => Some(("file", "creation", "file-created", None)),
            12..=14 => Some(("registry", "change", "registry-changed", None)),
            22 => Some(("network", "protocol", "dns-query", None)),
            23 | 26 => Some(("file", "deletion", "file-deleted", None)),
            _ => None,
        };
    }
    if !channel.eq_ignore_ascii_case("Security") {
        return match (channel, id) {
            ("System", 7045) => Some(("configuration", "creation", "service-installed", None)),
            _ => None,
        };
    }
    match id {
        4624 => Some(("authentication", "start", "logged-in", Some("success"))),
        4625 => Some(("authentication", "start", "logon-failed", Some("failure"))),
        4634 | 4647 => Some(("authentication", "end", "logged-out", Some("success"))),
        4648 => Some((
            "authentication",
            "start",
            "logged-in-explicit",
            Some("success"),
        )),
        4672 => Some((
            "iam",
            "admin",
            "special-privileges-assigned",
            Some("success"),
        )),
        4688 => Some(("process", "start", "process-created", Some("success"))),
        4689 => Some(("process", "end", "process-terminated", Some("success"))),
        4697 => Some((
            "configuration",
            "creation",
            "service-installed",
            Some("success"),
        )),
        4698 => Some((
            "configuration",
            "creation",
            "scheduled-task-created",
            Some("success"),
        )),
        4720 => Some(("iam", "creation", "user-account-created", Some("success"))),
        4722 => Some(("iam", "change", "user-account-enabled", Some("success"))),
        4724 => Some(("iam", "change", "password-reset", Some("success"))),
        4726 => Some(("iam", "deletion", "user-account-deleted", Some("success"))),
        4728 | 4732 | 4756 => Some(("iam", "change", "added-member-to-group", Some("success"))),
        4740 => Some(("iam", "change", "user-account-locked", Some("success"))),
        4768 | 4769 => Some(("authentication", "start", "kerberos-ticket", None)),
        4771 => Some((
            "authentication",
            "start",
            "kerberos-preauth-failed",
            Some("failure"),
        )),
        4776 => Some(("authentication", "start", "credential-validated", None)),
        1102 => Some((
            "configuration",
            "deletion",
            "audit-log-cleared",
            Some("success"),
        )),
        5140 | 5145 => Some(("file", "access", "network-share-accessed", None)),
        _ => None,
    }
}

/// The Sigma `service` of a channel.
fn service_of(channel: &str) -> Option<&'static str> {
    Some(match channel {
        "Security" => "security",
        "System" => "system",
        "Application" => "application",
        "Microsoft-Windows-Sysmon/Operational" => "sysmon",
        "Windows PowerShell" => "powershell-classic",
        "Microsoft-Windows-PowerShell/Operational" => "powershell",
        "Microsoft-Windows-TaskScheduler/Operational" => "taskscheduler",
        "Microsoft-Windows-Windows Defender/Operational" => "windefend",
        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational" => {
            "terminalservices-localsessionmanager"
        }
        "Microsoft-Windows-WMI-Activity/Operational" => "wmi",
        "Microsoft-Windows-Bits-Client/Operational" => "bits-client",
        "Microsoft-Windows-DNS-Client/Operational" => "dns-client",
        _ => return None,
    })
}

/// The Sigma `category` of an event.
fn category_of(channel: &str, id: i64) -> Option<&'static str> {
    if channel == "Microsoft-Windows-Sysmon/Operational" {
        return Some(match id {
            1 => "process_creation",
            2 => "file_change",
            3 => "network_connection",
            5 => "process_termination",
            6 => "driver_load",
            7 => "image_load",
            8 => "create_remote_thread",
            9 => "raw_access_thread",
            10 => "process_access",
            11 => "file_event",
            12..=14 => "registry_event",
            15 => "create_stream_hash",
            17 | 18 => "pipe_created",
            19..=21 => "wmi_event",
            22 => "dns_query",
            23 | 26 => "file_delete",
            25 => "process_tampering",
            _ => return None,
        });
    }
    (channel == "Security" && id == 4688).then_some("process_creation")
}

fn basename(p: &str) -> &str {
    p.rsplit(['\\', '/']).next().unwrap_or(p)
}

/// Normalizes one record. `raw` is what is kept as the event's raw bytes (the record's JSON
/// text, usually).
pub fn parse_evtx_record(record: &Value, raw: &[u8]) -> Result<Parsed, ParseError> {
    let system = path(record, &["Event", "System"])
        .and_then(Value::as_object)
        .ok_or_else(|| ParseError::new(ErrorKind::Json, "not an EVTX record: no Event.System"))?;
    let mut p = Parsed::new(Format::Evtx, raw);
    let get = |k: &str| system.get(k).and_then(scalar);
    let channel = get("Channel").unwrap_or_default();
    let id: Option<i64> = system.get("EventID").map(text_of).and_then(|v| match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    if let Some(t) = path(
        record,
        &[
            "Event",
            "System",
            "TimeCreated",
            "#attributes",
            "SystemTime",
        ],
    )
    .and_then(Value::as_str)
    {
        match t.parse::<jiff::Timestamp>() {
            Ok(ts) => p.set_time(ts, TimeQuality::Exact, t),
            Err(_) => p.note("TimeCreated is not an RFC 3339 time; the receive time stands in"),
        }
    } else {
        p.note("no TimeCreated; the receive time stands in");
    }
    if let Some(c) = get("Computer") {
        p.fields.set("host.name", c.clone());
        p.fields.set("winlog.computer_name", c);
    }
    if let Some(id) = id {
        p.fields.set("event.code", id.to_string());
        p.fields.set("winlog.event_id", id);
    }
    if !channel.is_empty() {
        p.fields.set("winlog.channel", channel.clone());
    }
    if let Some(r) = system.get("EventRecordID").and_then(scalar) {
        p.fields.set("winlog.record_id", r);
    }
    if let Some(name) = path(
        record,
        &["Event", "System", "Provider", "#attributes", "Name"],
    )
    .and_then(Value::as_str)
    {
        p.fields.set("event.provider", name.to_string());
        p.fields.set("winlog.provider_name", name.to_string());
    }
    if let Some(l) = system.get("Level").and_then(scalar) {
        p.fields.set("winlog.level", l);
    }
    // Event data: EventData's named values, or the one element under UserData.
    let data = path(record, &["Event", "EventData"])
        .and_then(Value::as_object)
        .or_else(|| {
            path(record, &["Event", "UserData"])?
                .as_object()?
                .values()
                .find_map(Value::as_object)
        });
    if let Some(d) = data {
        for (k, v) in d {
            if k.starts_with('#') {
                continue;
            }
            if let Some(s) = scalar(v) {
                p.fields
                    .set(Cow::Owned(format!("winlog.event_data.{k}")), s);
            }
        }
        let dv = |k: &str| d.get(k).and_then(scalar);
        if let Some(u) = dv("TargetUserName")
            .or_else(|| dv("SubjectUserName"))
            .or_else(|| dv("User"))
        {
            // Sysmon's User is DOMAIN\name.
            match u.split_once('\\') {
                Some((dom, name)) => {
                    p.fields.set("user.domain", dom.to_string());
                    p.fields.set("user.name", name.to_string());
                }
                None => p.fields.set("user.name", u),
            }
        }
        if let Some(dom) = dv("TargetDomainName").or_else(|| dv("SubjectDomainName")) {
            p.fields.set_default("user.domain", dom);
        }
        if let Some(ip) = dv("IpAddress").or_else(|| dv("SourceIp")) {
            let ip = ip.trim_start_matches("::ffff:").to_string();
            if ip.parse::<std::net::IpAddr>().is_ok() {
                p.fields.set("source.ip", ip);
            }
        }
        if let Some(port) = dv("IpPort").or_else(|| dv("SourcePort"))
            && let Ok(n) = port.parse::<u16>()
            && n != 0
        {
            p.fields.set("source.port", n);
        }
        if let Some(ip) = dv("DestinationIp")
            && ip.parse::<std::net::IpAddr>().is_ok()
        {
            p.fields.set("destination.ip", ip);
        }
        if let Some(port) = dv("DestinationPort")
            && let Ok(n) = port.parse::<u16>()
        {
            p.fields.set("destination.port", n);
        }
        if let Some(exe) = dv("NewProcessName")
            .or_else(|| dv("Image"))
            .or_else(|| dv("ProcessName"))
        {
            p.fields.set("process.name", basename(&exe).to_string());
            p.fields.set("process.executable", exe);
        }
        if let Some(cl) = dv("CommandLine") {
            p.fields.set("process.command_line", cl);
        }
        if let Some(parent) = dv("ParentProcessName").or_else(|| dv("ParentImage")) {
            p.fields
                .set("process.parent.name", basename(&parent).to_string());
            p.fields.set("process.parent.executable", parent);
        }
        if let Some(h) = dv("Hashes")
            && let Some(sha) = h.split(',').find_map(|kv| kv.strip_prefix("SHA256="))
        {
            p.fields.set("file.hash.sha256", sha.to_ascii_lowercase());
        }
        if let Some(q) = dv("QueryName") {
            p.fields.set("dns.question.name", q);
        }
    }
    if let Some(id) = id
        && let Some((category, kind, action, outcome)) = classify(&channel, id)
    {
        p.fields.set("event.category", category);
        p.fields.set("event.type", kind);
        p.fields.set("event.action", action);
        if let Some(o) = outcome {
            p.fields.set("event.outcome", o);
        }
    }
    let message = format!(
        "{} {}{}{}",
        if channel.is_empty() {
            "EVTX"
        } else {
            channel.as_str()
        },
        id.map_or_else(|| "?".to_string(), |i| i.to_string()),
        p.fields
            .get_str("event.action")
            .map(|a| format!(" {a}"))
            .unwrap_or_default(),
        p.fields
            .get_str("user.name")
            .map(|u| format!(" user={u}"))
            .unwrap_or_default(),
    );
    p.fields.set("message", message);
    p.logsource = LogSource {
        product: Some(Cow::Borrowed("windows")),
        category: id.and_then(|i| category_of(&channel, i)).map(Cow::Borrowed),
        service: service_of(&channel).map(Cow::Borrowed),
    };
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(channel: &str, id: Value, data: Value) -> Value {
        json!({"Event": {
            "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
            "System": {
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
                "EventID": id,
                "Level": 0,
                "TimeCreated": {"#attributes": {"SystemTime": "2019-03-19T23:34:33.254539Z"}},
                "EventRecordID": 7123,
                "Channel": channel,
                "Computer": "WIN-DC01.corp.example"
            },
            "EventData": data
        }})
    }

    #[test]
    fn a_failed_logon_becomes_an_authentication_failure() {
        let r = record(
            "Security",
            json!(4625),
            json!({"TargetUserName": "administrator", "TargetDomainName": "CORP",
                   "IpAddress": "::ffff:203.0.113.9", "IpPort": "49812", "LogonType": 3,
                   "SubjectUserName": "-"}),
        );
        let p = parse_evtx_record(&r, b"{}").expect("parse");
        let f = |k: &str| p.fields.get(k).cloned();
        assert_eq!(
            p.timestamp.map(|t| t.to_string()).as_deref(),
            Some("2019-03-19T23:34:33.254539Z")
        );
        assert_eq!(f("host.name"), Some(json!("WIN-DC01.corp.example")));
        assert_eq!(f("event.code"), Some(json!("4625")));
        assert_eq!(f("event.category"), Some(json!("authentication")));
        assert_eq!(f("event.outcome"), Some(json!("failure")));
        assert_eq!(f("user.name"), Some(json!("administrator")));
        assert_eq!(f("user.domain"), Some(json!("CORP")));
        assert_eq!(f("source.ip"), Some(json!("203.0.113.9")));
        assert_eq!(f("source.port"), Some(json!(49812)));
        assert_eq!(f("winlog.event_data.LogonType"), Some(json!("3")));
        assert_eq!(
            f("winlog.event_data.SubjectUserName"),
            None,
            "'-' means no value"
        );
        assert_eq!(f("winlog.record_id"), Some(json!("7123")));
        assert_eq!(p.logsource.service.as_deref(), Some("security"));
        assert_eq!(p.logsource.category, None);
    }

    #[test]
    fn process_creation_from_security_4688_and_sysmon_1() {
        let r = record(
            "Security",
            json!({"#attributes": {"Qualifiers": ""}, "#text": 4688}),
            json!({"NewProcessName": "C:\\Windows\\System32\\cmd.exe",
                   "CommandLine": "cmd.exe /c whoami", "ParentProcessName": "C:\\Windows\\explorer.exe",
                   "SubjectUserName": "alice"}),
        );
        let p = parse_evtx_record(&r, b"{}").expect("parse");
        assert_eq!(p.logsource.category.as_deref(), Some("process_creation"));
        assert_eq!(p.fields.get_str("process.name"), Some("cmd.exe"));
        assert_eq!(
            p.fields.get_str("process.parent.name"),
            Some("explorer.exe")
        );
        assert_eq!(
            p.fields.get_str("process.command_line"),
            Some("cmd.exe /c whoami")
        );
        let s = record(
            "Microsoft-Windows-Sysmon/Operational",
            json!(1),
            json!({"Image": "C:\\Tools\\mimikatz.exe", "User": "CORP\\bob",
                   "Hashes": "MD5=AA,SHA256=ABCDEF"}),
        );
        let p = parse_evtx_record(&s, b"{}").expect("parse");
        assert_eq!(p.logsource.service.as_deref(), Some("sysmon"));
        assert_eq!(p.logsource.category.as_deref(), Some("process_creation"));
        assert_eq!(p.fields.get_str("user.name"), Some("bob"));
        assert_eq!(p.fields.get_str("user.domain"), Some("CORP"));
        assert_eq!(p.fields.get_str("file.hash.sha256"), Some("abcdef"));
    }

    #[test]
    fn user_data_and_broken_records() {
        let r = json!({"Event": {"System": {"EventID": 1102, "Channel": "Security",
            "Computer": "h"}, "UserData": {"LogFileCleared": {"SubjectUserName": "eve"}}}});
        let p = parse_evtx_record(&r, b"{}").expect("parse");
        assert_eq!(p.fields.get_str("user.name"), Some("eve"));
        assert_eq!(p.fields.get_str("event.action"), Some("audit-log-cleared"));
        assert_eq!(p.time_quality, TimeQuality::ReceiveTime);
        assert!(!p.notes.is_empty());
        assert!(parse_evtx_record(&json!({"x": 1}), b"{}").is_err());
        assert!(parse_evtx_record(&json!([1, 2]), b"{}").is_err());
    }
}
