//! Organizations and assets.

use super::query::{Query, contains_pattern, like_escape, uuid_cursor};
use super::{PgStore, Ts, corrupt, now, scope_org};
use crate::{AssetQuery, Cursor, OrgQuery, Result, StoreError, org_in_use, page_size};
use futures_util::future::try_join_all;
use std::collections::BTreeSet;
use std::net::IpAddr;
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;
use vigil_model::{
    Asset, AssetId, AssetKind, Contact, Importance, MiitEnterpriseType, NewAsset, NewOrganization,
    OrgId, Organization, Page, Scope, SoftwareComponent,
};

const ORG_COLUMNS: &str = "id, name, uscc, sector, region_code, mlps_level, cii, miit_type, \
     miit_grade, responsible, contacts, created_at, updated_at";

const ASSET_COLUMNS: &str = "id, org_id, name, kind, importance, ips, cidrs, hostnames, \
     domains, urls, macs, vendor, model, firmware, software, responsible, tags, created_at, \
     updated_at";

fn org_from_row(r: &Row) -> Result<Organization> {
    let miit_type: Option<String> = r.try_get("miit_type")?;
    let miit_type = match miit_type {
        None => None,
        Some(s) => Some(MiitEnterpriseType::parse(&s).ok_or_else(|| corrupt("miit_type", &s))?),
    };
    let mlps: i16 = r.try_get("mlps_level")?;
    let grade: Option<i16> = r.try_get("miit_grade")?;
    let Json(responsible): Json<Contact> = r.try_get("responsible")?;
    let Json(contacts): Json<Vec<Contact>> = r.try_get("contacts")?;
    Ok(Organization {
        id: OrgId(r.try_get("id")?),
        spec: NewOrganization {
            name: r.try_get("name")?,
            uscc: r.try_get("uscc")?,
            sector: r.try_get("sector")?,
            region_code: r.try_get("region_code")?,
            mlps_level: u8::try_from(mlps).map_err(|_| corrupt("mlps_level", mlps))?,
            cii: r.try_get("cii")?,
            miit_type,
            miit_grade: grade
                .map(|g| u8::try_from(g).map_err(|_| corrupt("miit_grade", g)))
                .transpose()?,
            responsible,
            contacts,
        },
        created_at: r.try_get::<_, Ts>("created_at")?.0,
        updated_at: r.try_get::<_, Ts>("updated_at")?.0,
    })
}

fn asset_from_row(r: &Row) -> Result<Asset> {
    let kind: String = r.try_get("kind")?;
    let importance: String = r.try_get("importance")?;
    let cidrs: Vec<String> = r.try_get("cidrs")?;
    let Json(software): Json<Vec<SoftwareComponent>> = r.try_get("software")?;
    let responsible: Option<Json<Contact>> = r.try_get("responsible")?;
    Ok(Asset {
        id: AssetId(r.try_get("id")?),
        spec: NewAsset {
            org_id: OrgId(r.try_get("org_id")?),
            name: r.try_get("name")?,
            kind: AssetKind::parse(&kind).ok_or_else(|| corrupt("asset kind", &kind))?,
            importance: Importance::parse(&importance)
                .ok_or_else(|| corrupt("importance", &importance))?,
            ips: r.try_get::<_, Vec<IpAddr>>("ips")?,
            cidrs: cidrs
                .iter()
                .map(|c| c.parse().map_err(|_| corrupt("cidr", c)))
                .collect::<Result<_>>()?,
            hostnames: r.try_get("hostnames")?,
            domains: r.try_get("domains")?,
            urls: r.try_get("urls")?,
            macs: r.try_get("macs")?,
            vendor: r.try_get("vendor")?,
            model: r.try_get("model")?,
            firmware: r.try_get("firmware")?,
            software,
            responsible: responsible.map(|Json(c)| c),
            tags: r.try_get("tags")?,
        },
        created_at: r.try_get::<_, Ts>("created_at")?.0,
        updated_at: r.try_get::<_, Ts>("updated_at")?.0,
    })
}

/// Rejects organizations outside the scope as if they did not exist.
fn check_scope(scope: Scope, org: OrgId) -> Result<()> {
    if scope.allows_org(org) {
        Ok(())
    } else {
        Err(missing_org(org))
    }
}

pub(crate) fn missing_org(org: OrgId) -> StoreError {
    StoreError::MissingReference(format!("organization {org}"))
}

/// Checks that every organization in `orgs` exists, and keeps it from being deleted until the
/// transaction ends (`FOR KEY SHARE`, what a foreign key check takes).
pub(crate) async fn lock_orgs(
    tx: &deadpool_postgres::Transaction<'_>,
    orgs: &BTreeSet<OrgId>,
) -> Result<()> {
    let ids: Vec<Uuid> = orgs.iter().map(|o| o.0).collect();
    let stmt = tx
        .prepare_cached("SELECT id FROM organizations WHERE id = ANY($1) FOR KEY SHARE")
        .await?;
    let found: BTreeSet<Uuid> = tx
        .query(&stmt, &[&ids])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    match orgs.iter().find(|o| !found.contains(&o.0)) {
        Some(o) => Err(missing_org(*o)),
        None => Ok(()),
    }
}

impl PgStore {
    pub(crate) async fn create_org_impl(&self, spec: NewOrganization) -> Result<Organization> {
        spec.validate()?;
        let at = now();
        let org = Organization {
            id: OrgId::new(),
            spec,
            created_at: at,
            updated_at: at,
        };
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "INSERT INTO organizations ({ORG_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            ))
            .await?;
        let s = &org.spec;
        let (responsible, contacts) = self.sealer.seal_org(org.id, &s.responsible, &s.contacts)?;
        client
            .execute(
                &stmt,
                &[
                    &org.id.0,
                    &s.name,
                    &s.uscc,
                    &s.sector,
                    &s.region_code,
                    &i16::from(s.mlps_level),
                    &s.cii,
                    &s.miit_type.map(MiitEnterpriseType::as_str),
                    &s.miit_grade.map(i16::from),
                    &Json(&responsible),
                    &Json(&contacts),
                    &Ts(org.created_at),
                    &Ts(org.updated_at),
                ],
            )
            .await?;
        Ok(org)
    }

    pub(crate) async fn get_org_impl(
        &self,
        scope: Scope,
        id: OrgId,
    ) -> Result<Option<Organization>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {ORG_COLUMNS} FROM organizations \
                 WHERE id = $1 AND ($2::uuid IS NULL OR id = $2)"
            ))
            .await?;
        client
            .query_opt(&stmt, &[&id.0, &scope_org(scope)])
            .await?
            .as_ref()
            .map(|r| self.sealer.open_org(org_from_row(r)?))
            .transpose()
    }

    pub(crate) async fn list_orgs_impl(
        &self,
        scope: Scope,
        q: &OrgQuery,
    ) -> Result<Vec<Organization>> {
        let mut query = Query::new(&format!("SELECT {ORG_COLUMNS} FROM organizations"));
        if let Some(o) = scope_org(scope) {
            query.eq("id", o);
        }
        if let Some(t) = &q.text {
            let p = query.arg(contains_pattern(t));
            query.and(&format!("name ILIKE {p}"));
        }
        if let Some(s) = &q.sector {
            query.eq("sector", s.clone());
        }
        if let Some(r) = &q.region_prefix {
            let p = query.arg(format!("{}%", like_escape(r)));
            query.and(&format!("region_code LIKE {p}"));
        }
        if let Some(l) = q.mlps_level {
            query.eq("mlps_level", i16::from(l));
        }
        if let Some(c) = q.cii {
            query.eq("cii", c);
        }
        query.push(" ORDER BY name COLLATE \"C\", id");
        let client = self.client().await?;
        client
            .query(query.sql(), &query.params())
            .await?
            .iter()
            .map(|r| self.sealer.open_org(org_from_row(r)?))
            .collect()
    }

    pub(crate) async fn update_org_impl(
        &self,
        scope: Scope,
        id: OrgId,
        spec: NewOrganization,
    ) -> Result<Option<Organization>> {
        spec.validate()?;
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "UPDATE organizations SET name = $3, uscc = $4, sector = $5, region_code = $6, \
                 mlps_level = $7, cii = $8, miit_type = $9, miit_grade = $10, \
                 responsible = $11, contacts = $12, updated_at = $13 \
                 WHERE id = $1 AND ($2::uuid IS NULL OR id = $2) \
                 RETURNING {ORG_COLUMNS}"
            ))
            .await?;
        let s = &spec;
        // Sealed afresh on every write: values stored in clear before encryption was on are
        // encrypted here.
        let (responsible, contacts) = self.sealer.seal_org(id, &s.responsible, &s.contacts)?;
        client
            .query_opt(
                &stmt,
                &[
                    &id.0,
                    &scope_org(scope),
                    &s.name,
                    &s.uscc,
                    &s.sector,
                    &s.region_code,
                    &i16::from(s.mlps_level),
                    &s.cii,
                    &s.miit_type.map(MiitEnterpriseType::as_str),
                    &s.miit_grade.map(i16::from),
                    &Json(&responsible),
                    &Json(&contacts),
                    &Ts(now()),
                ],
            )
            .await?
            .as_ref()
            .map(|r| self.sealer.open_org(org_from_row(r)?))
            .transpose()
    }

    pub(crate) async fn delete_org_impl(&self, scope: Scope, id: OrgId) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // FOR UPDATE conflicts with the FOR KEY SHARE that inserting an asset or user of this
        // organization takes, so none can appear between the count and the delete.
        let found = tx
            .query_opt(
                "SELECT id FROM organizations WHERE id = $1 AND ($2::uuid IS NULL OR id = $2) \
                 FOR UPDATE",
                &[&id.0, &scope_org(scope)],
            )
            .await?;
        if found.is_none() {
            return Ok(false);
        }
        let row = tx
            .query_one(
                "SELECT (SELECT count(*) FROM assets WHERE org_id = $1), \
                        (SELECT count(*) FROM users WHERE org_id = $1)",
                &[&id.0],
            )
            .await?;
        let assets: i64 = row.try_get(0)?;
        let users: i64 = row.try_get(1)?;
        if let Some(e) = org_in_use(assets.unsigned_abs(), users.unsigned_abs()) {
            return Err(e);
        }
        // Events have no foreign key (hot path); alerts, incidents and tokens would cascade,
        // but are deleted explicitly so the order (alerts before the incidents they link) is
        // visible here.
        for table in ["events", "alerts", "incidents", "api_tokens"] {
            tx.execute(&format!("DELETE FROM {table} WHERE org_id = $1"), &[&id.0])
                .await?;
        }
        let n = tx
            .execute("DELETE FROM organizations WHERE id = $1", &[&id.0])
            .await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    pub(crate) async fn create_assets_impl(
        &self,
        scope: Scope,
        specs: Vec<NewAsset>,
    ) -> Result<Vec<Asset>> {
        for s in &specs {
            s.validate()?;
        }
        if specs.is_empty() {
            return Ok(Vec::new());
        }
        let orgs: BTreeSet<OrgId> = specs.iter().map(|s| s.org_id).collect();
        for o in &orgs {
            check_scope(scope, *o)?;
        }
        let at = now();
        let assets: Vec<Asset> = specs
            .into_iter()
            .map(|spec| Asset {
                id: AssetId::new(),
                spec,
                created_at: at,
                updated_at: at,
            })
            .collect();
        let sealed = assets
            .iter()
            .map(|a| {
                self.sealer
                    .seal_asset_contact(a.id, a.spec.responsible.as_ref())
            })
            .collect::<Result<Vec<_>>>()?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_orgs(&tx, &orgs).await?;
        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO assets ({ASSET_COLUMNS}, industrial) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                  $18, $19, $20)"
            ))
            .await?;
        // The inserts are pipelined: all are sent before the first answer is awaited.
        try_join_all(assets.iter().zip(&sealed).map(|(a, responsible)| {
            let s = &a.spec;
            let cidrs: Vec<String> = s.cidrs.iter().map(ToString::to_string).collect();
            let responsible = responsible.as_ref().map(Json);
            let stmt = &stmt;
            let tx = &tx;
            async move {
                tx.execute(
                    stmt,
                    &[
                        &a.id.0,
                        &s.org_id.0,
                        &s.name,
                        &s.kind.as_str(),
                        &s.importance.as_str(),
                        &s.ips,
                        &cidrs,
                        &s.hostnames,
                        &s.domains,
                        &s.urls,
                        &s.macs,
                        &s.vendor,
                        &s.model,
                        &s.firmware,
                        &Json(&s.software),
                        &responsible,
                        &s.tags,
                        &Ts(a.created_at),
                        &Ts(a.updated_at),
                        &s.kind.is_industrial(),
                    ],
                )
                .await
            }
        }))
        .await?;
        tx.commit().await?;
        Ok(assets)
    }

    pub(crate) async fn get_asset_impl(&self, scope: Scope, id: AssetId) -> Result<Option<Asset>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {ASSET_COLUMNS} FROM assets \
                 WHERE id = $1 AND ($2::uuid IS NULL OR org_id = $2)"
            ))
            .await?;
        client
            .query_opt(&stmt, &[&id.0, &scope_org(scope)])
            .await?
            .as_ref()
            .map(|r| self.sealer.open_asset(asset_from_row(r)?))
            .transpose()
    }

    pub(crate) async fn list_assets_impl(
        &self,
        scope: Scope,
        q: &AssetQuery,
    ) -> Result<Page<Asset>> {
        let limit = page_size(q.limit);
        let mut query = Query::new(&format!("SELECT {ASSET_COLUMNS} FROM assets"));
        if let Some(o) = scope_org(scope) {
            query.eq("org_id", o);
        }
        if let Some(o) = q.org_id {
            query.eq("org_id", o.0);
        }
        if let Some(k) = q.kind {
            query.eq("kind", k.as_str());
        }
        if let Some(i) = q.industrial {
            query.eq("industrial", i);
        }
        if let Some(i) = q.importance {
            query.eq("importance", i.as_str());
        }
        if let Some(t) = &q.text {
            let p = query.arg(contains_pattern(t));
            query.and(&format!(
                "(name ILIKE {p} OR vendor ILIKE {p} OR model ILIKE {p} \
                  OR EXISTS (SELECT 1 FROM unnest(hostnames) h WHERE h ILIKE {p}) \
                  OR EXISTS (SELECT 1 FROM unnest(domains) d WHERE d ILIKE {p}) \
                  OR EXISTS (SELECT 1 FROM unnest(ips) i WHERE host(i) ILIKE {p}) \
                  OR EXISTS (SELECT 1 FROM unnest(cidrs) c WHERE c ILIKE {p}))"
            ));
        }
        if let Some(c) = &q.cursor {
            let (cursor, id) = uuid_cursor(c)?;
            let t = query.arg(Ts(cursor_time(&cursor)?));
            let k = query.arg(id);
            query.and(&format!("(created_at, id) < ({t}, {k})"));
        }
        let l = query.arg(limit as i64 + 1);
        query.push(&format!(" ORDER BY created_at DESC, id DESC LIMIT {l}"));
        let client = self.client().await?;
        let rows = client.query(query.sql(), &query.params()).await?;
        let items = rows
            .iter()
            .map(|r| self.sealer.open_asset(asset_from_row(r)?))
            .collect::<Result<Vec<_>>>()?;
        Ok(page(items, limit, |a| Cursor {
            micros: a.created_at.as_microsecond(),
            key: a.id.to_string(),
        }))
    }

    pub(crate) async fn update_asset_impl(
        &self,
        scope: Scope,
        id: AssetId,
        spec: NewAsset,
    ) -> Result<Option<Asset>> {
        spec.validate()?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let current = tx
            .query_opt(
                "SELECT id FROM assets WHERE id = $1 AND ($2::uuid IS NULL OR org_id = $2) \
                 FOR UPDATE",
                &[&id.0, &scope_org(scope)],
            )
            .await?;
        if current.is_none() {
            return Ok(None);
        }
        check_scope(scope, spec.org_id)?;
        lock_orgs(&tx, &BTreeSet::from([spec.org_id])).await?;
        let s = &spec;
        let cidrs: Vec<String> = s.cidrs.iter().map(ToString::to_string).collect();
        let responsible = self.sealer.seal_asset_contact(id, s.responsible.as_ref())?;
        let responsible = responsible.as_ref().map(Json);
        let stmt = tx
            .prepare_cached(&format!(
                "UPDATE assets SET org_id = $2, name = $3, kind = $4, importance = $5, ips = $6, \
                 cidrs = $7, hostnames = $8, domains = $9, urls = $10, macs = $11, vendor = $12, \
                 model = $13, firmware = $14, software = $15, responsible = $16, tags = $17, \
                 updated_at = $18, industrial = $19 \
                 WHERE id = $1 RETURNING {ASSET_COLUMNS}"
            ))
            .await?;
        let row = tx
            .query_opt(
                &stmt,
                &[
                    &id.0,
                    &s.org_id.0,
                    &s.name,
                    &s.kind.as_str(),
                    &s.importance.as_str(),
                    &s.ips,
                    &cidrs,
                    &s.hostnames,
                    &s.domains,
                    &s.urls,
                    &s.macs,
                    &s.vendor,
                    &s.model,
                    &s.firmware,
                    &Json(&s.software),
                    &responsible,
                    &s.tags,
                    &Ts(now()),
                    &s.kind.is_industrial(),
                ],
            )
            .await?;
        let asset = row
            .as_ref()
            .map(|r| self.sealer.open_asset(asset_from_row(r)?))
            .transpose()?;
        tx.commit().await?;
        Ok(asset)
    }

    pub(crate) async fn delete_asset_impl(&self, scope: Scope, id: AssetId) -> Result<bool> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "DELETE FROM assets WHERE id = $1 AND ($2::uuid IS NULL OR org_id = $2)",
            )
            .await?;
        Ok(client.execute(&stmt, &[&id.0, &scope_org(scope)]).await? > 0)
    }

    pub(crate) async fn all_assets_impl(&self) -> Result<Vec<Asset>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {ASSET_COLUMNS} FROM assets ORDER BY created_at, id"
            ))
            .await?;
        client
            .query(&stmt, &[])
            .await?
            .iter()
            .map(|r| self.sealer.open_asset(asset_from_row(r)?))
            .collect()
    }
}

/// The time of a cursor, rejecting ones out of range.
pub(crate) fn cursor_time(c: &Cursor) -> Result<vigil_model::Timestamp> {
    vigil_model::Timestamp::from_microsecond(c.micros)
        .map_err(|_| StoreError::BadCursor("cursor time out of range".into()))
}

/// Cuts a list fetched with `limit + 1` rows into a page and its cursor.
pub(crate) fn page<T>(mut items: Vec<T>, limit: usize, cursor: impl Fn(&T) -> Cursor) -> Page<T> {
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|last| cursor(last).encode())
    } else {
        None
    };
    Page { items, next_cursor }
}
