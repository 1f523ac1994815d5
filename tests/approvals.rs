//! Approvals bound to the exact change, with real ed25519 keys made by `ssh-keygen` and every
//! signature checked again by `ssh-keygen -Y verify`: the policy, each reason a run is refused
//! (with the database left as it was), break glass with and without retro-approval, signed
//! seals against a rewritten journal, change windows, ssh-agent, and a live Redmine.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{events, journal, Output, SqliteFile, Test};

const RUNBOOK: &str = r#"version: 1
id: add-nickname
title: Add a nickname column
ticket: {id: "42", risk: High}
approvals:
  required: 1
  by_risk: {High: 2}
vars:
  col: {default: nickname}
plan:
  - id: add
    name: Add column
    kind: sql
    sql: ALTER TABLE all_users ADD COLUMN ${col} TEXT;
rollback:
  - id: backup
    name: Back up before dropping
    kind: backup
  - id: drop
    name: Drop column
    kind: sql
    sql: ALTER TABLE all_users DROP COLUMN ${col};
"#;

/// Whether OpenSSH's ssh-keygen is here; without it the test says it is skipped.
fn have_ssh_keygen() -> bool {
    let ok = Command::new("ssh-keygen").arg("-?").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !ok {
        assert!(!crate::support::servers_required(), "ssh-keygen (OpenSSH) is required (RUNBOOK_REQUIRE_SERVERS=1)");
        eprintln!("skipped: ssh-keygen (OpenSSH) is not installed");
    }
    ok
}

/// A test folder with the runbook, a SQLite target, keys for alice (the operator), bob, carol
/// and mallory, and an allowed signers file that lists all but mallory.
struct Fixture {
    t: Test,
    db: SqliteFile,
}

impl Fixture {
    fn new() -> Fixture {
        let t = Test::new().runbook(RUNBOOK);
        let db = SqliteFile::users(t.dir.path(), 20);
        let mut allowed = String::new();
        for who in ["alice", "bob", "carol", "mallory"] {
            keygen(&t.dir.join(who), who);
            if who != "mallory" {
                let public = std::fs::read_to_string(t.dir.join(format!("{who}.pub"))).unwrap();
                allowed.push_str(&format!("{who} namespaces=\"runbook-approval,runbook-seal\" {}", public));
            }
        }
        t.dir.write("allowed_signers", &allowed);
        Fixture { t, db }
    }

    fn approve(&self, who: &str, out: &str, extra: &[&str]) -> Output {
        let url = self.db.url();
        let mut args = vec!["approve", "runbook.yaml", "--db", &url, "--key", who, "--principal", who, "-o", out];
        args.extend(extra);
        self.t.exec(&args)
    }

    fn run(&self, approvals: &[&str], extra: &[&str]) -> Output {
        let url = self.db.url();
        let mut args = vec![
            "run",
            "runbook.yaml",
            "--db",
            &url,
            "--yes",
            "--operator",
            "alice",
            "--runs-dir",
            "runs",
            "--allowed-signers",
            "allowed_signers",
        ];
        for a in approvals {
            args.extend(["--approval", a]);
        }
        args.extend(extra);
        self.t.exec(&args)
    }

    fn schema(&self) -> Vec<Vec<String>> {
        self.db.rows("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
    }

    /// A refused run: exit 2, the whole reason on stderr, no run folder, the schema as before.
    #[track_caller]
    fn refused(&self, approvals: &[&str], extra: &[&str], reason: &str) {
        let before = self.schema();
        let out = self.run(approvals, extra);
        out.code(2);
        assert_eq!(out.stderr.trim_end(), format!("error: {reason}; nothing was run"), "stdout:\n{}", out.stdout);
        assert_eq!(self.schema(), before, "a refused run changed the database");
        assert!(self.t.run_dirs("runs").is_empty(), "a refused run left a run folder");
    }
}

fn keygen(path: &Path, comment: &str) {
    let st = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"]).arg(path).status().unwrap();
    assert!(st.success(), "ssh-keygen failed");
}

/// `ssh-keygen -Y verify`, exactly as docs/audit.md tells an auditor to run it.
#[track_caller]
fn ssh_verify(dir: &Path, principal: &str, namespace: &str, file: &Path, sig: &Path) {
    let out = Command::new("ssh-keygen")
        .current_dir(dir)
        .args(["-Y", "verify", "-f", "allowed_signers", "-I", principal, "-n", namespace, "-s"])
        .arg(sig)
        .stdin(std::fs::File::open(file).unwrap())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "ssh-keygen -Y verify refused {}: {text}", file.display());
    assert!(text.contains(&format!("Good \"{namespace}\" signature for {principal}")), "{text}");
}

fn fingerprint(dir: &Path, who: &str) -> String {
    let out = Command::new("ssh-keygen").current_dir(dir).args(["-l", "-E", "sha256", "-f", &format!("{who}.pub")]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().nth(1).unwrap().to_string()
}

#[test]
fn two_approvals_from_distinct_signers_allow_the_run_and_one_does_not() {
    if !have_ssh_keygen() {
        return;
    }
    let f = Fixture::new();
    let bob = f.approve("bob", "bob.approval", &[]);
    bob.code(0).stdout_has("approved the change plan of add-nickname on sqlite://").stdout_has("as bob (key SHA256:");
    f.approve("carol", "carol.approval", &[]).code(0);
    f.approve("bob", "bob-again.approval", &[]).code(0);
    for who in ["bob", "carol"] {
        ssh_verify(
            f.t.dir.path(),
            who,
            "runbook-approval",
            &f.t.dir.join(format!("{who}.approval")),
            &f.t.dir.join(format!("{who}.approval.sig")),
        );
    }
    // The manifest holds the exact statement for this engine, the target without secrets, and
    // the schema the approver saw.
    let m: Value = serde_json::from_str(&std::fs::read_to_string(f.t.dir.join("bob.approval")).unwrap()).unwrap();
    assert_eq!(m["change"]["steps"][0]["sql"], "ALTER TABLE all_users ADD COLUMN nickname TEXT;");
    assert_eq!(m["change"]["steps"][2]["sql"], "ALTER TABLE all_users DROP COLUMN nickname;");
    assert_eq!(m["change"]["vars"]["col"], "nickname");
    assert_eq!(m["change"]["target"]["engine"], "sqlite");
    assert_eq!(m["approver"]["key_fingerprint"], fingerprint(f.t.dir.path(), "bob"));
    assert!(m["schema"]["tables"]["all_users"].is_object(), "{m}");

    f.refused(
        &["bob.approval"],
        &[],
        "1 valid approval(s) from distinct principals (bob); 2 required by approvals.by_risk.High (the ticket's risk is High)",
    );
    // Two approvals by the same person are one principal.
    f.refused(
        &["bob.approval", "bob-again.approval"],
        &[],
        "1 valid approval(s) from distinct principals (bob); 2 required by approvals.by_risk.High (the ticket's risk is High)",
    );
    f.refused(&[], &[], "0 valid approval(s) from distinct principals; 2 required by approvals.by_risk.High (the ticket's risk is High)");

    let out = f.run(&["bob.approval", "carol.approval"], &[]);
    out.code(0).stdout_has("approved by bob, carol: every approval matches this run and the target's schema").stdout_has("succeeded");
    assert!(f.db.has_column("all_users", "nickname"));
    let dirs = f.t.run_dirs("runs");
    let j = journal(&dirs[0]);
    let started = events(&j, "run_started")[0];
    let approvals = started["approvals"].as_array().unwrap();
    assert_eq!(approvals.iter().map(|a| a["principal"].as_str().unwrap()).collect::<Vec<_>>(), ["bob", "carol"]);
    assert_eq!(approvals[0]["key_fingerprint"], fingerprint(f.t.dir.path(), "bob"));
    let bytes = std::fs::read(f.t.dir.join("bob.approval")).unwrap();
    assert_eq!(approvals[0]["manifest_sha256"], hex_sha256(&bytes));
    // Every report shows them.
    for (file, heading) in [("report.md", "## Approvals"), ("report.html", "<h2>Approvals</h2>")] {
        let text = std::fs::read_to_string(dirs[0].join(file)).unwrap();
        assert!(text.contains(heading), "{file}");
        assert!(text.contains(&format!("Approved by bob (key {})", fingerprint(f.t.dir.path(), "bob"))), "{file}");
    }
    f.t.exec(["report", dirs[0].to_str().unwrap(), "--format", "textile"])
        .code(0)
        .stdout_has("h2. Approvals")
        .stdout_has("* Approved by carol");
    f.t.exec(["report", dirs[0].to_str().unwrap(), "--format", "json"]).code(0).stdout_has("\"principal\": \"carol\"");
    f.t.exec(["audit", "verify", dirs[0].to_str().unwrap(), "--allowed-signers", "allowed_signers"])
        .code(0)
        .stdout_has("approval by bob (key SHA256:")
        .stdout_has("approval by carol (key SHA256:");
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn each_bad_approval_refuses_the_run_names_the_reason_and_changes_nothing() {
    if !have_ssh_keygen() {
        return;
    }
    let f = Fixture::new();
    f.approve("bob", "bob.approval", &[]).code(0);
    f.approve("carol", "carol.approval", &[]).code(0);

    // Self-approval: the operator approving their own change.
    f.approve("alice", "alice.approval", &[]).code(0);
    f.refused(
        &["alice.approval", "bob.approval"],
        &[],
        "approval alice.approval (by alice) is self-approval: alice is the operator of this run, and an approval must come from someone else",
    );
    // Also when the operator is named by the seal key rather than --operator.
    let bob_key = f.t.dir.join("bob").display().to_string();
    let before = f.schema();
    let out = f.t.exec([
        "run",
        "runbook.yaml",
        "--db",
        &f.db.url(),
        "--yes",
        "--operator",
        "ops",
        "--runs-dir",
        "runs",
        "--allowed-signers",
        "allowed_signers",
        "--approval",
        "bob.approval",
        "--approval",
        "carol.approval",
        "--sign-key",
        &bob_key,
    ]);
    out.code(2).stderr_has("approval bob.approval (by bob) is self-approval: bob is the operator of this run");
    assert_eq!(f.schema(), before);

    // An unknown signer: mallory is not in the allowed signers.
    f.approve("mallory", "mallory.approval", &[]).code(0);
    let fp = fingerprint(f.t.dir.path(), "mallory");
    f.refused(
        &["bob.approval", "mallory.approval"],
        &[],
        &format!("approval mallory.approval (by mallory): unknown signer: key {fp} is not in the allowed signers for principal `mallory`"),
    );
    // A forged approval: one byte of the signed manifest changed.
    let text = std::fs::read_to_string(f.t.dir.join("carol.approval")).unwrap();
    f.t.dir.write("forged.approval", &text.replace("ADD COLUMN nickname", "ADD COLUMN nicknamf"));
    std::fs::copy(f.t.dir.join("carol.approval.sig"), f.t.dir.join("forged.approval.sig")).unwrap();
    f.refused(
        &["bob.approval", "forged.approval"],
        &[],
        "approval forged.approval (by carol): bad signature: it does not match the signed bytes (forged or altered)",
    );
    // An expired approval.
    f.approve("carol", "short.approval", &["--expires", "1s"]).code(0);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let m: Value = serde_json::from_str(&std::fs::read_to_string(f.t.dir.join("short.approval")).unwrap()).unwrap();
    f.refused(
        &["bob.approval", "short.approval"],
        &[],
        &format!("approval short.approval (by carol) expired at {}", m["expires"].as_str().unwrap()),
    );

    // A changed variable.
    f.refused(
        &["bob.approval", "carol.approval"],
        &["--var", "col=alias"],
        "approval bob.approval (by bob) does not match this run: steps[0].sql: approved \"ALTER TABLE all_users ADD COLUMN nickname TEXT;\", this run has \"ALTER TABLE all_users ADD COLUMN alias TEXT;\"",
    );
    // One changed byte of SQL in the runbook.
    f.t.dir.write("runbook.yaml", &RUNBOOK.replace("${col} TEXT;", "${col} TEXT ;"));
    f.refused(
        &["bob.approval", "carol.approval"],
        &[],
        "approval bob.approval (by bob) does not match this run: steps[0].sql: approved \"ALTER TABLE all_users ADD COLUMN nickname TEXT;\", this run has \"ALTER TABLE all_users ADD COLUMN nickname TEXT ;\"",
    );
    f.t.dir.write("runbook.yaml", RUNBOOK);
    // A column added to the target out of band after the approvals were signed.
    f.db.exec("ALTER TABLE all_users ADD COLUMN note TEXT");
    f.refused(
        &["bob.approval", "carol.approval"],
        &[],
        "the target's schema changed since approval bob.approval (by bob) was signed:\n  + column all_users.note was added (TEXT NULL)\nask for a new approval of the change against today's schema",
    );
    assert!(!f.db.has_column("all_users", "nickname"));
}

/// Rewrite a journal line by line with a recomputed hash chain, as someone who can write the
/// run folder could.
fn rewrite_journal(run_dir: &Path, change: impl Fn(&mut Value)) {
    use sha2::Digest;
    let path = run_dir.join("journal.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut prev = "0".repeat(64);
    let mut out = String::new();
    for line in text.lines() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        change(&mut v);
        v["prev"] = Value::String(prev.clone());
        let line = v.to_string();
        prev = hex::encode(sha2::Sha256::digest(line.as_bytes()));
        out.push_str(&line);
        out.push('\n');
    }
    std::fs::write(&path, out).unwrap();
}

#[test]
fn a_signed_seal_verifies_with_ssh_keygen_and_catches_a_journal_rewritten_with_its_chain() {
    if !have_ssh_keygen() {
        return;
    }
    let f = Fixture::new();
    f.approve("bob", "bob.approval", &[]).code(0);
    f.approve("carol", "carol.approval", &[]).code(0);
    f.run(&["bob.approval", "carol.approval"], &["--sign-key", "alice"]).code(0);
    let dir = f.t.run_dirs("runs").remove(0);
    let seal = std::fs::read_to_string(dir.join("seal")).unwrap();
    let last = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap().lines().last().unwrap().to_string();
    assert_eq!(seal, format!("{}\n", hex_sha256(last.as_bytes())), "the seal file is the hash of the journal's last line");
    ssh_verify(f.t.dir.path(), "alice", "runbook-seal", &dir.join("seal"), &dir.join("seal.sig"));
    let d = dir.to_str().unwrap();
    let ok = f.t.exec(["audit", "verify", d, "--allowed-signers", "allowed_signers"]);
    ok.code(0).stdout_has(&format!("seal signature by alice (key {}) verifies", fingerprint(f.t.dir.path(), "alice")));

    // Someone rewrites who ran it and recomputes the chain: the chain alone is intact...
    rewrite_journal(&dir, |v| {
        if v["event"] == "run_started" {
            v["operator"] = Value::String("bob".into());
        }
    });
    let out = f.t.exec(["audit", "verify", d, "--allowed-signers", "allowed_signers"]);
    out.code(1).stdout_has("journal intact");
    // ...but the seal signature no longer matches.
    let new_seal = hex_sha256(std::fs::read_to_string(dir.join("journal.jsonl")).unwrap().lines().last().unwrap().as_bytes());
    out.stdout_has(&format!("seal.sig does not sign this journal's seal {new_seal}: the journal changed after the run signed it"));
    // Removing the signature does not help: the journal says the run was signed.
    std::fs::remove_file(dir.join("seal.sig")).unwrap();
    f.t.exec(["audit", "verify", d])
        .code(1)
        .stdout_has(&format!("the run was to be signed with key {}, but seal.sig is missing", fingerprint(f.t.dir.path(), "alice")));
}

#[test]
fn emergency_runs_outside_the_window_without_approvals_until_retro_approved() {
    if !have_ssh_keygen() {
        return;
    }
    let f = Fixture::new();
    f.t.dir.write(
        "runbook.yaml",
        &RUNBOOK.replace("vars:", "window: {start: \"2025-11-03 22:00\", end: \"2025-11-04 02:00\", timezone: Europe/Berlin}\nvars:"),
    );
    f.approve("bob", "bob.approval", &[]).code(0);
    f.approve("carol", "carol.approval", &[]).code(0);
    // A window in the past refuses, approvals or not.
    f.refused(
        &["bob.approval", "carol.approval"],
        &[],
        "the change window (2025-11-03 22:00 – 2025-11-04 02:00 Europe/Berlin) closed at 2025-11-04T01:00:00Z; run inside it, or pass --emergency REASON to break glass",
    );
    let out = f.run(&[], &["--emergency", "orders table is down", "--sign-key", "alice"]);
    out.code(0).stdout_has(
        "! emergency change (--emergency): approvals and the change window are not checked; the reports will say it awaits retro-approval",
    );
    assert!(f.db.has_column("all_users", "nickname"));
    let dir = f.t.run_dirs("runs").remove(0);
    let d = dir.to_str().unwrap().to_string();
    let started = events(&journal(&dir), "run_started")[0].clone();
    assert_eq!(started["emergency"], "orders table is down");
    let awaiting = "EMERGENCY CHANGE, awaiting retro-approval: run without approvals (--emergency \"orders table is down\")";
    for file in ["report.md", "report.html"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(text.contains(&awaiting.replace('"', if file == "report.html" { "&quot;" } else { "\"" })), "{file}:\n{text}");
    }
    f.t.exec(["audit", "verify", &d, "--allowed-signers", "allowed_signers"])
        .code(1)
        .stdout_has(&format!("emergency change (orders table is down) awaiting retro-approval: runbook approve --retro {d} --key KEY"));

    // The operator cannot retro-approve their own emergency run; someone else's approval of
    // its final seal closes it.
    f.t.exec(["approve", "--retro", &d, "--key", "alice", "--principal", "alice"]).code(0);
    f.t.exec(["audit", "verify", &d, "--allowed-signers", "allowed_signers"])
        .code(1)
        .stdout_has(&format!("({}/retro-alice.approval is by alice, who ran the change: no self-approval)", d));
    std::fs::remove_file(dir.join("retro-alice.approval")).unwrap();
    let retro = f.t.exec(["approve", "--retro", &d, "--key", "bob", "--principal", "bob"]);
    retro.code(0).stdout_has(&format!("approved the emergency run {} as bob", dir.file_name().unwrap().to_str().unwrap()));
    let file = dir.join("retro-bob.approval");
    ssh_verify(f.t.dir.path(), "bob", "runbook-approval", &file, &dir.join("retro-bob.approval.sig"));
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(m["kind"], "retro");
    assert_eq!(m["run"]["seal"].as_str().unwrap(), std::fs::read_to_string(dir.join("seal")).unwrap().trim());
    assert_eq!(m["run"]["change_sha256"], started["change_sha256"]);
    f.t.exec(["audit", "verify", &d, "--allowed-signers", "allowed_signers"])
        .code(0)
        .stdout_has(&format!("emergency change retro-approved by bob (key {})", fingerprint(f.t.dir.path(), "bob")));
}

/// An ssh-agent of the test's own, stopped when dropped.
struct Agent {
    child: std::process::Child,
    sock: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_ssh_agent_signs_an_approval_that_ssh_keygen_accepts() {
    if !have_ssh_keygen() {
        return;
    }
    if Command::new("ssh-agent").arg("-h").stderr(Stdio::null()).status().is_err() {
        assert!(!crate::support::servers_required(), "ssh-agent (OpenSSH) is required");
        eprintln!("skipped: ssh-agent is not installed");
        return;
    }
    let f = Fixture::new();
    let sock = f.t.dir.join("agent.sock");
    let child = Command::new("ssh-agent").arg("-D").arg("-a").arg(&sock).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let agent = Agent { child, sock };
    for _ in 0..100 {
        if agent.sock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let added = Command::new("ssh-add").arg(f.t.dir.join("carol")).env("SSH_AUTH_SOCK", &agent.sock).output().unwrap();
    assert!(added.status.success(), "ssh-add: {}", String::from_utf8_lossy(&added.stderr));
    // Only the public key is given: the private half stays in the agent.
    std::fs::remove_file(f.t.dir.join("carol")).unwrap();
    let sock = agent.sock.display().to_string();
    let out = f.t.exec_env(
        &["approve", "runbook.yaml", "--db", &f.db.url(), "--key", "carol.pub", "--principal", "carol", "-o", "carol.approval"],
        &[("SSH_AUTH_SOCK", &sock)],
    );
    out.code(0).stdout_has(&format!("as carol (key {}, via ssh-agent)", fingerprint(f.t.dir.path(), "carol")));
    ssh_verify(f.t.dir.path(), "carol", "runbook-approval", &f.t.dir.join("carol.approval"), &f.t.dir.join("carol.approval.sig"));
    // Without the agent, a public key cannot sign.
    f.t.exec(["approve", "runbook.yaml", "--db", &f.db.url(), "--key", "carol.pub", "--principal", "carol", "-o", "x.approval"])
        .code(2)
        .stderr_has("carol.pub: a public key, and no running ssh-agent (SSH_AUTH_SOCK) holds its private key");
    f.approve("bob", "bob.approval", &[]).code(0);
    f.run(&["bob.approval", "carol.approval"], &[]).code(0);
    assert!(f.db.has_column("all_users", "nickname"));
}

#[test]
fn live_approvals_are_attached_to_the_ticket_fetched_from_it_and_listed_in_its_note() {
    if !have_ssh_keygen() {
        return;
    }
    let Some((url, key)) = crate::redmine::redmine() else { return };
    let _turn = crate::redmine::LIVE.lock().unwrap_or_else(|e| e.into_inner());
    let api = crate::redmine::Api::new(&url, &key);
    let issue = api.change_ticket(true).to_string();
    let f = Fixture::new();
    let env = [("REDMINE_API_KEY", key.as_str())];
    for who in ["bob", "carol"] {
        let out = f.t.exec_env(
            &[
                "approve",
                "runbook.yaml",
                "--db",
                &f.db.url(),
                "--key",
                who,
                "--principal",
                who,
                "-o",
                &format!("{who}.approval"),
                "--redmine",
                &url,
                "--issue",
                &issue,
            ],
            &env,
        );
        out.code(0).stdout_has(&format!("attached {who}.approval and {who}.approval.sig to issue #{issue}"));
    }
    let ticket = api.issue(issue.parse().unwrap());
    assert_eq!(crate::redmine::attachment_names(&ticket), ["bob.approval", "bob.approval.sig", "carol.approval", "carol.approval.sig"]);
    assert!(crate::redmine::notes(&ticket).iter().any(|n| n.starts_with("Approved by bob (key SHA256:")));
    // Approvals only on the ticket: the run fetches them, and refuses what it would refuse
    // from files.
    std::fs::remove_file(f.t.dir.join("bob.approval")).unwrap();
    std::fs::remove_file(f.t.dir.join("carol.approval")).unwrap();
    let out = f.t.exec_env(
        &[
            "run",
            "runbook.yaml",
            "--db",
            &f.db.url(),
            "--yes",
            "--operator",
            "alice",
            "--runs-dir",
            "runs",
            "--allowed-signers",
            "allowed_signers",
            "--approvals-from-redmine",
            &url,
            "--issue",
            &issue,
            "--sign-key",
            "alice",
        ],
        &env,
    );
    out.code(0).stdout_has("approved by bob, carol");
    assert!(f.db.has_column("all_users", "nickname"));
    let dir = f.t.run_dirs("runs").remove(0);
    let started = events(&journal(&dir), "run_started")[0].clone();
    assert_eq!(started["approvals"][0]["source"], format!("#{issue}/bob.approval"));
    // report --redmine lists the approvals in its note.
    f.t.exec_env(&["report", dir.to_str().unwrap(), "--redmine", &url, "--issue", &issue], &env).code(0);
    let ticket = api.issue(issue.parse().unwrap());
    let note = crate::redmine::notes(&ticket).into_iter().find(|n| n.contains("Runbook evidence")).expect("the evidence note");
    assert!(note.contains("- Approved by bob (key SHA256:") && note.contains("- Approved by carol (key SHA256:"), "{note}");
    // The signed seal went with the journal: the ticket holds all that ssh-keygen checks.
    let names = crate::redmine::attachment_names(&ticket);
    assert!(names.contains(&"seal".to_string()) && names.contains(&"seal.sig".to_string()), "{names:?}");
}

#[test]
fn a_rollback_needs_its_own_approvals_and_an_approval_can_pin_the_rehearsal() {
    if !have_ssh_keygen() {
        return;
    }
    let f = Fixture::new();
    let url = f.db.url();
    f.t.exec(["rehearse", "runbook.yaml", "--db", &url, "--runs-dir", "rehearsals"]).code(0);
    let rehearsal = f.t.run_dirs("rehearsals").remove(0);
    let r = rehearsal.to_str().unwrap();
    f.approve("bob", "bob.approval", &["--rehearsal", r]).code(0);
    f.approve("carol", "carol.approval", &["--rehearsal", r]).code(0);
    let m: Value = serde_json::from_str(&std::fs::read_to_string(f.t.dir.join("bob.approval")).unwrap()).unwrap();
    let last = std::fs::read_to_string(rehearsal.join("journal.jsonl")).unwrap().lines().last().unwrap().to_string();
    assert_eq!(m["rehearsal"]["seal"], hex_sha256(last.as_bytes()));
    assert_eq!(m["rehearsal"]["run_id"], rehearsal.file_name().unwrap().to_str().unwrap());
    // A run folder that is not a rehearsal is not accepted as one.
    f.run(&["bob.approval", "carol.approval"], &[]).code(0);
    let run = f.t.run_dirs("runs").remove(0);
    f.approve("bob", "x.approval", &["--rehearsal", run.to_str().unwrap()])
        .code(2)
        .stderr_has(&format!("--rehearsal {}: a `run` run, not a rehearsal", run.display()));

    // The change plan's approvals do not cover its rollback.
    let before = f.schema();
    let rollback = |approvals: &[&str]| {
        let mut args = vec![
            "rollback",
            "runbook.yaml",
            "--db",
            &url,
            "--yes",
            "--operator",
            "alice",
            "--runs-dir",
            "runs",
            "--allowed-signers",
            "allowed_signers",
        ];
        for a in approvals {
            args.extend(["--approval", a]);
        }
        f.t.exec(&args)
    };
    rollback(&["bob.approval", "carol.approval"]).code(2).stderr_has(
        "approval bob.approval (by bob) does not match this run: plan: approved \"plan\", this run has \"rollback\"; nothing was run",
    );
    assert_eq!(f.schema(), before);
    f.approve("bob", "bob-rollback.approval", &["--rollback"]).code(0);
    f.approve("carol", "carol-rollback.approval", &["--rollback"]).code(0);
    rollback(&["bob-rollback.approval", "carol-rollback.approval"]).code(0).stdout_has("approved by bob, carol");
    assert!(!f.db.has_column("all_users", "nickname"));
}

#[test]
fn manifests_hold_no_secret_encrypted_keys_need_their_passphrase_and_namespaces_are_honoured() {
    if !have_ssh_keygen() {
        return;
    }
    let f = Fixture::new();
    let secret = "pa55-w0rd-7f3k";
    f.t.dir.write(
        "runbook.yaml",
        &RUNBOOK.replace("vars:\n", "vars:\n  token: {secret: true, env: APP_TOKEN}\n").replace(
            "rollback:\n",
            "  - id: tell\n    name: Tell the application\n    kind: command\n    command: [echo, \"token=${token}\"]\nrollback:\n",
        ),
    );
    // An encrypted key: refused without its passphrase, used with it.
    let st = Command::new("ssh-keygen")
        .current_dir(f.t.dir.path())
        .args(["-q", "-t", "ed25519", "-N", PASSPHRASE, "-C", "dave", "-f", "dave"])
        .status()
        .unwrap();
    assert!(st.success());
    let url = f.db.url();
    let args = ["approve", "runbook.yaml", "--db", &url, "--key", "dave", "--principal", "dave", "-o", "dave.approval"];
    let locked = f.t.exec_env(&args, &[("APP_TOKEN", secret)]);
    locked.code(2).stderr_has("dave: the key is encrypted: load it into ssh-agent (`ssh-add dave`) or set RUNBOOK_KEY_PASSPHRASE");
    let wrong = f.t.exec_env(&args, &[("APP_TOKEN", secret), ("RUNBOOK_KEY_PASSPHRASE", "wrong")]);
    wrong.code(2).stderr_has("dave: wrong passphrase in RUNBOOK_KEY_PASSPHRASE");
    let dave = f.t.exec_env(&args, &[("APP_TOKEN", secret), ("RUNBOOK_KEY_PASSPHRASE", PASSPHRASE)]);
    dave.code(0).lacks(secret).lacks(PASSPHRASE);
    let text = std::fs::read_to_string(f.t.dir.join("dave.approval")).unwrap();
    assert!(!text.contains(secret), "the manifest holds the secret: {text}");
    let m: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(m["change"]["vars"]["token"], "********");
    assert_eq!(m["change"]["steps"][1]["command"], serde_json::json!(["echo", "token=********"]));

    // dave may sign seals but not approve: his allowed_signers line says so.
    let public = std::fs::read_to_string(f.t.dir.join("dave.pub")).unwrap();
    let allowed = std::fs::read_to_string(f.t.dir.join("allowed_signers")).unwrap();
    f.t.dir.write("allowed_signers", &format!("{allowed}dave namespaces=\"runbook-seal\" {public}"));
    let unset = f.approve("bob", "bob.approval", &[]);
    unset.code(2).stderr_has("step `tell` uses variable `token`, which has no value");
    let bob = f.t.exec_env(
        &["approve", "runbook.yaml", "--db", &url, "--key", "bob", "--principal", "bob", "-o", "bob.approval"],
        &[("APP_TOKEN", secret)],
    );
    bob.code(0);
    let before = f.schema();
    let run = f.t.exec_env(
        &[
            "run",
            "runbook.yaml",
            "--db",
            &url,
            "--yes",
            "--operator",
            "alice",
            "--runs-dir",
            "runs",
            "--allowed-signers",
            "allowed_signers",
            "--approval",
            "bob.approval",
            "--approval",
            "dave.approval",
        ],
        &[("APP_TOKEN", secret)],
    );
    let fp = fingerprint(f.t.dir.path(), "dave");
    run.code(2).stderr_has(&format!(
        "approval dave.approval (by dave): unknown signer: key {fp} is not in the allowed signers for principal `dave`; nothing was run"
    ));
    assert_eq!(f.schema(), before);
    // Neither the variable's value nor the key's passphrase is in any file of the folder (the
    // manifests, the state) or in anything printed.
    let outputs = [&locked, &wrong, &dave, &unset, &bob, &run];
    crate::support::assert_secret_nowhere(&f.t, secret, &[f.t.dir.path().to_path_buf()], &outputs);
    crate::support::assert_secret_nowhere(&f.t, PASSPHRASE, &[f.t.dir.path().to_path_buf()], &outputs);
}

const PASSPHRASE: &str = "open sesame-4k9q";

/// Approvals on PostgreSQL and MariaDB: the manifest names the server without its password,
/// a column added out of band refuses the run with the schema difference, and once the schema
/// is back as approved the run goes ahead.
fn approvals_on_a_server(db: crate::support::servers::ServerDb, url: String, password: Option<&str>) {
    let f = Fixture::new();
    db.users(20);
    let mut outputs = Vec::new();
    for who in ["bob", "carol"] {
        let out = f.t.exec(["approve", "runbook.yaml", "--db", &url, "--key", who, "--principal", who, "-o", &format!("{who}.approval")]);
        out.code(0);
        if let Some(p) = password {
            out.lacks(p);
        }
        outputs.push(out);
    }
    let text = std::fs::read_to_string(f.t.dir.join("bob.approval")).unwrap();
    if let Some(p) = password {
        assert!(!text.contains(p), "the manifest holds the password");
    }
    let m: Value = serde_json::from_str(&text).unwrap();
    let u = url::Url::parse(&url).unwrap();
    assert_eq!(m["change"]["target"]["host"], format!("{}:{}", u.host_str().unwrap(), u.port().unwrap()));
    assert_eq!(m["change"]["target"]["database"], u.path().trim_start_matches('/'));
    let run = |args: &[&str]| {
        let mut v = vec![
            "run",
            "runbook.yaml",
            "--db",
            &url,
            "--yes",
            "--operator",
            "alice",
            "--runs-dir",
            "runs",
            "--allowed-signers",
            "allowed_signers",
        ];
        v.extend(args);
        f.t.exec(&v)
    };
    db.exec("ALTER TABLE all_users ADD COLUMN note VARCHAR(20)");
    let out = run(&["--approval", "bob.approval", "--approval", "carol.approval"]);
    out.code(2)
        .stderr_has("the target's schema changed since approval bob.approval (by bob) was signed:\n  + column all_users.note was added (");
    assert!(!db.has_column("all_users", "nickname"));
    assert!(f.t.run_dirs("runs").is_empty());
    outputs.push(out);
    db.exec("ALTER TABLE all_users DROP COLUMN note");
    let out = run(&["--approval", "bob.approval", "--approval", "carol.approval"]);
    out.code(0).stdout_has("approved by bob, carol");
    assert!(db.has_column("all_users", "nickname"));
    outputs.push(out);
    if let Some(p) = password {
        // Every file of the folder: manifests, the run folder, the state.
        assert_eq!(f.t.run_dirs("runs").len(), 1);
        crate::support::assert_secret_nowhere(&f.t, p, &[f.t.dir.path().to_path_buf()], &outputs.iter().collect::<Vec<_>>());
    }
}

#[test]
fn approvals_on_postgresql() {
    if !have_ssh_keygen() {
        return;
    }
    let Some(db) = crate::support::servers::ServerDb::postgres() else { return };
    // The test server trusts local connections, so a password in the URL is accepted and
    // must still never reach a manifest.
    let url = db.url().replacen("postgres@", "postgres:hunter2-secret@", 1);
    approvals_on_a_server(db, url, Some("hunter2-secret"));
}

#[test]
fn approvals_on_mariadb() {
    if !have_ssh_keygen() {
        return;
    }
    let Some(db) = crate::support::servers::ServerDb::mysql() else { return };
    let url = db.url();
    approvals_on_a_server(db, url, None);
}

#[test]
fn a_signed_run_killed_mid_way_is_signed_when_resume_finishes_it() {
    if !have_ssh_keygen() {
        return;
    }
    let f = Fixture::new();
    f.approve("bob", "bob.approval", &[]).code(0);
    f.approve("carol", "carol.approval", &[]).code(0);
    let url = f.db.url();
    let killed = f.t.exec_env(
        &[
            "run",
            "runbook.yaml",
            "--db",
            &url,
            "--yes",
            "--operator",
            "alice",
            "--runs-dir",
            "runs",
            "--allowed-signers",
            "allowed_signers",
            "--approval",
            "bob.approval",
            "--approval",
            "carol.approval",
            "--sign-key",
            "alice",
        ],
        &[("RUNBOOK_FAULT", "kill-after=step_started:add")],
    );
    assert_ne!(killed.code, 0);
    let dir = f.t.run_dirs("runs").remove(0);
    let d = dir.to_str().unwrap();
    assert!(!dir.join("seal.sig").exists());
    f.t.exec(["resume", d, "--yes", "--rerun-in-flight"]).code(0);
    assert!(f.db.has_column("all_users", "nickname"));
    ssh_verify(f.t.dir.path(), "alice", "runbook-seal", &dir.join("seal"), &dir.join("seal.sig"));
    f.t.exec(["audit", "verify", d, "--allowed-signers", "allowed_signers"]).code(0).stdout_has("seal signature by alice");
}
