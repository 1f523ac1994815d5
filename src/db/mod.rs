//! The database layer: one trait, [`Database`], implemented per engine.
//!
//! Everything the engine needs from a target goes through it: introspection for `verify`,
//! prechecks and snapshots; statements for `sql`; backups; data fingerprints; and the run lock
//! that keeps two operators from changing one target at once.

pub mod dump;
pub mod localise;
pub mod mysql;
pub mod postgres;
pub mod rows;
pub mod schema;
pub mod scratch;
pub mod sqlite;
pub mod target;
pub mod versions;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;
pub use crate::sql::bind::Statement;
pub use rows::QueryRows;
pub use schema::Schema;
pub use target::{Engine, Target};

/// Options for running the statements of one `sql` step.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub transaction: bool,
    pub lock_timeout: Duration,
    pub statement_timeout: Duration,
    pub lock_retries: u32,
    /// Index of the first statement to run: the ones before it committed in an earlier attempt
    /// at the step (a resumed run) and must not run again. Messages and [`OnCommit`] number
    /// statements within the whole step, so "statement 3 of 4" means the same in every attempt.
    pub first: usize,
    /// Tables whose key ranges holding rows the step wrote are read inside its transaction,
    /// before it commits, while those rows are still locked against other writers
    /// ([`StatementResult::written`]; PostgreSQL).
    pub watch: Vec<(String, localise::KeyLayout)>,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            transaction: true,
            lock_timeout: crate::runbook::DEFAULT_LOCK_TIMEOUT,
            statement_timeout: crate::runbook::DEFAULT_STATEMENT_TIMEOUT,
            lock_retries: crate::runbook::DEFAULT_LOCK_RETRIES,
            first: 0,
            watch: Vec::new(),
        }
    }
}

/// What one statement did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatementResult {
    pub sql: String,
    /// Rows changed, for a statement whose kind reports it; `None` for DDL and the rest.
    pub rows_affected: Option<u64>,
    /// What the statement's kind says about its row count.
    pub kind: crate::sql::count::Counted,
    pub duration_ms: u64,
    /// The transactions the statement's writes carry (PostgreSQL: the epoch-extended id of its
    /// transaction and of every subtransaction that committed in it); empty where not known.
    #[serde(default)]
    pub txids: Vec<u64>,
    /// Per watched table ([`ExecOptions::watch`]), the key ranges holding rows its transaction
    /// wrote, read before it committed; on the last statement of a transaction.
    #[serde(default)]
    pub written: Vec<(String, Vec<i64>)>,
}

impl StatementResult {
    /// The outcome of `sql` on `engine`: the driver's count is kept only for a statement kind
    /// that reports one, so that every engine records the same evidence for the same statement.
    pub fn new(sql: &str, engine: Engine, driver_count: u64, started: std::time::Instant) -> Self {
        let kind = crate::sql::count::counted(sql, engine);
        StatementResult {
            sql: sql.to_string(),
            rows_affected: kind.keep(driver_count),
            kind,
            duration_ms: started.elapsed().as_millis() as u64,
            txids: Vec::new(),
            written: Vec::new(),
        }
    }
}

/// Told of each statement as the database commits it, with its index within the step: after
/// the statement itself when it commits on its own (outside a transaction, or DDL on
/// MariaDB/MySQL), or all together at `COMMIT`. The caller journals it there and then, so a
/// failure, a signal or a kill later in the step cannot hide what is already committed. An
/// error it returns (the journal could not be written) stops the step before its next statement.
pub type OnCommit<'a> = dyn FnMut(usize, &StatementResult) -> Result<()> + Send + 'a;

/// Tell `on_commit` of statements that committed together at `COMMIT`, numbered from `first`.
pub fn committed_together(results: &[StatementResult], first: usize, on_commit: &mut OnCommit<'_>) -> Result<()> {
    results.iter().enumerate().try_for_each(|(i, r)| on_commit(first + i, r))
}

/// The outcome of a whole `sql` step on the database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExecReport {
    pub statements: Vec<StatementResult>,
    /// Lock-timeout retries that happened before the statements went through.
    pub lock_retries: u32,
    pub transactional: bool,
}

/// A verified backup file.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BackupInfo {
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub method: String,
    pub verified: String,
    /// Row counts per table in the backup, where the engine can tell cheaply.
    #[serde(default)]
    pub tables: Vec<(String, u64)>,
}

/// Row count and order-independent content hash of some columns of a table, with the per-range,
/// per-column cells that localise a difference ([`localise`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub table: String,
    pub columns: Vec<String>,
    pub rows: u64,
    pub hash: String,
    /// How rows are split into key ranges; `None` for a table without one integer key (then
    /// one cell covers the whole table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<localise::KeyLayout>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cells: Vec<localise::Cell>,
}

/// Who holds the run lock on a target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockHolder {
    pub run_id: String,
    pub operator: String,
    pub started: String,
    pub pid: u32,
    pub host: String,
}

/// A database target the engine can work on.
#[async_trait]
pub trait Database: Send {
    fn engine(&self) -> Engine;

    /// Server or library version, for the journal.
    async fn version(&mut self) -> Result<String>;

    /// The whole schema: tables, columns, indexes, views and triggers, and every object the
    /// engine's own schema dump shows (see [`schema::objects`]).
    async fn schema(&mut self) -> Result<Schema>;

    /// Run statements as one step: in one transaction when asked and the engine allows it,
    /// from `opts.first` on. A statement's bound values ([`Statement::params`]) are sent apart
    /// from its text. `on_commit` hears of each statement once it has committed, before the
    /// next one starts or the call returns, whether the step then succeeds or not.
    async fn execute(&mut self, statements: &[Statement], opts: &ExecOptions, on_commit: &mut OnCommit<'_>) -> Result<ExecReport>;

    /// First column of the first row, as text (`None` for SQL NULL or no row).
    ///
    /// The read methods take a [`Statement`]: a runbook's query binds its lone literal variables
    /// as a `sql` step does (see `exec::step::query`), so a value cannot make a read check other
    /// rows than its text says. Internal queries are [`Statement::text`]. Every value comes back
    /// as the server writes it as text, bound or not, so one assertion compares alike either way.
    async fn query_scalar(&mut self, q: &Statement) -> Result<Option<String>>;

    /// Run a query to completion and count its rows without keeping them.
    async fn query_count(&mut self, q: &Statement) -> Result<u64>;

    /// Run a query to completion, keeping its first [`rows::MAX_ROWS`] rows as text and counting
    /// the rest.
    async fn query_rows(&mut self, q: &Statement) -> Result<QueryRows>;

    /// What the backup step will use, checked now: the dump tool's banner, or an error saying
    /// why the backup would fail (tool missing, major version not matching the server).
    async fn backup_tool(&mut self) -> Result<String> {
        Ok("built in".into())
    }

    /// Write a full, consistent backup into `dir` and verify it.
    async fn backup(&mut self, dir: &Path, stem: &str) -> Result<BackupInfo>;

    /// Fingerprint `columns` of `table`, streaming; never holds the table in memory. `layout`
    /// is the key-range split of an earlier fingerprint to compare with; `None` chooses one
    /// from the table as it is now.
    async fn fingerprint(&mut self, table: &str, columns: &[String], layout: Option<&localise::KeyLayout>) -> Result<Fingerprint>;

    /// Per key range of `q.table`, how many rows carry a row version written by one of the
    /// run's transactions ([`versions`]). `Ok(Err(why))` when the engine cannot tell.
    async fn row_versions(&mut self, q: &versions::Query<'_>) -> Result<versions::Found> {
        let _ = q;
        Ok(Err(format!("{} keeps no row versions a query can read", self.engine())))
    }

    /// Take the run lock, or fail with [`crate::Error::Locked`] naming the holder.
    async fn lock(&mut self, holder: &LockHolder) -> Result<()>;

    /// Release the run lock (also released when the process dies).
    async fn unlock(&mut self) -> Result<()>;

    /// Fail with [`crate::Error::LockLost`] when the run lock's session no longer holds it.
    /// Checked before every step and every statement; a lock that cannot die (SQLite's flock,
    /// held by this process) needs no check.
    async fn lock_alive(&mut self) -> Result<()> {
        Ok(())
    }

    /// Whether DDL can be rolled back with the transaction.
    fn transactional_ddl(&self) -> bool;

    /// Make a scratch copy of the whole database for a rehearsal, without writing to this one.
    async fn scratch_copy(&mut self, work_dir: &Path) -> Result<Scratch> {
        let _ = work_dir;
        Err(crate::Error::usage(format!("rehearsal on {} targets is not supported by this build", self.engine())))
    }

    /// A handle that cancels the statement in progress from another task (Ctrl-C), if the
    /// engine supports it.
    fn canceller(&self) -> Option<Canceller> {
        None
    }
}

/// How long taking the run lock waits for a holder that is already dead: its process is gone
/// but the server has not yet ended its session.
pub const DEAD_HOLDER_WAIT: Duration = Duration::from_secs(5);

/// Whether the run lock's holder is a process on this host that no longer exists.
pub fn holder_is_dead(h: &LockHolder) -> bool {
    h.host == this_host() && process_gone(h.pid)
}

/// This machine's name, as a lock holder records it.
pub fn this_host() -> String {
    whoami::fallible::hostname().unwrap_or_else(|_| "unknown".into())
}

/// Whether no process with this id exists on this host.
pub fn process_gone(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else { return false };
    // SAFETY: kill(2) with signal 0 sends nothing; it only asks whether the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// How long a canceller waits for the server to show the cancelled statement gone: within the
/// second every signal must end the run in.
pub const CANCEL_CHECK: Duration = Duration::from_millis(500);

/// Cancels the statement in progress on one connection, then checks on the server that it
/// stopped.
pub type Canceller = std::sync::Arc<dyn Fn() -> futures_util::future::BoxFuture<'static, ()> + Send + Sync>;

/// A scratch copy made for a rehearsal, and how to get rid of it.
#[derive(Debug, Clone)]
pub struct Scratch {
    pub target: Target,
    pub cleanup: Cleanup,
    /// How the copy was made, for the report.
    pub method: String,
}

#[derive(Debug, Clone)]
pub enum Cleanup {
    RemoveFile(std::path::PathBuf),
    /// Drop a database through an administrative connection (URL without the database's name).
    DropDatabase {
        admin_url: String,
        name: String,
        engine: Engine,
    },
}

/// Remove a scratch copy; used at the end of a rehearsal whatever its result.
pub async fn drop_scratch(s: &Scratch) -> Result<()> {
    match &s.cleanup {
        Cleanup::RemoveFile(p) => {
            for suffix in ["", "-journal", "-wal", "-shm"] {
                let mut f = p.clone().into_os_string();
                f.push(suffix);
                let _ = std::fs::remove_file(std::path::PathBuf::from(f));
            }
            Ok(())
        }
        Cleanup::DropDatabase { admin_url, name, engine } => match engine {
            Engine::Postgres => postgres::drop_database(admin_url, name).await,
            Engine::Mysql => mysql::drop_database(admin_url, name).await,
            Engine::Sqlite => Ok(()),
        },
    }
}

/// Connect to `target`; `read_only` connections are used by `plan` and never write, and a
/// target whose URL asks for read-only (`mode=ro`) is never connected any other way.
pub async fn connect(target: &Target, read_only: bool) -> Result<Box<dyn Database>> {
    let read_only = read_only || target.read_only;
    match target.engine {
        Engine::Sqlite => Ok(Box::new(sqlite::SqliteDb::open(target, read_only).await?)),
        Engine::Postgres => Ok(Box::new(postgres::PostgresDb::connect(target, read_only).await?)),
        Engine::Mysql => Ok(Box::new(mysql::MysqlDb::connect(target, read_only).await?)),
    }
}

/// Quote an identifier for `engine`.
pub fn quote_ident(engine: Engine, name: &str) -> String {
    match engine {
        Engine::Mysql => format!("`{}`", name.replace('`', "``")),
        _ => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// A failure message with a plain-words cause in front when the database connection itself was
/// lost: the driver's own words ("expected to read 5 bytes, got 0 bytes at EOF") do not tell an
/// operator at 2 a.m. that the server went away.
pub fn explain_failure(message: &str) -> String {
    const LOST: [&str; 6] = [
        "error communicating with database",
        "bytes at EOF",
        "Connection refused",
        "connection reset",
        "Broken pipe",
        "terminating connection due to administrator command",
    ];
    if LOST.iter().any(|s| message.contains(s)) {
        format!("lost the connection to the database server (stopped, restarted or unreachable); resume the run once it is back: {message}")
    } else {
        message.to_string()
    }
}

/// `dir/stem.ext`, or `dir/stem-2.ext`, `-3` … if taken (a re-run step must not collide with
/// the file of an earlier attempt).
pub fn unused_path(dir: &Path, stem: &str, ext: &str) -> std::path::PathBuf {
    let first = dir.join(format!("{stem}.{ext}"));
    if !first.exists() {
        return first;
    }
    (2..).map(|n| dir.join(format!("{stem}-{n}.{ext}"))).find(|p| !p.exists()).expect("unbounded")
}

/// Wait before lock-timeout retry `n` (1-based): 200ms, 400ms, 800ms … capped at 5s.
pub fn backoff(n: u32) -> Duration {
    Duration::from_millis((200u64 << n.saturating_sub(1).min(5)).min(5_000))
}

/// Size and sha256 of a file, read in blocks.
pub fn hash_file(path: &Path) -> Result<(u64, String)> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| crate::Error::read(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| crate::Error::read(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok((size, hex::encode(h.finalize())))
}

/// Order-independent multiset hash of rows: the sum, modulo 2^128, of the first 16 bytes of
/// each row's sha256. Equal tables give equal sums whatever order the rows come in.
#[derive(Debug, Default)]
pub struct RowHashSum {
    pub rows: u64,
    sum: u128,
}

impl RowHashSum {
    pub fn add(&mut self, row: &[u8]) {
        use sha2::{Digest, Sha256};
        self.add_digest(&Sha256::digest(row));
    }
    /// Add a row by its SHA-256, computed by the caller (in pieces, or inside the database).
    pub fn add_digest(&mut self, d: &[u8]) {
        let mut b = [0u8; 16];
        b.copy_from_slice(&d[..16]);
        self.sum = self.sum.wrapping_add(u128::from_be_bytes(b));
        self.rows += 1;
    }
    pub fn hex(&self) -> String {
        format!("{:032x}", self.sum)
    }
    /// Row count and sum, to carry a partial sum across a boundary (an SQLite aggregate).
    pub fn parts(&self) -> (u64, u128) {
        (self.rows, self.sum)
    }
    pub fn from_parts(rows: u64, sum: u128) -> RowHashSum {
        RowHashSum { rows, sum }
    }
}
