//! The Rekor v2 log (rekor-tiles API): a second Merkle log in the same
//! process, with its own store, origin and key, written through
//! `POST /api/v2/log/entries` and read as C2SP tlog-tiles
//! (`/checkpoint`, `/tile/<L>/<N>[.p/<W>]`, `/tile/entries/<N>[.p/<W>]`).
//!
//! State ownership: the engine owns the tree; this layer owns the identity
//! (origin and key, pinned in the store on first start: a later start with
//! another key or origin is refused, since either would fork what clients
//! trust). Tiles are not files: each is read from the stored nodes of its
//! level (tile level L holds tree level 8L), so tiles and checkpoint always
//! come from the same committed state and agree by construction.
//!
//! A write returns when the entry's batch is durable and its checkpoint is
//! published, with an inclusion proof against that checkpoint: the
//! "time-to-checkpoint" is one batch commit, not rekor-tiles' 2–10 s
//! checkpoint interval.

use std::path::PathBuf;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use sigstack_core::keys::{PublicKey, SigningKey};
use sigstack_core::merkle::{hash_leaf, Hash};
use sigstack_core::note::{self, Checkpoint, SignedNote};
use sigstack_core::rekor_v2::{self, CreateRequest, EntryError, Verifier};
use sigstack_tlog::{
    Append, AppendResult, CheckpointSigner, Head, Log, LogError, LogOptions, Store,
};

use crate::service::ServiceError;

/// rekor-tiles' entry size limit (entry bundles carry a u16 length).
pub const MAX_ENTRY_BYTES: usize = 65535;

/// The v2 log's checkpoint key and origin.
pub struct TilesKey {
    key: SigningKey,
    origin: String,
    /// The log ID clients find in the trusted root: the C2SP key ID of the
    /// checkpoint key under the origin (Ed25519), or SHA-256 of the SPKI
    /// (ECDSA), as rekor-tiles and sigstore-go compute it.
    key_id: [u8; 32],
}

impl TilesKey {
    pub fn new(key: SigningKey, origin: &str) -> Result<Self, ServiceError> {
        if origin.is_empty()
            || origin.contains(char::is_whitespace)
            || origin.contains('+')
            || origin.contains('/')
        {
            return Err(ServiceError::Config(format!(
                "v2 origin {origin:?} must be a bare host name (no scheme, port, path, spaces or '+')"
            )));
        }
        let key_id = match key.public_key() {
            PublicKey::Ed25519(k) => note::c2sp_ed25519_key_id(origin, k.as_bytes()),
            PublicKey::P256(_) => note::c2sp_ecdsa_key_id(&key.public_key().to_spki_der()),
            other => {
                return Err(ServiceError::Config(format!(
                    "the v2 log key must be Ed25519 or ECDSA P-256, not {}",
                    other.algorithm_name()
                )))
            }
        };
        Ok(TilesKey {
            key,
            origin: origin.to_owned(),
            key_id,
        })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn log_id(&self) -> &[u8; 32] {
        &self.key_id
    }

    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    fn hint(&self) -> [u8; 4] {
        note::key_hint(&self.key_id)
    }
}

/// C2SP checkpoints: `<origin>\n<size>\n<b64 root>\n`, signed under the
/// origin as key name. No Rekor v1 ` - <tree ID>` suffix (clients refuse it
/// for a v2 log).
struct TilesCheckpointer(Arc<TilesKey>);

impl CheckpointSigner for TilesCheckpointer {
    fn sign(&self, size: u64, root: &Hash, _timestamp_ms: u64) -> Result<Vec<u8>, String> {
        let k = &self.0;
        let body = Checkpoint {
            origin: k.origin.clone(),
            size,
            root_hash: *root,
            extensions: Vec::new(),
        }
        .to_body();
        let note = SignedNote::sign(body, &k.origin, k.hint(), |m| k.key.sign(m));
        Ok(note.to_text().into_bytes())
    }

    fn verify(&self, checkpoint: &[u8], size: u64, root: &Hash) -> bool {
        let k = &self.0;
        let Some(note) = std::str::from_utf8(checkpoint)
            .ok()
            .and_then(|t| SignedNote::parse(t).ok())
        else {
            return false;
        };
        let Ok(cp) = Checkpoint::from_body(&note.body) else {
            return false;
        };
        if cp.size != size || cp.root_hash != *root || cp.origin != k.origin {
            return false;
        }
        let public = k.key.public_key();
        note.signatures.iter().any(|s| {
            s.key_hint == k.hint()
                && public
                    .verify_message(note.body.as_bytes(), &s.signature)
                    .is_ok()
        })
    }
}

/// Why a v2 write did not produce an entry, with its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Invalid(#[from] EntryError),
    #[error("entry of {0} bytes is over the {MAX_ENTRY_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("an equivalent entry already exists in the transparency log with index {0}")]
    Duplicate(u64),
    #[error("reached max pushback; retry")]
    Busy,
    #[error("failed to integrate entry")]
    Internal(String),
}

pub struct TilesLog {
    log: Log,
    key: Arc<TilesKey>,
    path_prefix: String,
}

/// Where and how to open the v2 log.
pub struct TilesOptions {
    pub data_dir: PathBuf,
    pub key: TilesKey,
    /// Where the routes are mounted ("" = at the root, "/v2" = under it).
    pub path_prefix: String,
    pub log: LogOptions,
    pub block_cache_bytes: usize,
}

impl TilesLog {
    pub fn open(opts: TilesOptions) -> Result<Self, ServiceError> {
        let store = crate::service::open_store(&opts.data_dir, opts.block_cache_bytes)?;
        let key = Arc::new(opts.key);
        pin(store.as_ref(), "origin", key.origin.as_bytes(), "origin")?;
        pin(
            store.as_ref(),
            "log_id",
            hex::encode(key.key_id).as_bytes(),
            "log key",
        )?;
        let log = Log::open(store, Arc::new(TilesCheckpointer(key.clone())), opts.log)?;
        Ok(TilesLog {
            log,
            key,
            path_prefix: opts.path_prefix,
        })
    }

    pub fn path_prefix(&self) -> &str {
        &self.path_prefix
    }

    pub fn key(&self) -> &TilesKey {
        &self.key
    }

    pub fn head(&self) -> Arc<Head> {
        self.log.head()
    }

    pub fn engine(&self) -> &Log {
        &self.log
    }

    /// `POST /api/v2/log/entries`: validates, logs, and returns the
    /// `TransparencyLogEntry` (proto3 JSON, every field present, int64 as
    /// strings) with an inclusion proof against the checkpoint that first
    /// covers the entry.
    pub async fn create(&self, body: &[u8]) -> Result<Value, WriteError> {
        let (kind, leaf, search_keys) = match rekor_v2::parse_create_request(body)? {
            CreateRequest::HashedRekord(req) => (
                "hashedrekord",
                rekor_v2::hashedrekord_body(&req)
                    .map_err(|e| EntryError::HashedRekord(e.to_string()))?,
                hashedrekord_search_keys(&req),
            ),
            CreateRequest::Dsse(req) => (
                "dsse",
                rekor_v2::dsse_body(&req).map_err(EntryError::Dsse)?,
                dsse_search_keys(&req),
            ),
        };
        if leaf.len() > MAX_ENTRY_BYTES {
            return Err(WriteError::TooLarge(leaf.len()));
        }
        let leaf_hash = hash_leaf(&leaf);
        let appended = self
            .log
            .append(Append {
                data: leaf.clone(),
                leaf_hash,
                search_keys,
            })
            .await
            .map_err(|e| match e {
                LogError::Busy => WriteError::Busy,
                other => WriteError::Internal(other.to_string()),
            })?;
        let (index, head) = match appended {
            AppendResult::Added { index, head, .. } => (index, head),
            AppendResult::Duplicate { index } => return Err(WriteError::Duplicate(index)),
        };
        let proof = self
            .log
            .inclusion_proof(index, head.size)
            .map_err(|e| WriteError::Internal(e.to_string()))?;
        Ok(self.entry_json(kind, index, &leaf, &head, &proof))
    }

    fn entry_json(
        &self,
        kind: &str,
        index: u64,
        leaf: &[u8],
        head: &Head,
        proof: &[Hash],
    ) -> Value {
        json!({
            "logIndex": index.to_string(),
            "logId": {"keyId": STANDARD.encode(self.key.key_id)},
            "kindVersion": {"kind": kind, "version": "0.0.2"},
            "integratedTime": "0",
            "inclusionPromise": null,
            "inclusionProof": {
                "logIndex": index.to_string(),
                "rootHash": STANDARD.encode(head.root),
                "treeSize": head.size.to_string(),
                "hashes": proof.iter().map(|h| STANDARD.encode(h)).collect::<Vec<_>>(),
                "checkpoint": {"envelope": String::from_utf8_lossy(&head.checkpoint)},
            },
            "canonicalizedBody": STANDARD.encode(leaf),
        })
    }

    /// A hash tile: `width` (1..=256) hashes of tree level `8 * level`,
    /// starting at `256 * index`. `None` if the tree does not have them yet.
    pub fn tile(&self, level: u8, index: u64, width: u16) -> Result<Option<Vec<u8>>, String> {
        let tree_level = u32::from(level) * 8;
        if tree_level >= 64 || width == 0 || width > 256 {
            return Ok(None);
        }
        let size = self.log.head().size;
        let available = size >> tree_level;
        let Some(start) = index.checked_mul(256) else {
            return Ok(None);
        };
        let Some(end) = start.checked_add(u64::from(width)) else {
            return Ok(None);
        };
        if end > available {
            return Ok(None);
        }
        let hashes = self
            .log
            .store()
            .node_run(tree_level as u8, start, u64::from(width))
            .map_err(|e| e.to_string())?;
        Ok(Some(hashes.concat()))
    }

    /// An entry bundle: entries `256 * index ..` (`width` of them), each as
    /// `u16 big-endian length || canonical body`.
    pub fn entry_bundle(&self, index: u64, width: u16) -> Result<Option<Vec<u8>>, String> {
        if width == 0 || width > 256 {
            return Ok(None);
        }
        let size = self.log.head().size;
        let Some(start) = index.checked_mul(256) else {
            return Ok(None);
        };
        if start.saturating_add(u64::from(width)) > size {
            return Ok(None);
        }
        let mut out = Vec::new();
        for i in start..start + u64::from(width) {
            let e = self
                .log
                .entry(i)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("entry {i} below the tree size is missing"))?;
            let n = u16::try_from(e.data.len()).map_err(|_| format!("entry {i} is too large"))?;
            out.extend_from_slice(&n.to_be_bytes());
            out.extend_from_slice(&e.data);
        }
        Ok(Some(out))
    }
}

/// The v1 search index's keys for a v2 entry: the artifact (or payload)
/// digest, each verifier's PEM hash, and certificates' identities.
fn hashedrekord_search_keys(req: &rekor_v2::HashedRekordRequest) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    let alg = req
        .signature
        .verifier
        .public_key()
        .ok()
        .and_then(|k| rekor_v2::hash_for(&k, req.signature.key_details).ok());
    if let Some(a) = alg {
        keys.push(format!("{}:{}", a.rekor_name(), hex::encode(&req.digest)).into_bytes());
    }
    verifier_keys(&req.signature.verifier, &mut keys);
    keys
}

fn dsse_search_keys(req: &rekor_v2::DsseRequest) -> Vec<Vec<u8>> {
    use sha2::Digest;
    let mut keys =
        vec![format!("sha256:{}", hex::encode(sha2::Sha256::digest(&req.payload))).into_bytes()];
    for s in &req.signatures {
        verifier_keys(&s.verifier, &mut keys);
    }
    keys
}

fn verifier_keys(v: &Verifier, keys: &mut Vec<Vec<u8>>) {
    use sha2::Digest;
    let pem = match v {
        Verifier::PublicKey(d) => sigstack_core::pem::encode("PUBLIC KEY", d),
        Verifier::Certificate(d) => sigstack_core::pem::encode("CERTIFICATE", d),
    };
    keys.push(
        format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(pem.as_bytes()))
        )
        .into_bytes(),
    );
    if let Verifier::Certificate(d) = v {
        if let Ok(c) = sigstack_core::keys::parse_certificate_der(d) {
            keys.extend(
                crate::types::subject_alt_names(&c)
                    .into_iter()
                    .map(String::into_bytes),
            );
        }
    }
}

fn pin(store: &dyn Store, name: &str, want: &[u8], what: &str) -> Result<(), ServiceError> {
    match store.get_meta(name)? {
        Some(stored) if stored != want => Err(ServiceError::Config(format!(
            "the v2 data dir was created with {what} {} but {} is configured: refusing to start",
            String::from_utf8_lossy(&stored),
            String::from_utf8_lossy(want)
        ))),
        Some(_) => Ok(()),
        None => Ok(store.put_meta(name, want)?),
    }
}

/// Parses the tile path after `/tile/`: `<L>/<N>[.p/<W>]` or
/// `entries/<N>[.p/<W>]`, with N in C2SP's 3-digit groups (`x001/x234/067`).
/// Only the canonical encoding is accepted. Returns (level or None for
/// entries, index, width).
pub fn parse_tile_path(path: &str) -> Option<(Option<u8>, u64, u16)> {
    let mut parts: Vec<&str> = path.split('/').collect();
    let first = parts.remove(0);
    let level = if first == "entries" {
        None
    } else {
        let l: u8 = first.parse().ok()?;
        if l.to_string() != first || l > 7 {
            return None;
        }
        Some(l)
    };
    let mut width = 256u16;
    if parts.len() >= 2 {
        if let Some(stripped) = parts[parts.len() - 2].strip_suffix(".p") {
            let w = parts[parts.len() - 1];
            let wv: u16 = w.parse().ok()?;
            if wv.to_string() != w || wv == 0 || wv >= 256 {
                return None;
            }
            width = wv;
            let n = parts.len();
            parts[n - 2] = stripped;
            parts.pop();
        }
    }
    let (last, groups) = parts.split_last()?;
    let mut index: u64 = 0;
    for g in groups {
        let d = g.strip_prefix('x')?;
        if d.len() != 3 || !d.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        index = index.checked_mul(1000)?.checked_add(d.parse().ok()?)?;
    }
    if last.len() != 3 || !last.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    index = index.checked_mul(1000)?.checked_add(last.parse().ok()?)?;
    // Canonical: no leading zero groups.
    if groups.first().is_some_and(|g| *g == "x000") {
        return None;
    }
    Some((level, index, width))
}

/// The C2SP path of tile index `n` (the inverse of [`parse_tile_path`]'s
/// index part), for tests and clients.
pub fn tile_index_path(n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths() {
        assert_eq!(tile_index_path(0), "000");
        assert_eq!(tile_index_path(1234067), "x001/x234/067");
        assert_eq!(
            parse_tile_path("0/x001/x234/067"),
            Some((Some(0), 1234067, 256))
        );
        assert_eq!(parse_tile_path("2/005.p/17"), Some((Some(2), 5, 17)));
        assert_eq!(
            parse_tile_path("entries/x001/000.p/255"),
            Some((None, 1000, 255))
        );
        for bad in [
            "0/5",
            "0/0005",
            "00/000",
            "8/000",
            "0/x000/001",
            "0/000.p/0",
            "0/000.p/256",
            "0/000.p/07",
            "0/x01/000",
            "entries",
            "0/000/",
            "a/000",
            "0/001.p",
        ] {
            assert_eq!(parse_tile_path(bad), None, "{bad}");
        }
    }
}
