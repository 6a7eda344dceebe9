//! SM2 (GB/T 32918) keys, signatures and public-key encryption on RustCrypto `sm2`.
//!
//! - Keys: [`Sm2PrivateKey`] and [`Sm2PublicKey`], generated from the system RNG or imported
//!   from PEM (PKCS#8 `PRIVATE KEY`, SEC1 `EC PRIVATE KEY`, SPKI `PUBLIC KEY`), DER or hex
//!   (the 32-byte private scalar; the SEC1 public point `04‖x‖y`).
//! - Signatures: ZA is computed over the distinguishing ID, [`DEFAULT_SM2_ID`]
//!   (`1234567812345678`) unless another one is given; signatures are DER
//!   (`SEQUENCE { r INTEGER, s INTEGER }`, what GmSSL, Tongsuo and OpenSSL exchange) or the
//!   64-byte `r‖s` form.
//! - Encryption: ciphertexts in the modern C1‖C3‖C2 order (GB/T 32918.4-2016), raw or DER
//!   (GM/T 0009 `SM2Cipher`).
//!
//! The `sm2` crate has not been independently audited (see the reference document); its
//! signing nonce is deterministic (RFC 6979 style with SM3), which removes the RNG from the
//! signing path.

use crate::CryptoError;
use sm2::dsa::signature::{Signer, Verifier};
use sm2::elliptic_curve::Generate;
use sm2::elliptic_curve::common::getrandom::SysRng;
use sm2::elliptic_curve::sec1::ToSec1Point;
use sm2::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use sm3::{Digest, Sm3};

/// The default distinguishing ID of GB/T 35276-2017, used for ZA unless a caller names another.
pub const DEFAULT_SM2_ID: &str = "1234567812345678";

fn key_err(what: &str) -> CryptoError {
    CryptoError::Key(what.to_string())
}

/// An SM2 private key. Its `Debug` output never shows the scalar.
#[derive(Clone)]
pub struct Sm2PrivateKey {
    secret: sm2::SecretKey,
}

impl std::fmt::Debug for Sm2PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sm2PrivateKey")
            .field("public", &self.public_key().to_hex())
            .finish_non_exhaustive()
    }
}

impl Sm2PrivateKey {
    /// A fresh key from the operating system's RNG.
    pub fn generate() -> Result<Self, CryptoError> {
        let secret = sm2::SecretKey::try_generate()
            .map_err(|e| CryptoError::Rng(format!("system RNG failed: {e}")))?;
        Ok(Self { secret })
    }

    /// Imports the 32-byte private scalar, hex encoded (64 hex digits).
    pub fn from_hex(hex_str: &str) -> Result<Self, CryptoError> {
        let bytes = hex::decode(hex_str.trim())
            .map_err(|_| key_err("SM2 private key hex is not valid hexadecimal"))?;
        if bytes.len() != 32 {
            return Err(CryptoError::Key(format!(
                "SM2 private key must be 32 bytes (64 hex digits), got {} bytes",
                bytes.len()
            )));
        }
        let secret = sm2::SecretKey::from_slice(&bytes)
            .map_err(|_| key_err("SM2 private key is zero or not below the curve order n"))?;
        Ok(Self { secret })
    }

    /// The private scalar as 64 lowercase hex digits. Handle as a secret.
    pub fn to_hex(&self) -> String {
        hex::encode(self.secret.to_bytes())
    }

    /// Imports a PEM private key: PKCS#8 (`-----BEGIN PRIVATE KEY-----`) or SEC1
    /// (`-----BEGIN EC PRIVATE KEY-----`) on the SM2 curve (OID 1.2.156.10197.1.301).
    pub fn from_pem(pem: &str) -> Result<Self, CryptoError> {
        let secret = sm2::SecretKey::from_pem(pem.trim()).map_err(|e| {
            CryptoError::Key(format!("not a PEM SM2 private key (PKCS#8 or SEC1): {e}"))
        })?;
        Ok(Self { secret })
    }

    /// Exports the key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, LF line endings).
    pub fn to_pem(&self) -> Result<String, CryptoError> {
        self.secret
            .to_pkcs8_pem(sm2::pkcs8::LineEnding::LF)
            .map(|z| z.as_str().to_string())
            .map_err(|e| CryptoError::Key(format!("cannot encode PKCS#8 PEM: {e}")))
    }

    /// Imports a DER private key (PKCS#8 or SEC1).
    pub fn from_der(der: &[u8]) -> Result<Self, CryptoError> {
        let secret = sm2::SecretKey::from_pkcs8_der(der)
            .or_else(|_| sm2::SecretKey::from_sec1_der(der))
            .map_err(|_| key_err("not a DER SM2 private key (PKCS#8 or SEC1)"))?;
        Ok(Self { secret })
    }

    /// Exports the key as PKCS#8 DER.
    pub fn to_der(&self) -> Result<Vec<u8>, CryptoError> {
        self.secret
            .to_pkcs8_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| CryptoError::Key(format!("cannot encode PKCS#8 DER: {e}")))
    }

    /// Reads a key in any of the supported text forms: PEM, or 64 hex digits.
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        if text.trim_start().starts_with("-----BEGIN") {
            Self::from_pem(text)
        } else {
            Self::from_hex(text)
        }
    }

    pub fn public_key(&self) -> Sm2PublicKey {
        Sm2PublicKey {
            key: self.secret.public_key(),
        }
    }

    /// Signs `msg` with ZA over [`DEFAULT_SM2_ID`].
    pub fn sign(&self, msg: &[u8]) -> Result<Sm2Signature, CryptoError> {
        self.sign_with_id(DEFAULT_SM2_ID, msg)
    }

    /// Signs `msg` with ZA over the distinguishing ID `id`.
    pub fn sign_with_id(&self, id: &str, msg: &[u8]) -> Result<Sm2Signature, CryptoError> {
        let key = sm2::dsa::SigningKey::new(id, &self.secret)
            .map_err(|_| key_err("distinguishing ID is too long (at most 8191 bytes)"))?;
        let sig: sm2::dsa::Signature = key
            .try_sign(msg)
            .map_err(|e| CryptoError::Sign(e.to_string()))?;
        Ok(Sm2Signature(sig))
    }

    /// Decrypts a C1‖C3‖C2 ciphertext (C1 uncompressed, `04‖x‖y`).
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        sm2::pke::DecryptingKey::new(self.secret.clone())
            .decrypt(ciphertext)
            .map_err(|_| CryptoError::Decrypt)
    }

    /// Decrypts a C1‖C2‖C3 ciphertext (the pre-2016 order, GmSSL 1.x and older peers).
    pub fn decrypt_c1c2c3(&self, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        sm2::pke::DecryptingKey::new_with_mode(
            self.secret.to_nonzero_scalar(),
            sm2::pke::Mode::C1C2C3,
        )
        .decrypt(ciphertext)
        .map_err(|_| CryptoError::Decrypt)
    }

    /// Decrypts a DER `SM2Cipher` (GM/T 0009).
    pub fn decrypt_der(&self, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        sm2::pke::DecryptingKey::new(self.secret.clone())
            .decrypt_der(ciphertext)
            .map_err(|_| CryptoError::Decrypt)
    }
}

/// An SM2 public key (a point on the recommended curve).
#[derive(Clone, PartialEq, Eq)]
pub struct Sm2PublicKey {
    key: sm2::PublicKey,
}

impl std::fmt::Debug for Sm2PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Sm2PublicKey").field(&self.to_hex()).finish()
    }
}

impl Sm2PublicKey {
    /// Imports the SEC1 point (`04‖x‖y`, 130 hex digits; compressed `02/03‖x` is accepted too).
    pub fn from_hex(hex_str: &str) -> Result<Self, CryptoError> {
        let bytes = hex::decode(hex_str.trim())
            .map_err(|_| key_err("SM2 public key hex is not valid hexadecimal"))?;
        Self::from_sec1(&bytes)
    }

    /// Imports a SEC1-encoded point.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, CryptoError> {
        let key = sm2::PublicKey::from_sec1_bytes(bytes).map_err(|_| {
            CryptoError::Key(format!(
                "not an SM2 public key point ({} bytes; expected 65 bytes 04||x||y on the curve)",
                bytes.len()
            ))
        })?;
        Ok(Self { key })
    }

    /// The uncompressed SEC1 point `04‖x‖y`.
    pub fn to_sec1(&self) -> Vec<u8> {
        self.key.to_sec1_point(false).as_bytes().to_vec()
    }

    /// The uncompressed point as 130 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_sec1())
    }

    /// Imports an SPKI PEM public key (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_pem(pem: &str) -> Result<Self, CryptoError> {
        let key = sm2::PublicKey::from_public_key_pem(pem.trim())
            .map_err(|e| CryptoError::Key(format!("not a PEM SM2 public key: {e}")))?;
        Ok(Self { key })
    }

    /// Exports the key as SPKI PEM.
    pub fn to_pem(&self) -> Result<String, CryptoError> {
        self.key
            .to_public_key_pem(sm2::pkcs8::LineEnding::LF)
            .map_err(|e| CryptoError::Key(format!("cannot encode SPKI PEM: {e}")))
    }

    /// Imports an SPKI DER public key.
    pub fn from_der(der: &[u8]) -> Result<Self, CryptoError> {
        let key = sm2::PublicKey::from_public_key_der(der)
            .map_err(|_| key_err("not a DER SM2 public key (SubjectPublicKeyInfo)"))?;
        Ok(Self { key })
    }

    /// Exports the key as SPKI DER.
    pub fn to_der(&self) -> Result<Vec<u8>, CryptoError> {
        self.key
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| CryptoError::Key(format!("cannot encode SPKI DER: {e}")))
    }

    /// Reads a key in any of the supported text forms: SPKI PEM, hex SEC1 point, or base64
    /// SPKI DER (the PEM body without its armour).
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let t = text.trim();
        if t.starts_with("-----BEGIN") {
            return Self::from_pem(t);
        }
        if t.chars().all(|c| c.is_ascii_hexdigit()) {
            return Self::from_hex(t);
        }
        let der = decode_base64(t).ok_or_else(|| {
            key_err("public key is neither PEM, hex SEC1 point nor base64 SPKI DER")
        })?;
        Self::from_der(&der)
    }

    /// A short stable identifier of the key: the first 16 hex digits of SM3 over the SEC1 point.
    pub fn key_id(&self) -> String {
        let mut id = hex::encode(Sm3::digest(self.to_sec1()));
        id.truncate(16);
        id
    }

    /// ZA = SM3(ENTL ‖ ID ‖ a ‖ b ‖ Gx ‖ Gy ‖ xA ‖ yA) for this key and distinguishing ID.
    ///
    /// `sm2` computes ZA internally but does not expose it; it is needed to compare with other
    /// implementations and the standard's worked example, so it is computed here by hand from
    /// the curve parameters of GB/T 32918.5.
    pub fn za(&self, id: &str) -> Result<[u8; 32], CryptoError> {
        let bits = id
            .len()
            .checked_mul(8)
            .and_then(|b| u16::try_from(b).ok())
            .ok_or_else(|| key_err("distinguishing ID is too long (at most 8191 bytes)"))?;
        let point = self.to_sec1();
        let mut h = Sm3::new();
        h.update(bits.to_be_bytes());
        h.update(id.as_bytes());
        for param in [CURVE_A, CURVE_B, CURVE_GX, CURVE_GY] {
            h.update(param);
        }
        h.update(point.get(1..).unwrap_or_default());
        Ok(h.finalize().into())
    }

    /// Verifies a signature with ZA over [`DEFAULT_SM2_ID`].
    pub fn verify(&self, msg: &[u8], sig: &Sm2Signature) -> Result<(), CryptoError> {
        self.verify_with_id(DEFAULT_SM2_ID, msg, sig)
    }

    /// Verifies a signature with ZA over the distinguishing ID `id`.
    pub fn verify_with_id(
        &self,
        id: &str,
        msg: &[u8],
        sig: &Sm2Signature,
    ) -> Result<(), CryptoError> {
        let vk = sm2::dsa::VerifyingKey::new(id, self.key)
            .map_err(|_| key_err("distinguishing ID is too long (at most 8191 bytes)"))?;
        vk.verify(msg, &sig.0)
            .map_err(|_| CryptoError::BadSignature)
    }

    /// Encrypts `msg` to this key; the ciphertext is C1‖C3‖C2 with C1 uncompressed.
    pub fn encrypt(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        sm2::pke::EncryptingKey::new(self.key)
            .encrypt(&mut SysRng, msg)
            .map_err(|e| CryptoError::Encrypt(e.to_string()))
    }

    /// Encrypts `msg` to this key as a DER `SM2Cipher` (GM/T 0009, C1C3C2 field order).
    pub fn encrypt_der(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        sm2::pke::EncryptingKey::new(self.key)
            .encrypt_der(&mut SysRng, msg)
            .map_err(|e| CryptoError::Encrypt(e.to_string()))
    }
}

// Curve coefficients and base point of the recommended curve (GB/T 32918.5), for ZA.
const CURVE_A: [u8; 32] = hex32("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC");
const CURVE_B: [u8; 32] = hex32("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93");
const CURVE_GX: [u8; 32] =
    hex32("32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7");
const CURVE_GY: [u8; 32] =
    hex32("BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0");

/// Decodes 64 hex digits at compile time (a bad literal fails the build).
const fn hex32(s: &str) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("not a hex digit"),
        }
    }
    let b = s.as_bytes();
    assert!(b.len() == 64, "need 64 hex digits");
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

/// An SM2 signature (r, s).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Sm2Signature(sm2::dsa::Signature);

impl Sm2Signature {
    /// From the 64-byte `r‖s` form.
    pub fn from_bytes(rs: &[u8]) -> Result<Self, CryptoError> {
        if rs.len() != 64 {
            return Err(CryptoError::MalformedSignature(format!(
                "r||s form must be 64 bytes, got {}",
                rs.len()
            )));
        }
        sm2::dsa::Signature::from_slice(rs).map(Self).map_err(|_| {
            CryptoError::MalformedSignature("r or s is zero or not below the curve order".into())
        })
    }

    /// The 64-byte `r‖s` form.
    pub fn to_bytes(&self) -> [u8; 64] {
        self.0.to_bytes().into()
    }

    /// From DER (`SEQUENCE { r INTEGER, s INTEGER }`).
    pub fn from_der(der: &[u8]) -> Result<Self, CryptoError> {
        sm2::dsa::Signature::from_der(der)
            .map(Self)
            .map_err(|_| CryptoError::MalformedSignature("not a DER SM2 signature".into()))
    }

    /// DER encoding, what other SM2 implementations exchange.
    pub fn to_der(&self) -> Vec<u8> {
        self.0.to_der().to_vec()
    }

    /// The portable text form: standard base64 of the DER encoding.
    pub fn to_base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.to_der())
    }

    /// Reads the portable forms: base64 DER, or 128 hex digits of `r‖s`, or hex DER.
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let t = text.trim();
        if t.chars().all(|c| c.is_ascii_hexdigit()) && t.len().is_multiple_of(2) {
            let bytes = hex::decode(t)
                .map_err(|_| CryptoError::MalformedSignature("invalid hex".into()))?;
            return if bytes.len() == 64 {
                Self::from_bytes(&bytes)
            } else {
                Self::from_der(&bytes)
            };
        }
        let der = decode_base64(t).ok_or_else(|| {
            CryptoError::MalformedSignature("neither base64 DER nor hex r||s".into())
        })?;
        Self::from_der(&der)
    }
}

/// Standard or URL-safe base64, padded or not; whitespace (PEM line breaks) is ignored.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(&compact).ok())
}

/// Signs a document (a notice, a warning bulletin) with the platform key and ZA over the
/// default ID; returns the signature in its portable text form (base64 DER).
pub fn sign_document(key: &Sm2PrivateKey, bytes: &[u8]) -> Result<String, CryptoError> {
    Ok(key.sign(bytes)?.to_base64())
}

/// Verifies a document signature as a recipient would: `public_key` in any text form
/// [`Sm2PublicKey::parse`] accepts (the published PEM), `signature` in any form
/// [`Sm2Signature::parse`] accepts. `Ok(())` only when the signature is valid.
pub fn verify_document(public_key: &str, bytes: &[u8], signature: &str) -> Result<(), CryptoError> {
    let pk = Sm2PublicKey::parse(public_key)?;
    let sig = Sm2Signature::parse(signature)?;
    pk.verify(bytes, &sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    // GB/T 32918.5 Annex A / GM/T 0003.5-2012 example on the recommended curve
    // (also in OpenSSL test/sm2_internal_test.c).
    const DA: &str = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
    const PA: &str = "0409F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020\
                      CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";
    const ZA: &str = "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3";
    const E: &str = "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640";
    const R: &str = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3";
    const S: &str = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA";

    fn standard_key() -> Sm2PrivateKey {
        Sm2PrivateKey::from_hex(DA).expect("dA")
    }

    fn standard_sig() -> Sm2Signature {
        Sm2Signature::parse(&format!("{R}{S}")).expect("r||s")
    }

    #[test]
    fn standard_key_pair_matches_its_public_point() {
        let pk = standard_key().public_key();
        assert_eq!(pk.to_hex(), PA.to_lowercase());
        assert_eq!(Sm2PublicKey::from_hex(PA).expect("PA"), pk);
    }

    #[test]
    fn za_and_e_match_the_standard_example() {
        let pk = Sm2PublicKey::from_hex(PA).expect("PA");
        let za = pk.za(DEFAULT_SM2_ID).expect("za");
        assert_eq!(hex::encode_upper(za), ZA);
        let mut h = Sm3::new();
        h.update(za);
        h.update(b"message digest");
        assert_eq!(hex::encode_upper(h.finalize()), E);
    }

    #[test]
    fn standard_signature_verifies_with_the_default_id_only() {
        let pk = Sm2PublicKey::from_hex(PA).expect("PA");
        let sig = standard_sig();
        assert_eq!(pk.verify(b"message digest", &sig).ok(), Some(()));
        // Negative: the same (r, s) under another ID, another message, another key.
        assert!(matches!(
            pk.verify_with_id("ALICE123@YAHOO.COM", b"message digest", &sig),
            Err(CryptoError::BadSignature)
        ));
        assert!(matches!(
            pk.verify(b"message digesT", &sig),
            Err(CryptoError::BadSignature)
        ));
        let other = Sm2PrivateKey::generate().expect("key").public_key();
        assert!(other.verify(b"message digest", &sig).is_err());
    }

    #[test]
    fn standard_ciphertext_decrypts_in_both_orders_and_der() {
        let sk = standard_key();
        let c1 = "0404EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73\
                  E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0";
        let c3 = "59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766";
        let c2 = "21886CA989CA9C7D58087307CA93092D651EFA";
        let c1c3c2 = hex::decode(format!("{c1}{c3}{c2}")).expect("hex");
        assert_eq!(
            sk.decrypt(&c1c3c2).expect("decrypt"),
            b"encryption standard"
        );
        let c1c2c3 = hex::decode(format!("{c1}{c2}{c3}")).expect("hex");
        assert_eq!(
            sk.decrypt_c1c2c3(&c1c2c3).expect("decrypt"),
            b"encryption standard"
        );
        // The same ciphertext in GM/T 0009 DER: x and y as INTEGERs (y needs a leading 0x00).
        let der = hex::decode(format!(
            "307C0220{}022100{}0420{c3}0413{c2}",
            &c1[2..66],
            &c1[66..]
        ))
        .expect("hex");
        assert_eq!(sk.decrypt_der(&der).expect("der"), b"encryption standard");
        // One flipped bit of C2 fails the C3 check.
        let mut bad = c1c3c2.clone();
        if let Some(b) = bad.last_mut() {
            *b ^= 1;
        }
        assert!(matches!(sk.decrypt(&bad), Err(CryptoError::Decrypt)));
    }

    #[test]
    fn generated_keys_sign_verify_encrypt_and_round_trip_through_every_form() {
        let sk = Sm2PrivateKey::generate().expect("key");
        let pk = sk.public_key();

        let sig = sk.sign(b"notice").expect("sign");
        assert_eq!(pk.verify(b"notice", &sig).ok(), Some(()));
        let custom = sk
            .sign_with_id("cert@vigil.example", b"notice")
            .expect("sign");
        assert_eq!(
            pk.verify_with_id("cert@vigil.example", b"notice", &custom)
                .ok(),
            Some(())
        );
        assert!(pk.verify(b"notice", &custom).is_err());

        let ct = pk.encrypt(b"13800138000").expect("encrypt");
        assert_eq!(ct.len(), 65 + 32 + 11);
        assert_eq!(sk.decrypt(&ct).expect("decrypt"), b"13800138000");
        let der = pk.encrypt_der(b"x").expect("encrypt");
        assert_eq!(sk.decrypt_der(&der).expect("decrypt"), b"x");

        let pem = sk.to_pem().expect("pem");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(
            Sm2PrivateKey::parse(&pem).expect("pem").to_hex(),
            sk.to_hex()
        );
        assert_eq!(
            Sm2PrivateKey::parse(&sk.to_hex()).expect("hex").to_hex(),
            sk.to_hex()
        );
        let der = sk.to_der().expect("der");
        assert_eq!(
            Sm2PrivateKey::from_der(&der).expect("der").to_hex(),
            sk.to_hex()
        );

        let pub_pem = pk.to_pem().expect("pem");
        assert!(pub_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        assert_eq!(Sm2PublicKey::parse(&pub_pem).expect("pem"), pk);
        assert_eq!(Sm2PublicKey::parse(&pk.to_hex()).expect("hex"), pk);
        let body: String = pub_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert_eq!(Sm2PublicKey::parse(&body).expect("b64"), pk);
        assert_eq!(pk.key_id().len(), 16);
        assert!(!format!("{sk:?}").contains(&sk.to_hex()));
    }

    #[test]
    fn malformed_keys_and_signatures_are_named() {
        let e = Sm2PrivateKey::from_hex("abcd").expect_err("short");
        assert!(e.to_string().contains("32 bytes"), "{e}");
        assert!(Sm2PrivateKey::from_hex(&"0".repeat(64)).is_err());
        assert!(Sm2PrivateKey::from_hex(&"f".repeat(64)).is_err());
        assert!(
            Sm2PrivateKey::parse("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .is_err()
        );
        assert!(Sm2PublicKey::from_hex("04").is_err());
        // A point not on the curve.
        let mut off = hex::decode(PA).expect("hex");
        off[64] ^= 1;
        assert!(Sm2PublicKey::from_sec1(&off).is_err());
        assert!(Sm2Signature::parse("not a signature!").is_err());
        assert!(Sm2Signature::from_bytes(&[0u8; 64]).is_err());
        assert!(Sm2Signature::from_bytes(&[1u8; 63]).is_err());
    }

    #[test]
    fn documents_verify_with_the_published_key_and_fail_when_changed() {
        let sk = Sm2PrivateKey::generate().expect("key");
        let published = sk.public_key().to_pem().expect("pem");
        let notice = "关于某单位勒索软件事件的通报".as_bytes();
        let sig = sign_document(&sk, notice).expect("sign");
        assert_eq!(verify_document(&published, notice, &sig).ok(), Some(()));
        // The r||s hex form verifies too.
        let rs = hex::encode(Sm2Signature::parse(&sig).expect("sig").to_bytes());
        assert_eq!(verify_document(&published, notice, &rs).ok(), Some(()));

        let mut changed = notice.to_vec();
        changed[0] ^= 1;
        assert!(matches!(
            verify_document(&published, &changed, &sig),
            Err(CryptoError::BadSignature)
        ));
        let other = Sm2PrivateKey::generate()
            .expect("key")
            .public_key()
            .to_hex();
        assert!(matches!(
            verify_document(&other, notice, &sig),
            Err(CryptoError::BadSignature)
        ));
        // The standard's signature verifies through the document API as well.
        assert_eq!(
            verify_document(PA, b"message digest", &format!("{R}{S}")).ok(),
            Some(())
        );
    }
}
