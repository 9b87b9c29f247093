//! `paginate` against moto: S3 `ListObjectsV2` two keys per page, following
//! `NextContinuationToken` until `IsTruncated` is false, with signature verification on.
//! (moto's IAM `ListUsers` ignores `MaxItems`, so S3 is the API that really pages here.)

use crate::support::engine as support;
use crate::support::moto;

use stanch::secret::Secrets;
use support::{Harness, failed, succeeded};

fn runbook(url: &str, next: &str) -> String {
    format!(
        r#"
[runbook]
id = "paginate-test"
title = "Pagination against moto"

[secrets.ak]
env = "UNUSED_AK"
[secrets.sk]
env = "UNUSED_SK"

[targets.s3]
url = "{url}"
auth = {{ aws_sigv4 = {{ region = "us-east-1", service = "s3", access_key = "{{{{ secrets.ak }}}}", secret_key = "{{{{ secrets.sk }}}}" }} }}

[[steps]]
id = "objects"
phase = "confirm"
http = {{ target = "s3", method = "GET", path = "/paged", query = {{ list-type = "2", max-keys = "2" }} }}
capture = {{ keys = "response.xml.ListBucketResult.Contents | as_list | map(attribute='Key') | list" }}
paginate = {{ next = "{next}", param = "continuation-token", max_pages = 10 }}
"#
    )
}

const NEXT: &str = "response.xml.ListBucketResult.NextContinuationToken if response.xml.ListBucketResult.IsTruncated == 'true' else none";

#[tokio::test]
async fn every_page_is_followed_and_lists_concatenate() {
    if !moto::available() {
        return;
    }
    let moto = moto::Moto::start().await;
    moto.unsigned(async |m| {
        let auth = moto::routing_header("s3");
        let headers = [("Authorization", auth.as_str())];
        assert_eq!(
            m.s3(reqwest::Method::PUT, "/paged", &headers, "").await.0,
            200
        );
        for n in 1..=7 {
            let path = format!("/paged/dump-{n}.csv");
            assert_eq!(
                m.s3(reqwest::Method::PUT, &path, &headers, "x").await.0,
                200
            );
        }
    })
    .await;
    let secrets = Secrets::from_values([
        ("ak".to_owned(), moto.access_key.clone()),
        ("sk".to_owned(), moto.secret_key.clone()),
    ]);
    let mut h = Harness::new(&runbook(&moto.url, NEXT), secrets);
    let summary = succeeded(&h.run("objects").await).to_owned();
    // Seven objects, two per page.
    assert!(summary.contains("4 pages · keys = [7 items]"), "{summary}");
    let keys: Vec<String> = serde_json::from_value(h.incident.vars["keys"].to_value()).unwrap();
    let want: Vec<String> = (1..=7).map(|n| format!("dump-{n}.csv")).collect();
    assert_eq!(keys, want);
    // One journalled exchange per page, each signed.
    let requests = h
        .events("objects")
        .into_iter()
        .filter(|e| e.kind.as_str() == "http.request")
        .count();
    assert_eq!(requests, 4);
}

#[tokio::test]
async fn a_token_that_never_changes_stops_the_listing() {
    if !moto::available() {
        return;
    }
    let moto = moto::Moto::start().await;
    moto.unsigned(async |m| {
        let auth = moto::routing_header("s3");
        m.s3(
            reqwest::Method::PUT,
            "/paged",
            &[("Authorization", auth.as_str())],
            "",
        )
        .await
    })
    .await;
    let secrets = Secrets::from_values([
        ("ak".to_owned(), moto.access_key.clone()),
        ("sk".to_owned(), moto.secret_key.clone()),
    ]);
    let mut h = Harness::new(&runbook(&moto.url, "'same-token'"), secrets);
    let error = failed(&h.run("objects").await).to_owned();
    assert!(
        error.starts_with("page 2: the service gave a continuation token it already gave"),
        "{error}"
    );
}
