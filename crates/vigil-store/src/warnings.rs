//! Stored early warnings: query and result types shared by both backends.
//!
//! A warning is platform-wide content addressed to a recipient list that the store computes
//! from the warning's [`WarningTargets`](vigil_model::WarningTargets) when it is created and
//! then keeps as it is. Reads are scoped by recipient: an organization's scope sees a
//! warning only when the organization is one of its recipients, and of the recipient rows
//! only its own (so counts, lists and pending lists within that scope are about itself).
//!
//! Target resolution runs in SQL over `organizations` and `assets` in the same transaction as
//! the insert: explicit ids must exist (`MissingReference` otherwise), the filters select the
//! rest, and a warning that would reach nobody is refused (`Invalid` on `targets`). At most
//! [`MAX_RECIPIENTS`] organizations can be addressed by one warning.

use vigil_model::{OrgId, Timestamp, WarningLevel, WarningRecipient};

/// Most organizations one warning may reach (the bound of a recipient list).
pub const MAX_RECIPIENTS: usize = 50_000;

/// Filters for listing warnings, newest first by issue time.
#[derive(Debug, Clone, Default)]
pub struct WarningQuery {
    /// Only warnings addressed to this organization.
    pub org_id: Option<OrgId>,
    pub level: Option<WarningLevel>,
    /// Issued at or after.
    pub since: Option<Timestamp>,
    /// `true`: only warnings with at least one recipient (within the scope) that has not
    /// acknowledged; `false`: only fully acknowledged ones.
    pub unacknowledged: Option<bool>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// The result of an acknowledgement.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Acknowledgement {
    /// The recipient row after the call. A repeated acknowledgement keeps the first time,
    /// actor and response.
    pub recipient: WarningRecipient,
    /// Whether this call acknowledged (false: it had been acknowledged before).
    pub newly: bool,
}

/// `s` with `\`, `%` and `_` escaped for a `LIKE ... ESCAPE '\'` prefix pattern.
pub(crate) fn like_prefix(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The refusal of a warning that matches no organization.
pub(crate) fn no_recipients() -> crate::StoreError {
    crate::StoreError::Invalid(vigil_model::ValidationError::new(
        "targets",
        "no organization matches these criteria; the warning would reach nobody",
    ))
}

/// The refusal of a warning that matches too many organizations.
pub(crate) fn too_many_recipients(n: usize) -> crate::StoreError {
    crate::StoreError::Invalid(vigil_model::ValidationError::new(
        "targets",
        format!("the criteria match {n} organizations, more than {MAX_RECIPIENTS}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_prefixes_escape_metacharacters() {
        assert_eq!(like_prefix("S7-1200"), "S7-1200%");
        assert_eq!(like_prefix(r"50%_a\b"), r"50\%\_a\\b%");
    }
}
