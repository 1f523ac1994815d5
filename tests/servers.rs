//! Every step kind against real PostgreSQL and real MariaDB: the seed runbook end to end
//! (plan, run, rollback), the run lock between two processes, lock-timeout retries behind a
//! blocking transaction, server-side fingerprints, typed query assertions and backups.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::servers::ServerDb;
use crate::support::{events, journal, Test, SEED};

/// The seed runbook's steps that need the application (command) or wall time (monitor).
const SEED_SKIPS: [&str; 6] = ["--skip", "data-sync-test", "--skip", "post-deployment-monitoring", "--skip", "monitor-after-rollback"];

fn sha256_file(p: &Path) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

/// The backup a run folder's journal records, checked against the file on disk.
#[track_caller]
fn assert_backup_matches_journal(run_dir: &Path, ext: &str) {
    let j = journal(run_dir);
    let b = events(&j, "backup");
    assert_eq!(b.len(), 1, "one backup event in {}", run_dir.display());
    let info = &b[0]["backup"];
    let path = Path::new(info["path"].as_str().unwrap());
    let path = if path.is_absolute() { path.to_path_buf() } else { run_dir.parent().unwrap().parent().unwrap().join(path) };
    assert!(path.is_file(), "backup {} exists", path.display());
    assert!(path.extension().is_some_and(|e| e == ext), "backup {} is a .{ext} file", path.display());
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "backup file mode");
    assert_eq!(meta.len(), info["size"].as_u64().unwrap(), "backup size matches the journal");
    assert_eq!(sha256_file(&path), info["sha256"].as_str().unwrap(), "backup sha256 matches the journal");
}

fn seed_plan_run_rollback(db: &ServerDb, run_url: &str, rollback_url: &str, ext: &str) {
    db.users(3000);
    let digest = db.data_digest();
    let t = Test::new();

    t.again(["plan", SEED, "--db", run_url])
        .run()
        .code(0)
        .stdout_has("nothing was written")
        .stdout_has("column all_users.pcc_user_uuid is absent");
    assert!(!db.has_column("all_users", "pcc_user_uuid"), "plan wrote nothing");

    t.again(["run", SEED, "--db", run_url, "--yes", "--runs-dir", "runs", "--operator", "alice"])
        .args(SEED_SKIPS)
        .run()
        .code(0)
        .stdout_has("succeeded");
    assert!(db.has_column("all_users", "pcc_user_uuid"), "column added");
    assert!(db.has_index("ux_all_users_pcc_user_uuid"), "unique index added");
    assert_eq!(db.data_digest(), digest, "existing data unchanged by the run");
    let dirs = t.run_dirs("runs");
    assert_eq!(dirs.len(), 1);
    assert_backup_matches_journal(&dirs[0], ext);
    let j = journal(&dirs[0]);
    let failed: Vec<_> = events(&j, "assertion").into_iter().filter(|a| a["passed"] == false).collect();
    assert!(failed.is_empty(), "failed assertions: {failed:?}");

    t.again(["rollback", SEED, "--db", rollback_url, "--yes", "--runs-dir", "runs", "--operator", "alice"])
        .args(SEED_SKIPS)
        .run()
        .code(0)
        .stdout_has("schema equals the snapshot")
        .stdout_has("succeeded");
    assert!(!db.has_column("all_users", "pcc_user_uuid"), "column dropped");
    assert!(!db.has_index("ux_all_users_pcc_user_uuid"), "index dropped");
    assert_eq!(db.data_digest(), digest, "existing data unchanged after the rollback");
    let dirs = t.run_dirs("runs");
    assert_eq!(dirs.len(), 2);
    assert_backup_matches_journal(&dirs[1], ext);
}

#[test]
fn postgres_seed_runbook_plan_run_and_rollback() {
    let Some(db) = ServerDb::postgres() else { return };
    seed_plan_run_rollback(&db, &db.url(), &db.url_as("postgresql"), "dump");
}

#[test]
fn mariadb_seed_runbook_plan_run_and_rollback() {
    let Some(db) = ServerDb::mysql() else { return };
    seed_plan_run_rollback(&db, &db.url_as("mariadb"), &db.url(), "sql");
}

const HOLD_LOCK: &str = r#"
version: 1
id: hold-lock
plan:
  - id: watch
    name: Watch for a while
    kind: monitor
    duration: 60s
    interval: 1s
    checks:
      - name: users
        query: SELECT count(*) FROM all_users
        min: 0
rollback:
  - id: look
    name: Look
    kind: verify
    queries:
      - sql: SELECT count(*) FROM all_users
        op: ">="
        expect: 0
"#;

/// Start a run that holds the lock; returns the child and its run id once the lock is held.
#[allow(clippy::zombie_processes)] // the caller owns the child and waits for it
fn start_holder(t: &Test, url: &str) -> (std::process::Child, String) {
    let mut c = t.command();
    c.args(["run", "runbook.yaml", "--db", url, "--yes", "--runs-dir", "held", "--operator", "alice"]);
    c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = c.spawn().expect("spawn the holder");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(dir) = t.run_dirs("held").first() {
            if let Ok(text) = std::fs::read_to_string(dir.join("journal.jsonl")) {
                if text.contains("\"lock_acquired\"") {
                    return (child, dir.file_name().unwrap().to_string_lossy().into_owned());
                }
            }
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the holder never took the lock");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn second_operator_is_refused(db: &ServerDb, url: &str) {
    db.users(100);
    let t = Test::new().runbook(HOLD_LOCK);
    let (mut holder, run_id) = start_holder(&t, url);
    let started = Instant::now();
    let second =
        t.command().args(["run", "runbook.yaml", "--db", url, "--yes", "--runs-dir", "second", "--operator", "bob"]).output().unwrap();
    let rollback =
        t.command().args(["rollback", "runbook.yaml", "--db", url, "--yes", "--runs-dir", "second", "--operator", "bob"]).output().unwrap();
    let quick = started.elapsed();
    let _ = holder.kill();
    let _ = holder.wait();
    for out in [&second, &rollback] {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "a second operator exits 2\n{err}");
        assert!(err.contains(&run_id), "names the holder's run id {run_id}: {err}");
        assert!(err.contains("operator alice"), "names the holder's operator: {err}");
        assert!(err.contains("started 2"), "names the holder's start time: {err}");
    }
    assert!(quick < Duration::from_secs(10), "refused at once, not after waiting ({quick:?})");
    assert!(t.run_dirs("second").is_empty(), "a refused run leaves no run folder");
    // The holder died without unlocking: the server dropped its lock with its connections.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = t.again(["rollback", "runbook.yaml", "--db", url, "--yes", "--runs-dir", "third"]).run();
        if out.code == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the lock outlived its holder:\n{}", out.all());
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn postgres_second_run_is_refused_while_the_first_holds_the_lock() {
    let Some(db) = ServerDb::postgres() else { return };
    second_operator_is_refused(&db, &db.url());
}

#[test]
fn mariadb_second_run_is_refused_while_the_first_holds_the_lock() {
    let Some(db) = ServerDb::mysql() else { return };
    second_operator_is_refused(&db, &db.url_as("mariadb"));
}

fn add_column_runbook(lock_timeout: &str, retries: u32) -> String {
    format!(
        r#"
version: 1
id: add-column-under-load
plan:
  - id: add
    name: Add a column
    kind: sql
    lock_timeout: {lock_timeout}
    lock_retries: {retries}
    sql: ALTER TABLE all_users ADD COLUMN extra VARCHAR(10) NULL
"#
    )
}

fn lock_timeout_retried_until_blocker_ends(db: &ServerDb, lock_timeout: &str, hold: Duration) {
    db.users(100);
    let t = Test::new().runbook(&add_column_runbook(lock_timeout, 8));
    let blocker = db.blocker(hold);
    let out = t.again(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]).run();
    blocker.join().unwrap();
    out.code(0);
    assert!(db.has_column("all_users", "extra"), "the column was added once the blocker let go");
    let j = journal(&t.run_dirs("runs")[0]);
    let retried: Vec<_> =
        events(&j, "info").into_iter().filter(|e| e["message"].as_str().unwrap_or("").contains("retried with backoff")).collect();
    assert_eq!(retried.len(), 1, "the journal records the retries: {j:?}");
}

fn lock_timeout_fails_cleanly_after_retries(db: &ServerDb, lock_timeout: &str, bound: Duration) {
    db.users(100);
    let t = Test::new().runbook(&add_column_runbook(lock_timeout, 1));
    let blocker = db.blocker(Duration::from_secs(12));
    let started = Instant::now();
    let out = t.again(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]).run();
    let took = started.elapsed();
    out.code(1).stdout_has("retries exhausted");
    assert!(took < bound, "gave up after its retries ({took:?}), not when the blocker ended");
    assert!(!db.has_column("all_users", "extra"), "nothing changed");
    blocker.join().unwrap();
}

#[test]
fn postgres_lock_timeout_is_retried_until_the_blocker_ends() {
    let Some(db) = ServerDb::postgres() else { return };
    lock_timeout_retried_until_blocker_ends(&db, "200ms", Duration::from_millis(1500));
}

#[test]
fn mariadb_lock_timeout_is_retried_until_the_blocker_ends() {
    let Some(db) = ServerDb::mysql() else { return };
    lock_timeout_retried_until_blocker_ends(&db, "1s", Duration::from_millis(2500));
}

#[test]
fn postgres_lock_timeout_fails_cleanly_after_its_retries() {
    let Some(db) = ServerDb::postgres() else { return };
    lock_timeout_fails_cleanly_after_retries(&db, "300ms", Duration::from_secs(8));
}

#[test]
fn mariadb_lock_timeout_fails_cleanly_after_its_retries() {
    let Some(db) = ServerDb::mysql() else { return };
    lock_timeout_fails_cleanly_after_retries(&db, "1s", Duration::from_secs(9));
}

/// A runbook that changes existing data with `update`, then checks that it did not.
fn touch_then_validate(update: &str) -> String {
    format!(
        r#"
version: 1
id: touch-a-row
plan:
  - id: touch
    name: Touch one row
    kind: sql
    sql: {update}
  - id: check
    name: Existing data unchanged
    kind: validate
    tables: [all_users]
"#
    )
}

/// A NULL turned into '' must change the fingerprint: the row text keeps them apart.
fn fingerprint_catches_null_becoming_empty(db: &ServerDb, url: &str) {
    db.users(2000);
    let t = Test::new().runbook(&touch_then_validate("UPDATE all_users SET name = '' WHERE id = 9"));
    let out = t.again(["run", "runbook.yaml", "--db", url, "--yes", "--runs-dir", "runs"]).run();
    out.code(1).stdout_has("all_users row count: 2000").stdout_has("content hash");
    let j = journal(&t.run_dirs("runs")[0]);
    let hash = events(&j, "assertion").into_iter().find(|a| a["check"].as_str().unwrap().contains("content hash")).cloned().unwrap();
    assert_eq!(hash["passed"], false, "{hash}");
    assert_ne!(hash["expected"], hash["actual"]);
}

#[test]
fn postgres_fingerprint_catches_a_null_becoming_empty() {
    let Some(db) = ServerDb::postgres() else { return };
    fingerprint_catches_null_becoming_empty(&db, &db.url());
}

#[test]
fn mariadb_fingerprint_catches_a_null_becoming_empty() {
    let Some(db) = ServerDb::mysql() else { return };
    fingerprint_catches_null_becoming_empty(&db, &db.url());
}

/// A table without a primary key may hold equal rows: changing a pair of them into another
/// equal pair must still change the fingerprint (an XOR of row hashes would not notice).
#[test]
fn mariadb_fingerprint_of_a_table_without_a_key_counts_equal_rows() {
    let Some(db) = ServerDb::mysql() else { return };
    db.exec("CREATE TABLE events_log(kind VARCHAR(20), n INT); INSERT INTO events_log VALUES ('a', 1), ('a', 1), ('b', 2)");
    let rb = r#"
version: 1
id: equal-rows
plan:
  - id: touch
    name: Turn the two equal rows into two other equal rows
    kind: sql
    sql: UPDATE events_log SET kind = 'c', n = 3 WHERE kind = 'a'
  - id: check
    name: Existing data unchanged
    kind: validate
    tables: [events_log]
"#;
    let t = Test::new().runbook(rb);
    let out = t.again(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]).run();
    out.code(1).stdout_has("table events_log: content hash");
}

/// The fingerprint of the test's `all_users` as one query computes it: the sum modulo 2^64 of
/// the first 64 bits of each row's MD5.
fn mariadb_one_query_hash(db: &ServerDb) -> String {
    let sum = db.scalar(
        "SELECT SUM(CAST(CONV(LEFT(MD5(CONCAT_WS(0x1f, `id`, `email`, `name`, ISNULL(`name`))), 16), 16, 10) AS UNSIGNED)) FROM all_users",
    );
    format!("{:016x}", sum.parse::<u128>().unwrap() as u64)
}

/// An identical flip in an even number of rows changes the fingerprint: with an affine row hash
/// (CRC32) combined by XOR the two changes cancel out.
fn mariadb_flip_is_caught(ids: &str) {
    let Some(db) = ServerDb::mysql() else { return };
    db.exec(
        "CREATE TABLE all_users(id int PRIMARY KEY, email varchar(255) NOT NULL, is_active tinyint NOT NULL);
         INSERT INTO all_users SELECT seq, CONCAT('u', seq, '@example.org'), seq % 2 FROM seq_1_to_3000;",
    );
    let t = Test::new().runbook(&touch_then_validate(&format!("UPDATE all_users SET is_active = 1 - is_active WHERE {ids}")));
    let out = t.again(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]).run();
    out.code(1).stdout_has("all_users row count: 3000").stdout_has("table all_users: content hash");
    let j = journal(&t.run_dirs("runs")[0]);
    let hash = events(&j, "assertion").into_iter().find(|a| a["check"].as_str().unwrap().contains("content hash")).cloned().unwrap();
    assert_eq!(hash["passed"], false, "{hash}");
    let (before, after) = (hash["expected"].as_str().unwrap(), hash["actual"].as_str().unwrap());
    assert_eq!((before.len(), after.len()), (16, 16), "{hash}");
    // The failure message carries both whole hashes, not a prefix.
    out.stdout_has(&format!("content hash {before} → {after}"));
}

#[test]
fn mariadb_fingerprint_catches_a_two_row_flip() {
    mariadb_flip_is_caught("id IN (2, 3)");
}

#[test]
fn mariadb_fingerprint_catches_a_thousand_row_flip() {
    mariadb_flip_is_caught("id <= 1000");
}

/// Regression: the MariaDB row text is the values joined by U+001F, and a value holding U+001F
/// made it ambiguous: moving text across it from one column to the next (`('Bo<US>Van', 'Dyke')`
/// → `('Bo', 'Van<US>Dyke')`) left every row hash equal, and validate passed. A value holding
/// the separator is escaped; a table without one keeps its hash (the one-query reference above).
#[test]
fn mariadb_fingerprint_catches_text_moved_across_the_separator() {
    let Some(db) = ServerDb::mysql() else { return };
    db.exec(
        "CREATE TABLE all_users(id int PRIMARY KEY, email varchar(255) NOT NULL, name varchar(255));
         INSERT INTO all_users VALUES (1, 'a@example.org', 'Ann'), (2, CONCAT('bo', 0x1f, 'van'), 'dyke'), (3, 'c@example.org', NULL);",
    );
    let t = Test::new().runbook(&touch_then_validate("UPDATE all_users SET email = 'bo', name = CONCAT('van', 0x1f, 'dyke') WHERE id = 2"));
    let out = t.again(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]).run();
    out.code(1).stdout_has("all_users row count: 3").stdout_has(
        "  ✘ failed: existing data changed or reports broke: table all_users: content hash 5c381c81ab50e097 → 3b5e73bbabccfc28 (same 3 rows); column email differs in 1 key range(s) (id 2); column name differs in 1 key range(s) (id 2) — the change can write column email, name (UPDATE all_users SET email = 'bo', name = CONCAT('van', 0x1f, 'dyke') WHERE id …); decided by statement analysis\n",
    );
    assert_eq!(db.scalar("SELECT HEX(name) FROM all_users WHERE id = 2"), "76616E1F64796B65");
}

/// Large MariaDB tables are fingerprinted as primary-key ranges on parallel connections. The
/// combined hash must equal the single query's, and a change in the last range must show.
#[test]
fn mariadb_fingerprint_split_into_key_ranges_matches_one_query() {
    let Some(db) = ServerDb::mysql() else { return };
    db.users(300_000);
    db.exec("ANALYZE TABLE all_users");
    let estimate: u64 = db
        .scalar("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'all_users'")
        .parse()
        .unwrap();
    assert!(estimate >= 200_000, "the server estimates {estimate} rows: too few to take the parallel path");
    let want_hash = mariadb_one_query_hash(&db);
    let t = Test::new().runbook(&touch_then_validate("UPDATE all_users SET email = 'moved@example.org' WHERE id = 299999"));
    let out = t.again(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]).run();
    out.code(1).stdout_has("all_users row count: 300000").stdout_has("table all_users: content hash");
    let j = journal(&t.run_dirs("runs")[0]);
    let base = &events(&j, "fingerprint_baseline")[0]["fingerprints"][0];
    assert_eq!(base["rows"], 300_000);
    assert_eq!(base["hash"], want_hash.as_str(), "parallel fingerprint differs from the single query");
    assert_eq!(db.scalar("SELECT email FROM all_users WHERE id = 299999"), "moved@example.org");
}

/// A MariaDB account allowed only the connections a run itself needs (query, lock, lock
/// announcer) still gets its fingerprint: the split falls back to the single query.
#[test]
fn mariadb_fingerprint_with_no_spare_connections_falls_back_to_one_query() {
    let Some(db) = ServerDb::mysql() else { return };
    db.users(300_000);
    db.exec("ANALYZE TABLE all_users");
    let user = format!("{}_u", db.name);
    struct DropUser<'a>(&'a ServerDb, String);
    impl Drop for DropUser<'_> {
        fn drop(&mut self) {
            self.0.exec(&format!("DROP USER IF EXISTS '{}'@'%'", self.1));
        }
    }
    db.exec(&format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'pw' WITH MAX_USER_CONNECTIONS 3"));
    let _cleanup = DropUser(&db, user.clone());
    db.exec(&format!("GRANT ALL ON `{}`.* TO '{user}'@'%'", db.name));
    let url = db.url().replacen("://root@", &format!("://{user}:pw@"), 1);
    assert_ne!(url, db.url(), "the test URL names root");
    let want_hash = mariadb_one_query_hash(&db);
    let t =
        Test::new().runbook("version: 1\nid: fp\nplan:\n  - id: check\n    name: Unchanged\n    kind: validate\n    tables: [all_users]\n");
    t.again(["run", "runbook.yaml", "--db", &url, "--yes", "--runs-dir", "runs"]).run().code(0).stdout_has("all_users row count: 300000");
    let j = journal(&t.run_dirs("runs")[0]);
    let base = &events(&j, "fingerprint_baseline")[0]["fingerprints"][0];
    assert_eq!(base["hash"], want_hash.as_str());
}

/// Regression: a UNIQUE NOT NULL key added to a table without a primary key made MariaDB call
/// its column "PRI", so the validate step hashed differently from the baseline and failed a
/// change that touched no data.
#[test]
fn mariadb_validate_passes_when_a_unique_key_is_added_to_a_keyless_table() {
    let Some(db) = ServerDb::mysql() else { return };
    db.exec("CREATE TABLE contacts(email VARCHAR(50) NOT NULL, n INT); INSERT INTO contacts VALUES ('a@x', 1), ('b@x', 2), ('c@x', NULL)");
    let t = Test::new().runbook(
        r#"
version: 1
id: unique-key
plan:
  - id: key
    name: Add a unique key
    kind: sql
    sql: ALTER TABLE contacts ADD UNIQUE KEY contacts_email (email)
  - id: check
    name: Existing data unchanged
    kind: validate
    tables: [contacts]
"#,
    );
    t.again(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]).run().code(0).stdout_has("contacts row count: 3");
    assert!(db.has_index("contacts_email"), "the key was added");
}

/// Query assertions on types the `Any` driver cannot decode compare as the server's text.
fn query_assertions_read_any_type(db: &ServerDb, queries: &str) {
    db.users(10);
    let rb = format!(
        r#"
version: 1
id: types
plan:
  - id: types
    name: Typed answers
    kind: verify
    schema:
      - table: all_users
        column: email
        nullable: false
      - table: all_users
        column: name
        nullable: true
    queries:
{queries}
"#
    );
    let t = Test::new().runbook(&rb);
    let out = t.again(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]).run();
    out.code(0).lacks("✘");
    let j = journal(&t.run_dirs("runs")[0]);
    assert!(events(&j, "assertion").len() >= 5, "every assertion is recorded");
}

#[test]
fn postgres_query_assertions_read_any_type() {
    let Some(db) = ServerDb::postgres() else { return };
    query_assertions_read_any_type(
        &db,
        r#"      - sql: SELECT 1.50::numeric(5,2)
        expect: 1.5
      - sql: SELECT DATE '2024-01-02'
        expect: "2024-01-02"
      - sql: SELECT count(*) > 0 FROM all_users
        expect: "true"
      - sql: SELECT name FROM all_users WHERE id = 9
        expect: null
      - sql: SELECT '11111111-2222-3333-4444-555555555555'::uuid
        expect: 11111111-2222-3333-4444-555555555555
      - sql: SELECT name FROM all_users WHERE id = 1
        expect: Zoë Ñúñez 1"#,
    );
}

#[test]
fn mariadb_query_assertions_read_any_type() {
    let Some(db) = ServerDb::mysql() else { return };
    query_assertions_read_any_type(
        &db,
        r#"      - sql: SELECT CAST(1.50 AS DECIMAL(5,2))
        expect: 1.5
      - sql: SELECT CAST('2024-01-02' AS DATE)
        expect: "2024-01-02"
      - sql: SELECT count(*) > 0 FROM all_users
        expect: 1
      - sql: SELECT name FROM all_users WHERE id = 9
        expect: null
      - sql: SELECT name FROM all_users WHERE id = 1
        expect: Zoë Ñúñez 1"#,
    );
}

const BACKUP_ONLY: &str = r#"
version: 1
id: backup-only
plan:
  - id: backup
    name: Backup
    kind: backup
"#;

/// The backup's evidence names the program that made it. A pg_dump on PATH is used as found;
/// Debian's version-choosing wrapper is bypassed for the real program it would have started.
#[test]
fn postgres_backup_names_the_pg_dump_it_ran() {
    let Some(db) = ServerDb::postgres() else { return };
    db.users(10);
    let t = Test::new().runbook(BACKUP_ONLY);
    let method = |runs: &str| {
        let j = journal(&t.run_dirs(runs)[0]);
        events(&j, "backup")[0]["backup"]["method"].as_str().unwrap().to_string()
    };
    let on_path = which::which("pg_dump").expect("pg_dump on PATH");
    let real = |name: &str| -> std::path::PathBuf {
        let found = which::which(name).unwrap();
        if std::fs::canonicalize(&found).unwrap().ends_with("pg_wrapper") {
            let major = db.scalar("SHOW server_version_num").parse::<u32>().unwrap() / 10000;
            std::path::PathBuf::from(format!("/usr/lib/postgresql/{major}/bin/{name}"))
        } else {
            std::fs::canonicalize(found).unwrap()
        }
    };
    let tools = t.dir.join("tools");
    std::fs::create_dir(&tools).unwrap();
    for name in ["pg_dump", "pg_restore"] {
        std::os::unix::fs::symlink(real(name), tools.join(name)).unwrap();
    }
    t.again(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "own"]).env("PATH", tools.to_str().unwrap()).run().code(0);
    let own = method("own");
    assert!(own.starts_with(&format!("pg_dump -Fc ({}: pg_dump (PostgreSQL) ", tools.join("pg_dump").display())), "{own}");
    if std::fs::canonicalize(&on_path).unwrap().ends_with("pg_wrapper") {
        t.again(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "debian"]).run().code(0);
        let debian = method("debian");
        assert!(debian.starts_with("pg_dump -Fc (/usr/lib/postgresql/") && debian.contains("/bin/pg_dump: "), "{debian}");
    }
}

/// Without the dump tool the step fails with a clear message and leaves no partial file.
fn backup_without_dump_tool(db: &ServerDb, tool: &str) {
    db.users(10);
    let t = Test::new().runbook(BACKUP_ONLY);
    let empty = t.dir.join("no-tools");
    std::fs::create_dir(&empty).unwrap();
    // plan says so before anyone starts the change …
    t.again(["plan", "runbook.yaml", "--db", &db.url()])
        .env("PATH", empty.to_str().unwrap())
        .run()
        .code(0)
        .stdout_has(&format!("precheck: ✘ {tool}"))
        .stdout_has("the backup step will fail");
    // … and with the tools on PATH it names the one it will use.
    t.again(["plan", "runbook.yaml", "--db", &db.url()]).run().code(0).stdout_has("matches the server");
    let out = t.again(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]).env("PATH", empty.to_str().unwrap()).run();
    out.code(1).stdout_has(&format!("{tool} is"));
    let dir = &t.run_dirs("runs")[0];
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "journal.jsonl" && !n.starts_with("report."))
        .collect();
    assert!(leftovers.is_empty(), "no partial backup or option file is left: {leftovers:?}");
}

#[test]
fn postgres_backup_without_pg_dump_fails_clearly() {
    let Some(db) = ServerDb::postgres() else { return };
    backup_without_dump_tool(&db, "pg_dump");
}

#[test]
fn mariadb_backup_without_dump_tool_fails_clearly() {
    let Some(db) = ServerDb::mysql() else { return };
    backup_without_dump_tool(&db, "neither mariadb-dump nor mysqldump");
}

/// `plan` connects read-only: even a statement it would run cannot write.
#[test]
fn postgres_plan_is_read_only() {
    let Some(db) = ServerDb::postgres() else { return };
    db.users(10);
    let rb = r#"
version: 1
id: read-only
plan:
  - id: write
    name: Write
    kind: sql
    sql: INSERT INTO all_users VALUES (100000, 'x@example.org', NULL)
"#;
    let t = Test::new().runbook(rb);
    t.again(["plan", "runbook.yaml", "--db", &db.url()]).run().code(0);
    assert_eq!(db.scalar("SELECT count(*) FROM all_users"), "10");
}

/// Regression: the backup guard let these through on PostgreSQL. A backslash before a quote
/// glued `DELETE FROM acct` to the UPDATE before it, and DROP SCHEMA, an aliased UPDATE and a
/// DELETE inside WITH were not known as destructive.
#[test]
fn postgres_backup_guard_sees_every_shape_of_destruction() {
    let Some(db) = ServerDb::postgres() else { return };
    db.exec(
        "CREATE SCHEMA app; CREATE TABLE app.keep(id int); CREATE TABLE acct(id int, bal int); INSERT INTO acct VALUES (1, 10), (2, 20)",
    );
    for (i, sql) in [
        "UPDATE acct SET bal = 0 WHERE id = 99 AND 'C:\\' <> '';\nDELETE FROM acct;",
        "DROP SCHEMA app CASCADE",
        "UPDATE acct AS a SET bal = 0",
        "WITH d AS (DELETE FROM acct RETURNING 1) SELECT count(*) FROM d",
    ]
    .iter()
    .enumerate()
    {
        let t = Test::new().runbook(&format!(
            "version: 1\nid: guard-{i}\nplan:\n  - id: change\n    name: Change\n    kind: sql\n    sql: |\n      {}\n",
            sql.replace('\n', "\n      ")
        ));
        t.again(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]).run().code(1).stdout_has("backup guard");
        assert_eq!(db.scalar("SELECT count(*) FROM acct WHERE bal > 0"), "2", "{sql} changed data");
        assert!(
            db.has_table("app.keep") || db.scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'app'") == "1",
            "{sql} dropped the schema"
        );
    }
}

/// PostgreSQL says which key collided only in DETAIL; the failure must carry it.
#[test]
fn postgres_failure_shows_the_servers_detail() {
    let Some(db) = ServerDb::postgres() else { return };
    db.exec("CREATE TABLE t(id int PRIMARY KEY); INSERT INTO t VALUES (1)");
    let t = Test::new()
        .runbook("version: 1\nid: dup\nplan:\n  - id: ins\n    name: Insert\n    kind: sql\n    sql: INSERT INTO t VALUES (1)\n");
    t.again(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"])
        .run()
        .code(1)
        .stdout_has("detail: Key (id)=(1) already exists")
        .stdout_has("nothing changed");
    let j = journal(&t.run_dirs("runs")[0]);
    let f = &events(&j, "step_finished")[0];
    assert!(f["error"].as_str().unwrap().contains("Key (id)=(1) already exists"), "{f}");
}

fn statement_evidence_is_exact(db: &ServerDb) {
    db.users(1000);
    let t = Test::new().runbook(crate::sqlite::UPDATE_THEN_DDL);
    crate::sqlite::statement_evidence_is_exact(&t, &db.url());
    assert_eq!(db.scalar("SELECT count(*) FROM all_users WHERE email = 'moved@example.org'"), "750");
}

#[test]
fn postgres_ddl_after_an_update_records_no_row_count() {
    let Some(db) = ServerDb::postgres() else { return };
    statement_evidence_is_exact(&db);
}

#[test]
fn mariadb_ddl_after_an_update_records_no_row_count() {
    let Some(db) = ServerDb::mysql() else { return };
    statement_evidence_is_exact(&db);
}

/// A report query's result is journaled as a capped table of text (NULL kept apart), and every
/// report shows it: the evidence says what the query returned, not only how many rows.
fn report_query_rows_are_journaled_and_reported(db: &ServerDb) {
    db.exec("CREATE TABLE rq (id INT, label VARCHAR(20)); INSERT INTO rq VALUES (1, 'one'), (2, NULL), (3, 'three')");
    for i in 4..=30 {
        db.exec(&format!("INSERT INTO rq VALUES ({i}, 'n{i}')"));
    }
    let t = Test::new().runbook(
        "version: 1\nid: rq\nplan:\n  - id: check\n    name: Check\n    kind: validate\n    report_queries:\n      - name: labels\n        sql: SELECT id, label FROM rq ORDER BY id\n",
    );
    t.again(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]).run().code(0);
    let dir = t.run_dirs("runs").pop().unwrap();
    let j = crate::support::journal(&dir);
    let q = crate::support::events(&j, "report_query");
    assert_eq!(q.len(), 1, "one report query event");
    let result = &q[0]["result"];
    assert_eq!(result["total"], 30);
    assert_eq!(result["rows"].as_array().unwrap().len(), 20, "capped at 20 rows");
    assert_eq!(result["rows"][0], serde_json::json!(["1", "one"]));
    assert_eq!(result["rows"][1], serde_json::json!(["2", null]));
    assert_eq!(result["columns"][1].as_str().unwrap().to_lowercase(), "label");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("| `3` | `three` |"), "{md}");
    assert!(md.contains("| `2` | NULL |"), "SQL NULL is the word, outside code: {md}");
    assert!(md.contains("first 20 of 30 rows"), "{md}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<td><code>three</code></td>"), "the HTML report shows the rows");
}

#[test]
fn postgres_report_query_rows() {
    let Some(db) = ServerDb::postgres() else { return };
    report_query_rows_are_journaled_and_reported(&db);
}

#[test]
fn mariadb_report_query_rows() {
    let Some(db) = ServerDb::mysql() else { return };
    report_query_rows_are_journaled_and_reported(&db);
}
