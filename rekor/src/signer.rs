//! The log's key: Rekor v1 checkpoints (signed notes) and signed entry timestamps.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;
use sigstack_core::jcs;
use sigstack_core::merkle::Hash;
use sigstack_core::note::{Checkpoint, SignedNote};
use sigstack_tlog::CheckpointSigner;

#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error(transparent)]
    Key(#[from] sigstack_tlog::KeyError),
    #[error("{0}")]
    Other(String),
}

pub use sigstack_tlog::LogKey;

/// Signed entry timestamp: ECDSA over the JCS of
/// `{body, integratedTime, logID, logIndex}` (upstream `signEntry`).
pub fn sign_set(
    key: &LogKey,
    body: &[u8],
    integrated_time: i64,
    log_index: u64,
) -> Result<Vec<u8>, SignerError> {
    let payload = set_payload(body, integrated_time, &key.log_id_hex(), log_index)?;
    Ok(key.sign(&payload))
}

/// Signs each entry's SET once, when the sequencer assigns its index and
/// time; the SET is stored with the entry and served on every read.
pub struct SetSealer(pub std::sync::Arc<LogKey>);

impl sigstack_tlog::EntrySealer for SetSealer {
    fn seal(&self, index: u64, integrated_time_ms: u64, data: &[u8]) -> Result<Vec<u8>, String> {
        sign_set(&self.0, data, (integrated_time_ms / 1000) as i64, index)
            .map_err(|e| e.to_string())
    }
}

/// The bytes a SET signs: JCS of `{body, integratedTime, logID, logIndex}`.
pub fn set_payload(
    body: &[u8],
    integrated_time: i64,
    log_id_hex: &str,
    log_index: u64,
) -> Result<Vec<u8>, SignerError> {
    let payload = json!({
        "body": STANDARD.encode(body),
        "integratedTime": integrated_time,
        "logID": log_id_hex,
        "logIndex": log_index,
    });
    jcs::canonicalize(&payload).map_err(|e| SignerError::Other(e.to_string()))
}

/// Makes Rekor v1 checkpoints: origin `"<hostname> - <treeID>"`, one
/// signature line named `<hostname>`, key hint = SHA-256(SPKI)[..4].
pub struct V1Checkpointer {
    key: std::sync::Arc<LogKey>,
    hostname: String,
    origin: String,
}

impl V1Checkpointer {
    pub fn new(key: std::sync::Arc<LogKey>, hostname: &str, tree_id: i64) -> Self {
        V1Checkpointer {
            key,
            hostname: hostname.to_string(),
            origin: format!("{hostname} - {tree_id}"),
        }
    }

    fn hint(&self) -> [u8; 4] {
        let mut h = [0u8; 4];
        h.copy_from_slice(&self.key.log_id()[..4]);
        h
    }
}

impl CheckpointSigner for V1Checkpointer {
    fn sign(&self, size: u64, root: &Hash, _timestamp_ms: u64) -> Result<Vec<u8>, String> {
        let body = Checkpoint {
            origin: self.origin.clone(),
            size,
            root_hash: *root,
            extensions: Vec::new(),
        }
        .to_body();
        let note = SignedNote::sign(body, &self.hostname, self.hint(), |m| self.key.sign(m));
        Ok(note.to_text().into_bytes())
    }

    /// Accepts a checkpoint for (size, root) carrying a valid signature by
    /// this key, whatever the hostname it was made under: the key, not the
    /// name, is what pins the log's history.
    fn verify(&self, checkpoint: &[u8], size: u64, root: &Hash) -> bool {
        let Ok(text) = std::str::from_utf8(checkpoint) else {
            return false;
        };
        let Ok(note) = SignedNote::parse(text) else {
            return false;
        };
        let Ok(cp) = Checkpoint::from_body(&note.body) else {
            return false;
        };
        if cp.size != size || cp.root_hash != *root {
            return false;
        }
        let hint = self.hint();
        note.signatures.iter().any(|s| {
            s.key_hint == hint
                && self
                    .key
                    .public_key()
                    .verify_message(note.body.as_bytes(), &s.signature)
                    .is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::Value;
    use sigstack_core::keys::{sha256_key_id, PublicKey, SigningKey};

    /// rekor.sigstore.dev's public key (from the production trusted root).
    const PROD_REKOR_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y+2tabdTV5BcGiBIx0a9fAFwrkBbmLSGtks4L3qX6yYY0zufBnhC8Ur/iy55GhWP/9A/bY2LhC30M9+RYtw==";

    #[test]
    fn real_production_sets_verify_with_our_payload() {
        let key = PublicKey::from_spki_der(&STANDARD.decode(PROD_REKOR_KEY).unwrap()).unwrap();
        let log_id = hex::encode(sha256_key_id(&key.to_spki_der()));
        assert!(log_id.starts_with("c0d23d6a"));
        let all: Value =
            serde_json::from_str(include_str!("../tests/data/sigstore-js-bundles.json")).unwrap();
        let mut checked = 0;
        for b in all["bundles"].as_array().unwrap() {
            let e = &b["bundle"]["verificationMaterial"]["tlogEntries"][0];
            let body = STANDARD
                .decode(e["canonicalizedBody"].as_str().unwrap())
                .unwrap();
            let t: i64 = e["integratedTime"].as_str().unwrap().parse().unwrap();
            let idx: u64 = e["logIndex"].as_str().unwrap().parse().unwrap();
            let set = STANDARD
                .decode(
                    e["inclusionPromise"]["signedEntryTimestamp"]
                        .as_str()
                        .unwrap(),
                )
                .unwrap();
            let payload = set_payload(&body, t, &log_id, idx).unwrap();
            key.verify_message(&payload, &set).unwrap();
            // Any change to a signed field breaks it.
            let wrong = set_payload(&body, t + 1, &log_id, idx).unwrap();
            assert!(key.verify_message(&wrong, &set).is_err());
            checked += 1;
        }
        assert!(checked >= 5);
    }

    #[test]
    fn checkpoints_sign_and_verify_and_pin_the_key() {
        let key = std::sync::Arc::new(LogKey::new(SigningKey::generate_p256()).unwrap());
        let cp = V1Checkpointer::new(key.clone(), "rekor.example", 42);
        let root = [7u8; 32];
        let text = cp.sign(10, &root, 0).unwrap();
        let s = String::from_utf8(text.clone()).unwrap();
        assert!(s.starts_with("rekor.example - 42\n10\n"));
        assert!(s.contains("\n\n\u{2014} rekor.example "));
        assert!(cp.verify(&text, 10, &root));
        assert!(!cp.verify(&text, 11, &root));
        assert!(!cp.verify(&text, 10, &[8u8; 32]));
        let other = V1Checkpointer::new(
            std::sync::Arc::new(LogKey::new(SigningKey::generate_p256()).unwrap()),
            "rekor.example",
            42,
        );
        assert!(!other.verify(&text, 10, &root));
        // A renamed host still accepts the old checkpoint: the key pins history.
        let renamed = V1Checkpointer::new(key, "rekor2.example", 42);
        assert!(renamed.verify(&text, 10, &root));
        assert!(LogKey::new(SigningKey::generate_ed25519()).is_err());
    }
}
