//! The targets file: which databases a fleet changes, with per-target variables and labels.
//!
//! Passwords never live in this file: a `db` URL names them as `${ENV_NAME}`, filled from the
//! environment when the fleet runs, and a literal password is refused.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::db::Target;
use crate::error::{Error, Result};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    targets: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    db: String,
    #[serde(default)]
    vars: BTreeMap<String, String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// One database of the fleet.
#[derive(Debug, Clone)]
pub struct FleetTarget {
    pub name: String,
    /// The URL as written, with `${…}` references unexpanded (safe to record).
    pub db_template: String,
    pub vars: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

impl FleetTarget {
    /// The URL with its `${ENV}` references filled from the environment.
    pub fn db_url(&self) -> Result<String> {
        expand_env(&self.db_template).map_err(|name| {
            Error::usage(format!("target `{}`: its db URL uses ${{{name}}}, but the environment variable {name} is not set", self.name))
        })
    }

    /// The database without credentials, for records and reports.
    pub fn display(&self) -> String {
        match self.db_url().and_then(|u| Target::parse(&u)) {
            Ok(t) => t.display(),
            Err(_) => crate::db::target::redact_url(&self.db_template),
        }
    }
}

/// Read and check a targets file.
pub fn load(path: &Path) -> Result<Vec<FleetTarget>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
    let file: File = serde_saphyr::from_str(&text).map_err(|e| Error::usage(format!("{}: {e}", path.display())))?;
    let mut seen = BTreeMap::new();
    let mut out = Vec::with_capacity(file.targets.len());
    for (i, e) in file.targets.into_iter().enumerate() {
        let at = format!("{}: target {} (`{}`)", path.display(), i + 1, e.name);
        if e.name.is_empty()
            || !e.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || e.name.starts_with('.')
        {
            return Err(Error::usage(format!("{at}: a target name is letters, digits, `-`, `_` and `.` (it names the target's folder)")));
        }
        if let Some(first) = seen.insert(e.name.clone(), i + 1) {
            return Err(Error::usage(format!("{at}: the name is used by target {first} already")));
        }
        // A password written out in the file would end up in copies, diffs and backups of it.
        let literal = Target::parse(&e.db).ok().and_then(|t| t.password).filter(|p| !p.contains("${"));
        if literal.is_some() {
            return Err(Error::usage(format!(
                "{at}: the db URL holds a password; write it as ${{ENV_NAME}} and set that environment variable"
            )));
        }
        let t = FleetTarget { name: e.name, db_template: e.db, vars: e.vars, labels: e.labels };
        let url = t.db_url()?;
        Target::parse(&url).map_err(|err| Error::usage(format!("{at}: {err}")))?;
        out.push(t);
    }
    if out.is_empty() {
        return Err(Error::usage(format!("{}: lists no targets", path.display())));
    }
    Ok(out)
}

/// Keep the targets whose labels match every `LABEL=VALUE` of `select`.
pub fn select(targets: Vec<FleetTarget>, select: &[(String, String)]) -> Result<Vec<FleetTarget>> {
    let kept: Vec<FleetTarget> =
        targets.into_iter().filter(|t| select.iter().all(|(k, v)| t.labels.get(k).is_some_and(|have| have == v))).collect();
    if kept.is_empty() {
        let wanted: Vec<String> = select.iter().map(|(k, v)| format!("{k}={v}")).collect();
        return Err(Error::usage(format!("no target matches --select {}", wanted.join(" "))));
    }
    Ok(kept)
}

/// Fill `${NAME}` from the environment; the error is the first name that is not set.
fn expand_env(s: &str) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        let value = std::env::var(name).map_err(|_| name.to_string())?;
        // The value goes into a URL: characters that would end the password are encoded.
        out.push_str(&percent_encoding::utf8_percent_encode(&value, percent_encoding::NON_ALPHANUMERIC).to_string());
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_references_are_filled_and_encoded() {
        std::env::set_var("RUNBOOK_FLEET_UNIT_PW", "p@ss/w");
        assert_eq!(expand_env("postgres://u:${RUNBOOK_FLEET_UNIT_PW}@h/db").unwrap(), "postgres://u:p%40ss%2Fw@h/db");
        assert_eq!(expand_env("x${RUNBOOK_FLEET_UNIT_UNSET}").unwrap_err(), "RUNBOOK_FLEET_UNIT_UNSET");
    }

    #[test]
    fn literal_passwords_and_bad_names_are_refused() {
        let dir = std::env::temp_dir().join(format!("runbook-fleet-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.yaml");
        std::fs::write(&p, "targets:\n  - name: a\n    db: postgres://u:secret@h/db\n").unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("holds a password"), "{e}");
        assert!(!e.contains("secret"), "{e}");
        std::fs::write(&p, "targets:\n  - name: a/b\n    db: sqlite://x.db\n").unwrap();
        assert!(load(&p).unwrap_err().to_string().contains("a target name is"));
        std::fs::write(&p, "targets:\n  - name: a\n    db: sqlite://x.db\n  - name: a\n    db: sqlite://y.db\n").unwrap();
        assert!(load(&p).unwrap_err().to_string().contains("used by target 1"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
