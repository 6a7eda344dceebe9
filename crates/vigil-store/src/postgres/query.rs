//! A small builder for statements whose `WHERE` clause depends on the filters given. Values
//! always travel as parameters; only fixed SQL fragments and column names chosen by this
//! module's callers go into the text.

use crate::{Cursor, StoreError};
use tokio_postgres::types::ToSql;

type Param = Box<dyn ToSql + Sync + Send>;

pub(crate) struct Query {
    sql: String,
    params: Vec<Param>,
    has_where: bool,
}

impl Query {
    /// Starts with `base` (`SELECT ... FROM t`), to which conditions are added with `AND`.
    pub fn new(base: &str) -> Self {
        Self {
            sql: base.to_string(),
            params: Vec::new(),
            has_where: false,
        }
    }

    /// Adds a parameter and returns its placeholder (`$3`).
    pub fn arg<T: ToSql + Sync + Send + 'static>(&mut self, value: T) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    /// Adds a condition; `cond` uses placeholders from [`arg`](Self::arg).
    pub fn and(&mut self, cond: &str) {
        self.sql
            .push_str(if self.has_where { " AND " } else { " WHERE " });
        self.sql.push_str(cond);
        self.has_where = true;
    }

    /// Adds `col = $n`.
    pub fn eq<T: ToSql + Sync + Send + 'static>(&mut self, col: &str, value: T) {
        let p = self.arg(value);
        self.and(&format!("{col} = {p}"));
    }

    /// Appends text after the conditions (`ORDER BY ...`).
    pub fn push(&mut self, text: &str) {
        self.sql.push_str(text);
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| &**p as &(dyn ToSql + Sync))
            .collect()
    }
}

/// `s` with `\`, `%` and `_` escaped for `LIKE`/`ILIKE` (backslash is the escape character).
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `%s%` for a case-insensitive substring match with `ILIKE`.
pub(crate) fn contains_pattern(s: &str) -> String {
    format!("%{}%", like_escape(s))
}

/// Decodes a cursor whose key is a UUID.
pub(crate) fn uuid_cursor(s: &str) -> Result<(Cursor, uuid::Uuid), StoreError> {
    let c = Cursor::decode(s)?;
    let id = uuid::Uuid::parse_str(&c.key)
        .map_err(|_| StoreError::BadCursor(format!("'{s}' is not a cursor this server issued")))?;
    Ok((c, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(like_escape(r"50%_a\b"), r"50\%\_a\\b");
        assert_eq!(contains_pattern("x"), "%x%");
    }

    #[test]
    fn conditions_join_with_and_and_number_their_parameters() {
        let mut q = Query::new("SELECT 1 FROM t");
        q.eq("a", 1i32);
        let p = q.arg("x".to_string());
        q.and(&format!("b ILIKE {p}"));
        q.push(" ORDER BY a");
        assert_eq!(
            q.sql(),
            "SELECT 1 FROM t WHERE a = $1 AND b ILIKE $2 ORDER BY a"
        );
        assert_eq!(q.params().len(), 2);
    }
}
