//! Versioned schema migrations.
//!
//! A small hand-written runner instead of `refinery`: the SQLite side needs only "apply the
//! embedded files in order, each once, each atomically", which is forty lines, and it keeps
//! the dependency tree (and the build on two cores) smaller. The record of what ran is the
//! `schema_migrations(version, name, applied_at)` table. Each migration and its record are
//! written in one `BEGIN IMMEDIATE` transaction (SQLite DDL is transactional), so a crash
//! halfway leaves the schema at the previous version, never in between.

use crate::{Result, StoreError};
use rusqlite::{Connection, OptionalExtension};

/// One migration: version, name, SQL.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in version order. Files are `migrations/sqlite/V<version>__<name>.sql`.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../migrations/sqlite/V1__initial.sql"),
    },
    Migration {
        version: 2,
        name: "alerts_by_detection",
        sql: include_str!("../../migrations/sqlite/V2__alerts_by_detection.sql"),
    },
];

fn open_err(what: &str, e: rusqlite::Error) -> StoreError {
    StoreError::Open(format!("{what}: {e}"))
}

/// The newest applied version, 0 for an empty database.
pub(crate) fn current_version(conn: &Connection) -> Result<i64> {
    conn.query_row("SELECT max(version) FROM schema_migrations", [], |r| {
        r.get::<_, Option<i64>>(0)
    })
    .optional()
    .map(|v| v.flatten().unwrap_or(0))
    .map_err(|e| open_err("reading schema version", e))
}

/// Applies every migration newer than the database's version. Refuses a database written by
/// a newer Vigil (its schema may mean things this build does not know).
pub(crate) fn run(conn: &mut Connection, now_micros: i64) -> Result<i64> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at INTEGER NOT NULL
         )",
    )
    .map_err(|e| open_err("creating schema_migrations", e))?;
    let from = current_version(conn)?;
    let mut version = from;
    let newest = MIGRATIONS.last().map_or(0, |m| m.version);
    if version > newest {
        return Err(StoreError::Open(format!(
            "database schema version {version} is newer than this build knows ({newest})"
        )));
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > from) {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| open_err("starting migration", e))?;
        tx.execute_batch(m.sql)
            .map_err(|e| open_err(&format!("migration V{}__{}", m.version, m.name), e))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, m.name, now_micros],
        )
        .map_err(|e| open_err("recording migration", e))?;
        tx.commit()
            .map_err(|e| open_err("committing migration", e))?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "sqlite migration applied"
        );
        version = m.version;
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_newer_databases_are_refused() {
        let mut conn = Connection::open_in_memory().expect("memory db");
        let latest = MIGRATIONS.last().map(|m| m.version);
        assert_eq!(run(&mut conn, 1).ok(), latest);
        // Running again is a no-op.
        assert_eq!(run(&mut conn, 2).ok(), latest);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, MIGRATIONS.len() as i64);
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)",
            [],
        )
        .expect("insert");
        assert!(matches!(run(&mut conn, 3), Err(StoreError::Open(_))));
    }

    #[test]
    fn versions_are_increasing() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
    }
}
