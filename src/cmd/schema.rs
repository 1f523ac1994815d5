//! `runbook schema`: the JSON Schema of the runbook format, generated from the model types.

use crate::error::Result;

pub fn run() -> Result<i32> {
    let schema = schemars::schema_for!(crate::runbook::Runbook);
    crate::ui::out(serde_json::to_string_pretty(&schema).unwrap_or_default());
    Ok(0)
}
