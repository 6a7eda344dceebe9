//! Listing incidents by "overdue": open incidents with at least one deadline passed and not
//! met, computed with vigil-incident's deadline functions (the same as
//! `GET /incidents/{id}/deadlines` and the deadline watcher).
//!
//! Why computed per request rather than a stored `next_deadline_at` column: whether a deadline
//! is overdue depends on the incident's grade, status and timeline (notification,
//! acknowledgement, feedback times), on its organization's type (CII or not, which can change
//! in the directory without touching the incident), on the versioned deadline policy data, and
//! on the clock. A stored column would have to be maintained on every status change, every
//! regrade, every directory change and every policy update, on both backends, and would go
//! stale silently when one path forgets; computing it keeps one source of truth. The cost is
//! bounded instead: the handler walks the scoped open incidents in store pages of [`BATCH`]
//! (keyset order, newest first) and holds at most one store page, the page being built, and
//! the organizations met so far. A request examines at most [`MAX_SCANNED`] incidents; when
//! it stops there, it answers with what it found (possibly fewer than `limit`, possibly none)
//! and a cursor to continue, so a client pages on until `next_cursor` is absent. A page that
//! fills up mid-batch ends with a cursor right after its last incident, so nothing is skipped
//! or repeated.

use crate::error::ApiError;
use serde::Serialize;
use std::collections::HashMap;
use vigil_incident::deadline::{self, IncidentClock};
use vigil_model::{Incident, OrgId, Organization, Page, Scope, Timestamp};
use vigil_store::{Cursor, IncidentQuery, Store};

/// Incidents read from the store per step.
pub const BATCH: usize = 200;
/// Most incidents examined for one request.
pub const MAX_SCANNED: usize = 5_000;

/// A deadline passed and not met.
#[derive(Debug, Clone, Serialize)]
pub struct OverdueDeadline {
    /// `report`, `escalate`, `acknowledge`, `remediate`.
    pub kind: &'static str,
    pub due: Timestamp,
    /// How long past due, in whole minutes.
    pub minutes_over: i64,
}

/// An incident with its overdue deadlines, most overdue first.
#[derive(Debug, Clone, Serialize)]
pub struct OverdueIncident {
    #[serde(flatten)]
    pub incident: Incident,
    pub overdue: Vec<OverdueDeadline>,
}

/// The overdue deadlines of an incident of `org` at `now` (empty for closed incidents).
pub fn overdue_of(inc: &Incident, org: &Organization, now: Timestamp) -> Vec<OverdueDeadline> {
    if !inc.status.is_open() {
        return Vec::new();
    }
    let clock = IncidentClock::of_incident(inc, &org.spec, false);
    deadline::overdue(&clock, now)
        .into_iter()
        .map(|o| OverdueDeadline {
            kind: o.kind.as_str(),
            due: o.due,
            minutes_over: o.by.as_secs() / 60,
        })
        .collect()
}

/// Organizations looked up once per request.
pub struct Orgs<'a> {
    store: &'a dyn Store,
    scope: Scope,
    seen: HashMap<OrgId, Option<Organization>>,
}

impl<'a> Orgs<'a> {
    pub fn new(store: &'a dyn Store, scope: Scope) -> Self {
        Self {
            store,
            scope,
            seen: HashMap::new(),
        }
    }

    pub async fn get(&mut self, id: OrgId) -> Result<Option<&Organization>, ApiError> {
        if !self.seen.contains_key(&id) {
            let org = self.store.get_org(self.scope, id).await?;
            self.seen.insert(id, org);
        }
        Ok(self.seen.get(&id).and_then(Option::as_ref))
    }
}

fn cursor_after(inc: &Incident) -> String {
    Cursor {
        micros: inc.created_at.as_microsecond(),
        key: inc.id.to_string(),
    }
    .encode()
}

/// One page of the incidents matching `q` (its other filters apply as usual) that are overdue
/// (`want_overdue`) or not. Only open incidents can be overdue, so asking for overdue closed
/// ones gives an empty page; closed incidents are never overdue.
pub async fn page(
    store: &dyn Store,
    scope: Scope,
    q: &IncidentQuery,
    want_overdue: bool,
    now: Timestamp,
) -> Result<Page<OverdueIncident>, ApiError> {
    if want_overdue && (q.open == Some(false) || q.status.is_some_and(|s| !s.is_open())) {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        });
    }
    let limit = vigil_store::page_size(q.limit);
    let mut batch = IncidentQuery {
        open: if want_overdue { Some(true) } else { q.open },
        limit: BATCH,
        ..q.clone()
    };
    let mut orgs = Orgs::new(store, scope);
    let mut items = Vec::new();
    let mut scanned = 0usize;
    loop {
        let page = store.list_incidents(scope, &batch).await?;
        let n = page.items.len();
        for (i, inc) in page.items.into_iter().enumerate() {
            scanned += 1;
            let Some(org) = orgs.get(inc.spec.org_id).await? else {
                continue;
            };
            let overdue = overdue_of(&inc, org, now);
            if overdue.is_empty() == want_overdue {
                continue;
            }
            items.push(OverdueIncident {
                incident: inc,
                overdue,
            });
            if items.len() == limit {
                let last_of_all = i + 1 == n && page.next_cursor.is_none();
                let next_cursor = (!last_of_all)
                    .then(|| items.last().map(|x| cursor_after(&x.incident)))
                    .flatten();
                return Ok(Page { items, next_cursor });
            }
        }
        match page.next_cursor {
            None => {
                return Ok(Page {
                    items,
                    next_cursor: None,
                });
            }
            Some(c) if scanned >= MAX_SCANNED => {
                metrics::counter!("vigil_incidents_overdue_scan_capped_total").increment(1);
                return Ok(Page {
                    items,
                    next_cursor: Some(c),
                });
            }
            Some(c) => batch.cursor = Some(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use vigil_model::{Contact, Grade, IncidentStatus, NewIncident, NewOrganization};
    use vigil_store::IncidentUpdate;
    use vigil_store::sqlite::SqliteStore;

    fn org_spec(name: &str, cii: bool) -> NewOrganization {
        NewOrganization {
            name: name.into(),
            uscc: None,
            sector: "power".into(),
            region_code: "330100".into(),
            mlps_level: 3,
            cii,
            miit_type: None,
            miit_grade: None,
            responsible: Contact {
                name: "Zhang San".into(),
                ..Contact::default()
            },
            contacts: vec![],
        }
    }

    async fn incident(store: &dyn Store, org: OrgId, title: &str, grade: Grade) -> Incident {
        store
            .create_incident(
                NewIncident {
                    org_id: org,
                    title: title.into(),
                    description: String::new(),
                    category: "MP".into(),
                    subcategory: None,
                    grade,
                    asset_ids: vec![],
                    alert_ids: vec![],
                    occurred_at: Timestamp::UNIX_EPOCH,
                },
                "user:t",
            )
            .await
            .expect("incident")
    }

    async fn step(store: &dyn Store, inc: &Incident, status: IncidentStatus) {
        store
            .update_incident(
                Scope::All,
                inc.id,
                IncidentUpdate {
                    status: Some(status),
                    ..IncidentUpdate::default()
                },
                "user:t",
            )
            .await
            .expect("step");
    }

    /// Every page of the filter, following the cursors; panics on a repeated incident.
    async fn all(
        store: &dyn Store,
        scope: Scope,
        want: bool,
        limit: usize,
        now: Timestamp,
    ) -> Vec<String> {
        let mut q = IncidentQuery {
            limit,
            ..IncidentQuery::default()
        };
        let mut out: Vec<String> = Vec::new();
        loop {
            let p = page(store, scope, &q, want, now).await.expect("page");
            assert!(p.items.len() <= limit.max(1));
            for x in &p.items {
                assert_eq!(x.overdue.is_empty(), !want, "{}", x.incident.spec.title);
                let t = x.incident.spec.title.clone();
                assert!(!out.contains(&t), "{t} listed twice");
                out.push(t);
            }
            match p.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => break,
            }
        }
        out.sort();
        out
    }

    #[tokio::test]
    async fn overdue_follows_grade_organization_type_and_workflow_across_pages() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("db")).expect("store"));
        let s = store.as_ref();
        let cii = s.create_org(org_spec("CII grid", true)).await.expect("org");
        let other = s
            .create_org(org_spec("Ordinary works", false))
            .await
            .expect("org");
        let cii_large = incident(s, cii.id, "cii-large", Grade::Large).await;
        incident(s, cii.id, "cii-general", Grade::General).await;
        incident(s, other.id, "other-large", Grade::Large).await;
        incident(
            s,
            other.id,
            "other-especially-major",
            Grade::EspeciallyMajor,
        )
        .await;
        let notified = incident(s, cii.id, "cii-general-notified", Grade::General).await;
        step(s, &notified, IncidentStatus::Triaged).await;
        step(s, &notified, IncidentStatus::Notified).await;
        let closed = incident(s, cii.id, "cii-major-closed", Grade::Major).await;
        for st in [
            IncidentStatus::Triaged,
            IncidentStatus::Notified,
            IncidentStatus::Acknowledged,
            IncidentStatus::Remediating,
            IncidentStatus::Remediated,
            IncidentStatus::Verified,
            IncidentStatus::Closed,
        ] {
            step(s, &closed, st).await;
        }
        let at = |mins: i64| {
            cii_large
                .created_at
                .checked_add(jiff::SignedDuration::from_mins(mins))
                .expect("time")
        };

        // Fresh: nothing is overdue, everything is "not overdue".
        assert!(all(s, Scope::All, true, 2, at(0)).await.is_empty());
        assert_eq!(all(s, Scope::All, false, 2, at(0)).await.len(), 6);

        // 90 minutes on: a CII organization reports 较大 and above within 1 h; an ordinary one
        // has 4 h; 一般 incidents need no report; a closed incident is never overdue.
        assert_eq!(all(s, Scope::All, true, 1, at(90)).await, ["cii-large"]);
        // Five hours on, the ordinary organization's reports are late too.
        assert_eq!(
            all(s, Scope::All, true, 1, at(300)).await,
            ["cii-large", "other-especially-major", "other-large"]
        );
        // A day and more after the notice, the 一般 incident is not acknowledged (24 h).
        let day = all(s, Scope::All, true, 2, at(25 * 60)).await;
        assert!(day.contains(&"cii-general-notified".to_string()), "{day:?}");
        assert!(!day.contains(&"cii-general".to_string()), "{day:?}");
        assert!(!day.contains(&"cii-major-closed".to_string()), "{day:?}");
        // The complement, across pages, covers the rest (closed included).
        let rest = all(s, Scope::All, false, 1, at(25 * 60)).await;
        assert_eq!(rest, ["cii-general", "cii-major-closed"]);

        // Scoped: the ordinary organization sees only its own.
        assert_eq!(
            all(s, Scope::Org(other.id), true, 5, at(300)).await,
            ["other-especially-major", "other-large"]
        );
        // Asking for overdue closed incidents is an empty answer, not an error.
        let closed_q = IncidentQuery {
            open: Some(false),
            ..IncidentQuery::default()
        };
        let p = page(s, Scope::All, &closed_q, true, at(300))
            .await
            .expect("page");
        assert!(p.items.is_empty() && p.next_cursor.is_none());
        // Other filters still apply.
        let graded = IncidentQuery {
            grade: Some(Grade::Large),
            ..IncidentQuery::default()
        };
        let p = page(s, Scope::All, &graded, true, at(300))
            .await
            .expect("page");
        let mut titles: Vec<_> = p
            .items
            .iter()
            .map(|x| x.incident.spec.title.as_str())
            .collect();
        titles.sort_unstable();
        assert_eq!(titles, ["cii-large", "other-large"]);
        assert_eq!(p.items[0].overdue[0].kind, "report");
    }
}
