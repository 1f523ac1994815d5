//! The bake time (`--pause-between-waves`): while the fleet waits before the next wave, the
//! monitor steps of the pass keep sampling on every target of the wave that just ran, and
//! every sample goes to `fleet.jsonl` as a `bake_sample`. A sample outside its thresholds
//! ends the bake at once: no new wave starts, and the fleet exits 1 (`fleet resume` goes on
//! with the next wave once the cause is fixed).
//!
//! The targets' runs have ended by then (their journals are sealed), so the fleet samples
//! them itself, over a read-only connection, with each target's own variables. `query` and
//! `http` checks are sampled; a `log` check watches lines written while its step runs, which
//! has no meaning once the run is over, so it is left out (and said so).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::journal::{FleetEvent, TargetOutline};
use crate::db::Database;
use crate::error::Result;
use crate::journal::Journal;
use crate::load::vars::Vars;
use crate::runbook::{duration, Action, Loaded, MonitorCheck, Step};
use crate::ui::{self, panel};

/// Shortest interval between samples, as for a monitor step.
const MIN_INTERVAL: Duration = Duration::from_millis(50);

/// One target being watched.
struct Watched {
    name: String,
    vars: Vars,
    db: std::result::Result<Box<dyn Database>, String>,
}

/// Sample the monitors of `steps` on `targets` for `pause`. Returns why the bake failed when a
/// sample crossed its threshold (the bake then ends at once), for the fleet's closing line.
#[allow(clippy::too_many_arguments)]
pub async fn bake(
    journal: &mut Journal,
    loaded: &Loaded,
    fleet_vars: &BTreeMap<String, String>,
    outlines: &BTreeMap<String, TargetOutline>,
    steps: &[&Step],
    wave: usize,
    targets: &[String],
    pause: Duration,
) -> Result<Option<String>> {
    let monitors: Vec<(&Step, &crate::runbook::MonitorAction)> = steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::Monitor(m) => Some((*s, m)),
            _ => None,
        })
        .collect();
    if monitors.is_empty() || targets.is_empty() {
        tokio::time::sleep(pause).await;
        return Ok(None);
    }
    let mut watched = Vec::new();
    for name in targets {
        let Some(outline) = outlines.get(name) else { continue };
        let mut pairs: Vec<(String, String)> = fleet_vars.clone().into_iter().collect();
        pairs.extend(outline.vars.clone());
        let url = super::targets::FleetTarget {
            name: name.clone(),
            db_template: outline.db.clone(),
            vars: BTreeMap::new(),
            labels: BTreeMap::new(),
        }
        .db_url()?;
        let (vars, target) = crate::cmd::vars_and_target(loaded, &crate::cli::VarOpts { vars: pairs }, Some(&url))?;
        let db = crate::db::connect(&target, true).await.map_err(|e| e.to_string());
        watched.push(Watched { name: name.clone(), vars, db });
    }
    let fleet = Vars::resolve(&loaded.doc, &fleet_vars.clone().into_iter().collect::<Vec<_>>())?;
    let mut interval = pause;
    for (_, m) in &monitors {
        let i = duration::parse(&fleet.render(&m.interval)?).map_err(crate::error::Error::usage)?;
        interval = interval.min(i);
    }
    let interval = interval.max(MIN_INTERVAL);
    let client = crate::exec::step::http::client(interval.clamp(Duration::from_secs(1), Duration::from_secs(10)))?;
    for (s, m) in &monitors {
        for c in m.checks.iter().filter(|c| c.log.is_some()) {
            panel::info(format!("bake: `{}` check `{}` reads a log while its step runs; it is not sampled during the bake", s.id, c.name));
        }
    }
    ui::out(format!(
        "Baking for {} before the next wave: {} monitor step(s) sampled on {} target(s) every {}",
        duration::human(pause),
        monitors.len(),
        watched.len(),
        duration::human(interval)
    ));
    let started = Instant::now();
    let mut samples = 0u64;
    loop {
        let elapsed = started.elapsed();
        for w in watched.iter_mut() {
            for (s, m) in &monitors {
                for c in m.checks.iter().filter(|c| c.log.is_none()) {
                    let (value, detail) = sample(w, c, &client).await;
                    let ok = match (value, c.http.is_some()) {
                        (Some(v), true) => v as u16 == c.expect_status.unwrap_or(200),
                        (Some(v), false) => c.max.is_none_or(|x| v <= x) && c.min.is_none_or(|x| v >= x),
                        (None, _) => false,
                    };
                    let detail = detail.map(|d| crate::redact::Redactor::new(w.vars.secret_values()).text(&d));
                    journal.record_event(&FleetEvent::BakeSample {
                        wave,
                        target: w.name.clone(),
                        step_id: s.id.clone(),
                        check: c.name.clone(),
                        value,
                        ok,
                        elapsed_ms: elapsed.as_millis() as u64,
                        detail: detail.clone(),
                    })?;
                    samples += 1;
                    if !ok {
                        let why = match value {
                            Some(_) => format!("bake check `{}` of `{}` on {} over its threshold", c.name, s.id, w.name),
                            None => format!("bake check `{}` of `{}` on {} could not be read", c.name, s.id, w.name),
                        };
                        panel::fail(format!(
                            "bake after wave {wave}: {} · {} `{}` crossed its threshold at t+{:.1}s: {}{}",
                            w.name,
                            s.id,
                            c.name,
                            elapsed.as_secs_f64(),
                            value.map(|v| v.to_string()).unwrap_or_else(|| "error".into()),
                            detail.map(|d| format!(" ({d})")).unwrap_or_default()
                        ));
                        return Ok(Some(why));
                    }
                }
            }
        }
        if elapsed >= pause {
            break;
        }
        let next = (interval * ((elapsed.as_millis() / interval.as_millis().max(1)) as u32 + 1)).min(pause);
        tokio::time::sleep(next.saturating_sub(started.elapsed())).await;
    }
    panel::ok(format!("bake after wave {wave}: {samples} sample(s) over {}, all within thresholds", duration::human(pause)));
    Ok(None)
}

/// One sample of `c` on `w`, by the monitor step's own sampler.
async fn sample(w: &mut Watched, c: &MonitorCheck, client: &reqwest::Client) -> (Option<f64>, Option<String>) {
    let db = match &mut w.db {
        Ok(db) => Ok(db.as_mut() as &mut dyn Database),
        Err(e) => Err(e.as_str()),
    };
    crate::exec::step::monitor::sample_check(db, &w.vars, c, client).await
}
