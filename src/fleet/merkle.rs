//! The fleet seal: a Merkle root over the targets' journal seals, so that one target's
//! evidence can be shown to belong to the fleet with a short proof, without the others'.
//!
//! Leaves and inner nodes are hashed with different prefixes (0x00, 0x01) so that a leaf can
//! never pass for a node; an unpaired node moves up a level unchanged.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The leaf of one run: its place in the fleet folder and the seal its journal ends with.
pub fn leaf(run: &str, seal: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(run.as_bytes());
    h.update([0u8]);
    h.update(seal.as_bytes());
    h.finalize().into()
}

fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root over `leaves` in order (all zeros for none).
pub fn root(leaves: &[[u8; 32]]) -> String {
    if leaves.is_empty() {
        return crate::journal::GENESIS.to_string();
    }
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = level.chunks(2).map(|p| if p.len() == 2 { node(&p[0], &p[1]) } else { p[0] }).collect();
    }
    hex::encode(level[0])
}

/// One step of an inclusion proof: the sibling hash and on which side it sits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofStep {
    pub side: Side,
    pub hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Left,
    Right,
}

/// The siblings from leaf `index` up to the root.
pub fn proof(leaves: &[[u8; 32]], mut index: usize) -> Vec<ProofStep> {
    let mut out = Vec::new();
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        let sibling = index ^ 1;
        if sibling < level.len() {
            let side = if sibling < index { Side::Left } else { Side::Right };
            out.push(ProofStep { side, hash: hex::encode(level[sibling]) });
        }
        level = level.chunks(2).map(|p| if p.len() == 2 { node(&p[0], &p[1]) } else { p[0] }).collect();
        index /= 2;
    }
    out
}

/// Whether `proof` leads from `leaf` to `root`.
pub fn check(leaf: [u8; 32], proof: &[ProofStep], root: &str) -> bool {
    let mut acc = leaf;
    for step in proof {
        let Some(sib) = hex::decode(&step.hash).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()) else {
            return false;
        };
        acc = match step.side {
            Side::Left => node(&sib, &acc),
            Side::Right => node(&acc, &sib),
        };
    }
    hex::encode(acc) == root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_leaf_proves_into_the_root_and_a_changed_seal_does_not() {
        for n in 1..12 {
            let leaves: Vec<[u8; 32]> = (0..n).map(|i| leaf(&format!("t{i}/run"), &format!("{i:064}"))).collect();
            let r = root(&leaves);
            for i in 0..n {
                let p = proof(&leaves, i);
                assert!(check(leaves[i], &p, &r), "n={n} i={i}");
                assert!(!check(leaf(&format!("t{i}/run"), &"f".repeat(64)), &p, &r));
            }
        }
    }
}
