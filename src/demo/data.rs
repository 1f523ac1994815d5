//! The demo's data: a realistic `all_users` table in a fresh SQLite file, and the PCC user
//! records that the PCC API stand-in serves for it.
//!
//! Everything is deterministic (a fixed-seed generator, UUIDs derived from the e-mail), so a
//! test can tell which user must end up with which `pcc_user_uuid`.

use std::path::Path;
use std::time::Duration;

use futures_util::TryStreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Row};

use crate::error::{Error, Result};

const FIRST: &[(&str, &str)] = &[
    ("Zoë", "zoe"),
    ("José", "jose"),
    ("Łukasz", "lukasz"),
    ("Søren", "soren"),
    ("François", "francois"),
    ("Ngọc", "ngoc"),
    ("Aoife", "aoife"),
    ("Björn", "bjorn"),
    ("Małgorzata", "malgorzata"),
    ("Chloé", "chloe"),
    ("Jürgen", "jurgen"),
    ("Siobhán", "siobhan"),
    ("İlkay", "ilkay"),
    ("María", "maria"),
    ("Þórunn", "thorunn"),
    ("John", "john"),
    ("Mary", "mary"),
    ("David", "david"),
    ("Linda", "linda"),
    ("Ahmed", "ahmed"),
    ("Priya", "priya"),
    ("Wei", "wei"),
    ("Yuki", "yuki"),
    ("Olga", "olga"),
    ("Kwame", "kwame"),
    ("Fatima", "fatima"),
    ("Liam", "liam"),
    ("Emma", "emma"),
    ("Noah", "noah"),
    ("Grace", "grace"),
];

const LAST: &[(&str, &str)] = &[
    ("Müller", "muller"),
    ("García", "garcia"),
    ("O'Brien", "obrien"),
    ("Nguyễn", "nguyen"),
    ("Núñez", "nunez"),
    ("Kowalski", "kowalski"),
    ("Søndergaard", "sondergaard"),
    ("Dubois", "dubois"),
    ("Smith", "smith"),
    ("Johnson", "johnson"),
    ("Brown", "brown"),
    ("Okafor", "okafor"),
    ("Patel", "patel"),
    ("Wang", "wang"),
    ("Tanaka", "tanaka"),
    ("Ivanova", "ivanova"),
    ("Schröder", "schroder"),
    ("Fernández", "fernandez"),
    ("Ó Súilleabháin", "osuilleabhain"),
    ("李", "li"),
    ("Æbelø", "aebelo"),
    ("Williams", "williams"),
];

const FACILITIES: &[&str] = &[
    "Sunrise Care Center",
    "Maple Grove SNF",
    "Lakeside Rehabilitation",
    "St. Brigid's Home",
    "Résidence Les Érables",
    "Pine Hollow Assisted Living",
];

const DOMAINS: &[&str] = &["ddxrx.com", "sunrise-care.example", "maplegrove.example", "mail.example.net"];

const ROLES: &[&str] = &["nurse", "nurse", "nurse", "pharmacist", "physician", "administrator", "aide", "aide"];

/// A small fixed-seed generator (SplitMix64): the same demo data on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// One row of `all_users`.
struct User {
    id: i64,
    email: String,
    name: Option<String>,
    facility: Option<String>,
    role: &'static str,
    created_at: String,
    last_login_at: Option<String>,
    is_active: i64,
}

fn user(rng: &mut Rng, id: i64) -> User {
    let (first, first_ascii) = *rng.pick(FIRST);
    let (last, last_ascii) = *rng.pick(LAST);
    let domain = *rng.pick(DOMAINS);
    // About one name in fourteen is unknown, one facility in ten is not assigned.
    let name = (rng.below(14) != 0).then(|| format!("{first} {last}"));
    let facility = (rng.below(10) != 0).then(|| rng.pick(FACILITIES).to_string());
    let created = chrono::NaiveDate::from_ymd_opt(2019, 1, 1).unwrap_or_default().and_hms_opt(8, 0, 0).unwrap_or_default()
        + chrono::Duration::seconds(rng.below(6 * 365 * 86_400) as i64);
    let last_login = (rng.below(5) != 0).then(|| created + chrono::Duration::seconds(rng.below(300 * 86_400) as i64));
    User {
        id,
        email: format!("{first_ascii}.{last_ascii}{id}@{domain}"),
        name,
        facility,
        role: ROLES[rng.below(ROLES.len() as u64) as usize],
        created_at: created.format("%Y-%m-%d %H:%M:%S").to_string(),
        last_login_at: last_login.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
        is_active: i64::from(rng.below(20) != 0),
    }
}

const SCHEMA: &str = "
CREATE TABLE all_users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT,
    facility      TEXT,
    role          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_login_at TEXT,
    is_active     INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX ix_all_users_facility ON all_users (facility);
";

/// Rows per INSERT statement (8 values each, well below SQLite's bound-parameter limit).
const BATCH: usize = 500;

pub async fn open(path: &Path, create: bool) -> Result<SqliteConnection> {
    let opts = SqliteConnectOptions::new().filename(path).create_if_missing(create).busy_timeout(Duration::from_secs(10));
    SqliteConnection::connect_with(&opts).await.map_err(|e| Error::db(format!("cannot open {}: {e}", path.display())))
}

/// Create `path` (which must not exist) with `users` rows in `all_users`.
pub async fn create_users_db(path: &Path, users: u32) -> Result<()> {
    if path.exists() {
        return Err(Error::usage(format!("{} already exists; the demo database is always created fresh", path.display())));
    }
    let mut conn = open(path, true).await?;
    sqlx::raw_sql(SCHEMA).execute(&mut conn).await?;
    let mut rng = Rng(0x5eed_0fdd_e5c0_ffee);
    let mut tx = conn.begin().await?;
    let mut next = 1i64;
    while next <= users as i64 {
        let n = (users as i64 - next + 1).min(BATCH as i64);
        let placeholders = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; n as usize].join(", ");
        let sql =
            format!("INSERT INTO all_users (id, email, name, facility, role, created_at, last_login_at, is_active) VALUES {placeholders}");
        let mut q = sqlx::query(&sql);
        for id in next..next + n {
            let u = user(&mut rng, id);
            q = q
                .bind(u.id)
                .bind(u.email)
                .bind(u.name)
                .bind(u.facility)
                .bind(u.role)
                .bind(u.created_at)
                .bind(u.last_login_at)
                .bind(u.is_active);
        }
        q.execute(&mut *tx).await?;
        next += n;
    }
    tx.commit().await?;
    conn.close().await.ok();
    Ok(())
}

/// A user as the PCC API stand-in serves it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PccUser {
    pub pcc_user_uuid: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// The PCC UUID the stand-in gives the user with this e-mail: a v4-shaped UUID derived from
/// the lower-cased address, so that anyone can recompute what the sync must have written.
pub fn pcc_uuid_for(email: &str) -> String {
    let digest = Sha256::digest(format!("pcc-demo:{}", email.to_lowercase()).as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

/// Which local users PCC knows: three in four (every user whose id is not a multiple of 4).
pub fn known_to_pcc(id: i64) -> bool {
    id % 4 != 0
}

/// The PCC records for the users in `db`: the users PCC knows (some with their e-mail in
/// upper case, as other systems store it), plus a few PCC users without a local account.
/// Streams the table; keeps only the records served.
pub async fn pcc_fixture(db: &Path) -> Result<Vec<PccUser>> {
    let mut conn = open(db, false).await?;
    let mut out = Vec::new();
    {
        let mut rows = sqlx::query("SELECT id, email, name FROM all_users ORDER BY id").fetch(&mut conn);
        while let Some(row) = rows.try_next().await? {
            let id: i64 = row.try_get(0)?;
            if !known_to_pcc(id) {
                continue;
            }
            let email: String = row.try_get(1)?;
            let name: Option<String> = row.try_get(2)?;
            let (first, last) = match name.as_deref().map(|n| n.split_once(' ').unwrap_or((n, ""))) {
                Some((f, l)) => (Some(f.to_string()), Some(l.to_string())),
                None => (None, None),
            };
            out.push(PccUser {
                pcc_user_uuid: pcc_uuid_for(&email),
                email: if id % 10 == 1 { email.to_uppercase() } else { email },
                first_name: first,
                last_name: last,
            });
        }
    }
    let strangers = (out.len() / 150).max(3);
    for n in 1..=strangers {
        let email = format!("agency.nurse{n}@pcc-only.example");
        out.push(PccUser {
            pcc_user_uuid: pcc_uuid_for(&email),
            email,
            first_name: Some("Agency".into()),
            last_name: Some(format!("Nurse {n}")),
        });
    }
    conn.close().await.ok();
    Ok(out)
}
