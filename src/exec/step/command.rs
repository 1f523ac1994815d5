//! `command`: a program with arguments, run without a shell unless `shell: true`, with its own
//! environment and the step's timeout. Exit code and (capped) output go to the journal.

use std::process::Stdio;
use std::time::Instant;

use tokio::io::AsyncReadExt;

use crate::error::{Error, Result};
use crate::exec::Runner;
use crate::journal::Event;
use crate::load::vars::Vars;
use crate::runbook::rehearse::Rehearse;
use crate::runbook::{CommandAction, CommandLine, Step};
use crate::ui::panel;

/// Output kept per stream in the journal.
pub const OUTPUT_CAP: usize = 64 * 1024;
/// Read past the cap, to see a secret that the cap would cut.
const CAP_MARGIN: usize = 16 * 1024;

/// The command line as it is shown and recorded, secrets masked.
fn command_line(a: &CommandAction, vars: &Vars) -> String {
    match &a.command.value {
        CommandLine::Argv(v) => v.iter().map(|x| shell_quote(&vars.mask(x))).collect::<Vec<_>>().join(" "),
        CommandLine::Line(l) => format!("sh -c {}", shell_quote(&vars.mask(l))),
    }
}

pub fn describe(a: &CommandAction, vars: &Vars) -> String {
    let mut s = command_line(a, vars);
    for (k, v) in &a.env {
        s.push_str(&format!("\n  env {k}={}", vars.mask(v)));
    }
    for q in &a.queries {
        let sql = q.sql.value.clone();
        let text = super::sql_for(&sql, crate::db::Engine::Sqlite).unwrap_or_default();
        let label =
            q.name.as_ref().map(|n| vars.mask(n)).unwrap_or_else(|| crate::sql::bind::shown(text.trim(), crate::db::Engine::Sqlite, vars));
        s.push_str(&format!(
            "\nthen assert {label} {} {}",
            q.op.as_str(),
            q.expected().map(|e| vars.mask(&e.0)).unwrap_or_else(|| "NULL".into())
        ));
    }
    s
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

pub async fn run(r: &mut Runner, step: &Step, a: &CommandAction) -> Result<()> {
    // A rehearsal may run a stand-in instead (`rehearse: COMMAND`); the journal records the
    // command that ran.
    let instead;
    let a = match (&r.opts.rehearsal, &step.rehearse) {
        (Some(_), Some(Rehearse::Command(line))) => {
            instead =
                CommandAction { command: crate::runbook::Sp::new(line.clone()), shell: matches!(line, CommandLine::Line(_)), ..a.clone() };
            &instead
        }
        _ => a,
    };
    let (program, args): (String, Vec<String>) = match &a.command.value {
        CommandLine::Argv(v) => {
            let mut it = v.iter().map(|x| r.vars.render(x));
            let p = it.next().ok_or_else(|| Error::failed("empty command"))??;
            (p, it.collect::<Result<_>>()?)
        }
        CommandLine::Line(l) => ("sh".into(), vec!["-c".into(), r.vars.render(l)?]),
    };
    let mut cmd = tokio::process::Command::new(&program);
    // A relative `workdir` is taken from the runbook's folder, like the default.
    let workdir = match &a.workdir {
        Some(w) => r.loaded.dir.join(r.vars.render(w)?),
        None => r.loaded.dir.clone(),
    };
    cmd.args(&args).current_dir(&workdir);
    // RUNBOOK_DB_URL lets a job act on whatever the run targets: during a rehearsal that is the
    // scratch copy, never the real database.
    cmd.env("RUNBOOK_RUN_ID", &r.run_id)
        .env("RUNBOOK_RUN_DIR", &r.run_dir)
        .env("RUNBOOK_STEP_ID", &step.id)
        .env("RUNBOOK_DB_URL", &r.target.url);
    for (k, v) in &a.env {
        cmd.env(k, r.vars.render(v)?);
    }
    let shown = command_line(a, &r.vars);
    let started = Instant::now();
    let Finished { stdout, stdout_cut: t1, stderr, stderr_cut: t2, status } = run_in_group(cmd, &program).await?;
    // Redacted before it is cut to the cap, so the cut cannot leave part of a secret.
    let ((stdout, c1), (stderr, c2)) =
        (r.journal.redactor().excerpt(&stdout, OUTPUT_CAP), r.journal.redactor().excerpt(&stderr, OUTPUT_CAP));
    let (t1, t2) = (t1 || c1, t2 || c2);
    for l in stdout.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev() {
        panel::info(r.journal.redactor().text(l));
    }
    r.journal.record(Event::Command {
        step_id: step.id.clone(),
        command: shown,
        exit_code: status.code(),
        stdout,
        stderr: stderr.clone(),
        truncated: t1 || t2,
        duration_ms: started.elapsed().as_millis() as u64,
    })?;
    if status.success() {
        let failed = super::verify::run_queries(r, step, &a.queries).await?;
        if failed > 0 {
            return Err(Error::failed(format!("the command succeeded but {failed} assertion(s) failed")));
        }
        Ok(())
    } else {
        let tail = stderr.lines().last().unwrap_or("").to_string();
        Err(Error::failed(format!(
            "`{program}` exited with {}{}",
            status.code().map(|c| format!("code {c}")).unwrap_or_else(|| "a signal".into()),
            if tail.is_empty() { String::new() } else { format!(": {}", r.journal.redactor().text(&tail)) }
        )))
    }
}

/// What a finished command left: its (capped) output and how it ended.
pub(crate) struct Finished {
    pub stdout: String,
    pub stdout_cut: bool,
    pub stderr: String,
    pub stderr_cut: bool,
    pub status: std::process::ExitStatus,
}

/// Run `cmd` in a process group of its own and wait for it, reading its output. Dropping the
/// returned future (a timeout, a signal) ends the whole group: every caller that runs a
/// command — a target's step or a fleet step — goes through here, so none can leave one behind.
pub(crate) async fn run_in_group(mut cmd: tokio::process::Command, program: &str) -> Result<Finished> {
    // A process group of its own: a Ctrl-C at the terminal (or the hangup of a closed one)
    // reaches runbook alone, which records the interruption and ends the whole group itself.
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true).process_group(0);
    let mut child = cmd.spawn().map_err(|e| Error::failed(format!("cannot start `{program}`: {e}")))?;
    let group = GroupGuard(child.id());
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let (o, e, status) = tokio::join!(read_capped(&mut out), read_capped(&mut err), child.wait());
    group.disarm();
    let status = status.map_err(|e| Error::failed(format!("waiting for `{program}`: {e}")))?;
    Ok(Finished { stdout: o.0, stdout_cut: o.1, stderr: e.0, stderr_cut: e.1, status })
}

/// Read a stream to its end, keeping the first [`OUTPUT_CAP`] bytes and a margin, so that a
/// secret standing across the cap is still whole when it is redacted.
async fn read_capped<R: tokio::io::AsyncRead + Unpin>(r: &mut R) -> (String, bool) {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    let mut truncated = false;
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = (OUTPUT_CAP + CAP_MARGIN).saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                truncated |= n > room;
            }
        }
    }
    (String::from_utf8_lossy(&kept).into_owned(), truncated)
}

/// How long the command's process group has to end on SIGTERM before it is killed: its
/// programs may clean up, and the run still ends within the second a signal allows.
const TERM_GRACE: std::time::Duration = std::time::Duration::from_millis(250);

/// Ends the command's whole process group if the step is abandoned (timeout, a signal), so
/// that nothing a shell started keeps running after the step is over: a resume would otherwise
/// run the command a second time beside the first.
struct GroupGuard(Option<u32>);

impl GroupGuard {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let Some(pid) = self.0 else { return };
        let group = pid as libc::pid_t;
        // SAFETY: killpg(2) has no memory-safety preconditions; the group is the child's own
        // (process_group(0) made the child its leader), so no other process is signalled.
        unsafe {
            libc::killpg(group, libc::SIGTERM);
        }
        // The group's leader stays a member until it is reaped, so "gone" cannot be awaited
        // exactly: wait out the grace while any member is there, then SIGKILL what is left.
        let deadline = std::time::Instant::now() + TERM_GRACE;
        while std::time::Instant::now() < deadline && group_has_live_members(group) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // SAFETY: as above.
        unsafe {
            libc::killpg(group, libc::SIGKILL);
        }
    }
}

/// Whether a process of `group` other than a zombie still runs, read from /proc.
fn group_has_live_members(group: libc::pid_t) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else { return false };
    dir.flatten().filter(|e| e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))).any(|e| {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { return false };
        // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses, so read after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return false };
        let mut f = rest.split_whitespace();
        let state = f.next();
        let pgrp = f.nth(1).and_then(|p| p.parse::<libc::pid_t>().ok());
        pgrp == Some(group) && state != Some("Z")
    })
}
