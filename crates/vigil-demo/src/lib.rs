//! Vigil's demo data set: a month in the life of a regional CERT.
//!
//! [`plan`] builds, without any IO, three dozen monitored organizations across China's critical
//! sectors (power grid, water, city gas, rail transit, banks, hospitals, universities,
//! e-government portals, chemical, steel and pharmaceutical plants, ports, telecom, internet
//! platforms), over a thousand of their assets (servers, office PCs, PLCs, HMIs, SCADA, RTUs,
//! DCS, network gear, websites, domains, address ranges, applications, mobile apps), and over
//! a hundred thousand events: mostly background noise (firewall sessions, DNS, web access,
//! logons, process starts, Modbus/S7/IEC 104 polling), with attack stories woven in: SSH and
//! RDP brute force, botnet beaconing, webshell uploads, ransomware, website defacement,
//! unauthorized PLC operations, cryptomining, Log4j probes and scanning. The alerts detection
//! would raise on those stories follow, and incidents are opened from some of them and moved
//! along the notice-to-closure workflow.
//!
//! [`generate`] writes a plan into a [`Store`]. Everything is deterministic for a seed except
//! the identifiers the store assigns and the creation times it stamps: alerts and incidents
//! carry their own past times (`detected_at`, `occurred_at`), but the store records them as
//! created now.
//!
//! # Identifiers in a plan
//!
//! A plan references its own records before the store has given them identifiers:
//! organization, asset and alert ids in a plan are placeholders ([`planned_org_id`] and
//! friends, decoded by [`planned_org_index`] and friends) holding the index of the record in
//! the plan, and an alert's `event_ids` are indices into [`DemoPlan::events`]. [`write`]
//! replaces them with the store's identifiers as it goes.

// Event sources are functions of many small facts (who, where, when, from, to, what); a
// parameter struct per source would only rename them.
#![allow(clippy::too_many_arguments)]

mod catalog;
mod clock;
mod incidents;
pub mod live;
mod noise;
mod state;
mod stories;
mod world;

use rand::SeedableRng;
use rand::rngs::StdRng;
use std::collections::BTreeMap;
use std::time::Instant;
use uuid::Uuid;
use vigil_model::{
    AlertId, AlertStatus, AssetId, EventId, Grade, IncidentStatus, NewAlert, NewAsset, NewEvent,
    NewIncident, NewOrganization, OrgId, Scope, Timestamp,
};
use vigil_store::{IncidentUpdate, Store, StoreError};

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Seed of the random source: the same seed gives the same plan.
    pub seed: u64,
    /// Number of organizations (36 by default; more than 40 repeats the catalog as branches).
    pub orgs: usize,
    /// Minimum number of assets over all organizations.
    pub assets_min: usize,
    /// Number of events (exact, unless the stories alone need more).
    pub events: usize,
    /// Length of the window of events, ending at `now` (at least 1).
    pub days: u32,
    /// End of the window; nothing is dated after it.
    pub now: Timestamp,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            seed: 20_251_101,
            orgs: 36,
            assets_min: 1_200,
            events: 120_000,
            days: 30,
            now: Timestamp::now(),
        }
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub orgs: usize,
    pub assets: usize,
    pub events: usize,
    pub alerts: usize,
    pub incidents: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The plan references a record it does not contain, or the store answered a batch with
    /// a different number of records than it was given.
    #[error("demo plan could not be written: {0}")]
    Plan(String),
}

/// The kinds of attack story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoryKind {
    BruteForceSsh,
    BruteForceRdp,
    Beaconing,
    Webshell,
    Ransomware,
    Defacement,
    IcsUnauthorized,
    Cryptominer,
    Log4jProbe,
    Scan,
    Vulnerability,
}

/// One attack story as told: who it touched, when, and what came of it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryRecord {
    pub kind: StoryKind,
    /// Index into [`DemoPlan::orgs`].
    pub org: usize,
    pub title: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// How many events the story produced.
    pub events: usize,
    /// Indices into [`DemoPlan::alerts`].
    pub alerts: Vec<usize>,
    /// Indices into [`DemoPlan::assets`].
    pub assets: Vec<usize>,
    /// Particulars: `source_ip`, `host`, `c2_domain`, `domain`, `user`...
    pub context: BTreeMap<String, String>,
}

/// An alert with the triage state it ends up in (when no incident escalates it).
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedAlert {
    /// `event_ids` are indices into [`DemoPlan::events`].
    pub alert: NewAlert,
    pub triage: Option<AlertStatus>,
}

/// One change to an incident after it is opened.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentStep {
    pub actor: String,
    pub status: Option<IncidentStatus>,
    pub grade: Option<Grade>,
    pub comment: String,
}

/// An incident, who opens it, and the steps it goes through.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedIncident {
    pub incident: NewIncident,
    pub actor: String,
    pub steps: Vec<IncidentStep>,
    /// The impact recorded right after the incident is opened (ransomware and defacement).
    pub impact: Option<vigil_model::IncidentImpact>,
}

/// Everything the demo consists of, as model values (see the crate docs on identifiers).
#[derive(Debug, Clone, PartialEq)]
pub struct DemoPlan {
    /// Start of the window (inclusive).
    pub start: Timestamp,
    /// End of the window (exclusive).
    pub now: Timestamp,
    pub orgs: Vec<NewOrganization>,
    pub assets: Vec<NewAsset>,
    /// Oldest first.
    pub events: Vec<NewEvent>,
    pub alerts: Vec<PlannedAlert>,
    /// Oldest first.
    pub incidents: Vec<PlannedIncident>,
    pub stories: Vec<StoryRecord>,
}

const ORG_TAG: u64 = 0xde30_0000_0000_0001;
const ASSET_TAG: u64 = 0xde30_0000_0000_0002;
const ALERT_TAG: u64 = 0xde30_0000_0000_0003;

/// The placeholder id of the `i`th organization of a plan.
pub fn planned_org_id(i: usize) -> OrgId {
    OrgId(Uuid::from_u64_pair(ORG_TAG, i as u64))
}
/// The placeholder id of the `i`th asset of a plan.
pub fn planned_asset_id(i: usize) -> AssetId {
    AssetId(Uuid::from_u64_pair(ASSET_TAG, i as u64))
}
/// The placeholder id of the `i`th alert of a plan.
pub fn planned_alert_id(i: usize) -> AlertId {
    AlertId(Uuid::from_u64_pair(ALERT_TAG, i as u64))
}

fn untag(u: Uuid, tag: u64) -> Option<usize> {
    let (hi, lo) = u.as_u64_pair();
    (hi == tag).then_some(lo as usize)
}
pub fn planned_org_index(id: OrgId) -> Option<usize> {
    untag(id.0, ORG_TAG)
}
pub fn planned_asset_index(id: AssetId) -> Option<usize> {
    untag(id.0, ASSET_TAG)
}
pub fn planned_alert_index(id: AlertId) -> Option<usize> {
    untag(id.0, ALERT_TAG)
}

/// The plan with its events still in the generator's compact form.
struct Built {
    start: Timestamp,
    now: Timestamp,
    orgs: Vec<NewOrganization>,
    assets: Vec<NewAsset>,
    events: Vec<state::Ev>,
    alerts: Vec<PlannedAlert>,
    incidents: Vec<PlannedIncident>,
    stories: Vec<StoryRecord>,
}

fn build(opts: &DemoOptions) -> Built {
    let days = i64::from(opts.days.clamp(1, 3650));
    let now = clock::us(opts.now);
    let start = now - days * clock::DAY;
    let rng = StdRng::seed_from_u64(opts.seed);
    let mut g = state::Gen::new(rng, start, now, opts.events);
    if opts.orgs == 0 {
        return Built {
            start: clock::ts(start),
            now: opts.now,
            orgs: vec![],
            assets: vec![],
            events: vec![],
            alerts: vec![],
            incidents: vec![],
            stories: vec![],
        };
    }
    let world = world::build(&mut g, opts.orgs, opts.assets_min);

    // Stories scale with the size of the world and of the event budget: the defaults tell
    // every story at full length, a small test run tells each kind once, shortened.
    let org_factor = (opts.orgs as f64 / 36.0).min(1.0);
    let ev_factor = (opts.events as f64 / 120_000.0).min(1.0);
    let day_factor = (days as f64 / 30.0).min(1.0);
    let scale = stories::Scale {
        inst: (org_factor * ev_factor).sqrt() * day_factor.sqrt(),
        size: ev_factor.sqrt().clamp(0.2, 1.0),
    };
    stories::tell(&mut g, &world, scale);
    let noise = opts.events.saturating_sub(g.events.len());
    noise::background(&mut g, &world, noise);

    // Oldest first, with the alerts' event references following their events.
    let mut order: Vec<u32> = (0..g.events.len() as u32).collect();
    order.sort_by_key(|&i| g.events[i as usize].t);
    let mut new_pos = vec![0i64; order.len()];
    for (new, &old) in order.iter().enumerate() {
        new_pos[old as usize] = new as i64;
    }
    let mut slots: Vec<Option<state::Ev>> = std::mem::take(&mut g.events)
        .into_iter()
        .map(Some)
        .collect();
    g.events = order
        .iter()
        .filter_map(|&i| slots[i as usize].take())
        .collect();
    drop(slots);
    for a in &mut g.alerts {
        for id in &mut a.alert.event_ids {
            *id = new_pos.get(*id as usize).copied().unwrap_or(*id);
        }
    }

    let incidents = incidents::plan(&mut g, &world);
    Built {
        start: clock::ts(start),
        now: opts.now,
        orgs: world.org_specs,
        assets: world.assets,
        events: std::mem::take(&mut g.events),
        alerts: std::mem::take(&mut g.alerts),
        incidents,
        stories: std::mem::take(&mut g.stories),
    }
}

/// Builds the demo data set. Pure: no IO, no clock, no global random source.
pub fn plan(opts: &DemoOptions) -> DemoPlan {
    let b = build(opts);
    DemoPlan {
        start: b.start,
        now: b.now,
        orgs: b.orgs,
        assets: b.assets,
        events: b
            .events
            .into_iter()
            .map(state::Ev::into_new_event)
            .collect(),
        alerts: b.alerts,
        incidents: b.incidents,
        stories: b.stories,
    }
}

/// Plans the demo data set and writes it into `store`. The same as [`write`]`(store,`
/// [`plan`]`(opts))`, except that events are turned into model values a batch at a time
/// rather than all at once, which keeps memory low.
pub async fn generate(store: &dyn Store, opts: &DemoOptions) -> Result<DemoSummary, DemoError> {
    let started = Instant::now();
    let b = build(opts);
    tracing::info!(
        orgs = b.orgs.len(),
        assets = b.assets.len(),
        events = b.events.len(),
        alerts = b.alerts.len(),
        incidents = b.incidents.len(),
        ms = started.elapsed().as_millis() as u64,
        "demo data planned"
    );
    let n = b.events.len();
    let events = b.events.into_iter().map(state::Ev::into_new_event);
    let summary = write_parts(store, b.orgs, b.assets, n, events, b.alerts, b.incidents).await?;
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        "demo data written"
    );
    Ok(summary)
}

const ASSET_BATCH: usize = 250;
const EVENT_BATCH: usize = 1_000;
const ALERT_BATCH: usize = 200;

fn missing(what: &str, id: impl std::fmt::Display) -> DemoError {
    DemoError::Plan(format!("{what} {id} is not in the plan"))
}

fn short_batch(what: &str, sent: usize, got: usize) -> DemoError {
    DemoError::Plan(format!(
        "the store returned {got} {what} for a batch of {sent}"
    ))
}

/// Writes a plan into `store`: organizations, assets, events in batches of 1,000, alerts,
/// alert triage, then incidents and their workflow steps.
pub async fn write(store: &dyn Store, plan: DemoPlan) -> Result<DemoSummary, DemoError> {
    let n = plan.events.len();
    write_parts(
        store,
        plan.orgs,
        plan.assets,
        n,
        plan.events.into_iter(),
        plan.alerts,
        plan.incidents,
    )
    .await
}

async fn write_parts(
    store: &dyn Store,
    orgs: Vec<NewOrganization>,
    assets: Vec<NewAsset>,
    n_events: usize,
    events: impl Iterator<Item = NewEvent> + Send,
    alerts: Vec<PlannedAlert>,
    incidents: Vec<PlannedIncident>,
) -> Result<DemoSummary, DemoError> {
    let mut summary = DemoSummary::default();

    let mut org_ids = Vec::with_capacity(orgs.len());
    for spec in orgs {
        org_ids.push(store.create_org(spec).await?.id);
    }
    summary.orgs = org_ids.len();
    let org_id = |id: OrgId| {
        planned_org_index(id)
            .and_then(|i| org_ids.get(i).copied())
            .ok_or_else(|| missing("organization", id))
    };

    let mut asset_ids: Vec<AssetId> = Vec::with_capacity(assets.len());
    let mut assets = assets.into_iter().peekable();
    while assets.peek().is_some() {
        let mut batch = Vec::with_capacity(ASSET_BATCH);
        for mut a in assets.by_ref().take(ASSET_BATCH) {
            a.org_id = org_id(a.org_id)?;
            batch.push(a);
        }
        let sent = batch.len();
        let created = store.create_assets(Scope::All, batch).await?;
        if created.len() != sent {
            return Err(short_batch("assets", sent, created.len()));
        }
        asset_ids.extend(created.iter().map(|a| a.id));
    }
    summary.assets = asset_ids.len();
    let asset_id = |id: AssetId| {
        planned_asset_index(id)
            .and_then(|i| asset_ids.get(i).copied())
            .ok_or_else(|| missing("asset", id))
    };

    let mut event_ids: Vec<EventId> = Vec::with_capacity(n_events);
    let mut events = events.peekable();
    while events.peek().is_some() {
        let mut batch = Vec::with_capacity(EVENT_BATCH);
        for mut e in events.by_ref().take(EVENT_BATCH) {
            e.org_id = org_id(e.org_id)?;
            e.asset_id = e.asset_id.map(asset_id).transpose()?;
            batch.push(e);
        }
        let sent = batch.len();
        let ids = store.append_events(batch).await?;
        if ids.len() != sent {
            return Err(short_batch("event ids", sent, ids.len()));
        }
        event_ids.extend(ids);
    }
    summary.events = event_ids.len();
    tracing::debug!(events = summary.events, "demo events written");

    let mut alert_ids: Vec<AlertId> = Vec::with_capacity(alerts.len());
    let mut triage = Vec::new();
    let mut pending = alerts.into_iter().peekable();
    while pending.peek().is_some() {
        let mut batch = Vec::with_capacity(ALERT_BATCH);
        for (k, p) in pending.by_ref().take(ALERT_BATCH).enumerate() {
            let mut a = p.alert;
            a.org_id = org_id(a.org_id)?;
            a.asset_id = a.asset_id.map(asset_id).transpose()?;
            a.event_ids = a
                .event_ids
                .iter()
                .map(|&i| {
                    usize::try_from(i)
                        .ok()
                        .and_then(|i| event_ids.get(i).copied())
                        .ok_or_else(|| missing("event", i))
                })
                .collect::<Result<_, _>>()?;
            if let Some(s) = p.triage {
                triage.push((alert_ids.len() + k, s));
            }
            batch.push(a);
        }
        let sent = batch.len();
        let created = store.create_alerts(batch).await?;
        if created.len() != sent {
            return Err(short_batch("alerts", sent, created.len()));
        }
        alert_ids.extend(created.iter().map(|a| a.id));
    }
    summary.alerts = alert_ids.len();
    for (i, status) in triage {
        if let Some(&id) = alert_ids.get(i) {
            store.set_alert_status(Scope::All, id, status, None).await?;
        }
    }

    for p in incidents {
        let mut spec = p.incident;
        spec.org_id = org_id(spec.org_id)?;
        spec.asset_ids = spec
            .asset_ids
            .into_iter()
            .map(asset_id)
            .collect::<Result<_, _>>()?;
        spec.alert_ids = spec
            .alert_ids
            .into_iter()
            .map(|id| {
                planned_alert_index(id)
                    .and_then(|i| alert_ids.get(i).copied())
                    .ok_or_else(|| missing("alert", id))
            })
            .collect::<Result<_, _>>()?;
        let created = store.create_incident(spec, &p.actor).await?;
        if let Some(impact) = p.impact {
            // The planned grade stands: the demo's grades are part of its stories.
            let update = vigil_store::ImpactUpdate {
                impact,
                ..vigil_store::ImpactUpdate::default()
            };
            store
                .set_incident_impact(Scope::All, created.id, update, &p.actor)
                .await?;
        }
        for step in p.steps {
            let change = IncidentUpdate {
                status: step.status,
                grade: step.grade,
                comment: Some(step.comment),
                ..IncidentUpdate::default()
            };
            store
                .update_incident(Scope::All, created.id, change, &step.actor)
                .await?;
        }
        summary.incidents += 1;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests;
