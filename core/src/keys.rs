//! Public and private keys, key IDs, signature verification and X.509 helpers.
//!
//! One [`PublicKey`] type covers every algorithm the upstream services accept
//! (ECDSA P-256/P-384/P-521, RSA PKCS#1 v1.5, Ed25519). Verification comes in
//! two forms because Sigstore uses both: over a message (DSSE, checkpoints,
//! SETs) and over a digest the client already computed (Rekor `hashedrekord`),
//! where Ed25519 is verified as Ed25519ph as upstream Rekor does.

use der::{Decode, Encode};
use sha2::{Digest, Sha256, Sha384, Sha512};
use spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};
use x509_cert::Certificate;

use crate::pem;

pub const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
pub const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
pub const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
pub const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
pub const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const OID_RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const OID_RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Pem(#[from] pem::PemError),
    #[error("invalid public key: {0}")]
    InvalidPublicKey(String),
    #[error("invalid private key: {0}")]
    InvalidPrivateKey(String),
    #[error("unsupported key type: {0}")]
    Unsupported(String),
    #[error("invalid certificate: {0}")]
    InvalidCertificate(String),
    #[error("signature verification failed")]
    BadSignature,
    #[error("digest length {got} does not match {alg:?} ({want} bytes)")]
    DigestLength {
        alg: HashAlgorithm,
        got: usize,
        want: usize,
    },
}

/// Hash algorithms that Sigstore signatures use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    pub fn digest_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlgorithm::Sha256 => Sha256::digest(data).to_vec(),
            HashAlgorithm::Sha384 => Sha384::digest(data).to_vec(),
            HashAlgorithm::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// Rekor's spelling (`sha256`, `sha384`, `sha512`), also the in-toto
    /// digest-set key and cosign's `--digestAlg` value.
    pub fn rekor_name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha384 => "sha384",
            HashAlgorithm::Sha512 => "sha512",
        }
    }

    /// The inverse of [`HashAlgorithm::rekor_name`].
    pub fn from_rekor_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(HashAlgorithm::Sha256),
            "sha384" => Some(HashAlgorithm::Sha384),
            "sha512" => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }
}

/// A parsed public key of any supported algorithm.
#[derive(Clone)]
pub enum PublicKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
    Rsa(rsa::RsaPublicKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.algorithm_name())
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.to_spki_der() == other.to_spki_der()
    }
}

impl PublicKey {
    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| KeyError::InvalidPublicKey(e.to_string()))?;
        let bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| KeyError::InvalidPublicKey("unaligned key bits".into()))?;
        let oid = spki.algorithm.oid;
        let bad = |e: &dyn std::fmt::Display| KeyError::InvalidPublicKey(e.to_string());
        if oid == OID_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters_oid()
                .map_err(|e| KeyError::InvalidPublicKey(format!("EC parameters: {e}")))?;
            return match curve {
                OID_P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(PublicKey::P256)
                    .map_err(|e| bad(&e)),
                OID_P384 => p384::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(PublicKey::P384)
                    .map_err(|e| bad(&e)),
                OID_P521 => p521::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(PublicKey::P521)
                    .map_err(|e| bad(&e)),
                other => Err(KeyError::Unsupported(format!("elliptic curve {other}"))),
            };
        }
        if oid == OID_RSA {
            use rsa::pkcs8::DecodePublicKey;
            return rsa::RsaPublicKey::from_public_key_der(der)
                .map(PublicKey::Rsa)
                .map_err(|e| bad(&e));
        }
        if oid == OID_ED25519 {
            let raw: [u8; 32] = bits
                .try_into()
                .map_err(|_| KeyError::InvalidPublicKey("Ed25519 key must be 32 bytes".into()))?;
            return ed25519_dalek::VerifyingKey::from_bytes(&raw)
                .map(PublicKey::Ed25519)
                .map_err(|e| bad(&e));
        }
        Err(KeyError::Unsupported(format!("key algorithm {oid}")))
    }

    /// Parses a PEM `PUBLIC KEY` block.
    pub fn from_pem(text: &[u8]) -> Result<Self, KeyError> {
        Self::from_spki_der(&pem::parse_labeled(text, "PUBLIC KEY")?)
    }

    /// DER SubjectPublicKeyInfo, as Go's `x509.MarshalPKIXPublicKey` writes it.
    pub fn to_spki_der(&self) -> Vec<u8> {
        use spki::EncodePublicKey;
        let doc = match self {
            PublicKey::P256(k) => k.to_public_key_der(),
            PublicKey::P384(k) => k.to_public_key_der(),
            PublicKey::P521(k) => {
                // p521's VerifyingKey lacks the pkcs8 encoder; build the SPKI
                // from the SEC1 point, which is what the encoder would emit.
                return ec_spki(OID_P521, &k.to_encoded_point(false).to_bytes());
            }
            PublicKey::Rsa(k) => k.to_public_key_der(),
            PublicKey::Ed25519(k) => k.to_public_key_der(),
        };
        doc.map(|d| d.as_bytes().to_vec()).unwrap_or_default()
    }

    /// Go-style PEM `PUBLIC KEY`.
    pub fn to_pem(&self) -> String {
        pem::encode("PUBLIC KEY", &self.to_spki_der())
    }

    /// Human-readable algorithm name for messages and metrics.
    pub fn algorithm_name(&self) -> String {
        match self {
            PublicKey::P256(_) => "ecdsa-p256".into(),
            PublicKey::P384(_) => "ecdsa-p384".into(),
            PublicKey::P521(_) => "ecdsa-p521".into(),
            PublicKey::Rsa(k) => {
                use rsa::traits::PublicKeyParts;
                format!("rsa-{}", k.size() * 8)
            }
            PublicKey::Ed25519(_) => "ed25519".into(),
        }
    }

    /// The hash each algorithm uses by default when signing a message
    /// (sigstore's `GetDefaultAlgorithmDetails`).
    pub fn default_hash(&self) -> HashAlgorithm {
        match self {
            PublicKey::P384(_) => HashAlgorithm::Sha384,
            PublicKey::P521(_) | PublicKey::Ed25519(_) => HashAlgorithm::Sha512,
            PublicKey::P256(_) | PublicKey::Rsa(_) => HashAlgorithm::Sha256,
        }
    }

    /// Verifies `sig` over a precomputed digest. ECDSA signatures are ASN.1
    /// DER; RSA is PKCS#1 v1.5; Ed25519 is verified as Ed25519ph (the digest
    /// must then be SHA-512), as upstream Rekor does for hashedrekord.
    pub fn verify_prehash(
        &self,
        alg: HashAlgorithm,
        digest: &[u8],
        sig: &[u8],
    ) -> Result<(), KeyError> {
        if digest.len() != alg.digest_len() {
            return Err(KeyError::DigestLength {
                alg,
                got: digest.len(),
                want: alg.digest_len(),
            });
        }
        let ok = match self {
            PublicKey::P256(k) => fast::verify_ec(
                fast::P256,
                alg,
                k.to_encoded_point(false).as_bytes(),
                digest,
                sig,
            ),
            PublicKey::P384(k) => fast::verify_ec(
                fast::P384,
                alg,
                k.to_encoded_point(false).as_bytes(),
                digest,
                sig,
            ),
            PublicKey::P521(k) => fast::verify_ec(
                fast::P521,
                alg,
                k.to_encoded_point(false).as_bytes(),
                digest,
                sig,
            ),
            PublicKey::Rsa(k) => {
                let scheme = match alg {
                    HashAlgorithm::Sha256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
                    HashAlgorithm::Sha384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
                    HashAlgorithm::Sha512 => rsa::Pkcs1v15Sign::new::<Sha512>(),
                };
                k.verify(scheme, digest, sig).is_ok()
            }
            PublicKey::Ed25519(k) => {
                if alg != HashAlgorithm::Sha512 {
                    return Err(KeyError::Unsupported(
                        "Ed25519ph requires a SHA-512 digest".into(),
                    ));
                }
                let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
                    return Err(KeyError::BadSignature);
                };
                let mut fixed = [0u8; 64];
                fixed.copy_from_slice(digest);
                k.verify_prehashed_strict(FixedSha512(fixed), None, &sig)
                    .is_ok()
            }
        };
        if ok {
            Ok(())
        } else {
            Err(KeyError::BadSignature)
        }
    }

    /// Verifies `sig` over `msg` with the algorithm's default hash
    /// (pure Ed25519 for Ed25519 keys).
    pub fn verify_message(&self, msg: &[u8], sig: &[u8]) -> Result<(), KeyError> {
        match self {
            PublicKey::Ed25519(k) => {
                let sig = ed25519_dalek::Signature::from_slice(sig)
                    .map_err(|_| KeyError::BadSignature)?;
                k.verify_strict(msg, &sig)
                    .map_err(|_| KeyError::BadSignature)
            }
            _ => {
                let alg = self.default_hash();
                self.verify_prehash(alg, &alg.digest(msg), sig)
            }
        }
    }

    /// Verifies with an explicit hash (RSA/ECDSA); Ed25519 ignores `alg`.
    pub fn verify_message_with(
        &self,
        alg: HashAlgorithm,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), KeyError> {
        match self {
            PublicKey::Ed25519(_) => self.verify_message(msg, sig),
            _ => self.verify_prehash(alg, &alg.digest(msg), sig),
        }
    }
}

fn ec_spki(curve: ObjectIdentifier, point: &[u8]) -> Vec<u8> {
    use spki::{AlgorithmIdentifier, SubjectPublicKeyInfo};
    let Ok(params) = der::Any::encode_from(&curve) else {
        return Vec::new();
    };
    let Ok(bits) = der::asn1::BitString::from_bytes(point) else {
        return Vec::new();
    };
    let spki = SubjectPublicKeyInfo {
        algorithm: AlgorithmIdentifier {
            oid: OID_EC_PUBLIC_KEY,
            parameters: Some(params),
        },
        subject_public_key: bits,
    };
    spki.to_der().unwrap_or_default()
}

/// A SHA-512 "hasher" that already holds its output: Ed25519ph verification
/// in ed25519-dalek takes a hasher, while Rekor hands us the finished digest.
#[derive(Clone)]
struct FixedSha512([u8; 64]);

impl Default for FixedSha512 {
    fn default() -> Self {
        FixedSha512([0u8; 64])
    }
}
impl sha2::digest::HashMarker for FixedSha512 {}
impl sha2::digest::OutputSizeUser for FixedSha512 {
    type OutputSize = sha2::digest::consts::U64;
}
impl sha2::digest::Update for FixedSha512 {
    fn update(&mut self, _data: &[u8]) {
        // The digest is fixed at construction; nothing is ever fed to it.
    }
}
impl sha2::digest::FixedOutput for FixedSha512 {
    fn finalize_into(self, out: &mut sha2::digest::Output<Self>) {
        out.copy_from_slice(&self.0);
    }
}

/// SHA-256 of the DER SubjectPublicKeyInfo: the Rekor v1 log ID, the CT log ID
/// and the key ID `trusted_root.json` uses for ECDSA keys.
pub fn sha256_key_id(spki_der: &[u8]) -> [u8; 32] {
    Sha256::digest(spki_der).into()
}

/// A private signing key held in memory.
#[derive(Clone)]
pub enum SigningKey {
    P256(P256SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

impl std::fmt::Debug for SigningKey {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.public_key().algorithm_name())
    }
}

impl SigningKey {
    pub fn generate_p256() -> Self {
        SigningKey::P256(P256SigningKey::new(p256::ecdsa::SigningKey::random(
            &mut rand_core::OsRng,
        )))
    }

    pub fn generate_ed25519() -> Self {
        SigningKey::Ed25519(ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng))
    }

    /// Loads a PEM private key: `PRIVATE KEY` (PKCS#8), `EC PRIVATE KEY`
    /// (SEC1) or `ENCRYPTED PRIVATE KEY` (PKCS#8 PBES2, needs `passphrase`).
    pub fn from_pem(text: &[u8], passphrase: Option<&[u8]>) -> Result<Self, KeyError> {
        let block = pem::parse_one_block(text)?;
        let bad = |e: &dyn std::fmt::Display| KeyError::InvalidPrivateKey(e.to_string());
        match block.label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(&block.contents),
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(&block.contents)
                .map(|k| SigningKey::P256(P256SigningKey::new(k.into())))
                .map_err(|e| bad(&e)),
            "ENCRYPTED PRIVATE KEY" => {
                let pass = passphrase.ok_or_else(|| {
                    KeyError::InvalidPrivateKey(
                        "key is encrypted and no passphrase was given".into(),
                    )
                })?;
                let enc = pkcs8::EncryptedPrivateKeyInfo::try_from(block.contents.as_slice())
                    .map_err(|e| bad(&e))?;
                let doc = enc.decrypt(pass).map_err(|_| {
                    KeyError::InvalidPrivateKey("wrong passphrase or corrupt encrypted key".into())
                })?;
                Self::from_pkcs8_der(doc.as_bytes())
            }
            other => Err(KeyError::InvalidPrivateKey(format!(
                "unexpected PEM label {other:?}"
            ))),
        }
    }

    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        use pkcs8::DecodePrivateKey;
        let info = pkcs8::PrivateKeyInfo::try_from(der)
            .map_err(|e| KeyError::InvalidPrivateKey(e.to_string()))?;
        let bad = |e: &dyn std::fmt::Display| KeyError::InvalidPrivateKey(e.to_string());
        if info.algorithm.oid == OID_ED25519 {
            return ed25519_dalek::SigningKey::from_pkcs8_der(der)
                .map(SigningKey::Ed25519)
                .map_err(|e| bad(&e));
        }
        if info.algorithm.oid == OID_EC_PUBLIC_KEY {
            let curve = info.algorithm.parameters_oid().map_err(|e| bad(&e))?;
            if curve == OID_P256 {
                return p256::ecdsa::SigningKey::from_pkcs8_der(der)
                    .map(|k| SigningKey::P256(P256SigningKey::new(k)))
                    .map_err(|e| bad(&e));
            }
            return Err(KeyError::Unsupported(format!(
                "signing with curve {curve} (use P-256)"
            )));
        }
        Err(KeyError::Unsupported(format!(
            "signing key algorithm {}",
            info.algorithm.oid
        )))
    }

    /// PKCS#8 PEM, encrypted (PBES2, scrypt + AES-256-CBC) when a passphrase is given.
    pub fn to_pkcs8_pem(&self, passphrase: Option<&[u8]>) -> Result<String, KeyError> {
        use pkcs8::EncodePrivateKey;
        let doc = match self {
            SigningKey::P256(k) => k.inner().to_pkcs8_der(),
            // RFC 8410 v1 form, without the optional public key: OpenSSL 3.0
            // and Python's cryptography refuse the v2 form dalek writes.
            SigningKey::Ed25519(k) => ed25519_dalek::pkcs8::KeypairBytes {
                secret_key: k.to_bytes(),
                public_key: None,
            }
            .to_pkcs8_der(),
        }
        .map_err(|e| KeyError::InvalidPrivateKey(e.to_string()))?;
        match passphrase {
            None => Ok(pem::encode("PRIVATE KEY", doc.as_bytes())),
            Some(pass) => {
                let info = pkcs8::PrivateKeyInfo::try_from(doc.as_bytes())
                    .map_err(|e| KeyError::InvalidPrivateKey(e.to_string()))?;
                let enc = info
                    .encrypt(rand_core::OsRng, pass)
                    .map_err(|e| KeyError::InvalidPrivateKey(e.to_string()))?;
                Ok(pem::encode("ENCRYPTED PRIVATE KEY", enc.as_bytes()))
            }
        }
    }

    pub fn public_key(&self) -> PublicKey {
        match self {
            SigningKey::P256(k) => PublicKey::P256(*k.inner().verifying_key()),
            SigningKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
        }
    }

    /// Signs `msg`: ECDSA-SHA256 (ASN.1 DER, randomized nonce as Go's crypto/ecdsa) or pure Ed25519.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        use signature::Signer;
        match self {
            SigningKey::P256(k) => k.sign_digest(&Sha256::digest(msg).into()),
            SigningKey::Ed25519(k) => k.sign(msg).to_bytes().to_vec(),
        }
    }

    /// Signs a precomputed SHA-256 digest (ECDSA only).
    pub fn sign_prehash_sha256(&self, digest: &[u8; 32]) -> Result<Vec<u8>, KeyError> {
        match self {
            SigningKey::P256(k) => Ok(k.sign_digest(digest)),
            SigningKey::Ed25519(_) => Err(KeyError::Unsupported(
                "prehashed SHA-256 signing with Ed25519".into(),
            )),
        }
    }
}

/// A P-256 private key. The RustCrypto key is the source of truth (parsing,
/// PKCS#8 encoding, public key); signing goes through AWS-LC, which is several
/// times faster and is on every log write and certificate issuance path.
#[derive(Clone)]
pub struct P256SigningKey {
    inner: p256::ecdsa::SigningKey,
    /// Always `Some` for a valid key (same curve and scalar range, point derived
    /// from the scalar); `None` would only fall back to the slower RustCrypto signer.
    fast: Option<std::sync::Arc<aws_lc_rs::signature::EcdsaKeyPair>>,
}

impl P256SigningKey {
    fn new(inner: p256::ecdsa::SigningKey) -> Self {
        let scalar = inner.to_bytes();
        let point = inner.verifying_key().to_encoded_point(false);
        let fast = aws_lc_rs::signature::EcdsaKeyPair::from_private_key_and_public_key(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &scalar,
            point.as_bytes(),
        )
        .ok()
        .map(std::sync::Arc::new);
        P256SigningKey { inner, fast }
    }

    /// The RustCrypto key (for encoders and tests).
    pub fn inner(&self) -> &p256::ecdsa::SigningKey {
        &self.inner
    }

    fn sign_digest(&self, digest: &[u8; 32]) -> Vec<u8> {
        use aws_lc_rs::digest::{Digest, SHA256};
        let signed = self.fast.as_ref().and_then(|fast| {
            let d = Digest::import_less_safe(digest, &SHA256).ok()?;
            fast.sign_digest(&d).ok()
        });
        match signed {
            Some(sig) => sig.as_ref().to_vec(),
            None => {
                use signature::hazmat::PrehashSigner;
                let sig: Result<p256::ecdsa::Signature, _> = self.inner.sign_prehash(digest);
                sig.map(|s| s.to_der().as_bytes().to_vec())
                    .unwrap_or_default()
            }
        }
    }
}

/// ECDSA verification through AWS-LC (see [`P256SigningKey`] for why).
mod fast {
    use super::HashAlgorithm;
    use aws_lc_rs::digest::{Digest, SHA256, SHA384, SHA512};
    use aws_lc_rs::signature::{self, EcdsaVerificationAlgorithm, UnparsedPublicKey};

    pub(super) type Curve = [&'static EcdsaVerificationAlgorithm; 3];
    pub(super) const P256: Curve = [
        &signature::ECDSA_P256_SHA256_ASN1,
        &signature::ECDSA_P256_SHA384_ASN1,
        &signature::ECDSA_P256_SHA512_ASN1,
    ];
    pub(super) const P384: Curve = [
        &signature::ECDSA_P384_SHA256_ASN1,
        &signature::ECDSA_P384_SHA384_ASN1,
        &signature::ECDSA_P384_SHA512_ASN1,
    ];
    pub(super) const P521: Curve = [
        &signature::ECDSA_P521_SHA256_ASN1,
        &signature::ECDSA_P521_SHA384_ASN1,
        &signature::ECDSA_P521_SHA512_ASN1,
    ];

    /// `point` is the SEC1 uncompressed point of an already validated key;
    /// `digest` has already been checked to be `alg`'s length.
    pub(super) fn verify_ec(
        curve: Curve,
        alg: HashAlgorithm,
        point: &[u8],
        digest: &[u8],
        sig: &[u8],
    ) -> bool {
        let (verifier, dalg) = match alg {
            HashAlgorithm::Sha256 => (curve[0], &SHA256),
            HashAlgorithm::Sha384 => (curve[1], &SHA384),
            HashAlgorithm::Sha512 => (curve[2], &SHA512),
        };
        let Ok(d) = Digest::import_less_safe(digest, dalg) else {
            return false;
        };
        UnparsedPublicKey::new(verifier, point)
            .verify_digest(&d, sig)
            .is_ok()
    }
}

/// Parses a DER certificate.
pub fn parse_certificate_der(der: &[u8]) -> Result<Certificate, KeyError> {
    Certificate::from_der(der).map_err(|e| KeyError::InvalidCertificate(e.to_string()))
}

/// The subject public key of a certificate.
pub fn certificate_public_key(cert: &Certificate) -> Result<PublicKey, KeyError> {
    let der = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| KeyError::InvalidCertificate(e.to_string()))?;
    PublicKey::from_spki_der(&der)
}

/// DER of a certificate (re-encoding a parsed certificate is lossless for DER input).
pub fn certificate_der(cert: &Certificate) -> Result<Vec<u8>, KeyError> {
    cert.to_der()
        .map_err(|e| KeyError::InvalidCertificate(e.to_string()))
}

/// Checks that `cert` carries a valid signature by `issuer`.
pub fn verify_certificate_signature(
    cert: &Certificate,
    issuer: &PublicKey,
) -> Result<(), KeyError> {
    let tbs = cert
        .tbs_certificate
        .to_der()
        .map_err(|e| KeyError::InvalidCertificate(e.to_string()))?;
    let sig = cert
        .signature
        .as_bytes()
        .ok_or_else(|| KeyError::InvalidCertificate("unaligned signature".into()))?;
    let oid = cert.signature_algorithm.oid;
    let alg = match oid {
        OID_ECDSA_SHA256 | OID_RSA_SHA256 => HashAlgorithm::Sha256,
        OID_ECDSA_SHA384 | OID_RSA_SHA384 => HashAlgorithm::Sha384,
        OID_ECDSA_SHA512 | OID_RSA_SHA512 => HashAlgorithm::Sha512,
        OID_ED25519 => return issuer.verify_message(&tbs, sig),
        other => {
            return Err(KeyError::Unsupported(format!(
                "certificate signature algorithm {other}"
            )))
        }
    };
    issuer.verify_message_with(alg, &tbs, sig)
}

/// Verification material that Rekor accepts in a `publicKey.content` or
/// `verifier` field: a bare key, one certificate, or a chain (leaf first).
#[derive(Clone, Debug)]
pub enum KeyMaterial {
    Key(PublicKey),
    Certificates(Vec<Certificate>),
}

impl KeyMaterial {
    /// Parses PEM `PUBLIC KEY`, or one or more PEM `CERTIFICATE` blocks (up to
    /// 10, like Go rekor's `x509.NewPublicKey`). A chain must be signed link by link.
    pub fn from_pem(text: &[u8]) -> Result<Self, KeyError> {
        let blocks = pem::parse_all(text)?;
        if blocks.len() == 1 && blocks[0].label == "PUBLIC KEY" {
            return Ok(KeyMaterial::Key(PublicKey::from_spki_der(
                &blocks[0].contents,
            )?));
        }
        if blocks.len() > 10 {
            return Err(KeyError::InvalidCertificate(
                "more than 10 certificates in chain".into(),
            ));
        }
        let mut certs = Vec::with_capacity(blocks.len());
        for b in &blocks {
            if b.label != "CERTIFICATE" {
                return Err(KeyError::InvalidPublicKey(format!(
                    "unexpected PEM block {:?}",
                    b.label
                )));
            }
            certs.push(parse_certificate_der(&b.contents)?);
        }
        for pair in certs.windows(2) {
            let issuer_key = certificate_public_key(&pair[1])?;
            verify_certificate_signature(&pair[0], &issuer_key)?;
        }
        // Parse the leaf key now so an unsupported key fails at submission time.
        certificate_public_key(&certs[0])?;
        Ok(KeyMaterial::Certificates(certs))
    }

    /// The key that verifies artifact signatures (the leaf's key for a chain).
    pub fn public_key(&self) -> Result<PublicKey, KeyError> {
        match self {
            KeyMaterial::Key(k) => Ok(k.clone()),
            KeyMaterial::Certificates(c) => certificate_public_key(&c[0]),
        }
    }

    /// Go-style re-encoded PEM (what Rekor stores in canonical bodies).
    pub fn to_pem(&self) -> Result<String, KeyError> {
        match self {
            KeyMaterial::Key(k) => Ok(k.to_pem()),
            KeyMaterial::Certificates(certs) => {
                let mut out = String::new();
                for c in certs {
                    out.push_str(&pem::encode("CERTIFICATE", &certificate_der(c)?));
                }
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p256_roundtrip_and_prehash() {
        let sk = SigningKey::generate_p256();
        let pk = sk.public_key();
        let spki = pk.to_spki_der();
        let parsed = PublicKey::from_spki_der(&spki).unwrap();
        assert_eq!(parsed, pk);
        let pem = pk.to_pem();
        assert_eq!(PublicKey::from_pem(pem.as_bytes()).unwrap(), pk);

        let msg = b"hello";
        let sig = sk.sign(msg);
        pk.verify_message(msg, &sig).unwrap();
        let digest = HashAlgorithm::Sha256.digest(msg);
        pk.verify_prehash(HashAlgorithm::Sha256, &digest, &sig)
            .unwrap();
        assert!(pk.verify_message(b"hellp", &sig).is_err());
        assert!(pk
            .verify_prehash(HashAlgorithm::Sha384, &[0u8; 48], &sig)
            .is_err());
        assert!(matches!(
            pk.verify_prehash(HashAlgorithm::Sha256, &digest[..31], &sig),
            Err(KeyError::DigestLength { .. })
        ));
        let d: [u8; 32] = digest.try_into().unwrap();
        let sig2 = sk.sign_prehash_sha256(&d).unwrap();
        pk.verify_message(msg, &sig2).unwrap();
    }

    #[test]
    fn ed25519_pure_and_ph() {
        let sk = SigningKey::generate_ed25519();
        let pk = sk.public_key();
        let sig = sk.sign(b"msg");
        pk.verify_message(b"msg", &sig).unwrap();
        assert!(pk.verify_message(b"msh", &sig).is_err());

        // Ed25519ph: sign with dalek's prehashed API, verify from the digest.
        let SigningKey::Ed25519(dk) = &sk else {
            unreachable!()
        };
        let mut h = Sha512::new();
        h.update(b"artifact");
        let digest = h.clone().finalize();
        let phsig = dk.sign_prehashed(h, None).unwrap();
        pk.verify_prehash(HashAlgorithm::Sha512, &digest, &phsig.to_bytes())
            .unwrap();
        assert!(pk
            .verify_prehash(HashAlgorithm::Sha512, &[0u8; 64], &phsig.to_bytes())
            .is_err());
        assert_eq!(PublicKey::from_spki_der(&pk.to_spki_der()).unwrap(), pk);
    }

    #[test]
    fn private_key_pem_plain_and_encrypted() {
        let sk = SigningKey::generate_p256();
        let plain = sk.to_pkcs8_pem(None).unwrap();
        let back = SigningKey::from_pem(plain.as_bytes(), None).unwrap();
        assert_eq!(back.public_key(), sk.public_key());

        let enc = sk.to_pkcs8_pem(Some(b"correct horse")).unwrap();
        assert!(enc.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        let back = SigningKey::from_pem(enc.as_bytes(), Some(b"correct horse")).unwrap();
        assert_eq!(back.public_key(), sk.public_key());
        assert!(SigningKey::from_pem(enc.as_bytes(), Some(b"wrong")).is_err());
        assert!(SigningKey::from_pem(enc.as_bytes(), None).is_err());
        assert!(format!("{sk:?}").starts_with("SigningKey(ecdsa-p256"));
    }

    #[test]
    fn rejects_garbage_keys() {
        assert!(PublicKey::from_spki_der(b"\x30\x03\x02\x01\x01").is_err());
        assert!(PublicKey::from_pem(b"not pem").is_err());
        assert!(KeyMaterial::from_pem(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        )
        .is_err());
    }
}
