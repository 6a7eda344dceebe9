//! Pipeline sources defined at runtime (see `crate::pipeline_sources`).

use super::{PgStore, Ts};
use crate::pipeline_sources::{PipelineSource, SourceOrigin};
use crate::{Result, StoreError};
use tokio_postgres::Row;
use tokio_postgres::types::Json;

const COLUMNS: &str =
    "name, kind, settings, enabled, origin, created_by, created_at, updated_by, updated_at";

fn from_row(r: &Row) -> Result<PipelineSource> {
    let Json(settings): Json<serde_json::Value> = r.try_get("settings")?;
    let origin: String = r.try_get("origin")?;
    Ok(PipelineSource {
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        settings,
        enabled: r.try_get("enabled")?,
        origin: SourceOrigin::parse(&origin)
            .ok_or_else(|| StoreError::Backend(format!("pipeline source origin '{origin}'")))?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get::<_, Ts>("created_at")?.0,
        updated_by: r.try_get("updated_by")?,
        updated_at: r.try_get::<_, Ts>("updated_at")?.0,
    })
}

impl PgStore {
    pub(crate) async fn get_pipeline_source_impl(
        &self,
        name: &str,
    ) -> Result<Option<PipelineSource>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM pipeline_sources WHERE name = $1"),
                &[&name],
            )
            .await?
            .as_ref()
            .map(|r| self.sealer.open_source(from_row(r)?))
            .transpose()
    }

    pub(crate) async fn list_pipeline_sources_impl(&self) -> Result<Vec<PipelineSource>> {
        let client = self.client().await?;
        client
            .query(
                &format!("SELECT {COLUMNS} FROM pipeline_sources ORDER BY name"),
                &[],
            )
            .await?
            .iter()
            .map(|r| self.sealer.open_source(from_row(r)?))
            .collect()
    }

    pub(crate) async fn put_pipeline_source_impl(
        &self,
        s: PipelineSource,
    ) -> Result<PipelineSource> {
        s.validate()?;
        let s = self.sealer.seal_source(s)?;
        let client = self.client().await?;
        let row = client
            .query_one(
                &format!(
                    "INSERT INTO pipeline_sources ({COLUMNS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (name) DO UPDATE SET kind = excluded.kind,
                       settings = excluded.settings, enabled = excluded.enabled,
                       origin = excluded.origin, updated_by = excluded.updated_by,
                       updated_at = excluded.updated_at
                     RETURNING {COLUMNS}"
                ),
                &[
                    &s.name,
                    &s.kind,
                    &Json(&s.settings),
                    &s.enabled,
                    &s.origin.as_str(),
                    &s.created_by,
                    &Ts(s.created_at),
                    &s.updated_by,
                    &Ts(s.updated_at),
                ],
            )
            .await?;
        self.sealer.open_source(from_row(&row)?)
    }

    pub(crate) async fn delete_pipeline_source_impl(&self, name: &str) -> Result<bool> {
        let client = self.client().await?;
        let n = client
            .execute("DELETE FROM pipeline_sources WHERE name = $1", &[&name])
            .await?;
        Ok(n > 0)
    }
}
