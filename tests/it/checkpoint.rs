//! Checkpoints through the real binary: written every N events and on close by `stanch run
//! --headless`, used on resume, and every way of not trusting one (changed, deleted, another
//! format, an event pointing past the end, a file without its event) seen as the user sees it:
//! a notice on stderr, the same state from a full replay, and `stanch verify`'s verdict.

use std::path::{Path, PathBuf};
use std::process::Output;

use rstest::rstest;
use stanch::journal::checkpoint::{self, FORMAT};
use stanch::journal::event::sha256_hex;
use stanch::journal::payload::Checkpoint;
use stanch::journal::stream::{Position, stream};
use stanch::journal::{Event, Journal, Kind, NewEvent, Payload};

use crate::support::engine as support;

const ID: &str = "INC-CP";
/// Small enough that the run below (about 87 events) checkpoints more than once.
const EVERY: &str = "25";

const RUNBOOK: &str = r#"
[runbook]
id = "checkpoint-test"
title = "Checkpoint test"

[inputs.base]
prompt = "Base URL of the service"

[targets.svc]
url = "{{ inputs.base }}"

[[steps]]
id = "list"
phase = "confirm"
http = { target = "svc", method = "GET", path = "/tokens/40" }
capture = { tokens = "response.json.tokens | map(attribute='token') | list" }

[[steps]]
id = "probe"
phase = "confirm"
needs = ["list"]
foreach = "vars.tokens"
concurrency = 4
http = { target = "svc", method = "GET", path = "/json", query = { t = "{{ item }}" } }
"#;

struct Run {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    runbook: PathBuf,
    base: String,
}

impl Run {
    fn incident(&self) -> PathBuf {
        self.data.join("incidents").join(ID)
    }

    async fn stanch(&self, args: &[&str]) -> Output {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_stanch"))
            .args(args)
            .env("STANCH_DATA_DIR", &self.data)
            .env("STANCH_CHECKPOINT_EVERY", EVERY)
            .env("USER", "ci-responder")
            .output()
            .await
            .unwrap()
    }

    async fn headless(&self) -> (String, String) {
        let set = format!("base={}", self.base);
        let out = self
            .stanch(&[
                "run",
                self.runbook.to_str().unwrap(),
                "--headless",
                "--incident",
                ID,
                "--set",
                &set,
            ])
            .await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        (stdout, stderr)
    }

    fn checkpoints(&self) -> Vec<(Event, Checkpoint)> {
        support::verify_chain(&self.incident())
            .into_iter()
            .filter_map(|e| match e.payload() {
                Ok(Payload::Checkpoint(c)) => Some((e, c)),
                _ => None,
            })
            .collect()
    }
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An incident whose two steps ran, headless, with checkpoints every 25 events.
async fn ran(base: &str) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let runbook = tmp.path().join("rb.toml");
    std::fs::write(&runbook, RUNBOOK).unwrap();
    let run = Run {
        data: tmp.path().join("data"),
        _tmp: tmp,
        runbook,
        base: base.to_owned(),
    };
    let (stdout, stderr) = run.headless().await;
    assert!(!stderr.contains("checkpoint"), "{stderr}");
    assert!(stdout.contains("40 items, all succeeded"), "{stdout}");
    run
}

/// What a resume must find whatever the checkpoint: both steps done in the earlier run.
fn assert_resumed(stdout: &str) {
    for step in ["list", "probe"] {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().any(|w| w == step))
            .unwrap_or_else(|| panic!("no line for {step}:\n{stdout}"));
        assert!(line.contains("succeeded in an earlier run"), "{stdout}");
    }
}

#[tokio::test]
async fn checkpoints_are_written_every_n_events_and_on_close_and_resume_uses_them() {
    let srv = support::server().await;
    let run = ran(&srv.url).await;
    let events = support::verify_chain(&run.incident());
    let checkpoints = run.checkpoints();
    assert!(
        !checkpoints.is_empty(),
        "no checkpoint in {} events",
        events.len()
    );
    for (event, c) in &checkpoints {
        assert!(c.seq < event.seq && c.format == FORMAT, "{c:?}");
        assert_eq!(c.file, format!("checkpoints/{}.json", c.seq));
    }
    // On close: fewer than 25 events (and its own event) after the last checkpoint's state,
    // whether the last one was the background's or the one on close.
    let (_, last) = checkpoints.last().unwrap();
    let last_seq = events.last().unwrap().seq;
    assert!(
        last_seq - last.seq < 26,
        "last checkpoint at {} of {last_seq}",
        last.seq
    );
    let bytes = std::fs::read(run.incident().join(&last.file)).unwrap();
    assert_eq!(sha256_hex(&bytes), last.sha256);
    let mode = std::fs::metadata(run.incident().join(&last.file)).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );

    let (stdout, stderr) = run.headless().await;
    assert_resumed(&stdout);
    assert!(!stderr.contains("checkpoint"), "{stderr}");

    let (verified, _) = text(&run.stanch(&["verify", ID]).await);
    assert!(verified.contains("ok: "), "{verified}");
    assert!(
        verified.contains("file(s) match the events that recorded them"),
        "{verified}"
    );
    let (listed, _) = text(&run.stanch(&["list"]).await);
    let row = listed.lines().find(|l| l.contains(ID)).unwrap_or_default();
    assert!(row.contains("2/2"), "{listed}");
}

/// How a checkpoint is made untrustworthy.
#[derive(Debug, Clone, Copy)]
enum Spoil {
    Changed,
    Deleted,
    OtherFormat,
    PastTheEnd,
}

/// Append a `checkpoint` event the way a writer would (for forged ones).
fn append(dir: &Path, checkpoint: Checkpoint) {
    let (journal, _) = Journal::open(dir, "mallory").unwrap();
    journal
        .append_blocking(NewEvent::incident(checkpoint))
        .unwrap();
}

#[rstest]
#[case::changed(Spoil::Changed, "is not the file the journal recorded", true)]
#[case::deleted(Spoil::Deleted, "is missing", false)]
#[case::other_format(Spoil::OtherFormat, "is format 2; this stanch reads format 1", true)]
#[case::past_the_end(Spoil::PastTheEnd, "names seq 1000000, which is not before it", true)]
#[tokio::test]
async fn an_untrusted_checkpoint_is_named_and_the_journal_replayed(
    #[case] spoil: Spoil,
    #[case] notice: &str,
    #[case] verify_fails: bool,
) {
    let srv = support::server().await;
    let run = ran(&srv.url).await;
    let dir = run.incident();
    let (_, last) = run.checkpoints().pop().unwrap();
    let file = dir.join(&last.file);
    match spoil {
        Spoil::Changed => {
            let changed = std::fs::read_to_string(&file)
                .unwrap()
                .replace("\"succeeded\"", "\"failed\"");
            std::fs::write(&file, changed).unwrap();
        }
        Spoil::Deleted => std::fs::remove_file(&file).unwrap(),
        Spoil::OtherFormat => {
            let other = std::fs::read_to_string(&file).unwrap().replacen(
                "{\"format\":1,",
                "{\"format\":2,",
                1,
            );
            std::fs::write(&file, &other).unwrap();
            append(
                &dir,
                Checkpoint {
                    sha256: sha256_hex(other.as_bytes()),
                    format: 2,
                    ..last.clone()
                },
            );
        }
        Spoil::PastTheEnd => append(
            &dir,
            Checkpoint {
                seq: 1_000_000,
                ..last.clone()
            },
        ),
    }
    let (stdout, stderr) = run.headless().await;
    assert!(
        stderr.contains(&format!("{ID}: checkpoint not used (")),
        "{stderr}"
    );
    assert!(stderr.contains(notice), "{stderr}");
    assert!(
        stderr.contains("the whole journal was replayed"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("checkpoint not used").count(), 1, "{stderr}");
    assert_resumed(&stdout);

    let out = run.stanch(&["verify", ID]).await;
    let (verified, _) = text(&out);
    if verify_fails {
        assert_eq!(out.status.code(), Some(1), "{verified}");
        assert!(verified.contains("CHECKPOINT: checkpoints/"), "{verified}");
    } else {
        assert_eq!(out.status.code(), Some(0), "{verified}");
    }
}

#[tokio::test]
async fn a_checkpoint_file_without_its_event_is_ignored() {
    let srv = support::server().await;
    let run = ran(&srv.url).await;
    let dir = run.incident();
    let before = run.checkpoints().pop().unwrap().1;
    // A crash between the file and its event: the file of a state through the end.
    let mut at = Position::genesis();
    let mut state = stanch::incident::Incident::keeping(stanch::incident::Keep::State);
    stream(&dir, |event| {
        at = Position {
            seq: event.seq,
            hash: event.hash.clone(),
            offset: 0,
        };
        state.apply(event);
    })
    .unwrap();
    at.offset = std::fs::metadata(dir.join("journal.jsonl")).unwrap().len();
    state.steps.clear();
    let orphan = checkpoint::write(&dir, &at, &state).unwrap();
    assert_ne!(orphan.seq, before.seq);

    let (stdout, stderr) = run.headless().await;
    assert!(!stderr.contains("checkpoint"), "{stderr}");
    // Its state (no steps) was not used: both steps are still done.
    assert_resumed(&stdout);
    let found = checkpoint::find_last(&dir).unwrap().unwrap();
    assert_eq!(found.checkpoint.seq, before.seq);
    assert_eq!(found.event.kind, Kind::Checkpoint);
}

/// The pane's text once `want` shows, polling with a deadline (no fixed sleep).
fn wait_for(session: &str, want: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = std::process::Command::new("tmux")
            .args(["capture-pane", "-p", "-t", session])
            .output()
            .unwrap();
        let screen = String::from_utf8_lossy(&out.stdout).into_owned();
        if screen.contains(want) || std::time::Instant::now() > deadline {
            return screen;
        }
        std::thread::yield_now();
    }
}

#[tokio::test]
async fn the_tui_says_in_its_status_line_that_a_checkpoint_was_not_used() {
    let srv = support::server().await;
    let run = ran(&srv.url).await;
    let (_, last) = run.checkpoints().pop().unwrap();
    std::fs::remove_file(run.incident().join(&last.file)).unwrap();
    let session = format!("stanch-checkpoint-{}", std::process::id());
    let command = format!(
        "env STANCH_DATA_DIR={} {} resume {ID} --responder ci; sleep 30",
        run.data.display(),
        env!("CARGO_BIN_EXE_stanch")
    );
    let started = std::process::Command::new("tmux")
        .args([
            "new", "-d", "-s", &session, "-x", "220", "-y", "30", &command,
        ])
        .status()
        .unwrap();
    assert!(started.success());
    let screen = wait_for(&session, "the whole journal was replayed");
    let _ = std::process::Command::new("tmux")
        .args(["send-keys", "-t", &session, "q"])
        .status();
    let _ = std::process::Command::new("tmux")
        .args(["kill-session", "-t", &session])
        .status();
    let expected = format!("checkpoint not used ({} is missing)", last.file);
    assert!(screen.contains(&expected), "{screen}");
    assert_eq!(screen.matches("checkpoint not used").count(), 1, "{screen}");
}
