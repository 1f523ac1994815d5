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
        let mut r = Redactor::default();
        for v in values {
            r.add(&v);
        }
        r
    }

    /// Hide `value`, and the forms in which it comes back from the places it is sent: encoded
    /// in a URL or a form, escaped in JSON, and line by line when it spans several lines (a
    /// key or certificate), since output is shown and redacted a line at a time.
    pub fn add(&mut self, value: &str) {
        let mut forms = vec![
            value.to_string(),
            percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string(),
            url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>(),
        ];
        if let Ok(json) = serde_json::to_string(value) {
            forms.push(json[1..json.len() - 1].to_string());
        }
        if value.contains('\n') {
            forms.extend(value.lines().map(|l| l.trim().to_string()));
        }
        for f in forms {
            if f.chars().count() >= 3 && !self.secrets.contains(&f) {
                self.secrets.push(f);
            }
        }
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
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

    #[test]
    fn masks_the_encoded_escaped_and_per_line_forms() {
        let r = Redactor::new(["Pw@Secr3t!\"q".to_string(), "-----BEGIN KEY-----\nMIIEsecretline\n-----END KEY-----".to_string()]);
        for echoed in
            ["url=https://h/?t=Pw%40Secr3t%21%22q", "form t=Pw%40Secr3t%21%22q", r#"{"token": "Pw@Secr3t!\"q"}"#, "stderr: MIIEsecretline"]
        {
            let shown = r.text(echoed);
            assert!(!shown.contains("Secr3t") && !shown.contains("MIIEsecretline"), "{echoed} shown as {shown}");
        }
    }
}
