//! `idp`: the command-line entry point. Parses arguments and settings, then
//! hands over to one module per subcommand; the work itself lives in the
//! library crates.

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

/// jemalloc hands freed pages back to the system after a short decay (glibc
/// keeps a freed 19 MiB Argon2 block in its thread arena for good), so an
/// idle server shrinks back after a burst of logins.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.exit_code)
        }
    }
}
