//! Variables: `${name}` references, their values and the masking of secret ones.
//!
//! Values come from `--var`, then the var's `env`, then its `default`. A handful of built-in
//! names describe the run itself (`run_id`, `run_dir`, `operator`, `runbook_dir`, `db_url`).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::runbook::Runbook;

/// Names every runbook may use without declaring them.
pub const BUILTINS: &[&str] = &["run_id", "run_dir", "operator", "runbook_dir", "db_url"];

/// What secrets are replaced with wherever they would be shown.
pub const MASK: &str = "********";

/// A `${name}` found in a string: byte offset of the `$` and the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    pub offset: usize,
    pub name: String,
}

/// A malformed reference, such as `${` with no closing brace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRef {
    pub offset: usize,
    pub message: String,
}

/// Every reference in `s`. `$${` is an escaped literal `${`.
pub fn references(s: &str) -> std::result::Result<Vec<Ref>, BadRef> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'$' && b[i + 1] == b'$' {
            i += 2;
            continue;
        }
        if b[i] == b'$' && b[i + 1] == b'{' {
            let start = i + 2;
            let end = s[start..]
                .find('}')
                .map(|e| start + e)
                .ok_or_else(|| BadRef { offset: i, message: "`${` without a closing `}`".into() })?;
            let name = &s[start..end];
            if !valid_name(name) {
                return Err(BadRef {
                    offset: i,
                    message: format!("`${{{name}}}` is not a valid variable name (letters, digits and _ only)"),
                });
            }
            out.push(Ref { offset: i, name: name.to_string() });
            i = end + 1;
            continue;
        }
        i += 1;
    }
    Ok(out)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Resolved variable values for one run.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, String>,
    secret: BTreeSet<String>,
    /// Declared names without a value; using one is an error that says how to set it.
    unset: BTreeSet<String>,
    /// How a value is shown when it is not secret but holds one (a URL with a password).
    shown: BTreeMap<String, String>,
    /// Names whose value is the runbook's `default`: runbook text, so its own `${…}` references
    /// are filled in too. A value from `--var` or the environment is taken as it is.
    templated: BTreeSet<String>,
    /// Names marked `sql: true`: their value is SQL text and may shape a statement.
    sql_text: BTreeSet<String>,
    /// Names given with `--var`: a command suggested for later must give them again.
    given: BTreeSet<String>,
}

/// How deep defaults may refer to defaults; deeper means a cycle.
const MAX_NESTING: usize = 8;

impl Vars {
    /// The runbook's own values only (`default`s), as `validate` knows them: no `--var`, no
    /// environment, so that validating a file gives the same answer on every machine.
    pub fn defaults(doc: &Runbook) -> Vars {
        let mut vars = Vars::default();
        for (name, def) in &doc.vars {
            if def.secret {
                vars.secret.insert(name.clone());
            }
            if def.sql {
                vars.sql_text.insert(name.clone());
            }
            match &def.default {
                Some(d) => {
                    if d.0.contains("${") {
                        vars.templated.insert(name.clone());
                    }
                    vars.values.insert(name.clone(), d.0.clone());
                }
                None => {
                    vars.unset.insert(name.clone());
                }
            }
        }
        vars
    }

    /// Resolve the runbook's vars against `--var` overrides and the environment.
    pub fn resolve(doc: &Runbook, overrides: &[(String, String)]) -> Result<Vars> {
        let mut vars = Vars::default();
        for (key, _) in overrides {
            if !doc.vars.contains_key(key) && !BUILTINS.contains(&key.as_str()) {
                let known: Vec<&str> = doc.vars.keys().map(String::as_str).collect();
                return Err(Error::usage(format!(
                    "--var {key}=…: the runbook declares no variable `{key}` (declared: {})",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                )));
            }
        }
        for (name, def) in &doc.vars {
            if def.secret {
                vars.secret.insert(name.clone());
            }
            if def.sql {
                vars.sql_text.insert(name.clone());
            }
            let from_cli = overrides.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            if from_cli.is_some() {
                vars.given.insert(name.clone());
            }
            let from_env = def.env.as_ref().and_then(|e| std::env::var(e).ok());
            let from_default = from_cli.is_none() && from_env.is_none();
            match from_cli.or(from_env).or_else(|| def.default.as_ref().map(|d| d.0.clone())) {
                Some(v) => {
                    if from_default && v.contains("${") {
                        vars.templated.insert(name.clone());
                    }
                    vars.values.insert(name.clone(), v);
                }
                None => {
                    vars.unset.insert(name.clone());
                }
            }
        }
        Ok(vars)
    }

    /// The names given with `--var`, in name order.
    pub fn given(&self) -> impl Iterator<Item = &str> {
        self.given.iter().map(String::as_str)
    }

    /// Set a built-in or computed value.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.unset.remove(name);
        self.templated.remove(name);
        self.values.insert(name.to_string(), value.into());
    }

    /// Set a value that is shown differently, e.g. a database URL with its password masked.
    pub fn set_shown(&mut self, name: &str, value: impl Into<String>, shown: impl Into<String>) {
        self.set(name, value);
        self.shown.insert(name.to_string(), shown.into());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn is_secret(&self, name: &str) -> bool {
        self.secret.contains(name)
    }

    /// Whether the runbook marks `name` as SQL text (`sql: true`).
    pub fn is_sql_text(&self, name: &str) -> bool {
        self.sql_text.contains(name)
    }

    /// The secret variables `s` refers to, directly or through a default that refers to them.
    pub fn secrets_in(&self, s: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_secrets(s, 0, &mut out);
        out
    }

    fn collect_secrets(&self, s: &str, depth: usize, out: &mut Vec<String>) {
        for r in references(s).unwrap_or_default() {
            if self.secret.contains(&r.name) && !out.contains(&r.name) {
                out.push(r.name.clone());
            }
            if let (Some(v), true) = (self.values.get(&r.name), depth < MAX_NESTING && self.templated.contains(&r.name)) {
                self.collect_secrets(v, depth + 1, out);
            }
        }
    }

    /// Render `s` with `name`'s value replaced by `stand_in`: the same text as the run would
    /// send, but for that one value, to see what the value itself changes.
    pub fn render_with(&self, s: &str, name: &str, stand_in: &str) -> Result<String> {
        let mut v = self.clone();
        v.set(name, stand_in);
        v.render(s)
    }

    /// Each secret variable's name and value.
    pub fn secret_pairs(&self) -> Vec<(String, String)> {
        self.secret.iter().filter_map(|n| self.values.get(n).map(|v| (n.clone(), v.clone()))).collect()
    }

    /// The values of secret vars, for redaction.
    pub fn secret_values(&self) -> Vec<String> {
        self.secret.iter().filter_map(|n| self.values.get(n).cloned()).collect()
    }

    /// Substitute every reference with its value.
    pub fn render(&self, s: &str) -> Result<String> {
        self.substitute(s, false)
    }

    /// Substitute references, showing secrets as [`MASK`]; never fails, for display.
    pub fn mask(&self, s: &str) -> String {
        self.substitute(s, true).unwrap_or_else(|_| s.to_string())
    }

    /// Substitute every reference that has a value, secrets included, and leave the others as
    /// written (`${name}`): the text as it will run as far as it is known yet, for the checks
    /// that judge SQL before a run (`validate` knows only the defaults). Never fails.
    pub fn render_known(&self, s: &str) -> String {
        self.substitute_known(s, 0)
    }

    fn substitute_known(&self, s: &str, depth: usize) -> String {
        let Ok(refs) = references(s) else { return s.to_string() };
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for r in refs {
            out.push_str(&unescape(&s[last..r.offset]));
            match self.values.get(&r.name) {
                Some(v) if self.templated.contains(&r.name) && depth < MAX_NESTING => out.push_str(&self.substitute_known(v, depth + 1)),
                Some(v) => out.push_str(v),
                None => out.push_str(&s[r.offset..r.offset + r.name.len() + 3]),
            }
            last = r.offset + r.name.len() + 3;
        }
        out.push_str(&unescape(&s[last..]));
        out
    }

    /// Names referenced by `s` that have no value.
    pub fn missing_in(&self, s: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_missing(s, 0, &mut out);
        out
    }

    fn collect_missing(&self, s: &str, depth: usize, out: &mut Vec<String>) {
        for r in references(s).unwrap_or_default() {
            match self.values.get(&r.name) {
                None => out.push(r.name),
                Some(v) if depth < MAX_NESTING && self.templated.contains(&r.name) => self.collect_missing(v, depth + 1, out),
                Some(_) => {}
            }
        }
    }

    fn substitute(&self, s: &str, masked: bool) -> Result<String> {
        self.substitute_at(s, masked, 0)
    }

    fn substitute_at(&self, s: &str, masked: bool, depth: usize) -> Result<String> {
        if depth > MAX_NESTING {
            return Err(Error::usage(format!("variable defaults refer to each other more than {MAX_NESTING} deep (a cycle?): `{s}`")));
        }
        let refs = references(s).map_err(|e| Error::usage(e.message))?;
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for r in refs {
            out.push_str(&unescape(&s[last..r.offset]));
            match self.values.get(&r.name) {
                Some(_) if masked && self.secret.contains(&r.name) => out.push_str(MASK),
                Some(_) if masked && self.shown.contains_key(&r.name) => out.push_str(&self.shown[&r.name]),
                Some(v) if self.templated.contains(&r.name) => out.push_str(&self.substitute_at(v, masked, depth + 1)?),
                Some(v) => out.push_str(v),
                None if masked => {
                    out.push_str("${");
                    out.push_str(&r.name);
                    out.push('}');
                }
                None => return Err(self.unset_error(&r.name)),
            }
            last = r.offset + r.name.len() + 3;
        }
        out.push_str(&unescape(&s[last..]));
        Ok(out)
    }

    fn unset_error(&self, name: &str) -> Error {
        if self.unset.contains(name) {
            Error::usage(format!("variable `{name}` has no value: pass --var {name}=VALUE (or set its `env` or `default` in the runbook)"))
        } else {
            Error::usage(format!("variable `{name}` is not defined"))
        }
    }
}

fn unescape(s: &str) -> String {
    s.replace("$${", "${")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a default such as `${run_dir}/extract.csv` reached commands unexpanded.
    #[test]
    fn defaults_may_refer_to_other_variables_but_given_values_are_taken_as_they_are() {
        let doc: crate::runbook::Runbook = serde_json::from_value(serde_json::json!({
            "version": 1, "id": "x",
            "vars": {"out": {"default": "${run_dir}/extract.csv"}, "given": {"default": "x"}, "a": {"default": "${b}"}, "b": {"default": "${a}"}},
            "plan": []
        }))
        .unwrap();
        let mut v = Vars::resolve(&doc, &[("given".into(), "$${literal} ${run_dir}".into())]).unwrap();
        v.set("run_dir", "/runs/1");
        assert_eq!(v.render("${out}").unwrap(), "/runs/1/extract.csv");
        assert_eq!(v.render("${given}").unwrap(), "$${literal} ${run_dir}", "a --var value is not expanded");
        assert!(v.render("${a}").is_err(), "a cycle is an error, not a hang");
        let mut fresh = Vars::resolve(&doc, &[]).unwrap();
        assert_eq!(fresh.missing_in("${out}"), vec!["run_dir".to_string()]);
        fresh.set("run_dir", "/r");
        assert!(fresh.missing_in("${out}").is_empty());
    }

    #[test]
    fn finds_references_and_skips_escapes() {
        let r = references("a ${x} $${y} ${z_1}").unwrap();
        assert_eq!(r.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), vec!["x", "z_1"]);
        assert_eq!(r[0].offset, 2);
    }

    #[test]
    fn rejects_unterminated_reference() {
        assert!(references("abc ${x").is_err());
        assert!(references("${a b}").is_err());
    }

    #[test]
    fn masks_secrets_but_renders_them_for_use() {
        let mut v = Vars::default();
        v.set("token", "s3cr3t");
        v.secret.insert("token".into());
        v.set("host", "h");
        assert_eq!(v.mask("Bearer ${token} @ ${host}"), format!("Bearer {MASK} @ h"));
        assert_eq!(v.render("Bearer ${token}").unwrap(), "Bearer s3cr3t");
        assert_eq!(v.render("cost $${literal}").unwrap(), "cost ${literal}");
    }
}
