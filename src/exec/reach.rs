//! Preflight of what lies outside the database: each HTTP endpoint an `http` step will call is
//! asked once, with a short timeout, whether it resolves and answers. Any HTTP answer counts,
//! whatever its status (a health check may rightly fail until the deploy is done); a name that
//! does not resolve, a refused connection or silence is reported with its step before step 1.

use std::time::Duration;

use crate::load::vars::Vars;
use crate::runbook::rehearse::Rehearse;
use crate::runbook::{Action, Step};

/// How long an endpoint may take to answer the preflight: long enough for a slow service,
/// short enough that a dead one does not hold up the start of a run.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Every endpoint of `steps` (those not in `skipped`) that does not answer, each naming its step.
/// In a rehearsal (`rehearsal`) the endpoint is the one the rehearsal calls: a step its policy
/// skips is not asked, and one with a stand-in URL has the stand-in asked, never the real
/// service the rehearsal keeps away from.
pub async fn problems(steps: &[Step], vars: &Vars, skipped: &[String], rehearsal: bool) -> Vec<String> {
    let Ok(client) = super::step::http::client(TIMEOUT) else { return Vec::new() };
    let mut out = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let Action::Http(a) = &s.action else { continue };
        if skipped.contains(&s.id) {
            continue;
        }
        let called: &str = match (&s.rehearse, rehearsal) {
            (Some(Rehearse::Skip { .. }), true) => continue,
            (Some(Rehearse::Url(u)), true) => u,
            _ => &a.url,
        };
        // A URL with a variable that has no value yet is reported by the variable check.
        let Ok(url) = vars.render(called) else { continue };
        let shown = vars.mask(called);
        let at = format!("step {} `{}`", i + 1, s.id);
        let Ok(parsed) = url::Url::parse(&url) else {
            out.push(format!("{at}: `{shown}` is not a URL"));
            continue;
        };
        if let Err(e) = client.head(parsed).send().await {
            let why = if e.is_timeout() { format!("no answer within {}s", TIMEOUT.as_secs()) } else { root_cause(&e) };
            out.push(format!("{at}: {shown} does not answer: {why}"));
        }
    }
    out
}

/// The innermost cause of a request error ("Connection refused (os error 111)", "failed to
/// lookup address"), which says what is wrong; the outer layers only repeat the URL.
fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
