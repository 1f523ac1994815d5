//! Row versions: which rows of a key range the run's own transactions wrote.
//!
//! On PostgreSQL every row version carries `xmin`, the transaction that wrote it. The run
//! records the ids of its own transactions ([`crate::exec::transactions`]), so after the change
//! the server can say, per key range, how many rows were last written by the run. A range whose
//! values differ but holds no row the run wrote was changed by other sessions, whatever the
//! change's statements could have written.
//!
//! `xmin` is 32 bits and wraps; the run's ids are 64 bits (epoch in the high half). A row
//! version that is not frozen is always less than 2^31 transactions old, so its full id follows
//! from the server's next transaction id: `next − ((next mod 2^32 − xmin) mod 2^32)`. The run's
//! ids are used only while they are that recent; older ones could alias other rows' versions.

use std::collections::BTreeSet;

use super::localise::KeyLayout;
use super::Engine;

/// What to count in one table.
pub struct Query<'a> {
    pub table: &'a str,
    pub layout: &'a KeyLayout,
    /// Range indexes to look at (ranges of the start's key span).
    pub ranges: &'a [i64],
    /// The run's transactions, epoch-extended.
    pub txids: &'a BTreeSet<u64>,
    /// A declared backfill's row condition: rows the run wrote that do not match it are counted
    /// apart.
    pub declared: Option<&'a str>,
}

/// Rows of one key range, as their versions tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub range: i64,
    /// Rows in the range now.
    pub rows: u64,
    /// Rows whose current version the run wrote.
    pub by_run: u64,
    /// Of those, rows outside the declared condition (0 without one).
    pub by_run_outside: u64,
    /// Rows matching the declared condition (every row without one).
    pub inside: u64,
    /// Some keys of the rows the run wrote (outside the declared condition when there is one),
    /// smallest first.
    pub keys: Vec<String>,
}

/// Per range, or why the engine cannot tell.
pub type Found = std::result::Result<Vec<Range>, String>;

/// Sample keys kept per range.
pub const KEYS: usize = 5;

const WRAP: i64 = 1 << 32;

/// Transactions further back than this from the server's next id may alias newer row versions
/// once `xmin` wraps; vacuum freezes rows long before that age.
pub const HORIZON: u64 = 1 << 31;

/// Why the run's transactions cannot be looked for, or `None` when they can: `next` is the
/// server's next transaction id.
pub fn too_old(txids: &BTreeSet<u64>, next: u64) -> Option<String> {
    let oldest = *txids.first()?;
    (next.saturating_sub(oldest) >= HORIZON)
        .then(|| format!("the run's first transaction ({oldest}) is {} transactions old: xmin may have wrapped since", next - oldest))
}

/// The PostgreSQL query counting, per range, the rows the run wrote. Columns: range, rows,
/// rows by the run, rows by the run outside the declared condition, sample keys (comma-joined),
/// rows inside the declared condition.
pub fn postgres_sql(q: &Query<'_>, next: u64) -> String {
    let key = super::quote_ident(Engine::Postgres, &q.layout.key);
    let table = super::quote_ident(Engine::Postgres, q.table);
    let range = q.layout.sql_range(&key, "/");
    // Neighbouring ranges are read as one span, so that asking for every range is one
    // condition on the key.
    let mut spans: Vec<(i128, i128)> = Vec::new();
    let mut sorted = q.ranges.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    for i in sorted {
        let (lo, hi) = q.layout.bounds(i);
        match spans.last_mut() {
            Some(last) if last.1 + 1 == lo => last.1 = hi,
            _ => spans.push((lo, hi)),
        }
    }
    let within: Vec<String> = spans.iter().map(|(lo, hi)| format!("{key} BETWEEN {lo} AND {hi}")).collect();
    let ids: Vec<String> = q.txids.iter().map(|t| t.to_string()).collect();
    let full = full_xmin(reference(next, q.txids));
    let outside = match q.declared {
        Some(cond) => format!("NOT coalesce(({cond}), false)"),
        None => "false".into(),
    };
    let flagged = if q.declared.is_some() { "mine AND outside" } else { "mine" };
    format!(
        "SELECT r, count(*), count(*) FILTER (WHERE mine), count(*) FILTER (WHERE mine AND outside), \
         array_to_string((array_agg(k ORDER BY k) FILTER (WHERE {flagged}))[1:{KEYS}], ','), count(*) FILTER (WHERE NOT outside) \
         FROM (SELECT {range} AS r, {key} AS k, coalesce(({full}) = ANY('{{{ids}}}'::bigint[]), false) AS mine, {outside} AS outside \
         FROM {table} WHERE {within}) s GROUP BY r ORDER BY r",
        ids = ids.join(","),
        within = if within.is_empty() { "false".to_string() } else { within.join(" OR ") },
    )
}

/// The PostgreSQL query listing the key ranges (of the start's span, or above or below it) that
/// hold rows written by `txids`.
pub fn postgres_written_sql(table: &str, layout: &KeyLayout, txids: &BTreeSet<u64>, next: u64) -> String {
    let key = super::quote_ident(Engine::Postgres, &layout.key);
    let ids: Vec<String> = txids.iter().map(|t| t.to_string()).collect();
    format!(
        "SELECT DISTINCT ({range})::bigint FROM {table} WHERE {full} = ANY('{{{ids}}}'::bigint[])",
        range = layout.sql_range(&key, "/"),
        table = super::quote_ident(Engine::Postgres, table),
        full = full_xmin(reference(next, txids)),
        ids = ids.join(","),
    )
}

/// The id full row-version ids are rebuilt against: above every id a visible row can carry.
/// A snapshot's `xmax` is one past the last *completed* transaction, so inside the run's own
/// transaction, with later ones of other sessions still open, it can be below the run's own id.
fn reference(xmax: u64, txids: &BTreeSet<u64>) -> u64 {
    xmax.max(txids.last().map_or(0, |t| t + 1))
}

/// The full id of a row's `xmin`, given the server's next id; NULL for the special ids 0–2
/// (invalid, bootstrap, frozen), never a transaction of the run.
fn full_xmin(next: u64) -> String {
    let next = next as i64;
    let low = next.rem_euclid(WRAP);
    format!("CASE WHEN xmin::text::bigint < 3 THEN NULL ELSE {next} - ((({low} - xmin::text::bigint) % {WRAP} + {WRAP}) % {WRAP}) END")
}

/// Read the rows of [`postgres_sql`] back.
pub fn parse_rows(rows: &[Vec<Option<String>>]) -> Found {
    let num = |v: &Option<String>| v.as_deref().and_then(|x| x.parse::<i64>().ok());
    rows.iter()
        .map(|r| {
            let field = |i: usize| r.get(i).and_then(num).ok_or_else(|| format!("unreadable row-version count in column {i}"));
            Ok(Range {
                range: field(0)?,
                rows: field(1)? as u64,
                by_run: field(2)? as u64,
                by_run_outside: field(3)? as u64,
                inside: field(5)? as u64,
                keys: r
                    .get(4)
                    .cloned()
                    .flatten()
                    .filter(|k| !k.is_empty())
                    .map(|k| k.split(',').map(String::from).collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_id_of_a_row_version_follows_from_the_next_id() {
        // Mirrors the SQL expression: next − ((next mod 2^32 − xmin) mod 2^32).
        let full = |next: i64, xmin: i64| next - (((next.rem_euclid(WRAP) - xmin) % WRAP + WRAP) % WRAP);
        assert_eq!(full(5 * WRAP + 100, 90), 5 * WRAP + 90);
        // Written just before the epoch turned over.
        assert_eq!(full(5 * WRAP + 10, WRAP - 5), 4 * WRAP + WRAP - 5);
    }

    #[test]
    fn the_run_s_own_open_transaction_is_found_though_the_snapshot_ends_before_it() {
        let ids = BTreeSet::from([21489u64]);
        assert_eq!(reference(21481, &ids), 21490);
        assert_eq!(reference(30000, &ids), 30000);
    }

    #[test]
    fn transactions_too_old_to_find_are_refused() {
        let ids = BTreeSet::from([100u64, 200]);
        assert_eq!(too_old(&ids, 300), None);
        assert!(too_old(&ids, 100 + HORIZON).unwrap().contains("xmin may have wrapped"));
        assert_eq!(too_old(&BTreeSet::new(), 300), None);
    }

    #[test]
    fn the_query_looks_only_at_the_ranges_asked_for() {
        let layout = KeyLayout::new("id", 1, 3000);
        let ids = BTreeSet::from([WRAP as u64 + 7]);
        let q = Query { table: "all_users", layout: &layout, ranges: &[0, 41], txids: &ids, declared: Some("id <= 20") };
        let sql = postgres_sql(&q, WRAP as u64 + 9);
        assert!(sql.contains("\"id\" BETWEEN 1 AND 12 OR \"id\" BETWEEN 493 AND 504"), "{sql}");
        let every: Vec<i64> = (0..layout.count).collect();
        let all = postgres_sql(&Query { ranges: &every, ..q }, WRAP as u64 + 9);
        assert!(all.contains("WHERE \"id\" BETWEEN 1 AND 3000)"), "{all}");
        assert!(sql.contains("'{4294967303}'::bigint[]"), "{sql}");
        assert!(sql.contains("NOT coalesce((id <= 20), false)"), "{sql}");
        let rows = vec![vec![Some("0".into()), Some("12".into()), Some("3".into()), Some("1".into()), Some("7".into()), Some("10".into())]];
        assert_eq!(
            parse_rows(&rows).unwrap(),
            vec![Range { range: 0, rows: 12, by_run: 3, by_run_outside: 1, inside: 10, keys: vec!["7".into()] }]
        );
    }
}
