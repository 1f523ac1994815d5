//! Real SQLite files for tests, created and inspected through sqlx (no mocks).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Row};

/// A SQLite database file in a test folder.
pub struct SqliteFile {
    pub path: PathBuf,
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

impl SqliteFile {
    /// An `all_users` table with `rows` users: NULL names every ninth row, non-ASCII names.
    pub fn users(dir: &Path, rows: u32) -> SqliteFile {
        let f = SqliteFile { path: dir.join("app.db") };
        f.exec(&format!(
            "CREATE TABLE all_users(id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<{rows})
             INSERT INTO all_users SELECT i, 'u'||i||'@example.org', CASE WHEN i%9=0 THEN NULL ELSE 'Zoë Ñúñez '||i END FROM n;"
        ));
        f
    }

    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    async fn conn(&self) -> SqliteConnection {
        let o = SqliteConnectOptions::from_str(&format!("sqlite://{}", self.path.display())).unwrap().create_if_missing(true);
        SqliteConnection::connect_with(&o).await.unwrap()
    }

    /// Run statements (no result).
    pub fn exec(&self, sql: &str) {
        rt().block_on(async {
            let mut c = self.conn().await;
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
            c.close().await.unwrap();
        })
    }

    /// All rows of a query, every value as text ("NULL" for NULL).
    pub fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        rt().block_on(async {
            let mut c = self.conn().await;
            let rows = sqlx::query(sql).fetch_all(&mut c).await.unwrap();
            let out = rows
                .iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| {
                            if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
                                return v.map(|x| x.to_string()).unwrap_or_else(|| "NULL".into());
                            }
                            if let Ok(v) = r.try_get::<Option<String>, _>(i) {
                                return v.unwrap_or_else(|| "NULL".into());
                            }
                            r.try_get::<Option<f64>, _>(i).ok().flatten().map(|x| x.to_string()).unwrap_or_else(|| "NULL".into())
                        })
                        .collect()
                })
                .collect();
            c.close().await.unwrap();
            out
        })
    }

    pub fn scalar(&self, sql: &str) -> String {
        self.rows(sql).first().and_then(|r| r.first().cloned()).unwrap_or_else(|| "NULL".into())
    }

    pub fn has_column(&self, table: &str, column: &str) -> bool {
        self.scalar(&format!("SELECT count(*) FROM pragma_table_info('{table}') WHERE name='{column}'")) == "1"
    }

    pub fn has_table(&self, name: &str) -> bool {
        self.scalar(&format!("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{name}'")) == "1"
    }

    pub fn has_index(&self, name: &str) -> bool {
        self.scalar(&format!("SELECT count(*) FROM sqlite_master WHERE type='index' AND name='{name}'")) == "1"
    }

    /// A digest of the users' original columns, to prove data was not changed.
    pub fn data_digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let rows = self.rows("SELECT id, email, name FROM all_users ORDER BY id");
        let mut h = Sha256::new();
        for r in rows {
            h.update(r.join("\u{1f}").as_bytes());
            h.update(b"\n");
        }
        hex::encode(h.finalize())
    }

    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).unwrap()
    }
}
