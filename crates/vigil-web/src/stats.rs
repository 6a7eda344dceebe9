//! Incident statistics and the monthly situation report's figures.
//!
//! Computed from the stored incidents of a period (by registration time) and the directory:
//! counts by GB/T 20986 category and sub-category, grade, industry sector, province and month;
//! mean time to acknowledge (registration to the first `status:acknowledged`) and to close
//! (registration to `closed_at`); the overdue rate (share of incidents with a deadline that
//! is overdue now or was missed). Months and provinces are Beijing-time and GB/T 2260 prefixes.

use crate::error::ApiError;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use vigil_model::{Incident, OrgId, Organization, Scope, Timestamp, taxonomy};
use vigil_store::{IncidentQuery, Store};

/// Most incidents one statistics request reads (a report over more is refused, not cut).
pub const MAX_INCIDENTS: usize = 200_000;

/// One row of a breakdown: a code, its names, a count and its share of the total.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Count {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub count: u64,
    /// Percent of all incidents of the period, one decimal.
    pub percent: f64,
}

/// The figures of a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentStats {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub total: u64,
    pub open: u64,
    pub by_category: Vec<Count>,
    pub by_subcategory: Vec<Count>,
    pub by_grade: Vec<Count>,
    pub by_sector: Vec<Count>,
    pub by_province: Vec<Count>,
    /// `YYYY-MM` (Beijing time) in order.
    pub by_month: Vec<Count>,
    /// Mean hours from registration to acknowledgement, over acknowledged incidents.
    pub mean_hours_to_acknowledge: Option<f64>,
    pub acknowledged: u64,
    /// Mean hours from registration to closing, over closed incidents.
    pub mean_hours_to_close: Option<f64>,
    pub closed: u64,
    /// Incidents with a deadline overdue now or missed.
    pub overdue: u64,
    pub overdue_percent: f64,
}

fn percent(n: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        (n as f64 * 1000.0 / total as f64).round() / 10.0
    }
}

fn rows(
    counts: HashMap<String, u64>,
    total: u64,
    names: impl Fn(&str) -> (String, String),
    by_code: bool,
) -> Vec<Count> {
    let mut v: Vec<Count> = counts
        .into_iter()
        .map(|(code, count)| {
            let (name_zh, name_en) = names(&code);
            Count {
                percent: percent(count, total),
                code,
                name_zh,
                name_en,
                count,
            }
        })
        .collect();
    if by_code {
        v.sort_by(|a, b| a.code.cmp(&b.code));
    } else {
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
    }
    v
}

fn names(t: Option<&taxonomy::Term>, code: &str) -> (String, String) {
    t.map_or_else(
        || (code.to_string(), code.to_string()),
        |t| (t.name_zh.clone(), t.name_en.clone()),
    )
}

fn category_names(code: &str) -> (String, String) {
    let t = taxonomy::incident_category(code)
        .map(|c| &c.term)
        .or_else(|| taxonomy::incident_subcategory(code).map(|(_, s)| s));
    names(t, code)
}

fn sector_names(code: &str) -> (String, String) {
    names(taxonomy::sector(code).map(|s| &s.term), code)
}

fn province_names(code: &str) -> (String, String) {
    names(taxonomy::province_of(&format!("{code}0000")), code)
}

/// The figures over `incidents`, with `orgs` for sectors and provinces, at `now`.
pub fn compute(
    incidents: &[Incident],
    orgs: &HashMap<OrgId, Organization>,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    now: Timestamp,
) -> IncidentStats {
    let total = incidents.len() as u64;
    let mut category: HashMap<String, u64> = HashMap::new();
    let mut subcategory: HashMap<String, u64> = HashMap::new();
    let mut grade: HashMap<String, u64> = HashMap::new();
    let mut sector: HashMap<String, u64> = HashMap::new();
    let mut province: HashMap<String, u64> = HashMap::new();
    let mut month: BTreeMap<String, u64> = BTreeMap::new();
    let (mut ack_n, mut ack_secs) = (0u64, 0i64);
    let (mut close_n, mut close_secs) = (0u64, 0i64);
    let mut open = 0u64;
    let mut overdue = 0u64;
    let beijing = jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(8));
    for inc in incidents {
        *category.entry(inc.spec.category.clone()).or_default() += 1;
        if let Some(s) = &inc.spec.subcategory {
            *subcategory.entry(s.clone()).or_default() += 1;
        }
        *grade
            .entry(inc.spec.grade.as_str().to_string())
            .or_default() += 1;
        *month
            .entry(
                inc.created_at
                    .to_zoned(beijing.clone())
                    .strftime("%Y-%m")
                    .to_string(),
            )
            .or_default() += 1;
        if inc.status.is_open() {
            open += 1;
        }
        if let Some(ack) = inc
            .timeline
            .iter()
            .filter(|e| e.action == "status:acknowledged")
            .map(|e| e.at)
            .min()
        {
            ack_n += 1;
            ack_secs += ack.duration_since(inc.created_at).as_secs().max(0);
        }
        if let Some(c) = inc.closed_at {
            close_n += 1;
            close_secs += c.duration_since(inc.created_at).as_secs().max(0);
        }
        if let Some(org) = orgs.get(&inc.spec.org_id) {
            *sector.entry(org.spec.sector.clone()).or_default() += 1;
            let p: String = org.spec.region_code.chars().take(2).collect();
            *province.entry(p).or_default() += 1;
            if crate::workflow::deadlines(inc, org, now).is_ok_and(|d| {
                d.iter()
                    .any(|d| d.status == "overdue" || d.status == "missed")
            }) {
                overdue += 1;
            }
        }
    }
    let grade_names = |code: &str| {
        vigil_model::Grade::parse(code).map_or_else(
            || (code.to_string(), code.to_string()),
            |g| (g.name("zh-CN").to_string(), g.name("en").to_string()),
        )
    };
    let mut by_grade = rows(grade, total, grade_names, false);
    by_grade.sort_by_key(|c| vigil_model::Grade::parse(&c.code));
    let mean_hours = |n: u64, secs: i64| {
        (n > 0).then(|| ((secs as f64 / n as f64 / 3600.0) * 10.0).round() / 10.0)
    };
    IncidentStats {
        from,
        to,
        total,
        open,
        by_category: rows(category, total, category_names, false),
        by_subcategory: rows(subcategory, total, category_names, false),
        by_grade,
        by_sector: rows(sector, total, sector_names, false),
        by_province: rows(province, total, province_names, false),
        by_month: rows(
            month.into_iter().collect(),
            total,
            |c| (c.to_string(), c.to_string()),
            true,
        ),
        mean_hours_to_acknowledge: mean_hours(ack_n, ack_secs),
        acknowledged: ack_n,
        mean_hours_to_close: mean_hours(close_n, close_secs),
        closed: close_n,
        overdue,
        overdue_percent: percent(overdue, total),
    }
}

/// The sentence a situation report opens with: how many incidents, and the leading
/// sub-category (or category) with its share.
pub fn headline(s: &IncidentStats, zh: bool) -> String {
    let top = s
        .by_subcategory
        .first()
        .filter(|c| c.count > 0)
        .or_else(|| s.by_category.first());
    match (top, zh) {
        (None, true) => format!("本月共跟踪网络安全事件 {} 起。", s.total),
        (None, false) => format!("{} incidents were tracked this month.", s.total),
        (Some(c), true) => format!(
            "本月共跟踪网络安全事件 {} 起，其中{} {} 起，占 {:.1}%。",
            s.total, c.name_zh, c.count, c.percent
        ),
        (Some(c), false) => format!(
            "{} incidents were tracked this month, {} of them {} ({:.1}%).",
            s.total,
            c.count,
            c.name_en.to_lowercase(),
            c.percent
        ),
    }
}

/// Reads the incidents registered in `[from, to)` within `scope` (and `org`), and their
/// organizations, and computes the figures.
pub async fn load(
    store: &dyn Store,
    scope: Scope,
    org: Option<OrgId>,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
) -> Result<IncidentStats, ApiError> {
    let mut incidents: Vec<Incident> = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_incidents(
                scope,
                &IncidentQuery {
                    org_id: org,
                    from,
                    to,
                    limit: vigil_store::MAX_PAGE,
                    cursor,
                    ..IncidentQuery::default()
                },
            )
            .await?;
        incidents.extend(page.items);
        if incidents.len() > MAX_INCIDENTS {
            return Err(ApiError::invalid(
                "from",
                format!(
                    "the period holds more than {MAX_INCIDENTS} incidents; choose a shorter one"
                ),
            ));
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut orgs: HashMap<OrgId, Organization> = HashMap::new();
    for inc in &incidents {
        if !orgs.contains_key(&inc.spec.org_id)
            && let Some(o) = store.get_org(scope, inc.spec.org_id).await?
        {
            orgs.insert(o.id, o);
        }
    }
    Ok(compute(&incidents, &orgs, from, to, Timestamp::now()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::{
        Contact, Grade, IncidentId, IncidentStatus, NewIncident, NewOrganization, TimelineEntry,
    };

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn org(sector: &str, region: &str) -> Organization {
        Organization {
            id: OrgId::new(),
            spec: NewOrganization {
                name: format!("{sector} {region}"),
                uscc: None,
                sector: sector.into(),
                region_code: region.into(),
                mlps_level: 3,
                cii: false,
                miit_type: None,
                miit_grade: None,
                responsible: Contact {
                    name: "X".into(),
                    ..Contact::default()
                },
                contacts: vec![],
            },
            created_at: ts("2026-01-01T00:00:00Z"),
            updated_at: ts("2026-01-01T00:00:00Z"),
        }
    }

    fn incident(org: OrgId, sub: &str, grade: Grade, created: &str) -> Incident {
        Incident {
            id: IncidentId::new(),
            spec: NewIncident {
                org_id: org,
                title: "t".into(),
                description: String::new(),
                category: sub[..2].to_string(),
                subcategory: Some(sub.into()),
                grade,
                asset_ids: vec![],
                alert_ids: vec![],
                occurred_at: ts(created),
            },
            status: IncidentStatus::Open,
            created_at: ts(created),
            updated_at: ts(created),
            closed_at: None,
            timeline: vec![],
        }
    }

    #[test]
    fn figures_count_share_and_time_the_period() {
        let water = org("water", "330100");
        let power = org("power", "320500");
        let orgs: HashMap<OrgId, Organization> =
            [(water.id, water.clone()), (power.id, power.clone())].into();
        let mut v = vec![
            incident(water.id, "MPRANS", Grade::Large, "2026-03-01T02:00:00Z"),
            incident(water.id, "MPRANS", Grade::General, "2026-03-02T02:00:00Z"),
            incident(power.id, "MPRANS", Grade::General, "2026-03-31T17:00:00Z"),
            incident(power.id, "NADOS", Grade::General, "2026-03-10T00:00:00Z"),
        ];
        // Acknowledged two hours after registration, closed four hours after.
        v[1].status = IncidentStatus::Closed;
        v[1].closed_at = Some(ts("2026-03-02T06:00:00Z"));
        v[1].timeline.push(TimelineEntry {
            at: ts("2026-03-02T04:00:00Z"),
            actor: "user:o".into(),
            action: "status:acknowledged".into(),
            note: String::new(),
        });
        let s = compute(&v, &orgs, None, None, ts("2026-04-01T00:00:00Z"));
        assert_eq!(s.total, 4);
        assert_eq!(s.open, 3);
        assert_eq!(s.by_subcategory[0].code, "MPRANS");
        assert_eq!(s.by_subcategory[0].count, 3);
        assert_eq!(s.by_subcategory[0].percent, 75.0);
        assert_eq!(s.by_category[0].code, "MP");
        assert_eq!(s.mean_hours_to_acknowledge, Some(2.0));
        assert_eq!(s.mean_hours_to_close, Some(4.0));
        assert_eq!((s.acknowledged, s.closed), (1, 1));
        // 2026-03-31T17:00Z is April 1st in Beijing.
        let months: Vec<(&str, u64)> = s
            .by_month
            .iter()
            .map(|c| (c.code.as_str(), c.count))
            .collect();
        assert_eq!(months, vec![("2026-03", 3), ("2026-04", 1)]);
        let provinces: Vec<&str> = s.by_province.iter().map(|c| c.code.as_str()).collect();
        assert!(
            provinces.contains(&"33") && provinces.contains(&"32"),
            "{provinces:?}"
        );
        assert!(
            s.by_province.iter().all(|c| c.name_zh != c.code),
            "{:?}",
            s.by_province
        );
        // Grades in order of severity, 较大 before 一般.
        assert_eq!(s.by_grade[0].code, "large");
        // The 较大 incident was never reported within its deadline: overdue.
        assert!(s.overdue >= 1);
        let h = headline(&s, true);
        assert!(h.contains("4 起") && h.contains("75.0%"), "{h}");
        let e = compute(&[], &orgs, None, None, ts("2026-04-01T00:00:00Z"));
        assert_eq!((e.total, e.overdue_percent), (0, 0.0));
    }
}
