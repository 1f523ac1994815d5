//! The audit trail: the journal's hash chain (`audit verify`), the report formats, the escaping
//! of everything the operator types, and that no secret reaches the run folder.

use std::path::{Path, PathBuf};

use crate::support::{files_under, journal, Output, SqliteFile, Test};

/// A small runbook with one step of most kinds, so its journal has every common event.
const SMALL: &str = r#"
version: 1
id: audit-small
title: Add pcc_user_uuid Column to all_users Table
ticket:
  id: 1
  subject: Add pcc_user_uuid Column to all_users Table for PCC Integration
  system: ddxrx.com
  risk: Low
plan:
  - id: backup
    name: Backup Database
    kind: backup
  - id: add-column
    name: Add New Column
    kind: sql
    sql: ALTER TABLE all_users ADD COLUMN pcc_user_uuid VARCHAR(36) NULL;
  - id: verify-column
    name: Verify Column Addition
    kind: verify
    schema:
      - table: all_users
        column: pcc_user_uuid
  - id: update-app
    name: Update Application Logic
    kind: manual
    checklist: ["The application writes pcc_user_uuid"]
  - id: monitor
    name: Post-Deployment Monitoring
    kind: monitor
    duration: 600ms
    interval: 200ms
    checks:
      - name: malformed pcc_user_uuid values
        query: SELECT count(*) FROM all_users WHERE pcc_user_uuid IS NOT NULL AND length(pcc_user_uuid) <> 36
        max: 0
  - id: deployment
    name: Deployment
    kind: manual
    checklist: ["The release is deployed"]
"#;

/// Run `SMALL` with `--yes` (extra args appended) and return the test and its run folder.
fn small_run(extra: &[&str]) -> (Test, PathBuf) {
    let t = Test::new().runbook(SMALL);
    let db = SqliteFile::users(t.dir.path(), 50);
    let url = db.url();
    let mut args = vec!["run", "runbook.yaml", "--db", &url, "--yes"];
    args.extend_from_slice(extra);
    let out = rb(&t, &args);
    out.code(0);
    let dirs = t.run_dirs("runbook-runs");
    assert_eq!(dirs.len(), 1, "one run folder");
    let dir = dirs[0].clone();
    (t, dir)
}

/// Run the binary in `t`'s folder with `args` (the builder's own args stay empty).
fn rb(t: &Test, args: &[&str]) -> Output {
    rb_env(t, args, &[])
}

fn rb_env(t: &Test, args: &[&str], env: &[(&str, &str)]) -> Output {
    t.exec_env(args, env)
}

fn verify(t: &Test, dir: &Path, seal: Option<&str>) -> Output {
    let d = dir.display().to_string();
    let mut args = vec!["audit", "verify", &d];
    if let Some(s) = seal {
        args.extend(["--seal", s]);
    }
    rb(t, &args)
}

fn seal_of(dir: &Path) -> String {
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    json["seal"].as_str().unwrap().to_string()
}

fn lines_of(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("journal.jsonl")).unwrap().lines().map(String::from).collect()
}

fn write_lines(dir: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(dir.join("journal.jsonl"), text).unwrap();
}

#[test]
fn intact_journal_verifies_and_matches_the_reports_seal() {
    let (t, dir) = small_run(&[]);
    let seal = seal_of(&dir);
    let n = lines_of(&dir).len();
    verify(&t, &dir, None).code(0).stdout_has(&format!("journal intact: {n} lines, seal {seal}"));
    verify(&t, &dir, Some(&seal)).code(0).stdout_has("ends with the report's seal");
    // Every report in the run folder carries the same seal.
    for f in ["report.md", "report.html", "report.json"] {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        assert!(text.contains(&seal), "{f} lacks the seal");
    }
    for format in ["markdown", "textile", "html", "json"] {
        let out = rb(&t, &["report", &dir.display().to_string(), "--format", format]);
        out.code(0).stdout_has(&seal);
    }
}

/// Regression: `-o /dev/stdout` into a pipe, or `-o /dev/null`, failed with "Invalid argument"
/// because the report was fsync'd, which pipes and devices do not support.
#[test]
fn report_output_to_a_pipe_or_device_is_written_without_fsync_errors() {
    let (t, dir) = small_run(&[]);
    let d = dir.display().to_string();
    rb(&t, &["report", &d, "-o", "/dev/null"]).code(0);
    let out = rb(&t, &["report", &d, "-o", "/dev/stdout"]);
    out.code(0).stdout_has("# Runbook report:");
    rb(&t, &["report", &d, "-o", "copy.md"]).code(0);
    assert!(std::fs::read_to_string(t.dir.join("copy.md")).unwrap().starts_with("# Runbook report:"));
}

#[test]
fn a_flipped_byte_anywhere_in_the_journal_is_caught_and_located() {
    let (t, dir) = small_run(&[]);
    let original = std::fs::read(dir.join("journal.jsonl")).unwrap();
    let seal = seal_of(&dir);
    // Line number (1-based) of every byte; a newline belongs to the line it ends.
    let mut line_of = Vec::with_capacity(original.len());
    let mut line = 1;
    for b in &original {
        line_of.push(line);
        if *b == b'\n' {
            line += 1;
        }
    }
    let last_line = line - 1;
    assert!(last_line > 20, "a real run's journal has many lines");

    // Every byte position, through the library's verifier (the binary's own code path).
    let started = std::time::Instant::now();
    let mut missed = Vec::new();
    let mut misplaced = Vec::new();
    for pos in 0..original.len() {
        let mut bytes = original.clone();
        bytes[pos] ^= 0x01;
        match runbook::journal::verify::verify_bytes(&bytes, Some(&seal)) {
            runbook::journal::verify::Verdict::Broken { line, .. } => {
                if line != line_of[pos] {
                    misplaced.push((pos, line_of[pos], line));
                }
            }
            other => missed.push((pos, other)),
        }
    }
    assert!(missed.is_empty(), "{} flipped byte(s) not caught, first: {:?}", missed.len(), missed.first());
    assert!(
        misplaced.is_empty(),
        "{} flip(s) blamed on the wrong line (pos, flipped, named): {:?}",
        misplaced.len(),
        &misplaced[..misplaced.len().min(5)]
    );
    eprintln!("{} byte flips checked in {:?}", original.len(), started.elapsed());

    // A sample through the real binary: first and last line densely, the rest sparsely.
    let first_end = original.iter().position(|b| *b == b'\n').unwrap();
    let last_start = original[..original.len() - 1].iter().rposition(|b| *b == b'\n').unwrap() + 1;
    let mut sample: Vec<usize> = (0..=first_end).step_by(37).collect();
    sample.extend((first_end..last_start).step_by(original.len() / 25));
    sample.extend((last_start..original.len()).step_by(29));
    sample.push(original.len() - 1); // the final newline
    for pos in sample {
        let mut bytes = original.clone();
        bytes[pos] ^= 0x01;
        std::fs::write(dir.join("journal.jsonl"), &bytes).unwrap();
        let out = verify(&t, &dir, Some(&seal));
        out.code(1).stdout_has(&format!("journal broken at line {}", line_of[pos]));
    }
    std::fs::write(dir.join("journal.jsonl"), &original).unwrap();
    verify(&t, &dir, Some(&seal)).code(0);
}

#[test]
fn a_removed_line_is_named() {
    let (t, dir) = small_run(&[]);
    let mut lines = lines_of(&dir);
    lines.remove(9); // line 10
    write_lines(&dir, &lines);
    verify(&t, &dir, None).code(1).stdout_has("journal broken at line 10: 1 line(s) were removed just before line 10");

    let (t, dir) = small_run(&[]);
    let mut lines = lines_of(&dir);
    lines.remove(0);
    write_lines(&dir, &lines);
    verify(&t, &dir, None).code(1).stdout_has("journal broken at line 1: 1 line(s) were removed");
}

#[test]
fn an_inserted_line_is_named_even_when_its_hash_is_forged() {
    let (t, dir) = small_run(&[]);
    let lines = lines_of(&dir);
    // A copy of line 7 slipped in after it: it chains correctly, the line after it no longer does.
    let mut forged = lines.clone();
    forged.insert(7, lines[6].clone());
    write_lines(&dir, &forged);
    verify(&t, &dir, None).code(1).stdout_has("journal broken at line 7: line 7 was inserted");

    // A made-up note inserted as line 12, with a correct `prev` and the next sequence number.
    let mut forged = lines.clone();
    let mut note: serde_json::Value = serde_json::from_str(&lines[10]).unwrap();
    let prev_hash = runbook::journal::line_hash(&lines[10]);
    note = serde_json::json!({"seq": note["seq"].as_u64().unwrap() + 1, "ts": note["ts"], "prev": prev_hash,
        "event": "note", "step_id": "update-app", "by": "mallory", "text": "all fine"});
    forged.insert(11, note.to_string());
    write_lines(&dir, &forged);
    verify(&t, &dir, None).code(1).stdout_has("journal broken at line 12: line 12 was inserted");
}

#[test]
fn a_changed_line_is_named() {
    let (t, dir) = small_run(&[]);
    let mut lines = lines_of(&dir);
    let i = lines.iter().position(|l| l.contains("\"event\":\"statement\"")).unwrap();
    lines[i] = lines[i].replace("\"rows_affected\":null", "\"rows_affected\":7");
    assert_ne!(lines[i], lines_of(&dir)[i], "the statement line was edited");
    write_lines(&dir, &lines);
    verify(&t, &dir, None).code(1).stdout_has(&format!("journal broken at line {}: line {} was changed", i + 1, i + 1));
    // The report of a broken journal says so.
    let out = rb(&t, &["report", &dir.display().to_string(), "--format", "json"]);
    out.code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["chain"]["status"], "broken");
    assert_eq!(v["chain"]["line"], i + 1);
}

#[test]
fn a_torn_last_line_is_reported_as_torn_not_tampering() {
    let (t, dir) = small_run(&[]);
    let lines = lines_of(&dir);
    let n = lines.len();
    let seal_before = runbook::journal::line_hash(&lines[n - 2]);
    // The last line cut off at several points, as a killed process leaves it.
    for cut in [1usize, 10, 90, lines[n - 1].len() - 1, lines[n - 1].len()] {
        let mut text = lines[..n - 1].join("\n");
        text.push('\n');
        text.push_str(&lines[n - 1][..cut]);
        std::fs::write(dir.join("journal.jsonl"), &text).unwrap();
        verify(&t, &dir, None)
            .code(0)
            .stdout_has(&format!("journal intact up to line {}; line {n} is torn", n - 1))
            .stdout_has(&seal_before);
    }
    // Something that is not the start of the next line is not a torn write.
    let mut text = lines.join("\n");
    text.push_str("\n{\"seq\":999,");
    std::fs::write(dir.join("journal.jsonl"), &text).unwrap();
    verify(&t, &dir, None).code(1).stdout_has(&format!("journal broken at line {}", n + 1));
}

#[test]
fn a_changed_last_line_is_caught_by_the_seal() {
    let (t, dir) = small_run(&[]);
    let seal = seal_of(&dir);
    let mut lines = lines_of(&dir);
    let n = lines.len();
    assert!(lines[n - 1].contains("\"event\":\"run_finished\""), "the last line ends the run: {}", lines[n - 1]);
    lines[n - 1] = lines[n - 1].replace("\"outcome\":\"succeeded\"", "\"outcome\":\"failed\"");
    write_lines(&dir, &lines);
    // Without the seal the chain itself cannot tell: the last line has no successor.
    verify(&t, &dir, None).code(0);
    verify(&t, &dir, Some(&seal))
        .code(1)
        .stdout_has(&format!("journal broken at line {n}: the journal does not end with the report's seal"));

    // Lines appended after the report was made are named too.
    let mut more = lines_of(&dir);
    more.pop();
    write_lines(&dir, &more);
    let (t2, dir2) = small_run(&[]);
    let seal2 = seal_of(&dir2);
    let mut lines2 = lines_of(&dir2);
    let last = lines2.last().unwrap().clone();
    let v: serde_json::Value = serde_json::from_str(&last).unwrap();
    let extra = serde_json::json!({"seq": v["seq"].as_u64().unwrap() + 1, "ts": v["ts"], "prev": runbook::journal::line_hash(&last),
        "event": "info", "step_id": null, "message": "appended later"});
    lines2.push(extra.to_string());
    write_lines(&dir2, &lines2);
    verify(&t2, &dir2, Some(&seal2)).code(1).stdout_has("were added after the report was made");
    verify(&t2, &dir2, Some("xyz")).code(2).stderr_has("a seal is 64 hexadecimal digits");
}

#[test]
fn html_report_is_self_contained_and_escapes_what_the_operator_typed() {
    let (t, dir) = small_run(&["--skip", "deployment=<script>alert('skip')</script> not today"]);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(!html.to_lowercase().contains("<script"), "a raw script tag in the HTML report");
    assert!(html.contains("&lt;script&gt;alert('skip')&lt;/script&gt; not today"), "the skip reason is shown, escaped");
    assert!(html.contains("Content-Security-Policy"), "the page forbids scripts and fetches");
    for needle in ["src=\"http", "href=\"http", "@import", "url(http", "<link"] {
        assert!(!html.contains(needle), "the page fetches something: {needle}");
    }
    assert!(html.contains("@media print"), "print CSS");
    assert!(html.contains("aria-label=\"Timeline of the steps\""), "a timeline");
    assert!(html.contains("aria-label=\"Samples of malformed pcc_user_uuid values\""), "a monitor chart");
    assert!(html.contains("stroke-dasharray"), "the threshold line");
    // One bar per step that ran: every step is in the timeline.
    assert!(html.matches("<rect x=").count() >= 6);
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(!md.contains("<script"), "Markdown shows the tag as text");
    let textile = rb(&t, &["report", &dir.display().to_string(), "--format", "textile"]);
    textile.code(0).lacks("<script");
}

#[test]
fn an_operator_note_typed_at_the_prompt_stays_inert_in_every_report() {
    use expectrl::{Eof, Session};
    let t = Test::new().runbook(
        r#"
version: 1
id: note-test
title: Operator note
plan:
  - id: update-app
    name: Update Application Logic
    kind: manual
    checklist: ["The application writes pcc_user_uuid"]
"#,
    );
    let db = SqliteFile::users(t.dir.path(), 5);
    let mut cmd = t.command();
    cmd.args(["run", "runbook.yaml", "--db", &db.url(), "--operator", "alice"]);
    cmd.env("TERM", "xterm");
    let mut s = Session::spawn(cmd).expect("spawn in a pseudo-terminal");
    s.set_expect_timeout(Some(std::time::Duration::from_secs(20)));
    s.expect("r run · s skip · a abort").expect("step prompt");
    s.send("\r").unwrap();
    s.expect("Done: The application writes pcc_user_uuid?").expect("checklist prompt");
    s.send("y").unwrap();
    s.expect("Note for the record").expect("note prompt");
    s.send("<script>alert('note')</script> & <b>checked</b> by QA\r").unwrap();
    s.expect(Eof).expect("the run ends");
    let dirs = t.run_dirs("runbook-runs");
    assert_eq!(dirs.len(), 1);
    let j = journal(&dirs[0]);
    let note = crate::support::events(&j, "note");
    assert_eq!(note.len(), 1, "the note is in the journal");
    assert_eq!(note[0]["text"], "<script>alert('note')</script> & <b>checked</b> by QA");
    assert_eq!(note[0]["by"], "alice");

    let html = std::fs::read_to_string(dirs[0].join("report.html")).unwrap();
    assert!(html.contains("&lt;script&gt;alert('note')&lt;/script&gt; &amp; &lt;b&gt;checked&lt;/b&gt; by QA"));
    assert!(!html.to_lowercase().contains("<script"));
    assert!(!html.contains("<b>checked"));
    let md = std::fs::read_to_string(dirs[0].join("report.md")).unwrap();
    assert!(md.contains("&lt;script&gt;"), "Markdown escapes the tag: {md}");
    let textile = rb(&t, &["report", &dirs[0].display().to_string(), "--format", "textile"]);
    textile.code(0).lacks("<script").lacks("<b>");
    let json = std::fs::read_to_string(dirs[0].join("report.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ev = &v["steps"][0]["evidence"];
    assert!(ev
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "note" && e["text"] == "<script>alert('note')</script> & <b>checked</b> by QA"));
}

#[test]
fn json_report_follows_the_committed_schema() {
    let generated = runbook::report::json::schema();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/report.schema.json");
    if std::env::var("RUNBOOK_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/report.schema.json differs from the schema generated from the report types; regenerate it with RUNBOOK_BLESS=1 cargo test --test integration json_report_follows"
    );
    // The report itself has every required property of the schema, and nothing it does not describe.
    let (_t, dir) = small_run(&[]);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&generated).unwrap();
    let props = schema["properties"].as_object().unwrap();
    for key in report.as_object().unwrap().keys() {
        assert!(props.contains_key(key), "report field `{key}` is not in the schema");
    }
    for req in schema["required"].as_array().unwrap() {
        assert!(report.get(req.as_str().unwrap()).is_some(), "required field {req} missing");
    }
    assert_eq!(report["report_format_version"], 1);
    assert_eq!(report["outcome"], "succeeded");
    assert_eq!(report["chain"]["status"], "intact");
    assert_eq!(report["steps"].as_array().unwrap().len(), 6);
    let samples = report["steps"][4]["evidence"].as_array().unwrap().iter().filter(|e| e["type"] == "sample").count();
    assert!(samples >= 3, "monitor samples are in the JSON report");
}

/// A loopback HTTP server that answers every request with the request's own headers and URL:
/// the worst case for redaction, since the secret comes back in the body.
fn echo_server() -> (String, std::thread::JoinHandle<()>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    let handle = std::thread::spawn(move || {
        for n in 0..2 {
            // The first request may wait for a slow build; a second one comes at once or never.
            let wait = std::time::Duration::from_secs(if n == 0 { 30 } else { 3 });
            let Ok(Some(req)) = server.recv_timeout(wait) else { return };
            let headers: Vec<String> = req.headers().iter().map(|h| format!("{}: {}", h.field, h.value)).collect();
            let body = serde_json::json!({"url": req.url(), "headers": headers, "ok": true}).to_string();
            let _ = req.respond(tiny_http::Response::from_string(body));
        }
    });
    (url, handle)
}

const CANARY: &str = "Canary-7f3e9a-s3cr3t";

fn assert_no_canary(t: &Test, dir: &Path) {
    let files = files_under(dir);
    assert!(files.len() >= 4, "a journal and three reports: {files:?}");
    // Every file and every report, in every form the secret could take (encoded, escaped, cut).
    let mut reports = Vec::new();
    for format in ["markdown", "textile", "html", "json"] {
        let out = rb(t, &["report", &dir.display().to_string(), "--format", format]);
        out.code(0);
        reports.push(out.all());
    }
    crate::support::assert_no_leak(CANARY, dir, &reports);
}

#[test]
fn no_secret_reaches_the_run_folder_or_any_report() {
    let (url, server) = echo_server();
    let t = Test::new().runbook(&format!(
        r#"
version: 1
id: canary
title: Secrets stay out
vars:
  token:
    secret: true
    env: CANARY_TOKEN
plan:
  - id: call-api
    name: Call the API with the token
    kind: http
    url: {url}/users?api_key=${{token}}
    headers:
      Authorization: Bearer ${{token}}
  - id: echo
    name: A command that prints the token
    kind: command
    shell: true
    command: echo "token is ${{token}}"; echo "again ${{token}}" >&2
  - id: note
    name: Backup Database
    kind: backup
  - id: fail-with-token
    name: A statement whose error shows the token
    kind: sql
    sql: SELECT * FROM "${{token}}"
"#
    ));
    let db = SqliteFile::users(t.dir.path(), 5);
    let out = rb_env(&t, &["run", "runbook.yaml", "--db", &db.url(), "--yes"], &[("CANARY_TOKEN", CANARY)]);
    out.code(1).lacks(CANARY);
    server.join().unwrap();
    let dir = t.run_dirs("runbook-runs").pop().unwrap();
    let j = journal(&dir);
    let http = crate::support::events(&j, "http");
    assert_eq!(http.len(), 1, "the request was made");
    assert!(http[0]["body_excerpt"].as_str().unwrap().contains("********"), "the echoed secret is masked: {}", http[0]);
    assert_no_canary(&t, &dir);
}

#[test]
fn no_url_password_reaches_the_run_folder_or_any_report() {
    // Characters that must be percent-encoded in a URL: the password is typed encoded, and
    // that form is echoed back by anything that prints the URL.
    url_password_canary("userinfo", |u| u.set_password(Some(&format!("{CANARY}@!#/"))).unwrap());
}

/// Regression: `?password=` is a password too (sqlx accepts it), and was printed in full.
#[test]
fn no_query_string_password_reaches_the_run_folder_or_any_report() {
    url_password_canary("query", |u| {
        u.query_pairs_mut().append_pair("password", CANARY);
    });
}

fn url_password_canary(tag: &str, put_password: impl Fn(&mut url::Url)) {
    // A database of its own: two canaries at once must not meet at the run lock.
    let Some(db) = crate::support::servers::ServerDb::postgres() else { return };
    // Trust authentication ignores the password, so the canary can ride in the URL.
    let mut u = url::Url::parse(&db.url()).unwrap();
    put_password(&mut u);
    assert!(u.as_str().contains("Canary-7f3e9a"), "the canary is in the URL: {u}");
    let table = format!("canary_{tag}");
    let t = Test::new().runbook(&format!(
        r#"
version: 1
id: canary-pg
title: URL password stays out
plan:
  - id: backup
    name: Backup through pg_dump
    kind: backup
  - id: make
    name: Create a table
    kind: sql
    sql: CREATE TABLE {table} (id int)
  - id: check
    name: A command that prints the database URL
    kind: command
    shell: true
    command: echo "${{db_url}}"
rollback:
  - id: drop
    name: Drop it
    kind: sql
    sql: DROP TABLE {table}
"#
    ));
    let out = rb(&t, &["run", "runbook.yaml", "--db", u.as_str(), "--yes", "--allow-no-backup"]);
    if out.stderr.contains("not supported by this build") {
        crate::support::skip("this build has no PostgreSQL target yet");
        return;
    }
    rb(&t, &["rollback", "runbook.yaml", "--db", u.as_str(), "--yes", "--allow-no-backup"]);
    out.code(0).lacks(CANARY);
    for dir in t.run_dirs("runbook-runs") {
        assert_no_canary(&t, &dir);
    }
}

#[test]
fn report_of_a_journal_with_a_garbled_line_shows_what_precedes_it_and_the_break() {
    let (t, dir) = small_run(&[]);
    let mut lines = lines_of(&dir);
    lines[5] = "this line was overwritten".into();
    write_lines(&dir, &lines);
    let out = t.exec(["report", &dir.display().to_string(), "--format", "json"]);
    out.code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["chain"]["status"], "broken");
    assert_eq!(v["chain"]["line"], 6);
    assert!(v["outcome"].is_null(), "nothing after the damage is reported");
    verify(&t, &dir, None).code(1);
}
