//! Early warnings (预警通报): bulletins the platform sends to a target set of organizations.
//!
//! A warning has a level on the four-colour scale (red, orange, yellow, blue — 红/橙/黄/蓝),
//! its text and references (CVE ids, indicators, affected products, recommended measures),
//! and a [`WarningTargets`] specification of who it concerns. The store resolves the targets
//! into a recipient list once, at issue time, and freezes it: an organization that later gets
//! a matching asset is not added, one that later loses it is not removed. Each recipient then
//! has its own state ([`WarningRecipient`]): delivered, acknowledged when and by whom, and an
//! optional response.
//!
//! Targets combine like a search form: explicit organization ids are always recipients; the
//! other criteria are filters that all must hold (sector *and* region *and* MLPS level ...),
//! with the values listed within one criterion being alternatives (sector power *or* water).
//! Asset criteria select organizations that own at least one asset matching any of them,
//! where all fields given in one criterion must match the same asset.

use crate::error::{ValidationError, check_len, check_text};
use crate::{OrgId, Timestamp, WarningId, taxonomy};
use serde::{Deserialize, Serialize};

/// Most explicit organization ids, sectors, region prefixes or asset criteria in one warning.
pub const MAX_TARGET_ITEMS: usize = 1_000;
/// Most CVE ids or indicators one warning lists.
pub const MAX_REFERENCES: usize = 500;
/// Longest acknowledgement response.
pub const MAX_RESPONSE_CHARS: usize = 4_000;

/// The warning level, four colours from the most to the least severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningLevel {
    /// 红色预警: especially serious.
    Red,
    /// 橙色预警: serious.
    Orange,
    /// 黄色预警: fairly serious.
    Yellow,
    /// 蓝色预警: general.
    Blue,
}

impl WarningLevel {
    pub const ALL: [Self; 4] = [Self::Red, Self::Orange, Self::Yellow, Self::Blue];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Red => "red",
            Self::Orange => "orange",
            Self::Yellow => "yellow",
            Self::Blue => "blue",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The level's name: `红色预警` / `Red warning`.
    pub fn name(self, lang: &str) -> &'static str {
        let zh = lang.starts_with("zh");
        match (self, zh) {
            (Self::Red, true) => "红色预警",
            (Self::Red, false) => "Red warning",
            (Self::Orange, true) => "橙色预警",
            (Self::Orange, false) => "Orange warning",
            (Self::Yellow, true) => "黄色预警",
            (Self::Yellow, false) => "Yellow warning",
            (Self::Blue, true) => "蓝色预警",
            (Self::Blue, false) => "Blue warning",
        }
    }

    /// The colour alone: `红` / `red`.
    pub fn colour_name(self, lang: &str) -> &'static str {
        let zh = lang.starts_with("zh");
        match (self, zh) {
            (Self::Red, true) => "红",
            (Self::Orange, true) => "橙",
            (Self::Yellow, true) => "黄",
            (Self::Blue, true) => "蓝",
            (l, false) => l.as_str(),
        }
    }

    /// Roman level, I (red) to IV (blue), as incident grades are numbered.
    pub fn level(self) -> &'static str {
        match self {
            Self::Red => "I",
            Self::Orange => "II",
            Self::Yellow => "III",
            Self::Blue => "IV",
        }
    }
}

/// One asset-inventory criterion: organizations owning an asset on which every given field
/// matches. Comparisons ignore ASCII letter case; `vendor` must be equal, the others are
/// prefixes (`product` "S7-1200" matches model "S7-1200 CPU 1214C"; `purl_prefix`
/// "pkg:generic/openssl@3.0" matches every 3.0.x in a software inventory).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetCriterion {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Prefix of the asset's model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Prefix of the asset's firmware version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    /// Prefix of a package URL in the asset's software inventory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl_prefix: Option<String>,
    /// Prefix of a CPE 2.3 name in the asset's software inventory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpe_prefix: Option<String>,
}

impl AssetCriterion {
    fn fields(&self) -> [(&'static str, &Option<String>); 5] {
        [
            ("vendor", &self.vendor),
            ("product", &self.product),
            ("firmware", &self.firmware),
            ("purl_prefix", &self.purl_prefix),
            ("cpe_prefix", &self.cpe_prefix),
        ]
    }

    pub fn validate(&self, field: &str) -> Result<(), ValidationError> {
        let mut any = false;
        for (name, value) in self.fields() {
            if let Some(v) = value {
                check_text(&format!("{field}.{name}"), v, 200)?;
                any = true;
            }
        }
        if !any {
            return Err(ValidationError::new(
                field,
                "give at least one of vendor, product, firmware, purl_prefix, cpe_prefix",
            ));
        }
        if let Some(p) = &self.purl_prefix
            && !p.starts_with("pkg:")
        {
            return Err(ValidationError::new(
                format!("{field}.purl_prefix"),
                "a package URL starts with 'pkg:'",
            ));
        }
        if let Some(c) = &self.cpe_prefix
            && !c.starts_with("cpe:2.3:")
        {
            return Err(ValidationError::new(
                format!("{field}.cpe_prefix"),
                "a CPE 2.3 name starts with 'cpe:2.3:'",
            ));
        }
        Ok(())
    }

    /// "vendor=Siemens, product=S7-1200" for display.
    pub fn describe(&self) -> String {
        self.fields()
            .iter()
            .filter_map(|(n, v)| v.as_ref().map(|v| format!("{n}={v}")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Who a warning is for. See the module documentation for how the criteria combine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarningTargets {
    /// Every organization (further narrowed by the filters below, if any are given).
    #[serde(default)]
    pub all: bool,
    /// Organizations addressed by name, whatever the filters say.
    #[serde(default)]
    pub org_ids: Vec<OrgId>,
    /// Industry sector codes, any of them.
    #[serde(default)]
    pub sectors: Vec<String>,
    /// GB/T 2260 code prefixes of 2, 4 or 6 digits, any of them ("3301": every organization
    /// in Hangzhou).
    #[serde(default)]
    pub region_prefixes: Vec<String>,
    /// MLPS protection level at least this (1–5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlps_min: Option<u8>,
    /// Only operators of critical information infrastructure.
    #[serde(default)]
    pub cii_only: bool,
    /// MIIT industrial-internet grade at least this (1–3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub miit_grade_min: Option<u8>,
    /// Organizations with an asset matching any of these.
    #[serde(default)]
    pub assets: Vec<AssetCriterion>,
}

impl WarningTargets {
    /// Whether any filter criterion (beyond explicit ids) is given; with none and without
    /// `all`, only the explicit organizations are recipients.
    pub fn has_filters(&self) -> bool {
        !self.sectors.is_empty()
            || !self.region_prefixes.is_empty()
            || self.mlps_min.is_some()
            || self.cii_only
            || self.miit_grade_min.is_some()
            || !self.assets.is_empty()
    }

    /// Whether the filter query runs at all (`all`, or some filter).
    pub fn selects_by_filter(&self) -> bool {
        self.all || self.has_filters()
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        if !self.selects_by_filter() && self.org_ids.is_empty() {
            return Err(ValidationError::new(
                "targets",
                "choose the recipients: organization ids, criteria (sector, region, MLPS level, CII, MIIT grade, assets) or all",
            ));
        }
        for (name, len) in [
            ("targets.org_ids", self.org_ids.len()),
            ("targets.sectors", self.sectors.len()),
            ("targets.region_prefixes", self.region_prefixes.len()),
            ("targets.assets", self.assets.len()),
        ] {
            if len > MAX_TARGET_ITEMS {
                return Err(ValidationError::new(
                    name,
                    format!("at most {MAX_TARGET_ITEMS} entries"),
                ));
            }
        }
        for (i, s) in self.sectors.iter().enumerate() {
            if taxonomy::sector(s).is_none() {
                return Err(ValidationError::new(
                    format!("targets.sectors[{i}]"),
                    format!("unknown sector code '{s}'"),
                ));
            }
        }
        for (i, p) in self.region_prefixes.iter().enumerate() {
            let digits = p.bytes().all(|b| b.is_ascii_digit());
            if !digits || !matches!(p.len(), 2 | 4 | 6) || taxonomy::province_of(p).is_none() {
                return Err(ValidationError::new(
                    format!("targets.region_prefixes[{i}]"),
                    format!(
                        "'{p}' is not a GB/T 2260 prefix: 2, 4 or 6 digits starting with a known province code"
                    ),
                ));
            }
        }
        if let Some(m) = self.mlps_min
            && !(1..=5).contains(&m)
        {
            return Err(ValidationError::new("targets.mlps_min", "must be 1 to 5"));
        }
        if let Some(g) = self.miit_grade_min
            && !(1..=3).contains(&g)
        {
            return Err(ValidationError::new(
                "targets.miit_grade_min",
                "must be 1 to 3",
            ));
        }
        for (i, a) in self.assets.iter().enumerate() {
            a.validate(&format!("targets.assets[{i}]"))?;
        }
        Ok(())
    }

    /// The targets as an organization may see them: explicit ids of other organizations are
    /// left out.
    pub fn redacted_for(&self, org: OrgId) -> Self {
        Self {
            org_ids: self.org_ids.iter().copied().filter(|o| *o == org).collect(),
            ..self.clone()
        }
    }
}

/// What an issuer sends to create a warning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWarning {
    pub title: String,
    /// The bulletin's text.
    pub summary: String,
    pub level: WarningLevel,
    /// CVE ids (`CVE-2024-1234`).
    #[serde(default)]
    pub cves: Vec<String>,
    /// Indicator values (addresses, domains, hashes) the warning is about.
    #[serde(default)]
    pub indicators: Vec<String>,
    /// Affected products and versions, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affected_products: Option<String>,
    /// Recommended measures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measures: Option<String>,
    /// When recipients must have responded by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_deadline: Option<Timestamp>,
    pub targets: WarningTargets,
}

impl NewWarning {
    /// Checks every field; the first problem is returned with its field name.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_text("title", &self.title, 300)?;
        check_text("summary", &self.summary, 20_000)?;
        if self.cves.len() > MAX_REFERENCES {
            return Err(ValidationError::new(
                "cves",
                format!("at most {MAX_REFERENCES} entries"),
            ));
        }
        for (i, c) in self.cves.iter().enumerate() {
            if !is_cve_id(c) {
                return Err(ValidationError::new(
                    format!("cves[{i}]"),
                    format!("'{c}' is not a CVE id like CVE-2024-3400"),
                ));
            }
        }
        if self.indicators.len() > MAX_REFERENCES {
            return Err(ValidationError::new(
                "indicators",
                format!("at most {MAX_REFERENCES} entries"),
            ));
        }
        for (i, v) in self.indicators.iter().enumerate() {
            check_text(&format!("indicators[{i}]"), v, 2048)?;
        }
        if let Some(a) = &self.affected_products {
            check_len("affected_products", a, 10_000)?;
        }
        if let Some(m) = &self.measures {
            check_len("measures", m, 20_000)?;
        }
        self.targets.validate()
    }
}

/// `CVE-YYYY-NNNN…`: a four-digit year and at least four digits.
pub fn is_cve_id(s: &str) -> bool {
    let mut parts = s.split('-');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("CVE"), Some(y), Some(n), None)
            if y.len() == 4
                && y.bytes().all(|b| b.is_ascii_digit())
                && n.len() >= 4
                && n.len() <= 19
                && n.bytes().all(|b| b.is_ascii_digit())
    )
}

/// A stored warning with its acknowledgement progress within the reader's scope (for an
/// organization user: its own row, so `recipients` is 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    pub id: WarningId,
    #[serde(flatten)]
    pub spec: NewWarning,
    /// Audit actor of the issuer (`user:alice`).
    pub issued_by: String,
    pub issued_at: Timestamp,
    /// Recipients within the scope.
    pub recipients: u64,
    /// Of those, how many have acknowledged.
    pub acknowledged: u64,
}

impl Warning {
    pub fn pending(&self) -> u64 {
        self.recipients.saturating_sub(self.acknowledged)
    }
}

/// One recipient organization's state for a warning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarningRecipient {
    pub warning_id: WarningId,
    pub org_id: OrgId,
    /// The organization's name (for lists).
    pub org_name: String,
    /// When the warning was addressed to the organization (its issue time; notification
    /// channels may record actual delivery later).
    pub delivered_at: Timestamp,
    pub acknowledged_at: Option<Timestamp>,
    /// Audit actor who acknowledged (the organization's user, or staff on its behalf).
    pub acknowledged_by: Option<String>,
    pub response: Option<String>,
}

/// Checks an acknowledgement's optional response text.
pub fn validate_response(response: Option<&str>) -> Result<(), ValidationError> {
    if let Some(r) = response {
        check_len("response", r, MAX_RESPONSE_CHARS)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> NewWarning {
        NewWarning {
            title: "Siemens S7-1200 remote code execution".into(),
            summary: "Attackers exploit CVE-2024-0001 against exposed PLCs.".into(),
            level: WarningLevel::Orange,
            cves: vec!["CVE-2024-0001".into()],
            indicators: vec!["203.0.113.7".into()],
            affected_products: Some("S7-1200 firmware before V4.6".into()),
            measures: Some("Update firmware; block TCP 102 at the perimeter.".into()),
            response_deadline: None,
            targets: WarningTargets {
                assets: vec![AssetCriterion {
                    vendor: Some("Siemens".into()),
                    product: Some("S7-1200".into()),
                    ..AssetCriterion::default()
                }],
                ..WarningTargets::default()
            },
        }
    }

    #[test]
    fn levels_have_names_in_both_languages_and_order_by_severity() {
        assert_eq!(WarningLevel::Red.name("zh-CN"), "红色预警");
        assert_eq!(WarningLevel::Blue.name("en"), "Blue warning");
        assert_eq!(WarningLevel::Orange.colour_name("zh"), "橙");
        assert_eq!(WarningLevel::parse("yellow"), Some(WarningLevel::Yellow));
        assert_eq!(WarningLevel::parse("green"), None);
        assert!(WarningLevel::Red < WarningLevel::Blue);
        assert_eq!(WarningLevel::Red.level(), "I");
    }

    #[test]
    fn valid_warning_passes_and_each_bad_field_is_named() {
        assert_eq!(sample().validate(), Ok(()));
        type Mutation = Box<dyn Fn(&mut NewWarning)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("title", Box::new(|w| w.title = " ".into())),
            ("summary", Box::new(|w| w.summary = String::new())),
            ("cves[1]", Box::new(|w| w.cves.push("CVE-24-1".into()))),
            ("indicators[1]", Box::new(|w| w.indicators.push("".into()))),
            (
                "targets",
                Box::new(|w| w.targets = WarningTargets::default()),
            ),
            (
                "targets.sectors[0]",
                Box::new(|w| w.targets.sectors = vec!["mining-on-mars".into()]),
            ),
            (
                "targets.region_prefixes[0]",
                Box::new(|w| w.targets.region_prefixes = vec!["330".into()]),
            ),
            (
                "targets.region_prefixes[1]",
                Box::new(|w| w.targets.region_prefixes = vec!["3301".into(), "9901".into()]),
            ),
            (
                "targets.mlps_min",
                Box::new(|w| w.targets.mlps_min = Some(0)),
            ),
            (
                "targets.miit_grade_min",
                Box::new(|w| w.targets.miit_grade_min = Some(4)),
            ),
            (
                "targets.assets[0]",
                Box::new(|w| w.targets.assets = vec![AssetCriterion::default()]),
            ),
            (
                "targets.assets[0].purl_prefix",
                Box::new(|w| {
                    w.targets.assets = vec![AssetCriterion {
                        purl_prefix: Some("openssl@3".into()),
                        ..AssetCriterion::default()
                    }]
                }),
            ),
            (
                "targets.assets[0].cpe_prefix",
                Box::new(|w| {
                    w.targets.assets = vec![AssetCriterion {
                        cpe_prefix: Some("cpe:/a:openssl".into()),
                        ..AssetCriterion::default()
                    }]
                }),
            ),
            (
                "targets.assets[0].vendor",
                Box::new(|w| {
                    w.targets.assets = vec![AssetCriterion {
                        vendor: Some("  ".into()),
                        ..AssetCriterion::default()
                    }]
                }),
            ),
        ];
        for (field, mutate) in cases {
            let mut bad = sample();
            mutate(&mut bad);
            let err = bad.validate().expect_err(field);
            assert_eq!(err.field, field, "{err}");
        }
    }

    #[test]
    fn explicit_ids_alone_or_all_alone_are_enough() {
        let mut w = sample();
        w.targets = WarningTargets {
            org_ids: vec![OrgId::new()],
            ..WarningTargets::default()
        };
        assert_eq!(w.validate(), Ok(()));
        assert!(!w.targets.selects_by_filter());
        w.targets = WarningTargets {
            all: true,
            ..WarningTargets::default()
        };
        assert_eq!(w.validate(), Ok(()));
        assert!(w.targets.selects_by_filter());
        assert!(!w.targets.has_filters());
    }

    #[test]
    fn cve_ids_follow_the_mitre_syntax() {
        for ok in ["CVE-2024-3400", "CVE-2021-44228", "CVE-2014-0160"] {
            assert!(is_cve_id(ok), "{ok}");
        }
        for bad in [
            "CVE-2024-12",
            "cve-2024-3400",
            "CVE-24-3400",
            "CVE-2024-3400-1",
            "",
        ] {
            assert!(!is_cve_id(bad), "{bad}");
        }
    }

    #[test]
    fn redaction_keeps_only_the_own_organization_id() {
        let (own, other) = (OrgId::new(), OrgId::new());
        let t = WarningTargets {
            org_ids: vec![own, other],
            sectors: vec!["power".into()],
            ..WarningTargets::default()
        };
        let r = t.redacted_for(own);
        assert_eq!(r.org_ids, vec![own]);
        assert_eq!(r.sectors, t.sectors);
    }

    #[test]
    fn unknown_json_fields_are_rejected() {
        let json = r#"{"title":"t","summary":"s","level":"red","targets":{"all":true,"colour":1}}"#;
        let err = serde_json::from_str::<NewWarning>(json).expect_err("must fail");
        assert!(err.to_string().contains("colour"), "{err}");
        let json = r#"{"title":"t","summary":"s","level":"green","targets":{"all":true}}"#;
        assert!(serde_json::from_str::<NewWarning>(json).is_err());
    }

    #[test]
    fn responses_are_bounded() {
        assert_eq!(validate_response(None), Ok(()));
        assert_eq!(validate_response(Some("patched")), Ok(()));
        let long = "x".repeat(MAX_RESPONSE_CHARS + 1);
        assert_eq!(
            validate_response(Some(&long)).map_err(|e| e.field),
            Err("response".into())
        );
    }
}
