//! Query checks must say what they expect. A missing `expect` used to mean "SQL NULL" without
//! a word, so a forgotten line made a check pass only on an empty result; now `validate`
//! refuses it, and `expect: null` says NULL on purpose.

use super::{Problem, Runbook};

/// Every query check of `verify` and `command` steps, in both plans, without `expect`.
pub fn check(doc: &Runbook) -> Vec<Problem> {
    let mut out = Vec::new();
    for raw in doc.plan.iter().chain(&doc.rollback) {
        for q in raw.queries.iter().flatten() {
            if q.expect.is_none() {
                let what = q.name.as_ref().map(|n| format!("query check `{n}`")).unwrap_or_else(|| "a query check".into());
                out.push(Problem {
                    pos: q.sql.pos,
                    message: format!("{what} of step `{}` has no `expect`", *raw.id),
                    help: Some("write the value the query must return (e.g. `expect: 0`), or `expect: null` to expect SQL NULL".into()),
                });
            }
        }
    }
    out
}
