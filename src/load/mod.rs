//! Loading a runbook: read the file, parse the YAML, validate it and type its steps.
//!
//! Every problem found is returned at once as a list of diagnostics with file:line:column,
//! so an author fixes a runbook in one pass instead of one error per attempt.

pub mod parse;
pub mod suggest;
pub mod validate;
pub mod vars;

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::runbook::Loaded;

/// Read, parse and validate the runbook at `path`.
pub fn load(path: &Path) -> Result<Loaded> {
    let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let text = String::from_utf8(bytes).map_err(|e| Error::Invalid {
        diagnostics: vec![crate::error::Diagnostic {
            path: path.display().to_string(),
            source: Arc::from(""),
            line: 0,
            column: 0,
            message: format!("the runbook is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()),
            label: None,
            help: None,
        }],
    })?;
    load_str(&path.display().to_string(), Arc::from(text), sha256)
}

/// Parse and validate runbook text; `name` is used in diagnostics.
pub fn load_str(name: &str, source: Arc<str>, sha256: String) -> Result<Loaded> {
    let doc = parse::parse(name, &source)?;
    let dir = runbook_dir(Path::new(name));
    let (plan, rollback) = validate::validate(name, &source, &doc)?;
    let undo = crate::runbook::undo::pair(&doc, &plan, &rollback);
    Ok(Loaded { path: name.to_string(), dir, source, sha256, doc, plan, rollback, undo })
}

/// The absolute folder holding the runbook at `path` (relative paths are taken from the
/// current folder, once, here).
fn runbook_dir(path: &Path) -> std::path::PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = abs.parent().map(Path::to_path_buf).unwrap_or_else(|| std::path::PathBuf::from("/"));
    // `a/../b.yaml` → `b`'s real folder, when it exists; `absolute` keeps `..` as written.
    std::fs::canonicalize(&dir).unwrap_or(dir)
}
