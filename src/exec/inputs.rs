//! Preflight of a run's inputs, before step 1: the files monitoring checks read exist and can
//! be opened, and the programs command steps start are on PATH. A wrong `app_log` path found
//! at step 8, after the column was added and users synced, is found here instead, before
//! anything has changed.

use std::path::Path;

use crate::load::vars::Vars;
use crate::runbook::{Action, CommandLine, Step};

/// Every problem with the inputs of `steps` (those not in `skipped`), each naming its step.
pub fn problems(steps: &[Step], vars: &Vars, skipped: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        if skipped.contains(&s.id) {
            continue;
        }
        let at = format!("step {} `{}`", i + 1, s.id);
        match &s.action {
            Action::Monitor(a) => {
                for c in &a.checks {
                    let Some(log) = &c.log else { continue };
                    let Ok(path) = vars.render(log) else { continue };
                    if let Err(e) = std::fs::File::open(&path) {
                        out.push(format!("{at}: monitor check `{}` reads {}, which cannot be opened: {e}", c.name, vars.mask(&path)));
                    }
                }
            }
            Action::Command(a) if !a.shell => {
                if let CommandLine::Argv(argv) = &a.command.value {
                    let Some(Ok(program)) = argv.first().map(|p| vars.render(p)) else { continue };
                    // A path is taken as given (it may be relative to the step's folder); a
                    // bare name must be found on PATH.
                    if !program.contains('/') && which::which(Path::new(&program)).is_err() {
                        out.push(format!("{at}: the program `{}` is not on PATH", vars.mask(&program)));
                    }
                }
            }
            _ => {}
        }
    }
    out
}
