//! Live threat-intelligence matching (issue 5, item 4), beside Sigma detection.
//!
//! A refresh task loads the active, non-revoked indicators of enabled sources from the store
//! and builds a `vigil_intel::IndicatorSet`, publishing it through a `watch` channel: the
//! processor takes the current [`IntelMatcher`] per batch, so a new set replaces the old one
//! between batches, atomically. A failed load keeps the old set (logged, counted in
//! `vigil_pipeline_intel_refresh_errors_total`).
//!
//! The load is lean (issue 5, item 7: 10 M indicators in under a minute and 2 GiB): it reads
//! only what matching needs through `Store::indicators_for_matching` (keyset pages, no STIX
//! objects), streams the pages into the set's build on a blocking thread (the indicators are
//! never all held twice), and shares one context per distinct source, marking, tags, links and
//! category instead of one per indicator. Per stored indicator only its id is kept (16 bytes);
//! what an alert names besides (STIX id, name) is fetched by id on a hit and cached.
//!
//! On the detection thread every event's observables (ECS addresses, domains, URLs, hashes,
//! e-mail addresses, TLS fingerprints) are looked up; patterns the line-rate matcher cannot
//! hold are evaluated over the event's single observation. Nothing at all is done while the
//! set is empty.
//!
//! After the batch's events are stored, hits become alerts (one per matched indicator value
//! and organization per batch, linked to all its events) and sightings (one per stored
//! indicator and event, linked to the alert).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{mpsc, watch};
use vigil_intel::indicator::{
    Indicator, IndicatorContext, IndicatorKind, IndicatorValue, SourceRef, Tlp,
};
use vigil_intel::pattern::Compiled;
use vigil_intel::{IndicatorSet, Observation, PatternIndicator, observables_from_fields};
use vigil_model::{AlertId, AlertSource, EventId, NewAlert, NewEvent, OrgId, Severity};
use vigil_store::intel::{MAX_MATCH_PAGE, MatchIndicator};
use vigil_store::{IndicatorId, IndicatorQuery, IntelSourceId, NewSighting, Store, StoreError};

use crate::detect::EventMeta;

/// Hits kept per event, at most (overlapping networks could otherwise multiply them).
pub const MAX_HITS_PER_EVENT: usize = 32;
/// General (not line-rate) patterns loaded, at most: each is evaluated on every event.
pub const MAX_PATTERNS: usize = 10_000;
/// Event ids per alert (the model's limit).
const MAX_EVENTS_PER_ALERT: usize = 10_000;
/// Stored indicators whose STIX id and name one outcome fetches, at most (hits are rare; a
/// flood of distinct ones gets alerts without those two details rather than stalling).
const MAX_FETCHES_PER_OUTCOME: usize = 256;
/// No stored indicator (an atomic indicator of the set built from something else).
const NONE: u32 = u32::MAX;

/// Errors loading the indicators.
#[derive(Debug, thiserror::Error)]
pub enum IntelError {
    #[error("loading indicators: {0}")]
    Store(#[from] StoreError),
    #[error("building the indicator set: {0}")]
    Task(String),
}

/// What an alert names of a stored indicator besides what the set's context keeps.
#[derive(Debug, Clone)]
struct StoredMeta {
    stix_id: Box<str>,
    name: Option<Box<str>>,
}

/// What a hit matched: an atomic indicator of the set or a general pattern (indexes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Atomic(u32),
    Pattern(u32),
}

/// One hit of one event.
#[derive(Debug, Clone, PartialEq)]
pub struct IntelHit {
    pub target: Target,
    /// The ECS field the observed value came from (`pattern` for a general pattern).
    pub field: &'static str,
    /// The observed value, normalized (the pattern text for a general pattern).
    pub value: String,
}

/// Where an outcome fetches STIX ids and names of hit indicators from.
struct Fetch {
    store: Arc<dyn Store>,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for Fetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fetch")
    }
}

/// An indicator set with what maps its hits back to the stored indicators.
#[derive(Debug, Default)]
pub struct IntelMatcher {
    set: IndicatorSet,
    /// The stored indicators loaded, by load index.
    ids: Vec<IndicatorId>,
    /// Per atomic indicator of the set: the load index of the first stored indicator with
    /// that value ([`NONE`] for none).
    first: Vec<u32>,
    /// (atomic indicator, load index) of further stored indicators with the same value
    /// (reported by several sources or twice), sorted.
    more: Vec<(u32, u32)>,
    /// The stored id of each general pattern (same index as `set.patterns()`).
    pattern_ids: Vec<IndicatorId>,
    /// STIX ids and names fetched so far (`None`: the indicator is gone from the store).
    metas: Mutex<HashMap<IndicatorId, Option<StoredMeta>>>,
    fetch: Option<Fetch>,
}

/// The key a context is shared under: everything it holds.
#[derive(PartialEq, Eq, Hash)]
struct ContextKey {
    source: IntelSourceId,
    confidence: u8,
    tlp: Option<String>,
    labels: Vec<String>,
    kill_chain: Vec<String>,
    attack_ids: Vec<String>,
    category: Option<&'static str>,
}

/// Stored indicators turned into what the set is built from.
struct Collector {
    sources: HashMap<IntelSourceId, (String, bool)>,
    contexts: HashMap<ContextKey, Arc<IndicatorContext>>,
    /// Category of indicators without name and description, by their tags and phases.
    categories: HashMap<(Vec<String>, Vec<String>), Option<&'static str>>,
    ids: Vec<IndicatorId>,
    patterns: Vec<PatternIndicator>,
    pattern_ids: Vec<IndicatorId>,
    report: LoadReport,
}

impl Collector {
    fn new(sources: HashMap<IntelSourceId, (String, bool)>) -> Self {
        Self {
            sources,
            contexts: HashMap::new(),
            categories: HashMap::new(),
            ids: Vec::new(),
            patterns: Vec::new(),
            pattern_ids: Vec::new(),
            report: LoadReport::default(),
        }
    }

    /// Adds one stored indicator: its values as atomic indicators (into `out`, tagged with
    /// its load index), or its pattern when the line-rate matcher cannot hold it. Those of
    /// disabled sources are left out (counted).
    fn add(&mut self, si: MatchIndicator, out: &mut Vec<(Indicator, u32)>) {
        if let Some((_, false)) = self.sources.get(&si.source_id) {
            self.report.skipped_disabled += 1;
            return;
        }
        let mut values: Vec<IndicatorValue> = Vec::new();
        if si.values.is_empty() {
            if let Some(v) = si.value.as_deref() {
                match IndicatorKind::parse(&si.kind).map(|k| IndicatorValue::parse(k, v)) {
                    Some(Ok(v)) => values.push(v),
                    _ => self.report.bad_values += 1,
                }
            }
        } else {
            for (kind, text) in si.values.iter().filter_map(|kv| kv.split_once(':')) {
                match IndicatorKind::parse(kind).map(|k| IndicatorValue::parse(k, text)) {
                    Some(Ok(v)) => values.push(v),
                    _ => self.report.bad_values += 1,
                }
            }
        }
        let mut general = None;
        if values.is_empty()
            && let Some(text) = &si.pattern
        {
            match vigil_intel::pattern::parse(text) {
                Ok(p) => match p.compile() {
                    Compiled::Atomic(vs) => values.extend(vs.into_iter().flatten()),
                    Compiled::General(_) => general = Some(p),
                },
                Err(_) => self.report.bad_values += 1,
            }
        }
        if general.is_none() && values.is_empty() {
            return;
        }
        if general.is_some() && self.patterns.len() >= MAX_PATTERNS {
            self.report.patterns_dropped += 1;
            return;
        }
        self.report.stored += 1;
        let category = if si.name.is_none() && si.description.is_none() {
            let key = (si.labels, si.kill_chain);
            let c = match self.categories.get(&key) {
                Some(c) => *c,
                None => {
                    let c = vigil_intel::category::suggest(
                        key.0.iter().chain(&key.1).map(String::as_str),
                    );
                    self.categories.insert(key.clone(), c);
                    c
                }
            };
            (c, key)
        } else {
            let text = format!(
                "{} {}",
                si.name.as_deref().unwrap_or(""),
                si.description.as_deref().unwrap_or("")
            );
            let c = vigil_intel::category::suggest(
                si.labels
                    .iter()
                    .chain(&si.kill_chain)
                    .map(String::as_str)
                    .chain([text.as_str()]),
            );
            (c, (si.labels, si.kill_chain))
        };
        let (category, (labels, kill_chain)) = category;
        let key = ContextKey {
            source: si.source_id,
            confidence: si.confidence,
            tlp: si.tlp,
            labels,
            kill_chain,
            attack_ids: si.attack_ids,
            category,
        };
        let ctx = match self.contexts.get(&key) {
            Some(c) => c.clone(),
            None => {
                let source = match self.sources.get(&si.source_id) {
                    Some((name, _)) => name.clone(),
                    None => si.source_id.to_string(),
                };
                let c = Arc::new(IndicatorContext {
                    sources: vec![SourceRef {
                        source,
                        reference: None,
                        confidence: key.confidence,
                    }],
                    tlp: key.tlp.as_deref().and_then(Tlp::parse),
                    tags: key.labels.clone(),
                    kill_chain_phases: key.kill_chain.clone(),
                    techniques: key.attack_ids.clone(),
                    category: key.category.map(str::to_string),
                    ..IndicatorContext::default()
                });
                self.contexts.insert(key, c.clone());
                c
            }
        };
        if let Some(pattern) = general {
            self.patterns.push(PatternIndicator {
                id: si.id.to_string(),
                pattern_text: si.pattern.unwrap_or_default(),
                pattern,
                confidence: si.confidence,
                valid_from: si.valid_from,
                valid_until: si.valid_until,
                context: ctx,
            });
            self.pattern_ids.push(si.id);
            return;
        }
        let at = self.ids.len() as u32;
        self.ids.push(si.id);
        for value in values {
            out.push((
                Indicator {
                    value,
                    confidence: si.confidence.min(100),
                    valid_from: si.valid_from,
                    valid_until: si.valid_until,
                    context: ctx.clone(),
                },
                at,
            ));
        }
    }
}

/// A stored indicator as the lean read gives it.
fn lean(si: vigil_store::StoredIndicator) -> Option<MatchIndicator> {
    if si.is_revoked() {
        return None;
    }
    let s = si.spec;
    Some(MatchIndicator {
        id: si.id,
        source_id: s.source_id,
        kind: s.kind,
        value: s.value,
        values: s.values,
        pattern: s.pattern,
        name: s.name,
        description: s.description,
        confidence: s.confidence,
        tlp: s.tlp,
        valid_from: s.valid_from,
        valid_until: s.valid_until,
        labels: s.labels,
        kill_chain: s.kill_chain,
        attack_ids: s.attack_ids,
    })
}

/// Counts of one load, for the log.
#[derive(Debug, Default, Clone, Copy)]
pub struct LoadReport {
    pub stored: usize,
    pub atomic: usize,
    pub patterns: usize,
    /// Rows of disabled sources left out here: only the full-row read of
    /// [`IntelMatcher::load_where`] meets them (the lean read filters them in the store).
    pub skipped_disabled: usize,
    pub bad_values: usize,
    pub patterns_dropped: usize,
}

/// Where a load reads its pages from.
enum Read {
    /// Every matchable indicator, by [`Store::indicators_for_matching`].
    All,
    /// What a query selects (full rows; for small selections such as a retro-hunt's).
    Query(Box<IndicatorQuery>),
}

impl IntelMatcher {
    /// True when no event can match: the processor skips matching entirely.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Distinct indicator values and general patterns in the set.
    pub fn len(&self) -> usize {
        self.set.len() + self.set.patterns().len()
    }

    /// Loads the indicators that can match now (of enabled sources, neither revoked nor
    /// expired) with the lean read, building the set on a blocking thread as pages arrive.
    pub async fn load(store: &dyn Store) -> Result<(IntelMatcher, LoadReport), IntelError> {
        Self::load_from(store, Read::All).await
    }

    /// Like [`Self::load`], with what fetches STIX ids and names on a hit: alerts of the
    /// returned matcher name them (the live pipeline's refresh uses this).
    pub async fn load_shared(
        store: Arc<dyn Store>,
    ) -> Result<(IntelMatcher, LoadReport), IntelError> {
        let (mut m, r) = Self::load_from(store.as_ref(), Read::All).await?;
        m.fetch = Some(Fetch {
            store,
            runtime: tokio::runtime::Handle::current(),
        });
        Ok((m, r))
    }

    /// Like [`Self::load`], for the indicators `filter` selects (its source, kind, value or
    /// `added_after`; paging and order are set here), read as full rows.
    pub async fn load_where(
        store: &dyn Store,
        filter: IndicatorQuery,
    ) -> Result<(IntelMatcher, LoadReport), IntelError> {
        Self::load_from(store, Read::Query(Box::new(filter))).await
    }

    async fn load_from(
        store: &dyn Store,
        read: Read,
    ) -> Result<(IntelMatcher, LoadReport), IntelError> {
        let sources: HashMap<_, _> = store
            .list_intel_sources()
            .await?
            .into_iter()
            .map(|s| (s.id, (s.spec.name, s.spec.enabled)))
            .collect();
        // Pages go to the building thread through a short queue: at most a few pages of rows
        // are held besides the set under construction.
        let (tx, mut rx) = mpsc::channel::<Vec<MatchIndicator>>(2);
        let build = tokio::task::spawn_blocking(move || {
            let mut c = Collector::new(sources);
            let mut first: Vec<u32> = Vec::new();
            let mut more: Vec<(u32, u32)> = Vec::new();
            let mut values = 0usize;
            let mut cur: std::vec::IntoIter<(Indicator, u32)> = Vec::new().into_iter();
            let c_ref = &mut c;
            let stream = std::iter::from_fn(|| {
                loop {
                    if let Some(x) = cur.next() {
                        return Some(x);
                    }
                    let page = rx.blocking_recv()?;
                    let mut buf = Vec::with_capacity(page.len());
                    for si in page {
                        c_ref.add(si, &mut buf);
                    }
                    cur = buf.into_iter();
                }
            });
            let set = IndicatorSet::build_tracked(stream, Vec::new(), |at: u32, i: u32| {
                values += 1;
                let i_us = i as usize;
                if i_us >= first.len() {
                    first.resize(i_us + 1, NONE);
                }
                if first[i_us] == NONE {
                    first[i_us] = at;
                } else if first[i_us] != at {
                    more.push((i, at));
                }
            });
            (set, c, first, more, values)
        });
        let mut failed = None;
        match read {
            Read::All => {
                let now = Timestamp::now();
                let mut after = None;
                loop {
                    match store
                        .indicators_for_matching(after, now, MAX_MATCH_PAGE)
                        .await
                    {
                        Ok(page) => {
                            let last = page.last().map(|r| r.id);
                            let full = page.len() >= MAX_MATCH_PAGE;
                            if !page.is_empty() && tx.send(page).await.is_err() {
                                break;
                            }
                            match last {
                                Some(l) if full => after = Some(l),
                                _ => break,
                            }
                        }
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
            }
            Read::Query(filter) => {
                let mut cursor = None;
                loop {
                    let page = match store
                        .list_indicators(&IndicatorQuery {
                            include_revoked: false,
                            oldest_first: true,
                            limit: vigil_store::MAX_PAGE,
                            cursor: cursor.take(),
                            ..(*filter).clone()
                        })
                        .await
                    {
                        Ok(p) => p,
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    };
                    let rows: Vec<_> = page.items.into_iter().filter_map(lean).collect();
                    if !rows.is_empty() && tx.send(rows).await.is_err() {
                        break;
                    }
                    match page.next_cursor {
                        Some(next) => cursor = Some(next),
                        None => break,
                    }
                }
            }
        }
        drop(tx);
        let (mut set, c, first, mut more, values) =
            build.await.map_err(|e| IntelError::Task(e.to_string()))?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        let Collector {
            ids,
            patterns,
            pattern_ids,
            mut report,
            ..
        } = c;
        more.sort_unstable();
        more.dedup();
        report.atomic = values;
        report.patterns = patterns.len();
        set.set_patterns(patterns);
        Ok((
            IntelMatcher {
                set,
                ids,
                first,
                more,
                pattern_ids,
                metas: Mutex::new(HashMap::new()),
                fetch: None,
            },
            report,
        ))
    }

    /// The atomic indicators of the set (deduplicated values with their merged context).
    pub fn set(&self) -> &IndicatorSet {
        &self.set
    }

    /// The stored indicators behind a hit's target.
    pub fn indicator_ids(&self, t: Target) -> Vec<IndicatorId> {
        self.target(t).map(|(_, _, _, ids)| ids).unwrap_or_default()
    }

    /// The hits of one event (at most [`MAX_HITS_PER_EVENT`]), checked for validity at `now`.
    pub fn match_event(&self, event: &NewEvent, now: Timestamp) -> Vec<IntelHit> {
        let mut out = Vec::new();
        if self.set.is_empty() {
            return out;
        }
        if !self.set.atomic_is_empty() {
            let obs = observables_from_fields(&event.fields);
            if !obs.is_empty() {
                for h in self.set.match_event(&obs, now) {
                    if out.len() >= MAX_HITS_PER_EVENT {
                        return out;
                    }
                    let Some(o) = obs.get(h.observable) else {
                        continue;
                    };
                    out.push(IntelHit {
                        target: Target::Atomic(h.indicator_id),
                        field: o.field,
                        value: o.value.text(),
                    });
                }
            }
        }
        if !self.set.patterns().is_empty() {
            let o = Observation::from_fields(Some(event.timestamp), &event.fields);
            if !o.fields.is_empty() {
                let one = std::slice::from_ref(&o);
                for (i, p) in self.set.patterns().iter().enumerate() {
                    if out.len() >= MAX_HITS_PER_EVENT {
                        break;
                    }
                    if p.is_active(now) && p.pattern.matches(one) {
                        out.push(IntelHit {
                            target: Target::Pattern(i as u32),
                            field: "pattern",
                            value: clip(&p.pattern_text, 1000),
                        });
                    }
                }
            }
        }
        out
    }

    /// The stored indicators behind atomic indicator `i` of the set.
    fn stored_ids(&self, i: u32) -> Vec<IndicatorId> {
        let mut out = Vec::new();
        let id = |at: u32| self.ids.get(at as usize).copied();
        if let Some(first) = self.first.get(i as usize).and_then(|&at| id(at)) {
            out.push(first);
        }
        let from = self.more.partition_point(|&(j, _)| j < i);
        for &(_, at) in self.more[from..].iter().take_while(|&&(j, _)| j == i) {
            if let Some(x) = id(at) {
                out.push(x);
            }
        }
        out
    }

    /// Fetches the STIX ids and names of `ids` not fetched yet (hits are rare, so these are
    /// few), into the cache alerts read them from. Call before [`Self::outcome`] where the
    /// store is at hand; a matcher from [`Self::load_shared`] fetches by itself otherwise.
    pub async fn prefetch(&self, store: &dyn Store, ids: &[IndicatorId]) {
        let missing = self.missing_metas(ids);
        for id in missing {
            let meta = match store.get_indicator(id).await {
                Ok(found) => found.map(|si| StoredMeta {
                    stix_id: si.spec.stix_id.into(),
                    name: si.spec.name.map(Into::into),
                }),
                Err(e) => {
                    metrics::counter!("vigil_pipeline_intel_fetch_errors_total").increment(1);
                    tracing::warn!(error = %e, indicator = %id, "pipeline: fetching a hit indicator failed");
                    continue;
                }
            };
            if let Ok(mut m) = self.metas.lock() {
                m.insert(id, meta);
            }
        }
    }

    /// Those of `ids` whose STIX id and name are not cached, at most
    /// [`MAX_FETCHES_PER_OUTCOME`], without duplicates.
    fn missing_metas(&self, ids: &[IndicatorId]) -> Vec<IndicatorId> {
        let Ok(m) = self.metas.lock() else {
            return Vec::new();
        };
        let mut out: Vec<IndicatorId> = Vec::new();
        for id in ids {
            if !m.contains_key(id) && !out.contains(id) {
                out.push(*id);
                if out.len() >= MAX_FETCHES_PER_OUTCOME {
                    break;
                }
            }
        }
        out
    }

    /// Fetches what [`Self::prefetch`] would, from the store the matcher was loaded with, when
    /// the calling thread may block: a blocking thread, or a worker of a multi-threaded
    /// runtime (through `block_in_place`). Elsewhere nothing is fetched and alerts go without
    /// STIX ids and names.
    fn fetch_blocking(&self, ids: &[IndicatorId]) {
        let Some(f) = &self.fetch else {
            return;
        };
        if self.missing_metas(ids).is_empty() {
            return;
        }
        let run = || f.runtime.block_on(self.prefetch(f.store.as_ref(), ids));
        match tokio::runtime::Handle::try_current() {
            Err(_) => run(),
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(run)
            }
            Ok(_) => {
                tracing::debug!("pipeline: hit indicators not fetched on a current-thread runtime")
            }
        }
    }

    /// The context and the stored ids behind a target.
    fn target(&self, t: Target) -> Option<(Arc<IndicatorContext>, u8, String, Vec<IndicatorId>)> {
        match t {
            Target::Atomic(i) => {
                let ind = self.set.indicator(i)?;
                let ids = self.stored_ids(i);
                Some((
                    ind.context,
                    ind.confidence,
                    format!("{} {}", ind.value.kind(), ind.value.text()),
                    ids,
                ))
            }
            Target::Pattern(i) => {
                let p = self.set.patterns().get(i as usize)?;
                let id = *self.pattern_ids.get(i as usize)?;
                Some((
                    p.context.clone(),
                    p.confidence,
                    format!("pattern {}", clip(&p.pattern_text, 200)),
                    vec![id],
                ))
            }
        }
    }

    /// Alerts and sightings for a stored batch: each event's owner and time, its id and its
    /// hits. One alert per (target, organization); sightings reference their alert by index
    /// into the returned alerts.
    pub fn outcome(
        &self,
        events: &[(EventMeta, EventId, &[IntelHit])],
        default_severity: Severity,
    ) -> Outcome {
        let mut out = Outcome::default();
        let mut hit_ids: Vec<IndicatorId> = Vec::new();
        let mut targets: Vec<Target> = Vec::new();
        for (_, _, hits) in events {
            for h in *hits {
                if !targets.contains(&h.target) && targets.len() < MAX_FETCHES_PER_OUTCOME {
                    targets.push(h.target);
                    hit_ids.extend(self.indicator_ids(h.target));
                }
            }
        }
        self.fetch_blocking(&hit_ids);
        let metas = self.metas.lock().map(|m| m.clone()).unwrap_or_default();
        let mut alert_of: HashMap<(Target, OrgId), usize> = HashMap::new();
        // (stored indicator, event) → sighting index, to count repeated hits once.
        let mut sighting_of: HashMap<(IndicatorId, EventId), usize> = HashMap::new();
        for (event, event_id, hits) in events {
            for h in *hits {
                let Some((ctx, confidence, what, ids)) = self.target(h.target) else {
                    continue;
                };
                let k = (h.target, event.org_id);
                let ai = match alert_of.get(&k) {
                    Some(&i) => i,
                    None => {
                        let a = new_alert(
                            &metas,
                            &ctx,
                            confidence,
                            &what,
                            &ids,
                            event,
                            default_severity,
                        );
                        out.alerts.push(a);
                        out.hits_per_alert.push(Vec::new());
                        let i = out.alerts.len() - 1;
                        alert_of.insert(k, i);
                        i
                    }
                };
                if let Some(a) = out.alerts.get_mut(ai) {
                    if !a.event_ids.contains(event_id) && a.event_ids.len() < MAX_EVENTS_PER_ALERT {
                        a.event_ids.push(*event_id);
                    }
                    if event.timestamp < a.detected_at {
                        a.detected_at = event.timestamp;
                    }
                    if a.asset_id.is_some() && a.asset_id != event.asset_id {
                        a.asset_id = None;
                    }
                }
                if let Some(seen) = out.hits_per_alert.get_mut(ai) {
                    let pair = (h.field, h.value.clone());
                    if seen.len() < 20 && !seen.contains(&pair) {
                        seen.push(pair);
                    }
                }
                for id in ids {
                    match sighting_of.get(&(id, *event_id)) {
                        Some(&si) => {
                            if let Some((s, _)) = out.sightings.get_mut(si) {
                                s.count = s.count.saturating_add(1);
                            }
                        }
                        None => {
                            sighting_of.insert((id, *event_id), out.sightings.len());
                            out.sightings.push((
                                NewSighting {
                                    indicator_id: id,
                                    org_id: event.org_id,
                                    event_id: Some(*event_id),
                                    alert_id: None,
                                    seen_at: event.timestamp,
                                    count: 1,
                                },
                                ai,
                            ));
                        }
                    }
                }
            }
        }
        for (a, seen) in out.alerts.iter_mut().zip(&out.hits_per_alert) {
            if let Some(d) = a.details.as_object_mut() {
                d.insert(
                    "observed".into(),
                    seen.iter()
                        .map(|(f, v)| serde_json::json!({ "field": f, "value": v }))
                        .collect(),
                );
                d.insert("events".into(), a.event_ids.len().into());
            }
        }
        out
    }
}

/// The alert of a target's first hit of an organization in a batch.
#[allow(clippy::too_many_arguments)]
fn new_alert(
    metas: &HashMap<IndicatorId, Option<StoredMeta>>,
    ctx: &IndicatorContext,
    confidence: u8,
    what: &str,
    ids: &[IndicatorId],
    event: &EventMeta,
    default_severity: Severity,
) -> NewAlert {
    let metas: Vec<&StoredMeta> = ids.iter().filter_map(|i| metas.get(i)?.as_ref()).collect();
    let sources: Vec<&str> = ctx.sources.iter().map(|s| s.source.as_str()).collect();
    let name = metas.iter().find_map(|m| m.name.as_deref());
    let mut title = format!("Threat intelligence match: {what}");
    if let Some(n) = name {
        title.push_str(&format!(" ({n})"));
    }
    title.push_str(&format!(" from {}", sources.join(", ")));
    NewAlert {
        org_id: event.org_id,
        asset_id: event.asset_id,
        source: AlertSource::Ioc,
        rule_id: clip(what, 200),
        title: clip(&title, 500),
        severity: severity(confidence, default_severity),
        category: ctx.category.clone(),
        detected_at: event.timestamp,
        event_ids: Vec::new(),
        details: serde_json::json!({
            "indicator": what,
            "indicator_ids": ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "stix_ids": metas.iter().map(|m| m.stix_id.as_ref()).collect::<Vec<_>>(),
            "names": metas.iter().filter_map(|m| m.name.as_deref()).collect::<Vec<_>>(),
            "sources": sources,
            "confidence": confidence,
            "tlp": ctx.tlp.map(Tlp::as_str),
            "labels": ctx.tags,
            "kill_chain_phases": ctx.kill_chain_phases,
            "attack_techniques": ctx.techniques,
            "malware": ctx.malware,
            "threat_actors": ctx.threat_actors,
        }),
    }
}

/// Alerts and sightings of a batch. Each sighting carries the index of its alert in
/// `alerts`, so the alert's id can be filled in once the alerts are stored.
#[derive(Debug, Default)]
pub struct Outcome {
    pub alerts: Vec<NewAlert>,
    pub sightings: Vec<(NewSighting, usize)>,
    /// Per alert, the distinct (field, value) pairs observed (at most 20).
    hits_per_alert: Vec<Vec<(&'static str, String)>>,
}

impl Outcome {
    /// The sightings with the ids of their stored alerts (`created[i]` for `alerts[i]`).
    pub fn sightings_with(&self, created: &[Option<AlertId>]) -> Vec<NewSighting> {
        self.sightings
            .iter()
            .map(|(s, ai)| NewSighting {
                alert_id: created.get(*ai).copied().flatten(),
                ..s.clone()
            })
            .collect()
    }
}

/// Severity from the indicator's confidence; unknown (0) takes the configured default.
fn severity(confidence: u8, default: Severity) -> Severity {
    match confidence {
        0 => default,
        1..=39 => Severity::Low,
        40..=79 => Severity::Medium,
        _ => Severity::High,
    }
}

fn clip(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// Keeps the published matcher current: loads at start, then every `refresh`. The first
/// publication happens after the first attempt (an empty set when it failed), so the
/// processor can wait for it. Stops with `shutdown`.
pub(crate) async fn refresh_task(
    store: Arc<dyn Store>,
    refresh: Duration,
    tx: watch::Sender<Option<Arc<IntelMatcher>>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() || shutdown.has_changed().is_err() {
            break;
        }
        let started = std::time::Instant::now();
        match IntelMatcher::load_shared(store.clone()).await {
            Ok((m, r)) => {
                metrics::gauge!("vigil_pipeline_intel_indicators").set(m.len() as f64);
                tracing::info!(
                    stored = r.stored,
                    values = m.set.len(),
                    patterns = r.patterns,
                    // no skipped_disabled here: the lean read already leaves disabled
                    // sources out, so it would always say 0
                    bad_values = r.bad_values,
                    patterns_dropped = r.patterns_dropped,
                    ms = started.elapsed().as_millis() as u64,
                    "pipeline: indicators loaded"
                );
                tx.send_replace(Some(Arc::new(m)));
            }
            Err(e) => {
                metrics::counter!("vigil_pipeline_intel_refresh_errors_total").increment(1);
                tracing::warn!(error = %e, "pipeline: loading indicators failed; the previous set stays");
                if tx.borrow().is_none() {
                    tx.send_replace(Some(Arc::new(IntelMatcher::default())));
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(refresh) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Ids of stored alerts by position, `None` where the store's answer does not line up.
pub(crate) fn alert_ids(sent: &[NewAlert], created: &[vigil_model::Alert]) -> Vec<Option<AlertId>> {
    sent.iter()
        .zip(created.iter().map(Some).chain(std::iter::repeat(None)))
        .map(|(s, c)| {
            c.filter(|c| c.spec.rule_id == s.rule_id && c.spec.org_id == s.org_id)
                .map(|c| c.id)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::{AssetId, Provenance};

    fn event(fields: serde_json::Value) -> NewEvent {
        NewEvent {
            org_id: OrgId(uuid::Uuid::nil()),
            asset_id: None,
            timestamp: now(),
            received_at: now(),
            provenance: Provenance {
                input: "t".into(),
                sender: None,
            },
            fields: serde_json::from_value(fields).expect("fields"),
            native: Default::default(),
            raw: Vec::new(),
        }
    }

    fn matcher(values: &[(&str, &str)], patterns: &[&str]) -> IntelMatcher {
        let mut metas = HashMap::new();
        let mut atomic = Vec::new();
        let mut pats = Vec::new();
        let mut pattern_ids = Vec::new();
        let mut ids = Vec::new();
        for (kind, v) in values {
            let id = IndicatorId::new();
            let ctx = Arc::new(IndicatorContext {
                sources: vec![SourceRef {
                    source: "feed".into(),
                    reference: None,
                    confidence: 70,
                }],
                ..IndicatorContext::default()
            });
            let kind = IndicatorKind::parse(kind).expect("kind");
            atomic.push((
                Indicator::new(IndicatorValue::parse(kind, v).expect("value"), 70, ctx),
                ids.len() as u32,
            ));
            ids.push(id);
            metas.insert(
                id,
                Some(StoredMeta {
                    stix_id: format!("indicator--{id}").into(),
                    name: None,
                }),
            );
        }
        for p in patterns {
            let id = IndicatorId::new();
            pats.push(PatternIndicator {
                id: format!("indicator--{id}"),
                pattern_text: p.to_string(),
                pattern: vigil_intel::pattern::parse(p).expect("pattern"),
                confidence: 0,
                valid_from: None,
                valid_until: None,
                context: Arc::new(IndicatorContext::default()),
            });
            pattern_ids.push(id);
        }
        let mut first = Vec::new();
        let mut more = Vec::new();
        let set = IndicatorSet::build_tracked(atomic, pats, |at, i| {
            if i as usize == first.len() {
                first.push(at);
            } else {
                more.push((i, at));
            }
        });
        IntelMatcher {
            set,
            ids,
            first,
            more,
            pattern_ids,
            metas: Mutex::new(metas),
            fetch: None,
        }
    }

    fn now() -> Timestamp {
        "2026-11-21T10:00:00Z".parse().expect("ts")
    }

    #[test]
    fn an_empty_set_matches_nothing() {
        let m = IntelMatcher::default();
        assert!(m.is_empty());
        let e = event(serde_json::json!({"source.ip": "203.0.113.7"}));
        assert!(m.match_event(&e, now()).is_empty());
    }

    #[test]
    fn observables_and_general_patterns_match() {
        let m = matcher(
            &[("ipv4", "203.0.113.0/24"), ("domain", "evil.example")],
            &["[process:command_line MATCHES '^certutil .*-urlcache']"],
        );
        let e = event(serde_json::json!({
            "source.ip": "203.0.113.7",
            "dns.question.name": "a.evil.example",
            "host.name": "web-1",
        }));
        let hits = m.match_event(&e, now());
        let seen: Vec<_> = hits.iter().map(|h| (h.field, h.value.as_str())).collect();
        assert_eq!(
            seen,
            [
                ("source.ip", "203.0.113.7"),
                ("dns.question.name", "a.evil.example")
            ]
        );
        let e = event(serde_json::json!({
            "process.command_line": "certutil -f -urlcache http://x/y",
        }));
        let hits = m.match_event(&e, now());
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].target, Target::Pattern(0));
        assert!(
            m.match_event(&event(serde_json::json!({"message": "x"})), now())
                .is_empty()
        );
    }

    #[test]
    fn one_alert_per_indicator_and_organization_with_a_sighting_per_event() {
        let m = matcher(&[("ipv4", "203.0.113.7")], &[]);
        let e = event(serde_json::json!({"source.ip": "203.0.113.7"}));
        let hits = m.match_event(&e, now());
        let org_a = OrgId(uuid::Uuid::now_v7());
        let org_b = OrgId(uuid::Uuid::now_v7());
        let meta = |org, asset: Option<AssetId>| EventMeta {
            org_id: org,
            asset_id: asset,
            timestamp: now(),
        };
        let asset = Some(AssetId(uuid::Uuid::now_v7()));
        let batch = [
            (meta(org_a, asset), 1, hits.as_slice()),
            (meta(org_a, None), 2, hits.as_slice()),
            (meta(org_b, None), 3, hits.as_slice()),
        ];
        let o = m.outcome(&batch, Severity::Medium);
        assert_eq!(o.alerts.len(), 2);
        assert_eq!(o.alerts[0].org_id, org_a);
        assert_eq!(o.alerts[0].event_ids, [1, 2]);
        // Events of different assets: the alert names none.
        assert_eq!(o.alerts[0].asset_id, None);
        assert_eq!(o.alerts[0].source, AlertSource::Ioc);
        assert_eq!(o.alerts[0].severity, Severity::Medium);
        assert_eq!(o.alerts[1].event_ids, [3]);
        assert_eq!(o.sightings.len(), 3);
        let ids = [Some(AlertId(uuid::Uuid::now_v7())), None];
        let s = o.sightings_with(&ids);
        assert_eq!(s[0].alert_id, ids[0]);
        assert_eq!(s[1].alert_id, ids[0]);
        assert_eq!(s[2].alert_id, None);
        assert_eq!(s[2].org_id, org_b);
    }

    fn stored(
        source: vigil_store::IntelSourceId,
        n: u32,
        kind: &str,
        value: &str,
        name: Option<&str>,
    ) -> vigil_store::NewIndicator {
        vigil_store::NewIndicator {
            source_id: source,
            stix_id: format!("indicator--{}", uuid::Uuid::from_u128(u128::from(n) + 1)),
            kind: kind.into(),
            value: Some(value.into()),
            values: vec![format!("{kind}:{value}")],
            pattern: None,
            name: name.map(Into::into),
            description: None,
            confidence: 90,
            tlp: Some("amber".into()),
            valid_from: None,
            valid_until: None,
            labels: vec!["botnet".into()],
            kill_chain: vec![],
            attack_ids: vec![],
            modified: now(),
            revoked: false,
            object: serde_json::json!({"type": "indicator"}),
        }
    }

    /// The lean load: disabled sources and expired indicators left out, one shared context
    /// per source and marking, a value of two sources mapped back to both stored indicators,
    /// and STIX ids and names fetched from the store on a hit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_lean_load_shares_contexts_and_fetches_names_on_a_hit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> =
            Arc::new(vigil_store::sqlite::SqliteStore::open(dir.path()).expect("store"));
        let source = |name: &str, enabled: bool| vigil_store::NewIntelSource {
            name: name.into(),
            kind: "stix".into(),
            url: None,
            enabled,
            trust: 70,
        };
        let a = store
            .upsert_intel_source(source("feed-a", true))
            .await
            .expect("a");
        let b = store
            .upsert_intel_source(source("feed-b", true))
            .await
            .expect("b");
        let off = store
            .upsert_intel_source(source("feed-off", false))
            .await
            .expect("off");
        let mut expired = stored(a.id, 4, "domain", "old.example", None);
        expired.valid_from = Some("2020-01-01T00:00:00Z".parse().expect("ts"));
        expired.valid_until = Some("2021-01-01T00:00:00Z".parse().expect("ts"));
        store
            .upsert_indicators(vec![
                stored(a.id, 1, "ipv4", "203.0.113.7", Some("Mirai C2")),
                stored(a.id, 2, "domain", "evil.example", None),
                stored(a.id, 3, "sha256", &"ab".repeat(32), None),
                expired,
                stored(b.id, 5, "ipv4", "203.0.113.7", None),
                stored(off.id, 6, "domain", "off.example", None),
            ])
            .await
            .expect("store");
        let (m, r) = IntelMatcher::load_shared(store.clone())
            .await
            .expect("load");
        assert_eq!(r.stored, 4);
        assert_eq!(m.set().len(), 3, "the address of both feeds is one value");
        let texts: Vec<String> = m.set().indicators().map(|i| i.value.text()).collect();
        assert!(
            !texts
                .iter()
                .any(|t| t == "off.example" || t == "old.example")
        );
        let domain = m
            .set()
            .indicators()
            .find(|i| i.value.text() == "evil.example")
            .expect("domain");
        let digest = m
            .set()
            .indicators()
            .find(|i| i.value.kind() == IndicatorKind::Sha256)
            .expect("digest");
        assert!(
            Arc::ptr_eq(&domain.context, &digest.context),
            "one context per source"
        );
        assert_eq!(domain.context.category.as_deref(), Some("MPZOMB"));

        let hits = m.match_event(
            &event(serde_json::json!({"source.ip": "203.0.113.7"})),
            now(),
        );
        assert_eq!(hits.len(), 1);
        let mut ids = m.indicator_ids(hits[0].target);
        ids.sort();
        assert_eq!(ids.len(), 2, "both stored indicators behind the value");
        let meta = EventMeta {
            org_id: OrgId(uuid::Uuid::nil()),
            asset_id: None,
            timestamp: now(),
        };
        let o = m.outcome(&[(meta, 7, hits.as_slice())], Severity::Medium);
        assert_eq!(o.alerts.len(), 1);
        let alert = &o.alerts[0];
        assert!(alert.title.contains("Mirai C2"), "{}", alert.title);
        assert!(alert.title.contains("feed-a") && alert.title.contains("feed-b"));
        let mut stix = alert.details["stix_ids"]
            .as_array()
            .expect("stix ids")
            .clone();
        stix.sort_by_key(|v| v.to_string());
        assert_eq!(
            stix,
            [
                format!("indicator--{}", uuid::Uuid::from_u128(2)),
                format!("indicator--{}", uuid::Uuid::from_u128(6)),
            ]
        );
        assert_eq!(o.sightings.len(), 2, "a sighting per stored indicator");
    }

    #[test]
    fn severity_follows_confidence() {
        assert_eq!(severity(0, Severity::Info), Severity::Info);
        assert_eq!(severity(20, Severity::Info), Severity::Low);
        assert_eq!(severity(50, Severity::Info), Severity::Medium);
        assert_eq!(severity(95, Severity::Info), Severity::High);
    }
}
