//! PostgreSQL targets, through sqlx's own PostgreSQL driver (the `Any` driver cannot decode most
//! server types).
//!
//! - Introspection reads the catalogs of `current_schema()` with every value cast to text.
//! - Ad-hoc queries run over the simple-query protocol, where the server sends every value as
//!   text, so a query assertion can return any type without a decoder for it. A query's bound
//!   values reach it through session settings set by parameter (see `read_query`).
//! - `sql` steps run in one transaction with `SET LOCAL lock_timeout` / `statement_timeout`;
//!   a lock timeout (SQLSTATE 55P03) is rolled back and retried with backoff, so a change queued
//!   behind a long transaction holds up application traffic for at most the lock timeout.
//!   `transaction: false` runs statement by statement (for `CREATE INDEX CONCURRENTLY`), retrying
//!   only the statement that timed out and dropping the invalid index a failed concurrent build
//!   leaves behind.
//! - Backups are `pg_dump -Fc` streamed into the run folder, checked with `pg_restore --list`.
//! - Fingerprints are one aggregate on the server: `count(*)` and the sum of
//!   `hashtextextended(ROW(columns)::text, 0)`, so the client holds two numbers whatever the
//!   table size. The row's composite text form quotes values and tells NULL from '' apart.
//! - The run lock is a session advisory lock held on a connection of its own, whose
//!   `application_name` carries the run id and operator; a second run finds the holder through
//!   `pg_locks` joined with `pg_stat_activity` (whose `backend_start` is the lock's start time).

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::{Connection, Executor, Row, TypeInfo, ValueRef};

use super::localise::{Cells, KeyLayout};
use super::schema::Schema;
use super::{BackupInfo, Database, Engine, ExecOptions, ExecReport, Fingerprint, LockHolder, OnCommit, Statement, StatementResult, Target};
use crate::error::{Error, Result};
use crate::sql::{classify, Effect};

/// The advisory-lock key of runbook's run lock ("runbook" in ASCII). Advisory locks are
/// per database, so one key serves every target.
const LOCK_KEY: i64 = 0x72_75_6e_62_6f_6f_6b;

/// The client programs a backup runs, and `pg_dump --version` as found.
struct DumpTools {
    pg_dump: std::path::PathBuf,
    pg_restore: std::path::PathBuf,
    banner: String,
}

pub struct PostgresDb {
    conn: PgConnection,
    options: PgConnectOptions,
    target: Target,
    lock_conn: Option<PgConnection>,
    /// Our session's backend pid, for cancel requests on Ctrl-C.
    backend_pid: Option<i32>,
}

impl PostgresDb {
    pub async fn connect(target: &Target, read_only: bool) -> Result<PostgresDb> {
        let options = PgConnectOptions::from_str(&target.driver_url())
            .map_err(|e| Error::usage(format!("bad PostgreSQL URL {}: {e}", target.display())))?
            .application_name("runbook");
        let mut conn =
            PgConnection::connect_with(&options).await.map_err(|e| Error::db(format!("cannot connect to {}: {e}", target.display())))?;
        if read_only {
            // `plan` promises not to write; the server enforces it.
            conn.execute("SET default_transaction_read_only = on").await?;
        }
        let pid = text_rows(&mut conn, "SELECT pg_backend_pid()").await?.first().and_then(|r| r[0].as_deref().and_then(|p| p.parse().ok()));
        Ok(PostgresDb { conn, options, target: target.clone(), lock_conn: None, backend_pid: pid })
    }

    async fn rows(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        text_rows(&mut self.conn, sql).await
    }

    /// The key-range split of `table` as it is now: by its primary key when that is one integer
    /// column among `columns`; `None` otherwise, or when the table is empty.
    async fn key_layout(&mut self, table: &str, columns: &[String]) -> Result<Option<KeyLayout>> {
        let t = table.replace('\'', "''");
        let keys = self
            .rows(&format!(
                "SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_index i \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                 WHERE i.indisprimary AND i.indrelid = to_regclass(quote_ident('{t}'))"
            ))
            .await?;
        let [k] = keys.as_slice() else { return Ok(None) };
        let (Some(name), Some(ty)) = (&k[0], &k[1]) else { return Ok(None) };
        if !matches!(ty.as_str(), "smallint" | "integer" | "bigint") || !columns.iter().any(|c| c == name) {
            return Ok(None);
        }
        let kq = super::quote_ident(Engine::Postgres, name);
        let b = self.rows(&format!("SELECT min({kq})::text, max({kq})::text FROM {}", super::quote_ident(Engine::Postgres, table))).await?;
        let bound = |i: usize| b.first().and_then(|r| r[i].as_deref()).and_then(|v| v.parse::<i64>().ok());
        Ok(match (bound(0), bound(1)) {
            (Some(lo), Some(hi)) => Some(KeyLayout::new(name, lo, hi)),
            _ => None,
        })
    }

    async fn server_major(&mut self) -> Result<u32> {
        let v = self.rows("SHOW server_version_num").await?;
        let n: u32 = v.first().and_then(|r| r.first().cloned().flatten()).and_then(|s| s.parse().ok()).unwrap_or(0);
        Ok(n / 10000)
    }

    /// `pg_dump` and `pg_restore` for this server, checked to be installed and new enough.
    async fn dump_tools(&mut self) -> Result<DumpTools> {
        let server = self.server_major().await?;
        let pg_dump = super::dump::pg_tool("pg_dump", server);
        let banner = super::dump::tool_version(&pg_dump.to_string_lossy()).await?.ok_or_else(|| {
            Error::failed(format!(
                "pg_dump is not installed (or not on PATH): install the PostgreSQL {server} client tools (e.g. postgresql-client-{server})"
            ))
        })?;
        let tool = super::dump::version_numbers(&banner).and_then(|v| v.first().copied()).unwrap_or(0);
        // pg_dump refuses servers newer than itself; an older major is the same failure, said early.
        if tool < server {
            return Err(Error::failed(format!(
                "pg_dump major version {tool} does not match the server's ({server}): install postgresql-client-{server} and put its pg_dump first on PATH ({banner})"
            )));
        }
        Ok(DumpTools { pg_restore: super::dump::pg_tool("pg_restore", tool), pg_dump, banner })
    }

    async fn holder(&mut self) -> Result<Option<(String, String)>> {
        let sql = format!(
            "SELECT a.application_name::text, to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND l.classid = {} AND l.objid = {}",
            (LOCK_KEY >> 32) as u32,
            (LOCK_KEY & 0xffff_ffff) as u32
        );
        let rows = self.rows(&sql).await?;
        Ok(rows.into_iter().next().map(|r| (r[0].clone().unwrap_or_default(), r[1].clone().unwrap_or_default())))
    }
}

/// Every row of `sql` with every value as text, over the simple-query protocol.
pub(crate) async fn text_rows(conn: &mut PgConnection, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
    let mut out = Vec::new();
    let mut rows = sqlx::raw_sql(sql).fetch(conn);
    while let Some(row) = rows.try_next().await? {
        out.push((0..row.len()).map(|i| cell_text(&row, i)).collect::<Result<Vec<_>>>()?);
    }
    Ok(out)
}

/// A value of a simple-query row as text: the server already rendered it.
fn cell_text(row: &PgRow, i: usize) -> Result<Option<String>> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(None);
    }
    let is_bool = raw.type_info().name() == "BOOL";
    let text = <&str as sqlx::Decode<sqlx::Postgres>>::decode(raw).map_err(|e| Error::db(format!("cannot read column {i}: {e}")))?;
    Ok(Some(match (is_bool, text) {
        (true, "t") => "true".into(),
        (true, "f") => "false".into(),
        _ => text.to_string(),
    }))
}

fn sqlstate(e: &sqlx::Error) -> Option<String> {
    e.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned())
}

fn is_lock_timeout(e: &sqlx::Error) -> bool {
    sqlstate(e).as_deref() == Some("55P03")
}

fn ms(d: Duration) -> u128 {
    d.as_millis().max(1)
}

async fn timed(conn: &mut PgConnection, s: &Statement) -> std::result::Result<StatementResult, sqlx::Error> {
    let start = Instant::now();
    let res = if s.params.is_empty() { conn.execute(sqlx::raw_sql(&s.sql)).await? } else { bound(conn, s).await? };
    Ok(StatementResult::new(&s.sql, Engine::Postgres, res.rows_affected(), start))
}

/// Run a statement with bound values, each placeholder typed as its literal would be
/// ([`typed_placeholders`]).
async fn bound(conn: &mut PgConnection, s: &Statement) -> std::result::Result<sqlx::postgres::PgQueryResult, sqlx::Error> {
    let sql = typed_placeholders(conn, s, |n| format!("${n}")).await?;
    let mut q = sqlx::query(&sql).persistent(false);
    for p in &s.params {
        q = q.bind(p.as_str());
    }
    conn.execute(q).await
}

/// The statement with each placeholder written as `value(n)` (1-based), cast to the type the
/// server gives it. Each value replaces a string literal, whose type the server infers from
/// where it stands (`created_at = '2025-01-01'` is a timestamp); a text value would be typed
/// text and fail there. So the statement is prepared first with its parameter types left open,
/// and every value the server types as anything but text is cast from text to that type: what
/// the literal would have been.
async fn typed_placeholders(
    conn: &mut PgConnection,
    s: &Statement,
    value: impl Fn(usize) -> String,
) -> std::result::Result<String, sqlx::Error> {
    use sqlx::Either;
    const TEXT_LIKE: [u32; 6] = [0, 19, 25, 705, 1042, 1043]; // unspecified, name, text, unknown, bpchar, varchar
    let prepared = (&mut *conn).prepare_with(&s.sql, &[]).await?;
    let oids: Vec<u32> = match sqlx::Statement::parameters(&prepared) {
        Some(Either::Left(types)) => types.iter().map(|t| t.oid().map(|o| o.0).unwrap_or(0)).collect(),
        _ => Vec::new(),
    };
    let mut sql = String::with_capacity(s.sql.len());
    let mut last = 0;
    for (i, slot) in s.slots.iter().enumerate() {
        sql.push_str(&s.sql[last..slot.start]);
        let oid = oids.get(i).copied().unwrap_or(0);
        if TEXT_LIKE.contains(&oid) {
            sql.push_str(&value(i + 1));
        } else {
            let name: String =
                sqlx::query_scalar("SELECT format_type(CAST($1 AS bigint)::oid, NULL)").bind(oid as i64).fetch_one(&mut *conn).await?;
            sql.push_str(&format!("CAST(CAST({} AS text) AS {name})", value(i + 1)));
        }
        last = slot.end;
    }
    sql.push_str(&s.sql[last..]);
    Ok(sql)
}

/// The session setting that carries bound value `n` of a read query.
fn bind_setting(n: usize) -> String {
    format!("runbook.bind_{n}")
}

/// A read query ready for the simple-query protocol, where every value comes back as the text
/// the server writes (the extended protocol would send binary values). Each bound value is
/// first sent as a parameter of `set_config` into a setting of this session, and the query reads
/// it back with `current_setting`: the value travels apart from the SQL, as a statement's
/// parameter does, and is never parsed as SQL.
async fn read_query(conn: &mut PgConnection, q: &Statement) -> Result<String> {
    if q.params.is_empty() {
        return Ok(q.sql.clone());
    }
    let ready = async {
        for (i, p) in q.params.iter().enumerate() {
            sqlx::query("SELECT set_config($1, $2, false)").bind(bind_setting(i + 1)).bind(p.as_str()).execute(&mut *conn).await?;
        }
        typed_placeholders(conn, q, |n| format!("current_setting('{}')", bind_setting(n))).await
    }
    .await;
    if ready.is_err() {
        forget_read(conn, q).await;
    }
    Ok(ready?)
}

/// Empty the settings a read query's values went into: a secret does not stay in the session.
async fn forget_read(conn: &mut PgConnection, q: &Statement) {
    for i in 0..q.params.len() {
        let _ = sqlx::query("SELECT set_config($1, '', false)").bind(bind_setting(i + 1)).execute(&mut *conn).await;
    }
}

/// Why one attempt at a step stopped: the database's own error, or the run lock lost between
/// two statements, or a committed statement the caller could not record (neither retried).
enum Stop {
    Sql(sqlx::Error),
    LockLost(Error),
    Journal(Error),
}

impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Self {
        Stop::Sql(e)
    }
}

/// Whether the lock session is there and still holds the advisory lock (a session advisory
/// lock only ends with `pg_advisory_unlock` or the session, so "there" is nearly enough; the
/// catalog says it for sure). `None`: this connection holds no lock (`plan`), nothing to check.
async fn lock_alive(lock: &mut Option<PgConnection>, target: &str) -> Result<()> {
    let Some(c) = lock.as_mut() else { return Ok(()) };
    let sql = format!(
        "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory' AND granted AND objsubid = 1 AND classid = {} AND objid = {}",
        (LOCK_KEY >> 32) as u32,
        (LOCK_KEY & 0xffff_ffff) as u32
    );
    let why = match text_rows(c, &sql).await {
        Ok(r) if r.first().and_then(|r| r[0].as_deref()) == Some("1") => return Ok(()),
        Ok(_) => "its session no longer holds the advisory lock".to_string(),
        Err(e) => format!("its session is gone: {}", super::explain_failure(&e.to_string())),
    };
    // A dead session is not a lock any more: dropping it keeps `unlock` from pretending.
    *lock = None;
    Err(Error::LockLost { target: target.to_string(), why })
}

/// One attempt at the whole step in a transaction; rolled back on any error.
async fn attempt_in_transaction(
    conn: &mut PgConnection,
    lock: &mut Option<PgConnection>,
    target: &str,
    statements: &[Statement],
    opts: &ExecOptions,
    on_commit: &mut OnCommit<'_>,
) -> std::result::Result<Vec<StatementResult>, Stop> {
    let mut tx = conn.begin().await?;
    let body = async {
        (&mut *tx)
            .execute(sqlx::raw_sql(&format!(
                "SET LOCAL lock_timeout = '{}ms'; SET LOCAL statement_timeout = '{}ms'",
                ms(opts.lock_timeout),
                ms(opts.statement_timeout)
            )))
            .await?;
        let mut out = Vec::new();
        for s in statements.get(opts.first..).unwrap_or_default() {
            lock_alive(lock, target).await.map_err(Stop::LockLost)?;
            out.push(timed(&mut tx, s).await?);
        }
        // Nothing commits without the lock.
        lock_alive(lock, target).await.map_err(Stop::LockLost)?;
        let txids = own_txids(&mut tx).await?;
        let written = written_ranges(&mut tx, &opts.watch, &txids).await?;
        for r in &mut out {
            r.txids = txids.clone();
        }
        // One read covers the whole transaction: it goes with its last statement.
        if let Some(last) = out.last_mut() {
            last.written = written;
        }
        Ok::<_, Stop>(out)
    }
    .await;
    match body {
        Ok(out) => {
            tx.commit().await?;
            super::committed_together(&out, opts.first, on_commit).map_err(Stop::Journal)?;
            Ok(out)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// The transactions the open transaction writes with, epoch-extended: its own id (taken now if
/// it had none) and the id of every subtransaction that committed in it (a savepoint, a
/// PL/pgSQL block with an exception handler), whose rows carry that id as `xmin`. A committed
/// subtransaction's id stays locked by the session until the top transaction ends, so
/// `pg_locks` lists them; an aborted one's rows are gone and its lock with them.
async fn own_txids(conn: &mut PgConnection) -> std::result::Result<Vec<u64>, sqlx::Error> {
    let (top, subs): (String, String) = sqlx::query_as(
        "SELECT txid_current()::text, coalesce(string_agg(transactionid::text, ','), '') \
         FROM pg_locks WHERE locktype = 'transactionid' AND mode = 'ExclusiveLock' AND pid = pg_backend_pid()",
    )
    .fetch_one(conn)
    .await?;
    let top: u64 = top.parse().map_err(|e| sqlx::Error::Decode(format!("txid_current() {top}: {e}").into()))?;
    let mut ids = vec![top];
    // A subtransaction's id comes after its parent's: the distance in 32 bits, wrapping,
    // extends it with the parent's epoch.
    for x in subs.split(',').filter_map(|x| x.parse::<u64>().ok()) {
        let full = top + (x.wrapping_sub(top) & 0xffff_ffff);
        if !ids.contains(&full) {
            ids.push(full);
        }
    }
    Ok(ids)
}

/// Per watched table, the key ranges holding rows written by `txids`, read in the open
/// transaction: its rows are locked until it commits, so no other session can have taken their
/// versions over yet.
async fn written_ranges(
    conn: &mut PgConnection,
    watch: &[(String, KeyLayout)],
    txids: &[u64],
) -> std::result::Result<Vec<(String, Vec<i64>)>, sqlx::Error> {
    if watch.is_empty() {
        return Ok(Vec::new());
    }
    let next: String = sqlx::query_scalar("SELECT txid_snapshot_xmax(txid_current_snapshot())::text").fetch_one(&mut *conn).await?;
    let next: u64 = next.parse().map_err(|e| sqlx::Error::Decode(format!("next transaction id {next}: {e}").into()))?;
    let ids: std::collections::BTreeSet<u64> = txids.iter().copied().collect();
    let mut out = Vec::new();
    for (table, layout) in watch {
        let sql = super::versions::postgres_written_sql(table, layout, &ids, next);
        let ranges: Vec<i64> = sqlx::query_scalar(&sql).persistent(false).fetch_all(&mut *conn).await?;
        out.push((table.clone(), ranges));
    }
    Ok(out)
}

/// Whether a statement run with `transaction: false` can be wrapped in a transaction block of
/// its own, to learn the id its rows are written with: a statement that only reads or writes
/// rows can; `CREATE INDEX CONCURRENTLY`, `VACUUM`, a procedure that commits and the like
/// refuse a block, and are run bare (their transactions stay unknown).
pub(crate) fn fits_in_block(sql: &str) -> bool {
    let s = crate::sql::strip_comments(sql);
    let first = s.split_whitespace().next().unwrap_or("").trim_start_matches('(').to_ascii_uppercase();
    matches!(first.as_str(), "INSERT" | "UPDATE" | "DELETE" | "MERGE" | "WITH" | "SELECT" | "TRUNCATE")
}

/// One statement in a transaction of its own (`transaction: false`), committed at once, with
/// the transactions it wrote in.
async fn timed_alone(
    conn: &mut PgConnection,
    s: &Statement,
    watch: &[(String, KeyLayout)],
) -> std::result::Result<StatementResult, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let body = async {
        let mut r = timed(&mut tx, s).await?;
        r.txids = own_txids(&mut tx).await?;
        r.written = written_ranges(&mut tx, watch, &r.txids).await?;
        Ok::<_, sqlx::Error>(r)
    }
    .await;
    match body {
        Ok(r) => {
            tx.commit().await?;
            Ok(r)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// A failed `CREATE INDEX CONCURRENTLY` leaves an invalid index behind; drop it so the
/// statement can be retried (and so a failed step leaves nothing half-built).
async fn drop_invalid_index(conn: &mut PgConnection, name: &str) {
    let lit = name.replace('\'', "''");
    let invalid = text_rows(
        conn,
        &format!(
            "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE c.relname = '{lit}' AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND NOT i.indisvalid"
        ),
    )
    .await
    .map(|r| !r.is_empty())
    .unwrap_or(false);
    if invalid {
        let _ =
            conn.execute(sqlx::raw_sql(&format!("DROP INDEX CONCURRENTLY IF EXISTS {}", super::quote_ident(Engine::Postgres, name)))).await;
    }
}

#[async_trait]
impl Database for PostgresDb {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    async fn version(&mut self) -> Result<String> {
        let v = self.rows("SHOW server_version").await?;
        let v = v.first().and_then(|r| r.first().cloned().flatten()).unwrap_or_default();
        Ok(format!("PostgreSQL {v}"))
    }

    async fn schema(&mut self) -> Result<Schema> {
        super::schema::postgres::snapshot(&mut self.conn).await
    }

    async fn execute(&mut self, statements: &[Statement], opts: &ExecOptions, on_commit: &mut OnCommit<'_>) -> Result<ExecReport> {
        let mut retries = 0u32;
        let target = self.target.display();
        if opts.transaction {
            loop {
                match attempt_in_transaction(&mut self.conn, &mut self.lock_conn, &target, statements, opts, on_commit).await {
                    Ok(done) => return Ok(ExecReport { statements: done, lock_retries: retries, transactional: true }),
                    Err(Stop::LockLost(e) | Stop::Journal(e)) => return Err(e),
                    Err(Stop::Sql(e)) if is_lock_timeout(&e) && retries < opts.lock_retries => {
                        retries += 1;
                        tokio::time::sleep(super::backoff(retries)).await;
                    }
                    Err(Stop::Sql(e)) if is_lock_timeout(&e) => {
                        return Err(Error::db(format!(
                            "{} (lock timeout {} ms; retries exhausted: {retries}; the transaction was rolled back, nothing changed)",
                            crate::error::sqlx_message(&e),
                            ms(opts.lock_timeout)
                        )))
                    }
                    Err(Stop::Sql(e)) => {
                        return Err(Error::db(format!(
                            "{} (the transaction was rolled back, nothing changed)",
                            crate::error::sqlx_message(&e)
                        )))
                    }
                }
            }
        }
        // Outside a transaction each statement commits on its own, so only the statement that
        // met the lock timeout is retried; the ones before it are done.
        self.conn
            .execute(sqlx::raw_sql(&format!(
                "SET lock_timeout = '{}ms'; SET statement_timeout = '{}ms'",
                ms(opts.lock_timeout),
                ms(opts.statement_timeout)
            )))
            .await?;
        let mut done = Vec::new();
        let mut failure = None;
        'stmts: for (n, s) in statements.iter().enumerate().skip(opts.first) {
            if let Err(e) = lock_alive(&mut self.lock_conn, &target).await {
                let _ = self.conn.execute("RESET lock_timeout; RESET statement_timeout").await;
                return Err(e);
            }
            let concurrent_index = match classify(&s.sql) {
                Effect::CreateIndex { name, concurrently: true, .. } => Some(name),
                _ => None,
            };
            loop {
                let result =
                    if fits_in_block(&s.sql) { timed_alone(&mut self.conn, s, &opts.watch).await } else { timed(&mut self.conn, s).await };
                match result {
                    Ok(r) => {
                        done.push(r);
                        if let Err(e) = on_commit(n, &done[done.len() - 1]) {
                            let _ = self.conn.execute("RESET lock_timeout; RESET statement_timeout").await;
                            return Err(e);
                        }
                        break;
                    }
                    Err(e) => {
                        if let Some(name) = &concurrent_index {
                            drop_invalid_index(&mut self.conn, name).await;
                        }
                        if is_lock_timeout(&e) && retries < opts.lock_retries {
                            retries += 1;
                            tokio::time::sleep(super::backoff(retries)).await;
                            continue;
                        }
                        let note = if is_lock_timeout(&e) {
                            format!(" (lock timeout {} ms; retries exhausted: {retries})", ms(opts.lock_timeout))
                        } else {
                            String::new()
                        };
                        failure = Some(format!(
                            "statement {} of {} failed: {}{note}; transaction: false, so the {n} statement(s) before it stay applied",
                            n + 1,
                            statements.len(),
                            crate::error::sqlx_message(&e),
                        ));
                        break 'stmts;
                    }
                }
            }
        }
        let _ = self.conn.execute("RESET lock_timeout; RESET statement_timeout").await;
        match failure {
            Some(f) => Err(Error::db(f)),
            None => Ok(ExecReport { statements: done, lock_retries: retries, transactional: false }),
        }
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
        Ok(self.dump_tools().await?.banner)
    }

    async fn backup(&mut self, dir: &Path, stem: &str) -> Result<BackupInfo> {
        let DumpTools { pg_dump, pg_restore, banner } = self.dump_tools().await?;
        let path = dir.join(format!("{stem}.dump"));
        let guard = super::dump::RemoveOnDrop::new(&path);
        let url = url_without_password(&self.target.url);
        let mut envs = vec![("PGAPPNAME", "runbook-backup".to_string())];
        if let Some(p) = &self.target.password {
            envs.push(("PGPASSWORD", p.clone()));
        }
        let out = super::dump::stream_to_file(&pg_dump.to_string_lossy(), ["-Fc", "--no-password", "--dbname", url.as_str()], &envs, &path)
            .await?;
        let list = tokio::process::Command::new(&pg_restore)
            .arg("--list")
            .arg(&path)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| Error::failed(format!("cannot run pg_restore to verify the backup: {e}")))?;
        if !list.status.success() {
            return Err(Error::failed(format!(
                "backup {} is unreadable: pg_restore --list failed: {}",
                path.display(),
                String::from_utf8_lossy(&list.stderr).trim()
            )));
        }
        let toc = String::from_utf8_lossy(&list.stdout);
        let tables = toc.lines().filter(|l| l.contains(" TABLE DATA ")).count();
        guard.keep();
        Ok(BackupInfo {
            path: path.display().to_string(),
            size: out.size,
            sha256: out.sha256,
            method: format!("pg_dump -Fc ({}: {})", pg_dump.display(), banner.trim()),
            verified: format!(
                "pg_restore --list read the archive: {} entries, {tables} table(s) with data",
                toc.lines().filter(|l| !l.starts_with(';') && !l.trim().is_empty()).count()
            ),
            tables: Vec::new(),
        })
    }

    async fn fingerprint(&mut self, table: &str, columns: &[String], layout: Option<&KeyLayout>) -> Result<Fingerprint> {
        let cols: Vec<String> = columns.iter().map(|c| super::quote_ident(Engine::Postgres, c)).collect();
        let table_q = super::quote_ident(Engine::Postgres, table);
        let layout = match layout {
            Some(l) => Some(l.clone()),
            None => self.key_layout(table, columns).await?,
        };
        let (range, seed) = match &layout {
            Some(l) => {
                let k = format!("{}::bigint", super::quote_ident(Engine::Postgres, &l.key));
                (l.sql_range(&k, "/"), k)
            }
            None => ("0".to_string(), "0".to_string()),
        };
        // Per column, a hash seeded with the row's key, only to localise a difference; a NULL
        // hashes to 1 (hashtextextended of NULL is NULL, which sum() would skip).
        let per_column: String =
            cols.iter().map(|c| format!(", coalesce(sum(coalesce(hashtextextended({c}::text, {seed}), 1)), 0)::text")).collect();
        // ROW(a) of one column is still a composite, so its text form is quoted the same way.
        let sql = format!(
            "SELECT ({range})::text AS r, count(*)::text, coalesce(sum(hashtextextended(ROW({})::text, 0)), 0)::text{per_column} FROM {table_q} GROUP BY 1",
            cols.join(", "),
        );
        let rows = self.rows(&sql).await?;
        // Exact numeric sums, reduced modulo 2^64 (two's complement of a negative sum).
        let num = |v: &Option<String>, what: &str| -> Result<u64> {
            let n: i128 = v.as_deref().unwrap_or("0").parse().map_err(|e| Error::db(format!("fingerprint {what}: {e}")))?;
            Ok(n as u64)
        };
        let (mut count, mut sum) = (0u64, 0u64);
        let mut cells = Cells::default();
        for r in &rows {
            let range = num(&r[0], "range")? as i64;
            let n = num(&r[1], "row count")?;
            count += n;
            sum = sum.wrapping_add(num(&r[2], "sum")?);
            let per: Vec<u64> = r[3..].iter().map(|v| num(v, "column sum")).collect::<Result<_>>()?;
            cells.add(range, n, &per);
        }
        Ok(Fingerprint {
            table: table.to_string(),
            columns: columns.to_vec(),
            rows: count,
            hash: format!("{sum:016x}"),
            layout,
            cells: cells.into_vec(),
        })
    }

    async fn row_versions(&mut self, q: &super::versions::Query<'_>) -> Result<super::versions::Found> {
        // The first id not yet given out: reading it takes no transaction id of our own.
        let next = self.rows("SELECT txid_snapshot_xmax(txid_current_snapshot())::text").await?;
        let Some(next) = next.first().and_then(|r| r[0].as_deref()).and_then(|v| v.parse::<u64>().ok()) else {
            return Ok(Err("the server did not tell its next transaction id".into()));
        };
        if let Some(why) = super::versions::too_old(q.txids, next) {
            return Ok(Err(why));
        }
        let rows = self.rows(&super::versions::postgres_sql(q, next)).await?;
        Ok(super::versions::parse_rows(&rows))
    }

    async fn lock(&mut self, holder: &LockHolder) -> Result<()> {
        // application_name is cut at 63 bytes; the run id comes first so it always survives.
        let mut name = format!("runbook {} {}", holder.run_id, holder.operator.replace(|c: char| !c.is_ascii_graphic(), "_"));
        name.truncate(63);
        let opts = self.options.clone().application_name(&name);
        let mut conn = PgConnection::connect_with(&opts)
            .await
            .map_err(|e| Error::db(format!("cannot connect to {} for the run lock: {e}", self.target.display())))?;
        let got = text_rows(&mut conn, &format!("SELECT pg_try_advisory_lock({LOCK_KEY})")).await?;
        if got.first().and_then(|r| r[0].as_deref()) == Some("true") {
            self.lock_conn = Some(conn);
            return Ok(());
        }
        let _ = conn.close().await;
        let (app, started) = self.holder().await?.unwrap_or_default();
        let mut parts = app.splitn(3, ' ');
        let (run_id, operator) = match (parts.next(), parts.next(), parts.next()) {
            (Some("runbook"), Some(id), op) => (id.to_string(), op.unwrap_or("unknown").to_string()),
            _ => ("unknown".into(), "unknown".into()),
        };
        Err(Error::Locked { run_id, operator, started: if started.is_empty() { "unknown".into() } else { started } })
    }

    async fn lock_alive(&mut self) -> Result<()> {
        lock_alive(&mut self.lock_conn, &self.target.display()).await
    }

    async fn unlock(&mut self) -> Result<()> {
        if let Some(mut c) = self.lock_conn.take() {
            let _ = c.execute(sqlx::raw_sql(&format!("SELECT pg_advisory_unlock({LOCK_KEY})"))).await;
            let _ = c.close().await;
        }
        Ok(())
    }

    async fn scratch_copy(&mut self, work_dir: &Path) -> Result<super::Scratch> {
        // A name a later `rehearse` or `resume` recognises, should this rehearsal be killed.
        let name = super::scratch::name(&self.target);
        // The scratch database is created through the maintenance database, on the same server.
        let admin = super::mysql::with_database(&self.target.url, "postgres");
        let info = self.backup(work_dir, "rehearsal-source").await?;
        let mut conn =
            PgConnection::connect_with(&PgConnectOptions::from_str(&admin).map_err(|e| Error::usage(format!("bad PostgreSQL URL: {e}")))?)
                .await
                .map_err(|e| Error::db(format!("cannot connect to create the scratch database: {e}")))?;
        conn.execute(sqlx::raw_sql(&format!("CREATE DATABASE {}", super::quote_ident(Engine::Postgres, &name)))).await?;
        let _ = conn.close().await;
        let url = super::mysql::with_database(&self.target.url, &name);
        let scratch = super::Scratch {
            target: Target::parse(&url)?,
            cleanup: super::Cleanup::DropDatabase { admin_url: admin, name: name.clone(), engine: Engine::Postgres },
            method: format!("database {name} restored from {}", info.method),
        };
        let mut envs: Vec<(&str, String)> = Vec::new();
        if let Some(p) = &self.target.password {
            envs.push(("PGPASSWORD", p.clone()));
        }
        let pg_restore = super::dump::pg_tool("pg_restore", self.server_major().await?);
        let out = tokio::process::Command::new(&pg_restore)
            .args(["--no-owner", "--exit-on-error", "--no-password", "--dbname"])
            .arg(url_without_password(&url))
            .arg(&info.path)
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(std::process::Stdio::null())
            .output()
            .await;
        let _ = std::fs::remove_file(&info.path);
        let failed = match out {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(String::from_utf8_lossy(&o.stderr).trim().to_string()),
            Err(e) => Some(format!("cannot run pg_restore: {e}")),
        };
        if let Some(why) = failed {
            let _ = super::drop_scratch(&scratch).await;
            return Err(Error::failed(format!("restoring the scratch copy failed: {why}")));
        }
        Ok(scratch)
    }

    fn canceller(&self) -> Option<super::Canceller> {
        // A cancel request for our backend, sent from a second connection.
        let pid = self.backend_pid?;
        let options = self.options.clone();
        Some(std::sync::Arc::new(move || {
            let options = options.clone();
            Box::pin(async move {
                let Ok(mut c) = PgConnection::connect_with(&options).await else { return };
                let _ = c.execute(sqlx::raw_sql(&format!("SELECT pg_cancel_backend({pid})"))).await;
                // Then checked: the session must have left the statement before the run says so.
                let busy = format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {pid} AND state = 'active'");
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

    fn transactional_ddl(&self) -> bool {
        true
    }
}

/// The URL handed to `pg_dump`: the password goes through PGPASSWORD, never the command line.
fn url_without_password(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            if u.scheme() != "postgres" && u.scheme() != "postgresql" {
                return raw.to_string();
            }
            // The password travels in PGPASSWORD; in argv `ps` would show it, query form or not.
            super::target::replace_query_password(&mut u, None);
            u.to_string()
        }
        Err(_) => raw.to_string(),
    }
}

/// Drop a scratch database made for a rehearsal, even if a session still uses it.
pub async fn drop_database(admin_url: &str, name: &str) -> Result<()> {
    let options = PgConnectOptions::from_str(admin_url).map_err(|e| Error::usage(format!("bad PostgreSQL URL: {e}")))?;
    let mut conn = PgConnection::connect_with(&options).await.map_err(|e| Error::db(format!("cannot connect to drop {name}: {e}")))?;
    conn.execute(sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", super::quote_ident(Engine::Postgres, name)))).await?;
    let _ = conn.close().await;
    Ok(())
}
