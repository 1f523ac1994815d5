//! Rehearsal side effects are a decision: an `http` or `command` step that may change something
//! outside the database is skipped in a rehearsal unless the runbook says `rehearse: run` or
//! names an alternate. Checked against a real loopback HTTP server and real files.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{events, journal, SqliteFile, Test};

/// A loopback HTTP server that records the method and path of every request but HEAD; it stops
/// after a few seconds without a request.
fn recording_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        // The first request may wait for a slow start; the rest come quickly or never.
        let mut wait = Duration::from_secs(60);
        while let Ok(Some(req)) = server.recv_timeout(wait) {
            // The reachability probes made before the run are HEAD requests, which only read;
            // what matters here are the steps' own requests.
            if *req.method() != tiny_http::Method::Head {
                log.lock().unwrap().push(format!("{} {}", req.method(), req.url()));
            }
            let _ = req.respond(tiny_http::Response::from_string("{\"ok\": true}"));
            wait = Duration::from_secs(5);
        }
    });
    (url, seen)
}

fn runbook(url: &str) -> String {
    format!(
        r#"version: 1
id: side-effects
plan:
  - id: open-ticket
    name: Open a ticket
    kind: http
    method: POST
    url: {url}/tickets
    body: '{{"subject": "change started"}}'
  - id: notify-chat
    name: Notify the chat
    kind: http
    method: POST
    url: {url}/chat
    body: '{{"text": "change started"}}'
    rehearse: run
  - id: close-ticket
    name: Close the ticket
    kind: http
    method: PUT
    url: {url}/tickets/1
    rehearse: {url}/stand-in/tickets/1
  - id: health
    name: Health check
    kind: http
    url: {url}/health
  - id: touch-marker
    name: Write the marker file
    kind: command
    command: [touch, marker-default]
  - id: read-only-job
    name: Read-only job
    kind: command
    command: [touch, marker-read-only]
    read_only: true
  - id: job-with-stand-in
    name: Job with a stand-in
    kind: command
    command: [touch, marker-real]
    rehearse: touch marker-stand-in
rollback:
  - id: check
    name: Check
    kind: verify
    queries:
      - sql: SELECT count(*) FROM all_users
        op: ">="
        expect: 0
"#
    )
}

#[test]
fn a_rehearsal_runs_only_what_the_runbook_allows_outside_the_database() {
    let (url, seen) = recording_server();
    let t = Test::new().runbook(&runbook(&url));
    let db = SqliteFile::users(t.dir.path(), 5);
    let out = t.exec(["rehearse", "runbook.yaml", "--db", &db.url(), "--runs-dir", "runs"]);
    out.code(0)
        .stdout_has("skipped (rehearse policy): not run in a rehearsal: POST may change something outside the database")
        .stdout_has("in a rehearsal: runs (rehearse: run)")
        .stdout_has(&format!("in a rehearsal: calls {url}/stand-in/tickets/1 instead"));
    let requests = seen.lock().unwrap().clone();
    // No POST /tickets: the default for a POST is to skip it.
    assert_eq!(requests, vec!["POST /chat", "PUT /stand-in/tickets/1", "GET /health"]);
    assert!(!t.dir.join("marker-default").exists(), "a command without a rehearsal policy ran");
    assert!(t.dir.join("marker-read-only").exists(), "a read-only command did not run");
    assert!(!t.dir.join("marker-real").exists(), "the real command ran instead of its stand-in");
    assert!(t.dir.join("marker-stand-in").exists(), "the stand-in did not run");

    // The journal holds each skip as a decision with its reason, which the reports show.
    let j = journal(&t.run_dirs("runs")[0]);
    let skips: Vec<(String, String)> = events(&j, "step_decision")
        .iter()
        .filter(|e| e["decision"] == "skip")
        .map(|e| (e["step_id"].as_str().unwrap().to_string(), e["reason"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(skips.len(), 2, "{skips:?}");
    assert_eq!(skips[0].0, "open-ticket");
    assert_eq!(
        skips[0].1,
        "not run in a rehearsal: POST may change something outside the database; declare `rehearse: run`, `read_only: true` or an alternate URL to rehearse it"
    );
    assert_eq!(skips[1].0, "touch-marker");
    assert!(skips[1].1.starts_with("not run in a rehearsal: a command may change something outside the database"), "{}", skips[1].1);
    let http: Vec<&str> = events(&j, "http").iter().map(|e| e["url"].as_str().unwrap()).collect();
    assert_eq!(http, vec![format!("{url}/chat"), format!("{url}/stand-in/tickets/1"), format!("{url}/health")]);
    let report = std::fs::read_to_string(t.run_dirs("runs")[0].join("report.md")).unwrap();
    assert!(report.contains("not run in a rehearsal"), "the report does not say why a step was skipped:\n{report}");

    // `plan` says the same before anything runs.
    let plan = t.exec(["plan", "runbook.yaml", "--db", &db.url()]);
    plan.code(0)
        .stdout_has("A rehearsal skips 2 step(s) of this plan:")
        .stdout_has("  - `open-ticket`: POST may change something outside the database")
        .stdout_has("  - `touch-marker`: a command may change something outside the database")
        .stdout_has("in a rehearsal: runs (read_only: true)")
        .stdout_has("in a rehearsal: runs (GET only reads)")
        .stdout_has("in a rehearsal: runs touch marker-stand-in instead");
}

#[test]
fn a_real_run_ignores_the_rehearsal_policy() {
    let (url, seen) = recording_server();
    let t = Test::new().runbook(&runbook(&url));
    let db = SqliteFile::users(t.dir.path(), 5);
    t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]).code(0);
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests, vec!["POST /tickets", "POST /chat", "PUT /tickets/1", "GET /health"]);
    for m in ["marker-default", "marker-read-only", "marker-real"] {
        assert!(t.dir.join(m).exists(), "{m} was not written by the real run");
    }
    assert!(!t.dir.join("marker-stand-in").exists());
}

#[test]
fn a_rehearsal_alternate_must_fit_the_step() {
    let t = Test::new().runbook(
        "version: 1\nid: x\nplan:\n  - id: call\n    name: Call\n    kind: http\n    method: POST\n    url: http://127.0.0.1:9/x\n    rehearse: sometimes\n",
    );
    t.exec(["validate", "runbook.yaml"])
        .code(2)
        .stderr_has("runbook.yaml:9:")
        .stderr_has("`rehearse: sometimes` of http step `call` is neither `run`, `skip` nor a URL");
    let t =
        Test::new().runbook("version: 1\nid: x\nplan:\n  - id: q\n    name: Q\n    kind: manual\n    instructions: x\n    rehearse: run\n");
    t.exec(["validate", "runbook.yaml"]).code(2).stderr_has("field `rehearse` does not belong to a `manual` step (step `q`)");
}

/// A rehearsal can be neither resumed (its scratch copy is gone) nor rolled back (the rollback
/// would run against the dropped copy), so a failed one names the command that rehearses the
/// same target again, with the same variables, and nothing else.
#[test]
fn a_failed_rehearsal_suggests_rehearsing_again_not_resume_or_rollback() {
    let t = Test::new().runbook(
        r#"version: 1
id: failing-rollback
vars:
  note: {description: a note}
plan:
  - id: add
    name: Add column
    kind: sql
    sql: ALTER TABLE all_users ADD COLUMN c2 text DEFAULT '${note}'
rollback:
  - id: check
    name: Impossible check
    kind: verify
    queries:
      - sql: SELECT count(*) FROM all_users
        expect: -1
"#,
    );
    let db = SqliteFile::users(t.dir.path(), 3);
    let out = t.exec(["rehearse", "runbook.yaml", "--db", &db.url(), "--runs-dir", "runs", "--var", "note=two words"]);
    let run_dir = t.run_dirs("runs")[0].display().to_string();
    let ending = format!(
        "Journal           : {run_dir}/journal.jsonl\n\nNext:\n  runbook rehearse runbook.yaml --db {} --var 'note=two words'\n      rehearse again on a fresh scratch copy once the cause is fixed (the copy this rehearsal used is gone)\n",
        db.url()
    );
    out.code(1).stdout_has(&ending).lacks("runbook resume").lacks("runbook rollback");
    // The suggested command is one `runbook` accepts: it rehearses again (and fails the same way).
    t.exec(["rehearse", "runbook.yaml", "--db", &db.url(), "--runs-dir", "runs", "--var", "note=two words"]).code(1);
    assert_eq!(t.run_dirs("runs").len(), 2);
}

/// Regression: the preflight of a rehearsal asked the real endpoints of steps the rehearsal
/// skips or sends to a stand-in, and warned that they did not answer: a production service
/// the rehearsal host cannot (and must not) reach. It asks the stand-in instead.
#[test]
fn a_rehearsal_preflight_asks_the_stand_in_not_the_real_service() {
    let (url, seen) = recording_server();
    let real = "http://127.0.0.1:9";
    let t = Test::new().runbook(&format!(
        "version: 1\nid: stand-in\nplan:\n  - id: create\n    name: Create the ticket\n    kind: http\n    method: POST\n    url: {real}/tickets\n    rehearse: {url}/sandbox/tickets\n  - id: purge\n    name: Purge the cache\n    kind: http\n    method: DELETE\n    url: {real}/cache\nrollback:\n  - id: check\n    name: Check\n    kind: verify\n    queries:\n      - sql: SELECT count(*) FROM all_users\n        expect: 3\n"
    ));
    let db = SqliteFile::users(t.dir.path(), 3);
    let out = t.exec(["rehearse", "runbook.yaml", "--db", &db.url(), "--runs-dir", "runs"]);
    out.code(0).lacks("does not answer").lacks("preflight found");
    assert_eq!(seen.lock().unwrap().clone(), vec!["POST /sandbox/tickets"]);
    // A real run still asks the real endpoints first.
    let plan = t.exec(["plan", "runbook.yaml", "--db", &db.url()]);
    plan.stdout_has(&format!("step 1 `create`: {real}/tickets does not answer"));
}
