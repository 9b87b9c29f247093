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
        let status = Command::new("tmux")
            .args(["send-keys", "-t", &self.session])
            .args(args)
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Poll the pane until `ready` holds, with a deadline, returning the screen.
    pub fn wait_until(
        &self,
        what: &str,
        deadline: Duration,
        ready: impl Fn(&str) -> bool,
    ) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < deadline,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}
