//! The CLI conventions, through the real binary: shell completions that a shell can load and
//! use, the man page, `stanch new` then `check`, `--responder` on `resume` and `drill`,
//! `--color` and `NO_COLOR`, exit codes, and `run --headless | head` ending quietly.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;

use serde_json::json;
use stanch::journal::{Journal, Kind, NewEvent};

fn stanch(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args(args)
        .current_dir(dir)
        .env("STANCH_DATA_DIR", dir.join("data"))
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn completions_for_every_shell_name_every_command_and_flag() {
    let tmp = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = stanch(tmp.path(), &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out));
        let script = stdout(&out);
        for word in ["resume", "drill", "completions", "man", "new"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
        for flag in ["responder", "color", "headless"] {
            // fish spells a long flag `-l name`; the others `--name`.
            let spelled = if shell == "fish" {
                format!("-l {flag}")
            } else {
                format!("--{flag}")
            };
            assert!(
                script.contains(&spelled),
                "{shell} completion lacks {spelled}"
            );
        }
    }
    let out = stanch(tmp.path(), &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "unknown shell is a usage error");
    assert!(
        !tmp.path().join("data").exists(),
        "completions touch no data"
    );
}

/// Load the bash script into a real bash and ask it to complete, as a user's Tab would.
#[test]
fn bash_loads_the_completion_script_and_completes_commands_and_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("stanch.bash");
    std::fs::write(&script, stanch(tmp.path(), &["completions", "bash"]).stdout).unwrap();
    let complete = |words: &str, cword: usize| {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source '{}'; COMP_WORDS=({words}); COMP_CWORD={cword}; \
                 COMP_LINE='{words}'; COMP_POINT=${{#COMP_LINE}}; \
                 _stanch stanch \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; \
                 printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                script.display()
            ))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        stdout(&out)
    };
    let commands = complete("stanch re", 1);
    assert_eq!(
        commands.lines().collect::<Vec<_>>(),
        ["resume"],
        "{commands}"
    );
    let flags = complete("stanch resume --re", 2);
    assert!(flags.lines().any(|l| l == "--responder"), "{flags}");
    let colors = complete("stanch check --color ''", 3);
    for value in ["auto", "always", "never"] {
        assert!(colors.lines().any(|l| l == value), "{colors}");
    }
}

#[test]
fn the_man_page_documents_commands_flags_and_exit_status() {
    let tmp = tempfile::tempdir().unwrap();
    let out = stanch(tmp.path(), &["man"]);
    assert!(out.status.success(), "{}", text(&out));
    let page = stdout(&out);
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq \\(aq") || page.contains(".TH stanch 1"),
        "{page}"
    );
    assert!(page.contains(".TH stanch 1"), "{page}");
    for word in ["resume", "completions", "\\-\\-color", "Exit status", "130"] {
        assert!(page.contains(word), "man page lacks {word}");
    }
    // groff renders it without complaint.
    let mut groff = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("groff (Debian: groff-base) renders the man page");
    groff
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let rendered = groff.wait_with_output().unwrap();
    assert!(rendered.status.success());
    assert_eq!(String::from_utf8_lossy(&rendered.stderr), "");

    let out = stanch(tmp.path(), &["man", "--dir", "pages"]);
    assert!(out.status.success(), "{}", text(&out));
    for page in [
        "stanch.1",
        "stanch-run.1",
        "stanch-resume.1",
        "stanch-new.1",
    ] {
        let body = std::fs::read_to_string(tmp.path().join("pages").join(page)).unwrap();
        assert!(body.contains(".TH"), "{page}");
    }
    let resume = std::fs::read_to_string(tmp.path().join("pages/stanch-resume.1")).unwrap();
    assert!(resume.contains("\\-\\-responder"), "{resume}");
}

#[test]
fn new_writes_a_starter_runbook_that_check_accepts_and_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let out = stanch(tmp.path(), &["new", "db-exposure"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        stdout(&out),
        "wrote db-exposure.toml: replace its TODOs, then `stanch check db-exposure.toml`\n"
    );
    let out = stanch(tmp.path(), &["check", "db-exposure.toml"]);
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (
            Some(0),
            "ok  db-exposure.toml: 4 steps in 3 phases, 1 destructive\n"
        ),
        "{}",
        text(&out)
    );
    let written = std::fs::read_to_string(tmp.path().join("db-exposure.toml")).unwrap();
    assert!(written.contains("id = \"db-exposure\""));
    assert!(
        written.lines().filter(|l| l.starts_with('#')).count() > 10,
        "commented"
    );

    std::fs::write(tmp.path().join("db-exposure.toml"), "mine").unwrap();
    let out = stanch(tmp.path(), &["new", "db-exposure"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("never overwrites"), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("db-exposure.toml")).unwrap(),
        "mine"
    );
    let out = stanch(tmp.path(), &["new", "../escape"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!tmp.path().parent().unwrap().join("escape.toml").exists());
}

#[test]
fn color_follows_the_flag_then_no_color_then_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "[runbook]\nid = \"x\"\ntitle = \"t\"\nbogus = 1\n").unwrap();
    let run = |args: &[&str], no_color: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_stanch"));
        command
            .args(args)
            .current_dir(tmp.path())
            .env("STANCH_DATA_DIR", tmp.path().join("data"))
            .env_remove("NO_COLOR");
        if let Some(v) = no_color {
            command.env("NO_COLOR", v);
        }
        let out = command.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        stdout(&out)
    };
    let colored = run(&["check", "--color", "always", "bad.toml"], None);
    assert!(colored.contains("\x1b["), "{colored}");
    assert!(colored.contains("unknown field"), "{colored}");
    // An explicit flag beats NO_COLOR; `auto` respects it and needs a terminal anyway.
    assert!(run(&["--color=always", "check", "bad.toml"], Some("1")).contains("\x1b["));
    for (args, no_color) in [
        (&["check", "--color", "never", "bad.toml"][..], None),
        (&["check", "bad.toml"][..], None),
        (&["check", "--color", "auto", "bad.toml"][..], Some("1")),
    ] {
        let plain = run(args, no_color);
        assert!(!plain.contains('\x1b'), "{args:?}: {plain}");
        assert!(plain.contains("unknown field"), "{plain}");
    }

    // Headless lines: the state word is painted, the rest (outside text) never is.
    std::fs::write(
        tmp.path().join("manual.toml"),
        "[runbook]\nid = \"m\"\ntitle = \"M\"\n\n[[steps]]\nid = \"legal\"\nphase = \"notify\"\nmanual = [\"Counsel informed\"]\n",
    )
    .unwrap();
    let headless = |color: &str, id: &str| {
        stdout(&stanch(
            tmp.path(),
            &[
                "run",
                "manual.toml",
                "--headless",
                "--color",
                color,
                "--incident",
                id,
            ],
        ))
    };
    let painted = headless("always", "INC-C1");
    assert!(
        painted.contains("\x1b[33mneeds human\x1b[0m legal"),
        "{painted:?}"
    );
    assert!(painted.contains("\x1b[32mdone\x1b[0m:"), "{painted:?}");
    let plain = headless("never", "INC-C2");
    assert!(!plain.contains('\x1b'), "{plain:?}");
    assert!(plain.contains("needs human legal"), "{plain:?}");
}

#[test]
fn usage_errors_exit_2_and_errors_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(stanch(tmp.path(), &["bogus"]).status.code(), Some(2));
    assert_eq!(
        stanch(tmp.path(), &["run", "x.toml", "--color", "sometimes"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        stanch(tmp.path(), &["verify", "NOPE"]).status.code(),
        Some(1)
    );
    let help = stdout(&stanch(tmp.path(), &["--help"]));
    assert!(
        help.contains("Exit status:") && help.contains("130"),
        "{help}"
    );
}

/// A server on 127.0.0.1 that answers the first request at once and every later one only
/// after the test says so (once it has stopped reading stanch's output).
fn gated_server() -> (String, mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            if n == 1 {
                let _ = go_rx.recv();
            }
            let body = "{\"ok\":true}";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (format!("http://{addr}"), go_tx)
}

#[test]
fn run_headless_into_a_reader_that_stops_early_finishes_quietly_with_its_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let (base, go) = gated_server();
    let mut steps = String::new();
    for i in 1..=6 {
        let needs = if i > 1 {
            format!("needs = [\"s{}\"]\n", i - 1)
        } else {
            String::new()
        };
        write!(
            steps,
            "[[steps]]\nid = \"s{i}\"\nphase = \"confirm\"\n{needs}http = {{ target = \"svc\", method = \"GET\", path = \"/{i}\" }}\nexpect = [\"response.json.ok\"]\n\n"
        )
        .unwrap();
    }
    std::fs::write(
        tmp.path().join("rb.toml"),
        format!(
            "[runbook]\nid = \"pipe\"\ntitle = \"Pipe\"\n\n[targets.svc]\nurl = \"{base}\"\n\n{steps}"
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args(["run", "rb.toml", "--headless", "--incident", "INC-PIPE"])
        .current_dir(tmp.path())
        .env("STANCH_DATA_DIR", tmp.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // `| head -1`: read the first line, then go away.
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(first.starts_with("incident INC-PIPE"), "{first}");
    drop(reader);
    go.send(()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "quiet");
    let events = stanch::journal::read(&tmp.path().join("data/incidents/INC-PIPE")).unwrap();
    let succeeded = events
        .iter()
        .filter(|e| e.kind == Kind::StepSucceeded)
        .count();
    assert_eq!(succeeded, 6, "every step ran after the reader left");
}

/// `--responder` names who does what `resume` and `drill` journal.
#[test]
fn responder_flag_on_resume_and_drill_is_the_journalled_actor() {
    let tmp = tempfile::tempdir().unwrap();
    let rb = tmp.path().join("rb.toml");
    std::fs::write(
        &rb,
        "[runbook]\nid = \"r\"\ntitle = \"R\"\n\n[targets.svc]\nurl = \"http://127.0.0.1:9\"\n\n\
         [[steps]]\nid = \"a\"\nphase = \"confirm\"\nhttp = { target = \"svc\", method = \"GET\", path = \"/\" }\n",
    )
    .unwrap();
    let dir = tmp.path().join("data/incidents/INC-R");
    {
        let journal = Journal::create(&dir, "alice").unwrap();
        journal
            .append_blocking(NewEvent::new(
                Kind::IncidentOpened,
                json!({"incident_id": "INC-R", "runbook_id": "r", "runbook_title": "R",
                       "runbook_sha256": stanch::journal::event::sha256_hex(&std::fs::read(&rb).unwrap()),
                       "runbook_path": rb.to_string_lossy(), "inputs": {},
                       "responder": "alice", "drill": false}),
            ))
            .unwrap();
        // A crash left step `a` started: resume journals it interrupted, as the responder.
        journal
            .append_blocking(NewEvent::for_step(Kind::StepStarted, "a", json!({})))
            .unwrap();
    }
    // No terminal here, so the TUI cannot start; what resume journals before it is enough.
    let out = stanch(
        tmp.path(),
        &["resume", "INC-R", "--responder", "Dana Scully"],
    );
    let events = stanch::journal::read(&dir).unwrap();
    let interrupted = events
        .iter()
        .find(|e| e.kind == Kind::StepInterrupted)
        .unwrap_or_else(|| panic!("{}", text(&out)));
    assert_eq!(interrupted.actor, "Dana Scully");

    let out = stanch(
        tmp.path(),
        &[
            "drill",
            "--auto",
            "--incident",
            "DRILL-R",
            "--responder",
            "Fox Mulder",
        ],
    );
    assert!(out.status.code().is_some(), "{}", text(&out));
    let events = stanch::journal::read(&tmp.path().join("data/incidents/DRILL-R")).unwrap();
    assert_eq!(events[0].kind, Kind::IncidentOpened);
    assert_eq!(
        events[0].data_value()["responder"],
        "Fox Mulder",
        "{}",
        text(&out)
    );
    assert_eq!(events[0].actor, "Fox Mulder");
}
