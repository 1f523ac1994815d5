//! Test support: the `Test` builder that runs the real binary, and database helpers that keep
//! their files when a test fails so they can be inspected.

#![allow(dead_code)]

pub mod db;
pub mod servers;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use db::SqliteFile;

/// A runbook whose rollback forgets the index its plan created: rehearsal must catch it.
pub const FORGETFUL_ROLLBACK: &str = r#"
version: 1
id: forgetful
plan:
  - id: backup
    name: Backup
    kind: backup
  - id: add
    name: Add a column and an index
    kind: sql
    sql: |
      ALTER TABLE all_users ADD COLUMN pcc_user_uuid VARCHAR(36);
      CREATE INDEX ix_all_users_email ON all_users (email);
rollback:
  - id: backup-again
    name: Backup
    kind: backup
  - id: drop
    name: Drop the column (but not the index)
    kind: sql
    sql: ALTER TABLE all_users DROP COLUMN pcc_user_uuid
"#;

/// The seed runbook's step ids, in the ticket's order.
pub const SEED_PLAN_STEPS: [&str; 8] = [
    "backup",
    "add-column",
    "verify-column",
    "update-app-logic",
    "data-sync-test",
    "validation",
    "deployment",
    "post-deployment-monitoring",
];
pub const SEED_ROLLBACK_STEPS: [&str; 6] =
    ["check-dependencies", "rollback-backup", "drop-column", "revert-app", "verify-schema-restored", "monitor-after-rollback"];

pub const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/runbooks/add-pcc-user-uuid.yaml");

/// A temporary folder that is kept (and its path printed) when the test fails.
pub struct TempDir {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl TempDir {
    pub fn new() -> TempDir {
        let dir = tempfile::Builder::new().prefix("runbook-test-").tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        TempDir { dir: Some(dir), path }
    }
    /// A handle on a folder owned by another `TempDir`.
    fn borrowed(path: &Path) -> TempDir {
        TempDir { dir: None, path: path.to_path_buf() }
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.path.join(p)
    }
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.join(name);
        std::fs::write(&p, text).expect("write file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(d) = self.dir.take() {
                let kept = d.keep();
                eprintln!("test failed: kept {} for inspection", kept.display());
            }
        }
    }
}

/// One run of the binary.
pub struct Test {
    pub dir: TempDir,
    args: Vec<String>,
    stdin: Option<String>,
    env: Vec<(String, String)>,
}

/// What a run produced.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
    #[track_caller]
    pub fn code(&self, want: i32) -> &Self {
        assert_eq!(self.code, want, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }
    #[track_caller]
    pub fn stdout_has(&self, s: &str) -> &Self {
        assert!(self.stdout.contains(s), "stdout lacks {s:?}\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }
    #[track_caller]
    pub fn stderr_has(&self, s: &str) -> &Self {
        assert!(self.stderr.contains(s), "stderr lacks {s:?}\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }
    #[track_caller]
    pub fn lacks(&self, s: &str) -> &Self {
        assert!(!self.all().contains(s), "output contains {s:?}\n{}", self.all());
        self
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_runbook")
}

impl Test {
    pub fn new() -> Test {
        Test { dir: TempDir::new(), args: Vec::new(), stdin: None, env: Vec::new() }
    }

    /// Write `yaml` as `runbook.yaml` in the test folder.
    pub fn runbook(self, yaml: &str) -> Test {
        self.dir.write("runbook.yaml", yaml);
        self
    }

    pub fn arg(mut self, a: impl AsRef<str>) -> Test {
        self.args.push(a.as_ref().to_string());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, a: I) -> Test {
        self.args.extend(a.into_iter().map(|s| s.as_ref().to_string()));
        self
    }

    pub fn stdin(mut self, s: &str) -> Test {
        self.stdin = Some(s.to_string());
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Test {
        self.env.push((k.into(), v.into()));
        self
    }

    /// The command, ready to run: in the test folder, with `RUNBOOK_*` cleared.
    pub fn command(&self) -> Command {
        let mut c = Command::new(bin());
        c.current_dir(self.dir.path()).args(&self.args);
        for (k, _) in std::env::vars() {
            if k.starts_with("RUNBOOK_") || k == "DATABASE_URL" || k == "REDMINE_API_KEY" {
                c.env_remove(k);
            }
        }
        c.env("RUNBOOK_STATE_DIR", self.dir.join(".state"));
        c.env("NO_COLOR", "1");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Run with these arguments instead of the builder's (for several runs in one folder).
    pub fn exec<I: IntoIterator<Item = S>, S: AsRef<str>>(&self, args: I) -> Output {
        let t = Test {
            dir: TempDir::borrowed(self.dir.path()),
            args: args.into_iter().map(|s| s.as_ref().to_string()).collect(),
            stdin: self.stdin.clone(),
            env: self.env.clone(),
        };
        t.run()
    }

    /// Run with these arguments and extra environment variables.
    pub fn exec_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let t = Test {
            dir: TempDir::borrowed(self.dir.path()),
            args: args.iter().map(|s| s.to_string()).collect(),
            stdin: self.stdin.clone(),
            env: self.env.iter().cloned().chain(env.iter().map(|(k, v)| (k.to_string(), v.to_string()))).collect(),
        };
        t.run()
    }

    /// Run to completion (standard input is closed unless `stdin` was set).
    pub fn run(&self) -> Output {
        let mut c = self.command();
        c.stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn runbook");
        if let Some(s) = &self.stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        let watchdog = Watchdog::start(child.id());
        let out = child.wait_with_output().expect("wait runbook");
        if watchdog.stop() {
            panic!(
                "runbook {:?} did not finish within {} s and was killed\nstdout:\n{}\nstderr:\n{}",
                self.args,
                WATCHDOG.as_secs(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let o = Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(!o.stderr.contains("panicked"), "the binary panicked:\n{}", o.stderr);
        o
    }

    /// The run folders under `runs` (sorted: oldest first).
    pub fn run_dirs(&self, runs: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.dir.join(runs))
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// How long one run of the binary may take before the test kills it. A hung run must fail its
/// test with what it printed, not stall the whole suite until CI's own limit.
const WATCHDOG: std::time::Duration = std::time::Duration::from_secs(240);

struct Watchdog {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    fired: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Watchdog {
    fn start(pid: u32) -> Watchdog {
        use std::sync::atomic::Ordering;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let fired = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (d, f) = (done.clone(), fired.clone());
        std::thread::spawn(move || {
            let start = std::time::Instant::now();
            while start.elapsed() < WATCHDOG {
                if d.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            if !d.load(Ordering::SeqCst) {
                f.store(true, Ordering::SeqCst);
                // SAFETY: kill(2) on the child we spawned; it is still unreaped (`done` unset).
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
        });
        Watchdog { done, fired }
    }

    /// Stops the watchdog; true when it had to kill the run.
    fn stop(self) -> bool {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        self.fired.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The journal events of a run folder, parsed.
pub fn journal(run_dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run_dir.join("journal.jsonl"))
        .expect("journal")
        .lines()
        .map(|l| serde_json::from_str(l).expect("journal line is JSON"))
        .collect()
}

/// Events of one type.
pub fn events<'a>(j: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    j.iter().filter(|e| e["event"] == kind).collect()
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Whether a server test must fail rather than skip when its server is missing.
pub fn servers_required() -> bool {
    std::env::var("RUNBOOK_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

/// Skipped tests, named with why, for the summary printed when the test binary exits.
static SKIPPED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Say that the running test is skipped, and why, where `cargo test` shows it.
///
/// `eprintln!` is captured by the test harness and dropped when the test passes, so a skipped
/// server test would look like a passing one. The notes are collected and printed together after
/// the harness's own summary (at process exit), one line per test, on the uncaptured stderr.
pub fn skip(why: &str) {
    static AT_EXIT: std::sync::Once = std::sync::Once::new();
    let name = std::thread::current().name().unwrap_or("a test").to_string();
    SKIPPED.lock().unwrap_or_else(|e| e.into_inner()).push(format!("{name}: {why}"));
    // SAFETY: registers a plain `extern "C"` function with no captured state.
    AT_EXIT.call_once(|| unsafe {
        libc::atexit(print_skipped);
    });
}

extern "C" fn print_skipped() {
    use std::io::Write;
    let mut list = std::mem::take(&mut *SKIPPED.lock().unwrap_or_else(|e| e.into_inner()));
    list.sort();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "\n{} test(s) skipped:", list.len());
    for line in list {
        let _ = writeln!(err, "  skipped: {line}");
    }
}

/// Every form in which `secret` could leak: as is, percent-encoded (upper and lower case hex,
/// `+` for a space), JSON-escaped with `\u`, base64 at each alignment, and any piece of it
/// 10 characters long (a fragment left by a cut).
pub fn leak_forms(secret: &str) -> Vec<String> {
    use base64::Engine as _;
    let pct = percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC).to_string();
    let lower = lower_hex(&pct);
    let mut forms = vec![secret.to_string(), pct, lower];
    forms.push(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
    let ascii: String = secret.chars().map(|c| if c.is_ascii() { c.to_string() } else { format!("\\u{:04x}", c as u32) }).collect();
    forms.push(ascii);
    for prefix in ["", "u:", "us:", "user:"] {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{prefix}{secret}"));
        forms.push(b[prefix.len() * 4 / 3 + 4..b.len() - 4].to_string());
    }
    let chars: Vec<char> = secret.chars().collect();
    forms.extend(chars.windows(10).map(|w| w.iter().collect::<String>()));
    forms
}

/// Percent-encoding with lower-case hex digits, as some servers write it.
pub fn lower_hex(pct: &str) -> String {
    let mut out = String::new();
    let mut left = 0u8;
    for c in pct.chars() {
        out.push(if left > 0 { c.to_ascii_lowercase() } else { c });
        left = if c == '%' { 2 } else { left.saturating_sub(1) };
    }
    out
}

/// The canary check for a whole test: fail if any form of `secret` is in any file under each of
/// `roots` (run folders, fleet folders, or the folders that hold them), in any report of any run
/// found there rendered in every format, or in anything the binary printed (`outputs`).
#[track_caller]
pub fn assert_secret_nowhere(t: &Test, secret: &str, roots: &[PathBuf], outputs: &[&Output]) {
    let mut texts: Vec<String> = outputs.iter().flat_map(|o| [o.stdout.clone(), o.stderr.clone()]).collect();
    for run in roots.iter().flat_map(|r| evidence_folders(r)) {
        for format in ["markdown", "textile", "html", "json"] {
            let out = t.exec(["report", &run.display().to_string(), "--format", format]);
            out.code(0);
            texts.push(out.stdout);
            texts.push(out.stderr);
        }
    }
    for root in roots {
        assert_no_leak(secret, root, &[]);
    }
    assert_no_leak(secret, Path::new("/nonexistent-no-folder"), &texts);
}

/// Every run folder (holds `journal.jsonl`) and fleet folder (holds `fleet.jsonl`) at or under
/// `dir`: each is something `runbook report` renders. A fleet's own target runs are inside it.
pub fn evidence_folders(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if dir.join("journal.jsonl").is_file() || dir.join("fleet.jsonl").is_file() {
        out.push(dir.to_path_buf());
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut subs: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
        subs.sort();
        for p in subs {
            out.extend(evidence_folders(&p));
        }
    }
    out
}

/// Fail if any form of `secret` is in any file under `dir` or in any of `texts`.
pub fn assert_no_leak(secret: &str, dir: &Path, texts: &[String]) {
    let forms = leak_forms(secret);
    let mut all: Vec<(String, String)> = files_under(dir)
        .into_iter()
        .map(|f| (f.display().to_string(), String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned()))
        .collect();
    all.extend(texts.iter().enumerate().map(|(i, t)| (format!("output #{i}"), t.clone())));
    for (name, text) in &all {
        for f in &forms {
            assert!(!text.contains(f.as_str()), "the secret leaks into {name} as `{f}`");
        }
    }
}
