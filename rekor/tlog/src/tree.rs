//! Tree arithmetic: which stored nodes make up a subtree, a proof, a root.
//!
//! The store holds every *perfect* subtree: node `(level, index)` is the root
//! of leaves `[index << level, (index + 1) << level)` and exists once all of
//! those leaves exist. Any hash a proof needs is either such a node or the
//! root of an RFC 6962 right-hand range `[a, b)`, which is a fold of at most
//! log2(b - a) stored nodes. Proofs are therefore planned as lists of node IDs,
//! fetched in one multi-get and folded; the tree is never rebuilt.

use sigstack_core::merkle::{hash_children, Hash};

/// A perfect subtree: leaves `[index << level, (index + 1) << level)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

impl NodeId {
    pub fn new(level: u8, index: u64) -> Self {
        NodeId { level, index }
    }

    /// Fixed-width key: big-endian so RocksDB keeps a level's nodes in order.
    pub fn key(&self) -> [u8; 9] {
        let mut k = [0u8; 9];
        k[0] = self.level;
        k[1..].copy_from_slice(&self.index.to_be_bytes());
        k
    }
}

/// Largest power of two strictly less than `n` (n >= 2).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The perfect subtrees covering `[a, b)`, left to right. `a` must be aligned
/// so that the greedy split yields the RFC 6962 shape, which holds for every
/// range the proof recursions below produce (and for `[0, n)`).
pub fn range_nodes(mut a: u64, b: u64, out: &mut Vec<NodeId>) {
    while a < b {
        let max_by_align = if a == 0 { 63 } else { a.trailing_zeros() };
        let max_by_len = 63 - (b - a).leading_zeros();
        let level = max_by_align.min(max_by_len);
        out.push(NodeId::new(level as u8, a >> level));
        a += 1u64 << level;
    }
}

/// Folds the node hashes of one range (left to right) into its RFC 6962 root.
pub fn fold_range(hashes: &[Hash]) -> Option<Hash> {
    let mut iter = hashes.iter().rev();
    let mut acc = *iter.next()?;
    for h in iter {
        acc = hash_children(h, &acc);
    }
    Some(acc)
}

/// A proof as ranges whose roots are the proof hashes, in proof order.
/// Each range is a run of node IDs in `nodes`: `(start, len)`.
#[derive(Debug, Default)]
pub struct ProofPlan {
    pub nodes: Vec<NodeId>,
    pub ranges: Vec<(usize, usize)>,
}

impl ProofPlan {
    fn push_range(&mut self, a: u64, b: u64) {
        let start = self.nodes.len();
        range_nodes(a, b, &mut self.nodes);
        self.ranges.push((start, self.nodes.len() - start));
    }

    /// Turns fetched node hashes (same order as `nodes`) into proof hashes.
    pub fn assemble(&self, hashes: &[Hash]) -> Vec<Hash> {
        self.ranges
            .iter()
            .filter_map(|&(s, l)| fold_range(&hashes[s..s + l]))
            .collect()
    }
}

/// RFC 6962 PATH(index, D[0:size]), leaf to root. Caller checks index < size.
pub fn inclusion_plan(index: u64, size: u64) -> ProofPlan {
    let mut plan = ProofPlan::default();
    // Walk down from the root, recording siblings, then reverse to leaf→root.
    let (mut a, mut b) = (0u64, size);
    let mut siblings = Vec::new();
    while b - a > 1 {
        let k = split_point(b - a);
        if index < a + k {
            siblings.push((a + k, b));
            b = a + k;
        } else {
            siblings.push((a, a + k));
            a += k;
        }
    }
    for &(x, y) in siblings.iter().rev() {
        plan.push_range(x, y);
    }
    plan
}

/// RFC 6962 PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true). Caller checks
/// 0 < m <= n.
pub fn consistency_plan(m: u64, n: u64) -> ProofPlan {
    let mut plan = ProofPlan::default();
    let mut tail = Vec::new(); // ranges appended after the recursion, reversed
    let (mut a, mut b, mut m, mut start) = (0u64, n, m, true);
    loop {
        let size = b - a;
        if m == size {
            if !start {
                plan.push_range(a, b);
            }
            break;
        }
        let k = split_point(size);
        if m <= k {
            tail.push((a + k, b));
            b = a + k;
        } else {
            tail.push((a, a + k));
            a += k;
            m -= k;
            start = false;
        }
    }
    for &(x, y) in tail.iter().rev() {
        plan.push_range(x, y);
    }
    plan
}

/// The right border of a tree: for each set bit `l` of the size, the perfect
/// subtree at that level. This is all the sequencer keeps in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `levels[l]` is the pending left node at level `l` (Some iff bit l of size is set).
    levels: Vec<Option<Hash>>,
}

impl Frontier {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Node IDs whose hashes rebuild the frontier of a tree of `size`.
    pub fn node_ids(size: u64) -> Vec<NodeId> {
        (0..64u8)
            .filter(|l| size >> l & 1 == 1)
            .map(|l| NodeId::new(l, (size >> l) - 1))
            .collect()
    }

    /// Rebuilds from the hashes of [`Frontier::node_ids`] (same order).
    pub fn from_nodes(size: u64, hashes: &[Hash]) -> Option<Self> {
        let ids = Self::node_ids(size);
        if ids.len() != hashes.len() {
            return None;
        }
        let mut levels = vec![None; 64];
        for (id, h) in ids.iter().zip(hashes) {
            levels[id.level as usize] = Some(*h);
        }
        Some(Frontier { size, levels })
    }

    /// Appends one leaf; calls `emit` for every node that becomes perfect
    /// (the leaf itself first, then each newly completed ancestor).
    pub fn push(&mut self, leaf: Hash, mut emit: impl FnMut(NodeId, Hash)) {
        if self.levels.is_empty() {
            self.levels = vec![None; 64];
        }
        let index = self.size;
        emit(NodeId::new(0, index), leaf);
        let mut h = leaf;
        let mut level = 0usize;
        while let Some(left) = self.levels[level].take() {
            h = hash_children(&left, &h);
            level += 1;
            emit(NodeId::new(level as u8, index >> level), h);
        }
        self.levels[level] = Some(h);
        self.size += 1;
    }

    /// Root of the current tree (None for the empty tree).
    pub fn root(&self) -> Option<Hash> {
        let mut acc: Option<Hash> = None;
        for h in self.levels.iter().flatten() {
            acc = Some(match acc {
                None => *h,
                Some(right) => hash_children(h, &right),
            });
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigstack_core::merkle::{hash_leaf, reference};
    use std::collections::HashMap;

    fn build(n: u64) -> (Vec<Hash>, HashMap<NodeId, Hash>, Frontier) {
        let leaves: Vec<Hash> = (0..n).map(|i| hash_leaf(&i.to_be_bytes())).collect();
        let mut nodes = HashMap::new();
        let mut f = Frontier::default();
        for l in &leaves {
            f.push(*l, |id, h| {
                assert!(nodes.insert(id, h).is_none(), "node emitted twice");
            });
        }
        (leaves, nodes, f)
    }

    fn fetch(plan: &ProofPlan, nodes: &HashMap<NodeId, Hash>) -> Vec<Hash> {
        let hashes: Vec<Hash> = plan.nodes.iter().map(|id| nodes[id]).collect();
        plan.assemble(&hashes)
    }

    #[test]
    fn frontier_root_and_nodes_match_reference() {
        for n in 1..=70u64 {
            let (leaves, nodes, f) = build(n);
            assert_eq!(f.root(), Some(reference::root(&leaves)), "size {n}");
            // Every perfect subtree is stored exactly once: 2n - popcount(n).
            assert_eq!(nodes.len() as u64, 2 * n - n.count_ones() as u64);
            let ids = Frontier::node_ids(n);
            let hashes: Vec<Hash> = ids.iter().map(|id| nodes[id]).collect();
            assert_eq!(Frontier::from_nodes(n, &hashes).unwrap(), f);
            let mut all = Vec::new();
            range_nodes(0, n, &mut all);
            let hs: Vec<Hash> = all.iter().map(|id| nodes[id]).collect();
            assert_eq!(fold_range(&hs), f.root());
        }
    }

    #[test]
    fn proofs_match_reference_all_sizes() {
        let (leaves, nodes, _) = build(100);
        for n in 1..=100u64 {
            let prefix = &leaves[..n as usize];
            for i in 0..n {
                let got = fetch(&inclusion_plan(i, n), &nodes);
                assert_eq!(got, reference::inclusion_proof(prefix, i), "incl {i}/{n}");
            }
            for m in 1..=n {
                let got = fetch(&consistency_plan(m, n), &nodes);
                assert_eq!(got, reference::consistency_proof(prefix, m), "cons {m}/{n}");
            }
        }
    }
}
