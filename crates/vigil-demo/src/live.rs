//! The living demo: after the data set is loaded, telemetry keeps arriving.
//!
//! [`LiveFeed`] takes recent events and alerts from the store as templates and sends copies
//! stamped with the current time, a few events a second and an alert now and then, so the
//! overview, the event search and the alert list move while someone watches. It writes only
//! through the [`Store`] trait, exactly as a sensor's traffic would arrive.

use crate::DemoError;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::Duration;
use vigil_model::{AlertStatus, NewAlert, NewEvent, Provenance, Scope, Timestamp};
use vigil_store::{AlertQuery, EventQuery, Store};

/// Replays recent traffic as if it arrived now.
pub struct LiveFeed {
    events: Vec<NewEvent>,
    alerts: Vec<NewAlert>,
    rng: StdRng,
}

impl LiveFeed {
    /// Loads up to 2,000 recent events and 200 recent alerts as templates.
    pub async fn load(store: &dyn Store, seed: u64) -> Result<Self, DemoError> {
        let mut events = Vec::new();
        let mut cursor = None;
        while events.len() < 2_000 {
            let page = store
                .search_events(
                    Scope::All,
                    &EventQuery {
                        limit: 1_000,
                        cursor: cursor.take(),
                        ..Default::default()
                    },
                )
                .await?;
            events.extend(page.items.into_iter().map(|e| e.event));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let alerts = store
            .list_alerts(
                Scope::All,
                &AlertQuery {
                    limit: 200,
                    ..Default::default()
                },
            )
            .await?
            .items
            .into_iter()
            .filter(|a| a.status != AlertStatus::FalsePositive)
            .map(|a| a.spec)
            .collect();
        Ok(Self {
            events,
            alerts,
            rng: StdRng::seed_from_u64(seed),
        })
    }

    /// True when there is nothing to replay.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// `n` events copied from the templates, stamped `now`.
    pub fn events(&mut self, now: Timestamp, n: usize) -> Vec<NewEvent> {
        if self.events.is_empty() {
            return Vec::new();
        }
        (0..n)
            .map(|_| {
                let i = self.rng.random_range(0..self.events.len());
                let mut e = self.events[i].clone();
                e.timestamp = now;
                e.received_at = now;
                e.provenance = Provenance {
                    input: "demo-live".into(),
                    sender: e.provenance.sender.take(),
                };
                e
            })
            .collect()
    }

    /// An alert copied from the templates, detected `now`, pointing at `evidence` when it
    /// belongs to the same organization.
    pub fn alert(
        &mut self,
        now: Timestamp,
        evidence: &[(vigil_model::OrgId, i64)],
    ) -> Option<NewAlert> {
        if self.alerts.is_empty() {
            return None;
        }
        let i = self.rng.random_range(0..self.alerts.len());
        let mut a = self.alerts[i].clone();
        a.detected_at = now;
        a.event_ids = evidence
            .iter()
            .filter(|(org, _)| *org == a.org_id)
            .map(|(_, id)| *id)
            .take(5)
            .collect();
        Some(a)
    }
}

/// Runs the feed until the process ends: `per_second` events every second and an alert about
/// every `alert_every` seconds. Store errors are logged and the feed goes on.
pub async fn run(store: Arc<dyn Store>, seed: u64, per_second: usize, alert_every: u32) {
    let mut feed = match LiveFeed::load(store.as_ref(), seed).await {
        Ok(f) if !f.is_empty() => f,
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(error = %e, "live demo feed could not start");
            return;
        }
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut n: u32 = 0;
    loop {
        tick.tick().await;
        n = n.wrapping_add(1);
        let now = Timestamp::now();
        let batch = feed.events(now, per_second);
        let orgs: Vec<_> = batch.iter().map(|e| e.org_id).collect();
        let ids = match store.append_events(batch).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e, "live demo events not stored");
                continue;
            }
        };
        if alert_every > 0 && n.is_multiple_of(alert_every) {
            let evidence: Vec<_> = orgs.into_iter().zip(ids).collect();
            if let Some(a) = feed.alert(now, &evidence)
                && let Err(e) = store.create_alerts(vec![a]).await
            {
                tracing::warn!(error = %e, "live demo alert not stored");
            }
        }
    }
}
