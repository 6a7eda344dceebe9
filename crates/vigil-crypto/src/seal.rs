//! SM4 (GB/T 32907) and SM4-GCM (RFC 8998, GB/T 36624), and sealed fields: sensitive values
//! (contact phone numbers, e-mail addresses, personal names) encrypted at rest.
//!
//! SM4-GCM is RustCrypto `aes-gcm`'s generic `AesGcm<Sm4, U12>`: GCM needs only a block
//! cipher with 16-byte blocks, and the crate's `aes` feature is off so AES is not compiled in.
//!
//! A sealed field is `base64(version ‖ nonce ‖ ciphertext ‖ tag)` with version [`SEAL_V1`], a
//! random 12-byte nonce and a 16-byte tag. The associated data binds the version and a
//! caller-chosen context (`contact.phone`, a record id), so a sealed value copied into another
//! field or record does not open there.
//!
//! Caveat from the reference document: `sm4` uses a table S-box indexed by secret data (not
//! constant-time) and is unaudited; acceptable for data at rest on a trusted host.

use crate::CryptoError;
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sm2::elliptic_curve::zeroize::Zeroize;
use sm4::cipher::{BlockCipherDecrypt, BlockCipherEncrypt};

/// SM4-GCM with a 96-bit nonce and 128-bit tag (RFC 8998 `TLS_SM4_GCM_SM3`).
pub type Sm4Gcm = aes_gcm::AesGcm<sm4::Sm4, U12>;

/// Version byte of the current sealed-field format.
pub const SEAL_V1: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Encrypts one 16-byte block with SM4 (ECB of one block; for tests and interop only).
pub fn sm4_encrypt_block(key: &[u8; 16], block: &[u8; 16]) -> [u8; 16] {
    let cipher = sm4::Sm4::new(&(*key).into());
    let mut b = (*block).into();
    cipher.encrypt_block(&mut b);
    b.into()
}

/// Decrypts one 16-byte block with SM4.
pub fn sm4_decrypt_block(key: &[u8; 16], block: &[u8; 16]) -> [u8; 16] {
    let cipher = sm4::Sm4::new(&(*key).into());
    let mut b = (*block).into();
    cipher.decrypt_block(&mut b);
    b.into()
}

/// Encrypts `block` with the same key `n` times (the GB/T 32907 iterated example).
pub fn sm4_encrypt_block_iterated(key: &[u8; 16], block: &[u8; 16], n: u32) -> [u8; 16] {
    let cipher = sm4::Sm4::new(&(*key).into());
    let mut b = (*block).into();
    for _ in 0..n {
        cipher.encrypt_block(&mut b);
    }
    b.into()
}

/// SM4-GCM encryption; returns ciphertext ‖ tag.
pub fn sm4_gcm_encrypt(
    key: &[u8; 16],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    Sm4Gcm::new(&(*key).into())
        .encrypt(
            &(*nonce).into(),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Encrypt("SM4-GCM input too long".into()))
}

/// SM4-GCM decryption of ciphertext ‖ tag; fails with [`CryptoError::Decrypt`] when the tag
/// does not authenticate the ciphertext and `aad`.
pub fn sm4_gcm_decrypt(
    key: &[u8; 16],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    Sm4Gcm::new(&(*key).into())
        .decrypt(
            &(*nonce).into(),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Decrypt)
}

/// The SM4 key sealed fields are encrypted with. Zeroed on drop; `Debug` hides it.
#[derive(Clone)]
pub struct FieldKey([u8; 16]);

impl Drop for FieldKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for FieldKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FieldKey(..)")
    }
}

impl FieldKey {
    /// A key from raw bytes.
    pub fn from_bytes(key: [u8; 16]) -> Self {
        Self(key)
    }

    /// A fresh random key (for `keygen`; write it to the key file as [`FieldKey::to_hex`]).
    pub fn generate() -> Self {
        let mut k = [0u8; 16];
        rand::fill(&mut k);
        Self(k)
    }

    /// The key as 32 lowercase hex digits: the key file's text form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses the contents of a key file: exactly 16 raw bytes, or 32 hex digits (surrounding
    /// whitespace and a trailing newline allowed). Reading the file is the caller's job: this
    /// crate does no IO.
    pub fn from_key_file(contents: &[u8]) -> Result<Self, CryptoError> {
        if let Ok(raw) = <[u8; 16]>::try_from(contents) {
            return Ok(Self(raw));
        }
        let Ok(text) = std::str::from_utf8(contents) else {
            return Err(CryptoError::KeyFile(format!(
                "key file holds {} bytes that are not text; an SM4 key file must hold exactly \
                 16 raw bytes or 32 hex digits",
                contents.len()
            )));
        };
        let text = text.trim();
        if !text.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(CryptoError::KeyFile(
                "key file is not 32 hex digits (found a non-hex character) nor 16 raw bytes".into(),
            ));
        }
        if text.len() != 32 {
            return Err(CryptoError::KeyFile(format!(
                "hex key has {} digits; an SM4 key is 128 bits = 32 hex digits",
                text.len()
            )));
        }
        let mut k = [0u8; 16];
        hex::decode_to_slice(text, &mut k)
            .map_err(|_| CryptoError::KeyFile("key file hex is invalid".into()))?;
        Ok(Self(k))
    }
}

fn seal_aad(version: u8, context: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(1 + context.len());
    aad.push(version);
    aad.extend_from_slice(context.as_bytes());
    aad
}

/// Seals `plaintext` under `key`, bound to `context` (for example `contact.phone`): returns
/// `base64(0x01 ‖ nonce ‖ ciphertext ‖ tag)`.
pub fn seal(key: &FieldKey, context: &str, plaintext: &[u8]) -> Result<String, CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::fill(&mut nonce);
    let ct = sm4_gcm_encrypt(&key.0, &nonce, &seal_aad(SEAL_V1, context), plaintext)?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
    out.push(SEAL_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(STANDARD.encode(out))
}

/// Opens a value made by [`seal`] with the same key and context. Any change to the text, a
/// wrong key or a different context fails with [`CryptoError::Decrypt`]; a malformed value
/// fails with [`CryptoError::Sealed`].
pub fn open(key: &FieldKey, context: &str, sealed: &str) -> Result<Vec<u8>, CryptoError> {
    let bytes = STANDARD
        .decode(sealed.trim())
        .map_err(|_| CryptoError::Sealed("not base64".into()))?;
    let Some((&version, rest)) = bytes.split_first() else {
        return Err(CryptoError::Sealed("empty".into()));
    };
    if version != SEAL_V1 {
        return Err(CryptoError::Sealed(format!(
            "unknown format version {version} (this build reads version {SEAL_V1})"
        )));
    }
    if rest.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Sealed(format!(
            "too short: {} bytes after the version, need at least {}",
            rest.len(),
            NONCE_LEN + TAG_LEN
        )));
    }
    let (nonce, ct) = rest.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce
        .try_into()
        .map_err(|_| CryptoError::Sealed("bad nonce".into()))?;
    sm4_gcm_decrypt(&key.0, &nonce, &seal_aad(version, context), ct)
}

/// [`seal`] for text fields.
pub fn seal_str(key: &FieldKey, context: &str, plaintext: &str) -> Result<String, CryptoError> {
    seal(key, context, plaintext.as_bytes())
}

/// [`open`] for text fields; fails with [`CryptoError::Sealed`] if the plaintext is not UTF-8.
pub fn open_str(key: &FieldKey, context: &str, sealed: &str) -> Result<String, CryptoError> {
    String::from_utf8(open(key, context, sealed)?)
        .map_err(|_| CryptoError::Sealed("plaintext is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h16(s: &str) -> [u8; 16] {
        let mut out = [0u8; 16];
        hex::decode_to_slice(s, &mut out).expect("hex");
        out
    }

    const K: &str = "0123456789abcdeffedcba9876543210";

    #[test]
    fn sm4_single_block_matches_gbt32907_example_1() {
        let k = h16(K);
        let c = sm4_encrypt_block(&k, &k);
        assert_eq!(hex::encode(c), "681edf34d206965e86b3e94f536e4246");
        assert_eq!(sm4_decrypt_block(&k, &c), k);
    }

    #[test]
    fn sm4_million_iterations_match_gbt32907_example_2() {
        // Dependencies build with opt-level 2 even in the dev profile, so one million block
        // encryptions take well under a second in a debug test run.
        let k = h16(K);
        assert_eq!(
            hex::encode(sm4_encrypt_block_iterated(&k, &k, 1_000_000)),
            "595298c7c6fd271f0402f804c33d3f66"
        );
        assert_eq!(
            sm4_encrypt_block_iterated(&k, &k, 1),
            sm4_encrypt_block(&k, &k)
        );
    }

    #[test]
    fn sm4_gcm_matches_rfc8998_appendix_a1() {
        let key = h16("0123456789ABCDEFFEDCBA9876543210");
        let mut iv = [0u8; 12];
        hex::decode_to_slice("00001234567800000000ABCD", &mut iv).expect("iv");
        let aad = hex::decode("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2").expect("aad");
        let p = hex::decode(
            "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD\
             EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
        )
        .expect("p");
        let c = "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735\
                 D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D";
        let t = "83DE3541E4C2B58177E065A9BF7B62EC";
        let out = sm4_gcm_encrypt(&key, &iv, &aad, &p).expect("encrypt");
        assert_eq!(hex::encode_upper(&out), format!("{c}{t}"));
        assert_eq!(sm4_gcm_decrypt(&key, &iv, &aad, &out).expect("decrypt"), p);

        let mut bad_tag = out.clone();
        if let Some(b) = bad_tag.last_mut() {
            *b ^= 0x80;
        }
        assert!(matches!(
            sm4_gcm_decrypt(&key, &iv, &aad, &bad_tag),
            Err(CryptoError::Decrypt)
        ));
        assert!(sm4_gcm_decrypt(&key, &iv, b"other aad", &out).is_err());
    }

    #[test]
    fn sealed_fields_round_trip_and_every_tampering_is_detected() {
        let key = FieldKey::generate();
        let sealed = seal_str(&key, "contact.phone", "+86 138 0013 8000").expect("seal");
        assert_eq!(
            open_str(&key, "contact.phone", &sealed).expect("open"),
            "+86 138 0013 8000"
        );
        // Random nonces: the same value seals differently each time.
        assert_ne!(
            seal_str(&key, "contact.phone", "+86 138 0013 8000").expect("seal"),
            sealed
        );

        let raw = STANDARD.decode(&sealed).expect("b64");
        assert_eq!(raw[0], SEAL_V1);
        assert_eq!(raw.len(), 1 + 12 + "+86 138 0013 8000".len() + 16);
        // Flip every bit of every byte after the version: each must fail authentication.
        for i in 1..raw.len() {
            for bit in 0..8 {
                let mut t = raw.clone();
                t[i] ^= 1 << bit;
                assert!(
                    matches!(
                        open(&key, "contact.phone", &STANDARD.encode(&t)),
                        Err(CryptoError::Decrypt)
                    ),
                    "byte {i} bit {bit}"
                );
            }
        }
        // Truncation, wrong version, wrong context, wrong key, not base64.
        assert!(matches!(
            open(
                &key,
                "contact.phone",
                &STANDARD.encode(&raw[..raw.len() - 1])
            ),
            Err(CryptoError::Decrypt)
        ));
        assert!(matches!(
            open(&key, "contact.phone", &STANDARD.encode(&raw[..20])),
            Err(CryptoError::Sealed(_))
        ));
        let mut v2 = raw.clone();
        v2[0] = 2;
        let e = open(&key, "contact.phone", &STANDARD.encode(&v2)).expect_err("version");
        assert!(e.to_string().contains("version 2"), "{e}");
        assert!(matches!(
            open(&key, "contact.email", &sealed),
            Err(CryptoError::Decrypt)
        ));
        assert!(matches!(
            open(&FieldKey::generate(), "contact.phone", &sealed),
            Err(CryptoError::Decrypt)
        ));
        assert!(matches!(
            open(&key, "contact.phone", "%%%"),
            Err(CryptoError::Sealed(_))
        ));
        assert!(matches!(
            open(&key, "contact.phone", ""),
            Err(CryptoError::Sealed(_))
        ));
    }

    #[test]
    fn key_files_hold_16_raw_bytes_or_32_hex_digits() {
        let k = FieldKey::from_key_file(format!("{K}\n").as_bytes()).expect("hex");
        assert_eq!(k.to_hex(), K);
        let raw = FieldKey::from_key_file(&h16(K)).expect("raw");
        assert_eq!(raw.to_hex(), K);
        assert_eq!(
            FieldKey::from_key_file(k.to_hex().to_uppercase().as_bytes())
                .expect("upper")
                .to_hex(),
            K
        );

        let short = FieldKey::from_key_file(b"0123456789abcdef0123").expect_err("short");
        assert!(short.to_string().contains("20 digits"), "{short}");
        let long = FieldKey::from_key_file(format!("{K}00").as_bytes()).expect_err("long");
        assert!(long.to_string().contains("34 digits"), "{long}");
        let bin = FieldKey::from_key_file(&[0xff; 17]).expect_err("binary");
        assert!(bin.to_string().contains("17 bytes"), "{bin}");
        // 16 printable bytes are a raw key; anything else that is not hex is refused.
        assert!(FieldKey::from_key_file(b"not a key at all").is_ok());
        let junk = FieldKey::from_key_file(b"this is not a key file").expect_err("junk");
        assert!(junk.to_string().contains("non-hex"), "{junk}");
        assert!(FieldKey::from_key_file(b"").is_err());
        assert_eq!(format!("{k:?}"), "FieldKey(..)");
    }
}
