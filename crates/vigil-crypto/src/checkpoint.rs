//! SM2-signed audit checkpoints.
//!
//! The hash chain proves that records link up; it cannot prove that the newest records are
//! all still there, nor stop someone with write access from re-hashing the whole log. A
//! checkpoint is the platform key's signature (ZA over the default ID) over the last
//! sequence number, its hash and the time; kept outside the database or published, it pins
//! the log up to that record ([`crate::check_against_checkpoint`]).
//!
//! Signed bytes: `vigil-audit-checkpoint/v1 \x1f seq \x1f hash \x1f microseconds since epoch`.

use crate::CryptoError;
use crate::signing::{Sm2PrivateKey, Sm2PublicKey, Sm2Signature};
use serde::{Deserialize, Serialize};
use vigil_model::Timestamp;

const DOMAIN: &str = "vigil-audit-checkpoint/v1";

/// A signed statement "the audit log's record `seq` has hash `hash`", made at `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub at: Timestamp,
    /// [`Sm2PublicKey::key_id`] of the signing key, so a verifier can pick the right key after
    /// a rotation.
    pub key_id: String,
    /// SM2 signature, base64 DER.
    pub signature: String,
}

impl Checkpoint {
    /// The bytes the signature covers.
    pub fn signed_bytes(seq: i64, hash: &str, at: Timestamp) -> Vec<u8> {
        format!(
            "{DOMAIN}\u{1f}{seq}\u{1f}{hash}\u{1f}{}",
            at.as_microsecond()
        )
        .into_bytes()
    }

    /// A checkpoint without a signature, for chain comparisons in tests.
    #[cfg(test)]
    pub(crate) fn unsigned(seq: i64, hash: &str) -> Self {
        Self {
            seq,
            hash: hash.into(),
            at: Timestamp::UNIX_EPOCH,
            key_id: String::new(),
            signature: String::new(),
        }
    }
}

/// Signs a checkpoint over the last record `seq` with hash `hash`, at the current time.
pub fn sign_checkpoint(
    key: &Sm2PrivateKey,
    seq: i64,
    hash: &str,
) -> Result<Checkpoint, CryptoError> {
    sign_checkpoint_at(key, seq, hash, Timestamp::now())
}

/// Signs a checkpoint with an explicit time.
pub fn sign_checkpoint_at(
    key: &Sm2PrivateKey,
    seq: i64,
    hash: &str,
    at: Timestamp,
) -> Result<Checkpoint, CryptoError> {
    let sig = key.sign(&Checkpoint::signed_bytes(seq, hash, at))?;
    Ok(Checkpoint {
        seq,
        hash: hash.to_string(),
        at,
        key_id: key.public_key().key_id(),
        signature: sig.to_base64(),
    })
}

/// Verifies a checkpoint's signature with the platform's public key. Fails with
/// [`CryptoError::BadSignature`] if any field was changed or another key signed it.
pub fn verify_checkpoint(public_key: &Sm2PublicKey, cp: &Checkpoint) -> Result<(), CryptoError> {
    let sig = Sm2Signature::parse(&cp.signature)?;
    public_key.verify(&Checkpoint::signed_bytes(cp.seq, &cp.hash, cp.at), &sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_verify_and_any_changed_field_fails() {
        let sk = Sm2PrivateKey::generate().expect("key");
        let pk = sk.public_key();
        let at = Timestamp::from_second(1_760_000_000).expect("ts");
        let cp = sign_checkpoint_at(&sk, 42, &"ab".repeat(32), at).expect("sign");
        assert_eq!(verify_checkpoint(&pk, &cp).ok(), Some(()));
        assert_eq!(cp.key_id, pk.key_id());

        let mut seq = cp.clone();
        seq.seq = 41;
        let mut hash = cp.clone();
        hash.hash = "cd".repeat(32);
        let mut time = cp.clone();
        time.at = Timestamp::from_second(1_760_000_001).expect("ts");
        for bad in [seq, hash, time] {
            assert!(matches!(
                verify_checkpoint(&pk, &bad),
                Err(CryptoError::BadSignature)
            ));
        }
        let mut garbled = cp.clone();
        garbled.signature = "!!".into();
        assert!(matches!(
            verify_checkpoint(&pk, &garbled),
            Err(CryptoError::MalformedSignature(_))
        ));
        let other = Sm2PrivateKey::generate().expect("key").public_key();
        assert!(verify_checkpoint(&other, &cp).is_err());

        let now = sign_checkpoint(&sk, 1, &"00".repeat(32)).expect("sign");
        assert_eq!(verify_checkpoint(&pk, &now).ok(), Some(()));
    }
}
