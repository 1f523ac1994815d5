//! The run's own database transactions, and which `sql` steps they account for.
//!
//! `validate` asks PostgreSQL which rows carry a version written by the run
//! ([`crate::db::versions`]). That answer can clear a step of a difference only if every row the
//! step can have written carries one of the recorded ids. A step is *covered* when each of its
//! attempts ended with all its statements journaled with their transactions; an attempt that
//! failed, was cut off, or was marked done without its statements may have committed rows under
//! ids nobody recorded (a statement run with `transaction: false` commits on its own), so its
//! step is judged by statement analysis alone.
//!
//! The record is kept as the run goes and rebuilt from the journal by `resume`, by the same
//! rules.

use std::collections::{BTreeMap, BTreeSet};

use crate::journal::{Entry, Event, StepStatus};
use crate::runbook::Kind;

#[derive(Debug, Clone, Default)]
pub struct OwnTransactions {
    txids: BTreeSet<u64>,
    /// Steps with statements journaled with their transactions.
    recorded: BTreeSet<String>,
    /// Steps with an attempt whose transactions are not all known.
    unknown: BTreeSet<String>,
    /// Per table, the key ranges where the run's rows were found when its steps committed.
    written: BTreeMap<String, BTreeSet<i64>>,
}

impl OwnTransactions {
    /// A statement of `step` committed, writing in `txids` (empty: not known).
    pub fn statement(&mut self, step: &str, txids: &[u64]) {
        if txids.is_empty() {
            self.unknown.insert(step.to_string());
        } else {
            self.recorded.insert(step.to_string());
            self.txids.extend(txids);
        }
    }

    /// An attempt at `step` ended without its statements journaled: what it committed, if
    /// anything, is not known.
    pub fn lost(&mut self, step: &str) {
        self.unknown.insert(step.to_string());
    }

    /// Whether every row `step` can have written carries one of [`Self::txids`].
    pub fn covers(&self, step: &str) -> bool {
        self.recorded.contains(step) && !self.unknown.contains(step)
    }

    pub fn txids(&self) -> &BTreeSet<u64> {
        &self.txids
    }

    /// The run's rows were found in these key ranges of `table` as a step committed.
    pub fn wrote(&mut self, table: &str, ranges: &[i64]) {
        self.written.entry(table.to_string()).or_default().extend(ranges);
    }

    /// Key ranges of `table` where the run's rows were found as its steps committed.
    pub fn written(&self, table: &str) -> BTreeSet<i64> {
        self.written.get(table).cloned().unwrap_or_default()
    }

    /// The record as the journal's events leave it.
    pub fn from_journal(entries: &[Entry]) -> OwnTransactions {
        let mut own = OwnTransactions::default();
        // `sql` attempts in progress, with the statements each journaled so far.
        let mut open: BTreeMap<String, usize> = BTreeMap::new();
        for e in entries {
            match &e.event {
                Event::StepStarted { step_id, kind: Kind::Sql, .. } => {
                    // A second start without an end: the first attempt was cut off. Statements
                    // are journaled only once committed, so one that journaled some is known.
                    let before = open.insert(step_id.clone(), 0);
                    if before == Some(0) {
                        own.lost(step_id);
                    }
                }
                Event::Statement { step_id, txids, .. } => {
                    own.statement(step_id, txids);
                    *open.entry(step_id.clone()).or_default() += 1;
                }
                Event::RowVersions { table, ranges, .. } => own.wrote(table, ranges),
                Event::StepFinished { step_id, status, .. } => {
                    if let Some(n) = open.remove(step_id) {
                        let clean = match status {
                            StepStatus::Passed => n > 0,
                            StepStatus::Skipped => true,
                            _ => false,
                        };
                        if !clean {
                            own.lost(step_id);
                        }
                    }
                }
                _ => {}
            }
        }
        for (step, n) in open {
            if n == 0 {
                own.lost(&step);
            }
        }
        own
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(event: Event) -> Entry {
        Entry { seq: 0, ts: String::new(), prev: String::new(), event }
    }

    fn started(id: &str) -> Entry {
        entry(Event::StepStarted {
            step_id: id.into(),
            plan: crate::runbook::PlanKind::Plan,
            index: 1,
            total: 1,
            name: id.into(),
            kind: Kind::Sql,
            action: String::new(),
        })
    }

    fn statement(id: &str, txids: Vec<u64>) -> Entry {
        entry(Event::Statement {
            step_id: id.into(),
            sql: "UPDATE t SET a = 1".into(),
            rows_affected: Some(1),
            kind: Default::default(),
            duration_ms: 0,
            index: None,
            txids,
        })
    }

    fn finished(id: &str, status: StepStatus) -> Entry {
        entry(Event::StepFinished { step_id: id.into(), status, error: None, duration_ms: 0 })
    }

    #[test]
    fn a_step_is_covered_only_when_every_attempt_is_accounted_for() {
        let own = OwnTransactions::from_journal(&[
            started("fill"),
            statement("fill", vec![7]),
            finished("fill", StepStatus::Passed),
            // Failed: a statement run outside a transaction may have committed unrecorded.
            started("partial"),
            finished("partial", StepStatus::Failed),
            started("partial"),
            statement("partial", vec![9]),
            finished("partial", StepStatus::Passed),
            // Killed before its statements were journaled, then run again.
            started("cut"),
            started("cut"),
            statement("cut", vec![11]),
            finished("cut", StepStatus::Passed),
            // A statement whose transaction is not known (MariaDB, SQLite, an older journal).
            started("bare"),
            statement("bare", vec![]),
            finished("bare", StepStatus::Passed),
        ]);
        assert!(own.covers("fill"));
        assert!(!own.covers("partial") && !own.covers("cut") && !own.covers("bare"));
        assert!(!own.covers("never"));
        assert_eq!(own.txids().iter().copied().collect::<Vec<_>>(), vec![7, 9, 11]);
    }

    #[test]
    fn statements_journaled_before_a_kill_keep_their_step_covered() {
        // resume finishes such a step without running it again.
        let own = OwnTransactions::from_journal(&[started("fill"), statement("fill", vec![5])]);
        assert!(own.covers("fill"));
    }
}
