//! Redaction: the last line of defence that keeps secret values out of everything written.
//!
//! Secrets are masked where they are rendered (`Vars::mask`), but command output, HTTP bodies
//! and database error messages can echo them back; every journal line passes through here.

use crate::load::vars::MASK;

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Values shorter than 3 characters are not redacted: masking them would garble all text.
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = values.into_iter().filter(|s| s.chars().count() >= 3).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    pub fn add(&mut self, value: &str) {
        if value.chars().count() >= 3 && !self.secrets.iter().any(|s| s == value) {
            self.secrets.push(value.to_string());
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    pub fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    pub fn json(&self, v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) if self.secrets.iter().any(|x| s.contains(x.as_str())) => {
                *s = self.text(s);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| self.json(x)),
            serde_json::Value::Object(m) => m.values_mut().for_each(|x| self.json(x)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_in_nested_json() {
        let r = Redactor::new(["hunter22".to_string(), "x".to_string()]);
        let mut v = serde_json::json!({"a": ["pw=hunter22"], "b": {"c": "hunter22 hunter22"}, "d": "x marks"});
        r.json(&mut v);
        let s = v.to_string();
        assert!(!s.contains("hunter22"));
        assert!(s.contains("x marks"), "short values are left alone");
    }
}
