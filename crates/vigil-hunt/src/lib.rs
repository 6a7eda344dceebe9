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
//! The rule set compiles on a thread of its own while the files are read: events parsed
//! before it is ready wait (routed and time-filtered, as JSON values) in a backlog bounded in
//! bytes ([`HuntOptions::hold_bytes`]), and every thread evaluates them once it is (see
//! `backlog.rs`). A worker that fills the backlog waits for the rules.
//!
//! Memory stays bounded: files are streamed record by record (the `evtx` crate holds one
//! 64 KiB chunk at a time per file), at most one file per worker thread is open, events held
//! while the rules compile are capped, and hits go through a bounded channel to the caller.

mod backlog;
mod correlate;
mod fields;
pub mod input;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

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

use backlog::{Backlog, Batch, Parsed};
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
    /// At most this many bytes (estimated) of parsed events wait while the rules compile;
    /// `None` for [`DEFAULT_HOLD_BYTES`]. Past it, reading waits for the rules.
    pub hold_bytes: Option<usize>,
}

/// Parsed events held while the rules compile, by default: about the parsed JSON values of
/// 50,000 typical EVTX records.
pub const DEFAULT_HOLD_BYTES: usize = 96 << 20;

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
    /// A file is done (its events evaluated).
    FileDone(FileStats),
    /// The rule set [`Hunter::run`] compiled while reading the files is ready; sent once,
    /// before any hit, and not at all when the rules were compiled before the run
    /// ([`Hunter::prepare`]) or for a parse-only run.
    RulesLoaded(RulesLoaded),
}

/// The rule set a hunt compiled.
#[derive(Debug, Clone)]
pub struct RulesLoaded {
    pub rules: usize,
    pub correlations: usize,
    /// What did not compile (skipped) or compiled with a warning.
    pub problems: Vec<Problem>,
    /// Compilation time (it overlaps reading the files).
    pub elapsed: Duration,
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
    /// The most bytes (estimated) of parsed events held at once while the rules compiled.
    pub held_peak_bytes: u64,
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
            Report::Problem(_) | Report::RulesLoaded(_) => {}
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
enum Route {
    Evtx,
    Flat(backlog::EventSource),
    None,
}

/// Every record of the EVTX files under `paths` (files, or directories walked recursively,
/// in path order) as the JSON values `vigil hunt` evaluates; what cannot be read is skipped.
/// For benchmarks and tools that evaluate the same events again and again.
pub fn read_evtx_values(paths: &[PathBuf]) -> Vec<Value> {
    let (inputs, _) = input::collect_inputs(paths);
    let mut events = Vec::new();
    for i in inputs.iter().filter(|i| i.kind == input::Kind::Evtx) {
        let Ok(parser) = evtx::EvtxParser::from_path(&i.path) else {
            continue;
        };
        let mut parser = parser.with_configuration(evtx::ParserSettings::new().num_threads(1));
        events.extend(
            parser
                .records_json_value()
                .filter_map(Result::ok)
                .map(|r| r.data),
        );
    }
    events
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
struct Worker<'h, 'b> {
    scratch: Scratch,
    matches: Vec<Match<'h>>,
    tx: SyncSender<Report>,
    /// Events kept for correlations from the file being read.
    pending: Vec<Pending<'h>>,
    /// Where every file's kept events go when it is done.
    collected: Arc<Mutex<Vec<Pending<'h>>>>,
    /// Events waiting for the rules to compile.
    backlog: &'b Backlog,
    /// Product `windows`, the log source of EVTX-shaped events.
    windows: LogSource,
}

impl<'h, 'b> Worker<'h, 'b> {
    fn new(
        tx: SyncSender<Report>,
        collected: Arc<Mutex<Vec<Pending<'h>>>>,
        backlog: &'b Backlog,
    ) -> Self {
        Worker {
            scratch: Scratch::new(),
            matches: Vec::new(),
            tx,
            pending: Vec::new(),
            collected,
            backlog,
            windows: windows(),
        }
    }

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
    /// Events of this file read while the rules compile, in file order.
    held: Vec<Parsed>,
    /// Their estimated size.
    held_bytes: usize,
}

impl<'a> FileRun<'a> {
    fn new(input: &'a Input, index: u32) -> Self {
        FileRun {
            input,
            index,
            stats: FileStats {
                path: input.path.clone(),
                bytes: input.size,
                ..FileStats::default()
            },
            held: Vec::new(),
            held_bytes: 0,
        }
    }

    fn problem(&mut self, w: &Worker<'_, '_>, location: Option<String>, message: String) {
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

    /// The rule set a hunt over `inputs` compiles while it reads them (the one
    /// [`Hunter::prepare`] compiles), unless it is compiled already or not needed.
    fn background_set(&self, inputs: &[Input]) -> Option<SetKind> {
        if self.opts.parse_only || inputs.is_empty() {
            return None;
        }
        let kind = if inputs.iter().any(|i| i.kind == Kind::Evtx) {
            SetKind::Evtx
        } else {
            SetKind::Native
        };
        self.cell(kind).get().is_none().then_some(kind)
    }

    fn cell(&self, kind: SetKind) -> &OnceLock<RuleSet> {
        match kind {
            SetKind::Evtx => &self.evtx,
            SetKind::Native => &self.native,
        }
    }

    /// The rule set of `kind`, compiled now if it is not yet.
    fn rules(&self, kind: SetKind) -> &RuleSet {
        match kind {
            SetKind::Evtx => self.evtx_rules(),
            SetKind::Native => self.native_rules(),
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
    /// When the rule set the inputs need is not compiled yet, it compiles on a thread of
    /// its own while the files are read (a [`Report::RulesLoaded`] says when it is ready);
    /// the events read meanwhile wait, at most [`HuntOptions::hold_bytes`] of them, and are
    /// evaluated by every thread once it is.
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
        let background = self.background_set(inputs);
        let backlog = Backlog::new(
            background,
            self.opts.hold_bytes.unwrap_or(DEFAULT_HOLD_BYTES),
        );
        let mut summary = std::thread::scope(|s| {
            if let Some(kind) = background {
                let w = Worker::new(tx.clone(), Arc::clone(&collected), &backlog);
                s.spawn(move || self.compile_in_background(kind, inputs, w));
            }
            let shared = Arc::clone(&collected);
            let backlog = &backlog;
            s.spawn(move || {
                let work = || {
                    order.par_iter().for_each_init(
                        || Worker::new(tx.clone(), Arc::clone(&shared), backlog),
                        |w, &(index, input)| {
                            self.guarded_file(input, index, w);
                            w.flush_pending();
                        },
                    );
                    // Every file is read; what waits for the rules is evaluated on every
                    // thread (the compiling one joins in as soon as it is done).
                    if background.is_some() {
                        rayon::broadcast(|_| {
                            let mut w = Worker::new(tx.clone(), Arc::clone(&shared), backlog);
                            backlog.wait_ready();
                            self.drain(inputs, &mut w);
                            w.flush_pending();
                        });
                    }
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
        summary.s.held_peak_bytes = backlog.peak() as u64;
        let pending = std::mem::take(
            &mut *collected
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        self.correlate(pending, inputs, &mut summary, sink);
        summary.finish()
    }

    /// Compiles the rule set of `kind`, says so, lets the workers evaluate what they hold
    /// and takes a share of the queued files.
    fn compile_in_background<'h>(&'h self, kind: SetKind, inputs: &[Input], mut w: Worker<'h, '_>) {
        let started = Instant::now();
        let compiled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mapping = match kind {
                SetKind::Evtx => "evtx",
                SetKind::Native => "native",
            };
            let (set, problems) = compile(&self.sources, mapping);
            let set = self.cell(kind).get_or_init(|| set);
            (set.stats().rules, set.correlations().len(), problems)
        }));
        let report = match compiled {
            Ok((rules, correlations, problems)) => Report::RulesLoaded(RulesLoaded {
                rules,
                correlations,
                problems,
                elapsed: started.elapsed(),
            }),
            // Never expected (compilation reports what it cannot compile): the events are
            // then evaluated by compiling on first need, file by file, each failure reported.
            Err(_) => Report::Problem(InputProblem {
                path: "(rules)".to_owned(),
                location: None,
                message: "the rule compiler failed (panic)".to_owned(),
            }),
        };
        // Before any hit: nothing is evaluated until `set_ready`.
        let _ = w.tx.send(report);
        w.backlog.set_ready();
        self.drain(inputs, &mut w);
        w.flush_pending();
    }

    /// Evaluates queued files until none is left (only once the rules are ready).
    fn drain<'h>(&'h self, inputs: &[Input], w: &mut Worker<'h, '_>) {
        while let Some(batch) = w.backlog.pop() {
            let Some(input) = inputs.get(batch.index as usize) else {
                w.backlog.release(batch.bytes);
                continue;
            };
            let mut run = FileRun::new(input, batch.index);
            run.stats = batch.stats;
            run.held = batch.events;
            run.held_bytes = batch.bytes;
            self.guarded(&mut run, w, |h, run, w| h.flush_held(run, w));
            let _ = w.tx.send(Report::FileDone(run.stats));
            w.flush_pending();
        }
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
    fn guarded_file<'h>(&'h self, input: &Input, index: u32, w: &mut Worker<'h, '_>) {
        let mut run = FileRun::new(input, index);
        if !self.guarded(&mut run, w, |h, run, w| h.file(run, w)) {
            let _ = w.tx.send(Report::FileDone(FileStats {
                path: input.path.clone(),
                bytes: input.size,
                problems: 1,
                ..FileStats::default()
            }));
        }
    }

    /// Runs `f` on a file; a panic in it is reported as a problem of the file, its held
    /// events are dropped, and `false` returned.
    fn guarded<'h, 'a>(
        &'h self,
        run: &mut FileRun<'a>,
        w: &mut Worker<'h, '_>,
        f: impl FnOnce(&'h Self, &mut FileRun<'a>, &mut Worker<'h, '_>),
    ) -> bool {
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self, run, w)));
        if done.is_ok() {
            return true;
        }
        // The scratch may be half-updated; start afresh. The events kept for correlations
        // before the failure stay, as the hits reported before it do.
        w.scratch = Scratch::new();
        w.matches.clear();
        run.held.clear();
        w.backlog.release(std::mem::take(&mut run.held_bytes));
        let _ = w.tx.send(Report::Problem(InputProblem::new(
            &run.input.path,
            None,
            "the parser failed on this file (panic); the rest of the hunt goes on",
        )));
        false
    }

    /// Reads a file and sends its `FileDone`, or queues its held events (and the
    /// `FileDone` with them) when the rules are still compiling.
    fn file<'h>(&'h self, run: &mut FileRun<'_>, w: &mut Worker<'h, '_>) {
        match run.input.kind {
            Kind::Evtx => self.evtx_file(run, w),
            Kind::Json => self.json_file(run, w),
        }
        if !run.held.is_empty() {
            let batch = Batch {
                index: run.index,
                stats: std::mem::take(&mut run.stats),
                events: std::mem::take(&mut run.held),
                bytes: std::mem::take(&mut run.held_bytes),
            };
            match w.backlog.queue(batch) {
                Ok(()) => return,
                // The rules became ready meanwhile: evaluate here.
                Err(batch) => {
                    run.stats = batch.stats;
                    run.held = batch.events;
                    run.held_bytes = batch.bytes;
                    self.flush_held(run, w);
                }
            }
        }
        let _ = w.tx.send(Report::FileDone(std::mem::take(&mut run.stats)));
    }

    /// Evaluates an event now, or holds it while its rule set compiles (waiting for the
    /// rules when the backlog is full).
    fn deliver<'h>(&'h self, mut ev: Parsed, run: &mut FileRun<'_>, w: &mut Worker<'h, '_>) {
        if w.backlog.must_hold(ev.set) {
            ev.size = backlog::approx_size(&ev.value);
            let size = ev.size;
            run.held.push(ev);
            run.held_bytes += size;
            if w.backlog.hold(size) {
                w.backlog.wait_ready();
                self.flush_held(run, w);
            }
            return;
        }
        if !run.held.is_empty() {
            self.flush_held(run, w);
        }
        self.evaluate_parsed(ev, run, w);
    }

    /// Evaluates the events a file holds, in order (the rules are ready).
    fn flush_held<'h>(&'h self, run: &mut FileRun<'_>, w: &mut Worker<'h, '_>) {
        let held = std::mem::take(&mut run.held);
        let bytes = std::mem::take(&mut run.held_bytes);
        for ev in held {
            self.evaluate_parsed(ev, run, w);
        }
        w.backlog.release(bytes);
    }

    fn evaluate_parsed<'h>(&'h self, ev: Parsed, run: &mut FileRun<'_>, w: &mut Worker<'h, '_>) {
        let set = self.rules(ev.set);
        let shape = match ev.set {
            SetKind::Evtx => Shape::Evtx,
            SetKind::Native => Shape::Flat,
        };
        // The worker's own `windows` is lent out while the worker is borrowed mutably.
        let windows = std::mem::take(&mut w.windows);
        let ls = self.logsource(&ev.source, &windows);
        self.evaluate(set, &ev.value, shape, ls, ev.time, ev.record, run, w);
        w.windows = windows;
    }

    fn evtx_file<'h>(&'h self, run: &mut FileRun<'_>, w: &mut Worker<'h, '_>) {
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
                    let ev = Parsed {
                        value: r.data,
                        set: SetKind::Evtx,
                        source: backlog::EventSource::Windows,
                        time: t,
                        record: r.event_record_id,
                        size: 0,
                    };
                    self.deliver(ev, run, w);
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

    fn json_file<'h>(&'h self, run: &mut FileRun<'_>, w: &mut Worker<'h, '_>) {
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
                Ok(v @ Value::Object(_)) => self.json_event(v, lineno, run, w),
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
        w: &mut Worker<'h, '_>,
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
                for (i, v) in items.into_iter().enumerate() {
                    if v.is_object() {
                        self.json_event(v, i as u64, run, w);
                    } else {
                        run.problem(w, Some(format!("item {i}")), "not a JSON object".to_owned());
                    }
                }
            }
            Ok(v @ Value::Object(_)) => self.json_event(v, 0, run, w),
            Ok(_) => run.problem(w, None, "not a JSON object or array".to_owned()),
            Err(e) => run.problem(w, None, format!("invalid JSON: {e}")),
        }
    }

    fn route(&self, v: &Value) -> Route {
        use backlog::EventSource;
        if v.get("Event").and_then(|e| e.get("System")).is_some() {
            return Route::Evtx;
        }
        if let Some(Value::Object(ls)) = v.get("logsource") {
            let part = |k: &str| ls.get(k).and_then(Value::as_str).map(str::to_owned);
            return Route::Flat(EventSource::Own(LogSource {
                product: part("product"),
                category: part("category"),
                service: part("service"),
            }));
        }
        if self.opts.logsource.is_some() {
            return Route::Flat(EventSource::Default);
        }
        if v.get("Channel").is_some_and(Value::is_string) {
            return Route::Flat(EventSource::Windows);
        }
        Route::None
    }

    /// The log source an event is evaluated under.
    fn logsource<'a>(
        &'a self,
        src: &'a backlog::EventSource,
        windows: &'a LogSource,
    ) -> &'a LogSource {
        use backlog::EventSource;
        match src {
            EventSource::Own(ls) => ls,
            EventSource::Default => self.opts.logsource.as_ref().unwrap_or(windows),
            EventSource::Windows => windows,
        }
    }

    fn json_event<'h>(
        &'h self,
        v: Value,
        record: u64,
        run: &mut FileRun<'_>,
        w: &mut Worker<'h, '_>,
    ) {
        run.stats.events += 1;
        let route = self.route(&v);
        let shape = match route {
            Route::Evtx => Shape::Evtx,
            _ => Shape::Flat,
        };
        let time = fields::time(&v, shape);
        if !self.opts.filters.time_ok(time) {
            run.stats.out_of_range += 1;
            return;
        }
        let (set, source) = match route {
            Route::None => {
                run.stats.without_logsource += 1;
                return;
            }
            _ if self.opts.parse_only => return,
            Route::Evtx => (SetKind::Evtx, backlog::EventSource::Windows),
            Route::Flat(src) => (SetKind::Native, src),
        };
        let ev = Parsed {
            value: v,
            set,
            source,
            time,
            record,
            size: 0,
        };
        self.deliver(ev, run, w);
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
        w: &mut Worker<'h, '_>,
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
            Route::Flat(src) => {
                shape = Shape::Flat;
                let windows = windows();
                self.native_rules().matches_into(
                    v,
                    self.logsource(&src, &windows),
                    &mut scratch,
                    &mut out,
                );
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
