//! The runbook format beyond the first ticket: undo pairing, and the rules of
//! docs/runbook-format.md that a second, different ticket relies on.

use crate::support::Test;

#[track_caller]
fn refused(yaml: &str, position: &str, message: &str, help: &str) {
    let out = Test::new().runbook(yaml).args(["validate", "runbook.yaml"]).run();
    out.code(2).stderr_has(&format!("runbook.yaml:{position}")).stderr_has(message).stderr_has(help);
}

const HEAD: &str = "version: 1\nid: x\nplan:\n";
const ROLLBACK: &str = "rollback:\n  - id: drop-column\n    name: Drop\n    kind: sql\n    sql: ALTER TABLE t DROP COLUMN c\n";

#[test]
fn undo_naming_an_unknown_step_is_refused_at_the_id() {
    let yaml = format!(
        "{HEAD}  - id: add\n    name: Add\n    kind: sql\n    sql: ALTER TABLE t ADD COLUMN c TEXT\n    undo: [drop-colum]\n{ROLLBACK}"
    );
    refused(&yaml, "8:12", "`undo` of step `add` names `drop-colum`, which is not a rollback step", "did you mean `drop-column`?");
}

#[test]
fn undo_naming_a_change_step_is_refused() {
    let yaml = format!("{HEAD}  - id: add\n    name: Add\n    kind: sql\n    sql: ALTER TABLE t ADD COLUMN c TEXT\n    undo: [drop-column, add]\n{ROLLBACK}");
    refused(&yaml, "8:25", "`undo` of step `add` names `add`, a change-plan step", "`undo` names steps of the rollback plan");
}

#[test]
fn undo_on_a_rollback_step_is_refused() {
    let yaml =
        format!("{HEAD}  - id: add\n    name: Add\n    kind: sql\n    sql: ALTER TABLE t ADD COLUMN c TEXT\n{ROLLBACK}    undo: none\n");
    refused(
        &yaml,
        "13:11",
        "`undo` belongs to change-plan steps; `drop-column` is a rollback step",
        "declare the pairing on the change step",
    );
}

#[test]
fn undo_with_an_empty_list_or_a_bare_word_is_refused() {
    let empty =
        format!("{HEAD}  - id: add\n    name: Add\n    kind: sql\n    sql: ALTER TABLE t ADD COLUMN c TEXT\n    undo: []\n{ROLLBACK}");
    refused(&empty, "8:11", "`undo` of step `add` lists no rollback step", "write `undo: none` for a point of no return");
    let word = format!(
        "{HEAD}  - id: add\n    name: Add\n    kind: sql\n    sql: ALTER TABLE t ADD COLUMN c TEXT\n    undo: drop-column\n{ROLLBACK}"
    );
    refused(&word, "8:11", "`undo: drop-column` is neither a list of rollback step ids nor `none`", "write `undo: [drop-column]`");
}

#[test]
fn undo_declared_or_none_is_accepted() {
    let yaml = format!(
        "{HEAD}  - id: add\n    name: Add\n    kind: sql\n    sql: ALTER TABLE t ADD COLUMN c TEXT\n    undo: [drop-column]\n  - id: purge\n    name: Purge\n    kind: sql\n    sql: DELETE FROM t WHERE c = 'x'\n    undo: none\n{ROLLBACK}"
    );
    let out = Test::new().runbook(&yaml).args(["validate", "runbook.yaml"]).run();
    out.code(0);
}

/// `cd change/elsewhere && runbook run ../runbook.yaml`: the helper next to the runbook is found
/// by the default working folder, by `${runbook_dir}` (absolute) and by a relative `workdir`.
#[test]
fn paths_resolve_once_against_the_runbooks_absolute_folder() {
    use std::os::unix::fs::PermissionsExt;
    let t = Test::new();
    let db = crate::support::SqliteFile::users(t.dir.path(), 3);
    std::fs::create_dir_all(t.dir.join("change/tools")).unwrap();
    std::fs::create_dir_all(t.dir.join("change/elsewhere")).unwrap();
    let helper = t.dir.write("change/helper.sh", "#!/bin/sh\necho \"$1 $(pwd)\" >> \"$2\"\n");
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    t.dir.write(
        "change/runbook.yaml",
        r#"version: 1
id: paths
plan:
  - id: default-folder
    name: Helper from the default working folder
    kind: command
    command: ["./helper.sh", "default", "calls.txt"]
  - id: by-variable
    name: Helper through runbook_dir
    kind: command
    command: ["${runbook_dir}/helper.sh", "variable", "${runbook_dir}/calls.txt"]
  - id: relative-workdir
    name: Helper from a relative workdir
    kind: command
    workdir: tools
    command: ["../helper.sh", "workdir", "../calls.txt"]
"#,
    );
    let mut c = t.command();
    c.current_dir(t.dir.join("change/elsewhere")).args(["run", "../runbook.yaml", "--yes", "--db", &db.url()]);
    let out = c.output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let change = std::fs::canonicalize(t.dir.join("change")).unwrap();
    let calls = std::fs::read_to_string(change.join("calls.txt")).unwrap();
    let d = change.display();
    assert_eq!(calls, format!("default {d}\nvariable {d}\nworkdir {d}/tools\n"));
    assert!(!t.dir.join("calls.txt").exists() && !t.dir.join("change/elsewhere/calls.txt").exists());
}

/// A database on each engine that is available: SQLite always, the servers when configured.
pub(crate) struct EngineDb {
    pub engine: &'static str,
    pub url: String,
    _server: Option<crate::support::servers::ServerDb>,
}

pub(crate) fn engines(t: &Test) -> Vec<EngineDb> {
    use crate::support::servers::ServerDb;
    let mut out = vec![EngineDb { engine: "sqlite", url: crate::support::SqliteFile::users(t.dir.path(), 3).url(), _server: None }];
    if let Some(db) = ServerDb::postgres() {
        out.push(EngineDb { engine: "postgres", url: db.url(), _server: Some(db) });
    }
    if let Some(db) = ServerDb::mysql() {
        out.push(EngineDb { engine: "mysql", url: db.url(), _server: Some(db) });
    }
    out
}

/// The common key and text shapes read the same on every engine: an auto-numbered primary key
/// is a NOT NULL `int`, VARCHAR(n) is not TEXT, BOOLEAN is `bool`, DECIMAL is NUMERIC.
#[test]
fn types_and_nullability_agree_across_engines() {
    let yaml = r#"version: 1
id: types
plan:
  - id: create
    name: Create tables
    kind: sql
    sql:
      sqlite: |
        CREATE TABLE shapes (id INTEGER PRIMARY KEY, code VARCHAR(12) NOT NULL, note TEXT, flag BOOLEAN, amount DECIMAL(10,2));
        CREATE TABLE big (id INTEGER PRIMARY KEY AUTOINCREMENT, n BIGINT);
      postgres: |
        CREATE TABLE shapes (id SERIAL PRIMARY KEY, code VARCHAR(12) NOT NULL, note TEXT, flag BOOLEAN, amount DECIMAL(10,2));
        CREATE TABLE big (id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n BIGINT);
      mysql: |
        CREATE TABLE shapes (id INT AUTO_INCREMENT PRIMARY KEY, code VARCHAR(12) NOT NULL, note TEXT, flag BOOLEAN, amount DECIMAL(10,2));
        CREATE TABLE big (id INTEGER NOT NULL AUTO_INCREMENT, n BIGINT, PRIMARY KEY (id));
  - id: check
    name: Check the shapes
    kind: verify
    schema:
      - {table: shapes, column: id, type: integer, nullable: false}
      - {table: shapes, column: code, type: varchar(12), nullable: false}
      - {table: shapes, column: note, type: text, nullable: true}
      - {table: shapes, column: flag, type: boolean, nullable: true}
      - {table: shapes, column: amount, type: "numeric(10,2)", nullable: true}
      - {table: big, column: id, type: serial, nullable: false}
      - {table: big, column: n, type: bigint, nullable: true}
"#;
    let t = Test::new().runbook(yaml);
    for db in engines(&t) {
        let out = t.exec(["run", "runbook.yaml", "--yes", "--db", &db.url, "--runs-dir", &format!("runs-{}", db.engine)]);
        assert_eq!(out.code, 0, "{}: {}", db.engine, out.all());
        out.lacks("✘");
    }
    // A check that should not hold still fails: VARCHAR(12) is not TEXT.
    let wrong = yaml.replace("column: code, type: varchar(12)", "column: code, type: text");
    let t = Test::new().runbook(&wrong);
    for db in engines(&t) {
        let out = t.exec(["run", "runbook.yaml", "--yes", "--db", &db.url, "--runs-dir", "runs"]);
        assert_eq!(out.code, 1, "{}: {}", db.engine, out.all());
        out.stdout_has("shapes.code type");
    }
}

#[test]
fn a_query_check_without_expect_is_refused() {
    let yaml = format!(
        "{HEAD}  - id: check\n    name: Check\n    kind: verify\n    queries:\n      - name: no orphans\n        sql: SELECT count(*) FROM t\n      - sql: SELECT max(id) FROM t\n        expect: null\n"
    );
    refused(&yaml, "9:14", "query check `no orphans` of step `check` has no `expect`", "or `expect: null` to expect SQL NULL");
    let out = Test::new().runbook(&yaml).args(["validate", "runbook.yaml"]).run();
    assert_eq!(out.stderr.matches("has no `expect`").count(), 1, "`expect: null` is explicit:\n{}", out.stderr);
}

/// Every `${var}` that plan prints is filled in, in every kind's description.
#[test]
fn plan_resolves_every_variable_it_prints() {
    let yaml = r#"version: 1
id: vars
vars:
  sync_rows: {default: "3"}
  table: {default: all_users}
  helper: {default: ./sync.sh}
plan:
  - id: sync
    name: Sync
    kind: command
    command: ["${helper}", "--table", "${table}"]
    env: {TABLE: "${table}"}
    queries:
      - name: rows in ${table}
        sql: SELECT count(*) FROM ${table}
        expect: ${sync_rows}
  - id: check
    name: Check
    kind: verify
    queries:
      - sql: SELECT count(*) FROM ${table}
        op: ">="
        expect: ${sync_rows}
    checklist: ["${table} looks right"]
"#;
    let t = Test::new();
    let db = crate::support::SqliteFile::users(t.dir.path(), 3);
    let t = t.runbook(yaml);
    let out = t.exec(["plan", "runbook.yaml", "--db", &db.url()]);
    assert_eq!(out.code, 0, "{}", out.all());
    out.lacks("${");
    out.stdout_has("then assert rows in all_users = 3").stdout_has("assert (SELECT count(*) FROM all_users) >= 3");
}

/// A monitor `http` check sends headers, a secret among them, and the secret appears nowhere.
#[test]
fn monitor_http_checks_send_headers_from_secret_variables() {
    const CANARY: &str = "CANARY-monitor-9e2d-s3cr3t";
    let server = crate::steps::Loopback::start(|req, _| {
        let ok = req.header("Authorization") == Some(&format!("Bearer {CANARY}")) && req.header("X-Probe") == Some("runbook");
        if ok {
            (200, "{}".into())
        } else {
            (401, "{}".into())
        }
    });
    let yaml = format!(
        r#"version: 1
id: monitor-headers
vars:
  token: {{secret: true}}
plan:
  - id: watch
    name: Watch the authenticated health endpoint
    kind: monitor
    duration: 1s
    interval: 200ms
    checks:
      - name: health
        http: {}/health
        headers:
          Authorization: Bearer ${{token}}
          X-Probe: runbook
"#,
        server.url
    );
    let t = Test::new();
    let db = crate::support::SqliteFile::users(t.dir.path(), 3);
    let t = t.runbook(&yaml);
    let plan = t.exec(["plan", "runbook.yaml", "--db", &db.url(), "--var", &format!("token={CANARY}")]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    plan.stdout_has("[Authorization: ********] [X-Probe: ********]").lacks(CANARY);
    let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs", "--var", &format!("token={CANARY}")]);
    assert_eq!(out.code, 0, "{}", out.all());
    out.lacks(CANARY);
    let reqs = server.requests();
    assert!(reqs.len() >= 2, "the endpoint was sampled: {reqs:?}");
    assert!(reqs.iter().all(|r| r.header("Authorization") == Some(&format!("Bearer {CANARY}"))));
    // Without the token the same endpoint answers 401 and the check fails.
    let wrong = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs2", "--var", "token=wrong-token"]);
    assert_eq!(wrong.code, 1, "{}", wrong.all());
    assert_eq!(t.run_dirs("runs").len(), 1);
    crate::support::assert_secret_nowhere(&t, CANARY, &[t.dir.path().to_path_buf()], &[&plan, &out, &wrong]);
}

#[test]
fn monitor_headers_without_an_http_check_are_refused() {
    let yaml = format!(
        "{HEAD}  - id: watch\n    name: Watch\n    kind: monitor\n    duration: 1s\n    checks:\n      - name: rows\n        query: SELECT 1\n        max: 1\n        headers: {{X-A: b}}\n"
    );
    refused(
        &yaml,
        "4:9",
        "monitor check `rows` of step `watch` has `headers` but no `http` URL",
        "headers are sent with an `http` check's request",
    );
}

/// plan follows the run: a table created by an earlier statement or step is known to later
/// prechecks and to the lint, and `IF EXISTS` is a no-op, not a failure. The run then does
/// exactly what plan predicted.
#[test]
fn plan_simulates_the_ddl_of_earlier_statements_and_steps() {
    let yaml = r#"version: 1
id: sim
plan:
  - id: create
    name: New table and its index
    kind: sql
    sql: |
      CREATE TABLE audit_log (id INTEGER PRIMARY KEY, at VARCHAR(30));
      CREATE INDEX ix_audit_log_at ON audit_log (at);
  - id: more
    name: Another column on the new table
    kind: sql
    sql: ALTER TABLE audit_log ADD COLUMN note VARCHAR(100)
  - id: tidy
    name: Drop an index that may be absent
    kind: sql
    sql:
      default: DROP INDEX IF EXISTS ix_missing
      mysql: DROP INDEX IF EXISTS ix_missing ON audit_log
"#;
    let t = Test::new().runbook(yaml);
    for db in engines(&t) {
        let plan = t.exec(["plan", "runbook.yaml", "--db", &db.url]);
        assert_eq!(plan.code, 0, "{}: {}", db.engine, plan.all());
        plan.lacks("✘")
            .lacks("CONCURRENTLY")
            .stdout_has("precheck: ✔ table audit_log is absent: step 1 will create it")
            .stdout_has("precheck: ✔ index ix_audit_log_at is absent: step 1 will create it on audit_log")
            .stdout_has("precheck: ✔ column audit_log.note is absent: step 2 will add it")
            .stdout_has("precheck: • index ix_missing is absent: step 3 will do nothing (IF EXISTS)")
            .stdout_has(" 0 warning(s)");
        let run = t.exec(["run", "runbook.yaml", "--db", &db.url, "--yes", "--runs-dir", &format!("runs-{}", db.engine)]);
        assert_eq!(run.code, 0, "{}: {}", db.engine, run.all());
        // Run again: now the table exists, and plan says the first step would fail.
        let again = t.exec(["plan", "runbook.yaml", "--db", &db.url]);
        again.stdout_has("precheck: ✘ table audit_log already exists: step 1 will fail");
    }
}
