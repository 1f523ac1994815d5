//! The one integration-test binary: every test runs the real `runbook` binary in a temporary
//! folder against real databases, and checks its exit code, its output and the database.
//!
//! Server tests read `RUNBOOK_TEST_POSTGRES_URL` / `RUNBOOK_TEST_MYSQL_URL`, Redmine tests
//! `RUNBOOK_TEST_REDMINE_URL` / `RUNBOOK_TEST_REDMINE_API_KEY`; without them they print that
//! they are skipped, unless `RUNBOOK_REQUIRE_SERVERS=1`, where a missing server fails.

mod support;

mod approvals;
mod audit;
mod browser;
mod cli;
mod demo;
mod example;
mod faults;
mod fingerprint;
mod fleet;
mod format;
mod fuzz_regressions;
mod golden;
mod interactive;
mod lint;
mod live;
mod partial_rollback;
mod redmine;
mod rehearse_policy;
mod resume;
mod schema;
mod server_faults;
mod servers;
mod sqlite;
mod statement_journal;
mod steps;
mod untrusted;
