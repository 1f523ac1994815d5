//! Faults: kill -9 at every step boundary and resume, Ctrl-C, a full disk during the backup,
//! and rehearsals that must catch an incomplete rollback. All on real SQLite files.

use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;

use crate::support::{events, journal, SqliteFile, Test, SEED, SEED_PLAN_STEPS, SEED_ROLLBACK_STEPS};

/// A deterministic stand-in for the sync job: every tenth user gets a UUID derived from its id.
fn sync_command(_db: &SqliteFile) -> String {
    // RUNBOOK_DB_URL, not the file name: a rehearsal must sync into its scratch copy.
    "sync_command=sqlite3 \"${RUNBOOK_DB_URL#sqlite://}\" \"UPDATE all_users SET pcc_user_uuid = printf('%08x-0000-4000-8000-%012x', id, id) WHERE id % 10 = 0\"".to_string()
}

fn seed_vars(t: &Test, db: &SqliteFile) -> Vec<String> {
    std::fs::write(t.dir.join("app.log"), "").unwrap();
    vec![
        "--var".into(),
        sync_command(db),
        "--var".into(),
        format!("app_log={}", t.dir.join("app.log").display()),
        "--var".into(),
        "monitor_duration=1s".into(),
        "--var".into(),
        "monitor_interval=200ms".into(),
    ]
}

/// Everything about the users table, including the new column while it exists.
fn state(db: &SqliteFile) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let schema = db.rows("SELECT type, name, sql FROM sqlite_master ORDER BY name");
    let cols = db.rows("SELECT group_concat(name, ',') FROM pragma_table_info('all_users')")[0][0].clone();
    let data = db.rows(&format!("SELECT {cols} FROM all_users ORDER BY id"));
    (schema, data)
}

fn run_args(cmd: &str, runs: &str, vars: &[String]) -> Vec<String> {
    let mut v: Vec<String> = [cmd, SEED, "--yes", "--runs-dir", runs].iter().map(|s| s.to_string()).collect();
    v.extend(vars.iter().cloned());
    v
}

/// Rows of a database's schema and of its data.
type State = (Vec<Vec<String>>, Vec<Vec<String>>);

/// The state after an uninterrupted plan, and after an uninterrupted rollback.
fn reference() -> (State, State) {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 200);
    let vars = seed_vars(&t, &db);
    let mut a = run_args("run", "runs", &vars);
    a.extend(["--db".into(), db.url()]);
    t.exec(&a).code(0);
    let after_plan = state(&db);
    let mut a = run_args("rollback", "runs-rb", &vars);
    a.extend(["--db".into(), db.url()]);
    t.exec(&a).code(0);
    (after_plan, state(&db))
}

/// Kill the run with SIGKILL right after `fault`, then resume it to the end.
fn kill_and_resume(cmd: &str, fault: &str, rerun: bool, prepare_plan: bool) -> State {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 200);
    let vars = seed_vars(&t, &db);
    if prepare_plan {
        let mut a = run_args("run", "runs-plan", &vars);
        a.extend(["--db".into(), db.url()]);
        t.exec(&a).code(0);
    }
    let mut a = run_args(cmd, "runs", &vars);
    a.extend(["--db".into(), db.url()]);
    let killed = Test::new().env("RUNBOOK_FAULT", fault);
    let mut c = killed.command();
    c.current_dir(t.dir.path()).env("RUNBOOK_STATE_DIR", t.dir.join(".state")).args(&a).stdout(Stdio::null()).stderr(Stdio::null());
    let status = c.status().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "{fault}: the run was not killed ({status})");
    let run = t.run_dirs("runs").pop().expect("run folder");
    let mut r = vec!["resume".to_string(), run.display().to_string(), "--yes".into()];
    if rerun {
        r.push("--rerun-in-flight".into());
    }
    r.extend(
        vars.iter()
            .filter(|v| v.starts_with("sync_command") || v.starts_with("app_log") || v.starts_with("monitor"))
            .flat_map(|v| ["--var".to_string(), v.clone()]),
    );
    let out = t.exec(&r);
    out.code(0);
    let j = journal(&run);
    assert_eq!(events(&j, "run_resumed").len(), 1, "{fault}");
    assert_eq!(j.last().unwrap()["outcome"], "succeeded", "{fault}");
    // No step that had passed before the kill ran again.
    let mut passed = std::collections::HashSet::new();
    for e in &j {
        if e["event"] == "step_started" {
            assert!(!passed.contains(e["step_id"].as_str().unwrap()), "{fault}: step {} ran twice", e["step_id"]);
        }
        if e["event"] == "step_finished" && e["status"] == "passed" {
            passed.insert(e["step_id"].as_str().unwrap().to_string());
        }
    }
    crate::support::Test::new().exec(["audit", "verify", &run.display().to_string()]).code(0);
    state(&db)
}

#[test]
fn kill_9_at_every_step_boundary_then_resume_ends_like_an_uninterrupted_run() {
    let (after_plan, after_rollback) = reference();
    // The last step's boundary is the end of the run; killing after each step but the last
    // leaves work to resume.
    for id in &SEED_PLAN_STEPS[..7] {
        let got = kill_and_resume("run", &format!("kill-after=step_finished:{id}"), false, false);
        assert_eq!(got, after_plan, "plan killed after {id}");
    }
    for id in &SEED_ROLLBACK_STEPS[..5] {
        let got = kill_and_resume("rollback", &format!("kill-after=step_finished:{id}"), false, true);
        assert_eq!(got, after_rollback, "rollback killed after {id}");
    }
}

#[test]
fn kill_9_inside_a_step_needs_a_decision_then_resumes() {
    let (after_plan, after_rollback) = reference();
    // In flight: started, not finished. Each of these steps is safe to run again.
    for id in ["backup", "add-column", "data-sync-test", "post-deployment-monitoring"] {
        let got = kill_and_resume("run", &format!("kill-after=step_decision:{id}"), true, false);
        assert_eq!(got, after_plan, "plan killed inside {id}");
    }
    let got = kill_and_resume("run", "kill-after=sample:post-deployment-monitoring#3", true, false);
    assert_eq!(got, after_plan, "killed in the middle of the monitor step");
    for id in ["rollback-backup", "drop-column", "monitor-after-rollback"] {
        let got = kill_and_resume("rollback", &format!("kill-after=step_decision:{id}"), true, true);
        assert_eq!(got, after_rollback, "rollback killed inside {id}");
    }
}

#[test]
fn resume_with_yes_refuses_to_decide_about_an_in_flight_step() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 20);
    let vars = seed_vars(&t, &db);
    let mut a = run_args("run", "runs", &vars);
    a.extend(["--db".into(), db.url()]);
    let mut c = Test::new().env("RUNBOOK_FAULT", "kill-after=step_decision:add-column").command();
    c.current_dir(t.dir.path()).args(&a).stdout(Stdio::null()).stderr(Stdio::null());
    c.status().unwrap();
    let run = t.run_dirs("runs").pop().unwrap();
    let lines = journal(&run).len();
    let out = t.exec(["resume", &run.display().to_string(), "--yes"]);
    out.code(2).stderr_has("step `add-column` was in flight").stderr_has("--rerun-in-flight");
    assert_eq!(journal(&run).len(), lines, "a refused resume wrote to the journal");
    assert!(!db.has_column("all_users", "pcc_user_uuid"));
}

#[test]
fn resume_of_a_finished_run_does_nothing() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 20);
    let vars = seed_vars(&t, &db);
    let mut a = run_args("run", "runs", &vars);
    a.extend(["--db".into(), db.url()]);
    t.exec(&a).code(0);
    let run = t.run_dirs("runs").pop().unwrap();
    let lines = journal(&run).len();
    t.exec(["resume", &run.display().to_string(), "--yes"]).code(0).stdout_has("nothing to resume");
    assert_eq!(journal(&run).len(), lines);
}

#[test]
fn resume_refuses_a_changed_runbook() {
    let t = Test::new().runbook("version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: command\n    command: [\"true\"]\n  - id: b\n    name: B\n    kind: command\n    command: [\"true\"]\n");
    let db = SqliteFile::users(t.dir.path(), 3);
    let mut c = Test::new().env("RUNBOOK_FAULT", "kill-after=step_finished:a").command();
    c.current_dir(t.dir.path()).args(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    c.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
    std::fs::write(
        t.dir.join("runbook.yaml"),
        "version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: command\n    command: [\"false\"]\n",
    )
    .unwrap();
    let run = t.run_dirs("runs").pop().unwrap();
    t.exec(["resume", &run.display().to_string(), "--yes"]).code(2).stderr_has("the runbook changed since run");
}

#[test]
fn ctrl_c_cancels_the_step_records_interrupted_releases_the_lock_and_exits_3() {
    let t = Test::new().runbook("version: 1\nid: x\nplan:\n  - id: wait\n    name: Wait\n    kind: command\n    command: [\"sleep\", \"30\"]\n  - id: after\n    name: After\n    kind: sql\n    sql: CREATE TABLE after_interrupt(x INTEGER)\n");
    let db = SqliteFile::users(t.dir.path(), 3);
    let mut c = Test::new().command();
    c.current_dir(t.dir.path()).args(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    let child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !t.run_dirs("runs").first().is_some_and(|r| journal(r).iter().any(|e| e["event"] == "step_decision")) {
        assert!(std::time::Instant::now() < deadline, "the run did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let started = std::time::Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(8), "Ctrl-C did not stop the step promptly");
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stdout));
    let run = &t.run_dirs("runs")[0];
    let j = journal(run);
    assert_eq!(events(&j, "interrupted").len(), 1);
    assert_eq!(events(&j, "step_finished")[0]["status"], "interrupted");
    assert_eq!(j.last().unwrap()["outcome"], "interrupted");
    assert!(!events(&j, "lock_released").is_empty());
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name='after_interrupt'"), "0", "a later step ran");
    t.exec(["audit", "verify", &run.display().to_string()]).code(0);
    // The lock is free again.
    t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs2", "--skip", "wait"]).code(0);
}

#[test]
fn disk_full_during_backup_fails_the_step_removes_the_partial_file_and_stops() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 20_000);
    let digest = db.data_digest();
    let vars = seed_vars(&t, &db);
    let mut a = run_args("run", "runs", &vars);
    a.extend(["--db".into(), db.url()]);
    let mut c = Test::new().command();
    c.current_dir(t.dir.path()).args(&a);
    // A file-size limit below the backup's size: writes past it fail with EFBIG, as on a full disk.
    unsafe {
        c.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit { rlim_cur: 256 * 1024, rlim_max: 256 * 1024 };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = c.stdout(Stdio::piped()).stderr(Stdio::piped()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let run = &t.run_dirs("runs")[0];
    let leftovers: Vec<_> = std::fs::read_dir(run)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("backup-"))
        .collect();
    assert!(leftovers.is_empty(), "partial backup left behind: {leftovers:?}");
    let j = journal(run);
    let f = events(&j, "step_finished");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["status"], "failed");
    assert!(!db.has_column("all_users", "pcc_user_uuid"), "a later step ran");
    assert_eq!(db.data_digest(), digest);
}

#[test]
fn rehearsal_proves_the_seed_round_trip_without_touching_the_target() {
    // A temporary folder of the test's own, so that the check for a scratch copy left behind
    // below sees this rehearsal's work folder only, not one of a test running beside it.
    let tmp = tempfile::tempdir().unwrap();
    let t = Test::new().env("TMPDIR", &tmp.path().display().to_string());
    let db = SqliteFile::users(t.dir.path(), 300);
    let before = db.bytes();
    let vars = seed_vars(&t, &db);
    let mut a: Vec<String> = ["rehearse", SEED, "--db", &db.url(), "--runs-dir", "runs"].iter().map(|s| s.to_string()).collect();
    a.extend(vars);
    let out = t.exec(&a);
    out.code(0).stdout_has("schema after plan + rollback: equal to the original").stdout_has("scratch copy dropped");
    assert_eq!(db.bytes(), before, "rehearsal wrote to the target");
    let run = &t.run_dirs("runs")[0];
    let j = journal(run);
    let v = &events(&j, "rehearsal_verdict")[0];
    assert_eq!(v["schema_equal"], true);
    assert_eq!(v["data_equal"], true);
    assert!(events(&j, "checklist_item").iter().all(|e| e["how"] == "rehearsal"));
    assert_eq!(events(&j, "step_finished").iter().filter(|e| e["status"] == "passed").count(), 14);
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("REHEARSAL"), "{report}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "the rehearsal left its work folder behind: {left:?}");
}

#[test]
fn rehearsal_catches_a_rollback_that_forgets_the_index() {
    let yaml = crate::support::FORGETFUL_ROLLBACK;
    let t = Test::new().runbook(yaml);
    let db = SqliteFile::users(t.dir.path(), 50);
    let before = db.bytes();
    let out = t.exec(["rehearse", "runbook.yaml", "--db", &db.url(), "--runs-dir", "runs"]);
    out.code(1).stdout_has("schema after plan + rollback: DIFFERS").stdout_has("index ix_all_users_email was added");
    assert_eq!(db.bytes(), before);
    let report = std::fs::read_to_string(t.run_dirs("runs")[0].join("report.md")).unwrap();
    assert!(report.contains("REHEARSAL") && report.contains("ix\\_all\\_users\\_email"), "{report}");
}

#[test]
fn second_ctrl_c_exits_at_once_and_the_journal_stays_valid() {
    let t = Test::new()
        .runbook("version: 1\nid: x\nplan:\n  - id: wait\n    name: Wait\n    kind: command\n    command: [\"sleep\", \"30\"]\n");
    let db = SqliteFile::users(t.dir.path(), 3);
    let mut c = Test::new().command();
    c.current_dir(t.dir.path()).args(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    let mut child = c.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !t.run_dirs("runs").first().is_some_and(|r| journal(r).iter().any(|e| e["event"] == "step_decision")) {
        assert!(std::time::Instant::now() < deadline, "the run did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    let run = &t.run_dirs("runs")[0];
    // Intact, or torn at its last line: never broken.
    t.exec(["audit", "verify", &run.display().to_string()]).code(0);
    assert!(journal_lines_parse_but_maybe_the_last(run));
}

fn journal_lines_parse_but_maybe_the_last(run: &std::path::Path) -> bool {
    let text = std::fs::read_to_string(run.join("journal.jsonl")).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    lines.iter().take(lines.len().saturating_sub(1)).all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
}

/// What a run flushed to disk, from an `strace` of it: the paths that were open on the
/// descriptor at each fsync or fdatasync.
fn flushed_paths(trace: &str) -> std::collections::BTreeSet<String> {
    let mut open: std::collections::HashMap<String, String> = Default::default();
    let mut flushed = std::collections::BTreeSet::new();
    for line in trace.lines() {
        let call = line.split_once(' ').map_or(line, |(_, rest)| rest.trim_start());
        let ret = call.rsplit_once(" = ").map(|(_, r)| r.split_whitespace().next().unwrap_or("")).unwrap_or("");
        if let Some(args) = call.strip_prefix("openat(") {
            if let Some(path) = args.split('"').nth(1) {
                if ret.parse::<i32>().is_ok_and(|fd| fd >= 0) {
                    open.insert(ret.to_string(), path.to_string());
                }
            }
        } else if let Some(args) = call.strip_prefix("close(") {
            open.remove(args.split(')').next().unwrap_or(""));
        } else if let Some(args) = call.strip_prefix("fsync(").or_else(|| call.strip_prefix("fdatasync(")) {
            if let Some(path) = open.get(args.split(')').next().unwrap_or("")) {
                flushed.insert(path.clone());
            }
        }
    }
    flushed
}

/// A power cut right after a step must not lose what the journal says exists: the journal,
/// the backup and the new run folder are flushed, and so are the directory entries naming them.
#[test]
fn new_run_folder_journal_and_backup_are_flushed_with_their_directory_entries() {
    if std::process::Command::new("strace").arg("-V").output().is_err() {
        assert!(!crate::support::servers_required(), "strace is required under RUNBOOK_REQUIRE_SERVERS=1");
        crate::support::skip("strace is not installed");
        return;
    }
    let t = Test::new().runbook("version: 1\nid: backup-only\nplan:\n  - id: backup\n    name: Backup\n    kind: backup\n");
    let db = SqliteFile::users(t.dir.path(), 100);
    let t = t.args(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    let base = t.command();
    let trace = t.dir.join("trace.txt");
    let mut c = std::process::Command::new("strace");
    c.args(["-f", "-qq", "-e", "trace=openat,close,fsync,fdatasync", "-o"]).arg(&trace).arg(base.get_program()).args(base.get_args());
    c.current_dir(t.dir.path());
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let out = c.stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let run = t.run_dirs("runs")[0].canonicalize().unwrap();
    let flushed = flushed_paths(&std::fs::read_to_string(&trace).unwrap());
    let backup = std::fs::read_dir(&run)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("backup-"));
    for want in [run.join("journal.jsonl"), run.clone(), run.parent().unwrap().to_path_buf(), backup.expect("a backup file")] {
        let want = want.display().to_string();
        assert!(flushed.contains(&want), "{want} was never flushed; flushed: {flushed:#?}");
    }
}

const TWO_STEPS: &str = "version: 1\nid: two\nplan:\n  - id: backup\n    name: Backup\n    kind: backup\n  - id: add\n    name: Add\n    kind: sql\n    sql: ALTER TABLE all_users ADD COLUMN note TEXT\n";

#[test]
fn a_journal_write_that_fails_then_succeeds_leaves_no_torn_line_and_no_gap() {
    let t = Test::new().runbook(TWO_STEPS).env("RUNBOOK_FAULT", "fail-write=statement:add");
    let db = SqliteFile::users(t.dir.path(), 5);
    let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    out.code(0).stdout_has("! journal write failed (No space left on device (os error 28)); cut back to its last line, trying again");
    let run = t.run_dirs("runs").pop().unwrap();
    let j = journal(&run);
    let seqs: Vec<u64> = j.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=j.len() as u64).collect::<Vec<_>>(), "seq skipped a number");
    assert_eq!(events(&j, "statement").len(), 1);
    assert!(db.has_column("all_users", "note"));
    let text = std::fs::read_to_string(run.join("journal.jsonl")).unwrap();
    assert!(text.ends_with('\n') && text.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
    let run = run.display().to_string();
    t.exec(["audit", "verify", &run]).code(0).stdout_has("intact");
    t.exec(["report", &run]).code(0);
}

#[test]
fn report_output_onto_the_journal_or_a_backup_is_refused_by_any_name() {
    let t = Test::new().runbook(TWO_STEPS);
    let db = SqliteFile::users(t.dir.path(), 5);
    t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]).code(0);
    let run = t.run_dirs("runs").pop().unwrap();
    let journal_bytes = std::fs::read(run.join("journal.jsonl")).unwrap();
    let backup = std::fs::read_dir(&run).unwrap().flatten().map(|e| e.path()).find(|p| p.to_string_lossy().contains("backup-")).unwrap();
    let backup_bytes = std::fs::read(&backup).unwrap();
    std::os::unix::fs::symlink(run.join("journal.jsonl"), t.dir.join("link.md")).unwrap();
    let dotted = format!("{}/../{}/journal.jsonl", run.display(), run.file_name().unwrap().to_string_lossy());
    let r = run.display().to_string();
    for target in [run.join("journal.jsonl").display().to_string(), dotted, "link.md".into(), backup.display().to_string()] {
        let out = t.exec(["report", &r, "-o", &target]);
        out.code(2).stderr_has("runbook never writes over a run's evidence");
    }
    assert_eq!(std::fs::read(run.join("journal.jsonl")).unwrap(), journal_bytes);
    assert_eq!(std::fs::read(&backup).unwrap(), backup_bytes);
    // Any other file in the run folder is fine.
    t.exec(["report", &r, "-o", &run.join("copy.md").display().to_string()]).code(0);
}

/// Whether `pid` still runs (a zombie waiting for its reaper does not).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().next()).is_some_and(|s| s != "Z"),
        Err(_) => false,
    }
}

/// A command whose shell started a grandchild that ignores SIGTERM: the signal ends the whole
/// process group (SIGTERM, then SIGKILL after the grace), and the run ends within a second.
fn signal_ends_the_command_group(signal: i32, name: &str) {
    let t = Test::new().runbook("version: 1\nid: x\nplan:\n  - id: job\n    name: Job with a grandchild\n    kind: command\n    shell: true\n    command: \"trap '' TERM; sleep 300 & echo $! > grandchild.pid; wait\"\n  - id: after\n    name: After\n    kind: sql\n    sql: CREATE TABLE after_interrupt(x INTEGER)\n");
    let db = SqliteFile::users(t.dir.path(), 3);
    let mut c = t.command();
    c.args(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    let child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid_file = t.dir.join("grandchild.pid");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let grandchild = loop {
        if let Some(p) = std::fs::read_to_string(&pid_file).ok().and_then(|s| s.trim().parse::<i32>().ok()) {
            break p;
        }
        assert!(std::time::Instant::now() < deadline, "the command never started its grandchild");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(alive(grandchild));
    let sent = std::time::Instant::now();
    unsafe { libc::kill(child.id() as i32, signal) };
    let out = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    assert_eq!(out.status.code(), Some(3), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(took < Duration::from_secs(1), "{name} took {took:?} to end the run");
    let gone = std::time::Instant::now() + Duration::from_millis(500);
    while alive(grandchild) && std::time::Instant::now() < gone {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(grandchild), "the command's grandchild {grandchild} outlived the run ({name})");
    let run = &t.run_dirs("runs")[0];
    let j = journal(run);
    let i = events(&j, "interrupted");
    assert_eq!(i.len(), 1);
    assert_eq!(i[0]["signal"], name);
    assert_eq!(events(&j, "step_finished")[0]["status"], "interrupted");
    assert_eq!(j.last().unwrap()["event"], "run_finished");
    assert_eq!(j.last().unwrap()["outcome"], "interrupted");
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name='after_interrupt'"), "0", "a later step ran");
    t.exec(["audit", "verify", &run.display().to_string()]).code(0);
}

#[test]
fn sigterm_ends_a_commands_whole_process_group_within_a_second() {
    signal_ends_the_command_group(libc::SIGTERM, "SIGTERM");
}

#[test]
fn sighup_ends_a_commands_whole_process_group_within_a_second() {
    signal_ends_the_command_group(libc::SIGHUP, "SIGHUP");
}

/// Steps of every kind that take long enough for a signal to land in them, each after a quick
/// first step whose prompt the tests answer.
const SLOW_KINDS: &str = r#"
version: 1
id: slow-kinds
plan:
  - id: first
    name: First
    kind: sql
    sql: CREATE TABLE first_done(x INTEGER)
  - id: slow
    name: Slow
    kind: ${kind}
"#;

fn slow_step(kind: &str) -> String {
    let body = match kind {
        "sql" => "    sql: WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) SELECT count(*) FROM c\n",
        "command" => "    command: [\"sleep\", \"60\"]\n",
        "monitor" => "    duration: 60s\n    interval: 200ms\n    checks:\n      - name: users\n        query: SELECT count(*) FROM all_users\n        max: 1000\n",
        "manual" => "    instructions: Check the dashboard.\n    checklist:\n      - The dashboard is green\n",
        _ => unreachable!(),
    };
    format!(
        "{}{body}  - id: after\n    name: After\n    kind: sql\n    sql: CREATE TABLE after_interrupt(x INTEGER)\n",
        SLOW_KINDS.replace("${kind}", kind)
    )
}

/// Run `runbook` in a pty, answer `answers` step prompts with `r`, wait for `ready` (a checklist
/// prompt) or a moment, send `signal` (`None`: type Ctrl-C), and check the run ended like any
/// interruption: exit 3 within a second, `interrupted` journaled, then the lock released and
/// `run_finished`.
fn signal_in_a_pty(yaml: &str, answers: usize, ready: Option<&str>, signal: Option<i32>, name: &str) -> (Test, SqliteFile) {
    use expectrl::{Eof, Session, WaitStatus};
    let t = Test::new().runbook(yaml);
    let db = SqliteFile::users(t.dir.path(), 3);
    let mut c = t.command();
    c.args(["run", "runbook.yaml", "--db", &db.url(), "--runs-dir", "runs", "--operator", "carol"])
        .env("TERM", "xterm")
        .env("COLUMNS", "120");
    let mut s = Session::spawn(c).expect("spawn in a pty");
    s.set_expect_timeout(Some(Duration::from_secs(20)));
    for n in 1..=answers {
        s.expect(format!("Step {n}/").as_str()).unwrap();
        s.expect("[r run").unwrap();
        s.send("r").unwrap();
    }
    match ready {
        Some(r) => {
            s.expect(r).unwrap();
        }
        None if answers == 0 => {
            s.expect("[r run").unwrap();
        }
        None => {}
    }
    std::thread::sleep(Duration::from_millis(500));
    let sent = std::time::Instant::now();
    match signal {
        Some(sig) => unsafe {
            libc::kill(s.get_process().pid().as_raw(), sig);
        },
        // Ctrl-C typed at the terminal: a key at a prompt, SIGINT from the terminal otherwise.
        None => s.send("\x03").unwrap(),
    }
    let _ = s.expect(Eof);
    let status = s.get_process().wait().expect("wait");
    let took = sent.elapsed();
    let code = match status {
        WaitStatus::Exited(_, code) => code,
        other => panic!("{name}: unexpected end: {other:?}"),
    };
    assert_eq!(code, 3, "{name}");
    assert!(took < Duration::from_secs(1), "{name} took {took:?} to end the run");
    // A key prompt waits in raw mode; the run's end puts the terminal's modes back, so the
    // operator's shell echoes again.
    assert!(line_editing(&s), "{name}: the terminal was left in raw mode");
    let run = t.run_dirs("runs")[0].clone();
    let j = journal(&run);
    let i = events(&j, "interrupted");
    assert_eq!(i.len(), 1, "{name}: {j:?}");
    assert_eq!(i[0]["signal"], name);
    let at = |kind: &str| j.iter().position(|e| e["event"] == kind).unwrap_or_else(|| panic!("{name}: no {kind}: {j:?}"));
    assert!(at("interrupted") < at("lock_released"), "{name}: {j:?}");
    assert_eq!(at("lock_released"), j.len() - 2, "{name}: {j:?}");
    assert_eq!(j.last().unwrap()["event"], "run_finished");
    assert_eq!(j.last().unwrap()["outcome"], "interrupted");
    assert_eq!(j.last().unwrap()["exit_code"], 3);
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'after_interrupt'"), "0", "{name}: a later step ran");
    t.exec(["audit", "verify", &run.display().to_string()]).code(0);
    (t, db)
}

/// Whether the pty is in canonical (line-editing) mode, as it was spawned: a key prompt turns
/// it off while it waits. (Echo cannot tell: the test harness spawns with echo off.)
pub(crate) fn line_editing(s: &expectrl::Session) -> bool {
    use std::os::fd::AsRawFd;
    let master = s.get_process().get_raw_handle().expect("the pty's master side");
    let mut modes = std::mem::MaybeUninit::<libc::termios>::uninit();
    // SAFETY: tcgetattr fills the struct on success; the fd is open for the call.
    assert_eq!(unsafe { libc::tcgetattr(master.as_raw_fd(), modes.as_mut_ptr()) }, 0, "tcgetattr on the pty");
    unsafe { modes.assume_init() }.c_lflag & libc::ICANON != 0
}

#[test]
fn every_signal_at_a_step_prompt_ends_the_run_like_ctrl_c() {
    for (sig, name) in [(Some(libc::SIGTERM), "SIGTERM"), (Some(libc::SIGHUP), "SIGHUP"), (Some(libc::SIGINT), "Ctrl-C"), (None, "Ctrl-C")]
    {
        let (t, db) = signal_in_a_pty(&slow_step("command"), 0, None, sig, name);
        let j = journal(&t.run_dirs("runs")[0]);
        // Nothing was decided, so nothing started: a resume has no step "in flight".
        assert!(events(&j, "step_started").is_empty(), "{name}: {j:?}");
        assert_eq!(events(&j, "interrupted")[0]["step_id"], serde_json::Value::Null);
        assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'first_done'"), "0");
    }
}

#[test]
fn sigterm_and_sighup_during_each_step_kind_end_the_run_within_a_second() {
    for kind in ["sql", "command", "monitor", "manual"] {
        let ready = (kind == "manual").then_some("y yes");
        for (sig, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGHUP, "SIGHUP")] {
            let (t, _db) = signal_in_a_pty(&slow_step(kind), 2, ready, Some(sig), name);
            let j = journal(&t.run_dirs("runs")[0]);
            let slow: Vec<_> = events(&j, "step_finished").into_iter().filter(|e| e["step_id"] == "slow").collect();
            assert_eq!(slow.len(), 1, "{kind} {name}: {j:?}");
            assert_eq!(slow[0]["status"], "interrupted", "{kind} {name}: {j:?}");
        }
    }
}

/// Regression: a step the run was killed in (confirmed, started, never ended) was listed as
/// "not run" in every report, although its command had already done its work. The reports
/// call it cut off, and a step never reached stays "not run".
#[test]
fn a_step_killed_while_it_ran_is_reported_cut_off_not_not_run() {
    let t = Test::new().runbook(
        "version: 1\nid: cut-off\nplan:\n  - id: job\n    name: Long job\n    kind: command\n    command: [sh, -c, 'touch started; sleep 30']\n  - id: after\n    name: After\n    kind: sql\n    sql: CREATE TABLE after_t(x INTEGER)\n",
    );
    let db = SqliteFile::users(t.dir.path(), 3);
    let mut c = t.command();
    c.args(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]).process_group(0);
    let mut child = c.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !t.dir.join("started").exists() {
        assert!(std::time::Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // kill -9 the whole group: the runbook and the command's shell.
    unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
    child.wait().unwrap();
    let run = t.run_dirs("runs")[0].display().to_string();
    let md = t.exec(["report", &run]);
    md.code(0).stdout_has("| 1 | Long job | command | ⛔ cut off while running | ").stdout_has("| 2 | After | sql | not run | – | – | – |");
    let html = t.exec(["report", &run, "--format", "html"]);
    html.code(0)
        .stdout_has(r#"<span class="pill interrupted">cut off while running</span>"#)
        .stdout_has(r#"<span class="pill notrun">not run</span>"#);
    // The JSON tells the two apart as well: a step cut off is not a step never reached.
    let json = t.exec(["report", &run, "--format", "json"]);
    json.code(0);
    let rec: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let status: Vec<&serde_json::Value> = rec["steps"].as_array().unwrap().iter().map(|s| &s["status"]).collect();
    assert_eq!(status, [&serde_json::json!("cut_off"), &serde_json::Value::Null]);
}

/// Regression: a signal at a step prompt printed its message on the prompt's own line (the
/// prompt waits for a key after its question), where it wrapped mid-word. The abandoned
/// prompt's line is ended first.
#[test]
fn a_signal_at_a_prompt_is_reported_on_a_line_of_its_own() {
    use expectrl::{Eof, Session};
    for (sig, name) in [(libc::SIGHUP, "SIGHUP"), (libc::SIGTERM, "SIGTERM")] {
        let t = Test::new().runbook(&slow_step("command"));
        let db = SqliteFile::users(t.dir.path(), 3);
        let mut c = t.command();
        c.args(["run", "runbook.yaml", "--db", &db.url(), "--runs-dir", "runs"]).env("TERM", "xterm").env("COLUMNS", "120");
        let mut s = Session::spawn(c).expect("spawn in a pty");
        s.set_expect_timeout(Some(Duration::from_secs(20)));
        s.expect("? help]").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        unsafe { libc::kill(s.get_process().pid().as_raw(), sig) };
        let rest = String::from_utf8_lossy(s.expect(Eof).unwrap().as_bytes()).into_owned();
        let at = rest
            .find(&format!("! interrupted by {name} at the prompt: nothing more was started"))
            .unwrap_or_else(|| panic!("{name}: {rest:?}"));
        assert!(rest[..at].contains('\n'), "{name}: the message is on the prompt's line: {rest:?}");
    }
}
