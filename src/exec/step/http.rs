//! `http`: one request with expected status and assertions on the JSON response by JSON
//! pointer. Header values may come from secret vars and are never recorded.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::exec::Runner;
use crate::journal::Event;
use crate::load::vars::Vars;
use crate::runbook::rehearse::Rehearse;
use crate::runbook::{HttpAction, Step};

const EXCERPT: usize = 2048;

pub fn describe(a: &HttpAction, vars: &Vars) -> String {
    let mut s = format!("{} {} → expect HTTP {}", a.method, vars.mask(&a.url), a.expect_status);
    for k in a.headers.keys() {
        // Header values are never shown: they are where tokens live.
        s.push_str(&format!("\n  header {k}: ({})", if a.headers[k].contains("${") { "from vars" } else { "set" }));
    }
    if let Some(b) = &a.body {
        s.push_str(&format!("\n  body: {}", vars.mask(b)));
    }
    for c in &a.expect_json {
        s.push_str(&format!("\n  assert {}", json_label(c)));
    }
    s
}

fn json_label(c: &crate::runbook::JsonCheck) -> String {
    if let Some(v) = &c.equals {
        format!("{} = {v}", c.pointer)
    } else if let Some(m) = &c.matches {
        format!("{} matches /{m}/", c.pointer)
    } else if c.exists == Some(false) {
        format!("{} is absent", c.pointer)
    } else {
        format!("{} exists", c.pointer)
    }
}

pub fn client(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("runbook/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::failed(format!("HTTP client: {e}")))
}

pub async fn run(r: &mut Runner, step: &Step, a: &HttpAction) -> Result<()> {
    // A rehearsal may call a stand-in instead (`rehearse: URL`); the journal records the URL
    // that was called.
    let written: &str = match (&r.opts.rehearsal, &step.rehearse) {
        (Some(_), Some(Rehearse::Url(u))) => u,
        _ => &a.url,
    };
    let url = r.vars.render(written)?;
    let shown_url = r.vars.mask(written);
    let method = reqwest::Method::from_bytes(a.method.as_bytes()).map_err(|_| Error::failed(format!("bad HTTP method {}", a.method)))?;
    let mut req = client(Duration::from_secs(30))?.request(method, &url);
    for (k, v) in &a.headers {
        req = req.header(k, r.vars.render(v)?);
    }
    if let Some(b) = &a.body {
        let body = r.vars.render(b)?;
        // A JSON body is labelled as such unless the runbook says otherwise.
        if !a.headers.keys().any(|k| k.eq_ignore_ascii_case("content-type")) && serde_json::from_str::<serde_json::Value>(&body).is_ok() {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json");
        }
        req = req.body(body);
    }
    let started = Instant::now();
    let resp = req
        .send()
        .await
        .map_err(|e| Error::failed(format!("{} {shown_url}: {}", a.method, r.journal.redactor().text(&without_url(&e)))))?;
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    // Redacted before it is cut, so the cut cannot leave part of a secret.
    let (excerpt, _) = r.journal.redactor().excerpt(&body, EXCERPT);
    r.journal.record(Event::Http {
        step_id: step.id.clone(),
        method: a.method.clone(),
        url: shown_url.clone(),
        status,
        duration_ms: started.elapsed().as_millis() as u64,
        body_excerpt: excerpt,
    })?;
    // The server may echo a header back (a token); the terminal gets redacted values too.
    let redact = |s: String| r.journal.redactor().text(&s);
    let mut checks = Vec::new();
    let ok = status == a.expect_status;
    checks.push((format!("{} {shown_url} status", a.method), a.expect_status.to_string(), status.to_string(), ok));
    if !a.expect_json.is_empty() {
        let json: Option<serde_json::Value> = serde_json::from_str(&body).ok();
        for c in &a.expect_json {
            let (actual, ok) = match &json {
                None => ("the response is not JSON".to_string(), false),
                Some(doc) => check(doc, c),
            };
            checks.push((json_label(c), expected(c), actual, ok));
        }
    }
    let checks: Vec<_> = checks.into_iter().map(|(l, e, a, ok)| (redact(l), redact(e), redact(a), ok)).collect();
    let mut failed = 0;
    for (label, expected, actual, ok) in checks {
        failed += usize::from(!ok);
        r.assertion(step, label, expected, actual, ok)?;
    }
    if failed > 0 {
        Err(Error::failed(format!("{failed} HTTP assertion(s) failed")))
    } else {
        Ok(())
    }
}

fn expected(c: &crate::runbook::JsonCheck) -> String {
    if let Some(v) = &c.equals {
        v.to_string()
    } else if let Some(m) = &c.matches {
        format!("/{m}/")
    } else if c.exists == Some(false) {
        "absent".into()
    } else {
        "exists".into()
    }
}

/// Evaluate one JSON check: (actual, passed).
pub fn check(doc: &serde_json::Value, c: &crate::runbook::JsonCheck) -> (String, bool) {
    let found = doc.pointer(&c.pointer);
    let actual = found.map(|v| shorten(&v.to_string())).unwrap_or_else(|| "absent".into());
    let ok = if let Some(want) = &c.equals {
        found.is_some_and(|v| json_equal(v, want))
    } else if let Some(m) = &c.matches {
        let text = match found {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => return (actual, false),
        };
        match regex::Regex::new(m) {
            Ok(re) => re.is_match(&text),
            Err(e) => return (format!("{actual} (invalid pattern: {e})"), false),
        }
    } else {
        found.is_some() == c.exists.unwrap_or(true)
    };
    (actual, ok)
}

/// A value as shown in an assertion: long ones are cut (the body excerpt has more).
fn shorten(s: &str) -> String {
    const MAX: usize = 200;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

/// JSON equality where numbers compare by value (`1` equals `1.0`).
fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64().zip(y.as_f64()).is_some_and(|(x, y)| x == y),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w))),
        _ => a == b,
    }
}

/// reqwest errors print the full URL, which may carry a token in its query.
/// The error and its causes ("error sending request …: connection refused"), without the URL,
/// which the caller shows in its own (masked) form.
pub fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cause = c.source();
    }
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "<url>");
    }
    s
}
