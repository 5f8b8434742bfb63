//! The log's signing key (ECDSA P-256), shared by the Rekor log and the CT
//! log: loading, the log ID (SHA-256 of the SPKI DER, which is both Rekor's
//! v1 log ID and the RFC 6962 log ID), and first-start key generation.

use std::path::Path;

use sigstack_core::keys::{sha256_key_id, PublicKey, SigningKey};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read signing key {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("signing key {path}: {source}")]
    Key {
        path: String,
        source: sigstack_core::keys::KeyError,
    },
    #[error("the log key must be ECDSA P-256 (Rekor v1 SETs and SHA-256 SCTs are what every client verifies)")]
    WrongKeyType,
    #[error("cannot write signing key {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// An ECDSA P-256 log key and the identifiers derived from it.
pub struct LogKey {
    key: SigningKey,
    public: PublicKey,
    spki_der: Vec<u8>,
    log_id: [u8; 32],
}

impl std::fmt::Debug for LogKey {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LogKey(log_id={})", hex::encode(self.log_id))
    }
}

impl LogKey {
    pub fn new(key: SigningKey) -> Result<Self, KeyError> {
        if !matches!(key, SigningKey::P256(_)) {
            return Err(KeyError::WrongKeyType);
        }
        let public = key.public_key();
        let spki_der = public.to_spki_der();
        let log_id = sha256_key_id(&spki_der);
        Ok(LogKey {
            key,
            public,
            spki_der,
            log_id,
        })
    }

    /// Loads a PEM key file; `passphrase` decrypts an `ENCRYPTED PRIVATE KEY`.
    pub fn from_file(path: &Path, passphrase: Option<&[u8]>) -> Result<Self, KeyError> {
        let text = std::fs::read(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let key = SigningKey::from_pem(&text, passphrase).map_err(|source| KeyError::Key {
            path: path.display().to_string(),
            source,
        })?;
        Self::new(key)
    }

    /// SHA-256 of the SPKI DER.
    pub fn log_id(&self) -> &[u8; 32] {
        &self.log_id
    }

    pub fn log_id_hex(&self) -> String {
        hex::encode(self.log_id)
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    pub fn public_key_pem(&self) -> String {
        self.public.to_pem()
    }

    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// ECDSA-SHA256 over `data`, ASN.1 DER.
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        self.key.sign(data)
    }
}

/// Writes a fresh P-256 PKCS#8 key to `path`, readable by the owner only
/// (refuses to overwrite an existing file).
pub fn write_new_key(path: &Path) -> Result<(), KeyError> {
    let pem = SigningKey::generate_p256()
        .to_pkcs8_pem(None)
        .map_err(|source| KeyError::Key {
            path: path.display().to_string(),
            source,
        })?;
    sigstack_http::write_private_file(path, pem.as_bytes()).map_err(|source| KeyError::Write {
        path: path.display().to_string(),
        source,
    })
}
