//! vigil-sigma integration tests: the SigmaHQ corpus, SigmaHQ regression samples, golden
//! error messages, correlation evaluation.

mod corpus;
mod correlation;
mod differential;
mod errors;
mod match_set;
mod regression;
mod yaml_fast;

pub use vigil_testkit::read_tree;
