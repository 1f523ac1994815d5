//! The Redmine round trip: a ticket imported into a runbook skeleton (from the seed page text
//! and from a live Redmine), that runbook run against SQLite, and its evidence posted back to
//! the issue, once. Plus every way posting can go wrong, each leaving the issue untouched.
//!
//! Live tests need `RUNBOOK_TEST_REDMINE_URL` and `RUNBOOK_TEST_REDMINE_API_KEY` (see
//! `scripts/redmine-up --change-fields`); they create their own project and issue.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{Output, SqliteFile, Test};

/// The seed ticket's page text, kept as a fixture in the repository.
const SEED_TICKET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/change-ticket-pcc-user-uuid.txt");

fn rb(t: &Test, args: &[&str], env: &[(&str, &str)]) -> Output {
    t.exec_env(args, env)
}

/// The seed ticket's page text.
fn seed_text() -> String {
    std::fs::read_to_string(SEED_TICKET).expect("the seed ticket text")
}

#[test]
fn import_of_the_seed_page_text_is_a_valid_skeleton_that_follows_the_ticket() {
    let t = Test::new();
    let ticket = t.dir.write("ticket.txt", &seed_text());
    rb(&t, &["import", &ticket.display().to_string(), "-o", "imported.yaml"], &[])
        .code(0)
        .stdout_has("8 change step(s) and 6 rollback step(s)");
    rb(&t, &["validate", "imported.yaml"], &[]).code(0).stdout_has("valid runbook");
    let yaml = std::fs::read_to_string(t.dir.join("imported.yaml")).unwrap();
    let doc: Value = serde_saphyr::from_str(&yaml).expect("YAML");

    // Ticket metadata.
    let tk = &doc["ticket"];
    for (k, v) in [
        ("id", "1"),
        ("subject", "Add pcc_user_uuid Column to all_users Table for PCC Integration"),
        ("system", "ddxrx.com"),
        ("change_type", "Database"),
        ("risk", "Low"),
        ("impact", "Not affected"),
        ("estimate", "1:00 h"),
        ("start_date", "11/03/2025"),
        ("due_date", "11/03/2025"),
        ("owner", "Jonathan Cabato"),
        ("tracker", "Issue Monitor"),
    ] {
        assert_eq!(tk[k], v, "ticket.{k}");
    }
    // One step per numbered item, named as in the ticket, with a guessed kind.
    let plan: Vec<(String, String)> =
        doc["plan"].as_array().unwrap().iter().map(|s| (s["name"].as_str().unwrap().into(), s["kind"].as_str().unwrap().into())).collect();
    let want = [
        ("Backup Database", "backup"),
        ("Add New Column", "sql"),
        ("Verify Column Addition", "verify"),
        ("Update Application Logic", "manual"),
        ("Data Sync Test", "manual"),
        ("Validation", "verify"),
        ("Deployment", "manual"),
        ("Post-Deployment Monitoring", "monitor"),
    ];
    assert_eq!(plan, want.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>());
    let rollback: Vec<(String, String)> = doc["rollback"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().into(), s["kind"].as_str().unwrap().into()))
        .collect();
    assert_eq!(rollback.len(), 6);
    assert_eq!(rollback[0], ("Check that no critical processes are using the pcc_user_uuid column".into(), "verify".into()));
    assert_eq!(rollback[1].1, "backup");
    assert_eq!(rollback[2], ("Run this SQL to remove the column".into(), "sql".into()));
    assert_eq!(rollback[3].1, "manual");
    assert_eq!(rollback[4].1, "verify");
    assert_eq!(rollback[5].1, "monitor");
    // The ticket's one SQL statement, verbatim, in its step.
    assert_eq!(doc["rollback"][2]["sql"].as_str().unwrap().trim(), "ALTER TABLE all_users DROP COLUMN pcc_user_uuid;");
    // The change plan's SQL step has no SQL in the ticket: a TODO.
    assert!(yaml.contains("# TODO: the ticket gives no SQL for this step"), "{yaml}");
    assert!(doc["vars"]["add_new_column_sql"]["description"].as_str().unwrap().starts_with("TODO"));

    // Nothing half-specified runs: the run stops before touching the database and names the gap.
    let db = SqliteFile::users(t.dir.path(), 10);
    let before = db.bytes();
    rb(&t, &["run", "imported.yaml", "--db", &db.url(), "--yes"], &[]).code(2).stderr_has("has no value: pass --var");
    assert_eq!(db.bytes(), before, "the database was not touched");
    // And import never overwrites.
    rb(&t, &["import", &ticket.display().to_string(), "-o", "imported.yaml"], &[]).code(2).stderr_has("does not overwrite");
}

#[test]
fn import_places_sql_written_under_an_item_and_in_the_description() {
    let t = Test::new();
    let ticket = t.dir.write(
        "ticket.txt",
        "Feature #42\nopen\nWiden the e-mail column\nAdded by Ana Lima about 1 hour ago.\nStatus:\nNew\nRisk Level:\nMedium\n\nDescription\n\nWe need longer e-mails.\n\n    CREATE INDEX ix_users_email ON users (email);\n\nChange Plan\n\n  1. Backup - Dump the database first.\n  2. Widen Column - Execute SQL:\n     ALTER TABLE users ALTER COLUMN email TYPE varchar(320);\n     UPDATE users SET email = lower(email);\n  3. Add Index - Execute SQL to add the index.\n  4. Check - Verify the column is 320 wide.\n\nRollback Plan\n\n  1. Narrow Column - Run: ALTER TABLE users ALTER COLUMN email TYPE varchar(255);\n\nHistory\n",
    );
    rb(&t, &["import", &ticket.display().to_string(), "-o", "rb.yaml"], &[]).code(0);
    rb(&t, &["validate", "rb.yaml"], &[]).code(0);
    let doc: Value = serde_saphyr::from_str(&std::fs::read_to_string(t.dir.join("rb.yaml")).unwrap()).unwrap();
    assert_eq!(doc["ticket"]["id"], "42");
    assert_eq!(doc["ticket"]["risk"], "Medium");
    assert_eq!(doc["ticket"]["owner"], "Ana Lima");
    let plan = doc["plan"].as_array().unwrap();
    assert_eq!(plan[0]["kind"], "backup");
    assert_eq!(plan[1]["kind"], "sql");
    let sql = plan[1]["sql"].as_str().unwrap();
    assert!(sql.contains("ALTER TABLE users ALTER COLUMN email TYPE varchar(320);"), "{sql}");
    assert!(sql.contains("UPDATE users SET email = lower(email);"), "{sql}");
    // The description's statement goes to the SQL step that had none.
    assert_eq!(plan[2]["sql"].as_str().unwrap().trim(), "CREATE INDEX ix_users_email ON users (email);");
    assert_eq!(plan[3]["kind"], "verify");
    assert_eq!(doc["rollback"][0]["kind"], "sql");
    assert_eq!(doc["rollback"][0]["sql"].as_str().unwrap().trim(), "ALTER TABLE users ALTER COLUMN email TYPE varchar(255);");
}

/// Live tests take turns: Redmine on SQLite answers 500 ("database is locked") to concurrent writes.
pub(crate) static LIVE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The live Redmine from the environment, or `None` (the test then says it is skipped).
pub(crate) fn redmine() -> Option<(String, String)> {
    let url = std::env::var("RUNBOOK_TEST_REDMINE_URL").ok().filter(|s| !s.is_empty());
    let key = std::env::var("RUNBOOK_TEST_REDMINE_API_KEY").ok().filter(|s| !s.is_empty());
    match (url, key) {
        (Some(u), Some(k)) => Some((u.trim_end_matches('/').to_string(), k)),
        _ => {
            assert!(
                !crate::support::servers_required(),
                "RUNBOOK_TEST_REDMINE_URL and RUNBOOK_TEST_REDMINE_API_KEY are required (RUNBOOK_REQUIRE_SERVERS=1); start one with scripts/redmine-up --change-fields"
            );
            crate::support::skip("set RUNBOOK_TEST_REDMINE_URL and RUNBOOK_TEST_REDMINE_API_KEY to run the live Redmine tests");
            None
        }
    }
}

/// A tiny REST client for setting up and reading back test data.
pub(crate) struct Api {
    url: String,
    key: String,
    http: reqwest::blocking::Client,
}

impl Api {
    pub(crate) fn new(url: &str, key: &str) -> Api {
        Api {
            url: url.into(),
            key: key.into(),
            http: reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().unwrap(),
        }
    }
    fn get(&self, path: &str) -> Value {
        let r = self.http.get(format!("{}/{path}", self.url)).header("X-Redmine-API-Key", &self.key).send().unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().unwrap()
    }
    fn post(&self, path: &str, body: Value) -> Value {
        let r = self.http.post(format!("{}/{path}", self.url)).header("X-Redmine-API-Key", &self.key).json(&body).send().unwrap();
        let status = r.status();
        let text = r.text().unwrap();
        assert!(status.is_success(), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// A fresh project with one change ticket like the seed's; returns the issue id.
    pub(crate) fn change_ticket(&self, sql_in_plan: bool) -> u64 {
        let ident = format!("rb-{}-{}", std::process::id(), uuid_suffix());
        let p = self.post("projects.json", json!({"project": {"name": format!("Runbook test {ident}"), "identifier": ident, "is_public": false, "enabled_module_names": ["issue_tracking"], "tracker_ids": [1, 2, 3]}}));
        let project = p["project"]["id"].as_u64().unwrap();
        let fields = self.get("custom_fields.json");
        let id_of =
            |name: &str| fields["custom_fields"].as_array().unwrap().iter().find(|f| f["name"] == name).and_then(|f| f["id"].as_u64());
        let change_plan = format!(
            "Change Plan: Add pcc_user_uuid to all_users Table\n\n1. Backup Database - Take a full backup of the database to prevent data loss.\n2. Add New Column - Execute SQL to add the column{}\n3. Verify Column Addition - Check the all_users table schema to ensure the column exists.\n4. Update Application Logic - Ensure the app writes and reads PCC UUIDs into/from the new column.\n5. Post-Deployment Monitoring - Monitor logs and database for any issues with new PCC data integration.",
            if sql_in_plan { ": ALTER TABLE all_users ADD COLUMN pcc_user_uuid VARCHAR(36) NULL;" } else { "" }
        );
        let rollback_plan = "Rollback Plan: Remove pcc_user_uuid from all_users Table\n\n1. Take a full backup of the database, including any data in the new column.\n2. Run this SQL to remove the column: ALTER TABLE all_users DROP COLUMN pcc_user_uuid;";
        let description = "This change adds a new column, pcc_user_uuid, to the existing all_users table.";
        let mut custom = Vec::new();
        let mut desc = description.to_string();
        for (name, value) in [
            ("Change Type", "Database"),
            ("System", "ddxrx.com"),
            ("Risk Level", "Low"),
            ("Impact", "Not affected"),
            ("Change Plan", change_plan.as_str()),
            ("Rollback Plan", rollback_plan),
        ] {
            match id_of(name) {
                Some(id) => custom.push(json!({"id": id, "value": value})),
                // Without the custom fields the plans go into the description's sections.
                None if name.ends_with("Plan") => desc.push_str(&format!("\n\n## {name}\n\n{value}")),
                None => {}
            }
        }
        let i = self.post(
            "issues.json",
            json!({"issue": {"project_id": project, "tracker_id": 2, "subject": "Add pcc_user_uuid Column to all_users Table for PCC Integration",
                "description": desc, "start_date": "2025-11-03", "due_date": "2025-11-03", "estimated_hours": 1.0, "custom_fields": custom}}),
        );
        i["issue"]["id"].as_u64().unwrap()
    }

    pub(crate) fn issue(&self, id: u64) -> Value {
        self.get(&format!("issues/{id}.json?include=journals,attachments"))["issue"].clone()
    }
}

fn uuid_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    format!("{:x}", SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() % 0xffff_ffff)
}

pub(crate) fn notes(issue: &Value) -> Vec<String> {
    issue["journals"].as_array().unwrap().iter().filter_map(|j| j["notes"].as_str()).filter(|n| !n.is_empty()).map(String::from).collect()
}

pub(crate) fn attachment_names(issue: &Value) -> Vec<String> {
    let mut v: Vec<String> = issue["attachments"].as_array().unwrap().iter().map(|a| a["filename"].as_str().unwrap().to_string()).collect();
    v.sort();
    v
}

#[test]
fn live_issue_is_imported_run_and_closed_with_evidence_posted_once() {
    let Some((url, key)) = redmine() else { return };
    let _turn = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    let api = Api::new(&url, &key);
    let issue = api.change_ticket(true);
    let t = Test::new();
    let env = [("REDMINE_API_KEY", key.as_str())];
    let n = issue.to_string();

    rb(&t, &["import", "--redmine", &url, "--issue", &n, "-o", "change.yaml"], &env)
        .code(0)
        .stdout_has("5 change step(s) and 2 rollback step(s)");
    rb(&t, &["validate", "change.yaml"], &[]).code(0);
    let yaml = std::fs::read_to_string(t.dir.join("change.yaml")).unwrap();
    let doc: Value = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(doc["ticket"]["id"], n.as_str());
    assert_eq!(doc["ticket"]["url"], format!("{url}/issues/{issue}"));
    assert_eq!(doc["ticket"]["risk"], "Low");
    assert_eq!(doc["ticket"]["system"], "ddxrx.com");
    assert_eq!(doc["ticket"]["estimate"], "1:00 h");
    assert_eq!(doc["plan"][1]["sql"].as_str().unwrap().trim(), "ALTER TABLE all_users ADD COLUMN pcc_user_uuid VARCHAR(36) NULL;");
    assert_eq!(doc["rollback"][1]["sql"].as_str().unwrap().trim(), "ALTER TABLE all_users DROP COLUMN pcc_user_uuid;");

    // Run it on SQLite: the verify TODO gets a real query; monitoring needs the live app, so it is skipped.
    let db = SqliteFile::users(t.dir.path(), 20);
    let run = rb(
        &t,
        &[
            "run",
            "change.yaml",
            "--db",
            &db.url(),
            "--yes",
            "--var",
            "verify_column_addition_check=SELECT count(*) FROM pragma_table_info('all_users') WHERE name = 'pcc_user_uuid'",
            "--skip",
            "post-deployment-monitoring=needs the live application",
        ],
        &[],
    );
    run.code(0);
    assert!(db.has_column("all_users", "pcc_user_uuid"), "the column was added");
    let run_dir = t.run_dirs("runbook-runs").pop().unwrap();
    let run_id = run_dir.file_name().unwrap().to_string_lossy().to_string();
    let seal: String = serde_json::from_str::<Value>(&std::fs::read_to_string(run_dir.join("report.json")).unwrap()).unwrap()["seal"]
        .as_str()
        .unwrap()
        .into();

    let before = api.issue(issue);
    rb(&t, &["report", &run_dir.display().to_string(), "--redmine", &url, "--issue", &n], &env)
        .code(0)
        .stdout_has("posted run")
        .lacks(&key);
    let after = api.issue(issue);
    let new_notes: Vec<String> = notes(&after).into_iter().skip(notes(&before).len()).collect();
    assert_eq!(new_notes.len(), 1, "one note: {new_notes:?}");
    let note = &new_notes[0];
    assert!(note.contains(&run_id), "the note names the run: {note}");
    assert!(note.contains("**Outcome: succeeded**"), "{note}");
    assert!(note.contains(&seal), "the note carries the seal");
    assert!(note.contains("| 2 | Add New Column | sql | ✅ passed |"), "the step summary table: {note}");
    assert!(note.contains("⏭ skipped"), "{note}");
    assert_eq!(attachment_names(&after), vec!["journal.jsonl", "report.html", "report.json"]);

    // The attached journal verifies against the seal in the note: an auditor needs nothing else.
    let audit = Test::new();
    std::fs::create_dir_all(audit.dir.join("from-ticket")).unwrap();
    for a in after["attachments"].as_array().unwrap() {
        let bytes = api.http.get(a["content_url"].as_str().unwrap()).header("X-Redmine-API-Key", &key).send().unwrap().bytes().unwrap();
        std::fs::write(audit.dir.join("from-ticket").join(a["filename"].as_str().unwrap()), bytes).unwrap();
    }
    rb(&audit, &["audit", "verify", "from-ticket", "--seal", &seal], &[]).code(0).stdout_has("journal intact");
    let html = std::fs::read_to_string(audit.dir.join("from-ticket/report.html")).unwrap();
    assert!(html.contains(&seal) && html.contains("<svg"));

    // Posting the same run again adds nothing.
    rb(&t, &["report", &run_dir.display().to_string(), "--redmine", &url, "--issue", &n], &env).code(0).stdout_has("already on");
    let again = api.issue(issue);
    assert_eq!(notes(&again).len(), notes(&after).len(), "no second note");
    assert_eq!(again["attachments"].as_array().unwrap().len(), 3, "no second set of attachments");

    // The rollback run, posted as Textile, is a second, separate note.
    let rollback = rb(&t, &["rollback", "change.yaml", "--db", &db.url(), "--yes"], &[]);
    rollback.code(0);
    assert!(!db.has_column("all_users", "pcc_user_uuid"), "the column was dropped");
    // Run ids sort by second only: find the new folder rather than the last one.
    let rb_dir = t.run_dirs("runbook-runs").into_iter().find(|d| *d != run_dir).unwrap();
    rb(&t, &["report", &rb_dir.display().to_string(), "--redmine", &url, "--issue", &n, "--text-format", "textile"], &env).code(0);
    let last = api.issue(issue);
    let textile = notes(&last).pop().unwrap();
    assert!(textile.contains("*Outcome&#58; succeeded*") && textile.contains("|_. &#35; |_. Step |"), "{textile}");
    assert_eq!(last["attachments"].as_array().unwrap().len(), 6);
}

#[test]
fn live_import_of_an_issue_without_sql_passes_validate_with_todos() {
    let Some((url, key)) = redmine() else { return };
    let _turn = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    let api = Api::new(&url, &key);
    let issue = api.change_ticket(false);
    let t = Test::new();
    rb(&t, &["import", "--redmine", &url, "--issue", &issue.to_string(), "-o", "x.yaml"], &[("REDMINE_API_KEY", &key)]).code(0);
    rb(&t, &["validate", "x.yaml"], &[]).code(0);
    let yaml = std::fs::read_to_string(t.dir.join("x.yaml")).unwrap();
    assert!(yaml.contains("sql: ${add_new_column_sql}"), "{yaml}");
}

/// A finished run to post.
fn finished_run(t: &Test) -> std::path::PathBuf {
    t.dir.write(
        "small.yaml",
        "version: 1\nid: small\ntitle: Small\nplan:\n  - id: add\n    name: Add New Column\n    kind: sql\n    sql: ALTER TABLE all_users ADD COLUMN pcc_user_uuid VARCHAR(36) NULL;\n",
    );
    let db = SqliteFile::users(t.dir.path(), 5);
    rb(t, &["run", "small.yaml", "--db", &db.url(), "--yes", "--allow-no-backup"], &[]).code(0);
    t.run_dirs("runbook-runs").pop().unwrap()
}

#[test]
fn live_posting_errors_are_clear_and_leave_the_issue_untouched() {
    let Some((url, key)) = redmine() else { return };
    let _turn = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    let api = Api::new(&url, &key);
    let issue = api.change_ticket(true);
    let n = issue.to_string();
    let t = Test::new();
    let dir = finished_run(&t).display().to_string();
    let before = api.issue(issue);

    rb(&t, &["report", &dir, "--redmine", &url, "--issue", &n], &[("REDMINE_API_KEY", "0123456789abcdef0123456789abcdef01234567")])
        .code(2)
        .stderr_has("rejected the API key (HTTP 401)")
        .lacks("0123456789abcdef0123456789abcdef01234567");
    rb(&t, &["report", &dir, "--redmine", &url, "--issue", "987654321"], &[("REDMINE_API_KEY", &key)])
        .code(2)
        .stderr_has("reading issue #987654321: not found")
        .stderr_has("(HTTP 404)");
    rb(&t, &["report", &dir, "--redmine", &url, "--issue", &n], &[]).code(2).stderr_has("set REDMINE_API_KEY");
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    rb(&t, &["report", &dir, "--redmine", &format!("http://127.0.0.1:{port}"), "--issue", &n], &[("REDMINE_API_KEY", &key)])
        .code(1)
        .stderr_has("cannot reach Redmine");
    rb(&t, &["import", "--redmine", &url, "--issue", &n, "-o", "x.yaml"], &[("REDMINE_API_KEY", "wrong")]).code(2).stderr_has("HTTP 401");
    assert!(!t.dir.join("x.yaml").exists(), "no file from a failed import");

    let after = api.issue(issue);
    assert_eq!(notes(&after), notes(&before), "no note was added");
    assert_eq!(attachment_names(&after), attachment_names(&before), "nothing was attached");
}

/// A loopback server that answers like a Redmine whose REST API is switched off: 403 for API
/// requests, or (behind some proxies) the HTML login page. It records every request it gets.
fn rest_disabled_server(html: bool) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>, std::thread::JoinHandle<()>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let handle = std::thread::spawn(move || {
        while let Ok(Some(req)) = server.recv_timeout(Duration::from_secs(10)) {
            log.lock().unwrap().push(format!("{} {}", req.method(), req.url()));
            let resp = if html {
                tiny_http::Response::from_string("<!DOCTYPE html>\n<html><head><title>Redmine</title></head><body><form action=\"/login\"><input name=\"username\"></form></body></html>")
                    .with_header("Content-Type: text/html; charset=utf-8".parse::<tiny_http::Header>().unwrap())
            } else {
                tiny_http::Response::from_string("")
                    .with_status_code(403)
                    .with_header("Content-Type: application/json".parse::<tiny_http::Header>().unwrap())
            };
            let _ = req.respond(resp);
        }
    });
    (url, seen, handle)
}

#[test]
fn posting_to_a_redmine_with_the_rest_api_disabled_says_so_and_posts_nothing() {
    let t = Test::new();
    let dir = finished_run(&t).display().to_string();
    for (html, expect) in [
        (false, "HTTP 403): the REST API may be disabled"),
        (true, "answered with a web page (a login page?) instead of JSON: enable the REST API"),
    ] {
        let (url, seen, handle) = rest_disabled_server(html);
        rb(&t, &["report", &dir, "--redmine", &url, "--issue", "5"], &[("REDMINE_API_KEY", "k")]).code(2).stderr_has(expect);
        rb(&t, &["import", "--redmine", &url, "--issue", "5", "-o", "x.yaml"], &[("REDMINE_API_KEY", "k")]).code(2).stderr_has(expect);
        let requests = seen.lock().unwrap().clone();
        assert!(!requests.is_empty(), "the server was asked");
        assert!(requests.iter().all(|r| r.starts_with("GET ")), "nothing was uploaded or updated: {requests:?}");
        drop(handle);
    }
    assert!(!t.dir.join("x.yaml").exists());
}
