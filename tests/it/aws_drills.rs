//! The AWS drill scenarios (`runbooks/drills/{s3-public-bucket,aws-leaked-access-key,
//! exposed-database-port}.toml`) as a user runs them: moto seeded by `moto-seed.sh`, then
//! `stanch drill --auto`. The scenarios name moto on 127.0.0.1:5000; the test points a copy at
//! its own moto instead. moto has no CloudTrail `LookupEvents`, so the access-key drill fails
//! exactly there (the scenario says so) and everything else in it must pass.

use crate::support::moto;

use std::path::Path;

async fn drill(moto: &moto::Moto, seed: &str, scenario: &str) -> (Option<i32>, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeded = tokio::process::Command::new(root.join("runbooks/drills/moto-seed.sh"))
        .args([seed, &moto.url])
        .output()
        .await
        .unwrap();
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let source = std::fs::read_to_string(
        root.join("runbooks/drills")
            .join(format!("{scenario}.toml")),
    )
    .unwrap();
    let runbook = root.join("runbooks").join(format!("{scenario}.toml"));
    let copy = source.replace("http://127.0.0.1:5000", &moto.url).replace(
        &format!("runbook = \"../{scenario}.toml\""),
        &format!("runbook = \"{}\"", runbook.display()),
    );
    assert_ne!(copy, source);
    let path = dir.path().join(format!("{scenario}.toml"));
    std::fs::write(&path, copy).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args(["drill", "--auto", "--incident", "DRILL-AWS", "--scenario"])
        .arg(&path)
        .env("STANCH_DATA_DIR", dir.path().join("data"))
        .env("USER", "ci-responder")
        .output()
        .await
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn line<'a>(text: &'a str, step: &str) -> &'a str {
    text.lines()
        .find(|l| l.split_whitespace().any(|w| w == step))
        .unwrap_or_else(|| panic!("no line for {step}:\n{text}"))
}

#[tokio::test]
async fn the_s3_and_database_drills_pass_against_moto() {
    if !moto::available() {
        return;
    }
    for (seed, scenario, steps) in [
        (
            "s3",
            "s3-public-bucket",
            &[
                "block-bucket",
                "block-account",
                "private-object-acls",
                "verify-outside",
            ][..],
        ),
        (
            "db",
            "exposed-database-port",
            &[
                "revoke-ipv4",
                "revoke-ipv6",
                "verify-closed",
                "snapshot-volumes",
            ][..],
        ),
    ] {
        let moto = moto::Moto::start().await;
        moto.verify(false).await;
        let (code, text) = drill(&moto, seed, scenario).await;
        assert!(text.contains("drill passed"), "{scenario}:\n{text}");
        assert_eq!(code, Some(0), "{scenario}:\n{text}");
        for step in steps {
            assert!(
                line(&text, step).starts_with("ok"),
                "{scenario}: {step}\n{text}"
            );
        }
    }
}

#[tokio::test]
async fn the_access_key_drill_fails_only_where_moto_has_no_cloudtrail_lookup() {
    if !moto::available() {
        return;
    }
    let moto = moto::Moto::start().await;
    moto.verify(false).await;
    let (code, text) = drill(&moto, "key", "aws-leaked-access-key").await;
    assert_ne!(code, Some(0), "{text}");
    let failed: Vec<&str> = text.lines().filter(|l| l.starts_with("FAILED")).collect();
    assert_eq!(failed.len(), 1, "{text}");
    assert!(failed[0].contains("lookup-events"), "{text}");
    for step in [
        "deactivate-key",
        "revoke-sessions",
        "verify-inactive",
        "create-replacement",
    ] {
        assert!(line(&text, step).starts_with("ok"), "{step}\n{text}");
    }
}
