//! The question a step's prompt asks, in the words of what the step does: "Take the backup
//! now?", "Run these 2 statements?", "Start the 15-minute monitoring window?". A generic "Run
//! this step?" makes every step look alike at 2 a.m., and is wrong for a manual step.

use std::time::Duration;

use crate::db::Engine;
use crate::load::vars::Vars;
use crate::runbook::duration;
use crate::runbook::{Action, Step};

pub fn question(step: &Step, vars: &Vars, engine: Engine) -> String {
    match &step.action {
        Action::Backup => "Take the backup now?".into(),
        Action::Sql(a) => match super::statements(&a.sql, engine, vars, true).map(|s| s.len()) {
            Ok(1) => "Run this statement?".into(),
            Ok(n) if n > 1 => format!("Run these {n} statements?"),
            _ => "Run this SQL?".into(),
        },
        Action::Verify(_) => "Run these checks?".into(),
        Action::Command(_) => "Run this command?".into(),
        Action::Manual(_) => "Go through this checklist now?".into(),
        Action::Validate(_) => "Compare the data with its baseline now?".into(),
        Action::Http(a) => format!("Send this {} request?", a.method.to_uppercase()),
        Action::Monitor(a) => match vars.render(&a.duration).ok().and_then(|d| duration::parse(&d).ok()) {
            Some(d) => format!("Start the {} monitoring window?", window(d)),
            None => "Start the monitoring window?".into(),
        },
    }
}

/// "15-minute", "2-hour", "90-second"; anything else as the duration itself.
fn window(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => duration::human(d),
        _ if s.is_multiple_of(3600) => format!("{}-hour", s / 3600),
        _ if s.is_multiple_of(60) => format!("{}-minute", s / 60),
        _ => format!("{s}-second"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_read_as_spoken() {
        assert_eq!(window(Duration::from_secs(900)), "15-minute");
        assert_eq!(window(Duration::from_secs(7200)), "2-hour");
        assert_eq!(window(Duration::from_secs(90)), "90-second");
    }
}
