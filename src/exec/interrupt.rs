//! Ctrl-C and SIGTERM during a run. The first one cancels the statement in progress (through
//! the engine's cancel handle, e.g. a PostgreSQL cancel request) and lets the run record the
//! interruption and end with exit 3; a second one exits at once. Every journal line is written
//! whole before the next begins, so the journal stays valid either way.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

use crate::db::Canceller;
use crate::error::{Error, EXIT_STOPPED};

/// How long a cancelled statement may take to give up before the step is abandoned.
const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// Receives interruptions; cloned into every step.
#[derive(Clone)]
pub struct Interrupts {
    rx: watch::Receiver<(u32, &'static str)>,
}

/// Start listening for Ctrl-C and SIGTERM for the rest of the process.
pub fn listen() -> Interrupts {
    let (tx, rx) = watch::channel((0u32, ""));
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut count = 0;
        loop {
            let name = tokio::select! {
                r = tokio::signal::ctrl_c() => { if r.is_err() { return; } "Ctrl-C" }
                Some(_) = async { match term.as_mut() { Some(t) => t.recv().await, None => std::future::pending().await } } => "SIGTERM",
            };
            count += 1;
            if count >= 2 {
                crate::ui::panel::fail(format!("second {name}: exiting now; the journal is valid up to its last line"));
                std::process::exit(EXIT_STOPPED);
            }
            let _ = tx.send((count, name));
        }
    });
    Interrupts { rx }
}

pub enum Outcome {
    Interrupted(String),
    Error(Error),
}

/// Run a step's future unless an interruption arrives first.
pub async fn race<F>(fut: F, i: &mut Interrupts, canceller: Option<Canceller>) -> Result<(), Outcome>
where
    F: Future<Output = crate::error::Result<()>>,
{
    // Only an interruption that arrives during this step counts: after a first Ctrl-C the
    // rollback plan may still run (a second one ends the process).
    i.rx.borrow_and_update();
    tokio::pin!(fut);
    tokio::select! {
        r = &mut fut => r.map_err(Outcome::Error),
        _ = i.rx.changed() => {
            let name = i.rx.borrow().1.to_string();
            if let Some(cancel) = canceller {
                cancel().await;
                // Let the cancelled statement fail cleanly so its transaction is rolled back.
                let _ = tokio::time::timeout(CANCEL_GRACE, &mut fut).await;
            }
            Err(Outcome::Interrupted(name))
        }
    }
}
