//! RFC 6962 reference vectors and properties of `attestor_core::merkle`.

use attestor_core::merkle::{
    Hash, MerkleError, inclusion_proof, leaf_hash, node_hash, root, root_from_leaf_hashes,
    verify_inclusion,
};
use proptest::prelude::*;

fn h(hex_digits: &str) -> Hash {
    let mut out = [0; 32];
    hex::decode_to_slice(hex_digits, &mut out).unwrap();
    out
}

/// Leaves and roots of the certificate-transparency reference test data
/// (RFC 6962 Merkle tree tests, as also used by Trillian).
const CT_LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

const CT_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

const EMPTY_ROOT: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Published inclusion paths: (leaf index, tree size, path).
const CT_INCLUSION_PROOFS: &[(u64, u64, &[&str])] = &[
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

fn ct_leaf_data() -> Vec<Vec<u8>> {
    CT_LEAVES.iter().map(|l| hex::decode(l).unwrap()).collect()
}

fn ct_leaf_hashes() -> Vec<Hash> {
    ct_leaf_data().iter().map(|d| leaf_hash(d)).collect()
}

/// Leaves for generated trees: distinct, so no two subtrees share a hash.
fn leaves(n: usize) -> Vec<Hash> {
    (0..n as u64).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

/// RFC 6962 section 2.1, written as the recursive definition, for comparison.
fn reference_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => h(EMPTY_ROOT),
        1 => leaves[0],
        n => {
            let k = reference_split(n);
            node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
        }
    }
}

fn reference_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n == 1 {
        return vec![];
    }
    let k = reference_split(n);
    if m < k {
        let mut path = reference_path(m, &leaves[..k]);
        path.push(reference_root(&leaves[k..]));
        path
    } else {
        let mut path = reference_path(m - k, &leaves[k..]);
        path.push(reference_root(&leaves[..k]));
        path
    }
}

fn reference_split(n: usize) -> usize {
    let mut k = 1;
    while k < n - k {
        k *= 2;
    }
    k
}

/// For each path element from the bottom, whether the sibling is on the left:
/// the order in which a verifier must combine the hashes.
fn path_shape(m: u64, n: u64) -> Vec<bool> {
    if n == 1 {
        return vec![];
    }
    let k = reference_split(n as usize) as u64;
    if m < k {
        let mut shape = path_shape(m, k);
        shape.push(false);
        shape
    } else {
        let mut shape = path_shape(m - k, n - k);
        shape.push(true);
        shape
    }
}

// --- published vectors -------------------------------------------------------

#[test]
fn ct_reference_roots() {
    assert_eq!(root(&[]), h(EMPTY_ROOT));
    assert_eq!(root_from_leaf_hashes(&[]), h(EMPTY_ROOT));
    let data = ct_leaf_data();
    let slices: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    for (size, expected) in (1..=8).zip(CT_ROOTS) {
        assert_eq!(hex::encode(root(&slices[..size])), expected, "size {size}");
        assert_eq!(
            hex::encode(root_from_leaf_hashes(&ct_leaf_hashes()[..size])),
            expected
        );
    }
    // A one-leaf tree's root is the leaf hash of "" here.
    assert_eq!(hex::encode(leaf_hash(b"")), CT_ROOTS[0]);
}

#[test]
fn ct_reference_inclusion_proofs() {
    let hashes = ct_leaf_hashes();
    for &(index, size, expected) in CT_INCLUSION_PROOFS {
        let expected: Vec<Hash> = expected.iter().map(|e| h(e)).collect();
        let proof = inclusion_proof(&hashes[..size as usize], index as usize).unwrap();
        assert_eq!(proof, expected, "leaf {index} of {size}");
        let root = h(CT_ROOTS[size as usize - 1]);
        verify_inclusion(&hashes[index as usize], index, size, &expected, &root).unwrap();
    }
}

// --- errors --------------------------------------------------------------------

#[test]
fn verify_refuses_bad_index_and_size() {
    let hashes = ct_leaf_hashes();
    let root8 = h(CT_ROOTS[7]);
    let proof = inclusion_proof(&hashes, 0).unwrap();
    for (index, size) in [(8, 8), (9, 8), (0, 0), (u64::MAX, 8), (u64::MAX, u64::MAX)] {
        assert_eq!(
            verify_inclusion(&hashes[0], index, size, &proof, &root8),
            Err(MerkleError::IndexOutOfRange {
                index,
                tree_size: size
            })
        );
    }
    assert_eq!(
        MerkleError::IndexOutOfRange {
            index: 0,
            tree_size: 0
        }
        .to_string(),
        "leaf index 0 is out of range for a tree of size 0"
    );
    assert_eq!(
        inclusion_proof(&hashes, 8),
        Err(MerkleError::IndexOutOfRange {
            index: 8,
            tree_size: 8
        })
    );
    assert_eq!(
        inclusion_proof(&[], 0),
        Err(MerkleError::IndexOutOfRange {
            index: 0,
            tree_size: 0
        })
    );
}

#[test]
fn verify_refuses_wrong_proof_lengths() {
    let hashes = ct_leaf_hashes();
    let root8 = h(CT_ROOTS[7]);
    let proof = inclusion_proof(&hashes, 5).unwrap();
    let mut longer = proof.clone();
    longer.push(root8);
    let mut front = vec![root8];
    front.extend_from_slice(&proof);
    for (bad, got) in [
        (&proof[..2], 2),
        (&proof[..0], 0),
        (&longer[..], 4),
        (&front[..], 4),
    ] {
        let e = verify_inclusion(&hashes[5], 5, 8, bad, &root8).unwrap_err();
        assert_eq!(e, MerkleError::ProofLength { expected: 3, got });
    }
    assert_eq!(
        MerkleError::ProofLength {
            expected: 3,
            got: 4
        }
        .to_string(),
        "inclusion proof has 4 hashes, but 3 are needed for this leaf index and tree size"
    );
    // A one-leaf tree needs an empty proof.
    assert_eq!(
        verify_inclusion(&hashes[0], 0, 1, &[hashes[1]], &hashes[0]),
        Err(MerkleError::ProofLength {
            expected: 0,
            got: 1
        })
    );
    verify_inclusion(&hashes[0], 0, 1, &[], &hashes[0]).unwrap();
}

#[test]
fn verify_reports_both_roots_on_mismatch() {
    let hashes = ct_leaf_hashes();
    let proof = inclusion_proof(&hashes, 5).unwrap();
    let e = verify_inclusion(&hashes[5], 5, 8, &proof, &h(EMPTY_ROOT)).unwrap_err();
    assert_eq!(
        e,
        MerkleError::RootMismatch {
            expected: EMPTY_ROOT.into(),
            computed: CT_ROOTS[7].into()
        }
    );
    assert_eq!(
        e.to_string(),
        format!(
            "inclusion proof leads to root {}, but the expected root is {EMPTY_ROOT}",
            CT_ROOTS[7]
        )
    );
    // Wrong leaf, and leaf data given where its hash is expected.
    assert!(verify_inclusion(&hashes[4], 5, 8, &proof, &h(CT_ROOTS[7])).is_err());
    assert!(verify_inclusion(&h(CT_ROOTS[7]), 5, 8, &proof, &h(CT_ROOTS[7])).is_err());
}

// --- generated trees ---------------------------------------------------------

#[test]
fn every_index_of_every_size_up_to_70() {
    let all = leaves(70);
    for size in 1..=70 {
        let tree = &all[..size];
        let root = root_from_leaf_hashes(tree);
        assert_eq!(root, reference_root(tree), "size {size}");
        for index in 0..size {
            let proof = inclusion_proof(tree, index).unwrap();
            assert_eq!(proof.len(), path_shape(index as u64, size as u64).len());
            verify_inclusion(&tree[index], index as u64, size as u64, &proof, &root)
                .unwrap_or_else(|e| panic!("leaf {index} of {size}: {e}"));
        }
        assert!(inclusion_proof(tree, size).is_err());
    }
}

fn flip(hash: &Hash, bit: usize) -> Hash {
    let mut out = *hash;
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

/// Every single-bit change of the leaf hash, of any proof element or of the
/// root is detected. Hashing is slow in debug builds, so this runs on a
/// spread of (index, size) pairs rather than all of them.
#[test]
fn every_bit_flip_of_leaf_proof_or_root_fails() {
    let all = leaves(70);
    let cases = [
        (0, 1),
        (0, 2),
        (1, 2),
        (2, 3),
        (4, 5),
        (3, 7),
        (5, 8),
        (0, 70),
        (37, 70),
        (64, 70),
        (69, 70),
    ];
    for (index, size) in cases {
        let tree = &all[..size];
        let root = root_from_leaf_hashes(tree);
        let proof = inclusion_proof(tree, index).unwrap();
        let (i, n) = (index as u64, size as u64);
        verify_inclusion(&tree[index], i, n, &proof, &root).unwrap();
        for bit in 0..256 {
            assert!(verify_inclusion(&flip(&tree[index], bit), i, n, &proof, &root).is_err());
            assert!(matches!(
                verify_inclusion(&tree[index], i, n, &proof, &flip(&root, bit)),
                Err(MerkleError::RootMismatch { .. })
            ));
            for element in 0..proof.len() {
                let mut tampered = proof.clone();
                tampered[element] = flip(&tampered[element], bit);
                assert!(verify_inclusion(&tree[index], i, n, &tampered, &root).is_err());
            }
        }
    }
}

/// Every single-bit change of the index fails, for every leaf of every size
/// up to 70.
///
/// The tree size is different: RFC 6962 proofs do not commit to it, and a
/// proof for (index, size) also verifies for another size whenever the path
/// has the same shape there (same length, same left/right order), e.g. leaf 0
/// of 5 and of 7. The test checks that a size change is accepted exactly in
/// that case, which is why the size must come from the signed checkpoint.
#[test]
fn every_bit_flip_of_index_fails_and_of_size_only_with_the_same_path_shape() {
    let all = leaves(70);
    let mut same_shape = 0;
    for size in 1..=70_usize {
        let tree = &all[..size];
        let root = root_from_leaf_hashes(tree);
        let n = size as u64;
        for index in 0..size {
            let proof = inclusion_proof(tree, index).unwrap();
            let i = index as u64;
            let shape = path_shape(i, n);
            for bit in 0..64 {
                let other = i ^ (1 << bit);
                assert!(
                    verify_inclusion(&tree[index], other, n, &proof, &root).is_err(),
                    "leaf {index} of {size} verified as leaf {other}"
                );

                let other = n ^ (1 << bit);
                let accepted = verify_inclusion(&tree[index], i, other, &proof, &root).is_ok();
                let indistinguishable = i < other && path_shape(i, other) == shape;
                assert_eq!(
                    accepted, indistinguishable,
                    "leaf {index} of {size} as size {other}"
                );
                same_shape += usize::from(accepted);
            }
        }
    }
    // Leaf 0 of 5 verifies as leaf 0 of 7 (and similar cases exist).
    let tree = &all[..5];
    let proof = inclusion_proof(tree, 0).unwrap();
    verify_inclusion(&tree[0], 0, 7, &proof, &root_from_leaf_hashes(tree)).unwrap();
    assert!(same_shape > 0);
}

/// A ledger-sized tree: the root is built iteratively (no recursion depth
/// concerns) and agrees with the roots that proofs for both halves lead to.
/// Debug-build hashing is slow, so the leaves are distinct values rather
/// than hashes and there is no recursive reference computation here.
#[test]
fn large_tree_root_and_proofs() {
    const SIZE: usize = 150_000;
    let tree: Vec<Hash> = (0..SIZE as u64)
        .map(|i| {
            let mut leaf = [0xa5; 32];
            leaf[..8].copy_from_slice(&i.to_le_bytes());
            leaf
        })
        .collect();
    let root = root_from_leaf_hashes(&tree);
    for index in [131_071, SIZE - 1] {
        let proof = inclusion_proof(&tree, index).unwrap();
        assert_eq!(proof.len(), path_shape(index as u64, SIZE as u64).len());
        verify_inclusion(&tree[index], index as u64, SIZE as u64, &proof, &root).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_trees_up_to_2000(size in 1..=2000_usize, pick in any::<prop::sample::Index>(), tamper in any::<prop::sample::Index>()) {
        let tree = leaves(size);
        let index = pick.index(size);
        let root = root_from_leaf_hashes(&tree);
        prop_assert_eq!(root, reference_root(&tree));
        let proof = inclusion_proof(&tree, index).unwrap();
        prop_assert_eq!(&proof, &reference_path(index, &tree));
        prop_assert!(verify_inclusion(&tree[index], index as u64, size as u64, &proof, &root).is_ok());
        if !proof.is_empty() {
            let mut tampered = proof.clone();
            let element = tamper.index(proof.len());
            tampered[element] = flip(&tampered[element], element % 256);
            prop_assert!(verify_inclusion(&tree[index], index as u64, size as u64, &tampered, &root).is_err());
        }
        let other = (index + 1) % size;
        if other != index {
            prop_assert!(verify_inclusion(&tree[other], index as u64, size as u64, &proof, &root).is_err());
        }
    }
}
