//! Snare / NXLog "MSWinEventLog" Windows events carried in syslog: TAB-separated
//! `MSWinEventLog, criticality, channel, record number, time, event id, provider, user,
//! SID type, event type, computer, category, data, expanded message[, counter]`.
//!
//! The expanded message is Windows' rendered text ("Subject: Security ID: S-1-5-18 ...");
//! its `Label: value` pairs are kept by section, and the labels Sigma rules need are mapped to
//! their EventData names (`NewProcessName`, `CommandLine`, `TargetUserName`, `LogonType`, ...).

use crate::error::{ErrorKind, ParseError};
use crate::parsed::{FieldName, Format, LogSource, ParseContext, Parsed};
use crate::time::parse_device_time;

/// Parses `text` (starting at `MSWinEventLog`) over the syslog event `p`.
pub(crate) fn apply_snare(
    p: &mut Parsed,
    text: &str,
    ctx: &ParseContext,
) -> Result<(), ParseError> {
    let cols: Vec<&str> = text.trim_end_matches(['\r', '\n']).split('\t').collect();
    if cols.len() < 14 || cols[0].trim() != "MSWinEventLog" {
        return Err(ParseError::new(
            ErrorKind::Syntax,
            format!(
                "MSWinEventLog record has {} of 14 TAB-separated columns",
                cols.len()
            ),
        ));
    }
    let event_id = cols[5].trim();
    let Ok(event_code) = event_id.parse::<u32>() else {
        return Err(ParseError::new(
            ErrorKind::InvalidValue,
            format!("event id '{event_id}' is not a number"),
        ));
    };
    p.format = Format::Snare;
    let channel = cols[2].trim();
    let w = &mut p.native;
    w.set("winlog.channel", channel);
    w.set_str("winlog.record_id", cols[3].trim());
    w.set("winlog.event_id", event_code);
    w.set_str("winlog.provider_name", cols[6].trim());
    w.set_str("winlog.user.name", cols[7].trim());
    w.set_str("winlog.keywords", cols[9].trim());
    w.set_str("winlog.computer_name", cols[10].trim());
    w.set_str("winlog.task", cols[11].trim());
    w.set_str("snare.criticality", cols[1].trim());
    w.set_str("snare.time", cols[4].trim());
    if let Some(c) = cols.get(14) {
        w.set_str("snare.counter", c.trim());
    }
    let f = &mut p.fields;
    f.set("event.code", event_id);
    f.set("event.module", "windows");
    f.set_str("event.provider", cols[6].trim());
    f.set_str("host.name", cols[10].trim());
    f.set_str("event.action", cols[11].trim());
    match cols[9].trim() {
        "Success Audit" => f.set("event.outcome", "success"),
        "Failure Audit" => f.set("event.outcome", "failure"),
        _ => {}
    }
    let message = cols[13].trim();
    if !message.is_empty() {
        p.fields.set("message", message);
    }
    for (section, label, value) in message_pairs(message) {
        if p.native.len() >= crate::MAX_FIELDS {
            break;
        }
        let key = if section.is_empty() {
            format!("snare.message.{label}")
        } else {
            format!("snare.message.{section}.{label}")
        };
        if let Some(name) = event_data_name(event_code, section, label) {
            p.native
                .set(FieldName::Owned(format!("winlog.event_data.{name}")), value);
            if let Some(ecs) = ecs_for_event_data(name) {
                p.fields.set(ecs, value);
            }
        }
        p.native.set(FieldName::Owned(key), value);
    }
    // Snare's own time is the Windows host's local time without a zone, but with a year: it
    // replaces the syslog header's time only when that one was inferred more loosely.
    let t = cols[4].trim();
    let t_no_weekday = t.get(4..).unwrap_or(t);
    if let Some((ts, q)) = parse_device_time(&reorder_ctime(t_no_weekday), &ctx.tz, ctx.received_at)
        && q < p.time_quality
    {
        p.set_time(ts, q, t);
    }
    p.logsource = windows_logsource(channel, event_code);
    Ok(())
}

/// `Feb 18 06:42:17 2025` (ctime order) → `Feb 18 2025 06:42:17` (the order the BSD parser
/// takes).
fn reorder_ctime(s: &str) -> String {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() == 4 && parts[3].len() == 4 {
        format!("{} {} {} {}", parts[0], parts[1], parts[3], parts[2])
    } else {
        s.to_owned()
    }
}

/// The Sigma log source of a Windows event by channel and id.
pub(crate) fn windows_logsource(channel: &str, event_id: u32) -> LogSource {
    let service: Option<&'static str> = match channel {
        "Security" => Some("security"),
        "System" => Some("system"),
        "Application" => Some("application"),
        "Microsoft-Windows-Sysmon/Operational" => Some("sysmon"),
        "Windows PowerShell" => Some("powershell-classic"),
        "Microsoft-Windows-PowerShell/Operational" => Some("powershell"),
        _ => None,
    };
    let category = match (channel, event_id) {
        ("Security", 4688) => Some("process_creation"),
        ("Security", 5156) => Some("network_connection"),
        _ => None,
    };
    LogSource::new(Some("windows"), category, service)
}

/// `Label: value` pairs from the rendered message, with the section ("Subject", "New Logon")
/// each falls in. Windows separates items by runs of two or more spaces; a label ends in `:`;
/// a label directly followed by another label opens a section.
fn message_pairs(msg: &str) -> Vec<(&str, &str, &str)> {
    let tokens: Vec<&str> = msg
        .split("  ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let mut out = Vec::new();
    let mut section = "";
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        if let Some(label) = t.strip_suffix(':') {
            match tokens.get(i + 1) {
                Some(next) if !next.ends_with(':') && !next.contains(": ") => {
                    out.push((section, label, *next));
                    i += 2;
                    continue;
                }
                _ => section = label,
            }
        } else if let Some((label, value)) = t.split_once(": ")
            && !label.is_empty()
            && label.len() <= 64
        {
            out.push((section, label, value.trim()));
        }
        i += 1;
    }
    out
}

fn event_data_name(event_id: u32, section: &str, label: &str) -> Option<&'static str> {
    Some(match (event_id, section, label) {
        (4688, _, "New Process Name") => "NewProcessName",
        (4688, _, "Process Command Line") => "CommandLine",
        (4688, _, "Creator Process Name") => "ParentProcessName",
        (4688, _, "New Process ID") => "NewProcessId",
        (4688, _, "Creator Process ID") => "ProcessId",
        (4688, "Target Subject", "Account Name") => "TargetUserName",
        (_, "Subject" | "Creator Subject", "Account Name") => "SubjectUserName",
        (_, "Subject" | "Creator Subject", "Account Domain") => "SubjectDomainName",
        (_, "Subject" | "Creator Subject", "Security ID") => "SubjectUserSid",
        (_, "Subject" | "Creator Subject", "Logon ID") => "SubjectLogonId",
        (_, "New Logon" | "Account For Which Logon Failed" | "Target Account", "Account Name") => {
            "TargetUserName"
        }
        (
            _,
            "New Logon" | "Account For Which Logon Failed" | "Target Account",
            "Account Domain",
        ) => "TargetDomainName",
        (_, "New Logon" | "Account For Which Logon Failed", "Security ID") => "TargetUserSid",
        (_, _, "Logon Type") => "LogonType",
        (_, _, "Workstation Name") => "WorkstationName",
        (_, _, "Source Network Address") => "IpAddress",
        (_, _, "Source Port") => "IpPort",
        (_, _, "Logon Process") => "LogonProcessName",
        (_, _, "Authentication Package") => "AuthenticationPackageName",
        (_, "Process Information", "Process Name") => "ProcessName",
        (_, _, "Application Name") => "Application",
        (_, _, "Source Address") => "SourceAddress",
        (_, _, "Destination Address") => "DestAddress",
        (_, _, "Destination Port") => "DestPort",
        (_, _, "Service Name") => "ServiceName",
        (_, _, "Failure Reason") => "FailureReason",
        _ => return None,
    })
}

fn ecs_for_event_data(name: &str) -> Option<&'static str> {
    Some(match name {
        "NewProcessName" => "process.executable",
        "CommandLine" => "process.command_line",
        "ParentProcessName" => "process.parent.executable",
        "TargetUserName" => "user.name",
        "IpAddress" => "source.ip",
        "SourceAddress" => "source.ip",
        "DestAddress" => "destination.ip",
        "DestPort" => "destination.port",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use crate::parsed::ParseContext;
    use crate::syslog::parse_syslog;

    #[test]
    fn security_4624_in_rfc5424() {
        let line = "<13>1 2025-02-18T06:42:17.554128Z DC25-PREVIEW - - - - MSWinEventLog\t1\tSecurity\t802301\tTue Feb 18 06:42:17 2025\t4624\tMicrosoft-Windows-Security-Auditing\tN/A\tN/A\tSuccess Audit\tDC25-PREVIEW\tLogon\t\tAn account was successfully logged on.    Subject:   Security ID:  S-1-5-18   Account Name:  SYSTEM   Account Domain:  NT AUTHORITY   Logon ID:  0x3E7    Logon Information:   Logon Type:  2   Restricted Admin Mode: -    New Logon:   Security ID:  S-1-5-21-1   Account Name:  ADMIN-LAPS$   Account Domain:  FABRIKAM    Network Information:   Workstation Name:  CORE25-01   Source Network Address: 192.168.50.12   Source Port:  59122   \t-802301";
        let ctx = ParseContext::new("2025-02-18T07:00:00Z".parse().expect("ts"));
        let p = parse_syslog(line.as_bytes(), &ctx).expect("parses");
        assert_eq!(p.format, crate::Format::Snare);
        assert_eq!(p.logsource.product.as_deref(), Some("windows"));
        assert_eq!(p.logsource.service.as_deref(), Some("security"));
        assert_eq!(
            p.native.get_str("winlog.event_data.TargetUserName"),
            Some("ADMIN-LAPS$")
        );
        assert_eq!(
            p.native.get_str("winlog.event_data.SubjectUserName"),
            Some("SYSTEM")
        );
        assert_eq!(p.native.get_str("winlog.event_data.LogonType"), Some("2"));
        assert_eq!(
            p.native.get_str("winlog.event_data.IpAddress"),
            Some("192.168.50.12")
        );
        assert_eq!(
            p.native
                .get_str("snare.message.Logon Information.Restricted Admin Mode"),
            Some("-")
        );
        assert_eq!(p.fields.get_str("event.outcome"), Some("success"));
        assert_eq!(p.fields.get_str("user.name"), Some("ADMIN-LAPS$"));
        assert_eq!(
            p.timestamp.map(|t| t.to_string()).as_deref(),
            Some("2025-02-18T06:42:17.554128Z")
        );
    }

    #[test]
    fn process_creation_in_rfc3164_prefers_snare_time_with_year() {
        let line = "<14>Oct  1 13:38:40 host1 MSWinEventLog\t1\tSecurity\t27884\tWed Oct 01 13:38:40 2025\t4688\tWindows\tN/A\tN/A\tSuccess Audit\thost1\tProcess Creation\t\tA new process has been created.    Creator Subject:   Account Name:  host1$    Process Information:   New Process Name: C:\\Windows\\System32\\cmd.exe   Process Command Line: cmd.exe /c whoami   Creator Process Name: C:\\Windows\\explorer.exe\t15\r";
        let ctx = ParseContext::new("2025-10-02T00:00:00Z".parse().expect("ts"));
        let p = parse_syslog(line.as_bytes(), &ctx).expect("parses");
        assert_eq!(p.logsource.category.as_deref(), Some("process_creation"));
        assert_eq!(
            p.fields.get_str("process.executable"),
            Some("C:\\Windows\\System32\\cmd.exe")
        );
        assert_eq!(
            p.fields.get_str("process.command_line"),
            Some("cmd.exe /c whoami")
        );
        assert_eq!(p.native.get_str("snare.counter"), Some("15"));
        assert_eq!(p.time_quality, crate::TimeQuality::InferredZone);
        assert_eq!(p.time_original.as_deref(), Some("Wed Oct 01 13:38:40 2025"));
    }

    #[test]
    fn short_record_is_noted_not_dropped() {
        let ctx = ParseContext::new("2025-10-02T00:00:00Z".parse().expect("ts"));
        let p = parse_syslog(
            b"<14>Oct  1 13:38:40 host1 MSWinEventLog\t1\tSecurity",
            &ctx,
        )
        .expect("kept");
        assert_eq!(p.format, crate::Format::Rfc3164);
        assert!(p.notes.iter().any(|n| n.contains("columns")));
    }
}
