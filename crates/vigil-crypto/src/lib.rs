//! Secrets and integrity for Vigil: commercial cryptography (SM2, SM3, SM4), password
//! hashing, API token and session secrets, and the tamper-evident audit log.
//!
//! - [`hash_password`] / [`verify_password`]: argon2id PHC strings (the RustCrypto `argon2`
//!   crate with its default parameters: 19 MiB, 2 passes).
//! - [`new_secret`]: 256-bit random secrets with a readable prefix (`vgl_` for API tokens,
//!   `vgs_` for sessions), and [`secret_hash`]: the SM3 digest stored in their place. A
//!   high-entropy secret needs no slow hash, only a one-way one.
//! - [`audit_hash`] and [`verify_audit_chain`]: each audit record's hash covers the previous
//!   hash and the record's canonical bytes (GB/T 32905 SM3), so an altered, removed or
//!   reordered record breaks the chain at that point; [`audit_chain_report`] names every
//!   finding as altered, removed, inserted or reordered (module [`chain`]).
//! - [`sign_checkpoint`] / [`verify_checkpoint`]: SM2-signed checkpoints over the last record
//!   of the chain, which also reveal truncation and wholesale re-hashing
//!   ([`check_against_checkpoint`]).
//! - SM2 (GB/T 32918, module [`signing`]): [`Sm2PrivateKey`] / [`Sm2PublicKey`] (generate,
//!   PEM/DER/hex import and export), signatures with ZA over [`DEFAULT_SM2_ID`] or a custom
//!   ID, C1C3C2 encryption; [`sign_document`] / [`verify_document`] for notices and warnings
//!   in a portable text form (base64 DER signature, PEM public key), and the JSON
//!   [`Envelope`] notices and warnings travel in ([`seal_envelope`] / [`open_envelope`]).
//! - SM4 (GB/T 32907) and SM4-GCM (RFC 8998, module [`seal`]): [`seal`](seal::seal) /
//!   [`open`](seal::open) for sensitive fields at rest under a [`FieldKey`] read from a key
//!   file.
//!
//! The official vectors of GB/T 32905, 32907, 32918 and RFC 8998 are unit tests beside the
//! code. RustCrypto `sm2`/`sm4` are unaudited and `sm4` is not constant-time (see the
//! reference document); both run on the platform's own hosts only.
//!
//! No IO (key files are read by the caller), no async.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sm3::{Digest, Sm3};

pub mod chain;
pub mod checkpoint;
pub mod envelope;
pub mod seal;
pub mod signing;

pub use chain::{
    AUDIT_GENESIS, ChainBreak, ChainIssue, ChainIssueKind, ChainReport, audit_chain_report,
    audit_hash, check_against_checkpoint, verify_audit_chain,
};
pub use checkpoint::{Checkpoint, sign_checkpoint, sign_checkpoint_at, verify_checkpoint};
pub use envelope::{Envelope, EnvelopeError, open_envelope, seal_envelope};
pub use seal::{FieldKey, open_str, seal_str};
pub use signing::{
    DEFAULT_SM2_ID, Sm2PrivateKey, Sm2PublicKey, Sm2Signature, sign_document, verify_document,
};

/// What can go wrong here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("stored password hash is not a valid PHC string")]
    BadStoredHash,
    /// Key material that cannot be used: wrong length, not on the curve, bad encoding.
    #[error("invalid key: {0}")]
    Key(String),
    /// A key file whose contents are not an SM4 key.
    #[error("invalid key file: {0}")]
    KeyFile(String),
    #[error("system random number generator failed: {0}")]
    Rng(String),
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("malformed signature: {0}")]
    MalformedSignature(String),
    /// A well-formed signature that does not verify for this key, ID and message.
    #[error("signature does not verify")]
    BadSignature,
    #[error("encryption failed: {0}")]
    Encrypt(String),
    /// Authentication or decryption failed: tampered data, wrong key or wrong context.
    #[error("decryption failed: the data was altered or the key or context is wrong")]
    Decrypt,
    /// A sealed value that is not in the sealed-field format.
    #[error("malformed sealed value: {0}")]
    Sealed(String),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sm3_matches_the_gbt32905_vector() {
        // GB/T 32905-2016 Appendix A example 1: "abc".
        assert_eq!(
            sm3_hex(b"abc"),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }

    #[test]
    fn sm3_matches_the_gbt32905_64_byte_vector() {
        // GB/T 32905-2016 Appendix A example 2: "abcd" repeated 16 times.
        assert_eq!(
            sm3_hex("abcd".repeat(16).as_bytes()),
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
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
}
