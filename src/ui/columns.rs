//! Two blocks of text side by side (the change plan next to its rollback plan in `plan`), or
//! one above the other when the terminal is too narrow for two readable columns.

use super::terminal::wrap;

/// Below this many columns the two blocks are stacked: each would be too narrow to read.
pub const SIDE_BY_SIDE_MIN: usize = 110;

/// The separator between the two columns.
const GUTTER: &str = " │ ";

/// One block: a heading and its entries, each entry a few lines that wrap inside the block.
pub struct Block {
    pub heading: String,
    pub entries: Vec<Vec<String>>,
}

/// Lay out `left` and `right` for a terminal `width` columns wide: side by side when there is
/// room, else stacked. Entries are aligned row by row, so step 1 of each plan starts on the
/// same line. Lines are plain text (no styling), so widths are exact.
pub fn layout(left: &Block, right: &Block, width: usize) -> Vec<String> {
    if width < SIDE_BY_SIDE_MIN {
        let mut out = Vec::new();
        for b in [left, right] {
            out.push(b.heading.clone());
            for e in &b.entries {
                for l in e {
                    out.extend(wrap(l, Some(width), "  "));
                }
            }
            out.push(String::new());
        }
        out.pop();
        return out;
    }
    let col = (width - GUTTER.chars().count()) / 2;
    let cell = |e: Option<&Vec<String>>| -> Vec<String> {
        e.map(|lines| lines.iter().flat_map(|l| wrap(l, Some(col), "  ")).collect()).unwrap_or_default()
    };
    let mut out = vec![row(&left.heading, &right.heading, col), format!("{}─┼─{}", "─".repeat(col), "─".repeat(col))];
    for i in 0..left.entries.len().max(right.entries.len()) {
        let (l, r) = (cell(left.entries.get(i)), cell(right.entries.get(i)));
        for j in 0..l.len().max(r.len()) {
            out.push(row(l.get(j).map(String::as_str).unwrap_or(""), r.get(j).map(String::as_str).unwrap_or(""), col));
        }
    }
    out
}

fn row(left: &str, right: &str, col: usize) -> String {
    let pad = col.saturating_sub(console::measure_text_width(left));
    format!("{left}{}{GUTTER}{right}", " ".repeat(pad)).trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks() -> (Block, Block) {
        (
            Block { heading: "Change plan".into(), entries: vec![vec!["1. Add".into(), "timeout 30s".into()], vec!["2. Sync".into()]] },
            Block { heading: "Rollback plan".into(), entries: vec![vec!["1. Drop".into()]] },
        )
    }

    #[test]
    fn wide_terminals_get_columns_and_narrow_ones_a_stack() {
        let (l, r) = blocks();
        let wide = layout(&l, &r, 160);
        assert!(wide[0].starts_with("Change plan") && wide[0].ends_with("│ Rollback plan"), "{wide:?}");
        assert!(wide[2].contains("1. Add") && wide[2].ends_with("│   1. Drop"), "{wide:?}");
        assert!(wide.iter().all(|l| l.chars().count() <= 160));
        let narrow = layout(&l, &r, 80);
        assert_eq!(narrow, ["Change plan", "  1. Add", "  timeout 30s", "  2. Sync", "", "Rollback plan", "  1. Drop"]);
    }
}
