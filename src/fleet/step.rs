//! `scope: fleet` steps: run once for the whole fleet, by the fleet itself, between the pass
//! that brings every target up to the step and the pass that takes them on from it.
//!
//! Such a step never touches a target's database (validation allows only `command` and
//! `manual` steps), so it needs no run of its own: the fleet record holds its decision and its
//! outcome, its output goes to `fleet-step-<id>.log` in the fleet folder (secrets masked), and
//! every target's journal then records the step as done at fleet level with a reference to the
//! `fleet.jsonl` line of its outcome.

use std::path::Path;
use std::time::Instant;

use super::journal::FleetEvent;
use crate::error::{Error, Result, EXIT_FAILED, EXIT_OK, EXIT_STOPPED};
use crate::exec::interrupt::{self, Interrupts};
use crate::exec::step::command::run_in_group;
use crate::journal::Journal;
use crate::load::vars::Vars;
use crate::redact::Redactor;
use crate::runbook::{Action, CommandAction, CommandLine, Loaded, Step};
use crate::ui::prompt::ItemAnswer;
use crate::ui::{self, panel, Prompter};

/// The plan's fleet steps that run in this fleet (a `--skip` leaves the step to each target,
/// which records the skip itself).
pub fn fleet_steps<'a>(loaded: &'a Loaded, skips: &[String]) -> Vec<&'a Step> {
    loaded
        .plan
        .iter()
        .filter(|s| s.scope == crate::runbook::Scope::Fleet)
        .filter(|s| !skips.iter().any(|k| k.split_once('=').map(|(id, _)| id).unwrap_or(k).trim() == s.id))
        .collect()
}

/// Ask, run the step once, and record both in the fleet record. Returns the exit code the
/// fleet goes on with: 0 (continue), 1 (the step failed) or 3 (the operator said no); a signal
/// (or Ctrl-C typed at its prompt) is [`Error::Interrupted`], after the step's end is recorded
/// as `interrupted` when it had started (its command's process group is ended).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    dir: &Path,
    journal: &mut Journal,
    loaded: &Loaded,
    vars: &Vars,
    step: &Step,
    prompter: &mut Box<dyn Prompter>,
    interrupts: &Interrupts,
    operator: &str,
) -> Result<i32> {
    let how = if prompter.interactive() { "interactive" } else { prompter.how() }.to_string();
    ui::out(format!("Fleet step `{}`: {} — once for the whole fleet", step.id, step.name));
    let question = format!("Run `{}` ({}) once for the whole fleet now?", step.id, step.name);
    let go = interrupt::ask(prompter, Some(interrupts), move |p| p.confirm(&question, true)).await?;
    journal.record_event(&FleetEvent::FleetStepStarted {
        step_id: step.id.clone(),
        name: step.name.clone(),
        kind: step.kind.as_str().into(),
        decision: if go { "run".into() } else { "stop".into() },
        by: operator.to_string(),
        how: how.clone(),
    })?;
    if !go {
        return Ok(EXIT_STOPPED);
    }
    let started = Instant::now();
    let done = match &step.action {
        // The command only runs: a signal drops it, which ends its whole process group.
        Action::Command(a) => tokio::select! {
            r = command(dir, loaded, vars, step, a) => r,
            signal = interrupts.signalled() => Err(Error::Interrupted { signal: signal.into() }),
        },
        Action::Manual(m) => {
            if let Some(text) = &m.instructions {
                ui::out(vars.mask(text).trim_end());
            }
            checklist(prompter, interrupts, step, &m.checklist, &how).await
        }
        // Validation allows no other kind at fleet scope.
        _ => return Err(Error::failed(format!("step `{}`: a {} step cannot run at fleet scope", step.id, step.kind))),
    };
    let (ok, detail, log) = match done {
        Err(Error::Interrupted { signal }) => {
            // The step's end is evidence too: it neither passed nor failed, and runs again at
            // `fleet resume` (only a passed fleet step counts as done).
            journal.record_event(&FleetEvent::FleetStepFinished {
                step_id: step.id.clone(),
                status: "interrupted".into(),
                detail: format!("interrupted by {signal}"),
                log: None,
                duration_ms: started.elapsed().as_millis() as u64,
            })?;
            return Err(Error::Interrupted { signal });
        }
        other => other?,
    };
    journal.record_event(&FleetEvent::FleetStepFinished {
        step_id: step.id.clone(),
        status: if ok { "passed".into() } else { "failed".into() },
        detail: detail.clone(),
        log,
        duration_ms: started.elapsed().as_millis() as u64,
    })?;
    if ok {
        panel::ok(format!("fleet step `{}`: {detail}", step.id));
        Ok(EXIT_OK)
    } else {
        panel::fail(format!("fleet step `{}` failed: {detail}", step.id));
        Ok(EXIT_FAILED)
    }
}

/// Ask a manual step's checklist once for the fleet, item by item, until one is not confirmed.
async fn checklist(
    prompter: &mut Box<dyn Prompter>,
    interrupts: &Interrupts,
    step: &Step,
    items: &[String],
    how: &str,
) -> Result<(bool, String, Option<String>)> {
    let mut ok = true;
    for item in items {
        let question = format!("fleet, {}: {item}", step.name);
        // "Not yet" means the operator is still on it: ask again until it is settled.
        let answer = interrupt::ask(prompter, Some(interrupts), move |p| loop {
            match p.checklist_item(&question)? {
                ItemAnswer::Yes => break Ok(true),
                ItemAnswer::No => break Ok(false),
                ItemAnswer::NotYet => continue,
            }
        })
        .await?;
        ok &= answer;
        if !answer {
            break;
        }
    }
    let detail = if ok { format!("checklist confirmed ({how})") } else { format!("checklist not confirmed ({how})") };
    Ok((ok, detail, None))
}

/// Run a command step once, its output (secrets masked) in the fleet folder.
async fn command(dir: &Path, loaded: &Loaded, vars: &Vars, step: &Step, a: &CommandAction) -> Result<(bool, String, Option<String>)> {
    let (program, args): (String, Vec<String>) = match &a.command.value {
        CommandLine::Argv(v) => {
            let mut it = v.iter().map(|x| vars.render(x));
            let p = it.next().ok_or_else(|| Error::failed("empty command"))??;
            (p, it.collect::<Result<_>>()?)
        }
        CommandLine::Line(l) => ("sh".into(), vec!["-c".into(), vars.render(l)?]),
    };
    let mut cmd = tokio::process::Command::new(&program);
    cmd.args(&args);
    cmd.current_dir(match &a.workdir {
        Some(w) => loaded.dir.join(vars.render(w)?),
        None => loaded.dir.clone(),
    });
    // No database and no run: a fleet step sees the fleet folder instead.
    cmd.env("RUNBOOK_FLEET_DIR", dir).env("RUNBOOK_STEP_ID", &step.id);
    for (k, v) in &a.env {
        cmd.env(k, vars.render(v)?);
    }
    let shown = crate::exec::step::command::describe(a, vars);
    ui::out(format!("  {shown}"));
    // The same runner and the same limit as a command step in a target's run: a timeout drops
    // the command, which ends its whole process group.
    let limit = crate::exec::timeout::limit(step, vars)?;
    let out = match crate::exec::timeout::within(limit, run_in_group(cmd, &program)).await {
        Ok(out) => out,
        // A command that cannot start or runs out of time fails the step, as in a target's run.
        Err(Error::Failed { message }) => return Ok((false, format!("{shown}: {message}"), None)),
        Err(e) => return Err(e),
    };
    let redactor = Redactor::new(vars.secret_values());
    let text = redactor.text(&format!("{}{}", out.stdout, out.stderr));
    for l in text.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev() {
        panel::info(l);
    }
    let name = format!("fleet-step-{}.log", step.id);
    let path = dir.join(&name);
    crate::durable::write_private(&path, text.as_bytes())?;
    let code = out.status.code();
    let detail = match code {
        Some(0) => format!("{shown}: exit 0"),
        Some(c) => format!("{shown}: exit {c}"),
        None => format!("{shown}: killed by a signal"),
    };
    Ok((code == Some(0), detail, Some(name)))
}
