//! The `runbook` binary: hand the arguments to the library and exit with the code it returns.
//!
//! Everything else lives in the library so that errors are printed in exactly one place
//! (`runbook::run`) and the exit code is decided there too.

fn main() {
    let code = runbook::run(std::env::args_os());
    std::process::exit(code);
}
