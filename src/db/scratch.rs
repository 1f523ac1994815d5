//! Rehearsal scratch databases: their names, and dropping the ones a killed rehearsal left.
//!
//! A scratch database is a full copy of the target's data, so one left on the server by a
//! `kill -9` is a leak, not just clutter. Its name says whose it is and when it was made:
//! `rb_rehearsal_<target key>_<unix seconds>_<random>`, the key being a hash of the source
//! target's identity. `rehearse` and `resume` against that target drop every such database
//! that no session uses and that is older than [`MIN_AGE`] (the age covers the instant between
//! `CREATE DATABASE` and the loader connecting, where a live rehearsal's copy has no session).

use std::str::FromStr;
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Executor, Row};

use super::{Engine, Target};
use crate::error::{Error, Result};

/// Younger scratch databases may belong to a rehearsal that is still making them.
pub const MIN_AGE: Duration = Duration::from_secs(5);

fn prefix(source: &Target) -> String {
    format!("rb_rehearsal_{}_", &hex::encode(Sha256::digest(source.identity().as_bytes()))[..8])
}

/// A new scratch database name for a rehearsal of `source`.
pub fn name(source: &Target) -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format!("{}{secs}_{}", prefix(source), &uuid::Uuid::new_v4().simple().to_string()[..6])
}

/// Whether `name` is a scratch database of `source` made at least [`MIN_AGE`] ago.
fn stale(source: &Target, name: &str) -> bool {
    let Some(rest) = name.strip_prefix(&prefix(source)) else { return false };
    let Some(made) = rest.split('_').next().and_then(|s| s.parse::<u64>().ok()) else { return false };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    now.saturating_sub(made) >= MIN_AGE.as_secs()
}

/// Drop the scratch databases of `source` that a killed rehearsal left on its server; returns
/// their names. SQLite scratch copies are files in a temporary folder and are not swept here.
pub async fn sweep(source: &Target) -> Result<Vec<String>> {
    let like = prefix(source).replace('_', "\\_");
    let mut dropped = Vec::new();
    match source.engine {
        Engine::Sqlite => {}
        Engine::Postgres => {
            let admin = super::mysql::with_database(&source.url, "postgres");
            let opts = PgConnectOptions::from_str(&admin).map_err(|e| Error::usage(format!("bad PostgreSQL URL: {e}")))?;
            let mut c = PgConnection::connect_with(&opts)
                .await
                .map_err(|e| Error::db(format!("cannot connect to look for scratch copies: {e}")))?;
            let sql = format!(
                "SELECT d.datname::text FROM pg_database d WHERE d.datname LIKE '{like}%' \
                 AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)"
            );
            let names: Vec<String> =
                sqlx::raw_sql(&sql).fetch_all(&mut c).await?.iter().filter_map(|r| r.try_get::<String, _>(0).ok()).collect();
            for n in names.into_iter().filter(|n| stale(source, n)) {
                c.execute(sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {}", super::quote_ident(Engine::Postgres, &n)))).await?;
                dropped.push(n);
            }
            let _ = c.close().await;
        }
        Engine::Mysql => {
            let opts =
                MySqlConnectOptions::from_str(&source.driver_url()).map_err(|e| Error::usage(format!("bad MariaDB/MySQL URL: {e}")))?;
            let mut c = MySqlConnection::connect_with(&opts)
                .await
                .map_err(|e| Error::db(format!("cannot connect to look for scratch copies: {e}")))?;
            let sql = format!(
                "SELECT CAST(s.SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA s WHERE s.SCHEMA_NAME LIKE '{like}%' \
                 AND NOT EXISTS (SELECT 1 FROM information_schema.PROCESSLIST p WHERE p.DB = s.SCHEMA_NAME)"
            );
            let names: Vec<String> =
                sqlx::raw_sql(&sql).fetch_all(&mut c).await?.iter().filter_map(|r| r.try_get::<String, _>(0).ok()).collect();
            for n in names.into_iter().filter(|n| stale(source, n)) {
                c.execute(sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {}", super::quote_ident(Engine::Mysql, &n)))).await?;
                dropped.push(n);
            }
            let _ = c.close().await;
        }
    }
    Ok(dropped)
}
