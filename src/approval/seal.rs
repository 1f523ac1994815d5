//! Signed seals: `run --sign-key KEY` signs the journal's final seal, so that a journal
//! rewritten with a recomputed hash chain no longer matches a signature only the operator's
//! key could make. The seal is written to `seal` and its signature to `seal.sig` in the run
//! folder; `ssh-keygen -Y verify -n runbook-seal -s seal.sig < seal` checks it.

use std::path::Path;

use super::signature::{Signer, SEAL_NAMESPACE};
use crate::error::{Error, Result};

pub const SEAL_FILE: &str = "seal";
pub const SIG_FILE: &str = "seal.sig";

/// The bytes that are signed: the seal in hex and a newline.
pub fn seal_bytes(seal: &str) -> Vec<u8> {
    format!("{seal}\n").into_bytes()
}

/// Sign `seal` with the key at `key` into `run_dir`.
pub fn sign(run_dir: &Path, seal: &str, key: &Path) -> Result<()> {
    let signer = Signer::open(key)?;
    let sig = signer.sign(SEAL_NAMESPACE, &seal_bytes(seal))?;
    for (name, bytes) in [(SEAL_FILE, seal_bytes(seal)), (SIG_FILE, sig.into_bytes())] {
        let path = run_dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| Error::write(&path, e))?;
        crate::durable::sync_parent(&path)?;
    }
    Ok(())
}

/// The signature files of a run folder that belong on its ticket beside the journal: the
/// signed seal and any retro-approvals, each with its `.sig`, in a stable order.
pub fn evidence_files(run_dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if run_dir.join(SIG_FILE).is_file() {
        out.extend([run_dir.join(SEAL_FILE), run_dir.join(SIG_FILE)]);
    }
    let mut approvals: Vec<_> = std::fs::read_dir(run_dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "approval")).collect())
        .unwrap_or_default();
    approvals.sort();
    for a in approvals {
        let sig = super::gate::sig_path(&a);
        if sig.is_file() {
            out.extend([a, sig]);
        }
    }
    out
}
