//! `runbook approve`: sign a manifest of exactly what a run will do, or (`--retro RUN_DIR`) an
//! emergency run's evidence after the fact. The manifest goes to `-o FILE`, its OpenSSH
//! signature to `FILE.sig`, and with `--redmine` both onto the ticket.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::approval::manifest::{self, Approver, Manifest, RetroRun, Sealed};
use crate::approval::signature::{Signer, APPROVAL_NAMESPACE};
use crate::cli::{ConnectOpts, VarOpts};
use crate::error::{Error, Result};
use crate::journal::Event;
use crate::runbook::PlanKind;
use crate::ui::{self, panel};

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The runbook to approve (omit with --retro)
    #[arg(required_unless_present = "retro", conflicts_with = "retro")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub connect: ConnectOpts,
    #[command(flatten)]
    pub vars: VarOpts,
    /// A step the run will skip (repeatable), `ID=reason` as for `run --skip`
    #[arg(long, value_name = "STEP_ID[=REASON]")]
    pub skip: Vec<String>,
    /// Approve the rollback plan instead of the change plan
    #[arg(long)]
    pub rollback: bool,
    /// The rehearsal run folder that proved this change; its seal is part of the approval
    #[arg(long, value_name = "RUN_DIR")]
    pub rehearsal: Option<PathBuf>,
    /// Approve an emergency run after the fact: sign its final seal and change manifest
    #[arg(long, value_name = "RUN_DIR")]
    pub retro: Option<PathBuf>,
    /// The approver's SSH key: an ed25519 private key file, or a public key the ssh-agent
    /// (SSH_AUTH_SOCK) holds
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// The approver's name as the allowed_signers file lists the key (default: the OS user)
    #[arg(long)]
    pub principal: Option<String>,
    /// How long the approval stays valid
    #[arg(long, value_name = "DURATION", default_value = "72h")]
    pub expires: String,
    /// Where to write the approval (its signature goes to FILE.sig); default for --retro:
    /// RUN_DIR/retro-PRINCIPAL.approval
    #[arg(short, long, value_name = "FILE", required_unless_present = "retro")]
    pub output: Option<PathBuf>,
    /// Also attach the approval and its signature to this Redmine (API key from REDMINE_API_KEY)
    #[arg(long, value_name = "URL", requires = "issue")]
    pub redmine: Option<String>,
    /// The Redmine issue to attach to
    #[arg(long, value_name = "N", requires = "redmine")]
    pub issue: Option<u64>,
}

pub async fn run(a: &ApproveArgs) -> Result<i32> {
    let ttl = crate::runbook::duration::parse(&a.expires).map_err(|why| Error::usage(format!("--expires {}: {why}", a.expires)))?;
    let signer = Signer::open(&a.key)?;
    let principal = a.principal.clone().unwrap_or_else(whoami::username);
    let now = chrono::Utc::now();
    let approved_at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let expires =
        (now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let approver = Approver { principal: principal.clone(), key_fingerprint: signer.fingerprint() };

    let (m, output, what) = if let Some(run_dir) = &a.retro {
        let (m, what) = retro(run_dir, approver, approved_at, expires)?;
        let out = a.output.clone().unwrap_or_else(|| run_dir.join(format!("retro-{}.approval", file_safe(&principal))));
        (m, out, what)
    } else {
        let file = a.file.as_deref().ok_or_else(|| Error::usage("approve: give the runbook FILE (or --retro RUN_DIR)"))?;
        let loaded = crate::load::load(file)?;
        let (vars, target) = super::vars_and_target(&loaded, &a.vars, a.connect.db.as_deref())?;
        let plan = if a.rollback { PlanKind::Rollback } else { PlanKind::Plan };
        let skips = crate::cli::RunOpts::parse_skips(&a.skip);
        let options = crate::exec::RunOptions {
            plan,
            // Only preflight reads these options; nothing is journaled under this mode.
            mode: if plan == PlanKind::Rollback { crate::journal::Mode::Rollback } else { crate::journal::Mode::Run },
            operator: principal.clone(),
            runs_dir: PathBuf::new(),
            skips: skips
                .iter()
                .map(|(step_id, reason)| crate::journal::Skip { step_id: step_id.clone(), reason: reason.clone() })
                .collect(),
            on_failure_rollback: false,
            allow_no_backup: false,
            baseline: None,
            rehearsal: None,
            then_rollback: false,
            approval: Default::default(),
            secret_vars: Default::default(),
            fleet_steps: Default::default(),
        };
        crate::exec::preflight(&loaded, &vars, &options)?;
        let rehearsal = a.rehearsal.as_deref().map(|d| rehearsal_seal(d, &loaded.sha256)).transpose()?;
        let mut db = crate::db::connect(&target, false).await?;
        let schema = db.schema().await?;
        drop(db);
        let change = manifest::change(&loaded, &target, &vars, plan, &skips);
        let m = Manifest {
            format: manifest::FORMAT.into(),
            kind: "change".into(),
            change: Some(change),
            schema_fingerprint: Some(manifest::schema_fingerprint(&schema)),
            schema: Some(schema),
            rehearsal,
            run: None,
            approver,
            approved_at,
            expires,
        };
        let what = format!("{} of {} on {}", plan.label(), loaded.doc.id.value, target.display());
        (m, a.output.clone().unwrap_or_default(), what)
    };

    let text = manifest::canonical(&m)?;
    let sig = signer.sign(APPROVAL_NAMESPACE, text.as_bytes())?;
    let sig_path = crate::approval::gate::sig_path(&output);
    for (path, bytes) in [(&output, &text), (&sig_path, &sig)] {
        crate::durable::refuse_evidence(path)?;
        std::fs::write(path, bytes).map_err(|e| Error::write(path, e))?;
    }
    panel::ok(format!(
        "approved the {what} as {principal} (key {}{}), valid until {}",
        signer.fingerprint(),
        if signer.via_agent() { ", via ssh-agent" } else { "" },
        m.expires
    ));
    ui::out(format!("Approval:  {}", output.display()));
    ui::out(format!("Signature: {}", sig_path.display()));
    if let (Some(url), Some(issue)) = (&a.redmine, a.issue) {
        let client = crate::redmine::Client::from_env(url)?;
        let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "change.approval".into());
        let note = format!(
            "Approved by {principal} (key {}): {what}; valid until {}. Check: ssh-keygen -Y verify -f allowed_signers -I {principal} -n {APPROVAL_NAMESPACE} -s {name}.sig < {name}",
            signer.fingerprint(),
            m.expires
        );
        crate::redmine::approvals::attach(&client, issue, &name, &text, &sig, &note).await?;
        panel::ok(format!("attached {name} and {name}.sig to issue #{issue}"));
    }
    Ok(0)
}

fn file_safe(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' }).collect()
}

/// The seal of a rehearsal of this very runbook whose chain is intact.
fn rehearsal_seal(run_dir: &Path, sha256: &str) -> Result<Sealed> {
    let (entries, seal) = crate::journal::read(run_dir)?;
    if let crate::journal::verify::Verdict::Broken { line, reason } = crate::journal::verify::verify(run_dir, None)? {
        return Err(Error::usage(format!("--rehearsal {}: its journal is broken at line {line}: {reason}", run_dir.display())));
    }
    match entries.first().map(|e| &e.event) {
        Some(Event::RunStarted(h)) if h.runbook_sha256 == sha256 && h.mode == crate::journal::Mode::Rehearsal => {
            Ok(Sealed { run_id: h.run_id.clone(), seal })
        }
        Some(Event::RunStarted(h)) if h.mode != crate::journal::Mode::Rehearsal => {
            Err(Error::usage(format!("--rehearsal {}: a `{}` run, not a rehearsal", run_dir.display(), h.mode)))
        }
        Some(_) => Err(Error::usage(format!("--rehearsal {}: a rehearsal of another version of the runbook", run_dir.display()))),
        None => Err(Error::usage(format!("--rehearsal {}: not a run folder", run_dir.display()))),
    }
}

/// The retro-approval of an emergency run: its final seal and its change manifest's sha256.
fn retro(run_dir: &Path, approver: Approver, approved_at: String, expires: String) -> Result<(Manifest, String)> {
    let (entries, seal) = crate::journal::read(run_dir)?;
    if let crate::journal::verify::Verdict::Broken { line, reason } = crate::journal::verify::verify(run_dir, None)? {
        return Err(Error::usage(format!("--retro {}: its journal is broken at line {line}: {reason}", run_dir.display())));
    }
    let Some(Event::RunStarted(crate::journal::RunHeader { run_id, runbook_sha256, emergency, change_sha256, .. })) =
        entries.first().map(|e| &e.event)
    else {
        return Err(Error::usage(format!("--retro {}: not a run folder", run_dir.display())));
    };
    let Some(reason) = emergency else {
        return Err(Error::usage(format!(
            "--retro {}: run {run_id} was not an emergency run; it needs no retro-approval",
            run_dir.display()
        )));
    };
    if !entries.iter().any(|e| matches!(e.event, Event::RunFinished { .. })) {
        return Err(Error::usage(format!("--retro {}: run {run_id} has not finished; approve it once it has", run_dir.display())));
    }
    let m = Manifest {
        format: manifest::FORMAT.into(),
        kind: "retro".into(),
        change: None,
        schema: None,
        schema_fingerprint: None,
        rehearsal: None,
        run: Some(RetroRun {
            run_id: run_id.clone(),
            runbook_sha256: runbook_sha256.clone(),
            seal,
            change_sha256: change_sha256.clone().unwrap_or_default(),
            emergency: reason.clone(),
        }),
        approver,
        approved_at,
        expires,
    };
    Ok((m, format!("emergency run {run_id}")))
}
