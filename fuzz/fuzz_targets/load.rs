//! Fuzz target for the runbook loader: arbitrary text goes through everything `validate` and
//! `plan` do with a runbook before they touch a database, and none of it may panic or hang.
//!
//! Invalid runbooks: every diagnostic is rendered, as `runbook validate` prints it.
//! Valid runbooks: the DDL lint (engine unknown and each engine), and every step's
//! description for each engine with the runbook's own variables resolved.

#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use runbook::db::Engine;
use runbook::exec::step::describe;
use runbook::load::{load_str, vars::Vars};
use runbook::runbook::PlanKind;
use runbook::Error;

const ENGINES: [Engine; 3] = [Engine::Sqlite, Engine::Postgres, Engine::Mysql];

fuzz_target!(|data: &[u8]| {
    // `load` rejects non-UTF-8 files before `load_str`; a lossy conversion keeps the fuzzer's
    // byte-level mutations useful instead of discarding them.
    let text = String::from_utf8_lossy(data);
    // The hash is only carried along into reports; its value does not matter here.
    let sha256 = "0".repeat(64);
    let loaded = match load_str("fuzz.yaml", Arc::from(text.as_ref()), sha256) {
        Ok(loaded) => loaded,
        Err(Error::Invalid { diagnostics }) => {
            for d in &diagnostics {
                let _ = runbook::ui::diagnostic::render(d, false);
            }
            return;
        }
        Err(_) => return,
    };

    let _ = runbook::lint::lint(&loaded, None);
    for engine in ENGINES {
        let _ = runbook::lint::lint(&loaded, Some(engine));
    }

    // With no --var overrides resolving cannot fail. Steps are described twice: as resolved
    // (built-ins unset, shown as written) and with the built-ins `plan` and `run` set.
    let Ok(resolved) = Vars::resolve(&loaded.doc, &[]) else { return };
    let mut with_builtins = resolved.clone();
    with_builtins.set("db_url", "sqlite://fuzz.db");
    with_builtins.set("runbook_dir", ".");
    with_builtins.set("operator", "fuzz");
    with_builtins.set("run_id", "run-0");
    with_builtins.set("run_dir", "runbook-runs/run-0");
    for vars in [&resolved, &with_builtins] {
        for which in [PlanKind::Plan, PlanKind::Rollback] {
            for step in loaded.steps(which) {
                for engine in ENGINES {
                    let _ = describe(step, vars, engine);
                }
            }
        }
    }
});
