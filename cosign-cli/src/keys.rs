//! Private keys as cosign handles them: any PKCS#8 key of the types
//! cosign supports (ECDSA P-256/384/521, Ed25519, RSA 2048–4096), and the
//! PEM forms `import-key-pair` accepts (PKCS#8, SEC1 `EC PRIVATE KEY`,
//! PKCS#1 `RSA PRIVATE KEY`).

use pkcs8::{DecodePrivateKey, EncodePrivateKey};
use sigstack_core::keys::PublicKey;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("invalid private key: {0}")]
    Invalid(String),
    #[error("unsupported key: {0}")]
    Unsupported(String),
}

/// A private key cosign can use.
pub enum PrivateKey {
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    P521(p521::SecretKey),
    Ed25519(ed25519_dalek::SigningKey),
    Rsa(Box<rsa::RsaPrivateKey>),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "PrivateKey({})", self.public_key().algorithm_name())
    }
}

fn bad(e: impl std::fmt::Display) -> KeyError {
    KeyError::Invalid(e.to_string())
}

const OID_EC: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_RSA: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_ED25519: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_P256: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.3.132.0.35");

impl PrivateKey {
    /// Parses PKCS#8 DER (what cosign's encrypted file holds).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let info = pkcs8::PrivateKeyInfo::try_from(der).map_err(bad)?;
        let oid = info.algorithm.oid;
        let key = if oid == OID_ED25519 {
            PrivateKey::Ed25519(ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(bad)?)
        } else if oid == OID_RSA {
            PrivateKey::Rsa(Box::new(
                rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(bad)?,
            ))
        } else if oid == OID_EC {
            let curve = info.algorithm.parameters_oid().map_err(bad)?;
            if curve == OID_P256 {
                PrivateKey::P256(p256::SecretKey::from_pkcs8_der(der).map_err(bad)?)
            } else if curve == OID_P384 {
                PrivateKey::P384(p384::SecretKey::from_pkcs8_der(der).map_err(bad)?)
            } else if curve == OID_P521 {
                PrivateKey::P521(p521::SecretKey::from_pkcs8_der(der).map_err(bad)?)
            } else {
                return Err(KeyError::Unsupported(format!("elliptic curve {curve}")));
            }
        } else {
            return Err(KeyError::Unsupported(format!("key algorithm {oid}")));
        };
        key.check_strength()?;
        Ok(key)
    }

    /// Parses the PEM forms `import-key-pair` accepts.
    pub fn from_pem(text: &[u8]) -> Result<Self, KeyError> {
        let block = sigstack_core::pem::parse_one_block(text).map_err(bad)?;
        match block.label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(&block.contents),
            "EC PRIVATE KEY" => {
                // SEC1 names its curve; try each supported one.
                if let Ok(k) = p256::SecretKey::from_sec1_der(&block.contents) {
                    Ok(PrivateKey::P256(k))
                } else if let Ok(k) = p384::SecretKey::from_sec1_der(&block.contents) {
                    Ok(PrivateKey::P384(k))
                } else if let Ok(k) = p521::SecretKey::from_sec1_der(&block.contents) {
                    Ok(PrivateKey::P521(k))
                } else {
                    Err(KeyError::Unsupported("EC key on a curve other than P-256/384/521".into()))
                }
            }
            "RSA PRIVATE KEY" => {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                let k = PrivateKey::Rsa(Box::new(rsa::RsaPrivateKey::from_pkcs1_der(&block.contents).map_err(bad)?));
                k.check_strength()?;
                Ok(k)
            }
            other => Err(KeyError::Invalid(format!(
                "unsupported PEM type {other:?} (want PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)"
            ))),
        }
    }

    /// cosign refuses weak keys on import (RSA below 2048 bits, or above 4096).
    fn check_strength(&self) -> Result<(), KeyError> {
        if let PrivateKey::Rsa(k) = self {
            use rsa::traits::PublicKeyParts;
            let bits = k.size() * 8;
            if !(2048..=4096).contains(&bits) {
                return Err(KeyError::Unsupported(format!(
                    "RSA key of {bits} bits (2048–4096 only)"
                )));
            }
        }
        Ok(())
    }

    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, KeyError> {
        let doc = match self {
            PrivateKey::P256(k) => k.to_pkcs8_der(),
            PrivateKey::P384(k) => k.to_pkcs8_der(),
            PrivateKey::P521(k) => k.to_pkcs8_der(),
            PrivateKey::Ed25519(k) => ed25519_dalek::pkcs8::KeypairBytes {
                secret_key: k.to_bytes(),
                public_key: None,
            }
            .to_pkcs8_der(),
            PrivateKey::Rsa(k) => k.to_pkcs8_der(),
        }
        .map_err(bad)?;
        Ok(doc.as_bytes().to_vec())
    }

    pub fn public_key(&self) -> PublicKey {
        match self {
            PrivateKey::P256(k) => PublicKey::P256(k.public_key().into()),
            PrivateKey::P384(k) => PublicKey::P384(k.public_key().into()),
            PrivateKey::P521(k) => PublicKey::P521(
                p521::ecdsa::VerifyingKey::from_affine(*k.public_key().as_affine())
                    .expect("a secret key's public point is valid"),
            ),
            PrivateKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
            PrivateKey::Rsa(k) => PublicKey::Rsa(k.to_public_key()),
        }
    }

    /// Signs a blob the way cosign does without a transparency log: ECDSA
    /// with the curve's hash (P-256/SHA-256, P-384/SHA-384, P-521/SHA-512,
    /// ASN.1 DER), RSA PKCS#1 v1.5 with SHA-256, pure Ed25519.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        use signature::{SignatureEncoding, Signer};
        Ok(match self {
            PrivateKey::P256(k) => {
                let sig: p256::ecdsa::Signature =
                    p256::ecdsa::SigningKey::from(k.clone()).sign(msg);
                sig.to_der().as_bytes().to_vec()
            }
            PrivateKey::P384(k) => {
                let sig: p384::ecdsa::Signature =
                    p384::ecdsa::SigningKey::from(k.clone()).sign(msg);
                sig.to_der().as_bytes().to_vec()
            }
            PrivateKey::P521(k) => {
                let sk = p521::ecdsa::SigningKey::from_bytes(&k.to_bytes()).map_err(bad)?;
                let sig: p521::ecdsa::Signature = sk.sign(msg);
                sig.to_der().as_bytes().to_vec()
            }
            PrivateKey::Ed25519(k) => k.sign(msg).to_bytes().to_vec(),
            PrivateKey::Rsa(k) => rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**k).clone())
                .sign(msg)
                .to_vec(),
        })
    }

    pub fn generate_p256() -> Self {
        PrivateKey::P256(p256::SecretKey::random(&mut rand_core::OsRng))
    }
}

/// A key `sign-blob`/`attest-blob` sign with: a cosign key file (decrypted
/// in memory), or a key that stays in a PKCS#11 token (`pkcs11:` URI;
/// ECDSA P-256 with SHA-256, which the token signs as `CKM_ECDSA`).
pub enum SigningKey {
    Local(Box<PrivateKey>),
    Pkcs11(Box<sigstack_pkcs11::Pkcs11Signer>),
}

impl SigningKey {
    pub fn public_key(&self) -> PublicKey {
        match self {
            SigningKey::Local(k) => k.public_key(),
            SigningKey::Pkcs11(k) => k.public_key().clone(),
        }
    }

    /// Signs `msg` as [`PrivateKey::sign`] does (the token computes the
    /// same ECDSA P-256/SHA-256 signature).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        match self {
            SigningKey::Local(k) => k.sign(msg),
            SigningKey::Pkcs11(k) => k.sign_der(msg).map_err(bad),
        }
    }
}

/// Opens a `pkcs11:` key reference the way Go cosign reads one: the PIN from
/// the URI's `pin-value` or `COSIGN_PKCS11_PIN`, the module from the URI's
/// `module-path` or `COSIGN_PKCS11_MODULE_PATH`.
pub fn open_pkcs11(uri: &str) -> Result<SigningKey, KeyError> {
    let mut uri = uri.to_owned();
    if !uri.contains("module-path=") {
        if let Ok(m) = std::env::var("COSIGN_PKCS11_MODULE_PATH") {
            uri.push(if uri.contains('?') { '&' } else { '?' });
            uri.push_str("module-path=");
            uri.push_str(&m);
        }
    }
    let parsed = sigstack_pkcs11::Pkcs11Uri::parse(&uri).map_err(bad)?;
    let config = parsed.config("COSIGN_PKCS11_PIN").map_err(bad)?;
    let signer = sigstack_pkcs11::Pkcs11Signer::open(&config, &parsed.object).map_err(bad)?;
    Ok(SigningKey::Pkcs11(Box::new(signer)))
}
