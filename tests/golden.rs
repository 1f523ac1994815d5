//! Golden reports: every report format rendered by the real binary from a committed journal
//! (`tests/fixtures/reports/<fixture>/journal.jsonl`) and compared whole with the committed
//! report (`tests/golden/<fixture>/report.<ext>`), so any change in what a report says or how it
//! escapes is a visible diff in review.
//!
//! After an intended change, rewrite them with `UPDATE_GOLDEN=1 cargo test --test integration
//! golden::` and review the diff. The HTML files are also what the browser test loads.

use std::path::{Path, PathBuf};

use crate::support::Test;

/// The journals: a successful run, a failed run rolled back, a run interrupted by Ctrl-C then
/// killed then resumed to the end, a rehearsal, and a run full of hostile values (backticks,
/// CR, `<!--`, ANSI escapes, HTML, Markdown and Textile markup) in every field that can hold
/// outside text. `runbook.yaml` beside each journal is the runbook it was made with.
const FIXTURES: &[&str] = &["success", "failed-rollback", "resumed", "rehearsal", "hostile"];

/// `--format` value and the golden file's name.
const FORMATS: &[(&str, &str)] =
    &[("markdown", "report.md"), ("textile", "report.textile"), ("html", "report.html"), ("json", "report.json")];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") || std::env::var_os("RUNBOOK_BLESS").is_some_and(|v| v == "1")
}

/// Render `fixture` in `format` with the real binary into the test folder; the fixture folder
/// itself is only read.
fn render(t: &Test, fixture: &str, format: &str, name: &str) -> String {
    let dir = root().join("tests/fixtures/reports").join(fixture);
    let out = t.dir.join(format!("{fixture}-{name}"));
    t.exec(["report", &dir.display().to_string(), "--format", format, "-o", &out.display().to_string()]).code(0);
    std::fs::read_to_string(&out).unwrap()
}

/// The first line where two texts differ, with both versions, for the failure message.
fn first_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let n = w.iter().zip(&g).take_while(|(a, b)| a == b).count();
    format!(
        "first difference at line {}:\n  golden:   {:?}\n  rendered: {:?}",
        n + 1,
        w.get(n).copied().unwrap_or("<end of file>"),
        g.get(n).copied().unwrap_or("<end of file>")
    )
}

fn check(path: &Path, got: &str, stale: &mut Vec<String>) {
    if updating() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, got).unwrap();
        return;
    }
    match std::fs::read_to_string(path) {
        Ok(want) if want == got => {}
        Ok(want) => stale.push(format!("{}: {}", path.display(), first_difference(&want, got))),
        Err(e) => stale.push(format!("{}: {e}", path.display())),
    }
}

#[test]
fn every_report_format_matches_its_golden_file() {
    let t = Test::new();
    let mut stale = Vec::new();
    for fixture in FIXTURES {
        for (format, name) in FORMATS {
            let got = render(&t, fixture, format, name);
            check(&root().join("tests/golden").join(fixture).join(name), &got, &mut stale);
        }
    }
    assert!(
        stale.is_empty(),
        "{} report(s) differ from their golden file (if the change is intended: UPDATE_GOLDEN=1 cargo test --test integration golden::, then review the diff):\n\n{}",
        stale.len(),
        stale.join("\n\n")
    );
}

/// Reports depend on the journal alone: rendering twice gives the same bytes (no clock, no
/// host, no random order), which is what makes golden files possible at all.
#[test]
fn a_report_is_the_same_every_time_it_is_rendered() {
    let t = Test::new();
    for (format, name) in FORMATS {
        let a = render(&t, "resumed", format, name);
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let b = render(&t, "resumed", format, &format!("again-{name}"));
        assert_eq!(a, b, "{format} report changed between two renderings of one journal");
    }
}

/// The hostile values reach no report as live markup: checked on the rendered output of a
/// CommonMark renderer (the HTML Redmine would show), and on the raw HTML and Textile.
#[test]
fn hostile_values_stay_text_in_every_golden_report() {
    let t = Test::new();
    let md = render(&t, "hostile", "markdown", "report.md");
    let html_of_md = comrak::markdown_to_html(&md, &{
        let mut o = comrak::Options::default();
        o.extension.table = true;
        o.render.unsafe_ = true;
        o
    });
    for (what, text) in
        [("Markdown rendered by CommonMark", html_of_md.as_str()), ("HTML report", &render(&t, "hostile", "html", "report.html"))]
    {
        let lower = text.to_lowercase();
        for bad in ["<script", "<img", "<b>", "<em>", "<i>", "<!--", "href=\"javascript", "href=\"http://evil", "\u{1b}", "\r"] {
            assert!(!lower.contains(bad), "{what} contains live `{}`", bad.escape_debug());
        }
        // The seal survives: nothing above it opened a comment or a block that swallows it.
        assert!(text.contains("Journal seal"), "{what} lost its seal");
    }
    let textile = render(&t, "hostile", "textile", "report.textile");
    for bad in ["<script", "<img", "<b>", "<em>", "<i>", "<!--", "\u{1b}", "\r"] {
        assert!(!textile.to_lowercase().contains(bad), "Textile report contains raw `{}`", bad.escape_debug());
    }
}
