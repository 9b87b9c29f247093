//! `stanch check` speed: the bundled runbook (goal < 5 ms) and a generated 1,000-step runbook
//! (goal < 50 ms), each parsed with spans and fully validated (graph, templates, variables).
//!
//! Rerun: `cargo bench --bench check`.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use stanch::runbook;

const BUNDLED_PATH: &str = "runbooks/elasticsearch-exposure.toml";

/// A valid runbook of `n` http steps in a chain, each reading an input, a secret-bearing
/// target, and the capture of the step before it: the work `check` does per step at scale.
fn generated(n: usize) -> String {
    let mut s = String::from(
        "[runbook]\nid = \"generated\"\ntitle = \"Generated\"\n\n\
         [inputs.base]\nprompt = \"Base URL\"\n[inputs.index]\nprompt = \"Index\"\n\n\
         [secrets.key]\nenv = \"KEY\"\n\n\
         [targets.es]\nurl = \"{{ inputs.base }}\"\n\
         headers = { Authorization = \"ApiKey {{ secrets.key }}\" }\ntimeout = \"10s\"\n",
    );
    for i in 0..n {
        let phase = ["confirm", "contain", "preserve", "eradicate", "notify"][i % 5];
        let _ = write!(
            s,
            "\n[[steps]]\nid = \"step-{i}\"\nphase = \"{phase}\"\ntitle = \"Step {i}\"\n\
             notes = \"What step {i} does and what can go wrong.\"\n"
        );
        if i > 0 {
            let _ = writeln!(
                s,
                "needs = [\"step-{}\"]\nwhen = \"vars.n{} is defined\"",
                i - 1,
                i - 1
            );
        }
        let _ = write!(
            s,
            "http = {{ target = \"es\", method = \"GET\", path = \"/{{{{ inputs.index }}}}/_doc/{i}\", \
             query = {{ pretty = \"true\" }} }}\n\
             expect = [\"response.status == 200\", \"response.json.found\"]\n\
             capture = {{ n{i} = \"response.json._source.count\" }}\n"
        );
        if i % 10 == 0 {
            s.push_str("evidence = true\nretry = { every = \"2s\", within = \"1m\" }\n");
        }
    }
    s
}

fn bench_check(c: &mut Criterion) {
    let bundled = std::fs::read_to_string(BUNDLED_PATH).expect("bundled runbook");
    assert!(runbook::check_source(BUNDLED_PATH, &bundled).is_empty());
    c.bench_function("check bundled runbook", |b| {
        b.iter(|| runbook::check_source(black_box(BUNDLED_PATH), black_box(&bundled)));
    });

    let big = generated(1_000);
    let problems = runbook::check_source("generated.toml", &big);
    assert!(
        problems.is_empty(),
        "{}",
        runbook::render_diagnostics("generated.toml", &big, &problems)
    );
    c.bench_function("check 1,000-step runbook", |b| {
        b.iter(|| runbook::check_source(black_box("generated.toml"), black_box(&big)));
    });
}

criterion_group!(benches, bench_check);
criterion_main!(benches);
