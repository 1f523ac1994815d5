//! Rehearsal: the change plan and then the rollback plan on a scratch copy, followed by proof
//! that the copy's schema and the fingerprint of all its data are back where they started.

use crate::error::{Result, EXIT_FAILED, EXIT_OK};
use crate::journal::{Event, Outcome};
use crate::runbook::PlanKind;
use crate::ui::panel;

use super::plan::PlanResult;
use super::Runner;

#[derive(Debug, Clone)]
pub struct Rehearsal {
    /// How the scratch copy was made, for the report.
    pub copy_method: String,
    /// The rehearsed target as shown (password masked): a failed rehearsal's next command
    /// names it, since the scratch copy the run used is dropped when it ends.
    pub original: String,
}

/// Fingerprint every column of every table at the start, so that "all its data" is compared.
pub async fn take_full_fingerprint(r: &mut Runner) -> Result<()> {
    let mut fps = Vec::new();
    let tables: Vec<(String, Vec<String>)> =
        r.start_schema.tables.iter().map(|(name, t)| (name.clone(), t.columns.iter().map(|c| c.name.clone()).collect())).collect();
    for (name, cols) in tables {
        let fp = r.db.fingerprint(&name, &cols, None).await?;
        r.baselines.insert(name, fp.clone());
        fps.push(fp);
    }
    r.journal.record(Event::FingerprintBaseline { fingerprints: fps })?;
    Ok(())
}

pub async fn run_both_plans(r: &mut Runner) -> Result<(Outcome, i32)> {
    let first = r.run_plan(PlanKind::Plan).await?;
    let mut differences = Vec::new();
    match first {
        PlanResult::Passed => {}
        PlanResult::Failed { .. } => differences.push("a change-plan step failed".to_string()),
        PlanResult::Aborted | PlanResult::Interrupted => return Ok((Outcome::Interrupted, crate::error::EXIT_STOPPED)),
    }
    match r.start_rollback(super::RollbackCause::Rehearsal).await? {
        PlanResult::Passed => {}
        PlanResult::Failed { .. } => differences.push("a rollback-plan step failed".to_string()),
        PlanResult::Aborted | PlanResult::Interrupted => return Ok((Outcome::Interrupted, crate::error::EXIT_STOPPED)),
    }

    let schema = r.db.schema().await?;
    let schema_diff = r.start_schema.diff(&schema);
    let schema_equal = schema_diff.is_empty();
    differences.extend(schema_diff.iter().map(|d| format!("schema: {d}")));
    let mut data_equal = true;
    let baselines: Vec<_> = r.baselines.values().cloned().collect();
    for before in baselines {
        if schema.table(&before.table).is_none() {
            data_equal = false;
            differences.push(format!("data: table {} is gone", before.table));
            continue;
        }
        match r.db.fingerprint(&before.table, &before.columns, before.layout.as_ref()).await {
            Ok(now) if now == before => {}
            Ok(now) => {
                data_equal = false;
                // Whole hashes (a cut-off prefix can look equal), and where the data differs.
                let d = crate::db::localise::compare(&before, &now);
                differences.push(format!(
                    "data: table {}: {} rows (hash {}) before, {} rows (hash {}) after; {}",
                    before.table,
                    before.rows,
                    before.hash,
                    now.rows,
                    now.hash,
                    d.describe()
                ));
            }
            Err(e) => {
                data_equal = false;
                differences.push(format!("data: table {}: cannot fingerprint: {e}", before.table));
            }
        }
    }
    let copy_method = r.opts.rehearsal.as_ref().map(|x| x.copy_method.clone()).unwrap_or_default();
    r.journal.record(Event::RehearsalVerdict { schema_equal, data_equal, differences: differences.clone(), copy_method })?;

    crate::ui::out("");
    crate::ui::out("Rehearsal verdict (scratch copy; the target was not written):");
    let line = |ok: bool, what: &str| {
        if ok {
            panel::ok(format!("{what}: equal to the original"))
        } else {
            panel::fail(format!("{what}: DIFFERS from the original"))
        }
    };
    line(schema_equal, "schema after plan + rollback");
    line(data_equal, &format!("data fingerprint of all {} table(s)", r.baselines.len()));
    for d in &differences {
        panel::fail(d);
    }
    if differences.is_empty() {
        Ok((Outcome::Succeeded, EXIT_OK))
    } else {
        Ok((Outcome::Failed, EXIT_FAILED))
    }
}
