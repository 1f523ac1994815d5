//! `when:` on a rollback step: a predicate on the live schema that says whether the step has
//! anything to undo. A change that failed before its column existed leaves nothing to drop, and
//! not every engine can say `DROP COLUMN IF EXISTS`; the condition lets the rollback skip the
//! step (journaled, with why) instead of failing on an object that was never created.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::db::Schema;

/// One condition; written as a one-key map, e.g. `when: {column_exists: users.first_name}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// `table.column` exists.
    ColumnExists(String),
    /// The table exists.
    TableExists(String),
    /// The index exists.
    IndexExists(String),
    /// The condition does not hold.
    Not(Box<Condition>),
    /// Every condition holds.
    All(Vec<Condition>),
    /// At least one condition holds.
    Any(Vec<Condition>),
}

impl Condition {
    /// Whether the condition holds on `schema`.
    pub fn holds(&self, schema: &Schema) -> bool {
        match self {
            Condition::ColumnExists(tc) => split(tc).is_some_and(|(t, c)| schema.column(t, c).is_some()),
            Condition::TableExists(t) => schema.table(t).is_some(),
            Condition::IndexExists(i) => schema.index(i).is_some(),
            Condition::Not(c) => !c.holds(schema),
            Condition::All(v) => v.iter().all(|c| c.holds(schema)),
            Condition::Any(v) => v.iter().any(|c| c.holds(schema)),
        }
    }

    /// The condition in words, as the journal and `plan` give it.
    pub fn describe(&self) -> String {
        match self {
            Condition::ColumnExists(tc) => format!("column {tc} exists"),
            Condition::TableExists(t) => format!("table {t} exists"),
            Condition::IndexExists(i) => format!("index {i} exists"),
            Condition::Not(c) => format!("not ({})", c.describe()),
            Condition::All(v) => v.iter().map(|c| c.describe()).collect::<Vec<_>>().join(" and "),
            Condition::Any(v) => v.iter().map(|c| c.describe()).collect::<Vec<_>>().join(" or "),
        }
    }

    /// Problems with how the condition is written (a column without its table).
    pub fn problems(&self) -> Vec<String> {
        match self {
            Condition::ColumnExists(tc) if split(tc).is_none() => {
                vec![format!("`column_exists: {tc}` needs the table and the column, as `table.column`")]
            }
            Condition::Not(c) => c.problems(),
            Condition::All(v) | Condition::Any(v) if v.is_empty() => vec!["`all:` and `any:` need at least one condition".into()],
            Condition::All(v) | Condition::Any(v) => v.iter().flat_map(|c| c.problems()).collect(),
            _ => Vec::new(),
        }
    }
}

/// `table.column` (the last dot separates them, so a schema-qualified table keeps its dot).
fn split(tc: &str) -> Option<(&str, &str)> {
    tc.rsplit_once('.').filter(|(t, c)| !t.is_empty() && !c.is_empty())
}
