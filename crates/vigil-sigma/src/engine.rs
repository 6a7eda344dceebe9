//! The rule set: compiled rules grouped by log source, literal needles shared in one
//! Aho-Corasick automaton per (log source group, field), and evaluation.
//!
//! Evaluating an event:
//! 1. route: the groups whose log source is among the event's (given by the caller or found
//!    from the channel and event id through a [`LogSourceTable`]);
//! 2. scan: for each group, each field that has needles is read once and scanned once; every
//!    needle found (with its position rule: equal, prefix, suffix, anywhere) is stamped;
//! 3. candidates: each rule has trigger needles, at least one of which every match of the rule
//!    contains (chosen at compile time from its condition); rules whose trigger was stamped,
//!    plus the few rules without triggers, are evaluated;
//! 4. evaluate: the condition tree is walked; literal atoms read their stamps, the rest
//!    (wildcards, regexes, CIDR, numbers, field references) test the field value directly.
//!
//! Stamps are generation counters in a reusable [`Scratch`], so nothing is cleared or
//! allocated per event.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use ipnet::IpNet;

use crate::compile::{self, Detection, Expr, LazyRegex, PreAtom, Shape};
use crate::correlation::{self, Plan};
use crate::event::{Event, FieldPath, Value};
use crate::index::{LeafCache, Leaves, PathIndex};
use crate::mapping::{FieldMapping, LogSourceTable};
use crate::problem::{Code, Issue, Problem};
use crate::rule::{self, Correlation, Doc, FilterDoc, LogSource, RuleDoc, RuleInfo};
use crate::value::{AtomSpec, CmpOp, Placeholders, StrOp, TimePart};
use crate::yaml::{self, Pos};

/// How rules are compiled: where fields live, how events are classified, and the values of
/// `expand` placeholders.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    pub mapping: FieldMapping,
    pub tables: Vec<LogSourceTable>,
    pub placeholders: Placeholders,
}

impl Default for CompileOptions {
    /// Native field names and the Windows log source table.
    fn default() -> Self {
        CompileOptions {
            mapping: FieldMapping::default(),
            tables: LogSourceTable::windows().into_iter().collect(),
            placeholders: Placeholders::new(),
        }
    }
}

impl CompileOptions {
    /// Options for a built-in mapping (`evtx`, `ecs`, `native`), with the Windows table.
    pub fn with_mapping(name: &str) -> Option<CompileOptions> {
        Some(CompileOptions {
            mapping: FieldMapping::builtin(name)?,
            ..CompileOptions::default()
        })
    }
}

#[derive(Debug)]
struct Slot {
    /// The Sigma field name (reported as a matched field).
    name: String,
    paths: Vec<FieldPath>,
    /// `paths` as ids of the rule set's [`PathIndex`].
    ids: Vec<u32>,
}

#[derive(Debug)]
enum AtomKind {
    /// Answered by the scan: the needle's stamp.
    Lit {
        needle: u32,
    },
    /// Tested directly: cased, non-ASCII (Unicode case folding) or empty literals.
    Direct {
        op: StrOp,
        bytes: Vec<u8>,
        fold: Fold,
        /// For [`Fold::Unicode`]: the needle stamped when a value of the field has a
        /// non-ASCII character (which every match needs).
        need: Option<u32>,
    },
    Glob {
        regex: u32,
        need: Option<u32>,
    },
    AnyValue,
    Regex(u32),
    Cidr(Vec<IpNet>),
    Cmp {
        op: CmpOp,
        value: f64,
    },
    Time {
        part: TimePart,
        op: CmpOp,
        value: f64,
    },
    Exists(bool),
    Null,
    FieldRef {
        other: u32,
        op: StrOp,
        cased: bool,
    },
}

/// How a directly tested literal compares with a value (decided once, at compile time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fold {
    /// Byte for byte.
    Cased,
    /// ASCII case-insensitive (the needle is lowercase; its non-ASCII characters are caseless).
    Ascii,
    /// Unicode lowercase folding (the needle is folded and has a non-ASCII character).
    Unicode,
}

impl Fold {
    /// The mode for a needle, `bytes` already folded when not `cased`.
    fn of(bytes: &[u8], cased: bool) -> Fold {
        if cased {
            Fold::Cased
        } else if ascii_foldable(bytes) {
            Fold::Ascii
        } else {
            Fold::Unicode
        }
    }
}

#[derive(Debug)]
struct Atom {
    slot: Option<u32>,
    kind: AtomKind,
}

/// The separator of joined event strings: never in valid UTF-8.
const SEP: u8 = 0xFF;

#[derive(Debug)]
struct Scanner {
    /// `None` scans every string of the event (keywords).
    slot: Option<u32>,
    /// The needles' bytes (lowercase), in automaton pattern order.
    patterns: Vec<Vec<u8>>,
    /// The automata over `patterns`, built on first use: a rule set loads thousands of
    /// per-field automata and a given log stream reaches only some of them (building them
    /// all was 28% of compiling the SigmaHQ Windows rules). Sets too big to be sure to build
    /// are built at compile time instead, where a failure is reported ([`EAGER_PATTERN_BYTES`]).
    automata: OnceLock<Option<Automata>>,
    /// The length of the shortest pattern: shorter values cannot match and are not scanned.
    min_len: usize,
    /// The needle stamped when a value has a non-ASCII character.
    nonascii: Option<u32>,
    /// Keyword scanners whose needles are all `contains` and free of [`SEP`] scan the event's
    /// strings joined by [`SEP`] in one pass (no needle can match across a separator).
    joined: bool,
    /// Per automaton pattern: the needles it stands for.
    pats: Csr<(StrOp, u32)>,
}

#[derive(Debug)]
struct Automata {
    ac: AhoCorasick,
    /// For small pattern sets: the same patterns in a leftmost-first automaton, whose
    /// packed (SIMD) prefilter answers "does any pattern occur" much faster than the
    /// overlapping search (which has no packed prefilter). Long texts are checked with it
    /// first and skipped when nothing occurs: any occurrence makes it report a match.
    gate: Option<AhoCorasick>,
}

/// Pattern sets with more bytes than this are built when the rules compile, not on first
/// use. Below it an automaton cannot exceed aho-corasick's state limits (one state per
/// pattern byte at most, far under its 32-bit state ids), so a lazy build cannot fail.
const EAGER_PATTERN_BYTES: usize = 16 << 20;

fn build_automata(patterns: &[Vec<u8>]) -> Result<Automata, aho_corasick::BuildError> {
    let gate = if patterns.len() <= GATE_MAX_PATTERNS {
        AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostFirst)
            .build(patterns)
            .ok()
    } else {
        None
    };
    // The automaton kind is left to aho-corasick: forcing a DFA (for all fields, or for
    // those with at most 1,000 needles) measured slower on the Windows rules.
    let ac = AhoCorasickBuilder::new()
        .match_kind(MatchKind::Standard)
        .build(patterns)?;
    Ok(Automata { ac, gate })
}

/// The most patterns a [`Scanner::gate`] is built for (the packed searchers' limit).
const GATE_MAX_PATTERNS: usize = 64;
/// The shortest text checked with a [`Scanner::gate`] first.
const GATE_MIN_TEXT: usize = 64;

impl Scanner {
    /// The automata, built on the first call (`None` when the scanner has no patterns).
    fn automata(&self) -> Option<&Automata> {
        if self.patterns.is_empty() {
            return None;
        }
        self.automata
            .get_or_init(|| build_automata(&self.patterns).ok())
            .as_ref()
    }
}

impl Automata {
    /// False when no pattern can occur in `text` (which is lowercased).
    fn may_match(&self, text: &[u8]) -> bool {
        match &self.gate {
            Some(g) if text.len() >= GATE_MIN_TEXT => g.is_match(text),
            _ => true,
        }
    }
}

#[derive(Debug)]
struct Group {
    logsource: LogSource,
    scanners: Vec<Scanner>,
    /// Rules with no trigger needle: evaluated on every event of the group.
    always: Vec<u32>,
    rules: usize,
}

#[derive(Debug)]
struct Rule {
    info: RuleInfo,
    /// The condition with the children of each `and`/`or` in increasing cost, so that
    /// stamp lookups short-circuit before regexes and keyword walks run.
    test: Expr,
    /// `(slot, atom)` for the atoms that report a matched field, in the order of the
    /// condition as written (outside `not`): the field report tests them in this order, so
    /// the order of matched fields follows the rule.
    report: Vec<(u32, u32)>,
    /// False when the rule is only a building block of correlations (no `generate`).
    standalone: bool,
}

/// A small multiplicative hasher (the Fx hash) for the maps read on every event: their keys
/// come from the rules and log source tables, and SipHash measured 5% of evaluation.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, w: u64) {
        self.hash = (self.hash.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(
                <[u8; 8]>::try_from(c).unwrap_or_default(),
            ));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Lists stored flat (compressed rows): one allocation, no pointer to follow per list.
#[derive(Debug)]
struct Csr<T> {
    /// List `i` is `items[start[i]..start[i + 1]]`.
    start: Vec<u32>,
    items: Vec<T>,
}

impl<T> Default for Csr<T> {
    fn default() -> Self {
        Csr {
            start: vec![0],
            items: Vec::new(),
        }
    }
}

impl<T> Csr<T> {
    fn from_lists(lists: Vec<Vec<T>>) -> Csr<T> {
        let mut c = Csr::default();
        for l in lists {
            c.items.extend(l);
            c.start
                .push(u32::try_from(c.items.len()).unwrap_or(u32::MAX));
        }
        c
    }

    fn len(&self) -> usize {
        self.start.len() - 1
    }

    fn get(&self, i: u32) -> &[T] {
        let i = i as usize;
        match (self.start.get(i), self.start.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.items[a as usize..b as usize],
            _ => &[],
        }
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[derive(Debug)]
struct Classifier {
    product: u32,
    channel: u32,
    event_id: u32,
    services: FastMap<String, Vec<u32>>,
    categories: FastMap<String, Vec<(Option<i64>, u32)>>,
}

/// Compiled Sigma rules, ready to evaluate. Cheap to share between threads (`&RuleSet` is
/// `Sync`); each thread brings its own [`Scratch`].
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    atoms: Vec<Atom>,
    slots: Vec<Slot>,
    /// Every slot path, for indexing JSON events once per event.
    index: PathIndex,
    regexes: Vec<LazyRegex>,
    groups: Vec<Group>,
    group_index: FastMap<(u32, u32, u32), u32>,
    names: FastMap<String, u32>,
    /// Per needle: the rules it triggers.
    triggers: Csr<u32>,
    /// Per path of [`RuleSet::index`]: the field scanners reading it, as (group, scanner
    /// in the group, scanner number in the set). JSON events are scanned from the paths they
    /// have, not by trying every field of every routed group.
    path_scanners: Csr<(u32, u32, u32)>,
    /// How many scanners all groups have.
    scanner_count: usize,
    classifiers: Vec<Classifier>,
    correlations: Vec<Correlation>,
    /// Evaluation plans of `correlations`, index for index.
    plans: Vec<Plan>,
    /// Per rule: the correlation inputs its matches feed.
    rule_consumers: Vec<Vec<(u32, u16)>>,
}

/// A rule that matched an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Match<'r> {
    pub rule: &'r RuleInfo,
    /// Sigma names of the fields whose tests made the rule match (keyword hits add none).
    pub fields: Vec<&'r str>,
    /// False when the rule is a building block of correlation rules that do not `generate`
    /// it: the specification says such a rule does not report on its own. Feed it to a
    /// [`crate::CorrelationEngine`] and report the correlation's matches instead.
    pub standalone: bool,
    /// The rule's index in its rule set (for the correlation engine).
    pub(crate) index: u32,
}

impl Match<'_> {
    pub fn id(&self) -> Option<&str> {
        self.rule.id.as_deref()
    }
    pub fn title(&self) -> &str {
        &self.rule.title
    }
    pub fn level(&self) -> Option<crate::Level> {
        self.rule.level
    }
    pub fn tags(&self) -> &[String] {
        &self.rule.tags
    }
}

/// Per-thread evaluation state, reused across events (and rule sets).
#[derive(Debug, Default)]
pub struct Scratch {
    epoch: u32,
    needle_stamp: Vec<u32>,
    rule_stamp: Vec<u32>,
    candidates: Vec<u32>,
    /// The event's strings joined by [`SEP`] and ASCII-lowercased, for keyword scanners.
    joined: Vec<u8>,
    /// The ASCII-lowercased text being scanned.
    lower: Vec<u8>,
    groups: Vec<u32>,
    /// Per group: the epoch of the last event routed to it.
    group_stamp: Vec<u32>,
    /// Per scanner (numbered across groups): the epoch of the last event it scanned.
    scanner_stamp: Vec<u32>,
    cats: Vec<u32>,
    svcs: Vec<u32>,
    /// Per-event field values, lent to a [`Fields`] during evaluation.
    fields: FieldCache,
    /// Per-event path values of JSON events.
    leaves: LeafCache,
}

/// The storage of [`Fields`] between events.
#[derive(Debug, Default)]
struct FieldCache {
    seen: Vec<u32>,
    pos: Vec<u32>,
    vals: Vec<Option<Value<'static>>>,
}

/// Reuses a vector's buffer for values of another lifetime: the vector is emptied, and the
/// in-place `collect` of an emptied vector keeps its allocation.
fn recycle<'a, 'b>(mut v: Vec<Option<Value<'a>>>) -> Vec<Option<Value<'b>>> {
    v.clear();
    v.into_iter().map(|_| None).collect()
}

/// The values of an event's slots, each looked up once per event (the same field is read
/// by several scanners, the classifier and the rules' direct tests).
struct Fields<'e, E: ?Sized> {
    event: &'e E,
    /// The event's path values, when it is a JSON map.
    leaves: Option<Leaves<'e>>,
    epoch: u32,
    /// Per slot: the epoch of the event it was looked up for.
    seen: Vec<u32>,
    /// Per slot: its index in `vals` (valid when `seen` holds the current epoch).
    pos: Vec<u32>,
    vals: Vec<Option<Value<'e>>>,
}

impl<'e, E: Event + ?Sized> Fields<'e, E> {
    fn lend(event: &'e E, set: &RuleSet, s: &mut Scratch) -> Fields<'e, E> {
        let c = std::mem::take(&mut s.fields);
        let leaves = if let Some(root) = event.json_map() {
            let mut l = Leaves::lend(std::mem::take(&mut s.leaves), s.epoch, set.index.len());
            set.index.fill(root, &mut l);
            Some(l)
        } else if let Some(root) = event.json_tree() {
            let mut l = Leaves::lend(std::mem::take(&mut s.leaves), s.epoch, set.index.len());
            set.index.fill_tree(root, &mut l);
            Some(l)
        } else {
            None
        };
        Fields {
            event,
            leaves,
            epoch: s.epoch,
            seen: c.seen,
            pos: c.pos,
            vals: recycle(c.vals),
        }
    }

    fn give_back(self, s: &mut Scratch) {
        if let Some(l) = self.leaves {
            s.leaves = l.give_back();
        }
        s.fields = FieldCache {
            seen: self.seen,
            pos: self.pos,
            vals: recycle(self.vals),
        };
    }
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch::default()
    }

    fn begin(&mut self, set: &RuleSet) {
        if self.needle_stamp.len() < set.triggers.len() {
            self.needle_stamp.resize(set.triggers.len(), 0);
        }
        if self.rule_stamp.len() < set.rules.len() {
            self.rule_stamp.resize(set.rules.len(), 0);
        }
        if self.group_stamp.len() < set.groups.len() {
            self.group_stamp.resize(set.groups.len(), 0);
        }
        if self.scanner_stamp.len() < set.scanner_count {
            self.scanner_stamp.resize(set.scanner_count, 0);
        }
        if self.fields.seen.len() < set.slots.len() {
            self.fields.seen.resize(set.slots.len(), 0);
            self.fields.pos.resize(set.slots.len(), 0);
        }
        if self.epoch == u32::MAX {
            self.needle_stamp.iter_mut().for_each(|s| *s = 0);
            self.rule_stamp.iter_mut().for_each(|s| *s = 0);
            self.fields.seen.iter_mut().for_each(|s| *s = 0);
            self.leaves.seen.iter_mut().for_each(|s| *s = 0);
            self.group_stamp.iter_mut().for_each(|s| *s = 0);
            self.scanner_stamp.iter_mut().for_each(|s| *s = 0);
            self.epoch = 0;
        }
        // Stamps only ever hold past generations, so sharing a scratch between rule sets
        // cannot produce a false hit.
        self.epoch += 1;
        self.candidates.clear();
        self.groups.clear();
        self.cats.clear();
        self.svcs.clear();
    }
}

impl Scratch {
    /// The stamping state for the current event, and the joined-text and lowercase buffers.
    fn stamper<'a>(
        &'a mut self,
        set: &'a RuleSet,
    ) -> (Stamper<'a>, &'a mut Vec<u8>, &'a mut Vec<u8>) {
        let Scratch {
            epoch,
            needle_stamp,
            rule_stamp,
            candidates,
            joined,
            lower,
            ..
        } = self;
        let stamp = Stamper {
            set,
            epoch: *epoch,
            needle_stamp,
            rule_stamp,
            candidates,
        };
        (stamp, joined, lower)
    }
}

/// Marks needles found in an event, and the rules they trigger as candidates.
struct Stamper<'a> {
    set: &'a RuleSet,
    epoch: u32,
    needle_stamp: &'a mut [u32],
    rule_stamp: &'a mut [u32],
    candidates: &'a mut Vec<u32>,
}

impl Stamper<'_> {
    fn stamp(&mut self, n: u32) {
        if self.needle_stamp[n as usize] != self.epoch {
            self.needle_stamp[n as usize] = self.epoch;
            for &r in self.set.triggers.get(n) {
                if self.rule_stamp[r as usize] != self.epoch {
                    self.rule_stamp[r as usize] = self.epoch;
                    self.candidates.push(r);
                }
            }
        }
    }

    /// Scans one value `t` of a field with `sc` (`lower` is a buffer for its lowercase
    /// copy). Returns false: every value is scanned.
    fn text(&mut self, sc: &Scanner, t: &[u8], lower: &mut Vec<u8>) -> bool {
        if let Some(n) = sc.nonascii
            && !t.is_ascii()
        {
            self.stamp(n);
        }
        if t.len() < sc.min_len {
            return false;
        }
        let Some(au) = sc.automata() else {
            return false;
        };
        // The automata hold lowercase needles and match case-sensitively, which lets
        // aho-corasick use its packed (SIMD) prefilters.
        lower.clear();
        lower.extend_from_slice(t);
        lower.make_ascii_lowercase();
        if !au.may_match(lower) {
            return false;
        }
        for m in au.ac.find_overlapping_iter(lower.as_slice()) {
            for &(op, n) in sc.pats.get(m.pattern().as_u32()) {
                let ok = match op {
                    StrOp::Eq => m.start() == 0 && m.end() == t.len(),
                    StrOp::Prefix => m.start() == 0,
                    StrOp::Suffix => m.end() == t.len(),
                    StrOp::Contains => true,
                };
                if ok {
                    self.stamp(n);
                }
            }
        }
        false
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

/// Counts of what was compiled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub rules: usize,
    pub groups: usize,
    pub atoms: usize,
    pub needles: usize,
    pub regexes: usize,
    /// Rules evaluated on every event of their log source (no literal trigger).
    pub untriggered_rules: usize,
    pub correlations: usize,
}

// ---------------------------------------------------------------------------------------
// Compilation.

#[derive(Default)]
struct ScanBuilder {
    nonascii: Option<u32>,
    patterns: Vec<Vec<u8>>,
    index: FastMap<Vec<u8>, usize>,
    pats: Vec<Vec<(StrOp, u32)>>,
}

#[derive(Default)]
struct GroupBuilder {
    logsource: LogSource,
    scanners: FastMap<Option<u32>, ScanBuilder>,
    needles: FastMap<(Option<u32>, Vec<u8>, StrOp), u32>,
    always: Vec<u32>,
    rules: usize,
}

struct Builder<'o> {
    opts: &'o CompileOptions,
    threads: usize,
    set: RuleSet,
    slot_index: FastMap<Vec<String>, u32>,
    /// Per group: the slots of its fields by name (resolving a field through the mapping
    /// was 5% of compiling the SigmaHQ rules).
    group_slots: Vec<FastMap<Box<str>, u32>>,
    group_builders: Vec<GroupBuilder>,
    needle_len: Vec<usize>,
    /// Per needle: the rules it triggers (flattened into the rule set at the end).
    triggers: Vec<Vec<u32>>,
}

impl Builder<'_> {
    fn name_id(&mut self, name: &Option<String>) -> u32 {
        match name {
            None => 0,
            Some(n) => {
                let next = u32::try_from(self.set.names.len() + 1).unwrap_or(u32::MAX);
                *self.set.names.entry(n.clone()).or_insert(next)
            }
        }
    }

    fn slot(&mut self, ls: &LogSource, field: &str) -> u32 {
        let paths = self.opts.mapping.resolve(ls, field);
        let mut key = paths.clone();
        key.push(field.to_owned());
        if let Some(&s) = self.slot_index.get(&key) {
            return s;
        }
        let id = u32::try_from(self.set.slots.len()).unwrap_or(u32::MAX);
        let paths: Vec<FieldPath> = paths.iter().map(|p| FieldPath::new(p)).collect();
        let ids = paths.iter().map(|p| self.set.index.add(p)).collect();
        self.set.slots.push(Slot {
            name: field.to_owned(),
            paths,
            ids,
        });
        self.slot_index.insert(key, id);
        id
    }

    /// [`Builder::slot`] for a field of group `g`, whose log source is `ls`.
    fn group_slot(&mut self, g: u32, ls: &LogSource, field: &str) -> u32 {
        let gi = g as usize;
        if let Some(&s) = self.group_slots.get(gi).and_then(|m| m.get(field)) {
            return s;
        }
        let s = self.slot(ls, field);
        if self.group_slots.len() <= gi {
            self.group_slots.resize_with(gi + 1, FastMap::default);
        }
        self.group_slots[gi].insert(field.into(), s);
        s
    }

    fn group(&mut self, ls: &LogSource) -> u32 {
        let key = (
            self.name_id(&ls.product),
            self.name_id(&ls.category),
            self.name_id(&ls.service),
        );
        if let Some(&g) = self.set.group_index.get(&key) {
            return g;
        }
        let g = u32::try_from(self.group_builders.len()).unwrap_or(u32::MAX);
        self.group_builders.push(GroupBuilder {
            logsource: ls.clone(),
            ..GroupBuilder::default()
        });
        self.set.group_index.insert(key, g);
        g
    }

    fn needle(&mut self, g: u32, slot: Option<u32>, bytes: &[u8], op: StrOp) -> u32 {
        let folded = bytes.to_ascii_lowercase();
        let gb = &mut self.group_builders[g as usize];
        if let Some(&n) = gb.needles.get(&(slot, folded.clone(), op)) {
            return n;
        }
        let n = u32::try_from(self.triggers.len()).unwrap_or(u32::MAX);
        self.triggers.push(Vec::new());
        self.needle_len.push(folded.len());
        gb.needles.insert((slot, folded.clone(), op), n);
        let sb = gb.scanners.entry(slot).or_default();
        let p = match sb.index.get(&folded) {
            Some(&p) => p,
            None => {
                sb.patterns.push(folded.clone());
                sb.pats.push(Vec::new());
                sb.index.insert(folded, sb.patterns.len() - 1);
                sb.patterns.len() - 1
            }
        };
        sb.pats[p].push((op, n));
        n
    }

    /// The needle stamped when a value of `slot` has a non-ASCII character.
    fn nonascii_needle(&mut self, g: u32, slot: Option<u32>) -> u32 {
        let sb = self.group_builders[g as usize]
            .scanners
            .entry(slot)
            .or_default();
        if let Some(n) = sb.nonascii {
            return n;
        }
        let n = u32::try_from(self.triggers.len()).unwrap_or(u32::MAX);
        sb.nonascii = Some(n);
        self.triggers.push(Vec::new());
        // Costed as a one-byte needle: weak, but better than no trigger.
        self.needle_len.push(1);
        n
    }

    fn push_regex(&mut self, re: LazyRegex) -> u32 {
        self.set.regexes.push(re);
        u32::try_from(self.set.regexes.len() - 1).unwrap_or(u32::MAX)
    }

    fn lower(&mut self, g: u32, ls: &LogSource, pre: PreAtom) -> u32 {
        let slot = pre.field.as_deref().map(|f| self.group_slot(g, ls, f));
        let kind = match pre.spec {
            AtomSpec::Str { pat, cased } => {
                let shape = compile::classify(&pat);
                let lit = |op: StrOp, b: Vec<u8>| (op, b);
                let literal = match shape {
                    Shape::Eq(b) => Some(lit(StrOp::Eq, b)),
                    Shape::Prefix(b) => Some(lit(StrOp::Prefix, b)),
                    Shape::Suffix(b) => Some(lit(StrOp::Suffix, b)),
                    Shape::Contains(b) => Some(lit(StrOp::Contains, b)),
                    Shape::AnyValue | Shape::Glob => None,
                };
                match literal {
                    Some((op, b)) if !cased && !b.is_empty() && ascii_foldable(&b) => {
                        AtomKind::Lit {
                            needle: self.needle(g, slot, &b, op),
                        }
                    }
                    Some((op, b)) => {
                        let bytes = if cased { b } else { fold(&b) };
                        let fold = Fold::of(&bytes, cased);
                        let need = (fold == Fold::Unicode).then(|| self.nonascii_needle(g, slot));
                        AtomKind::Direct {
                            op,
                            fold,
                            bytes,
                            need,
                        }
                    }
                    None if pre.regex.is_none() => AtomKind::AnyValue,
                    None => {
                        let need = compile::longest_literal(&pat)
                            .filter(|b| !cased && b.len() >= 2 && ascii_foldable(b))
                            .map(<[u8]>::to_vec);
                        let need = need.map(|b| self.needle(g, slot, &b, StrOp::Contains));
                        match pre.regex {
                            Some(re) => AtomKind::Glob {
                                regex: self.push_regex(re),
                                need,
                            },
                            None => AtomKind::AnyValue,
                        }
                    }
                }
            }
            AtomSpec::Regex(_) => match pre.regex {
                Some(re) => AtomKind::Regex(self.push_regex(re)),
                None => AtomKind::Null,
            },
            AtomSpec::Cidr(nets) => AtomKind::Cidr(nets),
            AtomSpec::Cmp { op, value } => AtomKind::Cmp { op, value },
            AtomSpec::Time { part, op, value } => AtomKind::Time { part, op, value },
            AtomSpec::Exists(b) => AtomKind::Exists(b),
            AtomSpec::Null => AtomKind::Null,
            AtomSpec::FieldRef { field, op, cased } => AtomKind::FieldRef {
                other: self.group_slot(g, ls, &field),
                op,
                cased,
            },
        };
        self.set.atoms.push(Atom { slot, kind });
        u32::try_from(self.set.atoms.len() - 1).unwrap_or(u32::MAX)
    }

    /// A set of needles at least one of which every match of `e` contains, with a cost
    /// (lower is more selective); `None` when there is none.
    fn necessary(&self, e: &Expr) -> Option<(Vec<u32>, f64)> {
        let cost = |n: u32| 1.0 / (self.needle_len[n as usize].max(1) as f64);
        match e {
            Expr::Atom(a) => match self.set.atoms[*a as usize].kind {
                AtomKind::Lit { needle } => Some((vec![needle], cost(needle))),
                AtomKind::Glob { need: Some(n), .. } | AtomKind::Direct { need: Some(n), .. } => {
                    Some((vec![n], cost(n)))
                }
                _ => None,
            },
            Expr::And(items) => items
                .iter()
                .filter_map(|i| self.necessary(i))
                .min_by(|a, b| a.1.total_cmp(&b.1)),
            Expr::Or(items) => {
                let mut all = Vec::new();
                let mut total = 0.0;
                for i in items {
                    let (n, c) = self.necessary(i)?;
                    all.extend(n);
                    total += c;
                }
                Some((all, total))
            }
            Expr::Not(_) | Expr::Const(_) => None,
        }
    }

    /// A rough cost of evaluating an atom: stamps are free, direct tests read a field,
    /// regexes and keyword walks are the most expensive.
    fn atom_cost(&self, a: u32) -> u32 {
        let atom = &self.set.atoms[a as usize];
        let base = match atom.kind {
            AtomKind::Lit { .. } => return 1,
            AtomKind::AnyValue | AtomKind::Exists(_) | AtomKind::Null => 4,
            AtomKind::Cmp { .. } | AtomKind::Direct { .. } => 8,
            AtomKind::FieldRef { .. } | AtomKind::Cidr(_) | AtomKind::Time { .. } => 30,
            AtomKind::Glob { .. } | AtomKind::Regex(_) => 60,
        };
        if atom.slot.is_none() { base * 20 } else { base }
    }

    /// `e` with the children of every `and`/`or` sorted by cost (stable), and its cost.
    /// Evaluation has no side effects, so the order does not change the result.
    fn cost_ordered(&self, e: &Expr) -> (Expr, u32) {
        match e {
            Expr::Atom(a) => (Expr::Atom(*a), self.atom_cost(*a)),
            Expr::Const(b) => (Expr::Const(*b), 0),
            Expr::Not(x) => {
                let (x, c) = self.cost_ordered(x);
                (Expr::Not(Box::new(x)), c)
            }
            Expr::And(v) | Expr::Or(v) => {
                let mut kids: Vec<(Expr, u32)> = v.iter().map(|x| self.cost_ordered(x)).collect();
                kids.sort_by_key(|(_, c)| *c);
                let cost = kids.iter().fold(0u32, |t, (_, c)| t.saturating_add(*c));
                let kids = kids.into_iter().map(|(x, _)| x).collect();
                let e = if matches!(e, Expr::And(_)) {
                    Expr::And(kids)
                } else {
                    Expr::Or(kids)
                };
                (e, cost)
            }
        }
    }

    /// The `(slot, atom)` pairs of `e` that can report a matched field, in order.
    fn reported(&self, e: &Expr, out: &mut Vec<(u32, u32)>) {
        match e {
            Expr::Atom(a) => {
                if let Some(slot) = self.set.atoms[*a as usize].slot {
                    out.push((slot, *a));
                }
            }
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|x| self.reported(x, out)),
            Expr::Not(_) | Expr::Const(_) => {}
        }
    }

    fn add_rule(&mut self, info: RuleInfo, det: Detection) {
        let g = self.group(&info.logsource);
        let ls = info.logsource.clone();
        let mut ids = Vec::with_capacity(det.atoms.len());
        for pre in det.atoms {
            ids.push(self.lower(g, &ls, pre));
        }
        let expr = det.expr.map_atoms(&mut |a| ids[a as usize]);
        let r = u32::try_from(self.set.rules.len()).unwrap_or(u32::MAX);
        match self.necessary(&expr) {
            Some((needles, _)) => {
                for n in needles {
                    let t = &mut self.triggers[n as usize];
                    if t.last() != Some(&r) {
                        t.push(r);
                    }
                }
            }
            None => self.group_builders[g as usize].always.push(r),
        }
        self.group_builders[g as usize].rules += 1;
        let (test, _) = self.cost_ordered(&expr);
        let mut report = Vec::new();
        self.reported(&expr, &mut report);
        self.set.rules.push(Rule {
            info,
            test,
            report,
            standalone: true,
        });
    }

    fn finish(mut self, problems: &mut Vec<Problem>) -> RuleSet {
        self.set.triggers = Csr::from_lists(std::mem::take(&mut self.triggers));
        // The automata of all groups and fields are independent: built in parallel, then
        // assembled in group and slot order.
        let mut jobs: Vec<(usize, Option<u32>, ScanBuilder)> = Vec::new();
        let mut groups = Vec::new();
        for (gi, mut gb) in std::mem::take(&mut self.group_builders)
            .into_iter()
            .enumerate()
        {
            let mut slots: Vec<_> = std::mem::take(&mut gb.scanners).into_iter().collect();
            slots.sort_by_key(|(s, _)| *s);
            jobs.extend(slots.into_iter().map(|(slot, sb)| (gi, slot, sb)));
            groups.push(gb);
        }
        // Only sets too big to be sure to build are built now (in parallel); the rest on
        // first use.
        let eager = par_map(&jobs, self.threads, |(_, _, sb)| {
            let bytes: usize = sb.patterns.iter().map(Vec::len).sum();
            (bytes > EAGER_PATTERN_BYTES).then(|| build_automata(&sb.patterns))
        });
        let mut scanners: Vec<Vec<Scanner>> = groups.iter().map(|_| Vec::new()).collect();
        for ((gi, slot, sb), eager) in jobs.into_iter().zip(eager) {
            // Every needle is scanned for, not only the triggers: testing the others
            // directly on candidate rules (re-reading the field per value) measured
            // 2.8x slower on the SigmaHQ Windows rules.
            let (patterns, pats) = (sb.patterns, sb.pats);
            let automata = OnceLock::new();
            match eager {
                None => {}
                Some(Ok(a)) => {
                    let _ = automata.set(Some(a));
                }
                Some(Err(e)) => {
                    problems.push(Problem::new(
                        Code::TooManyAlternatives,
                        "",
                        Pos::default(),
                        format!(
                            "the literal automaton of log source {} cannot be built: {e}",
                            groups[gi].logsource
                        ),
                    ));
                    continue;
                }
            }
            scanners[gi].push(Scanner {
                slot,
                min_len: patterns.iter().map(Vec::len).min().unwrap_or(usize::MAX),
                joined: slot.is_none()
                    && patterns.iter().all(|p| !p.is_empty() && !p.contains(&SEP))
                    && pats.iter().flatten().all(|(op, _)| *op == StrOp::Contains),
                nonascii: sb.nonascii,
                pats: Csr::from_lists(pats),
                patterns,
                automata,
            });
        }
        let mut by_path: Vec<Vec<(u32, u32, u32)>> = vec![Vec::new(); self.set.index.len()];
        let mut number = 0u32;
        for (gi, (gb, scanners)) in groups.into_iter().zip(scanners).enumerate() {
            let g = u32::try_from(gi).unwrap_or(u32::MAX);
            for (si, sc) in scanners.iter().enumerate() {
                let si = u32::try_from(si).unwrap_or(u32::MAX);
                if let Some(slot) = sc.slot {
                    for &p in &self.set.slots[slot as usize].ids {
                        by_path[p as usize].push((g, si, number));
                    }
                }
                number += 1;
            }
            self.set.groups.push(Group {
                logsource: gb.logsource,
                scanners,
                always: gb.always,
                rules: gb.rules,
            });
        }
        self.set.path_scanners = Csr::from_lists(by_path);
        self.set.scanner_count = number as usize;
        for t in &self.opts.tables {
            let product = self.name_id(&Some(t.product.clone()));
            let pls = LogSource::new().product(&t.product);
            let channel = self.slot(&pls, &t.channel_field);
            let event_id = self.slot(&pls, &t.event_id_field);
            let known = |names: &FastMap<String, u32>, n: &str| names.get(n).copied();
            let services = t
                .services
                .iter()
                .map(|(ch, svcs)| {
                    (
                        ch.clone(),
                        svcs.iter()
                            .filter_map(|s| known(&self.set.names, s))
                            .collect(),
                    )
                })
                .collect();
            let categories = t
                .categories
                .iter()
                .map(|(ch, cats)| {
                    (
                        ch.clone(),
                        cats.iter()
                            .filter_map(|(id, c)| known(&self.set.names, c).map(|c| (*id, c)))
                            .collect(),
                    )
                })
                .collect();
            self.set.classifiers.push(Classifier {
                product,
                channel,
                event_id,
                services,
                categories,
            });
        }
        self.set
    }
}

/// True when ASCII case folding is the whole of Unicode case folding for `b`: every
/// non-ASCII character is caseless (like the dashes `windash` adds), so the ASCII
/// case-insensitive automaton matches it exactly.
fn ascii_foldable(b: &[u8]) -> bool {
    if b.is_ascii() {
        return true;
    }
    std::str::from_utf8(b).is_ok_and(|s| {
        s.chars().all(|c| {
            c.is_ascii()
                || (c.to_lowercase().eq(std::iter::once(c))
                    && c.to_uppercase().eq(std::iter::once(c)))
        })
    })
}

fn fold(b: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_lowercase().into_bytes(),
        Err(_) => b.to_ascii_lowercase(),
    }
}

/// The filters covering rule `r` applied to its detection (pySigma: the rule condition
/// becomes `(rule) and (filter)`).
fn apply_filters(
    mut det: Detection,
    r: &RuleDoc,
    filters: &[FilterDoc],
    opts: &CompileOptions,
) -> Detection {
    for f in filters {
        let applies = f.logsource.covers(&r.info.logsource)
            && (f.rules.is_empty()
                || f.rules
                    .iter()
                    .any(|x| r.info.id.as_ref() == Some(x) || r.info.name.as_ref() == Some(x)));
        if !applies {
            continue;
        }
        let mut w = Vec::new();
        if let Ok(fd) = compile::compile_detection(&f.detection, &opts.placeholders, &mut w) {
            let offset = u32::try_from(det.atoms.len()).unwrap_or(u32::MAX);
            det.atoms.extend(fd.atoms);
            let fexpr = fd.expr.map_atoms(&mut |a| a + offset);
            det.expr = Expr::And(vec![det.expr, fexpr]);
        }
    }
    det
}

/// The threads rule compilation uses: one per core.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// How many items a compile thread takes at a time.
const PAR_CHUNK: usize = 16;

/// `items.iter().map(f)` over at most `threads` scoped threads, results in item order.
/// Threads take chunks of items as they go, so uneven items (a rule with big regexes) do not
/// leave a core idle. A panic in `f` is resumed on the caller's thread.
fn par_map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = threads.min(items.len().div_ceil(PAR_CHUNK));
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let start = next.fetch_add(PAR_CHUNK, std::sync::atomic::Ordering::Relaxed);
            if start >= items.len() {
                break;
            }
            let end = (start + PAR_CHUNK).min(items.len());
            done.push((start, items[start..end].iter().map(&f).collect::<Vec<R>>()));
        }
        done
    };
    let mut chunks: Vec<(usize, Vec<R>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let mut all = work();
        for h in handles {
            match h.join() {
                Ok(done) => all.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    });
    chunks.sort_unstable_by_key(|(start, _)| *start);
    chunks.into_iter().flat_map(|(_, r)| r).collect()
}

fn with_rule(mut p: Problem, title: Option<String>) -> Problem {
    p.rule = title;
    p
}

fn issue_problem(i: Issue, path: &str, title: Option<String>) -> Problem {
    with_rule(Problem::new(i.code, path, i.pos, i.message), title)
}

impl RuleSet {
    /// Compiles rule files (`(path, text)`) with the default options. Problems are
    /// returned, never raised: a rule that cannot compile is reported and skipped.
    pub fn compile<P: AsRef<str>, T: AsRef<str>>(sources: &[(P, T)]) -> (RuleSet, Vec<Problem>) {
        RuleSet::compile_with(sources, &CompileOptions::default())
    }

    /// Compiles rule files with explicit options.
    pub fn compile_with<P: AsRef<str>, T: AsRef<str>>(
        sources: &[(P, T)],
        opts: &CompileOptions,
    ) -> (RuleSet, Vec<Problem>) {
        RuleSet::compile_threads(sources, opts, threads())
    }

    /// [`RuleSet::compile_with`] over at most `threads` threads: files are parsed and rules
    /// compiled in parallel, then registered in file order, so the rule set and the problems
    /// are the same whatever the number of threads.
    pub(crate) fn compile_threads<P: AsRef<str>, T: AsRef<str>>(
        sources: &[(P, T)],
        opts: &CompileOptions,
        threads: usize,
    ) -> (RuleSet, Vec<Problem>) {
        let mut problems = Vec::new();
        let mut rules: Vec<RuleDoc> = Vec::new();
        let mut filters: Vec<(String, FilterDoc)> = Vec::new();
        let mut correlations: Vec<(String, rule::CorrelationDoc)> = Vec::new();
        let sources: Vec<(&str, &str)> = sources
            .iter()
            .map(|(p, t)| (p.as_ref(), t.as_ref()))
            .collect();
        let parsed = par_map(&sources, threads, |&(path, text)| {
            yaml::parse_documents(text)
                .map(|docs| {
                    docs.iter()
                        .map(|doc| rule::read_doc(doc, path))
                        .collect::<Vec<_>>()
                })
                .map_err(|e| Problem::new(Code::Yaml, path, e.pos, e.message))
        });
        for (&(path, _), docs) in sources.iter().zip(parsed) {
            let docs = match docs {
                Ok(d) => d,
                Err(p) => {
                    problems.push(p);
                    continue;
                }
            };
            for doc in docs {
                match doc {
                    Ok(Doc::Rule(r)) => rules.push(r),
                    Ok(Doc::Filter(f)) => filters.push((path.to_owned(), f)),
                    Ok(Doc::Correlation(c)) => correlations.push((path.to_owned(), c)),
                    Err((issue, title)) => problems.push(issue_problem(issue, path, title)),
                }
            }
        }

        // Filters are checked once on their own, then applied to each rule they cover.
        let mut good_filters = Vec::new();
        for (path, f) in filters {
            let mut warnings = Vec::new();
            match compile::compile_detection(&f.detection, &opts.placeholders, &mut warnings) {
                Ok(_) => {
                    let unknown: Vec<&String> = f
                        .rules
                        .iter()
                        .filter(|r| {
                            !rules.iter().any(|d| {
                                d.info.id.as_ref() == Some(r) || d.info.name.as_ref() == Some(r)
                            })
                        })
                        .collect();
                    if let Some(u) = unknown.first() {
                        problems.push(with_rule(
                            Problem::new(
                                Code::UnknownRuleReference,
                                &path,
                                f.pos,
                                format!("the filter refers to rule '{u}', which is not loaded"),
                            ),
                            Some(f.title.clone()),
                        ));
                    } else {
                        problems.extend(
                            warnings
                                .into_iter()
                                .map(|w| issue_problem(w, &path, Some(f.title.clone()))),
                        );
                        good_filters.push(f);
                    }
                }
                Err(i) => problems.push(issue_problem(i, &path, Some(f.title.clone()))),
            }
        }

        let mut b = Builder {
            opts,
            threads,
            set: RuleSet {
                rules: Vec::new(),
                atoms: Vec::new(),
                slots: Vec::new(),
                index: PathIndex::default(),
                regexes: Vec::new(),
                groups: Vec::new(),
                group_index: FastMap::default(),
                names: FastMap::default(),
                triggers: Csr::default(),
                path_scanners: Csr::default(),
                scanner_count: 0,
                classifiers: Vec::new(),
                correlations: Vec::new(),
                plans: Vec::new(),
                rule_consumers: Vec::new(),
            },
            slot_index: FastMap::default(),
            group_slots: Vec::new(),
            group_builders: Vec::new(),
            needle_len: Vec::new(),
            triggers: Vec::new(),
        };
        // Detections compile in parallel (regexes are most of the work); a rule skipped
        // below as a duplicate is compiled for nothing, which is rare.
        let good_filters = &good_filters;
        let compiled_rules = par_map(&rules, threads, |r| {
            let mut warnings = Vec::new();
            let det = compile::compile_detection(&r.detection, &opts.placeholders, &mut warnings)
                .map(|det| apply_filters(det, r, good_filters, opts));
            (warnings, det)
        });
        let mut seen_ids: HashMap<String, String> = HashMap::new();
        for (r, (warnings, det)) in rules.iter().zip(compiled_rules) {
            let path = r.info.path.clone();
            let title = Some(r.info.title.clone());
            if let Some(id) = &r.info.id
                && let Some(first) = seen_ids.get(id)
            {
                problems.push(with_rule(
                    Problem::new(
                        Code::DuplicateId,
                        &path,
                        Pos {
                            line: r.info.line,
                            column: 1,
                        },
                        format!("rule id {id} is also used by {first}; this rule is skipped"),
                    ),
                    title,
                ));
                continue;
            }
            problems.extend(
                warnings
                    .into_iter()
                    .map(|w| issue_problem(w, &path, title.clone())),
            );
            let det = match det {
                Ok(d) => d,
                Err(i) => {
                    problems.push(issue_problem(i, &path, title));
                    continue;
                }
            };
            if let Some(id) = &r.info.id {
                seen_ids.insert(id.clone(), path.clone());
            }
            b.add_rule(r.info.clone(), det);
        }

        // Correlations: references, aliases and chains are checked, then planned.
        let compiled_infos: Vec<&RuleInfo> = b.set.rules.iter().map(|r| &r.info).collect();
        let parsed_infos: Vec<&RuleInfo> = rules.iter().map(|r| &r.info).collect();
        let compiled = correlation::compile(
            correlations,
            &compiled_infos,
            &parsed_infos,
            &opts.mapping,
            &mut problems,
        );
        for (rule, standalone) in b.set.rules.iter_mut().zip(&compiled.rule_standalone) {
            rule.standalone = *standalone;
        }
        b.set.correlations = compiled.correlations;
        b.set.plans = compiled.plans;
        b.set.rule_consumers = compiled.rule_consumers;

        let set = b.finish(&mut problems);
        (set, problems)
    }

    /// Counts of what was compiled.
    pub fn stats(&self) -> Stats {
        Stats {
            rules: self.rules.len(),
            groups: self.groups.len(),
            atoms: self.atoms.len(),
            needles: self.triggers.len(),
            regexes: self.regexes.len(),
            untriggered_rules: self.groups.iter().map(|g| g.always.len()).sum(),
            correlations: self.correlations.len(),
        }
    }

    /// How many scanners have their automata built, of how many that have patterns.
    #[cfg(test)]
    pub(crate) fn automata_built(&self) -> (usize, usize) {
        let scanners = self.groups.iter().flat_map(|g| &g.scanners);
        let with = scanners.filter(|sc| !sc.patterns.is_empty());
        let (mut built, mut all) = (0, 0);
        for sc in with {
            all += 1;
            built += usize::from(sc.automata.get().is_some());
        }
        (built, all)
    }

    /// The compiled rules' metadata.
    pub fn rules(&self) -> impl Iterator<Item = &RuleInfo> {
        self.rules.iter().map(|r| &r.info)
    }

    /// The correlation rules that compiled (evaluated by a [`crate::CorrelationEngine`]).
    pub fn correlations(&self) -> &[Correlation] {
        &self.correlations
    }

    /// Evaluation plans of [`RuleSet::correlations`], index for index.
    pub(crate) fn plans(&self) -> &[Plan] {
        &self.plans
    }

    /// The correlation inputs fed by a match's rule; `None` when the match comes from
    /// another rule set.
    pub(crate) fn consumers_of(&self, m: &Match<'_>) -> Option<&[(u32, u16)]> {
        let rule = self.rules.get(m.index as usize)?;
        if !std::ptr::eq(&rule.info, m.rule) {
            return None;
        }
        Some(
            self.rule_consumers
                .get(m.index as usize)
                .map_or(&[], Vec::as_slice),
        )
    }

    /// A compiled rule's metadata by index.
    pub(crate) fn rule_info(&self, index: u32) -> Option<&RuleInfo> {
        self.rules.get(index as usize).map(|r| &r.info)
    }

    /// The log sources rules were grouped by, with their rule counts.
    pub fn log_sources(&self) -> impl Iterator<Item = (&LogSource, usize)> {
        self.groups.iter().map(|g| (&g.logsource, g.rules))
    }

    /// The rules matching `event`, whose log source is `ls` (parts the caller does not know
    /// may be left out; Windows events are then classified by channel and event id).
    pub fn matches<'r, E: Event + ?Sized>(
        &'r self,
        event: &E,
        ls: &LogSource,
    ) -> impl Iterator<Item = Match<'r>> + use<'r, E> {
        let mut out = Vec::new();
        SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => self.matches_into(event, ls, &mut s, &mut out),
            // Re-entered from inside an Event implementation: use a fresh scratch.
            Err(_) => self.matches_into(event, ls, &mut Scratch::new(), &mut out),
        });
        out.into_iter()
    }

    /// Evaluates a batch of events of one log source; returns `(event index, match)` pairs.
    pub fn matches_batch<'r, E: Event>(
        &'r self,
        events: &[E],
        ls: &LogSource,
    ) -> Vec<(usize, Match<'r>)> {
        let mut scratch = Scratch::new();
        let mut out = Vec::new();
        let mut buf = Vec::new();
        for (i, e) in events.iter().enumerate() {
            self.matches_into(e, ls, &mut scratch, &mut buf);
            out.extend(buf.drain(..).map(|m| (i, m)));
        }
        out
    }

    /// Evaluates every event of `events` (all of log source `ls`) and counts the matches:
    /// the loop throughput benchmarks and tools run, with the caller's scratch.
    pub fn count_matches<E: Event>(
        &self,
        events: &[E],
        ls: &LogSource,
        scratch: &mut Scratch,
    ) -> usize {
        let mut out = Vec::new();
        let mut n = 0;
        for e in events {
            out.clear();
            self.matches_into(e, ls, scratch, &mut out);
            n += out.len();
        }
        n
    }

    /// The allocation-free core: appends the matches of `event` to `out`.
    pub fn matches_into<'r, E: Event + ?Sized>(
        &'r self,
        event: &E,
        ls: &LogSource,
        s: &mut Scratch,
        out: &mut Vec<Match<'r>>,
    ) {
        s.begin(self);
        let mut f = Fields::lend(event, self, s);
        self.route(&mut f, ls, s);
        let epoch = s.epoch;
        // Whether `s.joined` holds this event's strings, and whether one is non-ASCII.
        let mut joined_ready = false;
        let mut joined_nonascii = false;
        // A JSON event's field scanners are found from the paths it has (below): an event
        // has a few dozen of the hundreds of fields its groups' rules name.
        let by_path = f.leaves.is_some();
        for gi in 0..s.groups.len() {
            let g = &self.groups[s.groups[gi] as usize];
            s.group_stamp[s.groups[gi] as usize] = epoch;
            for sc in &g.scanners {
                match sc.slot {
                    Some(_) if by_path => {}
                    Some(slot) => self.scan_field(sc, slot, &mut f, s),
                    None if sc.joined => {
                        let (mut stamp, joined, _) = s.stamper(self);
                        if !joined_ready {
                            joined.clear();
                            event.any_string(&mut |t| {
                                joined_nonascii |= !t.is_ascii();
                                joined.extend_from_slice(t);
                                joined.push(SEP);
                                false
                            });
                            joined.make_ascii_lowercase();
                            joined_ready = true;
                        }
                        if let Some(n) = sc.nonascii
                            && joined_nonascii
                        {
                            stamp.stamp(n);
                        }
                        if let Some(au) = sc.automata()
                            && au.may_match(joined)
                        {
                            for m in au.ac.find_overlapping_iter(joined.as_slice()) {
                                for &(_, n) in sc.pats.get(m.pattern().as_u32()) {
                                    stamp.stamp(n);
                                }
                            }
                        }
                    }
                    None => {
                        let (mut stamp, _, lower) = s.stamper(self);
                        event.any_string(&mut |t| stamp.text(sc, t, lower));
                    }
                }
            }
            for &r in &g.always {
                if s.rule_stamp[r as usize] != epoch {
                    s.rule_stamp[r as usize] = epoch;
                    s.candidates.push(r);
                }
            }
        }
        if by_path {
            let present = f.leaves.as_ref().map_or(0, Leaves::found);
            for k in 0..present {
                let Some(path) = f.leaves.as_ref().and_then(|l| l.found_id(k)) else {
                    break;
                };
                for &(g, si, number) in self.path_scanners.get(path) {
                    if s.group_stamp[g as usize] != epoch
                        || s.scanner_stamp[number as usize] == epoch
                    {
                        continue;
                    }
                    s.scanner_stamp[number as usize] = epoch;
                    let sc = &self.groups[g as usize].scanners[si as usize];
                    if let Some(slot) = sc.slot {
                        self.scan_field(sc, slot, &mut f, s);
                    }
                }
            }
        }
        // Report in rule order, whatever order the needles were found in.
        s.candidates.sort_unstable();
        for &r in &s.candidates {
            let rule = &self.rules[r as usize];
            if self.eval(&rule.test, &mut f, s) {
                let mut fields: Vec<&str> = Vec::new();
                for &(slot, a) in &rule.report {
                    let name = self.slots[slot as usize].name.as_str();
                    // A slot's name is its own allocation: the same name within a rule is
                    // the same slot, compared by address.
                    if !fields
                        .iter()
                        .any(|n| std::ptr::eq(n.as_ptr(), name.as_ptr()))
                        && self.eval_atom(a, &mut f, s)
                    {
                        fields.push(name);
                    }
                }
                out.push(Match {
                    rule: &rule.info,
                    fields,
                    standalone: rule.standalone,
                    index: r,
                });
            }
        }
        f.give_back(s);
    }

    /// Scans the values of field `slot` with its scanner `sc`, stamping the needles found.
    fn scan_field<E: Event + ?Sized>(
        &self,
        sc: &Scanner,
        slot: u32,
        f: &mut Fields<'_, E>,
        s: &mut Scratch,
    ) {
        let Some(v) = self.field(f, slot) else {
            return;
        };
        let (mut stamp, _, lower) = s.stamper(self);
        v.any_text(&mut |t| stamp.text(sc, t, lower));
    }

    fn name(&self, n: &Option<String>) -> u32 {
        match n {
            None => 0,
            Some(n) => self.names.get(n.as_str()).copied().unwrap_or(u32::MAX),
        }
    }

    fn route<E: Event + ?Sized>(&self, f: &mut Fields<'_, E>, ls: &LogSource, s: &mut Scratch) {
        let product = self.name(&ls.product);
        if ls.category.is_some() {
            s.cats.push(self.name(&ls.category));
        }
        if ls.service.is_some() {
            s.svcs.push(self.name(&ls.service));
        }
        if (ls.category.is_none() || ls.service.is_none())
            && let Some(c) = self
                .classifiers
                .iter()
                .find(|c| c.product == product && product != 0)
        {
            self.classify(c, f, ls, s);
        }
        let products: &[u32] = if product == 0 { &[0] } else { &[product, 0] };
        for &p in products {
            for ci in 0..=s.cats.len() {
                let c = if ci == 0 { 0 } else { s.cats[ci - 1] };
                for si in 0..=s.svcs.len() {
                    let sv = if si == 0 { 0 } else { s.svcs[si - 1] };
                    if let Some(&g) = self.group_index.get(&(p, c, sv))
                        && !s.groups.contains(&g)
                    {
                        s.groups.push(g);
                    }
                }
            }
        }
    }

    fn classify<E: Event + ?Sized>(
        &self,
        c: &Classifier,
        f: &mut Fields<'_, E>,
        ls: &LogSource,
        s: &mut Scratch,
    ) {
        let Some(Value::Str(channel)) = self.field(f, c.channel) else {
            return;
        };
        if ls.service.is_none()
            && let Some(svcs) = c.services.get(channel)
        {
            s.svcs.extend_from_slice(svcs);
        }
        if ls.category.is_none()
            && let Some(cats) = c.categories.get(channel)
        {
            let eid = self
                .field(f, c.event_id)
                .and_then(|v| v.as_f64())
                .map(|f| f as i64);
            for &(id, cat) in cats {
                if (id.is_none() || id == eid) && !s.cats.contains(&cat) {
                    s.cats.push(cat);
                }
            }
        }
    }

    /// A slot's value: the first candidate path present with a non-null value, else null when
    /// one is present, else `None`.
    fn value<'e, E: Event + ?Sized>(&self, f: &Fields<'e, E>, slot: u32) -> Option<Value<'e>> {
        let mut present = false;
        let slot = &self.slots[slot as usize];
        if let Some(leaves) = &f.leaves {
            for &id in &slot.ids {
                match leaves.get(id).map(Value::from_json) {
                    Some(Value::Null) => present = true,
                    Some(v) => return Some(v),
                    None => {}
                }
            }
            return present.then_some(Value::Null);
        }
        let event = f.event;
        for p in &slot.paths {
            match event.field(p) {
                Some(Value::Null) => present = true,
                Some(v) => return Some(v),
                None => {}
            }
        }
        present.then_some(Value::Null)
    }

    /// A slot's value through the event's cache.
    fn field<'e, E: Event + ?Sized>(&self, f: &mut Fields<'e, E>, slot: u32) -> Option<Value<'e>> {
        let i = slot as usize;
        if f.seen[i] == f.epoch {
            return f.vals[f.pos[i] as usize];
        }
        let v = self.value(f, slot);
        f.seen[i] = f.epoch;
        f.pos[i] = u32::try_from(f.vals.len()).unwrap_or(u32::MAX);
        f.vals.push(v);
        v
    }

    fn eval<E: Event + ?Sized>(&self, e: &Expr, f: &mut Fields<'_, E>, s: &Scratch) -> bool {
        match e {
            Expr::Atom(a) => match self.atoms[*a as usize].kind {
                AtomKind::Lit { needle } => s.needle_stamp[needle as usize] == s.epoch,
                _ => self.eval_atom(*a, f, s),
            },
            Expr::Not(x) => !self.eval(x, f, s),
            Expr::And(v) => v.iter().all(|x| self.eval(x, f, s)),
            Expr::Or(v) => v.iter().any(|x| self.eval(x, f, s)),
            Expr::Const(b) => *b,
        }
    }

    fn any_text<E: Event + ?Sized>(
        &self,
        slot: Option<u32>,
        fields: &mut Fields<'_, E>,
        f: &mut dyn FnMut(&[u8]) -> bool,
    ) -> bool {
        match slot {
            Some(slot) => self.field(fields, slot).is_some_and(|v| v.any_text(f)),
            None => fields.event.any_string(f),
        }
    }

    fn eval_atom<E: Event + ?Sized>(&self, a: u32, event: &mut Fields<'_, E>, s: &Scratch) -> bool {
        let atom = &self.atoms[a as usize];
        match &atom.kind {
            AtomKind::Lit { needle } => s.needle_stamp[*needle as usize] == s.epoch,
            AtomKind::Direct {
                op,
                bytes,
                fold,
                need,
            } => {
                if need.is_some_and(|n| s.needle_stamp[n as usize] != s.epoch) {
                    return false;
                }
                self.any_text(atom.slot, event, &mut |t| {
                    direct_match(*op, bytes, t, *fold)
                })
            }
            AtomKind::Glob { regex, need } => {
                if need.is_some_and(|n| s.needle_stamp[n as usize] != s.epoch) {
                    return false;
                }
                let re = &self.regexes[*regex as usize];
                self.any_text(atom.slot, event, &mut |t| re.is_match(t))
            }
            AtomKind::Regex(r) => {
                let re = &self.regexes[*r as usize];
                self.any_text(atom.slot, event, &mut |t| re.is_match(t))
            }
            AtomKind::AnyValue => match atom.slot {
                Some(slot) => !matches!(self.field(event, slot), None | Some(Value::Null)),
                None => true,
            },
            AtomKind::Cidr(nets) => self.any_text(atom.slot, event, &mut |t| {
                std::str::from_utf8(t)
                    .ok()
                    .and_then(|t| t.trim().parse::<std::net::IpAddr>().ok())
                    .is_some_and(|ip| nets.iter().any(|n| n.contains(&ip)))
            }),
            AtomKind::Cmp { op, value } => atom
                .slot
                .and_then(|slot| self.field(event, slot))
                .is_some_and(|v| match v {
                    Value::List(items) => items.iter().any(|i| {
                        Value::from_json(i)
                            .as_f64()
                            .is_some_and(|x| op.test(x, *value))
                    }),
                    v => v.as_f64().is_some_and(|x| op.test(x, *value)),
                }),
            AtomKind::Time { part, op, value } => self.any_text(atom.slot, event, &mut |t| {
                time_part(t, *part).is_some_and(|x| op.test(x as f64, *value))
            }),
            AtomKind::Exists(want) => {
                atom.slot
                    .is_some_and(|slot| self.field(event, slot).is_some())
                    == *want
            }
            AtomKind::Null => match atom.slot.and_then(|slot| self.field(event, slot)) {
                None | Some(Value::Null) => true,
                Some(Value::Str(s)) => s.is_empty(),
                Some(Value::List(l)) => l.is_empty(),
                Some(_) => false,
            },
            AtomKind::FieldRef { other, op, cased } => {
                let Some(slot) = atom.slot else { return false };
                let Some(theirs) = self.field(event, *other) else {
                    return false;
                };
                let mine = self.field(event, slot);
                let mut found = false;
                theirs.any_text(&mut |want| {
                    let want = if *cased { want.to_vec() } else { fold(want) };
                    let mode = Fold::of(&want, *cased);
                    found = mine.is_some_and(|mine| {
                        mine.any_text(&mut |t| direct_match(*op, &want, t, mode))
                    });
                    found
                });
                found
            }
        }
    }
}

/// Literal matching outside the automata: case-sensitive, ASCII case-insensitive, or with
/// Unicode lowercase folding (`needle` is then already folded).
fn direct_match(op: StrOp, needle: &[u8], hay: &[u8], mode: Fold) -> bool {
    match mode {
        Fold::Cased => {
            if op == StrOp::Contains {
                return memchr::memmem::find(hay, needle).is_some();
            }
            str_op(op, needle, hay, |a, b| a == b)
        }
        Fold::Ascii => {
            if op == StrOp::Contains {
                return contains_ascii_ci(hay, needle);
            }
            str_op(op, needle, hay, |a, b| a.eq_ignore_ascii_case(b))
        }
        Fold::Unicode => {
            // The needle has a non-ASCII character and lowercasing keeps ASCII text ASCII,
            // so an ASCII value cannot match.
            if hay.is_ascii() {
                return false;
            }
            let folded = fold(hay);
            if op == StrOp::Contains {
                return memchr::memmem::find(&folded, needle).is_some();
            }
            str_op(op, needle, &folded, |a, b| a == b)
        }
    }
}

/// ASCII case-insensitive substring search: candidate positions from `memchr2` on the first
/// byte's two cases, then a folded comparison. `needle` is already lowercase.
fn contains_ascii_ci(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    if hay.len() < needle.len() {
        return false;
    }
    let last_start = hay.len() - needle.len();
    memchr::memchr2_iter(
        first.to_ascii_lowercase(),
        first.to_ascii_uppercase(),
        &hay[..=last_start],
    )
    .any(|i| hay[i + 1..i + needle.len()].eq_ignore_ascii_case(rest))
}

fn str_op(op: StrOp, needle: &[u8], hay: &[u8], eq: impl Fn(&[u8], &[u8]) -> bool) -> bool {
    match op {
        StrOp::Eq => hay.len() == needle.len() && eq(hay, needle),
        StrOp::Prefix => hay.len() >= needle.len() && eq(&hay[..needle.len()], needle),
        StrOp::Suffix => hay.len() >= needle.len() && eq(&hay[hay.len() - needle.len()..], needle),
        StrOp::Contains => {
            needle.is_empty()
                || (hay.len() >= needle.len() && hay.windows(needle.len()).any(|w| eq(w, needle)))
        }
    }
}

/// A part of a timestamp written as RFC 3339 or as a civil date-time (`2024-01-02 03:04:05`).
fn time_part(t: &[u8], part: TimePart) -> Option<i64> {
    let s = std::str::from_utf8(t).ok()?.trim();
    let dt: jiff::civil::DateTime = match s.parse::<jiff::Timestamp>() {
        Ok(ts) => ts.to_zoned(jiff::tz::TimeZone::UTC).datetime(),
        Err(_) => s.parse::<jiff::civil::DateTime>().ok()?,
    };
    Some(match part {
        TimePart::Minute => i64::from(dt.minute()),
        TimePart::Hour => i64::from(dt.hour()),
        TimePart::Day => i64::from(dt.day()),
        TimePart::Week => i64::from(dt.date().iso_week_date().week()),
        TimePart::Month => i64::from(dt.month()),
        TimePart::Year => i64::from(dt.year()),
    })
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
