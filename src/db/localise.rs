//! Localising a fingerprint difference: which columns, which key ranges, how many rows.
//!
//! A whole-table hash only says *that* something changed. To tell the change's own writes from
//! a live application's, a fingerprint also keeps, per range of an integer key and per column, a
//! row count and a sum of per-cell hashes. Comparing two fingerprints cell by cell then names the
//! columns that differ, counts rows inserted and deleted per range, and gives sample key ranges.
//!
//! The per-cell hashes only localise: the verdict "changed or not" stays with the strong
//! whole-row hash. Each cell hash is seeded with the row's key, so moving a value from one row to
//! another in the same range still changes the column's sum.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Ranges a table is split into at most: enough to point at a few rows of a small table, few
/// enough that the baseline stays small in the journal (one sum per column per range).
pub const MAX_RANGES: i64 = 256;

/// Range index of keys below the baseline's smallest key.
pub const BELOW: i64 = -1;

/// How the rows of a table are split into key ranges. Fixed by the baseline and reused by every
/// later fingerprint of the table, so that cells compare one to one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyLayout {
    /// The integer key column (`rowid` on SQLite).
    pub key: String,
    /// Smallest key at the baseline.
    pub lo: i64,
    /// Largest key at the baseline: every key above it is in range `count`, so that rows an
    /// application appends with growing keys land apart from the rows that existed.
    pub hi: i64,
    /// Keys per range.
    pub width: i64,
    /// Ranges covering the baseline's keys; index `count` holds every key above them.
    pub count: i64,
}

impl KeyLayout {
    /// Ranges of equal width over `lo..=hi`, at most [`MAX_RANGES`].
    pub fn new(key: &str, lo: i64, hi: i64) -> KeyLayout {
        let span = (hi as i128 - lo as i128 + 1).max(1);
        let width = ((span + MAX_RANGES as i128 - 1) / MAX_RANGES as i128).clamp(1, i64::MAX as i128) as i64;
        let count = ((span + width as i128 - 1) / width as i128) as i64;
        KeyLayout { key: key.to_string(), lo, hi, width, count }
    }

    /// Range index of key `k`.
    pub fn range_of(&self, k: i64) -> i64 {
        if k < self.lo {
            BELOW
        } else if k > self.hi {
            self.count
        } else {
            ((k as i128 - self.lo as i128) / self.width as i128).min(self.count as i128) as i64
        }
    }

    /// The SQL expression giving a row's range index, for servers that group by it; `div` is
    /// the engine's integer division operator.
    pub fn sql_range(&self, key: &str, div: &str) -> String {
        format!(
            "CASE WHEN {key} < {lo} THEN {BELOW} WHEN {key} > {hi} THEN {count} ELSE ({key} - {lo}) {div} {w} END",
            lo = self.lo,
            hi = self.hi,
            count = self.count,
            w = self.width
        )
    }

    /// First and last key of range `i` of the baseline's span (not `BELOW` or above).
    pub fn bounds(&self, i: i64) -> (i128, i128) {
        let start = self.lo as i128 + i as i128 * self.width as i128;
        (start, (start + self.width as i128 - 1).min(self.hi as i128))
    }

    /// Range `i` in words: `id 1–12`, `id < 1`, `id ≥ 3073`.
    pub fn label(&self, i: i64) -> String {
        let k = &self.key;
        let start = self.lo as i128 + i as i128 * self.width as i128;
        if i == BELOW {
            format!("{k} < {}", self.lo)
        } else if i >= self.count {
            format!("{k} > {}", self.hi)
        } else {
            match (start + self.width as i128 - 1).min(self.hi as i128) {
                end if end == start => format!("{k} {start}"),
                end => format!("{k} {start}–{end}"),
            }
        }
    }
}

/// Counts and sums of one key range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// Range index (see [`KeyLayout`]); 0 when the table has no integer key.
    pub range: i64,
    pub rows: u64,
    /// Sum modulo 2^64 of each column's per-row hashes, in the fingerprint's column order.
    pub columns: Vec<u64>,
}

/// Cells of one fingerprint, gathered in any order (and from parallel parts).
#[derive(Debug, Default)]
pub struct Cells(BTreeMap<i64, Cell>);

impl Cells {
    /// Add rows to range `range`: counts and sums add up, so parts of a range can come from
    /// separate queries.
    pub fn add(&mut self, range: i64, rows: u64, columns: &[u64]) {
        let c = self.0.entry(range).or_insert_with(|| Cell { range, rows: 0, columns: vec![0; columns.len()] });
        c.rows += rows;
        for (sum, v) in c.columns.iter_mut().zip(columns) {
            *sum = sum.wrapping_add(*v);
        }
    }

    pub fn into_vec(self) -> Vec<Cell> {
        self.0.into_values().collect()
    }
}

/// A 64-bit hash of one value seeded with its row's key, for localisation only: FNV-1a over the
/// bytes followed by a multiply-xorshift finaliser so that nearby inputs spread over all bits.
pub fn cell_hash(seed: i64, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ (seed as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Where two fingerprints of one table differ.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Difference {
    /// Columns whose values differ, each with the number of key ranges it differs in and up to
    /// [`SAMPLES`] of those ranges.
    pub columns: Vec<ColumnDifference>,
    /// Rows added, summed over the ranges that grew.
    pub inserted: u64,
    /// Rows removed, summed over the ranges that shrank.
    pub deleted: u64,
    /// Ranges whose row count is the same but whose values differ: at least one row changed in
    /// each (exactly the rows changed when a range holds one key).
    pub changed_ranges: u64,
    /// Some of the ranges with any difference.
    pub samples: Vec<String>,
    /// Whether the fingerprints carried cells to compare (older journals do not).
    pub localised: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDifference {
    pub column: String,
    pub ranges: u64,
    pub samples: Vec<String>,
    /// Every range it differs in, by index.
    pub at: Vec<i64>,
}

/// Sample ranges named per finding.
pub const SAMPLES: usize = 5;

impl Difference {
    /// One line for messages and the journal.
    pub fn describe(&self) -> String {
        if !self.localised {
            return "not localised (the baseline has no per-range cells)".into();
        }
        let mut parts = Vec::new();
        for c in &self.columns {
            parts.push(format!("column {} differs in {} key range(s) ({})", c.column, c.ranges, c.samples.join(", ")));
        }
        parts
            .push(format!("rows inserted {}, deleted {}, ranges with changed values {}", self.inserted, self.deleted, self.changed_ranges));
        if !self.samples.is_empty() {
            parts.push(format!("sample ranges: {}", self.samples.join(", ")));
        }
        parts.join("; ")
    }

    pub fn column(&self, name: &str) -> Option<&ColumnDifference> {
        self.columns.iter().find(|c| c.column.eq_ignore_ascii_case(name))
    }
}

/// Compare cells of `before` and `now` (same table, same columns, same layout).
pub fn compare(before: &super::Fingerprint, now: &super::Fingerprint) -> Difference {
    let mut d = Difference { localised: !before.cells.is_empty() || before.rows == 0, ..Default::default() };
    if !d.localised || now.columns != before.columns || now.layout != before.layout {
        d.localised = false;
        return d;
    }
    let label = |i: i64| match &before.layout {
        Some(l) => l.label(i),
        None => "whole table".to_string(),
    };
    let width = before.columns.len();
    let empty = Cell { range: 0, rows: 0, columns: vec![0; width] };
    let b: BTreeMap<i64, &Cell> = before.cells.iter().map(|c| (c.range, c)).collect();
    let n: BTreeMap<i64, &Cell> = now.cells.iter().map(|c| (c.range, c)).collect();
    let mut per_column: Vec<ColumnDifference> =
        before.columns.iter().map(|c| ColumnDifference { column: c.clone(), ranges: 0, samples: Vec::new(), at: Vec::new() }).collect();
    let ranges: std::collections::BTreeSet<i64> = b.keys().chain(n.keys()).copied().collect();
    for r in ranges {
        let x = b.get(&r).copied().unwrap_or(&empty);
        let y = n.get(&r).copied().unwrap_or(&empty);
        let mut any = false;
        if y.rows > x.rows {
            d.inserted += y.rows - x.rows;
            any = true;
        } else if x.rows > y.rows {
            d.deleted += x.rows - y.rows;
            any = true;
        }
        // Keys outside the baseline's span belong to rows that did not exist then: their
        // values are new, not existing data changed.
        let new_rows_only = before.layout.as_ref().is_some_and(|l| r == BELOW || r >= l.count);
        let mut values = false;
        for (i, cd) in per_column.iter_mut().enumerate().filter(|_| !new_rows_only) {
            if x.columns.get(i) != y.columns.get(i) {
                cd.ranges += 1;
                cd.at.push(r);
                if cd.samples.len() < SAMPLES {
                    cd.samples.push(label(r));
                }
                values = true;
            }
        }
        if values && x.rows == y.rows {
            d.changed_ranges += 1;
        }
        if (any || values) && d.samples.len() < SAMPLES {
            d.samples.push(label(r));
        }
    }
    d.columns = per_column.into_iter().filter(|c| c.ranges > 0).collect();
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_covers_every_key_once() {
        let l = KeyLayout::new("id", 1, 3000);
        assert_eq!((l.width, l.count), (12, 250));
        assert_eq!(l.range_of(0), BELOW);
        assert_eq!(l.range_of(1), 0);
        assert_eq!(l.range_of(12), 0);
        assert_eq!(l.range_of(13), 1);
        assert_eq!(l.range_of(3000), 249);
        assert_eq!(l.range_of(100_000), 250);
        assert_eq!(l.label(0), "id 1–12");
        assert_eq!(l.label(250), "id > 3000");
        let odd = KeyLayout::new("id", 1, 3001);
        assert_eq!((odd.width, odd.range_of(3001), odd.range_of(3002), odd.label(odd.count - 1)), (12, 250, 251, "id 3001".to_string()));
        let one = KeyLayout::new("id", 5, 5);
        assert_eq!((one.width, one.count, one.label(0)), (1, 1, "id 5".to_string()));
        let wide = KeyLayout::new("id", i64::MIN, i64::MAX);
        assert_eq!(wide.range_of(i64::MAX), wide.count - 1);
    }

    #[test]
    fn cell_hash_depends_on_key_and_value() {
        assert_ne!(cell_hash(1, b"a"), cell_hash(2, b"a"));
        assert_ne!(cell_hash(1, b"a"), cell_hash(1, b"b"));
        assert_eq!(cell_hash(7, b"xyz"), cell_hash(7, b"xyz"));
    }
}
