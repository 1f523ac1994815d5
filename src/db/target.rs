//! A database target: its engine, its URL, how to show it without secrets, and a stable
//! identity used for locks and for finding earlier runs against the same database.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    Sqlite,
    Postgres,
    Mysql,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    pub engine: Engine,
    /// The URL as given (may hold a password: never print it, use `display`).
    pub url: String,
    /// For SQLite, the database file.
    pub path: Option<PathBuf>,
    /// The password in the URL, if any, for redaction.
    pub password: Option<String>,
}

impl Target {
    pub fn parse(raw: &str) -> Result<Target> {
        let raw = raw.trim();
        if let Some(rest) = raw.strip_prefix("sqlite:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let path_part = rest.split('?').next().unwrap_or(rest);
            if path_part.is_empty() {
                return Err(Error::usage(format!("`{raw}` names no SQLite file; write sqlite://path/to/file.db")));
            }
            return Ok(Target { engine: Engine::Sqlite, url: raw.to_string(), path: Some(PathBuf::from(path_part)), password: None });
        }
        let url = Url::parse(raw).map_err(|e| {
            Error::usage(format!(
                "`{}` is not a database URL ({e}); use sqlite://FILE, postgres://USER@HOST/DB or mysql://USER@HOST/DB",
                redact_url(raw)
            ))
        })?;
        let engine = match url.scheme() {
            "postgres" | "postgresql" => Engine::Postgres,
            "mysql" | "mariadb" => Engine::Mysql,
            other => {
                return Err(Error::usage(format!(
                    "unsupported database scheme `{other}:`; use sqlite://, postgres://, mysql:// or mariadb://"
                )))
            }
        };
        let password = url.password().map(percent_decode);
        Ok(Target { engine, url: raw.to_string(), path: None, password })
    }

    /// The URL with any password replaced, safe for output and journals.
    pub fn display(&self) -> String {
        redact_url(&self.url)
    }

    /// A stable identity of the database (no password): engine, host, port, database or file.
    pub fn identity(&self) -> String {
        match self.engine {
            Engine::Sqlite => {
                let p = self.path.clone().unwrap_or_default();
                let canon = std::fs::canonicalize(&p).unwrap_or(p);
                format!("sqlite:{}", canon.display())
            }
            _ => match Url::parse(&self.url) {
                Ok(u) => format!(
                    "{}://{}@{}:{}{}",
                    self.engine,
                    u.username(),
                    u.host_str().unwrap_or(""),
                    u.port().unwrap_or(if self.engine == Engine::Postgres { 5432 } else { 3306 }),
                    u.path()
                ),
                Err(_) => self.display(),
            },
        }
    }

    /// The URL for sqlx: `mariadb://` is spelled `mysql://` there.
    pub fn driver_url(&self) -> String {
        if let Some(rest) = self.url.strip_prefix("mariadb://") {
            format!("mysql://{rest}")
        } else {
            self.url.clone()
        }
    }
}

/// Replace the password of a URL with `***`.
pub fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => raw.to_string(),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_engines() {
        assert_eq!(Target::parse("sqlite:///tmp/a.db").unwrap().path.unwrap(), PathBuf::from("/tmp/a.db"));
        assert_eq!(Target::parse("sqlite://rel/a.db").unwrap().path.unwrap(), PathBuf::from("rel/a.db"));
        assert_eq!(Target::parse("postgres://u@h/db").unwrap().engine, Engine::Postgres);
        assert_eq!(Target::parse("mariadb://root@h/db").unwrap().driver_url(), "mysql://root@h/db");
        assert!(Target::parse("oracle://x").is_err());
    }

    #[test]
    fn never_shows_the_password() {
        let t = Target::parse("postgres://app:p%40ss@db:5432/prod").unwrap();
        assert_eq!(t.password.as_deref(), Some("p@ss"));
        assert!(!t.display().contains("p%40ss"));
        assert!(!t.identity().contains("p%40ss"));
    }
}
