//! The JSON report: the run record as a stable, documented structure (see `docs/report-json.md`),
//! and its JSON Schema, generated from the same types (`docs/report.schema.json`).

use super::RunRecord;

/// Bumped when a field is removed or changes meaning; adding fields does not bump it.
pub const FORMAT_VERSION: u32 = 1;

pub fn render(rec: &RunRecord) -> String {
    serde_json::to_string_pretty(rec).unwrap_or_default() + "\n"
}

/// The JSON Schema of the JSON report, as committed in `docs/report.schema.json`.
pub fn schema() -> String {
    let mut schema = schemars::schema_for!(RunRecord);
    if let Some(meta) = schema.schema.metadata.as_mut() {
        meta.title = Some("runbook report".into());
    }
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}
