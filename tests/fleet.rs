//! Fleets: one runbook over many real databases, in waves, with a failure budget, resume after
//! a fix or a kill -9, rollback of a failed target, and verifiable fleet evidence.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::servers::ServerDb;
use crate::support::{journal, SqliteFile, Test};

/// Works unchanged on SQLite, PostgreSQL and MariaDB: a table whose one row marks the change.
const MARKER: &str = r#"
version: 1
id: fleet-marker
vars:
  into:
    default: fleet_marker
plan:
  - id: add
    name: Add the marker table
    kind: sql
    sql: CREATE TABLE fleet_marker (x INTEGER)
  - id: fill
    name: Mark this database
    kind: sql
    sql: INSERT INTO ${into} VALUES (1)
rollback:
  - id: undo-backup
    name: Backup
    kind: backup
  - id: undo
    name: Drop the marker table
    kind: sql
    sql: DROP TABLE fleet_marker
"#;

fn sqlite_fleet(t: &Test, n: usize) -> Vec<SqliteFile> {
    (1..=n)
        .map(|i| {
            let dir = t.dir.join(format!("db{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            SqliteFile::users(&dir, 5)
        })
        .collect()
}

fn targets_file(t: &Test, dbs: &[(String, String)]) -> PathBuf {
    let mut s = String::from("targets:\n");
    for (name, url) in dbs {
        s.push_str(&format!("  - name: {name}\n    db: {url}\n    labels: {{env: prod}}\n"));
    }
    t.dir.write("targets.yaml", &s)
}

fn named(dbs: &[SqliteFile]) -> Vec<(String, String)> {
    dbs.iter().enumerate().map(|(i, d)| (format!("t{:02}", i + 1), d.url())).collect()
}

fn fleet_dir(t: &Test) -> PathBuf {
    let dirs = t.run_dirs("runs");
    assert_eq!(dirs.len(), 1, "one fleet folder: {dirs:?}");
    dirs[0].clone()
}

fn fleet_events(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("fleet.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn marks(db: &SqliteFile) -> String {
    if db.has_table("fleet_marker") {
        db.scalar("SELECT count(*) FROM fleet_marker")
    } else {
        "no table".into()
    }
}

#[test]
fn broken_target_in_wave_2_stops_the_fleet_and_resume_finishes_it_once_per_target() {
    let t = Test::new().runbook(MARKER);
    let dbs = sqlite_fleet(&t, 12);
    dbs[2].exec("CREATE TABLE fleet_marker (x INTEGER)"); // t03, in wave 2: its CREATE fails
    targets_file(&t, &named(&dbs));
    let out = t.exec([
        "fleet",
        "run",
        "runbook.yaml",
        "--targets",
        "targets.yaml",
        "--waves",
        "1,25%,100%",
        "--parallel",
        "2",
        "--max-failures",
        "0",
        "--yes",
        "--runs-dir",
        "runs",
    ]);
    out.code(1)
        .stdout_has("Wave 1 of 3: t01")
        .stdout_has("Wave 2 of 3: t02, t03")
        .stdout_has("wave 2 · t03 · failed (exit 1): add: database:")
        .stdout_has("1 target(s) failed, more than --max-failures 0 allows: no new target starts")
        .stdout_has("failed — 2 succeeded, 1 failed, 9 not started")
        .lacks("Wave 3 of 3");
    let fd = fleet_dir(&t);
    let ev = fleet_events(&fd);
    assert!(!ev.iter().any(|e| e["event"] == "wave_started" && e["wave"] == 3), "wave 3 started");
    assert_eq!(marks(&dbs[0]), "1");
    assert_eq!(marks(&dbs[1]), "1");
    assert_eq!(marks(&dbs[2]), "0");
    for db in &dbs[3..] {
        assert_eq!(marks(db), "no table");
    }
    // The target's journal says it ran under the fleet's wave decision, not a bare --yes.
    let t02 = std::fs::read_dir(fd.join("t02")).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).find(|p| p.is_dir()).unwrap();
    let j = journal(&t02);
    assert!(j.iter().any(|e| e["how"].as_str().is_some_and(|h| h.starts_with("fleet decision: wave 2 of fleet fleet-"))), "{j:?}");

    dbs[2].exec("DROP TABLE fleet_marker");
    let out = t.exec(["fleet", "resume", fd.to_str().unwrap(), "--yes"]);
    out.code(0).stdout_has("Wave 2 of 3: t03").stdout_has("succeeded — 12 succeeded, 0 failed, 0 not started").lacks("t01 ·");
    for db in &dbs {
        assert_eq!(marks(db), "1", "every target changed exactly once");
    }
    let ev = fleet_events(&fd);
    let retry: Vec<_> = ev.iter().filter(|e| e["event"] == "target_started" && e["target"] == "t03").collect();
    assert_eq!(retry.len(), 2);
    assert_eq!(retry[1]["action"], "retry");
    assert_eq!(retry[1]["attempt"], 2);
    let out = t.exec(["audit", "verify", fd.to_str().unwrap()]);
    out.code(0).stdout_has("fleet intact:").stdout_has("13 target journal(s) end with their recorded seals");

    let out = t.exec(["report", fd.to_str().unwrap(), "--format", "json"]);
    out.code(0);
    let r: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(r["totals"]["succeeded"], 12);
    assert_eq!(r["totals"]["retries"], 1);
    assert_eq!(r["steps"], serde_json::json!(["add", "fill"]));
    assert_eq!(r["targets"][2]["attempts"], 2);
    assert_eq!(r["targets"][2]["steps"]["fill"]["status"], "passed");
    let out = t.exec(["report", fd.to_str().unwrap()]);
    out.code(0).stdout_has("| Target | Wave | Outcome | Attempts | add | fill | Duration |").stdout_has("| t03 | 2 | succeeded | 2 | ✓");
    let out = t.exec(["report", fd.to_str().unwrap(), "--format", "html"]);
    out.code(0).stdout_has("<table>").lacks("<script src").lacks("<link");

    // One target's evidence proves into the root without the others.
    let out = t.exec(["fleet", "proof", fd.to_str().unwrap(), "t07"]);
    out.code(0);
    let p: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(p["root"], ev.last().unwrap()["root"]);
}

#[test]
fn kill_9_mid_fleet_then_resume_finishes_every_target_once() {
    let yaml =
        MARKER.replace("  - id: fill\n", "  - id: nap\n    name: Wait\n    kind: command\n    command: [\"sleep\", \"1\"]\n  - id: fill\n");
    let t = Test::new().runbook(&yaml);
    let dbs = sqlite_fleet(&t, 6);
    targets_file(&t, &named(&dbs));
    // The fleet dies right after its second target is recorded; the one in flight dies with it.
    let out = t.exec_env(
        &["fleet", "run", "runbook.yaml", "--targets", "targets.yaml", "--waves", "100%", "--parallel", "2", "--yes", "--runs-dir", "runs"],
        &[("RUNBOOK_FAULT", "kill-after=target_finished#2")],
    );
    assert_eq!(out.code, -1, "killed\n{}", out.all());
    let fd = fleet_dir(&t);
    let done: Vec<String> =
        fleet_events(&fd).iter().filter(|e| e["event"] == "target_finished").map(|e| e["target"].as_str().unwrap().to_string()).collect();
    assert_eq!(done.len(), 2);
    std::thread::sleep(Duration::from_millis(300));
    let out = t.exec(["fleet", "resume", fd.to_str().unwrap(), "--yes", "--rerun-in-flight"]);
    out.code(0).stdout_has("succeeded — 6 succeeded, 0 failed, 0 not started");
    for name in &done {
        assert!(!out.stdout.contains(&format!("· {name} ·")), "finished target {name} touched again\n{}", out.stdout);
    }
    for db in &dbs {
        assert_eq!(marks(db), "1", "every target changed exactly once");
    }
    t.exec(["audit", "verify", fd.to_str().unwrap()]).code(0);
}

#[test]
fn a_failed_target_is_rolled_back_with_on_target_failure_rollback() {
    let t = Test::new().runbook(MARKER);
    let dbs = sqlite_fleet(&t, 3);
    let mut s = String::from("targets:\n");
    for (i, d) in dbs.iter().enumerate() {
        s.push_str(&format!("  - name: t{}\n    db: {}\n", i + 1, d.url()));
        if i == 1 {
            s.push_str("    vars: {into: no_such_table}\n");
        }
    }
    t.dir.write("targets.yaml", &s);
    let out = t.exec([
        "fleet",
        "run",
        "runbook.yaml",
        "--targets",
        "targets.yaml",
        "--waves",
        "100%",
        "--max-failures",
        "1",
        "--on-target-failure",
        "rollback",
        "--yes",
        "--runs-dir",
        "runs",
    ]);
    out.code(1).stdout_has("t2 · failed, rolled back (exit 1)").stdout_has("2 succeeded, 1 failed");
    assert_eq!(marks(&dbs[0]), "1");
    assert_eq!(marks(&dbs[1]), "no table", "the failed target was restored by its rollback plan");
    assert_eq!(marks(&dbs[2]), "1");
}

#[test]
fn mixed_fleet_across_sqlite_postgres_and_mariadb() {
    let (Some(pg), Some(my)) = (ServerDb::postgres(), ServerDb::mysql()) else { return };
    let t = Test::new().runbook(MARKER);
    let lite = sqlite_fleet(&t, 1);
    // The PostgreSQL target names its password from the environment, as a real fleet would;
    // the test server trusts local connections, so any password is accepted.
    let pg_url = pg.url().replacen("postgres@", "postgres:${FLEET_PG_PASSWORD}@", 1);
    assert!(pg_url.contains("${FLEET_PG_PASSWORD}"), "{pg_url}");
    targets_file(&t, &[("lite".into(), lite[0].url()), ("pg".into(), pg_url), ("maria".into(), my.url_as("mariadb"))]);
    let args = [
        "fleet",
        "run",
        "runbook.yaml",
        "--targets",
        "targets.yaml",
        "--waves",
        "1,100%",
        "--parallel",
        "2",
        "--yes",
        "--runs-dir",
        "runs",
    ];
    let out = t.exec_env(&args, &[("FLEET_PG_PASSWORD", FLEET_PASSWORD)]);
    out.code(0).stdout_has("succeeded — 3 succeeded, 0 failed, 0 not started");
    let first = out;
    assert_eq!(marks(&lite[0]), "1");
    assert_eq!(pg.scalar("SELECT count(*) FROM fleet_marker"), "1");
    assert_eq!(my.scalar("SELECT count(*) FROM fleet_marker"), "1");
    let fd = fleet_dir(&t);
    t.exec(["audit", "verify", fd.to_str().unwrap()]).code(0).stdout_has("3 target journal(s)");
    let out = t.exec(["report", fd.to_str().unwrap(), "--format", "json"]);
    let r: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let engines: Vec<&str> = r["targets"].as_array().unwrap().iter().map(|x| x["target"].as_str().unwrap()).collect();
    assert!(engines[1].starts_with("postgres://") && engines[2].starts_with("mariadb://"), "{engines:?}");
    crate::support::assert_secret_nowhere(&t, FLEET_PASSWORD, &[t.dir.path().to_path_buf()], &[&first, &out]);
}

const FLEET_PASSWORD: &str = "fleet-pw-canary-3z8q";

#[test]
fn tampered_target_journal_fails_audit_verify_and_collect() {
    let t = Test::new().runbook(MARKER);
    let dbs = sqlite_fleet(&t, 3);
    // Runs made elsewhere, one folder per host, as Ansible or a CI matrix leaves them.
    for (name, url) in named(&dbs) {
        t.exec(["run", "runbook.yaml", "--db", &url, "--yes", "--runs-dir", &format!("hosts/{name}")]).code(0);
    }
    let runs: Vec<String> = named(&dbs).iter().map(|(n, _)| t.run_dirs(&format!("hosts/{n}"))[0].display().to_string()).collect();
    let mut args = vec!["fleet", "collect"];
    args.extend(runs.iter().map(String::as_str));
    args.extend(["-o", "collected"]);
    t.exec(&args).code(0).stdout_has("collected 3 run(s) into collected: 3 succeeded, 0 failed; root ");
    let fd = t.dir.join("collected");
    t.exec(["audit", "verify", "collected"]).code(0).stdout_has("fleet intact:");

    // The same target twice, and a run of another runbook, are refused.
    let mut dup = vec!["fleet", "collect", runs[0].as_str(), runs[0].as_str(), "-o", "dup"];
    t.exec(&dup).code(2).stderr_has("are runs against the same target");
    t.dir.write("other.yaml", &MARKER.replace("id: fleet-marker", "id: other-change"));
    let extra = t.dir.join("db-other");
    std::fs::create_dir_all(&extra).unwrap();
    let odb = SqliteFile::users(&extra, 2);
    t.exec(["run", "other.yaml", "--db", &odb.url(), "--yes", "--runs-dir", "hosts/other"]).code(0);
    let orun = t.run_dirs("hosts/other")[0].display().to_string();
    dup = vec!["fleet", "collect", runs[0].as_str(), orun.as_str(), "-o", "mixed"];
    t.exec(&dup).code(2).stderr_has("a fleet is one runbook");
    assert!(!t.dir.join("mixed").join("fleet.jsonl").exists());

    // Change one line of one target's journal: both the fleet and a new collect notice.
    let tjournal = std::fs::read_dir(fd.join("t02")).unwrap().next().unwrap().unwrap().path().join("journal.jsonl");
    let text = std::fs::read_to_string(&tjournal).unwrap();
    std::fs::write(&tjournal, text.replacen("\"rows_affected\":1", "\"rows_affected\":7", 1)).unwrap();
    let out = t.exec(["audit", "verify", "collected"]);
    out.code(1).stdout_has("target t02 (t02/").stdout_has("journal broken at line");
    let src = Path::new(&runs[1]).join("journal.jsonl");
    std::fs::copy(&tjournal, &src).unwrap();
    let mut args = vec!["fleet", "collect"];
    args.extend(runs.iter().map(String::as_str));
    args.extend(["-o", "again"]);
    t.exec(&args).code(1).stderr_has("the journal's hash chain is broken at line").stderr_has("a tampered run is not collected");
}

#[test]
fn a_literal_password_in_the_targets_file_is_refused_and_never_printed() {
    let t = Test::new().runbook(MARKER);
    t.dir.write("targets.yaml", "targets:\n  - name: a\n    db: postgres://app:hunter22@127.0.0.1/x\n");
    let out = t.exec(["fleet", "run", "runbook.yaml", "--targets", "targets.yaml", "--yes", "--runs-dir", "runs"]);
    out.code(2).stderr_has("the db URL holds a password; write it as ${ENV_NAME}").lacks("hunter22");
    assert!(!t.dir.join("runs").exists());
    crate::support::assert_secret_nowhere(&t, "hunter22", &[t.dir.join("runs"), t.dir.join(".state")], &[&out]);
}

#[test]
fn the_ansible_playbook_rolls_out_to_six_local_targets_and_collects_them() {
    if which::which("ansible-playbook").is_err() {
        assert!(!crate::support::servers_required(), "RUNBOOK_REQUIRE_SERVERS=1: ansible-playbook is not installed");
        eprintln!("skipped: ansible-playbook is not installed (apt-get install ansible-core)");
        return;
    }
    let Some(pg1) = ServerDb::postgres() else { return };
    let Some(pg2) = ServerDb::postgres() else { return };
    let t = Test::new().runbook(MARKER);
    let dbs = sqlite_fleet(&t, 4);
    let mut inv = String::from("[databases]\n");
    for (i, d) in dbs.iter().enumerate() {
        inv.push_str(&format!("lite{} db_url={}\n", i + 1, d.url()));
    }
    inv.push_str(&format!("pg1 db_url={}\npg2 db_url={}\n", pg1.url(), pg2.url()));
    t.dir.write("inventory.ini", &inv);
    let playbook = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/ansible/rollout.yml");
    let out = std::process::Command::new("ansible-playbook")
        .current_dir(t.dir.path())
        .args(["-i", "inventory.ini", playbook])
        .arg("-e")
        .arg(format!("runbook_file={}", t.dir.join("runbook.yaml").display()))
        .arg("-e")
        .arg(format!("runs_dir={}", t.dir.join("runs").display()))
        .arg("-e")
        .arg(format!("runbook_bin={}", crate::support::bin()))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_LOCAL_TEMP", t.dir.join(".ansible-tmp"))
        .env("RUNBOOK_STATE_DIR", t.dir.join(".state"))
        .output()
        .expect("ansible-playbook");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("pg2                        : ok=1    changed=1    unreachable=0    failed=0"), "{text}");
    for d in &dbs {
        assert_eq!(marks(d), "1");
    }
    assert_eq!(pg1.scalar("SELECT count(*) FROM fleet_marker"), "1");
    assert_eq!(pg2.scalar("SELECT count(*) FROM fleet_marker"), "1");
    let out = t.exec(["audit", "verify", "runs/fleet"]);
    out.code(0).stdout_has("6 target journal(s) end with their recorded seals");
    let out = t.exec(["report", "runs/fleet", "--format", "json"]);
    let r: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let names: Vec<&str> = r["targets"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["lite1", "lite2", "lite3", "lite4", "pg1", "pg2"]);
    assert_eq!(r["totals"]["succeeded"], 6);
}

/// Run an interactive fleet of `n` targets in 3 waves through a pty, answering every prompt;
/// returns how many prompts were asked.
fn interactive_fleet_prompts(n: usize) -> usize {
    use expectrl::{Eof, Session, WaitStatus};
    let yaml = MARKER.replace(
        "plan:\n",
        "plan:\n  - id: check\n    name: Check the dashboard\n    kind: manual\n    checklist:\n      - Dashboard is green\n",
    );
    let t = Test::new().runbook(&yaml);
    let dbs = sqlite_fleet(&t, n);
    targets_file(&t, &named(&dbs));
    let mut c = t.command();
    c.args(["fleet", "run", "runbook.yaml", "--targets", "targets.yaml", "--waves", "1,25%,100%", "--parallel", "4", "--runs-dir", "runs"])
        .env("TERM", "xterm")
        .env("COLUMNS", "160");
    let mut s = Session::spawn(c).expect("spawn in a pty");
    s.set_expect_timeout(Some(Duration::from_secs(60)));
    let mut prompts = 0;
    for w in 1..=3 {
        s.expect(format!("Start wave {w} of 3: ").as_str()).unwrap();
        s.send("y").unwrap();
        s.expect(format!("Done: wave {w}, Check the dashboard: Dashboard is green?").as_str()).unwrap();
        s.send("y").unwrap();
        prompts += 2;
    }
    let rest = s.expect(Eof).unwrap();
    let tail = String::from_utf8_lossy(rest.before()).to_string();
    prompts += tail.matches("Start wave").count() + tail.matches("Done:").count();
    let code = match s.get_process().wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("{other:?}"),
    };
    assert_eq!(code, 0, "{tail}");
    for db in &dbs {
        assert_eq!(marks(db), "1");
    }
    let ev = fleet_events(&fleet_dir(&t));
    let waves: Vec<_> = ev.iter().filter(|e| e["event"] == "wave_started").collect();
    assert_eq!(waves.len(), 3);
    assert!(waves.iter().all(|e| e["how"] == "interactive" && e["decision"] == "start"));
    assert_eq!(ev.iter().filter(|e| e["event"] == "wave_checklist" && e["confirmed"] == true).count(), 3);
    let report = t.exec(["report", fleet_dir(&t).to_str().unwrap(), "--format", "json"]);
    let r: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(r["totals"]["targets"], n);
    prompts
}

#[test]
fn an_interactive_fleet_of_12_targets_in_3_waves_asks_as_many_questions_as_one_of_6() {
    // Three waves and one checklist item: a wave prompt and a checklist answer per wave.
    assert_eq!(interactive_fleet_prompts(12), 6);
    assert_eq!(interactive_fleet_prompts(6), 6, "the prompt count must not grow with the number of targets");
}

/// A runbook whose `deploy` step runs once for the whole fleet, between `add` and `fill`; every
/// step appends a line to `order.log` so the test sees how many times and in which order.
fn fleet_step_runbook(t: &Test) -> String {
    let log = t.dir.join("order.log");
    let log = log.display();
    format!(
        r#"
version: 1
id: fleet-scoped
plan:
  - id: add
    name: Add the marker table
    kind: sql
    sql: CREATE TABLE fleet_marker (x INTEGER)
  - id: before
    name: Note the target before the deploy
    kind: command
    shell: true
    command: echo "before $RUNBOOK_RUN_ID" >> {log}
  - id: deploy
    name: Deploy the application
    kind: command
    scope: fleet
    shell: true
    command: echo "deploy ${{release}}" >> {log}
  - id: fill
    name: Mark this database
    kind: sql
    sql: INSERT INTO fleet_marker VALUES (1)
vars:
  release:
    default: v42
"#
    )
}

#[test]
fn a_fleet_scoped_step_runs_once_after_every_target_reached_it_and_before_any_went_on() {
    let t = Test::new();
    let yaml = fleet_step_runbook(&t);
    t.dir.write("runbook.yaml", &yaml);
    let dbs = sqlite_fleet(&t, 5);
    targets_file(&t, &named(&dbs));
    let out = t.exec([
        "fleet",
        "run",
        "runbook.yaml",
        "--targets",
        "targets.yaml",
        "--waves",
        "1,50%,100%",
        "--parallel",
        "2",
        "--yes",
        "--runs-dir",
        "runs",
    ]);
    out.code(0)
        .stdout_has("Wave 1 of 3: t01 — steps before fleet step `deploy`")
        .stdout_has("wave 3 · t05 · ready for fleet step `deploy`")
        .stdout_has("Fleet step `deploy`: Deploy the application — once for the whole fleet")
        .stdout_has("Wave 3 of 3: t04, t05 — steps after fleet step `deploy`")
        .stdout_has("succeeded — 5 succeeded, 0 failed, 0 not started");
    let log = std::fs::read_to_string(t.dir.join("order.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 6, "{log}");
    assert!(lines[..5].iter().all(|l| l.starts_with("before ")), "every target before the deploy: {log}");
    assert_eq!(lines[5], "deploy v42", "the deploy ran once, last: {log}");
    for db in &dbs {
        assert_eq!(marks(db), "1", "every target went on after the deploy");
    }
    let fd = fleet_dir(&t);
    let ev = fleet_events(&fd);
    let kinds: Vec<&str> = ev.iter().map(|e| e["event"].as_str().unwrap()).collect();
    let step_at = kinds.iter().position(|k| *k == "fleet_step_finished").unwrap();
    assert_eq!(kinds.iter().filter(|k| **k == "fleet_step_started").count(), 1);
    assert_eq!(kinds.iter().filter(|k| **k == "target_awaiting").count(), 5);
    assert!(kinds[..step_at].iter().all(|k| *k != "target_finished"), "no target finished before the deploy: {kinds:?}");
    assert_eq!(kinds[step_at + 1..].iter().filter(|k| **k == "target_finished").count(), 5);
    assert_eq!(ev[step_at]["status"], "passed");
    assert_eq!(std::fs::read_to_string(fd.join("fleet-step-deploy.log")).unwrap(), "");
    // Each target's journal shows the step done at fleet level, with the line that records it.
    let reference = format!("{}, fleet.jsonl line {}", fd.file_name().unwrap().to_str().unwrap(), ev[step_at]["seq"]);
    let t03 = std::fs::read_dir(fd.join("t03")).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).find(|p| p.is_dir()).unwrap();
    let j = journal(&t03);
    let done: Vec<_> = j.iter().filter(|e| e["event"] == "fleet_step").collect();
    assert_eq!(done.len(), 2, "{j:?}");
    assert!(done[0]["reference"].is_null());
    assert_eq!(done[1]["reference"], format!("fleet {reference}"));
    assert!(j.iter().any(|e| e["event"] == "step_finished" && e["step_id"] == "deploy" && e["status"] == "passed"));
    t.exec(["audit", "verify", fd.to_str().unwrap()]).code(0).stdout_has("5 target journal(s) end with their recorded seals");
}

#[test]
fn a_single_run_is_a_fleet_of_one_and_runs_the_fleet_step_itself() {
    let t = Test::new();
    let yaml = fleet_step_runbook(&t);
    t.dir.write("runbook.yaml", &yaml);
    let dbs = sqlite_fleet(&t, 1);
    t.exec(["validate", "runbook.yaml"]).code(0).stdout_has(
        "step `deploy` has scope: fleet — `runbook fleet` runs it once for the whole fleet, after every target has run the steps before it and before any runs the steps after it; a single run runs it itself",
    );
    t.exec(["plan", "runbook.yaml", "--db", &dbs[0].url()])
        .code(0)
        .stdout_has("  scope: fleet — `runbook fleet` runs it once for the whole fleet");
    t.exec(["run", "runbook.yaml", "--db", &dbs[0].url(), "--yes", "--runs-dir", "runs"]).code(0);
    let log = std::fs::read_to_string(t.dir.join("order.log")).unwrap();
    assert_eq!(log.lines().last(), Some("deploy v42"));
    assert_eq!(marks(&dbs[0]), "1");
}

#[test]
fn scope_fleet_is_refused_on_a_step_that_works_on_the_database() {
    let t =
        Test::new().runbook(&MARKER.replace(
            "    sql: CREATE TABLE fleet_marker (x INTEGER)\n",
            "    sql: CREATE TABLE fleet_marker (x INTEGER)\n    scope: fleet\n",
        ));
    let out = t.exec(["validate", "runbook.yaml"]);
    out.code(2).stderr_has("a `sql` step works on the target's database and cannot have `scope: fleet`");
}

/// The committed fleet in tests/fixtures/fleet-report (three targets in two waves, a fleet
/// step, one failure) renders exactly as its golden files. `RUNBOOK_BLESS=1` rewrites them
/// after a deliberate change of layout; review the diff.
#[test]
fn fleet_reports_match_their_golden_files() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fleet-report");
    let t = Test::new();
    for (format, ext) in [("markdown", "md"), ("textile", "textile"), ("html", "html"), ("json", "json")] {
        let out = t.exec(["report", fixture.join("fleet").to_str().unwrap(), "--format", format]);
        out.code(0);
        let golden = fixture.join("golden").join(format!("report.{ext}"));
        if std::env::var_os("RUNBOOK_BLESS").is_some() {
            std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
            std::fs::write(&golden, &out.stdout).unwrap();
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
        assert_eq!(out.stdout, want, "{format} report differs from {}", golden.display());
    }
}

#[test]
fn redmine_gets_the_fleet_note_and_its_attachments_once() {
    use crate::redmine::{attachment_names, notes, Api};
    let Some((url, key)) = crate::redmine::redmine() else { return };
    let _turn = crate::redmine::LIVE.lock().unwrap_or_else(|e| e.into_inner());
    let api = Api::new(&url, &key);
    let issue = api.change_ticket(true);
    let t = Test::new().runbook(MARKER);
    let dbs = sqlite_fleet(&t, 3);
    targets_file(&t, &named(&dbs));
    let issue_s = issue.to_string();
    let out = t.exec_env(
        &[
            "fleet",
            "run",
            "runbook.yaml",
            "--targets",
            "targets.yaml",
            "--waves",
            "1,100%",
            "--yes",
            "--runs-dir",
            "runs",
            "--redmine",
            &url,
            "--issue",
            &issue_s,
        ],
        &[("REDMINE_API_KEY", key.as_str())],
    );
    out.code(0).stdout_has(&format!(
        "posted the fleet to {url}/issues/{issue}: a note with the fleet report and 3 attachments (fleet-report.html, fleet-report.json, fleet.jsonl)"
    ));
    let fd = fleet_dir(&t);
    let root = fleet_events(&fd).last().unwrap()["root"].as_str().unwrap().to_string();
    let i = api.issue(issue);
    let fleet_notes: Vec<String> = notes(&i).into_iter().filter(|n| n.contains(&root)).collect();
    assert_eq!(fleet_notes.len(), 1, "{:?}", notes(&i));
    assert!(fleet_notes[0].contains("| t02 | 2 | succeeded | 1 |"), "{}", fleet_notes[0]);
    assert!(fleet_notes[0].contains("Evidence attached: attachment:fleet-report.html"), "{}", fleet_notes[0]);
    let mut names = attachment_names(&i);
    names.sort();
    assert_eq!(names, ["fleet-report.html", "fleet-report.json", "fleet.jsonl"]);

    // Posting again from `report` finds the note and adds nothing.
    let out = t.exec_env(&["report", fd.to_str().unwrap(), "--redmine", &url, "--issue", &issue_s], &[("REDMINE_API_KEY", key.as_str())]);
    out.code(0).stdout_has(&format!("this fleet is already on {url}/issues/{issue}"));
    let i = api.issue(issue);
    assert_eq!(notes(&i).iter().filter(|n| n.contains(&root)).count(), 1);
    assert_eq!(attachment_names(&i).len(), 3);
}

/// MARKER with a monitor step after the fill: the marker table must hold at most one row.
fn monitored() -> String {
    MARKER.replace(
        "rollback:\n",
        "  - id: watch\n    name: Watch the marker\n    kind: monitor\n    interval: 100ms\n    duration: 200ms\n    checks:\n      - name: marker rows\n        query: SELECT count(*) FROM fleet_marker\n        max: 1\nrollback:\n",
    )
}

fn bake_run(t: &Test) -> crate::support::Output {
    t.exec([
        "fleet",
        "run",
        "runbook.yaml",
        "--targets",
        "targets.yaml",
        "--waves",
        "1,100%",
        "--pause-between-waves",
        "2s",
        "--yes",
        "--runs-dir",
        "runs",
    ])
}

#[test]
fn monitors_keep_sampling_during_the_bake_time_and_the_samples_are_evidence() {
    let t = Test::new().runbook(&monitored());
    let dbs = sqlite_fleet(&t, 2);
    targets_file(&t, &named(&dbs));
    let out = bake_run(&t);
    out.code(0)
        .stdout_has("Baking for 2.0s before the next wave: 1 monitor step(s) sampled on 1 target(s) every 100ms")
        .stdout_has("bake after wave 1: ")
        .stdout_has("all within thresholds");
    let ev = fleet_events(&fleet_dir(&t));
    let samples: Vec<_> = ev.iter().filter(|e| e["event"] == "bake_sample").collect();
    assert!(samples.len() >= 10, "sampled every 100ms for 2s: {}", samples.len());
    assert!(samples.iter().all(|s| s["target"] == "t01"
        && s["wave"] == 1
        && s["check"] == "marker rows"
        && s["value"] == 1.0
        && s["ok"] == true));
    assert!(samples.last().unwrap()["elapsed_ms"].as_u64().unwrap() >= 2000, "until the end of the bake");
    // The bake lies between the waves: after wave 1 ended, before wave 2 started.
    let pos = |f: &dyn Fn(&serde_json::Value) -> bool| ev.iter().position(f).unwrap();
    let first = pos(&|e| e["event"] == "bake_sample");
    assert!(pos(&|e| e["event"] == "wave_finished" && e["wave"] == 1) < first);
    assert!(first < pos(&|e| e["event"] == "wave_started" && e["wave"] == 2));
    // The report sums the bake up per wave and per target and check, in every format.
    let fd = fleet_dir(&t);
    let row = format!("| t01 | watch · marker rows | {} | 1 | 1 | none |\n", samples.len());
    t.exec(["report", fd.to_str().unwrap(), "--format", "markdown"])
        .code(0)
        .stdout_has("\n## Bake\n\nBake after wave 1: ")
        .stdout_has(&format!("\n| Target | Check | Samples | Min | Max | Breach |\n|---|---|---|---|---|---|\n{row}"));
    t.exec(["report", fd.to_str().unwrap(), "--format", "textile"]).code(0).stdout_has("\nh2. Bake\n\n").stdout_has(&row);
    t.exec(["report", fd.to_str().unwrap(), "--format", "html"]).code(0).stdout_has(&format!(
        "<tr><td>t01</td><td>watch · marker rows</td><td>{}</td><td>1</td><td>1</td><td class=\"passed\">none</td></tr>\n",
        samples.len()
    ));
    let json = t.exec(["report", fd.to_str().unwrap(), "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json.code(0).stdout).unwrap();
    let want = serde_json::json!([{"wave": 1, "duration_ms": samples.last().unwrap()["elapsed_ms"], "checks": [{
        "target": "t01", "step_id": "watch", "check": "marker rows", "samples": samples.len(), "min": 1.0, "max": 1.0, "breach": null
    }]}]);
    assert_eq!(json["bake"], want);
}

#[test]
fn a_monitor_crossing_its_threshold_during_the_bake_stops_the_fleet_before_the_next_wave() {
    let t = Test::new().runbook(&monitored());
    let dbs = sqlite_fleet(&t, 2);
    targets_file(&t, &named(&dbs));
    // Once wave 1 has ended, a second row appears on the canary: the bake must notice.
    let canary = SqliteFile { path: dbs[0].path.clone() };
    let runs = t.dir.join("runs");
    let spoiler = std::thread::spawn(move || {
        for _ in 0..600 {
            let ended = std::fs::read_dir(&runs)
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok())
                .any(|e| std::fs::read_to_string(e.path().join("fleet.jsonl")).is_ok_and(|s| s.contains("\"wave_finished\"")));
            if ended {
                canary.exec("INSERT INTO fleet_marker VALUES (2)");
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let out = bake_run(&t);
    spoiler.join().unwrap();
    out.code(1).stdout_has("bake after wave 1: t01 · watch `marker rows` crossed its threshold at t+").lacks("Wave 2 of 2");
    assert_eq!(marks(&dbs[1]), "no table", "wave 2 never started");
    let fd = fleet_dir(&t);
    let ev = fleet_events(&fd);
    let last = ev.iter().rfind(|e| e["event"] == "bake_sample").unwrap();
    assert_eq!(last["ok"], false);
    assert_eq!(last["value"], 2.0);
    // No target failed, so the closing line itself says why the fleet stopped.
    let why = "stopped after wave 1: bake check `marker rows` of `watch` on t01 over its threshold";
    let end = ev.iter().find(|e| e["event"] == "fleet_finished").unwrap();
    assert_eq!(end["reason"], why);
    // The report names the breach: the first sample over the threshold.
    let json = t.exec(["report", fd.to_str().unwrap(), "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json.code(0).stdout).unwrap();
    let check = &json["bake"][0]["checks"][0];
    assert_eq!((check["min"].as_f64(), check["max"].as_f64()), (Some(1.0), Some(2.0)));
    let breach = check["breach"].as_str().unwrap();
    assert!(breach.starts_with("2 at t+") && breach.ends_with('s'), "{breach}");
    out.stdout_has(&format!(
        "\n  ✘ Fleet {}: failed, {why} — 1 succeeded, 0 failed, 1 not started; root {}\n",
        fd.file_name().unwrap().to_str().unwrap(),
        end["root"].as_str().unwrap()
    ));
}

/// A fleet step's `timeout:` holds as in a target's run: the command is stopped when it runs
/// out, with everything it started (a background job that would write later never does), and
/// the fleet stops, its targets waiting for the step.
#[test]
fn a_fleet_step_that_runs_past_its_timeout_is_stopped_with_its_process_group() {
    let t = Test::new();
    let late = t.dir.join("late.log");
    t.dir.write(
        "runbook.yaml",
        &format!(
            r#"
version: 1
id: fleet-timeout
plan:
  - id: add
    name: Add the marker table
    kind: sql
    sql: CREATE TABLE fleet_marker (x INTEGER)
  - id: deploy
    name: Deploy the application
    kind: command
    scope: fleet
    shell: true
    timeout: 1s
    command: (sleep 2; echo late >> {}) & sleep 30
"#,
            late.display()
        ),
    );
    let dbs = sqlite_fleet(&t, 2);
    targets_file(&t, &named(&dbs));
    let started = std::time::Instant::now();
    let out = t.exec(["fleet", "run", "runbook.yaml", "--targets", "targets.yaml", "--yes", "--runs-dir", "runs"]);
    let took = started.elapsed();
    out.code(1).stdout_has(&format!(
        "  ✘ fleet step `deploy` failed: sh -c '(sleep 2; echo late >> {}) & sleep 30': the step timed out after 1.0s\n",
        late.display()
    ));
    assert!(took < Duration::from_secs(10), "the fleet did not wait for the command: {took:?}");
    std::thread::sleep(Duration::from_secs(3));
    assert!(!late.exists(), "the command's background job outlived the timeout");
    let ev = fleet_events(&fleet_dir(&t));
    let done = ev.iter().find(|e| e["event"] == "fleet_step_finished").unwrap();
    assert_eq!(done["status"], "failed");
    assert!(done["detail"].as_str().unwrap().ends_with(": the step timed out after 1.0s"), "{done}");
    let end = ev.iter().find(|e| e["event"] == "fleet_finished").unwrap();
    assert_eq!(end["reason"], "stopped at fleet step `deploy`, which failed");
}

/// Regression: the flags a fleet passes to its targets' runs were taken on trust, so a plain
/// `runbook run --fleet-step deploy=…` recorded a fleet step that never ran as passed, in a
/// journal whose chain verified. A reference is now checked against the fleet's own record.
#[test]
fn a_fleet_step_reference_without_a_fleet_record_is_refused_and_nothing_runs() {
    let t = Test::new();
    let yaml = fleet_step_runbook(&t);
    t.dir.write("runbook.yaml", &yaml);
    let db = SqliteFile::users(t.dir.path(), 3);
    let out = t.exec([
        "run",
        "runbook.yaml",
        "--db",
        &db.url(),
        "--yes",
        "--fleet-decision",
        "approved by CAB",
        "--fleet-step",
        "deploy=fleet 1234, fleet.jsonl line 17",
        "--runs-dir",
        "forged/t1",
    ]);
    out.code(2);
    assert_eq!(
        out.stderr.trim_end(),
        format!(
            "error: step `deploy` is said to have been run by the fleet, but there is no fleet record at {}; nothing was run",
            t.dir.join("forged").join("fleet.jsonl").display()
        )
    );
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'fleet_marker'"), "0", "a step ran");
    assert!(!t.dir.join("order.log").exists(), "a command ran");
    assert!(!t.dir.join("forged/t1").exists() || t.run_dirs("forged/t1").is_empty(), "a run started");
}

fn bake_run_env(t: &Test, env: &[(&str, &str)]) -> crate::support::Output {
    let args = [
        "fleet",
        "run",
        "runbook.yaml",
        "--targets",
        "targets.yaml",
        "--waves",
        "1,100%",
        "--pause-between-waves",
        "2s",
        "--yes",
        "--runs-dir",
        "runs",
    ];
    t.exec_env(&args, env)
}

/// A secret whose value changes the shape of a monitor check's query is refused as in a single
/// run, with the same words: the first target's run refuses it before anything runs, so the
/// fleet stops there, nothing written, no wave after it and no bake with a spliced query.
#[test]
fn a_fleet_refuses_a_secret_that_changes_a_check_query_before_any_bake() {
    let runbook = monitored()
        .replace("vars:\n", "vars:\n  tok:\n    secret: true\n    env: TOK\n")
        .replace("query: SELECT count(*) FROM fleet_marker\n", "query: SELECT count(*) FROM fleet_marker WHERE 'k:${tok}' <> ''\n");
    let t = Test::new().runbook(&runbook);
    let dbs = sqlite_fleet(&t, 2);
    targets_file(&t, &named(&dbs));
    let evil = "z' OR 'a'='a";
    let out = bake_run_env(&t, &[("TOK", evil)]);
    out.code(1).stdout_has(
        "\n  ✘ wave 1 · t01 · not run (exit 2): error: step `watch`: the value of secret variable `tok` changes the shape of the query `SELECT count(*) FROM fleet_marker WHERE 'k:********' <> ''` (it is not a single literal: a quote, a semicolon, a comment or a keyword), so what is shown masked is not what would run; nothing was run. Mark the variable `sql: true` if its value is meant to be SQL\n",
    );
    assert_eq!((marks(&dbs[0]), marks(&dbs[1])), ("no table".to_string(), "no table".to_string()));
    let ev = fleet_events(&fleet_dir(&t));
    assert!(!ev.iter().any(|e| e["event"] == "bake_sample"), "no bake after a refused wave");
    assert!(!out.all().contains(evil), "{}", out.all());
}

/// Regression: the bake spliced a check query's variables into its text while the run's
/// monitor step bound a lone literal, so the same check read other rows during the bake. Here
/// `name = '${who}'` with `alice' AND 'a'='b` must count the row of that exact name, which
/// appears once wave 1 has ended: the bake, sampling as the step does, sees it and stops.
#[test]
fn a_bake_samples_a_check_query_as_its_monitor_step_does() {
    let runbook = monitored().replace("vars:\n", "vars:\n  who:\n    default: \"alice' AND 'a'='b\"\n").replace(
        "query: SELECT count(*) FROM fleet_marker\n        max: 1\n",
        "query: SELECT count(*) FROM all_users WHERE name = '${who}'\n        max: 0\n",
    );
    let t = Test::new().runbook(&runbook);
    let dbs = sqlite_fleet(&t, 2);
    targets_file(&t, &named(&dbs));
    let canary = SqliteFile { path: dbs[0].path.clone() };
    let runs = t.dir.join("runs");
    let spoiler = std::thread::spawn(move || {
        for _ in 0..600 {
            let ended = std::fs::read_dir(&runs)
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok())
                .any(|e| std::fs::read_to_string(e.path().join("fleet.jsonl")).is_ok_and(|s| s.contains("\"wave_finished\"")));
            if ended {
                canary.exec("INSERT INTO all_users (id, email, name) VALUES (99, 'a@example.org', 'alice'' AND ''a''=''b')");
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let out = bake_run(&t);
    spoiler.join().unwrap();
    out.code(1).stdout_has("bake after wave 1: t01 · watch `marker rows` crossed its threshold at t+").lacks("Wave 2 of 2");
    let ev = fleet_events(&fleet_dir(&t));
    let last = ev.iter().rfind(|e| e["event"] == "bake_sample").unwrap();
    assert_eq!((last["value"].as_f64(), last["ok"].as_bool()), (Some(1.0), Some(false)));
    assert_eq!(marks(&dbs[1]), "no table", "wave 2 never started");
}

/// Ids and processes left by a signalled fleet: the process ids whose command line holds
/// `needle` (the test folder, or a command's unusual argument).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(needle) {
            out.push(format!("{name}: {text}"));
        }
    }
    out
}

/// The fleet's last two lines after an interruption: the interruption, then its end.
#[track_caller]
fn assert_fleet_interrupted(fd: &Path, signal: &str, at: &str, interrupted: usize) -> serde_json::Value {
    let ev = fleet_events(fd);
    let (i, end) = (&ev[ev.len() - 2], &ev[ev.len() - 1]);
    assert_eq!(i["event"], "fleet_interrupted", "{ev:?}");
    assert_eq!(i["signal"], signal);
    assert_eq!(i["at"], at);
    assert_eq!(end["event"], "fleet_finished");
    assert_eq!(end["outcome"], "interrupted");
    assert_eq!(end["exit_code"], 3);
    assert_eq!(end["reason"], format!("interrupted by {signal} {at}"));
    assert_eq!(end["interrupted"].as_u64().unwrap_or(0), interrupted as u64, "{end}");
    end.clone()
}

/// SIGTERM, SIGHUP, SIGINT and Ctrl-C typed at the wave prompt: the operator stopping. The
/// fleet records the interruption and its end, puts the terminal back and exits 3 within a
/// second; nothing ran, and `fleet resume` then runs the wave.
#[test]
fn every_signal_at_the_wave_prompt_ends_the_fleet_interrupted_and_resume_runs_it() {
    use expectrl::{Eof, Session, WaitStatus};
    for (signal, name) in
        [(Some(libc::SIGTERM), "SIGTERM"), (Some(libc::SIGHUP), "SIGHUP"), (Some(libc::SIGINT), "Ctrl-C"), (None, "Ctrl-C")]
    {
        let t = Test::new().runbook(MARKER);
        let dbs = sqlite_fleet(&t, 2);
        targets_file(&t, &named(&dbs));
        let mut c = t.command();
        c.args(["fleet", "run", "runbook.yaml", "--targets", "targets.yaml", "--waves", "100%", "--parallel", "2", "--runs-dir", "runs"])
            .env("TERM", "xterm")
            .env("COLUMNS", "200");
        let mut s = Session::spawn(c).expect("spawn in a pty");
        s.set_expect_timeout(Some(Duration::from_secs(20)));
        let mut seen = String::new();
        let found = s.expect("Start wave 1 of 1: 2 target(s) (t01, t02)?").unwrap_or_else(|e| panic!("{name}: {e}"));
        seen.push_str(&String::from_utf8_lossy(found.before()));
        std::thread::sleep(Duration::from_millis(300));
        let sent = std::time::Instant::now();
        match signal {
            // SAFETY: a plain kill(2) on the process this session spawned.
            Some(sig) => unsafe {
                libc::kill(s.get_process().pid().as_raw(), sig);
            },
            None => s.send("\x03").unwrap(),
        }
        if let Ok(rest) = s.expect(Eof) {
            seen.push_str(&String::from_utf8_lossy(rest.as_bytes()));
        }
        let code = match s.get_process().wait().unwrap() {
            WaitStatus::Exited(_, code) => code,
            other => panic!("{name}: {other:?}"),
        };
        let took = sent.elapsed();
        assert_eq!(code, 3, "{name}: {seen}");
        assert!(took < Duration::from_secs(1), "{name} took {took:?}");
        assert!(crate::faults::line_editing(&s), "{name}: the terminal was left in raw mode");
        let fd = fleet_dir(&t);
        let end = assert_fleet_interrupted(&fd, name, "at the wave 1 prompt", 0);
        let ev = fleet_events(&fd);
        assert_eq!(ev.len(), 3, "{name}: nothing but the start, the interruption and the end: {ev:?}");
        let fleet_id = ev[0]["fleet_id"].as_str().unwrap();
        let root = end["root"].as_str().unwrap();
        let whole = format!(
            "✘ Fleet {fleet_id}: interrupted by {name} at the wave 1 prompt — 0 succeeded, 0 failed, 2 not started; root {root}\r\nContinue with: runbook fleet resume {}\r\n",
            fd.display()
        );
        assert!(seen.contains(&whole), "{name}: want {whole:?}\n--- got\n{seen}");
        for db in &dbs {
            assert_eq!(marks(db), "no table", "{name}: a target ran");
        }
        t.exec(["audit", "verify", fd.to_str().unwrap()])
            .code(0)
            .stdout_has(&format!("fleet intact: 3 lines, 0 target journal(s) end with their recorded seals, root {root}"));
        let out = t.exec(["fleet", "resume", fd.to_str().unwrap(), "--yes"]);
        out.code(0).stdout_has("succeeded — 2 succeeded, 0 failed, 0 not started");
        for db in &dbs {
            assert_eq!(marks(db), "1", "{name}: every target changed once after the resume");
        }
        t.exec(["audit", "verify", fd.to_str().unwrap()]).code(0);
    }
}

/// A runbook whose middle step waits (a command with an argument no other process has) until
/// the file `go` exists next to it.
fn napping() -> String {
    MARKER.replace(
        "  - id: fill\n",
        "  - id: nap\n    name: Wait\n    kind: command\n    shell: true\n    command: \"test -f go || exec sleep 41.37\"\n  - id: fill\n",
    )
}

/// SIGTERM while a wave's targets run a slow step: the fleet passes it on to every target's
/// run, each journals its own interruption and exits 3, no process of theirs is left, and the
/// fleet records them as interrupted (still in flight), then its own interruption, and exits 3.
/// `fleet resume` continues the same runs in their folders.
#[test]
fn sigterm_during_a_wave_stops_every_target_run_and_resume_continues_them() {
    let t = Test::new().runbook(&napping());
    let dbs = sqlite_fleet(&t, 3);
    targets_file(&t, &named(&dbs));
    let mut c = t.command();
    c.args([
        "fleet",
        "run",
        "runbook.yaml",
        "--targets",
        "targets.yaml",
        "--waves",
        "100%",
        "--parallel",
        "3",
        "--yes",
        "--runs-dir",
        "runs",
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    // Wait until every target's run is in its slow step.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let napping = processes_mentioning("sleep 41.37").len();
        if napping == 3 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the targets never reached their slow step ({napping} of 3)");
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = std::time::Instant::now();
    // SAFETY: a plain kill(2) on the fleet this test started.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    let took = sent.elapsed();
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    assert_eq!(status.code(), Some(3), "{stdout}");
    assert!(took < Duration::from_secs(2), "the fleet took {took:?}");
    let left: Vec<String> =
        processes_mentioning("sleep 41.37").into_iter().chain(processes_mentioning(&t.dir.path().display().to_string())).collect();
    assert!(left.is_empty(), "left running: {left:?}");

    let fd = fleet_dir(&t);
    let end = assert_fleet_interrupted(&fd, "SIGTERM", "during wave 1", 3);
    let ev = fleet_events(&fd);
    let cut: Vec<&serde_json::Value> = ev.iter().filter(|e| e["event"] == "target_interrupted").collect();
    assert_eq!(cut.len(), 3, "{ev:?}");
    assert!(!ev.iter().any(|e| e["event"] == "target_finished" || e["event"] == "wave_finished"), "{ev:?}");
    let mut run_dirs = Vec::new();
    for e in &cut {
        assert_eq!(e["signal"], "SIGTERM");
        assert_eq!(e["exit_code"], 3, "{e}");
        let name = e["target"].as_str().unwrap();
        let run = fd.join(e["run_dir"].as_str().unwrap());
        let j = journal(&run);
        let last = j.last().unwrap();
        assert_eq!(
            (&last["event"], &last["outcome"], &last["exit_code"]),
            (&"run_finished".into(), &"interrupted".into(), &3.into()),
            "{name}: {j:?}"
        );
        let i = crate::support::events(&j, "interrupted");
        assert_eq!(i.len(), 1, "{name}: {j:?}");
        assert_eq!(i[0]["signal"], "SIGTERM");
        assert_eq!(i[0]["step_id"], "nap", "{name}");
        assert!(stdout.contains(&format!("✘ wave 1 · {name} · interrupted by SIGTERM (its run journaled the interruption; ")), "{stdout}");
        run_dirs.push(run);
    }
    let fleet_id = ev[0]["fleet_id"].as_str().unwrap();
    let whole = format!(
        "  ✘ Fleet {fleet_id}: interrupted by SIGTERM during wave 1 — 0 succeeded, 0 failed, 0 not started, 3 interrupted; root {}\nContinue with: runbook fleet resume {}\n",
        end["root"].as_str().unwrap(),
        fd.display()
    );
    assert!(stdout.ends_with(&whole), "want {whole:?}\n--- got\n{stdout}");
    for db in &dbs {
        assert_eq!(marks(db), "0", "the table exists, the step after the slow one did not run");
    }
    t.exec(["audit", "verify", fd.to_str().unwrap()]).code(0).stdout_has("fleet intact: 10 lines, 0 target journal(s)");
    // The report counts them in flight, not as never started.
    t.exec(["report", fd.to_str().unwrap(), "--format", "markdown"]).code(0).stdout_has(
        "**Outcome: interrupted** — 3 targets: 0 succeeded, 0 failed, 0 not started, 3 in flight; 0 runs (0 retries); 0 prompt(s).",
    );

    // The resume continues each interrupted run in its own folder, once.
    t.dir.write("go", "");
    let out = t.exec(["fleet", "resume", fd.to_str().unwrap(), "--yes"]);
    out.code(0).stdout_has("succeeded — 3 succeeded, 0 failed, 0 not started");
    let started: Vec<serde_json::Value> =
        fleet_events(&fd).into_iter().filter(|e| e["event"] == "target_started" && e["action"] == "resume").collect();
    assert_eq!(started.len(), 3, "{started:?}");
    for db in &dbs {
        assert_eq!(marks(db), "1");
    }
    for run in &run_dirs {
        assert_eq!(journal(run).last().unwrap()["outcome"], "succeeded", "{}", run.display());
    }
    t.exec(["audit", "verify", fd.to_str().unwrap()]).code(0);
}

/// `fleet run` in a pty, answering `answers` (the text each prompt shows, then the key), then
/// stopping at the prompt `stop_at` with `signal` (a typed Ctrl-C when none). Returns the exit
/// code, how long the stop took, whether the terminal is back in line-editing mode, and the
/// terminal's output.
fn stop_fleet_at(t: &Test, args: &[&str], answers: &[(&str, &str)], stop_at: &str, signal: Option<i32>) -> (i32, Duration, bool, String) {
    use expectrl::{Eof, Session, WaitStatus};
    let mut c = t.command();
    c.arg("fleet").arg("run").args(args).env("TERM", "xterm").env("COLUMNS", "200");
    let mut s = Session::spawn(c).expect("spawn in a pty");
    // Wide enough that no question wraps (the prompts read the terminal's size, not COLUMNS).
    s.get_process_mut().set_window_size(200, 40).expect("window size");
    s.set_expect_timeout(Some(Duration::from_secs(30)));
    let mut seen = String::new();
    let keys = answers.iter().map(|(p, k)| (*p, Some(*k))).chain([(stop_at, None)]);
    for (text, key) in keys {
        let found = s.expect(text).unwrap_or_else(|e| panic!("waiting for {text:?}: {e}\n{seen}"));
        seen.push_str(&String::from_utf8_lossy(found.before()));
        seen.push_str(text);
        if let Some(key) = key {
            s.send(key).unwrap();
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let sent = std::time::Instant::now();
    match signal {
        // SAFETY: a plain kill(2) on the process this session spawned.
        Some(sig) => unsafe {
            libc::kill(s.get_process().pid().as_raw(), sig);
        },
        None => s.send("\x03").unwrap(),
    }
    if let Ok(rest) = s.expect(Eof) {
        seen.push_str(&String::from_utf8_lossy(rest.as_bytes()));
    }
    let code = match s.get_process().wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("{other:?}\n{seen}"),
    };
    (code, sent.elapsed(), crate::faults::line_editing(&s), seen)
}

/// SIGHUP at a wave's checklist, and Ctrl-C typed at a fleet step's question, end the fleet
/// the same way as at the wave prompt: recorded where they came, exit 3 within a second, the
/// terminal put back; the checklist's step and the fleet step did not run, and `fleet resume`
/// finishes the fleet with the fleet step run once.
#[test]
fn a_signal_at_a_wave_checklist_or_a_fleet_step_prompt_ends_the_fleet_interrupted() {
    let yaml = MARKER.replace(
        "plan:\n",
        "plan:\n  - id: check\n    name: Check the dashboard\n    kind: manual\n    checklist:\n      - Dashboard is green\n",
    );
    let t = Test::new().runbook(&yaml);
    let dbs = sqlite_fleet(&t, 2);
    targets_file(&t, &named(&dbs));
    let args = ["runbook.yaml", "--targets", "targets.yaml", "--waves", "100%", "--parallel", "2", "--runs-dir", "runs"];
    let (code, took, line_editing, out) = stop_fleet_at(
        &t,
        &args,
        &[("Start wave 1 of 1: 2 target(s) (t01, t02)?", "y")],
        "Done: wave 1, Check the dashboard: Dashboard is green?",
        Some(libc::SIGHUP),
    );
    assert_eq!(code, 3, "{out}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(line_editing, "the terminal was left in raw mode");
    let fd = fleet_dir(&t);
    assert_fleet_interrupted(&fd, "SIGHUP", "at the wave 1 checklist of `check`", 0);
    let ev = fleet_events(&fd);
    let kinds: Vec<&str> = ev.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["fleet_started", "wave_started", "fleet_interrupted", "fleet_finished"]);
    assert_eq!(ev[1]["decision"], "start");
    // The panel wraps a line longer than the terminal, indenting what follows.
    let flat = out.replace("\r\n    ", " ");
    let whole = format!(
        "✘ Fleet {}: interrupted by SIGHUP at the wave 1 checklist of `check` — 0 succeeded, 0 failed, 2 not started; root {}\r\nContinue with: runbook fleet resume {}\r\n",
        ev[0]["fleet_id"].as_str().unwrap(),
        ev[3]["root"].as_str().unwrap(),
        fd.display()
    );
    assert!(flat.contains(&whole), "want {whole:?}\n--- got\n{out}");
    for db in &dbs {
        assert_eq!(marks(db), "no table");
    }
    t.exec(["audit", "verify", fd.to_str().unwrap()]).code(0);

    let t = Test::new();
    t.dir.write("runbook.yaml", &fleet_step_runbook(&t));
    let dbs = sqlite_fleet(&t, 2);
    targets_file(&t, &named(&dbs));
    let (code, took, line_editing, out) = stop_fleet_at(
        &t,
        &args,
        &[("Start wave 1 of 1: 2 target(s) (t01, t02) — steps before fleet step `deploy`?", "y")],
        "Run `deploy` (Deploy the application) once for the whole fleet now?",
        None,
    );
    assert_eq!(code, 3, "{out}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(line_editing, "the terminal was left in raw mode");
    let fd = fleet_dir(&t);
    assert_fleet_interrupted(&fd, "Ctrl-C", "at fleet step `deploy`", 0);
    let ev = fleet_events(&fd);
    assert!(!ev.iter().any(|e| e["event"] == "fleet_step_started"), "nothing was decided: {ev:?}");
    assert_eq!(ev.iter().filter(|e| e["event"] == "target_awaiting").count(), 2);
    let flat = out.replace("\r\n    ", " ");
    let whole = format!(
        "✘ Fleet {}: interrupted by Ctrl-C at fleet step `deploy` — 0 succeeded, 0 failed, 0 not started, 2 waiting for a fleet step; root {}\r\nContinue with: runbook fleet resume {}\r\n",
        ev[0]["fleet_id"].as_str().unwrap(),
        ev.last().unwrap()["root"].as_str().unwrap(),
        fd.display()
    );
    assert!(flat.contains(&whole), "want {whole:?}\n--- got\n{out}");
    let log = std::fs::read_to_string(t.dir.join("order.log")).unwrap();
    assert!(!log.contains("deploy"), "{log}");
    t.exec(["audit", "verify", fd.to_str().unwrap()]).code(0);
    t.exec(["fleet", "resume", fd.to_str().unwrap(), "--yes"]).code(0).stdout_has("succeeded — 2 succeeded, 0 failed, 0 not started");
    let log = std::fs::read_to_string(t.dir.join("order.log")).unwrap();
    assert_eq!(log.lines().filter(|l| *l == "deploy v42").count(), 1, "{log}");
    for db in &dbs {
        assert_eq!(marks(db), "1");
    }
}
