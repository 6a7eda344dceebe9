//! `vigil hunt`, `vigil rules check` and `vigil rules test`: Sigma over files, without a
//! store.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use vigil_hunt::{Filters, Hit, HuntOptions, Hunter, Report, Summary};
use vigil_sigma::{Level, LogSource, RuleSet};

/// Output format of hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Jsonl,
    Csv,
}

#[derive(Debug, clap::Args)]
pub struct HuntArgs {
    /// Sigma rule file or directory (walked for .yml/.yaml); repeat for several.
    #[arg(long = "rules", required_unless_present = "parse_only")]
    pub rules: Vec<PathBuf>,
    /// Report only rules of this level or above (informational, low, medium, high, critical).
    #[arg(long, value_parser = parse_level)]
    pub min_level: Option<Level>,
    /// Skip events before this time (RFC 3339, or `YYYY-MM-DD[ HH:MM:SS]` in UTC).
    #[arg(long, value_parser = parse_time)]
    pub from: Option<jiff::Timestamp>,
    /// Skip events after this time (same forms as --from).
    #[arg(long, value_parser = parse_time)]
    pub to: Option<jiff::Timestamp>,
    /// Report only rules with this tag or one below it (`attack.t1003`, `t1003`,
    /// `persistence`); repeat for any of several.
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Log source of JSON events that name none: `product/category/service`, `*` for a part
    /// left out (for example `windows/process_creation/*`).
    #[arg(long, value_parser = parse_logsource)]
    pub logsource: Option<LogSource>,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Read the events without evaluating rules (to measure parsing).
    #[arg(long)]
    pub parse_only: bool,
    /// EVTX and JSON event files or directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

fn parse_level(s: &str) -> Result<Level, String> {
    Level::parse(&s.to_ascii_lowercase())
        .ok_or_else(|| format!("'{s}' is not one of informational, low, medium, high, critical"))
}

fn parse_time(s: &str) -> Result<jiff::Timestamp, String> {
    let v = serde_json::Value::String(s.to_owned());
    vigil_hunt::parse_time(&v)
        .or_else(|| {
            // A bare date is its first instant in UTC.
            let d = s.trim().parse::<jiff::civil::Date>().ok()?;
            d.to_zoned(jiff::tz::TimeZone::UTC)
                .ok()
                .map(|z| z.timestamp())
        })
        .ok_or_else(|| format!("'{s}' is not a time (RFC 3339 or YYYY-MM-DD[ HH:MM:SS] UTC)"))
}

fn parse_logsource(s: &str) -> Result<LogSource, String> {
    let parts: Vec<&str> = s.split('/').collect();
    if parts.len() > 3 || parts.iter().all(|p| p.is_empty() || *p == "*") {
        return Err(format!(
            "'{s}' is not product/category/service (use * for a part left out)"
        ));
    }
    let part = |i: usize| {
        parts
            .get(i)
            .filter(|p| !p.is_empty() && **p != "*")
            .map(|p| (*p).to_owned())
    };
    Ok(LogSource {
        product: part(0),
        category: part(1),
        service: part(2),
    })
}

fn read_rules(paths: &[PathBuf]) -> Vec<(String, String)> {
    let (sources, problems) = vigil_hunt::read_rules(paths);
    for p in &problems {
        eprintln!("{p}");
    }
    sources
}

pub fn hunt(args: &HuntArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let sources = if args.parse_only {
        Vec::new()
    } else {
        read_rules(&args.rules)
    };
    if !args.parse_only && sources.is_empty() {
        bail!("no rule files found under the --rules paths");
    }
    let (inputs, problems) = vigil_hunt::collect_inputs(&args.paths);
    for p in &problems {
        eprintln!("{p}");
    }
    if inputs.is_empty() {
        bail!("no EVTX or JSON event files found");
    }
    let opts = HuntOptions {
        filters: Filters {
            min_level: args.min_level,
            from: args.from,
            to: args.to,
            tags: args.tags.clone(),
        },
        logsource: args.logsource.clone(),
        threads: args.threads,
        parse_only: args.parse_only,
        hold_bytes: None,
    };
    // The rules compile while the files are read; `Report::RulesLoaded` says when they are
    // ready (before any hit).
    let hunter = Hunter::new(sources, opts);
    if args.parse_only {
        eprintln!("parse only: no rules evaluated");
    }

    let total: u64 = inputs.iter().map(|i| i.size).sum();
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let stdout_tty = std::io::stdout().is_terminal();
    let stdout = std::io::stdout();
    let out = std::io::BufWriter::new(stdout.lock());
    let mut out = if args.format == Format::Csv {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(CSV_HEADER).context("writing hits")?;
        Out::Csv(Box::new(w))
    } else {
        Out::Plain(out)
    };
    if args.format == Format::Table && !args.parse_only {
        out.write_table_header().context("writing hits")?;
    }
    let mut write_error: Option<std::io::Error> = None;
    let mut files_done = 0u64;
    let summary = hunter.run(&inputs, &mut |r| match r {
        Report::Hit(h) => {
            if write_error.is_some() {
                return;
            }
            let res = out.hit(args.format, h);
            let res = res.and_then(|()| {
                if stdout_tty {
                    bar.suspend(|| out.flush())
                } else {
                    Ok(())
                }
            });
            if let Err(e) = res {
                write_error = Some(e);
            }
        }
        Report::Problem(p) => bar.suspend(|| eprintln!("{p}")),
        Report::RulesLoaded(l) => {
            let errors = l.problems.iter().filter(|p| p.is_error()).count();
            bar.suspend(|| {
                eprintln!(
                    "{} rules and {} correlations loaded ({} skipped with errors, {} warnings; see `vigil rules check`) in {:.2} s, while reading the events",
                    l.rules,
                    l.correlations,
                    errors,
                    l.problems.len() - errors,
                    l.elapsed.as_secs_f64()
                )
            });
        }
        Report::FileDone(f) => {
            files_done += 1;
            bar.inc(f.bytes);
            bar.set_message(format!("{files_done}/{} files", inputs.len()));
        }
    });
    bar.finish_and_clear();
    if let Some(e) = write_error {
        // A closed pipe (`| head`) is how a reader says it has seen enough.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e).context("writing hits");
        }
        return Ok(());
    }
    out.flush().context("writing hits")?;
    drop(out);
    let elapsed = started.elapsed().as_secs_f64();
    let text = summary_text(&summary, elapsed, args.parse_only);
    if args.format == Format::Table {
        println!("\n{text}");
    } else {
        eprintln!("{text}");
    }
    Ok(())
}

const CSV_HEADER: [&str; 13] = [
    "time",
    "level",
    "rule_title",
    "rule_id",
    "tags",
    "host",
    "channel",
    "event_id",
    "matched",
    "fields",
    "file",
    "record",
    "correlation",
];

/// Where hits are written: CSV through its writer, the other formats as lines.
enum Out<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Plain(W),
}

impl<W: Write> Out<W> {
    fn write_table_header(&mut self) -> std::io::Result<()> {
        if let Out::Plain(w) = self {
            writeln!(
                w,
                "{:<24} {:<13} {:<50} {:<16} {:>6}  fields  (file#record)",
                "time", "level", "rule", "host", "event"
            )?;
        }
        Ok(())
    }

    fn hit(&mut self, format: Format, h: &Hit) -> std::io::Result<()> {
        match self {
            Out::Csv(w) => write_csv(w, h),
            Out::Plain(w) if format == Format::Jsonl => {
                serde_json::to_writer(&mut *w, h).map_err(std::io::Error::other)?;
                w.write_all(b"\n")
            }
            Out::Plain(w) => write_table(w, h),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Out::Csv(w) => w.flush(),
            Out::Plain(w) => w.flush(),
        }
    }
}

fn fields_text(h: &Hit) -> String {
    h.fields
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(['\r', '\n', '\t'], " ")))
        .collect::<Vec<_>>()
        .join("; ")
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// What a correlation hit adds: its type and measure, the window, how many events from how
/// many files, and the first of them (`file#record`).
fn correlation_text(h: &Hit) -> String {
    let Some(c) = &h.correlation else {
        return String::new();
    };
    let first: Vec<String> = c
        .contributors
        .iter()
        .map(|e| format!("{}#{}", e.file, e.record))
        .collect();
    let more = c.events.saturating_sub(c.contributors.len());
    let mut t = format!(
        "{} {} over {} events from {} files, {} to {}: {}",
        c.kind,
        c.value,
        c.events,
        c.files,
        c.window_start,
        c.window_end,
        first.join(", ")
    );
    if more > 0 {
        t.push_str(&format!(" and {more} more"));
    }
    t
}

fn write_table(out: &mut impl Write, h: &Hit) -> std::io::Result<()> {
    if h.correlation.is_some() {
        return writeln!(
            out,
            "{:<24} {:<13} {:<50} {:<16} {:>6}  {}  [{}]",
            h.time.as_deref().unwrap_or("-"),
            h.level.as_deref().unwrap_or("-"),
            truncate(&h.rule_title, 50),
            truncate(h.host.as_deref().unwrap_or("-"), 16),
            "corr",
            fields_text(h),
            correlation_text(h)
        );
    }
    writeln!(
        out,
        "{:<24} {:<13} {:<50} {:<16} {:>6}  {}  ({}#{})",
        h.time.as_deref().unwrap_or("-"),
        h.level.as_deref().unwrap_or("-"),
        truncate(&h.rule_title, 50),
        truncate(h.host.as_deref().unwrap_or("-"), 16),
        h.event_id
            .map(|e| e.to_string())
            .unwrap_or_else(|| "-".into()),
        fields_text(h),
        h.file,
        h.record
    )
}

fn write_csv(w: &mut csv::Writer<impl Write>, h: &Hit) -> std::io::Result<()> {
    w.write_record([
        h.time.as_deref().unwrap_or(""),
        h.level.as_deref().unwrap_or(""),
        &h.rule_title,
        h.rule_id.as_deref().unwrap_or(""),
        &h.tags.join(";"),
        h.host.as_deref().unwrap_or(""),
        h.channel.as_deref().unwrap_or(""),
        &h.event_id.map(|e| e.to_string()).unwrap_or_default(),
        &h.matched.join(";"),
        &fields_text(h),
        &h.file,
        &h.record.to_string(),
        &correlation_text(h),
    ])?;
    Ok(())
}

fn summary_text(s: &Summary, elapsed: f64, parse_only: bool) -> String {
    let mut t = format!(
        "summary: {} files, {} events ({:.1} MiB) in {:.2} s, {:.0} events/s; {} hits ({} from correlations); {} input problems",
        s.files,
        s.events,
        s.bytes as f64 / (1024.0 * 1024.0),
        elapsed,
        s.events as f64 / elapsed.max(1e-9),
        s.hits,
        s.correlation_hits,
        s.problems
    );
    if s.out_of_range > 0 {
        t.push_str(&format!(
            "; {} events outside the time range",
            s.out_of_range
        ));
    }
    if s.without_logsource > 0 {
        t.push_str(&format!(
            "; {} JSON events without a log source (see --logsource)",
            s.without_logsource
        ));
    }
    if s.correlation_untimed > 0 {
        t.push_str(&format!(
            "; {} events for correlations without a time (not correlated)",
            s.correlation_untimed
        ));
    }
    if s.correlation_missing_fields > 0 {
        t.push_str(&format!(
            "; {} correlation inputs without their group-by or value field",
            s.correlation_missing_fields
        ));
    }
    if s.correlation_evicted > 0 {
        t.push_str(&format!(
            "; {} correlation groups or entries evicted by the memory bounds",
            s.correlation_evicted
        ));
    }
    if parse_only {
        return t;
    }
    if !s.by_level.is_empty() {
        let order = ["critical", "high", "medium", "low", "informational", "none"];
        let levels: Vec<String> = order
            .iter()
            .filter_map(|l| s.by_level.get(*l).map(|n| format!("{l} {n}")))
            .collect();
        t.push_str(&format!("\nby level: {}", levels.join(", ")));
    }
    if !s.by_rule.is_empty() {
        t.push_str("\nby rule:\n    hits  level          rule");
        for r in &s.by_rule {
            t.push_str(&format!(
                "\n{:>8}  {:<13}  {}",
                r.hits,
                r.level.as_deref().unwrap_or("-"),
                r.rule_title
            ));
        }
    }
    t
}

/// `vigil rules check`: every problem, then the counts; an error when any rule has one.
pub fn check(paths: &[PathBuf]) -> anyhow::Result<()> {
    let (sources, read_problems) = vigil_hunt::read_rules(paths);
    for p in &read_problems {
        println!("{p}");
    }
    let (set, problems) = RuleSet::compile(&sources);
    for p in &problems {
        println!("{p}");
    }
    let errors = problems.iter().filter(|p| p.is_error()).count() + read_problems.len();
    let warnings = problems.len() + read_problems.len() - errors;
    eprintln!(
        "{} files, {} rules compiled, {} errors, {} warnings",
        sources.len(),
        set.stats().rules,
        errors,
        warnings
    );
    if errors > 0 {
        bail!("{errors} rule errors");
    }
    Ok(())
}

/// `vigil rules test`: which rules match which events of an NDJSON file.
pub fn test(rules: &[PathBuf], events: &Path) -> anyhow::Result<()> {
    let sources = read_rules(rules);
    if sources.is_empty() {
        bail!("no rule files found under the --rules paths");
    }
    let hunter = Hunter::new(sources, HuntOptions::default());
    let problems = hunter.prepare(&[]);
    let errors = problems.iter().filter(|p| p.is_error()).count();
    if errors > 0 {
        eprintln!("{errors} rules skipped with errors (see `vigil rules check`)");
    }
    let file =
        std::fs::File::open(events).with_context(|| format!("opening {}", events.display()))?;
    let reader = std::io::BufReader::new(file);
    let (mut n_events, mut n_matched, mut n_hits, mut bad) = (0u64, 0u64, 0u64, 0u64);
    let mut matched_rules = std::collections::BTreeSet::new();
    for (i, line) in reader.split(b'\n').enumerate() {
        let lineno = i as u64 + 1;
        let line = line.with_context(|| format!("reading {}", events.display()))?;
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let v: serde_json::Value = match serde_json::from_slice(text) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            Ok(_) => {
                bad += 1;
                eprintln!("{}:{lineno}: not a JSON object", events.display());
                continue;
            }
            Err(e) => {
                bad += 1;
                eprintln!("{}:{lineno}: invalid JSON: {e}", events.display());
                continue;
            }
        };
        n_events += 1;
        let hits = hunter.test_event(&v, lineno, events);
        if hits.is_empty() {
            println!("line {lineno}: no match");
            continue;
        }
        n_matched += 1;
        for h in hits {
            n_hits += 1;
            matched_rules.insert(h.rule_path.clone() + "\u{0}" + &h.rule_title);
            println!(
                "line {lineno}: {} [{}] {} matched: {}",
                h.rule_title,
                h.level.as_deref().unwrap_or("-"),
                h.rule_id.as_deref().unwrap_or("-"),
                if h.matched.is_empty() {
                    "keywords".to_owned()
                } else {
                    h.matched.join(", ")
                }
            );
        }
    }
    eprintln!(
        "{n_events} events, {n_matched} matched, {n_hits} rule hits, {} rules matched at least once, {bad} lines rejected",
        matched_rules.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logsource_and_time_arguments() {
        let ls = parse_logsource("windows/process_creation/*").expect("logsource");
        assert_eq!(
            ls,
            LogSource::new()
                .product("windows")
                .category("process_creation")
        );
        let ls = parse_logsource("linux//auditd").expect("logsource");
        assert_eq!(ls, LogSource::new().product("linux").service("auditd"));
        assert!(parse_logsource("*/*").is_err());
        assert!(parse_logsource("a/b/c/d").is_err());
        assert_eq!(
            parse_time("2024-05-01").map(|t| t.as_second()),
            Ok(1_714_521_600)
        );
        assert_eq!(
            parse_time("2024-05-01T01:00:00+01:00").map(|t| t.as_second()),
            Ok(1_714_521_600)
        );
        assert!(parse_time("soon").is_err());
        assert_eq!(parse_level("HIGH"), Ok(Level::High));
        assert!(parse_level("urgent").is_err());
    }
}
