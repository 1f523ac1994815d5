//! `runbook audit verify RUN_DIR`: recompute the journal's hash chain.

use std::path::Path;

use crate::error::{Error, Result, EXIT_FAILED};
use crate::journal::verify::{verify as check, Verdict};
use crate::ui::panel;

pub fn verify(run_dir: &Path, seal: Option<&str>, allowed_signers: Option<&Path>) -> Result<i32> {
    let allowed = allowed_signers.map(crate::approval::signature::AllowedSigners::read).transpose()?;
    let seal = seal.map(str::trim).filter(|s| !s.is_empty());
    if let Some(s) = seal {
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::usage(format!("--seal {s}: a seal is 64 hexadecimal digits (the sha256 shown in the report)")));
        }
    }
    let seal = seal.map(|s| s.to_ascii_lowercase());
    let verdict = check(run_dir, seal.as_deref())?;
    let seal_note = if seal.is_some() { "; it ends with the report's seal" } else { "" };
    let code = match verdict {
        Verdict::Intact { lines, seal } => {
            panel::ok(format!("journal intact: {lines} lines, seal {seal}{seal_note}"));
            0
        }
        Verdict::Torn { lines, seal } => {
            panel::warn(format!(
                "journal intact up to line {lines}; line {} is torn (cut off mid-write, as when the process is killed), not tampered with. Seal of the intact part: {seal}{seal_note}",
                lines + 1
            ));
            0
        }
        Verdict::Broken { line, reason } => {
            panel::fail(format!("journal broken at line {line}: {reason}"));
            EXIT_FAILED
        }
    };
    // Signatures and approvals: a rewritten journal with a recomputed chain passes the chain
    // check, but not the seal signature made when the run ended.
    let mut failed = false;
    for (ok, line) in crate::approval::audit::check(run_dir, allowed.as_ref())? {
        if ok {
            panel::ok(line);
        } else {
            panel::fail(line);
            failed = true;
        }
    }
    Ok(if failed { EXIT_FAILED } else { code })
}
