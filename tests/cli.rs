//! The command-line contract: help, bad input with positions, exit codes.

use crate::support::{SqliteFile, Test};

/// Each bad runbook must exit 2 with `file:line:column` and a useful message, never a panic.
#[track_caller]
fn refused(yaml: &str, position: &str, message: &str) {
    let t = Test::new().runbook(yaml).args(["validate", "runbook.yaml"]);
    let out = t.run();
    out.code(2).stderr_has(&format!("runbook.yaml:{position}")).stderr_has(message);
}

#[test]
fn help_lists_every_command() {
    let out = Test::new().arg("--help").run();
    out.code(0);
    for cmd in ["validate", "plan", "run", "rollback", "report", "schema", "demo", "audit", "import", "rehearse", "resume"] {
        assert!(out.stdout.contains(&format!("  {cmd}")), "help lacks {cmd}:\n{}", out.stdout);
    }
}

#[test]
fn yaml_syntax_error_names_its_position() {
    refused("version: 1\nid: x\nplan:\n  - id: a\n    kind: sql\n    name: \"unclosed\n", "6:11", "unclosed quote");
}

#[test]
fn unknown_key_names_its_position() {
    refused(
        "version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: manual\n    checklist: [x]\n    colour: red\n",
        "8:5",
        "unknown field `colour`",
    );
}

#[test]
fn unknown_step_kind_names_its_position() {
    refused("version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: teleport\n", "6:11", "unknown value `teleport`");
}

#[test]
fn duplicate_step_id_names_the_second_one() {
    refused(
        "version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: manual\n    checklist: [x]\nrollback:\n  - id: a\n    name: B\n    kind: manual\n    checklist: [y]\n",
        "9:9",
        "duplicate step id `a`",
    );
}

#[test]
fn undefined_variable_names_its_position() {
    refused(
        "version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: manual\n    instructions: \"call ${oncall_phone}\"\n",
        "7:25",
        "undefined variable `${oncall_phone}`",
    );
}

#[test]
fn wrong_type_names_its_position() {
    refused(
        "version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: sql\n    sql: SELECT 1\n    transaction: maybe\n",
        "8:5",
        "expected true, false, or a map per engine",
    );
}

#[test]
fn wrong_number_type_names_its_position() {
    refused(
        "version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: sql\n    sql: SELECT 1\n    lock_retries: many\n",
        "8:19",
        "invalid u32",
    );
}

#[test]
fn empty_plan_names_its_position() {
    refused("version: 1\nid: x\nplan: []\n", "3:7", "the change plan is empty");
}

#[test]
fn field_of_another_kind_is_refused() {
    refused(
        "version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: sql\n    sql: SELECT 1\n    url: http://x\n",
        "8:5",
        "does not belong to a `sql` step",
    );
}

#[test]
fn bad_duration_is_refused() {
    refused(
        "version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: manual\n    checklist: [x]\n    timeout: 5 fortnights\n",
        "8:14",
        "invalid timeout",
    );
}

/// Regression: these passed `validate` and failed only when their step ran, after the change.
#[test]
fn bad_regular_expressions_and_http_methods_are_refused() {
    refused(
        "version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: monitor\n    duration: 1s\n    checks:\n      - {name: errors, log: app.log, pattern: \"(ERROR\", max: 0}\n",
        "8:5",
        "`pattern` is not a regular expression: unclosed group",
    );
    refused(
        "version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: http\n    url: http://127.0.0.1:1/\n    expect_json: [{pointer: /a, matches: \"[a\"}]\n",
        "8:5",
        "`matches` of /a is not a regular expression",
    );
    refused(
        "version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: http\n    method: GE T\n    url: http://h/\n",
        "7:5",
        "`GE T` is not an HTTP method",
    );
}

/// Regression: these passed `validate`, and a step with nothing in it ran as an empty success.
#[test]
fn steps_with_nothing_to_do_are_refused() {
    refused("version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: sql\n    sql: []\n", "7:5", "`sql:` holds no statement");
    refused(
        "version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: sql\n    sql: \" ; -- nothing\"\n",
        "7:5",
        "`sql:` holds no statement",
    );
    refused("version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: manual\n    checklist: []\n", "6:11", "non-empty `checklist:`");
}

#[test]
fn every_problem_is_reported_in_one_pass() {
    let out = Test::new()
        .runbook("version: 2\nid: x\nplan:\n  - id: a\n    name: A\n    kind: sql\n  - id: a\n    name: B\n    kind: manual\n    checklist: [\"${nope}\"]\n")
        .args(["validate", "runbook.yaml"])
        .run();
    out.code(2)
        .stderr_has("unsupported format version 2")
        .stderr_has("needs `sql:`")
        .stderr_has("duplicate step id")
        .stderr_has("undefined variable")
        .stderr_has("4 problems");
}

#[test]
fn missing_runbook_file_exits_2() {
    Test::new().args(["validate", "nope.yaml"]).run().code(2).stderr_has("cannot read nope.yaml");
}

#[test]
fn not_a_runbook_exits_2_without_panic() {
    for text in ["", "- just\n- a list\n", "version: 1\n", "\u{0}\u{1}binary", "plan: {a: 1}\n"] {
        let out = Test::new().runbook(text).args(["validate", "runbook.yaml"]).run();
        out.code(2);
        assert!(out.stderr.contains("runbook.yaml"), "no file named for {text:?}: {}", out.stderr);
    }
}

#[test]
fn seed_runbook_is_valid() {
    Test::new().args(["validate", crate::support::SEED]).run().code(0).stdout_has("8 change step(s), 6 rollback step(s)");
}

#[test]
fn schema_is_json_schema_of_the_format() {
    let out = Test::new().arg("schema").run();
    out.code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("schema is JSON");
    assert_eq!(v["title"], "Runbook");
    let step = &v["definitions"]["RawStep"]["properties"];
    for field in ["id", "name", "kind", "timeout", "on_failure", "sql", "checklist", "command"] {
        assert!(step.get(field).is_some(), "schema lacks step field {field}");
    }
}

#[test]
fn run_without_terminal_or_yes_refuses_before_touching_the_database() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 50);
    let before = db.bytes();
    let out = t.exec(["run", crate::support::SEED, "--db", &db.url(), "--runs-dir", "runs"]);
    out.code(2).stderr_has("refusing to run without a terminal").stderr_has("--yes");
    assert_eq!(db.bytes(), before, "the database file changed");
}

#[test]
fn unknown_skip_id_exits_2() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 5);
    let out = t.exec(["run", crate::support::SEED, "--db", &db.url(), "--yes", "--skip", "no-such-step"]);
    out.code(2).stderr_has("--skip no-such-step: no step has that id");
}

#[test]
fn missing_var_value_exits_2_before_anything_runs() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 5);
    let out = t.exec(["run", crate::support::SEED, "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    out.code(2).stderr_has("sync_command").stderr_has("--var sync_command=");
    assert!(!db.has_column("all_users", "pcc_user_uuid"));
}

#[test]
fn no_database_given_says_how_to_give_one() {
    Test::new().args(["plan", crate::support::SEED]).run().code(2).stderr_has("pass --db URL").stderr_has("DATABASE_URL");
}

#[test]
fn database_url_is_the_fallback() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 5);
    let url = db.url();
    t.env("DATABASE_URL", &url)
        .args(["plan", crate::support::SEED])
        .run()
        .code(0)
        .stdout_has("column all_users.pcc_user_uuid is absent: step 2 will add it");
}

#[test]
fn missing_sqlite_file_is_not_created() {
    let t = Test::new();
    let out = t.exec(["plan", crate::support::SEED, "--db", "sqlite://nothing-here.db"]);
    assert_ne!(out.code, 0);
    out.stderr_has("does not exist");
}

#[test]
fn the_full_example_in_the_format_docs_is_valid() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/runbook-format.md")).unwrap();
    let section = &doc[doc.find("## A full example").expect("section")..];
    let start = section.find("```yaml\n").expect("yaml block") + 8;
    let end = start + section[start..].find("```").unwrap();
    let t = Test::new().runbook(&section[start..end]);
    t.exec(["validate", "runbook.yaml"]).code(0).stdout_has("4 change step(s), 3 rollback step(s)");
}

#[test]
fn committed_runbook_schema_matches_the_generated_one() {
    let out = Test::new().arg("schema").run();
    out.code(0);
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/runbook.schema.json")).unwrap();
    assert_eq!(out.stdout, committed, "docs/runbook.schema.json is stale: regenerate it with `runbook schema > docs/runbook.schema.json`");
}

#[test]
fn completions_and_man_page_are_generated() {
    let bash = Test::new().args(["completions", "bash"]).run();
    bash.code(0).stdout_has("_runbook()").stdout_has("rehearse");
    let man = Test::new().arg("man").run();
    man.code(0).stdout_has(".TH runbook").stdout_has("rollback");
}

/// `plan` shows under each change step what undoes it (or that nothing can), and counts every
/// `!` and `✘` line it prints in its final warning count.
#[test]
fn plan_shows_each_steps_undo_and_counts_every_warning_it_prints() {
    let t = Test::new().runbook(
        r#"
version: 1
id: undo-shown
plan:
  - id: add
    name: Add the column
    kind: sql
    sql: ALTER TABLE all_users ADD COLUMN nickname TEXT
  - id: add-again
    name: Add it to a table that is not there
    kind: sql
    sql: ALTER TABLE no_such_table ADD COLUMN nickname TEXT
    undo: none
  - id: sync
    name: Sync
    kind: command
    command: ["true"]
rollback:
  - id: remove
    name: Remove Column
    kind: sql
    sql: ALTER TABLE all_users DROP COLUMN nickname
"#,
    );
    let db = SqliteFile::users(t.dir.path(), 3);
    let out = t.exec(["plan", "runbook.yaml", "--db", &db.url()]);
    out.code(0)
        .stdout_has("↩ undone by rollback step 1 · Remove Column")
        .stdout_has("ALTER TABLE all_users DROP COLUMN nickname;")
        .stdout_has("⚠ no undo: point of no return")
        .stdout_has("✘ table no_such_table does not exist: step 2 will fail")
        .stdout_has("↩ no rollback step is paired with this step: a rollback runs the whole rollback plan");
    // Lint warnings (no backup before DDL, …) and the two lines above: every one is counted.
    let flagged = out.stdout.lines().filter(|l| {
        let l = l.trim_start();
        l.starts_with("! ") || l.starts_with("precheck: ✘") || l.starts_with("precheck: !") || l.starts_with("warning")
    });
    let printed = flagged.count();
    assert_eq!(printed, 2, "the lint warning and the failing precheck\n{}", out.stdout);
    out.stdout_has(&format!("{printed} warning(s)"));
}

/// A misspelt field or kind is answered with the word meant, not a list of every field.
#[test]
fn misspelt_field_and_kind_get_a_did_you_mean() {
    let out =
        Test::new().runbook("version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    knd: manual\n").args(["validate", "runbook.yaml"]).run();
    out.code(2)
        .stderr_has("runbook.yaml:6:5")
        .stderr_has("unknown field `knd`")
        .stderr_has("did you mean `kind`?")
        .lacks("expected one of");
    let out = Test::new()
        .runbook("version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: comand\n")
        .args(["validate", "runbook.yaml"])
        .run();
    out.code(2).stderr_has("runbook.yaml:6:11").stderr_has("unknown value `comand`").stderr_has("did you mean `command`?");
}

/// Three problems in one runbook are reported in one pass, each at its line with a suggestion,
/// and the count closes the list.
#[test]
fn validate_reports_three_problems_at_once_with_suggestions() {
    let yaml = "\
version: 1
id: three
plan:
  - id: Add_Column
    name: Add
    kind: sql
    sql: ALTER TABLE t ADD COLUMN c TEXT
    undo: [drop-colum]
  - id: wait
    name: Wait
    kind: manual
    checklist: [started]
  - id: wait
    name: Wait again
    kind: manual
    checklist: [done]
rollback:
  - id: drop-column
    name: Drop
    kind: sql
    sql: ALTER TABLE t DROP COLUMN c
";
    let out = Test::new().runbook(yaml).args(["validate", "runbook.yaml"]).run();
    out.code(2)
        .stderr_has("runbook.yaml:4:9")
        .stderr_has("step id `Add_Column` must match [a-z0-9][a-z0-9._-]*")
        .stderr_has("e.g. `add_column`")
        .stderr_has("runbook.yaml:8:12")
        .stderr_has("did you mean `drop-column`?")
        .stderr_has("runbook.yaml:13:9")
        .stderr_has("duplicate step id `wait`")
        .stderr_has("error: 3 problems in runbook.yaml");
}

/// The demo stand-ins' help lists what they can do.
#[test]
fn demo_stand_in_help_lists_its_subcommands() {
    let out = Test::new().args(["demo-stand-in", "--help"]).run();
    out.code(0).stdout_has("sync-job").stdout_has("pcc-api").stdout_has("make-db");
}

/// `--then-rollback` means something only to `run`: `rollback` does not offer it.
#[test]
fn rollback_does_not_offer_then_rollback() {
    let out = Test::new().args(["rollback", "--help"]).run();
    out.code(0).lacks("--then-rollback");
    Test::new().args(["run", "--help"]).run().code(0).stdout_has("--then-rollback");
    Test::new().args(["rollback", crate::support::SEED, "--then-rollback"]).run().code(2).stderr_has("--then-rollback");
}

/// A loopback HTTP server that answers every request with 200 and counts them, until dropped.
struct Endpoint {
    url: String,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    server: std::sync::Arc<tiny_http::Server>,
}

impl Endpoint {
    fn start() -> Endpoint {
        let server = std::sync::Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("loopback server"));
        let url = format!("http://{}", server.server_addr().to_ip().expect("ip address"));
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (s, h) = (server.clone(), hits.clone());
        std::thread::spawn(move || {
            for req in s.incoming_requests() {
                h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = req.respond(tiny_http::Response::from_string("ok"));
            }
        });
        Endpoint { url, hits, server }
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// A loopback port with nobody listening: connecting to it is refused.
fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}/health")
}

fn overview_runbook(live: &str, dead: &str) -> String {
    format!(
        r#"
version: 1
id: overview
ticket:
  id: 4711
  subject: Add a nickname column
  risk: low
vars:
  health:
    default: "{live}/health"
plan:
  - id: add
    name: Add the column
    kind: sql
    timeout: 2m
    lock_timeout: 5s
    transaction: false
    sql: ALTER TABLE all_users ADD COLUMN nickname TEXT
  - id: fill
    name: Fill a table that is not there
    kind: sql
    sql: UPDATE no_such_table SET x = 1
    undo: none
  - id: health
    name: Health check
    kind: http
    url: ${{health}}
  - id: dead
    name: Dead endpoint
    kind: http
    url: {dead}
  - id: watch
    name: Watch the log
    kind: monitor
    duration: 1m
    interval: 10s
    checks:
      - name: errors
        log: ./logs/app.log
        pattern: ERROR
        max: 0
rollback:
  - id: remove
    name: Remove Column
    kind: sql
    sql: ALTER TABLE all_users DROP COLUMN nickname
"#
    )
}

/// `plan` shows both plans side by side on a wide terminal and stacked on a narrow one, each
/// step with its timeout, lock timeout and transaction mode and its undo; the ticket as a block;
/// and the preflight: a dead endpoint and a missing log file, each with its step, all counted.
#[test]
fn plan_shows_both_plans_the_ticket_and_every_preflight_problem_counted() {
    let live = Endpoint::start();
    let dead = dead_url();
    let t = Test::new().runbook(&overview_runbook(&live.url, &dead));
    let db = SqliteFile::users(t.dir.path(), 3);
    let wide = t.exec_env(&["plan", "runbook.yaml", "--db", &db.url()], &[("COLUMNS", "160")]);
    wide.code(0)
        .stdout_has("Ticket\n  Ticket     : 4711\n  Subject    : Add a nickname column\n  Risk level : low\n")
        .stdout_has("│ Rollback plan (1 step)")
        .stdout_has("  1. Add the column · sql")
        .stdout_has("│   1. Remove Column · sql")
        .stdout_has("   timeout 2m · lock timeout 5s · no transaction (each statement commits)")
        .stdout_has("   ↩ undone by rollback step 1 · Remove Column")
        .stdout_has("   ⚠ no undo: point of no return")
        .stdout_has("   no step timeout · engine's lock timeout · one transaction")
        .stdout_has("   no step timeout · for 1m, every 10s")
        .stdout_has(&format!("! preflight: step 4 `dead`: {dead} does not answer: "))
        .stdout_has("! preflight: step 5 `watch`: monitor check `errors` reads ./logs/app.log, which cannot be opened")
        .stdout_has("✘ table no_such_table does not exist")
        .lacks("`health`: ");
    assert!(live.hits() >= 1, "the live endpoint was asked");
    let heading = wide.stdout.lines().find(|l| l.starts_with("Change plan (5 steps)")).expect("a heading line");
    assert!(heading.ends_with("│ Rollback plan (1 step)") && heading.chars().count() <= 160, "{heading:?}");
    // The two lint warnings (a DROP COLUMN and an UPDATE without WHERE, each without a backup
    // step before it), the failing precheck and the two preflight problems: every
    // `!`/`✘`/warning line is in the total.
    let flagged = wide
        .stdout
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            l.starts_with("! ") || l.starts_with("precheck: ✘") || l.starts_with("precheck: !") || l.starts_with("warning")
        })
        .count();
    assert_eq!(flagged, 5, "{}", wide.stdout);
    wide.stdout_has("warning: `UPDATE no_such_table SET x = 1` with no earlier backup step in the change plan\n")
        .stdout_has("5 warning(s)");

    let narrow = t.exec_env(&["plan", "runbook.yaml", "--db", &db.url()], &[("COLUMNS", "80")]);
    narrow
        .code(0)
        .stdout_has("Change plan (5 steps)\n  1. Add the column · sql\n")
        .stdout_has("\n\nRollback plan (1 step)\n  1. Remove Column · sql\n")
        .lacks("│");
}

/// A failed run's suggested rollback command gives the run's `--var` values again; a secret
/// one by reference to a shell variable, never by value.
#[test]
fn the_suggested_rollback_carries_the_runs_variables_and_no_secret() {
    let t = Test::new().runbook(
        r#"
version: 1
id: next-vars
vars:
  table: {}
  label: {}
  token: {secret: true}
plan:
  - id: add
    name: Add
    kind: sql
    sql: CREATE TABLE ${table}(x INTEGER)
  - id: fail
    name: Fail
    kind: sql
    sql: INSERT INTO no_such_table VALUES ('${token}')
rollback:
  - id: drop
    name: Drop
    kind: sql
    sql: DROP TABLE IF EXISTS ${table} -- ${label}
"#,
    );
    let db = SqliteFile::users(t.dir.path(), 3);
    let url = db.url();
    let secret = "s3cr3t-T0ken-value";
    let out = t.exec([
        "run",
        "runbook.yaml",
        "--db",
        &url,
        "--yes",
        "--allow-no-backup",
        "--runs-dir",
        "runs",
        "--var",
        "table=extra_t",
        "--var",
        "label=two words",
        "--var",
        &format!("token={secret}"),
    ]);
    out.code(1)
        .stdout_has(&format!("runbook rollback runbook.yaml --db {url} --var 'label=two words' --var table=extra_t --var token=\"$TOKEN\""))
        .stdout_has("set the $-named shell variables to the secrets first")
        .lacks(secret);
    // The preflight saw the missing table before step 1 and said so, with its step.
    let warned = out.stdout.find("! step 2 `fail`: table no_such_table does not exist").expect("preflight warning");
    assert!(warned < out.stdout.find("Step 1/2").unwrap(), "{}", out.stdout);
}

/// A report query's result is shown in the terminal as a small table, capped at 10 rows with
/// the rest counted, `null` for SQL NULL.
#[test]
fn report_queries_show_their_rows_in_the_terminal() {
    let t = Test::new().runbook(
        r#"
version: 1
id: report-rows
plan:
  - id: check
    name: Check
    kind: validate
    tables: [all_users]
    report_queries:
      - name: users
        sql: SELECT id, email, name FROM all_users ORDER BY id
rollback:
  - id: nothing
    name: Nothing
    kind: manual
    checklist: [nothing to undo]
"#,
    );
    let db = SqliteFile::users(t.dir.path(), 12);
    let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    out.code(0).stdout_has(
        "      id │ email           │ name\n      ───┼─────────────────┼─────────────\n      1  │ u1@example.org  │ Zoë Ñúñez 1\n",
    );
    out.stdout_has("      9  │ u9@example.org  │ null\n").stdout_has("      10 │ u10@example.org │ Zoë Ñúñez 10\n");
    out.stdout_has("      … 2 more row(s), in the reports\n").lacks("u11@example.org");
}
