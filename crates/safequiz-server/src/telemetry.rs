//! Logging setup: `tracing` to standard error, filtered by `RUST_LOG` (default `info`).
//!
//! Never log phones, names, tokens or request bodies; log ids as dotted fields (`attempt.id`).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls (several tests in one process) do nothing.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _already_installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
