//! RFC 6962 / RFC 9162 Merkle tree hashing and proof verification (SHA-256).
//!
//! Every log in the stack (Rekor v1 and the tiles log) and every client that
//! checks them must agree on these bytes exactly:
//!
//! * a leaf hash is `SHA-256(0x00 || leaf bytes)` and an interior node is
//!   `SHA-256(0x01 || left || right)`, so a leaf can never be passed off as a
//!   node (second-preimage protection);
//! * the tree over `n > 1` leaves splits at `k`, the largest power of two
//!   strictly below `n` — not at the midpoint — so the left subtree is always
//!   perfect and a tree of size `m` is a prefix of every larger tree;
//! * the root of the empty tree is `SHA-256("")` (no prefix byte).
//!
//! Proof verification follows the decomposition used by RFC 9162 §2.1.3.2 /
//! §2.1.4.2 and by transparency-dev/merkle, sigstore-python and sigstore-js:
//! an audit path for leaf `index` in a tree of `size` leaves has exactly
//! `inner + border` hashes, where `inner = bit_length(index XOR (size - 1))`
//! and `border = popcount(index >> inner)`. Proofs of any other length are
//! rejected before any hashing, so padding a proof with extra hashes (which
//! some lenient verifiers ignore) never verifies here either.

use sha2::{Digest, Sha256};

/// A SHA-256 output: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// Domain-separation prefix for leaf hashes (RFC 6962 §2.1).
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix for interior node hashes (RFC 6962 §2.1).
const NODE_PREFIX: u8 = 0x01;

/// `SHA-256(0x00 || data)`: the hash of one log entry's exact bytes.
pub fn hash_leaf(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn hash_children(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// `SHA-256("")`: the root of the tree with no leaves.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Why a proof was rejected. Each variant carries the numbers needed to tell a
/// malformed request (wrong index or size) from a forged or stale proof.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    /// The leaf index is not inside the tree (this includes every index for
    /// the empty tree, which has no leaves to prove).
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// The proof has the wrong number of hashes for the claimed position.
    #[error("proof has {got} hashes but index/size require exactly {expected}")]
    WrongProofLength { expected: usize, got: usize },
    /// The hashes chain to a root other than the trusted one.
    #[error("computed root {computed} does not match the expected root {expected}")]
    RootMismatch { computed: String, expected: String },
    /// A consistency proof was requested from a larger tree to a smaller one.
    #[error("first tree size {size1} is larger than second tree size {size2}")]
    SizeDecreased { size1: u64, size2: u64 },
    /// Two trees of the same size must have the same root.
    #[error("trees of equal size {size} have different roots")]
    EqualSizeRootsDiffer { size: u64 },
    /// The empty tree has exactly one root, `SHA-256("")`.
    #[error("root claimed for the empty tree is not SHA-256(\"\")")]
    BadEmptyRoot,
    /// The first root of a consistency proof did not verify.
    #[error("consistency proof does not reproduce the first root (size {size1})")]
    FirstRootMismatch { size1: u64 },
    /// The second root of a consistency proof did not verify.
    #[error("consistency proof does not reproduce the second root (size {size2})")]
    SecondRootMismatch { size2: u64 },
}

/// Splits an audit path for `index` in a tree of `size` leaves (`index < size`)
/// into `(inner, border)`: `inner` hashes for the levels where the path to the
/// leaf and the path to the last leaf diverge, then `border` hashes of perfect
/// left subtrees along the right edge of the tree.
fn decompose(index: u64, size: u64) -> (usize, usize) {
    let inner = u64::BITS - (index ^ (size - 1)).leading_zeros();
    // `inner` reaches 64 for trees above 2^63 leaves, where a plain shift
    // would overflow (and in release builds silently shift by 0).
    let border = index.checked_shr(inner).unwrap_or(0).count_ones() as usize;
    (inner as usize, border)
}

/// Folds the inner part of a path: bit `i` of `index` says whether the sibling
/// at level `i` is on the left (1) or on the right (0).
fn chain_inner(seed: Hash, proof: &[Hash], index: u64) -> Hash {
    proof.iter().enumerate().fold(seed, |acc, (i, h)| {
        if (index >> i) & 1 == 0 {
            hash_children(&acc, h)
        } else {
            hash_children(h, &acc)
        }
    })
}

/// Like [`chain_inner`], but only the siblings on the left are folded in: this
/// reproduces the root of the tree cut off at the old size, in which the right
/// siblings did not exist yet.
fn chain_inner_right(seed: Hash, proof: &[Hash], index: u64) -> Hash {
    proof.iter().enumerate().fold(seed, |acc, (i, h)| {
        if (index >> i) & 1 == 1 {
            hash_children(h, &acc)
        } else {
            acc
        }
    })
}

/// Border hashes are always perfect subtrees to the left of the path.
fn chain_border_right(seed: Hash, proof: &[Hash]) -> Hash {
    proof.iter().fold(seed, |acc, h| hash_children(h, &acc))
}

fn mismatch(computed: &Hash, expected: &Hash) -> ProofError {
    ProofError::RootMismatch {
        computed: hex::encode(computed),
        expected: hex::encode(expected),
    }
}

/// Recomputes the root that an inclusion proof (audit path, ordered from the
/// leaf up) implies for `leaf_hash` at `index` in a tree of `size` leaves.
///
/// The result is only meaningful once compared with a trusted root; use
/// [`verify_inclusion`] unless the caller needs the root itself.
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (inner, border) = decompose(index, size);
    if proof.len() != inner + border {
        return Err(ProofError::WrongProofLength {
            expected: inner + border,
            got: proof.len(),
        });
    }
    let (inner_part, border_part) = proof.split_at(inner);
    let node = chain_inner(*leaf_hash, inner_part, index);
    Ok(chain_border_right(node, border_part))
}

/// Checks that `leaf_hash` is the leaf at `index` of the tree of `size` leaves
/// whose root is `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(index, size, leaf_hash, proof)?;
    if &computed != root {
        return Err(mismatch(&computed, root));
    }
    Ok(())
}

/// Checks that the tree of `size1` leaves with root `root1` is a prefix of the
/// tree of `size2` leaves with root `root2`, given the RFC 6962 `PROOF(m, D[n])`
/// hashes in `proof`.
///
/// Rules for the degenerate cases (RFC 9162 §2.1.4.2 only defines
/// `0 < size1 < size2`):
/// * `size1 > size2` is always an error: logs only grow;
/// * `size1 == size2` needs an empty proof and identical roots;
/// * `size1 == 0` needs an empty proof: the empty tree is a prefix of every
///   tree, so there is nothing to prove, but `root1` must still be the empty
///   root, because a caller holding anything else for size 0 has a bug or a
///   forged checkpoint. (transparency-dev/merkle does not look at `root1`
///   here; rejecting is the stricter choice and costs honest callers nothing.)
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    root1: &Hash,
    root2: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if size1 > size2 {
        return Err(ProofError::SizeDecreased { size1, size2 });
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                expected: 0,
                got: proof.len(),
            });
        }
        if size1 == 0 && root1 != &empty_root() {
            return Err(ProofError::BadEmptyRoot);
        }
        if root1 != root2 {
            return Err(ProofError::EqualSizeRootsDiffer { size: size1 });
        }
        return Ok(());
    }
    if size1 == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                expected: 0,
                got: proof.len(),
            });
        }
        if root1 != &empty_root() {
            return Err(ProofError::BadEmptyRoot);
        }
        return Ok(());
    }

    // From here 0 < size1 < size2. The proof is the audit path of the last
    // leaf of the old tree, except that the lowest `shift` levels are skipped:
    // they lie inside the perfect subtree of 2^shift leaves that ends at
    // size1, whose hash is the starting point instead of a leaf hash.
    let (inner, border) = decompose(size1 - 1, size2);
    let shift = size1.trailing_zeros() as usize;
    // size1 - 1 ends in `shift` one bits and size2 - 1 is larger, so they
    // differ above those bits: inner > shift always holds.
    let inner = inner.saturating_sub(shift);

    // When size1 is a power of two that subtree is the whole old tree, so its
    // hash is root1 and the proof does not repeat it (RFC 9162 step 2).
    let (seed, rest) = if size1 == 1 << shift {
        (*root1, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (*first, rest),
            None => {
                return Err(ProofError::WrongProofLength {
                    expected: 1 + inner + border,
                    got: 0,
                })
            }
        }
    };
    if rest.len() != inner + border {
        let seeded = proof.len() - rest.len();
        return Err(ProofError::WrongProofLength {
            expected: seeded + inner + border,
            got: proof.len(),
        });
    }
    let (inner_part, border_part) = rest.split_at(inner);
    let mask = (size1 - 1) >> shift;

    let old = chain_border_right(chain_inner_right(seed, inner_part, mask), border_part);
    if &old != root1 {
        return Err(ProofError::FirstRootMismatch { size1 });
    }
    let new = chain_border_right(chain_inner(seed, inner_part, mask), border_part);
    if &new != root2 {
        return Err(ProofError::SecondRootMismatch { size2 });
    }
    Ok(())
}

/// A direct transcription of the recursive definitions in RFC 6962 §2.1
/// (`MTH`, `PATH`, `PROOF`), with no attempt at efficiency. It exists so that
/// the fast verifiers above, the log's tile-based proof generator and other
/// crates' tests can be checked against the specification itself.
///
/// Functions here take indices and sizes that the caller controls; they panic
/// on out-of-range arguments (test code only).
pub mod reference {
    use super::{empty_root, hash_children, Hash};

    /// The largest power of two strictly less than `n` (`n >= 2`).
    fn split(n: usize) -> usize {
        debug_assert!(n >= 2);
        1 << (usize::BITS - 1 - (n - 1).leading_zeros())
    }

    /// `MTH(D[n])` over already-hashed leaves.
    pub fn root(leaf_hashes: &[Hash]) -> Hash {
        match leaf_hashes.len() {
            0 => empty_root(),
            1 => leaf_hashes[0],
            n => {
                let k = split(n);
                hash_children(&root(&leaf_hashes[..k]), &root(&leaf_hashes[k..]))
            }
        }
    }

    /// `PATH(m, D[n])`: the audit path of leaf `index`, ordered from the leaf
    /// up. Panics unless `index < leaf_hashes.len()`.
    pub fn inclusion_proof(leaf_hashes: &[Hash], index: u64) -> Vec<Hash> {
        let n = leaf_hashes.len();
        let m = usize::try_from(index).expect("index fits in usize");
        assert!(m < n, "index {m} out of range for {n} leaves");
        if n == 1 {
            return Vec::new();
        }
        let k = split(n);
        if m < k {
            let mut p = inclusion_proof(&leaf_hashes[..k], m as u64);
            p.push(root(&leaf_hashes[k..]));
            p
        } else {
            let mut p = inclusion_proof(&leaf_hashes[k..], (m - k) as u64);
            p.push(root(&leaf_hashes[..k]));
            p
        }
    }

    /// `PROOF(m, D[n])` for `m = size1`. Empty when `size1` is 0 or equals
    /// the tree size. Panics if `size1 > leaf_hashes.len()`.
    pub fn consistency_proof(leaf_hashes: &[Hash], size1: u64) -> Vec<Hash> {
        let m = usize::try_from(size1).expect("size fits in usize");
        assert!(m <= leaf_hashes.len(), "size1 {m} beyond the tree");
        if m == 0 || m == leaf_hashes.len() {
            return Vec::new();
        }
        subproof(m, leaf_hashes, true)
    }

    /// `SUBPROOF(m, D[n], b)`; `b` records whether the subtree being proven
    /// is the whole old tree (whose root the verifier already has).
    fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { Vec::new() } else { vec![root(d)] };
        }
        let k = split(n);
        if m <= k {
            let mut p = subproof(m, &d[..k], b);
            p.push(root(&d[k..]));
            p
        } else {
            let mut p = subproof(m - k, &d[k..], false);
            p.push(root(&d[..k]));
            p
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    // The RFC 6962 test vectors shared by certificate-transparency-go,
    // transparency-dev/merkle (proof/verify_test.go) and the Sigstore clients.
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn vector_leaves() -> Vec<Hash> {
        LEAVES
            .iter()
            .map(|l| hash_leaf(&hex::decode(l).unwrap()))
            .collect()
    }

    /// (1-based leaf number as in the upstream table, size, proof)
    fn inclusion_vectors() -> Vec<(u64, u64, Vec<Hash>)> {
        vec![
            (1, 1, vec![]),
            (
                1,
                8,
                vec![
                    h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
                ],
            ),
            (
                6,
                8,
                vec![
                    h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                    h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ],
            ),
            (
                3,
                3,
                vec![h(
                    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                )],
            ),
            (
                2,
                5,
                vec![
                    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                ],
            ),
        ]
    }

    fn consistency_vectors() -> Vec<(u64, u64, Vec<Hash>)> {
        vec![
            (1, 1, vec![]),
            (
                1,
                8,
                vec![
                    h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
                ],
            ),
            (
                6,
                8,
                vec![
                    h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                    h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ],
            ),
            (
                2,
                5,
                vec![
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                ],
            ),
            (
                6,
                7,
                vec![
                    h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                    h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
                    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ],
            ),
        ]
    }

    #[test]
    fn hashing_primitives() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(hash_leaf(b""), h(ROOTS[0]));
        let l = vector_leaves();
        assert_eq!(hash_children(&l[0], &l[1]), h(ROOTS[1]));
        assert_eq!(reference::root(&[]), empty_root());
    }

    #[test]
    fn published_roots() {
        let leaves = vector_leaves();
        for n in 1..=8 {
            assert_eq!(
                hex::encode(reference::root(&leaves[..n])),
                ROOTS[n - 1],
                "size {n}"
            );
        }
    }

    #[test]
    fn published_inclusion_proofs() {
        let leaves = vector_leaves();
        for (leaf, size, proof) in inclusion_vectors() {
            let index = leaf - 1;
            let root = h(ROOTS[size as usize - 1]);
            assert_eq!(
                reference::inclusion_proof(&leaves[..size as usize], index),
                proof
            );
            verify_inclusion(index, size, &leaves[index as usize], &proof, &root).unwrap();
            assert_eq!(
                root_from_inclusion_proof(index, size, &leaves[index as usize], &proof).unwrap(),
                root
            );
        }
    }

    #[test]
    fn published_consistency_proofs() {
        let leaves = vector_leaves();
        for (size1, size2, proof) in consistency_vectors() {
            let root1 = h(ROOTS[size1 as usize - 1]);
            let root2 = h(ROOTS[size2 as usize - 1]);
            assert_eq!(
                reference::consistency_proof(&leaves[..size2 as usize], size1),
                proof
            );
            verify_consistency(size1, size2, &root1, &root2, &proof).unwrap();
        }
    }

    #[test]
    fn inclusion_edge_cases() {
        let some = h("abacaba000000000000000000000000000000000000000000060061e00123456");
        let empty = empty_root();
        for (index, size) in [(0, 0), (1, 0), (2, 1), (1, 1)] {
            assert_eq!(
                verify_inclusion(index, size, &some, &[], &empty),
                Err(ProofError::IndexOutOfRange { index, size })
            );
        }
        // A one-leaf tree's root is its leaf hash and the proof is empty.
        let leaf = hash_leaf(b"data");
        verify_inclusion(0, 1, &leaf, &[], &leaf).unwrap();
        assert!(verify_inclusion(0, 1, &leaf, &[], &some).is_err());
        assert_eq!(
            verify_inclusion(0, 1, &leaf, &[leaf], &leaf),
            Err(ProofError::WrongProofLength {
                expected: 0,
                got: 1
            })
        );
        // Index and size at the top of the u64 range must not overflow.
        let err = root_from_inclusion_proof(u64::MAX - 1, u64::MAX, &leaf, &[]).unwrap_err();
        assert!(matches!(
            err,
            ProofError::WrongProofLength { expected: 63, .. }
        ));
        let err = root_from_inclusion_proof(0, u64::MAX, &leaf, &[]).unwrap_err();
        assert!(matches!(
            err,
            ProofError::WrongProofLength { expected: 64, .. }
        ));
        let err = verify_consistency(u64::MAX - 1, u64::MAX, &leaf, &leaf, &[]).unwrap_err();
        assert!(matches!(err, ProofError::WrongProofLength { .. }));
    }

    #[test]
    fn consistency_edge_cases() {
        let a = h("abacaba000000000000000000000000000000000000000000060061e00123456");
        let b = hash_leaf(b"b");
        let e = empty_root();
        assert_eq!(verify_consistency(0, 0, &e, &e, &[]), Ok(()));
        assert_eq!(
            verify_consistency(0, 0, &a, &a, &[]),
            Err(ProofError::BadEmptyRoot)
        );
        assert_eq!(verify_consistency(0, 5, &e, &b, &[]), Ok(()));
        assert_eq!(
            verify_consistency(0, 5, &a, &b, &[]),
            Err(ProofError::BadEmptyRoot)
        );
        assert_eq!(
            verify_consistency(0, 1, &e, &b, &[e]),
            Err(ProofError::WrongProofLength {
                expected: 0,
                got: 1
            })
        );
        assert_eq!(verify_consistency(1, 1, &b, &b, &[]), Ok(()));
        assert_eq!(
            verify_consistency(1, 1, &a, &b, &[]),
            Err(ProofError::EqualSizeRootsDiffer { size: 1 })
        );
        assert_eq!(
            verify_consistency(1, 1, &b, &b, &[e]),
            Err(ProofError::WrongProofLength {
                expected: 0,
                got: 1
            })
        );
        assert_eq!(
            verify_consistency(2, 1, &a, &b, &[]),
            Err(ProofError::SizeDecreased { size1: 2, size2: 1 })
        );
        assert!(matches!(
            verify_consistency(1, 2, &a, &b, &[]),
            Err(ProofError::WrongProofLength { .. })
        ));
        // Non-power-of-two size1 with an empty proof must not panic.
        assert!(matches!(
            verify_consistency(3, 4, &a, &b, &[]),
            Err(ProofError::WrongProofLength {
                expected: 3,
                got: 0
            })
        ));
    }

    /// Distinct, cheap leaves for the exhaustive tests.
    fn synthetic_leaves(n: usize) -> Vec<Hash> {
        (0..n as u32).map(|i| hash_leaf(&i.to_be_bytes())).collect()
    }

    const MAX: usize = 100;

    #[test]
    fn exhaustive_inclusion() {
        let leaves = synthetic_leaves(MAX);
        let bogus = hash_leaf(b"bogus");
        for size in 1..=MAX {
            let tree = &leaves[..size];
            let root = reference::root(tree);
            let size = size as u64;
            for index in 0..size {
                let leaf = &tree[index as usize];
                let proof = reference::inclusion_proof(tree, index);
                verify_inclusion(index, size, leaf, &proof, &root)
                    .unwrap_or_else(|e| panic!("{index}/{size}: {e}"));

                let reject = |i: u64, s: u64, l: &Hash, p: &[Hash], r: &Hash, what: &str| {
                    assert!(
                        verify_inclusion(i, s, l, p, r).is_err(),
                        "{what} accepted for index {index} size {size}"
                    );
                };
                reject(index, size, &bogus, &proof, &root, "wrong leaf");
                reject(index, size, leaf, &proof, &bogus, "wrong root");
                if index > 0 {
                    reject(index - 1, size, leaf, &proof, &root, "index - 1");
                }
                reject(index + 1, size, leaf, &proof, &root, "index + 1");
                reject(index ^ 2, size, leaf, &proof, &root, "index ^ 2");
                reject(index, size * 2, leaf, &proof, &root, "size * 2");
                reject(index, size / 2, leaf, &proof, &root, "size / 2");
                for i in 0..proof.len() {
                    let mut p = proof.clone();
                    p[i][0] ^= 8;
                    reject(index, size, leaf, &p, &root, "flipped bit");
                }
                let mut longer = proof.clone();
                longer.push(root);
                reject(index, size, leaf, &longer, &root, "trailing hash");
                let mut prefixed = vec![root];
                prefixed.extend_from_slice(&proof);
                reject(index, size, leaf, &prefixed, &root, "preceding hash");
                if !proof.is_empty() {
                    reject(
                        index,
                        size,
                        leaf,
                        &proof[..proof.len() - 1],
                        &root,
                        "dropped",
                    );
                    let mut inserted = proof.clone();
                    inserted.insert(1, bogus);
                    reject(index, size, leaf, &inserted, &root, "inserted");
                }
            }
        }
    }

    #[test]
    fn exhaustive_consistency() {
        let leaves = synthetic_leaves(MAX);
        let roots: Vec<Hash> = (0..=MAX).map(|n| reference::root(&leaves[..n])).collect();
        let bogus = hash_leaf(b"bogus");
        for size2 in 1..=MAX {
            let tree = &leaves[..size2];
            let r2 = roots[size2];
            for (size1, &r1) in roots.iter().enumerate().take(size2 + 1).skip(1) {
                let proof = reference::consistency_proof(tree, size1 as u64);
                let (m, n) = (size1 as u64, size2 as u64);
                verify_consistency(m, n, &r1, &r2, &proof)
                    .unwrap_or_else(|e| panic!("{m}->{n}: {e}"));

                let reject = |a: u64, b: u64, x: &Hash, y: &Hash, p: &[Hash], what: &str| {
                    assert!(
                        verify_consistency(a, b, x, y, p).is_err(),
                        "{what} accepted for {m} -> {n}"
                    );
                };
                reject(m, n, &bogus, &r2, &proof, "wrong root1");
                reject(m, n, &r1, &bogus, &proof, "wrong root2");
                if m != n {
                    reject(m, n, &r2, &r1, &proof, "swapped roots");
                    reject(m - 1, n, &r1, &r2, &proof, "size1 - 1");
                }
                reject(m + 1, n, &r1, &r2, &proof, "size1 + 1");
                reject(m, n * 2, &r1, &r2, &proof, "size2 * 2");
                if m ^ 2 != m && (m ^ 2) != 0 {
                    reject(m ^ 2, n, &r1, &r2, &proof, "size1 ^ 2");
                }
                for i in 0..proof.len() {
                    let mut p = proof.clone();
                    p[i][31] ^= 16;
                    reject(m, n, &r1, &r2, &p, "flipped bit");
                }
                let mut longer = proof.clone();
                longer.push(r2);
                reject(m, n, &r1, &r2, &longer, "trailing hash");
                let mut prefixed = vec![r1];
                prefixed.extend_from_slice(&proof);
                reject(m, n, &r1, &r2, &prefixed, "preceding root1");
                if !proof.is_empty() {
                    reject(m, n, &r1, &r2, &[], "empty proof");
                    reject(m, n, &r1, &r2, &proof[1..], "dropped first");
                    reject(m, n, &r1, &r2, &proof[..proof.len() - 1], "dropped last");
                    let mut dup = vec![proof[0]];
                    dup.extend_from_slice(&proof);
                    reject(m, n, &r1, &r2, &dup, "preceding proof[0]");
                }
            }
        }
    }

    #[test]
    fn reference_proofs_have_the_decomposed_length() {
        let leaves = synthetic_leaves(64);
        for size in 1..=64u64 {
            for index in 0..size {
                let (inner, border) = decompose(index, size);
                assert_eq!(
                    reference::inclusion_proof(&leaves[..size as usize], index).len(),
                    inner + border
                );
            }
        }
    }
}
