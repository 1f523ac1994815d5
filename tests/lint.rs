//! The DDL risk lint as `validate` and `plan` show it: one test per rule, each checking the
//! step, the line, the reason and the advice, and that the safe spelling is not flagged.

use crate::support::servers::ServerDb;
use crate::support::{SqliteFile, Test, SEED};

fn validate(yaml: &str) -> crate::support::Output {
    Test::new().runbook(yaml).args(["validate", "runbook.yaml"]).run()
}

fn warnings(out: &crate::support::Output) -> usize {
    out.stdout.matches("warning: ").count()
}

fn one_step(sql: &str, extra: &str) -> String {
    format!("version: 1\nid: lint\nplan:\n  - id: change\n    name: Change\n    kind: sql\n{extra}    sql: {sql}\n")
}

#[test]
fn lint_flags_create_index_without_concurrently_on_postgres() {
    let yaml = "version: 1
id: lint
plan:
  - id: index
    name: Index
    kind: sql
    sql:
      sqlite: |
        CREATE INDEX ix_users_email ON all_users (email);
      postgres: |
        CREATE INDEX ix_users_email ON all_users (email);
";
    let out = validate(yaml);
    out.code(0)
        .stdout_has("CREATE INDEX ix_users_email without CONCURRENTLY on PostgreSQL")
        .stdout_has("runbook.yaml:11:9 (step `index`)")
        .stdout_has("why: a plain CREATE INDEX blocks every write")
        .stdout_has("instead: CREATE INDEX CONCURRENTLY")
        .stdout_has("`transaction: false`");
    assert_eq!(warnings(&out), 1, "the SQLite entry is not flagged:\n{}", out.stdout);
}

#[test]
fn lint_flags_concurrent_index_inside_a_transaction() {
    let sql = "\n      postgres: CREATE INDEX CONCURRENTLY ix_users_name ON all_users (name)";
    let out = validate(&one_step(sql, ""));
    out.code(0).stdout_has("CREATE INDEX CONCURRENTLY ix_users_name in a step that runs in a transaction").stdout_has("(step `change`)");
    let safe = validate(&one_step(sql, "    transaction: false\n"));
    assert_eq!(warnings(&safe), 0, "{}", safe.stdout);
}

#[test]
fn lint_uses_a_literal_target_to_know_the_engine() {
    let yaml = "version: 1\nid: lint\ntarget: postgres://app@db.internal/app\nplan:\n  - id: index\n    name: Index\n    kind: sql\n    sql: CREATE INDEX ix ON all_users (email)\n";
    validate(yaml).code(0).stdout_has("without CONCURRENTLY on PostgreSQL").stdout_has("runbook.yaml:8:10");
}

#[test]
fn lint_flags_not_null_column_without_default() {
    let out = validate(&one_step("ALTER TABLE all_users ADD COLUMN tenant_id integer NOT NULL", ""));
    out.code(0)
        .stdout_has("ADD COLUMN all_users.tenant_id NOT NULL without a DEFAULT")
        .stdout_has("runbook.yaml:7:10 (step `change`)")
        .stdout_has("why: it fails on a table with rows")
        .stdout_has("instead: add the column nullable");
    let safe = validate(&one_step("ALTER TABLE all_users ADD COLUMN tenant_id integer NOT NULL DEFAULT 0", ""));
    assert_eq!(warnings(&safe), 0, "{}", safe.stdout);
}

#[test]
fn lint_flags_a_volatile_default_that_rewrites_the_table() {
    let out = validate(&one_step("ALTER TABLE all_users ADD COLUMN token uuid DEFAULT gen_random_uuid()", ""));
    out.code(0)
        .stdout_has("ADD COLUMN all_users.token with a volatile DEFAULT")
        .stdout_has("(step `change`)")
        .stdout_has("the whole table is rewritten")
        .stdout_has("instead: add the column without a default, then backfill in batches");
    let safe = validate(&one_step("ALTER TABLE all_users ADD COLUMN created date DEFAULT '2025-01-01'", ""));
    assert_eq!(warnings(&safe), 0, "a constant default is cheap:\n{}", safe.stdout);
}

#[test]
fn lint_flags_a_column_type_change() {
    for sql in
        ["ALTER TABLE all_users ALTER COLUMN email TYPE varchar(320)", "ALTER TABLE all_users MODIFY COLUMN email varchar(320) NOT NULL"]
    {
        let out = validate(&one_step(sql, ""));
        out.code(0)
            .stdout_has("column type change on all_users.email")
            .stdout_has("runbook.yaml:7:10 (step `change`)")
            .stdout_has("rewrites the table")
            .stdout_has("instead: add a new column, backfill it");
    }
}

#[test]
fn lint_flags_drop_column_and_drop_table_without_an_earlier_backup() {
    let yaml = "version: 1
id: lint
plan:
  - id: drop-col
    name: Drop a column
    kind: sql
    sql: |
      SELECT 1;
      ALTER TABLE all_users DROP COLUMN legacy;
  - id: drop-table
    name: Drop a table
    kind: sql
    sql: DROP TABLE old_users
";
    let out = validate(yaml);
    out.code(0)
        .stdout_has("DROP COLUMN all_users.legacy with no earlier backup step in the change plan")
        .stdout_has("runbook.yaml:9:7 (step `drop-col`)")
        .stdout_has("DROP TABLE old_users with no earlier backup step")
        .stdout_has("(step `drop-table`)")
        .stdout_has("instead: add a `kind: backup` step before this one");
    assert_eq!(warnings(&out), 2);
    let with_backup = yaml.replace("plan:\n", "plan:\n  - id: backup\n    name: Backup\n    kind: backup\n");
    let safe = validate(&with_backup);
    assert_eq!(warnings(&safe), 0, "a backup step before the drops satisfies the rule:\n{}", safe.stdout);
}

#[test]
fn seed_runbook_has_no_lint_warnings() {
    let out = Test::new().args(["validate", SEED]).run();
    out.code(0);
    assert_eq!(warnings(&out), 0, "{}", out.stdout);
}

const PER_ENGINE_INDEX: &str = "version: 1
id: lint
plan:
  - id: index
    name: Index
    kind: sql
    sql:
      sqlite: CREATE INDEX ix_users_email ON all_users (email)
      postgres: CREATE INDEX ix_users_email ON all_users (email)
      mysql: CREATE INDEX ix_users_email ON all_users (email)
";

#[test]
fn plan_lints_only_the_sql_of_the_target_engine() {
    let t = Test::new().runbook(PER_ENGINE_INDEX);
    let db = SqliteFile::users(t.dir.path(), 10);
    let out = t.args(["plan", "runbook.yaml", "--db", &db.url()]).run();
    out.code(0).stdout_has("0 warning(s)").lacks("CONCURRENTLY");
}

#[test]
fn plan_on_postgres_shows_the_concurrently_warning() {
    let Some(db) = ServerDb::postgres() else { return };
    db.users(10);
    let t = Test::new().runbook(PER_ENGINE_INDEX);
    let out = t.args(["plan", "runbook.yaml", "--db", &db.url()]).run();
    out.code(0).stdout_has("without CONCURRENTLY on PostgreSQL").stdout_has("runbook.yaml:9:").stdout_has("1 warning(s)");
}

/// `validate` warns about exactly the statements the backup guard refuses at run time: the
/// same question, answered by one function. Before, only DROPs were warned about, so a DELETE
/// without WHERE, a TRUNCATE or an upsert passed `validate` and `plan` with no word and was
/// refused at its step in the change window.
#[test]
fn lint_warns_about_every_statement_the_backup_guard_refuses() {
    // (statement, refused by the guard without a backup)
    let cases = [
        ("DELETE FROM people", true),
        ("UPDATE people SET name = ' WHERE '", true),
        ("DELETE FROM people /* WHERE id = 1 */", true),
        ("INSERT INTO people (id, name) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET name = 'x'", true),
        ("REPLACE INTO people (id, name) VALUES (1, 'x')", true),
        ("DROP TABLE people", true),
        ("DELETE FROM people WHERE id = 1", false),
        ("UPDATE people SET name = 'x' WHERE id = 1", false),
        ("INSERT INTO people (id, name) VALUES (3, 'x')", false),
        ("ALTER TABLE people ADD COLUMN note TEXT", false),
    ];
    for (sql, refused) in cases {
        let yaml = one_step(&format!("\"{sql}\""), "");
        let out = validate(&yaml);
        out.code(0);
        let warned = out.stdout.contains("with no earlier backup step in the change plan");
        assert_eq!(warned, refused, "validate of `{sql}`:\n{}", out.stdout);
        if warned && !sql.starts_with("DROP") {
            // Named by its first 80 characters.
            let named = if sql.chars().count() > 80 { format!("{}…", sql.chars().take(80).collect::<String>()) } else { sql.to_string() };
            out.stdout_has(&format!("warning: `{named}` with no earlier backup step in the change plan\n"));
        }
        // The run's own guard gives the same answer.
        let t = Test::new().runbook(&yaml);
        let db = SqliteFile::users(t.dir.path(), 1);
        db.exec("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO people VALUES (1, 'a'), (2, 'b')");
        let run = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
        if refused {
            run.code(1).stdout_has("backup guard: `");
            assert_eq!(db.scalar("SELECT count(*) || group_concat(name) FROM people"), "2a,b", "`{sql}` changed data");
        } else {
            run.code(0);
        }
    }
}
