//! Real PostgreSQL and MariaDB databases for tests: each test gets a database of its own,
//! `rb_<random>`, created on the server named by `RUNBOOK_TEST_POSTGRES_URL` /
//! `RUNBOOK_TEST_MYSQL_URL`, dropped when the test passes and kept (its name printed) when it
//! fails. Without the variable the test is skipped, unless `RUNBOOK_REQUIRE_SERVERS=1`.

use std::str::FromStr;
use std::sync::mpsc;
use std::time::Duration;

use futures_util::TryStreamExt;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Executor, Row, ValueRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Postgres,
    Mysql,
}

impl Server {
    fn env(self) -> &'static str {
        match self {
            Server::Postgres => "RUNBOOK_TEST_POSTGRES_URL",
            Server::Mysql => "RUNBOOK_TEST_MYSQL_URL",
        }
    }
}

/// A database of its own on a real server.
pub struct ServerDb {
    pub server: Server,
    pub name: String,
    admin_url: String,
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn with_path(url: &str, db: &str) -> String {
    let mut u = url::Url::parse(url).expect("server URL");
    u.set_path(&format!("/{db}"));
    u.to_string()
}

/// Skip (print and return `None`) or, under `RUNBOOK_REQUIRE_SERVERS=1`, fail.
fn unavailable(why: String) -> Option<ServerDb> {
    if super::servers_required() {
        panic!("RUNBOOK_REQUIRE_SERVERS=1: {why}");
    }
    super::skip(&why);
    None
}

impl ServerDb {
    pub fn postgres() -> Option<ServerDb> {
        ServerDb::create(Server::Postgres)
    }

    pub fn mysql() -> Option<ServerDb> {
        ServerDb::create(Server::Mysql)
    }

    fn create(server: Server) -> Option<ServerDb> {
        let Ok(admin_url) = std::env::var(server.env()) else {
            return unavailable(format!("{} is not set", server.env()));
        };
        let name = format!("rb_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let db = ServerDb { server, name, admin_url };
        if let Err(e) = db.admin(&format!("CREATE DATABASE {}", db.name)) {
            std::mem::forget(db);
            return unavailable(format!("cannot create a test database on {}: {e}", server.env()));
        }
        Some(db)
    }

    /// The URL of this test's database (`mysql://` for MariaDB/MySQL).
    pub fn url(&self) -> String {
        with_path(&self.admin_url, &self.name)
    }

    /// The URL spelled with another scheme, e.g. `mariadb`.
    pub fn url_as(&self, scheme: &str) -> String {
        let u = self.url();
        format!("{scheme}{}", &u[u.find("://").unwrap()..])
    }

    fn admin(&self, sql: &str) -> Result<(), String> {
        let url = self.admin_url.clone();
        let server = self.server;
        let sql = sql.to_string();
        rt().block_on(async move {
            match server {
                Server::Postgres => {
                    let mut c = PgConnection::connect(&url).await.map_err(|e| e.to_string())?;
                    c.execute(sqlx::raw_sql(&sql)).await.map_err(|e| e.to_string())?;
                    c.close().await.ok();
                }
                Server::Mysql => {
                    let mut c = MySqlConnection::connect(&url).await.map_err(|e| e.to_string())?;
                    c.execute(sqlx::raw_sql(&sql)).await.map_err(|e| e.to_string())?;
                    c.close().await.ok();
                }
            }
            Ok(())
        })
    }

    /// Run statements in this database.
    pub fn exec(&self, sql: &str) {
        self.rows(sql);
    }

    /// All rows of `sql`, every value as the server's text ("NULL" for NULL).
    pub fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        let url = self.url();
        rt().block_on(async {
            match self.server {
                Server::Postgres => {
                    let mut c = PgConnection::connect_with(&PgConnectOptions::from_str(&url).unwrap()).await.unwrap();
                    let rows = pg_rows(&mut c, sql).await;
                    c.close().await.ok();
                    rows
                }
                Server::Mysql => {
                    let mut c = MySqlConnection::connect_with(&MySqlConnectOptions::from_str(&url).unwrap()).await.unwrap();
                    let rows = my_rows(&mut c, sql).await;
                    c.close().await.ok();
                    rows
                }
            }
        })
    }

    pub fn scalar(&self, sql: &str) -> String {
        self.rows(sql).first().and_then(|r| r.first().cloned()).unwrap_or_else(|| "NULL".into())
    }

    /// `all_users(id primary key, email not null, name nullable)` with `rows` users: NULL
    /// names every ninth row, non-ASCII names otherwise.
    pub fn users(&self, rows: u32) {
        match self.server {
            Server::Postgres => self.exec(&format!(
                "CREATE TABLE all_users(id integer PRIMARY KEY, email text NOT NULL, name text);
                 INSERT INTO all_users SELECT i, 'u' || i || '@example.org', CASE WHEN i % 9 = 0 THEN NULL ELSE 'Zoë Ñúñez ' || i END
                 FROM generate_series(1, {rows}) AS i;"
            )),
            Server::Mysql => self.exec(&format!(
                "CREATE TABLE all_users(id int PRIMARY KEY, email varchar(255) NOT NULL, name varchar(255)) DEFAULT CHARSET = utf8mb4;
                 INSERT INTO all_users SELECT seq, CONCAT('u', seq, '@example.org'), IF(seq % 9 = 0, NULL, CONCAT('Zoë Ñúñez ', seq))
                 FROM seq_1_to_{rows};"
            )),
        }
    }

    pub fn has_column(&self, table: &str, column: &str) -> bool {
        let schema = match self.server {
            Server::Postgres => "current_schema()",
            Server::Mysql => "DATABASE()",
        };
        self.scalar(&format!(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = {schema} AND table_name = '{table}' AND column_name = '{column}'"
        )) == "1"
    }

    pub fn has_index(&self, name: &str) -> bool {
        let sql = match self.server {
            Server::Postgres => format!("SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = '{name}'"),
            Server::Mysql => format!("SELECT count(DISTINCT index_name) FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name = '{name}'"),
        };
        self.scalar(&sql) == "1"
    }

    /// A digest of the users' original columns, to prove data was not changed.
    pub fn data_digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for r in self.rows("SELECT id, email, name FROM all_users ORDER BY id") {
            h.update(r.join("\u{1f}").as_bytes());
            h.update(b"\n");
        }
        hex::encode(h.finalize())
    }

    /// Open a transaction that reads `all_users` and keep it open for `hold`, on a thread of its
    /// own; returns once the transaction holds its lock.
    pub fn blocker(&self, hold: Duration) -> std::thread::JoinHandle<()> {
        let url = self.url();
        let server = self.server;
        let (tx, rx) = mpsc::channel();
        let h = std::thread::spawn(move || {
            rt().block_on(async move {
                match server {
                    Server::Postgres => {
                        let mut c = PgConnection::connect(&url).await.unwrap();
                        let mut t = c.begin().await.unwrap();
                        (&mut *t).execute("SELECT count(*) FROM all_users").await.unwrap();
                        tx.send(()).unwrap();
                        tokio::time::sleep(hold).await;
                        t.commit().await.unwrap();
                    }
                    Server::Mysql => {
                        let mut c = MySqlConnection::connect(&url).await.unwrap();
                        let mut t = c.begin().await.unwrap();
                        (&mut *t).execute("SELECT count(*) FROM all_users").await.unwrap();
                        tx.send(()).unwrap();
                        tokio::time::sleep(hold).await;
                        t.commit().await.unwrap();
                    }
                }
            })
        });
        rx.recv_timeout(Duration::from_secs(20)).expect("blocker transaction started");
        h
    }
}

impl Drop for ServerDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed: kept database {} on {} for inspection", self.name, self.server.env());
            return;
        }
        let sql = match self.server {
            Server::Postgres => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            Server::Mysql => format!("DROP DATABASE IF EXISTS {}", self.name),
        };
        if let Err(e) = self.admin(&sql) {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

async fn pg_rows(c: &mut PgConnection, sql: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut s = sqlx::raw_sql(sql).fetch(c);
    while let Some(row) = s.try_next().await.unwrap() {
        out.push(
            (0..row.len())
                .map(|i| {
                    let v = row.try_get_raw(i).unwrap();
                    if v.is_null() {
                        "NULL".to_string()
                    } else {
                        <&str as sqlx::Decode<sqlx::Postgres>>::decode(v).unwrap().to_string()
                    }
                })
                .collect(),
        );
    }
    out
}

async fn my_rows(c: &mut MySqlConnection, sql: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut s = sqlx::raw_sql(sql).fetch(c);
    while let Some(row) = s.try_next().await.unwrap() {
        out.push(
            (0..row.len())
                .map(|i| {
                    let v = row.try_get_raw(i).unwrap();
                    if v.is_null() {
                        "NULL".to_string()
                    } else {
                        String::from_utf8_lossy(<&[u8] as sqlx::Decode<sqlx::MySql>>::decode(v).unwrap()).into_owned()
                    }
                })
                .collect(),
        );
    }
    out
}

/// Another run of the binary in the same test folder, with its own arguments.
pub struct Again<'a> {
    test: &'a super::Test,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl super::Test {
    pub fn again<I: IntoIterator<Item = S>, S: AsRef<str>>(&self, args: I) -> Again<'_> {
        Again { test: self, args: args.into_iter().map(|s| s.as_ref().to_string()).collect(), env: Vec::new() }
    }
}

impl Again<'_> {
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, a: I) -> Self {
        self.args.extend(a.into_iter().map(|s| s.as_ref().to_string()));
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn run(&self) -> super::Output {
        let mut c = self.test.command();
        c.args(&self.args).stdin(std::process::Stdio::null());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        let out = c.output().expect("run runbook");
        let o = super::Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(!o.stderr.contains("panicked"), "the binary panicked:\n{}", o.stderr);
        o
    }
}

impl ServerDb {
    /// Whether the database `name` (a rehearsal's scratch copy) no longer exists on the server.
    pub fn scratch_is_gone(&self, name: &str) -> bool {
        let sql = match self.server {
            Server::Postgres => format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"),
            Server::Mysql => format!("SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{name}'"),
        };
        self.scalar(&sql) == "0"
    }

    pub fn has_table(&self, table: &str) -> bool {
        let sql = match self.server {
            Server::Postgres => format!("SELECT count(*) FROM pg_tables WHERE tablename = '{table}' AND schemaname = current_schema()"),
            Server::Mysql => {
                format!("SELECT count(*) FROM information_schema.TABLES WHERE TABLE_NAME = '{table}' AND TABLE_SCHEMA = DATABASE()")
            }
        };
        self.scalar(&sql) != "0"
    }
}
