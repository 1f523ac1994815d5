//! The approval half of `runbook audit verify`: the seal signature, every approval the run
//! journaled, and an emergency run's retro-approval, each checked as `ssh-keygen -Y verify`
//! would check it.

use std::path::Path;

use ssh_key::{PublicKey, SshSig};

use super::gate::{self, Given};
use super::manifest;
use super::seal::{seal_bytes, SIG_FILE};
use super::signature::{fingerprint, AllowedSigners, SEAL_NAMESPACE};
use crate::error::Result;
use crate::journal::Event;

/// One finding: whether it holds, and what was checked.
pub type Finding = (bool, String);

/// Check the run folder's signatures against its journal (whose chain the caller checked).
pub fn check(run_dir: &Path, allowed: Option<&AllowedSigners>) -> Result<Vec<Finding>> {
    let (entries, seal, _) = crate::journal::read_readable(run_dir)?;
    let mut out = Vec::new();
    let Some(Event::RunStarted(crate::journal::RunHeader { run_id, operator, approvals, emergency, seal_key, .. })) =
        entries.first().map(|e| &e.event)
    else {
        return Ok(out);
    };
    let sig_path = run_dir.join(SIG_FILE);
    match std::fs::read_to_string(&sig_path) {
        Ok(pem) => out.push(seal_signature(&pem, &seal, seal_key.as_deref(), allowed)),
        Err(_) if seal_key.is_some() => out.push((
            false,
            format!("the run was to be signed with key {}, but {SIG_FILE} is missing", seal_key.as_deref().unwrap_or_default()),
        )),
        Err(_) => {}
    }
    for a in approvals {
        let given = Given { source: a.source.clone(), manifest: a.manifest.clone(), signature: a.signature.clone() };
        if manifest::sha256(a.manifest.as_bytes()) != a.manifest_sha256 {
            out.push((false, format!("approval {} by {}: the journaled manifest does not match its sha256", a.source, a.principal)));
            continue;
        }
        out.push(match allowed {
            None => (
                true,
                format!("approval by {} (key {}) recorded; pass --allowed-signers to check its signature", a.principal, a.key_fingerprint),
            ),
            Some(allowed) => match gate::verify_one(allowed, &given) {
                Ok((m, fp)) if m.approver.principal == a.principal => (true, format!("approval by {} (key {fp}) verifies", a.principal)),
                Ok((m, _)) => (false, format!("approval {}: signed by {}, journaled as {}", a.source, m.approver.principal, a.principal)),
                Err(e) => (false, strip_nothing_run(&e.to_string())),
            },
        });
    }
    if let Some(reason) = emergency {
        out.push(retro(run_dir, run_id, operator, &seal, reason, allowed));
    }
    Ok(out)
}

fn strip_nothing_run(s: &str) -> String {
    s.trim_end_matches("; nothing was run").to_string()
}

fn seal_signature(pem: &str, seal: &str, seal_key: Option<&str>, allowed: Option<&AllowedSigners>) -> Finding {
    let Ok(sig) = SshSig::from_pem(pem.trim()) else {
        return (false, format!("{SIG_FILE} is not an SSH signature"));
    };
    let key = PublicKey::new(sig.public_key().clone(), "");
    let fp = fingerprint(&key);
    if sig.namespace() != SEAL_NAMESPACE || key.verify(SEAL_NAMESPACE, &seal_bytes(seal), &sig).is_err() {
        return (false, format!("{SIG_FILE} does not sign this journal's seal {seal}: the journal changed after the run signed it"));
    }
    if let Some(k) = seal_key {
        if k != fp {
            return (false, format!("{SIG_FILE} is signed with key {fp}, but the run journaled key {k}"));
        }
    }
    match allowed {
        Some(a) => {
            let who = a.principals_for(key.key_data(), SEAL_NAMESPACE);
            if who.is_empty() {
                (false, format!("{SIG_FILE}: key {fp} is not in the allowed signers"))
            } else {
                (true, format!("seal signature by {} (key {fp}) verifies", who.join(", ")))
            }
        }
        None => (true, format!("seal signature by key {fp} verifies; pass --allowed-signers to check who holds it")),
    }
}

/// An emergency run counts as approved once a valid retro-approval of its final seal exists.
fn retro(run_dir: &Path, run_id: &str, operator: &str, seal: &str, reason: &str, allowed: Option<&AllowedSigners>) -> Finding {
    let awaiting = format!("emergency change ({reason}) awaiting retro-approval: runbook approve --retro {} --key KEY", run_dir.display());
    let Some(allowed) = allowed else {
        return (false, format!("{awaiting}; pass --allowed-signers to check retro-approvals"));
    };
    let mut files: Vec<_> = std::fs::read_dir(run_dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "approval")).collect())
        .unwrap_or_default();
    files.sort();
    let mut problems = Vec::new();
    for f in files {
        let Ok(given) = Given::read(&f) else { continue };
        match gate::verify_one(allowed, &given) {
            Ok((m, fp)) => match &m.run {
                Some(_) if m.approver.principal == operator => {
                    problems.push(format!("{} is by {operator}, who ran the change: no self-approval", f.display()))
                }
                Some(r) if m.kind == "retro" && r.run_id == run_id && r.seal == seal => {
                    return (true, format!("emergency change retro-approved by {} (key {fp})", m.approver.principal));
                }
                _ => problems.push(format!("{} is not a retro-approval of this run's final seal", f.display())),
            },
            Err(e) => problems.push(strip_nothing_run(&e.to_string())),
        }
    }
    if problems.is_empty() {
        (false, awaiting)
    } else {
        (false, format!("{awaiting} ({})", problems.join("; ")))
    }
}
