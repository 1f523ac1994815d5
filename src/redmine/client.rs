//! A small client for Redmine's REST API (JSON, key in `X-Redmine-API-Key`).
//!
//! Every failure is turned into an error that says what to do about it: a wrong key, a missing
//! issue, a REST API that is switched off (Redmine then answers 403, or a proxy serves the login
//! page), or a server that cannot be reached. The key never appears in a message.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::error::{Error, Result};

pub const KEY_ENV: &str = "REDMINE_API_KEY";

pub struct Client {
    base: url::Url,
    key: String,
    http: reqwest::Client,
}

impl Client {
    /// A client for the Redmine at `base`, with the key from `REDMINE_API_KEY`.
    pub fn from_env(base: &str) -> Result<Client> {
        let key = std::env::var(KEY_ENV).unwrap_or_default();
        if key.trim().is_empty() {
            return Err(Error::usage(format!("set {KEY_ENV} to a Redmine API key (My account → API access key)")));
        }
        Client::new(base, key.trim())
    }

    pub fn new(base: &str, key: &str) -> Result<Client> {
        let mut base = url::Url::parse(base.trim())
            .map_err(|e| Error::usage(format!("`{base}` is not a Redmine URL ({e}); write e.g. https://redmine.example.org")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::usage(format!("`{base}` is not an http(s) URL")));
        }
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("runbook/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::failed(format!("HTTP client: {e}")))?;
        Ok(Client { base, key: key.to_string(), http })
    }

    /// The web address of a path on this Redmine, e.g. `issues/5`.
    pub fn web_url(&self, path: &str) -> String {
        self.base.join(path).map(|u| u.to_string()).unwrap_or_else(|_| format!("{}{path}", self.base))
    }

    fn url(&self, path: &str) -> Result<url::Url> {
        self.base.join(path).map_err(|e| Error::usage(format!("bad Redmine path {path}: {e}")))
    }

    /// GET a JSON resource.
    pub async fn get(&self, path: &str, what: &str) -> Result<Value> {
        let req = self.http.get(self.url(path)?).header("X-Redmine-API-Key", &self.key).header("Accept", "application/json");
        self.send(req, what).await?.ok_or_else(|| self.not_json(what))
    }

    /// PUT a JSON body; Redmine answers 204 No Content.
    pub async fn put(&self, path: &str, body: &Value, what: &str) -> Result<()> {
        let req = self.http.put(self.url(path)?).header("X-Redmine-API-Key", &self.key).json(body);
        self.send(req, what).await.map(|_| ())
    }

    /// POST a JSON body and return the JSON answer.
    pub async fn post(&self, path: &str, body: &Value, what: &str) -> Result<Value> {
        let req = self.http.post(self.url(path)?).header("X-Redmine-API-Key", &self.key).json(body);
        self.send(req, what).await?.ok_or_else(|| self.not_json(what))
    }

    /// Upload a file; returns the token an issue update attaches it with.
    pub async fn upload(&self, filename: &str, bytes: Vec<u8>) -> Result<String> {
        let mut url = self.url("uploads.json")?;
        url.query_pairs_mut().append_pair("filename", filename);
        let req = self.http.post(url).header("X-Redmine-API-Key", &self.key).header("Content-Type", "application/octet-stream").body(bytes);
        let what = format!("uploading {filename}");
        let v = self.send(req, &what).await?.ok_or_else(|| self.not_json(&what))?;
        v.pointer("/upload/token")
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or_else(|| Error::failed(format!("{what}: Redmine's answer has no upload token")))
    }

    /// GET a file (an attachment's `content_url`) as text.
    pub async fn download(&self, url: &str, what: &str) -> Result<String> {
        let req = self.http.get(self.url(url)?).header("X-Redmine-API-Key", &self.key);
        let resp = req.send().await.map_err(|e| {
            Error::failed(format!("{what}: cannot reach Redmine at {}: {}", self.base, crate::exec::step::http::without_url(&e)))
        })?;
        let status = resp.status();
        if !status.is_success() {
            return Err(Error::failed(format!("{what}: Redmine at {} answered HTTP {status}", self.base)));
        }
        resp.text().await.map_err(|e| Error::failed(format!("{what}: {}", crate::exec::step::http::without_url(&e))))
    }

    fn not_json(&self, what: &str) -> Error {
        Error::failed(format!("{what}: Redmine at {} sent an empty answer where JSON was expected", self.base))
    }

    async fn send(&self, req: reqwest::RequestBuilder, what: &str) -> Result<Option<Value>> {
        let resp = req.send().await.map_err(|e| {
            let why = if e.is_timeout() {
                "it did not answer in time".to_string()
            } else if e.is_connect() {
                "the connection failed (is the URL right and the server up?)".to_string()
            } else {
                crate::exec::step::http::without_url(&e)
            };
            Error::failed(format!("{what}: cannot reach Redmine at {}: {why}", self.base))
        })?;
        let status = resp.status();
        let html =
            resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| ct.starts_with("text/html"));
        let body = resp.text().await.unwrap_or_default();
        let looks_html = html || body.trim_start().starts_with("<!DOCTYPE") || body.trim_start().starts_with("<html");
        match status {
            s if s.is_success() && looks_html => Err(Error::usage(format!(
                "{what}: Redmine at {} answered with a web page (a login page?) instead of JSON: enable the REST API (Administration → Settings → API → Enable REST web service) and check the URL",
                self.base
            ))),
            s if s.is_success() => {
                if body.trim().is_empty() {
                    return Ok(None);
                }
                serde_json::from_str(&body)
                    .map(Some)
                    .map_err(|e| Error::failed(format!("{what}: Redmine's answer is not JSON ({e})")))
            }
            StatusCode::UNAUTHORIZED => Err(Error::usage(format!(
                "{what}: Redmine at {} rejected the API key (HTTP 401): check {KEY_ENV} (My account → API access key) and that the REST API is enabled",
                self.base
            ))),
            StatusCode::FORBIDDEN => Err(Error::usage(format!(
                "{what}: Redmine at {} refused (HTTP 403): the REST API may be disabled (Administration → Settings → API → Enable REST web service), or the key's user lacks permission",
                self.base
            ))),
            StatusCode::NOT_FOUND => Err(Error::usage(format!("{what}: not found on Redmine at {} (HTTP 404)", self.base))),
            StatusCode::UNPROCESSABLE_ENTITY => {
                let errors: Vec<String> = serde_json::from_str::<Value>(&body)
                    .ok()
                    .and_then(|v| v.get("errors").and_then(Value::as_array).cloned())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|e| e.as_str().map(String::from))
                    .collect();
                Err(Error::failed(format!("{what}: Redmine refused the request (HTTP 422): {}", errors.join("; "))))
            }
            s if looks_html => Err(Error::failed(format!(
                "{what}: Redmine at {} answered HTTP {s} with a web page instead of JSON: is the REST API enabled and the URL right?",
                self.base
            ))),
            s => Err(Error::failed(format!("{what}: Redmine at {} answered HTTP {s}", self.base))),
        }
    }
}
