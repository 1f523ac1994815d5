//! Which rollback steps undo a change step: the `undo:` field, its defaults and its checks.
//!
//! A change step says `undo: [drop-column]` (rollback step ids), or `undo: none` for a point
//! of no return. Without `undo:` an `sql` step is paired with the rollback `sql` steps that
//! drop what it creates or recreate what it drops (`ADD COLUMN x` ↔ `DROP COLUMN x`,
//! `CREATE INDEX i` ↔ `DROP INDEX i`, `CREATE TABLE t` ↔ `DROP TABLE t`, …); steps that change
//! nothing (backup, verify, validate, monitor) need no undo. The operator sees the pairing in
//! every panel and in `plan`, and a rollback of a partial run uses it to undo only what ran.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Kind, Problem, Runbook, Sp, SqlSource, Step};
use crate::sql::objects::{changes, Object, Verb};

/// What `undo:` says, as written.
#[derive(Debug, Clone, PartialEq)]
pub enum UndoSpec {
    /// `undo: [id, …]`: these rollback steps undo the step.
    Steps(Vec<Sp<String>>),
    /// `undo: none`: nothing can undo the step; it is a point of no return.
    None,
}

/// The word that declares a point of no return.
pub const NO_UNDO: &str = "none";

impl<'de> Deserialize<'de> for UndoSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = UndoSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of rollback step ids, e.g. [drop-column], or `none` for a point of no return")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<UndoSpec, E> {
                if s == NO_UNDO {
                    Ok(UndoSpec::None)
                } else {
                    Err(E::custom(format!(
                        "`undo: {s}` is neither a list of rollback step ids nor `none`; write `undo: [{s}]` to name a rollback step"
                    )))
                }
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<UndoSpec, A::Error> {
                let mut ids = Vec::new();
                while let Some(id) = seq.next_element::<Sp<String>>()? {
                    ids.push(id);
                }
                Ok(UndoSpec::Steps(ids))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for UndoSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            UndoSpec::Steps(ids) => ids.serialize(s),
            UndoSpec::None => s.serialize_str(NO_UNDO),
        }
    }
}

/// Schema stand-in for [`UndoSpec`]: a list of step ids, or the word `none`.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum UndoSchema {
    Steps(Vec<String>),
    NoUndo(NoUndoWord),
}

#[derive(JsonSchema)]
#[allow(dead_code)]
enum NoUndoWord {
    #[serde(rename = "none")]
    None,
}

impl JsonSchema for UndoSpec {
    fn schema_name() -> String {
        "Undo".into()
    }
    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        UndoSchema::json_schema(gen)
    }
}

/// A rollback step, as the panels and `plan` name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRef {
    /// 1-based position in the rollback plan ("rollback step 3").
    pub number: usize,
    pub id: String,
    pub name: String,
    /// Found by the default pairing rather than declared with `undo:`.
    pub inferred: bool,
}

/// How a change step is undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// These rollback steps undo it, in rollback-plan order.
    By(Vec<StepRef>),
    /// `undo: none`: once it has run, there is no way back.
    PointOfNoReturn,
    /// The step changes nothing (backup, verify, validate, monitor).
    NotNeeded,
    /// It may change something, and no undo is declared or recognised: a rollback falls back to
    /// running the whole rollback plan.
    Unpaired,
}

/// Check every `undo:` in `doc`: only change-plan steps have one, and it names rollback steps.
pub fn check(doc: &Runbook) -> Vec<Problem> {
    let rollback_ids: Vec<&str> = doc.rollback.iter().map(|s| s.id.as_str()).collect();
    let plan_ids: BTreeSet<&str> = doc.plan.iter().map(|s| s.id.as_str()).collect();
    let mut out = Vec::new();
    for raw in &doc.rollback {
        if let Some(u) = &raw.undo {
            out.push(Problem {
                pos: u.pos,
                message: format!("`undo` belongs to change-plan steps; `{}` is a rollback step", *raw.id),
                help: Some("declare the pairing on the change step that this rollback step undoes".into()),
            });
        }
    }
    for raw in doc.plan.iter() {
        let Some(u) = &raw.undo else { continue };
        let UndoSpec::Steps(ids) = &u.value else { continue };
        if ids.is_empty() {
            out.push(Problem {
                pos: u.pos,
                message: format!("`undo` of step `{}` lists no rollback step", *raw.id),
                help: Some("name the rollback steps that undo it, or write `undo: none` for a point of no return".into()),
            });
        }
        for id in ids {
            if rollback_ids.contains(&id.as_str()) {
                continue;
            }
            let pos = if id.pos.is_known() { id.pos } else { u.pos };
            let (message, help) = if plan_ids.contains(id.as_str()) {
                (
                    format!("`undo` of step `{}` names `{}`, a change-plan step", *raw.id, **id),
                    "`undo` names steps of the rollback plan".to_string(),
                )
            } else {
                (
                    format!("`undo` of step `{}` names `{}`, which is not a rollback step", *raw.id, **id),
                    match closest(id, &rollback_ids) {
                        Some(near) => format!("did you mean `{near}`? rollback steps: {}", rollback_ids.join(", ")),
                        None if rollback_ids.is_empty() => "the runbook has no rollback plan".to_string(),
                        None => format!("rollback steps: {}", rollback_ids.join(", ")),
                    },
                )
            };
            out.push(Problem { pos, message, help: Some(help) });
        }
    }
    out
}

/// The rollback id nearest to `id` by edit distance, if it is a plausible typo.
fn closest<'a>(id: &str, ids: &[&'a str]) -> Option<&'a str> {
    ids.iter().map(|c| (strsim_levenshtein(id, c), *c)).filter(|(d, c)| *d <= 2.max(c.len() / 4)).min_by_key(|(d, _)| *d).map(|(_, c)| c)
}

fn strsim_levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The undo of every change-plan step, by step id. `doc` must have passed [`check`].
pub fn pair(doc: &Runbook, plan: &[Step], rollback: &[Step]) -> BTreeMap<String, Undo> {
    let declared: BTreeMap<&str, &UndoSpec> = doc.plan.iter().filter_map(|r| r.undo.as_ref().map(|u| (r.id.as_str(), &u.value))).collect();
    let rollback_effects: Vec<BTreeSet<(bool, Object)>> = rollback.iter().map(effects).collect();
    let step_ref =
        |i: usize, inferred: bool| StepRef { number: i + 1, id: rollback[i].id.clone(), name: rollback[i].name.clone(), inferred };
    let mut out = BTreeMap::new();
    for step in plan {
        let undo = match declared.get(step.id.as_str()) {
            Some(UndoSpec::None) => Undo::PointOfNoReturn,
            Some(UndoSpec::Steps(ids)) => {
                // In rollback-plan order, whatever order the author listed them in.
                let wanted: BTreeSet<&str> = ids.iter().map(|s| s.as_str()).collect();
                Undo::By((0..rollback.len()).filter(|i| wanted.contains(rollback[*i].id.as_str())).map(|i| step_ref(i, false)).collect())
            }
            None if changes_nothing(step.kind) => Undo::NotNeeded,
            None => {
                let mine = effects(step);
                // A rollback step undoes this one when it drops what this creates, or creates
                // what this drops.
                let by: Vec<StepRef> = (0..rollback.len())
                    .filter(|i| mine.iter().any(|(created, o)| rollback_effects[*i].contains(&(!created, o.clone()))))
                    .map(|i| step_ref(i, true))
                    .collect();
                if by.is_empty() {
                    Undo::Unpaired
                } else {
                    Undo::By(by)
                }
            }
        };
        out.insert(step.id.clone(), undo);
    }
    out
}

/// Kinds that read or copy but never change the target or the world around it.
pub fn changes_nothing(kind: Kind) -> bool {
    matches!(kind, Kind::Backup | Kind::Verify | Kind::Validate | Kind::Monitor)
}

/// The objects an `sql` step creates (`true`) or drops (`false`), over the SQL of every engine.
fn effects(step: &Step) -> BTreeSet<(bool, Object)> {
    let super::Action::Sql(a) = &step.action else { return BTreeSet::new() };
    let texts: Vec<(&str, crate::db::Engine)> = match &a.sql.value {
        SqlSource::Text(t) => [crate::db::Engine::Sqlite, crate::db::Engine::Postgres, crate::db::Engine::Mysql]
            .into_iter()
            .map(|e| (t.as_str(), e))
            .collect(),
        SqlSource::List(l) => l.iter().map(|t| (t.as_str(), crate::db::Engine::Sqlite)).collect(),
        SqlSource::PerEngine(p) => [
            (&p.sqlite, crate::db::Engine::Sqlite),
            (&p.postgres, crate::db::Engine::Postgres),
            (&p.mysql, crate::db::Engine::Mysql),
            (&p.default, crate::db::Engine::Sqlite),
        ]
        .into_iter()
        .filter_map(|(t, e)| t.as_deref().map(|t| (t, e)))
        .collect(),
    };
    let mut out = BTreeSet::new();
    for (text, engine) in texts {
        for stmt in crate::sql::split(text, engine) {
            for ch in changes(&stmt) {
                out.insert((ch.verb == Verb::Create, ch.object));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_a_suggestion() {
        assert_eq!(closest("drop-colum", &["rollback-backup", "drop-column"]), Some("drop-column"));
        assert_eq!(closest("something-else", &["drop-column"]), None);
    }
}

#[cfg(test)]
mod pairing_tests {
    use std::sync::Arc;

    use super::*;

    fn load(yaml: &str) -> crate::runbook::Loaded {
        crate::load::load_str("t.yaml", Arc::from(yaml), String::new()).expect("valid runbook")
    }

    fn ids(u: &Undo) -> Vec<(usize, &str, bool)> {
        match u {
            Undo::By(r) => r.iter().map(|r| (r.number, r.id.as_str(), r.inferred)).collect(),
            other => panic!("expected a pairing, got {other:?}"),
        }
    }

    const SHAPES: &str = r#"
version: 1
id: shapes
plan:
  - {id: backup, name: Backup, kind: backup}
  - id: add-col
    name: Add column
    kind: sql
    sql:
      sqlite: ALTER TABLE t ADD COLUMN c TEXT
      mysql: ALTER TABLE t ADD COLUMN c TEXT, ALGORITHM=INPLACE
  - {id: add-index, name: Add index, kind: sql, sql: "CREATE INDEX CONCURRENTLY ix_t_c ON t (c)", transaction: false}
  - {id: new-table, name: New table, kind: sql, sql: "CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY)"}
  - {id: backfill, name: Backfill, kind: sql, sql: "UPDATE t SET c = 'x' WHERE c IS NULL"}
  - {id: purge, name: Purge, kind: sql, sql: "DELETE FROM old WHERE id < 10", undo: none}
  - {id: notify, name: Notify, kind: manual, instructions: Tell them, undo: [tell-again, drop-audit]}
  - {id: check, name: Check, kind: verify, schema: [{table: t, column: c}]}
rollback:
  - {id: drop-audit, name: Drop audit, kind: sql, sql: "DROP TABLE IF EXISTS audit"}
  - {id: drop-index, name: Drop index, kind: sql, sql: {mysql: "ALTER TABLE t DROP INDEX ix_t_c", default: "DROP INDEX ix_t_c"}}
  - {id: drop-col, name: Drop column, kind: sql, sql: "ALTER TABLE t DROP COLUMN c"}
  - {id: tell-again, name: Tell again, kind: manual, instructions: Tell them again}
"#;

    #[test]
    fn common_shapes_pair_by_default() {
        let rb = load(SHAPES);
        assert_eq!(ids(rb.undo_of("add-col")), vec![(3, "drop-col", true)]);
        assert_eq!(ids(rb.undo_of("add-index")), vec![(2, "drop-index", true)]);
        assert_eq!(ids(rb.undo_of("new-table")), vec![(1, "drop-audit", true)]);
        assert_eq!(rb.undo_of("backfill"), &Undo::Unpaired);
        assert_eq!(rb.undo_of("purge"), &Undo::PointOfNoReturn);
        assert_eq!(rb.undo_of("backup"), &Undo::NotNeeded);
        assert_eq!(rb.undo_of("check"), &Undo::NotNeeded);
        // Declared pairings come in rollback-plan order, not as listed.
        assert_eq!(ids(rb.undo_of("notify")), vec![(1, "drop-audit", false), (4, "tell-again", false)]);
        let undone: Vec<&str> = rb.undoes("drop-audit").iter().map(|s| s.id.as_str()).collect();
        assert_eq!(undone, vec!["new-table", "notify"]);
    }

    #[test]
    fn the_seed_runbook_pairs_its_column_with_its_removal() {
        let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/runbooks/add-pcc-user-uuid.yaml")).unwrap();
        let rb = load(&yaml);
        assert_eq!(ids(rb.undo_of("add-column")), vec![(3, "drop-column", true)]);
        assert_eq!(rb.undo_of("backup"), &Undo::NotNeeded);
    }
}
