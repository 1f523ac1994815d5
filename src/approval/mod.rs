//! Approvals bound to the exact change, and evidence anyone can verify with OpenSSH.
//!
//! An approver signs a [`manifest::Manifest`] of what a run will do with their SSH key
//! (`runbook approve`); `run` and `rollback` check the runbook's [`policy::Policy`] against
//! those signatures, the allowed signers file and the target before anything else happens
//! ([`gate`]); the run journals which approvals it ran under and can sign its final seal
//! ([`seal`]). Every signature is an OpenSSH SSHSIG, so `ssh-keygen -Y verify` checks the same.

pub mod audit;
pub mod gate;
pub mod manifest;
pub mod policy;
pub mod seal;
pub mod signature;
pub mod window;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One approval a run was allowed by, as its journal records it: enough to check the
/// signature again from the journal alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApprovalRecord {
    /// Where the approval came from (a file name, or a ticket attachment).
    pub source: String,
    /// The approver's principal in the allowed signers file.
    pub principal: String,
    /// `SHA256:…` of the approver's key.
    pub key_fingerprint: String,
    /// sha256 of the manifest's bytes.
    pub manifest_sha256: String,
    /// When the approval stops being valid (RFC 3339).
    pub expires: String,
    /// The manifest as signed, and its armored SSHSIG signature.
    pub manifest: String,
    pub signature: String,
}

/// What the approval gate decided for a run, carried into its journal.
#[derive(Debug, Clone, Default)]
pub struct RunApproval {
    pub approvals: Vec<ApprovalRecord>,
    /// `--emergency REASON`: the run went ahead without approvals.
    pub emergency: Option<String>,
    /// sha256 of this run's change manifest (what it would do).
    pub change_sha256: Option<String>,
    /// `--sign-key`: the key that signs the final seal, and its fingerprint.
    pub sign_key: Option<PathBuf>,
    pub sign_key_fingerprint: Option<String>,
}

impl RunApproval {
    /// For `resume`: the run's seal key, so that the run it finishes is signed like one that
    /// never stopped. The key must still be the one journaled; otherwise the seal stays
    /// unsigned and `audit verify` says so.
    pub fn resumed(entries: &[crate::journal::Entry]) -> RunApproval {
        let Some(crate::journal::Event::RunStarted(crate::journal::RunHeader { seal_key: Some(fp), seal_key_path: Some(path), .. })) =
            entries.first().map(|e| &e.event)
        else {
            return RunApproval::default();
        };
        match signature::Signer::open(std::path::Path::new(path)) {
            Ok(s) if &s.fingerprint() == fp => {
                RunApproval { sign_key: Some(PathBuf::from(path)), sign_key_fingerprint: Some(fp.clone()), ..RunApproval::default() }
            }
            Ok(s) => {
                crate::ui::panel::warn(format!(
                    "{path} is now key {}, not the run's seal key {fp}: the final seal will not be signed",
                    s.fingerprint()
                ));
                RunApproval::default()
            }
            Err(e) => {
                crate::ui::panel::warn(format!("the run's seal key cannot be used ({e}): the final seal will not be signed"));
                RunApproval::default()
            }
        }
    }
}
