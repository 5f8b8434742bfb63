//! The Rekor v1 log as plain functions over the Merkle log engine.
//!
//! State ownership: the engine ([`sigstack_tlog::Log`]) owns the tree and its
//! storage; this layer owns the log's identity (key, tree ID, hostname) and
//! turns stored leaves into Rekor `LogEntry` JSON. Identity is pinned in the
//! store on first start (tree ID and log ID), and a later start with another
//! key or tree ID is refused rather than silently forking the log.

use std::path::PathBuf;
use std::sync::Arc;

use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sigstack_core::keys::KeyMaterial;
use sigstack_core::merkle::{hash_leaf, Hash};
use sigstack_tlog::{
    Append, AppendResult, Head, Log, LogError, LogOptions, RocksOptions, RocksStore, Store,
    StoredEntry,
};

use crate::api::ApiError;
use crate::response::{EntryParts, IdentifiedEntry, LogEntry};
use crate::signer::{LogKey, SetSealer, V1Checkpointer};
use crate::types::{self, EntryError, Purpose};
use sigstack_tlog::server::LogMetrics;

/// Everything needed to open the log.
pub struct ServiceOptions {
    pub data_dir: PathBuf,
    pub key: LogKey,
    /// Checkpoint signer name; must be a substring of the log URL that clients
    /// are given (sigstore-js matches it against `baseUrl`).
    pub hostname: String,
    /// Trillian-style tree ID; generated and pinned on first start if unset.
    pub tree_id: Option<i64>,
    pub log: LogOptions,
    pub max_request_bytes: usize,
    pub block_cache_bytes: usize,
    /// The Rekor v2 (tiles) log served next to v1, if enabled.
    pub v2: Option<crate::v2::TilesOptions>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Store(#[from] sigstack_tlog::StoreError),
    #[error("{0}")]
    Config(String),
}

/// Internal failures while reading the log (storage errors).
#[derive(Debug)]
pub enum LookupError {
    Internal(String),
}

impl From<LogError> for LookupError {
    fn from(e: LogError) -> Self {
        LookupError::Internal(e.to_string())
    }
}

const MAX_SEARCH_QUERIES: usize = 10;
const MAX_INDEX_RESULTS: usize = 10_000;

pub struct Service {
    log: Log,
    key: Arc<LogKey>,
    log_id_hex: Arc<str>,
    tree_id: i64,
    hostname: String,
    max_request_bytes: usize,
    metrics: LogMetrics,
    v2: Option<crate::v2::TilesLog>,
}

fn random_tree_id() -> i64 {
    let mut b = [0u8; 8];
    // Tree IDs are positive int64 (Trillian); zero is invalid.
    if getrandom_fill(&mut b).is_err() {
        b = (std::process::id() as u64 ^ 0x5eed).to_be_bytes();
    }
    ((u64::from_be_bytes(b) >> 1) | 1) as i64
}

fn getrandom_fill(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

impl Service {
    pub fn open(opts: ServiceOptions) -> Result<Self, ServiceError> {
        let store = open_store(&opts.data_dir, opts.block_cache_bytes)?;
        let key = Arc::new(opts.key);
        let tree_id = pin_identity(store.as_ref(), &key, opts.tree_id)?;
        let signer = Arc::new(V1Checkpointer::new(key.clone(), &opts.hostname, tree_id));
        let sealer = Arc::new(SetSealer(key.clone()));
        let log = Log::open_sealed(store, signer, Some(sealer), opts.log)?;
        let v2 = opts.v2.map(crate::v2::TilesLog::open).transpose()?;
        let metrics = LogMetrics::new(
            "rekor",
            "entries",
            "Proposed entries by kind and outcome (added, duplicate, invalid, ...)",
        );
        Ok(Service {
            log,
            log_id_hex: key.log_id_hex().into(),
            key,
            tree_id,
            hostname: opts.hostname,
            max_request_bytes: opts.max_request_bytes,
            metrics,
            v2,
        })
    }

    pub fn head(&self) -> Arc<Head> {
        self.log.head()
    }

    pub fn metrics(&self) -> &LogMetrics {
        &self.metrics
    }

    pub fn render_metrics(&self) -> String {
        self.metrics.render(&self.log)
    }

    /// The v2 log, when this server runs one.
    pub fn v2(&self) -> Option<&crate::v2::TilesLog> {
        self.v2.as_ref()
    }

    pub fn max_request_bytes(&self) -> usize {
        self.max_request_bytes
    }

    pub fn tree_id(&self) -> i64 {
        self.tree_id
    }

    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    pub fn log_id_hex(&self) -> String {
        self.key.log_id_hex()
    }

    pub fn public_key_pem(&self) -> String {
        self.key.public_key_pem()
    }

    fn entry_id(&self, leaf: &Hash) -> String {
        format!("{:016x}{}", self.tree_id, hex::encode(leaf))
    }

    /// Validates, canonicalizes and appends a proposed entry.
    pub async fn create(&self, proposed: &Value) -> Result<IdentifiedEntry, ApiError> {
        let kind = proposed
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string();
        let canonical = match types::canonicalize(proposed, Purpose::Insert) {
            Ok(c) => c,
            Err(e) => {
                self.metrics.outcome(&kind, "invalid");
                return Err(entry_error(e));
            }
        };
        let leaf = hash_leaf(&canonical.body);
        let search_keys = canonical
            .index_keys
            .iter()
            .filter(|k| !k.is_empty() && !k.contains('\0'))
            .map(|k| k.to_lowercase().into_bytes())
            .collect();
        let kind_name = canonical.kind;
        // Kept for the response; the engine takes ownership of its own copy.
        let canonical_body = canonical.body.clone();
        let result = self
            .log
            .append(Append {
                data: canonical.body,
                leaf_hash: leaf,
                search_keys,
            })
            .await;
        match result {
            Ok(AppendResult::Added {
                index,
                integrated_time_ms,
                seal,
                head,
            }) => {
                self.metrics.outcome(kind_name, "added");
                let stored = StoredEntry {
                    data: canonical_body,
                    integrated_time_ms,
                    seal,
                };
                let proof = self
                    .log
                    .inclusion_proof(index, head.size)
                    .map_err(LookupError::from)?;
                let entry = self.log_entry(index, &stored, &head, proof)?;
                Ok(IdentifiedEntry {
                    id: self.entry_id(&leaf),
                    entry,
                })
            }
            Ok(AppendResult::Duplicate { .. }) => {
                self.metrics.outcome(kind_name, "duplicate");
                let id = self.entry_id(&leaf);
                Err(ApiError {
                    status: StatusCode::CONFLICT,
                    message: format!(
                        "an equivalent entry already exists in the transparency log with UUID {id}"
                    ),
                    location: Some(format!("/api/v1/log/entries/{id}")),
                })
            }
            Err(LogError::Busy) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the log is overloaded, retry later",
            )),
            Err(e) => {
                tracing::error!(error = %e, "append failed");
                Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "error while adding the entry to the log",
                ))
            }
        }
    }

    /// The `LogEntry` for `entry` with `proof` against `head`. Entries
    /// stored before SETs were sealed at sequencing get one signed now.
    fn log_entry(
        &self,
        index: u64,
        entry: &StoredEntry,
        head: &Head,
        proof: Vec<Hash>,
    ) -> Result<LogEntry, LookupError> {
        let integrated_time = (entry.integrated_time_ms / 1000) as i64;
        let signed_now;
        let set = if entry.seal.is_empty() {
            signed_now = crate::signer::sign_set(&self.key, &entry.data, integrated_time, index)
                .map_err(|e| LookupError::Internal(e.to_string()))?;
            &signed_now
        } else {
            &entry.seal
        };
        Ok(LogEntry::new(EntryParts {
            body: &entry.data,
            integrated_time,
            log_id: self.log_id_hex.clone(),
            log_index: index,
            proof,
            checkpoint: head.checkpoint.clone(),
            root: head.root,
            tree_size: head.size,
            set,
        }))
    }

    pub fn entry_by_index(&self, index: u64) -> Result<Option<IdentifiedEntry>, LookupError> {
        let head = self.log.head();
        if index >= head.size {
            return Ok(None);
        }
        let Some(entry) = self.log.entry(index)? else {
            return Ok(None);
        };
        // The leaf hash (for the entry ID) is the stored level-0 node.
        let (leaf, proof) = self.log.leaf_and_inclusion_proof(index, head.size)?;
        Ok(Some(IdentifiedEntry {
            id: self.entry_id(&leaf),
            entry: self.log_entry(index, &entry, &head, proof)?,
        }))
    }

    pub fn entry_by_leaf(&self, leaf: &Hash) -> Result<Option<IdentifiedEntry>, LookupError> {
        let Some(index) = self.log.find(leaf)? else {
            return Ok(None);
        };
        let head = self.log.head();
        // Found but not yet published: not servable against this head.
        if index >= head.size {
            return Ok(None);
        }
        let Some(entry) = self.log.entry(index)? else {
            return Ok(None);
        };
        let proof = self.log.inclusion_proof(index, head.size)?;
        Ok(Some(IdentifiedEntry {
            id: self.entry_id(leaf),
            entry: self.log_entry(index, &entry, &head, proof)?,
        }))
    }

    /// Parses a 64-hex UUID or 80-hex entry ID. `Ok(None)`: an entry ID of
    /// another tree (a 404, as upstream).
    pub fn parse_entry_id(&self, id: &str) -> Result<Option<Hash>, ApiError> {
        let bad = || {
            ApiError::bad_request(format!(
                "invalid entry UUID {id:?}: expected 64 or 80 hex characters"
            ))
        };
        if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let uuid = match id.len() {
            64 => id,
            80 => {
                let tree = i64::from_str_radix(&id[..16], 16).map_err(|_| bad())?;
                if tree != self.tree_id {
                    return Ok(None);
                }
                &id[16..]
            }
            _ => return Err(bad()),
        };
        let mut leaf = [0u8; 32];
        hex::decode_to_slice(uuid, &mut leaf).map_err(|_| bad())?;
        Ok(Some(leaf))
    }

    /// `POST /api/v1/log/entries/retrieve`.
    pub fn search_log_query(&self, query: &Value) -> Result<Vec<IdentifiedEntry>, ApiError> {
        let obj = query
            .as_object()
            .ok_or_else(|| ApiError::bad_request("search query must be a JSON object"))?;
        let list = |name: &str| -> Result<&[Value], ApiError> {
            match obj.get(name) {
                None | Some(Value::Null) => Ok(&[]),
                Some(Value::Array(a)) => Ok(a.as_slice()),
                Some(_) => Err(ApiError::bad_request(format!("{name} must be an array"))),
            }
        };
        let (uuids, indexes, entries) =
            (list("entryUUIDs")?, list("logIndexes")?, list("entries")?);
        if uuids.len() + indexes.len() + entries.len() > MAX_SEARCH_QUERIES {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("more than max allowed {MAX_SEARCH_QUERIES} entries in request"),
            ));
        }
        let mut out = Vec::new();
        let mut push = |found: Option<IdentifiedEntry>| out.extend(found);
        for u in uuids {
            let s = u.as_str().ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "entryUUIDs must be strings",
                )
            })?;
            let leaf = self.parse_entry_id(s).map_err(|e| ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                ..e
            })?;
            if let Some(leaf) = leaf {
                push(self.entry_by_leaf(&leaf)?);
            }
        }
        for i in indexes {
            let i = i.as_i64().filter(|i| *i >= 0).ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "logIndexes must be non-negative integers",
                )
            })?;
            push(self.entry_by_index(i as u64)?);
        }
        for e in entries {
            match types::canonicalize(e, Purpose::Lookup) {
                Ok(c) => push(self.entry_by_leaf(&hash_leaf(&c.body))?),
                // Kinds we do not implement cannot be in this log: no match
                // (cosign's legacy attestation lookup relies on this).
                Err(EntryError::Unsupported(_)) => {}
                Err(e) => return Err(entry_error(e)),
            }
        }
        Ok(out)
    }

    pub fn log_info(&self) -> Value {
        let head = self.log.head();
        json!({
            "rootHash": hex::encode(head.root),
            "signedTreeHead": String::from_utf8_lossy(&head.checkpoint),
            "treeID": self.tree_id.to_string(),
            "treeSize": head.size,
        })
    }

    pub fn check_tree_id(&self, tree_id: Option<&str>) -> Result<(), ApiError> {
        match tree_id {
            None | Some("") => Ok(()),
            Some(s) => match s.parse::<i64>() {
                Ok(id) if id == self.tree_id => Ok(()),
                Ok(id) => Err(ApiError::bad_request(format!(
                    "tree ID {id} is not served by this log"
                ))),
                Err(_) => Err(ApiError::bad_request(format!(
                    "invalid tree ID specified: {s}"
                ))),
            },
        }
    }

    /// `GET /api/v1/log/proof`: RFC 6962 consistency proof. `rootHash` is the
    /// root at `lastSize` (upstream returns the current root, which is the
    /// same value whenever `lastSize` is the current size, as clients ask).
    pub fn consistency_proof(&self, first: u64, last: u64) -> Result<Value, ApiError> {
        if first > last {
            return Err(ApiError::bad_request(format!(
                "firstSize({first}) must be less than lastSize({last})"
            )));
        }
        let size = self.log.head().size;
        if last > size {
            return Err(ApiError::bad_request(format!(
                "the tree size requested({last}) was greater than what is currently observable({size})"
            )));
        }
        let hashes = if first == last {
            Vec::new()
        } else {
            self.log
                .consistency_proof(first, last)
                .map_err(|e| ApiError::from(LookupError::from(e)))?
        };
        let root = self
            .log
            .root_at(last)
            .map_err(|e| ApiError::from(LookupError::from(e)))?;
        Ok(json!({
            "hashes": hashes.iter().map(hex::encode).collect::<Vec<_>>(),
            "rootHash": hex::encode(root),
        }))
    }

    /// `POST /api/v1/index/retrieve`: entry IDs by artifact hash, key, email
    /// or subject; `operator` "or" (default) or "and".
    pub fn search_index(&self, query: &Value) -> Result<Vec<String>, ApiError> {
        let obj = query
            .as_object()
            .ok_or_else(|| ApiError::bad_request("search query must be a JSON object"))?;
        let get_str = |k: &str| obj.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let operator = get_str("operator").unwrap_or("or");
        if operator != "or" && operator != "and" {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "operator must be \"and\" or \"or\"",
            ));
        }
        let mut keys: Vec<String> = Vec::new();
        if let Some(h) = get_str("hash") {
            keys.push(prefix_sha(h).to_lowercase());
        }
        if let Some(pk) = obj.get("publicKey").filter(|v| !v.is_null()) {
            let format = pk.get("format").and_then(Value::as_str).unwrap_or_default();
            if format != "x509" {
                return Err(ApiError::bad_request(format!(
                    "unsupported PKI format {format:?} (this log supports x509)"
                )));
            }
            let content = pk
                .get("content")
                .and_then(Value::as_str)
                .and_then(|c| STANDARD.decode(c).ok())
                .ok_or_else(|| ApiError::bad_request("publicKey.content must be base64"))?;
            let km = KeyMaterial::from_pem(&content)
                .map_err(|e| ApiError::bad_request(format!("malformed public key: {e}")))?;
            let pem = km
                .to_pem()
                .map_err(|e| ApiError::bad_request(format!("malformed public key: {e}")))?;
            keys.push(hex::encode(Sha256::digest(pem.as_bytes())));
        }
        for k in ["email", "subject"] {
            if let Some(v) = get_str(k) {
                keys.push(v.to_lowercase());
            }
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut sets = Vec::with_capacity(keys.len());
        for k in &keys {
            let found = self
                .log
                .search(k.as_bytes(), MAX_INDEX_RESULTS)
                .map_err(|e| ApiError::from(LookupError::from(e)))?;
            sets.push(found);
        }
        let mut indexes: Vec<u64> = if operator == "and" {
            let mut it = sets.into_iter();
            let first = it.next().unwrap_or_default();
            let rest: Vec<std::collections::HashSet<u64>> =
                it.map(|s| s.into_iter().collect()).collect();
            first
                .into_iter()
                .filter(|i| rest.iter().all(|s| s.contains(i)))
                .collect()
        } else {
            sets.into_iter().flatten().collect()
        };
        indexes.sort_unstable();
        indexes.dedup();
        let mut ids = Vec::with_capacity(indexes.len());
        for i in indexes {
            if let Some(e) = self
                .log
                .entry(i)
                .map_err(|e| ApiError::from(LookupError::from(e)))?
            {
                ids.push(self.entry_id(&hash_leaf(&e.data)));
            }
        }
        Ok(ids)
    }
}

/// Upstream `util.PrefixSHA`: bare hex digests get an algorithm by length.
fn prefix_sha(h: &str) -> String {
    if h.contains(':') {
        return h.to_string();
    }
    let alg = match h.len() {
        40 => "sha1",
        96 => "sha384",
        128 => "sha512",
        _ => "sha256",
    };
    format!("{alg}:{h}")
}

fn entry_error(e: EntryError) -> ApiError {
    ApiError::bad_request(format!("error processing entry: {e}"))
}

/// Pins tree ID and log ID in the store on first start; refuses a mismatch later.
/// Creates `dir` if needed and opens the RocksDB store in it (a second
/// process on the same directory is refused by RocksDB's lock).
pub(crate) fn open_store(
    dir: &std::path::Path,
    block_cache_bytes: usize,
) -> Result<Arc<RocksStore>, ServiceError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        ServiceError::Config(format!("cannot create data dir {}: {e}", dir.display()))
    })?;
    Ok(Arc::new(RocksStore::open(
        dir,
        &RocksOptions { block_cache_bytes },
    )?))
}

fn pin_identity(
    store: &dyn Store,
    key: &LogKey,
    configured: Option<i64>,
) -> Result<i64, ServiceError> {
    let stored_tree = store
        .get_meta("tree_id")?
        .map(|v| {
            String::from_utf8_lossy(&v)
                .parse::<i64>()
                .map_err(|_| ServiceError::Config("stored tree ID is corrupt".into()))
        })
        .transpose()?;
    let tree_id = match (stored_tree, configured) {
        (Some(s), Some(c)) if s != c => {
            return Err(ServiceError::Config(format!(
                "the data dir holds tree {s} but tree_id {c} is configured: refusing to start (remove tree_id from the config or point data_dir elsewhere)"
            )))
        }
        (Some(s), _) => s,
        (None, Some(c)) if c <= 0 => {
            return Err(ServiceError::Config("tree_id must be a positive integer".into()))
        }
        (None, Some(c)) => c,
        (None, None) => random_tree_id(),
    };
    match store.get_meta("log_id")? {
        Some(stored) if stored != key.log_id_hex().as_bytes() => {
            return Err(ServiceError::Config(format!(
                "the data dir was created with log key {} but the configured signing key is {}: refusing to start",
                String::from_utf8_lossy(&stored),
                key.log_id_hex()
            )))
        }
        Some(_) => {}
        None => store.put_meta("log_id", key.log_id_hex().as_bytes())?,
    }
    if stored_tree.is_none() {
        store.put_meta("tree_id", tree_id.to_string().as_bytes())?;
    }
    Ok(tree_id)
}
