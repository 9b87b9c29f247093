//! Incident files as another local user and a hostile server would attack them: modes under
//! umask 022, looser modes tightened with a warning, links planted in `drafts/`, evidence
//! planted under its hash name, a journal without `incident.opened`, and the environment
//! `$EDITOR` sees. Everything runs the real binary.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;
use stanch::journal::event::sha256_hex;
use stanch::journal::{Journal, Kind, NewEvent};

/// The body the hostile server answers with (customer records, as in the incident).
const BODY: &str = r#"{"hits":[{"email":"ann@example.com"}]}"#;

/// A server on 127.0.0.1 answering every request with [`BODY`]; returns its base URL.
fn serve() -> String {
    serve_after(0)
}

/// Like [`serve`], but the first `failures` requests get a 500 with another body.
fn serve_after(failures: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let (status, body) = if n < failures {
                ("500 Internal Server Error", "{\"error\":\"busy\"}")
            } else {
                ("200 OK", BODY)
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

struct Lab {
    tmp: tempfile::TempDir,
}

impl Lab {
    fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    fn incident(&self, id: &str) -> PathBuf {
        self.data().join("incidents").join(id)
    }

    /// A runbook with one evidence-keeping GET against `base` and one draft step.
    fn runbook(&self, base: &str) -> PathBuf {
        let path = self.tmp.path().join("runbook.toml");
        std::fs::write(
            &path,
            format!(
                r#"
[runbook]
id = "files-test"
title = "Files test"

[targets.es]
url = "{base}"

[[steps]]
id = "snapshot"
phase = "preserve"
http = {{ target = "es", method = "GET", path = "/customers/_search" }}
evidence = true

[[steps]]
id = "forum-post"
phase = "notify"
draft = {{ template = "forum.md.j2", output = "forum-post.md" }}
"#
            ),
        )
        .unwrap();
        std::fs::write(self.tmp.path().join("forum.md.j2"), "# {{ incident.id }}\n").unwrap();
        path
    }

    /// Run the binary under umask 022 (the common default that made everything 0644).
    fn stanch(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg("umask 022; exec \"$@\"")
            .arg("sh")
            .arg(env!("CARGO_BIN_EXE_stanch"))
            .args(args)
            .env("STANCH_DATA_DIR", self.data())
            .env_remove("NO_COLOR");
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().unwrap()
    }

    /// `run RUNBOOK --headless --incident ID`.
    fn headless(&self, rb: &Path, id: &str) -> Output {
        self.stanch(
            &["run", rb.to_str().unwrap(), "--headless", "--incident", id],
            &[],
        )
    }

    /// [`Lab::headless`], which must at least have run the snapshot step.
    fn run_headless(&self, rb: &Path, id: &str) {
        let out = self.headless(rb, id);
        assert!(text(&out).contains("snapshot"), "{}", text(&out));
    }

    /// An editor script that appends a line to the draft and dumps its environment.
    fn editor(&self, dump: &Path) -> PathBuf {
        let path = self.tmp.path().join("editor.sh");
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\nenv > '{}'\necho 'edited' >> \"$1\"\n",
                dump.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every directory and file of an incident made by `run --headless` and `draft`.
fn assert_private(lab: &Lab, id: &str) {
    let inc = lab.incident(id);
    for dir in [
        lab.data(),
        lab.data().join("incidents"),
        lab.data().join("logs"),
        inc.clone(),
        inc.join("evidence"),
        inc.join("drafts"),
    ] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    for file in [
        inc.join("journal.jsonl"),
        inc.join("journal.head"),
        inc.join("lock"),
        inc.join("drafts/forum-post.md"),
        lab.data().join("logs/stanch.log"),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    let evidence = inc.join("evidence").join(sha256_hex(BODY.as_bytes()));
    assert_eq!(mode(&evidence), 0o400);
}

#[test]
fn under_umask_022_every_incident_file_is_private_and_looser_ones_are_tightened_on_open() {
    let lab = Lab::new();
    let rb = lab.runbook(&serve());
    lab.run_headless(&rb, "INC-1");
    let dump = lab.tmp.path().join("env.txt");
    let editor = lab.editor(&dump);
    let out = lab.stanch(
        &["draft", "INC-1", "forum-post"],
        &[("EDITOR", editor.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_private(&lab, "INC-1");

    // Another tool (or an older stanch) left everything readable by others.
    let inc = lab.incident("INC-1");
    let loosen = |path: PathBuf, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    for dir in [
        lab.data(),
        inc.clone(),
        inc.join("evidence"),
        inc.join("drafts"),
    ] {
        loosen(dir, 0o755);
    }
    for file in [
        "journal.jsonl",
        "journal.head",
        "lock",
        "drafts/forum-post.md",
    ] {
        loosen(inc.join(file), 0o644);
    }
    loosen(
        inc.join("evidence").join(sha256_hex(BODY.as_bytes())),
        0o444,
    );
    loosen(lab.data().join("logs/stanch.log"), 0o644);
    let out = lab.stanch(
        &["draft", "INC-1", "forum-post"],
        &[("EDITOR", editor.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for what in [
        format!(
            "{} was readable by others (mode 0644); tightened to 0600",
            inc.join("journal.jsonl").display()
        ),
        format!(
            "{} was readable by others (mode 0755); tightened to 0700",
            inc.join("drafts").display()
        ),
        format!(
            "{} was readable by others (mode 0444); tightened to 0400",
            inc.join("evidence")
                .join(sha256_hex(BODY.as_bytes()))
                .display()
        ),
    ] {
        assert!(
            stderr.contains(&what),
            "missing warning `{what}` in:\n{stderr}"
        );
    }
    assert_private(&lab, "INC-1");
    // The data dir and the log are tightened at start-up, into the log.
    let log = std::fs::read_to_string(lab.data().join("logs/stanch.log")).unwrap();
    assert!(
        log.contains("stanch.log was readable by others (mode 0644); tightened to 0600"),
        "{log}"
    );
}

#[test]
fn a_link_planted_in_drafts_is_never_written_through_nor_exported() {
    let lab = Lab::new();
    let rb = lab.runbook(&serve());
    lab.run_headless(&rb, "INC-1");
    let inc = lab.incident("INC-1");
    let dump = lab.tmp.path().join("env.txt");
    let editor = lab.editor(&dump);
    let editor = editor.to_str().unwrap();

    // The responder's own secret file, outside the incident.
    let outside = lab.tmp.path().join("id_ed25519");
    std::fs::write(&outside, "PRIVATE KEY canary-7d1e\n").unwrap();
    std::fs::create_dir_all(inc.join("drafts")).unwrap();
    symlink(&outside, inc.join("drafts/forum-post.md")).unwrap();
    let out = lab.stanch(&["draft", "INC-1", "forum-post"], &[("EDITOR", editor)]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("forum-post.md: not a regular file (a symbolic link?)"),
        "{}",
        text(&out)
    );
    assert!(!dump.exists(), "the editor never ran");
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        "PRIVATE KEY canary-7d1e\n"
    );

    // With the link gone, the old fixed temporary name is no way in either.
    std::fs::remove_file(inc.join("drafts/forum-post.md")).unwrap();
    symlink(&outside, inc.join("drafts/forum-post.stanch-tmp")).unwrap();
    let out = lab.stanch(&["draft", "INC-1", "forum-post"], &[("EDITOR", editor)]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        "PRIVATE KEY canary-7d1e\n"
    );
    assert!(
        std::fs::read_to_string(inc.join("drafts/forum-post.md"))
            .unwrap()
            .ends_with("edited\n")
    );

    // A link swapped in after the draft was journalled: the export leaves it out.
    std::fs::remove_file(inc.join("drafts/forum-post.md")).unwrap();
    symlink(&outside, inc.join("drafts/forum-post.md")).unwrap();
    for format in ["md", "html", "json"] {
        let out = lab.stanch(&["export", "INC-1", "--format", format], &[]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("canary-7d1e"),
            "{format} export read through the link"
        );
    }
}

#[test]
fn evidence_planted_under_its_hash_name_fails_the_step_and_is_left_alone() {
    let lab = Lab::new();
    // The first attempt fails (500), so the step runs again on the next run.
    let rb = lab.runbook(&serve_after(1));
    let first = lab.headless(&rb, "INC-1");
    assert_eq!(first.status.code(), Some(1), "{}", text(&first));
    // Before the retry, someone plants the file the capture will be named after.
    let inc = lab.incident("INC-1");
    let planted = inc.join("evidence").join(sha256_hex(BODY.as_bytes()));
    std::fs::create_dir_all(planted.parent().unwrap()).unwrap();
    std::fs::write(&planted, "forged records").unwrap();
    let out = lab.headless(&rb, "INC-1");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("already exists with other content"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read_to_string(&planted).unwrap(), "forged records");
    let events = stanch::journal::read(&inc).unwrap();
    assert!(
        !events.iter().any(|e| e.kind == Kind::EvidenceCaptured
            && e.data_value()["sha256"] == sha256_hex(BODY.as_bytes())),
        "the planted file was recorded as evidence"
    );
    let failures = events
        .iter()
        .filter(|e| e.kind == Kind::StepFailed && e.step.as_deref() == Some("snapshot"))
        .count();
    assert_eq!(failures, 2, "both attempts are recorded as failed");
}

#[test]
fn a_directory_planted_under_an_incident_id_is_not_adopted() {
    let lab = Lab::new();
    let rb = lab.runbook(&serve());
    let planted = lab.incident("INC-1").join("evidence");
    std::fs::create_dir_all(&planted).unwrap();
    std::fs::write(planted.join("x"), "forged").unwrap();
    let out = lab.headless(&rb, "INC-1");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("incident already exists at"),
        "{}",
        text(&out)
    );
    assert!(!lab.incident("INC-1").join("journal.jsonl").exists());
    let leftovers: Vec<_> = std::fs::read_dir(lab.data().join("incidents"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["INC-1"], "no staging directory left behind");
}

#[test]
fn a_journal_without_incident_opened_is_refused_and_never_written() {
    let lab = Lab::new();
    let rb = lab.runbook(&serve());
    let rb = rb.to_str().unwrap();
    // An empty journal without journal.head, and one whose first event is a note.
    let empty = lab.incident("INC-EMPTY");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("journal.jsonl"), "").unwrap();
    let noted = lab.incident("INC-NOTE");
    {
        let journal = Journal::create(&noted, "mallory").unwrap();
        journal
            .append_blocking(NewEvent::new(Kind::Note, json!({"text": "hi"})))
            .unwrap();
    }
    let noted_before = std::fs::read(noted.join("journal.jsonl")).unwrap();
    for (id, reason) in [
        ("INC-EMPTY", "the journal is empty"),
        ("INC-NOTE", "its first event is \"note\""),
    ] {
        let expected = format!(
            "{} is not an incident journal: {reason}; stanch will not use it",
            lab.incident(id).join("journal.jsonl").display()
        );
        for args in [
            vec!["run", rb, "--headless", "--incident", id],
            vec!["run", rb, "--incident", id],
            vec!["resume", id],
            vec!["draft", id, "forum-post"],
            vec!["export", id],
        ] {
            let out = lab.stanch(&args, &[]);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
            assert!(
                String::from_utf8_lossy(&out.stderr).contains(&expected),
                "{args:?}: {}",
                text(&out)
            );
        }
        let out = lab.stanch(&["list"], &[]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(id),
            "{}",
            text(&out)
        );
    }
    assert_eq!(std::fs::read(empty.join("journal.jsonl")).unwrap(), b"");
    assert!(!empty.join("journal.head").exists());
    assert_eq!(
        std::fs::read(noted.join("journal.jsonl")).unwrap(),
        noted_before
    );
}

#[test]
fn the_editor_sees_only_the_allow_listed_environment() {
    let lab = Lab::new();
    let rb = lab.runbook(&serve());
    lab.run_headless(&rb, "INC-1");
    let dump = lab.tmp.path().join("env.txt");
    let editor = lab.editor(&dump);
    let out = lab.stanch(
        &["draft", "INC-1", "forum-post"],
        &[
            ("EDITOR", editor.to_str().unwrap()),
            // Secrets as runbooks load them: from any variable name at all.
            ("ES_CREDS", "canary-es-creds-51c2"),
            ("STANCH_ES_API_KEY", "canary-api-key-9b0e"),
            ("CLUSTER_AUTH", "canary-cluster-auth-77aa"),
            ("LC_TIME", "C"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let env = std::fs::read_to_string(&dump).unwrap();
    for canary in [
        "canary-es-creds-51c2",
        "canary-api-key-9b0e",
        "canary-cluster-auth-77aa",
        "STANCH_DATA_DIR",
    ] {
        assert!(!env.contains(canary), "{canary} reached the editor:\n{env}");
    }
    let names: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    for name in &names {
        // `sh` itself adds PWD, SHLVL and `_`.
        assert!(
            stanch::draft::editor_may_inherit(name)
                || ["PWD", "SHLVL", "_", "OLDPWD"].contains(name),
            "{name} reached the editor"
        );
    }
    assert!(
        names.contains(&"PATH") && names.contains(&"LC_TIME"),
        "{env}"
    );
}
