//! The bundled AWS runbooks, run headless by the real binary against moto, and then the
//! emulator's state checked with requests that do not go through stanch at all.
//!
//! - `s3-public-bucket`: a bucket with public-read ACLs is blocked (bucket and account),
//!   its ACLs reset, and an anonymous read then answers 403. moto answers anonymous requests
//!   only while its IAM simulation is off (with it on, an unsigned request is a 500 in moto
//!   5.2), so this run has signature verification off; `aws_sigv4.rs` and the access-key
//!   run below prove the signatures with verification on.
//! - `aws-leaked-access-key`: verification on; the leaked key ends up Inactive, a deny policy
//!   for older sessions is on its user, and a replacement exists. moto has no CloudTrail
//!   `LookupEvents`, so that one API is served by a local stand-in shaped after AWS's
//!   documented answer, which also checks what stanch sent it (target, signature, filter,
//!   page token).

use crate::support::moto;

use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::{Value, json};

/// `stanch run RUNBOOK --headless --yes --incident ID --set …` with the responder's key in
/// the standard AWS variables.
async fn run_headless(
    data: &Path,
    moto: &moto::Moto,
    runbook: &str,
    incident: &str,
    sets: &[String],
) -> Output {
    let mut args = vec![
        "run",
        runbook,
        "--headless",
        "--yes",
        "--incident",
        incident,
    ];
    for set in sets {
        args.extend(["--set", set.as_str()]);
    }
    tokio::process::Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args(&args)
        .env("STANCH_DATA_DIR", data)
        .env("USER", "ci-responder")
        .env("AWS_ACCESS_KEY_ID", &moto.access_key)
        .env("AWS_SECRET_ACCESS_KEY", &moto.secret_key)
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .await
        .unwrap()
}

fn journal(data: &Path, id: &str) -> String {
    std::fs::read_to_string(data.join("incidents").join(id).join("journal.jsonl")).unwrap()
}

/// Every artefact of the incident (journal, evidence) is free of the responder's secret.
fn assert_no_secret(data: &Path, id: &str, secret: &str) {
    let dir = data.join("incidents").join(id);
    let mut stack = vec![dir];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                assert!(!text.contains(secret), "secret in {}", path.display());
            }
        }
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "one end-to-end scenario read top to bottom"
)]
#[tokio::test]
async fn s3_public_bucket_runbook_blocks_and_privatises_the_bucket_in_moto() {
    if !moto::available() {
        return;
    }
    let moto = moto::Moto::start().await;
    moto.verify(false).await;
    let auth = moto::routing_header("s3");
    let signed = [("Authorization", auth.as_str())];
    let public = [
        ("Authorization", auth.as_str()),
        ("x-amz-acl", "public-read"),
    ];
    let put = reqwest::Method::PUT;
    assert_eq!(
        moto.s3(put.clone(), "/leaky-exports", &public, "").await.0,
        200
    );
    for key in ["customers.csv", "config/app.env", "exports/2026-11.csv"] {
        let path = format!("/leaky-exports/{key}");
        assert_eq!(moto.s3(put.clone(), &path, &public, "data").await.0, 200);
    }
    // Before: an outsider reads the object.
    let (status, _) = moto
        .s3(
            reqwest::Method::GET,
            "/leaky-exports/customers.csv",
            &[],
            "",
        )
        .await;
    assert_eq!(status, 200);

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = moto.url.clone();
    let sets = [
        format!("s3_url={url}"),
        "bucket=leaky-exports".to_owned(),
        "sample_key=customers.csv".to_owned(),
        "account_id=123456789012".to_owned(),
        format!("s3control_url={url}"),
        format!("cloudtrail_url={url}"),
    ];
    let out = run_headless(
        &data,
        &moto,
        "runbooks/s3-public-bucket.toml",
        "INC-S3",
        &sets,
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", moto.log());
    assert!(text.contains("object_keys = [3 items]"), "{text}");
    assert!(text.contains("acl_public = true"), "{text}");
    assert!(
        text.contains("3/3 items") || text.contains("3 items"),
        "{text}"
    );

    // After, as moto records it: the bucket's and the account's blocks are on…
    let (status, body) = moto
        .s3(
            reqwest::Method::GET,
            "/leaky-exports?publicAccessBlock",
            &signed,
            "",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for setting in [
        "BlockPublicAcls",
        "IgnorePublicAcls",
        "BlockPublicPolicy",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            moto::xml_text(&body, setting).as_deref(),
            Some("true"),
            "{body}"
        );
    }
    let account = [
        ("Authorization", auth.as_str()),
        ("x-amz-account-id", "123456789012"),
    ];
    let (_, control) = moto
        .s3(
            reqwest::Method::GET,
            "/v20180820/configuration/publicAccessBlock",
            &account,
            "",
        )
        .await;
    assert_eq!(
        moto::xml_text(&control, "RestrictPublicBuckets").as_deref(),
        Some("true"),
        "{control}"
    );
    // …no ACL grants anything to everyone…
    for path in ["/leaky-exports?acl", "/leaky-exports/config/app.env?acl"] {
        let (status, acl) = moto.s3(reqwest::Method::GET, path, &signed, "").await;
        assert_eq!(status, 200, "{acl}");
        assert!(!acl.contains("AllUsers"), "{path} still public: {acl}");
    }
    // …and an outsider is refused.
    let (status, _) = moto
        .s3(
            reqwest::Method::GET,
            "/leaky-exports/customers.csv",
            &[],
            "",
        )
        .await;
    assert_eq!(status, 403);

    let journal = journal(&data, "INC-S3");
    assert!(journal.contains("aws_sigv4 us-east-1/s3"));
    // The post-mortem of an AWS incident exports, and carries no key either.
    for format in ["json", "html", "md"] {
        let output = data
            .join("incidents/INC-S3")
            .join(format!("postmortem.{format}"));
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_stanch"))
            .args(["export", "INC-S3", "--format", format, "-o"])
            .arg(&output)
            .env("STANCH_DATA_DIR", &data)
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            std::fs::read_to_string(&output)
                .unwrap()
                .contains("block-bucket")
        );
    }
    assert_no_secret(&data, "INC-S3", &moto.secret_key);
    assert_no_secret(&data, "INC-S3", &moto.access_key);
}

/// CloudTrail `LookupEvents` as AWS documents it, two pages, recording each request.
async fn cloudtrail_stand_in(leaked: String) -> (String, Arc<Mutex<Vec<(HeaderMap, Value)>>>) {
    let seen: Arc<Mutex<Vec<(HeaderMap, Value)>>> = Arc::default();
    let record = seen.clone();
    let app = Router::new().route(
        "/",
        post(move |headers: HeaderMap, body: String| {
            let record = record.clone();
            let leaked = leaked.clone();
            async move {
                let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let page_two = body.get("NextToken").is_some();
                record.lock().unwrap().push((headers, body));
                let event = |name: &str, id: &str| {
                    json!({ "EventId": id, "EventName": name, "EventTime": 1_764_500_000,
                            "EventSource": "iam.amazonaws.com", "AccessKeyId": leaked,
                            "Username": "app-deployer",
                            "CloudTrailEvent": "{\"eventVersion\":\"1.08\"}" })
                };
                let answer = if page_two {
                    json!({ "Events": [event("RunInstances", "e3")] })
                } else {
                    json!({ "Events": [event("CreateUser", "e1"), event("CreateAccessKey", "e2")],
                            "NextToken": "page-2 token/==" })
                };
                (
                    [("content-type", "application/x-amz-json-1.1")],
                    answer.to_string(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

#[expect(
    clippy::too_many_lines,
    reason = "one end-to-end scenario read top to bottom"
)]
#[tokio::test]
async fn leaked_access_key_runbook_deactivates_the_key_in_moto() {
    if !moto::available() {
        return;
    }
    let moto = moto::Moto::start().await;
    let version = ("Version", "2010-05-08");
    let (leaked, leaked_secret) = moto
        .unsigned(async |m| {
            m.query(
                "iam",
                &[
                    ("Action", "CreateUser"),
                    ("UserName", "app-deployer"),
                    version,
                ],
            )
            .await;
            let body = m
                .query(
                    "iam",
                    &[
                        ("Action", "CreateAccessKey"),
                        ("UserName", "app-deployer"),
                        version,
                    ],
                )
                .await;
            (
                moto::xml_text(&body, "AccessKeyId").unwrap(),
                moto::xml_text(&body, "SecretAccessKey").unwrap(),
            )
        })
        .await;
    let (cloudtrail, seen) = cloudtrail_stand_in(leaked.clone()).await;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sets = [
        format!("leaked_key_id={leaked}"),
        format!("iam_url={}", moto.url),
        format!("sts_url={}", moto.url),
        format!("cloudtrail_url={cloudtrail}"),
    ];
    let out = run_headless(
        &data,
        &moto,
        "runbooks/aws-leaked-access-key.toml",
        "INC-KEY",
        &sets,
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", moto.log());
    assert!(text.contains(r#"key_user = "app-deployer""#), "{text}");
    assert!(text.contains(r#"key_account = "123456789012""#), "{text}");
    assert!(text.contains("2 pages · event_names = [3 items]"), "{text}");
    // Deleting waits for the change-over window: skipped unless asked for.
    let delete = text.lines().find(|l| l.contains("delete-old-key")).unwrap();
    assert!(delete.starts_with("skipped"), "{text}");

    // What the CloudTrail stand-in received: signed with the responder's key for CloudTrail,
    // filtered on the leaked key, and the second page asked for with the first page's token.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    let (headers, first) = &seen[0];
    assert_eq!(
        headers["x-amz-target"],
        "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
    );
    assert_eq!(headers["content-type"], "application/x-amz-json-1.1");
    let auth = headers["authorization"].to_str().unwrap();
    assert!(
        auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={}/", moto.access_key))
            && auth.contains("/us-east-1/cloudtrail/aws4_request"),
        "{auth}"
    );
    assert_eq!(
        first["LookupAttributes"],
        json!([{ "AttributeKey": "AccessKeyId", "AttributeValue": leaked }])
    );
    assert_eq!(seen[1].1["NextToken"], "page-2 token/==");

    // moto's state, read without stanch: the key is inactive, older sessions are denied, a
    // replacement exists.
    let (keys, policy) = moto
        .unsigned(async |m| {
            let keys = m
                .query(
                    "iam",
                    &[
                        ("Action", "ListAccessKeys"),
                        ("UserName", "app-deployer"),
                        version,
                    ],
                )
                .await;
            let policy = m
                .query(
                    "iam",
                    &[
                        ("Action", "GetUserPolicy"),
                        ("UserName", "app-deployer"),
                        ("PolicyName", "stanch-revoke-older-sessions"),
                        version,
                    ],
                )
                .await;
            (keys, policy)
        })
        .await;
    let leaked_entry = keys
        .split("<member>")
        .find(|m| m.contains(&leaked))
        .unwrap();
    assert_eq!(
        moto::xml_text(leaked_entry, "Status").as_deref(),
        Some("Inactive"),
        "{keys}"
    );
    assert_eq!(keys.matches("<AccessKeyId>").count(), 2, "{keys}");
    assert!(
        policy.contains("aws%3ATokenIssueTime") || policy.contains("aws:TokenIssueTime"),
        "{policy}"
    );

    let journal = journal(&data, "INC-KEY");
    assert!(journal.contains("aws_sigv4 us-east-1/iam"));
    assert_no_secret(&data, "INC-KEY", &moto.secret_key);
    assert_no_secret(&data, "INC-KEY", &leaked_secret);
}

#[expect(
    clippy::too_many_lines,
    reason = "one end-to-end scenario read top to bottom"
)]
#[tokio::test]
async fn exposed_database_runbook_revokes_the_world_open_rule_in_moto() {
    if !moto::available() {
        return;
    }
    let moto = moto::Moto::start().await;
    let version = ("Version", "2016-11-15");
    let (group, instance) = moto
        .unsigned(async |m| {
            let body = m
                .query(
                    "ec2",
                    &[
                        ("Action", "CreateSecurityGroup"),
                        ("GroupName", "mongo"),
                        ("GroupDescription", "mongo"),
                        version,
                    ],
                )
                .await;
            let group = moto::xml_text(&body, "groupId").unwrap();
            // The database port open to the world (v4 and v6), and HTTPS, which must stay.
            for (port, range, cidr) in [
                ("27017", "IpRanges.1.CidrIp", "0.0.0.0/0"),
                ("27017", "Ipv6Ranges.1.CidrIpv6", "::/0"),
                ("27017", "IpRanges.1.CidrIp", "10.0.0.0/8"),
                ("443", "IpRanges.1.CidrIp", "0.0.0.0/0"),
            ] {
                let range = format!("IpPermissions.1.{range}");
                m.query(
                    "ec2",
                    &[
                        ("Action", "AuthorizeSecurityGroupIngress"),
                        ("GroupId", &group),
                        ("IpPermissions.1.IpProtocol", "tcp"),
                        ("IpPermissions.1.FromPort", port),
                        ("IpPermissions.1.ToPort", port),
                        (&range, cidr),
                        version,
                    ],
                )
                .await;
            }
            let body = m
                .query(
                    "ec2",
                    &[
                        ("Action", "RunInstances"),
                        ("ImageId", "ami-12c6146b"),
                        ("MinCount", "1"),
                        ("MaxCount", "1"),
                        ("SecurityGroupId.1", &group),
                        version,
                    ],
                )
                .await;
            (group, moto::xml_text(&body, "instanceId").unwrap())
        })
        .await;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sets = [
        format!("ec2_url={}", moto.url),
        format!("group_id={group}"),
        format!("instance_id={instance}"),
    ];
    let out = run_headless(
        &data,
        &moto,
        "runbooks/exposed-database-port.toml",
        "INC-DB",
        &sets,
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", moto.log());
    assert!(
        text.contains("open_ipv4 = true · open_ipv6 = true"),
        "{text}"
    );
    assert!(text.contains("volume_ids = [1 items]"), "{text}");

    let (rules, snapshots) = moto
        .unsigned(async |m| {
            let rules = m
                .query(
                    "ec2",
                    &[
                        ("Action", "DescribeSecurityGroups"),
                        ("GroupId.1", &group),
                        version,
                    ],
                )
                .await;
            let snapshots = m
                .query(
                    "ec2",
                    &[
                        ("Action", "DescribeSnapshots"),
                        ("OwnerId.1", "self"),
                        version,
                    ],
                )
                .await;
            (rules, snapshots)
        })
        .await;
    let db_rules: Vec<&str> = rules
        .split("<item><ipProtocol>")
        .filter(|r| r.contains("<fromPort>27017</fromPort>"))
        .collect();
    let db_rules = db_rules.join("");
    assert!(!db_rules.contains("0.0.0.0/0"), "{rules}");
    assert!(!db_rules.contains("::/0"), "{rules}");
    assert!(
        db_rules.contains("10.0.0.0/8"),
        "the private rule must stay: {rules}"
    );
    assert!(rules.contains("<fromPort>443</fromPort>"), "{rules}");
    assert!(snapshots.contains("stanch INC-DB"), "{snapshots}");
    assert_no_secret(&data, "INC-DB", &moto.secret_key);
}
