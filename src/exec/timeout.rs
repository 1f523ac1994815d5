//! A step's `timeout:`: read once from the step (it may come from a variable) and applied by
//! dropping the step's future when it runs out. Dropping is what ends a command's process
//! group (its guard fires on drop), so every caller that runs a step — a target's run or the
//! fleet running a `scope: fleet` step once — gets the same limit and the same clean-up.

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::load::vars::Vars;
use crate::runbook::Step;

/// The step's limit, if it has one.
pub fn limit(step: &Step, vars: &Vars) -> Result<Option<Duration>> {
    match &step.timeout {
        Some(t) => Ok(Some(crate::runbook::duration::parse(&vars.render(t)?).map_err(Error::usage)?)),
        None => Ok(None),
    }
}

/// Run `fut` under `limit`; when it runs out the future is dropped and the step fails with the
/// one message every step uses.
pub async fn within<T>(limit: Option<Duration>, fut: impl Future<Output = Result<T>>) -> Result<T> {
    match limit {
        Some(l) => match tokio::time::timeout(l, fut).await {
            Ok(r) => r,
            Err(_) => Err(Error::failed(format!("the step timed out after {}", crate::runbook::duration::human(l)))),
        },
        None => fut.await,
    }
}
