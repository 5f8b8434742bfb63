//! Storage behind the log: a small trait and its RocksDB implementation.
//!
//! Crash-safety contract (what every implementation must guarantee):
//! * [`Store::commit`] is atomic and durable: after it returns `Ok`, a crash
//!   loses nothing of the batch; if the process dies during it, either all of
//!   the batch (entries, nodes, leaf index, search keys, head) is visible on
//!   restart or none of it is.
//! * The head stored with a batch is the tree that batch produces, so the
//!   stored head never points past the stored nodes.

use std::path::Path;
use std::sync::Mutex;

use sigstack_core::merkle::Hash;

use crate::tree::NodeId;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the data directory {0} is in use by another process (is another server running on it?)"
    )]
    Locked(String),
    #[error("storage error: {0}")]
    Backend(String),
    #[error("storage is corrupt: {0}")]
    Corrupt(String),
}

/// The persisted head: tree size, root and the signed checkpoint for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHead {
    pub size: u64,
    pub root: Hash,
    /// Opaque to the engine: the checkpoint the log's signer produced.
    pub checkpoint: Vec<u8>,
}

/// One stored entry: the leaf data (hashed into the tree), its time, and
/// the seal the log's [`EntrySealer`](crate::EntrySealer) made for it at
/// sequencing (empty without a sealer, and in entries stored before seals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub data: Vec<u8>,
    /// Milliseconds since the Unix epoch at which the batch was sequenced.
    pub integrated_time_ms: u64,
    pub seal: Vec<u8>,
}

/// Everything one sequencer batch writes, committed atomically.
#[derive(Debug, Default)]
pub struct CommitBatch {
    pub first_index: u64,
    /// (leaf hash, entry) for indexes first_index.. in order.
    pub entries: Vec<(Hash, StoredEntry)>,
    pub nodes: Vec<(NodeId, Hash)>,
    /// (search key, leaf index) pairs for the secondary index.
    pub search_keys: Vec<(Vec<u8>, u64)>,
    pub head: Option<StoredHead>,
}

/// Small storage interface; implementations must honour the module contract.
pub trait Store: Send + Sync + 'static {
    fn head(&self) -> Result<Option<StoredHead>, StoreError>;
    /// Node hashes in the order asked; every ID must exist (Corrupt otherwise).
    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError>;
    /// Nodes `start..start + count` of one level (bulk loads; a store with
    /// ordered keys overrides this with one sequential scan).
    fn node_run(&self, level: u8, start: u64, count: u64) -> Result<Vec<Hash>, StoreError> {
        let ids: Vec<NodeId> = (start..start + count)
            .map(|i| NodeId::new(level, i))
            .collect();
        self.nodes(&ids)
    }
    fn entry(&self, index: u64) -> Result<Option<StoredEntry>, StoreError>;
    fn leaf_index(&self, leaf_hash: &Hash) -> Result<Option<u64>, StoreError>;
    /// Leaf indexes recorded under a search key, ascending, at most `limit`.
    fn search(&self, key: &[u8], limit: usize) -> Result<Vec<u64>, StoreError>;
    fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError>;
}

const CF_ENTRIES: &str = "entries";
const CF_NODES: &str = "nodes";
const CF_LEAVES: &str = "leaves";
const CF_SEARCH: &str = "search";
const CF_META: &str = "meta";
const HEAD_KEY: &[u8] = b"head";

fn be_u64(v: &[u8]) -> Result<u64, StoreError> {
    v.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt("bad u64 value".into()))
}

/// Top bit of the stored time: a seal follows (`u16` length, then the seal).
/// Records written before seals existed have it clear (no time reaches
/// 2^63 ms), so old data directories read unchanged.
const SEALED: u64 = 1 << 63;

fn encode_entry(e: &StoredEntry) -> Vec<u8> {
    let mut v = Vec::with_capacity(10 + e.seal.len() + e.data.len());
    match u16::try_from(e.seal.len()) {
        Ok(n) if n > 0 => {
            v.extend_from_slice(&(e.integrated_time_ms | SEALED).to_be_bytes());
            v.extend_from_slice(&n.to_be_bytes());
            v.extend_from_slice(&e.seal);
        }
        // Unreachable: the sequencer refuses seals over u16::MAX bytes.
        _ => v.extend_from_slice(&(e.integrated_time_ms & !SEALED).to_be_bytes()),
    }
    v.extend_from_slice(&e.data);
    v
}

fn decode_entry(v: &[u8]) -> Result<StoredEntry, StoreError> {
    let short = || StoreError::Corrupt("short entry record".into());
    let time = be_u64(v.get(..8).ok_or_else(short)?)?;
    if time & SEALED == 0 {
        return Ok(StoredEntry {
            integrated_time_ms: time,
            data: v[8..].to_vec(),
            seal: Vec::new(),
        });
    }
    let len = v.get(8..10).ok_or_else(short)?;
    let end = 10 + u16::from_be_bytes([len[0], len[1]]) as usize;
    Ok(StoredEntry {
        integrated_time_ms: time & !SEALED,
        seal: v.get(10..end).ok_or_else(short)?.to_vec(),
        data: v[end..].to_vec(),
    })
}

fn encode_head(h: &StoredHead) -> Vec<u8> {
    let mut v = Vec::with_capacity(40 + h.checkpoint.len());
    v.extend_from_slice(&h.size.to_be_bytes());
    v.extend_from_slice(&h.root);
    v.extend_from_slice(&h.checkpoint);
    v
}

fn decode_head(v: &[u8]) -> Result<StoredHead, StoreError> {
    if v.len() < 40 {
        return Err(StoreError::Corrupt("short head record".into()));
    }
    let mut root = [0u8; 32];
    root.copy_from_slice(&v[8..40]);
    Ok(StoredHead {
        size: be_u64(&v[..8])?,
        root,
        checkpoint: v[40..].to_vec(),
    })
}

/// Search keys never contain NUL, so `key || 0x00 || index` sorts all
/// postings of one key together and a prefix scan finds them.
fn search_row(key: &[u8], index: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 9);
    k.extend_from_slice(key);
    k.push(0);
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// Tunables for the RocksDB store.
#[derive(Debug, Clone)]
pub struct RocksOptions {
    /// Shared block cache; bounds read memory whatever the log size.
    pub block_cache_bytes: usize,
}

impl Default for RocksOptions {
    fn default() -> Self {
        RocksOptions {
            block_cache_bytes: 64 << 20,
        }
    }
}

/// The embedded default store.
pub struct RocksStore {
    db: rocksdb::DB,
}

impl RocksStore {
    /// Opens (creating if needed) the store at `path`. RocksDB's LOCK file
    /// makes a second opener, in this or another process, fail: a log must
    /// have exactly one writer.
    pub fn open(path: &Path, opts: &RocksOptions) -> Result<Self, StoreError> {
        use rocksdb::{BlockBasedOptions, Cache, ColumnFamilyDescriptor, Options};
        let cache = Cache::new_lru_cache(opts.block_cache_bytes);
        let cf_opts = |bloom: bool, compress: bool| {
            let mut table = BlockBasedOptions::default();
            table.set_block_cache(&cache);
            table.set_cache_index_and_filter_blocks(true);
            if bloom {
                table.set_bloom_filter(10.0, false);
            }
            let mut o = Options::default();
            o.set_block_based_table_factory(&table);
            o.set_compression_type(if compress {
                rocksdb::DBCompressionType::Lz4
            } else {
                rocksdb::DBCompressionType::None
            });
            o
        };
        let cfs = vec![
            ColumnFamilyDescriptor::new(CF_ENTRIES, cf_opts(false, true)),
            // Hashes do not compress; leaves are looked up by random hash, so
            // bloom filters make the (common) miss during dedup cheap.
            ColumnFamilyDescriptor::new(CF_NODES, cf_opts(false, false)),
            ColumnFamilyDescriptor::new(CF_LEAVES, cf_opts(true, false)),
            ColumnFamilyDescriptor::new(CF_SEARCH, cf_opts(false, true)),
            ColumnFamilyDescriptor::new(CF_META, cf_opts(false, false)),
        ];
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_max_background_jobs(2);
        db_opts.set_write_buffer_size(32 << 20);
        // Restart time after a crash is dominated by WAL replay: a small WAL cap
        // forces memtable flushes early, bounding replay to ~24 MiB.
        db_opts.set_max_total_wal_size(24 << 20);
        let db = rocksdb::DB::open_cf_descriptors(&db_opts, path, cfs).map_err(|e| {
            let msg = e.to_string();
            if msg.contains("lock") || msg.contains("LOCK") {
                StoreError::Locked(path.display().to_string())
            } else {
                StoreError::Backend(msg)
            }
        })?;
        Ok(RocksStore { db })
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily, StoreError> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StoreError::Corrupt(format!("missing column family {name}")))
    }
}

impl Drop for RocksStore {
    /// A clean shutdown flushes every memtable, so the next open replays no
    /// WAL at all. Durability does not depend on this (every commit is a synced
    /// WAL write); it only makes restarts fast.
    fn drop(&mut self) {
        for name in [CF_ENTRIES, CF_NODES, CF_LEAVES, CF_SEARCH, CF_META] {
            if let Some(cf) = self.db.cf_handle(name) {
                if let Err(e) = self.db.flush_cf(cf) {
                    tracing::warn!(cf = name, error = %e, "flush on shutdown failed");
                }
            }
        }
    }
}

fn backend(e: rocksdb::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl Store for RocksStore {
    fn head(&self) -> Result<Option<StoredHead>, StoreError> {
        self.db
            .get_cf(self.cf(CF_META)?, HEAD_KEY)
            .map_err(backend)?
            .map(|v| decode_head(&v))
            .transpose()
    }

    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        let cf = self.cf(CF_NODES)?;
        let keys: Vec<[u8; 9]> = ids.iter().map(NodeId::key).collect();
        let results = self
            .db
            .batched_multi_get_cf(cf, keys.iter().map(|k| &k[..]), false);
        let mut out = Vec::with_capacity(ids.len());
        for (id, r) in ids.iter().zip(results) {
            let v = r
                .map_err(backend)?
                .ok_or_else(|| StoreError::Corrupt(format!("missing node {id:?}")))?;
            out.push(
                v.as_ref()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt(format!("bad node {id:?}")))?,
            );
        }
        Ok(out)
    }

    fn node_run(&self, level: u8, start: u64, count: u64) -> Result<Vec<Hash>, StoreError> {
        // Keys are level ‖ big-endian index, so a level's run is contiguous:
        // one forward scan instead of `count` point lookups (restart time).
        let cf = self.cf(CF_NODES)?;
        let first = NodeId::new(level, start).key();
        let mut it = self.db.raw_iterator_cf(cf);
        it.seek(first);
        let mut out = Vec::with_capacity(count as usize);
        for i in start..start + count {
            let want = NodeId::new(level, i);
            match (it.key(), it.value()) {
                (Some(k), Some(v)) if k == want.key() => out.push(
                    v.try_into()
                        .map_err(|_| StoreError::Corrupt(format!("bad node {want:?}")))?,
                ),
                _ => {
                    it.status().map_err(backend)?;
                    return Err(StoreError::Corrupt(format!("missing node {want:?}")));
                }
            }
            it.next();
        }
        Ok(out)
    }

    fn entry(&self, index: u64) -> Result<Option<StoredEntry>, StoreError> {
        self.db
            .get_pinned_cf(self.cf(CF_ENTRIES)?, index.to_be_bytes())
            .map_err(backend)?
            .map(|v| decode_entry(&v))
            .transpose()
    }

    fn leaf_index(&self, leaf_hash: &Hash) -> Result<Option<u64>, StoreError> {
        self.db
            .get_pinned_cf(self.cf(CF_LEAVES)?, leaf_hash)
            .map_err(backend)?
            .map(|v| be_u64(&v))
            .transpose()
    }

    fn search(&self, key: &[u8], limit: usize) -> Result<Vec<u64>, StoreError> {
        let cf = self.cf(CF_SEARCH)?;
        let mut prefix = key.to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(
            cf,
            rocksdb::IteratorMode::From(&prefix, rocksdb::Direction::Forward),
        );
        for item in iter {
            let (k, _) = item.map_err(backend)?;
            if !k.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            out.push(be_u64(&k[prefix.len()..])?);
        }
        Ok(out)
    }

    fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.db
            .get_cf(self.cf(CF_META)?, key.as_bytes())
            .map_err(backend)
    }

    fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        self.db
            .put_cf_opt(self.cf(CF_META)?, key.as_bytes(), value, &wo)
            .map_err(backend)
    }

    fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        let (entries, nodes, leaves, search, meta) = (
            self.cf(CF_ENTRIES)?,
            self.cf(CF_NODES)?,
            self.cf(CF_LEAVES)?,
            self.cf(CF_SEARCH)?,
            self.cf(CF_META)?,
        );
        let mut wb = rocksdb::WriteBatch::default();
        for (i, (leaf, e)) in batch.entries.iter().enumerate() {
            let index = batch.first_index + i as u64;
            wb.put_cf(entries, index.to_be_bytes(), encode_entry(e));
            wb.put_cf(leaves, leaf, index.to_be_bytes());
        }
        for (id, h) in &batch.nodes {
            wb.put_cf(nodes, id.key(), h);
        }
        for (key, index) in &batch.search_keys {
            wb.put_cf(search, search_row(key, *index), []);
        }
        if let Some(h) = &batch.head {
            wb.put_cf(meta, HEAD_KEY, encode_head(h));
        }
        // One synced write per batch: the WAL fsync is the batch's only
        // durable I/O, and it covers every record above atomically.
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(wb, &wo).map_err(backend)
    }
}

/// In-memory store for tests of code above the storage layer.
#[derive(Default)]
pub struct MemStore {
    inner: Mutex<MemInner>,
}

#[derive(Default)]
struct MemInner {
    head: Option<StoredHead>,
    nodes: std::collections::HashMap<NodeId, Hash>,
    entries: Vec<StoredEntry>,
    leaves: std::collections::HashMap<Hash, u64>,
    search: std::collections::BTreeSet<Vec<u8>>,
    meta: std::collections::HashMap<String, Vec<u8>>,
}

impl MemStore {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, MemInner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Backend("poisoned".into()))
    }
}

impl Store for MemStore {
    fn head(&self) -> Result<Option<StoredHead>, StoreError> {
        Ok(self.lock()?.head.clone())
    }
    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        let g = self.lock()?;
        ids.iter()
            .map(|id| {
                g.nodes
                    .get(id)
                    .copied()
                    .ok_or_else(|| StoreError::Corrupt(format!("missing node {id:?}")))
            })
            .collect()
    }
    fn entry(&self, index: u64) -> Result<Option<StoredEntry>, StoreError> {
        Ok(self.lock()?.entries.get(index as usize).cloned())
    }
    fn leaf_index(&self, leaf_hash: &Hash) -> Result<Option<u64>, StoreError> {
        Ok(self.lock()?.leaves.get(leaf_hash).copied())
    }
    fn search(&self, key: &[u8], limit: usize) -> Result<Vec<u64>, StoreError> {
        let mut prefix = key.to_vec();
        prefix.push(0);
        let g = self.lock()?;
        g.search
            .range(prefix.clone()..)
            .take_while(|k| k.starts_with(&prefix))
            .take(limit)
            .map(|k| be_u64(&k[prefix.len()..]))
            .collect()
    }
    fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock()?.meta.get(key).cloned())
    }
    fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.lock()?.meta.insert(key.to_string(), value.to_vec());
        Ok(())
    }
    fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        let mut g = self.lock()?;
        if g.entries.len() as u64 != batch.first_index {
            return Err(StoreError::Corrupt("non-contiguous commit".into()));
        }
        for (i, (leaf, e)) in batch.entries.iter().enumerate() {
            g.leaves.insert(*leaf, batch.first_index + i as u64);
            g.entries.push(e.clone());
        }
        for (id, h) in &batch.nodes {
            g.nodes.insert(*id, *h);
        }
        for (k, i) in &batch.search_keys {
            g.search.insert(search_row(k, *i));
        }
        if let Some(h) = &batch.head {
            g.head = Some(h.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod entry_codec_tests {
    use super::*;

    #[test]
    fn sealed_and_unsealed_records_round_trip() {
        for seal in [Vec::new(), vec![0x30; 71]] {
            let e = StoredEntry {
                data: b"{\"kind\":\"x\"}".to_vec(),
                integrated_time_ms: 1_763_000_000_123,
                seal,
            };
            assert_eq!(decode_entry(&encode_entry(&e)).unwrap(), e);
        }
    }

    /// Records written before seals existed: 8-byte time, then the data.
    #[test]
    fn records_without_the_seal_flag_read_as_before() {
        let mut old = 1_700_000_000_000u64.to_be_bytes().to_vec();
        old.extend_from_slice(b"{}");
        let e = decode_entry(&old).unwrap();
        assert_eq!(e.integrated_time_ms, 1_700_000_000_000);
        assert_eq!(e.data, b"{}");
        assert!(e.seal.is_empty());
    }

    #[test]
    fn truncated_records_are_corrupt_not_panics() {
        let e = StoredEntry {
            data: b"abc".to_vec(),
            integrated_time_ms: 5,
            seal: vec![1; 40],
        };
        let full = encode_entry(&e);
        for cut in [0, 7, 9, 20, 49] {
            assert!(
                matches!(decode_entry(&full[..cut]), Err(StoreError::Corrupt(_))),
                "cut at {cut}"
            );
        }
    }
}
