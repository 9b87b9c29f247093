//! Drill scenarios: the bundled ones validate, and bad ones are reported as exact caret
//! diagnostics naming file:line:col.

use std::path::{Path, PathBuf};

use rstest::rstest;
use stanch::lab::Lab;
use stanch::lab::scenario::{self, When};

fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("s.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_bundled_scenario_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/drills");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let report = scenario::check(&path).unwrap();
            assert_eq!(report, "", "{}", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 1, "no scenario in {}", dir.display());
}

#[rstest]
#[case::unknown_field(
    "[scenario]\ntitle = \"t\"\ncolour = \"red\"\n",
    "  × unknown field `colour`, expected one of `title`, `summary`, `runbook`, `seed`\n   ╭─[s.toml:3:1]\n 2 │ title = \"t\"\n 3 │ colour = \"red\"\n   · ───┬──\n   ·    ╰── here\n   ╰────\n"
)]
#[case::unknown_mark(
    "[scenario]\ntitle = \"t\"\n[[facts]]\ntext = \"x\"\noccurred_at = \"+0m\"\nmark = \"awareness\"\n",
    "  × unknown mark `awareness`\n   ╭─[s.toml:6:8]\n 5 │ occurred_at = \"+0m\"\n 6 │ mark = \"awareness\"\n   ·        ─────┬─────\n   ·             ╰── here\n   ╰────\n  help: marks are: exposure_began, reported, aware, contained, evidence_preserved, rotated,\n        notified, resolved\n"
)]
#[case::bad_offset(
    "[scenario]\ntitle = \"t\"\n[[injects]]\nat = \"soon\"\ntitle = \"x\"\nbody = \"y\"\n",
    "  × at: `soon` is not a duration; write e.g. \"2s\", \"1m\" or \"500ms\"\n   ╭─[s.toml:4:6]\n 3 │ [[injects]]\n 4 │ at = \"soon\"\n   ·      ───┬──\n   ·         ╰── here\n 5 │ title = \"x\"\n   ╰────\n"
)]
#[case::inject_for_an_unknown_role(
    "[scenario]\ntitle = \"t\"\n[[injects]]\nat = \"+5m\"\ntitle = \"x\"\nbody = \"y\"\nrole = \"pr\"\n",
    "  × unknown role `pr`\n   ╭─[s.toml:7:8]\n 6 │ body = \"y\"\n 7 │ role = \"pr\"\n   ·        ──┬─\n   ·          ╰── here\n   ╰────\n  help: one of: commander, ops, comms, scribe, observer, facilitator\n"
)]
#[case::inject_before_start(
    "[scenario]\ntitle = \"t\"\n[[injects]]\nat = \"-5m\"\ntitle = \"x\"\nbody = \"y\"\n",
    "  × an inject cannot arrive before the drill starts\n   ╭─[s.toml:4:6]\n 3 │ [[injects]]\n 4 │ at = \"-5m\"\n   ·      ──┬──\n   ·        ╰── here\n 5 │ title = \"x\"\n   ╰────\n  help: write a time after start, e.g. \"+14m\"\n"
)]
#[case::unknown_lab_variable(
    "[scenario]\ntitle = \"t\"\n[inputs]\nes_url = \"{{ lab.elastic }}\"\n",
    "  × inputs.es_url: unknown variable `lab.elastic`\n   ╭─[s.toml:4:10]\n 3 │ [inputs]\n 4 │ es_url = \"{{ lab.elastic }}\"\n   ·          ─────────┬─────────\n   ·                   ╰── here\n   ╰────\n  help: a scenario can use lab.es_url, lab.auth_url, lab.issuer, lab.comms_url, lab.forum_url,\n        lab.status_webhook_url, lab.es_api_key, lab.es_api_key_id, lab.oauth_client_id,\n        lab.oauth_client_secret, lab.alexa_client_secret, lab.google_client_secret,\n        lab.ifttt_client_secret, lab.forum_token, lab.es_version, lab.security\n"
)]
#[case::bad_lab_profile(
    "[scenario]\ntitle = \"t\"\n[lab]\nes_version = \"7.4\"\nsecurity = \"maybe\"\n",
    "  × es_version: `7.4` is not an Elasticsearch version: write it as 7.4.2, 7.10.2 or 8.15.0\n   ╭─[s.toml:4:14]\n 3 │ [lab]\n 4 │ es_version = \"7.4\"\n   ·              ──┬──\n   ·                ╰── here\n 5 │ security = \"maybe\"\n   ╰────\n\n  × security: `maybe` is not a security mode: use `off` or `on`\n   ╭─[s.toml:5:12]\n 4 │ es_version = \"7.4\"\n 5 │ security = \"maybe\"\n   ·            ───┬───\n   ·               ╰── here\n   ╰────\n"
)]
#[case::missing_runbook(
    "[scenario]\ntitle = \"t\"\nrunbook = \"nope.toml\"\n",
    "  × runbook DIR/nope.toml cannot be loaded\n   ╭─[s.toml:3:11]\n 2 │ title = \"t\"\n 3 │ runbook = \"nope.toml\"\n   ·           ─────┬─────\n   ·                ╰── here\n   ╰────\n  help: cannot read runbook DIR/nope.toml: No such file or directory (os error 2)\n"
)]
fn bad_scenario_is_reported_with_a_caret(#[case] text: &str, #[case] expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), text);
    let report = scenario::check(&path).unwrap();
    let report = report
        .replace(&path.display().to_string(), "s.toml")
        .replace(&dir.path().display().to_string(), "DIR");
    assert_eq!(report, expected);
    assert!(scenario::load(&path).is_err());
}

#[test]
fn a_scenario_maps_runbook_inputs_and_secrets_onto_the_lab() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rb.toml"),
        "[runbook]\nid = \"x\"\ntitle = \"X\"\n[inputs.es_url]\nprompt = \"p\"\n[inputs.index]\nprompt = \"p\"\ndefault = \"customers\"\n[secrets.es_api_key]\nenv = \"K\"\n",
    )
    .unwrap();
    let path = write(
        dir.path(),
        "[scenario]\ntitle = \"t\"\nrunbook = \"rb.toml\"\n[inputs]\nes_url = \"{{ lab.es_url }}\"\n[secrets]\nes_api_key = \"{{ lab.es_api_key }}\"\n[[facts]]\ntext = \"began\"\noccurred_at = \"-2d\"\nmark = \"exposure_began\"\n[[facts]]\ntext = \"fixed\"\noccurred_at = \"2019-12-04T00:00:00Z\"\n[[injects]]\nat = \"+40m\"\ntitle = \"b\"\nbody = \"b\"\n[[injects]]\nat = \"+14m\"\ntitle = \"a\"\nbody = \"a\"\n",
    );
    let loaded = scenario::load(&path).unwrap();
    assert_eq!(loaded.runbook_path().unwrap(), dir.path().join("rb.toml"));
    let lab = Lab::start(3, 0).unwrap();
    let resolved = loaded.resolve(&lab.template_context()).unwrap();
    assert_eq!(
        resolved.inputs,
        vec![("es_url".to_owned(), lab.urls().es.clone())]
    );
    assert_eq!(
        resolved.secrets,
        vec![(
            "es_api_key".to_owned(),
            lab.credentials().es_api_key.clone()
        )]
    );
    assert!(!format!("{resolved:?}").contains(&lab.credentials().es_api_key));
    let start: jiff::Timestamp = "2026-01-10T12:00:00Z".parse().unwrap();
    let facts = loaded.facts(start);
    assert_eq!(
        facts[0].occurred_at,
        "2026-01-08T12:00:00Z".parse().unwrap()
    );
    assert_eq!(facts[0].mark.as_deref(), Some("exposure_began"));
    assert_eq!(
        facts[1].occurred_at,
        "2019-12-04T00:00:00Z".parse().unwrap()
    );
    let injects = loaded.injects();
    assert_eq!(
        injects
            .iter()
            .map(|i| i.offset.as_str())
            .collect::<Vec<_>>(),
        ["+14m", "+40m"]
    );
    assert_eq!(injects[0].after, std::time::Duration::from_mins(14));
    lab.shutdown();
}

#[test]
fn a_runbook_input_without_default_must_be_mapped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rb.toml"),
        "[runbook]\nid = \"x\"\ntitle = \"X\"\n[inputs.es_url]\nprompt = \"p\"\n",
    )
    .unwrap();
    let path = write(
        dir.path(),
        "[scenario]\ntitle = \"t\"\nrunbook = \"rb.toml\"\n",
    );
    let report = scenario::check(&path).unwrap();
    assert!(
        report.contains("× runbook input `es_url` has no default and the scenario does not map it"),
        "{report}"
    );
}

#[test]
fn scenario_files_are_told_apart_from_runbooks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(scenario::is_scenario_file(
        &root.join("runbooks/drills/reference-2019.toml")
    ));
    assert!(!scenario::is_scenario_file(
        &root.join("runbooks/elasticsearch-exposure.toml")
    ));
}

#[rstest]
#[case::plus_minutes("+14m", When::Offset(jiff::SignedDuration::from_mins(14)))]
#[case::minus_days_hours("-1d2h", When::Offset(-jiff::SignedDuration::from_hours(26)))]
#[case::unsigned("30s", When::Offset(jiff::SignedDuration::from_secs(30)))]
#[case::rfc3339("2019-12-26T17:21:00Z", When::At("2019-12-26T17:21:00Z".parse().unwrap()))]
fn times_parse(#[case] text: &str, #[case] want: When) {
    assert_eq!(scenario::parse_when(text).unwrap(), want);
}
