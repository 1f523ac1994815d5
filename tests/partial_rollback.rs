//! Rollback after a partial change: only the undo steps of the change steps that ran, and
//! `when:` conditions read against the live schema, on all three engines. A change that failed
//! before its column existed must end "rolled back" with the database untouched, not "failed".

use crate::support::servers::ServerDb;
use crate::support::{events, journal, SqliteFile, Test};

/// A change whose `add-column` step fails on its first statement, before the column exists;
/// `add-index` never runs. `drop-index` undoes only `add-index`; `drop-column` undoes
/// `add-column` (which ran and failed) and is guarded by `when`.
const RUNBOOK: &str = r#"version: 1
id: partial-change
plan:
  - id: backup
    name: Backup
    kind: backup
  - id: add-column
    name: Add the nickname column
    kind: sql
    sql: |
      UPDATE all_users SET name = name WHERE id = (SELECT id FROM no_such_table);
      ALTER TABLE all_users ADD COLUMN nickname VARCHAR(40);
  - id: add-index
    name: Index it
    kind: sql
    sql: CREATE INDEX ix_all_users_nickname ON all_users (nickname)
rollback:
  - id: drop-index
    name: Drop the index
    kind: sql
    sql:
      mysql: DROP INDEX ix_all_users_nickname ON all_users
      default: DROP INDEX ix_all_users_nickname
  - id: drop-column
    name: Drop the column
    kind: sql
    when: {column_exists: all_users.nickname}
    sql: ALTER TABLE all_users DROP COLUMN nickname
  - id: restored
    name: Schema restored
    kind: verify
    schema:
      - {table: all_users, column: nickname, exists: false}
"#;

fn skip_reasons(run: &std::path::Path) -> Vec<(String, String, String)> {
    let j = journal(run);
    events(&j, "step_decision")
        .iter()
        .filter(|e| e["decision"] == "skip")
        .map(|e| (e["step_id"].as_str().unwrap().into(), e["how"].as_str().unwrap().into(), e["reason"].as_str().unwrap().into()))
        .collect()
}

fn expected_skips() -> Vec<(String, String, String)> {
    vec![
        ("drop-index".into(), "partial rollback".into(), "nothing to undo: it undoes only `add-index`, which did not run".into()),
        (
            "drop-column".into(),
            "when".into(),
            "nothing to undo: `when: column all_users.nickname exists` is false on the live schema".into(),
        ),
    ]
}

/// The automatic rollback, then a manual one against the recorded run, then `plan --rollback`.
fn partial_change_rolls_back(url: &str, has_column: &dyn Fn() -> bool, digest: &dyn Fn() -> String) {
    let before = digest();
    let t = Test::new().runbook(RUNBOOK);
    let out = t.exec(["run", "runbook.yaml", "--db", url, "--yes", "--on-failure", "rollback", "--runs-dir", "runs"]);
    out.code(1)
        .stdout_has("partial change: 1 rollback step(s) undo only change steps that did not run and are skipped (`drop-index`)")
        .stdout_has("skipped (when): nothing to undo: `when: column all_users.nickname exists` is false on the live schema")
        .stdout_has("failed, rolled back");
    assert!(!has_column(), "the column exists");
    assert_eq!(digest(), before, "the data changed");
    let run = t.run_dirs("runs")[0].clone();
    let j = journal(&run);
    assert_eq!(events(&j, "run_finished")[0]["outcome"], "rolled_back");
    assert_eq!(skip_reasons(&run), expected_skips());
    let finished: Vec<(String, String)> = events(&j, "step_finished")
        .iter()
        .map(|e| (e["step_id"].as_str().unwrap().to_string(), e["status"].as_str().unwrap().to_string()))
        .collect();
    let want: Vec<(String, String)> =
        [("backup", "passed"), ("add-column", "failed"), ("drop-index", "skipped"), ("drop-column", "skipped"), ("restored", "passed")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
    assert_eq!(finished, want);

    // `plan --rollback` shows, against the live target, what a rollback would run now.
    let dir = run.display().to_string();
    let plan = t.exec(["plan", "runbook.yaml", "--rollback", "--db", url]);
    plan.code(0)
        .stdout_has("now: would be skipped (when: column all_users.nickname exists — false on the target)")
        .stdout_has("now: would run");

    // A manual rollback against that run undoes the same: nothing, and it passes.
    let out = t.exec(["rollback", "runbook.yaml", "--db", url, "--yes", "--runs-dir", "rb", "--baseline", &dir]);
    out.code(0).stdout_has("skipped (partial rollback): nothing to undo: it undoes only `add-index`, which did not run");
    assert_eq!(skip_reasons(&t.run_dirs("rb")[0]), expected_skips());
    assert!(!has_column());
    assert_eq!(digest(), before);
}

#[test]
fn sqlite_partial_change_rolls_back_only_what_ran() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 20);
    partial_change_rolls_back(&db.url(), &|| db.has_column("all_users", "nickname"), &|| db.data_digest());
}

#[test]
fn postgres_partial_change_rolls_back_only_what_ran() {
    let Some(db) = ServerDb::postgres() else { return };
    db.users(20);
    partial_change_rolls_back(&db.url(), &|| db.has_column("all_users", "nickname"), &|| db.data_digest());
}

#[test]
fn mariadb_partial_change_rolls_back_only_what_ran() {
    let Some(db) = ServerDb::mysql() else { return };
    db.users(20);
    partial_change_rolls_back(&db.url(), &|| db.has_column("all_users", "nickname"), &|| db.data_digest());
}

#[test]
fn when_belongs_to_rollback_steps_and_names_a_column_with_its_table() {
    let t = Test::new().runbook(
        "version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: manual\n    instructions: x\n    when: {table_exists: t}\nrollback:\n  - id: b\n    name: B\n    kind: manual\n    instructions: y\n    when: {column_exists: nickname}\n",
    );
    t.exec(["validate", "runbook.yaml"])
        .code(2)
        .stderr_has("`when` belongs to rollback steps; `a` is a change-plan step")
        .stderr_has("`column_exists: nickname` needs the table and the column, as `table.column` (step `b`)");
}
