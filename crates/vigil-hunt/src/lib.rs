//! Offline hunting: Sigma rules over collected event files, the job of `vigil hunt`.
//!
//! This crate does the file IO that `vigil-sigma` does not: it walks files and directories
//! ([`collect_inputs`], [`read_rules`]), reads EVTX files with the `evtx` crate (records as
//! JSON; a broken chunk or record is reported as an [`InputProblem`] and skipped) and JSON
//! event files (NDJSON, or one array or object per file), gives each event its Sigma log
//! source, runs the compiled [`RuleSet`] and yields [`Hit`]s, in parallel over files.
//!
//! ```text
//! paths ──collect_inputs──► [Input] ──rayon, one file per task──► records as JSON
//!   ──route (shape, log source)──► RuleSet::matches_into (per-thread Scratch)
//!   ──filters (time, level, tags)──► Report::Hit ──bounded channel──► caller's sink
//! ```
//!
//! Log sources: EVTX records (and JSON events shaped like them, `Event.System`) are compiled
//! with the `evtx` field mapping and passed as product `windows`; the engine classifies them
//! into services and categories by channel and event id with its Windows table. Flat JSON
//! events use the `native` mapping (Sigma names as keys) and take their log source from a
//! `logsource` object in the event, else from [`HuntOptions::logsource`], else product
//! `windows` when they carry a `Channel`; other events are counted as without log source.
//!
//! Memory stays bounded: files are streamed record by record (the `evtx` crate holds one
//! 64 KiB chunk at a time per file), at most one file per worker thread is open, and hits go
//! through a bounded channel to the caller.

mod correlate;
mod fields;
pub mod input;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, OnceLock};

use jiff::Timestamp;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;
use vigil_sigma::{
    CompileOptions, CorrelationStats, Level, LogSource, Match, Problem, RuleInfo, RuleSet, Scratch,
};

pub use correlate::{Contributor, CorrelationHit, MAX_CONTRIBUTORS};
pub use fields::parse_time;
pub use input::{Input, Kind, collect_inputs, read_rules};

use correlate::{Pending, SetKind};
use fields::Shape;

/// A file, chunk, record or line that could not be read; reported and skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputProblem {
    pub path: String,
    /// Where in the file: `chunk 3`, `record 17`, `line 5`.
    pub location: Option<String>,
    pub message: String,
}

impl InputProblem {
    pub fn new(path: &Path, location: Option<String>, message: impl Into<String>) -> Self {
        InputProblem {
            path: path.display().to_string(),
            location,
            message: message.into(),
        }
    }
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(l) => write!(f, "{} ({l}): {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// Which hits are kept.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Rules below this level are not reported.
    pub min_level: Option<Level>,
    /// Events before this time are skipped (inclusive bound).
    pub from: Option<Timestamp>,
    /// Events after this time are skipped (inclusive bound).
    pub to: Option<Timestamp>,
    /// When not empty, only rules with one of these tags (or a tag below one, so
    /// `attack.t1003` keeps `attack.t1003.001`; `t1003` and `persistence` are read in the
    /// `attack.` namespace) report.
    pub tags: Vec<String>,
}

impl Filters {
    fn has_time_range(&self) -> bool {
        self.from.is_some() || self.to.is_some()
    }

    /// Whether an event at `t` is in range; events without a time are out of any range.
    fn time_ok(&self, t: Option<Timestamp>) -> bool {
        if !self.has_time_range() {
            return true;
        }
        let Some(t) = t else { return false };
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|to| t <= to)
    }

    /// Whether a rule's hits are reported.
    pub fn rule_ok(&self, rule: &RuleInfo) -> bool {
        self.level_tags_ok(rule.level, &rule.tags)
    }

    /// Whether hits of a rule or correlation of this level and these tags are reported.
    pub fn level_tags_ok(&self, level: Option<Level>, tags: &[String]) -> bool {
        if let Some(min) = self.min_level
            && level.is_none_or(|l| l < min)
        {
            return false;
        }
        if self.tags.is_empty() {
            return true;
        }
        self.tags.iter().any(|want| {
            let want = want.to_ascii_lowercase();
            // ATT&CK techniques (`t1003.001`) and bare names (`persistence`) are read in the
            // `attack.` namespace; other namespaced tags (`car.2016-04-005`) as written.
            let technique = want
                .strip_prefix('t')
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()));
            let want = if !want.starts_with("attack.") && (technique || !want.contains('.')) {
                format!("attack.{want}")
            } else {
                want
            };
            tags.iter().any(|t| {
                let t = t.to_ascii_lowercase();
                t == want
                    || t.strip_prefix(want.as_str())
                        .is_some_and(|r| r.starts_with('.'))
            })
        })
    }
}

/// How a hunt runs.
#[derive(Debug, Clone, Default)]
pub struct HuntOptions {
    pub filters: Filters,
    /// The log source of flat JSON events that do not name one.
    pub logsource: Option<LogSource>,
    /// Worker threads; 0 for one per core.
    pub threads: usize,
    /// Read and route events without evaluating rules (measures parsing alone).
    pub parse_only: bool,
}

/// A rule that matched an event, or a correlation rule whose condition held on a window of
/// events, with what an analyst needs to look at it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// Event time (RFC 3339, UTC); for a correlation, the end of its window.
    pub time: Option<String>,
    pub rule_id: Option<String>,
    pub rule_title: String,
    pub level: Option<String>,
    /// The rule's ATT&CK tags (`attack.*`).
    pub tags: Vec<String>,
    /// The computer or host the event came from.
    pub host: Option<String>,
    pub channel: Option<String>,
    pub event_id: Option<i64>,
    /// Sigma names of the fields that made the rule match; for a correlation, its group-by
    /// fields.
    pub matched: Vec<String>,
    /// The matched fields' values and the event's key fields; for a correlation, the group.
    pub fields: BTreeMap<String, String>,
    /// The file of the event (for a correlation, of its window's last event).
    pub file: String,
    /// EVTX record id, or line number (1-based) in a JSON lines file, or index in an array.
    pub record: u64,
    pub rule_path: String,
    /// Set for correlation hits: the window and the events that made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation: Option<Box<CorrelationHit>>,
}

/// What a hunt reports as it goes.
#[derive(Debug, Clone)]
pub enum Report {
    Hit(Box<Hit>),
    Problem(InputProblem),
    /// A file is done.
    FileDone(FileStats),
}

/// Counts for one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileStats {
    pub path: PathBuf,
    pub bytes: u64,
    pub events: u64,
    /// Events skipped by the time range.
    pub out_of_range: u64,
    /// JSON events with no log source to route them by.
    pub without_logsource: u64,
    /// Problems in this file (also those not reported one by one).
    pub problems: u64,
    /// Events kept for correlation rules (they matched rules correlations reference).
    pub correlation_events: u64,
    /// Events that matched rules correlations reference but have no time, so cannot be
    /// correlated.
    pub correlation_untimed: u64,
}

/// Hits of one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleCount {
    pub rule_id: Option<String>,
    pub rule_title: String,
    pub level: Option<String>,
    pub hits: u64,
}

/// The totals of a hunt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub files: u64,
    pub bytes: u64,
    pub events: u64,
    pub out_of_range: u64,
    pub without_logsource: u64,
    pub problems: u64,
    /// All hits, correlation hits included.
    pub hits: u64,
    /// Hits of correlation rules.
    pub correlation_hits: u64,
    /// Events kept for correlation rules.
    pub correlation_events: u64,
    /// Events for correlation rules without a time (not correlated).
    pub correlation_untimed: u64,
    /// Correlation inputs dropped because a group-by or value field was missing (or, for
    /// sums and averages, not a number).
    pub correlation_missing_fields: u64,
    /// Correlation groups or window entries evicted by the engine's bounds.
    pub correlation_evicted: u64,
    /// Hits per level, `none` for rules without one.
    pub by_level: BTreeMap<String, u64>,
    /// Hits per rule, most first.
    pub by_rule: Vec<RuleCount>,
}

#[derive(Default)]
struct SummaryBuilder {
    s: Summary,
    rules: HashMap<(Option<String>, String), RuleCount>,
}

impl SummaryBuilder {
    fn add(&mut self, r: &Report) {
        match r {
            Report::Hit(h) => {
                self.s.hits += 1;
                if h.correlation.is_some() {
                    self.s.correlation_hits += 1;
                }
                let level = h.level.clone().unwrap_or_else(|| "none".to_owned());
                *self.s.by_level.entry(level).or_default() += 1;
                self.rules
                    .entry((h.rule_id.clone(), h.rule_title.clone()))
                    .or_insert_with(|| RuleCount {
                        rule_id: h.rule_id.clone(),
                        rule_title: h.rule_title.clone(),
                        level: h.level.clone(),
                        hits: 0,
                    })
                    .hits += 1;
            }
            // Problems are counted through the files' statistics.
            Report::Problem(_) => {}
            Report::FileDone(f) => {
                self.s.files += 1;
                self.s.bytes += f.bytes;
                self.s.events += f.events;
                self.s.out_of_range += f.out_of_range;
                self.s.without_logsource += f.without_logsource;
                self.s.problems += f.problems;
                self.s.correlation_events += f.correlation_events;
                self.s.correlation_untimed += f.correlation_untimed;
            }
        }
    }

    fn correlation_stats(&mut self, st: &CorrelationStats) {
        self.s.correlation_missing_fields += st.missing_fields;
        self.s.correlation_evicted += st.evicted_groups + st.evicted_entries;
    }

    fn finish(mut self) -> Summary {
        let mut rules: Vec<RuleCount> = self.rules.into_values().collect();
        rules.sort_by(|a, b| {
            b.hits
                .cmp(&a.hits)
                .then_with(|| a.rule_title.cmp(&b.rule_title))
        });
        self.s.by_rule = rules;
        self.s
    }
}

/// Problems reported one by one per file; past this they are only counted.
const MAX_PROBLEMS_PER_FILE: u64 = 20;
/// A JSON file that is one document (not lines) is read whole only up to this size.
const MAX_JSON_DOCUMENT: u64 = 256 << 20;
/// Hits and problems waiting for the caller; workers block when it is full.
const CHANNEL_BOUND: usize = 1024;

/// Compiled rules and options, ready to hunt over many inputs (and shareable by threads).
pub struct Hunter {
    sources: Vec<(String, String)>,
    opts: HuntOptions,
    /// Compiled on first need: EVTX records use the `evtx` mapping, flat events `native`.
    evtx: OnceLock<RuleSet>,
    native: OnceLock<RuleSet>,
}

/// Which rule set an event goes to, and with which log source.
enum Route<'a> {
    Evtx,
    Flat(LogSourceRef<'a>),
    None,
}

enum LogSourceRef<'a> {
    Owned(LogSource),
    Borrowed(&'a LogSource),
}

impl LogSourceRef<'_> {
    fn get(&self) -> &LogSource {
        match self {
            LogSourceRef::Owned(l) => l,
            LogSourceRef::Borrowed(l) => l,
        }
    }
}

fn windows() -> LogSource {
    LogSource::new().product("windows")
}

fn compile(sources: &[(String, String)], mapping: &str) -> (RuleSet, Vec<Problem>) {
    match CompileOptions::with_mapping(mapping) {
        Some(o) => RuleSet::compile_with(sources, &o),
        // The built-in mappings always exist; fall back to the defaults rather than fail.
        None => RuleSet::compile(sources),
    }
}

/// Per-worker state.
struct Worker<'h> {
    scratch: Scratch,
    matches: Vec<Match<'h>>,
    tx: SyncSender<Report>,
    /// Events kept for correlations from the file being read.
    pending: Vec<Pending<'h>>,
    /// Where every file's kept events go when it is done.
    collected: Arc<Mutex<Vec<Pending<'h>>>>,
}

impl Worker<'_> {
    fn flush_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut all = self
            .collected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        all.append(&mut self.pending);
    }
}

/// Per-file counters and the problem limit.
struct FileRun<'a> {
    input: &'a Input,
    /// Index of the file in the hunt's inputs.
    index: u32,
    stats: FileStats,
}

impl FileRun<'_> {
    fn problem(&mut self, w: &Worker<'_>, location: Option<String>, message: String) {
        self.stats.problems += 1;
        if self.stats.problems <= MAX_PROBLEMS_PER_FILE {
            let _ = w.tx.send(Report::Problem(InputProblem::new(
                &self.input.path,
                location,
                message,
            )));
        } else if self.stats.problems == MAX_PROBLEMS_PER_FILE + 1 {
            let _ = w.tx.send(Report::Problem(InputProblem::new(
                &self.input.path,
                None,
                "more problems in this file are counted, not shown",
            )));
        }
    }
}

/// An error with its causes, `outer: inner: innermost`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

impl Hunter {
    /// A hunter over rule files `(path, text)`; rules are compiled by [`Hunter::prepare`] or
    /// on first use.
    pub fn new(sources: Vec<(String, String)>, opts: HuntOptions) -> Hunter {
        Hunter {
            sources,
            opts,
            evtx: OnceLock::new(),
            native: OnceLock::new(),
        }
    }

    pub fn options(&self) -> &HuntOptions {
        &self.opts
    }

    /// Compiles the rule set the inputs need first (EVTX when there are EVTX files) and
    /// returns its problems (the other mappings compile the same rules, so their problems
    /// would repeat these).
    pub fn prepare(&self, inputs: &[Input]) -> Vec<Problem> {
        if self.opts.parse_only {
            return Vec::new();
        }
        if inputs.iter().any(|i| i.kind == Kind::Evtx) || inputs.is_empty() {
            let (set, problems) = compile(&self.sources, "evtx");
            let _ = self.evtx.set(set);
            problems
        } else {
            let (set, problems) = compile(&self.sources, "native");
            let _ = self.native.set(set);
            problems
        }
    }

    fn evtx_rules(&self) -> &RuleSet {
        self.evtx.get_or_init(|| compile(&self.sources, "evtx").0)
    }

    fn native_rules(&self) -> &RuleSet {
        self.native
            .get_or_init(|| compile(&self.sources, "native").0)
    }

    /// Rules loaded (in the first compiled set).
    pub fn rule_count(&self) -> usize {
        self.evtx
            .get()
            .or_else(|| self.native.get())
            .map_or(0, |s| s.stats().rules)
    }

    /// Correlation rules loaded (in the first compiled set).
    pub fn correlation_count(&self) -> usize {
        self.evtx
            .get()
            .or_else(|| self.native.get())
            .map_or(0, |s| s.correlations().len())
    }

    /// Hunts over `inputs` in parallel, calling `sink` on the calling thread with every
    /// report as it comes, and returns the totals.
    ///
    /// Correlation rules are evaluated after all files are read: the events that matched
    /// rules they reference are kept (their time, file, record and the fields correlations
    /// read), sorted by time and fed to a correlation engine per rule set; correlation hits
    /// come after the other hits.
    pub fn run(&self, inputs: &[Input], sink: &mut dyn FnMut(&Report)) -> Summary {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Report>(CHANNEL_BOUND);
        let collected: Arc<Mutex<Vec<Pending<'_>>>> = Arc::new(Mutex::new(Vec::new()));
        // Big files first, so the last file started is a small one and no core idles long.
        let mut order: Vec<(u32, &Input)> = inputs
            .iter()
            .enumerate()
            .map(|(i, input)| (u32::try_from(i).unwrap_or(u32::MAX), input))
            .collect();
        order.sort_by(|(_, a), (_, b)| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.opts.threads)
            .build();
        let shared = Arc::clone(&collected);
        let mut summary = std::thread::scope(|s| {
            s.spawn(move || {
                let work = || {
                    order.par_iter().for_each_init(
                        || Worker {
                            scratch: Scratch::new(),
                            matches: Vec::new(),
                            tx: tx.clone(),
                            pending: Vec::new(),
                            collected: Arc::clone(&shared),
                        },
                        |w, &(index, input)| {
                            self.guarded_file(input, index, w);
                            w.flush_pending();
                        },
                    )
                };
                match pool {
                    Ok(p) => p.install(work),
                    Err(_) => work(),
                }
            });
            let mut summary = SummaryBuilder::default();
            for r in rx {
                summary.add(&r);
                sink(&r);
            }
            summary
        });
        let pending = std::mem::take(
            &mut *collected
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        self.correlate(pending, inputs, &mut summary, sink);
        summary.finish()
    }

    /// The correlation pass over the events kept while reading the files.
    fn correlate<'h>(
        &'h self,
        pending: Vec<Pending<'h>>,
        inputs: &[Input],
        summary: &mut SummaryBuilder,
        sink: &mut dyn FnMut(&Report),
    ) {
        if pending.is_empty() {
            return;
        }
        let (evtx, native): (Vec<_>, Vec<_>) =
            pending.into_iter().partition(|p| p.set == SetKind::Evtx);
        for (set, pending) in [(self.evtx.get(), evtx), (self.native.get(), native)] {
            let Some(set) = set else { continue };
            if pending.is_empty() {
                continue;
            }
            let stats = correlate::run(set, pending, inputs, &self.opts.filters, &mut |hit| {
                let r = Report::Hit(Box::new(hit));
                summary.add(&r);
                sink(&r);
            });
            summary.correlation_stats(&stats);
        }
    }

    /// One file, with a parser panic turned into a reported problem: one bad file never
    /// stops a hunt.
    fn guarded_file<'h>(&'h self, input: &Input, index: u32, w: &mut Worker<'h>) {
        let done =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.file(input, index, w)));
        if done.is_err() {
            // The scratch may be half-updated; start afresh. The events kept for correlations
            // before the failure stay, as the hits reported before it do.
            w.scratch = Scratch::new();
            w.matches.clear();
            let _ = w.tx.send(Report::Problem(InputProblem::new(
                &input.path,
                None,
                "the parser failed on this file (panic); the rest of the hunt goes on",
            )));
            let _ = w.tx.send(Report::FileDone(FileStats {
                path: input.path.clone(),
                bytes: input.size,
                problems: 1,
                ..FileStats::default()
            }));
        }
    }

    fn file<'h>(&'h self, input: &Input, index: u32, w: &mut Worker<'h>) {
        let mut run = FileRun {
            input,
            index,
            stats: FileStats {
                path: input.path.clone(),
                bytes: input.size,
                ..FileStats::default()
            },
        };
        match input.kind {
            Kind::Evtx => self.evtx_file(&mut run, w),
            Kind::Json => self.json_file(&mut run, w),
        }
        let _ = w.tx.send(Report::FileDone(run.stats));
    }

    fn evtx_file<'h>(&'h self, run: &mut FileRun<'_>, w: &mut Worker<'h>) {
        let parser = match evtx::EvtxParser::from_path(&run.input.path) {
            Ok(p) => p,
            Err(e) => {
                run.problem(w, None, format!("not a readable EVTX file: {}", chain(&e)));
                return;
            }
        };
        // Parallelism is over files; inside a file the chunks are read in order on this
        // worker, one at a time.
        let mut parser = parser.with_configuration(evtx::ParserSettings::new().num_threads(1));
        let windows = windows();
        for rec in parser.records_json_value() {
            match rec {
                Ok(r) => {
                    run.stats.events += 1;
                    let t = Some(r.timestamp);
                    if !self.opts.filters.time_ok(t) {
                        run.stats.out_of_range += 1;
                        continue;
                    }
                    if self.opts.parse_only {
                        continue;
                    }
                    self.evaluate(
                        self.evtx_rules(),
                        &r.data,
                        Shape::Evtx,
                        &windows,
                        t,
                        r.event_record_id,
                        run,
                        w,
                    );
                }
                Err(e) => {
                    let location = match &e {
                        evtx::err::EvtxError::FailedToParseChunk { chunk_id, .. } => {
                            Some(format!("chunk {chunk_id}"))
                        }
                        evtx::err::EvtxError::FailedToParseRecord { record_id, .. } => {
                            Some(format!("record {record_id}"))
                        }
                        _ => None,
                    };
                    run.problem(w, location, format!("skipped: {}", chain(&e)));
                }
            }
        }
    }

    fn json_file<'h>(&'h self, run: &mut FileRun<'_>, w: &mut Worker<'h>) {
        let file = match std::fs::File::open(&run.input.path) {
            Ok(f) => f,
            Err(e) => {
                run.problem(w, None, format!("cannot open: {e}"));
                return;
            }
        };
        let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
        let first = match reader.fill_buf() {
            Ok(b) => b.iter().find(|c| !c.is_ascii_whitespace()).copied(),
            Err(e) => {
                run.problem(w, None, format!("cannot read: {e}"));
                return;
            }
        };
        if first == Some(b'[') {
            return self.json_document(reader, run, w);
        }
        let mut line = Vec::new();
        let mut lineno: u64 = 0;
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    run.problem(
                        w,
                        Some(format!("line {}", lineno + 1)),
                        format!("cannot read: {e}"),
                    );
                    break;
                }
            }
            lineno += 1;
            let text = line.trim_ascii();
            if text.is_empty() {
                continue;
            }
            match serde_json::from_slice::<Value>(text) {
                Ok(v @ Value::Object(_)) => self.json_event(&v, lineno, run, w),
                Ok(_) => run.problem(
                    w,
                    Some(format!("line {lineno}")),
                    "not a JSON object".to_owned(),
                ),
                Err(e) if lineno == 1 && e.is_eof() => {
                    // A pretty-printed document, not JSON lines: read it whole.
                    let rest = match std::fs::File::open(&run.input.path) {
                        Ok(f) => std::io::BufReader::new(f),
                        Err(e) => {
                            run.problem(w, None, format!("cannot open: {e}"));
                            return;
                        }
                    };
                    return self.json_document(rest, run, w);
                }
                Err(e) => run.problem(
                    w,
                    Some(format!("line {lineno}")),
                    format!("invalid JSON: {e}"),
                ),
            }
        }
    }

    /// A file that is one JSON document: an array of events or one event.
    fn json_document<'h>(
        &'h self,
        reader: impl std::io::Read,
        run: &mut FileRun<'_>,
        w: &mut Worker<'h>,
    ) {
        if run.input.size > MAX_JSON_DOCUMENT {
            run.problem(
                w,
                None,
                format!(
                    "a JSON document of {} bytes is larger than the {} bytes read whole; write it as JSON lines",
                    run.input.size, MAX_JSON_DOCUMENT
                ),
            );
            return;
        }
        match serde_json::from_reader::<_, Value>(reader) {
            Ok(Value::Array(items)) => {
                for (i, v) in items.iter().enumerate() {
                    if v.is_object() {
                        self.json_event(v, i as u64, run, w);
                    } else {
                        run.problem(w, Some(format!("item {i}")), "not a JSON object".to_owned());
                    }
                }
            }
            Ok(v @ Value::Object(_)) => self.json_event(&v, 0, run, w),
            Ok(_) => run.problem(w, None, "not a JSON object or array".to_owned()),
            Err(e) => run.problem(w, None, format!("invalid JSON: {e}")),
        }
    }

    fn route<'a>(&'a self, v: &'a Value) -> Route<'a> {
        if v.get("Event").and_then(|e| e.get("System")).is_some() {
            return Route::Evtx;
        }
        if let Some(Value::Object(ls)) = v.get("logsource") {
            let part = |k: &str| ls.get(k).and_then(Value::as_str).map(str::to_owned);
            return Route::Flat(LogSourceRef::Owned(LogSource {
                product: part("product"),
                category: part("category"),
                service: part("service"),
            }));
        }
        if let Some(ls) = &self.opts.logsource {
            return Route::Flat(LogSourceRef::Borrowed(ls));
        }
        if v.get("Channel").is_some_and(Value::is_string) {
            return Route::Flat(LogSourceRef::Owned(windows()));
        }
        Route::None
    }

    fn json_event<'h>(&'h self, v: &Value, record: u64, run: &mut FileRun<'_>, w: &mut Worker<'h>) {
        run.stats.events += 1;
        let route = self.route(v);
        let shape = match route {
            Route::Evtx => Shape::Evtx,
            _ => Shape::Flat,
        };
        let t = fields::time(v, shape);
        if !self.opts.filters.time_ok(t) {
            run.stats.out_of_range += 1;
            return;
        }
        match route {
            Route::None => run.stats.without_logsource += 1,
            _ if self.opts.parse_only => {}
            Route::Evtx => {
                self.evaluate(self.evtx_rules(), v, shape, &windows(), t, record, run, w)
            }
            Route::Flat(ls) => {
                self.evaluate(self.native_rules(), v, shape, ls.get(), t, record, run, w)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn evaluate<'h>(
        &'h self,
        set: &'h RuleSet,
        v: &Value,
        shape: Shape,
        ls: &LogSource,
        t: Option<Timestamp>,
        record: u64,
        run: &mut FileRun<'_>,
        w: &mut Worker<'h>,
    ) {
        w.matches.clear();
        set.matches_into(v, ls, &mut w.scratch, &mut w.matches);
        if w.matches.is_empty() {
            return;
        }
        let correlating = !set.correlations().is_empty();
        let mut kept: Vec<Match<'h>> = Vec::new();
        let mut fields = Vec::new();
        for m in w.matches.drain(..) {
            // Building blocks of correlations that do not `generate` them report only through
            // the correlation.
            if m.standalone && self.opts.filters.rule_ok(m.rule) {
                let hit = make_hit(&m, v, shape, t, &run.input.path, record);
                let _ = w.tx.send(Report::Hit(Box::new(hit)));
            }
            if correlating && set.feeds_correlations(&m) {
                correlate::keep(set, v, m, &mut kept, &mut fields);
            }
        }
        if kept.is_empty() {
            return;
        }
        let Some(time) = t else {
            run.stats.correlation_untimed += 1;
            return;
        };
        run.stats.correlation_events += 1;
        let kind = if self.evtx.get().is_some_and(|e| std::ptr::eq(e, set)) {
            SetKind::Evtx
        } else {
            SetKind::Native
        };
        w.pending.push(Pending {
            set: kind,
            time,
            file: run.index,
            record,
            host: fields::host(v, shape).map(String::into_boxed_str),
            matches: kept,
            fields,
        });
    }

    /// The hits of one event (for `vigil rules test`): routed as in a hunt, and when the
    /// event has no log source, tried under every log source the rules use. Filters and
    /// time ranges do not apply.
    pub fn test_event(&self, v: &Value, record: u64, file: &Path) -> Vec<Hit> {
        let mut scratch = Scratch::new();
        let mut out: Vec<Match<'_>> = Vec::new();
        let shape;
        match self.route(v) {
            Route::Evtx => {
                shape = Shape::Evtx;
                self.evtx_rules()
                    .matches_into(v, &windows(), &mut scratch, &mut out);
            }
            Route::Flat(ls) => {
                shape = Shape::Flat;
                self.native_rules()
                    .matches_into(v, ls.get(), &mut scratch, &mut out);
            }
            Route::None => {
                shape = Shape::Flat;
                let set = self.native_rules();
                let mut buf = Vec::new();
                for (ls, _) in set.log_sources() {
                    set.matches_into(v, ls, &mut scratch, &mut buf);
                    for m in buf.drain(..) {
                        if !out.iter().any(|o| std::ptr::eq(o.rule, m.rule)) {
                            out.push(m);
                        }
                    }
                }
            }
        }
        let t = fields::time(v, shape);
        out.iter()
            .map(|m| make_hit(m, v, shape, t, file, record))
            .collect()
    }
}

fn make_hit(
    m: &Match<'_>,
    v: &Value,
    shape: Shape,
    t: Option<Timestamp>,
    file: &Path,
    record: u64,
) -> Hit {
    Hit {
        time: t.map(|t| t.to_string()),
        rule_id: m.rule.id.clone(),
        rule_title: m.rule.title.clone(),
        level: m.rule.level.map(|l| l.as_str().to_owned()),
        tags: m
            .rule
            .tags
            .iter()
            .filter(|t| t.starts_with("attack."))
            .cloned()
            .collect(),
        host: fields::host(v, shape),
        channel: fields::channel(v, shape),
        event_id: fields::event_id(v, shape),
        matched: m.fields.iter().map(|f| (*f).to_owned()).collect(),
        fields: fields::key_fields(v, shape, &m.fields),
        file: file.display().to_string(),
        record,
        rule_path: m.rule.path.clone(),
        correlation: None,
    }
}

#[cfg(test)]
mod tests;
