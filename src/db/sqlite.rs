//! SQLite, the embedded default target: introspection through `sqlite_master` and pragmas,
//! backups with `VACUUM INTO`, streamed fingerprints, and a lock file beside the database.
//!
//! The run lock is keyed on the database file itself, not on the path it was named by: an
//! exclusive `flock` on the file (its device and inode), so a symlink or a hard link to a
//! locked database is refused like its own name. Beside the canonical path (symlinks resolved)
//! a `.runbook-lock` file, locked too, names the holder for the refusal message.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{Connection, Executor, Row, TypeInfo, ValueRef};

use super::localise::KeyLayout;
use super::schema::Schema;
use super::{BackupInfo, Database, Engine, ExecOptions, ExecReport, Fingerprint, LockHolder, OnCommit, Statement, StatementResult, Target};
use crate::error::{Error, Result};

mod fingerprint;

pub struct SqliteDb {
    conn: SqliteConnection,
    path: PathBuf,
    /// The holder file and the database file, both locked while the run holds the lock.
    lock: Option<(File, File)>,
}

impl SqliteDb {
    pub async fn open(target: &Target, read_only: bool) -> Result<SqliteDb> {
        let path = target.path.clone().ok_or_else(|| Error::usage("SQLite target without a file"))?;
        if !path.is_file() {
            return Err(Error::db(format!(
                "SQLite database {} does not exist (runbook never creates a target; check the path)",
                path.display()
            )));
        }
        let conn = open_conn(&path, read_only).await?;
        Ok(SqliteDb { conn, path, lock: None })
    }

    /// The holder file: beside the database's canonical path, so every symlink leads to one.
    fn lock_path(&self) -> PathBuf {
        holder_file(&std::fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone()))
    }
}

fn holder_file(db: &Path) -> PathBuf {
    let mut p = db.to_path_buf().into_os_string();
    p.push(".runbook-lock");
    PathBuf::from(p)
}

fn read_holder(path: &Path) -> Option<LockHolder> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// The holder of a lock taken through another name of the same file (a hard link): the holder
/// file beside a name in the same folder whose file has our device and inode.
fn holder_by_inode(db: &Path) -> Option<LockHolder> {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata(db).ok()?;
    let dir = db.parent()?;
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let name = e.file_name().to_str()?.strip_suffix(".runbook-lock")?.to_string();
        let other = std::fs::metadata(dir.join(&name)).ok()?;
        (other.dev() == me.dev() && other.ino() == me.ino()).then(|| read_holder(&e.path())).flatten()
    })
}

fn locked_by(h: Option<LockHolder>) -> Error {
    match h {
        Some(h) => Error::Locked { run_id: h.run_id, operator: h.operator, started: h.started },
        None => Error::Locked { run_id: "unknown".into(), operator: "unknown".into(), started: "unknown".into() },
    }
}

/// How long a statement waits for another connection's lock before SQLite reports it busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

async fn open_conn(path: &Path, read_only: bool) -> Result<SqliteConnection> {
    // Leave journal mode and foreign keys as the application has them: a change tool must not
    // alter connection-level behaviour the application relies on.
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .read_only(read_only)
        .create_if_missing(false)
        .foreign_keys(false)
        .busy_timeout(BUSY_TIMEOUT);
    let mut conn = SqliteConnection::connect_with(&opts)
        .await
        .map_err(|e| Error::db(format!("cannot open SQLite database {}: {e}", path.display())))?;
    fingerprint::register(&mut conn).await?;
    Ok(conn)
}

/// A query (an assertion, a monitor check, a report query) is one statement, as on the
/// servers, which prepare it and refuse a second. SQLite's driver would run every statement of
/// the text in turn, so a value spliced into a quoted literal (`'x'; DELETE FROM t; SELECT '`)
/// could make a read write, past the backup guard and with nothing in the plan.
fn one_statement(sql: &str) -> Result<()> {
    let n = crate::sql::split(sql, Engine::Sqlite).len();
    if n > 1 {
        return Err(Error::failed(format!("a query must be one statement, and this one is {n}; nothing was run")));
    }
    Ok(())
}

/// A read query with its bound values. SQLite types a value by what it is, not by the
/// protocol, so a bound query's cells read as text exactly like an unbound one's.
fn read(q: &Statement) -> sqlx::query::Query<'_, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'_>> {
    let mut query = sqlx::query(&q.sql).persistent(q.params.is_empty());
    for p in &q.params {
        query = query.bind(p.as_str());
    }
    query
}

/// Decode any SQLite value as text, the way assertions compare it.
pub(crate) fn cell_text(row: &SqliteRow, i: usize) -> Result<Option<String>> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(None);
    }
    let ty = raw.type_info().name().to_ascii_uppercase();
    Ok(Some(match ty.as_str() {
        "INTEGER" | "BOOLEAN" => row.try_get::<i64, _>(i)?.to_string(),
        "REAL" => format_real(row.try_get::<f64, _>(i)?),
        "BLOB" => hex::encode(row.try_get::<Vec<u8>, _>(i)?),
        _ => row.try_get::<String, _>(i)?,
    }))
}

fn format_real(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

fn is_lock_error(e: &sqlx::Error) -> bool {
    let s = e.to_string();
    s.contains("database is locked") || s.contains("SQLITE_BUSY")
}

#[async_trait]
impl Database for SqliteDb {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    async fn version(&mut self) -> Result<String> {
        let v: String = sqlx::query_scalar("SELECT sqlite_version()").fetch_one(&mut self.conn).await?;
        Ok(format!("SQLite {v}"))
    }

    async fn schema(&mut self) -> Result<Schema> {
        super::schema::sqlite::snapshot(&mut self.conn).await
    }

    async fn execute(&mut self, statements: &[Statement], opts: &ExecOptions, on_commit: &mut OnCommit<'_>) -> Result<ExecReport> {
        sqlx::query(&format!("PRAGMA busy_timeout = {}", opts.lock_timeout.as_millis())).execute(&mut self.conn).await?;
        let result = self.execute_with_retries(statements, opts, on_commit).await;
        // The step's lock timeout is for its own statements: the reads after it (verify,
        // validate, reports) wait for a live application's writes as long as they always do.
        let _ = sqlx::query(&format!("PRAGMA busy_timeout = {}", BUSY_TIMEOUT.as_millis())).execute(&mut self.conn).await;
        result
    }
    async fn query_scalar(&mut self, q: &Statement) -> Result<Option<String>> {
        one_statement(&q.sql)?;
        let row = read(q).fetch_optional(&mut self.conn).await?;
        match row {
            Some(r) if r.len() > 0 => cell_text(&r, 0),
            _ => Ok(None),
        }
    }

    async fn query_count(&mut self, q: &Statement) -> Result<u64> {
        one_statement(&q.sql)?;
        Ok(super::rows::count(read(q).fetch(&mut self.conn)).await?)
    }

    async fn query_rows(&mut self, q: &Statement) -> Result<super::QueryRows> {
        one_statement(&q.sql)?;
        super::rows::collect(read(q).fetch(&mut self.conn), cell_text).await
    }

    async fn backup(&mut self, dir: &Path, stem: &str) -> Result<BackupInfo> {
        let path = super::unused_path(dir, stem, "sqlite3");
        let result = async {
            // VACUUM INTO accepts an existing empty file, so the 0600 mode is set before any data lands.
            OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(|e| Error::write(&path, e))?;
            let p = path.display().to_string().replace('\'', "''");
            sqlx::query(&format!("VACUUM INTO '{p}'"))
                .execute(&mut self.conn)
                .await
                .map_err(|e| Error::db(format!("backup failed: {e}")))?;
            // Not every SQLite version syncs the VACUUM INTO copy; a backup counts once it is on disk.
            crate::durable::sync_file(&path)?;
            crate::durable::sync_parent(&path)?;
            let (size, sha256) = super::hash_file(&path)?;
            let mut check = open_conn(&path, true).await?;
            let verdict: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut check).await?;
            if verdict != "ok" {
                return Err(Error::failed(format!("backup {} failed PRAGMA integrity_check: {verdict}", path.display())));
            }
            let names: Vec<(String,)> =
                sqlx::query_as("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
                    .fetch_all(&mut check)
                    .await?;
            let mut tables = Vec::new();
            for (n,) in names {
                let c: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", super::quote_ident(Engine::Sqlite, &n)))
                    .fetch_one(&mut check)
                    .await?;
                tables.push((n, c as u64));
            }
            check.close().await.ok();
            Ok(BackupInfo {
                path: path.display().to_string(),
                size,
                sha256,
                method: "VACUUM INTO".into(),
                verified: "PRAGMA integrity_check = ok".into(),
                tables,
            })
        }
        .await;
        if result.is_err() {
            // A partial backup must never be mistaken for a good one.
            let _ = std::fs::remove_file(&path);
        }
        result
    }

    async fn fingerprint(&mut self, table: &str, columns: &[String], layout: Option<&KeyLayout>) -> Result<Fingerprint> {
        let table_q = super::quote_ident(Engine::Sqlite, table);
        // One read transaction: the key span and the rows come from the same snapshot.
        let mut tx = self.conn.begin().await?;
        // The rowid keys the ranges; a WITHOUT ROWID table (or a `rowid` column that is not an
        // integer) has none, and is hashed as one range with key 0, as it always was.
        let span: std::result::Result<(Option<i64>, Option<i64>), _> =
            sqlx::query_as(&format!("SELECT min(rowid), max(rowid) FROM {table_q}")).fetch_one(&mut *tx).await;
        let (layout, key) = match span {
            Ok((Some(lo), Some(hi))) => (Some(layout.cloned().unwrap_or_else(|| KeyLayout::new("rowid", lo, hi))), "rowid"),
            Ok(_) => {
                // No rows: nothing to hash, but a given layout stays, so the cells still compare.
                tx.commit().await?;
                return Ok(Fingerprint {
                    table: table.to_string(),
                    columns: columns.to_vec(),
                    rows: 0,
                    hash: super::RowHashSum::default().hex(),
                    layout: layout.cloned(),
                    cells: Vec::new(),
                });
            }
            Err(_) => (None, "0"),
        };
        // Each value is rendered as quote() renders it, with its type (NULL, 1, 1.0, 'x', X'00'),
        // so the row text is unambiguous; the values are hashed inside SQLite (see the
        // `fingerprint` module), which quotes them itself when they come one per argument.
        let values = if columns.len() <= fingerprint::MAX_SEPARATE {
            columns.iter().map(|c| column_ident(c)).collect::<Vec<_>>().join(", ")
        } else {
            // quote() ends a text at its first NUL: such a text is quoted whole here too.
            columns
                .iter()
                .map(|c| {
                    let c = column_ident(c);
                    format!("CASE WHEN typeof({c}) = 'text' AND instr({c}, char(0)) > 0 THEN '''' || replace({c}, '''', '''''') || '''' ELSE quote({c}) END")
                })
                .collect::<Vec<_>>()
                .join(" || char(31) || ")
        };
        let sql = format!("SELECT {}(?1, ?2, ?3, ?4, ?5, {key}, {values}) FROM {table_q}", fingerprint::NAME);
        let l = layout.as_ref();
        let blob: Option<Vec<u8>> = sqlx::query_scalar(&sql)
            .bind(l.map(|l| l.lo))
            .bind(l.map(|l| l.hi))
            .bind(l.map(|l| l.width))
            .bind(l.map(|l| l.count))
            .bind(columns.len() as i64)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        let (sum, cells) = fingerprint::decode(blob.as_deref(), columns.len())?;
        Ok(Fingerprint {
            table: table.to_string(),
            columns: columns.to_vec(),
            rows: sum.rows,
            hash: sum.hex(),
            layout,
            cells: cells.into_vec(),
        })
    }

    async fn lock(&mut self, holder: &LockHolder) -> Result<()> {
        let canonical = std::fs::canonicalize(&self.path).map_err(|e| Error::read(&self.path, e))?;
        let path = holder_file(&canonical);
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::write(&path, e))?;
        match f.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(locked_by(read_holder(&path))),
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::write(&path, e)),
        }
        // The database file's own lock: the same inode under any name. SQLite's locks are
        // fcntl(2) record locks, which flock(2) does not touch.
        let file = File::open(&canonical).map_err(|e| Error::read(&canonical, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(locked_by(holder_by_inode(&canonical))),
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::write(&canonical, e)),
        }
        f.set_len(0).map_err(|e| Error::write(&path, e))?;
        let body = serde_json::to_vec(holder).unwrap_or_default();
        f.write_all(&body).and_then(|_| f.sync_all()).map_err(|e| Error::write(&path, e))?;
        self.lock = Some((f, file));
        Ok(())
    }

    async fn unlock(&mut self) -> Result<()> {
        if let Some((f, file)) = self.lock.take() {
            let _ = f.set_len(0);
            let _ = std::fs::remove_file(self.lock_path());
            drop(f);
            drop(file);
        }
        Ok(())
    }

    fn transactional_ddl(&self) -> bool {
        true
    }

    async fn scratch_copy(&mut self, work_dir: &Path) -> Result<super::Scratch> {
        let info = self.backup(work_dir, "rehearsal-copy").await?;
        let path = PathBuf::from(&info.path);
        Ok(super::Scratch {
            target: Target {
                engine: Engine::Sqlite,
                url: format!("sqlite://{}", path.display()),
                path: Some(path.clone()),
                password: None,
                read_only: false,
            },
            cleanup: super::Cleanup::RemoveFile(path),
            method: format!("VACUUM INTO a temporary file, {}", info.verified),
        })
    }
}

impl SqliteDb {
    async fn execute_with_retries(
        &mut self,
        statements: &[Statement],
        opts: &ExecOptions,
        on_commit: &mut OnCommit<'_>,
    ) -> Result<ExecReport> {
        let mut retries = 0;
        let mut done = Vec::new();
        loop {
            match run_statements(&mut self.conn, statements, opts, &mut done, on_commit).await {
                Ok(()) => return Ok(ExecReport { statements: done, lock_retries: retries, transactional: opts.transaction }),
                Err(Stop::Sql(e)) if is_lock_error(&e) && retries < opts.lock_retries => {
                    retries += 1;
                    tokio::time::sleep(super::backoff(retries)).await;
                }
                // The same words as the servers' lock timeout, so an operator reads one message
                // whatever the engine, and the journal keeps how often it was tried.
                Err(Stop::Sql(e)) if is_lock_error(&e) => {
                    let undone = if opts.transaction {
                        "; the transaction was rolled back, nothing changed".to_string()
                    } else {
                        format!("; transaction: false, so the {} statement(s) before it stay applied", opts.first + done.len())
                    };
                    return Err(Error::db(format!(
                        "{} (lock timeout {} ms; retries exhausted: {retries}{undone})",
                        crate::error::sqlx_message(&e),
                        opts.lock_timeout.as_millis()
                    )));
                }
                Err(Stop::Sql(e)) => return Err(Error::db(e)),
                Err(Stop::Journal(e)) => return Err(e),
            }
        }
    }
}

/// Why one attempt at the step's statements stopped: SQLite's own error (a lock error may be
/// retried), or the caller could not record a committed statement (never retried).
enum Stop {
    Sql(sqlx::Error),
    Journal(Error),
}

impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Self {
        Stop::Sql(e)
    }
}

/// Run the step's statements from `opts.first`, appending each one's result to `done`. In a
/// transaction a failure rolls everything back, so `done` is cleared; without one, the
/// statements in `done` stay applied and a retry starts after them, so none runs twice.
/// `on_commit` hears of each statement as it commits.
async fn run_statements(
    conn: &mut SqliteConnection,
    statements: &[Statement],
    opts: &ExecOptions,
    done: &mut Vec<StatementResult>,
    on_commit: &mut OnCommit<'_>,
) -> std::result::Result<(), Stop> {
    let todo = statements.get(opts.first..).unwrap_or_default();
    if opts.transaction {
        done.clear();
        let mut tx = conn.begin().await?;
        let mut out = Vec::new();
        for s in todo {
            out.push(timed(&mut *tx, s, opts.statement_timeout).await?);
        }
        tx.commit().await?;
        *done = out;
        super::committed_together(done, opts.first, on_commit).map_err(Stop::Journal)?;
    } else {
        for s in &todo[done.len()..] {
            done.push(timed(&mut *conn, s, opts.statement_timeout).await?);
            on_commit(opts.first + done.len() - 1, &done[done.len() - 1]).map_err(Stop::Journal)?;
        }
    }
    Ok(())
}

async fn timed<'c, E>(exec: E, s: &Statement, limit: Duration) -> std::result::Result<StatementResult, sqlx::Error>
where
    E: Executor<'c, Database = sqlx::Sqlite>,
{
    let start = Instant::now();
    let run = async {
        if s.params.is_empty() {
            exec.execute(sqlx::raw_sql(&s.sql)).await
        } else {
            // Bound values go apart from the text, as the statement's parameters.
            let mut q = sqlx::query(&s.sql).persistent(false);
            for p in &s.params {
                q = q.bind(p.as_str());
            }
            exec.execute(q).await
        }
    };
    let res = tokio::time::timeout(limit, run)
        .await
        .map_err(|_| sqlx::Error::Protocol(format!("statement timed out after {}", crate::runbook::duration::human(limit))))??;
    Ok(StatementResult::new(&s.sql, Engine::Sqlite, res.rows_affected(), start))
}

/// A column name quoted with backticks: SQLite reads a double-quoted name that matches no column
/// as a string literal, so a dropped column would be hashed as its own name instead of failing.
fn column_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The values of a row text made of `quote()`d values joined by U+001F. A quoted string may
/// hold U+001F itself, so fields are found by reading the quoting, not by splitting blindly.
fn split_quoted(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut i = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let start = i;
        if text.get(i) == Some(&b'\'') {
            i += 1;
            while i < text.len() {
                if text[i] == b'\'' {
                    if text.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
        }
        while i < text.len() && text[i] != 0x1f {
            i += 1;
        }
        let field = &text[start..i];
        if i >= text.len() {
            done = true;
        } else {
            i += 1;
        }
        Some(field)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoted_fields_split_on_unquoted_separators_only() {
        let text = b"1\x1f'a\x1fb''c'\x1fNULL\x1fX'00'";
        let fields: Vec<&[u8]> = super::split_quoted(text).collect();
        assert_eq!(fields, vec![&b"1"[..], &b"'a\x1fb''c'"[..], &b"NULL"[..], &b"X'00'"[..]]);
        assert_eq!(super::split_quoted(b"''").count(), 1);
    }
}
