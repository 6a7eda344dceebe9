//! Organizations and assets.

use super::sql::{Filter, get_json, get_ts, get_uuid, page, text, to_json, us, uuid_cursor};
use crate::sealed::Sealer;
use crate::{AssetQuery, Cursor, OrgQuery, Result, StoreError, org_in_use, page_size};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use vigil_model::{
    Asset, AssetId, MiitEnterpriseType, NewAsset, NewOrganization, OrgId, Organization, Page,
    Scope, Timestamp,
};

const ORG_COLUMNS: &str = "id, name, uscc, sector, region_code, mlps_level, cii, miit_type, \
                           miit_grade, responsible, contacts, created_at, updated_at";

fn org_from_row(row: &Row<'_>) -> rusqlite::Result<Organization> {
    let miit_type = match row.get::<_, Option<String>>(7)? {
        None => None,
        Some(s) => Some(
            MiitEnterpriseType::parse(&s)
                .ok_or_else(|| super::sql::col_err(7, format!("unknown miit_type '{s}'")))?,
        ),
    };
    Ok(Organization {
        id: OrgId(get_uuid(row, 0)?),
        spec: NewOrganization {
            name: row.get(1)?,
            uscc: row.get(2)?,
            sector: row.get(3)?,
            region_code: row.get(4)?,
            mlps_level: row.get(5)?,
            cii: row.get(6)?,
            miit_type,
            miit_grade: row.get(8)?,
            responsible: get_json(row, 9)?,
            contacts: get_json(row, 10)?,
        },
        created_at: get_ts(row, 11)?,
        updated_at: get_ts(row, 12)?,
    })
}

/// True when the organization exists within the scope.
pub(crate) fn org_visible(conn: &Connection, scope: Scope, id: OrgId) -> Result<bool> {
    if !scope.allows_org(id) {
        return Ok(false);
    }
    Ok(conn
        .prepare_cached("SELECT 1 FROM organizations WHERE id = ?1")?
        .query_row([id.to_string()], |_| Ok(()))
        .optional()?
        .is_some())
}

pub(crate) fn create_org(
    conn: &Connection,
    sealer: &Sealer,
    spec: NewOrganization,
    now: Timestamp,
) -> Result<Organization> {
    spec.validate()?;
    let org = Organization {
        id: OrgId::new(),
        spec,
        created_at: now,
        updated_at: now,
    };
    let s = &org.spec;
    let (responsible, contacts) = sealer.seal_org(org.id, &s.responsible, &s.contacts)?;
    conn.prepare_cached(
        "INSERT INTO organizations (id, name, name_lower, uscc, sector, region_code, mlps_level,
             cii, miit_type, miit_grade, responsible, contacts, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
    )?
    .execute(params![
        org.id.to_string(),
        s.name,
        s.name.to_lowercase(),
        s.uscc,
        s.sector,
        s.region_code,
        s.mlps_level,
        s.cii,
        s.miit_type.map(MiitEnterpriseType::as_str),
        s.miit_grade,
        to_json(&responsible)?,
        to_json(&contacts)?,
        us(now),
    ])?;
    Ok(org)
}

pub(crate) fn get_org(
    conn: &Connection,
    sealer: &Sealer,
    scope: Scope,
    id: OrgId,
) -> Result<Option<Organization>> {
    if !scope.allows_org(id) {
        return Ok(None);
    }
    conn.prepare_cached(&format!(
        "SELECT {ORG_COLUMNS} FROM organizations WHERE id = ?1"
    ))?
    .query_row([id.to_string()], org_from_row)
    .optional()?
    .map(|o| sealer.open_org(o))
    .transpose()
}

pub(crate) fn list_orgs(
    conn: &Connection,
    sealer: &Sealer,
    scope: Scope,
    q: &OrgQuery,
) -> Result<Vec<Organization>> {
    let mut f = Filter::default();
    f.scope(scope, "id");
    if let Some(t) = q.text.as_deref().filter(|t| !t.is_empty()) {
        f.and("instr(name_lower, ?) > 0", [text(t.to_lowercase())]);
    }
    if let Some(s) = &q.sector {
        f.and("sector = ?", [text(s)]);
    }
    if let Some(p) = q.region_prefix.as_deref().filter(|p| !p.is_empty()) {
        f.and("substr(region_code, 1, length(?)) = ?", [text(p), text(p)]);
    }
    if let Some(l) = q.mlps_level {
        f.and("mlps_level = ?", [Value::Integer(i64::from(l))]);
    }
    if let Some(c) = q.cii {
        f.and("cii = ?", [Value::Integer(i64::from(c))]);
    }
    let sql = format!(
        "SELECT {ORG_COLUMNS} FROM organizations{} ORDER BY name, id",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(f.params.iter()), org_from_row)?;
    rows.map(|r| sealer.open_org(r?)).collect()
}

pub(crate) fn update_org(
    conn: &Connection,
    sealer: &Sealer,
    scope: Scope,
    id: OrgId,
    spec: NewOrganization,
    now: Timestamp,
) -> Result<Option<Organization>> {
    spec.validate()?;
    if !scope.allows_org(id) {
        return Ok(None);
    }
    // Sealed afresh on every write: values stored in clear before encryption was on are
    // encrypted here.
    let (responsible, contacts) = sealer.seal_org(id, &spec.responsible, &spec.contacts)?;
    let n = conn
        .prepare_cached(
            "UPDATE organizations SET name = ?2, name_lower = ?3, uscc = ?4, sector = ?5,
                 region_code = ?6, mlps_level = ?7, cii = ?8, miit_type = ?9, miit_grade = ?10,
                 responsible = ?11, contacts = ?12, updated_at = ?13
             WHERE id = ?1",
        )?
        .execute(params![
            id.to_string(),
            spec.name,
            spec.name.to_lowercase(),
            spec.uscc,
            spec.sector,
            spec.region_code,
            spec.mlps_level,
            spec.cii,
            spec.miit_type.map(MiitEnterpriseType::as_str),
            spec.miit_grade,
            to_json(&responsible)?,
            to_json(&contacts)?,
            us(now),
        ])?;
    if n == 0 {
        return Ok(None);
    }
    get_org(conn, sealer, scope, id)
}

pub(crate) fn delete_org(conn: &Connection, scope: Scope, id: OrgId) -> Result<bool> {
    if !org_visible(conn, scope, id)? {
        return Ok(false);
    }
    let key = id.to_string();
    let count = |sql: &str| -> Result<u64> {
        Ok(conn
            .prepare_cached(sql)?
            .query_row([&key], |r| r.get::<_, i64>(0))?
            .try_into()
            .unwrap_or(0))
    };
    let assets = count("SELECT count(*) FROM assets WHERE org_id = ?1")?;
    let users = count("SELECT count(*) FROM users WHERE org_id = ?1")?;
    if let Some(conflict) = org_in_use(assets, users) {
        return Err(conflict);
    }
    // Events have no foreign key (hot path); alerts, incidents and tokens cascade.
    super::events::delete_org(conn, &key)?;
    let n = conn
        .prepare_cached("DELETE FROM organizations WHERE id = ?1")?
        .execute([&key])?;
    Ok(n > 0)
}

const ASSET_COLUMNS: &str = "id, org_id, spec, created_at, updated_at";

fn asset_from_row(row: &Row<'_>) -> rusqlite::Result<Asset> {
    let mut spec: NewAsset = get_json(row, 2)?;
    spec.org_id = OrgId(get_uuid(row, 1)?);
    Ok(Asset {
        id: AssetId(get_uuid(row, 0)?),
        spec,
        created_at: get_ts(row, 3)?,
        updated_at: get_ts(row, 4)?,
    })
}

/// What the asset text filter searches: name, hostnames, domains, IPs, vendor and model,
/// lowercased, one per line (so a match cannot span two of them).
fn asset_search_text(a: &NewAsset) -> String {
    let mut parts: Vec<String> = vec![a.name.clone()];
    parts.extend(a.hostnames.iter().cloned());
    parts.extend(a.domains.iter().cloned());
    parts.extend(a.ips.iter().map(ToString::to_string));
    parts.extend(a.cidrs.iter().map(ToString::to_string));
    parts.extend(a.vendor.iter().cloned());
    parts.extend(a.model.iter().cloned());
    parts.join("\n").to_lowercase()
}

fn missing_org(id: OrgId) -> StoreError {
    StoreError::MissingReference(format!("organization {id}"))
}

pub(crate) fn create_assets(
    conn: &Connection,
    sealer: &Sealer,
    scope: Scope,
    specs: Vec<NewAsset>,
    now: Timestamp,
) -> Result<Vec<Asset>> {
    for s in &specs {
        s.validate()?;
    }
    let mut checked: Vec<OrgId> = Vec::new();
    for s in &specs {
        if !checked.contains(&s.org_id) {
            if !org_visible(conn, scope, s.org_id)? {
                return Err(missing_org(s.org_id));
            }
            checked.push(s.org_id);
        }
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO assets (id, org_id, name, kind, industrial, importance, search_text, spec,
             created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
    )?;
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        let asset = Asset {
            id: AssetId::new(),
            spec,
            created_at: now,
            updated_at: now,
        };
        let s = &asset.spec;
        let stored = stored_asset(sealer, asset.id, s)?;
        stmt.execute(params![
            asset.id.to_string(),
            s.org_id.to_string(),
            s.name,
            s.kind.as_str(),
            s.kind.is_industrial(),
            s.importance.as_str(),
            asset_search_text(s),
            to_json(stored.as_ref().unwrap_or(s))?,
            us(now),
        ])?;
        out.push(asset);
    }
    Ok(out)
}

/// The asset spec as stored when its contact is sealed (`None`: store `spec` as it is).
fn stored_asset(sealer: &Sealer, id: AssetId, spec: &NewAsset) -> Result<Option<NewAsset>> {
    let Some(c) = sealer.seal_asset_contact(id, spec.responsible.as_ref())? else {
        return Ok(None);
    };
    Ok(Some(NewAsset {
        responsible: Some(c),
        ..spec.clone()
    }))
}

pub(crate) fn get_asset(
    conn: &Connection,
    sealer: &Sealer,
    scope: Scope,
    id: AssetId,
) -> Result<Option<Asset>> {
    get_asset_sealed(conn, scope, id)?
        .map(|a| sealer.open_asset(a))
        .transpose()
}

/// The asset with its contact as stored.
fn get_asset_sealed(conn: &Connection, scope: Scope, id: AssetId) -> Result<Option<Asset>> {
    let mut f = Filter::default();
    f.and("id = ?", [text(id)]).scope(scope, "org_id");
    let sql = format!("SELECT {ASSET_COLUMNS} FROM assets{}", f.sql);
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(f.params.iter()), asset_from_row)
        .optional()?)
}

pub(crate) fn list_assets(
    conn: &Connection,
    sealer: &Sealer,
    scope: Scope,
    q: &AssetQuery,
) -> Result<Page<Asset>> {
    let limit = page_size(q.limit);
    let mut f = Filter::default();
    f.scope(scope, "org_id");
    if let Some(o) = q.org_id {
        f.and("org_id = ?", [text(o)]);
    }
    if let Some(k) = q.kind {
        f.and("kind = ?", [text(k.as_str())]);
    }
    if let Some(i) = q.industrial {
        f.and("industrial = ?", [Value::Integer(i64::from(i))]);
    }
    if let Some(i) = q.importance {
        f.and("importance = ?", [text(i.as_str())]);
    }
    if let Some(t) = q.text.as_deref().filter(|t| !t.is_empty()) {
        f.and("instr(search_text, ?) > 0", [text(t.to_lowercase())]);
    }
    if let Some(c) = &q.cursor {
        let (micros, key) = uuid_cursor(c)?;
        f.before("created_at", "id", micros, key);
    }
    f.params.push(Value::Integer(limit as i64 + 1));
    let sql = format!(
        "SELECT {ASSET_COLUMNS} FROM assets{} ORDER BY created_at DESC, id DESC LIMIT ?",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let items = stmt
        .query_map(params_from_iter(f.params.iter()), asset_from_row)?
        .map(|r| sealer.open_asset(r?))
        .collect::<Result<Vec<_>>>()?;
    Ok(page(items, limit, |a: &Asset| Cursor {
        micros: us(a.created_at),
        key: a.id.to_string(),
    }))
}

pub(crate) fn update_asset(
    conn: &Connection,
    sealer: &Sealer,
    scope: Scope,
    id: AssetId,
    spec: NewAsset,
    now: Timestamp,
) -> Result<Option<Asset>> {
    spec.validate()?;
    // The old contact is not opened: the update replaces it, and may repair one that no
    // longer opens.
    let Some(old) = get_asset_sealed(conn, scope, id)? else {
        return Ok(None);
    };
    if spec.org_id != old.spec.org_id && !org_visible(conn, scope, spec.org_id)? {
        return Err(missing_org(spec.org_id));
    }
    conn.prepare_cached(
        "UPDATE assets SET org_id = ?2, name = ?3, kind = ?4, industrial = ?5, importance = ?6,
             search_text = ?7, spec = ?8, updated_at = ?9
         WHERE id = ?1",
    )?
    .execute(params![
        id.to_string(),
        spec.org_id.to_string(),
        spec.name,
        spec.kind.as_str(),
        spec.kind.is_industrial(),
        spec.importance.as_str(),
        asset_search_text(&spec),
        to_json(stored_asset(sealer, id, &spec)?.as_ref().unwrap_or(&spec))?,
        us(now),
    ])?;
    Ok(Some(Asset {
        id,
        spec,
        created_at: old.created_at,
        updated_at: now,
    }))
}

pub(crate) fn delete_asset(conn: &Connection, scope: Scope, id: AssetId) -> Result<bool> {
    let mut f = Filter::default();
    f.and("id = ?", [text(id)]).scope(scope, "org_id");
    let sql = format!("DELETE FROM assets{}", f.sql);
    Ok(conn
        .prepare_cached(&sql)?
        .execute(params_from_iter(f.params.iter()))?
        > 0)
}

pub(crate) fn all_assets(conn: &Connection, sealer: &Sealer) -> Result<Vec<Asset>> {
    let sql = format!("SELECT {ASSET_COLUMNS} FROM assets ORDER BY created_at, id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], asset_from_row)?;
    rows.map(|r| sealer.open_asset(r?)).collect()
}
