//! The runbook format beyond the first ticket: undo pairing, and the rules of
//! docs/runbook-format.md that a second, different ticket relies on.

use crate::support::Test;

#[track_caller]
fn refused(yaml: &str, position: &str, message: &str, help: &str) {
    let out = Test::new().runbook(yaml).args(["validate", "runbook.yaml"]).run();
    out.code(2).stderr_has(&format!("runbook.yaml:{position}")).stderr_has(message).stderr_has(help);
}

const HEAD: &str = "version: 1\nid: x\nplan:\n";
const ROLLBACK: &str = "rollback:\n  - id: drop-column\n    name: Drop\n    kind: sql\n    sql: ALTER TABLE t DROP COLUMN c\n";

#[test]
fn undo_naming_an_unknown_step_is_refused_at_the_id() {
    let yaml = format!(
        "{HEAD}  - id: add\n    name: Add\n    kind: sql\n    sql: ALTER TABLE t ADD COLUMN c TEXT\n    undo: [drop-colum]\n{ROLLBACK}"
    );
    refused(&yaml, "8:12", "`undo` of step `add` names `drop-colum`, which is not a rollback step", "did you mean `drop-column`?");
}

#[test]
fn undo_naming_a_change_step_is_refused() {
    let yaml = format!("{HEAD}  - id: add\n    name: Add\n    kind: sql\n    sql: ALTER TABLE t ADD COLUMN c TEXT\n    undo: [drop-column, add]\n{ROLLBACK}");
    refused(&yaml, "8:25", "`undo` of step `add` names `add`, a change-plan step", "`undo` names steps of the rollback plan");
}

#[test]
fn undo_on_a_rollback_step_is_refused() {
    let yaml =
        format!("{HEAD}  - id: add\n    name: Add\n    kind: sql\n    sql: ALTER TABLE t ADD COLUMN c TEXT\n{ROLLBACK}    undo: none\n");
    refused(
        &yaml,
        "13:11",
        "`undo` belongs to change-plan steps; `drop-column` is a rollback step",
        "declare the pairing on the change step",
    );
}

#[test]
fn undo_with_an_empty_list_or_a_bare_word_is_refused() {
    let empty =
        format!("{HEAD}  - id: add\n    name: Add\n    kind: sql\n    sql: ALTER TABLE t ADD COLUMN c TEXT\n    undo: []\n{ROLLBACK}");
    refused(&empty, "8:11", "`undo` of step `add` lists no rollback step", "write `undo: none` for a point of no return");
    let word = format!(
        "{HEAD}  - id: add\n    name: Add\n    kind: sql\n    sql: ALTER TABLE t ADD COLUMN c TEXT\n    undo: drop-column\n{ROLLBACK}"
    );
    refused(&word, "8:11", "`undo: drop-column` is neither a list of rollback step ids nor `none`", "write `undo: [drop-column]`");
}

#[test]
fn undo_declared_or_none_is_accepted() {
    let yaml = format!(
        "{HEAD}  - id: add\n    name: Add\n    kind: sql\n    sql: ALTER TABLE t ADD COLUMN c TEXT\n    undo: [drop-column]\n  - id: purge\n    name: Purge\n    kind: sql\n    sql: DELETE FROM t WHERE c = 'x'\n    undo: none\n{ROLLBACK}"
    );
    let out = Test::new().runbook(&yaml).args(["validate", "runbook.yaml"]).run();
    out.code(0);
}
