//! Making what runbook writes survive a crash or a power cut: a file counts as written only once
//! its bytes are on disk, and a new file only once the directory entry that names it is too.

use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Write a file readable by its owner only, and flush it and its directory entry to disk.
/// A pipe or device (`-o /dev/stdout`) is written but has nothing to flush. A run's journal
/// and backups are never written over (see [`refuse_evidence`]).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    refuse_evidence(path)?;
    let mut f =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path).map_err(|e| Error::write(path, e))?;
    f.write_all(bytes).map_err(|e| Error::write(path, e))?;
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        return Ok(());
    }
    f.sync_all().map_err(|e| Error::write(path, e))?;
    sync_parent(path)
}

/// Flush a file that something else wrote (SQLite's `VACUUM INTO`, say) to disk.
pub fn sync_file(path: &Path) -> Result<()> {
    std::fs::File::open(path).and_then(|f| f.sync_all()).map_err(|e| Error::write(path, e))
}

/// Flush the directory holding `path`, so a file created there is still named after a power
/// cut. fsync on the file alone makes its bytes durable but not, on every filesystem, its name.
pub fn sync_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(dir) => sync_dir(if dir.as_os_str().is_empty() { Path::new(".") } else { dir }),
        None => Ok(()),
    }
}

/// Flush a directory's entries to disk. A folder the user may write but not read cannot be
/// opened to flush, and some filesystems cannot flush directories at all: the file itself is
/// written and flushed by then, so neither is a reason to fail the command.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let d = match std::fs::File::open(dir) {
        Ok(d) => d,
        Err(e) if e.kind() == ErrorKind::PermissionDenied => return Ok(()),
        Err(e) => return Err(Error::write(dir, e)),
    };
    match d.sync_all() {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
        other => other.map_err(|e| Error::write(dir, e)),
    }
}

/// The evidence of a run is read-only to the tool itself: a path that is (or links to) a run
/// folder's journal or one of its backups is refused, whatever name it is given by.
pub fn refuse_evidence(path: &Path) -> Result<()> {
    // Resolve links and `..`, so that another name for the same file is caught too; a file
    // that does not exist yet is judged by its resolved folder.
    let resolved = std::fs::canonicalize(path).ok().or_else(|| {
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Some(std::fs::canonicalize(parent).ok()?.join(path.file_name()?))
    });
    let Some(resolved) = resolved else { return Ok(()) };
    let (Some(dir), Some(name)) = (resolved.parent(), resolved.file_name().and_then(|n| n.to_str())) else { return Ok(()) };
    if !dir.join(crate::journal::FILE_NAME).is_file() {
        return Ok(());
    }
    let what = if name == crate::journal::FILE_NAME {
        "the journal"
    } else if name.starts_with("backup-") {
        "a backup"
    } else {
        return Ok(());
    };
    Err(Error::usage(format!(
        "{}: that is {what} of the run in {}; runbook never writes over a run's evidence: choose another path",
        path.display(),
        dir.display()
    )))
}
