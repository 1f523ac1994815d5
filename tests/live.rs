//! The seed runbook on a live database: another process writes to `all_users` for the whole run
//! (pgbench on PostgreSQL, a client loop on MariaDB, `sqlite3` processes on SQLite). The change
//! writes no existing data, so validation passes and reports the other sessions' activity; the
//! same change with an UPDATE of an existing column fails, naming the column.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::servers::ServerDb;
use crate::support::{events, journal, SqliteFile, Test, SEED};

const SKIPS: [&str; 6] = ["--skip", "data-sync-test", "--skip", "post-deployment-monitoring", "--skip", "monitor-after-rollback"];

/// Something writing to the database until it is stopped.
enum Writer {
    Process(Child, Option<std::path::PathBuf>),
    Thread(Arc<AtomicBool>, std::thread::JoinHandle<u64>),
}

impl Writer {
    fn stop(self) {
        match self {
            Writer::Process(mut c, flag) => {
                match flag {
                    Some(f) => std::fs::write(f, "").unwrap(),
                    None => c.kill().unwrap(),
                }
                c.wait().unwrap();
            }
            Writer::Thread(stop, h) => {
                stop.store(true, Ordering::SeqCst);
                assert!(h.join().unwrap() > 0, "the writer wrote");
            }
        }
    }
}

/// The seed runbook, with `extra` run after the unique index in the change step.
fn seed_with(extra: &str) -> String {
    let seed = std::fs::read_to_string(SEED).unwrap();
    if extra.is_empty() {
        return seed;
    }
    let mut out = String::new();
    for line in seed.lines() {
        out.push_str(line);
        out.push('\n');
        if line.trim_start().starts_with("CREATE UNIQUE INDEX") {
            let indent: String = line.chars().take_while(|c| *c == ' ').collect();
            out.push_str(&format!("{indent}{extra}\n"));
        }
    }
    out
}

/// Wait until the writer has changed the table, so the run starts on a live database.
fn wait_for_writes(count: impl Fn() -> u64, start: u64) {
    for _ in 0..200 {
        if count() > start {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("the concurrent writer never wrote");
}

fn run_live(url: &str, extra: &str, writer: Writer) -> (Test, crate::support::Output) {
    let t = Test::new().runbook(&seed_with(extra));
    let out = t.again(["run", "runbook.yaml", "--db", url, "--yes", "--runs-dir", "runs", "--operator", "alice"]).args(SKIPS).run();
    writer.stop();
    (t, out)
}

/// The run passed, the column is there, and the journal and the report tell of the other
/// sessions' activity.
fn assert_passed_with_concurrent_activity(t: &Test, out: &crate::support::Output) {
    out.code(0).stdout_has("was changed by other sessions during the run");
    let dir = &t.run_dirs("runs")[0];
    let j = journal(dir);
    let failed: Vec<_> = events(&j, "assertion").into_iter().filter(|a| a["passed"] == false).collect();
    assert!(failed.is_empty(), "failed assertions: {failed:?}");
    let info = events(&j, "info")
        .into_iter()
        .filter_map(|e| e["message"].as_str())
        .find(|m| m.starts_with("concurrent activity on all_users"))
        .expect("the journal tells of the concurrent activity")
        .to_string();
    assert!(info.contains("attributed to other sessions by statement analysis"), "{info}");
    let net: i64 = info.split(" net)").next().unwrap().rsplit('(').next().unwrap().parse().unwrap();
    assert!(net > 0, "the writer inserted rows: {info}");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("concurrent activity on all\\_users during the run: row count"), "the report shows the activity:\n{report}");
}

/// The failure names the column the data shows changed, where (the first key range, holding ids
/// 1 to 5), and the statement that can write it.
fn assert_failed_naming_name(out: &crate::support::Output, key: &str) {
    out.code(1)
        .stdout_has("; column name differs in ")
        .stdout_has(&format!("({key} 1–"))
        .stdout_has("— the change can write column name (UPDATE all_users SET name = 'rewritten' WHERE id <= 5)");
}

/// The change can write `email` but leaves its values as they were: the other sessions' changes
/// to `name` and their inserts are not the change's doing, and the run passes.
const EMAIL_UNCHANGED: &str = "UPDATE all_users SET email = email WHERE id <= 5;";

fn assert_passed_although_the_change_can_write_email(t: &Test, out: &crate::support::Output) {
    assert_passed_with_concurrent_activity(t, out);
    let j = journal(&t.run_dirs("runs")[0]);
    let info = events(&j, "info")
        .into_iter()
        .filter_map(|e| e["message"].as_str().map(String::from))
        .find(|m| m.starts_with("concurrent activity"))
        .unwrap();
    assert!(info.contains("column name differs in "), "{info}");
    assert!(
        info.contains(
            "the change can write only column email (UPDATE all_users SET email = email WHERE id <= 5), and none of that differs"
        ),
        "{info}"
    );
}

const REWRITE: &str = "UPDATE all_users SET name = 'rewritten' WHERE id <= 5;";

fn sqlite_writer(t: &Test, db: &SqliteFile) -> Writer {
    let flag = t.dir.join("stop-writer");
    let script = format!(
        "i=100000; while [ ! -e '{flag}' ]; do i=$((i+1)); sqlite3 -cmd '.timeout 5000' '{db}' \
         \"INSERT INTO all_users(id, email, name) VALUES ($i, 'w$i@example.org', 'writer'); UPDATE all_users SET name = 'seen $i' WHERE id = ($i % 300) + 1;\" || exit 1; done",
        flag = flag.display(),
        db = db.path.display()
    );
    let child = Command::new("sh").arg("-c").arg(script).stdout(Stdio::null()).spawn().unwrap();
    let p = db.path.clone();
    wait_for_writes(move || SqliteFile { path: p.clone() }.scalar("SELECT count(*) FROM all_users").parse().unwrap(), 3000);
    Writer::Process(child, Some(flag))
}

fn sqlite_seed_runbook_under_a_concurrent_writer(wal: bool) {
    let t0 = Test::new();
    let db = SqliteFile::users(t0.dir.path(), 3000);
    if wal {
        db.exec("PRAGMA journal_mode = WAL");
        assert_eq!(db.scalar("PRAGMA journal_mode"), "wal");
    }
    let writer = sqlite_writer(&t0, &db);
    let (t, out) = run_live(&db.url(), "", writer);
    assert_passed_with_concurrent_activity(&t, &out);
    assert!(db.has_column("all_users", "pcc_user_uuid"));
}

#[test]
fn sqlite_seed_runbook_passes_under_a_concurrent_writer() {
    sqlite_seed_runbook_under_a_concurrent_writer(false);
}

#[test]
fn sqlite_seed_runbook_passes_under_a_concurrent_writer_in_wal_mode() {
    sqlite_seed_runbook_under_a_concurrent_writer(true);
}

#[test]
fn sqlite_change_rewriting_a_column_fails_under_a_concurrent_writer() {
    let t0 = Test::new();
    let db = SqliteFile::users(t0.dir.path(), 3000);
    let writer = sqlite_writer(&t0, &db);
    let (_t, out) = run_live(&db.url(), REWRITE, writer);
    assert_failed_naming_name(&out, "rowid");
}

#[test]
fn sqlite_change_that_can_write_an_unchanged_column_passes_under_a_concurrent_writer() {
    let t0 = Test::new();
    let db = SqliteFile::users(t0.dir.path(), 3000);
    let writer = sqlite_writer(&t0, &db);
    let (t, out) = run_live(&db.url(), EMAIL_UNCHANGED, writer);
    assert_passed_although_the_change_can_write_email(&t, &out);
}

fn pgbench_writer(t: &Test, db: &ServerDb) -> Writer {
    pgbench_writer_from(t, db, 1)
}

/// pgbench inserting users and renaming existing ones with ids from `first` to 3000.
fn pgbench_writer_from(t: &Test, db: &ServerDb, first: u32) -> Writer {
    pgbench_renaming(t, db, &format!("random({first}, 3000)"))
}

/// pgbench inserting users and renaming the one whose id `id` gives (a pgbench expression).
fn pgbench_renaming(t: &Test, db: &ServerDb, id: &str) -> Writer {
    db.exec("CREATE SEQUENCE writer_ids START 100000");
    let script = t.dir.write(
        "writer.sql",
        &format!(
            "\\set id {id}\n\
         INSERT INTO all_users(id, email, name) SELECT n, 'w' || n || '@example.org', 'writer' FROM nextval('writer_ids') AS n;\n\
         UPDATE all_users SET name = 'seen ' || :id WHERE id = :id;\n"
        ),
    );
    let child = Command::new("pgbench")
        .args(["-n", "-c", "2", "-T", "600", "-R", "200", "-f"])
        .arg(&script)
        .arg(db.url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pgbench runs (postgresql-contrib)");
    wait_for_writes(|| db.scalar("SELECT count(*) FROM all_users").parse().unwrap(), 3000);
    Writer::Process(child, None)
}

fn mariadb_writer(db: &ServerDb) -> Writer {
    let stop = Arc::new(AtomicBool::new(false));
    let url = db.url();
    let flag = stop.clone();
    let h = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            use sqlx::{Connection, Executor};
            let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap();
            let mut n = 0u64;
            while !flag.load(Ordering::SeqCst) {
                let id = 100_000 + n;
                let sql = format!(
                    "INSERT INTO all_users(id, email, name) VALUES ({id}, 'w{id}@example.org', 'writer'); UPDATE all_users SET name = 'seen {id}' WHERE id = {}",
                    id % 3000 + 1
                );
                // A metadata lock held by the change's ALTER may time a write out: the
                // application would retry, and so does this loop.
                if c.execute(sqlx::raw_sql(&sql)).await.is_ok() {
                    n += 1;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            n
        })
    });
    wait_for_writes(|| db.scalar("SELECT count(*) FROM all_users").parse().unwrap(), 3000);
    Writer::Thread(stop, h)
}

#[test]
fn postgres_seed_runbook_passes_under_pgbench() {
    let Some(db) = ServerDb::postgres() else { return };
    db.users(3000);
    let t0 = Test::new();
    let (t, out) = run_live(&db.url(), "", pgbench_writer(&t0, &db));
    assert_passed_with_concurrent_activity(&t, &out);
    assert!(db.has_column("all_users", "pcc_user_uuid"));
}

#[test]
fn postgres_change_rewriting_a_column_fails_under_pgbench() {
    let Some(db) = ServerDb::postgres() else { return };
    db.users(3000);
    let t0 = Test::new();
    let (_t, out) = run_live(&db.url(), REWRITE, pgbench_writer(&t0, &db));
    assert_failed_naming_name(&out, "id");
}

#[test]
fn postgres_change_that_can_write_an_unchanged_column_passes_under_pgbench() {
    let Some(db) = ServerDb::postgres() else { return };
    db.users(3000);
    let t0 = Test::new();
    let (t, out) = run_live(&db.url(), EMAIL_UNCHANGED, pgbench_writer(&t0, &db));
    assert_passed_although_the_change_can_write_email(&t, &out);
}

#[test]
fn mariadb_seed_runbook_passes_under_a_client_loop() {
    let Some(db) = ServerDb::mysql() else { return };
    db.users(3000);
    let (t, out) = run_live(&db.url(), "", mariadb_writer(&db));
    assert_passed_with_concurrent_activity(&t, &out);
    assert!(db.has_column("all_users", "pcc_user_uuid"));
}

#[test]
fn mariadb_change_rewriting_a_column_fails_under_a_client_loop() {
    let Some(db) = ServerDb::mysql() else { return };
    db.users(3000);
    let (_t, out) = run_live(&db.url(), REWRITE, mariadb_writer(&db));
    assert_failed_naming_name(&out, "id");
}

#[test]
fn mariadb_change_that_can_write_an_unchanged_column_passes_under_a_client_loop() {
    let Some(db) = ServerDb::mysql() else { return };
    db.users(3000);
    let (t, out) = run_live(&db.url(), EMAIL_UNCHANGED, mariadb_writer(&db));
    assert_passed_although_the_change_can_write_email(&t, &out);
}

/// A `validate` step declaring a backfill of `name` in rows `id <= 20`, after a change running
/// `sql`.
fn backfill_runbook(sql: &str) -> String {
    format!(
        r#"
version: 1
id: backfill
plan:
  - id: fill
    name: Backfill names
    kind: sql
    sql: "{sql}"
  - id: check
    name: Existing data unaffected but for the backfill
    kind: validate
    tables: [all_users]
    backfill:
      - table: all_users
        columns: [name]
        where: id <= 20
"#
    )
}

const BACKFILL: &str = "UPDATE all_users SET name = 'backfilled' WHERE id <= 20";

/// The declared backfill passes; the same with an undeclared rewrite of `email` in one row, or
/// of `name` outside the declared rows, fails naming the column and where. `key` is how the
/// engine names the key ranges (`id`, or `rowid` on SQLite).
fn declared_backfill(url: &str, key: &str, count: impl Fn(&str) -> String) {
    let t = Test::new().runbook(&backfill_runbook(BACKFILL));
    t.again(["run", "runbook.yaml", "--db", url, "--yes", "--runs-dir", "runs"])
        .run()
        .code(0)
        .stdout_has(&format!(
            "declared backfill of all_users.name: differs in 2 key range(s) ({key} 1–12, {key} 13–24), each holding rows where id <= 20"
        ))
        .lacks("other sessions");
    assert_eq!(count("SELECT count(*) FROM all_users WHERE name = 'backfilled'"), "20");

    let t =
        Test::new().runbook(&backfill_runbook(&format!("{BACKFILL}; UPDATE all_users SET email = 'rewritten@example.org' WHERE id = 100")));
    t.again(["run", "runbook.yaml", "--db", url, "--yes", "--runs-dir", "runs"]).run().code(1).stdout_has(&format!(
        "; column email differs in 1 key range(s) ({key} 97–108) — the change can write column email (UPDATE all_users SET email = 'rewritten@example.org' WHERE id = 100)"
    ));

    let t = Test::new().runbook(&backfill_runbook("UPDATE all_users SET name = 'backfilled' WHERE id <= 20 OR id = 500"));
    t.again(["run", "runbook.yaml", "--db", url, "--yes", "--runs-dir", "runs"]).run().code(1).stdout_has(&format!(
        "; column name differs in 1 key range(s) outside the declared backfill (where id <= 20): {key} 493–504 — the change can write column name"
    ));
}

#[test]
fn sqlite_declared_backfill_passes_and_an_undeclared_rewrite_fails_naming_the_column() {
    let t0 = Test::new();
    let db = SqliteFile::users(t0.dir.path(), 3000);
    declared_backfill(&db.url(), "rowid", |q| db.scalar(q));
}

#[test]
fn postgres_declared_backfill_passes_and_an_undeclared_rewrite_fails_naming_the_column() {
    let Some(db) = ServerDb::postgres() else { return };
    db.users(3000);
    declared_backfill(&db.url(), "id", |q| db.scalar(q));
}

#[test]
fn mariadb_declared_backfill_passes_and_an_undeclared_rewrite_fails_naming_the_column() {
    let Some(db) = ServerDb::mysql() else { return };
    db.users(3000);
    declared_backfill(&db.url(), "id", |q| db.scalar(q));
}

#[test]
fn a_backfill_of_a_table_the_step_does_not_fingerprint_is_refused_with_its_position() {
    let rb = backfill_runbook(BACKFILL).replace("- table: all_users", "- table: orders");
    let t = Test::new().runbook(&rb);
    t.again(["validate", "runbook.yaml"])
        .run()
        .code(2)
        .stderr_has("error: backfill of `orders`, which is not among the step's `tables`")
        .stderr_has("runbook.yaml:13:5");
}

/// The declared backfill rewrites `name` in ids 1–20 while pgbench renames users all over the
/// table, those ids included. Statement analysis alone sees `name` differ in key ranges outside
/// the declaration, and the change can write `name`: it would fail. Row versions show that no
/// row of those ranges was written by the run, and that every row the run wrote is declared.
fn assert_backfill_told_apart_by_row_versions(t: &Test, out: &crate::support::Output, runs: &str) {
    // The key ranges depend on how many users pgbench inserted before the run started.
    out.code(0)
        .stdout_has("declared backfill of all_users.name: differs in ")
        .stdout_has(" each holding rows where id <= 20; the run wrote ")
        .stdout_has(" row(s) there, each where id <= 20 (decided by row versions (xmin))")
        .stdout_has("all_users was changed by other sessions during the run (")
        .stdout_has("the change wrote only what its backfill declares");
    let j = journal(&t.run_dirs(runs)[0]);
    let info = events(&j, "info")
        .into_iter()
        .filter_map(|e| e["message"].as_str())
        .find(|m| m.starts_with("concurrent activity on all_users"))
        .expect("the journal tells of the concurrent activity")
        .to_string();
    assert!(info.contains("attributed to other sessions by row versions (xmin): column name differs in "), "{info}");
    assert!(info.contains(" key range(s) holding no row the run wrote (id "), "{info}");
    let verdict = events(&j, "assertion")
        .into_iter()
        .find(|a| a["check"].as_str().is_some_and(|c| c.starts_with("all_users content hash")))
        .expect("the content hash assertion");
    assert_eq!(verdict["passed"], true);
    assert!(verdict["actual"].as_str().unwrap().ends_with("(by other sessions; decided by row versions (xmin))"), "{verdict}");
    let statements = events(&j, "statement");
    assert!(statements.iter().all(|s| s["txids"].as_array().is_some_and(|t| !t.is_empty())), "{statements:?}");
    let report = std::fs::read_to_string(t.run_dirs(runs)[0].join("report.md")).unwrap();
    assert!(report.contains("decided by row versions (xmin)"), "the report names the rule:\n{report}");
}

#[test]
fn postgres_backfill_under_pgbench_renaming_the_same_column_passes_by_row_versions() {
    let Some(db) = ServerDb::postgres() else { return };
    db.users(3000);
    let t = Test::new().runbook(&backfill_runbook(BACKFILL));
    let writer = pgbench_writer(&t, &db);
    let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    writer.stop();
    assert_backfill_told_apart_by_row_versions(&t, &out, "runs");
}

#[test]
fn postgres_backfill_outside_a_transaction_is_told_apart_by_row_versions_too() {
    let Some(db) = ServerDb::postgres() else { return };
    db.users(3000);
    // Each statement commits on its own; it still runs in a transaction of its own whose id
    // is journaled.
    let rb = backfill_runbook(BACKFILL).replace("    kind: sql\n", "    kind: sql\n    transaction: false\n");
    assert!(rb.contains("transaction: false"));
    let t = Test::new().runbook(&rb);
    let writer = pgbench_writer(&t, &db);
    let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    writer.stop();
    assert_backfill_told_apart_by_row_versions(&t, &out, "runs");
}

#[test]
fn postgres_rewrite_outside_the_backfill_under_pgbench_fails_naming_the_rows_the_run_wrote() {
    let Some(db) = ServerDb::postgres() else { return };
    db.users(3000);
    let t = Test::new().runbook(&backfill_runbook("UPDATE all_users SET name = 'backfilled' WHERE id <= 20 OR id = 500"));
    // The application renames users from id 1000 on, so row 500 keeps the run's version.
    let writer = pgbench_writer_from(&t, &db, 1000);
    let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    writer.stop();
    // Only the range the run wrote outside the declaration is named, not the application's.
    out.code(1).stdout_has("; column name differs in 1 key range(s) outside the declared backfill (where id <= 20): id ").stdout_has(
        " — the change can write column name (UPDATE all_users SET name = 'backfilled' WHERE id <= 20 OR id = 500); decided by row versions (xmin): column name: the run wrote 1 row(s) outside the declared backfill (keys id 500)",
    );
}

#[test]
fn postgres_row_versions_still_attribute_after_kill_9_and_resume() {
    let Some(db) = ServerDb::postgres() else { return };
    db.users(3000);
    let t = Test::new().runbook(&backfill_runbook(BACKFILL));
    let writer = pgbench_writer(&t, &db);
    let mut c = t.command();
    c.env("RUNBOOK_FAULT", "kill-after=step_finished:fill").args(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    let status = c.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "not killed ({status})");
    let run = t.run_dirs("runs").pop().expect("a run folder");
    assert!(!journal(&run).iter().any(|e| e["event"] == "assertion"), "the kill came before validation");
    // The application keeps renaming users between the kill and the resume.
    std::thread::sleep(Duration::from_millis(500));
    let out = t.exec(["resume", &run.display().to_string(), "--yes"]);
    writer.stop();
    assert_backfill_told_apart_by_row_versions(&t, &out, "runs");
}

#[test]
fn postgres_rewrite_the_application_updates_again_still_fails_by_the_row_versions_seen_at_commit() {
    let Some(db) = ServerDb::postgres() else { return };
    db.users(3000);
    let rb = r#"
version: 1
id: rewrite
plan:
  - id: fill
    name: Rewrite one e-mail
    kind: sql
    sql: "UPDATE all_users SET email = 'rewritten@example.org' WHERE id = 500"
  - id: pause
    name: The application renames user 500 meanwhile
    kind: verify
    queries:
      - name: half a second
        sql: SELECT count(*) FROM pg_sleep(0.5)
        expect: 1
  - id: check
    name: Existing data unaffected
    kind: validate
    tables: [all_users]
"#;
    let t = Test::new().runbook(rb);
    // After the change commits, row 500's newest version is the application's: the e-mail the
    // change wrote is still in it, and only the versions read at commit tell.
    let writer = pgbench_renaming(&t, &db, "500");
    let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    writer.stop();
    out.code(1).stdout_has("; column email differs in 1 key range(s) (id ").stdout_has(
        " — the change can write column email (UPDATE all_users SET email = 'rewritten@example.org' WHERE id = 500); decided by row versions (xmin): column email: the run wrote rows in those key range(s) as its step committed, and other sessions have updated them since",
    );
    let j = journal(&t.run_dirs("runs")[0]);
    let seen = events(&j, "row_versions");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["table"], "all_users");
    assert_eq!(seen[0]["ranges"].as_array().unwrap().len(), 1);
}
