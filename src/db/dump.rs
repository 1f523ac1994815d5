//! Running the servers' own dump tools (`pg_dump`, `mariadb-dump`): finding them, checking that
//! their major version fits the server, and streaming their output into the run folder while
//! hashing it, so a backup of any size costs constant memory and is hashed exactly once.

use std::ffi::OsStr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// What streaming a dump produced.
pub struct Streamed {
    pub size: u64,
    pub sha256: String,
    /// The last bytes of the dump, for completion markers.
    pub tail: Vec<u8>,
}

const TAIL: usize = 4096;

/// `program --version`, or `None` when the program is not installed.
pub async fn tool_version(program: &str) -> Result<Option<String>> {
    let out = tokio::process::Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await;
    match out {
        Ok(o) if o.status.success() => Ok(Some(String::from_utf8_lossy(&o.stdout).trim().to_string())),
        Ok(o) => Err(Error::failed(format!("`{program} --version` failed: {}", String::from_utf8_lossy(&o.stderr).trim()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::failed(format!("cannot run {program}: {e}"))),
    }
}

/// Where to run a PostgreSQL client tool from, for a server of major version `server_major`.
/// Debian and Ubuntu put a Perl wrapper (`pg_wrapper`) on PATH that chooses a version and then
/// starts the real program; starting Perl costs about 20 ms a call, a tenth of a 1M-row backup.
/// When PATH leads to that wrapper, run the newest installed major that can dump this server
/// directly, as the wrapper would. Anything else on PATH is used as found.
pub fn pg_tool(name: &str, server_major: u32) -> PathBuf {
    let Ok(found) = which::which(name) else { return PathBuf::from(name) };
    let wrapped = std::fs::canonicalize(&found).is_ok_and(|p| p.file_name() == Some(OsStr::new("pg_wrapper")));
    if !wrapped {
        return found;
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|v| v.parse::<u32>().ok()))
        .filter(|&major| major >= server_major)
        .map(|major| (major, PathBuf::from(format!("/usr/lib/postgresql/{major}/bin/{name}"))))
        .filter(|(_, p)| p.is_file())
        .max_by_key(|(major, _)| *major);
    newest.map_or(found, |(_, p)| p)
}

/// The first `major.minor…` number found in a version banner, as its numeric parts.
pub fn version_numbers(banner: &str) -> Option<Vec<u32>> {
    banner.split(|c: char| !(c.is_ascii_digit() || c == '.')).find_map(|w| {
        let parts: Vec<u32> = w.split('.').filter(|p| !p.is_empty()).map_while(|p| p.parse().ok()).collect();
        (parts.len() >= 2 && w.contains('.')).then_some(parts)
    })
}

/// Deletes a file when dropped unless disarmed: partial backups and option files never linger.
pub struct RemoveOnDrop {
    path: Option<PathBuf>,
}

impl RemoveOnDrop {
    pub fn new(path: &Path) -> Self {
        RemoveOnDrop { path: Some(path.to_path_buf()) }
    }
    pub fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Credential option files that exist right now. A second signal exits the process without
/// running destructors, so the exit path removes these itself ([`remove_credential_files`]).
static CREDENTIAL_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A file holding a password for a client tool: removed when dropped, and by
/// [`remove_credential_files`] on an exit that skips destructors.
pub struct CredentialFile {
    path: PathBuf,
}

impl CredentialFile {
    /// Register `path` before it is written, so no moment exists where it is on disk unknown.
    pub fn new(path: &Path) -> Self {
        if let Ok(mut files) = CREDENTIAL_FILES.lock() {
            files.push(path.to_path_buf());
        }
        CredentialFile { path: path.to_path_buf() }
    }
}

impl Drop for CredentialFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if let Ok(mut files) = CREDENTIAL_FILES.lock() {
            files.retain(|p| p != &self.path);
        }
    }
}

/// Remove every credential file this process still has: called on the exit paths that skip
/// destructors (a second signal).
pub fn remove_credential_files() {
    // try_lock: the exit path must not wait on a lock a stopped thread may hold.
    if let Ok(files) = CREDENTIAL_FILES.try_lock() {
        for p in files.iter() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The name of the credential option file for `stem` in `dir`: hidden, ending `.cnf`, so that
/// [`remove_stale_credentials`] recognises one left by a killed process.
pub fn credential_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!(".{stem}.cnf"))
}

/// Remove credential option files a killed process left in `dir`; returns the names removed.
pub fn remove_stale_credentials(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with('.') && name.ends_with(".cnf") && std::fs::remove_file(e.path()).is_ok() {
            removed.push(name);
        }
    }
    removed
}

/// Create `path` for the owner only; it must not exist yet.
pub fn create_private(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(|e| Error::write(path, e))
}

/// Run `program args…` with `envs`, writing its standard output to `path` (created 0600) and
/// hashing it on the way. A non-zero exit is an error that quotes the tool's standard error.
/// The caller removes `path` on failure.
///
/// The copy runs on a blocking thread with plain reads and writes: the dump tool stalls whenever
/// its pipe is full, so every microsecond per chunk here is a microsecond the dump waits. If the
/// future is dropped (a step timeout), the tool is killed.
pub async fn stream_to_file<I, S>(program: &str, args: I, envs: &[(&str, String)], path: &Path) -> Result<Streamed>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    use std::io::{Read, Write};
    let mut file = create_private(path)?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|e| Error::failed(format!("cannot start {program}: {e}")))?;
    let mut stdout = child.stdout.take().ok_or_else(|| Error::failed(format!("{program}: no output pipe")))?;
    let mut stderr = child.stderr.take().ok_or_else(|| Error::failed(format!("{program}: no error pipe")))?;
    widen_pipe(&stdout);
    let child = Arc::new(Mutex::new(child));
    let _kill = KillOnDrop(child.clone());
    // Read standard error alongside, so a chatty tool can never block on a full pipe.
    let errors = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut chunk) {
            if n == 0 {
                break;
            }
            if buf.len() < 16 * 1024 {
                buf.extend_from_slice(&chunk[..n]);
            }
        }
        String::from_utf8_lossy(&buf).trim().to_string()
    });
    let out_path = path.to_path_buf();
    let name = program.to_string();
    let copied = tokio::task::spawn_blocking(move || -> Result<(u64, String, Vec<u8>)> {
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut tail: Vec<u8> = Vec::with_capacity(2 * TAIL);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match stdout.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::failed(format!("reading from {name}: {e}"))),
            };
            let chunk = &buf[..n];
            hasher.update(chunk);
            file.write_all(chunk).map_err(|e| Error::write(&out_path, e))?;
            size += n as u64;
            tail.extend_from_slice(&chunk[n.saturating_sub(TAIL)..]);
            if tail.len() > TAIL {
                tail.drain(..tail.len() - TAIL);
            }
        }
        file.sync_all().map_err(|e| Error::write(&out_path, e))?;
        crate::durable::sync_parent(&out_path)?;
        Ok((size, hex::encode(hasher.finalize()), tail))
    })
    .await
    .map_err(|e| Error::failed(format!("{program}: copy thread failed: {e}")))?;
    let waiter = child.clone();
    let status = tokio::task::spawn_blocking(move || waiter.lock().map_err(|_| std::io::Error::other("poisoned"))?.wait())
        .await
        .map_err(|e| Error::failed(format!("waiting for {program}: {e}")))?
        .map_err(|e| Error::failed(format!("waiting for {program}: {e}")))?;
    let errors = errors.join().unwrap_or_default();
    if !status.success() {
        let why = if errors.is_empty() { format!("{status}") } else { errors };
        return Err(Error::failed(format!("{program} failed: {why}")));
    }
    let (size, sha256, tail) = copied?;
    Ok(Streamed { size, sha256, tail })
}

/// Ask for a 1 MiB pipe: with the default 64 KiB the dump tool is woken for every few lines it
/// writes, which on a busy machine costs more than the copy itself. Best effort.
#[cfg(target_os = "linux")]
fn widen_pipe(pipe: &std::process::ChildStdout) {
    use std::os::fd::AsRawFd;
    // SAFETY: F_SETPIPE_SZ on a pipe descriptor we own; failure only leaves the default size.
    unsafe {
        libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20);
    }
}

#[cfg(not(target_os = "linux"))]
fn widen_pipe(_: &std::process::ChildStdout) {}

/// Kills the dump tool if the step is abandoned before the tool finished.
struct KillOnDrop(Arc<Mutex<std::process::Child>>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(mut c) = self.0.lock() {
            if matches!(c.try_wait(), Ok(None)) {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_version_banners() {
        assert_eq!(version_numbers("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"), Some(vec![15, 20]));
        assert_eq!(version_numbers("mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian"), Some(vec![10, 19]));
        assert_eq!(version_numbers("no digits"), None);
    }
}
