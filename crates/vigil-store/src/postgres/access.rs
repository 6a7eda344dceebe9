//! Users, API tokens, browser sessions and the audit log.

use super::directory::missing_org;
use super::query::{Query, like_escape};
use super::{PgStore, Ts, corrupt, micros, now, scope_org};
use crate::{AuditQuery, Result, Session, StoreError, page_size};
use tokio_postgres::Row;
use uuid::Uuid;
use vigil_crypto::{AUDIT_GENESIS, audit_hash};
use vigil_model::{
    ApiToken, AuditOutcome, AuditRecord, Locale, NewAuditRecord, NewUser, OrgId, Role, Scope,
    Timestamp, TokenId, User, UserId,
};

const USER_COLUMNS: &str = "id, username, display_name, role, org_id, locale, disabled, created_at";

const TOKEN_COLUMNS: &str =
    "id, name, role, org_id, created_by, created_at, expires_at, revoked_at, last_used_at";

const SESSION_COLUMNS: &str = "id_hash, user_id, csrf_token, created_at, expires_at";

const AUDIT_COLUMNS: &str =
    "seq, at, actor, action, object, outcome, org_id, detail, prev_hash, hash";

fn role(r: &Row) -> Result<Role> {
    let s: String = r.try_get("role")?;
    Role::parse(&s).ok_or_else(|| corrupt("role", &s))
}

fn user_from_row(r: &Row) -> Result<User> {
    let locale: String = r.try_get("locale")?;
    Ok(User {
        id: UserId(r.try_get("id")?),
        spec: NewUser {
            username: r.try_get("username")?,
            display_name: r.try_get("display_name")?,
            role: role(r)?,
            org_id: r.try_get::<_, Option<Uuid>>("org_id")?.map(OrgId),
            locale: Locale::parse(&locale).ok_or_else(|| corrupt("locale", &locale))?,
        },
        disabled: r.try_get("disabled")?,
        created_at: r.try_get::<_, Ts>("created_at")?.0,
    })
}

fn token_from_row(r: &Row) -> Result<ApiToken> {
    let ts =
        |c: &str| -> Result<Option<Timestamp>> { Ok(r.try_get::<_, Option<Ts>>(c)?.map(|t| t.0)) };
    Ok(ApiToken {
        id: TokenId(r.try_get("id")?),
        name: r.try_get("name")?,
        role: role(r)?,
        org_id: r.try_get::<_, Option<Uuid>>("org_id")?.map(OrgId),
        created_by: r.try_get("created_by")?,
        created_at: r.try_get::<_, Ts>("created_at")?.0,
        expires_at: ts("expires_at")?,
        revoked_at: ts("revoked_at")?,
        last_used_at: ts("last_used_at")?,
    })
}

fn session_from_row(r: &Row) -> Result<Session> {
    Ok(Session {
        id_hash: r.try_get("id_hash")?,
        user_id: UserId(r.try_get("user_id")?),
        csrf_token: r.try_get("csrf_token")?,
        created_at: r.try_get::<_, Ts>("created_at")?.0,
        expires_at: r.try_get::<_, Ts>("expires_at")?.0,
    })
}

fn audit_from_row(r: &Row) -> Result<AuditRecord> {
    let outcome: String = r.try_get("outcome")?;
    Ok(AuditRecord {
        seq: r.try_get("seq")?,
        at: r.try_get::<_, Ts>("at")?.0,
        record: NewAuditRecord {
            actor: r.try_get("actor")?,
            action: r.try_get("action")?,
            object: r.try_get("object")?,
            outcome: AuditOutcome::parse(&outcome).ok_or_else(|| corrupt("outcome", &outcome))?,
            org_id: r.try_get::<_, Option<Uuid>>("org_id")?.map(OrgId),
            detail: r.try_get("detail")?,
        },
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

impl PgStore {
    pub(crate) async fn create_user_impl(
        &self,
        spec: NewUser,
        password_hash: String,
    ) -> Result<User> {
        spec.validate()?;
        if let Some(o) = spec.org_id {
            self.check_org_exists(o).await?;
        }
        let user = User {
            id: UserId::new(),
            spec,
            disabled: false,
            created_at: now(),
        };
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "INSERT INTO users ({USER_COLUMNS}, password_hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ))
            .await?;
        let s = &user.spec;
        client
            .execute(
                &stmt,
                &[
                    &user.id.0,
                    &s.username,
                    &s.display_name,
                    &s.role.as_str(),
                    &s.org_id.map(|o| o.0),
                    &s.locale.as_str(),
                    &user.disabled,
                    &Ts(user.created_at),
                    &password_hash,
                ],
            )
            .await?;
        Ok(user)
    }

    pub(crate) async fn get_user_impl(&self, id: UserId) -> Result<Option<User>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .await?;
        client
            .query_opt(&stmt, &[&id.0])
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    /// A foreign key would catch a missing organization too, but not name it.
    async fn check_org_exists(&self, org: OrgId) -> Result<()> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT 1 FROM organizations WHERE id = $1")
            .await?;
        match client.query_opt(&stmt, &[&org.0]).await? {
            Some(_) => Ok(()),
            None => Err(missing_org(org)),
        }
    }

    pub(crate) async fn find_user_for_login_impl(
        &self,
        username: &str,
    ) -> Result<Option<(User, String)>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1"
            ))
            .await?;
        match client.query_opt(&stmt, &[&username]).await? {
            None => Ok(None),
            Some(r) => Ok(Some((user_from_row(&r)?, r.try_get("password_hash")?))),
        }
    }

    pub(crate) async fn list_users_impl(&self, scope: Scope) -> Result<Vec<User>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE ($1::uuid IS NULL OR org_id = $1) \
                 ORDER BY username COLLATE \"C\""
            ))
            .await?;
        client
            .query(&stmt, &[&scope_org(scope)])
            .await?
            .iter()
            .map(user_from_row)
            .collect()
    }

    pub(crate) async fn set_password_impl(
        &self,
        id: UserId,
        password_hash: String,
    ) -> Result<bool> {
        self.update_user(
            "UPDATE users SET password_hash = $2 WHERE id = $1",
            id,
            &password_hash,
        )
        .await
    }

    pub(crate) async fn set_user_disabled_impl(&self, id: UserId, disabled: bool) -> Result<bool> {
        self.update_user(
            "UPDATE users SET disabled = $2 WHERE id = $1",
            id,
            &disabled,
        )
        .await
    }

    pub(crate) async fn set_user_locale_impl(&self, id: UserId, locale: Locale) -> Result<bool> {
        self.update_user(
            "UPDATE users SET locale = $2 WHERE id = $1",
            id,
            &locale.as_str(),
        )
        .await
    }

    async fn update_user(
        &self,
        sql: &str,
        id: UserId,
        value: &(dyn tokio_postgres::types::ToSql + Sync),
    ) -> Result<bool> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.execute(&stmt, &[&id.0, value]).await? > 0)
    }

    pub(crate) async fn count_users_impl(&self) -> Result<u64> {
        let client = self.client().await?;
        let row = client.query_one("SELECT count(*) FROM users", &[]).await?;
        Ok(row.try_get::<_, i64>(0)?.unsigned_abs())
    }

    pub(crate) async fn create_token_impl(
        &self,
        token: ApiToken,
        secret_hash: String,
    ) -> Result<()> {
        vigil_model::user::validate_role_org(token.role, token.org_id)?;
        if let Some(o) = token.org_id {
            self.check_org_exists(o).await?;
        }
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "INSERT INTO api_tokens ({TOKEN_COLUMNS}, secret_hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ))
            .await?;
        let t = &token;
        client
            .execute(
                &stmt,
                &[
                    &t.id.0,
                    &t.name,
                    &t.role.as_str(),
                    &t.org_id.map(|o| o.0),
                    &t.created_by,
                    &Ts(micros(t.created_at)),
                    &t.expires_at.map(|x| Ts(micros(x))),
                    &t.revoked_at.map(|x| Ts(micros(x))),
                    &t.last_used_at.map(|x| Ts(micros(x))),
                    &secret_hash,
                ],
            )
            .await?;
        Ok(())
    }

    pub(crate) async fn find_token_impl(&self, secret_hash: &str) -> Result<Option<ApiToken>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE secret_hash = $1"
            ))
            .await?;
        client
            .query_opt(&stmt, &[&secret_hash])
            .await?
            .as_ref()
            .map(token_from_row)
            .transpose()
    }

    pub(crate) async fn list_tokens_impl(&self, scope: Scope) -> Result<Vec<ApiToken>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE ($1::uuid IS NULL OR org_id = $1) \
                 ORDER BY created_at DESC, id DESC"
            ))
            .await?;
        client
            .query(&stmt, &[&scope_org(scope)])
            .await?
            .iter()
            .map(token_from_row)
            .collect()
    }

    pub(crate) async fn revoke_token_impl(
        &self,
        scope: Scope,
        id: TokenId,
        at: Timestamp,
    ) -> Result<bool> {
        let client = self.client().await?;
        // A second revocation keeps the first time.
        let stmt = client
            .prepare_cached(
                "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $3) \
                 WHERE id = $1 AND ($2::uuid IS NULL OR org_id = $2)",
            )
            .await?;
        Ok(client
            .execute(&stmt, &[&id.0, &scope_org(scope), &Ts(micros(at))])
            .await?
            > 0)
    }

    pub(crate) async fn touch_token_impl(&self, id: TokenId, at: Timestamp) -> Result<()> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
            .await?;
        client.execute(&stmt, &[&id.0, &Ts(micros(at))]).await?;
        Ok(())
    }

    pub(crate) async fn create_session_impl(&self, session: Session) -> Result<()> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
            ))
            .await?;
        client
            .execute(
                &stmt,
                &[
                    &session.id_hash,
                    &session.user_id.0,
                    &session.csrf_token,
                    &Ts(micros(session.created_at)),
                    &Ts(micros(session.expires_at)),
                ],
            )
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::MissingReference(_) => {
                    StoreError::MissingReference(format!("user {}", session.user_id))
                }
                other => other,
            })?;
        Ok(())
    }

    pub(crate) async fn get_session_impl(&self, id_hash: &str) -> Result<Option<Session>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE id_hash = $1"
            ))
            .await?;
        client
            .query_opt(&stmt, &[&id_hash])
            .await?
            .as_ref()
            .map(session_from_row)
            .transpose()
    }

    pub(crate) async fn delete_session_impl(&self, id_hash: &str) -> Result<()> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("DELETE FROM sessions WHERE id_hash = $1")
            .await?;
        client.execute(&stmt, &[&id_hash]).await?;
        Ok(())
    }

    pub(crate) async fn delete_user_sessions_impl(&self, user: UserId) -> Result<()> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("DELETE FROM sessions WHERE user_id = $1")
            .await?;
        client.execute(&stmt, &[&user.0]).await?;
        Ok(())
    }

    pub(crate) async fn delete_expired_sessions_impl(&self, now: Timestamp) -> Result<u64> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("DELETE FROM sessions WHERE expires_at <= $1")
            .await?;
        Ok(client.execute(&stmt, &[&Ts(micros(now))]).await?)
    }

    pub(crate) async fn append_audit_impl(&self, record: NewAuditRecord) -> Result<AuditRecord> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The chain needs each record to see the one before it: EXCLUSIVE mode lets readers
        // through but makes concurrent appenders wait until this transaction commits, so two
        // records can never take the same seq or link to the same predecessor.
        tx.batch_execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")
            .await?;
        let last = tx
            .query_opt(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                &[],
            )
            .await?;
        let (seq, prev_hash) = match last {
            Some(r) => (r.try_get::<_, i64>(0)? + 1, r.try_get::<_, String>(1)?),
            None => (1, AUDIT_GENESIS.to_string()),
        };
        let mut rec = AuditRecord {
            seq,
            at: now(),
            record,
            prev_hash,
            hash: String::new(),
        };
        rec.hash = audit_hash(&rec.prev_hash, &rec);
        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO audit_log ({AUDIT_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ))
            .await?;
        let r = &rec.record;
        tx.execute(
            &stmt,
            &[
                &rec.seq,
                &Ts(rec.at),
                &r.actor,
                &r.action,
                &r.object,
                &r.outcome.as_str(),
                &r.org_id.map(|o| o.0),
                &r.detail,
                &rec.prev_hash,
                &rec.hash,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(rec)
    }

    pub(crate) async fn list_audit_impl(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let mut query = Query::new(&format!("SELECT {AUDIT_COLUMNS} FROM audit_log"));
        if let Some(after) = q.after_seq {
            let p = query.arg(after);
            query.and(&format!("seq > {p}"));
        }
        if let Some(a) = &q.actor {
            query.eq("actor", a.clone());
        }
        if let Some(prefix) = &q.action_prefix {
            let p = query.arg(format!("{}%", like_escape(prefix)));
            query.and(&format!("action LIKE {p}"));
        }
        if let Some(o) = q.org_id {
            query.eq("org_id", o.0);
        }
        let l = query.arg(page_size(q.limit) as i64);
        query.push(&format!(" ORDER BY seq LIMIT {l}"));
        let client = self.client().await?;
        client
            .query(query.sql(), &query.params())
            .await?
            .iter()
            .map(audit_from_row)
            .collect()
    }
}
