//! Alert aggregation: alerts of the same organization, asset, rule family and time window
//! become one incident candidate.
//!
//! The window is a fixed (tumbling) window aligned to local midnight of a UTC offset
//! (UTC+8 by default), so a one-day window is a Shanghai calendar day. A pure function cannot
//! keep a sliding window open; a burst that crosses a window boundary yields two candidates,
//! which the analyst can merge.
//!
//! The rule family is, in order: `details.rule_family` when the detection engine sets it (a
//! Sigma rule's family, an IOC feed), else the alert's suggested GB/T 20986 sub-category, else
//! `source:rule_id`.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use vigil_model::{AssetId, NewAlert, OrgId};

/// Aggregation window length and alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    length: SignedDuration,
    /// Offset of the local midnight windows align to, east of UTC.
    align_offset: SignedDuration,
}

/// A window that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("aggregation window: {0}")]
pub struct WindowError(String);

impl Window {
    pub const MIN: SignedDuration = SignedDuration::from_mins(1);
    pub const MAX: SignedDuration = SignedDuration::from_hours(24 * 31);

    /// A window of `length` (1 minute to 31 days) aligned to UTC+8 midnight.
    pub fn new(length: SignedDuration) -> Result<Self, WindowError> {
        Self::aligned(length, SignedDuration::from_hours(8))
    }

    /// A window aligned to midnight at `offset` east of UTC (between -14 h and +14 h).
    pub fn aligned(length: SignedDuration, offset: SignedDuration) -> Result<Self, WindowError> {
        if length < Self::MIN || length > Self::MAX {
            return Err(WindowError(format!(
                "length {length:#} is outside 1 minute to 31 days"
            )));
        }
        if offset.abs() > SignedDuration::from_hours(14) {
            return Err(WindowError(format!(
                "offset {offset:#} is beyond ±14 hours"
            )));
        }
        Ok(Self {
            length,
            align_offset: offset,
        })
    }

    pub fn length(&self) -> SignedDuration {
        self.length
    }

    /// The start of the window `t` falls in.
    pub fn start_of(&self, t: Timestamp) -> Timestamp {
        let len = self.length.as_nanos();
        let local = t.as_nanosecond() + self.align_offset.as_nanos();
        let start = local.div_euclid(len) * len - self.align_offset.as_nanos();
        Timestamp::from_nanosecond(start).unwrap_or(t)
    }
}

/// Alerts with equal keys aggregate into one incident candidate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupKey {
    pub org_id: OrgId,
    pub asset_id: Option<AssetId>,
    pub rule_family: String,
    pub window_start: Timestamp,
}

/// The rule family of an alert (see the module docs).
pub fn rule_family(alert: &NewAlert) -> String {
    if let Some(f) = alert
        .details
        .get("rule_family")
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        return f.to_string();
    }
    if let Some(c) = alert.category.as_deref().filter(|c| !c.is_empty()) {
        return c.to_string();
    }
    format!("{}:{}", alert.source.as_str(), alert.rule_id)
}

/// The aggregation key of an alert.
pub fn group_key(alert: &NewAlert, window: &Window) -> GroupKey {
    GroupKey {
        org_id: alert.org_id,
        asset_id: alert.asset_id,
        rule_family: rule_family(alert),
        window_start: window.start_of(alert.detected_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::{AlertSource, Severity};

    fn alert(org: OrgId, asset: Option<AssetId>, rule: &str, at: &str) -> NewAlert {
        NewAlert {
            org_id: org,
            asset_id: asset,
            source: AlertSource::Sigma,
            rule_id: rule.into(),
            title: "t".into(),
            severity: Severity::High,
            category: None,
            detected_at: at.parse().expect("ts"),
            event_ids: vec![],
            details: Default::default(),
        }
    }

    fn hour() -> Window {
        Window::new(SignedDuration::from_hours(1)).expect("window")
    }

    #[test]
    fn same_org_asset_family_and_window_aggregate() {
        let (org, asset) = (OrgId::new(), AssetId::new());
        let a = alert(org, Some(asset), "r1", "2025-11-03T01:05:00Z");
        let b = alert(org, Some(asset), "r1", "2025-11-03T01:59:59Z");
        assert_eq!(group_key(&a, &hour()), group_key(&b, &hour()));
        assert_eq!(
            group_key(&a, &hour()).window_start.to_string(),
            "2025-11-03T01:00:00Z"
        );
    }

    #[test]
    fn any_difference_separates() {
        let (org, asset) = (OrgId::new(), AssetId::new());
        let base = alert(org, Some(asset), "r1", "2025-11-03T01:05:00Z");
        let k = group_key(&base, &hour());
        let variants = [
            alert(OrgId::new(), Some(asset), "r1", "2025-11-03T01:05:00Z"),
            alert(org, Some(AssetId::new()), "r1", "2025-11-03T01:05:00Z"),
            alert(org, None, "r1", "2025-11-03T01:05:00Z"),
            alert(org, Some(asset), "r2", "2025-11-03T01:05:00Z"),
            alert(org, Some(asset), "r1", "2025-11-03T02:00:00Z"),
        ];
        for v in &variants {
            assert_ne!(group_key(v, &hour()), k, "{v:?}");
        }
    }

    #[test]
    fn rule_family_prefers_engine_family_then_category_then_rule() {
        let org = OrgId::new();
        let mut a = alert(org, None, "5f1c-uuid", "2025-11-03T01:05:00Z");
        assert_eq!(rule_family(&a), "sigma:5f1c-uuid");
        a.category = Some("NACRED".into());
        let mut b = alert(org, None, "other-rule", "2025-11-03T01:06:00Z");
        b.category = Some("NACRED".into());
        // Two brute-force rules on the same host in the same hour: one candidate.
        assert_eq!(group_key(&a, &hour()), group_key(&b, &hour()));
        a.details = serde_json_object("rule_family", "win_bruteforce");
        assert_eq!(rule_family(&a), "win_bruteforce");
    }

    fn serde_json_object(k: &str, v: &str) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert(k.into(), serde_json::Value::String(v.into()));
        serde_json::Value::Object(m)
    }

    #[test]
    fn day_windows_follow_shanghai_midnight() {
        let day = Window::new(SignedDuration::from_hours(24)).expect("day");
        let org = OrgId::new();
        // 2025-10-31 23:30 CST and 2025-11-01 00:30 CST: different local days, same UTC day.
        let a = alert(org, None, "r", "2025-10-31T15:30:00Z");
        let b = alert(org, None, "r", "2025-10-31T16:30:00Z");
        assert_ne!(group_key(&a, &day), group_key(&b, &day));
        assert_eq!(
            group_key(&b, &day).window_start.to_string(),
            "2025-10-31T16:00:00Z"
        );
        // UTC-aligned windows put them together.
        let utc =
            Window::aligned(SignedDuration::from_hours(24), SignedDuration::ZERO).expect("utc");
        assert_eq!(group_key(&a, &utc), group_key(&b, &utc));
        // Before the epoch, windows still floor correctly.
        let old = alert(org, None, "r", "1969-12-31T23:59:00Z");
        assert_eq!(
            group_key(&old, &utc).window_start.to_string(),
            "1969-12-31T00:00:00Z"
        );
    }

    #[test]
    fn unusable_windows_are_refused() {
        assert!(Window::new(SignedDuration::from_secs(59)).is_err());
        assert!(Window::new(SignedDuration::from_hours(24 * 32)).is_err());
        assert!(Window::new(SignedDuration::from_secs(-60)).is_err());
        assert!(
            Window::aligned(
                SignedDuration::from_hours(1),
                SignedDuration::from_hours(15)
            )
            .is_err()
        );
    }
}
