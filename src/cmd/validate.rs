//! `runbook validate FILE`: load the runbook, report every problem with its position, then the
//! DDL risk warnings.

use std::path::Path;

use crate::error::Result;
use crate::ui;

pub fn run(file: &Path) -> Result<i32> {
    let loaded = crate::load::load(file)?;
    let color = std::io::IsTerminal::is_terminal(&std::io::stdout());
    // Judged with the runbook's own defaults filled in: what this file alone says will run.
    let vars = crate::load::vars::Vars::defaults(&loaded.doc);
    for w in crate::lint::lint(&loaded, None, &vars) {
        ui::out(ui::diagnostic::render_warning(&w, &loaded.path, &loaded.source, color));
    }
    let defaults: Vec<(String, String)> = loaded
        .doc
        .vars
        .iter()
        .filter(|(_, d)| d.secret)
        .filter_map(|(n, d)| d.default.as_ref().map(|v| (n.clone(), v.0.clone())))
        .collect();
    for w in crate::redact::short_secret_warnings(&defaults) {
        ui::out(format!("warning: {w}"));
    }
    ui::panel::ok(format!(
        "{}: valid runbook `{}` — {} change step(s), {} rollback step(s)",
        loaded.path,
        loaded.doc.id.value,
        loaded.plan.len(),
        loaded.rollback.len()
    ));
    // A fleet runs these differently from a single run: say so before anyone starts one.
    for s in loaded.plan.iter().filter(|s| s.scope == crate::runbook::Scope::Fleet) {
        ui::out(format!("  step `{}` has scope: fleet — {}", s.id, crate::runbook::Scope::FLEET_NOTE));
    }
    Ok(0)
}
