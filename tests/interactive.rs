//! Interactive runs driven through a real pseudo-terminal, answering the prompts as an
//! operator would.

use std::time::Duration;

use expectrl::{Eof, Session, WaitStatus};

use crate::support::{events, journal, SqliteFile, Test, SEED};

const DOWN: &str = "\x1b[B";

fn session(t: &Test, args: &[&str]) -> Session {
    let mut c = t.command();
    c.args(args).env("TERM", "xterm").env("COLUMNS", "120");
    let mut s = Session::spawn(c).expect("spawn in a pty");
    s.set_expect_timeout(Some(Duration::from_secs(20)));
    s
}

fn exit_code(s: &mut Session) -> i32 {
    let _ = s.expect(Eof);
    match s.get_process().wait().expect("wait") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("unexpected end: {other:?}"),
    }
}

#[test]
fn abort_at_step_2_leaves_the_database_unchanged_and_exits_3() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 100);
    let schema = db.rows("SELECT sql FROM sqlite_master ORDER BY name");
    let digest = db.data_digest();
    let url = db.url();
    let mut s = session(
        &t,
        &[
            "run",
            SEED,
            "--db",
            &url,
            "--runs-dir",
            "runs",
            "--operator",
            "carol",
            "--skip",
            "data-sync-test",
            "--skip",
            "post-deployment-monitoring",
            "--skip",
            "monitor-after-rollback",
        ],
    );
    s.expect("Step 1/8 · Backup Database · backup").unwrap();
    s.expect("Run this step?").unwrap();
    s.send("\r").unwrap();
    s.expect("Step 2/8 · Add New Column · sql").unwrap();
    s.expect("ALTER TABLE all_users ADD COLUMN pcc_user_uuid").unwrap();
    s.expect("Run this step?").unwrap();
    s.send(DOWN).unwrap();
    s.send(DOWN).unwrap();
    s.send("\r").unwrap();
    s.expect("aborted").unwrap();
    assert_eq!(exit_code(&mut s), 3);

    assert_eq!(db.rows("SELECT sql FROM sqlite_master ORDER BY name"), schema, "schema changed");
    assert_eq!(db.data_digest(), digest);
    let j = journal(&t.run_dirs("runs")[0]);
    let d = events(&j, "step_decision");
    assert_eq!(d.len(), 2);
    assert_eq!(d[0]["decision"], "run");
    assert_eq!(d[0]["how"], "interactive");
    assert_eq!(d[0]["by"], "carol");
    assert_eq!(d[1]["decision"], "abort");
    assert_eq!(j.last().unwrap()["outcome"], "aborted");
    assert_eq!(j.last().unwrap()["exit_code"], 3);
    assert_eq!(events(&j, "backup").len(), 1, "the backup of step 1 ran");
}

const MANUAL: &str = r#"
version: 1
id: manual
plan:
  - id: check
    name: Check the application
    kind: manual
    instructions: Look at the dashboard.
    checklist:
      - Dashboard is green
      - On-call is told
  - id: change
    name: Make a table
    kind: sql
    sql: CREATE TABLE made(x INTEGER)
rollback:
  - id: undo
    name: Drop it
    kind: sql
    sql: DROP TABLE IF EXISTS made
"#;

#[test]
fn manual_checklist_and_note_are_recorded_with_who_and_how() {
    let t = Test::new().runbook(MANUAL);
    let db = SqliteFile::users(t.dir.path(), 3);
    let url = db.url();
    let mut s = session(&t, &["run", "runbook.yaml", "--db", &url, "--runs-dir", "runs", "--operator", "dave"]);
    s.expect("Run this step?").unwrap();
    s.send("\r").unwrap();
    s.expect("Done: Dashboard is green?").unwrap();
    s.send("y").unwrap();
    s.expect("Done: On-call is told?").unwrap();
    s.send("y").unwrap();
    s.expect("Note for the record").unwrap();
    s.send_line("paged Erin at 02:10").unwrap();
    s.expect("Step 2/2").unwrap();
    s.expect("Run this step?").unwrap();
    s.send("\r").unwrap();
    assert_eq!(exit_code(&mut s), 0);
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name='made'"), "1");
    let j = journal(&t.run_dirs("runs")[0]);
    let items = events(&j, "checklist_item");
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i["confirmed"] == true && i["by"] == "dave" && i["how"] == "interactive"));
    assert_eq!(events(&j, "note")[0]["text"], "paged Erin at 02:10");
}

#[test]
fn unconfirmed_checklist_item_fails_the_step_and_offers_the_rollback() {
    let t = Test::new().runbook(
        &MANUAL
            .replace("  - id: check", "  - id: pre\n    name: Pre\n    kind: sql\n    sql: CREATE TABLE made(x INTEGER)\n  - id: check")
            .replace("    sql: CREATE TABLE made(x INTEGER)\nrollback", "    sql: CREATE TABLE other(x INTEGER)\nrollback"),
    );
    let db = SqliteFile::users(t.dir.path(), 3);
    let url = db.url();
    let mut s = session(&t, &["run", "runbook.yaml", "--db", &url, "--runs-dir", "runs", "--allow-no-backup"]);
    s.expect("Run this step?").unwrap();
    s.send("\r").unwrap();
    s.expect("Step 2/3").unwrap();
    s.expect("Run this step?").unwrap();
    s.send("\r").unwrap();
    s.expect("Done: Dashboard is green?").unwrap();
    s.send("n").unwrap();
    s.expect("Done: On-call is told?").unwrap();
    s.send("y").unwrap();
    s.expect("Note for the record").unwrap();
    s.send("\r").unwrap();
    s.expect("Run the rollback plan now?").unwrap();
    s.send("y").unwrap();
    s.expect("Drop it").unwrap();
    s.expect("Run this step?").unwrap();
    s.send("\r").unwrap();
    assert_eq!(exit_code(&mut s), 1);
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name='made'"), "0", "rollback ran");
    let j = journal(&t.run_dirs("runs")[0]);
    assert_eq!(events(&j, "rollback_decision")[0]["accepted"], true);
    assert_eq!(j.last().unwrap()["outcome"], "rolled_back");
}

#[test]
fn ctrl_c_at_a_terminal_offers_the_rollback_plan_and_exits_3() {
    let t = Test::new().runbook(
        r#"
version: 1
id: interrupted
plan:
  - id: make
    name: Make a table
    kind: sql
    sql: CREATE TABLE made(x INTEGER)
  - id: wait
    name: A long job
    kind: command
    command: ["sleep", "30"]
rollback:
  - id: undo
    name: Drop it
    kind: sql
    sql: DROP TABLE IF EXISTS made
"#,
    );
    let db = SqliteFile::users(t.dir.path(), 3);
    let url = db.url();
    let mut s = session(&t, &["run", "runbook.yaml", "--db", &url, "--runs-dir", "runs", "--allow-no-backup"]);
    s.expect("Run this step?").unwrap();
    s.send("\r").unwrap();
    s.expect("Step 2/2").unwrap();
    s.expect("Run this step?").unwrap();
    s.send("\r").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // ^C at the terminal: the line discipline turns it into SIGINT for the run.
    s.send("\x03").unwrap();
    s.expect("interrupted").unwrap();
    s.expect("Interrupted. Run the rollback plan now?").unwrap();
    s.send("y").unwrap();
    s.expect("Drop it").unwrap();
    s.expect("Run this step?").unwrap();
    s.send("\r").unwrap();
    assert_eq!(exit_code(&mut s), 3);
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name='made'"), "0", "the rollback ran");
    let j = journal(&t.run_dirs("runs")[0]);
    assert_eq!(events(&j, "interrupted").len(), 1);
    assert_eq!(events(&j, "rollback_decision")[0]["accepted"], true);
    assert_eq!(j.last().unwrap()["outcome"], "interrupted");
}

/// Regression: a step's duration and start time included the time the operator spent at its
/// prompt, so a 3 ms backup confirmed after a minute showed as a one-minute step.
#[test]
fn time_spent_at_the_prompt_is_not_the_steps_duration() {
    let t = Test::new().runbook(MANUAL);
    let db = SqliteFile::users(t.dir.path(), 3);
    let url = db.url();
    let mut s = session(&t, &["run", "runbook.yaml", "--db", &url, "--runs-dir", "runs", "--skip", "check"]);
    s.expect("Step 2/2 · Make a table · sql").unwrap();
    s.expect("Run this step?").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    s.send("\r").unwrap();
    assert_eq!(exit_code(&mut s), 0);
    let run = &t.run_dirs("runs")[0];
    let j = journal(run);
    let finished = events(&j, "step_finished").into_iter().find(|e| e["step_id"] == "change").unwrap().clone();
    let ms = finished["duration_ms"].as_u64().unwrap();
    assert!(ms < 1000, "the step's duration counts the 1.5 s wait at the prompt: {ms} ms");
    let shown = events(&j, "step_started").into_iter().find(|e| e["step_id"] == "change").unwrap()["ts"].as_str().unwrap().to_string();
    let confirmed = events(&j, "step_decision").into_iter().find(|e| e["step_id"] == "change").unwrap()["ts"].as_str().unwrap().to_string();
    assert!(confirmed > shown, "decision {confirmed} after showing {shown}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    let step = report["steps"].as_array().unwrap().iter().find(|s| s["id"] == "change").unwrap();
    assert_eq!(step["started"], confirmed.as_str(), "the report's start is the confirmation");
    assert_eq!(step["duration_ms"], ms);
}
