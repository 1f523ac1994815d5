//! MariaDB/MySQL targets, through sqlx's own MySQL driver.
//!
//! - Introspection reads `information_schema` for `DATABASE()`. Ad-hoc queries use the text
//!   protocol, where the server sends every value as text, so any type can be asserted on; a
//!   query with bound values is prepared on the server and run with `EXECUTE … USING`.
//! - The session keeps the server's own `sql_mode` and time zone: a change tool must not give
//!   the runbook's SQL other semantics than the application's.
//! - DDL commits implicitly here. A `sql` step whose statements are all DML runs in one
//!   transaction; a step with DDL (or `transaction: false`) runs statement by statement.
//!   `lock_wait_timeout` (metadata locks) and `innodb_lock_wait_timeout` (row locks) are set from
//!   the step's lock timeout, rounded up to whole seconds as the server only takes seconds; a
//!   lock-wait timeout (error 1205) is retried with backoff. On MariaDB, `max_statement_time`
//!   carries the statement timeout.
//! - Backups are `mariadb-dump --single-transaction` (else `mysqldump`), with the credentials in
//!   a 0600 option file passed as `--defaults-extra-file`, checked for the `-- Dump completed`
//!   marker the tool writes last.
//! - Fingerprints are one aggregate on the server: `COUNT(*)` and the sum modulo 2^64 of the
//!   first 64 bits of `MD5(CONCAT_WS(0x1f, columns…, null flags of the nullable columns))`.
//!   Not CRC32 (affine: the same flip in two rows cancels out) and not an XOR (equal rows cancel).
//!   A value holding the separator is escaped first (see `row_value`).
//!
//! The run lock is `GET_LOCK('runbook:<database>')`, held by a connection kept open for the run.
//! MariaDB has no per-connection label a second session can read, and user-level locks cannot
//! be listed without a plugin. So the holder also takes a second lock, `…/holder`, and a second
//! connection of its own waits for it in `SELECT GET_LOCK('…/holder', …), 'runbook-holder:HEX'`
//! where HEX is the holder's description. That query stays visible in the process list for the
//! whole run; a refused run reads it from `information_schema.PROCESSLIST` (which needs the same
//! database user or the PROCESS privilege; otherwise the holder shows as unknown). When the
//! holder's process dies, the server drops its connections and both locks go with them. Nothing
//! is written to the target.

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::TryStreamExt;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlRow};
use sqlx::{Connection, Executor, Row, ValueRef};

use super::localise::{Cells, KeyLayout};
use super::schema::Schema;
use super::{BackupInfo, Database, Engine, ExecOptions, ExecReport, Fingerprint, LockHolder, OnCommit, Statement, StatementResult, Target};
use crate::error::{Error, Result};

const HOLDER_TAG: &str = "runbook-holder:";

/// From about this many rows (the server's estimate) a fingerprint scans key ranges on
/// parallel connections; below it, the extra connections cost more than they save.
const PARALLEL_FINGERPRINT_ROWS: u64 = 200_000;

#[derive(Default)]
struct FingerprintMeta {
    nullable: Vec<String>,
    primary_key: Vec<String>,
    /// The primary key when it is one integer column, which key ranges can split.
    integer_key: Option<String>,
    /// Columns whose text can hold the row text's separator (strings, blobs, bits): see
    /// [`row_value`].
    may_hold_separator: Vec<String>,
    estimated_rows: u64,
}

pub struct MysqlDb {
    conn: MySqlConnection,
    options: MySqlConnectOptions,
    target: Target,
    mariadb: bool,
    lock: Option<RunLock>,
    /// Our session's connection id, for `KILL QUERY` on Ctrl-C.
    connection_id: Option<u64>,
}

struct RunLock {
    conn: MySqlConnection,
    name: String,
    announcer: tokio::task::JoinHandle<()>,
}

impl MysqlDb {
    pub async fn connect(target: &Target, read_only: bool) -> Result<MysqlDb> {
        let options = MySqlConnectOptions::from_str(&target.driver_url())
            .map_err(|e| Error::usage(format!("bad MariaDB/MySQL URL {}: {e}", target.display())))?
            .pipes_as_concat(false)
            .timezone(None);
        let mut conn =
            MySqlConnection::connect_with(&options).await.map_err(|e| Error::db(format!("cannot connect to {}: {e}", target.display())))?;
        if read_only {
            // `plan` promises not to write; the server enforces it.
            conn.execute("SET SESSION TRANSACTION READ ONLY").await?;
        }
        let mut db = MysqlDb { conn, options, target: target.clone(), mariadb: false, lock: None, connection_id: None };
        db.mariadb = db.one("SELECT VERSION()").await?.unwrap_or_default().contains("MariaDB");
        db.connection_id = db.one("SELECT CONNECTION_ID()").await?.and_then(|id| id.parse().ok());
        Ok(db)
    }

    async fn rows(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        text_rows(&mut self.conn, sql).await
    }

    /// What the fingerprint query is built from, read in one round trip.
    async fn fingerprint_meta(&mut self, table: &str) -> Result<FingerprintMeta> {
        let t = sql_lit(table);
        let rows = self
            .rows(&format!(
                "SELECT c.COLUMN_NAME, c.IS_NULLABLE, \
                   EXISTS(SELECT 1 FROM information_schema.STATISTICS s \
                     WHERE s.TABLE_SCHEMA = DATABASE() AND s.TABLE_NAME = '{t}' \
                       AND s.INDEX_NAME = 'PRIMARY' AND s.COLUMN_NAME = c.COLUMN_NAME), \
                   c.DATA_TYPE, \
                   (SELECT TABLE_ROWS FROM information_schema.TABLES \
                     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{t}') \
                 FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = '{t}'"
            ))
            .await?;
        let mut meta = FingerprintMeta::default();
        let mut integer_keys = Vec::new();
        for r in rows {
            let get = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            let name = get(0);
            // A number, a date or a time never renders a control character.
            let plain = matches!(
                get(3).to_ascii_lowercase().as_str(),
                "tinyint"
                    | "smallint"
                    | "mediumint"
                    | "int"
                    | "bigint"
                    | "decimal"
                    | "float"
                    | "double"
                    | "date"
                    | "datetime"
                    | "timestamp"
                    | "time"
                    | "year"
            );
            if !plain {
                meta.may_hold_separator.push(name.clone());
            }
            if get(1) == "YES" {
                meta.nullable.push(name.clone());
            }
            // The index named PRIMARY, not COLUMN_KEY = 'PRI': MariaDB also says PRI for the
            // first UNIQUE NOT NULL index of a table without a primary key, so adding such an
            // index during the change would switch the hash from SUM to BIT_XOR mid-run.
            if get(2) == "1" {
                if matches!(get(3).to_ascii_lowercase().as_str(), "tinyint" | "smallint" | "mediumint" | "int" | "bigint") {
                    integer_keys.push(name.clone());
                }
                meta.primary_key.push(name);
            }
            meta.estimated_rows = get(4).parse().unwrap_or(0);
        }
        if meta.primary_key.len() == 1 && integer_keys.len() == 1 {
            meta.integer_key = integer_keys.pop();
        }
        Ok(meta)
    }

    /// WHERE clauses that split the table into equal key ranges covering every integer, so a
    /// row written between reading the bounds and the scans still falls in exactly one range.
    async fn key_ranges(&mut self, table: &str, key: &str) -> Result<Vec<String>> {
        let k = super::quote_ident(Engine::Mysql, key);
        let r = self.rows(&format!("SELECT MIN({k}), MAX({k}) FROM {}", super::quote_ident(Engine::Mysql, table))).await?;
        let bound = |i: usize| r.first().and_then(|row| row.get(i).cloned().flatten()).and_then(|v| v.parse::<i128>().ok());
        let (Some(lo), Some(hi)) = (bound(0), bound(1)) else { return Ok(Vec::new()) };
        let n = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 4) as i128;
        if hi - lo < n {
            return Ok(Vec::new());
        }
        let cuts: Vec<i128> = (1..n).map(|i| lo + (hi - lo) * i / n).collect();
        let mut out = vec![format!("{k} <= {}", cuts[0])];
        for w in cuts.windows(2) {
            out.push(format!("{k} > {} AND {k} <= {}", w[0], w[1]));
        }
        out.push(format!("{k} > {}", cuts[cuts.len() - 1]));
        Ok(out)
    }

    /// The key-range split of `table` by its integer key as the table is now; `None` when empty.
    async fn key_layout(&mut self, table: &str, key: &str) -> Result<Option<KeyLayout>> {
        let k = super::quote_ident(Engine::Mysql, key);
        let r = self.rows(&format!("SELECT MIN({k}), MAX({k}) FROM {}", super::quote_ident(Engine::Mysql, table))).await?;
        let bound = |i: usize| r.first().and_then(|row| row.get(i).cloned().flatten()).and_then(|v| v.parse::<i64>().ok());
        Ok(match (bound(0), bound(1)) {
            (Some(lo), Some(hi)) => Some(KeyLayout::new(key, lo, hi)),
            _ => None,
        })
    }

    async fn one(&mut self, sql: &str) -> Result<Option<String>> {
        Ok(self.rows(sql).await?.into_iter().next().and_then(|r| r.into_iter().next()).flatten())
    }

    /// The lock name for this database; user-level lock names are server-wide and at most 64 chars.
    async fn lock_name(&mut self) -> Result<String> {
        let db = self.one("SELECT DATABASE()").await?.unwrap_or_default();
        Ok(if db.len() <= 48 {
            format!("runbook:{db}")
        } else {
            use sha2::{Digest, Sha256};
            format!("runbook:{}", &hex::encode(Sha256::digest(db.as_bytes()))[..32])
        })
    }

    /// The dump tool to use and its banner, refused when missing or of another major version.
    async fn dump_tool(&mut self) -> Result<(&'static str, String)> {
        let server = self.one("SELECT VERSION()").await?.unwrap_or_default();
        let server_major = super::dump::version_numbers(&server).and_then(|v| v.first().copied()).unwrap_or(0);
        let (program, banner) = match super::dump::tool_version("mariadb-dump").await? {
            Some(b) => ("mariadb-dump", b),
            None => match super::dump::tool_version("mysqldump").await? {
                Some(b) => ("mysqldump", b),
                None => {
                    return Err(Error::failed(format!(
                        "neither mariadb-dump nor mysqldump is installed (or on PATH): install the client tools of the server ({server}), e.g. mariadb-client"
                    )))
                }
            },
        };
        // mariadb-dump reports its own version, then the server release it ships with ("Distrib").
        let release = banner.split_once("Distrib ").map(|(_, r)| r).unwrap_or(&banner);
        let tool_major = super::dump::version_numbers(release).and_then(|v| v.first().copied()).unwrap_or(0);
        if tool_major != server_major {
            return Err(Error::failed(format!(
                "{program} major version {tool_major} does not match the server's ({server}): install the matching client tools ({banner})"
            )));
        }
        Ok((program, banner))
    }

    /// A 0600 option file with the connection's credentials for the client tools; removed when
    /// the returned guard drops.
    fn client_options(&self, cnf: &Path) -> Result<super::dump::CredentialFile> {
        use std::io::Write;
        let guard = super::dump::CredentialFile::new(cnf);
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let mut body = format!("[client]\nuser={}\n", quote(self.options.get_username()));
        if let Some(p) = &self.target.password {
            body.push_str(&format!("password={}\n", quote(p)));
        }
        match self.options.get_socket() {
            Some(sock) => body.push_str(&format!("socket={}\n", quote(&sock.display().to_string()))),
            None => body.push_str(&format!("host={}\nport={}\nprotocol=TCP\n", quote(self.options.get_host()), self.options.get_port())),
        }
        // Not fsync'd: the file lives for one tool run, and forcing it to disk would only leave
        // the password on the platter after the file is gone.
        let mut f = super::dump::create_private(cnf)?;
        f.write_all(body.as_bytes()).map_err(|e| Error::write(cnf, e))?;
        Ok(guard)
    }

    async fn holder(&mut self, name: &str) -> Result<Option<LockHolder>> {
        let sql = format!(
            "SELECT INFO FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INFO LIKE '%{}%' AND INFO LIKE '%{HOLDER_TAG}%'",
            sql_lit(&format!("{name}/holder")).replace('%', "\\%").replace('_', "\\_")
        );
        for r in self.rows(&sql).await? {
            let Some(info) = r.into_iter().next().flatten() else { continue };
            let Some(at) = info.find(HOLDER_TAG) else { continue };
            let hexed: String = info[at + HOLDER_TAG.len()..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
            if let Some(h) = hex::decode(hexed).ok().and_then(|b| serde_json::from_slice::<LockHolder>(&b).ok()) {
                return Ok(Some(h));
            }
        }
        Ok(None)
    }
}

fn sql_lit(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "''")
}

/// A read query ready for the text protocol, where every value comes back as the text the
/// server writes (a prepared statement's rows come in the binary protocol). The query and its
/// bound values are sent as parameters into user variables, then prepared and executed on the
/// server with `EXECUTE … USING`: each value stays a value (typed and collated as a literal
/// would be), never parsed as SQL.
async fn read_query(conn: &mut MySqlConnection, q: &Statement) -> Result<String> {
    if q.params.is_empty() {
        return Ok(q.sql.clone());
    }
    let names: Vec<String> = (1..=q.params.len()).map(|n| format!("@runbook_bind_{n}")).collect();
    let set = format!("SET @runbook_query = ?, {}", names.iter().map(|n| format!("{n} = ?")).collect::<Vec<_>>().join(", "));
    let ready = async {
        let mut prepared = sqlx::query(&set).persistent(false).bind(q.sql.as_str());
        for p in &q.params {
            prepared = prepared.bind(p.as_str());
        }
        prepared.execute(&mut *conn).await?;
        conn.execute(sqlx::raw_sql("PREPARE runbook_query FROM @runbook_query")).await
    }
    .await;
    if let Err(e) = ready {
        forget_read(conn, q).await;
        return Err(e.into());
    }
    Ok(format!("EXECUTE runbook_query USING {}", names.join(", ")))
}

/// Drop the prepared query and empty the variables its values went into: a secret does not
/// stay in the session.
async fn forget_read(conn: &mut MySqlConnection, q: &Statement) {
    if q.params.is_empty() {
        return;
    }
    let _ = conn.execute(sqlx::raw_sql("DEALLOCATE PREPARE runbook_query")).await;
    let names: Vec<String> = (1..=q.params.len()).map(|n| format!("@runbook_bind_{n} = NULL")).collect();
    let _ = conn.execute(sqlx::raw_sql(&format!("SET @runbook_query = NULL, {}", names.join(", ")))).await;
}

/// Every row of `sql` with every value as text, over the text protocol.
pub(crate) async fn text_rows(conn: &mut MySqlConnection, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
    let mut out = Vec::new();
    let mut rows = sqlx::raw_sql(sql).fetch(conn);
    while let Some(row) = rows.try_next().await? {
        out.push((0..row.len()).map(|i| cell_text(&row, i)).collect::<Result<Vec<_>>>()?);
    }
    Ok(out)
}

/// A value of a text-protocol row as text; binary data that is not UTF-8 is shown as hex.
fn cell_text(row: &MySqlRow, i: usize) -> Result<Option<String>> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(None);
    }
    let bytes = <&[u8] as sqlx::Decode<sqlx::MySql>>::decode(raw).map_err(|e| Error::db(format!("cannot read column {i}: {e}")))?;
    Ok(Some(match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => hex::encode(bytes),
    }))
}

fn error_number(e: &sqlx::Error) -> Option<u16> {
    e.as_database_error().and_then(|d| d.try_downcast_ref::<MySqlDatabaseError>()).map(|d| d.number())
}

/// ER_LOCK_WAIT_TIMEOUT: a metadata-lock or row-lock wait ran out.
fn is_lock_timeout(e: &sqlx::Error) -> bool {
    error_number(e) == Some(1205)
}

/// DDL commits implicitly here; what is DDL is answered in one place, `sql::is_ddl`.
fn is_ddl(stmt: &str) -> bool {
    crate::sql::is_ddl(stmt, Engine::Mysql)
}

async fn timed(conn: &mut MySqlConnection, s: &Statement, limit: Duration) -> std::result::Result<StatementResult, sqlx::Error> {
    let start = Instant::now();
    // The server enforces the statement timeout where it can (MariaDB); this guard covers MySQL,
    // and a little slack lets the server's own error win the race.
    let run = async {
        if s.params.is_empty() {
            conn.execute(sqlx::raw_sql(&s.sql)).await
        } else {
            // Bound values go apart from the text, as a prepared statement's parameters.
            let mut q = sqlx::query(&s.sql).persistent(false);
            for p in &s.params {
                q = q.bind(p.as_str());
            }
            conn.execute(q).await
        }
    };
    let res = tokio::time::timeout(limit + Duration::from_secs(2), run)
        .await
        .map_err(|_| sqlx::Error::Protocol(format!("statement timed out after {}", crate::runbook::duration::human(limit))))??;
    Ok(StatementResult::new(&s.sql, Engine::Mysql, res.rows_affected(), start))
}

/// Why one attempt at a step stopped: the server's own error, or the run lock lost between
/// two statements, or a committed statement the caller could not record (neither retried).
enum Stop {
    Sql(sqlx::Error),
    LockLost(Error),
    Journal(Error),
}

/// Whether the lock connection is there and still holds `GET_LOCK` (an administrator's `KILL`
/// ends the connection and its locks). `None`: this connection holds no lock, nothing to check.
async fn lock_alive(lock: &mut Option<RunLock>, target: &str) -> Result<()> {
    let Some(l) = lock.as_mut() else { return Ok(()) };
    let sql = format!("SELECT IS_USED_LOCK('{}') = CONNECTION_ID()", sql_lit(&l.name));
    let why = match text_rows(&mut l.conn, &sql).await {
        Ok(r) if r.first().and_then(|r| r[0].as_deref()) == Some("1") => return Ok(()),
        Ok(_) => "its session no longer holds GET_LOCK".to_string(),
        Err(e) => format!("its session is gone: {}", super::explain_failure(&e.to_string())),
    };
    // A dead session is not a lock any more; the announcer goes with it.
    if let Some(l) = lock.take() {
        l.announcer.abort();
    }
    Err(Error::LockLost { target: target.to_string(), why })
}

async fn attempt_in_transaction(
    conn: &mut MySqlConnection,
    lock: &mut Option<RunLock>,
    target: &str,
    statements: &[Statement],
    opts: &ExecOptions,
    on_commit: &mut OnCommit<'_>,
) -> std::result::Result<Vec<StatementResult>, Stop> {
    let limit = opts.statement_timeout;
    let mut tx = conn.begin().await.map_err(Stop::Sql)?;
    let mut out = Vec::new();
    for s in statements.get(opts.first..).unwrap_or_default() {
        if let Err(e) = lock_alive(lock, target).await {
            let _ = tx.rollback().await;
            return Err(Stop::LockLost(e));
        }
        match timed(&mut tx, s, limit).await {
            Ok(r) => out.push(r),
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(Stop::Sql(e));
            }
        }
    }
    // Nothing commits without the lock.
    if let Err(e) = lock_alive(lock, target).await {
        let _ = tx.rollback().await;
        return Err(Stop::LockLost(e));
    }
    tx.commit().await.map_err(Stop::Sql)?;
    super::committed_together(&out, opts.first, on_commit).map_err(Stop::Journal)?;
    Ok(out)
}

fn retries_note(e: &sqlx::Error, retries: u32, lock_secs: u64) -> String {
    if is_lock_timeout(e) {
        format!(" (lock wait timeout {lock_secs} s; retries exhausted: {retries})")
    } else {
        String::new()
    }
}

#[async_trait]
impl Database for MysqlDb {
    fn engine(&self) -> Engine {
        Engine::Mysql
    }

    async fn version(&mut self) -> Result<String> {
        let v = self.one("SELECT VERSION()").await?.unwrap_or_default();
        Ok(if v.contains("MariaDB") { format!("MariaDB {v}") } else { format!("MySQL {v}") })
    }

    async fn schema(&mut self) -> Result<Schema> {
        super::schema::mysql::snapshot(&mut self.conn, self.mariadb).await
    }

    async fn execute(&mut self, statements: &[Statement], opts: &ExecOptions, on_commit: &mut OnCommit<'_>) -> Result<ExecReport> {
        let lock_secs = opts.lock_timeout.as_secs_f64().ceil().max(1.0) as u64;
        let saved = self
            .rows("SELECT @@SESSION.lock_wait_timeout, @@SESSION.innodb_lock_wait_timeout")
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        let mut set = format!("SET SESSION lock_wait_timeout = {lock_secs}, innodb_lock_wait_timeout = {lock_secs}");
        if self.mariadb {
            set.push_str(&format!(", max_statement_time = {:.3}", opts.statement_timeout.as_secs_f64()));
        }
        self.conn.execute(sqlx::raw_sql(&set)).await?;
        let result = self.run_statements(statements, opts, lock_secs, on_commit).await;
        let mut restore = format!(
            "SET SESSION lock_wait_timeout = {}, innodb_lock_wait_timeout = {}",
            saved.first().cloned().flatten().unwrap_or_else(|| "DEFAULT".into()),
            saved.get(1).cloned().flatten().unwrap_or_else(|| "DEFAULT".into())
        );
        if self.mariadb {
            restore.push_str(", max_statement_time = DEFAULT");
        }
        let _ = self.conn.execute(sqlx::raw_sql(&restore)).await;
        result
    }

    async fn query_scalar(&mut self, q: &Statement) -> Result<Option<String>> {
        let sql = read_query(&mut self.conn, q).await?;
        let row = (&mut self.conn).fetch_optional(sqlx::raw_sql(&sql)).await;
        forget_read(&mut self.conn, q).await;
        match row? {
            Some(r) if r.len() > 0 => cell_text(&r, 0),
            _ => Ok(None),
        }
    }

    async fn query_count(&mut self, q: &Statement) -> Result<u64> {
        let sql = read_query(&mut self.conn, q).await?;
        let counted = super::rows::count(sqlx::raw_sql(&sql).fetch(&mut self.conn)).await;
        forget_read(&mut self.conn, q).await;
        Ok(counted?)
    }

    async fn query_rows(&mut self, q: &Statement) -> Result<super::QueryRows> {
        let sql = read_query(&mut self.conn, q).await?;
        let rows = super::rows::collect(sqlx::raw_sql(&sql).fetch(&mut self.conn), cell_text).await;
        forget_read(&mut self.conn, q).await;
        rows
    }

    async fn backup_tool(&mut self) -> Result<String> {
        Ok(self.dump_tool().await?.1)
    }

    async fn backup(&mut self, dir: &Path, stem: &str) -> Result<BackupInfo> {
        let (program, banner) = self.dump_tool().await?;
        let path = dir.join(format!("{stem}.sql"));
        let guard = super::dump::RemoveOnDrop::new(&path);
        // Credentials go through an option file readable by the owner only, never argv.
        let cnf = super::dump::credential_path(dir, stem);
        let cnf_guard = self.client_options(&cnf)?;
        let database = self.one("SELECT DATABASE()").await?.ok_or_else(|| Error::usage("the MariaDB/MySQL URL names no database"))?;
        let args = vec![
            format!("--defaults-extra-file={}", cnf.display()),
            "--single-transaction".into(),
            "--quick".into(),
            "--routines".into(),
            "--triggers".into(),
            "--hex-blob".into(),
            "--no-tablespaces".into(),
            "--default-character-set=utf8mb4".into(),
            "--".into(),
            database,
        ];
        let out = super::dump::stream_to_file(program, &args, &[], &path).await?;
        drop(cnf_guard);
        let tail = String::from_utf8_lossy(&out.tail);
        let last = tail.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        if !last.starts_with("-- Dump completed") {
            return Err(Error::failed(format!(
                "backup {} is incomplete: it does not end with {program}'s \"-- Dump completed\" marker (last line: {last:?})",
                path.display()
            )));
        }
        guard.keep();
        Ok(BackupInfo {
            path: path.display().to_string(),
            size: out.size,
            sha256: out.sha256,
            method: format!("{program} --single-transaction ({})", banner.trim()),
            verified: format!("ends with \"{}\"", last.trim()),
            tables: Vec::new(),
        })
    }

    async fn fingerprint(&mut self, table: &str, columns: &[String], layout: Option<&KeyLayout>) -> Result<Fingerprint> {
        let cols: Vec<String> = columns.iter().map(|c| super::quote_ident(Engine::Mysql, c)).collect();
        let meta = self.fingerprint_meta(table).await?;
        let known = |c: &String, set: &[String]| set.iter().any(|n| n.eq_ignore_ascii_case(c));
        // CONCAT_WS skips NULLs, so null flags keep (NULL, 'a') and ('a', NULL) apart, as
        // pt-table-checksum does. Only nullable columns need one: each flag costs time on every row.
        let flags: Vec<String> = columns
            .iter()
            .filter(|c| known(c, &meta.nullable))
            .map(|c| format!("ISNULL({})", super::quote_ident(Engine::Mysql, c)))
            .collect();
        let flags = match flags.len() {
            0 => String::new(),
            1 => format!(", {}", flags[0]),
            _ => format!(", CONCAT({})", flags.join(", ")),
        };
        // Each row's hash is the first 64 bits of its MD5, summed modulo 2^64 on the client from
        // the server's exact DECIMAL sums. MD5 is not affine like CRC32, so equal bit flips in
        // two rows do not cancel; and a sum, unlike an XOR, keeps equal rows counted. The whole
        // primary key among the hashed columns is what makes a key-range split exact.
        let unique_rows =
            !meta.primary_key.is_empty() && meta.primary_key.iter().all(|k| columns.iter().any(|c| c.eq_ignore_ascii_case(k)));
        let layout = match layout {
            Some(l) => Some(l.clone()),
            None => match &meta.integer_key {
                Some(k) if columns.iter().any(|c| c.eq_ignore_ascii_case(k)) => self.key_layout(table, k).await?,
                _ => None,
            },
        };
        let (range, seed) = match &layout {
            Some(l) => {
                let k = super::quote_ident(Engine::Mysql, &l.key);
                (l.sql_range(&k, "DIV"), k)
            }
            None => ("0".to_string(), "''".to_string()),
        };
        // Per column, CRC32 of the value beside the row's key, only to localise a difference
        // (the strong row hash decides whether there is one). CONCAT_WS skips a NULL, so NULL
        // and '' still differ: "key" against "key<US>".
        let per_column: String = cols.iter().map(|c| format!(", COALESCE(SUM(CRC32(CONCAT_WS(0x1f, {seed}, {c}))), 0)")).collect();
        let table_q = super::quote_ident(Engine::Mysql, table);
        let row: Vec<String> = columns.iter().map(|c| row_value(c, known(c, &meta.may_hold_separator))).collect();
        let query = |filter: Option<&str>| {
            format!(
                "SELECT {range} AS rb_range, COUNT(*), COALESCE(SUM(CAST(CONV(LEFT(MD5(CONCAT_WS(0x1f, {}{flags})), 16), 16, 10) AS UNSIGNED)), 0){per_column} FROM {table_q}{} GROUP BY rb_range",
                row.join(", "),
                filter.map(|w| format!(" WHERE {w}")).unwrap_or_default()
            )
        };
        let ranges = match (&meta.integer_key, unique_rows) {
            (Some(key), true) if meta.estimated_rows >= PARALLEL_FINGERPRINT_ROWS => self.key_ranges(table, key).await?,
            _ => Vec::new(),
        };
        // One server thread scans one range; the parts add up exactly, so the hash
        // is the same as a single query's. Each part is one autocommit SELECT, read at its own
        // instant: a table written during the fingerprint shows as changed anyway. A user
        // allowed too few connections (max_user_connections) gets the single query instead.
        let extra = match ranges.len() {
            0 => None,
            n => futures_util::future::try_join_all((1..n).map(|_| MySqlConnection::connect_with(&self.options))).await.ok(),
        };
        let parts = match extra {
            None => self.rows(&query(None)).await?,
            Some(mut conns) => {
                let queries: Vec<String> = ranges.iter().map(|w| query(Some(w))).collect();
                let others = futures_util::future::try_join_all(conns.iter_mut().zip(&queries[1..]).map(|(c, q)| text_rows(c, q)));
                let result = futures_util::future::try_join(text_rows(&mut self.conn, &queries[0]), others).await;
                for c in conns {
                    let _ = c.close().await;
                }
                let (mut head, tail) = result?;
                head.extend(tail.into_iter().flatten());
                head
            }
        };
        // The server's exact DECIMAL sums, reduced modulo 2^64.
        let num = |v: &Option<String>, what: &str| -> Result<u64> {
            let n: u128 = v.as_deref().unwrap_or("0").parse().map_err(|e| Error::db(format!("fingerprint {what}: {e}")))?;
            Ok(n as u64)
        };
        let (mut count, mut sum) = (0u64, 0u64);
        let mut cells = Cells::default();
        for r in &parts {
            let range: i64 = r[0].as_deref().unwrap_or("0").parse().map_err(|e| Error::db(format!("fingerprint range: {e}")))?;
            let n = num(&r[1], "row count")?;
            count += n;
            sum = sum.wrapping_add(num(&r[2], "sum")?);
            let per: Vec<u64> = r[3..].iter().map(|v| num(v, "column sum")).collect::<Result<_>>()?;
            cells.add(range, n, &per);
        }
        let hash = format!("{sum:016x}");
        Ok(Fingerprint { table: table.to_string(), columns: columns.to_vec(), rows: count, hash, layout, cells: cells.into_vec() })
    }

    async fn lock(&mut self, holder: &LockHolder) -> Result<()> {
        let name = self.lock_name().await?;
        let lit = sql_lit(&name);
        let mut conn = MySqlConnection::connect_with(&self.options)
            .await
            .map_err(|e| Error::db(format!("cannot connect to {} for the run lock: {e}", self.target.display())))?;
        let waiting_since = std::time::Instant::now();
        loop {
            let got = text_rows(&mut conn, &format!("SELECT GET_LOCK('{lit}', 0), GET_LOCK('{lit}/holder', 0)")).await?;
            let taken = |i: usize| got.first().is_some_and(|r| r[i].as_deref() == Some("1"));
            if taken(0) && taken(1) {
                break;
            }
            let _ = conn.execute("DO RELEASE_ALL_LOCKS()").await;
            let h = self.holder(&name).await?;
            // A killed run's sessions outlive its process until the server notices the closed
            // socket, which on a busy server takes a moment; the holder's announcer, woken by
            // the run lock's release, even takes the holder lock on its way out. So a run lock
            // that was free, or a holder whose process on this host is gone, is a dead run
            // about to let go: wait for it rather than turn the operator's resume away.
            let dying = taken(0) || h.as_ref().is_some_and(super::holder_is_dead);
            if dying && waiting_since.elapsed() < super::DEAD_HOLDER_WAIT {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            let _ = conn.close().await;
            return Err(match h {
                Some(h) => Error::Locked { run_id: h.run_id, operator: h.operator, started: h.started },
                None => Error::Locked { run_id: "unknown".into(), operator: "unknown".into(), started: "unknown".into() },
            });
        }
        // The announcer waits on the holder lock for the whole run, its query naming the holder.
        let mut announcer = MySqlConnection::connect_with(&self.options)
            .await
            .map_err(|e| Error::db(format!("cannot connect to {} for the run lock: {e}", self.target.display())))?;
        let info = hex::encode(serde_json::to_vec(holder).unwrap_or_default());
        let wait = format!("SELECT GET_LOCK('{lit}/holder', 31536000), '{HOLDER_TAG}{info}'");
        let release = format!("DO RELEASE_LOCK('{lit}/holder')");
        let task = tokio::spawn(async move {
            let _ = announcer.execute(sqlx::raw_sql(&wait)).await;
            let _ = announcer.execute(sqlx::raw_sql(&release)).await;
            let _ = announcer.close().await;
        });
        self.lock = Some(RunLock { conn, name: name.clone(), announcer: task });
        // Return only once the announcement is visible, so a second run can always name us.
        for _ in 0..50 {
            if self.holder(&name).await?.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    async fn lock_alive(&mut self) -> Result<()> {
        lock_alive(&mut self.lock, &self.target.display()).await
    }

    async fn unlock(&mut self) -> Result<()> {
        if let Some(mut l) = self.lock.take() {
            let lit = sql_lit(&l.name);
            let _ = l.conn.execute(sqlx::raw_sql(&format!("DO RELEASE_LOCK('{lit}'), RELEASE_LOCK('{lit}/holder')"))).await;
            let _ = l.conn.close().await;
            if tokio::time::timeout(Duration::from_secs(2), &mut l.announcer).await.is_err() {
                l.announcer.abort();
            }
        }
        Ok(())
    }

    async fn scratch_copy(&mut self, work_dir: &Path) -> Result<super::Scratch> {
        // A name a later `rehearse` or `resume` recognises, should this rehearsal be killed.
        let name = super::scratch::name(&self.target);
        let info = self.backup(work_dir, "rehearsal-source").await?;
        // Our own session is read-only (the target is only read); the scratch database is created
        // through a session of its own.
        let mut admin = MySqlConnection::connect_with(&self.options)
            .await
            .map_err(|e| Error::db(format!("cannot connect to create the scratch database: {e}")))?;
        admin
            .execute(sqlx::raw_sql(&format!("CREATE DATABASE {} CHARACTER SET utf8mb4", super::quote_ident(Engine::Mysql, &name))))
            .await?;
        let _ = admin.close().await;
        let url = with_database(&self.target.url, &name);
        let scratch = super::Scratch {
            target: Target::parse(&url)?,
            cleanup: super::Cleanup::DropDatabase { admin_url: self.target.url.clone(), name: name.clone(), engine: Engine::Mysql },
            method: format!("database {name} loaded from {}", info.method),
        };
        let loaded = async {
            let cnf = super::dump::credential_path(work_dir, "rehearsal");
            let _guard = self.client_options(&cnf)?;
            let client = if super::dump::tool_version("mariadb").await?.is_some() { "mariadb" } else { "mysql" };
            let input = std::fs::File::open(&info.path).map_err(|e| Error::read(&info.path, e))?;
            let out = tokio::process::Command::new(client)
                .arg(format!("--defaults-extra-file={}", cnf.display()))
                .arg(&name)
                .stdin(input)
                .output()
                .await
                .map_err(|e| Error::failed(format!("cannot run {client} to load the scratch copy: {e}")))?;
            if !out.status.success() {
                return Err(Error::failed(format!("loading the scratch copy failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
            }
            Ok(())
        }
        .await;
        let _ = std::fs::remove_file(&info.path);
        if let Err(e) = loaded {
            let _ = super::drop_scratch(&scratch).await;
            return Err(e);
        }
        Ok(scratch)
    }

    fn transactional_ddl(&self) -> bool {
        false
    }

    fn canceller(&self) -> Option<super::Canceller> {
        // Dropping our side of the connection does not stop the server: the statement would run
        // on, and an ALTER would commit after the run recorded it as cancelled. `KILL QUERY`
        // from a second session stops it; then the process list is read until the session no
        // longer runs a statement, so "cancelled" in the journal is what the server did.
        let id = self.connection_id?;
        let options = self.options.clone();
        Some(std::sync::Arc::new(move || {
            let options = options.clone();
            Box::pin(async move {
                let Ok(mut c) = MySqlConnection::connect_with(&options).await else { return };
                let _ = c.execute(sqlx::raw_sql(&format!("KILL QUERY {id}"))).await;
                let busy = format!("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {id} AND COMMAND = 'Query'");
                let deadline = Instant::now() + super::CANCEL_CHECK;
                while Instant::now() < deadline {
                    match text_rows(&mut c, &busy).await {
                        Ok(r) if r.first().and_then(|r| r[0].as_deref()) == Some("0") => break,
                        Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                        Err(_) => break,
                    }
                }
                let _ = c.close().await;
            })
        }))
    }
}

/// Column `name` as it goes into the row text, `CONCAT_WS(0x1f, …)`. A value holding the
/// separator itself would make the text ambiguous: `('a<US>b', 'c')` and `('a', 'b<US>c')` read
/// the same, so text moved between two columns went unseen. Such a value is escaped (U+001E
/// doubled, then U+001F as U+001E U+001F), which no other value can read like; a value without
/// either character is left as it is, so earlier baselines still compare equal. The literals
/// take the column's own character set, so the text is the same bytes as before.
fn row_value(name: &str, may_hold_separator: bool) -> String {
    let c = super::quote_ident(Engine::Mysql, name);
    if may_hold_separator {
        format!("REPLACE(REPLACE({c}, '\u{1e}', '\u{1e}\u{1e}'), '\u{1f}', '\u{1e}\u{1f}')")
    } else {
        c
    }
}

impl MysqlDb {
    async fn run_statements(
        &mut self,
        statements: &[Statement],
        opts: &ExecOptions,
        lock_secs: u64,
        on_commit: &mut OnCommit<'_>,
    ) -> Result<ExecReport> {
        let mut retries = 0u32;
        let limit = opts.statement_timeout;
        let target = self.target.display();
        if opts.transaction && !statements.iter().any(|s| is_ddl(&s.sql)) {
            loop {
                match attempt_in_transaction(&mut self.conn, &mut self.lock, &target, statements, opts, on_commit).await {
                    Ok(done) => return Ok(ExecReport { statements: done, lock_retries: retries, transactional: true }),
                    Err(Stop::LockLost(e) | Stop::Journal(e)) => return Err(e),
                    Err(Stop::Sql(e)) if is_lock_timeout(&e) && retries < opts.lock_retries => {
                        retries += 1;
                        tokio::time::sleep(super::backoff(retries)).await;
                    }
                    Err(Stop::Sql(e)) => {
                        return Err(Error::db(format!(
                            "{e}{} (the transaction was rolled back, nothing changed)",
                            retries_note(&e, retries, lock_secs)
                        )))
                    }
                }
            }
        }
        // DDL commits implicitly, and the statements before it with it: each statement stands
        // alone (autocommit), is recorded as it commits, and only the one that met the lock
        // timeout is retried.
        let mut done = Vec::new();
        for (n, s) in statements.iter().enumerate().skip(opts.first) {
            lock_alive(&mut self.lock, &target).await?;
            loop {
                match timed(&mut self.conn, s, limit).await {
                    Ok(r) => {
                        done.push(r);
                        on_commit(n, &done[done.len() - 1])?;
                        break;
                    }
                    Err(e) if is_lock_timeout(&e) && retries < opts.lock_retries => {
                        retries += 1;
                        tokio::time::sleep(super::backoff(retries)).await;
                    }
                    Err(e) => {
                        return Err(Error::db(format!(
                            "statement {} of {} failed: {e}{}; MariaDB/MySQL commits DDL implicitly, so the {n} statement(s) before it stay applied",
                            n + 1,
                            statements.len(),
                            retries_note(&e, retries, lock_secs),
                        )))
                    }
                }
            }
        }
        Ok(ExecReport { statements: done, lock_retries: retries, transactional: false })
    }
}

/// Drop a scratch database made for a rehearsal.
pub async fn drop_database(admin_url: &str, name: &str) -> Result<()> {
    let target = Target::parse(admin_url)?;
    let options = MySqlConnectOptions::from_str(&target.driver_url()).map_err(|e| Error::usage(format!("bad MariaDB/MySQL URL: {e}")))?;
    let mut conn = MySqlConnection::connect_with(&options).await.map_err(|e| Error::db(format!("cannot connect to drop {name}: {e}")))?;
    conn.execute(sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {}", super::quote_ident(Engine::Mysql, name)))).await?;
    let _ = conn.close().await;
    Ok(())
}

/// The URL of another database on the same server.
pub(crate) fn with_database(url: &str, name: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_path(&format!("/{name}"));
            u.to_string()
        }
        Err(_) => url.to_string(),
    }
}
