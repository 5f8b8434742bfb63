//! The RFC 6962 log as plain functions over the Merkle log engine.
//!
//! State ownership: the engine ([`sigstack_tlog::Log`]) owns the tree and its
//! storage; this layer owns the log's identity (key) and the accepted roots,
//! and turns submissions into `MerkleTreeLeaf`s and SCTs. The log ID is
//! pinned in the store at first start; a later start with another key is
//! refused (here, and by the engine, whose stored STH must verify).
//!
//! Stored entry data: `u32 BE len(leaf_input) || leaf_input || extra_data`,
//! where `leaf_input` is the RFC 6962 §3.4 `MerkleTreeLeaf` (the tree hashes
//! exactly these bytes) and `extra_data` the §4.6 chain entry.

use std::path::Path;
use std::sync::Arc;

use der::asn1::ObjectIdentifier;
use sigstack_core::ct::{self, Sct, SignedEntry, OID_CT_POISON};
use sigstack_core::merkle::{hash_leaf, Hash};
use sigstack_tlog::{
    Append, AppendResult, Head, Log, LogError, LogOptions, MemStore, RocksOptions, RocksStore,
    Store,
};

use crate::chain::{self, ChainValidator, Kind, Roots};
use crate::signer::{decode_sth, CtKey, SthSigner};
use sigstack_tlog::server::LogMetrics;

/// Default cap on entries per `get-entries` call (as public logs do).
pub const DEFAULT_MAX_GET_ENTRIES: u64 = 256;

/// Everything needed to open the log, besides the store.
pub struct ServiceOptions {
    pub key: CtKey,
    pub roots: Roots,
    /// Accepted leaf EKUs (any one); empty disables the check.
    pub ext_key_usages: Vec<ObjectIdentifier>,
    pub log: LogOptions,
    pub max_request_bytes: usize,
    pub max_get_entries: u64,
}

impl ServiceOptions {
    /// Defaults as for Fulcio: codeSigning required, 4 MiB bodies, 256 entries per read.
    pub fn new(key: CtKey, roots: Roots) -> Self {
        ServiceOptions {
            key,
            roots,
            ext_key_usages: chain::eku_by_name("CodeSigning").into_iter().collect(),
            log: LogOptions::default(),
            max_request_bytes: 4 << 20,
            max_get_entries: DEFAULT_MAX_GET_ENTRIES,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Store(#[from] sigstack_tlog::StoreError),
    #[error(transparent)]
    Chain(#[from] chain::ChainError),
    #[error("{0}")]
    Config(String),
}

/// Why a request failed; the API maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("the log is overloaded, retry later")]
    Busy,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<LogError> for RequestError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::Busy => RequestError::Busy,
            other => RequestError::Internal(other.to_string()),
        }
    }
}

fn bad(m: impl Into<String>) -> RequestError {
    RequestError::BadRequest(m.into())
}

/// A signed tree head as served by `get-sth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sth {
    pub tree_size: u64,
    pub timestamp_ms: u64,
    pub root: Hash,
    /// TLS DigitallySigned bytes.
    pub signature: Vec<u8>,
}

/// One stored entry as served by `get-entries`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafEntry {
    pub leaf_input: Vec<u8>,
    pub extra_data: Vec<u8>,
}

pub struct Service {
    log: Log,
    key: Arc<CtKey>,
    chains: ChainValidator,
    max_request_bytes: usize,
    max_get_entries: u64,
    metrics: LogMetrics,
}

/// Opens a log on an in-memory store (tests, e.g. the Fulcio crate's).
pub fn open_in_memory(
    key: sigstack_core::keys::SigningKey,
    roots: Roots,
) -> Result<Service, ServiceError> {
    let key = CtKey::new(key).map_err(|e| ServiceError::Config(e.to_string()))?;
    Service::open(
        Arc::new(MemStore::default()),
        ServiceOptions::new(key, roots),
    )
}

fn encode_stored(leaf_input: &[u8], extra_data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + leaf_input.len() + extra_data.len());
    out.extend_from_slice(&(leaf_input.len() as u32).to_be_bytes());
    out.extend_from_slice(leaf_input);
    out.extend_from_slice(extra_data);
    out
}

fn decode_stored(data: &[u8]) -> Result<LeafEntry, RequestError> {
    let corrupt = || RequestError::Internal("stored entry is corrupt".into());
    let (len, rest) = data.split_at_checked(4).ok_or_else(corrupt)?;
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let (leaf, extra) = rest.split_at_checked(len).ok_or_else(corrupt)?;
    Ok(LeafEntry {
        leaf_input: leaf.to_vec(),
        extra_data: extra.to_vec(),
    })
}

/// Parses an `add-chain` / `add-pre-chain` body: `{"chain": [b64 DER, ...]}`.
pub fn parse_chain_request(body: &[u8]) -> Result<Vec<Vec<u8>>, RequestError> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct AddChainRequest {
        chain: Vec<String>,
    }
    let req: AddChainRequest = serde_json::from_slice(body)
        .map_err(|e| bad(format!("error parsing request body as JSON: {e}")))?;
    if req.chain.is_empty() {
        return Err(bad("chain is empty"));
    }
    if req.chain.len() > chain::MAX_CHAIN_LEN {
        return Err(bad(format!(
            "chain has {} certificates, at most {} accepted",
            req.chain.len(),
            chain::MAX_CHAIN_LEN
        )));
    }
    req.chain
        .iter()
        .enumerate()
        .map(|(i, c)| {
            STANDARD
                .decode(c)
                .map_err(|e| bad(format!("chain[{i}] is not valid base64: {e}")))
        })
        .collect()
}

impl Service {
    /// Opens the log on `store`: pins the log ID, then lets the engine check
    /// the stored STH against the key.
    pub fn open(store: Arc<dyn Store>, opts: ServiceOptions) -> Result<Self, ServiceError> {
        let key = Arc::new(opts.key);
        pin_log_id(store.as_ref(), &key)?;
        let chains = ChainValidator::new(opts.roots, opts.ext_key_usages)?;
        let log = Log::open(store, Arc::new(SthSigner::new(key.clone())), opts.log)?;
        let metrics = LogMetrics::new(
            "ctlog",
            "submissions",
            "Submitted chains by endpoint and outcome (added, invalid, busy, error)",
        );
        Ok(Service {
            log,
            key,
            chains,
            max_request_bytes: opts.max_request_bytes,
            max_get_entries: opts.max_get_entries.max(1),
            metrics,
        })
    }

    /// Opens (creating) the RocksDB store in `data_dir`; a second writer is
    /// refused by RocksDB's lock.
    pub fn open_dir(
        data_dir: &Path,
        block_cache_bytes: usize,
        opts: ServiceOptions,
    ) -> Result<Self, ServiceError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            ServiceError::Config(format!(
                "cannot create data dir {}: {e}",
                data_dir.display()
            ))
        })?;
        let store = Arc::new(RocksStore::open(
            data_dir,
            &RocksOptions { block_cache_bytes },
        )?);
        Self::open(store, opts)
    }

    pub fn head(&self) -> Arc<Head> {
        self.log.head()
    }

    pub fn key(&self) -> &CtKey {
        &self.key
    }

    pub fn log_id_hex(&self) -> String {
        self.key.log_id_hex()
    }

    pub fn metrics(&self) -> &LogMetrics {
        &self.metrics
    }

    pub fn max_request_bytes(&self) -> usize {
        self.max_request_bytes
    }

    pub fn roots(&self) -> impl Iterator<Item = &[u8]> {
        self.chains.roots().ders()
    }

    pub fn render_metrics(&self) -> String {
        self.metrics.render(&self.log)
    }

    /// `add-chain` / `add-pre-chain`: validates, logs and returns the SCT.
    pub async fn add_chain(&self, body: &[u8], kind: Kind) -> Result<Sct, RequestError> {
        let label = match kind {
            Kind::X509 => "add-chain",
            Kind::Precert => "add-pre-chain",
        };
        let result = self.add_chain_inner(body, kind).await;
        let outcome = match &result {
            Ok(_) => "added",
            Err(RequestError::BadRequest(_)) => "invalid",
            Err(RequestError::Busy) => "busy",
            Err(_) => "error",
        };
        self.metrics.outcome(label, outcome);
        result
    }

    async fn add_chain_inner(&self, body: &[u8], kind: Kind) -> Result<Sct, RequestError> {
        let chain = parse_chain_request(body)?;
        let v = self
            .chains
            .validate(&chain, kind)
            .map_err(|e| bad(e.to_string()))?;
        let tbs;
        let (entry, extra_data) = match kind {
            Kind::X509 => (SignedEntry::X509(&chain[0]), v.issuer.encoded.clone()),
            Kind::Precert => {
                tbs = ct::tbs_der_without_extension(&v.leaf.tbs_certificate, OID_CT_POISON)
                    .map_err(|e| bad(e.to_string()))?;
                (
                    SignedEntry::Precert {
                        issuer_key_hash: v.issuer.issuer_key_hash,
                        tbs: &tbs,
                    },
                    chain::precert_chain_entry(&chain[0], &v.issuer),
                )
            }
        };
        entry.check_len().map_err(|e| bad(e.to_string()))?;
        let timestamp_ms = now_ms();
        // For v1 the SCT's signed data and the MerkleTreeLeaf are the same
        // bytes (version 0, then signature_type certificate_timestamp = 0 vs
        // leaf_type timestamped_entry = 0, then the same fields), so one
        // encoding serves as leaf, stored entry and signature input.
        let leaf_input = ct::merkle_tree_leaf(timestamp_ms, &entry, &[]);
        let leaf_hash = hash_leaf(&leaf_input);
        let data = encode_stored(&leaf_input, &extra_data);
        match self
            .log
            .append(Append {
                data,
                leaf_hash,
                search_keys: Vec::new(),
            })
            .await?
        {
            // A duplicate is the same cert with the same millisecond timestamp:
            // the stored leaf is byte-identical, so the SCT is valid for it too.
            AppendResult::Added { .. } | AppendResult::Duplicate { .. } => {}
        }
        Ok(crate::signer::sct(&self.key, timestamp_ms, &leaf_input))
    }

    /// The current signed tree head.
    pub fn sth(&self) -> Result<Sth, RequestError> {
        let head = self.log.head();
        let (timestamp_ms, ds) = decode_sth(&head.checkpoint)
            .ok_or_else(|| RequestError::Internal("stored STH is corrupt".into()))?;
        Ok(Sth {
            tree_size: head.size,
            timestamp_ms,
            root: head.root,
            signature: ds.to_vec(),
        })
    }

    /// Consistency proof between tree sizes `first` ≤ `second` ≤ current size.
    pub fn consistency(&self, first: u64, second: u64) -> Result<Vec<Hash>, RequestError> {
        let size = self.log.head().size;
        if first > second {
            return Err(bad(format!(
                "first ({first}) must not be greater than second ({second})"
            )));
        }
        if second > size {
            return Err(bad(format!(
                "second ({second}) is beyond the current tree size ({size})"
            )));
        }
        if first == 0 || first == second {
            return Ok(Vec::new());
        }
        Ok(self.log.consistency_proof(first, second)?)
    }

    /// `get-proof-by-hash`: (leaf index, audit path) in the tree of `tree_size`.
    pub fn proof_by_hash(
        &self,
        leaf_hash: &Hash,
        tree_size: u64,
    ) -> Result<(u64, Vec<Hash>), RequestError> {
        let size = self.log.head().size;
        if tree_size == 0 || tree_size > size {
            return Err(bad(format!(
                "tree_size ({tree_size}) must be between 1 and the current tree size ({size})"
            )));
        }
        let index = self
            .log
            .find(leaf_hash)?
            .filter(|i| *i < tree_size)
            .ok_or_else(|| {
                RequestError::NotFound(format!("no leaf with that hash in tree size {tree_size}"))
            })?;
        Ok((index, self.log.inclusion_proof(index, tree_size)?))
    }

    /// `get-entries`: entries `start..=end`, clamped to the tree and the cap.
    pub fn entries(&self, start: u64, end: u64) -> Result<Vec<LeafEntry>, RequestError> {
        let size = self.log.head().size;
        if start > end {
            return Err(bad(format!(
                "start ({start}) must not be greater than end ({end})"
            )));
        }
        if start >= size {
            return Err(bad(format!(
                "start ({start}) is beyond the current tree size ({size})"
            )));
        }
        let last = end
            .min(size - 1)
            .min(start.saturating_add(self.max_get_entries - 1));
        (start..=last).map(|i| self.stored(i)).collect()
    }

    /// `get-entry-and-proof`.
    pub fn entry_and_proof(
        &self,
        leaf_index: u64,
        tree_size: u64,
    ) -> Result<(LeafEntry, Vec<Hash>), RequestError> {
        let size = self.log.head().size;
        if tree_size > size {
            return Err(bad(format!(
                "tree_size ({tree_size}) is beyond the current tree size ({size})"
            )));
        }
        if leaf_index >= tree_size {
            return Err(bad(format!(
                "leaf_index ({leaf_index}) must be less than tree_size ({tree_size})"
            )));
        }
        let entry = self.stored(leaf_index)?;
        Ok((entry, self.log.inclusion_proof(leaf_index, tree_size)?))
    }

    fn stored(&self, index: u64) -> Result<LeafEntry, RequestError> {
        let e = self
            .log
            .entry(index)?
            .ok_or_else(|| RequestError::Internal(format!("entry {index} is missing")))?;
        decode_stored(&e.data)
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

const META_LOG_ID: &str = "ct_log_id";

/// Pins the log ID in the store on first start; refuses another key later.
fn pin_log_id(store: &dyn Store, key: &CtKey) -> Result<(), ServiceError> {
    match store.get_meta(META_LOG_ID)? {
        Some(stored) if stored != key.log_id_hex().as_bytes() => Err(ServiceError::Config(format!(
            "the data dir was created with CT log key {} but the configured key is {}: refusing to start",
            String::from_utf8_lossy(&stored),
            key.log_id_hex()
        ))),
        Some(_) => Ok(()),
        None => Ok(store.put_meta(META_LOG_ID, key.log_id_hex().as_bytes())?),
    }
}
