//! The interactive drill as a user meets it: the real binary in tmux. It starts on the
//! reference scenario, shows the lab panel with the index exposed, pops up the injects, runs
//! the confirm and contain steps (typed confirmation) in at most 8 keys besides the typed
//! text, shows the panel change, quits on `q`, prints the score; the journal holds the
//! injects and the score, and the exported post-mortem is watermarked DRILL. A second drill
//! shows an inject arriving while the responder types a confirmation: it waits, and every key
//! reaches the dialog.
//!
//! Nothing here sleeps to wait for an event: every key is followed by waiting for the pane
//! (or the journal) to show its effect, with a deadline.

use std::cell::Cell;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::tmux;

struct Tmux {
    socket: String,
    /// Keys sent, literal text excluded (the typed confirmation is not a keystroke to save).
    keys: Cell<u32>,
}

impl Tmux {
    fn start(data: &Path, name: &str, args: &str) -> Self {
        let socket = format!("stanch-drill-test-{name}-{}", std::process::id());
        let cmd = format!(
            "env STANCH_DATA_DIR={} NO_COLOR=1 {} drill {args}; sleep 60",
            data.display(),
            env!("CARGO_BIN_EXE_stanch")
        );
        let status = Command::new("tmux")
            .args(["-L", &socket, "new-session", "-d", "-s", "drill"])
            .args(["-x", "120", "-y", "40"])
            .arg(cmd)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("tmux runs");
        assert!(status.success());
        Self {
            socket,
            keys: Cell::new(0),
        }
    }

    fn screen(&self) -> String {
        tmux::capture(&["-L", &self.socket], "drill")
    }

    /// Wait until the screen satisfies `ready` (the binary starts a lab and a TUI: give it
    /// time), polling the pane with a deadline.
    fn wait_until(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        tmux::poll(what, Duration::from_secs(30), || self.screen(), ready)
    }

    fn wait_for(&self, text: &str) -> String {
        self.wait_until(&format!("{text:?}"), |s| s.contains(text))
    }

    fn send(&self, args: &[&str]) {
        tmux::send_keys(&["-L", &self.socket], "drill", args);
    }

    /// Press one key and wait for the screen to show `then`.
    fn press(&self, key: &str, then: &str) -> String {
        self.keys.set(self.keys.get() + 1);
        self.send(&[key]);
        self.wait_for(then)
    }

    /// Press one key and wait for the selection to reach the step titled `title`.
    fn press_to(&self, key: &str, title: &str) -> String {
        self.keys.set(self.keys.get() + 1);
        self.send(&[key]);
        self.wait_until(&format!("{title:?} selected"), |s| selected(s, title))
    }

    /// Type `text` literally (not counted as keys) and wait for the field to show it.
    fn type_text(&self, text: &str) {
        self.send(&["-l", text]);
        self.wait_for(&format!("› {text}"));
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn journal(data: &Path, incident: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(data.join(format!("incidents/{incident}/journal.jsonl")))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Wait until the journal holds `n` events of `kind`, reading it with a deadline.
fn wait_for_journalled(data: &Path, incident: &str, kind: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = journal(data, incident)
            .iter()
            .filter(|e| e["kind"] == kind)
            .count();
        if seen >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the journal holds {seen} {kind} events, expected {n}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// From a fresh drill to the typed confirmation of closing the index: the selection follows
/// each finished step; two moves pass the security check and the manual network step (a
/// person's job, outside the lab).
fn to_confirmation(tmux: &Tmux) {
    tmux.press("Enter", "✓ Probe the cluster");
    tmux.press("Enter", "✓ List indices");
    tmux.press("Enter", "✓ Count the records");
    tmux.press_to("j", "Cut the cluster off");
    tmux.press_to("j", "Close the exposed index");
    tmux.press("Enter", "Type customers exactly");
}

/// The confirm and contain steps, from a fresh drill to a verified containment. After the
/// close, the selection passes the read-block alternatives (their `when` is false once the
/// index is contained) and lands on the outside check.
fn contain(tmux: &Tmux) {
    to_confirmation(tmux);
    tmux.type_text("customers");
    tmux.press("Enter", "✓ Close the exposed index");
    // The lab panel follows the world.
    tmux.wait_for("index customers: closed");
    tmux.wait_until("the selection on the outside check", |s| {
        selected(s, "Verify from outside")
    });
    tmux.press("Enter", "✓ Verify from outside");
}

/// The screen's selected step line holds `title`.
fn selected(screen: &str, title: &str) -> bool {
    screen.lines().any(|l| l.contains('▸') && l.contains(title))
}

#[test]
fn interactive_drill_shows_the_lab_panel_and_injects_then_contains_in_8_keys_and_scores() {
    let data = tempfile::tempdir().unwrap();
    let tmux = Tmux::start(
        data.path(),
        "reference",
        "--speed 6000 --incident DRILL-TMUX",
    );
    let screen = tmux.wait_for("Lab (DRILL)");
    assert!(
        screen.contains("EXPOSED (2400000 docs readable)"),
        "{screen}"
    );
    assert!(screen.contains("3000 active"), "{screen}");
    // At speed 6000 the +14m inject arrives after 0.14 s and the last (+3h) after 1.8 s.
    let screen = tmux.wait_for("DRILL inject");
    assert!(screen.contains("Enter dismiss"), "{screen}");
    wait_for_journalled(data.path(), "DRILL-TMUX", "inject", 5);
    // They show one after the other: each Enter dismisses the one on screen.
    let titles = [
        "The reporter has published",
        "A journalist asks for comment",
        "A second open cluster is found",
        "Support is overwhelmed",
        "The exposure started earlier than reported",
    ];
    for (i, title) in titles.iter().enumerate() {
        tmux.wait_for(title);
        tmux.send(&["Enter"]);
        let next = titles.get(i + 1).copied();
        tmux.wait_until("the next inject or none", |s| {
            !s.contains(title) && next.is_none_or(|n| s.contains(n))
        });
    }
    assert!(!tmux.screen().contains("DRILL inject"));

    tmux.keys.set(0);
    contain(&tmux);
    let keys = tmux.keys.get();
    assert!(
        keys <= 8,
        "{keys} keys to a verified containment, besides the typed confirmation"
    );

    tmux.send(&["q"]);
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

    let events = journal(data.path(), "DRILL-TMUX");
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

#[test]
fn an_inject_arriving_during_a_typed_confirmation_waits_and_takes_none_of_its_keys() {
    let data = tempfile::tempdir().unwrap();
    // The reference scenario with one inject, due 20 s in: the confirmation dialog is open
    // long before, and the test waits for the inject's arrival before typing the rest.
    let reference = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/runbooks/drills/reference-2019.toml"
    ))
    .unwrap();
    let head = &reference[..reference.find("[[injects]]").unwrap()];
    let scenario = head.replace(
        "runbook = \"../elasticsearch-exposure.toml\"",
        &format!(
            "runbook = \"{}/runbooks/elasticsearch-exposure.toml\"",
            env!("CARGO_MANIFEST_DIR")
        ),
    ) + "[[injects]]\nat = \"+20s\"\ntitle = \"Legal calls\"\nbody = \"Counsel wants a word.\"\n";
    let path = data.path().join("scenario.toml");
    std::fs::write(&path, scenario).unwrap();
    let tmux = Tmux::start(
        data.path(),
        "typing",
        &format!("--scenario {} --incident DRILL-TYPING", path.display()),
    );
    tmux.wait_for("Lab (DRILL)");
    to_confirmation(&tmux);
    tmux.type_text("cust");
    // The inject arrives (journalled) while the dialog is open: it is announced, not shown.
    let screen = tmux.wait_for("DRILL inject +20s arrived");
    assert!(!screen.contains("Counsel wants a word"), "{screen}");
    assert!(screen.contains("Type customers exactly"), "{screen}");
    wait_for_journalled(data.path(), "DRILL-TYPING", "inject", 1);
    tmux.send(&["-l", "omers"]);
    tmux.wait_for("› customers");
    // Enter confirms (it is not taken to dismiss the inject), then the inject shows.
    let screen = tmux.press("Enter", "Counsel wants a word");
    assert!(!screen.contains("does not match"), "{screen}");
    tmux.wait_for("index customers: closed");
    // Enter dismisses the inject (the list behind it already shows the closed step).
    tmux.keys.set(tmux.keys.get() + 1);
    tmux.send(&["Enter"]);
    let screen = tmux.wait_until("the inject dismissed", |s| !s.contains("DRILL inject"));
    assert!(screen.contains("✓ Close the exposed index"), "{screen}");
}
