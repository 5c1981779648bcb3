//! What the `session` command's end-to-end tests share: running the real binary with a
//! clean environment, and long-running children (servers, devnets) whose output lines
//! are read as they come and which are killed when dropped.

#![allow(dead_code)] // each test binary uses a part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_session");

/// `session args…` without the settings a developer's shell may export (so a test
/// sees only what it passes) and without standard input.
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).stdin(Stdio::null());
    for var in [
        "RUST_LOG",
        "SESSION_SOGS_CONFIG",
        "SESSION_SOGS_LISTEN",
        "SESSION_FILES_CONFIG",
        "SESSION_FILES_LISTEN",
        "SESSION_FILES_LOG",
    ] {
        c.env_remove(var);
    }
    c
}

/// Runs `session args…` to completion.
pub fn session(args: &[&str]) -> Output {
    command(args).output().expect("run session")
}

/// Runs a command that must succeed; its standard output.
pub fn ok(args: &[&str]) -> String {
    let out = session(args);
    assert!(
        out.status.success(),
        "{args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail; its standard error.
pub fn fails(args: &[&str]) -> String {
    let out = session(args);
    assert!(
        !out.status.success(),
        "{args:?} succeeded but should fail:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

/// Runs a command with `--json` that must succeed, and parses its output.
pub fn json(args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(ok(&all).trim()).unwrap()
}

/// A base port for a devnet with `nodes` nodes whose whole range (the file server on
/// base−1, the registry, the community server, two ports per node) is free right now.
/// `region` (a multiple of 10,000 below 30,000) keeps concurrently running test binaries
/// apart. The ranges lie below Linux's ephemeral range (32768–60999), so that the port-0
/// listeners and outgoing connections of tests running alongside cannot take one of the
/// ports between this check and the devnet's start.
pub fn free_base_port(region: u16, nodes: u16) -> u16 {
    let seed = u16::try_from(std::process::id() % 500).unwrap();
    for i in 0..200u16 {
        let base = region + 1 + (seed.wrapping_add(i.wrapping_mul(97)) % 500) * 20;
        let free = (0..=2 * nodes + 2).all(|o| {
            std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, base - 1 + o)).is_ok()
        });
        if free {
            return base;
        }
    }
    panic!("no free port range");
}

/// A child whose standard output lines arrive on a channel (and are echoed to the test's
/// standard error with `tag`); killed on drop, so a failing test leaves nothing behind.
pub struct Running {
    /// The process.
    pub child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Starts `cmd` with its standard output piped (standard error inherited).
    pub fn spawn(mut cmd: Command, tag: &'static str) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("{tag}: {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// Lines up to and including the first one starting with `prefix` (bounded).
    pub fn until(&mut self, prefix: &str, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = line.starts_with(prefix);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(e) => {
                    let status = self.child.try_wait().unwrap();
                    panic!(
                        "no {prefix:?} line within {limit:?} ({e}); exit status {status:?}; \
                         lines: {seen:?}"
                    );
                }
            }
        }
    }

    /// The first line starting with `prefix` (bounded).
    pub fn wait_for(&mut self, prefix: &str, limit: Duration) -> String {
        self.until(prefix, limit).pop().unwrap_or_default()
    }

    /// Every line that arrives within `quiet` of the previous one.
    pub fn drain(&mut self, quiet: Duration) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(quiet) {
            out.push(line);
        }
        out
    }

    /// Sends `sig` to the process.
    #[cfg(unix)]
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, sig).unwrap();
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the process did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
