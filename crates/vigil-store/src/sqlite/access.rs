//! Users, API tokens, browser sessions and the audit log.

use super::sql::{Filter, get_enum, get_opt_ts, get_opt_uuid, get_ts, get_uuid, text, us};
use crate::{AuditQuery, Result, Session, StoreError, page_size};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use vigil_model::{
    ApiToken, AuditOutcome, AuditRecord, Locale, NewAuditRecord, NewUser, OrgId, Role, Scope,
    Timestamp, TokenId, User, UserId,
};

const USER_COLUMNS: &str = "id, username, display_name, role, org_id, locale, disabled, created_at";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(get_uuid(row, 0)?),
        spec: NewUser {
            username: row.get(1)?,
            display_name: row.get(2)?,
            role: get_enum(row, 3, Role::parse)?,
            org_id: get_opt_uuid(row, 4)?.map(OrgId),
            locale: get_enum(row, 5, Locale::parse)?,
        },
        disabled: row.get(6)?,
        created_at: get_ts(row, 7)?,
    })
}

pub(crate) fn create_user(
    conn: &Connection,
    spec: NewUser,
    password_hash: String,
    now: Timestamp,
) -> Result<User> {
    spec.validate()?;
    if let Some(o) = spec.org_id
        && !super::directory::org_visible(conn, Scope::All, o)?
    {
        return Err(StoreError::MissingReference(format!("organization {o}")));
    }
    let user = User {
        id: UserId::new(),
        spec,
        disabled: false,
        created_at: now,
    };
    let s = &user.spec;
    conn.prepare_cached(
        "INSERT INTO users (id, username, display_name, role, org_id, locale, password_hash,
             disabled, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)",
    )?
    .execute(params![
        user.id.to_string(),
        s.username,
        s.display_name,
        s.role.as_str(),
        s.org_id.map(|o| o.to_string()),
        s.locale.as_str(),
        password_hash,
        us(now),
    ])?;
    Ok(user)
}

pub(crate) fn get_user(conn: &Connection, id: UserId) -> Result<Option<User>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id.to_string()], user_from_row)
        .optional()?)
}

pub(crate) fn find_user_for_login(
    conn: &Connection,
    username: &str,
) -> Result<Option<(User, String)>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = ?1"
        ))?
        .query_row([username], |r| Ok((user_from_row(r)?, r.get(8)?)))
        .optional()?)
}

pub(crate) fn list_users(conn: &Connection, scope: Scope) -> Result<Vec<User>> {
    let mut f = Filter::default();
    f.scope(scope, "org_id");
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users{} ORDER BY username",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(f.params.iter()), user_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Runs an `UPDATE ... WHERE id = ?1` with one more parameter; true when a row changed.
pub(crate) fn update_user(conn: &Connection, sql: &str, id: UserId, value: Value) -> Result<bool> {
    Ok(conn
        .prepare_cached(sql)?
        .execute(params![id.to_string(), value])?
        > 0)
}

pub(crate) fn count_users(conn: &Connection) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM users")?
        .query_row([], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

const TOKEN_COLUMNS: &str =
    "id, name, role, org_id, created_by, created_at, expires_at, revoked_at, last_used_at";

fn token_from_row(row: &Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: TokenId(get_uuid(row, 0)?),
        name: row.get(1)?,
        role: get_enum(row, 2, Role::parse)?,
        org_id: get_opt_uuid(row, 3)?.map(OrgId),
        created_by: row.get(4)?,
        created_at: get_ts(row, 5)?,
        expires_at: get_opt_ts(row, 6)?,
        revoked_at: get_opt_ts(row, 7)?,
        last_used_at: get_opt_ts(row, 8)?,
    })
}

pub(crate) fn create_token(conn: &Connection, t: &ApiToken, secret_hash: &str) -> Result<()> {
    vigil_model::user::validate_role_org(t.role, t.org_id)?;
    if let Some(o) = t.org_id
        && !super::directory::org_visible(conn, Scope::All, o)?
    {
        return Err(StoreError::MissingReference(format!("organization {o}")));
    }
    conn.prepare_cached(
        "INSERT INTO api_tokens (id, name, role, org_id, created_by, created_at, expires_at,
             revoked_at, last_used_at, secret_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        t.id.to_string(),
        t.name,
        t.role.as_str(),
        t.org_id.map(|o| o.to_string()),
        t.created_by,
        us(t.created_at),
        t.expires_at.map(us),
        t.revoked_at.map(us),
        t.last_used_at.map(us),
        secret_hash,
    ])?;
    Ok(())
}

pub(crate) fn find_token(conn: &Connection, secret_hash: &str) -> Result<Option<ApiToken>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE secret_hash = ?1"
        ))?
        .query_row([secret_hash], token_from_row)
        .optional()?)
}

pub(crate) fn list_tokens(conn: &Connection, scope: Scope) -> Result<Vec<ApiToken>> {
    let mut f = Filter::default();
    f.scope(scope, "org_id");
    let sql = format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens{} ORDER BY created_at DESC, id DESC",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(f.params.iter()), token_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Revokes a token within the scope; an already revoked token keeps its first revocation
/// time (and still counts as found).
pub(crate) fn revoke_token(
    conn: &Connection,
    scope: Scope,
    id: TokenId,
    at: Timestamp,
) -> Result<bool> {
    let mut f = Filter::default();
    f.and("id = ?", [text(id)]).scope(scope, "org_id");
    let sql = format!(
        "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?){}",
        f.sql
    );
    let mut values = vec![Value::Integer(us(at))];
    values.extend(f.params);
    Ok(conn
        .prepare_cached(&sql)?
        .execute(params_from_iter(values.iter()))?
        > 0)
}

pub(crate) fn touch_token(conn: &Connection, id: TokenId, at: Timestamp) -> Result<()> {
    conn.prepare_cached("UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1")?
        .execute(params![id.to_string(), us(at)])?;
    Ok(())
}

fn session_from_row(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id_hash: row.get(0)?,
        user_id: UserId(get_uuid(row, 1)?),
        csrf_token: row.get(2)?,
        created_at: get_ts(row, 3)?,
        expires_at: get_ts(row, 4)?,
    })
}

pub(crate) fn create_session(conn: &Connection, s: &Session) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        s.id_hash,
        s.user_id.to_string(),
        s.csrf_token,
        us(s.created_at),
        us(s.expires_at),
    ])
    .map_err(|e| match StoreError::from(e) {
        StoreError::MissingReference(_) => {
            StoreError::MissingReference(format!("user {}", s.user_id))
        }
        other => other,
    })?;
    Ok(())
}

pub(crate) fn get_session(conn: &Connection, id_hash: &str) -> Result<Option<Session>> {
    Ok(conn
        .prepare_cached(
            "SELECT id_hash, user_id, csrf_token, created_at, expires_at
             FROM sessions WHERE id_hash = ?1",
        )?
        .query_row([id_hash], session_from_row)
        .optional()?)
}

pub(crate) fn delete_session(conn: &Connection, id_hash: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM sessions WHERE id_hash = ?1")?
        .execute([id_hash])?;
    Ok(())
}

pub(crate) fn delete_user_sessions(conn: &Connection, user: UserId) -> Result<()> {
    conn.prepare_cached("DELETE FROM sessions WHERE user_id = ?1")?
        .execute([user.to_string()])?;
    Ok(())
}

pub(crate) fn delete_expired_sessions(conn: &Connection, now: Timestamp) -> Result<u64> {
    let n = conn
        .prepare_cached("DELETE FROM sessions WHERE expires_at <= ?1")?
        .execute([us(now)])?;
    Ok(n as u64)
}

const AUDIT_COLUMNS: &str =
    "seq, at, actor, action, object, outcome, org_id, detail, prev_hash, hash";

fn audit_from_row(row: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        seq: row.get(0)?,
        at: get_ts(row, 1)?,
        record: NewAuditRecord {
            actor: row.get(2)?,
            action: row.get(3)?,
            object: row.get(4)?,
            outcome: get_enum(row, 5, AuditOutcome::parse)?,
            org_id: get_opt_uuid(row, 6)?.map(OrgId),
            detail: row.get(7)?,
        },
        prev_hash: row.get(8)?,
        hash: row.get(9)?,
    })
}

/// Appends to the chain. Runs on the writer thread, so reading the last record and writing
/// the next are never interleaved with another append.
pub(crate) fn append_audit(
    conn: &Connection,
    record: NewAuditRecord,
    now: Timestamp,
) -> Result<AuditRecord> {
    let last: Option<(i64, String)> = conn
        .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (seq, prev_hash) = match last {
        Some((s, h)) => (s + 1, h),
        None => (1, vigil_crypto::AUDIT_GENESIS.to_string()),
    };
    let mut rec = AuditRecord {
        seq,
        at: now,
        record,
        prev_hash,
        hash: String::new(),
    };
    rec.hash = vigil_crypto::audit_hash(&rec.prev_hash, &rec);
    let r = &rec.record;
    conn.prepare_cached(
        "INSERT INTO audit_log (seq, at, actor, action, object, outcome, org_id, detail,
             prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        rec.seq,
        us(rec.at),
        r.actor,
        r.action,
        r.object,
        r.outcome.as_str(),
        r.org_id.map(|o| o.to_string()),
        r.detail,
        rec.prev_hash,
        rec.hash,
    ])?;
    Ok(rec)
}

pub(crate) fn list_audit(conn: &Connection, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
    let mut f = Filter::default();
    if let Some(s) = q.after_seq {
        f.and("seq > ?", [Value::Integer(s)]);
    }
    if let Some(a) = &q.actor {
        f.and("actor = ?", [text(a)]);
    }
    if let Some(p) = q.action_prefix.as_deref().filter(|p| !p.is_empty()) {
        f.and("substr(action, 1, length(?)) = ?", [text(p), text(p)]);
    }
    if let Some(o) = q.org_id {
        f.and("org_id = ?", [text(o)]);
    }
    f.params.push(Value::Integer(page_size(q.limit) as i64));
    let sql = format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log{} ORDER BY seq LIMIT ?",
        f.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(f.params.iter()), audit_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
