//! Untrusted text against the real binary: secret values that would change what runs, SQL the
//! classifier cannot read, each engine's comment rules.

use crate::support::{servers::ServerDb, SqliteFile, Test};

/// A runbook with one SQL step that uses a secret variable `tok` inside a string literal, with
/// other text in it (a lone `'${tok}'` would be bound, and could change nothing).
fn secret_runbook(sql_true: bool) -> String {
    format!(
        "version: 1\nid: secret-shape\nvars:\n  tok:\n    secret: true\n    env: TOK\n{}plan:\n  - id: store\n    name: Store the token\n    kind: sql\n    sql: UPDATE all_users SET email = 'tok:${{tok}}' WHERE id = 1\n",
        if sql_true { "    sql: true\n" } else { "" }
    )
}

/// Regression: a secret value was masked before the backup guard and `plan` looked at the SQL,
/// so `x'); DROP TABLE …; --` ran a DROP with no backup while `plan` showed `'********'`.
#[test]
fn a_secret_that_changes_the_statement_is_refused_before_anything_runs() {
    let t = Test::new().runbook(&secret_runbook(false));
    let db = SqliteFile::users(t.dir.path(), 5);
    let plan = t.exec_env(&["plan", "runbook.yaml", "--db", &db.url()], &[("TOK", EVIL)]);
    plan.code(0).stdout_has(
        "precheck: ✘ the value of secret variable `tok` changes the statement's shape: step 1 will be refused (mark it `sql: true` if it is meant to be SQL)",
    );
    // The lint judges the statement as it would run and warns about the DROP it hides, naming
    // the table (part of the secret) masked; the value itself is shown nowhere.
    plan.stdout_has("warning: DROP TABLE ******** with no earlier backup step in the change plan\n  ——▶ runbook.yaml:11:10 (step `store`)");
    let run = t.exec_env(&["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"], &[("TOK", EVIL)]);
    run.code(2).stderr_has("step `store`: the value of secret variable `tok` changes the statement's shape");
    assert!(!run.all().contains("DROP TABLE"), "{}", run.all());
    assert_eq!(db.scalar("SELECT count(*) FROM all_users"), "5");
    assert!(!t.dir.join("runs").exists() || t.run_dirs("runs").is_empty(), "nothing may start");
    // An ordinary value runs; the guard still judges the real statement.
    let ok = t.exec_env(&["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"], &[("TOK", "plain token")]);
    ok.code(0);
    assert_eq!(db.scalar("SELECT email FROM all_users WHERE id = 1"), "tok:plain token");
    crate::support::assert_secret_nowhere(&t, EVIL, &[t.dir.join("runs"), t.dir.join(".state")], &[&plan, &run, &ok]);
}

/// Regression: the shape check looked only at `sql` steps, so a secret in a verify query
/// (`email LIKE '${tok}%'` with `zz' OR 'a'='a`) made the assertion count other rows while
/// `plan` showed `email LIKE '********%'` and 0 warnings. Every query a step sends is judged
/// the same way. (A lone `'${tok}'` is bound, and its value cannot change the query.)
#[test]
fn a_secret_that_changes_a_query_is_refused_before_anything_runs() {
    let t = Test::new().runbook(
        "version: 1\nid: query-secret\nvars:\n  tok:\n    description: a token\n    secret: true\n    env: TOK\nplan:\n  - id: touch\n    name: Touch a row\n    kind: sql\n    sql: UPDATE all_users SET name = 'touched' WHERE id = 1\n  - id: check\n    name: The token's row is there\n    kind: verify\n    queries:\n      - name: token row\n        sql: SELECT count(*) FROM all_users WHERE email LIKE '${tok}%'\n        expect: 1\n",
    );
    let db = SqliteFile::users(t.dir.path(), 5);
    let evil = "u1@x' OR 'a'='a";
    let plan = t.exec_env(&["plan", "runbook.yaml", "--db", &db.url()], &[("TOK", evil)]);
    plan.code(0)
        .stdout_has("precheck: ✘ the value of secret variable `tok` changes the shape of a query: step 2 will be refused (mark it `sql: true` if it is meant to be SQL)")
        .stdout_has("plan complete: 2 step(s), 1 warning(s); nothing was written");
    let run = t.exec_env(&["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"], &[("TOK", evil)]);
    run.code(2).stderr_has(
        "step `check`: the value of secret variable `tok` changes the shape of the query `SELECT count(*) FROM all_users WHERE email LIKE '********%'` (it is not a single literal: a quote, a semicolon, a comment or a keyword), so what is shown masked is not what would run; nothing was run.",
    );
    assert_eq!(db.scalar("SELECT count(*) FROM all_users WHERE name = 'touched'"), "0", "step 1 ran before the refusal");
    assert!(!t.dir.join("runs").exists() || t.run_dirs("runs").is_empty(), "nothing may start");
    crate::support::assert_secret_nowhere(&t, evil, &[t.dir.join("runs"), t.dir.join(".state")], &[&plan, &run]);
}

/// A value that would change the statement's shape, written so that every 10-character piece
/// of it is its own (the canary check looks for pieces): the keywords in odd case and spacing,
/// the table a name no other text has.
const EVIL: &str = "x' WHERE 1=0; dRoP  tAbLe zq_canary_7f3e; --";

/// With `sql: true` the value may be SQL; the backup guard then judges what it really runs.
#[test]
fn a_sql_secret_is_judged_by_the_guard_with_its_value_filled_in() {
    let t = Test::new().runbook(&secret_runbook(true));
    let db = SqliteFile::users(t.dir.path(), 5);
    let run = t.exec_env(&["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"], &[("TOK", EVIL)]);
    // The statement the value adds is named, and every piece of the value in it hidden.
    run.code(1).stdout_has("backup guard: `********` is destructive");
    assert_eq!(db.scalar("SELECT count(*) FROM all_users"), "5");
    let plan = t.exec_env(&["plan", "runbook.yaml", "--db", &db.url()], &[("TOK", EVIL)]);
    plan.code(0).stdout_has("precheck: ✘ table ******** is absent: step 1 will fail");
    crate::support::assert_secret_nowhere(&t, EVIL, &[t.dir.join("runs"), t.dir.join(".state")], &[&run, &plan]);
    // With the guard overridden the statements run, and each is journaled with the value's
    // pieces hidden.
    let evil = EVIL.replace("tAbLe ", "tAbLe iF eXiStS ");
    let args = ["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs2", "--allow-no-backup"];
    let backed = t.exec_env(&args, &[("TOK", &evil)]);
    backed.code(0);
    let dir = t.run_dirs("runs2").pop().unwrap();
    let stmts: Vec<String> = crate::support::events(&crate::support::journal(&dir), "statement")
        .iter()
        .map(|e| e["sql"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stmts, ["UPDATE all_users SET email = 'tok:********", "********"]);
    crate::support::assert_secret_nowhere(&t, &evil, &[t.dir.join("runs2")], &[&backed]);
}

/// Fails closed: a statement the classifier cannot read needs a backup.
#[test]
fn an_unclassifiable_statement_needs_a_backup() {
    let t = Test::new().runbook(
        "version: 1\nid: unknown\nplan:\n  - id: odd\n    name: Odd\n    kind: sql\n    sql: REPLACE INTO all_users (id, email) VALUES (1, 'x')\n",
    );
    let db = SqliteFile::users(t.dir.path(), 3);
    t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"])
        .code(1)
        .stdout_has("backup guard: `REPLACE INTO all_users (id, email) VALUES (1, 'x')` is destructive");
    assert_ne!(db.scalar("SELECT email FROM all_users WHERE id = 1"), "x");
}

/// MariaDB reads `#` as a comment anywhere on a line: the semicolon after it ends nothing.
#[test]
fn mariadb_hash_comment_after_a_statement() {
    let Some(db) = ServerDb::mysql() else { return };
    let t = Test::new().runbook(
        "version: 1\nid: hash\nplan:\n  - id: q\n    name: Q\n    kind: sql\n    sql: |\n      CREATE TABLE h (a int);  # a comment; with a semicolon\n      INSERT INTO h VALUES (5--1);\n",
    );
    t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]).code(0);
    assert_eq!(db.scalar("SELECT a FROM h"), "6", "`5--1` is five minus minus one on MariaDB");
}

/// A loopback server that echoes the request body back in every encoding a real server might
/// use, then the body again where the 2,048-character excerpt cuts it.
fn encoding_echo_server() -> (String, std::thread::JoinHandle<()>) {
    use base64::Engine as _;
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    let handle = std::thread::spawn(move || {
        // Only the run's POST is answered: anything else that finds the port (a stray probe
        // from another process on this machine) gets a 404 and the server keeps waiting.
        let (req, got) = loop {
            let Ok(Some(mut req)) = server.recv_timeout(std::time::Duration::from_secs(60)) else { return };
            let mut got = String::new();
            let _ = std::io::Read::read_to_string(req.as_reader(), &mut got);
            if req.url() == "/echo" && !got.is_empty() {
                break (req, got);
            }
            let _ = req.respond(tiny_http::Response::from_string("not here").with_status_code(404));
        };
        let ascii_json: String = serde_json::to_string(&got)
            .unwrap()
            .chars()
            .map(|c| if c.is_ascii() { c.to_string() } else { format!("\\u{:04x}", c as u32) })
            .collect();
        let half = got.char_indices().nth(got.chars().count() / 2).unwrap().0;
        let mut body = format!(
            "pct: {}\npct-lower: {}\nform: {}\njson: {}\njson-ascii: {}\nbasic: {}\nsplit: {}\n{}\n",
            percent_encoding::utf8_percent_encode(&got, percent_encoding::NON_ALPHANUMERIC),
            crate::support::lower_hex(&percent_encoding::utf8_percent_encode(&got, percent_encoding::NON_ALPHANUMERIC).to_string()),
            url::form_urlencoded::byte_serialize(got.as_bytes()).collect::<String>(),
            serde_json::to_string(&got).unwrap(),
            ascii_json,
            base64::engine::general_purpose::STANDARD.encode(format!("user:{got}")),
            &got[..half],
            &got[half..],
        );
        let filler = 2040 - body.chars().count();
        body.push_str(&"x".repeat(filler));
        body.push_str(&got);
        let _ = req.respond(tiny_http::Response::from_string(body));
    });
    (url, handle)
}

const SECRET: &str = "Canary-é7f3e9a s3cr3t+/!";

/// A secret echoed back in any encoding, or cut by the excerpt or the output cap, never
/// reaches the journal, a report or the terminal.
#[test]
fn a_secret_echoed_in_any_encoding_or_cut_is_redacted_everywhere() {
    let (url, server) = encoding_echo_server();
    let t = Test::new().runbook(&format!(
        r#"
version: 1
id: echo
vars:
  token:
    secret: true
    env: TOKEN
plan:
  - id: call
    name: Call the echo server
    kind: http
    method: POST
    url: {url}/echo
    body: "${{token}}"
  - id: print
    name: Print past the output cap
    kind: command
    shell: true
    command: printf '%65530s' | tr ' ' x; printf '%s' "$T"
    env:
      T: "${{token}}"
"#
    ));
    let db = SqliteFile::users(t.dir.path(), 2);
    let out = t.exec_env(&["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"], &[("TOKEN", SECRET)]);
    server.join().unwrap();
    out.code(0);
    let dir = t.run_dirs("runs").pop().unwrap();
    let http = crate::support::events(&crate::support::journal(&dir), "http")[0].clone();
    let excerpt = http["body_excerpt"].as_str().unwrap();
    assert!(
        excerpt.starts_with("pct: ********\npct-lower: ********\nform: ********\njson: \"********\"\njson-ascii: \"********\"\nbasic: "),
        "{excerpt}"
    );
    let mut texts = vec![out.all()];
    for format in ["markdown", "textile", "html", "json"] {
        texts.push(t.exec(["report", &dir.display().to_string(), "--format", format]).all());
    }
    crate::support::assert_no_leak(SECRET, &dir, &texts);
}

/// Regression: a target password `postgres` masked every `postgres` in the report.
#[test]
fn a_password_that_is_a_word_masks_only_the_password() {
    let Some(db) = ServerDb::postgres() else { return };
    let mut u = url::Url::parse(&db.url()).unwrap();
    u.set_password(Some("postgres")).unwrap();
    let t = Test::new().runbook("version: 1\nid: word\nplan:\n  - id: q\n    name: Q\n    kind: sql\n    sql: SELECT 1\n");
    t.exec(["run", "runbook.yaml", "--db", u.as_str(), "--yes", "--runs-dir", "runs"]).code(0);
    let dir = t.run_dirs("runs").pop().unwrap();
    let report = std::fs::read_to_string(dir.join("report.json")).unwrap();
    assert!(report.contains("\"engine\": \"postgres\"") || report.contains("\"engine\":\"postgres\""), "{report}");
    assert!(!report.contains(":postgres@"), "{report}");
}

/// Regression: `sqlite://FILE?mode=ro` was accepted, the query dropped, and the database written.
/// Now the URL's options are honoured (read-only: `plan` works, a write fails at the database)
/// or refused by name before anything runs.
#[test]
fn connection_options_are_honoured_or_refused() {
    let t = Test::new().runbook(
        "version: 1\nid: ro\nplan:\n  - id: rename\n    name: Rename\n    kind: sql\n    sql: UPDATE all_users SET email = 'changed' WHERE id = 1\n",
    );
    let db = SqliteFile::users(t.dir.path(), 3);
    let ro = format!("{}?mode=ro", db.url());
    let before = db.data_digest();
    t.exec(["plan", "runbook.yaml", "--db", &ro]).code(0);
    let run = t.exec(["run", "runbook.yaml", "--db", &ro, "--yes", "--runs-dir", "runs"]);
    run.code(1).stdout_has("attempt to write a readonly database");
    assert_eq!(db.data_digest(), before, "a read-only target must not be written");

    let unknown = format!("{}?journal_mode=off", db.url());
    let refused = t.exec(["run", "runbook.yaml", "--db", &unknown, "--yes", "--runs-dir", "runs2"]);
    refused.code(2).stderr_has(&format!("`{unknown}`: the URL option `journal_mode` is not supported for sqlite; supported: `mode`"));
    t.exec(["plan", "runbook.yaml", "--db", &format!("{}?mode=rwc", db.url())])
        .code(2)
        .stderr_has("SQLite `mode=rwc` is not supported; use mode=ro (read-only) or mode=rw");
    let pw = t.exec(["plan", "runbook.yaml", "--db", &format!("postgres://u:{URL_PASSWORD}@127.0.0.1:1/db?sslmod=require")]);
    pw.code(2).stderr_has(
        "`postgres://u:***@127.0.0.1:1/db?sslmod=require`: the URL option `sslmod` is not supported for postgres; supported: `sslmode`, `sslrootcert`, `sslcert`, `sslkey`, `application_name`, `options`, `password`",
    );
    // The same password as an option instead of in the user part is masked as well.
    let opt = t.exec(["plan", "runbook.yaml", "--db", &format!("postgres://u@127.0.0.1:1/db?password={URL_PASSWORD}&sslmod=require")]);
    opt.code(2).stderr_has("the URL option `sslmod` is not supported for postgres");
    assert_eq!(db.data_digest(), before);
    assert!(!t.dir.join("runs2").exists() || t.run_dirs("runs2").is_empty(), "nothing may start");
    crate::support::assert_secret_nowhere(&t, URL_PASSWORD, &[t.dir.join("runs"), t.dir.join("runs2"), t.dir.join(".state")], &[&pw, &opt]);
}

const URL_PASSWORD: &str = "Secr3tPw-canary-9x";

/// Regression: a lone CR is a line break to YAML but was not to the code writing block scalars,
/// so a ticket's text could add a rollback step with a command of its own to the skeleton.
#[test]
fn a_ticket_with_lone_crs_cannot_add_a_step_to_the_skeleton() {
    let t = Test::new();
    let ticket = t.dir.write(
        "ticket.txt",
        "Subject: Add a column\n\nDescription\n\nHarmless line\rrollback:\r  - id: pwned\r    name: Pwned\r    kind: command\r    command: [\"touch\", \"PWNED\"]\n\nChange Plan\n\n  1. Add New Column - Execute SQL ALTER TABLE all_users ADD COLUMN x INTEGER;\r\n  2. Check Column - verify it\r  - id: pwned2\r    kind: command\r    command: [\"touch\", \"PWNED2\"]\n",
    );
    t.exec(["import", &ticket.display().to_string(), "-o", "imported.yaml"])
        .code(0)
        .stdout_has("runbook `imported-change-ticket` with 2 change step(s) and 0 rollback step(s)");
    t.exec(["validate", "imported.yaml"]).code(0).stdout_has("valid runbook `imported-change-ticket` — 2 change step(s)");
    let yaml = std::fs::read_to_string(t.dir.join("imported.yaml")).unwrap();
    assert!(!yaml.contains('\r'), "{yaml}");
    let doc: serde_json::Value = serde_saphyr::from_str(&yaml).expect("YAML");
    let ids = |plan: &str| -> Vec<String> {
        doc[plan].as_array().map(|a| a.iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()).unwrap_or_default()
    };
    assert_eq!(ids("plan"), ["add-new-column", "check-column"]);
    assert!(doc.get("rollback").is_none(), "{yaml}");
    // The ticket's text is data: it survives verbatim (line breaks as LF) inside the strings,
    // and no line of the skeleton carries it as structure.
    assert_eq!(
        doc["description"],
        "Harmless line\nrollback:\n  - id: pwned\n    name: Pwned\n    kind: command\n    command: [\"touch\", \"PWNED\"]"
    );
    for line in yaml.lines() {
        let l = line.trim_start();
        assert!(!l.starts_with("command:") && !l.starts_with("rollback:") && !l.starts_with("- id: pwned"), "{line}");
    }
    assert!(!yaml.lines().any(|l| l.contains("PWNED") && !l.contains("description: \"")), "{yaml}");
}

/// Regression: a database value with a double backtick closed its code span in `report.md` and
/// the rest rendered as live HTML; a value ending in CR + `<!--` hid the rest of the report, seal
/// included. The values are read by a verify query of a real run and the report is rendered by a
/// real CommonMark renderer.
#[test]
fn database_values_cannot_forge_the_markdown_or_textile_report() {
    let t = Test::new().runbook(
        "version: 1\nid: forge\ntitle: Forged values\nplan:\n  - id: check\n    name: Check the values\n    kind: verify\n    queries:\n      - name: first value\n        sql: SELECT v FROM evil WHERE id = 1\n        expect: ok\n",
    );
    let db = SqliteFile::users(t.dir.path(), 1);
    let values = [
        "a``b <img src=x onerror=alert(1)> `` [link](http://x) \x1b[32m✔ passed\x1b[0m\r<!--",
        "``\r\n<img src=y onerror=alert(2)>\r<!-- [link](http://y)",
    ];
    db.exec("CREATE TABLE evil (id INTEGER PRIMARY KEY, v TEXT)");
    for (i, v) in values.iter().enumerate() {
        db.exec(&format!("INSERT INTO evil VALUES ({}, '{}')", i + 1, v.replace('\'', "''")));
    }
    // The step's name is outside text too: it carries the second value.
    let yaml = std::fs::read_to_string(t.dir.join("runbook.yaml")).unwrap();
    let yaml = yaml.replace("name: Check the values", &format!("name: {}", serde_json::to_string(values[1]).unwrap()));
    t.dir.write("runbook.yaml", &yaml);
    let run = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    run.code(1);
    let dir = t.run_dirs("runs").pop().unwrap();
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("onerror=alert(1)"), "the value is in the report: {md}");
    let mut opts = comrak::Options::default();
    opts.extension.table = true;
    opts.extension.strikethrough = true;
    opts.extension.tasklist = true;
    opts.render.unsafe_ = true; // as a renderer that lets HTML through would; escaping must hold anyway
    let html = comrak::markdown_to_html(&md, &opts);
    assert!(!html.contains("<img"), "an image from a value went live:\n{html}");
    assert!(!html.contains("<a href"), "a link from a value went live:\n{html}");
    assert!(!html.contains("<!--"), "a comment from a value hides the rest:\n{html}");
    let value_at = html.find("onerror=alert(1)").expect("the value is shown");
    let seal_at = html.find("Journal seal").expect("the seal line is rendered");
    assert!(seal_at > value_at, "the seal comes after the values");
    let seal = crate::support::journal(&dir).len();
    assert!(html.contains(&format!("{seal} lines")), "the seal line is whole:\n{html}");

    let textile = t.exec(["report", &dir.display().to_string(), "--format", "textile"]);
    textile.code(0);
    let text = textile.stdout.clone();
    assert!(text.contains("onerror=alert(1)"), "the value is in the textile report");
    assert!(!text.contains("<!--"), "{text}");
    assert!(!text.contains("<img"), "{text}");
    assert!(!text.contains('\r'), "a CR from a value reached the textile report");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(!html.contains("<img") && !html.contains("<!--"), "the HTML report escapes the values");
}

/// The DDL lint judges the statement as it will run: a variable's value can make a harmless
/// looking statement a DROP, and `validate` (defaults) and `plan` (every value) warn about what
/// the value makes of it, showing a secret masked.
#[test]
fn the_lint_judges_the_sql_with_its_values_filled_in() {
    let t = Test::new().runbook(
        "version: 1\nid: lint-values\nvars:\n  tbl:\n    default: all_users\n  extra:\n    secret: true\n    sql: true\n    default: \"select 7;drop  table Zq_Vault_9x\"\nplan:\n  - id: clear\n    name: Clear\n    kind: sql\n    sql: DROP TABLE ${tbl}\n  - id: more\n    name: More\n    kind: sql\n    sql: ${extra}\n",
    );
    let v = t.exec(["validate", "runbook.yaml"]);
    v.code(0);
    assert_eq!(v.stdout.matches("warning: ").count(), 2, "one warning per DROP, none for the SELECT:\n{}", v.all());
    v.stdout_has(
        "warning: DROP TABLE all_users with no earlier backup step in the change plan\n  ——▶ runbook.yaml:14:10 (step `clear`)\n   |\n14 |     sql: DROP TABLE ${tbl}\n   |          ^^^^\n  = why: the table's data is gone once the statement commits\n  = instead: add a `kind: backup` step before this one",
    )
    .stdout_has("warning: DROP TABLE ******** with no earlier backup step in the change plan\n  ——▶ runbook.yaml:18:10 (step `more`)");
    let db = SqliteFile::users(t.dir.path(), 2);
    let plan = t.exec_env(&["plan", "runbook.yaml", "--db", &db.url(), "--var", "tbl=orders"], &[]);
    plan.code(0).stdout_has("warning: DROP TABLE orders with no earlier backup step in the change plan");
    // The runbook holds the default itself; what is printed must not.
    crate::support::assert_no_leak("select 7;drop  table Zq_Vault_9x", &t.dir.join("no-run-folder"), &[v.all(), plan.all()]);
}

/// A variable that is a whole string literal (`'${x}'`) is sent as a bound value: a quote, a
/// semicolon or a comment in it is data, on every engine; the journal shows the statement with
/// the secret masked, and the other variables substituted as before.
fn binding_runbook() -> &'static str {
    "version: 1\nid: bind\nvars:\n  who:\n    env: WHO\n  tok:\n    secret: true\n    env: TOK\n  id:\n    default: \"1\"\nplan:\n  - id: store\n    name: Store\n    kind: sql\n    sql: UPDATE all_users SET email = '${who}', name = '${tok}' WHERE id = '${id}' AND email <> 'x ${id}'\n"
}

const WHO: &str = "O'Brien'); DROP TABLE all_users; -- \\' \"";
const TOK: &str = "Canary-b1nd x' WHERE 1=0; dRoP TaBlE zz_not_here; --";

fn check_binding(url: &str, scalar: impl Fn(&str) -> String) {
    let t = Test::new().runbook(binding_runbook());
    let run = t.exec_env(&["run", "runbook.yaml", "--db", url, "--yes", "--runs-dir", "runs"], &[("WHO", WHO), ("TOK", TOK)]);
    run.code(0);
    assert_eq!(scalar("SELECT email FROM all_users WHERE id = 1"), WHO, "the value is stored as it is, quotes and all");
    assert_eq!(scalar("SELECT name FROM all_users WHERE id = 1"), TOK);
    assert_eq!(scalar("SELECT count(*) FROM all_users"), "3", "nothing was dropped");
    let dir = t.run_dirs("runs").pop().unwrap();
    let j = crate::support::journal(&dir);
    let stmt = crate::support::events(&j, "statement")[0];
    // The bound value is shown as the literal it stands for (quotes doubled, and backslashes on
    // MariaDB, where they escape): spliced into its quotes it would read as a DROP that never ran.
    let mut who = WHO.replace('\'', "''");
    if url.starts_with("mysql:") {
        who = who.replace('\\', "\\\\");
    }
    assert_eq!(
        stmt["sql"].as_str().unwrap(),
        format!("UPDATE all_users SET email = '{who}', name = '********' WHERE id = '1' AND email <> 'x 1'")
    );
    assert_eq!(stmt["rows_affected"], 1);
    let report = t.exec(["report", &dir.display().to_string(), "--format", "markdown"]);
    crate::support::assert_no_leak(TOK, &dir, &[run.all(), report.all()]);
}

#[test]
fn a_lone_literal_variable_is_bound_on_sqlite() {
    let dir = crate::support::TempDir::new();
    let db = SqliteFile::users(dir.path(), 3);
    check_binding(&db.url(), |q| db.scalar(q));
}

#[test]
fn a_lone_literal_variable_is_bound_on_postgres() {
    let Some(db) = ServerDb::postgres() else { return };
    db.users(3);
    // `id = '${id}'` is an integer comparison: the bound value takes the type the literal had.
    check_binding(&db.url(), |q| db.scalar(q));
}

#[test]
fn a_lone_literal_variable_is_bound_on_mariadb() {
    let Some(db) = ServerDb::mysql() else { return };
    db.users(3);
    check_binding(&db.url(), |q| db.scalar(q));
}

/// Regression: on SQLite a query (here a validate step's report query) ran every statement of
/// its text, so a plain variable spliced into a quoted literal, `x'; DELETE FROM all_users;
/// SELECT 1, '1`, emptied the table from a step that only reads: no backup guard, nothing in
/// `plan`, and the run "succeeded". A query is one statement, as on the servers. (The value
/// stands inside a longer literal here: a lone `'${who}'` is bound, and would be one value.)
#[test]
fn a_query_that_a_value_turns_into_several_statements_runs_none_of_them() {
    let t = Test::new().runbook(
        "version: 1\nid: report-on-user\nvars:\n  who: {description: the user to report on}\nplan:\n  - id: report\n    name: Report on the user\n    kind: validate\n    tables: [all_users]\n    report_queries:\n      - name: the user's rows\n        sql: SELECT id, email FROM all_users WHERE email LIKE '${who}%'\n  - id: check\n    name: Check the user\n    kind: verify\n    queries:\n      - name: the user is there\n        sql: SELECT count(*) FROM all_users WHERE email LIKE '${who}%' AND 0 GROUP BY id\n        expect: null\n",
    );
    let db = SqliteFile::users(t.dir.path(), 5);
    let evil = "x'; DELETE FROM all_users; SELECT 1, '1";
    let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs", "--var", &format!("who={evil}")]);
    out.code(1)
        .stdout_has("  ✘ report query \"the user's rows\" runs: expected runs, got error: a query must be one statement, and this one is 3; nothing was run\n");
    assert_eq!(db.scalar("SELECT count(*) FROM all_users"), "5", "a report query wrote to the database");
    // The same through a verify query, whose first statement returns no row.
    let evil = "x' AND 0 GROUP BY id; DELETE FROM all_users; SELECT NULL WHERE '1";
    let out = t.exec([
        "run",
        "runbook.yaml",
        "--db",
        &db.url(),
        "--yes",
        "--runs-dir",
        "runs",
        "--skip",
        "report=not this time",
        "--var",
        &format!("who={evil}"),
    ]);
    out.code(1).stdout_has(
        "  ✘ the user is there: expected = NULL, got query error: a query must be one statement, and this one is 3; nothing was run\n",
    );
    assert_eq!(db.scalar("SELECT count(*) FROM all_users"), "5", "a verify query wrote to the database");
}

/// A runbook that removes a user unless the account is locked, then reads the user's rows back
/// through each kind of read query: a validate report query, a verify assertion and a monitor
/// check. Every query names the user as a lone literal, as the DELETE does.
fn removal_runbook() -> &'static str {
    "version: 1\nid: remove-user\nvars:\n  user: {description: the user to remove}\n  since: {default: \"0\"}\nplan:\n  - id: remove\n    name: Remove the user unless locked\n    kind: sql\n    sql: DELETE FROM people WHERE name = '${user}' AND locked = 0\n  - id: report\n    name: Report the user's rows\n    kind: validate\n    tables: [all_users]\n    report_queries:\n      - name: the user's rows\n        sql: SELECT id, locked FROM people WHERE name = '${user}' ORDER BY id\n  - id: gone\n    name: The user is gone\n    kind: verify\n    queries:\n      - name: rows named as the user\n        sql: SELECT count(*) FROM people WHERE name = '${user}' AND id > '${since}'\n        expect: 0\n  - id: watch\n    name: Watch the user's rows\n    kind: monitor\n    interval: 100ms\n    duration: 200ms\n    checks:\n      - name: rows named as the user\n        query: SELECT count(*) FROM people WHERE name = '${user}'\n        max: 0\n"
}

/// A value that, spliced into the quotes, would turn `name = '…'` into a condition no row meets.
const ALICE: &str = "alice' AND 'a'='b";

/// Regression: read queries spliced a variable's value into its quotes while the `sql` step
/// bound the same value as data. With `alice' AND 'a'='b` the DELETE (bound) matched the locked
/// account of that exact name and kept it, but the verify, the monitor and the report query
/// read `name = 'alice' AND 'a'='b'`, found nothing, and reported the user gone. Every read
/// query binds the value too: its verdict is the database's state.
fn check_query_binding(url: &str, scalar: impl Fn(&str) -> String) {
    let t = Test::new().runbook(removal_runbook());
    let base = ["run", "runbook.yaml", "--db", url, "--yes", "--runs-dir", "runs", "--allow-no-backup"];
    let with = |extra: &[&str]| -> Vec<String> { base.iter().chain(extra).map(|s| s.to_string()).collect() };
    let user = format!("user={ALICE}");
    // What plan shows is what runs: the whole value compared, written as the literal it stands
    // for, never spliced into the quotes as a condition of its own.
    let plan = t.exec(["plan", "runbook.yaml", "--db", url, "--var", &user]);
    plan.code(0)
        .stdout_has("DELETE FROM people WHERE name = 'alice'' AND ''a''=''b' AND locked = 0;\n")
        .stdout_has("assert (SELECT count(*) FROM people WHERE name = 'alice'' AND ''a''=''b' AND id > '0') = 0\n");
    // The report query and the verify see the locked account still there: the run fails at the
    // verify, naming what it found.
    let run = t.exec(with(&["--var", &user]));
    run.code(1)
        .stdout_has("  ✔ report query \"the user's rows\" runs: ran, 1 row(s)\n      id │ locked\n      ───┼───────\n      2  │ 1\n")
        .stdout_has("  ✘ rows named as the user: expected = 0, got 1\n");
    assert_eq!(scalar("SELECT count(*) FROM people"), "2", "the DELETE took the value as data");
    let journaled = crate::support::journal(&t.run_dirs("runs")[0]);
    let statements = crate::support::events(&journaled, "statement");
    assert_eq!(statements[0]["sql"], "DELETE FROM people WHERE name = 'alice'' AND ''a''=''b' AND locked = 0");
    assert_eq!(scalar(&format!("SELECT count(*) FROM people WHERE name = '{}'", ALICE.replace('\'', "''"))), "1");
    // With the verify skipped, the monitor sees the same row and crosses its threshold.
    let run = t.exec(with(&["--var", &user, "--skip", "gone=checked by hand"]));
    run.code(1).stdout_has("monitor check `rows named as the user` crossed its threshold at t+0.0s: 1 (must stay ≤ 0)\n");
    // A plain name: the account is removed, and every query sees it gone.
    let run = t.exec(with(&["--var", "user=alice"]));
    run.code(0).stdout_has("  ✔ report query \"the user's rows\" runs: ran, 0 row(s)\n").stdout_has("  ✔ rows named as the user: 0\n");
    assert_eq!(scalar("SELECT count(*) FROM people WHERE name = 'alice'"), "0");
    assert_eq!(scalar("SELECT count(*) FROM people"), "1");
}

const PEOPLE: &str = "INSERT INTO people VALUES (1, 'alice', 0), (2, 'alice'' AND ''a''=''b', 1)";

#[test]
fn a_read_query_binds_a_lone_literal_on_sqlite() {
    let dir = crate::support::TempDir::new();
    let db = SqliteFile::users(dir.path(), 3);
    db.exec(&format!("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, locked INTEGER NOT NULL); {PEOPLE}"));
    check_query_binding(&db.url(), |q| db.scalar(q));
}

#[test]
fn a_read_query_binds_a_lone_literal_on_postgres() {
    let Some(db) = ServerDb::postgres() else { return };
    db.users(3);
    // `id > '${since}'` is an integer comparison: the bound value takes the literal's type.
    db.exec(&format!("CREATE TABLE people (id integer PRIMARY KEY, name varchar(100) NOT NULL, locked integer NOT NULL); {PEOPLE}"));
    check_query_binding(&db.url(), |q| db.scalar(q));
}

#[test]
fn a_read_query_binds_a_lone_literal_on_mariadb() {
    let Some(db) = ServerDb::mysql() else { return };
    db.users(3);
    // A collation other than the connection's: the bound value compares as a literal would.
    db.exec(&format!(
        "CREATE TABLE people (id int PRIMARY KEY, name varchar(100) COLLATE utf8mb4_general_ci NOT NULL, locked int NOT NULL) DEFAULT CHARSET = utf8mb4; {PEOPLE}"
    ));
    check_query_binding(&db.url(), |q| db.scalar(q));
}

/// A long secret, every 10-character piece of it its own.
const LONG_SECRET: &str = "Zq7-AHOVCJQXELSZGNUB-IPWDKRYFMT-ahovcjqxel-szgnubipwd-krYFMTAHOV-CJQXELszgn-UBIPWDkryf-mtAHOVCJQX";

/// Regression: MariaDB quotes a duplicate value back cut to 64 characters (`Duplicate entry
/// '…...'`). The cut piece is no whole form of the secret, so its first 64 characters reached
/// the terminal, the journal and every report. What a server leaves of a secret is hidden too.
#[test]
fn mariadb_a_secret_the_server_cuts_in_its_error_is_still_hidden() {
    let Some(db) = ServerDb::mysql() else { return };
    db.exec("CREATE TABLE tokens (id int PRIMARY KEY, tok varchar(255) NOT NULL UNIQUE)");
    let t = Test::new().runbook(
        "version: 1\nid: long-secret\nvars:\n  tok:\n    description: a token\n    secret: true\n    env: TOK\nplan:\n  - id: store\n    name: Store the token twice\n    kind: sql\n    sql:\n      - INSERT INTO tokens (id, tok) VALUES (1, '${tok}')\n      - INSERT INTO tokens (id, tok) VALUES (2, '${tok}')\n",
    );
    let run = t
        .exec_env(&["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs", "--allow-no-backup"], &[("TOK", LONG_SECRET)]);
    run.code(1).stdout_has(
        "✘ failed: database: error returned from database: 1062 (23000): Duplicate entry '********...' for key 'tok' (the transaction was rolled back, nothing changed)\n",
    );
    assert_eq!(db.scalar("SELECT count(*) FROM tokens"), "0");
    crate::support::assert_secret_nowhere(&t, LONG_SECRET, &[t.dir.join("runs"), t.dir.join(".state")], &[&run]);
}
