//! SIGINT (Ctrl-C), SIGTERM and SIGHUP (terminal closed, SSH dropped) during a run: each is the
//! operator stopping. The first one cancels the statement in progress (through the engine's
//! cancel handle: a PostgreSQL cancel request, a MariaDB/MySQL `KILL QUERY`), ends the step's
//! command, and lets the run record the interruption and end with exit 3. A signal that
//! arrives between steps or at a prompt is not lost: the next step does not start. A second
//! signal exits at once; every journal line is written whole before the next begins, so the
//! journal stays valid either way.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::db::Canceller;
use crate::error::{Error, Result as RunResult, EXIT_STOPPED};
use crate::journal::Decision;
use crate::ui::{ItemAnswer, Prompter};

/// How long a cancelled statement may take to give up before the step is abandoned: short
/// enough that every signal ends the run within a second.
pub const CANCEL_GRACE: Duration = Duration::from_millis(600);

/// Receives interruptions; cloned into every step.
#[derive(Clone)]
pub struct Interrupts {
    rx: watch::Receiver<(u32, &'static str)>,
    /// How many signals the run has already acted on: any beyond that is pending.
    handled: Arc<AtomicU32>,
}

/// Start listening for SIGINT, SIGTERM and SIGHUP for the rest of the process.
pub fn listen() -> Interrupts {
    let (tx, rx) = watch::channel((0u32, ""));
    let mut streams = Vec::new();
    for (kind, name) in [(SignalKind::interrupt(), "Ctrl-C"), (SignalKind::terminate(), "SIGTERM"), (SignalKind::hangup(), "SIGHUP")] {
        if let Ok(s) = signal(kind) {
            streams.push((s, name));
        }
    }
    tokio::spawn(async move {
        let mut count = 0;
        loop {
            let recvs = streams.iter_mut().map(|(s, name)| {
                let name: &'static str = name;
                Box::pin(async move {
                    s.recv().await;
                    name
                })
            });
            let (name, _, _) = futures_util::future::select_all(recvs).await;
            count += 1;
            if count >= 2 {
                crate::ui::panel::fail(format!("second signal ({name}): exiting now; the journal is valid up to its last line"));
                // Exiting skips every destructor: the terminal is put back here.
                crate::ui::restore_terminal();
                // …and so are the files that hold a password for a dump tool.
                crate::db::dump::remove_credential_files();
                std::process::exit(EXIT_STOPPED);
            }
            let _ = tx.send((count, name));
        }
    });
    Interrupts { rx, handled: Arc::new(AtomicU32::new(0)) }
}

impl Interrupts {
    /// The signal that arrived and that the run has not acted on yet.
    pub fn pending(&self) -> Option<&'static str> {
        let (count, name) = *self.rx.borrow();
        (count > self.handled.load(Ordering::SeqCst)).then_some(name)
    }

    /// The last signal the process received, if any (a Ctrl-C typed at a prompt is a key, not a
    /// signal, and does not count).
    pub fn last_signal(&self) -> Option<&'static str> {
        let (count, name) = *self.rx.borrow();
        (count > 0).then_some(name)
    }

    /// Wait until a signal is pending (at once when one already is), and name it: for work
    /// that has no statement to cancel and only needs to stop waiting (a fleet waiting for its
    /// targets, its bake time, its own command).
    pub async fn signalled(&self) -> &'static str {
        let mut rx = self.rx.clone();
        loop {
            if let Some(name) = self.pending() {
                return name;
            }
            if rx.changed().await.is_err() {
                // The listener is gone: no signal can come any more.
                std::future::pending::<()>().await;
            }
        }
    }

    /// The run has acted on every signal so far (journaled it, stopped the plan): a rollback
    /// the operator then asks for may run; a further signal ends the process.
    pub fn acknowledge(&self) {
        let (count, _) = *self.rx.borrow();
        self.handled.store(count, Ordering::SeqCst);
    }
}

/// The signal a name given by [`listen`] stands for, to pass the same one on to a child process
/// (a fleet's target runs): a Ctrl-C typed at a prompt is passed on as the SIGINT it stands for.
pub fn signal_number(name: &str) -> libc::c_int {
    match name {
        "SIGTERM" => libc::SIGTERM,
        "SIGHUP" => libc::SIGHUP,
        _ => libc::SIGINT,
    }
}

pub enum Outcome {
    Interrupted(String),
    Error(Error),
}

/// Run a step's future unless an interruption arrives first (or already has).
/// `grace` is how long the step may take to fail cleanly once cancelled: [`CANCEL_GRACE`] for a
/// step that runs statements, none for one whose work ends when it is dropped (a command's
/// process group is ended then).
pub async fn race<F>(fut: F, i: &mut Interrupts, canceller: Option<Canceller>, grace: Duration) -> Result<(), Outcome>
where
    F: Future<Output = crate::error::Result<()>>,
{
    if let Some(name) = i.pending() {
        return Err(Outcome::Interrupted(name.to_string()));
    }
    tokio::pin!(fut);
    loop {
        tokio::select! {
            r = &mut fut => return r.map_err(Outcome::Error),
            changed = i.rx.changed() => {
                if changed.is_err() {
                    // The listener is gone: nothing can interrupt this step any more.
                    return fut.await.map_err(Outcome::Error);
                }
                let Some(name) = i.pending() else { continue };
                // The cancel (and its check on the server) runs while the step gets the grace
                // to fail cleanly, so that its transaction is rolled back; a step that is only
                // waiting (a monitor between samples) is dropped.
                let cancel = async {
                    if let Some(cancel) = canceller {
                        cancel().await;
                    }
                };
                let _ = tokio::join!(cancel, tokio::time::timeout(grace, &mut fut));
                return Err(Outcome::Interrupted(name.to_string()));
            }
        }
    }
}

/// Ask the operator something, unless a signal comes first. A prompt blocks on the terminal,
/// where no signal can reach it; so it runs on a thread of its own while this waits for either
/// its answer or a signal. On a signal the prompt is abandoned there (its thread ends with the
/// process), the terminal is put back, and [`Error::Interrupted`] ends the run like any other
/// interruption. An automatic prompter (`--yes`) answers at once, on this thread.
pub async fn ask<T, F>(prompter: &mut Box<dyn Prompter>, interrupts: Option<&Interrupts>, f: F) -> RunResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn Prompter) -> RunResult<T> + Send + 'static,
{
    let Some(interrupts) = interrupts.filter(|_| prompter.interactive()) else {
        return tokio::task::block_in_place(|| f(prompter.as_mut()));
    };
    if let Some(signal) = interrupts.pending() {
        return Err(Error::Interrupted { signal: signal.into() });
    }
    let mut rx = interrupts.rx.clone();
    let mut out = std::mem::replace(prompter, Box::new(Gone));
    let mut task = tokio::task::spawn_blocking(move || {
        let answer = f(out.as_mut());
        (out, answer)
    });
    loop {
        tokio::select! {
            done = &mut task => {
                let (back, answer) = done.map_err(|e| Error::failed(format!("the prompt failed: {e}")))?;
                *prompter = back;
                return answer;
            }
            changed = rx.changed() => {
                if changed.is_err() {
                    // The listener is gone: only the answer can end this wait now.
                    let (back, answer) = (&mut task).await.map_err(|e| Error::failed(format!("the prompt failed: {e}")))?;
                    *prompter = back;
                    return answer;
                }
                if let Some(signal) = interrupts.pending() {
                    crate::ui::restore_terminal();
                    crate::ui::end_abandoned_prompt();
                    return Err(Error::Interrupted { signal: signal.into() });
                }
            }
        }
    }
}

/// Stands in for the prompter while it is out on its thread, and for good once a signal left
/// it there: nobody is left to answer, so nothing more is asked.
struct Gone;

fn gone<T>() -> RunResult<T> {
    Err(Error::Stopped { message: "the run was interrupted at a prompt; nothing more is asked".into() })
}

impl Prompter for Gone {
    fn how(&self) -> &'static str {
        "interrupted at a prompt"
    }
    fn interactive(&self) -> bool {
        false
    }
    fn step(&mut self, _: &str) -> RunResult<Decision> {
        gone()
    }
    fn skip_reason(&mut self) -> RunResult<String> {
        gone()
    }
    fn checklist_item(&mut self, _: &str) -> RunResult<ItemAnswer> {
        gone()
    }
    fn note(&mut self, _: &str) -> RunResult<Option<String>> {
        gone()
    }
    fn confirm(&mut self, _: &str, _: bool) -> RunResult<bool> {
        gone()
    }
    fn in_flight(&mut self, _: &str) -> RunResult<crate::ui::InFlight> {
        gone()
    }
    fn secret(&mut self, _: &str) -> RunResult<Option<String>> {
        gone()
    }
}
