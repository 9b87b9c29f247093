//! The bundled runbook, run headless by the engine against the drill lab on every profile
//! (version × security): every automatable step must succeed, human steps are left pending,
//! the calls taken are the ones that version has, and the lab ends up contained and rotated.

use crate::support::bundled;

use std::time::Duration;

use rstest::rstest;
use serde_json::json;
use stanch::cli::headless::LineState;
use stanch::incident::Incident;
use stanch::lab::{Lab, LabOptions, Profile};

#[rstest]
#[case::reference_7_4_security_off("7.4.2", "off", &["block-reads-setting", "list-api-keys", "list-api-keys-by-realm", "invalidate-api-keys", "invalidate-api-keys-by-id"])]
#[case::v7_10_security_on("7.10.2", "on", &["block-reads", "list-api-keys-by-realm", "invalidate-api-keys-by-id"])]
#[case::v8_security_on("8.15.0", "on", &["block-reads", "list-api-keys-by-realm", "invalidate-api-keys-by-id"])]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundled_runbook_runs_headless_against_the_lab(
    #[case] version: &str,
    #[case] security: &str,
    #[case] skipped: &[&str],
) {
    let lab = Lab::start_with(
        7,
        0,
        &LabOptions {
            snapshot_duration: Duration::from_millis(300),
            profile: Profile {
                version: version.parse().unwrap(),
                security: security.parse().unwrap(),
            },
            ..LabOptions::default()
        },
    )
    .unwrap();
    let urls = lab.urls().clone();
    let creds = lab.credentials().clone();
    let run = bundled::run_bundled(
        json!({
            "es_url": urls.es,
            "auth_url": urls.auth,
            "issuer": format!("{}/realms/lab", urls.auth),
            "forum_url": urls.comms,
            "status_webhook_url": format!("{}/hooks/status", urls.comms),
        }),
        vec![
            ("es_api_key".to_owned(), creds.es_api_key.clone()),
            (
                "oauth_client_secret".to_owned(),
                creds.oauth_client_secret.clone(),
            ),
            ("forum_token".to_owned(), creds.forum_token.clone()),
            (
                "alexa_client_secret".to_owned(),
                creds.client_secret("alexa-skill").unwrap().to_owned(),
            ),
            (
                "google_client_secret".to_owned(),
                creds.client_secret("google-assistant").unwrap().to_owned(),
            ),
            (
                "ifttt_client_secret".to_owned(),
                creds.client_secret("ifttt").unwrap().to_owned(),
            ),
        ],
    )
    .await;
    let (report, text, incident_dir) = (&run.report, &run.text, &run.incident_dir);
    let failed: Vec<_> = report
        .lines
        .iter()
        .filter(|l| !l.state.is_ok())
        .map(|l| format!("{} {:?}: {}", l.step, l.state, l.detail))
        .collect();
    assert!(
        failed.is_empty(),
        "automatable steps failed:\n{}\n\n{text}",
        failed.join("\n")
    );
    assert!(report.count(LineState::Succeeded) >= 15, "{text}");
    assert!(report.count(LineState::NeedsHuman) >= 3, "{text}");
    let status = lab.status();
    for client in ["alexa-skill", "google-assistant", "ifttt"] {
        assert_eq!(
            status.active_tokens.get(client),
            Some(&0),
            "{client}: {status:?}"
        );
    }
    assert!(status.chat_messages >= 1, "{status:?}");
    // The version- and security-specific alternatives not taken are skipped, by `when`.
    let skipped_now: Vec<&str> = report
        .lines
        .iter()
        .filter(|l| l.state == LineState::Skipped)
        .map(|l| l.step.as_str())
        .collect();
    for step in skipped {
        assert!(skipped_now.contains(step), "{step} not skipped:\n{text}");
    }
    // Security on: every key but the responder's own is invalidated; off: there are none.
    let invalidated = status.invalidated_api_keys.len();
    if security == "on" {
        assert_eq!(invalidated, 2, "{status:?}");
    } else {
        assert_eq!(invalidated, 0, "{status:?}");
    }
    if std::env::var_os("STANCH_SHOW").is_some() {
        eprintln!("{text}\n{status:?}");
    }

    // The journal verifies and says what the screen said.
    let events = stanch::journal::read(incident_dir).unwrap();
    let replayed = Incident::replay(events.clone());
    assert!(replayed.marks.contains_key("contained"), "{text}");
    assert!(replayed.marks.contains_key("evidence_preserved"), "{text}");
    assert!(replayed.evidence.len() >= 5);
    for secret in creds.values() {
        let journal_text = std::fs::read_to_string(incident_dir.join("journal.jsonl")).unwrap();
        assert!(
            !journal_text.contains(secret),
            "a lab credential reached the journal"
        );
        assert!(
            !text.contains(secret),
            "a lab credential reached the output"
        );
    }
    lab.shutdown();
}
