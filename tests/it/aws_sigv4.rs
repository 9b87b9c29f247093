//! `auth = { aws_sigv4 = … }` against a real AWS emulator (moto) that verifies signatures:
//! signed IAM/STS/S3 calls are accepted, a wrong secret is refused with a clear error, the
//! keys and the signature never reach the journal, and `response.xml` reads the answers.

use crate::support::engine as support;
use crate::support::moto;

use stanch::secret::Secrets;
use support::{Harness, failed, succeeded};

fn runbook(url: &str) -> String {
    format!(
        r#"
[runbook]
id = "sigv4-test"
title = "SigV4 against moto"

[secrets.ak]
env = "UNUSED_AK"
[secrets.sk]
env = "UNUSED_SK"

[targets.iam]
url = "{url}"
auth = {{ aws_sigv4 = {{ region = "us-east-1", service = "iam", access_key = "{{{{ secrets.ak }}}}", secret_key = "{{{{ secrets.sk }}}}" }} }}

[targets.sts]
url = "{url}"
auth = {{ aws_sigv4 = {{ region = "us-east-1", service = "sts", access_key = "{{{{ secrets.ak }}}}", secret_key = "{{{{ secrets.sk }}}}" }} }}

[targets.s3]
url = "{url}"
auth = {{ aws_sigv4 = {{ region = "us-east-1", service = "s3", access_key = "{{{{ secrets.ak }}}}", secret_key = "{{{{ secrets.sk }}}}" }} }}

[[steps]]
id = "whoami"
phase = "confirm"
http = {{ target = "sts", method = "POST", path = "/", form = {{ Action = "GetCallerIdentity", Version = "2011-06-15" }} }}
expect = ["response.status == 200"]
capture = {{ arn = "response.xml.GetCallerIdentityResponse.GetCallerIdentityResult.Arn" }}

[[steps]]
id = "users"
phase = "confirm"
http = {{ target = "iam", method = "POST", path = "/", form = {{ Action = "ListUsers", Version = "2010-05-08" }} }}
expect = ["response.status == 200"]
capture = {{ users = "response.xml.ListUsersResponse.ListUsersResult.Users.member | as_list | map(attribute='UserName') | list" }}

[[steps]]
id = "make-bucket"
phase = "confirm"
http = {{ target = "s3", method = "PUT", path = "/signed-bucket" }}

[[steps]]
id = "block"
phase = "contain"
needs = ["make-bucket"]
http = {{ target = "s3", method = "PUT", path = "/signed-bucket", query = {{ publicAccessBlock = "" }}, xml = {{ PublicAccessBlockConfiguration = {{ "@xmlns" = "http://s3.amazonaws.com/doc/2006-03-01/", BlockPublicAcls = true, IgnorePublicAcls = true, BlockPublicPolicy = true, RestrictPublicBuckets = true }} }} }}

[[steps]]
id = "read-block"
phase = "contain"
needs = ["block"]
http = {{ target = "s3", method = "GET", path = "/signed-bucket", query = {{ publicAccessBlock = "" }} }}
capture = {{ ignore_acls = "response.xml.PublicAccessBlockConfiguration.IgnorePublicAcls" }}

[[steps]]
id = "not-xml"
phase = "confirm"
http = {{ target = "iam", method = "GET", path = "/moto-api/data.json" }}
expect = ["response.xml.Anything == 1"]
"#
    )
}

fn secrets(moto: &moto::Moto, secret: &str) -> Secrets {
    Secrets::from_values([
        ("ak".to_owned(), moto.access_key.clone()),
        ("sk".to_owned(), secret.to_owned()),
    ])
}

#[tokio::test]
async fn signed_requests_are_accepted_and_xml_answers_are_read() {
    if !moto::available() {
        return;
    }
    let moto = moto::Moto::start().await;
    let mut h = Harness::new(&runbook(&moto.url), secrets(&moto, &moto.secret_key));

    let summary = succeeded(&h.run("whoami").await).to_owned();
    assert!(
        summary.contains(r#"arn = "arn:aws:iam::123456789012:user/stanch-admin""#),
        "{summary}\n{}",
        moto.log()
    );
    let summary = succeeded(&h.run("users").await).to_owned();
    assert!(summary.contains("users = [1 items]"), "{summary}");
    assert_eq!(
        h.incident.vars["users"].to_value(),
        serde_json::json!(["stanch-admin"])
    );

    succeeded(&h.run("make-bucket").await);
    succeeded(&h.run("block").await);
    succeeded(&h.run("read-block").await);
    assert_eq!(h.incident.vars["ignore_acls"].to_value(), "true");

    // moto's own record, read without stanch's signer: the block is really there.
    let state = moto
        .unsigned(async |m| {
            m.s3(
                reqwest::Method::GET,
                "/signed-bucket?publicAccessBlock",
                &[("Authorization", &moto::routing_header("s3"))],
                "",
            )
            .await
        })
        .await;
    assert_eq!(state.0, 200, "{}", state.1);
    assert_eq!(
        moto::xml_text(&state.1, "RestrictPublicBuckets").as_deref(),
        Some("true")
    );

    // A body that is not XML, read as XML, is its own clear failure.
    let error = failed(&h.run("not-xml").await).to_owned();
    assert!(
        error.contains("reads response.xml, but the body is JSON, not XML"),
        "{error}"
    );

    // Keys and signatures are masked in the journal; requests say what they were signed for.
    let journal = std::fs::read_to_string(h.incident_dir().join("journal.jsonl")).unwrap();
    assert!(!journal.contains(&moto.secret_key));
    assert!(!journal.contains(&moto.access_key));
    assert!(journal.contains("aws_sigv4 us-east-1/sts"), "{journal}");
}

#[tokio::test]
async fn a_wrong_secret_is_refused_with_a_clear_error() {
    if !moto::available() {
        return;
    }
    let moto = moto::Moto::start().await;
    let wrong = format!("{}x", moto.secret_key);
    let mut h = Harness::new(&runbook(&moto.url), secrets(&moto, &wrong));
    let error = failed(&h.run("whoami").await).to_owned();
    assert!(error.starts_with("server answered 403"), "{error}");
    assert!(
        error.contains("AWS refused it: SignatureDoesNotMatch"),
        "{error}"
    );
    assert!(
        error.contains("the secret key is wrong for this access key"),
        "{error}"
    );
    assert!(!error.contains(&wrong), "{error}");

    // An unknown key id is refused too, as its own error.
    let unknown = Secrets::from_values([
        ("ak".to_owned(), "AKIAUNKNOWNKEY000000".to_owned()),
        ("sk".to_owned(), moto.secret_key.clone()),
    ]);
    let mut h = Harness::new(&runbook(&moto.url), unknown);
    let error = failed(&h.run("users").await).to_owned();
    assert!(
        error.contains("AWS refused it: InvalidClientTokenId"),
        "{error}"
    );
}

#[tokio::test]
async fn keys_can_come_from_the_standard_environment_variables() {
    if !moto::available() {
        return;
    }
    let moto = moto::Moto::start().await;
    let dir = tempfile::tempdir().unwrap();
    let rb = dir.path().join("rb.toml");
    std::fs::write(
        &rb,
        format!(
            r#"
[runbook]
id = "sigv4-env"
title = "SigV4 from the environment"

[targets.sts]
url = "{}"
auth = {{ aws_sigv4 = {{ region = "us-east-1", service = "sts" }} }}

[[steps]]
id = "whoami"
phase = "confirm"
http = {{ target = "sts", method = "POST", path = "/", form = {{ Action = "GetCallerIdentity", Version = "2011-06-15" }} }}
capture = {{ account = "response.xml.GetCallerIdentityResponse.GetCallerIdentityResult.Account" }}
"#,
            moto.url
        ),
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args([
            "run",
            rb.to_str().unwrap(),
            "--headless",
            "--incident",
            "INC-ENV",
        ])
        .env("STANCH_DATA_DIR", dir.path().join("data"))
        .env("AWS_ACCESS_KEY_ID", &moto.access_key)
        .env("AWS_SECRET_ACCESS_KEY", &moto.secret_key)
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", moto.log());
    assert!(text.contains(r#"account = "123456789012""#), "{text}");
    let journal =
        std::fs::read_to_string(dir.path().join("data/incidents/INC-ENV/journal.jsonl")).unwrap();
    assert!(!journal.contains(&moto.secret_key));
    assert!(!journal.contains(&moto.access_key));
}

/// A hostile server that echoes every header and the body back: the signature, the key id and
/// the session token it saw must not reach captures, the journal or the evidence file.
#[tokio::test]
async fn an_echoing_server_cannot_put_the_signature_or_keys_into_the_record() {
    let srv = support::server().await;
    let toml = format!(
        r#"
[runbook]
id = "sigv4-echo"
title = "SigV4 against an echoing server"

[secrets.ak]
env = "UNUSED_AK"
[secrets.sk]
env = "UNUSED_SK"
[secrets.token]
env = "UNUSED_TOKEN"

[targets.aws]
url = "{}"
auth = {{ aws_sigv4 = {{ region = "eu-west-1", service = "sts", access_key = "{{{{ secrets.ak }}}}", secret_key = "{{{{ secrets.sk }}}}", session_token = "{{{{ secrets.token }}}}" }} }}

[[steps]]
id = "echo"
phase = "confirm"
http = {{ target = "aws", method = "POST", path = "/echo", form = {{ Action = "GetCallerIdentity" }} }}
capture = {{ seen_auth = "response.json.headers.authorization", seen_token = "response.json.headers['x-amz-security-token']" }}
evidence = true
"#,
        srv.url
    );
    let secrets = Secrets::from_values([
        ("ak".to_owned(), "AKIAECHOTESTKEY00001".to_owned()),
        ("sk".to_owned(), "echo-secret-key-value".to_owned()),
        ("token".to_owned(), "echo-session-token-value".to_owned()),
    ]);
    let mut h = Harness::new(&toml, secrets);
    succeeded(&h.run("echo").await);

    let seen = srv.requests();
    let auth = seen[0]["headers"]["authorization"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIAECHOTESTKEY00001/")
            && auth.contains("/eu-west-1/sts/aws4_request"),
        "{auth}"
    );
    assert_eq!(
        seen[0]["headers"]["x-amz-security-token"],
        "echo-session-token-value"
    );
    let signature = auth.rsplit("Signature=").next().unwrap().to_owned();
    assert_eq!(signature.len(), 64);

    let captured = h.incident.vars["seen_auth"].as_str().unwrap();
    assert!(!captured.contains(&signature), "{captured}");
    assert!(!captured.contains("AKIAECHOTESTKEY00001"), "{captured}");
    assert!(
        !h.incident.vars["seen_token"]
            .json()
            .contains("echo-session-token-value")
    );
    let mut stack = vec![h.incident_dir()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            for raw in [
                signature.as_str(),
                "AKIAECHOTESTKEY00001",
                "echo-secret-key-value",
                "echo-session-token-value",
            ] {
                assert!(!text.contains(raw), "{raw} in {}", path.display());
            }
        }
    }
}
