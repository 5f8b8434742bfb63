//! An in-memory copy of the upper levels of the tree.
//!
//! An inclusion proof in a tree of 2^k leaves needs k node hashes, one per
//! level. The nodes of the upper levels are few (level `l` has `size >> l`
//! of them) and shared by every proof, so keeping levels `>= min_level` in
//! memory turns most of a proof's store lookups into array reads (at a
//! million entries, 3 of 20 nodes still come from the store). At open the
//! cached levels are read with one sequential scan per level (about 0.1 s
//! for 256k hashes), not point lookups.
//!
//! Invariants:
//! * memory is bounded: at most `budget` hashes (32 bytes each) are held;
//!   as the log grows, `min_level` rises and the lowest cached level is
//!   dropped, so memory does not grow with the log;
//! * a level's vector holds nodes `0..len` of that level, exactly as stored
//!   (it is filled from the store at open and then from committed batches,
//!   in index order); a node is added only after the batch that created it
//!   is durable;
//! * a lookup that misses (lower level, or not yet cached) falls back to the
//!   store, so the cache can only make a proof faster, never different.

use std::sync::RwLock;

use sigstack_core::merkle::Hash;

use crate::store::{Store, StoreError};
use crate::tree::NodeId;

/// Default budget: 262,144 hashes = 8 MiB.
pub const DEFAULT_BUDGET: usize = 1 << 18;
const LEVELS: usize = 64;

pub struct NodeCache {
    budget: usize,
    inner: RwLock<Inner>,
}

struct Inner {
    min_level: u8,
    levels: Vec<Vec<Hash>>,
}

/// The lowest level whose nodes, with every level above, fit the budget
/// for a tree of `size` leaves (the levels above hold about as many again).
fn min_level_for(size: u64, budget: usize) -> u8 {
    let mut level = 0u8;
    while (level as usize) < LEVELS - 1 && (size >> level).saturating_mul(2) > budget as u64 {
        level += 1;
    }
    level
}

impl NodeCache {
    /// Loads levels `>= min_level` of a tree of `size` leaves from `store`.
    pub fn load(store: &dyn Store, size: u64, budget: usize) -> Result<Self, StoreError> {
        let min_level = min_level_for(size, budget);
        let mut levels = vec![Vec::new(); LEVELS];
        for (level, slot) in levels.iter_mut().enumerate().skip(min_level as usize) {
            let count = size >> level;
            if count == 0 {
                break;
            }
            *slot = store.node_run(level as u8, 0, count)?;
        }
        Ok(NodeCache {
            budget,
            inner: RwLock::new(Inner { min_level, levels }),
        })
    }

    /// Adds the nodes of a committed batch (in the order the frontier
    /// emitted them) and raises `min_level` if the tree outgrew the budget.
    pub fn extend(&self, nodes: &[(NodeId, Hash)], new_size: u64) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let want = min_level_for(new_size, self.budget);
        while inner.min_level < want {
            let l = inner.min_level as usize;
            inner.levels[l] = Vec::new();
            inner.min_level += 1;
        }
        for (id, hash) in nodes {
            if id.level < inner.min_level {
                continue;
            }
            let level = &mut inner.levels[id.level as usize];
            // Only the next node in order; anything else stays a miss.
            if id.index == level.len() as u64 {
                level.push(*hash);
            }
        }
    }

    /// Hashes of `ids`, cached ones filled in and the rest fetched from
    /// `store` in one multi-get.
    pub fn nodes(&self, store: &dyn Store, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        let mut out = vec![[0u8; 32]; ids.len()];
        let mut missing: Vec<(usize, NodeId)> = Vec::new();
        {
            let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
            for (i, id) in ids.iter().enumerate() {
                match inner
                    .levels
                    .get(id.level as usize)
                    .and_then(|l| l.get(id.index as usize))
                {
                    Some(h) if id.level >= inner.min_level => out[i] = *h,
                    _ => missing.push((i, *id)),
                }
            }
        }
        if !missing.is_empty() {
            let want: Vec<NodeId> = missing.iter().map(|(_, id)| *id).collect();
            for ((i, _), h) in missing.iter().zip(store.nodes(&want)?) {
                out[*i] = h;
            }
        }
        Ok(out)
    }

    /// How many hashes are held (for metrics and tests).
    pub fn len(&self) -> usize {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.levels.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_level_keeps_the_budget() {
        assert_eq!(min_level_for(0, 1024), 0);
        assert_eq!(min_level_for(512, 1024), 0);
        assert_eq!(min_level_for(513, 1024), 1);
        assert_eq!(min_level_for(1_000_000, DEFAULT_BUDGET), 3);
        assert_eq!(min_level_for(u64::MAX, DEFAULT_BUDGET), 47);
        for size in [1u64, 1000, 1 << 20, 123_456_789] {
            let l = min_level_for(size, DEFAULT_BUDGET);
            let held: u64 = (l..64).map(|x| size >> x).sum();
            assert!(held <= DEFAULT_BUDGET as u64, "{size}: {held}");
        }
    }
}
