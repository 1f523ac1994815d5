//! Inputs found while fuzzing the runbook loader (`scripts/fuzz`): each one once made
//! `validate` panic. Every one must now be refused with exit 2 and a positioned message.

use crate::support::Test;

/// `validate` must refuse `yaml` with exit 2, name `position` and say `message`, and not panic.
#[track_caller]
fn refused_without_panic(yaml: &str, position: &str, message: &str) {
    let out = Test::new().runbook(yaml).args(["validate", "runbook.yaml"]).run();
    out.code(2).lacks("panicked").stderr_has(&format!("runbook.yaml:{position}")).stderr_has(message);
}

#[test]
fn timeout_in_seconds_beyond_u64_does_not_panic() {
    refused_without_panic(
        "version: 1\nid: x\nplan:\n  - {id: a, name: A, kind: backup, timeout: 1e30}\n",
        "4:45",
        "`1e30` is longer than any duration",
    );
}

#[test]
fn duration_with_unit_beyond_u64_seconds_does_not_panic() {
    refused_without_panic(
        "version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: sql\n    sql: SELECT 1\n    lock_timeout: 99999999999999999999999h\n",
        "8:19",
        "is longer than any duration",
    );
}

#[test]
fn duration_parts_summing_beyond_u64_seconds_do_not_panic() {
    refused_without_panic(
        "version: 1\nid: x\nplan:\n  - id: a\n    name: A\n    kind: monitor\n    duration: 10000000000000000000s 10000000000000000000s\n    checks: [{name: q, query: SELECT 1, max: 0}]\n",
        "7:15",
        "is longer than any duration",
    );
}
