//! The log key: SCT signatures and signed tree heads (RFC 6962 §3.2, §3.5).
//!
//! The engine stores one opaque checkpoint per batch; for this log it is the
//! STH's timestamp and signature ([`encode_sth`]), so `get-sth` serves the
//! head exactly as it was signed, and a restart with another key fails the
//! engine's check of the stored head.

use std::sync::Arc;

use sigstack_core::ct::{self, HASH_SHA256, SIG_ECDSA};
use sigstack_core::keys::{HashAlgorithm, PublicKey};
use sigstack_core::merkle::Hash;
use sigstack_tlog::CheckpointSigner;

pub use sigstack_tlog::KeyError as SignerError;
/// The CT log key: the shared log key ([`sigstack_tlog::LogKey`], whose log
/// ID is the RFC 6962 one).
pub use sigstack_tlog::LogKey as CtKey;

/// The signed SCT for data already laid out by [`ct::sct_signed_data`].
pub fn sct(key: &CtKey, timestamp_ms: u64, signed_data: &[u8]) -> ct::Sct {
    ct::Sct {
        log_id: *key.log_id(),
        timestamp_ms,
        extensions: Vec::new(),
        hash_algorithm: HASH_SHA256,
        signature_algorithm: SIG_ECDSA,
        signature: key.sign(signed_data),
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
            .is_some_and(|(ts, ds)| verify_sth(self.key.public_key(), ts, size, root, ds))
    }
}
