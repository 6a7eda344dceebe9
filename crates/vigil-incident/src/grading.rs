//! Grading (事件分级): 特别重大 / 重大 / 较大 / 一般 from impact figures and the affected objects,
//! against versioned threshold data (`data/grading.toml`, embedded).
//!
//! Every number lives in the data: a rule says "grade G when factor F ≥ min", optionally only
//! for affected objects that are CII, of an MLPS level or of an asset importance. The most
//! severe grade any rule reaches wins; the rules met at that grade are the reasons, each with
//! the value, the threshold and the rule's source. Only the 特别重大 rows come from the final
//! 2025 text; the rest are marked in the data as draft recollections or platform defaults.

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;
use vigil_model::{Grade, Importance, NewAsset, NewOrganization};

/// A quantity a threshold applies to. The names are fixed in code; the numbers are data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    /// Whole outage of the affected system, minutes.
    OutageMinutes,
    /// Main function impaired, minutes.
    DegradedMinutes,
    PeopleAffected,
    PersonalRecordsLeaked,
    DirectLossYuan,
    DefacementHomepageMinutes,
    DefacementOtherMinutes,
    /// Organizations affected (counted among those meeting the rule's qualifiers).
    AffectedOrgs,
    /// Assets affected (counted among those meeting the rule's qualifiers).
    AffectedAssets,
}

impl Factor {
    pub const ALL: [Self; 9] = [
        Self::OutageMinutes,
        Self::DegradedMinutes,
        Self::PeopleAffected,
        Self::PersonalRecordsLeaked,
        Self::DirectLossYuan,
        Self::DefacementHomepageMinutes,
        Self::DefacementOtherMinutes,
        Self::AffectedOrgs,
        Self::AffectedAssets,
    ];
}

/// The impact figures of an incident (what the analyst or the organization reports).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Impact {
    pub outage_minutes: u64,
    pub degraded_minutes: u64,
    pub people_affected: u64,
    pub personal_records_leaked: u64,
    pub direct_loss_yuan: u64,
    pub defacement_homepage_minutes: u64,
    pub defacement_other_minutes: u64,
}

impl Impact {
    fn value(&self, f: Factor) -> Option<u64> {
        Some(match f {
            Factor::OutageMinutes => self.outage_minutes,
            Factor::DegradedMinutes => self.degraded_minutes,
            Factor::PeopleAffected => self.people_affected,
            Factor::PersonalRecordsLeaked => self.personal_records_leaked,
            Factor::DirectLossYuan => self.direct_loss_yuan,
            Factor::DefacementHomepageMinutes => self.defacement_homepage_minutes,
            Factor::DefacementOtherMinutes => self.defacement_other_minutes,
            Factor::AffectedOrgs | Factor::AffectedAssets => return None,
        })
    }
}

impl From<&vigil_model::IncidentImpact> for Impact {
    /// The recorded figures; one not recorded counts as zero.
    fn from(i: &vigil_model::IncidentImpact) -> Self {
        Self {
            outage_minutes: i.outage_minutes.unwrap_or(0),
            degraded_minutes: i.degraded_minutes.unwrap_or(0),
            people_affected: i.people_affected.unwrap_or(0),
            personal_records_leaked: i.personal_records_leaked.unwrap_or(0),
            direct_loss_yuan: i.direct_loss_yuan.unwrap_or(0),
            defacement_homepage_minutes: i.defacement_homepage_minutes.unwrap_or(0),
            defacement_other_minutes: i.defacement_other_minutes.unwrap_or(0),
        }
    }
}

/// An affected organization, as far as grading cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedOrg {
    pub cii: bool,
    pub mlps_level: u8,
}

impl From<&NewOrganization> for AffectedOrg {
    fn from(o: &NewOrganization) -> Self {
        Self {
            cii: o.cii,
            mlps_level: o.mlps_level,
        }
    }
}

/// An affected asset with the properties of its organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedAsset {
    pub importance: Importance,
    pub cii: bool,
    pub mlps_level: u8,
}

impl AffectedAsset {
    pub fn of(asset: &NewAsset, org: &NewOrganization) -> Self {
        Self {
            importance: asset.importance,
            cii: org.cii,
            mlps_level: org.mlps_level,
        }
    }
}

/// One threshold row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub grade: Grade,
    pub factor: Factor,
    pub min: u64,
    /// Only for affected objects of CII operators.
    #[serde(default)]
    pub cii: bool,
    #[serde(default)]
    pub min_mlps: Option<u8>,
    #[serde(default)]
    pub min_importance: Option<Importance>,
    pub source: String,
    pub reason: String,
}

impl Rule {
    fn qualified(&self) -> bool {
        self.cii || self.min_mlps.is_some() || self.min_importance.is_some()
    }

    fn org_qualifies(&self, o: &AffectedOrg) -> bool {
        self.min_importance.is_none()
            && (!self.cii || o.cii)
            && self.min_mlps.is_none_or(|m| o.mlps_level >= m)
    }

    fn asset_qualifies(&self, a: &AffectedAsset) -> bool {
        (!self.cii || a.cii)
            && self.min_mlps.is_none_or(|m| a.mlps_level >= m)
            && self.min_importance.is_none_or(|m| a.importance >= m)
    }

    /// The factor's value for this rule, or `None` when no affected object meets its
    /// qualifiers.
    fn value(
        &self,
        impact: &Impact,
        orgs: &[AffectedOrg],
        assets: &[AffectedAsset],
    ) -> Option<u64> {
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        match self.factor {
            Factor::AffectedOrgs => {
                Some(count(orgs.iter().filter(|o| self.org_qualifies(o)).count()))
            }
            Factor::AffectedAssets => Some(count(
                assets.iter().filter(|a| self.asset_qualifies(a)).count(),
            )),
            f => {
                let applies = !self.qualified()
                    || assets.iter().any(|a| self.asset_qualifies(a))
                    || (assets.is_empty() && orgs.iter().any(|o| self.org_qualifies(o)));
                if applies { impact.value(f) } else { None }
            }
        }
    }
}

/// Bad threshold data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("grading thresholds: {0}")]
pub struct ThresholdError(pub String);

/// A versioned set of threshold rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub version: String,
    #[serde(rename = "rule")]
    pub rules: Vec<Rule>,
}

impl Thresholds {
    /// Parses and checks threshold data: a version, positive minimums, MLPS levels 1–5, and
    /// for the same factor and qualifiers a more severe grade needs a strictly higher value.
    pub fn from_toml(text: &str) -> Result<Self, ThresholdError> {
        let t: Self =
            toml::from_str(text).map_err(|e| ThresholdError(format!("not valid TOML: {e}")))?;
        if t.version.trim().is_empty() {
            return Err(ThresholdError("version must not be empty".into()));
        }
        for (i, r) in t.rules.iter().enumerate() {
            if r.min == 0 {
                return Err(ThresholdError(format!(
                    "rule {i} ({:?}): min must be > 0",
                    r.factor
                )));
            }
            if r.min_mlps.is_some_and(|m| !(1..=5).contains(&m)) {
                return Err(ThresholdError(format!("rule {i}: min_mlps must be 1 to 5")));
            }
            if r.grade == Grade::General {
                return Err(ThresholdError(format!(
                    "rule {i}: 一般 is the default grade and needs no rule"
                )));
            }
            for (j, o) in t.rules.iter().enumerate().skip(i + 1) {
                let same = o.factor == r.factor
                    && o.cii == r.cii
                    && o.min_mlps == r.min_mlps
                    && o.min_importance == r.min_importance;
                let inconsistent = same
                    && ((r.grade < o.grade && r.min <= o.min)
                        || (o.grade < r.grade && o.min <= r.min)
                        || r.grade == o.grade);
                if inconsistent {
                    return Err(ThresholdError(format!(
                        "rules {i} and {j} ({:?}): a more severe grade needs a higher minimum, \
                         and one grade one rule per factor and qualifiers",
                        r.factor
                    )));
                }
            }
        }
        Ok(t)
    }

    /// The embedded thresholds (`data/grading.toml`).
    pub fn builtin() -> Result<&'static Self, ThresholdError> {
        static T: OnceLock<Result<Thresholds, ThresholdError>> = OnceLock::new();
        T.get_or_init(|| Self::from_toml(include_str!("../data/grading.toml")))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// Why an incident got its grade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GradeReason {
    pub grade: Grade,
    pub factor: Factor,
    pub value: u64,
    pub min: u64,
    pub source: String,
    pub text: String,
}

/// Grades an incident: the most severe grade a rule reaches, with the rules met at that
/// grade as reasons; 一般 with no reasons when none is reached.
pub fn grade(
    impact: &Impact,
    orgs: &[AffectedOrg],
    assets: &[AffectedAsset],
    thresholds: &Thresholds,
) -> (Grade, Vec<GradeReason>) {
    let met: Vec<GradeReason> = thresholds
        .rules
        .iter()
        .filter_map(|r| {
            let v = r.value(impact, orgs, assets)?;
            (v >= r.min).then(|| GradeReason {
                grade: r.grade,
                factor: r.factor,
                value: v,
                min: r.min,
                source: r.source.clone(),
                text: r.reason.clone(),
            })
        })
        .collect();
    let Some(top) = met.iter().map(|r| r.grade).min() else {
        return (Grade::General, Vec::new());
    };
    (top, met.into_iter().filter(|r| r.grade == top).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> &'static Thresholds {
        Thresholds::builtin().expect("embedded thresholds parse")
    }

    fn impact_with(f: Factor, v: u64) -> Impact {
        let mut i = Impact::default();
        match f {
            Factor::OutageMinutes => i.outage_minutes = v,
            Factor::DegradedMinutes => i.degraded_minutes = v,
            Factor::PeopleAffected => i.people_affected = v,
            Factor::PersonalRecordsLeaked => i.personal_records_leaked = v,
            Factor::DirectLossYuan => i.direct_loss_yuan = v,
            Factor::DefacementHomepageMinutes => i.defacement_homepage_minutes = v,
            Factor::DefacementOtherMinutes => i.defacement_other_minutes = v,
            Factor::AffectedOrgs | Factor::AffectedAssets => {}
        }
        i
    }

    /// Inputs that meet exactly the rule's qualifiers (and no more) with the factor at `v`.
    fn inputs(r: &Rule, v: u64) -> (Impact, Vec<AffectedOrg>, Vec<AffectedAsset>) {
        let asset = AffectedAsset {
            importance: r.min_importance.unwrap_or(Importance::Low),
            cii: r.cii,
            mlps_level: r.min_mlps.unwrap_or(1),
        };
        let org = AffectedOrg {
            cii: r.cii,
            mlps_level: r.min_mlps.unwrap_or(1),
        };
        let n = usize::try_from(v).expect("small");
        match r.factor {
            Factor::AffectedOrgs => (Impact::default(), vec![org; n], vec![]),
            Factor::AffectedAssets => (Impact::default(), vec![org], vec![asset; n]),
            f => (impact_with(f, v), vec![org], vec![asset]),
        }
    }

    #[test]
    fn embedded_thresholds_have_a_version_and_cover_three_grades() {
        assert!(t().version.starts_with("cac-2025"));
        for g in [Grade::EspeciallyMajor, Grade::Major, Grade::Large] {
            assert!(t().rules.iter().any(|r| r.grade == g), "{g:?}");
        }
        assert!(
            t().rules
                .iter()
                .all(|r| !r.source.is_empty() && !r.reason.is_empty())
        );
    }

    #[test]
    fn every_threshold_is_met_at_its_minimum_and_not_one_below() {
        for r in &t().rules {
            let (i, o, a) = inputs(r, r.min);
            let (g, reasons) = grade(&i, &o, &a, t());
            assert_eq!(g, r.grade, "at min: {r:?}");
            assert!(
                reasons
                    .iter()
                    .any(|x| x.factor == r.factor && x.min == r.min),
                "{r:?} -> {reasons:?}"
            );

            let (i, o, a) = inputs(r, r.min - 1);
            let (g, reasons) = grade(&i, &o, &a, t());
            assert!(
                g > r.grade,
                "one below min must grade lower: {r:?} got {g:?}"
            );
            assert!(
                !reasons
                    .iter()
                    .any(|x| x.factor == r.factor && x.min == r.min),
                "{r:?}"
            );
        }
    }

    #[test]
    fn qualifiers_restrict_rules_to_the_affected_objects() {
        let cii = AffectedAsset {
            importance: Importance::Medium,
            cii: true,
            mlps_level: 3,
        };
        let plain = AffectedAsset {
            cii: false,
            mlps_level: 2,
            ..cii
        };
        let outage = |m| Impact {
            outage_minutes: m,
            ..Impact::default()
        };
        // Six hours down: 特别重大 for a CII system, nothing for an MLPS 2 system.
        let (g, why) = grade(&outage(360), &[], &[cii], t());
        assert_eq!(g, Grade::EspeciallyMajor);
        assert_eq!(why.len(), 1);
        assert_eq!(why[0].source, "cac-2025");
        assert_eq!(grade(&outage(360), &[], &[plain], t()).0, Grade::General);
        // An MLPS 3 system down for six hours is 较大 by the platform's own rule.
        let mlps3 = AffectedAsset {
            mlps_level: 3,
            ..plain
        };
        assert_eq!(grade(&outage(360), &[], &[mlps3], t()).0, Grade::Large);
        // A critical asset down for two hours is 较大.
        let critical = AffectedAsset {
            importance: Importance::Critical,
            ..plain
        };
        assert_eq!(grade(&outage(120), &[], &[critical], t()).0, Grade::Large);
        assert_eq!(grade(&outage(119), &[], &[critical], t()).0, Grade::General);
        // Without assets the organizations decide (importance rules cannot apply).
        let org = AffectedOrg {
            cii: true,
            mlps_level: 3,
        };
        assert_eq!(grade(&outage(120), &[org], &[], t()).0, Grade::Major);
        // No qualifier: leaked records count whoever is affected.
        let leak = Impact {
            personal_records_leaked: 12_000_000,
            ..Impact::default()
        };
        let (g, why) = grade(&leak, &[], &[], t());
        assert_eq!(g, Grade::Major);
        assert_eq!(why[0].value, 12_000_000);
    }

    #[test]
    fn several_reasons_at_the_top_grade_are_all_given() {
        let i = Impact {
            direct_loss_yuan: 200_000_000,
            personal_records_leaked: 150_000_000,
            people_affected: 5,
            ..Impact::default()
        };
        let (g, why) = grade(&i, &[], &[], t());
        assert_eq!(g, Grade::EspeciallyMajor);
        let factors: Vec<Factor> = why.iter().map(|r| r.factor).collect();
        assert_eq!(
            factors,
            vec![Factor::PersonalRecordsLeaked, Factor::DirectLossYuan]
        );
        assert_eq!(
            grade(&Impact::default(), &[], &[], t()),
            (Grade::General, vec![])
        );
    }

    #[test]
    fn recorded_impact_grades_with_unrecorded_figures_as_zero() {
        let recorded = vigil_model::IncidentImpact {
            personal_records_leaked: Some(12_000_000),
            support_requested: Some("forensics".into()),
            ..vigil_model::IncidentImpact::default()
        };
        let i = Impact::from(&recorded);
        assert_eq!(i.personal_records_leaked, 12_000_000);
        assert_eq!(i.outage_minutes, 0);
        assert_eq!(grade(&i, &[], &[], t()).0, Grade::Major);
    }

    #[test]
    fn inconsistent_threshold_data_is_refused() {
        let base = "version = \"t\"\n";
        let rule = |g: &str, min: u64| {
            format!(
                "[[rule]]\ngrade = \"{g}\"\nfactor = \"direct_loss_yuan\"\nmin = {min}\n\
                 source = \"s\"\nreason = \"r\"\n"
            )
        };
        assert!(
            Thresholds::from_toml(&format!("{base}{}{}", rule("major", 10), rule("large", 5)))
                .is_ok()
        );
        let e = Thresholds::from_toml(&format!("{base}{}{}", rule("major", 5), rule("large", 10)))
            .expect_err("inverted");
        assert!(e.to_string().contains("higher minimum"), "{e}");
        assert!(Thresholds::from_toml(&format!("{base}{}", rule("large", 0))).is_err());
        assert!(Thresholds::from_toml(&format!("{base}{}", rule("general", 3))).is_err());
        assert!(Thresholds::from_toml(&format!("{base}{}", rule("huge", 3))).is_err());
        assert!(Thresholds::from_toml(&format!("version = \"\"\n{}", rule("large", 3))).is_err());
        let e = Thresholds::from_toml(&format!(
            "{base}{}",
            rule("large", 3).replace("direct_loss_yuan", "mood")
        ))
        .expect_err("factor");
        assert!(e.to_string().contains("mood"), "{e}");
    }
}
