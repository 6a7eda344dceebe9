//! Signed documents in a portable JSON envelope: notices to organizations and early-warning
//! bulletins travel by e-mail, webhook or download, and a recipient must be able to check
//! with the platform's published SM2 public key that the text is the one the platform
//! issued.
//!
//! The signed bytes are the `payload` string exactly as it stands in the envelope (UTF-8),
//! so no canonicalization is needed to verify: parse the envelope, take `payload`, verify.
//! The signature is SM2 with SM3 and ZA over [`DEFAULT_SM2_ID`] (GB/T 32918.2 with the
//! default distinguishing ID), DER encoded, base64. The envelope also carries the signer's
//! public key (PEM) for information: verification must use the key the recipient trusts,
//! and [`open_envelope`] refuses an envelope whose embedded key is not that key.

use crate::CryptoError;
use crate::signing::{DEFAULT_SM2_ID, Sm2PrivateKey, Sm2PublicKey, Sm2Signature};
use serde::{Deserialize, Serialize};

/// The envelope format this module writes.
pub const ENVELOPE_FORMAT: &str = "vigil-signed-document/1";
/// The signature algorithm named in envelopes.
pub const ENVELOPE_ALG: &str = "SM2-SM3";

/// A signed document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub format: String,
    pub alg: String,
    /// The SM2 distinguishing ID used for ZA.
    pub signer_id: String,
    /// The signer's public key, PEM (SPKI). Informational: verify with the trusted key.
    pub public_key: String,
    /// The signed document, a JSON text.
    pub payload: String,
    /// Base64 DER SM2 signature over the UTF-8 bytes of `payload`.
    pub signature: String,
}

/// Signs `payload` (a JSON text) with the platform key.
pub fn seal_envelope(key: &Sm2PrivateKey, payload: String) -> Result<Envelope, CryptoError> {
    let signature = key.sign(payload.as_bytes())?.to_base64();
    Ok(Envelope {
        format: ENVELOPE_FORMAT.into(),
        alg: ENVELOPE_ALG.into(),
        signer_id: DEFAULT_SM2_ID.into(),
        public_key: key.public_key().to_pem()?,
        payload,
        signature,
    })
}

/// Why an envelope was refused.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not a signed Vigil document: {0}")]
    Format(String),
    #[error(
        "the document was signed by another key (embedded key {embedded}), not the trusted one"
    )]
    OtherSigner { embedded: String },
    #[error("the signature does not verify: the document was altered or not signed by this key")]
    BadSignature,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Checks an envelope against the key the recipient trusts and returns the payload.
pub fn open_envelope<'a>(
    env: &'a Envelope,
    trusted: &Sm2PublicKey,
) -> Result<&'a str, EnvelopeError> {
    if env.format != ENVELOPE_FORMAT {
        return Err(EnvelopeError::Format(format!(
            "format '{}', expected '{ENVELOPE_FORMAT}'",
            env.format
        )));
    }
    if env.alg != ENVELOPE_ALG {
        return Err(EnvelopeError::Format(format!(
            "algorithm '{}', expected '{ENVELOPE_ALG}'",
            env.alg
        )));
    }
    let embedded = Sm2PublicKey::parse(&env.public_key)
        .map_err(|e| EnvelopeError::Format(format!("public_key: {e}")))?;
    if embedded.to_sec1() != trusted.to_sec1() {
        return Err(EnvelopeError::OtherSigner {
            embedded: embedded.to_hex(),
        });
    }
    let sig = Sm2Signature::parse(&env.signature)
        .map_err(|e| EnvelopeError::Format(format!("signature: {e}")))?;
    match trusted.verify_with_id(&env.signer_id, env.payload.as_bytes(), &sig) {
        Ok(()) => Ok(&env.payload),
        Err(CryptoError::BadSignature) => Err(EnvelopeError::BadSignature),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_envelopes_open_with_the_trusted_key_only() {
        let key = Sm2PrivateKey::generate().expect("key");
        let payload = r#"{"notice":"通报","incident":"MPRANS"}"#.to_string();
        let env = seal_envelope(&key, payload.clone()).expect("seal");
        assert_eq!(
            open_envelope(&env, &key.public_key()).expect("open"),
            payload
        );
        // Through JSON and back, as a recipient gets it.
        let text = serde_json::to_string(&env).expect("json");
        let back: Envelope = serde_json::from_str(&text).expect("parse");
        assert!(open_envelope(&back, &key.public_key()).is_ok());

        // One character of the payload changed.
        let mut altered = env.clone();
        altered.payload = altered.payload.replace("MPRANS", "MPRANT");
        assert!(matches!(
            open_envelope(&altered, &key.public_key()),
            Err(EnvelopeError::BadSignature)
        ));
        // Re-signed by someone else who also swapped in their key.
        let other = Sm2PrivateKey::generate().expect("key");
        let forged = seal_envelope(&other, payload).expect("seal");
        assert!(matches!(
            open_envelope(&forged, &key.public_key()),
            Err(EnvelopeError::OtherSigner { .. })
        ));
        // Another key's signature under the trusted key's name.
        let mut swapped = forged.clone();
        swapped.public_key = env.public_key.clone();
        assert!(matches!(
            open_envelope(&swapped, &key.public_key()),
            Err(EnvelopeError::BadSignature)
        ));
        let mut wrong = env.clone();
        wrong.format = "x".into();
        assert!(matches!(
            open_envelope(&wrong, &key.public_key()),
            Err(EnvelopeError::Format(_))
        ));
        let mut garbled = env;
        garbled.signature = "not base64!".into();
        assert!(matches!(
            open_envelope(&garbled, &key.public_key()),
            Err(EnvelopeError::Format(_))
        ));
    }
}
