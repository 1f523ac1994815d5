//! The whole-schema snapshot on all three engines: `rehearse` names every object a rollback
//! leaves different (a function left behind, a trigger's timing, a comment, a grant, an index
//! predicate), a faithful rollback still compares equal, the schema assertions for functions,
//! triggers, constraints, grants and index definitions pass and fail, and
//! `no_dependents_except` counts CHECK and FOREIGN KEY constraints.

use crate::support::db::SqliteFile;
use crate::support::servers::ServerDb;
use crate::support::{events, journal, Test};

/// A target of any engine, with SQL run directly on it.
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

    fn scalar(&self, sql: &str) -> String {
        match self {
            Db::Sqlite(f) => f.scalar(sql),
            Db::Server(s) => s.scalar(sql),
        }
    }
}

/// A runbook whose change is `change` and whose rollback is `undo`.
fn round_trip(change: &str, undo: &str) -> String {
    let indent = |s: &str| s.lines().map(|l| format!("      {l}\n")).collect::<String>();
    format!(
        "version: 1\nid: schema-round-trip\nplan:\n  - id: backup\n    name: Backup\n    kind: backup\n  - id: change\n    name: Change\n    kind: sql\n    sql: |\n{}rollback:\n  - id: backup-again\n    name: Backup\n    kind: backup\n  - id: undo\n    name: Undo\n    kind: sql\n    sql: |\n{}",
        indent(change),
        indent(undo)
    )
}

/// Rehearse `change` + `undo` on `db`; returns the verdict's differences and the output.
fn rehearse(db: &Db, change: &str, undo: &str, code: i32) -> (Vec<String>, String) {
    let t = Test::new().runbook(&round_trip(change, undo));
    let out = t.exec(["rehearse", "runbook.yaml", "--db", &db.url(), "--runs-dir", "runs"]);
    out.code(code);
    let j = journal(&t.run_dirs("runs")[0]);
    let v = &events(&j, "rehearsal_verdict")[0];
    let diffs = v["differences"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect();
    (diffs, out.stdout.clone())
}

#[track_caller]
fn assert_differences(got: &[String], want: &[&str]) {
    let want: Vec<String> = want.iter().map(|w| format!("schema: {w}")).collect();
    assert_eq!(got, want.as_slice(), "differences");
}

const PG_SETUP: &str = "CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL CHECK (qty >= 0), note text); \
    COMMENT ON TABLE items IS 'stock items'; \
    CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := coalesce(NEW.note, ''); RETURN NEW; END $$; \
    CREATE TRIGGER items_touch BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION touch(); \
    INSERT INTO items VALUES (1, 5, 'a'), (2, 0, NULL)";

const PG_CHANGE: &str = "ALTER TABLE items ADD COLUMN price numeric(10,2);
CREATE FUNCTION price_of(i int) RETURNS numeric LANGUAGE sql AS $$ SELECT price FROM items WHERE id = i $$;";

#[test]
fn postgres_rehearsal_names_every_object_a_rollback_leaves_different() {
    let Some(db) = ServerDb::postgres() else { return };
    let db = Db::Server(db);
    db.exec(PG_SETUP);
    let faithful = "DROP FUNCTION price_of(int);\nALTER TABLE items DROP COLUMN price;";
    let (diffs, out) = rehearse(&db, PG_CHANGE, faithful, 0);
    assert!(diffs.is_empty(), "{diffs:?}\n{out}");
    assert!(out.contains("schema after plan + rollback: equal to the original"), "{out}");

    let careless = "ALTER TABLE items DROP COLUMN price;
DROP TRIGGER items_touch ON items;
CREATE TRIGGER items_touch AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION touch();
COMMENT ON TABLE items IS NULL;
GRANT SELECT ON items TO PUBLIC;
CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;";
    let (diffs, out) = rehearse(&db, PG_CHANGE, careless, 1);
    assert_differences(
        &diffs,
        &[
            "~ function touch(): body differs",
            "+ function price_of(i integer) was added",
            "~ table items: comment stock items → none",
            "~ table items: grants none → =r/postgres, postgres=arwdDxt/postgres",
            "~ trigger items_touch on items: function body differs",
            "~ trigger items_touch on items: timing BEFORE → AFTER",
        ],
    );
    assert!(out.contains("trigger items_touch on items: timing BEFORE → AFTER"), "{out}");
    // The target itself was never touched.
    assert_eq!(db.scalar("SELECT count(*) FROM pg_proc WHERE proname = 'price_of'"), "0");
}

const MY_CHANGE: &str = "ALTER TABLE items ADD COLUMN price DECIMAL(10,2);
CREATE FUNCTION price_of(i INT) RETURNS DECIMAL(10,2) READS SQL DATA RETURN (SELECT price FROM items WHERE id = i);";

#[test]
fn mariadb_rehearsal_names_every_object_a_rollback_leaves_different() {
    let Some(server) = ServerDb::mysql() else { return };
    let user = format!("{}_reader", server.name);
    let db = Db::Server(server);
    db.exec("CREATE TABLE items (id INT PRIMARY KEY, qty INT NOT NULL CHECK (qty >= 0), note TEXT) COMMENT 'stock items'");
    db.exec("CREATE TRIGGER items_touch BEFORE INSERT ON items FOR EACH ROW SET NEW.note = COALESCE(NEW.note, '')");
    db.exec("INSERT INTO items VALUES (1, 5, 'a'), (2, 0, NULL)");
    db.exec(&format!("CREATE USER '{user}'@'%'"));
    let faithful = "DROP FUNCTION price_of;\nALTER TABLE items DROP COLUMN price;";
    let (diffs, out) = rehearse(&db, MY_CHANGE, faithful, 0);
    assert!(diffs.is_empty(), "{diffs:?}\n{out}");

    let careless = format!(
        "ALTER TABLE items DROP COLUMN price;
DROP TRIGGER items_touch;
CREATE TRIGGER items_touch AFTER INSERT ON items FOR EACH ROW SET @seen = NEW.id;
ALTER TABLE items COMMENT = '';
GRANT SELECT ON items TO '{user}'@'%';"
    );
    let (diffs, _) = rehearse(&db, MY_CHANGE, &careless, 1);
    db.exec(&format!("DROP USER '{user}'@'%'"));
    assert_differences(
        &diffs,
        &[
            "+ function price_of(i int(11)) was added",
            "~ table items: comment stock items → none",
            &format!("~ table items: grants none → '{user}'@'%' SELECT"),
            "~ trigger items_touch on items: body differs",
            // The trigger was made in another session, whose sql_mode the server stored with it.
            "~ trigger items_touch on items: sql mode differs",
            "~ trigger items_touch on items: timing BEFORE → AFTER",
        ],
    );
}

#[test]
fn sqlite_rehearsal_names_a_trigger_timing_and_an_index_predicate() {
    let t = Test::new();
    let db = Db::Sqlite(SqliteFile::users(t.dir.path(), 5));
    db.exec("CREATE TABLE items (id INTEGER PRIMARY KEY, qty INT NOT NULL CHECK (qty >= 0), note TEXT)");
    db.exec("CREATE TRIGGER items_touch BEFORE INSERT ON items BEGIN SELECT 1; END");
    db.exec("CREATE INDEX ix_items_qty ON items (qty) WHERE qty > 0");
    let change = "DROP INDEX ix_items_qty;\nALTER TABLE items ADD COLUMN price NUMERIC;";
    let faithful = "ALTER TABLE items DROP COLUMN price;\nCREATE INDEX ix_items_qty ON items (qty) WHERE qty > 0;";
    let (diffs, out) = rehearse(&db, change, faithful, 0);
    assert!(diffs.is_empty(), "{diffs:?}\n{out}");
    let careless = "ALTER TABLE items DROP COLUMN price;
CREATE INDEX ix_items_qty ON items (qty) WHERE qty > 1;
DROP TRIGGER items_touch;
CREATE TRIGGER items_touch AFTER INSERT ON items BEGIN SELECT 1; END;";
    let (diffs, _) = rehearse(&db, change, careless, 1);
    assert_differences(
        &diffs,
        &[
            "~ index ix_items_qty: definition CREATE INDEX ix_items_qty ON items (qty) WHERE qty > 0 → CREATE INDEX ix_items_qty ON items (qty) WHERE qty > 1",
            "~ trigger items_touch on items: timing BEFORE → AFTER",
        ],
    );
}

/// Run a verify step of `items` on `db`: every item passes.
fn assertions_pass(db: &Db, items: &[&str]) {
    let t = Test::new().runbook(&verify(items));
    let out = t.exec(["run", "runbook.yaml", "--yes", "--db", &db.url(), "--runs-dir", "runs"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let j = journal(&t.run_dirs("runs")[0]);
    let failed: Vec<_> = events(&j, "assertion").into_iter().filter(|a| a["passed"] == false).collect();
    assert!(failed.is_empty(), "{failed:?}");
}

/// Run a verify step of the items on `db`: each fails, with exactly the check and actual
/// value given, and nothing else fails.
fn assertions_fail(db: &Db, items: &[(&str, &str, &str)]) {
    let t = Test::new().runbook(&verify(&items.iter().map(|i| i.0).collect::<Vec<_>>()));
    let out = t.exec(["run", "runbook.yaml", "--yes", "--db", &db.url(), "--runs-dir", "runs"]);
    assert_eq!(out.code, 1, "{}", out.all());
    out.stdout_has(&format!("{} assertion(s) failed", items.len()));
    let j = journal(&t.run_dirs("runs")[0]);
    let failed: Vec<(String, String)> = events(&j, "assertion")
        .into_iter()
        .filter(|a| a["passed"] == false)
        .map(|a| (a["check"].as_str().unwrap().to_string(), a["actual"].as_str().unwrap().to_string()))
        .collect();
    let want: Vec<(String, String)> = items.iter().map(|i| (i.1.to_string(), i.2.to_string())).collect();
    assert_eq!(failed, want);
}

fn verify(items: &[&str]) -> String {
    let list: String = items.iter().map(|i| format!("      - {i}\n")).collect();
    format!("version: 1\nid: schema-assertions\nplan:\n  - id: check\n    name: Check\n    kind: verify\n    schema:\n{list}")
}

#[test]
fn postgres_assertions_on_functions_triggers_constraints_grants_and_index_expressions() {
    let Some(db) = ServerDb::postgres() else { return };
    let db = Db::Server(db);
    db.exec(
        "CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL, age int CHECK (age >= 0)); \
         CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users (id), total numeric); \
         CREATE INDEX ix_users_lower_email ON users (lower(email)) WHERE age > 17; \
         CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.email := lower(NEW.email); RETURN NEW; END $$; \
         CREATE TRIGGER users_touch BEFORE INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch(); \
         GRANT SELECT ON users TO PUBLIC",
    );
    assertions_pass(
        &db,
        &[
            r#"{function: touch, contains: "NEW.email := lower(NEW.email)"}"#,
            r#"{function: "public.touch()"}"#,
            "{function: nope, exists: false}",
            "{function: touch, grantee: PUBLIC, privileges: [EXECUTE]}",
            r#"{trigger: users_touch, table: users, timing: BEFORE, events: [UPDATE, INSERT], contains: "EXECUTE FUNCTION touch()"}"#,
            r#"{constraint: users_age_check, table: users, type: check, contains: "CHECK (age >= 0)"}"#,
            r#"{constraint: orders_user_id_fkey, type: foreign key, contains: "REFERENCES users(id)"}"#,
            "{constraint: users_age_check, table: orders, exists: false}",
            r#"{index: ix_users_lower_email, contains: "(lower(email)) WHERE (age > 17)"}"#,
            "{table: users, grantee: PUBLIC, privileges: [SELECT]}",
            "{table: users, grantee: public, privileges: [INSERT, DELETE], exists: false}",
            "{table: users, grantee: postgres, privileges: [SELECT, INSERT, UPDATE, DELETE]}",
            "{table: users, column: age, no_dependents_except: [users_age_check, ix_users_lower_email, users_touch]}",
            "{table: users, column: id, no_dependents_except: [users_pkey, orders_user_id_fkey, trigger users_touch]}",
        ],
    );
    assertions_fail(
        &db,
        &[
            ("{function: touch, exists: false}", "function touch", "exists"),
            ("{trigger: users_touch, timing: AFTER}", "trigger users_touch timing", "BEFORE"),
            ("{trigger: users_touch, events: [INSERT]}", "trigger users_touch events", "INSERT, UPDATE"),
            ("{constraint: users_age_check, type: unique}", "constraint users_age_check type", "check"),
            (
                r#"{index: ix_users_lower_email, contains: "upper(email)"}"#,
                "index ix_users_lower_email definition",
                "create index ix_users_lower_email on public.users using btree (lower(email)) where (age > 17)",
            ),
            ("{table: users, grantee: PUBLIC, privileges: [SELECT, INSERT]}", "table users: privileges of PUBLIC", "holds SELECT"),
            (
                "{table: users, column: age, no_dependents_except: [ix_users_lower_email]}",
                "objects using users.age",
                "trigger users_touch, constraint users_age_check on users",
            ),
            (
                "{table: orders, column: user_id, no_dependents_except: []}",
                "objects using orders.user_id",
                "constraint orders_user_id_fkey on orders",
            ),
            (
                "{table: users, column: id, no_dependents_except: [users_pkey, users_touch]}",
                "objects using users.id",
                "constraint orders_user_id_fkey on orders",
            ),
        ],
    );
}

#[test]
fn mariadb_assertions_on_functions_triggers_constraints_grants_and_index_expressions() {
    let Some(server) = ServerDb::mysql() else { return };
    let user = format!("{}_app", server.name);
    let db = Db::Server(server);
    db.exec(
        "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL, age INT CHECK (age >= 0), \
         email_lc VARCHAR(100) AS (LOWER(email)) VIRTUAL, INDEX ix_users_email_lc (email_lc))",
    );
    db.exec(
        "CREATE TABLE orders (id INT PRIMARY KEY, user_id INT, CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id))",
    );
    db.exec("CREATE FUNCTION touch_email(e VARCHAR(100)) RETURNS VARCHAR(100) DETERMINISTIC RETURN LOWER(e)");
    db.exec("CREATE TRIGGER users_touch BEFORE INSERT ON users FOR EACH ROW SET NEW.email = touch_email(NEW.email)");
    db.exec(&format!("CREATE USER '{user}'@'%'"));
    db.exec(&format!("GRANT SELECT ON users TO '{user}'@'%'"));
    assertions_pass(
        &db,
        &[
            r#"{function: touch_email, contains: "RETURN LOWER(e)"}"#,
            "{function: nope, exists: false}",
            r#"{trigger: users_touch, table: users, timing: BEFORE, events: [INSERT], contains: "touch_email(NEW.email)"}"#,
            r#"{constraint: age, table: users, type: check, contains: "age >= 0"}"#,
            r#"{constraint: orders_user_id_fkey, type: foreign_key, contains: "REFERENCES users (id)"}"#,
            "{index: ix_users_email_lc, contains: email_lc}",
            &format!("{{table: users, grantee: \"{user}\", privileges: [SELECT]}}"),
            &format!("{{table: users, grantee: \"'{user}'@'%'\", privileges: [INSERT], exists: false}}"),
            "{table: users, column: email, no_dependents_except: [users_touch, email_lc]}",
            "{table: users, column: id, no_dependents_except: [PRIMARY, orders_user_id_fkey, users_touch]}",
        ],
    );
    assertions_fail(
        &db,
        &[
            ("{function: touch_email, exists: false}", "function touch_email", "exists"),
            ("{trigger: users_touch, timing: AFTER}", "trigger users_touch timing", "BEFORE"),
            ("{constraint: age, type: unique}", "constraint age type", "check"),
            (
                &format!("{{table: users, grantee: \"{user}\", privileges: [UPDATE]}}"),
                &format!("table users: privileges of {user}"),
                "holds SELECT",
            ),
            (
                "{table: users, column: email, no_dependents_except: [users_touch]}",
                "objects using users.email",
                "generated column users.email_lc",
            ),
            ("{table: users, column: age, no_dependents_except: [users_touch]}", "objects using users.age", "constraint age on users"),
            (
                "{table: orders, column: user_id, no_dependents_except: []}",
                "objects using orders.user_id",
                "index orders_user_id_fkey, constraint orders_user_id_fkey on orders",
            ),
        ],
    );
    db.exec(&format!("DROP USER '{user}'@'%'"));
}

#[test]
fn sqlite_assertions_on_triggers_constraints_and_index_expressions() {
    let t = Test::new();
    let db = Db::Sqlite(SqliteFile::users(t.dir.path(), 1));
    db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, age INT CHECK (age >= 0))");
    db.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INT REFERENCES users (id))");
    db.exec("CREATE INDEX ix_users_lower_email ON users (lower(email)) WHERE age > 17");
    db.exec("CREATE TRIGGER users_touch BEFORE UPDATE OF email ON users BEGIN SELECT 1; END");
    assertions_pass(
        &db,
        &[
            "{function: touch, exists: false}",
            "{trigger: users_touch, table: users, timing: BEFORE, events: [UPDATE]}",
            r#"{constraint: users_age_check, table: users, type: check, contains: "age >= 0"}"#,
            r#"{constraint: orders_user_id_fkey, type: foreign key, contains: "REFERENCES users (id)"}"#,
            r#"{index: ix_users_lower_email, contains: "(lower(email)) WHERE age > 17"}"#,
            "{table: users, column: age, no_dependents_except: [users_age_check, ix_users_lower_email, users_touch]}",
        ],
    );
    assertions_fail(
        &db,
        &[
            ("{trigger: users_touch, timing: AFTER}", "trigger users_touch timing", "BEFORE"),
            ("{trigger: users_touch, events: [INSERT]}", "trigger users_touch events", "UPDATE"),
            ("{constraint: users_age_check, type: foreign key}", "constraint users_age_check type", "check"),
            (
                "{table: users, column: age, no_dependents_except: [users_touch]}",
                "objects using users.age",
                "constraint users_age_check on users, index ix_users_lower_email",
            ),
            (
                "{table: orders, column: user_id, no_dependents_except: []}",
                "objects using orders.user_id",
                "constraint orders_user_id_fkey on orders",
            ),
            (
                "{table: users, column: id, no_dependents_except: [users_touch]}",
                "objects using users.id",
                "constraint orders_user_id_fkey on orders",
            ),
        ],
    );
}
