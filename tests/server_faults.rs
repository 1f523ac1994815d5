//! Rehearsal, resume, Ctrl-C and a stopped server against the real PostgreSQL and MariaDB.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::servers::ServerDb;
use crate::support::{events, journal, Test, SEED};

/// Every tenth user gets a UUID derived from its id, through psql, on whatever the run targets.
const PG_SYNC: &str = "sync_command=psql -q \"$RUNBOOK_DB_URL\" -c \"UPDATE all_users SET pcc_user_uuid = lpad(to_hex(id), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(id), 12, '0') WHERE id % 10 = 0\"";

fn vars(t: &Test) -> Vec<String> {
    std::fs::write(t.dir.join("app.log"), "").unwrap();
    [
        "--var",
        PG_SYNC,
        "--var",
        &format!("app_log={}", t.dir.join("app.log").display()),
        "--var",
        "monitor_duration=600ms",
        "--var",
        "monitor_interval=200ms",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn rehearse_round_trip(db: &ServerDb, skip_sync: bool) {
    db.users(500);
    let digest = db.data_digest();
    let t = Test::new();
    let mut a: Vec<String> = ["rehearse", SEED, "--db", &db.url(), "--runs-dir", "runs"].iter().map(|s| s.to_string()).collect();
    a.extend(vars(&t));
    if skip_sync {
        a.extend(["--skip".into(), "data-sync-test".into()]);
    }
    let out = t.exec(&a);
    out.code(0).stdout_has("schema after plan + rollback: equal to the original").stdout_has("scratch copy dropped");
    assert!(!db.has_column("all_users", "pcc_user_uuid"), "rehearsal changed the target");
    assert_eq!(db.data_digest(), digest);
    let j = journal(&t.run_dirs("runs")[0]);
    let v = &events(&j, "rehearsal_verdict")[0];
    assert_eq!((v["schema_equal"].as_bool(), v["data_equal"].as_bool()), (Some(true), Some(true)), "{v}");
    assert!(db.scratch_is_gone(&scratch_name(&t)), "a scratch database was left behind");
}

#[test]
fn postgres_rehearsal_round_trip_is_exact_and_leaves_nothing() {
    let Some(db) = ServerDb::postgres() else { return };
    rehearse_round_trip(&db, false);
}

#[test]
fn mariadb_rehearsal_round_trip_is_exact_and_leaves_nothing() {
    let Some(db) = ServerDb::mysql() else { return };
    // The sync stand-in here speaks PostgreSQL only.
    rehearse_round_trip(&db, true);
}

use crate::support::FORGETFUL_ROLLBACK as FORGETFUL;

fn forgetful_rollback_is_caught(db: &ServerDb) {
    db.users(100);
    let t = Test::new().runbook(FORGETFUL);
    let out = t.exec(["rehearse", "runbook.yaml", "--db", &db.url(), "--runs-dir", "runs"]);
    out.code(1).stdout_has("schema after plan + rollback: DIFFERS").stdout_has("index ix_all_users_email was added");
    assert!(!db.has_column("all_users", "pcc_user_uuid"));
    assert!(!db.has_index("ix_all_users_email"), "the rehearsal touched the target");
    assert!(db.scratch_is_gone(&scratch_name(&t)), "the scratch database was left behind");
}

/// The scratch database a rehearsal made, as its verdict records it.
fn scratch_name(t: &Test) -> String {
    let j = journal(&t.run_dirs("runs")[0]);
    let method = events(&j, "rehearsal_verdict")[0]["copy_method"].as_str().unwrap().to_string();
    method.split_whitespace().find(|w| w.starts_with("rb_rehearsal_")).expect("scratch name").to_string()
}

#[test]
fn mariadb_rehearsal_catches_a_rollback_that_forgets_the_index() {
    let Some(db) = ServerDb::mysql() else { return };
    forgetful_rollback_is_caught(&db);
}

#[test]
fn postgres_rehearsal_catches_a_rollback_that_forgets_the_index() {
    let Some(db) = ServerDb::postgres() else { return };
    forgetful_rollback_is_caught(&db);
}

fn pg_state(db: &ServerDb) -> (String, Vec<Vec<String>>) {
    let cols = db.scalar("SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'all_users' AND table_schema = current_schema()");
    let idx = db.scalar("SELECT coalesce(string_agg(indexname, ',' ORDER BY indexname), '') FROM pg_indexes WHERE tablename = 'all_users' AND schemaname = current_schema()");
    let has = db.has_column("all_users", "pcc_user_uuid");
    let data = db.rows(&format!(
        "SELECT id, email, coalesce(name, '<null>'){} FROM all_users ORDER BY id",
        if has { ", coalesce(pcc_user_uuid, '<null>')" } else { "" }
    ));
    (format!("{cols} | {idx}"), data)
}

fn pg_run(t: &Test, cmd: &str, db: &ServerDb, runs: &str, fault: Option<&str>) -> Option<i32> {
    let mut c = t.command();
    c.args([cmd, SEED, "--db", &db.url(), "--yes", "--runs-dir", runs]).args(vars(t));
    if let Some(f) = fault {
        c.env("RUNBOOK_FAULT", f);
    }
    let s = c.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
    s.code()
}

#[test]
fn postgres_kill_9_at_every_step_boundary_then_resume_ends_like_an_uninterrupted_run() {
    let Some(reference) = ServerDb::postgres() else { return };
    reference.users(300);
    let t = Test::new();
    assert_eq!(pg_run(&t, "run", &reference, "runs", None), Some(0));
    let after_plan = pg_state(&reference);
    assert_eq!(pg_run(&t, "rollback", &reference, "runs-rb", None), Some(0));
    let after_rollback = pg_state(&reference);

    let plan = ["backup", "add-column", "verify-column", "update-app-logic", "data-sync-test", "validation", "deployment"];
    let rollback = ["check-dependencies", "rollback-backup", "drop-column", "revert-app", "verify-schema-restored"];
    for (cmd, ids, want) in [("run", &plan[..], &after_plan), ("rollback", &rollback[..], &after_rollback)] {
        for id in ids {
            let db = ServerDb::postgres().unwrap();
            db.users(300);
            let t = Test::new();
            if cmd == "rollback" {
                assert_eq!(pg_run(&t, "run", &db, "runs-plan", None), Some(0));
            }
            assert_eq!(pg_run(&t, cmd, &db, "runs", Some(&format!("kill-after=step_finished:{id}"))), None, "{cmd} killed after {id}");
            let run = t.run_dirs("runs").pop().unwrap();
            let mut r: Vec<String> = vec!["resume".into(), run.display().to_string(), "--yes".into()];
            r.extend(vars(&t));
            t.exec(&r).code(0);
            assert_eq!(&pg_state(&db), want, "{cmd} killed after {id}, then resumed");
            t.exec(["audit", "verify", &run.display().to_string()]).code(0);
        }
    }
    // Once in the middle of the monitor step: in flight, so the resume must be told to re-run it.
    let db = ServerDb::postgres().unwrap();
    db.users(300);
    let t = Test::new();
    assert_eq!(pg_run(&t, "run", &db, "runs", Some("kill-after=sample:post-deployment-monitoring#4")), None);
    let run = t.run_dirs("runs").pop().unwrap();
    let mut r: Vec<String> = vec!["resume".into(), run.display().to_string(), "--yes".into(), "--rerun-in-flight".into()];
    r.extend(vars(&t));
    t.exec(&r).code(0);
    assert_eq!(pg_state(&db), after_plan, "killed mid-monitor, then resumed");
}

#[test]
fn postgres_ctrl_c_sends_a_cancel_request_and_exits_3() {
    let Some(db) = ServerDb::postgres() else { return };
    db.users(10);
    let t = Test::new().runbook("version: 1\nid: x\nplan:\n  - id: slow\n    name: Slow statement\n    kind: sql\n    statement_timeout: 5m\n    sql: SELECT pg_sleep(60)\n  - id: after\n    name: After\n    kind: sql\n    sql: CREATE TABLE after_interrupt(x int)\n");
    let mut c = t.command();
    c.args(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    let child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while db.scalar("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'") != "1" {
        assert!(Instant::now() < deadline, "the statement never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert!(sent.elapsed() < Duration::from_secs(5), "the cancel request did not stop the statement promptly");
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'"),
        "0",
        "the statement still runs on the server"
    );
    let j = journal(&t.run_dirs("runs")[0]);
    assert_eq!(events(&j, "interrupted").len(), 1);
    assert_eq!(j.last().unwrap()["outcome"], "interrupted");
    assert!(!db.has_table("after_interrupt"));
}

/// A PostgreSQL server of this test's own, so that stopping it disturbs no other test.
struct PrivatePg {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
}

impl PrivatePg {
    fn start() -> Option<PrivatePg> {
        let bin =
            std::fs::read_dir("/usr/lib/postgresql").ok()?.flatten().map(|e| e.path().join("bin")).find(|b| b.join("initdb").exists())?;
        let dir = std::env::temp_dir().join(format!("runbook-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).ok()?;
        Command::new("chown").args(["postgres:postgres", dir.to_str()?]).status().ok()?;
        let port = 25432 + (std::process::id() % 1000) as u16;
        let as_pg = |args: &[&str]| {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .ok()
                .filter(|s| s.success())
        };
        as_pg(&[bin.join("initdb").to_str()?, "-D", dir.join("data").to_str()?, "-A", "trust", "-U", "postgres"])?;
        let pg = PrivatePg { dir, port, bin };
        pg.ctl("start")?;
        Some(pg)
    }

    fn ctl(&self, what: &str) -> Option<()> {
        let opts = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.display());
        let data = self.dir.join("data");
        let mut args = vec![
            self.bin.join("pg_ctl").display().to_string(),
            "-D".into(),
            data.display().to_string(),
            "-w".into(),
            "-l".into(),
            self.dir.join("log").display().to_string(),
        ];
        match what {
            "start" => args.extend(["-o".into(), opts, "start".into()]),
            _ => args.extend(["-m".into(), "immediate".into(), "stop".into()]),
        }
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()
            .filter(|s| s.success())
            .map(|_| ())
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = self.ctl("stop");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn postgres_stopped_mid_run_fails_clearly_keeps_the_journal_and_resumes_after_restart() {
    if std::env::var("RUNBOOK_TEST_POSTGRES_URL").is_err() {
        assert!(!crate::support::servers_required(), "RUNBOOK_TEST_POSTGRES_URL is required");
        crate::support::skip("RUNBOOK_TEST_POSTGRES_URL is not set");
        return;
    }
    let pg = PrivatePg::start().expect("a private PostgreSQL server (initdb, pg_ctl, runuser)");
    let psql = |sql: &str| Command::new("psql").args([&pg.url(), "-qAtc", sql]).output().unwrap();
    assert!(psql("CREATE TABLE all_users(id serial primary key, email text not null, name text); INSERT INTO all_users(email, name) SELECT 'u'||i||'@x', 'n'||i FROM generate_series(1, 50) i").status.success());
    let t = Test::new().runbook(
        "version: 1\nid: outage\nplan:\n  - id: one\n    name: One\n    kind: sql\n    sql: CREATE TABLE one(x int)\n  - id: wait\n    name: Wait for the outage\n    kind: command\n    command: [\"sleep\", \"3\"]\n  - id: two\n    name: Two\n    kind: sql\n    sql: CREATE TABLE two(x int)\n",
    );
    let mut c = t.command();
    c.args(["run", "runbook.yaml", "--db", &pg.url(), "--yes", "--runs-dir", "runs"]);
    let child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !t.run_dirs("runs").first().is_some_and(|r| journal(r).iter().any(|e| e["event"] == "step_decision" && e["step_id"] == "wait")) {
        assert!(Instant::now() < deadline, "the run did not reach the wait step");
        std::thread::sleep(Duration::from_millis(50));
    }
    pg.ctl("stop").expect("stop the server");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(all.contains("lost the connection to the database server"), "no clear error: {all}");
    let run = t.run_dirs("runs")[0].clone();
    t.exec(["audit", "verify", &run.display().to_string()]).code(0);
    let j = journal(&run);
    // The lock session went with the server: the run stops before step two, which never starts.
    assert!(events(&j, "step_finished").iter().all(|e| e["status"] != "failed"), "{j:?}");
    assert!(!events(&j, "step_started").iter().any(|e| e["step_id"] == "two"), "{j:?}");
    assert!(events(&j, "info").iter().any(|e| e["message"].as_str().unwrap().contains("the run lock on")), "{j:?}");

    pg.ctl("start").expect("restart the server");
    t.exec(["resume", &run.display().to_string(), "--db", &pg.url(), "--yes"]).code(0);
    assert_eq!(String::from_utf8_lossy(&psql("SELECT count(*) FROM pg_tables WHERE tablename IN ('one', 'two')").stdout).trim(), "2");
    let j = journal(&run);
    assert_eq!(events(&j, "step_started").iter().filter(|e| e["step_id"] == "one").count(), 1, "a completed step ran again");
    assert_eq!(j.last().unwrap()["outcome"], "succeeded");
}

/// A long statement on the server, ended by a signal: the statement is gone from the server
/// (process list / pg_stat_activity) and its effect is absent, the run is interrupted, not failed.
fn signal_cancels_the_statement_on_the_server(db: &ServerDb, signal: i32, name: &str) {
    let (sleep, running) = match db.server {
        crate::support::servers::Server::Postgres => (
            "INSERT INTO slow_effect SELECT 1 FROM pg_sleep(60)",
            format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND state = 'active' AND query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()", db.name),
        ),
        crate::support::servers::Server::Mysql => (
            "INSERT INTO slow_effect SELECT SLEEP(60)",
            format!("SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = '{}' AND COMMAND = 'Query' AND INFO LIKE '%SLEEP(60)%' AND ID <> CONNECTION_ID()", db.name),
        ),
    };
    db.exec("CREATE TABLE slow_effect(x int)");
    let t = Test::new().runbook(&format!("version: 1\nid: x\nplan:\n  - id: slow\n    name: Slow statement\n    kind: sql\n    statement_timeout: 5m\n    sql: \"{sleep}\"\n  - id: after\n    name: After\n    kind: sql\n    sql: CREATE TABLE after_interrupt(x int)\n"));
    let mut c = t.command();
    c.args(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    let child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while db.scalar(&running) != "1" {
        assert!(Instant::now() < deadline, "the statement never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = Instant::now();
    unsafe { libc::kill(child.id() as i32, signal) };
    let out = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "{all}");
    assert!(took < Duration::from_secs(1), "{name} took {took:?} to end the run");
    // Checked again after a while: a statement the server kept running would show up, or commit.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(db.scalar(&running), "0", "the statement still runs on the server after {name}");
    assert_eq!(db.scalar("SELECT count(*) FROM slow_effect"), "0", "the cancelled statement's effect is present");
    assert!(!db.has_table("after_interrupt"), "a later step ran");
    let run = t.run_dirs("runs")[0].clone();
    let j = journal(&run);
    let i = events(&j, "interrupted");
    assert_eq!(i.len(), 1, "{j:?}");
    assert_eq!(i[0]["signal"], name);
    let finished = events(&j, "step_finished");
    assert_eq!(finished[0]["status"], "interrupted", "the operator's own cancel was journaled as a failure");
    assert_eq!(j.last().unwrap()["outcome"], "interrupted");
    t.exec(["audit", "verify", &run.display().to_string()]).code(0);
}

#[test]
fn mariadb_sigterm_kills_the_running_query_on_the_server() {
    let Some(db) = ServerDb::mysql() else { return };
    signal_cancels_the_statement_on_the_server(&db, libc::SIGTERM, "SIGTERM");
}

#[test]
fn mariadb_ctrl_c_kills_the_running_query_on_the_server() {
    let Some(db) = ServerDb::mysql() else { return };
    signal_cancels_the_statement_on_the_server(&db, libc::SIGINT, "Ctrl-C");
}

#[test]
fn postgres_sighup_cancels_the_running_statement_on_the_server() {
    let Some(db) = ServerDb::postgres() else { return };
    signal_cancels_the_statement_on_the_server(&db, libc::SIGHUP, "SIGHUP");
}

/// An administrator ends the session holding the run lock while a step runs: the run notices
/// before its next statement, stops with exit 1 and says why, and runs nothing more unlocked.
fn lock_session_killed_mid_run(db: &ServerDb) {
    let (sleep, kill) = match db.server {
        crate::support::servers::Server::Postgres => (
            "SELECT pg_sleep(2)",
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND application_name LIKE 'runbook %'",
                db.name
            ),
        ),
        crate::support::servers::Server::Mysql => ("SELECT SLEEP(2)", String::new()),
    };
    let t = Test::new().runbook(&format!("version: 1\nid: x\nplan:\n  - id: one\n    name: Sleep, then create\n    kind: sql\n    transaction: false\n    sql: \"{sleep}; CREATE TABLE two(x int)\"\n  - id: three\n    name: Three\n    kind: sql\n    sql: CREATE TABLE three(x int)\n"));
    let mut c = t.command();
    c.args(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    let child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let running = match db.server {
        crate::support::servers::Server::Postgres => {
            format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND state = 'active' AND query = '{sleep}'", db.name)
        }
        crate::support::servers::Server::Mysql => {
            format!("SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = '{}' AND INFO = '{sleep}'", db.name)
        }
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while db.scalar(&running) != "1" {
        assert!(Instant::now() < deadline, "the statement never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    match db.server {
        crate::support::servers::Server::Postgres => assert_eq!(db.scalar(&kill), "t", "no lock session to terminate"),
        crate::support::servers::Server::Mysql => {
            let id = db.scalar(&format!("SELECT IS_USED_LOCK('runbook:{}')", db.name));
            assert_ne!(id, "NULL", "no session holds the run lock");
            db.exec(&format!("KILL {id}"));
        }
    }
    let out = child.wait_with_output().unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("the run lock on "), "{all}");
    assert!(all.contains("was lost") && all.contains("does not go on unlocked"), "{all}");
    assert!(!db.has_table("two"), "a statement ran after the lock was lost");
    assert!(!db.has_table("three"), "a step ran after the lock was lost");
    let run = t.run_dirs("runs")[0].clone();
    let j = journal(&run);
    let finished = events(&j, "step_finished");
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0]["status"], "failed");
    assert!(finished[0]["error"].as_str().unwrap().contains("was lost"), "{}", finished[0]);
    // The statement that committed before the loss is journaled, and the error names it.
    let statements = events(&j, "statement");
    assert_eq!(statements.len(), 1, "{j:?}");
    assert_eq!((&statements[0]["sql"], &statements[0]["index"]), (&serde_json::json!(sleep), &serde_json::json!(0)));
    assert!(all.contains("; statement(s) 1 of 2 had committed before it and are journaled)"), "{all}");
    assert!(events(&j, "lock_released").is_empty(), "the journal claims a release of a lock the run had lost");
    assert_eq!(j.last().unwrap()["outcome"], "failed");
    t.exec(["audit", "verify", &run.display().to_string()]).code(0);
}

#[test]
fn postgres_lock_session_terminated_mid_run_stops_the_run() {
    let Some(db) = ServerDb::postgres() else { return };
    lock_session_killed_mid_run(&db);
}

#[test]
fn mariadb_lock_session_killed_mid_run_stops_the_run() {
    let Some(db) = ServerDb::mysql() else { return };
    lock_session_killed_mid_run(&db);
}

/// kill -9 while `mariadb-dump` runs leaves its credential option file (the password) in the
/// run folder; `resume` removes it before anything else, journals that, and finishes the run.
#[test]
fn mariadb_kill_9_during_backup_then_resume_removes_the_credential_file() {
    let Some(db) = ServerDb::mysql() else { return };
    db.users(20);
    let t = Test::new().runbook("version: 1\nid: x\nplan:\n  - id: backup\n    name: Backup\n    kind: backup\n  - id: after\n    name: After\n    kind: sql\n    sql: CREATE TABLE after_backup(x int)\n");
    // A dump tool that answers --version at once and dumps only after a long pause, so the kill
    // lands while the option file exists.
    let real = ["/usr/bin/mariadb-dump", "/usr/local/bin/mariadb-dump"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("mariadb-dump");
    let bin = t.dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let wrapper = bin.join("mariadb-dump");
    std::fs::write(&wrapper, format!("#!/bin/sh\nif [ \"$1\" = --version ]; then exec {real} \"$@\"; fi\nsleep 5\nexec {real} \"$@\"\n"))
        .unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut c = t.command();
    c.env("PATH", &path).args(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    let mut child = c.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let cnf = loop {
        let found = t.run_dirs("runs").first().and_then(|r| {
            std::fs::read_dir(r).ok()?.flatten().map(|e| e.path()).find(|p| p.file_name().unwrap().to_string_lossy().ends_with(".cnf"))
        });
        if let Some(f) = found {
            break f;
        }
        assert!(Instant::now() < deadline, "the backup never wrote its option file");
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(cnf.exists(), "kill -9 cannot remove files; the test needs the leftover to exist");
    let run = t.run_dirs("runs")[0].clone();
    let out = t.again(["resume", &run.display().to_string(), "--yes", "--rerun-in-flight"]).env("PATH", &path).run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!cnf.exists(), "resume left the credential file {}", cnf.display());
    let j = journal(&run);
    assert!(
        events(&j, "info").iter().any(|e| e["message"].as_str().unwrap().starts_with("removed credential file .backup-backup")),
        "the removal is not journaled"
    );
    assert!(db.has_table("after_backup"));
    let leftovers: Vec<_> =
        std::fs::read_dir(&run).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".cnf")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// kill -9 during a rehearsal leaves its scratch database (a full copy of the data) on the
/// server; the next `rehearse` of the same target recognises it by name and drops it.
fn kill_9_during_rehearsal_then_rehearse_drops_the_scratch(db: &ServerDb, skip_sync: bool) {
    db.users(50);
    let t = Test::new();
    let mut a: Vec<String> = ["rehearse", SEED, "--db", &db.url(), "--runs-dir", "runs"].iter().map(|s| s.to_string()).collect();
    a.extend(vars(&t));
    if skip_sync {
        a.extend(["--skip".into(), "data-sync-test".into()]);
    }
    let mut c = t.command();
    c.args(&a).env("RUNBOOK_FAULT", "kill-after=run_started");
    let s = c.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
    assert_eq!(s.code(), None, "the fault did not kill the rehearsal");
    let j = journal(&t.run_dirs("runs")[0]);
    let target = events(&j, "run_started")[0]["target"].as_str().unwrap().to_string();
    let at = target.find("rb_rehearsal_").expect("scratch name in the header");
    let name: String = target[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    assert!(!db.scratch_is_gone(&name), "the killed rehearsal left no scratch database to find");
    // The sweep leaves copies younger than a few seconds alone (a live rehearsal's, being made).
    std::thread::sleep(Duration::from_secs(6));
    let out = t.exec(&a);
    out.code(0).stdout_has(&format!("dropped the scratch database {name} left by a killed rehearsal"));
    assert!(db.scratch_is_gone(&name), "the leftover scratch database {name} is still there");
}

#[test]
fn postgres_kill_9_during_rehearsal_then_rehearse_drops_the_scratch() {
    let Some(db) = ServerDb::postgres() else { return };
    kill_9_during_rehearsal_then_rehearse_drops_the_scratch(&db, false);
}

#[test]
fn mariadb_kill_9_during_rehearsal_then_rehearse_drops_the_scratch() {
    let Some(db) = ServerDb::mysql() else { return };
    kill_9_during_rehearsal_then_rehearse_drops_the_scratch(&db, true);
}
