//! Conversions between model values and SQLite values, error mapping, and a small builder for
//! the dynamic `WHERE` clauses of list queries.

use crate::{Cursor, Result, StoreError};
use rusqlite::types::{Type, Value};
use rusqlite::{ErrorCode, Row};
use uuid::Uuid;
use vigil_model::{Page, Scope, Timestamp};

/// Unique violations are conflicts, foreign-key violations missing references; anything else
/// is the database's problem, reported for logs.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, msg) = &e
            && f.code == ErrorCode::ConstraintViolation
        {
            let msg = msg.clone().unwrap_or_default();
            match f.extended_code {
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                    return StoreError::Conflict(conflict_message(&msg));
                }
                rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
                    return StoreError::MissingReference("referenced record".into());
                }
                _ => {}
            }
        }
        StoreError::Backend(e.to_string())
    }
}

/// A client-presentable message for a unique violation (`UNIQUE constraint failed: t.c`).
fn conflict_message(msg: &str) -> String {
    let what = msg.rsplit(": ").next().unwrap_or(msg);
    match what {
        "organizations.name" => "an organization with this name already exists".into(),
        "users.username" => "a user with this username already exists".into(),
        "api_tokens.secret_hash" => "a token with this secret already exists".into(),
        other => format!("duplicate value of {other}"),
    }
}

pub(crate) fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Backend(format!("json encoding failed: {e}"))
}

pub(crate) fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(json_err)
}

/// A conversion failure while reading a column.
pub(crate) fn col_err(idx: usize, msg: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, msg.into().into())
}

/// Microseconds since the epoch: the storage form of every time.
pub(crate) fn us(t: Timestamp) -> i64 {
    t.as_microsecond()
}

/// A time read back from storage.
pub(crate) fn from_us(micros: i64) -> Option<Timestamp> {
    Timestamp::from_microsecond(micros).ok()
}

/// The current time at storage precision, so what a create returns equals what a read
/// returns later.
pub(crate) fn now() -> Timestamp {
    truncate(Timestamp::now())
}

/// A time cut to whole microseconds (storage precision).
pub(crate) fn truncate(t: Timestamp) -> Timestamp {
    from_us(us(t)).unwrap_or(t)
}

pub(crate) fn get_ts(row: &Row<'_>, idx: usize) -> rusqlite::Result<Timestamp> {
    let v: i64 = row.get(idx)?;
    from_us(v).ok_or_else(|| col_err(idx, format!("time {v} out of range")))
}

pub(crate) fn get_opt_ts(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Timestamp>> {
    match row.get::<_, Option<i64>>(idx)? {
        None => Ok(None),
        Some(v) => from_us(v)
            .map(Some)
            .ok_or_else(|| col_err(idx, format!("time {v} out of range"))),
    }
}

pub(crate) fn get_uuid(row: &Row<'_>, idx: usize) -> rusqlite::Result<Uuid> {
    let s: String = row.get(idx)?;
    Uuid::parse_str(&s).map_err(|e| col_err(idx, format!("bad uuid '{s}': {e}")))
}

pub(crate) fn get_opt_uuid(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Uuid>> {
    match row.get::<_, Option<String>>(idx)? {
        None => Ok(None),
        Some(s) => Uuid::parse_str(&s)
            .map(Some)
            .map_err(|e| col_err(idx, format!("bad uuid '{s}': {e}"))),
    }
}

/// Reads a column holding an enum's name with the enum's `parse`.
pub(crate) fn get_enum<T>(
    row: &Row<'_>,
    idx: usize,
    parse: impl Fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let s: String = row.get(idx)?;
    parse(&s).ok_or_else(|| col_err(idx, format!("unknown value '{s}'")))
}

pub(crate) fn get_json<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    idx: usize,
) -> rusqlite::Result<T> {
    let s: String = row.get(idx)?;
    serde_json::from_str(&s).map_err(|e| col_err(idx, format!("bad json: {e}")))
}

/// A `WHERE` clause under construction with its parameters, for list queries whose filters
/// vary. Values are always bound, never spliced into the SQL.
#[derive(Default)]
pub(crate) struct Filter {
    pub sql: String,
    pub params: Vec<Value>,
}

impl Filter {
    /// Adds `AND <cond>` where `cond` holds one `?` per value.
    pub fn and(&mut self, cond: &str, values: impl IntoIterator<Item = Value>) -> &mut Self {
        self.sql.push_str(if self.sql.is_empty() {
            " WHERE "
        } else {
            " AND "
        });
        self.sql.push_str(cond);
        self.params.extend(values);
        self
    }

    /// Limits to the scope's organization, with `column` naming the organization id.
    pub fn scope(&mut self, scope: Scope, column: &str) -> &mut Self {
        if let Scope::Org(id) = scope {
            self.and(&format!("{column} = ?"), [text(id.0)]);
        }
        self
    }

    /// Keyset condition for newest-first lists ordered by `(time_col, key_col)`.
    pub fn before(&mut self, time_col: &str, key_col: &str, micros: i64, key: Value) -> &mut Self {
        self.and(
            &format!("({time_col} < ? OR ({time_col} = ? AND {key_col} < ?))"),
            [Value::Integer(micros), Value::Integer(micros), key],
        )
    }
}

pub(crate) fn text(v: impl ToString) -> Value {
    Value::Text(v.to_string())
}

/// Decodes a cursor whose key must be a UUID.
pub(crate) fn uuid_cursor(s: &str) -> Result<(i64, Value)> {
    let c = Cursor::decode(s)?;
    let id = Uuid::parse_str(&c.key)
        .map_err(|_| StoreError::BadCursor(format!("'{s}' is not a cursor this server issued")))?;
    Ok((c.micros, text(id)))
}

/// Turns `limit + 1` fetched rows into a page: the extra row only says there is more.
pub(crate) fn page<T>(
    mut items: Vec<T>,
    limit: usize,
    cursor_of: impl Fn(&T) -> Cursor,
) -> Page<T> {
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = if more {
        items.last().map(|last| cursor_of(last).encode())
    } else {
        None
    };
    Page { items, next_cursor }
}
