//! Interactive runs driven through a real pseudo-terminal, answering the prompts as an
//! operator would.

use std::time::Duration;

use expectrl::{Eof, Session, WaitStatus};

use crate::support::{events, journal, SqliteFile, Test, SEED};

const DOWN: &str = "\x1b[B";
/// The keys every step prompt lists after its question.
const STEP_KEYS: &str = "r run · s skip · a abort";

fn session(t: &Test, args: &[&str]) -> Session {
    let mut c = t.command();
    c.args(args).env("TERM", "xterm").env("COLUMNS", "120");
    let mut s = Session::spawn(c).expect("spawn in a pty");
    s.set_expect_timeout(Some(Duration::from_secs(20)));
    s
}

fn exit_code(s: &mut Session) -> i32 {
    let _ = s.expect(Eof);
    match s.get_process().wait().expect("wait") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("unexpected end: {other:?}"),
    }
}

#[test]
fn abort_at_step_2_leaves_the_database_unchanged_and_exits_3() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 100);
    let schema = db.rows("SELECT sql FROM sqlite_master ORDER BY name");
    let digest = db.data_digest();
    let url = db.url();
    let mut s = session(
        &t,
        &[
            "run",
            SEED,
            "--db",
            &url,
            "--runs-dir",
            "runs",
            "--operator",
            "carol",
            "--skip",
            "data-sync-test",
            "--skip",
            "post-deployment-monitoring",
            "--skip",
            "monitor-after-rollback",
        ],
    );
    s.expect("Step 1/8 · Backup Database · backup").unwrap();
    // The panel names the file the backup goes to, not a pattern.
    s.expect(format!("VACUUM INTO {}", t.dir.path().join("runs").display()).as_str()).unwrap();
    s.expect("/backup-backup.sqlite3 (mode 0600)").unwrap();
    s.expect("Take the backup now?").unwrap();
    s.send("\r").unwrap();
    s.expect("Step 2/8 · Add New Column · sql").unwrap();
    s.expect("ALTER TABLE all_users ADD COLUMN pcc_user_uuid").unwrap();
    // The panel says what undoes the step, with the rollback step's SQL.
    s.expect("↩ undone by rollback step 3 · ").unwrap();
    s.expect("DROP").unwrap();
    s.expect("Run these 2 statements?").unwrap();
    // Arrows choose nothing (there is no menu to wrap around into Abort); `a` asks first.
    s.send(DOWN).unwrap();
    s.send(DOWN).unwrap();
    s.expect(STEP_KEYS).unwrap();
    s.send("a").unwrap();
    s.expect("Abort the run here?").unwrap();
    s.send("y").unwrap();
    s.expect("aborted").unwrap();
    assert_eq!(exit_code(&mut s), 3);

    assert_eq!(db.rows("SELECT sql FROM sqlite_master ORDER BY name"), schema, "schema changed");
    assert_eq!(db.data_digest(), digest);
    let j = journal(&t.run_dirs("runs")[0]);
    let d = events(&j, "step_decision");
    assert_eq!(d.len(), 2);
    assert_eq!(d[0]["decision"], "run");
    assert_eq!(d[0]["how"], "interactive");
    assert_eq!(d[0]["by"], "carol");
    assert_eq!(d[1]["decision"], "abort");
    assert_eq!(j.last().unwrap()["outcome"], "aborted");
    assert_eq!(j.last().unwrap()["exit_code"], 3);
    assert_eq!(events(&j, "backup").len(), 1, "the backup of step 1 ran");
}

const MANUAL: &str = r#"
version: 1
id: manual
plan:
  - id: check
    name: Check the application
    kind: manual
    instructions: Look at the dashboard.
    checklist:
      - Dashboard is green
      - On-call is told
  - id: change
    name: Make a table
    kind: sql
    sql: CREATE TABLE made(x INTEGER)
rollback:
  - id: undo
    name: Drop it
    kind: sql
    sql: DROP TABLE IF EXISTS made
"#;

#[test]
fn manual_checklist_and_note_are_recorded_with_who_and_how() {
    let t = Test::new().runbook(MANUAL);
    let db = SqliteFile::users(t.dir.path(), 3);
    let url = db.url();
    let mut s = session(&t, &["run", "runbook.yaml", "--db", &url, "--runs-dir", "runs", "--operator", "dave"]);
    s.expect(STEP_KEYS).unwrap();
    s.send("\r").unwrap();
    s.expect("Done: Dashboard is green?").unwrap();
    s.send("y").unwrap();
    s.expect("Done: On-call is told?").unwrap();
    s.send("y").unwrap();
    s.expect("Note for the record").unwrap();
    s.send_line("paged Erin at 02:10").unwrap();
    s.expect("Step 2/2").unwrap();
    s.expect(STEP_KEYS).unwrap();
    s.send("\r").unwrap();
    assert_eq!(exit_code(&mut s), 0);
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name='made'"), "1");
    let j = journal(&t.run_dirs("runs")[0]);
    let items = events(&j, "checklist_item");
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i["confirmed"] == true && i["by"] == "dave" && i["how"] == "interactive"));
    assert_eq!(events(&j, "note")[0]["text"], "paged Erin at 02:10");
}

#[test]
fn unconfirmed_checklist_item_fails_the_step_and_offers_the_rollback() {
    let t = Test::new().runbook(
        &MANUAL
            .replace("  - id: check", "  - id: pre\n    name: Pre\n    kind: sql\n    sql: CREATE TABLE made(x INTEGER)\n  - id: check")
            .replace("    sql: CREATE TABLE made(x INTEGER)\nrollback", "    sql: CREATE TABLE other(x INTEGER)\nrollback"),
    );
    let db = SqliteFile::users(t.dir.path(), 3);
    let url = db.url();
    let mut s = session(&t, &["run", "runbook.yaml", "--db", &url, "--runs-dir", "runs", "--allow-no-backup"]);
    s.expect(STEP_KEYS).unwrap();
    s.send("\r").unwrap();
    s.expect("Step 2/3").unwrap();
    s.expect(STEP_KEYS).unwrap();
    s.send("\r").unwrap();
    s.expect("Done: Dashboard is green?").unwrap();
    s.send("n").unwrap();
    s.expect("Done: On-call is told?").unwrap();
    s.send("y").unwrap();
    s.expect("Note for the record").unwrap();
    s.send("\r").unwrap();
    s.expect("Run the rollback plan now?").unwrap();
    s.send("y").unwrap();
    s.expect("Drop it").unwrap();
    s.expect(STEP_KEYS).unwrap();
    s.send("\r").unwrap();
    assert_eq!(exit_code(&mut s), 1);
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name='made'"), "0", "rollback ran");
    let j = journal(&t.run_dirs("runs")[0]);
    assert_eq!(events(&j, "rollback_decision")[0]["accepted"], true);
    assert_eq!(j.last().unwrap()["outcome"], "rolled_back");
}

#[test]
fn ctrl_c_at_a_terminal_offers_the_rollback_plan_and_exits_3() {
    let t = Test::new().runbook(
        r#"
version: 1
id: interrupted
plan:
  - id: make
    name: Make a table
    kind: sql
    sql: CREATE TABLE made(x INTEGER)
  - id: wait
    name: A long job
    kind: command
    command: ["sleep", "30"]
rollback:
  - id: undo
    name: Drop it
    kind: sql
    sql: DROP TABLE IF EXISTS made
"#,
    );
    let db = SqliteFile::users(t.dir.path(), 3);
    let url = db.url();
    let mut s = session(&t, &["run", "runbook.yaml", "--db", &url, "--runs-dir", "runs", "--allow-no-backup"]);
    s.expect(STEP_KEYS).unwrap();
    s.send("\r").unwrap();
    s.expect("Step 2/2").unwrap();
    s.expect(STEP_KEYS).unwrap();
    s.send("\r").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // ^C at the terminal: the line discipline turns it into SIGINT for the run.
    s.send("\x03").unwrap();
    s.expect("interrupted").unwrap();
    s.expect("Interrupted. Run the rollback plan now?").unwrap();
    s.send("y").unwrap();
    s.expect("Drop it").unwrap();
    s.expect(STEP_KEYS).unwrap();
    s.send("\r").unwrap();
    assert_eq!(exit_code(&mut s), 3);
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name='made'"), "0", "the rollback ran");
    let j = journal(&t.run_dirs("runs")[0]);
    assert_eq!(events(&j, "interrupted").len(), 1);
    assert_eq!(events(&j, "rollback_decision")[0]["accepted"], true);
    assert_eq!(j.last().unwrap()["outcome"], "interrupted");
}

/// Regression: a step's duration and start time included the time the operator spent at its
/// prompt, so a 3 ms backup confirmed after a minute showed as a one-minute step.
#[test]
fn time_spent_at_the_prompt_is_not_the_steps_duration() {
    let t = Test::new().runbook(MANUAL);
    let db = SqliteFile::users(t.dir.path(), 3);
    let url = db.url();
    let mut s = session(&t, &["run", "runbook.yaml", "--db", &url, "--runs-dir", "runs", "--skip", "check"]);
    s.expect("Step 2/2 · Make a table · sql").unwrap();
    s.expect(STEP_KEYS).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    s.send("\r").unwrap();
    assert_eq!(exit_code(&mut s), 0);
    let run = &t.run_dirs("runs")[0];
    let j = journal(run);
    let finished = events(&j, "step_finished").into_iter().find(|e| e["step_id"] == "change").unwrap().clone();
    let ms = finished["duration_ms"].as_u64().unwrap();
    assert!(ms < 1000, "the step's duration counts the 1.5 s wait at the prompt: {ms} ms");
    // The prompt's wait lies before the step: nothing is `step_started` until the operator has
    // decided, so the step starts (and its decision follows) about 1.5 s after the event before.
    let at = |kind: &str| j.iter().position(|e| e["event"] == kind && e["step_id"] == "change").unwrap();
    let ts = |i: usize| chrono::DateTime::parse_from_rfc3339(j[i]["ts"].as_str().unwrap()).unwrap();
    let (started, decided) = (at("step_started"), at("step_decision"));
    let waited = ts(started) - ts(started - 1);
    assert!(waited >= chrono::Duration::milliseconds(1400), "the step starts when decided, {waited} after the event before it: {j:?}");
    assert!(decided > started && ts(decided) >= ts(started), "the decision follows the start: {j:?}");
    let confirmed = j[decided]["ts"].as_str().unwrap().to_string();
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    let step = report["steps"].as_array().unwrap().iter().find(|s| s["id"] == "change").unwrap();
    assert_eq!(step["started"], confirmed.as_str(), "the report's start is the confirmation");
    assert_eq!(step["duration_ms"], ms);
}

/// A run in a pseudo-terminal that keeps everything the terminal was sent, so a test can check
/// the escape sequences as well as the words.
struct Pty {
    s: Session,
    seen: Vec<u8>,
}

impl Pty {
    fn spawn(t: &Test, args: &[&str], columns: u16, term: &str) -> Pty {
        let mut c = t.command();
        c.args(args).env("TERM", term).env("COLUMNS", columns.to_string()).env("LINES", "40");
        let mut s = Session::spawn(c).expect("spawn in a pty");
        s.get_process_mut().set_window_size(columns, 40).expect("window size");
        s.set_expect_timeout(Some(Duration::from_secs(20)));
        Pty { s, seen: Vec::new() }
    }

    #[track_caller]
    fn expect(&mut self, text: &str) {
        match self.s.expect(text) {
            Ok(found) => {
                self.seen.extend_from_slice(found.before());
                self.seen.extend_from_slice(found.get(0).unwrap_or_default());
            }
            Err(e) => panic!("waiting for {text:?}: {e}\n--- the terminal so far\n{}", String::from_utf8_lossy(&self.seen)),
        }
    }

    fn send(&mut self, keys: &str) {
        self.s.send(keys).expect("send keys");
    }

    /// Wait for the end; the exit code and the whole terminal output.
    fn finish(&mut self) -> (i32, String) {
        if let Ok(rest) = self.s.expect(Eof) {
            self.seen.extend_from_slice(rest.as_bytes());
        }
        let code = match self.s.get_process().wait().expect("wait") {
            WaitStatus::Exited(_, code) => code,
            other => panic!("unexpected end: {other:?}"),
        };
        (code, String::from_utf8_lossy(&self.seen).into_owned())
    }

    /// Whether the terminal is back in line-editing mode (after the end: a key prompt leaves
    /// it raw while it waits).
    fn line_editing(&self) -> bool {
        crate::faults::line_editing(&self.s)
    }

    /// Send `signal` to the process, or type Ctrl-C when there is none.
    fn stop(&mut self, signal: Option<i32>) {
        match signal {
            // SAFETY: a plain kill(2) on the child this session spawned.
            Some(sig) => unsafe {
                libc::kill(self.s.get_process().pid().as_raw(), sig);
            },
            None => self.send("\x03"),
        }
    }
}

/// Whether the terminal was left with its cursor hidden: a hide (`ESC[?25l`) after the last show.
fn cursor_left_hidden(out: &str) -> bool {
    match (out.rfind("\x1b[?25l"), out.rfind("\x1b[?25h")) {
        (Some(hide), Some(show)) => hide > show,
        (Some(_), None) => true,
        _ => false,
    }
}

const KEYS_RUNBOOK: &str = r#"
version: 1
id: keys
plan:
  - id: first
    name: First table
    kind: sql
    sql: CREATE TABLE first_t(x INTEGER)
  - id: pair
    name: Two tables
    kind: sql
    sql: |
      CREATE TABLE pair_a(x INTEGER);
      CREATE TABLE pair_b(x INTEGER);
  - id: deploy
    name: Deploy the application
    kind: manual
    checklist:
      - Deploy finished
  - id: third
    name: Third table
    kind: sql
    sql: CREATE TABLE third_t(x INTEGER)
  - id: fourth
    name: Fourth table
    kind: sql
    sql: CREATE TABLE fourth_t(x INTEGER)
rollback:
  - id: undo
    name: Drop them
    kind: sql
    sql: DROP TABLE IF EXISTS pair_a
"#;

/// Every key of the step and checklist prompts, at a narrow and a wide terminal: `?` helps,
/// `q` asks before aborting and "no" returns to the prompt, `s` takes a default reason, Enter
/// does not answer a checklist item, `w` waits (and the wait is journaled), `c` runs the rest
/// without asking and the journal says so.
#[test]
fn every_prompt_key_does_what_it_says_at_80_and_160_columns() {
    for columns in [80, 160] {
        let t = Test::new().runbook(KEYS_RUNBOOK);
        let db = SqliteFile::users(t.dir.path(), 3);
        let url = db.url();
        let mut p = Pty::spawn(&t, &["run", "runbook.yaml", "--db", &url, "--runs-dir", "runs", "--allow-no-backup"], columns, "xterm");
        p.expect("Step 1/5 · First table · sql");
        p.expect("Run this statement?");
        p.send("?");
        p.expect("run this step and every later one without asking");
        p.send("q");
        p.expect("Abort the run here?");
        p.send("n");
        p.expect(STEP_KEYS);
        p.send("s");
        p.expect("Why is this step skipped?");
        p.send("\r");
        p.expect("Step 2/5 · Two tables · sql");
        p.expect("Run these 2 statements?");
        p.send("r");
        p.expect("Step 3/5 · Deploy the application · manual");
        p.expect("Go through this checklist now?");
        p.send("r");
        p.expect("Done: Deploy finished?");
        // Enter is no answer to a checklist item; `w` is "not yet", and the item comes back.
        p.send("\r");
        p.send("w");
        p.expect("not yet: Deploy finished");
        p.expect("Done: Deploy finished?");
        std::thread::sleep(Duration::from_millis(1100));
        p.send("y");
        p.expect("Note for the record");
        p.send("\r");
        p.expect("Step 4/5 · Third table · sql");
        p.send("c");
        p.expect("Step 5/5 · Fourth table · sql");
        p.expect("run without asking (c)");
        let (code, out) = p.finish();
        assert_eq!(code, 0, "{out}");
        assert!(!cursor_left_hidden(&out), "cursor left hidden at {columns} columns");
        assert!(out.contains("Report (HTML)"), "{out}");
        assert!(!out.contains("Next:"), "a run that succeeded needs no next command\n{out}");

        let tables =
            db.rows("SELECT name FROM sqlite_master WHERE name IN ('first_t', 'pair_a', 'pair_b', 'third_t', 'fourth_t') ORDER BY name");
        let tables: Vec<String> = tables.into_iter().flatten().collect();
        assert_eq!(tables, ["fourth_t", "pair_a", "pair_b", "third_t"], "first was skipped, the rest ran");
        let j = journal(&t.run_dirs("runs")[0]);
        let d = events(&j, "step_decision");
        let by_step = |id: &str| d.iter().find(|e| e["step_id"] == id).unwrap_or_else(|| panic!("no decision for {id}"));
        assert_eq!(by_step("first")["decision"], "skip");
        assert_eq!(by_step("first")["reason"], "skipped by the operator at the prompt");
        assert_eq!(by_step("pair")["how"], "interactive");
        assert_eq!(by_step("third")["how"], "interactive (c: run the rest without asking)");
        assert_eq!(by_step("fourth")["how"], "continued without asking (c)");
        assert_eq!(by_step("fourth")["decision"], "run");
        let notes = events(&j, "note");
        let waited = notes.iter().find(|n| n["text"].as_str().unwrap().starts_with("waited ")).expect("the wait is journaled");
        assert!(waited["text"].as_str().unwrap().ends_with(" for: Deploy finished"), "{waited}");
        let items = events(&j, "checklist_item");
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["confirmed"], true);
    }
}

/// Ctrl-C at the step prompt and at a checklist item: the run stops with exit 3, nothing more
/// is run, and the cursor is visible afterwards.
#[test]
fn ctrl_c_at_each_prompt_exits_3_with_the_cursor_visible() {
    for (columns, at_item) in [(80, false), (160, true)] {
        let t = Test::new().runbook(KEYS_RUNBOOK);
        let db = SqliteFile::users(t.dir.path(), 3);
        let url = db.url();
        let mut p = Pty::spawn(
            &t,
            &[
                "run",
                "runbook.yaml",
                "--db",
                &url,
                "--runs-dir",
                "runs",
                "--allow-no-backup",
                "--skip",
                "first=not today",
                "--skip",
                "pair",
            ],
            columns,
            "xterm",
        );
        p.expect("skipped (--skip): not today");
        p.expect("skipped (--skip, no reason given)");
        p.expect("Go through this checklist now?");
        if at_item {
            p.send("r");
            p.expect("Done: Deploy finished?");
        }
        p.send("\x03");
        let (code, out) = p.finish();
        assert_eq!(code, 3, "{out}");
        assert!(!cursor_left_hidden(&out), "cursor left hidden\n{out}");
        assert!(out.contains("] ^C"), "the prompt shows the key\n{out}");
        if at_item {
            // A checklist has no statement to cancel: the operator is told what was stopped.
            assert!(out.contains("! interrupted by Ctrl-C: the checklist was left unanswered; the step is not done"), "{out}");
            assert!(!out.contains("statement in progress"), "{out}");
        }
        // The ending names the run folder, every report and the journal, and what to type next.
        let run = &t.run_dirs("runs")[0];
        for line in [
            format!("Run folder: {}", run.display()),
            format!("Report (markdown) : {}", run.join("report.md").display()),
            format!("Report (HTML)     : {}", run.join("report.html").display()),
            format!("Report (JSON)     : {}", run.join("report.json").display()),
            format!("Journal           : {}", run.join("journal.jsonl").display()),
            format!("runbook resume {}", run.display()),
            format!("runbook rollback runbook.yaml --db {url}"),
        ] {
            assert!(out.contains(&line), "lacks {line:?}\n{out}");
        }
        let j = journal(run);
        // Ctrl-C at a prompt is the operator stopping, journaled as an interruption.
        assert_eq!(j.last().unwrap()["outcome"], "interrupted");
        assert_eq!(j.last().unwrap()["exit_code"], 3);
        assert_eq!(events(&j, "interrupted").len(), 1);
        assert_eq!(events(&j, "interrupted")[0]["signal"], "Ctrl-C");
        assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name IN ('third_t', 'fourth_t')"), "0");
        let skipped = events(&j, "step_decision");
        assert_eq!(skipped[0]["reason"], "not today");
        assert_eq!(skipped[1]["reason"], "no reason given");
    }
}

/// `TERM=dumb` at a terminal: the monitoring window prints a plain line per sample and the
/// prompt draws nothing in place; no cursor movement reaches the terminal (ESC[…A/B/C/D/K/J,
/// cursor save or restore, or hide).
#[test]
fn term_dumb_gets_plain_lines_without_cursor_movement() {
    let t = Test::new().runbook(
        r#"
version: 1
id: dumb
plan:
  - id: watch
    name: Watch the table
    kind: monitor
    duration: 3s
    interval: 1s
    checks:
      - name: users
        query: SELECT count(*) FROM all_users
        min: 1
rollback:
  - id: nothing
    name: Nothing
    kind: manual
    checklist: [nothing to undo]
"#,
    );
    let db = SqliteFile::users(t.dir.path(), 3);
    let url = db.url();
    let mut p = Pty::spawn(&t, &["run", "runbook.yaml", "--db", &url, "--runs-dir", "runs"], 80, "dumb");
    p.expect("Start the 3-second monitoring window?");
    p.send("r");
    let (code, out) = p.finish();
    assert_eq!(code, 0, "{out}");
    let moves = regex::Regex::new(r"\x1b\[[0-9;]*[ABCDGHJKfsu]|\x1b\[\?25[lh]|\x1b[78]").unwrap();
    assert!(!moves.is_match(&out), "cursor movement under TERM=dumb: {:?}", moves.find(&out).map(|m| m.as_str()));
    assert!(out.matches("users").count() >= 3, "a line per sample\n{out}");
}

/// A monitoring check's log file that does not exist is found before step 1, with its step,
/// and nothing is run.
#[test]
fn preflight_catches_a_missing_log_file_before_step_1() {
    let t = Test::new().runbook(
        r#"
version: 1
id: preflight
plan:
  - id: add
    name: Add a table
    kind: sql
    sql: CREATE TABLE added(x INTEGER)
  - id: sync
    name: Sync
    kind: command
    command: ["no-such-program-here", "--once"]
  - id: watch
    name: Watch the log
    kind: monitor
    duration: 1s
    interval: 1s
    checks:
      - name: errors in the application log
        log: ./logs/app.log
        pattern: ERROR
        max: 0
rollback:
  - id: drop
    name: Drop it
    kind: sql
    sql: DROP TABLE IF EXISTS added
"#,
    );
    let db = SqliteFile::users(t.dir.path(), 3);
    let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--allow-no-backup", "--runs-dir", "runs"]);
    out.code(2)
        .stderr_has("nothing was run")
        .stderr_has("step 2 `sync`: the program `no-such-program-here` is not on PATH")
        .stderr_has("step 3 `watch`: monitor check `errors in the application log` reads ./logs/app.log, which cannot be opened");
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'added'"), "0", "step 1 did not run");
}

/// `run … > out.txt` at a terminal: the panel, its SQL and the outcome are drawn on the
/// terminal, where the operator answers, and the file gets the plain transcript.
#[test]
fn redirected_stdout_keeps_the_panel_on_the_terminal_and_the_transcript_in_the_file() {
    let t = Test::new().runbook(
        r#"
version: 1
id: redirected
plan:
  - id: add
    name: Add the table
    description: A table for the nicknames that users choose themselves when they sign up again
    kind: sql
    sql: CREATE TABLE nick_t(x INTEGER)
rollback:
  - id: drop
    name: Drop it
    kind: sql
    sql: DROP TABLE IF EXISTS nick_t
"#,
    );
    let db = SqliteFile::users(t.dir.path(), 3);
    let mut c = std::process::Command::new("sh");
    c.current_dir(t.dir.path())
        .arg("-c")
        .arg(format!("exec \"$0\" run runbook.yaml --db '{}' --runs-dir runs --allow-no-backup > out.txt", db.url()))
        .arg(crate::support::bin());
    for (k, v) in t.command().get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c.env("TERM", "xterm").env("COLUMNS", "80");
    let mut s = Session::spawn(c).expect("spawn in a pty");
    s.set_expect_timeout(Some(Duration::from_secs(20)));
    let mut p = Pty { s, seen: Vec::new() };
    p.expect("Step 1/1 · Add the table · sql");
    p.expect("A table for the nicknames that users choose themselves when they sign up");
    p.expect("CREATE TABLE nick_t(x INTEGER)");
    p.expect("↩ undone by rollback step 1 · Drop it");
    p.expect("Run this statement?");
    p.send("r");
    p.expect("succeeded");
    let (code, tty) = p.finish();
    assert_eq!(code, 0, "{tty}");
    assert!(!cursor_left_hidden(&tty), "{tty}");
    let file = std::fs::read_to_string(t.dir.join("out.txt")).unwrap();
    for line in ["Step 1/1 · Add the table · sql", "    CREATE TABLE nick_t(x INTEGER)", "Run folder: "] {
        assert!(file.contains(line), "the transcript lacks {line:?}\n{file}");
    }
    assert!(!file.contains('\x1b'), "the transcript is plain text\n{file:?}");
    assert!(!file.contains("Run this statement?"), "prompts stay on the terminal\n{file}");
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'nick_t'"), "1");
}

/// At 80 and 160 columns: text is wrapped at spaces to the width (no line longer, no word
/// cut), and `plan` shows the two plans side by side only where they fit.
#[test]
fn text_wraps_to_the_terminal_width_without_cutting_words_at_80_and_160_columns() {
    let words = "Every statement here is checked twice by the operator on call before the maintenance window \
                 opens, because the application servers keep long transactions open during the nightly export";
    let yaml = format!(
        "version: 1\nid: wrap\nplan:\n  - id: add\n    name: Add\n    description: {words}\n    kind: sql\n    sql: CREATE TABLE wrap_t(x INTEGER)\nrollback:\n  - id: drop\n    name: Drop\n    kind: sql\n    sql: DROP TABLE IF EXISTS wrap_t\n"
    );
    for columns in [80usize, 160] {
        let t = Test::new().runbook(&yaml);
        let db = SqliteFile::users(t.dir.path(), 3);
        let url = db.url();
        let mut p = Pty::spawn(&t, &["plan", "runbook.yaml", "--db", &url], columns as u16, "xterm");
        let (code, out) = p.finish();
        assert_eq!(code, 0, "{out}");
        let text = String::from_utf8(strip_escapes(out.as_bytes())).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        for l in &lines {
            assert!(l.chars().count() <= columns, "a line wider than {columns} columns: {l:?}");
        }
        // Every word of the description is on the terminal whole.
        let shown: Vec<&str> = lines.iter().flat_map(|l| l.split_whitespace()).collect();
        for w in words.split_whitespace() {
            assert!(shown.contains(&w), "{w:?} was cut at {columns} columns\n{text}");
        }
        let side_by_side = lines.iter().any(|l| l.starts_with("Change plan (1 step)") && l.ends_with("│ Rollback plan (1 step)"));
        assert_eq!(side_by_side, columns == 160, "{text}");
    }
}

/// The text of terminal output without its escape sequences.
fn strip_escapes(b: &[u8]) -> Vec<u8> {
    let re = regex::bytes::Regex::new(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]").unwrap();
    re.replace_all(b, &b""[..]).into_owned()
}

/// Two steps; the run is killed right after it decided to run the second one, so `resume`
/// finds that step in flight with nothing of it journaled and must ask about it.
const IN_FLIGHT_RUNBOOK: &str = r#"
version: 1
id: inflight
plan:
  - id: one
    name: First table
    kind: sql
    sql: CREATE TABLE one_t(x INTEGER)
  - id: two
    name: Second table
    kind: sql
    sql: CREATE TABLE two_t(x INTEGER)
rollback:
  - id: undo
    name: Drop them
    kind: sql
    sql: DROP TABLE IF EXISTS one_t
"#;

const IN_FLIGHT_KEYS: &str = "[r run again · d mark done · s skip · a abort · ? help]";

fn killed_with_step_in_flight(t: &Test) -> (SqliteFile, String) {
    let db = SqliteFile::users(t.dir.path(), 3);
    let mut c = t.command();
    c.env("RUNBOOK_FAULT", "kill-after=step_decision:two")
        .args(["run", "runbook.yaml", "--db", &db.url(), "--runs-dir", "runs", "--yes", "--allow-no-backup", "--operator", "erin"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    c.status().unwrap();
    let run = t.run_dirs("runs").pop().expect("a run folder").display().to_string();
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'one_t'"), "1");
    (db, run)
}

/// The terminal output as the rows a terminal `columns` wide would show at the end: text
/// wraps at the width, and the cursor movements and erasures dialoguer and the prompts send
/// are applied, so a row left behind by a redraw (a ghost line) is still there to be seen.
fn screen(out: &str, columns: usize) -> Vec<String> {
    let mut rows: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut col, mut pending) = (0usize, 0usize, false);
    let mut chars = out.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                if chars.peek() != Some(&'[') {
                    chars.next();
                    continue;
                }
                chars.next();
                let mut arg = String::new();
                let mut end = ' ';
                for c in chars.by_ref() {
                    if c.is_ascii_digit() || c == ';' || c == '?' {
                        arg.push(c);
                    } else {
                        end = c;
                        break;
                    }
                }
                let n = arg.parse::<usize>().unwrap_or(1).max(1);
                pending = false;
                match end {
                    'A' => row = row.saturating_sub(n),
                    'B' => row += n,
                    'C' => col = (col + n).min(columns - 1),
                    'D' => col = col.saturating_sub(n),
                    'G' => col = n - 1,
                    'K' if arg == "2" => rows[row].clear(),
                    'K' => rows[row].truncate(col),
                    _ => {}
                }
                while rows.len() <= row {
                    rows.push(Vec::new());
                }
            }
            '\r' => {
                col = 0;
                pending = false;
            }
            '\n' => {
                row += 1;
                pending = false;
                while rows.len() <= row {
                    rows.push(Vec::new());
                }
            }
            '\x07' | '\x08' => {}
            c => {
                if pending {
                    row += 1;
                    col = 0;
                    pending = false;
                    while rows.len() <= row {
                        rows.push(Vec::new());
                    }
                }
                let line = &mut rows[row];
                while line.len() < col {
                    line.push(' ');
                }
                if col < line.len() {
                    line[col] = c;
                } else {
                    line.push(c);
                }
                if col + 1 == columns {
                    pending = true;
                } else {
                    col += 1;
                }
            }
        }
    }
    rows.into_iter().map(|r| r.into_iter().collect::<String>().trim_end().to_string()).collect()
}

/// At resume's prompt: an arrow key answers nothing (there is no menu to wrap from the first
/// item to Abort), `a` and Esc ask before aborting and "no" returns to the prompt, `?` helps,
/// and `r` runs the step again.
#[test]
fn resume_prompt_keys_do_not_wrap_into_abort_and_abort_asks_first() {
    let t = Test::new().runbook(IN_FLIGHT_RUNBOOK);
    let (db, run) = killed_with_step_in_flight(&t);
    let mut p = Pty::spawn(&t, &["resume", &run], 80, "xterm");
    p.expect("Step `two` (sql) was in flight when run");
    p.expect(IN_FLIGHT_KEYS);
    p.send("\x1b[A");
    p.expect(IN_FLIGHT_KEYS);
    p.send("?");
    p.expect("mark it done: you checked the database and its work is there");
    p.expect(IN_FLIGHT_KEYS);
    p.send("a");
    p.expect("Abort the run here?");
    p.send("n");
    p.expect(IN_FLIGHT_KEYS);
    p.send("\x1b");
    p.expect("Abort the run here?");
    p.send("n");
    p.expect(IN_FLIGHT_KEYS);
    p.send("r");
    p.expect("Resuming run");
    // The step is run again as a step: its own prompt comes next.
    p.expect("Run this statement?");
    p.send("r");
    let (code, out) = p.finish();
    assert_eq!(code, 0, "{out}");
    assert!(!cursor_left_hidden(&out), "cursor left hidden\n{out}");
    let rows = screen(&out, 80);
    for line in [
        "? What about step `two`?",
        &format!("  {IN_FLIGHT_KEYS}"),
        &format!("  {IN_FLIGHT_KEYS} help"),
        "  r          run the step again from its start",
        &format!("  {IN_FLIGHT_KEYS} abort?"),
        "✔ Abort the run here? Nothing more is run · no",
        &format!("  {IN_FLIGHT_KEYS} run it again"),
    ] {
        assert!(rows.iter().any(|r| r == line), "no whole line {line:?}\n{}", rows.join("\n"));
    }
    assert!(!rows.iter().any(|r| r.contains("aborted")), "{}", rows.join("\n"));
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'two_t'"), "1", "the step ran again");
    let j = journal(std::path::Path::new(&run));
    let resumed = events(&j, "run_resumed");
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0]["in_flight"], "two");
    assert_eq!(resumed[0]["decision"], "run again (interactive)");
    assert_eq!(j.last().unwrap()["outcome"], "succeeded");
}

/// The run's events from the last `lock_acquired` on: the attempt a resume journaled.
fn last_attempt(j: &[serde_json::Value]) -> Vec<&str> {
    let at = j.iter().rposition(|e| e["event"] == "lock_acquired").expect("a lock_acquired");
    j[at..].iter().map(|e| e["event"].as_str().unwrap()).collect()
}

/// A resume attempt that the operator stopped at one of its prompts, checked after the fact:
/// the attempt is journaled (`run_resumed` naming the step in flight, no decision) and ends
/// like any interrupted run: `interrupted`, the lock released, `run_finished` with exit 3; the
/// reports in the run folder are rewritten and show the attempt; the journal verifies; nothing
/// ran; and the lock is free, so the next resume finishes the run.
fn assert_interrupted_attempt(t: &Test, db: &SqliteFile, run: &str, name: &str, out: &str) {
    let text = String::from_utf8(strip_escapes(out.as_bytes())).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    let warn = format!("  ! interrupted by {name} at the prompt: nothing more was started");
    assert!(lines.contains(&warn.as_str()), "{name}: lacks {warn:?}\n{text}");
    assert!(lines.contains(&format!("  runbook resume {run}").as_str()), "{name}: the next command\n{text}");
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'two_t'"), "0", "{name}: nothing ran");
    let j = journal(std::path::Path::new(run));
    assert_eq!(last_attempt(&j), ["lock_acquired", "run_resumed", "interrupted", "lock_released", "run_finished"], "{name}");
    let resumed = events(&j, "run_resumed");
    assert_eq!(resumed.len(), 1, "{name}");
    assert_eq!(resumed[0]["by"], "erin");
    assert_eq!(resumed[0]["how"], "interactive");
    assert_eq!(resumed[0]["in_flight"], "two");
    assert_eq!(resumed[0]["decision"], serde_json::Value::Null);
    let interrupted = events(&j, "interrupted");
    assert_eq!(interrupted.len(), 1, "{name}");
    assert_eq!(interrupted[0]["signal"], name);
    assert_eq!(interrupted[0]["step_id"], serde_json::Value::Null);
    assert_eq!(j.last().unwrap()["outcome"], "interrupted");
    assert_eq!(j.last().unwrap()["exit_code"], 3);
    assert!(events(&j, "var_override").is_empty(), "{name}: an override nobody confirmed");
    t.exec(["audit", "verify", run]).code(0);
    // The reports are the finish's own, rewritten for this attempt.
    let dir = std::path::Path::new(run);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["outcome"], "interrupted", "{name}");
    let attempts = report["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{name}: {attempts:?}");
    assert_eq!(attempts[1]["resumed_by"], "erin (interactive)");
    assert_eq!(attempts[1]["outcome"], "interrupted");
    assert_eq!(attempts[1]["ended"], format!("interrupted by {name}"));
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let row = md.lines().find(|l| l.starts_with("| 2 | resume by erin (interactive) | ")).unwrap_or_else(|| panic!("{name}\n{md}"));
    assert!(row.ends_with(&format!(" | interrupted by {name} |")), "{name}: {row}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains(&format!("interrupted by {name}")), "{name}");
    // The lock was released: the run resumes and finishes.
    t.exec(["resume", run, "--yes", "--rerun-in-flight"]).code(0);
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'two_t'"), "1", "{name}");
}

/// SIGTERM, SIGHUP, SIGINT and Ctrl-C typed at resume's in-flight prompt: each is the operator
/// stopping, and ends the attempt the way a signal at a step prompt ends a run, within a
/// second and with the terminal's modes put back.
#[test]
fn every_signal_at_the_resume_prompt_ends_the_attempt_like_an_interrupted_run() {
    for (signal, name) in
        [(Some(libc::SIGTERM), "SIGTERM"), (Some(libc::SIGHUP), "SIGHUP"), (Some(libc::SIGINT), "Ctrl-C"), (None, "Ctrl-C")]
    {
        let t = Test::new().runbook(IN_FLIGHT_RUNBOOK);
        let (db, run) = killed_with_step_in_flight(&t);
        let mut p = Pty::spawn(&t, &["resume", &run], 80, "xterm");
        p.expect(IN_FLIGHT_KEYS);
        std::thread::sleep(Duration::from_millis(300));
        let sent = std::time::Instant::now();
        p.stop(signal);
        let (code, out) = p.finish();
        let took = sent.elapsed();
        assert_eq!(code, 3, "{name}: {out}");
        assert!(took < Duration::from_secs(1), "{name} took {took:?}");
        assert!(p.line_editing(), "{name}: the terminal was left in raw mode");
        assert!(!cursor_left_hidden(&out), "{name}: {out:?}");
        if signal.is_none() {
            let text = String::from_utf8(strip_escapes(out.as_bytes())).unwrap();
            assert!(text.split("\r\n").any(|l| l.ends_with("] ^C")), "the prompt shows the key\n{text}");
        }
        assert_interrupted_attempt(&t, &db, &run, name, &out);
    }
}

/// The in-flight runbook with a plain and a secret variable, so that resume asks about an
/// override and for the secret before it asks about the step.
const IN_FLIGHT_VARS_RUNBOOK: &str = r#"
version: 1
id: inflight-vars
vars:
  label:
    default: plain
  token:
    secret: true
    env: RESUME_PROMPT_TOKEN
plan:
  - id: one
    name: First table
    kind: sql
    sql: CREATE TABLE one_t(x TEXT)
  - id: two
    name: Second table
    kind: sql
    sql: CREATE TABLE two_t(x TEXT DEFAULT '${label}', n INTEGER DEFAULT (length('${token}')))
rollback:
  - id: undo
    name: Drop them
    kind: sql
    sql: DROP TABLE IF EXISTS one_t
"#;

/// A signal at resume's other prompts (the confirmation of a `--var` override, the hidden
/// secret prompt) ends the attempt the same way: the lock is already held there, the attempt
/// is journaled, and no override is recorded that nobody confirmed.
#[test]
fn a_signal_at_the_override_and_secret_prompts_ends_the_attempt_the_same_way() {
    const TOKEN: &str = "tok-3141";
    let cases: [(&[&str], &str, i32, &str); 2] = [
        (&["--var", "label=other"], "Continue the run with `other`?", libc::SIGHUP, "SIGHUP"),
        (&[], "Secret `token` (the run read it from the environment variable RESUME_PROMPT_TOKEN)", libc::SIGTERM, "SIGTERM"),
    ];
    for (extra, question, signal, name) in cases {
        let t = Test::new().runbook(IN_FLIGHT_VARS_RUNBOOK).env("RESUME_PROMPT_TOKEN", TOKEN);
        let db = SqliteFile::users(t.dir.path(), 3);
        let mut c = t.command();
        c.env("RUNBOOK_FAULT", "kill-after=step_decision:two")
            .args(["run", "runbook.yaml", "--db", &db.url(), "--runs-dir", "runs", "--yes", "--allow-no-backup", "--operator", "erin"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c.status().unwrap();
        let run = t.run_dirs("runs").pop().expect("a run folder").display().to_string();
        let mut args = vec!["resume", run.as_str()];
        args.extend_from_slice(extra);
        let mut c = t.command();
        c.args(&args).env("TERM", "xterm").env("COLUMNS", "160").env("LINES", "40");
        if extra.is_empty() {
            // Nowhere to read the secret from: resume asks for it.
            c.env_remove("RESUME_PROMPT_TOKEN");
        }
        let mut s = Session::spawn(c).expect("spawn in a pty");
        s.get_process_mut().set_window_size(160, 40).expect("window size");
        s.set_expect_timeout(Some(Duration::from_secs(20)));
        let mut p = Pty { s, seen: Vec::new() };
        p.expect(question);
        std::thread::sleep(Duration::from_millis(300));
        let sent = std::time::Instant::now();
        p.stop(Some(signal));
        let (code, out) = p.finish();
        let took = sent.elapsed();
        assert_eq!(code, 3, "{name}: {out}");
        assert!(took < Duration::from_secs(1), "{name} took {took:?}");
        assert!(p.line_editing(), "{name}: the terminal was left without line editing");
        assert!(!out.contains("What about step"), "{name}: asked on after the signal\n{out}");
        // The run's own value and the token from the environment: the resume goes ahead.
        assert_interrupted_attempt(&t, &db, &run, name, &out);
    }
}
/// `s` at resume's prompt asks why; a reason longer than the 80-column terminal is typed
/// across rows, and what stays on the screen is the question and the answer wrapped at
/// spaces, with no half-erased row of the typing left behind.
#[test]
fn skip_at_the_resume_prompt_with_a_long_reason_leaves_no_ghost_lines_at_80_columns() {
    let reason = "the replica lag alarm fired twice during the window, so the second table waits for the next maintenance night with the DBA on call";
    let t = Test::new().runbook(IN_FLIGHT_RUNBOOK);
    let (db, run) = killed_with_step_in_flight(&t);
    let mut p = Pty::spawn(&t, &["resume", &run], 80, "xterm");
    p.expect(IN_FLIGHT_KEYS);
    p.send("s");
    p.expect("Why is this step skipped?");
    p.expect("Enter keeps: skipped by the operator at the prompt");
    p.send(reason);
    p.expect("with the DBA on call");
    p.send("\r");
    p.expect("Resuming run");
    let (code, out) = p.finish();
    assert_eq!(code, 0, "{out}");
    let rows = screen(&out, 80);
    let at = rows.iter().position(|r| r == "? Why is this step skipped?").unwrap_or_else(|| panic!("{}", rows.join("\n")));
    assert_eq!(
        rows[at..at + 4],
        [
            "? Why is this step skipped?",
            "  Enter keeps: skipped by the operator at the prompt",
            "✔ the replica lag alarm fired twice during the window, so the second table waits",
            "  for the next maintenance night with the DBA on call",
        ],
        "{}",
        rows.join("\n")
    );
    assert!(rows[at + 4].starts_with("Resuming run"), "a ghost row after the answer: {:?}\n{}", rows[at + 4], rows.join("\n"));
    assert!(rows.iter().all(|r| r.chars().count() <= 80));
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'two_t'"), "0", "the step was skipped");
    let j = journal(std::path::Path::new(&run));
    assert_eq!(events(&j, "run_resumed")[0]["decision"], format!("skipped: {reason}"));
    let two: Vec<_> = events(&j, "step_finished").into_iter().filter(|e| e["step_id"] == "two").collect();
    assert_eq!(two.len(), 1);
    assert_eq!(two[0]["status"], "skipped");
    assert_eq!(two[0]["error"], format!("skipped by erin at resume: {reason}"));
}

/// resume takes the run lock before it asks about the step in flight: a second operator who
/// resumes the same run while the first is still deciding is refused (exit 2, naming who holds
/// it), journals nothing, and the first resume then goes on as if nobody had tried.
#[test]
fn a_second_resume_is_refused_while_the_first_decides_about_the_step_in_flight() {
    let t = Test::new().runbook(IN_FLIGHT_RUNBOOK);
    let (db, run) = killed_with_step_in_flight(&t);
    let before = journal(std::path::Path::new(&run)).len();
    let mut p = Pty::spawn(&t, &["resume", &run], 80, "xterm");
    p.expect(IN_FLIGHT_KEYS);
    let holder: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(t.dir.join("app.db.runbook-lock")).unwrap()).unwrap();
    let run_id = std::path::Path::new(&run).file_name().unwrap().to_str().unwrap();
    assert_eq!(holder["run_id"], run_id);
    let second = t.exec(["resume", &run, "--yes", "--rerun-in-flight", "--operator", "frank"]);
    second.code(2);
    assert_eq!(
        second.stderr,
        format!(
            "error: the target is locked by run {run_id} (operator erin, started {}); only one operator may change it at a time\n",
            holder["started"].as_str().unwrap()
        )
    );
    assert_eq!(journal(std::path::Path::new(&run)).len(), before, "the refused resume journaled something");
    p.send("r");
    p.expect("Run this statement?");
    p.send("r");
    let (code, out) = p.finish();
    assert_eq!(code, 0, "{out}");
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'two_t'"), "1");
    let j = journal(std::path::Path::new(&run));
    let resumed = events(&j, "run_resumed");
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0]["by"], "erin");
    assert_eq!(resumed[0]["decision"], "run again (interactive)");
    assert_eq!(j.last().unwrap()["outcome"], "succeeded");
}

/// Abort at resume's prompt is the operator stopping too: the attempt is journaled with the
/// decision, ends aborted (exit 3) through the same finish as any run, releases the lock, and
/// leaves the run resumable.
#[test]
fn abort_at_the_resume_prompt_is_journaled_and_releases_the_lock() {
    let t = Test::new().runbook(IN_FLIGHT_RUNBOOK);
    let (db, run) = killed_with_step_in_flight(&t);
    let mut p = Pty::spawn(&t, &["resume", &run], 80, "xterm");
    p.expect(IN_FLIGHT_KEYS);
    p.send("a");
    p.expect("Abort the run here?");
    p.send("y");
    let (code, out) = p.finish();
    assert_eq!(code, 3, "{out}");
    assert!(p.line_editing(), "the terminal was left in raw mode");
    let text = String::from_utf8(strip_escapes(out.as_bytes())).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    for line in ["error: resume aborted at the in-flight step `two`: nothing was run", &format!("  runbook resume {run}")] {
        assert!(lines.contains(&line), "lacks {line:?}\n{text}");
    }
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'two_t'"), "0", "nothing ran");
    let j = journal(std::path::Path::new(&run));
    assert_eq!(last_attempt(&j), ["lock_acquired", "run_resumed", "lock_released", "info", "run_finished"]);
    let resumed = events(&j, "run_resumed");
    assert_eq!(resumed[0]["in_flight"], "two");
    assert_eq!(resumed[0]["decision"], "aborted at resume's prompt: nothing was run");
    assert_eq!(
        events(&j, "info").last().unwrap()["message"],
        "the run stopped: resume aborted at the in-flight step `two`: nothing was run"
    );
    assert_eq!(j.last().unwrap()["outcome"], "aborted");
    assert_eq!(j.last().unwrap()["exit_code"], 3);
    t.exec(["audit", "verify", &run]).code(0);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(std::path::Path::new(&run).join("report.json")).unwrap()).unwrap();
    assert_eq!(report["attempts"][1]["outcome"], "aborted");
    t.exec(["resume", &run, "--yes", "--rerun-in-flight"]).code(0);
    assert_eq!(db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'two_t'"), "1");
}
