//! Integration tests of vigil-ingest: the shared corpora, golden outputs, properties.

mod corpus;
mod golden;
mod props;

use vigil_ingest::ParseContext;

/// A fixed receive time, so year inference and golden outputs do not depend on the clock.
pub fn ctx() -> ParseContext {
    ParseContext::new("2026-11-21T12:00:00Z".parse().expect("timestamp"))
}
