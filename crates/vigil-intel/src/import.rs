//! What every importer returns, and [`Intel`], the accumulator importers write into.

use crate::indicator::{Indicator, IndicatorKind, Tlp};
use crate::matcher::IndicatorSet;
use crate::pattern::PatternIndicator;
use crate::stix::ObjectStore;
use serde::Serialize;
use std::collections::BTreeMap;

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

    /// Builds the matcher, consuming the indicators.
    pub fn into_set(self) -> IndicatorSet {
        IndicatorSet::build(self.indicators, self.patterns)
    }
}
