//! The engine end to end on real SQLite files: plan, run, backup, rollback, failure, skip,
//! the backup guard, the run lock and automatic rollback.

use std::os::unix::fs::PermissionsExt;

use crate::support::{events, journal, SqliteFile, Test, SEED};

/// The seed runbook's steps that need a live application, skipped as an operator would.
const SKIP_LIVE: [&str; 8] = [
    "--skip",
    "data-sync-test",
    "--skip",
    "post-deployment-monitoring",
    "--skip",
    "monitor-after-rollback",
    "--skip",
    "validation=fingerprint covered by its own tests",
];

fn seed_args<'a>(cmd: &'a str, db: &'a str, runs: &'a str) -> Vec<&'a str> {
    let mut v = vec![cmd, SEED, "--db", db, "--yes", "--runs-dir", runs, "--operator", "alice"];
    v.extend(SKIP_LIVE);
    v
}

fn schema_of(db: &SqliteFile) -> Vec<Vec<String>> {
    db.rows("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
}

#[test]
fn plan_leaves_the_database_byte_identical_and_shows_the_exact_sql() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 200);
    let before = db.bytes();
    let out = t.exec(["plan", SEED, "--db", &db.url()]);
    out.code(0)
        .stdout_has("Step 2/8 · Add New Column · sql")
        .stdout_has("ALTER TABLE all_users ADD COLUMN pcc_user_uuid VARCHAR(36) NULL;")
        .stdout_has("CREATE UNIQUE INDEX ux_all_users_pcc_user_uuid ON all_users (pcc_user_uuid);")
        .stdout_has("column all_users.pcc_user_uuid is absent: step 2 will add it")
        .stdout_has("index ux_all_users_pcc_user_uuid is absent: step 2 will create it")
        .stdout_has("nothing was written");
    assert_eq!(db.bytes(), before, "plan changed the database file");
    assert!(!t.dir.join("app.db-journal").exists() && !t.dir.join("app.db-wal").exists());
    let rb = t.exec(["plan", SEED, "--db", &db.url(), "--rollback"]);
    rb.code(0).stdout_has("Step 3/6 · Remove Column · sql").stdout_has("column all_users.pcc_user_uuid is absent: step 3 will fail");
    assert_eq!(db.bytes(), before);
}

#[test]
fn run_adds_the_column_and_the_unique_index_and_writes_the_run_folder() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 300);
    let digest = db.data_digest();
    let out = t.exec(seed_args("run", &db.url(), "runs"));
    out.code(0).stdout_has("Step 1/8 · Backup Database · backup").stdout_has("auto-confirmed (--yes)").stdout_has("succeeded");
    assert!(db.has_column("all_users", "pcc_user_uuid"));
    assert!(db.has_index("ux_all_users_pcc_user_uuid"));
    assert_eq!(db.scalar("SELECT \"unique\" FROM pragma_index_list('all_users') WHERE name='ux_all_users_pcc_user_uuid'"), "1");
    assert_eq!(db.data_digest(), digest, "existing data changed");

    let runs = t.run_dirs("runs");
    assert_eq!(runs.len(), 1);
    let j = journal(&runs[0]);
    assert_eq!(j[0]["event"], "run_started");
    assert_eq!(j[0]["operator"], "alice");
    assert_eq!(j[0]["confirmation"], "auto-confirmed (--yes)");
    let stmts = events(&j, "statement");
    assert_eq!(stmts.len(), 2, "two statements recorded");
    assert!(stmts[0]["sql"].as_str().unwrap().starts_with("ALTER TABLE all_users ADD COLUMN"));
    let finished = events(&j, "step_finished");
    assert_eq!(finished.len(), 8);
    let skipped: Vec<_> = finished.iter().filter(|e| e["status"] == "skipped").map(|e| e["step_id"].as_str().unwrap()).collect();
    assert_eq!(skipped, ["data-sync-test", "validation", "post-deployment-monitoring"]);
    let decisions = events(&j, "step_decision");
    let v = decisions.iter().find(|d| d["step_id"] == "validation").unwrap();
    assert_eq!(v["reason"], "fingerprint covered by its own tests");
    assert_eq!(v["how"], "--skip");
    assert_eq!(j.last().unwrap()["event"], "run_finished");
    assert_eq!(j.last().unwrap()["outcome"], "succeeded");

    let report = std::fs::read_to_string(runs[0].join("report.md")).unwrap();
    for want in [
        "# Runbook report: Add pcc\\_user\\_uuid Column",
        "| System | ddxrx.com |",
        "**Outcome: succeeded**",
        "| 2 | Add New Column | sql | ✅ passed |",
        "alice, auto-confirmed (--yes)",
        "- [x] The release with these changes is reviewed and ready to deploy — alice, auto-confirmed (--yes)",
        "DDL: no row count (",
        "column all\\_users.pcc\\_user\\_uuid type: expected `varchar(36)`, actual `VARCHAR(36)`",
        "Journal seal",
    ] {
        assert!(report.contains(want), "report lacks {want:?}\n{report}");
    }
}

#[test]
fn backup_holds_exactly_the_original_data_with_mode_0600() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 500);
    let digest = db.data_digest();
    t.exec(seed_args("run", &db.url(), "runs")).code(0);
    let run = &t.run_dirs("runs")[0];
    let j = journal(run);
    let b = &events(&j, "backup")[0]["backup"];
    let path = std::path::PathBuf::from(b["path"].as_str().unwrap());
    assert!(path.starts_with(run), "backup is in the run folder");
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), b["size"].as_u64().unwrap());
    let bytes = std::fs::read(&path).unwrap();
    use sha2::Digest;
    assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), b["sha256"].as_str().unwrap());
    let copy = SqliteFile { path };
    assert_eq!(copy.data_digest(), digest, "backup differs from the original data");
    assert!(!copy.has_column("all_users", "pcc_user_uuid"), "backup was taken before the change");
    assert_eq!(b["tables"][0], serde_json::json!(["all_users", 500]));
}

#[test]
fn rollback_restores_the_original_schema() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 100);
    let schema = schema_of(&db);
    let digest = db.data_digest();
    t.exec(seed_args("run", &db.url(), "runs")).code(0);
    assert_ne!(schema_of(&db), schema);
    let out = t.exec(seed_args("rollback", &db.url(), "runs-rollback"));
    out.code(0).stdout_has("schema equals the snapshot from change-plan run");
    assert_eq!(schema_of(&db), schema, "schema not restored");
    assert_eq!(db.data_digest(), digest);
    let run = &t.run_dirs("runs-rollback")[0];
    let j = journal(run);
    assert_eq!(events(&j, "backup").len(), 1, "rollback takes its own backup before dropping");
    let a = events(&j, "assertion");
    assert!(a.iter().any(|e| e["check"].as_str().unwrap().starts_with("schema equals the snapshot") && e["passed"] == true));
}

/// An accidental second run that fails at its first change (the column is already there) did
/// not change anything, so it must not become the run the rollback compares with.
#[test]
fn a_second_run_failing_at_its_first_statement_does_not_become_the_baseline() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 50);
    let schema = schema_of(&db);
    t.exec(seed_args("run", &db.url(), "runs")).code(0);
    let first = t.run_dirs("runs")[0].file_name().unwrap().to_string_lossy().to_string();
    t.exec(seed_args("run", &db.url(), "runs-again")).code(1);
    let out = t.exec(seed_args("rollback", &db.url(), "runs-rollback"));
    out.code(0).stdout_has(&format!("schema equals the snapshot from change-plan run {first}"));
    assert_eq!(schema_of(&db), schema, "schema not restored");
}

/// Regression: without a known change run, the rollback dropped the column first and only then
/// failed its "schema as before the change" check. It is now refused before anything runs.
#[test]
fn rollback_without_a_known_change_run_is_refused_before_it_starts() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 10);
    db.exec("ALTER TABLE all_users ADD COLUMN pcc_user_uuid VARCHAR(36); CREATE UNIQUE INDEX ux_all_users_pcc_user_uuid ON all_users(pcc_user_uuid);");
    let out = t.exec(seed_args("rollback", &db.url(), "runs"));
    out.code(2).stderr_has("pass --baseline RUN_DIR").stderr_has("--skip verify-schema-restored").stderr_has("nothing was run");
    assert!(db.has_column("all_users", "pcc_user_uuid"), "the rollback ran");
    assert!(t.run_dirs("runs").is_empty(), "no run was started");
    let url = db.url();
    let mut args = seed_args("rollback", &url, "runs");
    args.extend(["--skip", "verify-schema-restored"]);
    t.exec(args).code(0);
    assert!(!db.has_column("all_users", "pcc_user_uuid"), "the rollback did not drop the column");
}

const FAILING: &str = r#"
version: 1
id: failing
plan:
  - id: make-table
    name: Make table
    kind: sql
    sql: CREATE TABLE t(x INTEGER)
  - id: broken
    name: Broken statement
    kind: sql
    sql: |
      INSERT INTO t VALUES (1);
      INSERT INTO no_such_table VALUES (1);
  - id: after
    name: Never runs
    kind: sql
    sql: CREATE TABLE never(x INTEGER)
rollback:
  - id: undo
    name: Drop table
    kind: sql
    sql: DROP TABLE t
"#;

#[test]
fn failing_step_exits_1_is_journaled_and_stops_the_plan() {
    let t = Test::new().runbook(FAILING);
    let db = SqliteFile::users(t.dir.path(), 3);
    let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    out.code(1).stdout_has("no such table: no_such_table").stdout_has("failed");
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name='never'"), "0", "a later step ran");
    assert_eq!(db.scalar("SELECT count(*) FROM t"), "0", "the failed step's first statement was not rolled back");
    let j = journal(&t.run_dirs("runs")[0]);
    let f = events(&j, "step_finished");
    assert_eq!(f.len(), 2);
    assert_eq!(f[1]["step_id"], "broken");
    assert_eq!(f[1]["status"], "failed");
    assert!(f[1]["error"].as_str().unwrap().contains("no_such_table"));
    assert!(events(&j, "step_started").iter().all(|e| e["step_id"] != "after"));
    assert_eq!(j.last().unwrap()["outcome"], "failed");
    assert_eq!(j.last().unwrap()["exit_code"], 1);
}

#[test]
fn on_failure_rollback_runs_the_rollback_plan_and_reports_both() {
    let t = Test::new().runbook(FAILING);
    let db = SqliteFile::users(t.dir.path(), 3);
    let out =
        t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs", "--on-failure", "rollback", "--allow-no-backup"]);
    out.code(1).stdout_has("Step 1/1 · Drop table · sql").stdout_has("failed, rolled back");
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name='t'"), "0", "rollback did not drop t");
    let run = &t.run_dirs("runs")[0];
    let j = journal(run);
    assert_eq!(j.last().unwrap()["outcome"], "rolled_back");
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("rollback: Drop table"), "{report}");
    assert!(report.contains("rollback plan started: a change-plan step failed"), "{report}");
}

#[test]
fn step_level_on_failure_rollback_needs_no_flag() {
    let yaml = FAILING.replace("    name: Broken statement\n", "    name: Broken statement\n    on_failure: rollback\n");
    let t = Test::new().runbook(&yaml);
    let db = SqliteFile::users(t.dir.path(), 3);
    t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs", "--allow-no-backup"]).code(1);
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name='t'"), "0");
}

const DESTRUCTIVE: &str = r#"
version: 1
id: destructive
plan:
  - id: wipe
    name: Wipe names
    kind: sql
    sql: UPDATE all_users SET name = NULL
"#;

#[test]
fn backup_guard_refuses_destructive_sql_without_a_backup() {
    let t = Test::new().runbook(DESTRUCTIVE);
    let db = SqliteFile::users(t.dir.path(), 20);
    let digest = db.data_digest();
    let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    out.code(1).stdout_has("backup guard").stdout_has("--allow-no-backup");
    assert_eq!(db.data_digest(), digest, "guarded statement ran");
    let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs2", "--allow-no-backup"]);
    out.code(0);
    assert_eq!(db.scalar("SELECT count(*) FROM all_users WHERE name IS NOT NULL"), "0");
    let j = journal(&t.run_dirs("runs2")[0]);
    assert!(events(&j, "info").iter().any(|e| e["message"].as_str().unwrap().contains("backup guard overridden with --allow-no-backup")));
}

#[test]
fn second_operator_is_refused_while_the_first_holds_the_lock() {
    let yaml = r#"
version: 1
id: slow
plan:
  - id: wait
    name: Wait
    kind: command
    command: ["sleep", "4"]
"#;
    let t = Test::new().runbook(yaml);
    let db = SqliteFile::users(t.dir.path(), 3);
    let mut first = {
        let mut c = Test::new().command();
        c.current_dir(t.dir.path())
            .args(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs", "--operator", "alice"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c.spawn().unwrap()
    };
    let lock = t.dir.join("app.db.runbook-lock");
    for _ in 0..100 {
        if std::fs::read_to_string(&lock).is_ok_and(|s| s.contains("alice")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let holder: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&lock).unwrap()).unwrap();
    let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs", "--operator", "bob"]);
    out.code(2).stderr_has("locked by run").stderr_has(holder["run_id"].as_str().unwrap()).stderr_has("operator alice");
    assert!(first.wait().unwrap().success());
    t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs", "--operator", "bob"]).code(0);
}

/// The lock is the database file's, not its name's: a second run through another name of the
/// same file is refused, naming the first run.
fn another_name_is_refused(name: &str, link: fn(&std::path::Path, &std::path::Path) -> std::io::Result<()>) {
    let yaml = "version: 1\nid: slow\nplan:\n  - id: wait\n    name: Wait\n    kind: command\n    command: [\"sleep\", \"4\"]\n";
    let t = Test::new().runbook(yaml);
    let db = SqliteFile::users(t.dir.path(), 3);
    std::fs::create_dir(t.dir.join("other")).unwrap();
    let other = t.dir.join(name);
    link(&t.dir.join("app.db"), &other).unwrap();
    let mut first = t
        .command()
        .args(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs", "--operator", "alice"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = t.dir.join("app.db.runbook-lock");
    for _ in 0..100 {
        if std::fs::read_to_string(&lock).is_ok_and(|s| s.contains("alice")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let holder: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&lock).unwrap()).unwrap();
    let url = format!("sqlite://{}", other.display());
    let out = t.exec(["run", "runbook.yaml", "--db", &url, "--yes", "--runs-dir", "runs2", "--operator", "bob"]);
    out.code(2).stderr_has("locked by run").stderr_has(holder["run_id"].as_str().unwrap()).stderr_has("operator alice");
    assert!(first.wait().unwrap().success());
    assert!(t.run_dirs("runs2").is_empty(), "a refused run leaves no run folder");
    // Once the first run is over, the other name works.
    t.exec(["run", "runbook.yaml", "--db", &url, "--yes", "--runs-dir", "runs3", "--operator", "bob"]).code(0);
}

#[test]
fn a_symlink_to_a_locked_sqlite_file_is_refused_naming_the_holder() {
    another_name_is_refused("other/alias.db", |target, link| std::os::unix::fs::symlink(target, link));
}

#[test]
fn a_hard_link_to_a_locked_sqlite_file_is_refused() {
    another_name_is_refused("alias.db", |target, link| std::fs::hard_link(target, link));
}

#[test]
fn secret_vars_are_masked_in_plan_output_journal_and_report() {
    let canary = "canary-5f2e9d1c";
    let yaml = r#"
version: 1
id: secrets
vars:
  token:
    secret: true
plan:
  - id: call
    name: Call with token
    kind: command
    command: ["sh", "-c", "echo token is $TOKEN; echo arg ${token}"]
    env:
      TOKEN: ${token}
"#;
    let t = Test::new().runbook(yaml);
    let db = SqliteFile::users(t.dir.path(), 3);
    let var = format!("token={canary}");
    let plan = t.exec(["plan", "runbook.yaml", "--db", &db.url(), "--var", &var]);
    plan.code(0).lacks(canary).stdout_has("********");
    let run = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--var", &var, "--yes", "--runs-dir", "runs"]);
    run.code(0).lacks(canary);
    for f in crate::support::files_under(&t.dir.join("runs")) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(canary), "{} holds the secret", f.display());
    }
    let j = journal(&t.run_dirs("runs")[0]);
    let c = &events(&j, "command")[0];
    assert!(c["stdout"].as_str().unwrap().contains("token is ********"), "command output was redacted: {c}");
}

#[test]
fn skipping_an_unknown_var_step_lets_the_run_proceed() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 10);
    // sync_command and app_log have no values, but their steps are skipped.
    t.exec(seed_args("run", &db.url(), "runs")).code(0);
}

#[test]
fn validate_catches_a_changed_row_in_a_without_rowid_table_and_a_rowid_table() {
    for (table, update) in [
        ("codes", "UPDATE codes SET label = 'changed' WHERE code = 'c7'"),
        ("all_users", "UPDATE all_users SET name = 'Zoe' WHERE id = 4321"),
    ] {
        let yaml = format!(
            r#"
version: 1
id: two-paths
plan:
  - id: touch
    name: Change one row behind the run's back
    kind: command
    command: ["sqlite3", "app.db", "{update}"]
  - id: check
    name: Existing data unchanged
    kind: validate
    tables: [codes, all_users]
"#
        );
        let t = Test::new().runbook(&yaml);
        let db = SqliteFile::users(t.dir.path(), 9000);
        db.exec("CREATE TABLE codes(code TEXT PRIMARY KEY, label TEXT) WITHOUT ROWID; INSERT INTO codes VALUES ('c1', 'one'), ('c7', 'seven'), ('c9', NULL);");
        let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
        out.code(1).stdout_has(&format!("table {table}: content hash"));
        let j = journal(&t.run_dirs("runs")[0]);
        let failed: Vec<_> = events(&j, "assertion")
            .into_iter()
            .filter(|a| a["passed"] == false)
            .map(|a| a["check"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(failed[0].starts_with(&format!("{table} content hash")), "{failed:?}");
    }
}

#[test]
fn then_rollback_runs_both_plans_in_one_run_and_one_report() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 100);
    let schema = schema_of(&db);
    let url = db.url();
    let mut args = seed_args("run", &url, "runs");
    args.push("--then-rollback");
    t.exec(&args).code(0).stdout_has("Step 6/6 · Monitor After Rollback");
    assert_eq!(schema_of(&db), schema, "the round trip restored the schema");
    let runs = t.run_dirs("runs");
    assert_eq!(runs.len(), 1);
    let j = journal(&runs[0]);
    assert_eq!(events(&j, "step_started").len(), 14);
    assert!(events(&j, "assertion").iter().any(|a| a["check"].as_str().unwrap().starts_with("schema equals the snapshot from this run")));
    let report = std::fs::read_to_string(runs[0].join("report.md")).unwrap();
    assert!(report.contains("rollback: Remove Column"), "{report}");
    assert!(report.contains("| Plan | change plan, then rollback plan |"), "{report}");
}

/// Regression: a step timeout taken from a variable was parsed only when its step came up, so
/// the run stopped with exit 2 after earlier steps had committed, and skipped the rollback.
#[test]
fn a_bad_duration_from_a_variable_is_refused_before_anything_runs() {
    let t = Test::new().runbook(
        r#"
version: 1
id: late-timeout
vars:
  step_timeout: {default: "5 minutes"}
plan:
  - id: create
    name: Create
    kind: sql
    sql: CREATE TABLE added (id int)
  - id: slow
    name: Slow
    kind: sql
    timeout: ${step_timeout}
    sql: INSERT INTO added VALUES (1)
rollback:
  - id: drop
    name: Drop
    kind: sql
    sql: DROP TABLE added
"#,
    );
    let db = SqliteFile::users(t.dir.path(), 3);
    let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs", "--on-failure", "rollback"]);
    out.code(2).stderr_has("runbook.yaml:14:14").stderr_has("step `slow`: timeout").stderr_has("nothing was run");
    assert!(!db.has_table("added"), "the first step ran");
    assert!(t.run_dirs("runs").is_empty(), "no run was started");
    // With a good value the same runbook runs.
    t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs", "--var", "step_timeout=5m"]).code(0);
    assert!(db.has_table("added"));
}

/// Regression: `${…}` in a query assertion's `expect:`, in a description and in a default that
/// names another variable stayed as written, though `validate` accepted them.
#[test]
fn variables_fill_expectations_descriptions_and_defaults() {
    let t = Test::new().runbook(
        r#"
version: 1
id: vars-everywhere
vars:
  expected_rows: {default: "3"}
  out_file: {default: "${run_dir}/count.txt"}
plan:
  - id: count
    name: Count the users
    description: Expect ${expected_rows} users
    kind: verify
    queries:
      - sql: SELECT count(*) FROM all_users
        op: "="
        expect: ${expected_rows}
  - id: write
    name: Write the count
    kind: command
    command: ["sh", "-c", "echo 3 > \"$0\"", "${out_file}"]
"#,
    );
    let db = SqliteFile::users(t.dir.path(), 3);
    t.exec(["plan", "runbook.yaml", "--db", &db.url()]).code(0).stdout_has("Expect 3 users").stdout_has("= 3");
    t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]).code(0).stdout_has("Expect 3 users");
    let run = &t.run_dirs("runs")[0];
    assert_eq!(std::fs::read_to_string(run.join("count.txt")).unwrap().trim(), "3", "the default was expanded to the run folder");
    t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs2", "--var", "expected_rows=4"]).code(1);
}

/// A fingerprinted column dropped by the change is named, not hashed as a string literal.
#[test]
fn validate_names_a_dropped_column() {
    let yaml = r#"
version: 1
id: drop-a-column
plan:
  - id: backup
    name: Backup
    kind: backup
  - id: drop
    name: Drop a column
    kind: sql
    sql: ALTER TABLE all_users DROP COLUMN name
  - id: check
    name: Existing data unchanged
    kind: validate
    tables: [all_users]
"#;
    let t = Test::new().runbook(yaml);
    let db = SqliteFile::users(t.dir.path(), 50);
    let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    out.code(1).stdout_has("table all_users: column name of all_users no longer exists").lacks("content hash");
    let j = journal(&t.run_dirs("runs")[0]);
    let a = events(&j, "assertion").into_iter().find(|a| a["check"] == "all_users columns fingerprinted at run start").cloned();
    let a = a.expect("the missing column is an assertion in the journal");
    assert_eq!(
        (a["expected"].as_str(), a["actual"].as_str(), a["passed"].as_bool()),
        (Some("id, email, name"), Some("missing: name"), Some(false))
    );
}

/// Another process holds the write lock past every retry: the step fails with the servers'
/// words and the retry count, nothing is changed, and the journal keeps the message.
#[test]
fn lock_held_by_another_process_exhausts_the_retries_with_the_servers_words() {
    let yaml = r#"
version: 1
id: add-column-under-load
plan:
  - id: add
    name: Add a column
    kind: sql
    lock_timeout: 200ms
    lock_retries: 2
    sql: ALTER TABLE all_users ADD COLUMN extra TEXT
"#;
    let t = Test::new().runbook(yaml);
    let db = SqliteFile::users(t.dir.path(), 20);
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let path = db.path.clone();
    let holder = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
            sqlx::raw_sql("BEGIN IMMEDIATE; UPDATE all_users SET email = email WHERE id = 1").execute(&mut c).await.unwrap();
            ready_tx.send(()).unwrap();
            tokio::time::sleep(std::time::Duration::from_secs(8)).await;
            sqlx::raw_sql("ROLLBACK").execute(&mut c).await.unwrap();
        })
    });
    ready.recv().unwrap();
    let started = std::time::Instant::now();
    let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    let took = started.elapsed();
    out.code(1)
        .stdout_has("database is locked (lock timeout 200 ms; retries exhausted: 2; the transaction was rolled back, nothing changed)");
    assert!(took < std::time::Duration::from_secs(7), "gave up after its retries ({took:?}), not when the holder let go");
    holder.join().unwrap();
    assert!(!db.has_column("all_users", "extra"), "nothing changed");
    let j = journal(&t.run_dirs("runs")[0]);
    assert!(j.iter().any(|e| e.to_string().contains("retries exhausted: 2")), "the journal keeps the retries: {j:?}");
}

/// Without a transaction, the statements before the one that met the lock stay applied: the
/// retry starts at that statement and runs none of them twice.
#[test]
fn retry_without_a_transaction_runs_no_statement_twice() {
    let yaml = r#"
version: 1
id: retry-in-place
plan:
  - id: add
    name: Log, then add a column
    kind: sql
    transaction: false
    lock_timeout: 200ms
    lock_retries: 8
    sql:
      - ATTACH 'side.db' AS side
      - INSERT INTO side.log VALUES ('written once')
      - ALTER TABLE all_users ADD COLUMN extra TEXT
"#;
    let t = Test::new().runbook(yaml);
    let db = SqliteFile::users(t.dir.path(), 20);
    let side = SqliteFile { path: t.dir.join("side.db") };
    side.exec("CREATE TABLE log(line TEXT)");
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let path = db.path.clone();
    let holder = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
            sqlx::raw_sql("BEGIN IMMEDIATE; UPDATE all_users SET email = email WHERE id = 1").execute(&mut c).await.unwrap();
            ready_tx.send(()).unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            sqlx::raw_sql("ROLLBACK").execute(&mut c).await.unwrap();
        })
    });
    ready.recv().unwrap();
    let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    holder.join().unwrap();
    out.code(0);
    assert!(db.has_column("all_users", "extra"));
    assert_eq!(side.scalar("SELECT count(*) FROM log"), "1", "the statement before the locked one ran once");
}

/// An UPDATE of 750 rows, then a table and an index on it, in one step.
pub const UPDATE_THEN_DDL: &str = r#"
version: 1
id: update-then-ddl
plan:
  - id: change
    name: Update then create
    kind: sql
    sql: |
      UPDATE all_users SET email = 'moved@example.org' WHERE id <= 750;
      CREATE TABLE user_notes (id INTEGER PRIMARY KEY, note VARCHAR(20));
      CREATE INDEX ix_user_notes_note ON user_notes (note)
"#;

/// Each statement's evidence is its own: the UPDATE's count, and no count for the DDL after it
/// (SQLite's `changes()` would repeat the 750), in the journal, the terminal and the report.
pub fn statement_evidence_is_exact(t: &Test, url: &str) {
    let out = t.exec(["run", "runbook.yaml", "--db", url, "--yes", "--runs-dir", "runs"]);
    out.code(0)
        .stdout_has("UPDATE all_users SET email = 'moved@example.org' WHERE id <= 750 — 750 row(s) affected")
        .stdout_has("CREATE TABLE user_notes (id INTEGER PRIMARY KEY, note VARCHAR(20)) — DDL")
        .stdout_has("CREATE INDEX ix_user_notes_note ON user_notes (note) — DDL");
    assert_eq!(out.all().matches("row(s) affected").count(), 1, "{}", out.all());
    let run = &t.run_dirs("runs")[0];
    let stmts: Vec<(serde_json::Value, serde_json::Value)> =
        events(&journal(run), "statement").iter().map(|e| (e["rows_affected"].clone(), e["kind"].clone())).collect();
    assert_eq!(
        stmts,
        vec![
            (serde_json::json!(750), serde_json::json!("rows")),
            (serde_json::Value::Null, serde_json::json!("ddl")),
            (serde_json::Value::Null, serde_json::json!("ddl")),
        ]
    );
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    let outcomes: Vec<&str> =
        report.lines().filter(|l| l.starts_with("Rows affected") || l.starts_with("DDL") || l.starts_with("No row count")).collect();
    assert_eq!(outcomes.len(), 3, "{report}");
    assert!(outcomes[0].starts_with("Rows affected: 750 ("), "{report}");
    assert!(outcomes[1].starts_with("DDL: no row count ("), "{report}");
    assert!(outcomes[2].starts_with("DDL: no row count ("), "{report}");
}

#[test]
fn ddl_after_an_update_records_no_row_count() {
    let t = Test::new().runbook(UPDATE_THEN_DDL);
    let db = SqliteFile::users(t.dir.path(), 1000);
    statement_evidence_is_exact(&t, &db.url());
    assert_eq!(db.scalar("SELECT count(*) FROM all_users WHERE email = 'moved@example.org'"), "750");
    assert!(db.has_index("ix_user_notes_note"));
}
