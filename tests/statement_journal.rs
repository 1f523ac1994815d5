//! Each statement is journaled as it commits, inside a step too: a step whose statements commit
//! one by one (`transaction: false`, DDL on MariaDB/MySQL) and that stops part-way (a failed
//! statement, a kill -9) leaves a journal that shows exactly what is applied, and `resume` goes
//! on from the first statement that did not commit, never running a committed one again.

use std::process::Stdio;

use crate::support::servers::ServerDb;
use crate::support::{events, journal, SqliteFile, Test};

/// Three statements outside a transaction; the second needs a table the operator has to create.
/// Running the first again would break the primary key.
const PART_WAY: &str = r#"
version: 1
id: part-way
plan:
  - id: three
    name: Three statements, one by one
    kind: sql
    transaction: false
    sql: |
      INSERT INTO log (id, note) VALUES (1, 'one');
      INSERT INTO later (x) VALUES (2);
      INSERT INTO log (id, note) VALUES (3, 'three');
"#;

fn statement_indexes(j: &[serde_json::Value], step: &str) -> Vec<u64> {
    events(j, "statement").iter().filter(|e| e["step_id"] == step).map(|e| e["index"].as_u64().expect("index")).collect()
}

#[test]
fn sqlite_failed_statement_is_resumed_from_without_running_the_committed_one_again() {
    let t = Test::new().runbook(PART_WAY);
    let db = SqliteFile::users(t.dir.path(), 1);
    db.exec("CREATE TABLE log (id INTEGER PRIMARY KEY, note TEXT)");
    let out = t.exec(["run", "runbook.yaml", "--yes", "--runs-dir", "runs", "--db", &db.url()]);
    out.code(1).stdout_has("INSERT INTO log (id, note) VALUES (1, 'one') — 1 row");
    assert!(out.all().contains("no such table: later"), "{}", out.all());
    let run = t.run_dirs("runs").pop().unwrap();
    let j = journal(&run);
    // Only the statement that committed: the failed one and the one after it never did.
    assert_eq!(statement_indexes(&j, "three"), [0]);
    assert_eq!(events(&j, "statement")[0]["sql"], "INSERT INTO log (id, note) VALUES (1, 'one')");
    assert_eq!(db.rows("SELECT id, note FROM log"), [["1", "one"]]);

    // The operator fixes the cause; resume starts at statement 2.
    db.exec("CREATE TABLE later (x INTEGER)");
    let run_s = run.display().to_string();
    let out = t.exec(["resume", &run_s, "--yes"]);
    out.code(0)
        .stdout_has("Step `three` stopped part-way in an earlier attempt; the journal shows:\n")
        .stdout_has("  ✔ committed      1. INSERT INTO log (id, note) VALUES (1, 'one')\n")
        .stdout_has("  ✘ not committed  2. INSERT INTO later (x) VALUES (2)\n")
        .stdout_has("  ✘ not committed  3. INSERT INTO log (id, note) VALUES (3, 'three')\n")
        .stdout_has("resumed from statement 2 of 3: statement(s) 1 committed in an earlier attempt and are not run again");
    assert_eq!(db.rows("SELECT id, note FROM log ORDER BY id"), [["1", "one"], ["3", "three"]]);
    assert_eq!(db.rows("SELECT x FROM later"), [["2"]]);
    let j = journal(&run);
    assert_eq!(statement_indexes(&j, "three"), [0, 1, 2]);
    assert!(
        events(&j, "info").iter().any(|e| e["step_id"] == "three"
            && e["message"] == "resumed from statement 2 of 3: statement(s) 1 committed in an earlier attempt and are not run again"),
        "{j:?}"
    );
    assert_eq!(j.last().unwrap()["outcome"], "succeeded");
    // The report shows every statement of the step, from both attempts.
    let report = t.exec(["report", &run_s, "--format", "json"]);
    report.code(0);
    for sql in [
        "INSERT INTO log (id, note) VALUES (1, 'one')",
        "INSERT INTO later (x) VALUES (2)",
        "INSERT INTO log (id, note) VALUES (3, 'three')",
    ] {
        let evidence = format!("\"type\": \"statement\",\n          \"sql\": \"{sql}\"");
        assert_eq!(report.stdout.matches(&evidence).count(), 1, "{sql} in the report:\n{}", report.stdout);
    }
    t.exec(["audit", "verify", &run_s]).code(0);
}

#[test]
fn sqlite_kill_9_between_two_statements_resumes_from_the_next_without_rerun_in_flight() {
    let t = Test::new().runbook(PART_WAY);
    let db = SqliteFile::users(t.dir.path(), 1);
    db.exec("CREATE TABLE log (id INTEGER PRIMARY KEY, note TEXT); CREATE TABLE later (x INTEGER)");
    let mut c = t.command();
    c.env("RUNBOOK_FAULT", "kill-after=statement:three#1").args(["run", "runbook.yaml", "--yes", "--runs-dir", "runs", "--db", &db.url()]);
    let status = c.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9));
    assert_eq!(db.rows("SELECT id, note FROM log"), [["1", "one"]]);
    let run = t.run_dirs("runs").pop().unwrap().display().to_string();
    // The journal proves statement 1 committed and the others did not start: --yes needs no
    // --rerun-in-flight to go on from statement 2.
    let out = t.exec(["resume", &run, "--yes"]);
    out.code(0)
        .stdout_has("Step `three` was in flight when run ")
        .stdout_has("stopped, part-way; its statements commit one by one, and the journal shows:\n  ✔ committed      1. INSERT INTO log (id, note) VALUES (1, 'one')\n  ✘ not committed  2. INSERT INTO later (x) VALUES (2)\n  ✘ not committed  3. INSERT INTO log (id, note) VALUES (3, 'three')\n  it resumes from statement 2 of 3\n");
    assert_eq!(db.rows("SELECT id, note FROM log ORDER BY id"), [["1", "one"], ["3", "three"]]);
    assert_eq!(db.rows("SELECT x FROM later"), [["2"]]);
    let j = journal(std::path::Path::new(&run));
    let resumed = events(&j, "run_resumed");
    assert_eq!(
        resumed[0]["decision"],
        "resumed from statement 2 of 3: the journal shows statement(s) 1–1 committed, and they are not run again"
    );
    assert_eq!(statement_indexes(&j, "three"), [0, 1, 2]);
    t.exec(["audit", "verify", &run]).code(0);
}

/// A target on any engine, for the kill loop.
enum Db {
    Sqlite(SqliteFile),
    Server(ServerDb),
}

impl Db {
    fn url(&self) -> String {
        match self {
            Db::Sqlite(f) => f.url(),
            Db::Server(s) => s.url(),
        }
    }

    fn exec(&self, sql: &str) {
        match self {
            Db::Sqlite(f) => f.exec(sql),
            Db::Server(s) => s.exec(sql),
        }
    }

    fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        match self {
            Db::Sqlite(f) => f.rows(sql),
            Db::Server(s) => s.rows(sql),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Engine {
    Sqlite,
    Postgres,
    Mariadb,
}

/// Skips, a plain and a secret variable, a step whose three statements commit one by one (a
/// second run of its CREATE TABLE would fail), and a failing step that `--on-failure rollback`
/// answers.
const KILL_RUNBOOK: &str = r#"
version: 1
id: stmt-kill
vars:
  label:
    default: default-label
  token:
    secret: true
    env: STMT_KILL_TOKEN
plan:
  - id: purge
    name: Purge (under legal hold)
    kind: sql
    sql: DELETE FROM items
  - id: tag
    name: Tag
    kind: sql
    sql: INSERT INTO log (note) VALUES ('${label}')
  - id: multi
    name: Three statements, one by one
    kind: sql
    transaction: false
    sql: |
      INSERT INTO log (note) VALUES ('m1');
      CREATE TABLE extra_t (x int);
      INSERT INTO log (note) VALUES ('m3');
  - id: secret
    name: Use the token
    kind: sql
    sql: INSERT INTO log (note) VALUES ('${token}')
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

const TOKEN: &str = "stmt-t0k3n-s3cr3t";

fn kill_db(engine: Engine, t: &Test) -> Option<Db> {
    let (db, tables) = match engine {
        Engine::Sqlite => (
            Db::Sqlite(SqliteFile::users(t.dir.path(), 1)),
            "CREATE TABLE items (id INTEGER PRIMARY KEY, note TEXT); CREATE TABLE log (id INTEGER PRIMARY KEY, note TEXT)",
        ),
        Engine::Postgres => {
            (Db::Server(ServerDb::postgres()?), "CREATE TABLE items (id serial PRIMARY KEY, note text); CREATE TABLE log (id serial PRIMARY KEY, note text)")
        }
        Engine::Mariadb => (
            Db::Server(ServerDb::mysql()?),
            "CREATE TABLE items (id int AUTO_INCREMENT PRIMARY KEY, note varchar(100)); CREATE TABLE log (id int AUTO_INCREMENT PRIMARY KEY, note varchar(100))",
        ),
    };
    db.exec(tables);
    db.exec("INSERT INTO items (note) VALUES ('keep1'); INSERT INTO items (note) VALUES ('keep2')");
    Some(db)
}

fn kill_args(db: &Db) -> Vec<String> {
    let url = db.url();
    let args = ["run", "runbook.yaml", "--yes", "--runs-dir", "runs", "--db", &url, "--skip", "purge=legal hold LH-7"];
    let more = ["--var", "label=custom", "--on-failure", "rollback"];
    args.iter().chain(&more).map(|s| s.to_string()).collect()
}

/// Rows of both tables in order, and whether the step's table exists.
fn kill_state(engine: Engine, db: &Db) -> Vec<Vec<String>> {
    let mut rows = db.rows("SELECT 'items', note FROM items ORDER BY id");
    rows.extend(db.rows("SELECT 'log', note FROM log ORDER BY id"));
    let exists = match engine {
        Engine::Sqlite => "SELECT 'extra_t', CAST(count(*) AS TEXT) FROM sqlite_master WHERE name = 'extra_t'",
        Engine::Postgres => "SELECT 'extra_t', CAST(count(*) AS TEXT) FROM pg_tables WHERE tablename = 'extra_t' AND schemaname = current_schema()",
        Engine::Mariadb => {
            "SELECT 'extra_t', CAST(count(*) AS CHAR) FROM information_schema.TABLES WHERE TABLE_NAME = 'extra_t' AND TABLE_SCHEMA = DATABASE()"
        }
    };
    rows.extend(db.rows(exists));
    rows
}

/// kill -9 after every journal line of a run, then `resume`: the end state is the uninterrupted
/// run's, the skipped step never ran, no statement ran twice, the secret is not journaled.
fn kill_9_at_every_journal_line(engine: Engine) {
    let reference = Test::new().runbook(KILL_RUNBOOK).env("STMT_KILL_TOKEN", TOKEN);
    let Some(db) = kill_db(engine, &reference) else { return };
    reference.exec(kill_args(&db)).code(1);
    let want = kill_state(engine, &db);
    assert_eq!(
        want.iter().filter(|r| r[0] == "log").map(|r| r[1].as_str()).collect::<Vec<_>>(),
        ["custom", "m1", "m3", TOKEN, "rolled back custom"]
    );
    let lines = journal(&reference.run_dirs("runs")[0]).len();
    let mut part_way = 0;
    for n in 1..lines {
        let t = Test::new().runbook(KILL_RUNBOOK).env("STMT_KILL_TOKEN", TOKEN);
        let db = kill_db(engine, &t).unwrap();
        let mut c = t.command();
        c.env("RUNBOOK_FAULT", format!("kill-after=any#{n}")).args(kill_args(&db));
        let status = c.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "line {n}: not killed ({status})");
        let run = t.run_dirs("runs").pop().unwrap();
        let run_s = run.display().to_string();
        let out = t.exec(["resume", &run_s, "--yes", "--rerun-in-flight"]);
        if !journal(&run).iter().any(|e| e["event"] == "schema_snapshot") {
            out.code(2).stderr_has("start a new run");
            continue;
        }
        out.code(1);
        assert_eq!(kill_state(engine, &db), want, "killed after line {n}:\n{}", out.all());
        // On a server the statement after the journaled ones may have committed after the
        // kill, so resume shows it unknown and runs it again only as --rerun-in-flight says;
        // on SQLite, and on PostgreSQL for a statement run in a block of its own (the INSERT,
        // not the CREATE TABLE), the journal proves it did not, and resume goes on by itself.
        let resumed = ["it resumes from statement", "was running on the server when the run was killed"];
        if resumed.iter().any(|said| out.stdout.contains(said)) {
            part_way += 1;
        }
        let j = journal(&run);
        assert_eq!(j.last().unwrap()["outcome"], "rolled_back", "line {n}");
        // Every statement of the step is journaled once, whatever attempt committed it.
        assert_eq!(statement_indexes(&j, "multi"), [0, 1, 2], "line {n}");
        assert!(
            events(&j, "step_decision").iter().filter(|e| e["step_id"] == "purge").all(|e| e["decision"] == "skip"),
            "line {n}: purge was not skipped"
        );
        assert!(!std::fs::read_to_string(run.join("journal.jsonl")).unwrap().contains(TOKEN), "line {n}: the secret was journaled");
        t.exec(["audit", "verify", &run_s]).code(0);
    }
    // Killed after the step's first and second statement: resumed from the second and third.
    assert_eq!(part_way, 2, "the step was never resumed part-way");
}

#[test]
fn sqlite_kill_9_at_every_journal_line_with_a_statement_by_statement_step_then_resume() {
    kill_9_at_every_journal_line(Engine::Sqlite);
}

#[test]
fn postgres_kill_9_at_every_journal_line_with_a_statement_by_statement_step_then_resume() {
    kill_9_at_every_journal_line(Engine::Postgres);
}

#[test]
fn mariadb_kill_9_at_every_journal_line_with_a_statement_by_statement_step_then_resume() {
    kill_9_at_every_journal_line(Engine::Mariadb);
}

/// DDL, a row, then DDL that fails: the first two committed (MariaDB/MySQL commits DDL
/// implicitly, and on PostgreSQL the step says `transaction: false`), the journal shows them,
/// and resume after the cause is fixed runs only the third.
fn ddl_step_fails_at_its_third_statement(db: &ServerDb, transaction: &str) {
    let t = Test::new().runbook(&format!(
        "version: 1\nid: ddl\nplan:\n  - id: alter\n    name: Alter, insert, alter\n    kind: sql\n{transaction}    sql: |\n      ALTER TABLE t ADD COLUMN a int;\n      INSERT INTO t (id, a) VALUES (1, 10);\n      ALTER TABLE other ADD COLUMN b int;\n"
    ));
    db.exec("CREATE TABLE t (id int PRIMARY KEY)");
    let out = t.exec(["run", "runbook.yaml", "--yes", "--runs-dir", "runs", "--db", &db.url()]);
    out.code(1);
    assert!(
        out.all().contains("statement 3 of 3 failed: ") && out.all().contains("so the 2 statement(s) before it stay applied"),
        "{}",
        out.all()
    );
    let run = t.run_dirs("runs").pop().unwrap();
    let j = journal(&run);
    assert_eq!(statement_indexes(&j, "alter"), [0, 1]);
    let sqls: Vec<_> = events(&j, "statement").iter().map(|e| e["sql"].as_str().unwrap().to_string()).collect();
    assert_eq!(sqls, ["ALTER TABLE t ADD COLUMN a int", "INSERT INTO t (id, a) VALUES (1, 10)"]);
    assert_eq!(db.rows("SELECT id, a FROM t"), [["1", "10"]]);

    db.exec("CREATE TABLE other (id int)");
    let run_s = run.display().to_string();
    t.exec(["resume", &run_s, "--yes"])
        .code(0)
        .stdout_has(
            "  ✔ committed      2. INSERT INTO t (id, a) VALUES (1, 10)\n  ✘ not committed  3. ALTER TABLE other ADD COLUMN b int\n",
        )
        .stdout_has("resumed from statement 3 of 3");
    assert_eq!(db.rows("SELECT id, a FROM t"), [["1", "10"]]);
    assert_eq!(db.rows("SELECT count(*) FROM other WHERE b IS NULL"), [["0"]]);
    assert_eq!(statement_indexes(&journal(&run), "alter"), [0, 1, 2]);
    t.exec(["audit", "verify", &run_s]).code(0);
}

#[test]
fn mariadb_ddl_step_failing_part_way_journals_the_committed_statements() {
    let Some(db) = ServerDb::mysql() else { return };
    ddl_step_fails_at_its_third_statement(&db, "");
}

#[test]
fn postgres_statement_by_statement_step_failing_part_way_journals_the_committed_statements() {
    let Some(db) = ServerDb::postgres() else { return };
    ddl_step_fails_at_its_third_statement(&db, "    transaction: false\n");
}

/// Three statements outside a transaction; the second takes two seconds on the server.
const SLOW_SECOND: &str = r#"
version: 1
id: slow-second
plan:
  - id: three
    name: Three statements, one by one
    kind: sql
    transaction: false
    sql:
      postgres: |
        INSERT INTO log (id, note) VALUES (1, 'one');
        INSERT INTO log (id, note) SELECT 2, 'two' FROM (SELECT pg_sleep(2)) AS s;
        INSERT INTO log (id, note) VALUES (3, 'three');
      mysql: |
        INSERT INTO log (id, note) VALUES (1, 'one');
        INSERT INTO log (id, note) SELECT 2, 'two' FROM (SELECT SLEEP(2)) AS s;
        INSERT INTO log (id, note) VALUES (3, 'three');
"#;

/// Regression: a kill -9 while a server ran a statement of a step that commits one by one left
/// the journal showing it "not committed", and `resume --yes` ran it again with no question;
/// but the server finishes a statement whose client died and commits it, so it ran twice.
/// Resume now says the statement may have committed and leaves the decision to the operator.
fn kill_9_during_a_server_statement(db: &ServerDb) {
    let (t, run) = kill_9_during_statement_2(db);
    mariadb_resume_leaves_statement_2_to_the_operator(db, &t, &run);
}

/// Run [`SLOW_SECOND`] and kill it while the server runs statement 2; the test and the run folder.
fn kill_9_during_statement_2(db: &ServerDb) -> (Test, std::path::PathBuf) {
    let t = Test::new().runbook(SLOW_SECOND);
    db.exec("CREATE TABLE log (id int PRIMARY KEY, note varchar(20))");
    let mut child = t
        .command()
        .args(["run", "runbook.yaml", "--yes", "--runs-dir", "runs", "--db", &db.url()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill while statement 2 runs: statement 1 is journaled, statement 2 sleeps on the server.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        assert!(std::time::Instant::now() < deadline, "statement 1 never journaled");
        let journaled = t.dir.join("runs").exists()
            && t.run_dirs("runs")
                .pop()
                .is_some_and(|r| r.join("journal.jsonl").exists() && statement_indexes(&journal(&r), "three") == [0]);
        if journaled {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // …and until the server runs statement 2: on a busy machine the client may not have sent it
    // yet, and a kill then would leave nothing running on the server.
    let running = match db.server {
        crate::support::servers::Server::Mysql => {
            "SELECT count(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND DB = DATABASE() AND INFO LIKE '%SELECT 2, ''two''%'"
        }
        _ => "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database() AND state = 'active' AND query LIKE '%SELECT 2, ''two''%'",
    };
    while db.scalar(running) != "1" {
        assert!(std::time::Instant::now() < deadline, "statement 2 never reached the server");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let run = t.run_dirs("runs").pop().unwrap();
    (t, run)
}

fn mariadb_resume_leaves_statement_2_to_the_operator(db: &ServerDb, t: &Test, run: &std::path::Path) {
    // The server goes on with the statement of the dead client, and commits it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while db.rows("SELECT count(*) FROM log WHERE id = 2") != [["1"]] {
        assert!(std::time::Instant::now() < deadline, "the server did not finish statement 2");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(statement_indexes(&journal(run), "three"), [0], "statement 2 committed after the kill, unseen");
    let run_s = run.display().to_string();
    let out = t.exec(["resume", &run_s, "--yes"]);
    out.code(2)
        .stdout_has("stopped, part-way; its statements commit one by one, and the journal shows:\n  ✔ committed      1. INSERT INTO log (id, note) VALUES (1, 'one')\n  ? unknown        2. INSERT INTO log (id, note) SELECT 2, 'two' FROM (SELECT ")
        .stdout_has("  ✘ not committed  3. INSERT INTO log (id, note) VALUES (3, 'three')\n  statement 2 was running on the server when the run was killed: the server finishes a statement whose client died, so it may have committed\n")
        .stderr_has("step `three` was in flight when the run stopped, at statement 2 of 3, which may have committed on the server after the run was killed; --yes will not decide about it: check the database, then pass --rerun-in-flight to run the step again from statement 2, or resume interactively\n");
    // Nothing ran again: statement 3 is still to come, statement 2 once.
    assert_eq!(db.rows("SELECT id, note FROM log ORDER BY id"), [["1", "one"], ["2", "two"]]);
    // The operator who checked and wants it run again from statement 2 says so.
    db.exec("DELETE FROM log WHERE id = 2");
    let out = t.exec(["resume", &run_s, "--yes", "--rerun-in-flight"]);
    out.code(0);
    assert_eq!(db.rows("SELECT id, note FROM log ORDER BY id"), [["1", "one"], ["2", "two"], ["3", "three"]]);
    let j = journal(run);
    assert_eq!(
        events(&j, "run_resumed").last().unwrap()["decision"],
        "run again from statement 2 of 3 (--rerun-in-flight): statement(s) 1–1 are journaled committed and are not run again"
    );
    assert_eq!(statement_indexes(&j, "three"), [0, 1, 2]);
    t.exec(["audit", "verify", &run_s]).code(0);
}

/// PostgreSQL runs each row-writing statement of a `transaction: false` step in a transaction
/// block of its own (to learn its transaction id) and commits it only after the statement
/// returned: a kill while it runs rolls it back, so the journal's "not committed" is proof and
/// resume goes on from it without asking.
#[test]
fn postgres_kill_9_during_a_statement_in_its_own_block_rolls_it_back_and_resume_goes_on() {
    let Some(db) = ServerDb::postgres() else { return };
    let (t, run) = kill_9_during_statement_2(&db);
    // The dead client's session ends once the sleep is over, rolling statement 2 back.
    let gone = "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database() AND query LIKE '%SELECT 2, ''two''%'";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while db.scalar(gone) != "0" {
        assert!(std::time::Instant::now() < deadline, "the dead client's session never ended");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(db.rows("SELECT id, note FROM log ORDER BY id"), [["1", "one"]], "statement 2 was rolled back");
    let run_s = run.display().to_string();
    let out = t.exec(["resume", &run_s, "--yes"]);
    out.code(0)
        .stdout_has("stopped, part-way; its statements commit one by one, and the journal shows:\n  ✔ committed      1. INSERT INTO log (id, note) VALUES (1, 'one')\n  ✘ not committed  2. INSERT INTO log (id, note) SELECT 2, 'two' FROM (SELECT ")
        .stdout_has("  it resumes from statement 2 of 3\n");
    assert_eq!(db.rows("SELECT id, note FROM log ORDER BY id"), [["1", "one"], ["2", "two"], ["3", "three"]]);
    assert_eq!(statement_indexes(&journal(&run), "three"), [0, 1, 2]);
    t.exec(["audit", "verify", &run_s]).code(0);
}

#[test]
fn mariadb_kill_9_during_a_statement_leaves_it_to_the_operator_at_resume() {
    let Some(db) = ServerDb::mysql() else { return };
    kill_9_during_a_server_statement(&db);
}
