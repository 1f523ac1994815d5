//! `validate`: proof that existing data is unaffected. Tables named here are fingerprinted at
//! run start (row count and a hash over every column that existed then); this step fingerprints
//! the same columns again and compares. Report queries must still run.
//!
//! A live application keeps writing during a change window, so a difference alone does not
//! prove the change did it. What the change's `sql` statements can write is read from the
//! statements themselves ([`crate::sql::touches::writes`]): when none of them can write an existing
//! value of the table, the difference is the other sessions' doing and is journaled as
//! information; otherwise it fails, naming what the change can write.

use crate::db::{localise, Database, Engine, Schema, Statement};
use crate::error::{Error, Result};
use crate::exec::Runner;
use crate::journal::event::Event;
use crate::load::vars::Vars;
use crate::runbook::{Action, Backfill, Step, ValidateAction};
use crate::sql::touches::{writes, Write};
use crate::ui::panel;

pub fn describe(a: &ValidateAction, vars: &Vars, engine: Engine) -> String {
    let mut lines = Vec::new();
    for t in &a.tables {
        lines.push(format!("compare fingerprint of {t} (row count + hash of every column at run start) with the start of the run"));
    }
    for b in &a.backfill {
        let rows = b.rows.as_deref().map_or("any existing row".to_string(), |w| format!("rows where {}", vars.mask(w)));
        lines.push(format!("declared backfill: {} column(s) {} may change in {rows}", b.table, b.columns.join(", ")));
    }
    for q in &a.report_queries {
        let sql = super::sql_for(&q.sql, engine)
            .map(|s| crate::sql::bind::shown(&s, engine, vars))
            .unwrap_or_else(|| format!("<no SQL for {engine}>"));
        lines.push(format!("report query \"{}\" must run: {}", q.name, sql.trim()));
    }
    lines.join("\n")
}

pub async fn precheck(db: &mut dyn Database, schema: &Schema, a: &ValidateAction) -> Vec<String> {
    let mut out = Vec::new();
    for t in &a.tables {
        match schema.table(t) {
            None => out.push(format!("✘ table {t} does not exist: the run will refuse to start")),
            Some(table) => {
                let n = db.query_scalar(&Statement::text(format!("SELECT count(*) FROM {}", crate::db::quote_ident(db.engine(), t)))).await;
                let rows = n.ok().flatten().unwrap_or_else(|| "?".into());
                out.push(format!("✔ table {t}: {rows} rows, {} columns will be fingerprinted at run start", table.columns.len()));
            }
        }
    }
    out
}

pub async fn run(r: &mut Runner, step: &Step, a: &ValidateAction) -> Result<()> {
    let mut failed = Vec::new();
    for t in &a.tables {
        let Some(before) = r.baselines.get(t).cloned() else {
            return Err(Error::failed(format!("no fingerprint of {t} was taken at run start")));
        };
        // A column that is gone is named as such: hashing it would fail on the servers and, on
        // SQLite, could read its name as a string literal.
        let schema = r.db.schema().await.map_err(|e| Error::failed(format!("reading the schema of {t}: {e}")))?;
        let gone: Vec<&String> = match schema.table(t) {
            None => before.columns.iter().collect(),
            Some(table) => before.columns.iter().filter(|c| !table.columns.iter().any(|k| k.name.eq_ignore_ascii_case(c))).collect(),
        };
        if !gone.is_empty() {
            let names = gone.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ");
            let what = if schema.table(t).is_none() {
                format!("table {t} no longer exists")
            } else if gone.len() == 1 {
                format!("column {names} of {t} no longer exists")
            } else {
                format!("columns {names} of {t} no longer exist")
            };
            r.assertion(
                step,
                format!("{t} columns fingerprinted at run start"),
                before.columns.join(", "),
                format!("missing: {names}"),
                false,
            )?;
            failed.push(format!("table {t}: {what}"));
            continue;
        }
        let now =
            r.db.fingerprint(t, &before.columns, before.layout.as_ref())
                .await
                .map_err(|e| Error::failed(format!("fingerprint of {t}: {e}")))?;
        let rows_ok = now.rows == before.rows;
        let hash_ok = now.hash == before.hash;
        let columns = format!("{t} content hash over {} column(s): {}", before.columns.len(), before.columns.join(", "));
        if rows_ok && hash_ok {
            r.assertion(step, format!("{t} row count"), before.rows.to_string(), now.rows.to_string(), true)?;
            r.assertion(step, columns, before.hash.clone(), now.hash.clone(), true)?;
            continue;
        }
        let diff = localise::compare(&before, &now);
        let could = change_writes(r, step, t, &schema)?;
        let blamed = blame(&diff, &could);
        let declared: Vec<&Backfill> = a.backfill.iter().filter(|b| &b.table == t).collect();
        let versions = by_row_versions(r, t, &before, &diff, blamed, &declared).await?;
        let (blamed, mut intended) = check_declared(r, t, &before, &diff, versions.blamed, &declared).await?;
        intended.splice(0..0, versions.intended);
        for line in &versions.fallback {
            r.journal.record(Event::Info {
                step_id: Some(step.id.clone()),
                message: format!("{t}: row versions (xmin) could not decide, statement analysis did: {line}"),
            })?;
        }
        for line in &intended {
            r.journal.record(Event::Info { step_id: Some(step.id.clone()), message: line.clone() })?;
            panel::ok(line.clone());
        }
        let delta = now.rows as i128 - before.rows as i128;
        let by_others_too = !diff.localised
            || diff.inserted > 0
            || diff.deleted > 0
            || diff.columns.iter().any(|c| !declared.iter().any(|b| b.columns.iter().any(|x| x.eq_ignore_ascii_case(&c.column))));
        if blamed.is_empty() && !by_others_too {
            r.assertion(step, format!("{t} row count"), before.rows.to_string(), now.rows.to_string(), true)?;
            r.assertion(step, columns, before.hash.clone(), format!("{} (declared backfill)", now.hash), true)?;
            continue;
        }
        if blamed.is_empty() {
            // The change cannot have made this difference: another session did, while the
            // change ran. It is information for the report, not a failure.
            let rule = if versions.others.is_empty() { STATEMENTS } else { VERSIONS };
            let by_others = |what: String| format!("{what} (by other sessions; decided by {rule})");
            r.assertion(step, format!("{t} row count"), before.rows.to_string(), by_others(format!("{} ({delta:+})", now.rows)), true)?;
            r.assertion(step, columns, before.hash.clone(), by_others(now.hash.clone()), true)?;
            let why = if !versions.others.is_empty() {
                versions.others.join("; ")
            } else if could.is_empty() {
                format!("the change's statements write no existing value of {t}")
            } else {
                format!(
                    "the change can write only {}, and none of that differs",
                    could.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join("; ")
                )
            };
            r.journal.record(Event::Info {
                step_id: Some(step.id.clone()),
                message: format!(
                    "concurrent activity on {t} during the run: row count {} → {} ({delta:+} net){}; {}; attributed to other sessions by {rule}: {why}",
                    before.rows,
                    now.rows,
                    if hash_ok { String::new() } else { format!(", content hash {} → {}", before.hash, now.hash) },
                    diff.describe(),
                ),
            })?;
            let own = if intended.is_empty() {
                "the change wrote none of its existing data"
            } else {
                "the change wrote only what its backfill declares"
            };
            panel::warn(format!("{t} was changed by other sessions during the run ({delta:+} rows net); {own}"));
            continue;
        }
        r.assertion(step, format!("{t} row count"), before.rows.to_string(), now.rows.to_string(), rows_ok)?;
        r.assertion(step, columns, before.hash.clone(), now.hash.clone(), hash_ok)?;
        // Where the data differs, as evidence beside the two assertions that decided.
        r.journal.record(Event::Info {
            step_id: Some(step.id.clone()),
            message: format!(
                "where {t} differs: {}; the change can have written: {}{}",
                diff.describe(),
                {
                    let b: Vec<String> = blamed.iter().map(|b| format!("{} {} (decided by {})", b.what, b.found, b.rule)).collect();
                    b.join("; ")
                },
                if versions.others.is_empty() {
                    String::new()
                } else {
                    format!("; other sessions' by {VERSIONS}: {}", versions.others.join("; "))
                }
            ),
        })?;
        let mut what = Vec::new();
        if !rows_ok {
            what.push(format!("row count {} → {}", before.rows, now.rows));
        }
        // Whole hashes: a cut-off prefix can look equal on both sides of a difference.
        if !hash_ok {
            what.push(format!("content hash {} → {}", before.hash, now.hash));
        }
        let mut what = what.join(", ");
        if rows_ok {
            what.push_str(&format!(" (same {} rows)", now.rows));
        }
        let found: Vec<String> = blamed.iter().map(|b| format!("{} {}", b.what, b.found)).collect();
        let reach: Vec<String> =
            blamed.iter().flat_map(|b| b.by.iter().cloned()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        let rules: Vec<&str> = blamed.iter().map(|b| b.rule).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        let evidence: Vec<&str> = blamed.iter().filter_map(|b| b.evidence.as_deref()).collect();
        let decided = if evidence.is_empty() { String::new() } else { format!(": {}", evidence.join("; ")) };
        failed.push(format!(
            "table {t}: {what}; {} — the change can write {}; decided by {}{decided}",
            found.join("; "),
            reach.join("; "),
            rules.join(" and ")
        ));
    }
    for q in &a.report_queries {
        let sql = super::sql_for(&q.sql, r.target.engine).ok_or_else(|| Error::failed(format!("no SQL for {}", r.target.engine)))?;
        let sent = super::query(&r.vars, &sql, r.target.engine)?;
        match r.db.query_rows(&sent).await {
            Ok(result) => {
                let n = result.total;
                r.assertion(step, format!("report query \"{}\" runs", q.name), "runs".into(), format!("ran, {n} row(s)"), true)?;
                // Redacted before the cells are cut, so a cut never leaves part of a secret.
                let result = result.map_cells(|c| r.journal.redactor().text(c));
                // The operator sees what the query returned, not only that it ran.
                for line in crate::ui::table::lines(&result, "      ") {
                    crate::ui::out(line);
                }
                r.journal.record(Event::ReportQuery { step_id: step.id.clone(), name: q.name.clone(), result })?;
            }
            Err(e) => {
                failed.push(format!("report query \"{}\" failed", q.name));
                r.assertion(step, format!("report query \"{}\" runs", q.name), "runs".into(), format!("error: {e}"), false)?;
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::failed(format!("existing data changed or reports broke: {}", failed.join("; "))))
    }
}

/// What the change can write to the existing data of a table, and the step or statement that
/// can.
#[derive(Debug, Clone)]
struct Reach {
    scope: Scope,
    /// In words, with the statement: `column name (UPDATE all_users SET name = …)`.
    text: String,
    /// Every row it can have written carries one of the run's recorded transactions, so row
    /// versions can tell where it wrote ([`crate::exec::transactions`]).
    covered: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    Any,
    Columns(Vec<String>),
    Insert,
    Delete,
}

impl Reach {
    fn column(&self, c: &str) -> bool {
        match &self.scope {
            Scope::Any => true,
            Scope::Columns(cs) => cs.iter().any(|x| x.eq_ignore_ascii_case(c)),
            Scope::Insert | Scope::Delete => false,
        }
    }
}

/// Differences the runbook declares as intended (a backfill) are checked against the
/// declaration: a declared column may differ in ranges holding rows that match its `where` (any
/// range without one). Returns what is still blamed, and one line per declaration that held.
async fn check_declared(
    r: &mut Runner,
    table: &str,
    before: &crate::db::Fingerprint,
    diff: &localise::Difference,
    blamed: Vec<Blamed>,
    declared: &[&Backfill],
) -> Result<(Vec<Blamed>, Vec<String>)> {
    let engine = r.target.engine;
    let mut kept = Vec::new();
    let mut intended = Vec::new();
    for b in blamed {
        let decl = b.column.as_ref().and_then(|c| declared.iter().find(|d| d.columns.iter().any(|x| x.eq_ignore_ascii_case(c))));
        let (Some(column), Some(decl), true, false) = (&b.column, decl, diff.localised, b.rule == VERSIONS) else {
            kept.push(b);
            continue;
        };
        let Some(cd) = diff.column(column) else { continue };
        let Some(cond) = &decl.rows else {
            intended.push(format!(
                "declared backfill of {table}.{column}: differs in {} key range(s) ({}), any row allowed",
                cd.ranges,
                cd.samples.join(", ")
            ));
            continue;
        };
        let cond = r.vars.render(cond)?;
        let table_q = crate::db::quote_ident(engine, table);
        let mut outside = Vec::new();
        for &i in &cd.at {
            let range = match &before.layout {
                Some(l) => {
                    let key = if engine == Engine::Sqlite && l.key == "rowid" {
                        "rowid".to_string()
                    } else {
                        crate::db::quote_ident(engine, &l.key)
                    };
                    let (lo, hi) = l.bounds(i);
                    format!("{key} BETWEEN {lo} AND {hi} AND ")
                }
                None => String::new(),
            };
            let n =
                r.db.query_scalar(&Statement::text(format!("SELECT count(*) FROM {table_q} WHERE {range}({cond})")))
                    .await
                    .map_err(|e| Error::failed(format!("backfill condition `{cond}` of {table}: {e}")))?;
            if n.as_deref().unwrap_or("0") == "0" {
                outside.push(before.layout.as_ref().map_or_else(|| "whole table".to_string(), |l| l.label(i)));
            }
        }
        if outside.is_empty() {
            intended.push(format!(
                "declared backfill of {table}.{column}: differs in {} key range(s) ({}), each holding rows where {cond}",
                cd.ranges,
                cd.samples.join(", ")
            ));
        } else {
            let n = outside.len();
            outside.truncate(localise::SAMPLES);
            kept.push(Blamed {
                found: format!("differs in {n} key range(s) outside the declared backfill (where {cond}): {}", outside.join(", ")),
                rule: DECLARED,
                ..b
            });
        }
    }
    Ok((kept, intended))
}

/// What row versions tell about the blamed columns, on PostgreSQL.
struct Versions {
    /// Still blamed, those settled by row versions with what they found.
    blamed: Vec<Blamed>,
    /// Declared backfills the run's rows kept to.
    intended: Vec<String>,
    /// Differences in ranges holding no row the run wrote: other sessions'.
    others: Vec<String>,
    /// Why row versions could not decide for a difference, where they were asked.
    fallback: Vec<String>,
}

/// Refine statement analysis with row versions: a column the change can write that differs in
/// key ranges holding no row the run wrote was changed there by other sessions. Where the run
/// did write rows, the difference stays the change's (checked against a declared backfill row
/// by row, with counts and sample keys). Only for reaches whose every row carries a recorded
/// transaction of the run ([`Reach::covered`]).
async fn by_row_versions(
    r: &mut Runner,
    table: &str,
    before: &crate::db::Fingerprint,
    diff: &localise::Difference,
    blamed: Vec<Blamed>,
    declared: &[&Backfill],
) -> Result<Versions> {
    let mut v = Versions { blamed: Vec::new(), intended: Vec::new(), others: Vec::new(), fallback: Vec::new() };
    let (Engine::Postgres, true, Some(layout)) = (r.target.engine, diff.localised, before.layout.as_ref()) else {
        v.blamed = blamed;
        return Ok(v);
    };
    let txids = r.own_transactions.txids().clone();
    let at_commit = r.own_transactions.written(table);
    for b in blamed {
        let decl = b.column.as_ref().and_then(|c| declared.iter().find(|d| d.columns.iter().any(|x| x.eq_ignore_ascii_case(c))));
        let (Some(column), true) = (b.column.clone(), b.covered) else {
            if !b.covered {
                v.fallback.push(format!(
                    "{}: the change's writes are not all in recorded transactions of the run ({})",
                    b.what,
                    b.by.join("; ")
                ));
            } else if b.what == "rows deleted" {
                v.fallback.push(format!("{}: a deleted row leaves no row version to read", b.what));
            }
            v.blamed.push(b);
            continue;
        };
        // A backfill allowed in any row needs no row versions: any difference is declared.
        if decl.is_some_and(|d| d.rows.is_none()) {
            v.blamed.push(b);
            continue;
        }
        let Some(cd) = diff.column(&column) else { continue };
        let cond = match decl.and_then(|d| d.rows.as_ref()) {
            Some(c) => Some(r.vars.render(c)?),
            None => None,
        };
        let ranges: Vec<i64> = cd.at.iter().copied().filter(|&i| i >= 0 && i < layout.count).collect();
        let q = crate::db::versions::Query { table, layout, ranges: &ranges, txids: &txids, declared: cond.as_deref() };
        let found = match r.db.row_versions(&q).await {
            Ok(Ok(found)) => found,
            Ok(Err(why)) => {
                v.fallback.push(format!("{}: {why}", b.what));
                v.blamed.push(b);
                continue;
            }
            Err(e) => return Err(Error::failed(format!("row versions of {table}: {e}"))),
        };
        let label = |i: i64| layout.label(i);
        let labels =
            |rs: &[&crate::db::versions::Range]| rs.iter().take(localise::SAMPLES).map(|x| label(x.range)).collect::<Vec<_>>().join(", ");
        let keys = |rs: &[&crate::db::versions::Range]| {
            let ks: Vec<String> =
                rs.iter().flat_map(|x| x.keys.iter()).take(crate::db::versions::KEYS).map(|k| format!("{} {k}", layout.key)).collect();
            ks.join(", ")
        };
        // The run wrote in a range if its rows are there now, or were as its step committed
        // (the application may have updated them again since, taking their versions over).
        let wrote = |x: &crate::db::versions::Range| x.by_run > 0 || at_commit.contains(&x.range);
        let written: Vec<&crate::db::versions::Range> = found.iter().filter(|x| wrote(x)).collect();
        let untouched: Vec<&crate::db::versions::Range> = found.iter().filter(|x| !wrote(x)).collect();
        let taken_over = written.iter().filter(|x| x.by_run == 0).count();
        let since = if taken_over == 0 {
            String::new()
        } else {
            format!("; in {taken_over} of those key range(s) other sessions have updated the rows the run wrote since")
        };
        // Ranges that are empty now hold no row version at all: only a delete can explain
        // them, which statement analysis judges.
        let gone = ranges.len() - found.len();
        if !untouched.is_empty() {
            v.others.push(format!(
                "column {column} differs in {} key range(s) holding no row the run wrote ({})",
                untouched.len(),
                labels(&untouched)
            ));
        }
        if gone > 0 {
            v.fallback.push(format!("column {column}: {gone} key range(s) hold no rows any more"));
            v.blamed.push(b);
            continue;
        }
        if written.is_empty() {
            continue;
        }
        let by_run: u64 = written.iter().map(|x| x.by_run).sum();
        if found.iter().all(|x| x.rows == x.by_run) && found.iter().map(|x| x.rows).sum::<u64>() > localise::MAX_RANGES as u64 {
            // Every row is the run's: a table rewrite (ALTER … TYPE, ADD COLUMN with a volatile
            // default) gave each row a new version, so versions cannot point at the writer.
            v.fallback.push(format!(
                "column {column}: every row of the {} key range(s) where it differs carries a row version of the run (a table rewrite, such as ALTER … TYPE or ADD COLUMN with a volatile default), so row versions cannot tell",
                found.len()
            ));
            v.blamed.push(b);
            continue;
        }
        match &cond {
            Some(cond) => {
                // Where the run's versions are gone, the range must at least hold a declared row.
                let outside: Vec<&crate::db::versions::Range> =
                    written.iter().copied().filter(|x| x.by_run_outside > 0 || (x.by_run == 0 && x.inside == 0)).collect();
                if outside.is_empty() {
                    v.intended.push(format!(
                        "declared backfill of {table}.{column}: differs in {} key range(s) ({}), each holding rows where {cond}; the run wrote {by_run} row(s) there, each where {cond}{since} (decided by {VERSIONS})",
                        written.len(),
                        labels(&written)
                    ));
                    continue;
                }
                let n: u64 = outside.iter().map(|x| x.by_run_outside).sum();
                v.blamed.push(Blamed {
                    found: format!(
                        "differs in {} key range(s) outside the declared backfill (where {cond}): {}",
                        outside.len(),
                        labels(&outside)
                    ),
                    rule: VERSIONS,
                    evidence: Some(if n > 0 {
                        format!("column {column}: the run wrote {n} row(s) outside the declared backfill (keys {}){since}", keys(&outside))
                    } else {
                        format!("column {column}: the run wrote rows there as its step committed, other sessions have updated them since, and no row there is declared")
                    }),
                    ..b
                });
            }
            None => v.blamed.push(Blamed {
                found: format!("differs in {} key range(s) ({})", written.len(), labels(&written)),
                rule: VERSIONS,
                evidence: Some(if by_run > 0 {
                    format!("column {column}: the run wrote {by_run} row(s) in those key range(s) (keys {}){since}", keys(&written))
                } else {
                    format!("column {column}: the run wrote rows in those key range(s) as its step committed, and other sessions have updated them since")
                }),
                ..b
            }),
        }
    }
    Ok(v)
}

/// A difference the change can have made.
struct Blamed {
    /// The column, for a column's difference.
    column: Option<String>,
    /// `column name`, `rows inserted` …
    what: String,
    /// What was found: `differs in 2 key range(s) (id 1–12, id 13–24)`.
    found: String,
    /// What of the change can have made it.
    by: Vec<String>,
    /// Every reach in `by` can be told by row versions.
    covered: bool,
    /// The rule that decided: statement analysis, declared backfill, row versions (xmin).
    rule: &'static str,
    /// What that rule found, when it adds to `found` (rows written by the run, sample keys).
    evidence: Option<String>,
}

const STATEMENTS: &str = "statement analysis";
const DECLARED: &str = "declared backfill";
const VERSIONS: &str = "row versions (xmin)";

/// The differences the change's reach covers: a changed column it can write, inserted rows when
/// it can insert, deleted rows when it can delete. Without cells to localise with (a baseline
/// from an older journal), any reach covers any difference.
fn blame(diff: &localise::Difference, could: &[Reach]) -> Vec<Blamed> {
    let texts = |f: &dyn Fn(&Reach) -> bool| {
        let hit: Vec<&Reach> = could.iter().filter(|c| f(c)).collect();
        (hit.iter().map(|c| c.text.clone()).collect::<Vec<_>>(), hit.iter().all(|c| c.covered))
    };
    let blamed = |column: Option<String>, what: String, found: String, (by, covered): (Vec<String>, bool)| Blamed {
        column,
        what,
        found,
        by,
        covered,
        rule: STATEMENTS,
        evidence: None,
    };
    if !diff.localised {
        let by = texts(&|_| true);
        return if by.0.is_empty() { Vec::new() } else { vec![blamed(None, "data".into(), "differs (not localised)".into(), by)] };
    }
    let mut out = Vec::new();
    for c in &diff.columns {
        let by = texts(&|r| r.column(&c.column));
        if !by.0.is_empty() {
            out.push(blamed(
                Some(c.column.clone()),
                format!("column {}", c.column),
                format!("differs in {} key range(s) ({})", c.ranges, c.samples.join(", ")),
                by,
            ));
        }
    }
    // Deleted rows have no row version left to read, and inserted ones are counted, not
    // localised to columns: statement analysis decides for both.
    for (n, scope, what) in [(diff.inserted, Scope::Insert, "rows inserted"), (diff.deleted, Scope::Delete, "rows deleted")] {
        let by = texts(&|r| r.scope == scope || r.scope == Scope::Any);
        if n > 0 && !by.0.is_empty() {
            out.push(blamed(None, what.into(), format!("{n} (in {})", diff.samples.join(", ")), by));
        }
    }
    out
}

/// What the change's steps before `step` (but those skipped with `--skip`) can write to the
/// existing data of `table`, each with the statement that can; empty when they write none of
/// it. A data-changing statement on a table with triggers may write anywhere, and so may a
/// statement that is not recognised, a `command` step, or an `http` request that is not a read.
fn change_writes(r: &Runner, step: &Step, table: &str, schema: &Schema) -> Result<Vec<Reach>> {
    let any = |text: String| Reach { scope: Scope::Any, text, covered: false };
    let steps = [&r.loaded.plan, &r.loaded.rollback].into_iter().find(|list| list.iter().any(|s| s.id == step.id));
    let Some(steps) = steps else { return Ok(vec![any("anything (the step is not in the runbook)".into())]) };
    let engine = r.target.engine;
    let mut out = Vec::new();
    for s in steps.iter().take_while(|s| s.id != step.id) {
        if r.opts.is_skipped(&s.id) {
            continue;
        }
        // A program or a request the runbook runs is part of the change, and may write anything.
        match &s.action {
            Action::Command(_) => out.push(any(format!("any value (command step {})", s.id))),
            Action::Http(h) if !matches!(h.method.to_ascii_uppercase().as_str(), "GET" | "HEAD" | "OPTIONS") => {
                out.push(any(format!("any value ({} request of step {})", h.method, s.id)))
            }
            _ => {}
        }
        let Action::Sql(a) = &s.action else { continue };
        // Rows written by the step's statements carry its transactions, or by a trigger they
        // fire, in the same transaction.
        let covered = engine == Engine::Postgres && r.own_transactions.covers(&s.id);
        let shown = super::statements(&a.sql, engine, &r.vars, true)?;
        for (i, stmt) in super::statements(&a.sql, engine, &r.vars, false)?.iter().enumerate() {
            let text = shown.get(i).map(|x| first_line(x)).unwrap_or_default();
            for w in writes(stmt, engine) {
                let fires = |u: &str| schema.triggers.values().any(|tr| tr.table.eq_ignore_ascii_case(u));
                let here = w.table().is_some_and(|u| u.eq_ignore_ascii_case(table));
                let of_step = |scope: Scope, text: String| Reach { scope, text, covered };
                let reach = match &w {
                    // Not recognised: it may write through another session (dblink), whose
                    // rows carry no transaction of the run.
                    Write::Anything => Some(any(format!("any value of any table ({text})"))),
                    Write::Insert { table: u } | Write::Delete { table: u } | Write::Columns { table: u, .. } if fires(u) => {
                        Some(of_step(Scope::Any, format!("any value through the triggers on {u} ({text})")))
                    }
                    _ if !here => None,
                    Write::Columns { columns, .. } => {
                        let list: Vec<String> = columns.iter().cloned().collect();
                        Some(of_step(Scope::Columns(list.clone()), format!("column {} ({text})", list.join(", "))))
                    }
                    Write::Insert { .. } => Some(of_step(Scope::Insert, format!("new rows ({text})"))),
                    Write::Delete { .. } => Some(of_step(Scope::Delete, format!("deleted rows ({text})"))),
                    Write::Table { .. } => Some(of_step(Scope::Any, format!("any value of {table} ({text})"))),
                };
                out.extend(reach);
            }
        }
    }
    Ok(out)
}

fn first_line(sql: &str) -> String {
    let one = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 80 {
        format!("{}…", one.chars().take(79).collect::<String>())
    } else {
        one
    }
}
