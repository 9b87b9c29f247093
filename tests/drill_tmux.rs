//! The interactive drill as a user meets it: the real binary in tmux. It starts on the
//! reference scenario, shows the lab panel with the index exposed, pops up the injects, runs
//! the confirm and contain steps (typed confirmation), shows the panel change, quits on `q`,
//! prints the score; the journal holds the injects and the score, and the
//! exported post-mortem is watermarked DRILL.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(data: &Path, width: u16, height: u16) -> Self {
        let socket = format!("stanch-drill-test-{}", std::process::id());
        let cmd = format!(
            "env STANCH_DATA_DIR={} NO_COLOR=1 {} drill --speed 6000 --incident DRILL-TMUX; sleep 60",
            data.display(),
            env!("CARGO_BIN_EXE_stanch")
        );
        let status = Command::new("tmux")
            .args(["-L", &socket, "new-session", "-d", "-s", "drill"])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .arg(cmd)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("tmux runs");
        assert!(status.success());
        Self { socket }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "drill"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait until the screen shows `text` (the binary starts a lab and a TUI: give it time).
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {text:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Send keys one by one; `"-l", "text"` sends `text` literally.
    fn keys(&self, keys: &[&str]) {
        let mut literal = false;
        for key in keys {
            if *key == "-l" {
                literal = true;
                continue;
            }
            let mut cmd = Command::new("tmux");
            cmd.args(["-L", &self.socket, "send-keys", "-t", "drill"]);
            if literal {
                cmd.arg("-l");
                literal = false;
            }
            cmd.arg(key).status().unwrap();
            std::thread::sleep(Duration::from_millis(150));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[test]
fn interactive_drill_shows_the_lab_panel_and_injects_then_scores_on_quit() {
    let data = tempfile::tempdir().unwrap();
    let tmux = Tmux::start(data.path(), 120, 40);
    let screen = tmux.wait_for("Lab (DRILL)");
    assert!(
        screen.contains("EXPOSED (2400000 docs readable)"),
        "{screen}"
    );
    assert!(screen.contains("3000 active"), "{screen}");
    // At speed 6000 the +14m inject arrives after 0.14 s and the last (+3h) after 1.8 s.
    let screen = tmux.wait_for("DRILL inject");
    assert!(screen.contains("Enter dismiss"), "{screen}");
    // The last inject (+3h) is due 1.8 s after start: let them all arrive, dismiss them.
    std::thread::sleep(Duration::from_secs(2));
    let deadline = Instant::now() + Duration::from_secs(30);
    while tmux.screen().contains("DRILL inject") {
        assert!(Instant::now() < deadline, "injects would not go away");
        tmux.keys(&["Enter"]);
        std::thread::sleep(Duration::from_millis(200));
    }

    // Confirm, then contain: probe, list, count, and close the index with typed confirmation.
    tmux.keys(&["Enter"]);
    tmux.wait_for("✓ Probe the cluster");
    tmux.keys(&["j", "Enter"]);
    tmux.wait_for("✓ List indices");
    tmux.keys(&["j", "Enter"]);
    tmux.wait_for("✓ Count the records");
    // Past the security check and the manual network containment, to the close step.
    tmux.keys(&["j", "j", "j", "Enter"]);
    tmux.wait_for("Type customers exactly");
    tmux.keys(&["-l", "customers"]);
    tmux.keys(&["Enter"]);
    // The lab panel follows the world.
    tmux.wait_for("index customers: closed");

    tmux.keys(&["q"]);
    let screen = tmux.wait_for("DRILL SCORE");
    assert!(screen.contains("Drill DRILL-TMUX is saved"), "{screen}");
    assert!(
        screen.contains("✓ index unreadable from outside"),
        "{screen}"
    );
    let contained = screen
        .lines()
        .find(|l| l.starts_with("contained"))
        .unwrap_or_default();
    assert!(
        contained.contains('+'),
        "the contained mark is timed: {screen}"
    );

    let journal =
        std::fs::read_to_string(data.path().join("incidents/DRILL-TMUX/journal.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let injects: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "inject")
        .map(|e| e["data"]["offset"].as_str().unwrap())
        .collect();
    assert!(injects.contains(&"+14m"), "{injects:?}");
    assert!(events.iter().any(|e| e["kind"] == "drill.score"));
    assert_eq!(events[0]["data"]["drill"], true);

    // The post-mortem of the drill is watermarked and carries the score.
    let export = Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args(["export", "DRILL-TMUX", "--format", "md"])
        .env("STANCH_DATA_DIR", data.path())
        .output()
        .unwrap();
    assert!(export.status.success());
    let md = String::from_utf8_lossy(&export.stdout);
    assert!(md.starts_with("# DRILL"), "{}", &md[..md.len().min(300)]);
    assert!(md.contains("+14m"), "the injects are in the post-mortem");
}
