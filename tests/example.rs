//! The second example runbook, `runbooks/split-customer-name.yaml`, end to end on all three
//! engines: validate, plan, rehearse, run, report, rollback. The schema after the rollback is
//! compared with the one before the change using each engine's own dump tool.

use std::process::Command;
use std::time::Duration;

use crate::support::servers::ServerDb;
use crate::support::{events, journal, SqliteFile, Test};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/runbooks/split-customer-name.yaml");
const FIXTURE: &str = include_str!("fixtures/customers.sql");

/// A stand-in for the CRM API on loopback: it answers the schema request, and only with the
/// right token.
fn crm_stand_in(token: &'static str) -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    std::thread::spawn(move || {
        while let Ok(Some(req)) = server.recv_timeout(Duration::from_secs(120)) {
            let authorized = req.headers().iter().any(|h| h.field.equiv("Authorization") && h.value.as_str() == format!("Bearer {token}"));
            let (code, body) = if authorized || *req.method() == tiny_http::Method::Head {
                (200, r#"{"fields": {"first_name": {"type": "string"}, "last_name": {"type": "string"}}}"#)
            } else {
                (401, r#"{"error": "unauthorized"}"#)
            };
            let _ = req.respond(tiny_http::Response::from_string(body).with_status_code(code));
        }
    });
    url
}

fn tool(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The whole round on one target; `dump` is the engine's own schema dump, `scalar` a query.
fn round_trip(url: &str, dump: &dyn Fn() -> String, scalar: &dyn Fn(&str) -> String) {
    const TOKEN: &str = "crm-token-5b8e1f-example";
    let crm = crm_stand_in(TOKEN);
    let t = Test::new().env("CRM_TOKEN", TOKEN);
    let before = dump();
    let vars = ["--var", &format!("crm_url={crm}"), "--var", "monitor_duration=2s"];
    let with = |args: &[&str]| -> Vec<String> { args.iter().chain(vars.iter()).map(|s| s.to_string()).collect() };

    t.exec(["validate", EXAMPLE]).code(0).stdout_has("11 change step(s), 6 rollback step(s)");
    t.exec(with(&["plan", EXAMPLE, "--db", url])).code(0).stdout_has("plan complete: 11 step(s)");
    t.exec(with(&["plan", EXAMPLE, "--rollback", "--db", url])).code(0).stdout_has("plan complete: 6 step(s)");
    let out = t.exec(with(&["rehearse", EXAMPLE, "--db", url, "--runs-dir", "rehearsals"]));
    out.code(0).stdout_has("schema after plan + rollback: equal to the original");
    assert_eq!(dump(), before, "the rehearsal changed the target");

    t.exec(with(&["run", EXAMPLE, "--db", url, "--yes", "--runs-dir", "runs"])).code(0);
    assert_eq!(scalar("SELECT first_name FROM customers WHERE id = 2"), "Grace");
    assert_eq!(scalar("SELECT last_name FROM customers WHERE id = 2"), "Brewster Hopper");
    assert_eq!(scalar("SELECT last_name FROM customers WHERE id = 4"), "");
    assert_eq!(scalar("SELECT first_name FROM customers WHERE id = 5"), "Zoë");
    assert_ne!(dump(), before);
    let run = t.run_dirs("runs")[0].clone();
    let j = journal(&run);
    assert_eq!(events(&j, "run_finished")[0]["outcome"], "succeeded");
    assert_eq!(events(&j, "http")[0]["status"], 200);
    let report = t.exec(["report", run.to_str().unwrap()]);
    report
        .code(0)
        .stdout_has("# Runbook report: Split customers.full\\_name into first and last name")
        .stdout_has("**Outcome: succeeded**");
    crate::support::assert_no_leak(TOKEN, &run, std::slice::from_ref(&report.stdout));

    t.exec(with(&["rollback", EXAMPLE, "--db", url, "--yes", "--runs-dir", "runs"])).code(0);
    assert_eq!(dump(), before, "the rollback did not bring the schema back");
    assert_eq!(scalar("SELECT count(*) FROM customers"), "6");
}

#[test]
fn the_second_example_in_the_docs_is_the_runbook_file() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/runbook-format.md")).unwrap();
    let start = doc.find("## A second full example").expect("the docs have a second example");
    let block = &doc[start..];
    let open = block.find("```yaml\n").unwrap() + "```yaml\n".len();
    let close = block[open..].find("\n```").unwrap() + 1;
    let file = std::fs::read_to_string(EXAMPLE).unwrap();
    assert_eq!(&block[open..open + close], file, "docs/runbook-format.md and runbooks/split-customer-name.yaml differ");
}

#[test]
fn sqlite_second_example_round_trip() {
    let t = Test::new();
    let db = SqliteFile { path: t.dir.join("crm.db") };
    db.exec(FIXTURE);
    let path = db.path.display().to_string();
    round_trip(&db.url(), &|| tool("sqlite3", &[&path, ".schema"]), &|q| db.scalar(q));
}

#[test]
fn postgres_second_example_round_trip() {
    let Some(db) = ServerDb::postgres() else { return };
    db.exec(FIXTURE);
    let url = db.url();
    // `\restrict` lines carry a random key that pg_dump makes anew for every dump.
    let dump = || {
        let text = tool("pg_dump", &["--schema-only", "--no-owner", &url]);
        text.lines().filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict")).collect::<Vec<_>>().join("\n")
    };
    round_trip(&url, &dump, &|q| db.scalar(q));
}

#[test]
fn mariadb_second_example_round_trip() {
    let Some(db) = ServerDb::mysql() else { return };
    db.exec(FIXTURE);
    let u = url::Url::parse(&db.url()).unwrap();
    let host = u.host_str().unwrap().to_string();
    let port = u.port().unwrap_or(3306).to_string();
    let user = u.username().to_string();
    let name = db.name.clone();
    let dump = move || tool("mariadb-dump", &["--no-data", "--skip-dump-date", "-h", &host, "-P", &port, "-u", &user, &name]);
    round_trip(&db.url(), &dump, &|q| db.scalar(q));
}
