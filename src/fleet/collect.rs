//! `runbook fleet collect RUN_DIR… -o FLEET_DIR`: fleet evidence from runs made elsewhere
//! (CI matrix jobs, Kubernetes Jobs, Ansible hosts). Every run's chain must verify, every
//! target must appear once, and every run must be of the same runbook, or nothing is written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::journal::{FleetEvent, TargetOutline};
use super::orchestrate::inspect;
use crate::error::{Error, Result, EXIT_FAILED, EXIT_OK};
use crate::journal::verify::{verify, Verdict};
use crate::journal::{self, Event};

struct Found {
    name: String,
    src: PathBuf,
    run_id: String,
    target_id: String,
    target: String,
}

pub fn collect(run_dirs: &[PathBuf], out: &Path, operator: &str) -> Result<i32> {
    if run_dirs.is_empty() {
        return Err(Error::usage("fleet collect: name at least one run folder"));
    }
    if out.join(super::FILE_NAME).exists() {
        return Err(Error::usage(format!("{}: holds a fleet already; collect into a new folder", out.display())));
    }
    let mut found: Vec<Found> = Vec::new();
    let mut runbook: Option<(String, String, String, String, PathBuf)> = None;
    for src in run_dirs {
        match verify(src, None)? {
            Verdict::Broken { line, reason } => {
                return Err(Error::failed(format!(
                    "{}: the journal's hash chain is broken at line {line} ({reason}); a tampered run is not collected",
                    src.display()
                )))
            }
            Verdict::Torn { .. } | Verdict::Intact { .. } => {}
        }
        let (entries, _) = journal::read(src)?;
        let Some(Event::RunStarted(crate::journal::RunHeader {
            run_id,
            runbook_id,
            title,
            runbook_path,
            runbook_sha256,
            target_id,
            target,
            ..
        })) = entries.first().map(|e| &e.event)
        else {
            return Err(Error::usage(format!("{}: the journal does not start with run_started", src.display())));
        };
        match &runbook {
            None => runbook = Some((runbook_id.clone(), title.clone(), runbook_path.clone(), runbook_sha256.clone(), src.clone())),
            Some((id, _, _, sha, first)) if id != runbook_id || sha != runbook_sha256 => {
                return Err(Error::usage(format!(
                    "{} ran runbook {runbook_id} (sha256 {}), but {} ran {id} (sha256 {}): a fleet is one runbook",
                    src.display(),
                    &runbook_sha256[..12.min(runbook_sha256.len())],
                    first.display(),
                    &sha[..12.min(sha.len())]
                )))
            }
            Some(_) => {}
        }
        // The folder the run folder sits in names the target (an Ansible host, a Job index);
        // a run folder given on its own is named after its database.
        let name = src
            .canonicalize()
            .ok()
            .and_then(|p| p.parent().and_then(|d| d.file_name()).map(|n| n.to_string_lossy().into_owned()))
            .filter(|n| !n.is_empty() && n != "runbook-runs")
            .unwrap_or_else(|| target_id.replace(['/', ':', '@'], "_"));
        if let Some(other) = found.iter().find(|f| f.target_id == *target_id || f.name == name) {
            return Err(Error::usage(format!(
                "{} and {} are runs against the same target ({}): a fleet holds one run per target",
                other.src.display(),
                src.display(),
                if other.target_id == *target_id { target_id.clone() } else { name.clone() }
            )));
        }
        found.push(Found { name, src: src.clone(), run_id: run_id.clone(), target_id: target_id.clone(), target: target.clone() });
    }
    let (runbook_id, title, runbook_path, runbook_sha256, _) = runbook.expect("at least one run");
    std::fs::create_dir_all(out).map_err(|e| Error::write(out, e))?;
    for f in &found {
        let dest = out.join(&f.name).join(&f.run_id);
        copy_dir(&f.src, &dest)?;
    }
    let plan = FleetEvent::FleetStarted {
        fleet_id: format!("collected-{}", crate::exec::new_run_id()),
        mode: "collect".into(),
        runbook_id,
        title,
        runbook_path,
        runbook_sha256,
        operator: operator.to_string(),
        host: whoami::fallible::hostname().unwrap_or_else(|_| "unknown".into()),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        confirmation: "collected".into(),
        targets: found
            .iter()
            .map(|f| TargetOutline {
                name: f.name.clone(),
                target: f.target.clone(),
                db: String::new(),
                vars: BTreeMap::new(),
                labels: BTreeMap::new(),
            })
            .collect(),
        waves: vec![found.iter().map(|f| f.name.clone()).collect()],
        parallel: 0,
        max_failures: String::new(),
        budget: found.len(),
        on_target_failure: String::new(),
        skips: Vec::new(),
        vars: BTreeMap::new(),
    };
    let (mut journal, mut state) = super::orchestrate::open(out, plan)?;
    let (mut ok, mut failed) = (0, 0);
    for f in &found {
        let rd = out.join(&f.name).join(&f.run_id);
        let info = inspect(&rd)?;
        let code = info.exit_code.unwrap_or(EXIT_FAILED);
        if code == 0 {
            ok += 1;
        } else {
            failed += 1;
        }
        for event in [
            FleetEvent::TargetStarted {
                target: f.name.clone(),
                wave: 1,
                attempt: 1,
                action: "collect".into(),
                run_dir: Some(format!("{}/{}", f.name, f.run_id)),
            },
            FleetEvent::TargetFinished {
                target: f.name.clone(),
                wave: 1,
                attempt: 1,
                run_dir: Some(format!("{}/{}", f.name, f.run_id)),
                run_id: Some(f.run_id.clone()),
                exit_code: code,
                outcome: info.outcome.clone(),
                seal: info.seal.clone(),
                lines: info.lines,
                first_error: info.first_error.clone(),
                duration_ms: 0,
            },
        ] {
            journal.record_event(&event)?;
            state.apply(&event, &journal::now());
        }
    }
    journal.record_event(&FleetEvent::WaveFinished { wave: 1, succeeded: ok, failed })?;
    let root = super::merkle::root(&state.leaves(state.runs.len()));
    journal.record_event(&FleetEvent::FleetFinished {
        outcome: if failed == 0 { "succeeded".into() } else { "failed".into() },
        exit_code: if failed == 0 { EXIT_OK } else { EXIT_FAILED },
        root: root.clone(),
        runs: state.runs.len(),
        succeeded: ok,
        failed,
        not_started: 0,
        awaiting: 0,
        interrupted: 0,
        reason: None,
        duration_ms: 0,
    })?;
    let line = format!("collected {} run(s) into {}: {ok} succeeded, {failed} failed; root {root}", found.len(), out.display());
    if failed == 0 {
        crate::ui::panel::ok(line);
        Ok(EXIT_OK)
    } else {
        crate::ui::panel::fail(line);
        Ok(EXIT_FAILED)
    }
}

/// Copy a run folder (journal, reports, backups) keeping its files private.
fn copy_dir(src: &Path, dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest).map_err(|e| Error::write(dest, e))?;
    for entry in std::fs::read_dir(src).map_err(|e| Error::read(src, e))? {
        let entry = entry.map_err(|e| Error::read(src, e))?;
        let from = entry.path();
        let to = dest.join(entry.file_name());
        if from.is_dir() {
            copy_dir(&from, &to)?;
        } else {
            std::fs::copy(&from, &to).map_err(|e| Error::write(&to, e))?;
        }
    }
    Ok(())
}
