//! Resume finishes the run that was started: the run header carries every `--skip` (with its
//! reason), every variable (secret ones by reference), `--on-failure`; a kill -9 at any journal
//! line then `resume` ends exactly like the uninterrupted run. Old journals still resume.

use std::process::Stdio;

use crate::support::{events, journal, SqliteFile, Test};

/// Skips, a plain and a secret variable, and a step that fails so that `--on-failure rollback`
/// decides the end.
const HEADER_RUNBOOK: &str = r#"
version: 1
id: header
vars:
  label:
    default: default-label
  token:
    secret: true
    env: HEADER_TEST_TOKEN
plan:
  - id: purge
    name: Purge (under legal hold)
    kind: sql
    sql: DELETE FROM items
  - id: tag
    name: Tag
    kind: sql
    sql: INSERT INTO log (note) VALUES ('${label}')
  - id: secret
    name: Use the token
    kind: sql
    sql: INSERT INTO log (note) VALUES (length('${token}'))
  - id: boom
    name: Fails
    kind: sql
    sql: INSERT INTO missing_table VALUES (1)
rollback:
  - id: undo
    name: Undo
    kind: sql
    sql: INSERT INTO log (note) VALUES ('rolled back ${label}')
"#;

const TOKEN: &str = "t0k3n-s3cr3t";

fn seeded(t: &Test) -> SqliteFile {
    let db = SqliteFile::users(t.dir.path(), 1);
    db.exec("CREATE TABLE items (id INTEGER PRIMARY KEY, note TEXT); INSERT INTO items (note) VALUES ('keep1'), ('keep2'); CREATE TABLE log (id INTEGER PRIMARY KEY, note TEXT)");
    db
}

fn header_args(db: &SqliteFile, runs: &str) -> Vec<String> {
    [
        "run",
        "runbook.yaml",
        "--yes",
        "--runs-dir",
        runs,
        "--db",
        &db.url(),
        "--skip",
        "purge=legal hold LH-7",
        "--var",
        "label=custom",
        "--on-failure",
        "rollback",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn end_state(db: &SqliteFile) -> Vec<Vec<String>> {
    let mut rows = db.rows("SELECT 'items', note FROM items ORDER BY id");
    rows.extend(db.rows("SELECT 'log', note FROM log ORDER BY id"));
    rows
}

#[test]
fn the_run_header_records_skips_vars_by_reference_and_on_failure() {
    let t = Test::new().runbook(HEADER_RUNBOOK).env("HEADER_TEST_TOKEN", TOKEN);
    let db = seeded(&t);
    t.exec(header_args(&db, "runs")).code(1);
    let run = t.run_dirs("runs").pop().unwrap();
    let j = journal(&run);
    let h = &j[0];
    assert_eq!(h["event"], "run_started");
    assert_eq!(h["mode"], "run");
    assert_eq!(h["skips"], serde_json::json!([{ "step_id": "purge", "reason": "legal hold LH-7" }]));
    assert_eq!(h["vars"]["label"], "custom");
    assert_eq!(h["vars"]["token"], "********");
    assert_eq!(h["secret_vars"], serde_json::json!({ "token": { "from": "env", "name": "HEADER_TEST_TOKEN" } }));
    assert_eq!(h["on_failure_rollback"], true);
    assert_eq!(h["allow_no_backup"], false);
    assert!(!std::fs::read_to_string(run.join("journal.jsonl")).unwrap().contains(TOKEN));
    assert_eq!(end_state(&db), [["items", "keep1"], ["items", "keep2"], ["log", "custom"], ["log", "12"], ["log", "rolled back custom"]]);
}

#[test]
fn kill_9_at_every_journal_line_then_resume_ends_like_the_uninterrupted_run() {
    let reference = Test::new().runbook(HEADER_RUNBOOK).env("HEADER_TEST_TOKEN", TOKEN);
    let db = seeded(&reference);
    reference.exec(header_args(&db, "runs")).code(1);
    let want = end_state(&db);
    let lines = journal(&reference.run_dirs("runs")[0]).len();
    // The kill after the last line (run_finished) leaves nothing to resume.
    for n in 1..lines {
        let t = Test::new().runbook(HEADER_RUNBOOK).env("HEADER_TEST_TOKEN", TOKEN);
        let db = seeded(&t);
        let mut c = t.command();
        c.env("RUNBOOK_FAULT", format!("kill-after=any#{n}")).args(header_args(&db, "runs"));
        let status = c.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "line {n}: not killed ({status})");
        let Some(run) = t.run_dirs("runs").pop() else { panic!("line {n}: no run folder") };
        // No --skip, no --var, no --on-failure: the header has them. The secret comes from
        // its environment variable again.
        let out = t.exec(["resume", &run.display().to_string(), "--yes", "--rerun-in-flight"]);
        if j_has_no_snapshot(&run) {
            out.code(2).stderr_has("start a new run");
            continue;
        }
        out.code(1);
        assert_eq!(end_state(&db), want, "killed after line {n}:\n{}", out.all());
        let j = journal(&run);
        assert_eq!(j.last().unwrap()["outcome"], "rolled_back", "line {n}");
        // The step skipped for the legal hold never ran, before or after the kill.
        assert!(
            events(&j, "step_decision").iter().filter(|e| e["step_id"] == "purge").all(|e| e["decision"] == "skip"),
            "line {n}: purge was not skipped"
        );
        assert!(!std::fs::read_to_string(run.join("journal.jsonl")).unwrap().contains(TOKEN), "line {n}: the secret was journaled");
        t.exec(["audit", "verify", &run.display().to_string()]).code(0);
    }
}

fn j_has_no_snapshot(run: &std::path::Path) -> bool {
    !journal(run).iter().any(|e| e["event"] == "schema_snapshot")
}

#[test]
fn resume_refuses_a_value_that_differs_from_the_header_and_needs_the_secret_again() {
    let t = Test::new().runbook(HEADER_RUNBOOK).env("HEADER_TEST_TOKEN", TOKEN);
    let db = seeded(&t);
    let mut c = t.command();
    c.env("RUNBOOK_FAULT", "kill-after=step_finished:tag").args(header_args(&db, "runs"));
    c.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
    let run = t.run_dirs("runs").pop().unwrap().display().to_string();
    let lines = journal(std::path::Path::new(&run)).len();

    let out = t.exec(["resume", &run, "--yes", "--var", "label=other"]);
    out.code(2).stderr_has("--var label=other differs from the value run").stderr_has("(`custom`)");
    // The same value again is fine; the secret is not in the journal, so without its
    // environment variable (and no terminal to type it) resume stops before doing anything.
    let bare = Test::new();
    let out = bare.exec(["resume", &run, "--yes", "--var", "label=custom"]);
    out.code(2).stderr_has("secret variable `token` is not stored in the journal").stderr_has("HEADER_TEST_TOKEN");
    assert_eq!(journal(std::path::Path::new(&run)).len(), lines, "a refused resume wrote to the journal");

    t.exec(["resume", &run, "--yes"]).code(1);
    assert_eq!(end_state(&db), [["items", "keep1"], ["items", "keep2"], ["log", "custom"], ["log", "12"], ["log", "rolled back custom"]]);
}

#[test]
fn rerun_in_flight_never_runs_a_step_whose_decision_was_skip() {
    let t = Test::new().runbook(HEADER_RUNBOOK).env("HEADER_TEST_TOKEN", TOKEN);
    let db = seeded(&t);
    let mut c = t.command();
    c.env("RUNBOOK_FAULT", "kill-after=step_decision:purge").args(header_args(&db, "runs"));
    c.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
    let run = t.run_dirs("runs").pop().unwrap();
    let out = t.exec(["resume", &run.display().to_string(), "--yes", "--rerun-in-flight"]);
    out.code(1).stdout_has("Step `purge` was being skipped when run");
    assert_eq!(db.scalar("SELECT count(*) FROM items"), "2", "the skipped DELETE ran");
    let j = journal(&run);
    let purge: Vec<_> = j.iter().filter(|e| e["event"] == "step_finished" && e["step_id"] == "purge").collect();
    assert_eq!(purge.len(), 1);
    assert_eq!(purge[0]["status"], "skipped");
}

/// A journal written before the run header existed (committed as it was written): it still
/// verifies, reports and resumes.
#[test]
fn an_old_journal_still_verifies_reports_and_resumes() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/old-journal");
    // The journal names its runbook and database by these absolute paths.
    let home = std::path::Path::new("/tmp/runbook-old-journal-fixture");
    // One test at a time on this machine may use that fixed folder.
    let lock = std::fs::File::create("/tmp/runbook-old-journal-fixture.lock").unwrap();
    // SAFETY: flock(2) on a file descriptor this test owns for its whole body.
    assert_eq!(unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) }, 0);
    let _ = std::fs::remove_dir_all(home);
    std::fs::create_dir_all(home).unwrap();
    std::fs::copy(format!("{fixture}/runbook.yaml"), home.join("runbook.yaml")).unwrap();
    let db = SqliteFile { path: home.join("db.sqlite3") };
    db.exec("CREATE TABLE t0(x); CREATE TABLE items (id INTEGER PRIMARY KEY, note TEXT); INSERT INTO items (note) VALUES ('one'), ('two')");
    let t = Test::new().env("OLD_FIXTURE_TOKEN", "s3cret");
    let run = t.dir.join("runs/20261202T010345346Z-04383c");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::copy(format!("{fixture}/journal.jsonl"), run.join("journal.jsonl")).unwrap();
    let run = run.display().to_string();

    t.exec(["audit", "verify", &run]).code(0);
    t.exec(["report", &run, "--format", "json"]).code(0).stdout_has("\"mode\": \"run\"");
    let out = t.exec(["resume", &run, "--yes"]);
    out.code(0).stdout_has("predates the full run header");
    assert_eq!(db.rows("SELECT note FROM items ORDER BY id"), [["one"], ["two"], ["s3cret"]]);
    let j = journal(std::path::Path::new(&run));
    assert_eq!(j.last().unwrap()["outcome"], "succeeded");
    t.exec(["audit", "verify", &run]).code(0);
    let _ = std::fs::remove_dir_all(home);
}
