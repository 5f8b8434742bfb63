//! The log key: SCT signatures and signed tree heads (RFC 6962 §3.2, §3.5).
//!
//! The engine stores one opaque checkpoint per batch; for this log it is the
//! STH's timestamp and signature ([`encode_sth`]), so `get-sth` serves the
//! head exactly as it was signed, and a restart with another key fails the
//! engine's check of the stored head.

use std::path::Path;
use std::sync::Arc;

use sigstack_core::ct::{self, HASH_SHA256, SIG_ECDSA};
use sigstack_core::keys::{HashAlgorithm, PublicKey, SigningKey};
use sigstack_core::merkle::Hash;
use sigstack_tlog::CheckpointSigner;

#[derive(Debug, thiserror::Error)]
pub enum SignerError {
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
    #[error("the CT log key must be ECDSA P-256 (sigstore-python accepts only SHA-256 SCTs, and every client verifies ECDSA)")]
    WrongKeyType,
}

/// The log's ECDSA P-256 key and its RFC 6962 log ID.
pub struct CtKey {
    key: SigningKey,
    public: PublicKey,
    spki_der: Vec<u8>,
    log_id: [u8; 32],
}

impl std::fmt::Debug for CtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CtKey(log_id={})", hex::encode(self.log_id))
    }
}

impl CtKey {
    pub fn new(key: SigningKey) -> Result<Self, SignerError> {
        if !matches!(key, SigningKey::P256(_)) {
            return Err(SignerError::WrongKeyType);
        }
        let public = key.public_key();
        let spki_der = public.to_spki_der();
        let log_id = ct::log_id(&spki_der);
        Ok(CtKey {
            key,
            public,
            spki_der,
            log_id,
        })
    }

    /// Loads a PEM key file; `passphrase` decrypts an `ENCRYPTED PRIVATE KEY`.
    pub fn from_file(path: &Path, passphrase: Option<&[u8]>) -> Result<Self, SignerError> {
        let text = std::fs::read(path).map_err(|source| SignerError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let key = SigningKey::from_pem(&text, passphrase).map_err(|source| SignerError::Key {
            path: path.display().to_string(),
            source,
        })?;
        Self::new(key)
    }

    pub fn log_id(&self) -> &[u8; 32] {
        &self.log_id
    }

    pub fn log_id_hex(&self) -> String {
        hex::encode(self.log_id)
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    pub fn public_key_pem(&self) -> String {
        self.public.to_pem()
    }

    /// ECDSA-SHA256 (DER) over `data`, as the `signature` of a DigitallySigned.
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        self.key.sign(data)
    }

    /// The signed SCT for data already laid out by [`ct::sct_signed_data`].
    pub fn sct(&self, timestamp_ms: u64, signed_data: &[u8]) -> ct::Sct {
        ct::Sct {
            log_id: self.log_id,
            timestamp_ms,
            extensions: Vec::new(),
            hash_algorithm: HASH_SHA256,
            signature_algorithm: SIG_ECDSA,
            signature: self.sign(signed_data),
        }
    }
}

/// Stored checkpoint: `timestamp_ms (u64 BE) || DigitallySigned`.
pub fn encode_sth(timestamp_ms: u64, digitally_signed: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + digitally_signed.len());
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    out.extend_from_slice(digitally_signed);
    out
}

/// Splits a stored checkpoint into (timestamp, DigitallySigned bytes).
pub fn decode_sth(checkpoint: &[u8]) -> Option<(u64, &[u8])> {
    if checkpoint.len() < 8 {
        return None;
    }
    let (ts, ds) = checkpoint.split_at(8);
    let mut b = [0u8; 8];
    b.copy_from_slice(ts);
    Some((u64::from_be_bytes(b), ds))
}

/// Verifies an STH signature (DigitallySigned bytes) with `key`.
pub fn verify_sth(
    key: &PublicKey,
    timestamp_ms: u64,
    tree_size: u64,
    root: &Hash,
    digitally_signed: &[u8],
) -> bool {
    let Ok((hash, sig_alg, sig)) = ct::parse_digitally_signed(digitally_signed) else {
        return false;
    };
    hash == HASH_SHA256
        && sig_alg == SIG_ECDSA
        && key
            .verify_message_with(
                HashAlgorithm::Sha256,
                &ct::sth_signed_data(timestamp_ms, tree_size, root),
                &sig,
            )
            .is_ok()
}

/// The engine's checkpoint signer for this log: RFC 6962 STHs.
pub struct SthSigner {
    key: Arc<CtKey>,
}

impl SthSigner {
    pub fn new(key: Arc<CtKey>) -> Self {
        SthSigner { key }
    }
}

impl CheckpointSigner for SthSigner {
    fn sign(&self, size: u64, root: &Hash, timestamp_ms: u64) -> Result<Vec<u8>, String> {
        let sig = self
            .key
            .sign(&ct::sth_signed_data(timestamp_ms, size, root));
        Ok(encode_sth(
            timestamp_ms,
            &ct::digitally_signed(HASH_SHA256, SIG_ECDSA, &sig),
        ))
    }

    fn verify(&self, checkpoint: &[u8], size: u64, root: &Hash) -> bool {
        decode_sth(checkpoint)
            .is_some_and(|(ts, ds)| verify_sth(&self.key.public, ts, size, root, ds))
    }
}
