//! Live threat-intelligence matching (issue 5, item 4), beside Sigma detection.
//!
//! A refresh task loads the active, non-revoked indicators of enabled sources from the store
//! page by page, builds a `vigil_intel::IndicatorSet` on a blocking thread and publishes it
//! through a `watch` channel: the processor takes the current [`IntelMatcher`] per batch, so a
//! new set replaces the old one between batches, atomically. A failed load keeps the old set
//! (logged, counted in `vigil_pipeline_intel_refresh_errors_total`).
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
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;
use vigil_intel::indicator::{
    Indicator, IndicatorContext, IndicatorKind, IndicatorValue, SourceRef, Tlp,
};
use vigil_intel::pattern::Compiled;
use vigil_intel::{IndicatorSet, Observation, PatternIndicator, observables_from_fields};
use vigil_model::{AlertId, AlertSource, EventId, NewAlert, NewEvent, OrgId, Severity};
use vigil_store::{IndicatorId, IndicatorQuery, NewSighting, Store, StoreError};

use crate::detect::EventMeta;

/// Hits kept per event, at most (overlapping networks could otherwise multiply them).
pub const MAX_HITS_PER_EVENT: usize = 32;
/// General (not line-rate) patterns loaded, at most: each is evaluated on every event.
pub const MAX_PATTERNS: usize = 10_000;
/// Event ids per alert (the model's limit).
const MAX_EVENTS_PER_ALERT: usize = 10_000;

/// Errors loading the indicators.
#[derive(Debug, thiserror::Error)]
pub enum IntelError {
    #[error("loading indicators: {0}")]
    Store(#[from] StoreError),
    #[error("building the indicator set: {0}")]
    Task(String),
}

/// What an alert names of a stored indicator besides what the set's context keeps.
#[derive(Debug)]
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

/// An indicator set with what maps its hits back to the stored indicators.
#[derive(Debug, Default)]
pub struct IntelMatcher {
    set: IndicatorSet,
    /// By stored id: STIX id and name.
    stored: HashMap<IndicatorId, StoredMeta>,
    /// The stored id of each general pattern (same index as `set.patterns()`).
    pattern_ids: Vec<IndicatorId>,
}

/// Stored indicators turned into what the set is built from.
#[derive(Default)]
struct Collector {
    atomic: Vec<Indicator>,
    patterns: Vec<PatternIndicator>,
    pattern_ids: Vec<IndicatorId>,
    stored: HashMap<IndicatorId, StoredMeta>,
    report: LoadReport,
}

impl Collector {
    /// Adds one stored indicator: its values as atomic indicators, or its pattern when the
    /// line-rate matcher cannot hold it. Revoked ones and those of disabled sources are left
    /// out (counted).
    fn add(
        &mut self,
        si: vigil_store::StoredIndicator,
        sources: &HashMap<vigil_store::IntelSourceId, (String, bool)>,
    ) {
        if si.is_revoked() {
            return;
        }
        let source = match sources.get(&si.spec.source_id) {
            Some((_, false)) => {
                self.report.skipped_disabled += 1;
                return;
            }
            Some((name, true)) => name.clone(),
            None => si.spec.source_id.to_string(),
        };
        self.report.stored += 1;
        let spec = &si.spec;
        let mut ctx = IndicatorContext {
            sources: vec![SourceRef {
                source,
                reference: Some(si.id.to_string()),
                confidence: spec.confidence,
            }],
            tlp: spec.tlp.as_deref().and_then(Tlp::parse),
            tags: spec.labels.clone(),
            kill_chain_phases: spec.kill_chain.clone(),
            techniques: spec.attack_ids.clone(),
            // Name and description only feed the category suggestion; not kept.
            description: Some(format!(
                "{} {}",
                spec.name.as_deref().unwrap_or(""),
                spec.description.as_deref().unwrap_or("")
            )),
            ..IndicatorContext::default()
        };
        ctx.suggest_category();
        ctx.description = None;
        let ctx = Arc::new(ctx);
        let mut values: Vec<IndicatorValue> = Vec::new();
        let texts: Vec<(&str, &str)> = if spec.values.is_empty() {
            spec.value
                .as_deref()
                .map(|v| (spec.kind.as_str(), v))
                .into_iter()
                .collect()
        } else {
            spec.values
                .iter()
                .filter_map(|kv| kv.split_once(':'))
                .collect()
        };
        for (kind, text) in texts {
            match IndicatorKind::parse(kind).map(|k| IndicatorValue::parse(k, text)) {
                Some(Ok(v)) => values.push(v),
                _ => self.report.bad_values += 1,
            }
        }
        let mut general = None;
        if values.is_empty()
            && let Some(text) = &spec.pattern
        {
            match vigil_intel::pattern::parse(text) {
                Ok(p) => match p.compile() {
                    Compiled::Atomic(vs) => values.extend(vs.into_iter().flatten()),
                    Compiled::General(_) => general = Some(p),
                },
                Err(_) => self.report.bad_values += 1,
            }
        }
        if let Some(pattern) = general {
            if self.patterns.len() >= MAX_PATTERNS {
                self.report.patterns_dropped += 1;
                return;
            }
            self.patterns.push(PatternIndicator {
                id: spec.stix_id.clone(),
                pattern_text: spec.pattern.clone().unwrap_or_default(),
                pattern,
                confidence: spec.confidence,
                valid_from: spec.valid_from,
                valid_until: spec.valid_until,
                context: ctx,
            });
            self.pattern_ids.push(si.id);
        } else if values.is_empty() {
            return;
        } else {
            for value in values {
                self.atomic.push(Indicator {
                    value,
                    confidence: spec.confidence.min(100),
                    valid_from: spec.valid_from,
                    valid_until: spec.valid_until,
                    context: ctx.clone(),
                });
            }
        }
        self.stored.insert(
            si.id,
            StoredMeta {
                stix_id: spec.stix_id.as_str().into(),
                name: spec.name.as_deref().map(Into::into),
            },
        );
    }
}

/// Counts of one load, for the log.
#[derive(Debug, Default, Clone, Copy)]
pub struct LoadReport {
    pub stored: usize,
    pub atomic: usize,
    pub patterns: usize,
    pub skipped_disabled: usize,
    pub bad_values: usize,
    pub patterns_dropped: usize,
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

    /// Loads the active indicators of enabled sources from the store and builds the set (on a
    /// blocking thread).
    pub async fn load(store: &dyn Store) -> Result<(IntelMatcher, LoadReport), IntelError> {
        Self::load_where(store, IndicatorQuery::default()).await
    }

    /// Like [`Self::load`], for the indicators `filter` selects (its source, kind, value or
    /// `added_after`; paging and order are set here).
    pub async fn load_where(
        store: &dyn Store,
        filter: IndicatorQuery,
    ) -> Result<(IntelMatcher, LoadReport), IntelError> {
        let sources: HashMap<_, _> = store
            .list_intel_sources()
            .await?
            .into_iter()
            .map(|s| (s.id, (s.spec.name, s.spec.enabled)))
            .collect();
        let mut c = Collector::default();
        let mut cursor = None;
        loop {
            let page = store
                .list_indicators(&IndicatorQuery {
                    include_revoked: false,
                    oldest_first: true,
                    limit: vigil_store::MAX_PAGE,
                    cursor: cursor.take(),
                    ..filter.clone()
                })
                .await?;
            for si in page.items {
                c.add(si, &sources);
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let Collector {
            atomic,
            patterns,
            pattern_ids,
            stored,
            mut report,
        } = c;
        report.atomic = atomic.len();
        report.patterns = patterns.len();
        let set = tokio::task::spawn_blocking(move || IndicatorSet::build(atomic, patterns))
            .await
            .map_err(|e| IntelError::Task(e.to_string()))?;
        Ok((
            IntelMatcher {
                set,
                stored,
                pattern_ids,
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
        if !self.set.indicators().is_empty() {
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

    /// The context and the stored ids behind a target.
    fn target(&self, t: Target) -> Option<(&Arc<IndicatorContext>, u8, String, Vec<IndicatorId>)> {
        match t {
            Target::Atomic(i) => {
                let ind = self.set.indicator(i)?;
                let ids = ind
                    .context
                    .sources
                    .iter()
                    .filter_map(|s| s.reference.as_deref()?.parse().ok())
                    .collect();
                Some((
                    &ind.context,
                    ind.confidence,
                    format!("{} {}", ind.value.kind(), ind.value.text()),
                    ids,
                ))
            }
            Target::Pattern(i) => {
                let p = self.set.patterns().get(i as usize)?;
                let id = *self.pattern_ids.get(i as usize)?;
                Some((
                    &p.context,
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
                        let a =
                            self.new_alert(ctx, confidence, &what, &ids, event, default_severity);
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

    fn new_alert(
        &self,
        ctx: &IndicatorContext,
        confidence: u8,
        what: &str,
        ids: &[IndicatorId],
        event: &EventMeta,
        default_severity: Severity,
    ) -> NewAlert {
        let metas: Vec<&StoredMeta> = ids.iter().filter_map(|i| self.stored.get(i)).collect();
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
        match IntelMatcher::load(store.as_ref()).await {
            Ok((m, r)) => {
                metrics::gauge!("vigil_pipeline_intel_indicators").set(m.len() as f64);
                tracing::info!(
                    stored = r.stored,
                    values = m.set.len(),
                    patterns = r.patterns,
                    skipped_disabled = r.skipped_disabled,
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
        let mut stored = HashMap::new();
        let mut atomic = Vec::new();
        let mut pats = Vec::new();
        let mut pattern_ids = Vec::new();
        for (kind, v) in values {
            let id = IndicatorId::new();
            let ctx = Arc::new(IndicatorContext {
                sources: vec![SourceRef {
                    source: "feed".into(),
                    reference: Some(id.to_string()),
                    confidence: 70,
                }],
                ..IndicatorContext::default()
            });
            let kind = IndicatorKind::parse(kind).expect("kind");
            atomic.push(Indicator::new(
                IndicatorValue::parse(kind, v).expect("value"),
                70,
                ctx,
            ));
            stored.insert(
                id,
                StoredMeta {
                    stix_id: format!("indicator--{id}").into(),
                    name: None,
                },
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
        IntelMatcher {
            set: IndicatorSet::build(atomic, pats),
            stored,
            pattern_ids,
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

    #[test]
    fn severity_follows_confidence() {
        assert_eq!(severity(0, Severity::Info), Severity::Info);
        assert_eq!(severity(20, Severity::Info), Severity::Low);
        assert_eq!(severity(50, Severity::Info), Severity::Medium);
        assert_eq!(severity(95, Severity::Info), Severity::High);
    }
}
