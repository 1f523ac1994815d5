//! `runbook fleet run|resume|collect|proof`: one runbook across many databases (see
//! `crate::fleet`); and the fleet side of `report` and `audit verify`.

use std::path::{Path, PathBuf};

use crate::cli::{FleetCommand, FleetRedmine};
use crate::error::{Error, Result, EXIT_FAILED};
use crate::fleet::journal::{FleetEvent, TargetOutline};
use crate::fleet::orchestrate::{self, Settings};
use crate::fleet::state::FleetState;
use crate::fleet::{self, merkle, targets, waves};
use crate::ui::panel;

pub async fn dispatch(command: FleetCommand) -> Result<i32> {
    match command {
        FleetCommand::Run {
            file,
            targets,
            select,
            waves,
            parallel,
            max_failures,
            on_target_failure,
            pause_between_waves,
            vars,
            confirm,
            skip,
            runs_dir,
            operator,
            redmine,
        } => {
            let plan = RunPlan {
                file,
                targets,
                select,
                waves,
                parallel,
                max_failures,
                rollback: on_target_failure == crate::cli::opts::OnFailureArg::Rollback,
                pause: pause_between_waves,
                vars: vars.vars,
                yes: confirm.yes,
                skips: skip,
                runs_dir,
                operator: operator.unwrap_or_else(whoami::username),
                redmine,
            };
            run(plan).await
        }
        FleetCommand::Resume { fleet_dir, yes, rerun_in_flight, operator, redmine } => {
            resume(&fleet_dir, yes, rerun_in_flight, operator.unwrap_or_else(whoami::username), &redmine).await
        }
        FleetCommand::Collect { run_dirs, output, operator } => {
            fleet::collect::collect(&run_dirs, &output, &operator.unwrap_or_else(whoami::username))
        }
        FleetCommand::Proof { fleet_dir, target } => proof(&fleet_dir, &target),
    }
}

struct RunPlan {
    file: PathBuf,
    targets: PathBuf,
    select: Vec<String>,
    waves: String,
    parallel: usize,
    max_failures: String,
    rollback: bool,
    pause: Option<String>,
    vars: Vec<(String, String)>,
    yes: bool,
    skips: Vec<String>,
    runs_dir: PathBuf,
    operator: String,
    redmine: FleetRedmine,
}

/// Post the fleet's evidence once the fleet has ended, when asked to (`--redmine`). The
/// fleet's exit code stands; a post that fails is an error of its own after it.
async fn post_after(dir: &Path, code: i32, redmine: &FleetRedmine) -> Result<i32> {
    if let (Some(url), Some(issue)) = (&redmine.redmine, redmine.issue) {
        fleet::post::post_and_tell(dir, url, issue, redmine.text_format).await?;
    }
    Ok(code)
}

async fn run(p: RunPlan) -> Result<i32> {
    // From the start: a signal before the first prompt is not lost, it ends the fleet there.
    let interrupts = crate::exec::interrupt::listen();
    // A missing API key is found before any target is touched, not after the fleet.
    if let Some(url) = &p.redmine.redmine {
        crate::redmine::Client::from_env(url)?;
    }
    let loaded = crate::load::load(&p.file)?;
    let resolved = crate::load::vars::Vars::resolve(&loaded.doc, &p.vars)?;
    for (k, _) in &p.vars {
        if resolved.is_secret(k) {
            return Err(Error::usage(format!(
                "--var {k}=…: `{k}` is secret; a fleet passes variables to its targets on their command line, so set it through its environment variable instead"
            )));
        }
    }
    for s in &p.skips {
        let id = s.split_once('=').map(|(id, _)| id).unwrap_or(s).trim();
        if !loaded.plan.iter().any(|st| st.id == id) {
            return Err(Error::usage(format!("--skip {id}: the plan has no step `{id}`")));
        }
    }
    let select = p
        .select
        .iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
            _ => Err(Error::usage(format!("--select {s}: write LABEL=VALUE"))),
        })
        .collect::<Result<Vec<_>>>()?;
    let all = targets::select(targets::load(&p.targets)?, &select)?;
    let sizes = waves::parse_waves(&p.waves)?;
    let max = waves::Size::parse(&p.max_failures, "--max-failures")?;
    if p.parallel == 0 {
        return Err(Error::usage("--parallel 0: at least one target must be able to run"));
    }
    let pause = match &p.pause {
        Some(d) => Some(crate::runbook::duration::parse(d).map_err(|e| Error::usage(format!("--pause-between-waves {d}: {e}")))?),
        None => None,
    };
    let mut prompter = super::prompter(p.yes)?;
    let planned = waves::plan(all.len(), &sizes);
    let runbook = std::path::absolute(&p.file).unwrap_or(p.file.clone());
    let fleet_id = orchestrate::new_fleet_id();
    let dir = std::path::absolute(&p.runs_dir).unwrap_or(p.runs_dir.clone()).join(&fleet_id);
    let event = FleetEvent::FleetStarted {
        fleet_id: fleet_id.clone(),
        mode: "run".into(),
        runbook_id: loaded.doc.id.value.clone(),
        title: loaded.title().to_string(),
        runbook_path: runbook.display().to_string(),
        runbook_sha256: loaded.sha256.clone(),
        operator: p.operator.clone(),
        host: whoami::fallible::hostname().unwrap_or_else(|_| "unknown".into()),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        confirmation: if p.yes { "auto-confirmed (--yes)".into() } else { "interactive, once per wave".into() },
        targets: all
            .iter()
            .map(|t| TargetOutline {
                name: t.name.clone(),
                target: t.display(),
                db: t.db_template.clone(),
                vars: t.vars.clone(),
                labels: t.labels.clone(),
            })
            .collect(),
        waves: planned.iter().map(|r| all[r.clone()].iter().map(|t| t.name.clone()).collect()).collect(),
        parallel: p.parallel,
        max_failures: max.label(),
        budget: waves::budget(all.len(), max),
        on_target_failure: if p.rollback { "rollback".into() } else { "stop".into() },
        skips: p.skips.clone(),
        vars: p.vars.iter().cloned().collect(),
    };
    let (journal, state) = orchestrate::open(&dir, event)?;
    crate::ui::out(format!(
        "Fleet {fleet_id}: {} · {} target(s) in {} wave(s) · --parallel {} · --max-failures {}",
        loaded.title(),
        all.len(),
        planned.len(),
        p.parallel,
        max.label()
    ));
    crate::ui::out(format!("Fleet folder: {}", dir.display()));
    let settings = Settings {
        runbook,
        parallel: p.parallel,
        rollback_on_failure: p.rollback,
        pause,
        skips: p.skips,
        vars: state.vars.clone(),
        operator: p.operator,
        rerun_in_flight: false,
    };
    let code = orchestrate::drive(&dir, journal, state, &settings, &mut prompter, &interrupts, &loaded).await?;
    post_after(&dir, code, &p.redmine).await
}

async fn resume(dir: &Path, yes: bool, rerun_in_flight: bool, operator: String, redmine: &FleetRedmine) -> Result<i32> {
    let interrupts = crate::exec::interrupt::listen();
    if !fleet::is_fleet_dir(dir) {
        return Err(Error::usage(format!("{}: not a fleet folder (no {})", dir.display(), fleet::FILE_NAME)));
    }
    let state = FleetState::from_entries(&fleet::journal::read(dir)?)?;
    if state.mode != "run" {
        return Err(Error::usage(format!("{}: a collected fleet has nothing to resume; resume its runs where they ran", dir.display())));
    }
    let loaded = crate::load::load(Path::new(&state.runbook_path))?;
    if loaded.sha256 != state.runbook_sha256 {
        return Err(Error::usage(format!(
            "{}: the runbook changed since the fleet started (sha256 {} then, {} now); a fleet finishes the change it started",
            state.runbook_path, state.runbook_sha256, loaded.sha256
        )));
    }
    let mut prompter = super::prompter(yes)?;
    let dir = std::path::absolute(dir).unwrap_or(dir.to_path_buf());
    let mut journal = fleet::journal::append(&dir, crate::redact::Redactor::default())?;
    let how = if yes { "auto-confirmed (--yes)" } else { "interactive" };
    journal.record_event(&FleetEvent::FleetResumed { by: operator.clone(), how: how.into() })?;
    let mut state = state;
    state.apply(&FleetEvent::FleetResumed { by: String::new(), how: String::new() }, "");
    crate::ui::out(format!("Resuming fleet {} ({} target(s))", state.fleet_id, state.targets.len()));
    let settings = Settings {
        runbook: PathBuf::from(&state.runbook_path),
        parallel: state.parallel,
        rollback_on_failure: state.on_target_failure == "rollback",
        pause: None,
        skips: state.skips.clone(),
        vars: state.vars.clone(),
        operator,
        rerun_in_flight,
    };
    let code = orchestrate::drive(&dir, journal, state, &settings, &mut prompter, &interrupts, &loaded).await?;
    post_after(&dir, code, redmine).await
}

/// `runbook fleet proof FLEET_DIR TARGET`: the path from the target's seal to the fleet root.
fn proof(dir: &Path, target: &str) -> Result<i32> {
    let state = FleetState::from_entries(&fleet::journal::read(dir)?)?;
    let Some((root, _, _, covered)) = state.finished.clone() else {
        return Err(Error::usage(format!("{}: the fleet has not finished; it has no root yet", dir.display())));
    };
    let leaves = state.leaves(covered);
    let runs: Vec<_> = state.runs.iter().take(covered).filter(|r| r.run_dir.is_some() && r.seal.is_some()).collect();
    let Some(index) = runs.iter().rposition(|r| r.target == target) else {
        return Err(Error::usage(format!("{}: no finished run of target `{target}`", dir.display())));
    };
    let run = runs[index];
    let path = merkle::proof(&leaves, index);
    let ok = merkle::check(leaves[index], &path, &root);
    let doc = serde_json::json!({
        "target": target,
        "run_dir": run.run_dir,
        "seal": run.seal,
        "leaf": hex::encode(leaves[index]),
        "proof": path,
        "root": root,
    });
    crate::ui::out(serde_json::to_string_pretty(&doc).unwrap_or_default());
    Ok(if ok { 0 } else { EXIT_FAILED })
}

/// `runbook report FLEET_DIR`.
pub fn report(dir: &Path, format: crate::report::Format, output: Option<&Path>) -> Result<i32> {
    let r = fleet::report::build(dir)?;
    let text = fleet::report::render(&r, format)?;
    match output {
        Some(p) => {
            crate::durable::write_private(p, text.as_bytes())?;
            panel::ok(format!("wrote {}", p.display()));
        }
        None => crate::ui::out(text.trim_end()),
    }
    Ok(0)
}

/// `runbook audit verify FLEET_DIR`.
pub fn verify(dir: &Path) -> Result<i32> {
    let f = fleet::verify::verify(dir)?;
    if f.problems.is_empty() {
        panel::ok(format!(
            "fleet intact: {} lines{}, {} target journal(s) end with their recorded seals, root {}",
            f.lines,
            if f.torn { " (the last one torn by a crash)" } else { "" },
            f.runs,
            f.root.as_deref().unwrap_or("(none yet: the fleet has not finished)")
        ));
        Ok(0)
    } else {
        for p in &f.problems {
            panel::fail(p);
        }
        Ok(EXIT_FAILED)
    }
}
