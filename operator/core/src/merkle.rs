//! Merkle tree hashes and inclusion proofs as defined in RFC 6962 section 2.1
//! (the hashing and proof format RFC 9162 section 2.1 keeps).
//!
//! Leaves are hashed as `SHA-256(0x00 || data)` and interior nodes as
//! `SHA-256(0x01 || left || right)`, so a leaf can never be passed off as a
//! node. A tree of `n > 1` leaves splits at the largest power of two strictly
//! less than `n`; the empty tree's hash is SHA-256 of the empty string.
//!
//! An inclusion proof ties a leaf to a root for a given index and tree size,
//! but it does not authenticate the tree size: some proofs verify for several
//! sizes (e.g. leaf 0 of 3 and of 4 have the same proof and root computation).
//! Callers must take the size from the same signed checkpoint as the root.

use sha2::{Digest as _, Sha256};

pub type Hash = [u8; 32];

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum MerkleError {
    #[error("leaf index {index} is out of range for a tree of size {tree_size}")]
    IndexOutOfRange { index: u64, tree_size: u64 },
    #[error(
        "inclusion proof has {got} hashes, but {expected} are needed for this leaf index and \
         tree size"
    )]
    ProofLength { expected: usize, got: usize },
    #[error("inclusion proof leads to root {computed}, but the expected root is {expected}")]
    RootMismatch { expected: String, computed: String },
}

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(data);
    hasher.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The Merkle Tree Hash (MTH) of a list of leaf hashes.
///
/// Iterative: `n - 1` node hashes and at most 64 hashes of working memory.
/// Leaves are folded into a stack of perfect subtrees whose sizes are the
/// binary digits of the count so far (like a binary counter); the final
/// stack, folded from the right, is exactly the RFC 6962 recursion, which
/// splits off the largest power of two each time.
pub fn root_from_leaf_hashes(leaves: &[Hash]) -> Hash {
    let mut stack: Vec<Hash> = Vec::with_capacity(64);
    for (i, leaf) in leaves.iter().enumerate() {
        let mut subtree = *leaf;
        // Adding leaf i completes one perfect subtree per trailing zero of i+1.
        for _ in 0..(i + 1).trailing_zeros() {
            let left = stack.pop().expect("a completed subtree has a left sibling");
            subtree = node_hash(&left, &subtree);
        }
        stack.push(subtree);
    }
    let Some(mut root) = stack.pop() else {
        return Sha256::digest([]).into();
    };
    while let Some(left) = stack.pop() {
        root = node_hash(&left, &root);
    }
    root
}

/// [`root_from_leaf_hashes`] for leaves that arrive one at a time, so a
/// ledger's root can be computed while it is read, in at most 64 hashes of
/// memory however many leaves there are.
#[derive(Debug, Clone, Default)]
pub struct RootBuilder {
    stack: Vec<Hash>,
    count: u64,
}

impl RootBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, leaf: Hash) {
        self.count += 1;
        let mut subtree = leaf;
        for _ in 0..self.count.trailing_zeros() {
            let Some(left) = self.stack.pop() else { break };
            subtree = node_hash(&left, &subtree);
        }
        self.stack.push(subtree);
    }

    /// The number of leaves pushed so far.
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The Merkle Tree Hash of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        let mut rest = self.stack.iter().rev();
        let Some(mut root) = rest.next().copied() else {
            return Sha256::digest([]).into();
        };
        for left in rest {
            root = node_hash(left, &root);
        }
        root
    }
}

/// The Merkle Tree Hash of raw leaf data.
pub fn root(leaf_data: &[&[u8]]) -> Hash {
    let leaves: Vec<Hash> = leaf_data.iter().map(|data| leaf_hash(data)).collect();
    root_from_leaf_hashes(&leaves)
}

/// The audit path `PATH(index, D[n])` of RFC 6962 section 2.1.1, ordered from
/// the leaf's sibling up to the root's child. O(n) hashing.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Result<Vec<Hash>, MerkleError> {
    if index >= leaves.len() {
        return Err(MerkleError::IndexOutOfRange {
            index: index as u64,
            tree_size: leaves.len() as u64,
        });
    }
    // Walk down from the root; the subtree holding the leaf is leaves[lo..hi].
    let (mut lo, mut hi) = (0, leaves.len());
    let mut path = Vec::with_capacity(64);
    while hi - lo > 1 {
        let split = lo + largest_power_of_two_below(hi - lo);
        if index < split {
            path.push(root_from_leaf_hashes(&leaves[split..hi]));
            hi = split;
        } else {
            path.push(root_from_leaf_hashes(&leaves[lo..split]));
            lo = split;
        }
    }
    path.reverse();
    Ok(path)
}

/// Verifies that `leaf_hash` is leaf `index` of the tree of `tree_size`
/// leaves whose hash is `root`, with the algorithm of RFC 9162 section
/// 2.1.3.2.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    if index >= tree_size {
        return Err(MerkleError::IndexOutOfRange { index, tree_size });
    }
    let expected = inclusion_proof_len(index, tree_size);
    let length_error = MerkleError::ProofLength {
        expected,
        got: proof.len(),
    };
    if proof.len() != expected {
        return Err(length_error);
    }

    let (mut f_n, mut s_n) = (index, tree_size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if s_n == 0 {
            return Err(length_error);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(length_error);
    }
    if r != *root {
        return Err(MerkleError::RootMismatch {
            expected: hex::encode(root),
            computed: hex::encode(r),
        });
    }
    Ok(())
}

/// The length of `PATH(index, D[tree_size])` for `index < tree_size`: one
/// hash per level below the point where the paths to `index` and to the last
/// leaf diverge, plus one per level above it where `index` is in a right
/// subtree (there the last leaf's side is a perfect subtree).
fn inclusion_proof_len(index: u64, tree_size: u64) -> usize {
    let inner = u64::BITS - (index ^ (tree_size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// For `n >= 2`, the largest power of two strictly less than `n`.
fn largest_power_of_two_below(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_builder_agrees_with_the_batch_root() {
        let leaves: Vec<Hash> = (0u32..70).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        for n in 0..leaves.len() {
            let mut b = RootBuilder::new();
            leaves[..n].iter().for_each(|l| b.push(*l));
            assert_eq!(b.len(), n as u64);
            assert_eq!(b.root(), root_from_leaf_hashes(&leaves[..n]), "n = {n}");
        }
    }

    #[test]
    fn split_points() {
        let cases = [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (1 << 20, 1 << 19),
        ];
        for (n, k) in cases {
            assert_eq!(largest_power_of_two_below(n), k, "n = {n}");
        }
    }

    #[test]
    fn proof_length_matches_generated_proofs() {
        for size in 1..=40_usize {
            let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&i.to_le_bytes())).collect();
            for index in 0..size {
                assert_eq!(
                    inclusion_proof_len(index as u64, size as u64),
                    inclusion_proof(&leaves, index).unwrap().len(),
                    "index {index} size {size}"
                );
            }
        }
        assert_eq!(inclusion_proof_len(0, u64::MAX), 64);
        assert_eq!(inclusion_proof_len(u64::MAX - 1, u64::MAX), 63);
    }
}
