//! Versioned schema migrations for PostgreSQL.
//!
//! The SQL files in `migrations/postgres` (`V<n>__<name>.sql`) are embedded at build time and
//! applied in order, each in its own transaction together with its row in
//! `schema_migrations(version, name, applied_at)`. A hand-written runner of a few dozen lines
//! instead of refinery: one dependency less, and the lock below is explicit.

use crate::{Result, StoreError};

/// One embedded migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, oldest first. Append new ones; never edit an applied one.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../migrations/postgres/V1__initial.sql"),
    },
    Migration {
        version: 2,
        name: "alerts_by_detection",
        sql: include_str!("../../migrations/postgres/V2__alerts_by_detection.sql"),
    },
    Migration {
        version: 3,
        name: "indicators",
        sql: include_str!("../../migrations/postgres/V3__indicators.sql"),
    },
    Migration {
        version: 4,
        name: "incident_aggregation",
        sql: include_str!("../../migrations/postgres/V4__incident_aggregation.sql"),
    },
    Migration {
        version: 5,
        name: "warnings",
        sql: include_str!("../../migrations/postgres/V5__warnings.sql"),
    },
    Migration {
        version: 6,
        name: "notifications",
        sql: include_str!("../../migrations/postgres/V6__notifications.sql"),
    },
    Migration {
        version: 7,
        name: "warning_reminders",
        sql: include_str!("../../migrations/postgres/V7__warning_reminders.sql"),
    },
    Migration {
        version: 8,
        name: "evidence",
        sql: include_str!("../../migrations/postgres/V8__evidence.sql"),
    },
    Migration {
        version: 9,
        name: "incident_impact",
        sql: include_str!("../../migrations/postgres/V9__incident_impact.sql"),
    },
    Migration {
        version: 10,
        name: "filed_reports",
        sql: include_str!("../../migrations/postgres/V10__filed_reports.sql"),
    },
    Migration {
        version: 11,
        name: "stix_objects",
        sql: include_str!("../../migrations/postgres/V11__stix_objects.sql"),
    },
    Migration {
        version: 12,
        name: "intel_sources_imports_edl",
        sql: include_str!("../../migrations/postgres/V12__intel_sources_imports_edl.sql"),
    },
    Migration {
        version: 13,
        name: "taxii_state",
        sql: include_str!("../../migrations/postgres/V13__taxii_state.sql"),
    },
    Migration {
        version: 14,
        name: "pipeline_sources",
        sql: include_str!("../../migrations/postgres/V14__pipeline_sources.sql"),
    },
    Migration {
        version: 15,
        name: "dead_letters",
        sql: include_str!("../../migrations/postgres/V15__dead_letters.sql"),
    },
    Migration {
        version: 16,
        name: "indicator_versions",
        sql: include_str!("../../migrations/postgres/V16__indicator_versions.sql"),
    },
];

/// Applies the migrations the database has not seen yet; returns how many ran.
///
/// Several processes may start against one database at once (a rolling deploy, parallel
/// tests). Each migration transaction first takes a transaction-scoped advisory lock keyed by
/// the current schema, so the runners queue up: the second one to get the lock re-reads
/// `schema_migrations` after the first committed and skips what is already applied, instead of
/// failing halfway on `CREATE TABLE` of a table that now exists. The lock is released by the
/// commit or rollback itself, so a crashed runner never leaves it held.
pub async fn run(client: &mut deadpool_postgres::Client) -> Result<usize> {
    let mut applied = 0;
    for m in MIGRATIONS {
        let tx = client.transaction().await.map_err(open_err)?;
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(hashtext('vigil.schema_migrations.' || current_schema()));
             CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    integer PRIMARY KEY,
                 name       text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );",
        )
        .await
        .map_err(open_err)?;
        let done = tx
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                &[&m.version],
            )
            .await
            .map_err(open_err)?
            .is_some();
        if done {
            tx.rollback().await.map_err(open_err)?;
            continue;
        }
        tx.batch_execute(m.sql).await.map_err(|e| {
            StoreError::Open(format!(
                "migration V{}__{} failed: {}",
                m.version,
                m.name,
                super::describe(&e)
            ))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&m.version, &m.name],
        )
        .await
        .map_err(open_err)?;
        tx.commit().await.map_err(open_err)?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "postgres migration applied"
        );
        applied += 1;
    }
    Ok(applied)
}

fn open_err(e: tokio_postgres::Error) -> StoreError {
    StoreError::Open(format!("migrations: {}", super::describe(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_from_one() {
        // Versions may have gaps while parallel work reserves numbers; the runner checks
        // each version on its own, so only the order matters.
        assert_eq!(MIGRATIONS.first().map(|m| m.version), Some(1));
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
        for m in MIGRATIONS {
            assert!(!m.sql.trim().is_empty(), "{}", m.name);
        }
    }
}
