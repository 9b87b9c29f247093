//! AWS support costs per request: SigV4 signing of an IAM form POST and of an S3 PUT with a
//! 1 MiB body (hashing dominates), and reading a 1,000-object S3 `ListBucketResult` (~230 KB)
//! into `response.xml`. No goal is set by the issue; these are the figures to watch.
//!
//! Rerun: `cargo bench --bench aws`.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::SystemTime;

use criterion::{Criterion, criterion_group, criterion_main};
use stanch::engine::sigv4::{Fields, Signer};
use stanch::engine::xml;

fn signer(service: &str) -> Signer {
    Signer::new(
        "bench",
        Fields {
            region: "us-east-1".into(),
            service: service.into(),
            access_key: Some("AKIDEXAMPLE".into()),
            secret_key: Some("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
            session_token: None,
        },
        |_| None,
    )
    .unwrap()
}

fn request(
    method: reqwest::Method,
    url: &str,
    body: Vec<u8>,
    content_type: &str,
) -> reqwest::Request {
    let mut req = reqwest::Request::new(method, url.parse().unwrap());
    req.headers_mut()
        .insert("content-type", content_type.parse().unwrap());
    *req.body_mut() = Some(body.into());
    req
}

fn listing(n: usize) -> String {
    let mut s = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>leaky</Name><IsTruncated>false</IsTruncated>"#,
    );
    for i in 0..n {
        let _ = write!(
            s,
            "<Contents><Key>exports/2026/11/customers-{i:05}.csv</Key><LastModified>2026-11-30T12:00:00.000Z</LastModified><ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            1000 + i
        );
    }
    s.push_str("</ListBucketResult>");
    s
}

fn bench(c: &mut Criterion) {
    let iam = signer("iam");
    let form = b"Action=ListAccessKeys&Version=2010-05-08&UserName=app-deployer".to_vec();
    c.bench_function("sigv4 sign IAM form POST", |b| {
        b.iter(|| {
            let mut req = request(
                reqwest::Method::POST,
                "https://iam.amazonaws.com/",
                form.clone(),
                "application/x-www-form-urlencoded",
            );
            black_box(iam.sign(&mut req, SystemTime::now()).unwrap())
        });
    });
    let s3 = signer("s3");
    let mib = vec![b'x'; 1 << 20];
    c.bench_function("sigv4 sign S3 PUT 1 MiB", |b| {
        b.iter(|| {
            let mut req = request(
                reqwest::Method::PUT,
                "https://s3.amazonaws.com/bucket/key.bin",
                mib.clone(),
                "application/octet-stream",
            );
            black_box(s3.sign(&mut req, SystemTime::now()).unwrap())
        });
    });
    let body = listing(1000);
    c.bench_function("response.xml of a 1,000-object listing", |b| {
        b.iter(|| black_box(xml::parse(body.as_bytes()).unwrap()));
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
