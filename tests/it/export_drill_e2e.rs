//! End to end with the real binary and the real engine: `stanch drill --auto` runs the bundled
//! runbook against the lab, `stanch draft` renders each notice draft step from that journal,
//! then `stanch export` writes all three formats. The notices carry what the lab produced and
//! list what they could not fill; the exports carry the DRILL watermark, the impact, the saved
//! notices and the team's times beside the reference case; the JSON validates against the
//! schema, and none of the lab's secrets (raw, base64 or URL-encoded) appears in any of them.

use crate::support::schema_check;

use std::path::Path;
use std::process::Command;

use base64::Engine as _;

fn stanch(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args(args)
        .env("STANCH_DATA_DIR", data)
        .env_remove("EDITOR")
        .output()
        .unwrap()
}

#[expect(
    clippy::too_many_lines,
    reason = "one end-to-end scenario read top to bottom"
)]
#[test]
fn a_real_drill_exports_safely_in_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let run = stanch(
        data,
        &[
            "drill",
            "--auto",
            "--speed",
            "1000",
            "--incident",
            "DRILL-E2E",
            "--seed",
            "2019",
        ],
    );
    let dir = data.join("incidents/DRILL-E2E");
    assert!(
        dir.join("journal.jsonl").exists(),
        "the drill wrote no journal: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    // Each notice, as a responder drafts it: rendered from the journal, opened in $EDITOR (here
    // `true`, which changes nothing), journalled as draft.saved.
    for (step, file, heading) in [
        (
            "notice-authority",
            "gdpr-art33-authority.md",
            "# Notification of a personal data breach (GDPR Art. 33)",
        ),
        (
            "notice-people",
            "gdpr-art34-people.md",
            "# We are writing to tell you about a problem with your personal data",
        ),
        (
            "notice-us-consumers",
            "us-consumer-notice.md",
            "# Notice of Data Breach",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_stanch"))
            .args(["draft", "DRILL-E2E", step])
            .env("STANCH_DATA_DIR", data)
            .env("EDITOR", "true")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{step}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Rendering journalled the first version; the editor changed nothing after it.
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("unchanged since its last saved version"),
            "{step}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let saved = stanch::journal::read(&dir).unwrap().into_iter().any(|e| {
            e.kind == stanch::journal::Kind::DraftSaved && e.step.as_deref() == Some(step)
        });
        assert!(saved, "{step}: no draft.saved in the journal");
        let text = std::fs::read_to_string(dir.join("drafts").join(file)).unwrap();
        assert!(
            text.starts_with("> **DRILL**: written during an exercise; do not send."),
            "{step}: {text}"
        );
        assert!(text.contains(heading), "{step}: {text}");
        assert!(
            text.contains("2,400,000"),
            "{step}: the lab's record count: {text}"
        );
        assert!(
            text.contains("**Not filled from the journal**"),
            "{step}: {text}"
        );
    }
    let creds = stanch::lab::Credentials::from_seed(2019);
    let mut forms: Vec<String> = Vec::new();
    for secret in creds.values() {
        forms.push(secret.to_owned());
        forms.push(base64::engine::general_purpose::STANDARD.encode(secret));
        forms.push(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
    }
    for (format, file) in [("md", "pm.md"), ("html", "pm.html"), ("json", "pm.json")] {
        let out_path = tmp.path().join(file);
        let out = stanch(
            data,
            &[
                "export",
                "DRILL-E2E",
                "--format",
                format,
                "-o",
                out_path.to_str().unwrap(),
            ],
        );
        assert!(
            out.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&out_path).unwrap();
        assert!(text.contains("DRILL"), "{format} watermark");
        assert!(
            text.contains("Notice of Data Breach"),
            "{format}: the saved notices"
        );
        assert!(
            text.contains("What went well") || text.contains("\"went_well\""),
            "{format}: review sections"
        );
        assert!(
            text.contains("2,400,000") || text.contains("2400000"),
            "{format}: exposed records"
        );
        for form in &forms {
            assert!(
                !text.contains(form.as_str()),
                "{format} export contains a lab secret form {form}"
            );
        }
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("pm.json")).unwrap())
            .unwrap();
    let errors = schema_check::errors_of(&json);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(json["watermark"], "DRILL");
    assert_eq!(
        json["drafts"].as_array().unwrap().len(),
        3,
        "{}",
        json["drafts"]
    );
    assert!(
        json["comparison"]
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row["mark"] == "aware" && row["reference_ms"].is_i64()),
        "the team beside the reference case: {}",
        json["comparison"]
    );
    assert!(
        json["impact"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["label"].as_str().unwrap().starts_with("tokens revoked")),
        "{}",
        json["impact"]
    );
}
