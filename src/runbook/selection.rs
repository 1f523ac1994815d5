//! Which rollback steps a rollback runs after a partial change.
//!
//! When the change plan stopped part way (a failure, an interruption, a skipped step), undoing
//! steps that never ran fails on objects that were never created — and a rollback that "fails"
//! on an untouched database is wrong evidence. With the `undo:` pairing (see [`super::undo`]) the
//! rollback knows which rollback steps undo which change steps: it skips the rollback steps that
//! undo only change steps that never ran. Rollback steps that undo nothing (checks, a backup,
//! a notice) still run. When a change step that ran has no pairing, nobody knows what undoes it,
//! and the whole rollback plan runs, as it always did.

use std::collections::{BTreeMap, BTreeSet};

use super::undo::Undo;
use super::Loaded;

/// What the rollback runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every rollback step; `why` says why the selection could not be narrowed.
    Whole { why: String },
    /// Every rollback step except `skip` (rollback step id → why it is skipped).
    Partial { skip: BTreeMap<String, String> },
}

impl Selection {
    /// Why the rollback step `id` is left out, if it is.
    pub fn skips(&self, id: &str) -> Option<&str> {
        match self {
            Selection::Whole { .. } => None,
            Selection::Partial { skip } => skip.get(id).map(String::as_str),
        }
    }

    /// One line for the journal and the terminal.
    pub fn summary(&self) -> String {
        match self {
            Selection::Whole { why } => format!("the whole rollback plan runs: {why}"),
            Selection::Partial { skip } if skip.is_empty() => {
                "the whole rollback plan runs: each of its steps undoes a change step that ran".into()
            }
            Selection::Partial { skip } => format!(
                "partial change: {} rollback step(s) undo only change steps that did not run and are skipped ({})",
                skip.len(),
                skip.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

/// The scope of a rollback after the change-plan steps `ran` (ids of steps that began to run,
/// whatever their end: a failed step may have done part of its work).
pub fn select(loaded: &Loaded, ran: &BTreeSet<String>) -> Selection {
    let changing: Vec<&str> = loaded.plan.iter().filter(|s| *loaded.undo_of(&s.id) != Undo::NotNeeded).map(|s| s.id.as_str()).collect();
    if changing.iter().all(|id| ran.contains(*id)) {
        return Selection::Whole { why: "every change step ran".into() };
    }
    if let Some(id) = changing.iter().find(|id| ran.contains(**id) && *loaded.undo_of(id) == Undo::Unpaired) {
        return Selection::Whole { why: format!("change step `{id}` ran and no rollback step is paired with it") };
    }
    let mut skip = BTreeMap::new();
    for r in &loaded.rollback {
        let undone = loaded.undoes(&r.id);
        if undone.is_empty() || undone.iter().any(|s| ran.contains(&s.id)) {
            continue;
        }
        let names: Vec<String> = undone.iter().map(|s| format!("`{}`", s.id)).collect();
        let which = if names.len() == 1 { "which did not run" } else { "none of which ran" };
        skip.insert(r.id.clone(), format!("it undoes only {}, {which}", names.join(", ")));
    }
    Selection::Partial { skip }
}

/// The change-plan steps that began to run in a journal: started, and decided `run`.
pub fn ran_in(entries: &[crate::journal::Entry]) -> BTreeSet<String> {
    use crate::journal::{Decision, Event};
    let mut started = BTreeSet::new();
    let mut ran = BTreeSet::new();
    for e in entries {
        match &e.event {
            Event::StepStarted { step_id, plan: super::PlanKind::Plan, .. } => {
                started.insert(step_id.clone());
            }
            Event::StepDecision { step_id, decision: Decision::Run, .. } if started.contains(step_id) => {
                ran.insert(step_id.clone());
            }
            _ => {}
        }
    }
    ran
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const DOC: &str = r#"
version: 1
id: partial
plan:
  - {id: backup, name: Backup, kind: backup}
  - {id: add-col, name: Add column, kind: sql, sql: "ALTER TABLE t ADD COLUMN c TEXT"}
  - {id: add-index, name: Add index, kind: sql, sql: "CREATE INDEX ix_t_c ON t (c)"}
  - {id: backfill, name: Backfill, kind: sql, sql: "UPDATE t SET c = 'x'", undo: [clear]}
  - {id: notify, name: Notify, kind: manual, instructions: tell them}
rollback:
  - {id: clear, name: Clear, kind: sql, sql: "UPDATE t SET c = NULL"}
  - {id: drop-index, name: Drop index, kind: sql, sql: "DROP INDEX ix_t_c"}
  - {id: drop-col, name: Drop column, kind: sql, sql: "ALTER TABLE t DROP COLUMN c"}
  - {id: check, name: Check, kind: verify, schema: [{table: t}]}
"#;

    fn ran(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_the_undo_of_what_ran_runs() {
        let rb = crate::load::load_str("t.yaml", Arc::from(DOC), String::new()).unwrap();
        let s = select(&rb, &ran(&["backup", "add-col"]));
        let skipped: Vec<&str> = match &s {
            Selection::Partial { skip } => skip.keys().map(String::as_str).collect(),
            other => panic!("{other:?}"),
        };
        assert_eq!(skipped, vec!["clear", "drop-index"]);
        assert_eq!(s.skips("drop-index"), Some("it undoes only `add-index`, which did not run"));
        assert_eq!(s.skips("drop-col"), None);
        assert_eq!(s.skips("check"), None);
    }

    #[test]
    fn an_unpaired_step_that_ran_or_a_full_run_means_the_whole_plan() {
        let rb = crate::load::load_str("t.yaml", Arc::from(DOC), String::new()).unwrap();
        let all = ran(&["backup", "add-col", "add-index", "backfill", "notify"]);
        assert_eq!(select(&rb, &all), Selection::Whole { why: "every change step ran".into() });
        // `notify` (unpaired) did not run: nothing it did needs undoing.
        assert_eq!(select(&rb, &ran(&["backup", "add-col", "add-index", "backfill"])), Selection::Partial { skip: BTreeMap::new() });
        assert_eq!(
            select(&rb, &ran(&["notify"])),
            Selection::Whole { why: "change step `notify` ran and no rollback step is paired with it".into() }
        );
    }
}
