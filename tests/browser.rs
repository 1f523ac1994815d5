//! The HTML reports in a real browser: headless Chromium (Debian's `chromium`) loads every
//! golden report (`tests/golden/*/report.html`) and the test checks what a reader would meet:
//! no console message (a script error or a blocked load is one), no network request, the
//! timeline and the charts in the page, and a print layout that fits A4 without cutting a table.
//!
//! Network requests are caught by pointing the browser at a loopback proxy that records every
//! request; Chromium's own background calls to its vendor's services are told apart by host.
//! Without Chromium the test is skipped, by name, unless `RUNBOOK_REQUIRE_SERVERS=1`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::support::{servers_required, skip, TempDir};

/// A4's width less the report's print margins (210 mm − 2 × 12 mm), in CSS pixels at 96 dpi.
const A4_PRINTABLE_PX: u32 = 703;

fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().map(PathBuf::from).find(|p| p.exists());
    if found.is_none() {
        assert!(!servers_required(), "chromium is not installed (RUNBOOK_REQUIRE_SERVERS=1): apt-get install chromium");
        skip("chromium is not installed (apt-get install chromium)");
    }
    found
}

fn golden_reports() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut out: Vec<PathBuf> =
        std::fs::read_dir(&root).unwrap().flatten().map(|e| e.path().join("report.html")).filter(|p| p.exists()).collect();
    out.sort();
    assert!(out.len() >= 3, "golden HTML reports under {}", root.display());
    out
}

/// A loopback proxy that records the target of every request it is sent.
struct Proxy {
    addr: String,
    seen: Arc<Mutex<Vec<String>>>,
    server: Arc<tiny_http::Server>,
}

impl Proxy {
    fn start() -> Proxy {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("loopback proxy"));
        let addr = server.server_addr().to_ip().expect("ip address").to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, log) = (server.clone(), seen.clone());
        std::thread::spawn(move || {
            for req in s.incoming_requests() {
                log.lock().unwrap().push(format!("{} {}", req.method(), req.url()));
                let _ = req.respond(tiny_http::Response::empty(502));
            }
        });
        Proxy { addr, seen, server }
    }

    /// The requests a page made: all but Chromium's own calls home (update checks, time,
    /// accounts), which every start of the browser makes whatever it loads.
    fn page_requests(&self) -> Vec<String> {
        let own = regex::Regex::new(r"(^|[./])(google\.com|googleapis\.com|gvt1\.com|gstatic\.com)(:\d+)?(/|$)").unwrap();
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| {
                let target = r.split_whitespace().nth(1).unwrap_or("");
                let host = target.trim_start_matches("http://").trim_start_matches("https://");
                !own.is_match(host.split('/').next().unwrap_or(""))
            })
            .cloned()
            .collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// Run headless Chromium on `page` with `args`; its standard output and error.
fn chromium_run(bin: &Path, proxy: &Proxy, page: &Path, args: &[String]) -> (String, String) {
    let profile = TempDir::new();
    // A browser that hangs fails the test instead of holding it up.
    let mut c = Command::new("timeout");
    c.args(["--kill-after=5", "120"])
        .arg(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=2000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--proxy-server=http://{}", proxy.addr))
        .arg("--proxy-bypass-list=<-loopback>")
        .args(args)
        .arg(format!("file://{}", page.display()));
    let out = c.output().expect("start chromium");
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Every golden report, in Chromium: no console message and no request, the timeline and the
/// charts present, A4 pages, and nothing wider than A4's printable width under the print styles.
#[test]
fn golden_html_reports_render_cleanly_in_headless_chromium() {
    let Some(bin) = chromium() else { return };
    let work = TempDir::new();
    let boxes = regex::bytes::Regex::new(r"/MediaBox\s*\[\s*0 0 ([0-9.]+) ([0-9.]+)\s*\]").unwrap();
    let layout = regex::Regex::new(r#"data-layout="([^"]*)""#).unwrap();
    for report in golden_reports() {
        let name = report.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
        let proxy = Proxy::start();

        // As a reader opens it.
        let (dom, log) = chromium_run(&bin, &proxy, &report, &["--dump-dom".into()]);
        let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
        assert!(console.is_empty(), "{name}: console messages:\n{}", console.join("\n"));
        assert!(dom.contains("<h2>Timeline"), "{name}: no timeline section\n{dom}");
        assert!(dom.contains(r#"aria-label="Timeline of the steps""#), "{name}: no timeline chart");
        let charts = dom.matches(r#"class="chart""#).count();
        assert!(charts >= if name == "success" { 2 } else { 1 }, "{name}: {charts} chart(s)");

        // Printed: every page is A4 (595 × 842 points).
        let pdf = work.join(format!("{name}.pdf"));
        chromium_run(&bin, &proxy, &report, &["--no-pdf-header-footer".into(), format!("--print-to-pdf={}", pdf.display())]);
        let bytes = std::fs::read(&pdf).unwrap_or_else(|e| panic!("{name}: no PDF printed: {e}"));
        let pages: Vec<(f64, f64)> = boxes
            .captures_iter(&bytes)
            .map(|c| {
                let n = |i| String::from_utf8_lossy(&c[i]).parse::<f64>().unwrap();
                (n(1), n(2))
            })
            .collect();
        assert!(!pages.is_empty(), "{name}: no page in the PDF");
        for (w, h) in &pages {
            assert!((w - 595.3).abs() < 2.0 && (h - 841.9).abs() < 2.0, "{name}: a {w}×{h} page is not A4");
        }

        // The print styles at A4's printable width: no table, chart or code block reaches past
        // the edge (a copy of the report with the print rules applied on screen and a script
        // that measures; the report itself allows no script).
        let html = std::fs::read_to_string(&report).unwrap();
        let measured = html
            .replacen("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';", 1)
            .replace("@media print", "@media all")
            .replacen("</body>", &format!("<script>{MEASURE}</script></body>"), 1);
        let page = work.write(&format!("{name}-measured.html"), &measured);
        let (dom, _) = chromium_run(&bin, &proxy, &page, &[format!("--window-size={A4_PRINTABLE_PX},1100"), "--dump-dom".into()]);
        let verdict = layout.captures(&dom).map(|c| c[1].to_string()).unwrap_or_else(|| panic!("{name}: the measuring script did not run"));
        assert!(verdict.starts_with(&format!("fits {A4_PRINTABLE_PX}")), "{name}: cut at A4 width: {verdict}");

        let requests = proxy.page_requests();
        assert!(requests.is_empty(), "{name}: network requests: {requests:?}");
    }
}

/// Marks the body with whether every table, chart, image and code block fits the page width.
const MEASURE: &str = "(function(){var W=document.documentElement.clientWidth,bad=[];\
document.querySelectorAll('table,svg,pre,img,code').forEach(function(e,i){var r=e.getBoundingClientRect();\
if(r.right>W+0.5||r.left<-0.5)bad.push(e.tagName+'#'+i+':'+Math.round(r.right));});\
document.body.setAttribute('data-layout',(bad.length?'overflow ':'fits ')+W+' '+bad.join(' '));})();";

/// The screenshot of the demo report that the documentation shows is kept in `docs/`.
#[test]
fn the_demo_reports_screenshot_is_in_the_docs() {
    let png = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report-html-demo.png")).expect("docs/report-html-demo.png");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "a real PNG screenshot");
}
