//! `runbook demo` end to end, and its stand-ins, with nothing but the binary.

use sha2::{Digest, Sha256};

use crate::support::{events, journal, SqliteFile, Test, SEED_PLAN_STEPS, SEED_ROLLBACK_STEPS};

/// The PCC UUID the PCC API stand-in gives a user (see src/demo/data.rs).
fn expected_pcc_uuid(email: &str) -> String {
    let d = Sha256::digest(format!("pcc-demo:{}", email.to_lowercase()).as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid().to_string()
}

#[test]
fn demo_runs_the_plan_and_the_rollback_end_to_end() {
    let t = Test::new().args(["demo", "--dir", "d", "--with-rollback", "--users", "400"]);
    let out = t.run();
    out.code(0)
        .stdout_has("demo stand-in: PCC API started at http://127.0.0.1:")
        .stdout_has("demo stand-in: PCC sync job (not the real application)")
        .stdout_has("linked 300 local user(s) by e-mail")
        .stdout_has("300 of 400 users got a pcc_user_uuid");

    let runs = t.run_dirs("d/runs");
    assert_eq!(runs.len(), 1, "one run holds the change plan and the rollback plan");
    let run = &runs[0];
    let report_path = run.join("report.md");
    assert!(
        out.stdout.contains(&format!("report: {}", std::fs::canonicalize(&report_path).unwrap().display())),
        "the report path is printed"
    );

    // Every step passed, with evidence, in the one report: 8 + 6 = the ticket's 14 steps.
    let ids: Vec<&str> = SEED_PLAN_STEPS.iter().chain(SEED_ROLLBACK_STEPS.iter()).copied().collect();
    let j = journal(run);
    let finished: Vec<(&str, &str)> =
        events(&j, "step_finished").iter().map(|e| (e["step_id"].as_str().unwrap(), e["status"].as_str().unwrap())).collect();
    assert_eq!(finished, ids.iter().map(|id| (*id, "passed")).collect::<Vec<_>>());
    let report = std::fs::read_to_string(&report_path).unwrap();
    assert!(report.contains("**Outcome: succeeded**"));
    for (i, id) in ids.iter().enumerate() {
        let head = format!("### {}. ", i + 1);
        let section = report.split(&head).nth(1).unwrap_or_else(|| panic!("no evidence section for step {id}"));
        let section = section.split("\n### ").next().unwrap();
        assert!(section.contains(&format!("(`{id}`")), "{section}");
        let evidence_lines = section.lines().filter(|l| l.starts_with("- ") || l.starts_with("```")).count();
        assert!(evidence_lines >= 2, "step {id} has evidence beyond its decision: {section}");
    }
    assert_eq!(report.matches("| rollback: ").count(), 6, "the summary marks the 6 rollback steps");
    assert_eq!(Test::new().args(["audit", "verify", run.to_str().unwrap()]).run().code, 0);
    let (plan, rollback) = (run, run);

    // The data sync really moved data during the plan: the sync assertions and the
    // rollback's backup (taken just before the column was dropped) show the synced values.
    let j = journal(plan);
    let populated =
        events(&j, "assertion").into_iter().find(|a| a["check"] == "pcc_user_uuid is populated for synced users").cloned().unwrap();
    assert_eq!(populated["actual"], "300");
    let samples = events(&j, "sample");
    assert!(samples.len() >= 12, "3 checks sampled at 0, 1, 2, 3 s: {}", samples.len());
    let backup = events(&journal(rollback), "backup")[1]["backup"]["path"].as_str().unwrap().to_string();
    let synced = SqliteFile { path: backup.into() };
    assert_eq!(synced.scalar("SELECT count(pcc_user_uuid) FROM all_users"), "300");
    assert_eq!(synced.scalar("SELECT count(*) FROM all_users WHERE id % 4 = 0 AND pcc_user_uuid IS NOT NULL"), "0");
    for id in [1, 2, 3, 5, 11, 399] {
        let email = synced.scalar(&format!("SELECT email FROM all_users WHERE id = {id}"));
        assert_eq!(synced.scalar(&format!("SELECT pcc_user_uuid FROM all_users WHERE id = {id}")), expected_pcc_uuid(&email), "user {id}");
    }

    // After the rollback the column and its index are gone and the original data is intact.
    let db = SqliteFile { path: t.dir.join("d/ddxrx.db") };
    assert!(!db.has_column("all_users", "pcc_user_uuid"));
    assert!(!db.has_index("ux_all_users_pcc_user_uuid"));
    let first_backup = SqliteFile { path: events(&j, "backup")[0]["backup"]["path"].as_str().unwrap().into() };
    let q = "SELECT count(*), count(name), sum(length(email)), group_concat(name, '|') FROM (SELECT * FROM all_users ORDER BY id)";
    assert_eq!(db.rows(q), first_backup.rows(q));
    assert_eq!(db.scalar("SELECT count(*) FROM all_users"), "400");
    assert!(db.scalar("SELECT count(*) FROM all_users WHERE name IS NULL").parse::<u32>().unwrap() > 0, "some users have no name");
    assert!(db.scalar("SELECT count(*) FROM all_users WHERE name GLOB '*[^ -~]*'").parse::<u32>().unwrap() > 0, "some names are not ASCII");

    // The application log shows both stand-ins at work.
    let log = std::fs::read_to_string(t.dir.join("d/ddxrx-app.log")).unwrap();
    assert!(log.contains("pcc-api (demo stand-in): GET /demo-pcc/v1/users?page=1"));
    assert!(log.contains("pcc-sync (demo stand-in): sync finished"));
    assert!(!log.contains("ERROR"));
}

#[test]
fn demo_refuses_a_folder_that_is_not_empty() {
    let t = Test::new();
    t.dir.write("keep.txt", "mine");
    let t = t.args(["demo", "--dir", "."]);
    t.run().code(2).stderr_has("is not empty");
    assert_eq!(std::fs::read_dir(t.dir.path()).unwrap().count(), 1, "nothing was created");
}

#[test]
fn demo_interactive_needs_a_terminal() {
    let t = Test::new().args(["demo", "--dir", "d", "--interactive"]);
    t.run().code(2).stderr_has("--interactive needs a terminal");
    assert!(!t.dir.join("d").exists());
}

#[test]
fn demo_sync_job_fails_and_logs_an_error_when_the_api_is_down() {
    let t = Test::new();
    let db = SqliteFile::users(t.dir.path(), 10);
    db.exec("ALTER TABLE all_users ADD COLUMN pcc_user_uuid VARCHAR(36)");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let t = t.args([
        "demo-stand-in",
        "sync-job",
        "--db",
        db.path.to_str().unwrap(),
        "--api",
        &format!("http://127.0.0.1:{port}"),
        "--log",
        "app.log",
    ]);
    t.run().code(1).stdout_has("demo stand-in: PCC sync job");
    let log = std::fs::read_to_string(t.dir.join("app.log")).unwrap();
    assert!(log.contains("ERROR pcc-sync (demo stand-in): sync failed"), "{log}");
    assert_eq!(db.scalar("SELECT count(pcc_user_uuid) FROM all_users"), "0");
}

#[test]
fn demo_make_db_creates_a_realistic_users_table() {
    let t = Test::new().args(["demo-stand-in", "make-db", "--out", "users.db", "--users", "2000"]);
    t.run().code(0).stdout_has("with 2000 users");
    let db = SqliteFile { path: t.dir.join("users.db") };
    assert_eq!(db.scalar("SELECT count(*) FROM all_users"), "2000");
    assert_eq!(db.scalar("SELECT count(DISTINCT email) FROM all_users"), "2000");
    let nulls: u32 = db.scalar("SELECT count(*) FROM all_users WHERE name IS NULL").parse().unwrap();
    assert!((50..400).contains(&nulls), "{nulls} users without a name");
    assert!(db.scalar("SELECT count(*) FROM all_users WHERE facility IS NULL") != "0");
    assert!(db.scalar("SELECT count(*) FROM all_users WHERE name LIKE '%Zoë%' OR name LIKE '%李%'") != "0");
    // The same data on every machine.
    let again = Test::new().args(["demo-stand-in", "make-db", "--out", "users.db", "--users", "2000"]);
    again.run().code(0);
    let other = SqliteFile { path: again.dir.join("users.db") };
    let q = "SELECT group_concat(email || coalesce(name, '-'), ',') FROM (SELECT * FROM all_users ORDER BY id)";
    assert_eq!(db.scalar(q), other.scalar(q));
}

#[test]
fn demo_interactive_asks_at_every_step_on_a_terminal() {
    use expectrl::{Eof, Session, WaitStatus};
    let t = Test::new().args(["demo", "--dir", "d", "--interactive", "--users", "60"]);
    let mut c = t.command();
    c.env("TERM", "xterm").env("COLUMNS", "120");
    let mut s = Session::spawn(c).expect("spawn in a pty");
    s.set_expect_timeout(Some(std::time::Duration::from_secs(30)));
    let checklists = [(4, 3), (7, 2)];
    for step in 1..=8 {
        s.expect(format!("Step {step}/8 ·").as_str()).unwrap();
        s.expect("r run · s skip · a abort").unwrap();
        s.send("\r").unwrap();
        if let Some((_, items)) = checklists.iter().find(|(n, _)| *n == step) {
            for _ in 0..*items {
                s.expect("Done: ").unwrap();
                s.send("y").unwrap();
            }
            s.expect("Note for the record").unwrap();
            s.send("\r").unwrap();
        }
    }
    s.expect("Demo finished").unwrap();
    let _ = s.expect(Eof);
    match s.get_process().wait().expect("wait") {
        WaitStatus::Exited(_, code) => assert_eq!(code, 0),
        other => panic!("unexpected end: {other:?}"),
    }
    let runs = t.run_dirs("d/runs");
    assert_eq!(runs.len(), 1, "no rollback without --with-rollback");
    let j = journal(&runs[0]);
    let decisions = events(&j, "step_decision");
    assert_eq!(decisions.len(), 8);
    assert!(decisions.iter().all(|d| d["how"] == "interactive" && d["decision"] == "run"));
    assert_eq!(events(&j, "checklist_item").len(), 5);
    let db = SqliteFile { path: t.dir.join("d/ddxrx.db") };
    assert!(db.has_column("all_users", "pcc_user_uuid"), "the change stays without the rollback");
    assert_eq!(db.scalar("SELECT count(pcc_user_uuid) FROM all_users"), "45");
}
