//! What every server command shares: a multi-threaded runtime, the listener bound to the
//! configured address, and a shutdown signal fired by Ctrl-C / SIGTERM.

use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;

use anyhow::Context as _;
use session_rt::Shutdown;
use tokio::net::TcpListener;

/// Runs a server until Ctrl-C / SIGTERM: `server` gets the bound listener and the shutdown
/// signal, builds the service, calls [`announce`], and serves until shutdown (draining
/// in-flight requests).
pub fn run_until_signal<F, Fut>(
    thread_name: &str,
    listen: SocketAddr,
    server: F,
) -> anyhow::Result<()>
where
    F: FnOnce(TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(thread_name)
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let listener = TcpListener::bind(listen).await.with_context(|| {
            format!("cannot listen on {listen}: is another process using that port?")
        })?;
        let (trigger, shutdown) = session_rt::shutdown::channel();
        tokio::spawn(session_rt::shutdown::trigger_on_signal(trigger));
        server(listener, shutdown).await
    })
}

/// Prints the server's one line on stdout (scripts and tests read the bound address from it)
/// and flushes it at once.
pub fn announce(line: &str) {
    println!("{line}");
    let _ = std::io::stdout().flush();
}
