//! What every importer returns, and [`Intel`], the accumulator importers write into.

use crate::indicator::{Indicator, IndicatorKind, Tlp};
use crate::matcher::IndicatorSet;
use crate::pattern::PatternIndicator;
use crate::stix::ObjectStore;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A source of intelligence as the caller configured it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Shown in provenance: `circl-osint`, `mitre-attack`, a peer's name.
    pub name: String,
    /// Confidence given to indicators that carry none (0–100).
    pub default_confidence: u8,
    /// Marking given to indicators that carry none.
    pub default_tlp: Option<Tlp>,
    /// Import MISP attributes whose `to_ids` is false as indicators too (default: no, they are
    /// context only).
    pub include_non_ids: bool,
}

impl Source {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            default_confidence: 50,
            default_tlp: None,
            include_non_ids: false,
        }
    }
}

/// One object (or value) that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportProblem {
    /// The object's id (STIX id, MISP attribute uuid) or its position (`line 12`, `objects[3]`).
    pub object_id: String,
    pub reason: String,
}

impl ImportProblem {
    pub fn new(object_id: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            object_id: object_id.into(),
            reason: reason.into(),
        }
    }
}

/// A STIX indicator kept for the general evaluator, and why it is not line-rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeneralPatternNote {
    pub object_id: String,
    pub reason: String,
}

/// Counts of one import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Objects (STIX objects, MISP events, lines) read.
    pub objects: usize,
    /// Objects kept, by type.
    pub by_type: BTreeMap<String, usize>,
    /// Atomic indicators produced for the line-rate matcher.
    pub indicators: usize,
    pub indicators_by_kind: BTreeMap<IndicatorKind, usize>,
    /// STIX indicators kept as general patterns, with the reason each is not line-rate.
    pub general_patterns: Vec<GeneralPatternNote>,
    /// MISP attributes kept as context only (`to_ids` false or deleted).
    pub context_only: usize,
    /// Objects or values not imported; each is listed in the problems.
    pub skipped: usize,
}

impl ImportSummary {
    pub(crate) fn count_type(&mut self, ty: &str) {
        *self.by_type.entry(ty.to_string()).or_insert(0) += 1;
    }

    pub(crate) fn count_indicator(&mut self, kind: IndicatorKind) {
        self.indicators += 1;
        *self.indicators_by_kind.entry(kind).or_insert(0) += 1;
    }

    /// General-pattern counts by reason.
    pub fn general_reasons(&self) -> BTreeMap<&str, usize> {
        let mut m = BTreeMap::new();
        for g in &self.general_patterns {
            *m.entry(g.reason.as_str()).or_insert(0) += 1;
        }
        m
    }
}

/// Per-source switches applied when a matcher is built: disabled sources, trust, and a
/// confidence floor. A source is named as in [`crate::SourceRef::source`]; a MISP source
/// `circl` also covers its `circl/<org>` entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourcePolicy {
    pub disabled: BTreeSet<String>,
    /// Trust 0–100 per source, scaling the confidence it gave (absent: 100).
    pub trust: BTreeMap<String, u8>,
    /// Indicators below this effective confidence are left out.
    pub min_confidence: u8,
}

impl SourcePolicy {
    fn base(name: &str) -> &str {
        name.split_once('/').map_or(name, |(b, _)| b)
    }

    fn enabled(&self, name: &str) -> bool {
        !self.disabled.contains(name) && !self.disabled.contains(Self::base(name))
    }

    fn trust_of(&self, name: &str) -> u8 {
        self.trust
            .get(name)
            .or_else(|| self.trust.get(Self::base(name)))
            .copied()
            .unwrap_or(100)
            .min(100)
    }

    /// The indicator as the policy sees it: without disabled sources, with the highest
    /// trust-weighted confidence of the remaining ones; `None` when no source remains or the
    /// confidence is below the floor.
    pub fn apply(&self, ind: &Indicator) -> Option<Indicator> {
        let kept: Vec<_> = ind
            .context
            .sources
            .iter()
            .filter(|s| self.enabled(&s.source))
            .cloned()
            .collect();
        if kept.is_empty() && !ind.context.sources.is_empty() {
            return None;
        }
        let confidence = if kept.is_empty() {
            ind.confidence
        } else {
            kept.iter()
                .map(|s| {
                    (u16::from(s.confidence) * u16::from(self.trust_of(&s.source)) / 100) as u8
                })
                .max()
                .unwrap_or(0)
        };
        if confidence < self.min_confidence {
            return None;
        }
        let mut out = ind.clone();
        out.confidence = confidence;
        if kept.len() != ind.context.sources.len() {
            Arc::make_mut(&mut out.context).sources = kept;
        }
        Some(out)
    }
}

/// Everything imported so far: atomic indicators, general patterns, the STIX object store
/// and MISP feed hash lists. Build an [`IndicatorSet`] from it to match.
#[derive(Debug, Default)]
pub struct Intel {
    pub indicators: Vec<Indicator>,
    pub patterns: Vec<PatternIndicator>,
    pub objects: ObjectStore,
    pub feed_hashes: crate::misp::FeedHashes,
}

impl Intel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the matcher over everything imported (deduplicating across sources).
    pub fn build_set(&self) -> IndicatorSet {
        IndicatorSet::build(self.indicators.iter().cloned(), self.patterns.clone())
    }

    /// Builds the matcher under a source policy (disabled sources, trust, confidence floor).
    /// General patterns are kept when one of their sources is enabled.
    pub fn build_set_with(&self, policy: &SourcePolicy) -> IndicatorSet {
        let patterns = self
            .patterns
            .iter()
            .filter(|p| {
                p.context.sources.is_empty()
                    || p.context.sources.iter().any(|s| policy.enabled(&s.source))
            })
            .cloned()
            .collect();
        IndicatorSet::build(
            self.indicators.iter().filter_map(|i| policy.apply(i)),
            patterns,
        )
    }

    /// Builds the matcher, consuming the indicators.
    pub fn into_set(self) -> IndicatorSet {
        IndicatorSet::build(self.indicators, self.patterns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_policy_disables_and_weights_sources() {
        let mut intel = Intel::new();
        let mut a = Source::new("a");
        a.default_confidence = 80;
        let mut b = Source::new("b");
        b.default_confidence = 60;
        intel.import_list(b"evil.com\n1.2.3.4\n", &a);
        intel.import_list(b"evil.com\n", &b);
        assert_eq!(intel.build_set().len(), 2);
        let mut policy = SourcePolicy::default();
        policy.disabled.insert("a".into());
        let set = intel.build_set_with(&policy);
        assert_eq!(set.len(), 1);
        let first = set.indicator(0).expect("one indicator");
        assert_eq!(first.confidence, 60);
        assert_eq!(first.context.sources.len(), 1);
        let policy = SourcePolicy {
            trust: BTreeMap::from([("a".to_string(), 50)]),
            min_confidence: 45,
            ..Default::default()
        };
        let set = intel.build_set_with(&policy);
        let conf: Vec<(String, u8)> = set
            .indicators()
            .map(|i| (i.value.text(), i.confidence))
            .collect();
        // evil.com: max(80 * 0.5, 60) = 60; 1.2.3.4: 40 is under the floor.
        assert_eq!(conf, [("evil.com".to_string(), 60)]);
    }
}
