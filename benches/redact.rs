//! Masking and escaping outside text at evidence size: [`Redactor::redact_bytes`] over a
//! 16 MiB response (the default body cap) that echoes three secrets a few times, and
//! [`stanch::text::escape`] over the same text. Both run on every body kept as evidence or
//! shown, so they must stay far below the cost of receiving it.
//!
//! Run: `cargo bench --bench redact`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stanch::secret::Redactor;

const BODY: usize = 16 << 20;

fn body(secrets: &[&str]) -> Vec<u8> {
    let record = br#"{"_index":"customers","_id":"a81f","_source":{"email":"jo@example.com","name":"Jo Q. Public","card":"4111-xxxx"}},"#;
    let mut out = Vec::with_capacity(BODY + 4096);
    let mut n = 0;
    while out.len() < BODY {
        out.extend_from_slice(record);
        n += 1;
        // A secret echoed every ~1 MiB.
        if n % 8000 == 0 {
            out.extend_from_slice(secrets[n / 8000 % secrets.len()].as_bytes());
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let secrets = [
        "K3y\"q/z+ x\\abc-7f3e9a",
        "p@ss+w rd#1é-0c41d2",
        "ghp_9f8e7d6c5b4a39281706",
    ];
    let redactor = Redactor::new(secrets);
    let text = body(&secrets);
    let mut group = c.benchmark_group("outside_text_16MiB");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("redact_bytes_3_secrets_all_forms", |b| {
        b.iter(|| black_box(redactor.redact_bytes(black_box(&text)).len()));
    });
    let utf8 = String::from_utf8_lossy(&text).into_owned();
    group.bench_function("text_escape", |b| {
        b.iter(|| black_box(stanch::text::escape(black_box(&utf8)).len()));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
