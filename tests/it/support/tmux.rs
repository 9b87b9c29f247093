//! The real binary in a tmux pane: start it, send keys, read the screen, wait on what it
//! shows with a deadline (never a fixed sleep to wait for an event).

use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    session: String,
}

impl Tmux {
    /// A detached `width`×`height` session running `command`.
    pub fn start(session: &str, width: u16, height: u16, command: &str) -> Self {
        let status = Command::new("tmux")
            .args(["new", "-d", "-s", session, "-x", &width.to_string()])
            .args(["-y", &height.to_string(), command])
            .status()
            .expect("tmux runs (CI installs it: .ci/run)");
        assert!(status.success(), "tmux new failed");
        Self {
            session: session.to_owned(),
        }
    }

    /// Send keys (tmux key names, or `-l` and literal text).
    pub fn send(&self, args: &[&str]) {
        send_keys(&[], &self.session, args);
    }

    pub fn screen(&self) -> String {
        capture(&[], &self.session)
    }

    /// Poll the pane until `ready` holds, with a deadline, returning the screen.
    pub fn wait_until(
        &self,
        what: &str,
        deadline: Duration,
        ready: impl Fn(&str) -> bool,
    ) -> String {
        poll(what, deadline, || self.screen(), ready)
    }
}

/// `tmux SERVER… send-keys -t TARGET ARGS…` (`server`: e.g. `["-L", socket]`, or none).
pub fn send_keys(server: &[&str], target: &str, args: &[&str]) {
    let status = Command::new("tmux")
        .args(server)
        .args(["send-keys", "-t", target])
        .args(args)
        .status()
        .expect("tmux runs (CI installs it: .ci/run)");
    assert!(status.success(), "tmux send-keys {args:?} failed");
}

/// The pane's text: `tmux SERVER… capture-pane -p -t TARGET`.
pub fn capture(server: &[&str], target: &str) -> String {
    let out = Command::new("tmux")
        .args(server)
        .args(["capture-pane", "-p", "-t", target])
        .output()
        .expect("tmux runs (CI installs it: .ci/run)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Read `screen` until `ready` holds, failing with the last screen after `deadline`: the one
/// way every tmux test waits for what the binary shows (never a fixed sleep).
pub fn poll(
    what: &str,
    deadline: Duration,
    screen: impl Fn() -> String,
    ready: impl Fn(&str) -> bool,
) -> String {
    let start = Instant::now();
    loop {
        let shown = screen();
        if ready(&shown) {
            return shown;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out waiting for {what}; screen:\n{shown}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}
