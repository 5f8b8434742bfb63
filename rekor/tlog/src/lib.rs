//! An append-only RFC 6962 Merkle log with a batching sequencer.
//!
//! Ownership and invariants:
//! * One sequencer thread owns the tree's right border ([`tree::Frontier`]) and
//!   is the only writer. Appends reach it through a bounded queue; it takes
//!   whatever is queued (up to `max_batch`, waiting at most `max_linger` for
//!   more), assigns indexes, computes the new perfect nodes, signs one
//!   checkpoint for the batch and commits everything with one synced write.
//! * A head (size, root, checkpoint) is published to readers only after the
//!   batch that produced it is durable, so every proof against a published
//!   head can be served from stored nodes, and no checkpoint ever handed out
//!   is lost by a crash: after a restart the stored head is at least as large
//!   as any head published before it, and the log never forks.
//! * Duplicates (same leaf hash) are refused against both the store and the
//!   rest of the batch; the caller learns the existing index.
//! * Memory does not grow with the log: the frontier is at most 64 hashes,
//!   the upper tree levels kept for proofs ([`cache`]) are capped at a
//!   fixed number of hashes, and everything else is read from the store
//!   (whose cache is bounded).

pub mod cache;
pub mod key;
pub mod server;
pub mod store;
pub mod tree;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use sigstack_core::merkle::{empty_root, Hash};

pub use key::{write_new_key, KeyError, LogKey};
pub use store::{
    CommitBatch, MemStore, RocksOptions, RocksStore, Store, StoreError, StoredEntry, StoredHead,
};
use tree::{consistency_plan, inclusion_plan, Frontier};

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the signing key does not match the key that signed the stored checkpoint")]
    KeyMismatch,
    #[error("stored tree is inconsistent: {0}")]
    Corrupt(String),
    #[error("checkpoint signing failed: {0}")]
    Signing(String),
    #[error("the log is overloaded, retry later")]
    Busy,
    #[error("the log is shutting down")]
    Closed,
    #[error("{0}")]
    InvalidRequest(String),
}

/// Makes and checks the log's checkpoints. The engine treats checkpoint text
/// as opaque; the log flavour (Rekor v1, tlog-tiles, CT STH) decides its format.
pub trait CheckpointSigner: Send + Sync + 'static {
    fn sign(&self, size: u64, root: &Hash, timestamp_ms: u64) -> Result<Vec<u8>, String>;
    /// True if `checkpoint` is this signer's signature over (size, root).
    fn verify(&self, checkpoint: &[u8], size: u64, root: &Hash) -> bool;
}

/// Makes a per-entry signature at sequencing, stored with the entry (Rekor
/// v1's signed entry timestamp). Signing once here instead of on every read
/// keeps reads free of private-key operations; the sequencer thread pays
/// about one ECDSA signature per new entry, which the write handler used to.
pub trait EntrySealer: Send + Sync + 'static {
    fn seal(&self, index: u64, integrated_time_ms: u64, data: &[u8]) -> Result<Vec<u8>, String>;
}

/// Sequencer tuning.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Most entries committed in one batch.
    pub max_batch: usize,
    /// How long a batch waits for more entries once it has one. Zero means
    /// group commit: a batch is whatever queued up during the previous fsync.
    pub max_linger: Duration,
    /// Appends waiting beyond this are refused with [`LogError::Busy`].
    pub queue_capacity: usize,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            max_batch: 1024,
            max_linger: Duration::ZERO,
            queue_capacity: 16384,
        }
    }
}

/// A published tree head.
#[derive(Debug, Clone)]
pub struct Head {
    pub size: u64,
    pub root: Hash,
    pub checkpoint: Arc<[u8]>,
}

/// What an append produced.
#[derive(Debug, Clone)]
pub enum AppendResult {
    Added {
        index: u64,
        integrated_time_ms: u64,
        /// The entry's seal (empty without a sealer).
        seal: Vec<u8>,
        /// The head of the batch that included the entry (covers `index`).
        head: Arc<Head>,
    },
    Duplicate {
        index: u64,
    },
}

/// One append request.
pub struct Append {
    /// Leaf data: hashed into the tree and stored.
    pub data: Vec<u8>,
    /// RFC 6962 leaf hash of `data`, computed by the caller (off the sequencer thread).
    pub leaf_hash: Hash,
    /// Secondary index keys (must not contain NUL bytes).
    pub search_keys: Vec<Vec<u8>>,
}

type Reply = tokio::sync::oneshot::Sender<Result<AppendResult, LogError>>;
/// A job's result before commit: (index, newly added) or an error.
type Outcome = Result<(u64, bool), LogError>;

struct Job {
    append: Append,
    reply: Reply,
}

/// Counters for metrics.
#[derive(Debug, Default)]
pub struct LogStats {
    pub batches: std::sync::atomic::AtomicU64,
    pub entries: std::sync::atomic::AtomicU64,
    pub duplicates: std::sync::atomic::AtomicU64,
    pub commit_micros: std::sync::atomic::AtomicU64,
}

pub struct Log {
    store: Arc<dyn Store>,
    nodes: Arc<cache::NodeCache>,
    head: Arc<ArcSwap<Head>>,
    tx: Option<Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    stats: Arc<LogStats>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Log {
    /// Opens the log: verifies the stored head against the stored nodes and
    /// against `signer` (refusing a key that did not sign it), then starts the
    /// sequencer. A new store gets a signed empty head.
    pub fn open(
        store: Arc<dyn Store>,
        signer: Arc<dyn CheckpointSigner>,
        opts: LogOptions,
    ) -> Result<Self, LogError> {
        Self::open_sealed(store, signer, None, opts)
    }

    /// [`Log::open`], with every new entry sealed by `sealer` at sequencing.
    pub fn open_sealed(
        store: Arc<dyn Store>,
        signer: Arc<dyn CheckpointSigner>,
        sealer: Option<Arc<dyn EntrySealer>>,
        opts: LogOptions,
    ) -> Result<Self, LogError> {
        let (frontier, head) = match store.head()? {
            Some(h) => {
                let ids = Frontier::node_ids(h.size);
                let hashes = store.nodes(&ids)?;
                let frontier = Frontier::from_nodes(h.size, &hashes)
                    .ok_or_else(|| LogError::Corrupt("frontier".into()))?;
                let root = frontier.root().unwrap_or_else(empty_root);
                if root != h.root {
                    return Err(LogError::Corrupt(format!(
                        "stored root for size {} does not match stored nodes",
                        h.size
                    )));
                }
                if !signer.verify(&h.checkpoint, h.size, &h.root) {
                    return Err(LogError::KeyMismatch);
                }
                (frontier, h)
            }
            None => {
                let root = empty_root();
                let checkpoint = signer.sign(0, &root, now_ms()).map_err(LogError::Signing)?;
                let h = StoredHead {
                    size: 0,
                    root,
                    checkpoint,
                };
                store.commit(&CommitBatch {
                    head: Some(h.clone()),
                    ..Default::default()
                })?;
                (Frontier::default(), h)
            }
        };
        let nodes = Arc::new(cache::NodeCache::load(
            store.as_ref(),
            head.size,
            cache::DEFAULT_BUDGET,
        )?);
        let head = Arc::new(ArcSwap::from_pointee(Head {
            size: head.size,
            root: head.root,
            checkpoint: head.checkpoint.into(),
        }));
        let (tx, rx) = crossbeam_channel::bounded(opts.queue_capacity.max(1));
        let stats = Arc::new(LogStats::default());
        let seq = Sequencer {
            store: store.clone(),
            nodes: nodes.clone(),
            signer,
            sealer,
            head: head.clone(),
            frontier,
            opts,
            stats: stats.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("tlog-sequencer".into())
            .spawn(move || seq.run(rx))
            .map_err(|e| LogError::Corrupt(format!("cannot start sequencer: {e}")))?;
        Ok(Log {
            store,
            nodes,
            head,
            tx: Some(tx),
            thread: Some(thread),
            stats,
        })
    }

    /// Appends one entry and waits until it is durable and covered by a
    /// published head (or found to be a duplicate).
    pub async fn append(&self, append: Append) -> Result<AppendResult, LogError> {
        if append.search_keys.iter().any(|k| k.contains(&0)) {
            return Err(LogError::InvalidRequest("search key contains NUL".into()));
        }
        let (reply, rx) = tokio::sync::oneshot::channel();
        let tx = self.tx.as_ref().ok_or(LogError::Closed)?;
        tx.try_send(Job { append, reply }).map_err(|e| match e {
            TrySendError::Full(_) => LogError::Busy,
            TrySendError::Disconnected(_) => LogError::Closed,
        })?;
        rx.await.map_err(|_| LogError::Closed)?
    }

    pub fn head(&self) -> Arc<Head> {
        self.head.load_full()
    }

    pub fn stats(&self) -> &LogStats {
        &self.stats
    }

    pub fn entry(&self, index: u64) -> Result<Option<StoredEntry>, LogError> {
        Ok(self.store.entry(index)?)
    }

    pub fn find(&self, leaf_hash: &Hash) -> Result<Option<u64>, LogError> {
        Ok(self.store.leaf_index(leaf_hash)?)
    }

    pub fn search(&self, key: &[u8], limit: usize) -> Result<Vec<u64>, LogError> {
        Ok(self.store.search(key, limit)?)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Inclusion proof for `index` in the tree of `size` (size ≤ published head).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        Ok(self.leaf_and_inclusion_proof(index, size)?.1)
    }

    /// The leaf hash at `index` (the level-0 node) and its inclusion proof,
    /// read in the same node lookup: readers need not re-hash the entry.
    pub fn leaf_and_inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<(Hash, Vec<Hash>), LogError> {
        let published = self.head().size;
        if index >= size || size > published {
            return Err(LogError::InvalidRequest(format!(
                "no inclusion proof for index {index} in tree size {size} (log size {published})"
            )));
        }
        let plan = inclusion_plan(index, size);
        let mut ids = plan.nodes.clone();
        ids.push(tree::NodeId::new(0, index));
        let mut hashes = self.nodes.nodes(self.store.as_ref(), &ids)?;
        let leaf = hashes
            .pop()
            .ok_or_else(|| LogError::Corrupt(format!("no leaf node at {index}")))?;
        Ok((leaf, plan.assemble(&hashes)))
    }

    /// Consistency proof between sizes `m` ≤ `n` (n ≤ published head).
    pub fn consistency_proof(&self, m: u64, n: u64) -> Result<Vec<Hash>, LogError> {
        let published = self.head().size;
        if m == 0 || m > n || n > published {
            return Err(LogError::InvalidRequest(format!(
                "no consistency proof from {m} to {n} (log size {published})"
            )));
        }
        let plan = consistency_plan(m, n);
        Ok(plan.assemble(&self.nodes.nodes(self.store.as_ref(), &plan.nodes)?))
    }

    /// Root of the tree at an earlier `size` (from stored nodes).
    pub fn root_at(&self, size: u64) -> Result<Hash, LogError> {
        if size > self.head().size {
            return Err(LogError::InvalidRequest(format!(
                "size {size} is beyond the log"
            )));
        }
        if size == 0 {
            return Ok(empty_root());
        }
        let mut ids = Vec::new();
        tree::range_nodes(0, size, &mut ids);
        let hashes = self.nodes.nodes(self.store.as_ref(), &ids)?;
        tree::fold_range(&hashes).ok_or_else(|| LogError::Corrupt("empty range".into()))
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        // Closing the queue ends the sequencer after it drains what is queued.
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Sequencer {
    store: Arc<dyn Store>,
    nodes: Arc<cache::NodeCache>,
    signer: Arc<dyn CheckpointSigner>,
    sealer: Option<Arc<dyn EntrySealer>>,
    head: Arc<ArcSwap<Head>>,
    frontier: Frontier,
    opts: LogOptions,
    stats: Arc<LogStats>,
}

impl Sequencer {
    fn seal(&self, index: u64, time_ms: u64, data: &[u8]) -> Result<Vec<u8>, LogError> {
        let Some(sealer) = &self.sealer else {
            return Ok(Vec::new());
        };
        let seal = sealer
            .seal(index, time_ms, data)
            .map_err(LogError::Signing)?;
        if seal.len() > u16::MAX as usize {
            return Err(LogError::Signing(format!(
                "seal of {} bytes is over the stored limit",
                seal.len()
            )));
        }
        Ok(seal)
    }

    fn run(mut self, rx: Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut jobs = vec![first];
            let deadline = Instant::now() + self.opts.max_linger;
            while jobs.len() < self.opts.max_batch {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(crossbeam_channel::TryRecvError::Disconnected) => break,
                    Err(crossbeam_channel::TryRecvError::Empty) => {
                        let now = Instant::now();
                        if now >= deadline {
                            break;
                        }
                        match rx.recv_timeout(deadline - now) {
                            Ok(j) => jobs.push(j),
                            Err(_) => break,
                        }
                    }
                }
            }
            self.process(jobs);
        }
    }

    fn process(&mut self, jobs: Vec<Job>) {
        use std::sync::atomic::Ordering::Relaxed;
        let started = Instant::now();
        let time_ms = now_ms();
        let mut frontier = self.frontier.clone();
        let mut batch = CommitBatch {
            first_index: frontier.size(),
            ..Default::default()
        };
        // Each job's outcome before commit: Ok(index, is_new) or an error.
        let mut outcomes: Vec<(Reply, Outcome)> = Vec::with_capacity(jobs.len());
        let mut in_batch: HashMap<Hash, u64> = HashMap::new();
        for Job { append, reply } in jobs {
            let leaf = append.leaf_hash;
            let existing = match in_batch.get(&leaf) {
                Some(i) => Ok(Some(*i)),
                None => self.store.leaf_index(&leaf),
            };
            let outcome = match existing {
                Err(e) => Err(LogError::Store(e)),
                Ok(Some(i)) => Ok((i, false)),
                Ok(None) => 'new: {
                    let index = frontier.size();
                    let seal = match self.seal(index, time_ms, &append.data) {
                        Ok(seal) => seal,
                        Err(e) => break 'new Err(e),
                    };
                    frontier.push(leaf, |id, h| batch.nodes.push((id, h)));
                    batch
                        .search_keys
                        .extend(append.search_keys.into_iter().map(|k| (k, index)));
                    batch.entries.push((
                        leaf,
                        StoredEntry {
                            data: append.data,
                            integrated_time_ms: time_ms,
                            seal,
                        },
                    ));
                    in_batch.insert(leaf, index);
                    Ok((index, true))
                }
            };
            outcomes.push((reply, outcome));
        }

        let mut published = self.head.load_full();
        if !batch.entries.is_empty() {
            let size = frontier.size();
            let root = frontier.root().unwrap_or_else(empty_root);
            let committed = self
                .signer
                .sign(size, &root, time_ms)
                .map_err(LogError::Signing)
                .and_then(|checkpoint| {
                    batch.head = Some(StoredHead {
                        size,
                        root,
                        checkpoint: checkpoint.clone(),
                    });
                    self.store.commit(&batch)?;
                    Ok(checkpoint)
                });
            match committed {
                Ok(checkpoint) => {
                    // Durable now: the new nodes may serve proofs.
                    self.nodes.extend(&batch.nodes, size);
                    self.frontier = frontier;
                    published = Arc::new(Head {
                        size,
                        root,
                        checkpoint: checkpoint.into(),
                    });
                    self.head.store(published.clone());
                    self.stats.batches.fetch_add(1, Relaxed);
                    self.stats
                        .entries
                        .fetch_add(batch.entries.len() as u64, Relaxed);
                }
                Err(e) => {
                    tracing::error!(error = %e, "batch commit failed; nothing of it was published");
                    let msg = e.to_string();
                    for (reply, _) in outcomes {
                        let _ = reply.send(Err(LogError::Corrupt(format!("commit failed: {msg}"))));
                    }
                    return;
                }
            }
        }
        for (reply, outcome) in outcomes {
            let result = outcome.map(|(index, new)| {
                if new {
                    // Committed entries are in the batch in index order.
                    let stored = usize::try_from(index - batch.first_index)
                        .ok()
                        .and_then(|i| batch.entries.get(i));
                    AppendResult::Added {
                        index,
                        integrated_time_ms: time_ms,
                        seal: stored.map(|(_, e)| e.seal.clone()).unwrap_or_default(),
                        head: published.clone(),
                    }
                } else {
                    self.stats.duplicates.fetch_add(1, Relaxed);
                    AppendResult::Duplicate { index }
                }
            });
            let _ = reply.send(result);
        }
        self.stats
            .commit_micros
            .fetch_add(started.elapsed().as_micros() as u64, Relaxed);
    }
}

#[cfg(test)]
mod tests;
