//! The generator's working state: the random source, the events and alerts produced so far,
//! and small helpers every event source shares.
//!
//! Events are kept in a compact form while the plan is built ([`Ev`]: static field names,
//! numbers and addresses inline) and turned into [`NewEvent`]s only when they are handed out,
//! a batch at a time when writing to a store: a hundred thousand `BTreeMap<String, Value>`s
//! at once would cost several hundred megabytes.

use crate::clock::{self, SEC};
use crate::{PlannedAlert, StoryKind, StoryRecord, planned_asset_id, planned_org_id};
use rand::Rng;
use rand::rngs::StdRng;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use vigil_model::{AlertSource, NewAlert, NewEvent, Provenance, Severity};

/// A field value of a compact event.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    S(Cow<'static, str>),
    N(i64),
    Ip(Ipv4Addr),
}

impl V {
    fn into_value(self) -> Value {
        match self {
            V::S(s) => Value::String(s.into_owned()),
            V::N(n) => Value::from(n),
            V::Ip(ip) => Value::String(ip.to_string()),
        }
    }
}

/// An event as the generator keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ev {
    pub org: u32,
    pub asset: Option<u32>,
    pub t: i64,
    pub received: i64,
    pub fields: Vec<(&'static str, V)>,
    pub raw: String,
}

impl Ev {
    /// The model value, with placeholder organization and asset ids.
    pub fn into_new_event(self) -> NewEvent {
        let mut fields = BTreeMap::new();
        for (k, v) in self.fields {
            // A later value for the same name wins.
            fields.insert(k.to_string(), v.into_value());
        }
        NewEvent {
            org_id: planned_org_id(self.org as usize),
            asset_id: self.asset.map(|a| planned_asset_id(a as usize)),
            timestamp: clock::ts(self.t),
            received_at: clock::ts(self.received),
            provenance: Provenance {
                input: "demo".to_string(),
                sender: None,
            },
            fields,
            native: BTreeMap::new(),
            raw: self.raw.into_bytes(),
        }
    }
}

/// Normalized fields of one event, built up with chained calls.
pub struct F(pub Vec<(&'static str, V)>);

impl F {
    /// An event with its `event.*` classification and where it was observed.
    pub fn new(category: &'static str, action: &'static str, dataset: &'static str) -> Self {
        let mut v = Vec::with_capacity(18);
        v.push(("event.kind", V::S(Cow::Borrowed("event"))));
        v.push(("event.category", V::S(Cow::Borrowed(category))));
        v.push(("event.action", V::S(Cow::Borrowed(action))));
        v.push(("event.dataset", V::S(Cow::Borrowed(dataset))));
        F(v)
    }

    pub fn s(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.0.push((k, V::S(Cow::Owned(v.into()))));
        self
    }

    /// A constant text value (not copied).
    pub fn st(mut self, k: &'static str, v: &'static str) -> Self {
        self.0.push((k, V::S(Cow::Borrowed(v))));
        self
    }

    pub fn n(mut self, k: &'static str, v: i64) -> Self {
        self.0.push((k, V::N(v)));
        self
    }

    pub fn ip(mut self, k: &'static str, ip: Ipv4Addr) -> Self {
        self.0.push((k, V::Ip(ip)));
        self
    }

    pub fn outcome(self, ok: bool) -> Self {
        self.st("event.outcome", if ok { "success" } else { "failure" })
    }

    pub fn severity(self, s: i64) -> Self {
        self.n("event.severity", s)
    }

    pub fn observer(
        self,
        kind: &'static str,
        vendor: &'static str,
        product: &'static str,
        name: impl Into<String>,
    ) -> Self {
        self.st("observer.type", kind)
            .st("observer.vendor", vendor)
            .st("observer.product", product)
            .s("observer.name", name)
    }

    pub fn message(self, m: impl Into<String>) -> Self {
        self.s("message", m)
    }
}

pub struct Gen {
    pub rng: StdRng,
    pub now: i64,
    pub start: i64,
    pub events: Vec<Ev>,
    pub alerts: Vec<PlannedAlert>,
    pub stories: Vec<StoryRecord>,
    /// Per site (org, site index): periods during which its home page showed another hash.
    pub defaced: Vec<((usize, usize), i64, i64, String)>,
}

impl Gen {
    pub fn new(rng: StdRng, start: i64, now: i64, capacity: usize) -> Self {
        Self {
            rng,
            now,
            start,
            events: Vec::with_capacity(capacity),
            alerts: Vec::new(),
            stories: Vec::new(),
            defaced: Vec::new(),
        }
    }

    /// Records one event and returns its index. Times are kept inside the window.
    pub fn push(
        &mut self,
        org: usize,
        asset: Option<usize>,
        t: i64,
        fields: F,
        raw: String,
    ) -> usize {
        let t = t.clamp(self.start, self.now - SEC);
        let received = (t + self.rng.random_range(150_000..2_500_000)).min(self.now);
        self.events.push(Ev {
            org: org as u32,
            asset: asset.map(|a| a as u32),
            t,
            received,
            fields: fields.0,
            raw,
        });
        self.events.len() - 1
    }

    pub fn event_time(&self, i: usize) -> i64 {
        self.events.get(i).map_or(self.start, |e| e.t)
    }

    /// Records an alert over the given events (indices into the plan's events); it is dated by
    /// the earliest of them, or `at` when there are none.
    pub fn alert(
        &mut self,
        org: usize,
        asset: Option<usize>,
        source: AlertSource,
        rule_id: &str,
        title: String,
        severity: Severity,
        category: &str,
        events: &[usize],
        at: i64,
        details: Value,
    ) -> usize {
        let detected = events
            .iter()
            .map(|&i| self.event_time(i))
            .min()
            .unwrap_or(at)
            .clamp(self.start, self.now - SEC);
        self.alerts.push(PlannedAlert {
            alert: NewAlert {
                org_id: planned_org_id(org),
                asset_id: asset.map(planned_asset_id),
                source,
                rule_id: rule_id.to_string(),
                title,
                severity,
                category: Some(category.to_string()),
                detected_at: clock::ts(detected),
                event_ids: events.iter().map(|&i| i as i64).collect(),
                details,
            },
            triage: None,
        });
        self.alerts.len() - 1
    }

    pub fn story(
        &mut self,
        kind: StoryKind,
        org: usize,
        title: String,
        start: i64,
        first_event: usize,
        alerts: Vec<usize>,
        assets: Vec<usize>,
        context: BTreeMap<&'static str, String>,
    ) {
        let end = self
            .events
            .get(first_event..)
            .unwrap_or_default()
            .iter()
            .map(|e| e.t)
            .max()
            .unwrap_or(start);
        self.stories.push(StoryRecord {
            kind,
            org,
            title,
            start: clock::ts(start.clamp(self.start, self.now)),
            end: clock::ts(end.clamp(self.start, self.now)),
            events: self.events.len() - first_event,
            alerts,
            assets,
            context: context
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        });
    }

    // Random helpers.

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            self.rng.random_range(lo..hi)
        }
    }

    pub fn port(&mut self) -> i64 {
        self.rng.random_range(49_152..65_535)
    }

    pub fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len + 16);
        while s.len() < len {
            let v: u64 = self.rng.random();
            s.push_str(&format!("{v:016x}"));
        }
        s.truncate(len);
        s
    }

    pub fn sha256(&mut self) -> String {
        self.hex(64)
    }

    pub fn flow_id(&mut self) -> u64 {
        self.rng.random_range(1u64 << 40..1u64 << 51)
    }

    /// An attacker address in 192.0.2.0/24 (TEST-NET-1).
    pub fn attacker_ip(&mut self) -> Ipv4Addr {
        Ipv4Addr::new(192, 0, 2, self.rng.random_range(2..254))
    }

    /// An ordinary internet client in 198.18.0.0/15 (benchmarking range).
    pub fn internet_ip(&mut self) -> Ipv4Addr {
        Ipv4Addr::new(
            198,
            self.rng.random_range(18..20),
            self.rng.random_range(0..=255),
            self.rng.random_range(1..255),
        )
    }

    /// A time inside the window, weighted towards local working hours and weekdays.
    pub fn office_time(&mut self) -> i64 {
        const WEIGHT: [f64; 24] = [
            0.25, 0.2, 0.2, 0.2, 0.2, 0.25, 0.35, 0.6, 1.0, 1.6, 1.7, 1.6, 1.0, 1.1, 1.6, 1.7, 1.6,
            1.4, 1.0, 0.8, 0.75, 0.7, 0.5, 0.35,
        ];
        loop {
            let t = self.range(self.start, self.now);
            let mut w = WEIGHT[clock::local_hour(t) as usize];
            if clock::local_weekday(t) >= 5 {
                w *= 0.55;
            }
            if self.rng.random::<f64>() * 1.7 < w {
                return t;
            }
        }
    }

    /// A start time for the `i`th of `n` occurrences of something lasting `dur`, spread
    /// over the window with some jitter, ending before now.
    pub fn slot(&mut self, i: usize, n: usize, dur: i64) -> i64 {
        let margin = 20 * clock::MIN;
        let lo = self.start + margin;
        let hi = (self.now - dur - margin).max(lo + 1);
        let span = (hi - lo) as f64;
        let n = n.max(1) as f64;
        let u = (i as f64 + 0.1 + 0.8 * self.rng.random::<f64>()) / n;
        lo + (span * u.clamp(0.0, 1.0)) as i64
    }

    /// Moves `t` to the given local hour range of the same day (for night-time attacks).
    pub fn at_local_hours(&mut self, t: i64, from_hour: i64, to_hour: i64) -> i64 {
        let midnight = clock::local_midnight(t);
        let t2 = midnight + self.range(from_hour * clock::HOUR, to_hour * clock::HOUR);
        if t2 < self.start + clock::HOUR || t2 > self.now - 6 * clock::HOUR {
            t
        } else {
            t2
        }
    }
}

/// Severity as an ECS `event.severity` number for IDS-like sources.
pub fn sev_num(s: Severity) -> i64 {
    match s {
        Severity::Info => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}
