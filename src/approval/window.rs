//! `window:` in a runbook: the change window agreed on the ticket. `run` and `rollback` refuse
//! outside it unless the operator breaks glass with `--emergency`.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A change window, in the timezone the ticket speaks of.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// First moment of the window, `YYYY-MM-DD HH:MM` (seconds optional) in `timezone`.
    pub start: String,
    /// Last moment of the window, same form.
    pub end: String,
    /// An IANA timezone name such as `Europe/Berlin` or `UTC` (default `UTC`).
    #[serde(default = "utc")]
    pub timezone: String,
}

fn utc() -> String {
    "UTC".into()
}

impl Window {
    /// The window in UTC, or what is wrong with how it is written.
    pub fn bounds(&self) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
        let tz: chrono_tz::Tz = self
            .timezone
            .parse()
            .map_err(|_| format!("window.timezone `{}` is not an IANA timezone name such as Europe/Berlin", self.timezone))?;
        let at = |what: &str, s: &str| -> Result<DateTime<Utc>, String> {
            let naive = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(s.trim(), f).ok())
                .ok_or_else(|| format!("window.{what} `{s}` is not a date and time such as 2026-03-11 22:00"))?;
            tz.from_local_datetime(&naive)
                .earliest()
                .map(|d| d.with_timezone(&Utc))
                .ok_or_else(|| format!("window.{what} `{s}` does not exist in {} (a clock change)", self.timezone))
        };
        let (start, end) = (at("start", &self.start)?, at("end", &self.end)?);
        if end <= start {
            return Err(format!("window.end {} is not after window.start {}", self.end, self.start));
        }
        Ok((start, end))
    }

    /// `Ok` inside the window; otherwise why not, in words.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), String> {
        let (start, end) = self.bounds()?;
        let shown = format!("{} – {} {}", self.start, self.end, self.timezone);
        if now < start {
            Err(format!("the change window ({shown}) has not opened yet"))
        } else if now > end {
            Err(format!("the change window ({shown}) closed at {}", end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        } else {
            Ok(())
        }
    }
}
