//! Process plumbing: signals, liveness checks, log tails, port checks, and the watchdog
//! that makes a child stop when its supervisor dies.

use std::io::{ErrorKind, Read as _};
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::time::Duration;

/// Sends SIGTERM to `pid`. Returns `false` if the process does not exist.
#[cfg(unix)]
pub fn terminate(pid: u32) -> bool {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    kill(Pid::from_raw(raw), Signal::SIGTERM).is_ok()
}

/// Without Unix signals there is no graceful stop: callers fall back to killing.
#[cfg(not(unix))]
pub fn terminate(_pid: u32) -> bool {
    false
}

/// Whether a process `pid` exists.
#[cfg(unix)]
pub fn alive(pid: u32) -> bool {
    use nix::errno::Errno;
    use nix::sys::signal::kill;
    use nix::unistd::Pid;
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    match kill(Pid::from_raw(raw), None) {
        Ok(()) => true,
        Err(e) => e == Errno::EPERM,
    }
}

/// Without Unix signals, assume the worst (a pid file means a live process).
#[cfg(not(unix))]
pub fn alive(_pid: u32) -> bool {
    true
}

/// Whether `pid` is alive *and* its command line mentions `needle` (guards against a
/// recycled pid belonging to an unrelated program). Where `/proc` is missing, liveness
/// alone decides.
pub fn alive_and_ours(pid: u32, needle: &str) -> bool {
    if !alive(pid) {
        return false;
    }
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(bytes) => {
            let cmdline = String::from_utf8_lossy(&bytes).replace('\0', " ");
            cmdline.contains(needle)
        }
        Err(_) => !Path::new("/proc/self").exists(),
    }
}

/// SIGTERM `pid`, wait up to `grace` for it to exit, then SIGKILL it. For processes that
/// are not our children (stale ones from a killed supervisor).
#[cfg(unix)]
pub fn stop_foreign(pid: u32, grace: Duration) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    if !terminate(pid) {
        return;
    }
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline {
        if !alive(pid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Ok(raw) = i32::try_from(pid) {
        let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
    }
}

/// Without Unix signals a foreign process cannot be stopped from here.
#[cfg(not(unix))]
pub fn stop_foreign(_pid: u32, _grace: Duration) {}

/// The line the supervisor writes into a child's log before each start.
pub const START_MARKER: &str = "==== session devnet: starting";

/// The last `n` lines of a log file since the last start marker, indented, for error
/// messages.
pub fn log_tail(path: &Path, n: usize) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return format!("    (no log at {})", path.display());
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let since_start = lines
        .iter()
        .rposition(|l| l.starts_with(START_MARKER))
        .map_or(0, |i| i + 1);
    let start = lines.len().saturating_sub(n).max(since_start);
    let mut out = String::new();
    for l in &lines[start..] {
        out.push_str("    ");
        out.push_str(l);
        out.push('\n');
    }
    if out.is_empty() {
        out.push_str("    (the log is empty)\n");
    }
    out
}

/// Whether something already listens on (or holds) 127.0.0.1:`port`.
pub fn port_in_use(port: u16) -> bool {
    match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
        Ok(_) => false,
        Err(e) => e.kind() == ErrorKind::AddrInUse,
    }
}

/// Whether a TCP connection to 127.0.0.1:`port` succeeds within `timeout`.
pub fn reachable(port: u16, timeout: Duration) -> bool {
    std::net::TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), timeout).is_ok()
}

/// Starts the watchdog of a supervised child: a thread reading stdin, which the
/// supervisor holds open as a pipe and never writes. End of file means the supervisor
/// is gone (exited, crashed or was SIGKILLed): the child sends itself SIGTERM, so its
/// own graceful shutdown runs, and exits for good after `grace`.
pub fn watch_parent(grace: Duration) {
    let spawned = std::thread::Builder::new()
        .name("devnet-watchdog".into())
        .spawn(move || {
            let mut stdin = std::io::stdin();
            let mut buf = [0u8; 64];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            eprintln!("session devnet: the supervisor is gone; shutting down");
            if terminate(std::process::id()) {
                std::thread::sleep(grace);
            }
            std::process::exit(1);
        });
    if let Err(e) = spawned {
        eprintln!("session devnet: cannot start the watchdog thread: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_and_ports() {
        assert!(alive(std::process::id()));
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(port_in_use(port));
        assert!(reachable(port, Duration::from_secs(1)));
        drop(l);
        assert!(!port_in_use(port));
    }

    #[test]
    fn tails() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("x.log");
        std::fs::write(&p, "a\nb\nc\n").unwrap();
        assert_eq!(log_tail(&p, 2), "    b\n    c\n");
        std::fs::write(&p, format!("a\n{START_MARKER} x\nb\n")).unwrap();
        assert_eq!(log_tail(&p, 5), "    b\n");
        assert!(log_tail(&tmp.path().join("none"), 2).contains("no log"));
    }
}
