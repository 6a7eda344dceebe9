//! Secrets and integrity for Vigil: password hashing, API token and session secrets, and the
//! SM3 hash chain that makes the audit log tamper-evident.
//!
//! - [`hash_password`] / [`verify_password`]: argon2id PHC strings (the RustCrypto `argon2`
//!   crate with its default parameters: 19 MiB, 2 passes).
//! - [`new_secret`]: 256-bit random secrets with a readable prefix (`vgl_` for API tokens,
//!   `vgs_` for sessions), and [`secret_hash`]: the SM3 digest stored in their place. A
//!   high-entropy secret needs no slow hash, only a one-way one.
//! - [`audit_hash`] and [`verify_audit_chain`]: each audit record's hash covers the previous
//!   hash and the record's canonical bytes (GB/T 32905 SM3), so an altered, removed or
//!   reordered record breaks the chain at that point.
//!
//! No IO, no async.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sm3::{Digest, Sm3};
use vigil_model::AuditRecord;

/// What can go wrong here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("stored password hash is not a valid PHC string")]
    BadStoredHash,
}

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Checks a new password: at least [`MIN_PASSWORD_LEN`] characters, at most 1024.
pub fn check_password_policy(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(format!(
            "password must be at least {MIN_PASSWORD_LEN} characters"
        ));
    }
    if n > 1024 {
        return Err("password must be at most 1024 characters".into());
    }
    Ok(())
}

/// Hashes a password into an argon2id PHC string with a random salt.
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| CryptoError::Hash(e.to_string()))
}

/// Checks a password against a stored PHC string.
pub fn verify_password(password: &str, stored: &str) -> Result<bool, CryptoError> {
    let parsed = PasswordHash::new(stored).map_err(|_| CryptoError::BadStoredHash)?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// A fresh random secret: `prefix` followed by 32 random bytes in URL-safe base64.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A random password for generated accounts: 20 characters of URL-safe base64.
pub fn new_password() -> String {
    let mut bytes = [0u8; 15];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SM3 digest of a secret, hex: what is stored in place of tokens and session ids.
pub fn secret_hash(secret: &str) -> String {
    sm3_hex(secret.as_bytes())
}

/// SM3 digest as lowercase hex.
pub fn sm3_hex(data: &[u8]) -> String {
    hex::encode(Sm3::digest(data))
}

/// Hash of the chain's start, before the first record.
pub const AUDIT_GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain hash of a record: SM3(prev_hash || 0x1e || canonical bytes).
pub fn audit_hash(prev_hash: &str, record: &AuditRecord) -> String {
    let mut h = Sm3::new();
    h.update(prev_hash.as_bytes());
    h.update([0x1e]);
    h.update(record.canonical_bytes());
    hex::encode(h.finalize())
}

/// Where a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at record {seq}: {reason}")]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: String,
}

/// Verifies consecutive records, oldest first. `prev` is the hash before the first one
/// ([`AUDIT_GENESIS`] when starting at the beginning). Returns the last hash.
pub fn verify_audit_chain<'a>(
    prev: &str,
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> Result<String, ChainBreak> {
    let mut prev = prev.to_string();
    let mut last_seq: Option<i64> = None;
    for r in records {
        if let Some(s) = last_seq
            && r.seq != s + 1
        {
            return Err(ChainBreak {
                seq: r.seq,
                reason: format!("expected record {} next", s + 1),
            });
        }
        if r.prev_hash != prev {
            return Err(ChainBreak {
                seq: r.seq,
                reason: "previous-hash link does not match".into(),
            });
        }
        if audit_hash(&prev, r) != r.hash {
            return Err(ChainBreak {
                seq: r.seq,
                reason: "content does not match its hash".into(),
            });
        }
        prev = r.hash.clone();
        last_seq = Some(r.seq);
    }
    Ok(prev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::{AuditOutcome, NewAuditRecord, Timestamp};

    #[test]
    fn sm3_matches_the_gbt32905_vector() {
        // GB/T 32905-2016 Appendix A example 1: "abc".
        assert_eq!(
            sm3_hex(b"abc"),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }

    #[test]
    fn passwords_verify_and_wrong_ones_do_not() {
        let h = hash_password("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h).expect("verify"));
        assert!(!verify_password("wrong horse battery", &h).expect("verify"));
        assert!(verify_password("x", "not a phc string").is_err());
        assert!(check_password_policy("short").is_err());
        assert!(check_password_policy("long enough password").is_ok());
    }

    #[test]
    fn secrets_are_unique_and_prefixed() {
        let a = new_secret("vgl_");
        let b = new_secret("vgl_");
        assert_ne!(a, b);
        assert!(a.starts_with("vgl_") && a.len() == 4 + 43);
        assert_eq!(secret_hash(&a), secret_hash(&a));
        assert_ne!(secret_hash(&a), secret_hash(&b));
    }

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = AUDIT_GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let mut r = AuditRecord {
                    seq,
                    at: Timestamp::from_second(seq).expect("ts"),
                    record: NewAuditRecord {
                        actor: "user:admin".into(),
                        action: "org.create".into(),
                        object: format!("organization/{seq}"),
                        outcome: AuditOutcome::Success,
                        org_id: None,
                        detail: String::new(),
                    },
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                r.hash = audit_hash(&prev, &r);
                prev = r.hash.clone();
                r
            })
            .collect()
    }

    #[test]
    fn altered_removed_or_reordered_records_break_the_chain() {
        let good = chain(5);
        assert!(verify_audit_chain(AUDIT_GENESIS, &good).is_ok());

        let mut altered = good.clone();
        altered[2].record.actor = "user:mallory".into();
        assert_eq!(
            verify_audit_chain(AUDIT_GENESIS, &altered).map_err(|e| e.seq),
            Err(3)
        );

        let mut removed = good.clone();
        removed.remove(1);
        assert_eq!(
            verify_audit_chain(AUDIT_GENESIS, &removed).map_err(|e| e.seq),
            Err(3)
        );

        let mut reordered = good.clone();
        reordered.swap(3, 4);
        assert!(verify_audit_chain(AUDIT_GENESIS, &reordered).is_err());
    }
}
