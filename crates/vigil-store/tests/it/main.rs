//! vigil-store integration tests: one binary, one module per backend. Each module instantiates
//! the conformance suite (`vigil_store::testsuite`) for its backend.
//! The PostgreSQL module (`mod postgres;`) is added by the PostgreSQL backend.

mod postgres;
mod sqlite;
