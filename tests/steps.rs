//! The `validate`, `http` and `monitor` step kinds, run by the real binary against real SQLite
//! files, a real HTTP server on loopback started by the test, and real log files.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{self, bin, events, files_under, journal, SqliteFile, Test};

/// One request as the loopback server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A real HTTP server on 127.0.0.1 answering with `handler(request, index)`.
pub struct Loopback {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl Loopback {
    pub fn start(handler: impl Fn(&Seen, usize) -> (u16, String) + Send + 'static) -> Loopback {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("loopback server"));
        let url = format!("http://{}", server.server_addr().to_ip().expect("ip address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (server, seen) = (server.clone(), seen.clone());
            std::thread::spawn(move || {
                for mut req in server.incoming_requests() {
                    let mut body = String::new();
                    let _ = req.as_reader().read_to_string(&mut body);
                    let s = Seen {
                        method: req.method().to_string(),
                        url: req.url().to_string(),
                        headers: req.headers().iter().map(|h| (h.field.to_string(), h.value.to_string())).collect(),
                        body,
                    };
                    let n = {
                        let mut all = seen.lock().unwrap();
                        all.push(s.clone());
                        all.len() - 1
                    };
                    let (status, text) = handler(&s, n);
                    let resp = tiny_http::Response::from_string(text)
                        .with_status_code(status)
                        .with_header(tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap());
                    let _ = req.respond(resp);
                }
            })
        };
        Loopback { url, seen, server, thread: Some(thread) }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A PCC API on loopback in the format the sync-job stand-in reads: the users of
/// `SqliteFile::users` with an odd id, matched by e-mail.
fn pcc_server(users: u32) -> Loopback {
    let data: Vec<Value> = (1..=users)
        .filter(|i| i % 2 == 1)
        .map(|i| serde_json::json!({"pccUserUuid": format!("{i:08x}-0000-4000-8000-{i:012x}"), "email": format!("u{i}@example.org")}))
        .collect();
    let body = serde_json::json!({"data": data, "paging": {"page": 1, "hasMore": false}}).to_string();
    Loopback::start(move |_, _| (200, body.clone()))
}

fn yaml_list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|s| serde_json::to_string(s).unwrap()).collect::<Vec<_>>().join(", "))
}

/// The step ids that were started, in order.
fn started(j: &[Value]) -> Vec<String> {
    events(j, "step_started").iter().map(|e| e["step_id"].as_str().unwrap().to_string()).collect()
}

fn finished<'a>(j: &'a [Value], id: &str) -> &'a Value {
    events(j, "step_finished").into_iter().find(|e| e["step_id"] == id).unwrap_or_else(|| panic!("step {id} did not finish"))
}

fn assertions<'a>(j: &'a [Value], id: &str) -> Vec<&'a Value> {
    events(j, "assertion").into_iter().filter(|e| e["step_id"] == id).collect()
}

fn samples<'a>(j: &'a [Value], id: &str) -> Vec<&'a Value> {
    events(j, "sample").into_iter().filter(|e| e["step_id"] == id).collect()
}

/// A runbook that adds pcc_user_uuid, runs the sync-job stand-in (with `bug`), validates
/// all_users, then has one more step that must not run when validation fails.
fn sync_then_validate(t: &Test, db: &SqliteFile, api: &str, bug: Option<&str>) -> String {
    let mut cmd = vec![
        bin().to_string(),
        "demo-stand-in".into(),
        "sync-job".into(),
        "--db".into(),
        db.path.display().to_string(),
        "--api".into(),
        api.to_string(),
        "--log".into(),
        t.dir.join("app.log").display().to_string(),
    ];
    if let Some(b) = bug {
        cmd.extend(["--bug".to_string(), b.to_string()]);
    }
    format!(
        r#"version: 1
id: validate-test
plan:
  - id: add-column
    name: Add column
    kind: sql
    sql: ALTER TABLE all_users ADD COLUMN pcc_user_uuid VARCHAR(36) NULL
  - id: sync
    name: Sync users from PCC
    kind: command
    command: {}
  - id: validation
    name: Validation
    kind: validate
    tables: [all_users]
    report_queries:
      - name: users by domain
        sql: SELECT substr(email, instr(email, '@') + 1), count(*) FROM all_users GROUP BY 1
  - id: after
    name: After validation
    kind: verify
    queries:
      - sql: SELECT 1
        expect: 1
"#,
        yaml_list(&cmd)
    )
}

#[test]
fn validate_fails_naming_the_table_when_one_value_changes() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 300);
    let api = pcc_server(300);
    let yaml = sync_then_validate(&t, &db, &api.url, Some("mangle-name"));
    let t = t.runbook(&yaml).args(["run", "runbook.yaml", "--db", &db.url(), "--yes"]);
    let out = t.run();
    out.code(1).stdout_has("table all_users: content hash").stdout_has("same 300 rows");

    // The sync really ran and the fault really happened: one name was rewritten.
    assert_eq!(db.scalar("SELECT count(*) FROM all_users WHERE pcc_user_uuid IS NOT NULL"), "150");
    assert_eq!(db.scalar("SELECT count(*) FROM all_users WHERE name LIKE '%?%'"), "1");

    let run = &t.run_dirs("runbook-runs")[0];
    let j = journal(run);
    let baseline = &events(&j, "fingerprint_baseline")[0]["fingerprints"][0];
    assert_eq!(baseline["table"], "all_users");
    assert_eq!(baseline["columns"], serde_json::json!(["id", "email", "name"]), "only the columns that existed at run start");
    let a = assertions(&j, "validation");
    let count = a.iter().find(|e| e["check"] == "all_users row count").unwrap();
    assert_eq!((count["expected"].as_str(), count["actual"].as_str(), count["passed"].as_bool()), (Some("300"), Some("300"), Some(true)));
    let hash = a.iter().find(|e| e["check"].as_str().unwrap().starts_with("all_users content hash")).unwrap();
    assert_eq!(hash["passed"], false);
    assert_ne!(hash["expected"], hash["actual"]);
    assert_eq!(hash["expected"], baseline["hash"]);
    let f = finished(&j, "validation");
    assert_eq!(f["status"], "failed");
    assert!(f["error"].as_str().unwrap().contains("table all_users"), "{f}");
    assert_eq!(started(&j), ["add-column", "sync", "validation"], "nothing runs after the failed validation");
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("❌ all\\_users content hash"), "{report}");
}

#[test]
fn validate_reports_the_row_counts_when_a_row_disappears() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 120);
    let api = pcc_server(120);
    let yaml = sync_then_validate(&t, &db, &api.url, Some("delete-user"));
    let t = t.runbook(&yaml).args(["run", "runbook.yaml", "--db", &db.url(), "--yes"]);
    t.run().code(1).stdout_has("table all_users: row count 120 → 119");
    assert_eq!(db.scalar("SELECT count(*) FROM all_users"), "119");
    let j = journal(&t.run_dirs("runbook-runs")[0]);
    let count = assertions(&j, "validation").into_iter().find(|e| e["check"] == "all_users row count").cloned().unwrap();
    assert_eq!((count["expected"].as_str(), count["actual"].as_str(), count["passed"].as_bool()), (Some("120"), Some("119"), Some(false)));
}

#[test]
fn validate_passes_when_only_the_new_column_is_written() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 200);
    let before = db.data_digest();
    let api = pcc_server(200);
    let yaml = sync_then_validate(&t, &db, &api.url, None);
    let t = t.runbook(&yaml).args(["run", "runbook.yaml", "--db", &db.url(), "--yes"]);
    t.run().code(0).stdout_has("all_users row count: 200");
    assert_eq!(db.scalar("SELECT pcc_user_uuid FROM all_users WHERE id = 3"), "00000003-0000-4000-8000-000000000003");
    assert_eq!(db.scalar("SELECT pcc_user_uuid FROM all_users WHERE id = 4"), "NULL");
    assert_eq!(db.data_digest(), before);
    let j = journal(&t.run_dirs("runbook-runs")[0]);
    assert!(assertions(&j, "validation").iter().all(|a| a["passed"] == true));
    assert_eq!(started(&j).last().map(String::as_str), Some("after"));
}

#[test]
fn validate_fails_when_a_report_query_breaks() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 10);
    let t = t
        .runbook(
            r#"version: 1
id: report-query
plan:
  - id: validation
    name: Validation
    kind: validate
    tables: [all_users]
    report_queries:
      - name: users by facility
        sql: SELECT facility, count(*) FROM all_users GROUP BY facility
"#,
        )
        .args(["run", "runbook.yaml", "--db", &db.url(), "--yes"]);
    t.run().code(1).stdout_has("report query \"users by facility\" failed");
    let j = journal(&t.run_dirs("runbook-runs")[0]);
    let q = assertions(&j, "validation").into_iter().find(|a| a["check"].as_str().unwrap().contains("users by facility")).cloned().unwrap();
    assert_eq!(q["passed"], false);
    assert!(q["actual"].as_str().unwrap().contains("no such column"), "{q}");
}

fn http_runbook(url: &str, extra: &str) -> String {
    format!(
        r#"version: 1
id: http-test
plan:
  - id: call
    name: Call the API
    kind: http
    url: {url}
{extra}
  - id: after
    name: After the call
    kind: verify
    queries:
      - sql: SELECT 1
        expect: 1
"#
    )
}

#[test]
fn http_step_sends_the_request_and_checks_status_and_json_pointers() {
    let server = Loopback::start(|_, _| {
        (201, r#"{"status":"ok","data":{"count":3,"ratio":1.0,"items":[{"id":"pcc-123"}]},"version":"2.4.1"}"#.into())
    });
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 5);
    let t = t
        .runbook(&http_runbook(
            &format!("{}/sync?dry_run=1", server.url),
            r#"    method: post
    headers:
      X-Trace: trace-42
    body: '{"users": [1, 2]}'
    expect_status: 201
    expect_json:
      - pointer: /status
        equals: ok
      - pointer: /data/count
        equals: 3
      - pointer: /data/ratio
        equals: 1
      - pointer: /data/items/0/id
        matches: "^pcc-[0-9]+$"
      - pointer: /version
      - pointer: /error
        exists: false"#,
        ))
        .args(["run", "runbook.yaml", "--db", &db.url(), "--yes"]);
    t.run().code(0).stdout_has("/data/items/0/id matches");

    // Before step 1 the preflight asked once whether the endpoint answers (a bare HEAD).
    let (probes, reqs): (Vec<_>, Vec<_>) = server.requests().into_iter().partition(|r| r.method == "HEAD");
    assert_eq!(probes.len(), 1, "the preflight's HEAD");
    assert_eq!(probes[0].header("X-Trace"), None, "the preflight sends no header of the step");
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].url, "/sync?dry_run=1");
    assert_eq!(reqs[0].body, r#"{"users": [1, 2]}"#);
    assert_eq!(reqs[0].header("X-Trace"), Some("trace-42"));
    assert_eq!(reqs[0].header("Content-Type"), Some("application/json"));

    let j = journal(&t.run_dirs("runbook-runs")[0]);
    let http = events(&j, "http");
    assert_eq!((http[0]["status"].as_u64(), http[0]["method"].as_str()), (Some(201), Some("POST")));
    assert!(http[0]["body_excerpt"].as_str().unwrap().contains("pcc-123"));
    let a = assertions(&j, "call");
    assert_eq!(a.len(), 7, "status and six JSON checks: {a:?}");
    assert!(a.iter().all(|x| x["passed"] == true), "{a:?}");
    assert_eq!(started(&j), ["call", "after"]);
}

#[test]
fn http_step_fails_on_wrong_status_and_json_and_stops_the_plan() {
    let server = Loopback::start(|_, _| (503, r#"{"status":"degraded","data":{"count":2,"items":[{"id":"x-1"}]}}"#.into()));
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 5);
    let t = t
        .runbook(&http_runbook(
            &format!("{}/health", server.url),
            r#"    expect_json:
      - pointer: /status
        equals: ok
      - pointer: /data/count
        equals: 3
      - pointer: /data/items/0/id
        matches: "^pcc-"
      - pointer: /data/missing
      - pointer: /data
        exists: false"#,
        ))
        .args(["run", "runbook.yaml", "--db", &db.url(), "--yes"]);
    t.run().code(1).stdout_has("expected 200, got 503").stdout_has("6 HTTP assertion(s) failed");
    let j = journal(&t.run_dirs("runbook-runs")[0]);
    let a = assertions(&j, "call");
    let by = |label: &str| {
        a.iter().find(|x| x["check"].as_str().unwrap().starts_with(label)).cloned().unwrap_or_else(|| panic!("{label}: {a:?}"))
    };
    assert_eq!(by("GET")["actual"], "503");
    assert_eq!(by("/status")["actual"], "\"degraded\"");
    assert_eq!(by("/data/count")["actual"], "2");
    assert_eq!(by("/data/items/0/id")["actual"], "\"x-1\"");
    assert_eq!(by("/data/missing")["actual"], "absent");
    assert_eq!(by("/data is absent")["passed"], false);
    assert!(a.iter().all(|x| x["passed"] == false));
    assert_eq!(started(&j), ["call"], "the plan stops at the failed request");
}

#[test]
fn http_step_fails_when_the_response_is_not_json() {
    let server = Loopback::start(|_, _| (200, "<html>maintenance</html>".into()));
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 5);
    let t = t.runbook(&http_runbook(&server.url, "    expect_json:\n      - pointer: /status\n        equals: ok")).args([
        "run",
        "runbook.yaml",
        "--db",
        &db.url(),
        "--yes",
    ]);
    t.run().code(1).stdout_has("the response is not JSON");
}

#[test]
fn http_step_fails_cleanly_when_nothing_listens() {
    // Bind and drop: the port was free a moment ago and nothing listens on it now.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 5);
    let t =
        t.runbook(&http_runbook(&format!("http://127.0.0.1:{port}/health"), "")).args(["run", "runbook.yaml", "--db", &db.url(), "--yes"]);
    let out = t.run();
    out.code(1).stdout_has(&format!("GET http://127.0.0.1:{port}/health"));
    let j = journal(&t.run_dirs("runbook-runs")[0]);
    assert_eq!(finished(&j, "call")["status"], "failed");
}

#[test]
fn secret_canary_never_reaches_output_journal_or_report() {
    const CANARY: &str = "CANARY-7f1e-s3cr3t-d0n0tl34k";
    // The server echoes the Authorization header, as a badly behaved API might.
    let server = Loopback::start(|req, _| {
        let auth = req.header("Authorization").unwrap_or("").to_string();
        (200, serde_json::json!({"status": "ok", "seen_auth": auth}).to_string())
    });
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 5);
    let yaml = format!(
        r#"version: 1
id: secrets
vars:
  api_token:
    secret: true
    description: the PCC API token
plan:
  - id: call
    name: Call the API with the token
    kind: http
    url: {}/users
    headers:
      Authorization: Bearer ${{api_token}}
    expect_json:
      - pointer: /seen_auth
        matches: "^Bearer "
  - id: job
    name: Run a job with the token
    kind: command
    command: ["sh", "-c", "echo token is $PCC_TOKEN; echo token on stderr $PCC_TOKEN >&2"]
    env:
      PCC_TOKEN: ${{api_token}}
  - id: failing-call
    name: A call that fails and echoes the token
    kind: http
    url: {}/users
    headers:
      Authorization: Bearer ${{api_token}}
    expect_json:
      - pointer: /seen_auth
        equals: nothing
"#,
        server.url, server.url
    );
    let t = t.runbook(&yaml).args(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--var", &format!("api_token={CANARY}")]);
    let out = t.run();
    out.code(1);
    out.lacks(CANARY);

    // The token was really used: the server got it, the command saw it. The preflight's HEADs
    // carry none of the step's headers, so not the token either.
    let (probes, reqs): (Vec<_>, Vec<_>) = server.requests().into_iter().partition(|r| r.method == "HEAD");
    assert!(probes.iter().all(|r| r.header("Authorization").is_none()), "the preflight sends no token");
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].header("Authorization"), Some(format!("Bearer {CANARY}").as_str()));

    let run = &t.run_dirs("runbook-runs")[0];
    let j = journal(run);
    let cmd = &events(&j, "command")[0];
    assert!(cmd["stdout"].as_str().unwrap().starts_with("token is "), "{cmd}");
    assert!(cmd["stderr"].as_str().unwrap().starts_with("token on stderr "), "{cmd}");
    assert_eq!(finished(&j, "call")["status"], "passed");
    assert_eq!(finished(&j, "failing-call")["status"], "failed");

    let json = Test::new().args(["report", run.to_str().unwrap(), "--format", "json"]).run();
    json.code(0).lacks(CANARY);
    assert!(files_under(run).len() >= 2, "journal and report were checked");
    crate::support::assert_secret_nowhere(&t, CANARY, &[t.dir.path().to_path_buf()], &[&out, &json]);
}

fn monitor_runbook(checks: &str, duration: &str, interval: &str) -> String {
    format!(
        r#"version: 1
id: monitor-test
plan:
  - id: watch
    name: Watch
    kind: monitor
    duration: {duration}
    interval: {interval}
    checks:
{checks}
  - id: after
    name: After monitoring
    kind: verify
    queries:
      - sql: SELECT 1
        expect: 1
"#
    )
}

/// Wait until the run under `runs` has started step `id`.
fn wait_for_step(runs: &Path, id: &str, limit: Duration) {
    let start = Instant::now();
    let needle = format!("\"step_id\":\"{id}\"");
    while start.elapsed() < limit {
        for f in files_under(runs) {
            if f.file_name().is_some_and(|n| n == "journal.jsonl") {
                let text = std::fs::read_to_string(&f).unwrap_or_default();
                if text.lines().any(|l| l.contains("\"event\":\"step_started\"") && l.contains(&needle)) {
                    return;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("step {id} did not start within {limit:?}");
}

fn spawn(t: &Test) -> std::process::Child {
    let mut c = t.command();
    c.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    c.spawn().expect("spawn runbook")
}

fn finish(child: std::process::Child) -> support::Output {
    let out = child.wait_with_output().unwrap();
    support::Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn monitor_query_breach_fails_at_once_and_the_plan_stops() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 50);
    let checks = "      - name: users without e-mail domain\n        query: SELECT count(*) FROM all_users WHERE email NOT LIKE '%@%'\n        max: 0\n      - name: users\n        query: SELECT count(*) FROM all_users\n        min: 1";
    let t = t.runbook(&monitor_runbook(checks, "30s", "200ms")).args(["run", "runbook.yaml", "--db", &db.url(), "--yes"]);
    let started_at = Instant::now();
    let child = spawn(&t);
    wait_for_step(&t.dir.join("runbook-runs"), "watch", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(700));
    db.exec("INSERT INTO all_users (id, email, name) VALUES (999, 'broken-address', NULL)");
    let out = finish(child);
    let took = started_at.elapsed();
    out.code(1);
    assert!(out.stdout.contains("monitor check `users without e-mail domain` crossed its threshold"), "{}", out.stdout);
    assert!(took < Duration::from_secs(15), "the step fails at the breach, not after 30s: {took:?}");

    let j = journal(&t.run_dirs("runbook-runs")[0]);
    let s = samples(&j, "watch");
    let bad: Vec<_> = s.iter().filter(|x| x["check"] == "users without e-mail domain").collect();
    assert!(bad.len() >= 3, "samples before the breach are recorded too: {bad:?}");
    let last = bad.last().unwrap();
    assert_eq!((last["value"].as_f64(), last["ok"].as_bool(), last["max"].as_f64()), (Some(1.0), Some(false), Some(0.0)));
    assert!(bad[..bad.len() - 1].iter().all(|x| x["ok"] == true && x["value"].as_f64() == Some(0.0)));
    assert!(s.iter().filter(|x| x["check"] == "users").all(|x| x["ok"] == true));
    assert_eq!(finished(&j, "watch")["status"], "failed");
    assert_eq!(started(&j), ["watch"], "the rest of the plan does not run");
    // Without a terminal every sample is a short line.
    assert!(out.stdout.matches("✔ users without e-mail domain: 0").count() >= 2, "{}", out.stdout);
}

#[test]
fn monitor_log_counts_only_lines_written_after_the_step_began() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 5);
    let log = t.dir.join("app.log");
    // Old errors, and a line still being written when the step begins (no newline yet).
    std::fs::write(&log, "ERROR old 1\nERROR old 2\nINFO ok\nERROR old 3\nERROR old line being writ").unwrap();
    let checks =
        format!("      - name: errors in the log\n        log: {}\n        pattern: \"(ERROR|FATAL)\"\n        max: 2", log.display());
    let t = t.runbook(&monitor_runbook(&checks, "2s", "250ms")).args(["run", "runbook.yaml", "--db", &db.url(), "--yes"]);
    let child = spawn(&t);
    wait_for_step(&t.dir.join("runbook-runs"), "watch", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    {
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(b"ten\nINFO new 1\nERROR new 1\nINFO new 2\n").unwrap();
        f.flush().unwrap();
    }
    std::thread::sleep(Duration::from_millis(400));
    std::fs::OpenOptions::new().append(true).open(&log).unwrap().write_all(b"FATAL new 2\n").unwrap();
    let out = finish(child);
    out.code(0);

    let j = journal(&t.run_dirs("runbook-runs")[0]);
    let s = samples(&j, "watch");
    assert_eq!(s[0]["value"].as_f64(), Some(0.0), "nothing written before the step counts: {:?}", s[0]);
    let last = s.last().unwrap();
    assert_eq!(last["value"].as_f64(), Some(2.0), "the two new error lines, not the old ones: {s:?}");
    assert_eq!(last["detail"], "4 new line(s) since the step began");
    assert!(last["elapsed_ms"].as_u64().unwrap() >= 1900, "the last sample is taken at the end of the duration: {last}");
    assert!(s.len() >= 8, "a sample every 250ms for 2s: {}", s.len());
    assert_eq!(started(&j), ["watch", "after"]);
    assert!(out.stdout.contains("errors in the log: 2"), "{}", out.stdout);
}

#[test]
fn monitor_log_file_that_does_not_exist_is_refused_before_step_1() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 5);
    let missing = t.dir.join("logs/app.log");
    let checks = format!("      - name: errors in the log\n        log: {}\n        pattern: ERROR\n        max: 0", missing.display());
    let t = t.runbook(&monitor_runbook(&checks, "10m", "30s")).args(["run", "runbook.yaml", "--db", &db.url(), "--yes"]);
    let out = t.run();
    // Found by the preflight of the run's inputs: nothing starts, not even a run folder.
    out.code(2).stderr_has("step 1 `watch`: monitor check `errors in the log` reads").stderr_has(&missing.display().to_string());
    assert!(t.run_dirs("runbook-runs").is_empty());
}

#[test]
fn monitor_follows_a_rotated_log() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 5);
    let log = t.dir.join("app.log");
    std::fs::write(&log, "INFO start\n").unwrap();
    let checks = format!("      - name: errors in the log\n        log: {}\n        pattern: ERROR\n        max: 5", log.display());
    let t = t.runbook(&monitor_runbook(&checks, "2s", "200ms")).args(["run", "runbook.yaml", "--db", &db.url(), "--yes"]);
    let child = spawn(&t);
    wait_for_step(&t.dir.join("runbook-runs"), "watch", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    std::fs::OpenOptions::new().append(true).open(&log).unwrap().write_all(b"ERROR before rotation\n").unwrap();
    // Rotate: rename, then a new file, written at once (before the next sample can see the rename).
    std::fs::rename(&log, t.dir.join("app.log.1")).unwrap();
    std::fs::write(&log, "ERROR after rotation 1\nERROR after rotation 2\n").unwrap();
    let out = finish(child);
    out.code(0);
    let j = journal(&t.run_dirs("runbook-runs")[0]);
    let last = samples(&j, "watch").last().cloned().cloned().unwrap();
    assert_eq!(last["value"].as_f64(), Some(3.0), "one line in the old file, two in the new: {last}");
}

#[test]
fn monitor_http_check_fails_when_the_status_changes() {
    let server = Loopback::start(|_, n| if n < 3 { (200, "{}".into()) } else { (500, "{}".into()) });
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 5);
    let checks = format!("      - name: API health\n        http: {}/health", server.url);
    let t = t.runbook(&monitor_runbook(&checks, "20s", "200ms")).args(["run", "runbook.yaml", "--db", &db.url(), "--yes"]);
    t.run().code(1).stdout_has("monitor check `API health` crossed its threshold");
    let j = journal(&t.run_dirs("runbook-runs")[0]);
    let s = samples(&j, "watch");
    let values: Vec<f64> = s.iter().map(|x| x["value"].as_f64().unwrap()).collect();
    assert_eq!(values, [200.0, 200.0, 200.0, 500.0]);
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn monitor_shows_a_progress_bar_with_time_left_on_a_terminal() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 5);
    let checks = "      - name: users\n        query: SELECT count(*) FROM all_users\n        min: 1";
    let t = t.runbook(&monitor_runbook(checks, "3s", "1s")).args(["run", "runbook.yaml", "--db", &db.url(), "--yes"]);
    // Colour allowed: under NO_COLOR (the tests' default) the bar is plain lines instead.
    let mut c = t.command();
    c.env_remove("NO_COLOR").env("TERM", "xterm");
    let mut p = expectrl::Session::spawn(c).expect("spawn under a terminal");
    p.set_expect_timeout(Some(Duration::from_secs(30)));
    p.expect("left of 3.0s").expect("a bar with the time left");
    p.expect("4 sample(s) over 3.0s, all within thresholds").expect("a summary when the bar is gone");
    p.expect("succeeded").expect("the run ends");
    let j = journal(&t.run_dirs("runbook-runs")[0]);
    assert_eq!(samples(&j, "watch").len(), 4, "samples at 0, 1, 2 and 3 s");
}

/// Regression: an HTTP step against a closed port said the *database* connection was lost and
/// to resume once it is back, and hid the cause behind "error sending request".
#[test]
fn http_connection_refused_names_its_cause_not_the_database() {
    let t =
        Test::new().runbook("version: 1\nid: h\nplan:\n  - id: call\n    name: Call\n    kind: http\n    url: http://127.0.0.1:1/health\n");
    let db = SqliteFile::users(t.dir.path(), 1);
    let out = t.exec(["run", "runbook.yaml", "--db", &db.url(), "--yes", "--runs-dir", "runs"]);
    out.code(1).stdout_has("Connection refused").lacks("database server");
}
