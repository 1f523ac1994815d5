//! The PCC API stand-in: a small HTTP server on a loopback port that serves fixture user
//! records in pages, the way the application's sync job reads users from PointClickCare.
//! It is a demo stand-in, not the real API: one endpoint, no authentication, fixed data.
//!
//! `GET /demo-pcc/v1/users?page=N&pageSize=M` → `{"data": [user…], "paging": {…}}`
//! `GET /health` → `{"status": "ok", "standIn": true}`
//!
//! While it runs it also plays the application: every second it writes a heartbeat line to the
//! application log, and a line per request, so that the monitor steps have a live log to read.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::applog;
use super::data::PccUser;
use crate::error::{Error, Result};

pub const USERS_PATH: &str = "/demo-pcc/v1/users";
const COMPONENT: &str = "pcc-api (demo stand-in)";
const DEFAULT_PAGE_SIZE: usize = 200;
const MAX_PAGE_SIZE: usize = 1000;

/// A running stand-in; stops when dropped.
pub struct PccApi {
    pub url: String,
    server: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PccApi {
    /// Serve `users` on 127.0.0.1 (`port` 0 picks a free one), logging to `log` if given.
    pub fn start(users: Vec<PccUser>, port: u16, log: Option<PathBuf>) -> Result<PccApi> {
        let server = tiny_http::Server::http(("127.0.0.1", port))
            .map_err(|e| Error::failed(format!("the PCC API stand-in cannot listen on 127.0.0.1:{port}: {e}")))?;
        let addr = server.server_addr().to_ip().ok_or_else(|| Error::failed("the PCC API stand-in has no IP address"))?;
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (server, stop) = (server.clone(), stop.clone());
            std::thread::Builder::new()
                .name("pcc-api-stand-in".into())
                .spawn(move || serve(&server, &stop, &users, log))
                .map_err(|e| Error::failed(format!("cannot start the PCC API stand-in: {e}")))?
        };
        Ok(PccApi { url: format!("http://{addr}"), server, stop, thread: Some(thread) })
    }

    /// Block until the process is stopped (for `demo-stand-in pcc-api`).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for PccApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(server: &tiny_http::Server, stop: &AtomicBool, users: &[PccUser], log: Option<PathBuf>) {
    let log_line = |level: &str, msg: &str| {
        if let Some(p) = &log {
            applog::append(p, level, COMPONENT, msg);
        }
    };
    log_line("INFO", &format!("listening; serving {} PCC user record(s)", users.len()));
    let mut last_beat = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        match server.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(req)) => {
                let (status, body) = answer(req.method(), req.url(), users);
                log_line(if status < 400 { "INFO" } else { "WARN" }, &format!("{} {} → {status}", req.method(), req.url()));
                let header = tiny_http::Header::from_bytes("Content-Type", "application/json").ok();
                let mut resp = tiny_http::Response::from_string(body).with_status_code(status);
                if let Some(h) = header {
                    resp = resp.with_header(h);
                }
                let _ = req.respond(resp);
            }
            Ok(None) => {}
            Err(_) => break,
        }
        if last_beat.elapsed() >= Duration::from_secs(1) {
            last_beat = Instant::now();
            log_line("INFO", "heartbeat");
        }
    }
    log_line("INFO", "stopped");
}

/// The response to one request: status and JSON body.
fn answer(method: &tiny_http::Method, target: &str, users: &[PccUser]) -> (u16, String) {
    let Ok(url) = url::Url::parse(&format!("http://stand-in{target}")) else {
        return (400, r#"{"error":"bad request target"}"#.into());
    };
    if *method != tiny_http::Method::Get {
        return (405, r#"{"error":"only GET is served by the demo stand-in"}"#.into());
    }
    match url.path() {
        "/health" => (200, serde_json::json!({"status": "ok", "standIn": true, "users": users.len()}).to_string()),
        USERS_PATH => {
            let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.to_string());
            let page = param("page").map(|p| p.parse::<usize>()).transpose();
            let size = param("pageSize").map(|p| p.parse::<usize>()).transpose();
            let (Ok(page), Ok(size)) = (page, size) else {
                return (400, r#"{"error":"page and pageSize must be positive integers"}"#.into());
            };
            let page = page.unwrap_or(1).max(1);
            let size = size.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
            let start = (page - 1).saturating_mul(size).min(users.len());
            let end = (start + size).min(users.len());
            let body = serde_json::json!({
                "data": &users[start..end],
                "paging": {"page": page, "pageSize": size, "total": users.len(), "hasMore": end < users.len()},
            });
            (200, body.to_string())
        }
        _ => (404, r#"{"error":"not found"}"#.into()),
    }
}
