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
    /// The password in the URL, if any, decoded: for the client tools and for redaction.
    pub password: Option<String>,
    /// The URL asks for a read-only connection (`sqlite://FILE?mode=ro`): every connection to
    /// the target is then opened read-only, so a write fails at the database, not silently.
    pub read_only: bool,
}

/// The URL query options each engine honours. Every one of them reaches both the driver and the
/// client tools (pg_dump takes the URL itself; the MariaDB/MySQL tools get a private option
/// file holding only what it can express), so an option outside this list is refused: dropping
/// it would connect differently from what the operator asked for.
pub fn supported_options(engine: Engine) -> &'static [&'static str] {
    match engine {
        Engine::Sqlite => &["mode"],
        Engine::Postgres => &["sslmode", "sslrootcert", "sslcert", "sslkey", "application_name", "options", "password"],
        Engine::Mysql => &["password", "socket"],
    }
}

/// Refuse a query option `engine` does not honour, naming it and the supported ones.
fn check_options(engine: Engine, pairs: impl Iterator<Item = (String, String)>, shown: &str) -> Result<Vec<(String, String)>> {
    let supported = supported_options(engine);
    let pairs: Vec<(String, String)> = pairs.collect();
    for (k, _) in &pairs {
        if !supported.contains(&k.as_str()) {
            return Err(Error::usage(format!(
                "`{shown}`: the URL option `{k}` is not supported for {engine}; supported: {}",
                supported.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(pairs)
}

impl Target {
    pub fn parse(raw: &str) -> Result<Target> {
        let raw = raw.trim();
        if let Some(rest) = raw.strip_prefix("sqlite:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let (path_part, query) = rest.split_once('?').unwrap_or((rest, ""));
            if path_part.is_empty() {
                return Err(Error::usage(format!("`{raw}` names no SQLite file; write sqlite://path/to/file.db")));
            }
            let pairs = url::form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()));
            let mut read_only = false;
            for (_, mode) in check_options(Engine::Sqlite, pairs, raw)? {
                // `rwc` would create a missing file: runbook never creates the database it changes.
                read_only = match mode.as_str() {
                    "ro" => true,
                    "rw" => false,
                    other => {
                        return Err(Error::usage(format!(
                            "`{raw}`: SQLite `mode={other}` is not supported; use mode=ro (read-only) or mode=rw"
                        )))
                    }
                };
            }
            return Ok(Target {
                engine: Engine::Sqlite,
                url: raw.to_string(),
                path: Some(PathBuf::from(path_part)),
                password: None,
                read_only,
            });
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
        check_options(engine, url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())), &redact_url(raw))?;
        // sqlx also takes the password as a query parameter; it is as secret there.
        let password =
            url.password().map(percent_decode).or_else(|| url.query_pairs().find(|(k, _)| k == "password").map(|(_, v)| v.into_owned()));
        Ok(Target { engine, url: raw.to_string(), path: None, password, read_only: false })
    }

    /// Every form of the URL's password that output may show: decoded, and as typed (the
    /// author's own percent-encoding), for the redactor.
    pub fn secrets(&self) -> Vec<String> {
        let typed = Url::parse(&self.url).ok().and_then(|u| u.password().map(str::to_string));
        self.password.iter().cloned().chain(typed).collect()
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

/// Replace the password of a URL with `***`: in the user part and in a `password` query
/// parameter. A string that does not parse as a URL still has whatever sits between
/// `scheme://user:` and `@` masked, since a typo elsewhere must not print the password.
pub fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            // A database URL has no fragment: one there is most likely a password with a `#`.
            if u.fragment().is_some() {
                u.set_fragment(Some("***"));
            }
            replace_query_password(&mut u, Some("***"));
            u.to_string()
        }
        Err(_) => unparsed_userinfo().replace(raw, "${1}***@").into_owned(),
    }
}

/// Replace the value of a `password` query parameter with `with`, or drop the parameter.
pub fn replace_query_password(u: &mut Url, with: Option<&str>) {
    if !u.query_pairs().any(|(k, _)| k == "password") {
        return;
    }
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .filter_map(|(k, v)| match (k == "password", with) {
            (true, None) => None,
            (true, Some(w)) => Some((k.into_owned(), w.to_string())),
            (false, _) => Some((k.into_owned(), v.into_owned())),
        })
        .collect();
    if pairs.is_empty() {
        u.set_query(None);
    } else {
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
}

/// `scheme://user:` then anything up to the last `@` before the host: the password of a URL
/// too broken to parse.
fn unparsed_userinfo() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@]*:)[^\s]*@").expect("valid pattern"))
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
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
    fn honours_or_refuses_each_query_option() {
        assert!(Target::parse("sqlite://a.db?mode=ro").unwrap().read_only);
        assert!(!Target::parse("sqlite://a.db?mode=rw").unwrap().read_only);
        assert_eq!(Target::parse("sqlite://a.db?mode=ro").unwrap().path.unwrap(), PathBuf::from("a.db"));
        assert!(Target::parse("sqlite://a.db?mode=rwc").is_err());
        assert!(Target::parse("postgres://u@h/db?sslmode=require&application_name=rb").is_ok());
        let e = Target::parse("postgres://u@h/db?sslmod=require&password=Secr3tPw").unwrap_err().to_string();
        assert!(e.contains("`sslmod`") && e.contains("`sslmode`") && !e.contains("Secr3tPw"), "{e}");
        assert!(Target::parse("mysql://u@h/db?ssl-mode=REQUIRED").is_err());
        assert!(Target::parse("mysql://u@h/db?socket=/run/mysqld/mysqld.sock").is_ok());
    }

    #[test]
    fn never_shows_the_password() {
        let t = Target::parse("postgres://app:p%40ss@db:5432/prod").unwrap();
        assert_eq!(t.password.as_deref(), Some("p@ss"));
        assert!(!t.display().contains("p%40ss"));
        assert!(!t.identity().contains("p%40ss"));
    }

    #[test]
    fn masks_query_passwords_and_urls_too_broken_to_parse() {
        let t = Target::parse("postgres://app@db:5432/prod?sslmode=disable&password=QuerySecr3t").unwrap();
        assert_eq!(t.password.as_deref(), Some("QuerySecr3t"));
        assert_eq!(t.display(), "postgres://app@db:5432/prod?sslmode=disable&password=***");
        for broken in [
            "mysql://qauser:Pw#Secr3t@127.0.0.1:3306/qa_1",
            "mysql://u:123#Secr3t@h/db",
            "postgresql://u:PgSecr3t@[::1:5432/db",
            "mysql://u:a/b?c@h/db",
        ] {
            let shown = redact_url(broken);
            assert!(!shown.contains("Secr3t") && !shown.contains("a/b?c"), "{broken} shown as {shown}");
            let said = match Target::parse(broken) {
                Ok(t) => t.display(),
                Err(e) => e.to_string(),
            };
            assert!(!said.contains("Secr3t") && !said.contains("a/b?c"), "{said}");
        }
    }
}
