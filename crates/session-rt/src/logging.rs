//! Logging setup for binaries: `tracing` to stderr, filtered by `RUST_LOG` or the given
//! default directive.

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init(default_directive: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(default_directive))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
