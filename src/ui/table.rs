//! A small result table in the terminal: what a report query returned, capped so that a query
//! that returns thousands of rows does not scroll the run away. The reports hold the same rows.

use super::visible::one_line;
use crate::db::QueryRows;

/// Rows shown in the terminal; the rest are counted.
pub const MAX_ROWS: usize = 10;
/// Characters shown of one value; longer ones end with `…`.
pub const MAX_WIDTH: usize = 32;

/// The lines of `rows` as a table, each after `indent`: a header, a rule, the first
/// [`MAX_ROWS`] rows, and a line saying how many more there are.
pub fn lines(rows: &QueryRows, indent: &str) -> Vec<String> {
    if rows.columns.is_empty() {
        return vec![format!("{indent}(no rows)")];
    }
    let cell = |v: &Option<String>| -> String {
        let s = v.as_deref().map(one_line).unwrap_or_else(|| "null".into());
        if s.chars().count() > MAX_WIDTH {
            format!("{}…", s.chars().take(MAX_WIDTH - 1).collect::<String>())
        } else {
            s
        }
    };
    let head: Vec<String> = rows.columns.iter().map(|c| cell(&Some(c.clone()))).collect();
    let body: Vec<Vec<String>> = rows.rows.iter().take(MAX_ROWS).map(|r| r.iter().map(cell).collect()).collect();
    let widths: Vec<usize> = (0..head.len())
        .map(|i| body.iter().filter_map(|r| r.get(i)).chain([&head[i]]).map(|s| console::measure_text_width(s)).max().unwrap_or(0))
        .collect();
    let row = |r: &[String]| -> String {
        let cells: Vec<String> =
            widths.iter().enumerate().map(|(i, w)| format!("{:<w$}", r.get(i).map(String::as_str).unwrap_or(""), w = *w)).collect();
        format!("{indent}{}", cells.join(" │ ")).trim_end().to_string()
    };
    let mut out = vec![row(&head), format!("{indent}{}", widths.iter().map(|w| "─".repeat(*w)).collect::<Vec<_>>().join("─┼─"))];
    out.extend(body.iter().map(|r| row(r)));
    let shown = body.len() as u64;
    if rows.total > shown {
        out.push(format!("{indent}… {} more row(s), in the reports", rows.total - shown));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capped_table_with_nulls_and_long_values_cut() {
        let rows = QueryRows {
            columns: vec!["id".into(), "name".into()],
            rows: (1..=12).map(|i| vec![Some(i.to_string()), if i == 2 { None } else { Some("x".repeat(40)) }]).collect(),
            total: 15,
        };
        let l = lines(&rows, "  ");
        assert_eq!(l[0], format!("  id │ {:<32}", "name").trim_end());
        assert_eq!(l[3], "  2  │ null");
        assert!(l[2].ends_with(&format!("{}…", "x".repeat(31))));
        assert_eq!(l.len(), 2 + MAX_ROWS + 1);
        assert_eq!(l.last().unwrap(), "  … 5 more row(s), in the reports");
    }
}
