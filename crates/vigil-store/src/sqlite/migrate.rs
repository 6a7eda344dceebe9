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

/// One migration: version, name, SQL, and a data step in Rust that runs after the SQL in
/// the same transaction (for conversions SQL cannot express, such as compressing rows).
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
    pub then: Option<fn(&Connection) -> Result<()>>,
}

/// Every migration, in version order. Files are `migrations/sqlite/V<version>__<name>.sql`.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../migrations/sqlite/V1__initial.sql"),
        then: None,
    },
    Migration {
        version: 2,
        name: "alerts_by_detection",
        sql: include_str!("../../migrations/sqlite/V2__alerts_by_detection.sql"),
        then: None,
    },
    Migration {
        version: 3,
        name: "event_chunks",
        sql: include_str!("../../migrations/sqlite/V3__event_chunks.sql"),
        then: Some(convert_events_to_chunks),
    },
    Migration {
        version: 4,
        name: "indicators",
        sql: include_str!("../../migrations/sqlite/V4__indicators.sql"),
        then: None,
    },
    Migration {
        version: 5,
        name: "incident_aggregation",
        sql: include_str!("../../migrations/sqlite/V5__incident_aggregation.sql"),
        then: None,
    },
    Migration {
        version: 6,
        name: "warnings",
        sql: include_str!("../../migrations/sqlite/V6__warnings.sql"),
        then: None,
    },
    Migration {
        version: 7,
        name: "notifications",
        sql: include_str!("../../migrations/sqlite/V7__notifications.sql"),
        then: None,
    },
    Migration {
        version: 8,
        name: "warning_reminders",
        sql: include_str!("../../migrations/sqlite/V8__warning_reminders.sql"),
        then: None,
    },
    Migration {
        version: 9,
        name: "evidence",
        sql: include_str!("../../migrations/sqlite/V9__evidence.sql"),
        then: None,
    },
    Migration {
        version: 10,
        name: "incident_impact",
        sql: include_str!("../../migrations/sqlite/V10__incident_impact.sql"),
        then: None,
    },
    Migration {
        version: 11,
        name: "filed_reports",
        sql: include_str!("../../migrations/sqlite/V11__filed_reports.sql"),
        then: None,
    },
    Migration {
        version: 12,
        name: "stix_objects",
        sql: include_str!("../../migrations/sqlite/V12__stix_objects.sql"),
        then: None,
    },
    Migration {
        version: 13,
        name: "intel_sources_imports_edl",
        sql: include_str!("../../migrations/sqlite/V13__intel_sources_imports_edl.sql"),
        then: None,
    },
    Migration {
        version: 14,
        name: "taxii_state",
        sql: include_str!("../../migrations/sqlite/V14__taxii_state.sql"),
        then: None,
    },
    Migration {
        version: 15,
        name: "pipeline_sources",
        sql: include_str!("../../migrations/sqlite/V15__pipeline_sources.sql"),
        then: None,
    },
    Migration {
        version: 16,
        name: "dead_letters",
        sql: include_str!("../../migrations/sqlite/V16__dead_letters.sql"),
        then: None,
    },
    Migration {
        version: 17,
        name: "indicator_versions",
        sql: include_str!("../../migrations/sqlite/V17__indicator_versions.sql"),
        then: None,
    },
];

/// V3's data step: the one-row-per-event table becomes chunks, then goes.
fn convert_events_to_chunks(conn: &Connection) -> Result<()> {
    let n = super::events::convert_legacy(conn)?;
    conn.execute_batch("DROP TABLE events")?;
    if n > 0 {
        tracing::info!(events = n, "sqlite events converted to chunks");
    }
    Ok(())
}

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

/// The versions recorded as applied.
fn applied_versions(conn: &Connection) -> Result<std::collections::BTreeSet<i64>> {
    let mut stmt = conn
        .prepare("SELECT version FROM schema_migrations")
        .map_err(|e| open_err("reading schema versions", e))?;
    let rows = stmt
        .query_map([], |r| r.get::<_, i64>(0))
        .map_err(|e| open_err("reading schema versions", e))?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(|e| open_err("reading schema versions", e))
}

/// Applies every migration the database has not recorded, in version order — also one older
/// than the newest applied (a branch that added V7 before V5 landed leaves such a gap; the
/// migrations are written to be independent of their neighbours' order for that reason).
/// Refuses a database written by a newer Vigil (its schema may mean things this build does
/// not know).
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
    let applied = applied_versions(conn)?;
    let mut version = from;
    let newest = MIGRATIONS.last().map_or(0, |m| m.version);
    if version > newest {
        return Err(StoreError::Open(format!(
            "database schema version {version} is newer than this build knows ({newest})"
        )));
    }
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| open_err("starting migration", e))?;
        tx.execute_batch(m.sql)
            .map_err(|e| open_err(&format!("migration V{}__{}", m.version, m.name), e))?;
        if let Some(step) = m.then {
            step(&tx).map_err(|e| {
                StoreError::Open(format!("migration V{}__{}: {e}", m.version, m.name))
            })?;
        }
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
        version = version.max(m.version);
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

    /// A V2 database with events (two organizations interleaved, a gap left by retention)
    /// comes out of V3 with the same events under the same ids, and new ids after them.
    #[test]
    fn v3_converts_rows_to_chunks_keeping_ids() {
        let mut conn = Connection::open_in_memory().expect("memory db");
        run_upto(&mut conn, 2);
        let (a, b) = (uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2));
        for (org, name) in [(a, "A"), (b, "B")] {
            conn.execute(
                "INSERT INTO organizations (id, name, name_lower, sector, region_code, mlps_level,
                 cii, responsible, contacts, created_at, updated_at)
                 VALUES (?1, ?2, ?2, 'power', '330100', 3, 0, '{}', '[]', 0, 0)",
                rusqlite::params![org.to_string(), name],
            )
            .expect("org");
        }
        // ids 1..=5 of A, 6..=7 of B, 8 of A, then 10 of A (9 was deleted).
        let rows: [(i64, uuid::Uuid); 9] = [
            (1, a),
            (2, a),
            (3, a),
            (4, a),
            (5, a),
            (6, b),
            (7, b),
            (8, a),
            (10, a),
        ];
        for (id, org) in rows {
            conn.execute(
                "INSERT INTO events (id, org_id, asset_id, ts, received_at, input, sender,
                 event_action, message, fields, native, raw)
                 VALUES (?1, ?2, NULL, ?3, ?3, 'syslog', NULL, 'x', ?4, ?5, NULL, ?6)",
                rusqlite::params![
                    id,
                    org.to_string(),
                    1_000_000 * id,
                    format!("event {id}"),
                    format!(r#"{{"event.action":"x","message":"event {id}"}}"#),
                    format!("raw {id}").into_bytes()
                ],
            )
            .expect("event");
        }
        run(&mut conn, 5).expect("migrate to V3");
        let chunks: Vec<(i64, i64)> = conn
            .prepare("SELECT first_id, count FROM event_chunks ORDER BY first_id")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        assert_eq!(chunks, vec![(1, 5), (6, 2), (8, 1), (10, 1)]);
        for (id, org) in rows {
            let e = super::super::events::get(&conn, vigil_model::Scope::All, id)
                .expect("get")
                .expect("found");
            assert_eq!(e.event.org_id.0, org);
            assert_eq!(e.event.message(), format!("event {id}"));
            assert_eq!(e.event.raw, format!("raw {id}").into_bytes());
            assert_eq!(e.event.timestamp.as_microsecond(), 1_000_000 * id);
        }
        assert!(
            super::super::events::get(&conn, vigil_model::Scope::All, 9)
                .expect("get")
                .is_none()
        );
        let next: i64 = conn
            .query_row("SELECT next_id FROM event_seq", [], |r| r.get(0))
            .expect("seq");
        assert_eq!(next, 11);
        let legacy: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'events'",
                [],
                |r| r.get(0),
            )
            .expect("schema");
        assert_eq!(legacy, 0);
    }

    /// Applies the migrations up to `version` the way `run` does, without the later ones.
    fn run_upto(conn: &mut Connection, version: i64) {
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
             applied_at INTEGER NOT NULL)",
        )
        .expect("schema_migrations");
        for m in MIGRATIONS.iter().filter(|m| m.version <= version) {
            conn.execute_batch(m.sql).expect("migration");
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, 0)",
                rusqlite::params![m.version, m.name],
            )
            .expect("record");
        }
    }

    /// A database that recorded V1–V4 and V7 (V7 written before V5 and V6 existed) gets V5
    /// and V6 at the next start, and nothing twice.
    #[test]
    fn gaps_left_by_out_of_order_versions_are_filled() {
        let mut conn = Connection::open_in_memory().expect("memory db");
        run_upto(&mut conn, 4);
        let v7 = MIGRATIONS
            .iter()
            .find(|m| m.version == 7)
            .expect("V7 exists");
        conn.execute_batch(v7.sql).expect("V7");
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (7, ?1, 0)",
            [v7.name],
        )
        .expect("record V7");
        let latest = MIGRATIONS.last().map_or(0, |m| m.version);
        assert_eq!(run(&mut conn, 9).expect("fill the gap"), latest);
        let versions: Vec<i64> = conn
            .prepare("SELECT version FROM schema_migrations ORDER BY version")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        let all: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert_eq!(versions, all);
        // V5's column is there now.
        conn.prepare("SELECT aggregation_key FROM incidents")
            .expect("V5 applied");
        // And a second run changes nothing.
        assert_eq!(run(&mut conn, 10).expect("no-op"), latest);
    }

    #[test]
    fn versions_are_increasing() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
    }
}
