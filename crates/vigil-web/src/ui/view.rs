//! Small helpers the page handlers share: query parameters, select options, time display,
//! taxonomy names.

use super::i18n::Catalog;
use std::collections::HashMap;
use vigil_model::taxonomy;
use vigil_model::{OrgId, Organization, Timestamp};

/// Rows per list page.
pub const PAGE_SIZE: usize = 50;

/// Times are shown in China Standard Time (UTC+8, no daylight saving).
pub fn china_tz() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::fixed(jiff::tz::offset(8))
}

/// `2026-03-01 16:04:05` in UTC+8.
pub fn fmt_time(t: Timestamp) -> String {
    t.to_zoned(china_tz())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

pub fn fmt_opt_time(t: Option<Timestamp>) -> String {
    t.map(fmt_time).unwrap_or_default()
}

/// Parses a time typed into a search form: RFC 3339, or a date and time without offset taken
/// as UTC+8 (what `datetime-local` inputs send), or a bare date (midnight UTC+8).
pub fn parse_form_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return dt.to_zoned(china_tz()).ok().map(|z| z.timestamp());
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return d.to_zoned(china_tz()).ok().map(|z| z.timestamp());
    }
    None
}

/// The value a `datetime-local` input shows for a time (UTC+8).
pub fn form_time(t: Timestamp) -> String {
    t.to_zoned(china_tz())
        .strftime("%Y-%m-%dT%H:%M")
        .to_string()
}

/// The query string of a page, kept in order; repeated names are allowed.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parses a raw query string; a malformed one counts as empty.
    pub fn parse(raw: Option<&str>) -> Self {
        Self(serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default())
    }

    /// The first non-blank value of `name`, trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    /// Every non-blank value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
            .collect()
    }

    pub fn string(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_string()
    }

    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("1" | "true" | "on" | "yes"))
    }

    /// `path?…` with the same non-blank parameters, `cursor` replaced by `cursor`.
    pub fn with_cursor(&self, path: &str, cursor: Option<&str>) -> String {
        let mut kept: Vec<(&str, &str)> = self
            .0
            .iter()
            .filter(|(k, v)| k != "cursor" && !v.trim().is_empty())
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Some(c) = cursor {
            kept.push(("cursor", c));
        }
        let q = serde_urlencoded::to_string(&kept).unwrap_or_default();
        if q.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{q}")
        }
    }
}

/// One `<option>` of a filter select.
#[derive(Debug, Clone)]
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Opt {
    pub fn new(value: impl Into<String>, label: impl Into<String>, current: Option<&str>) -> Self {
        let value = value.into();
        let selected = current == Some(value.as_str());
        Self {
            value,
            label: label.into(),
            selected,
        }
    }
}

/// Options with a leading "any" entry.
pub fn options<I, V, L>(t: &Catalog, items: I, current: Option<&str>) -> Vec<Opt>
where
    I: IntoIterator<Item = (V, L)>,
    V: Into<String>,
    L: Into<String>,
{
    let mut v = vec![Opt::new("", t.t("filter.any"), current)];
    v.extend(
        items
            .into_iter()
            .map(|(value, label)| Opt::new(value, label, current)),
    );
    v
}

/// Names of the organizations in scope, for list columns.
pub struct OrgNames(HashMap<OrgId, String>);

impl OrgNames {
    pub fn new(orgs: &[Organization]) -> Self {
        Self(orgs.iter().map(|o| (o.id, o.spec.name.clone())).collect())
    }

    pub fn name(&self, id: OrgId) -> String {
        self.0.get(&id).cloned().unwrap_or_else(|| id.to_string())
    }
}

/// `Name (code)` of a GB/T 20986 category or sub-category code.
pub fn category_name(code: &str, lang: &str) -> String {
    if let Some(c) = taxonomy::incident_category(code) {
        return c.term.name(lang).to_string();
    }
    if let Some((_, s)) = taxonomy::incident_subcategory(code) {
        return s.name(lang).to_string();
    }
    code.to_string()
}

pub fn sector_name(code: &str, lang: &str) -> String {
    taxonomy::sector(code)
        .map(|s| s.term.name(lang).to_string())
        .unwrap_or_else(|| code.to_string())
}

/// The most specific known division name, with the province when that is different.
pub fn region_name(code: &str, lang: &str) -> String {
    let Some(r) = taxonomy::region(code) else {
        return code.to_string();
    };
    match taxonomy::province_of(code) {
        Some(p) if p.code != r.code => {
            let sep = if lang.starts_with("zh") { "" } else { ", " };
            if lang.starts_with("zh") {
                format!("{}{sep}{}", p.name(lang), r.name(lang))
            } else {
                format!("{}{sep}{}", r.name(lang), p.name(lang))
            }
        }
        _ => r.name(lang).to_string(),
    }
}

pub fn mlps_name(level: u8, lang: &str) -> String {
    taxonomy::mlps_levels()
        .iter()
        .find(|t| t.code == level.to_string())
        .map(|t| t.name(lang).to_string())
        .unwrap_or_else(|| level.to_string())
}

pub fn miit_grade_name(grade: u8, lang: &str) -> String {
    taxonomy::miit_grades()
        .iter()
        .find(|t| t.code == grade.to_string())
        .map(|t| t.name(lang).to_string())
        .unwrap_or_else(|| grade.to_string())
}

/// At most `max` characters, with an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// A JSON value as text: scalars plainly, arrays and objects as compact JSON.
pub fn value_text(v: &serde_json::Value) -> String {
    vigil_model::event::value_text(v).unwrap_or_else(|| v.to_string())
}

/// CSS class of a 0–100 share, in steps of 5 (`pct-35`): widths without inline styles.
pub fn pct_class(value: u64, max: u64) -> String {
    let pct = if max == 0 {
        0
    } else {
        ((value * 100).div_ceil(max)).min(100)
    };
    let step = if value > 0 { pct.div_ceil(5) * 5 } else { 0 };
    format!("pct-{step}")
}

/// Checks a posted form (same origin, CSRF token) and then that the user may do what it
/// asks (`allowed`); a refusal for the role is counted in `vigil_access_denied_total`.
pub fn check_post_allowed(
    ui: &super::UiAuth,
    headers: &axum::http::HeaderMap,
    csrf: &str,
    allowed: bool,
) -> Result<(), super::UiError> {
    ui.check_post(headers, csrf)?;
    if !allowed {
        metrics::counter!("vigil_access_denied_total").increment(1);
        return Err(super::UiError::forbidden(ui.catalog()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_times_without_offset_are_china_time() {
        let t = parse_form_time("2026-03-01T08:00").expect("time");
        assert_eq!(t.to_string(), "2026-03-01T00:00:00Z");
        assert_eq!(fmt_time(t), "2026-03-01 08:00:00");
        assert_eq!(form_time(t), "2026-03-01T08:00");
        assert!(parse_form_time("2026-03-01T08:00:00Z").is_some());
        assert!(parse_form_time("2026-03-01").is_some());
        assert!(parse_form_time("yesterday").is_none());
    }

    #[test]
    fn cursor_links_keep_filters_and_replace_the_cursor() {
        let p = Params::parse(Some("q=a%20b&filter=x:1&filter=y:2&cursor=old&org_id="));
        assert_eq!(p.get("q"), Some("a b"));
        assert_eq!(p.all("filter"), vec!["x:1", "y:2"]);
        assert_eq!(p.get("org_id"), None);
        assert_eq!(
            p.with_cursor("/events", Some("n&1")),
            "/events?q=a+b&filter=x%3A1&filter=y%3A2&cursor=n%261"
        );
        assert_eq!(Params::default().with_cursor("/x", None), "/x");
    }

    #[test]
    fn shares_round_up_to_steps_of_five() {
        assert_eq!(pct_class(0, 10), "pct-0");
        assert_eq!(pct_class(1, 1000), "pct-5");
        assert_eq!(pct_class(10, 10), "pct-100");
        assert_eq!(pct_class(3, 10), "pct-30");
        assert_eq!(pct_class(5, 0), "pct-0");
    }

    #[test]
    fn names_come_from_the_taxonomies() {
        assert_eq!(category_name("MP", "en"), "Malicious program");
        assert_eq!(category_name("ZZ", "en"), "ZZ");
        assert_eq!(region_name("330100", "zh-CN"), "浙江省杭州市");
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
