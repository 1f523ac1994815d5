//! `runbook audit verify FLEET_DIR`: the fleet record's own chain, every target journal
//! against the seal the fleet recorded for it, and the Merkle root over those seals.

use std::path::Path;

use super::journal::FleetEntry;
use super::state::FleetState;
use crate::error::{Error, Result};
use crate::journal::verify::{verify as verify_run, verify_chain, Verdict};

/// What was found, problem by problem; empty means the fleet's evidence holds.
#[derive(Debug, Default)]
pub struct Findings {
    pub lines: usize,
    pub runs: usize,
    pub root: Option<String>,
    pub problems: Vec<String>,
    pub torn: bool,
}

pub fn verify(dir: &Path) -> Result<Findings> {
    let path = dir.join(super::FILE_NAME);
    let bytes = std::fs::read(&path).map_err(|e| Error::read(&path, e))?;
    let mut f = Findings::default();
    match verify_chain::<FleetEntry>(&bytes, None) {
        Verdict::Intact { lines, .. } => f.lines = lines,
        Verdict::Torn { lines, .. } => {
            f.lines = lines;
            f.torn = true;
        }
        Verdict::Broken { line, reason } => {
            f.problems.push(format!("{}: broken at line {line}: {reason}", super::FILE_NAME));
            return Ok(f);
        }
    }
    let state = FleetState::from_entries(&super::journal::read(dir)?)?;
    for run in &state.runs {
        let (Some(rd), Some(seal)) = (&run.run_dir, &run.seal) else { continue };
        f.runs += 1;
        match verify_run(&dir.join(rd), Some(seal)) {
            Ok(v) if v.is_ok() => {}
            Ok(Verdict::Broken { line, reason }) => {
                f.problems.push(format!("target {} ({rd}): journal broken at line {line}: {reason}", run.target))
            }
            Ok(_) => {}
            Err(e) => f.problems.push(format!("target {} ({rd}): {e}", run.target)),
        }
    }
    if let Some((root, _, _, covered)) = &state.finished {
        let again = super::merkle::root(&state.leaves(*covered));
        if &again != root {
            f.problems.push(format!("the fleet root {root} is not the Merkle root of the recorded target seals ({again})"));
        }
        f.root = Some(root.clone());
    }
    Ok(f)
}
