//! Redaction: the one place that keeps secret values out of everything written — journal,
//! reports, terminal and ticket.
//!
//! A secret comes back from the places it is sent in many forms: as typed, percent-encoded (a
//! 404 page quoting the request, `%40` or `+` for a space), JSON-escaped (`\u00e9` from an
//! ASCII-only encoder), base64 (a Basic auth header echoed back, at any alignment), or cut by
//! a line break. The redactor knows each form and also finds a secret split across lines. It
//! redacts before anything is cut to size, so a cut can never leave a fragment.
//!
//! The database password is different: it is often an ordinary word (`postgres`), so it is
//! masked only where it stands as the password — a URL's user info or a password option —
//! never as a word in other text.

use std::borrow::Cow;

use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use regex::Regex;

use crate::load::vars::MASK;

/// Below this many characters a secret cannot be told from ordinary text.
pub const MIN_SECRET_LEN: usize = 6;

/// The shortest piece of a secret that [`Redactor::pieces`] hides: shorter ones are as likely
/// ordinary SQL (`' `, `; `) as part of the value.
const MIN_PIECE_LEN: usize = 4;

/// Shorter forms are not masked at all: masking them would garble all text.
const MIN_FORM_LEN: usize = 3;

/// A run of this many characters of a secret is the secret, wherever it stands: a server that
/// quotes a value back cuts it to its own limit (MariaDB's `Duplicate entry '…64 characters…'`,
/// `Truncated incorrect … value: '…128…'`), and the cut piece is no whole form. Long enough
/// that ordinary text does not share it with a secret by chance.
const MIN_CUT_LEN: usize = 16;

/// What `encodeURIComponent` leaves alone; the other common percent-encoding.
const URI_COMPONENT: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'!').remove(b'~').remove(b'*').remove(b'\'').remove(b'(').remove(b')');

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Every form of every secret, longest first.
    secrets: Vec<String>,
    /// The raw secrets long enough to look for across line breaks.
    raw: Vec<String>,
    /// Every run of [`MIN_CUT_LEN`] characters of a secret longer than that: the pieces a cut
    /// leaves ([`Redactor::cut_pieces`]).
    windows: std::collections::HashSet<String>,
    /// Patterns that find the database password where it stands as a password.
    passwords: Vec<Regex>,
}

impl Redactor {
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut r = Redactor::default();
        for v in values {
            r.add(&v);
        }
        r
    }

    /// Hide `value` and every form in which it comes back.
    pub fn add(&mut self, value: &str) {
        for f in forms(value) {
            if f.chars().count() >= MIN_FORM_LEN && !self.secrets.contains(&f) {
                self.secrets.push(f);
            }
        }
        if value.chars().count() >= MIN_SECRET_LEN && !self.raw.iter().any(|r| r == value) {
            self.raw.push(value.to_string());
        }
        let starts: Vec<usize> = value.char_indices().map(|(i, _)| i).chain([value.len()]).collect();
        if starts.len() > MIN_CUT_LEN + 1 {
            self.windows.extend(starts.windows(MIN_CUT_LEN + 1).map(|w| value[w[0]..w[MIN_CUT_LEN]].to_string()));
        }
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Hide a database password where it stands as the password: after `scheme://user:` in a
    /// URL, or as the value of a password option (`password=`, `"password": "…"`,
    /// `PGPASSWORD=`, `MYSQL_PWD=`, `--password=`), as typed and percent-encoded.
    pub fn add_password(&mut self, password: &str) {
        if password.is_empty() {
            return;
        }
        let mut alts: Vec<String> = [
            password.to_string(),
            utf8_percent_encode(password, NON_ALPHANUMERIC).to_string(),
            url::form_urlencoded::byte_serialize(password.as_bytes()).collect(),
        ]
        .iter()
        .map(|f| regex::escape(f))
        .collect();
        alts.dedup();
        alts.sort_by_key(|a| std::cmp::Reverse(a.len()));
        let pattern = format!(
            r#"(?i)(://[^\s:/@]*:|\b(?:password|passwd|pwd|pgpassword|mysql_pwd)\\?["']?\s*[=:]\s*\\?["']?|--password=)(?-i:{})"#,
            alts.join("|")
        );
        if let Ok(re) = Regex::new(&pattern) {
            self.passwords.push(re);
        }
    }

    pub fn text(&self, s: &str) -> String {
        let mut out = Cow::Borrowed(s);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), MASK));
            }
        }
        for re in &self.passwords {
            if let Cow::Owned(o) = re.replace_all(&out, format!("${{1}}{MASK}").as_str()) {
                out = Cow::Owned(o);
            }
        }
        if out.contains(['\n', '\r']) {
            if let Some(joined) = self.across_lines(&out) {
                out = Cow::Owned(joined);
            }
        }
        if let Some(cut) = self.cut_pieces(&out) {
            out = Cow::Owned(cut);
        }
        out.into_owned()
    }

    /// Mask what is left of a secret someone else cut to size (a server quoting the value back
    /// in an error): every stretch of `s` made of runs of [`MIN_CUT_LEN`] characters found in a
    /// secret. The whole forms are already masked by then; this finds the rest.
    fn cut_pieces(&self, s: &str) -> Option<String> {
        if self.windows.is_empty() {
            return None;
        }
        let starts: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
        if starts.len() <= MIN_CUT_LEN {
            return None;
        }
        // Character positions covered by a window found in a secret, as (start, end) runs.
        let mut covered: Vec<(usize, usize)> = Vec::new();
        for (i, w) in starts.windows(MIN_CUT_LEN + 1).enumerate() {
            if self.windows.contains(&s[w[0]..w[MIN_CUT_LEN]]) {
                match covered.last_mut() {
                    Some(last) if last.1 >= i => last.1 = i + MIN_CUT_LEN,
                    _ => covered.push((i, i + MIN_CUT_LEN)),
                }
            }
        }
        if covered.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for (a, b) in covered {
            out.push_str(&s[last..starts[a]]);
            out.push_str(MASK);
            last = starts[b];
        }
        out.push_str(&s[last..]);
        Some(out)
    }

    /// Mask a secret that a line break (or several) cuts into pieces, the break kept.
    fn across_lines(&self, s: &str) -> Option<String> {
        // The text without line breaks, with each kept byte's position in `s`.
        let mut flat = String::with_capacity(s.len());
        let mut at = Vec::with_capacity(s.len());
        for (i, c) in s.char_indices() {
            if c != '\n' && c != '\r' {
                flat.push(c);
                at.extend((0..c.len_utf8()).map(|k| i + k));
            }
        }
        let mut cuts: Vec<(usize, usize)> = Vec::new();
        for secret in &self.raw {
            for (start, m) in flat.match_indices(secret.as_str()) {
                let (a, b) = (at[start], at[start + m.len() - 1] + 1);
                if s[a..b].contains(['\n', '\r']) {
                    cuts.push((a, b));
                }
            }
        }
        if cuts.is_empty() {
            return None;
        }
        cuts.sort();
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for (a, b) in cuts {
            if a < last {
                last = last.max(b);
                continue;
            }
            out.push_str(&s[last..a]);
            out.push_str(MASK);
            // Keep the line structure: each break inside the secret stays.
            out.extend(s[a..b].chars().filter(|c| *c == '\n'));
            last = b;
        }
        out.push_str(&s[last..]);
        Some(out)
    }

    /// Redact, and also hide every piece of a secret of at least `MIN_PIECE_LEN` characters,
    /// not only whole ones. For text made by cutting a value apart, which a whole-value match
    /// cannot see: a `sql: true` value split into statements, or a name read out of one. Only
    /// for such text: in prose, short pieces of a secret would hide ordinary words. A `s` that
    /// is all one piece of a secret is hidden whatever its length.
    pub fn pieces(&self, s: &str) -> String {
        let s = self.text(s);
        let trimmed = s.trim();
        if !trimmed.is_empty() && self.raw.iter().any(|r| r.contains(trimmed)) {
            return MASK.to_string();
        }
        let mut out = String::with_capacity(s.len());
        let mut rest = s.as_str();
        while let Some(c) = rest.chars().next() {
            // The longest start of `rest` that occurs in a secret.
            let longest = rest
                .char_indices()
                .map(|(i, c)| i + c.len_utf8())
                .take_while(|&end| self.raw.iter().any(|r| r.contains(&rest[..end])))
                .last()
                .unwrap_or(0);
            if rest[..longest].chars().count() >= MIN_PIECE_LEN {
                if !out.ends_with(MASK) {
                    out.push_str(MASK);
                }
                rest = &rest[longest..];
            } else {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        out
    }

    /// Redact, then cut to at most `max_chars` characters: the cut can never leave part of a
    /// secret behind. Returns the text and whether it was cut.
    pub fn excerpt(&self, s: &str, max_chars: usize) -> (String, bool) {
        let clean = self.text(s);
        match clean.char_indices().nth(max_chars) {
            Some((end, _)) => (clean[..end].to_string(), true),
            None => (clean, false),
        }
    }

    pub fn json(&self, v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => {
                let clean = self.text(s);
                if clean != *s {
                    *s = clean;
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| self.json(x)),
            serde_json::Value::Object(m) => m.values_mut().for_each(|x| self.json(x)),
            _ => {}
        }
    }
}

/// Every form in which `value` can come back.
fn forms(value: &str) -> Vec<String> {
    let mut out = vec![
        value.to_string(),
        utf8_percent_encode(value, NON_ALPHANUMERIC).to_string(),
        utf8_percent_encode(value, URI_COMPONENT).to_string(),
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>(),
    ];
    // Lower-case hex digits are as valid in percent-encoding and in `\u` escapes.
    let lower_pct = lower_hex_escapes(&out[1], '%', 2);
    out.push(lower_pct);
    if let Ok(json) = serde_json::to_string(value) {
        out.push(json[1..json.len() - 1].to_string());
    }
    let ascii = json_ascii(value);
    out.push(lower_hex_escapes(&ascii, 'u', 4));
    out.push(ascii);
    out.extend(base64_forms(value.as_bytes()));
    if value.contains('\n') {
        out.extend(value.lines().map(|l| l.trim().to_string()).filter(|l| l.chars().count() >= MIN_SECRET_LEN));
    }
    out.retain(|f| !f.is_empty());
    out
}

/// JSON string contents as an ASCII-only encoder writes them: `\uXXXX` (surrogate pairs
/// beyond the BMP) for every non-ASCII character.
fn json_ascii(value: &str) -> String {
    let json = serde_json::to_string(value).unwrap_or_default();
    let inner = json.get(1..json.len().saturating_sub(1)).unwrap_or("");
    let mut out = String::with_capacity(inner.len());
    for c in inner.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04X}"));
            }
        }
    }
    out
}

/// `s` with the hex digits after each `lead` (`%XX`, `\uXXXX`) in lower case.
fn lower_hex_escapes(s: &str, lead: char, digits: usize) -> String {
    let mut out = String::with_capacity(s.len());
    let mut left = 0;
    for c in s.chars() {
        if left > 0 {
            out.push(c.to_ascii_lowercase());
            left -= 1;
            continue;
        }
        out.push(c);
        if c == lead {
            left = digits;
        }
    }
    out
}

/// The base64 text a secret always shows, wherever it stands in the encoded data: for each of
/// the three alignments, the characters that depend on the secret's bytes alone. Standard and
/// URL-safe alphabets.
fn base64_forms(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    if bytes.len() < MIN_SECRET_LEN {
        return out;
    }
    for engine in [&base64::engine::general_purpose::STANDARD, &base64::engine::general_purpose::URL_SAFE] {
        out.push(engine.encode(bytes));
        for offset in 0..3usize {
            let mut data = vec![0u8; offset];
            data.extend_from_slice(bytes);
            let enc = engine.encode(&data);
            // Characters of the first group that carry prefix bits are not the secret's.
            let skip = [0, 2, 3][offset];
            let end = 4 * (data.len() / 3);
            if end > skip + 4 {
                out.push(enc[skip..end].to_string());
            }
        }
    }
    out
}

/// Warnings for secret values too short to redact without hiding ordinary text.
pub fn short_secret_warnings(secrets: &[(String, String)]) -> Vec<String> {
    secrets
        .iter()
        .filter(|(_, v)| !v.is_empty() && v.chars().count() < MIN_SECRET_LEN)
        .map(|(name, _)| {
            format!(
                "secret variable `{name}` is shorter than {MIN_SECRET_LEN} characters: it cannot be redacted from output without hiding ordinary text; use a longer secret"
            )
        })
        .collect()
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
    fn hides_the_pieces_of_a_value_cut_apart() {
        let r = Redactor::new(["x' WHERE 1=0; dRoP  tAbLe zq_canary_7f3e; --".to_string()]);
        assert_eq!(r.pieces("dRoP  tAbLe zq_canary_7f3e"), MASK);
        assert_eq!(r.pieces("zq"), MASK, "a name that is all a piece of the value");
        assert_eq!(r.pieces("UPDATE t SET e = 'tok:x' WHERE 1=0"), format!("UPDATE t SET e = 'tok:{MASK}"));
        assert_eq!(r.pieces("SELECT 1"), "SELECT 1", "text with no piece of the value is kept");
        // Prose keeps short pieces: `text` alone sees whole values and long runs of them.
        assert_eq!(r.text("a table zq_canary here"), "a table zq_canary here");
        assert_eq!(r.text("a table zq_canary_7f3e"), format!("a tabl{MASK}"));
    }

    #[test]
    fn masks_every_encoded_form() {
        let secret = "Pw@Secr3t é!\"q";
        let r = Redactor::new([secret.to_string()]);
        let b64 = base64::engine::general_purpose::STANDARD;
        let echoes = [
            format!("url=https://h/?t={}", utf8_percent_encode(secret, NON_ALPHANUMERIC)),
            format!("url=https://h/?t={}", lower_hex_escapes(&utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string(), '%', 2)),
            format!("form t={}", url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>()),
            format!("{{\"t\": {}}}", serde_json::to_string(secret).unwrap()),
            r#"{"t": "Pw@Secr3t \u00e9!\"q"}"#.to_string(),
            r#"{"t": "Pw@Secr3t \u00E9!\"q"}"#.to_string(),
            format!("Authorization: Basic {}", b64.encode(format!("user:{secret}"))),
            format!("Authorization: Basic {}", b64.encode(format!("us:{secret}"))),
            format!("Authorization: Basic {}", b64.encode(format!("u:{secret}"))),
            "line one Pw@Se\ncr3t é!\"q tail".to_string(),
            "cut Pw@Secr3t é!\r\n\"q".to_string(),
        ];
        for echoed in echoes {
            let shown = r.text(&echoed);
            assert!(!shown.contains("Secr3t") && !shown.contains("cr3t"), "{echoed} shown as {shown}");
        }
        let b = b64.encode(format!("user:{secret}"));
        assert!(!r.text(&b).contains(&b[8..20]), "{}", r.text(&b));
    }

    #[test]
    fn masks_what_a_server_left_of_a_secret_it_cut() {
        let secret = "ZqAHOVCJQXELSZGNUBIPWDKRYFMTAHOVCJQXELSZGNUBIPWDKRYFMTAHOVCJQXELSZGNUBIPW";
        let r = Redactor::new([secret.to_string()]);
        let msg = format!("1062 (23000): Duplicate entry '{}...' for key 'email'", &secret[..64]);
        assert_eq!(r.text(&msg), "1062 (23000): Duplicate entry '********...' for key 'email'");
        // From the other end too, and twice in one text.
        let tail = &secret[secret.len() - 20..];
        assert_eq!(r.text(&format!("…{tail} and {tail}")), "…******** and ********");
        // Fifteen characters of it are ordinary text.
        assert_eq!(r.text(&secret[..15]), &secret[..15]);
    }

    #[test]
    fn redacts_before_cutting() {
        let r = Redactor::new(["Secr3tValue".to_string()]);
        let (cut, was_cut) = r.excerpt("0123456789Secr3tValue tail", 15);
        assert!(was_cut);
        assert_eq!(cut, format!("0123456789{}", &MASK[..5]));
    }

    /// Regression: a password `postgres` masked every `postgres` in the report.
    #[test]
    fn a_password_is_masked_only_where_it_is_the_password() {
        let mut r = Redactor::default();
        r.add_password("postgres");
        assert_eq!(
            r.text(r#"{"engine": "postgres", "url": "postgres://postgres:postgres@h/db", "dump": "/usr/lib/postgresql/16/bin/pg_dump", "opt": "password=postgres"}"#),
            r#"{"engine": "postgres", "url": "postgres://postgres:********@h/db", "dump": "/usr/lib/postgresql/16/bin/pg_dump", "opt": "password=********"}"#
        );
        assert_eq!(r.text("PGPASSWORD=postgres pg_dump"), "PGPASSWORD=******** pg_dump");
    }

    #[test]
    fn warns_about_short_secrets() {
        let w = short_secret_warnings(&[("pin".into(), "1234".into()), ("token".into(), "long enough".into())]);
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with("secret variable `pin` is shorter than 6 characters"));
    }
}
