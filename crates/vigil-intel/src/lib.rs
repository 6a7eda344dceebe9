//! Threat intelligence for Vigil: the indicator model, importers, the STIX pattern language
//! and the line-rate matcher.
//!
//! Data flow:
//!
//! ```text
//!  STIX 2.0/2.1 bundle ─┐  Intel::import_stix        ┌─► Intel.objects  (ObjectStore: every
//!  MISP event / feed  ──┤  Intel::import_misp_event  │     STIX object, all versions, ATT&CK
//!  CSV, plain lists   ──┘  Intel::import_misp_feed   │     techniques, relationships)
//!        (bytes in;        Intel::import_csv/_list ──┼─► Intel.indicators (atomic Indicator:
//!         each returns                               │     normalized IndicatorValue + Arc'd
//!         (ImportSummary,                            │     IndicatorContext)
//!          Vec<ImportProblem>))                      └─► Intel.patterns (PatternIndicator:
//!                                                          STIX patterns the matcher can't hold)
//!                        Intel::build_set
//!                              ▼
//!  NewEvent.fields ─► observables_from_fields ─► IndicatorSet::match_event(now) ─► Vec<Hit>
//!                 └─► Observation::from_fields ─► IndicatorSet::match_patterns(now)
//!  Indicators + Sightings ─► stix::export_bundle ─► STIX 2.1 bundle
//! ```
//!
//! - [`indicator`]: [`IndicatorValue`] (IPv4/IPv6 address or CIDR, domain, normalized URL,
//!   MD5/SHA-1/SHA-256/SM3, e-mail, JA3/JA4) and [`Indicator`] with confidence, validity and an
//!   [`IndicatorContext`] (sources, [`Tlp`], tags, kill chain, ATT&CK techniques, malware,
//!   threat actors, suggested GB/T 20986 sub-category from [`category`]).
//! - [`pattern`]: the hand-written STIX pattern parser; `Pattern::compile` splits line-rate
//!   patterns (equality, `IN`, `ISSUBSET` on indexed paths) into atomic values and leaves the
//!   rest to the general evaluator (`Pattern::matches` over [`Observation`]s).
//! - [`matcher`]: [`IndicatorSet`]: one hash table for exact values, label-wise domain suffix
//!   probes, [`interval::IntervalMap`]s for addresses; deduplicates across sources keeping
//!   provenance; honours expiry at match time.
//! - [`stix`], [`misp`], [`list`]: the importers; [`fs`]: a MISP feed read from a directory
//!   (the only file-system access in the crate).
//!
//! No network or database IO: callers pass bytes and values. TAXII, persistence, pipeline
//! integration and the UI live elsewhere.

pub mod category;
pub mod fs;
pub mod import;
pub mod indicator;
pub mod interval;
pub mod list;
pub mod matcher;
pub mod misp;
pub mod pattern;
pub mod stix;

pub use import::{ImportProblem, ImportSummary, Intel, Source, SourcePolicy};
pub use indicator::{
    Indicator, IndicatorContext, IndicatorKind, IndicatorValue, SourceRef, Tlp, ValueError,
};
pub use matcher::{Hit, IndicatorSet, Observable, observables_from_fields};
pub use pattern::{Observation, Pattern, PatternIndicator};
pub use stix::{ObjectStore, Sighting, StixObject, export_bundle};
