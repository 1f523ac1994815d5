//! The sync job stand-in: what the application's PCC sync does, reduced to the part the change
//! ticket tests. It pages through the PCC API (the stand-in), matches PCC users to local users
//! by e-mail (case-insensitively) and writes their PCC UUID into `all_users.pcc_user_uuid`,
//! logging to the application log as it goes.
//!
//! `--bug` makes it misbehave the way a faulty application release could, so that tests and
//! curious operators can watch the runbook's checks catch it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::TryStreamExt;
use serde::Deserialize;
use sqlx::{Connection, Row};

use super::applog;
use super::pcc_api::USERS_PATH;
use crate::error::{Error, Result};

const COMPONENT: &str = "pcc-sync (demo stand-in)";

/// Faults a sync job can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Bug {
    /// Also rewrite one user's non-ASCII name with `?` (an encoding bug): existing data changes.
    MangleName,
    /// Also delete the last user: the row count changes.
    DeleteUser,
    /// Log an ERROR line after the sync.
    LogError,
}

pub struct Job {
    pub db: PathBuf,
    pub api: String,
    pub log: PathBuf,
    pub page_size: usize,
    pub bug: Option<Bug>,
}

/// What a sync did.
#[derive(Debug, Default)]
pub struct Summary {
    pub pages: u32,
    pub records: u64,
    pub linked: u64,
    pub already_linked: u64,
    pub unmatched: u64,
    pub bug: Option<String>,
}

#[derive(Deserialize)]
struct Page {
    data: Vec<Record>,
    paging: Paging,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    pcc_user_uuid: String,
    email: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Paging {
    has_more: bool,
}

pub async fn run(job: &Job) -> Result<Summary> {
    applog::append(&job.log, "INFO", COMPONENT, &format!("sync started: PCC API {}", job.api));
    match sync(job).await {
        Ok(s) => {
            applog::append(
                &job.log,
                "INFO",
                COMPONENT,
                &format!(
                    "sync finished: {} record(s) in {} page(s), {} user(s) linked, {} already linked, {} without a local account",
                    s.records, s.pages, s.linked, s.already_linked, s.unmatched
                ),
            );
            if job.bug == Some(Bug::LogError) {
                applog::append(&job.log, "ERROR", COMPONENT, "simulated failure after the sync (--bug log-error)");
            }
            Ok(s)
        }
        Err(e) => {
            applog::append(&job.log, "ERROR", COMPONENT, &format!("sync failed: {e}"));
            Err(e)
        }
    }
}

async fn sync(job: &Job) -> Result<Summary> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        // A fresh connection per page: on a reused one the stand-in's split writes meet
        // delayed ACKs and every other page waits 40 ms.
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| Error::failed(format!("HTTP client: {e}")))?;
    let mut conn = super::data::open(&job.db, false).await?;

    // The local users by e-mail; only id and address are kept.
    let mut by_email: HashMap<String, i64> = HashMap::new();
    {
        let mut rows = sqlx::query("SELECT id, email FROM all_users").fetch(&mut conn);
        while let Some(row) = rows.try_next().await? {
            let email: String = row.try_get(1)?;
            by_email.insert(email.to_lowercase(), row.try_get(0)?);
        }
    }

    let mut summary = Summary::default();
    let mut links: Vec<(i64, String)> = Vec::new();
    let base = job.api.trim_end_matches('/');
    let mut page = 1u32;
    loop {
        let url = format!("{base}{USERS_PATH}?page={page}&pageSize={}", job.page_size.max(1));
        let resp = client.get(&url).send().await.map_err(|e| Error::failed(format!("GET {url}: {e}")))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(Error::failed(format!("GET {url}: HTTP {status}")));
        }
        let body: Page = resp.json().await.map_err(|e| Error::failed(format!("GET {url}: unexpected response: {e}")))?;
        summary.pages += 1;
        summary.records += body.data.len() as u64;
        for rec in body.data {
            match by_email.get(&rec.email.to_lowercase()) {
                Some(id) => links.push((*id, rec.pcc_user_uuid)),
                None => {
                    summary.unmatched += 1;
                    // The PCC UUID, not the address: the log must not collect personal data.
                    applog::append(&job.log, "WARN", COMPONENT, &format!("PCC user {} has no local account; skipped", rec.pcc_user_uuid));
                }
            }
        }
        applog::append(&job.log, "INFO", COMPONENT, &format!("page {page} read"));
        if !body.paging.has_more {
            break;
        }
        page += 1;
    }

    let mut tx = conn.begin().await?;
    for (id, uuid) in &links {
        let done = sqlx::query("UPDATE all_users SET pcc_user_uuid = ?1 WHERE id = ?2 AND pcc_user_uuid IS NULL")
            .bind(uuid)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 1 {
            summary.linked += 1;
        } else {
            summary.already_linked += 1;
        }
    }
    match job.bug {
        Some(Bug::MangleName) => {
            let mut victim = None;
            {
                let mut rows = sqlx::query("SELECT id, name FROM all_users WHERE name IS NOT NULL ORDER BY id").fetch(&mut *tx);
                while let Some(row) = rows.try_next().await? {
                    let name: String = row.try_get(1)?;
                    if !name.is_ascii() {
                        victim = Some((row.try_get::<i64, _>(0)?, name));
                        break;
                    }
                }
            }
            if let Some((id, name)) = victim {
                let mangled: String = name.chars().map(|c| if c.is_ascii() { c } else { '?' }).collect();
                sqlx::query("UPDATE all_users SET name = ?1 WHERE id = ?2").bind(&mangled).bind(id).execute(&mut *tx).await?;
                summary.bug = Some(format!("--bug mangle-name: user {id}'s name rewritten as {mangled:?}"));
            }
        }
        Some(Bug::DeleteUser) => {
            let gone = sqlx::query("DELETE FROM all_users WHERE id = (SELECT max(id) FROM all_users)").execute(&mut *tx).await?;
            summary.bug = Some(format!("--bug delete-user: {} user deleted", gone.rows_affected()));
        }
        Some(Bug::LogError) => summary.bug = Some("--bug log-error: an ERROR line goes to the application log".into()),
        None => {}
    }
    tx.commit().await?;
    conn.close().await.ok();
    Ok(summary)
}
