//! Progress for long steps (monitoring): on a terminal, a bar with the time left and the
//! latest samples; otherwise a short line per sample, so that logs of unattended runs stay
//! readable and grep-able.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::runbook::duration::human;

pub struct Progress {
    bar: Option<ProgressBar>,
    total: Duration,
}

impl Progress {
    /// A bar on standard output when it is a terminal and there is time to show.
    pub fn new(total: Duration, label: &str) -> Progress {
        if !super::can_redraw() || total.is_zero() {
            return Progress { bar: None, total };
        }
        let bar = ProgressBar::with_draw_target(Some(total.as_millis() as u64), ProgressDrawTarget::stdout());
        bar.set_style(
            ProgressStyle::with_template("  {spinner} [{bar:30}] {prefix} · {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(left(total, Duration::ZERO));
        bar.set_message(format!("{label}: first sample…"));
        bar.enable_steady_tick(Duration::from_millis(250));
        Progress { bar: Some(bar), total }
    }

    /// Whether a bar is shown (a terminal), as opposed to one line per sample.
    pub fn is_bar(&self) -> bool {
        self.bar.is_some()
    }

    /// Move the bar to `elapsed` between samples.
    pub fn tick(&self, elapsed: Duration) {
        if let Some(b) = &self.bar {
            b.set_position(elapsed.as_millis() as u64);
            b.set_prefix(left(self.total, elapsed));
        }
    }

    /// Report one sample. On a terminal the bar shows `line` as its latest sample and only a
    /// failing sample stays on screen as its own line; without a terminal every sample is a line.
    pub fn sample(&self, elapsed: Duration, line: &str, ok: bool) {
        match &self.bar {
            Some(b) => {
                self.tick(elapsed);
                let line = super::visible::one_line(line);
                b.set_message(line.clone());
                if !ok {
                    b.println(format!("    {line}"));
                }
            }
            None => super::out(format!("    {}", super::visible::one_line(line))),
        }
    }

    /// Run `f` with the bar hidden, for prompts.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // A step that ends early (error, timeout) must not leave a ticking bar behind.
        self.finish();
    }
}

fn left(total: Duration, elapsed: Duration) -> String {
    format!("{} left of {}", human(total.saturating_sub(elapsed)), human(total))
}
