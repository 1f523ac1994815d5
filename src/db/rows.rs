//! The first rows of a query's result, as text: what a `validate` step's report query returned,
//! kept small so that the journal and the reports show a sample, never a table dump.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Rows kept of a report query's result; the rest are counted, not kept.
pub const MAX_ROWS: usize = 20;
/// Characters kept of one value; a longer one is cut and ends with `…`.
pub const MAX_CELL: usize = 200;

/// A capped result table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QueryRows {
    /// Column names, as the server reports them (empty when the query returned no row).
    pub columns: Vec<String>,
    /// The first rows (at most 20), each value as text; `null` is SQL NULL.
    pub rows: Vec<Vec<Option<String>>>,
    /// How many rows the query returned in all.
    pub total: u64,
}

/// Gather a query's result stream into a capped table: the one way every engine reads a report
/// query, with `cell` turning a value into text in that engine's own terms.
pub async fn collect<R: sqlx::Row>(
    mut rows: impl futures_util::Stream<Item = Result<R, sqlx::Error>> + Unpin,
    cell: impl Fn(&R, usize) -> crate::error::Result<Option<String>>,
) -> crate::error::Result<QueryRows> {
    use futures_util::TryStreamExt;
    let mut out = QueryRows::default();
    while let Some(row) = rows.try_next().await? {
        if out.total == 0 {
            out.columns = row.columns().iter().map(|c| sqlx::Column::name(c).to_string()).collect();
        }
        out.total += 1;
        if out.rows.len() < MAX_ROWS {
            out.rows.push((0..row.len()).map(|i| cell(&row, i)).collect::<crate::error::Result<_>>()?);
        }
    }
    Ok(out)
}

/// Count a query's rows as they stream past, keeping none: how every engine runs a query whose
/// result only matters by its size.
pub async fn count<R>(mut rows: impl futures_util::Stream<Item = Result<R, sqlx::Error>> + Unpin) -> Result<u64, sqlx::Error> {
    use futures_util::TryStreamExt;
    let mut n = 0u64;
    while rows.try_next().await?.is_some() {
        n += 1;
    }
    Ok(n)
}

impl QueryRows {
    /// Whether rows were left out.
    pub fn truncated(&self) -> bool {
        self.total > self.rows.len() as u64
    }

    /// Every value passed through `f` (redaction), then cut to [`MAX_CELL`] characters: the cut
    /// comes after, so it can never leave a fragment of what `f` hides.
    pub fn map_cells(mut self, f: impl Fn(&str) -> String) -> QueryRows {
        for c in &mut self.columns {
            *c = cut(&f(c));
        }
        for row in &mut self.rows {
            for cell in row.iter_mut().flatten() {
                *cell = cut(&f(cell));
            }
        }
        self
    }
}

fn cut(s: &str) -> String {
    if s.chars().count() > MAX_CELL {
        format!("{}…", s.chars().take(MAX_CELL - 1).collect::<String>())
    } else {
        s.to_string()
    }
}
