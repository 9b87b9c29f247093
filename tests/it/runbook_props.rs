//! Property tests: whatever text reaches the runbook parser and validator, they answer with
//! diagnostics, never a panic, and every span they report can be rendered (inside the source,
//! on character boundaries).

use proptest::prelude::*;
use stanch::runbook;

const BUNDLED: &str = include_str!("../../runbooks/elasticsearch-exposure.toml");

/// Check, then render; assert the spans are valid for the source they index.
fn check_and_render(source: &str) -> usize {
    let problems = runbook::check_source("prop.toml", source);
    for problem in &problems {
        for label in &problem.labels {
            let span = &label.span;
            assert!(span.start <= span.end, "{problem:?}");
            assert!(span.end <= source.len(), "{problem:?}");
            assert!(source.is_char_boundary(span.start), "{problem:?}");
            assert!(source.is_char_boundary(span.end), "{problem:?}");
        }
    }
    let rendered = runbook::render_diagnostics("prop.toml", source, &problems);
    assert_eq!(problems.is_empty(), rendered.is_empty());
    problems.len()
}

/// Fragments that real runbooks are made of, including the broken halves of them.
fn toml_token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "[runbook]\n",
        "id = \"x\"\n",
        "title = \"T\"\n",
        "[[steps]]\n",
        "id = \"a\"\n",
        "id = \"b\"\n",
        "phase = \"confirm\"\n",
        "needs = [\"a\"]\n",
        "needs = [\"b\"]\n",
        "manual = [\"x\"]\n",
        "http = { target = \"es\", method = \"GET\", path = \"/{{ inputs.i }}\" }\n",
        "http = { target = \"es\", method = \"POST\", path = \"/\", json = { a = [\"{{ item }}\", 1] } }\n",
        "expect = [\"response.status == 200\"]\n",
        "capture = { n = \"response.json.count\" }\n",
        "foreach = \"vars.n\"\n",
        "concurrency = 0\n",
        "retry = { every = \"2s\", within = \"1s\" }\n",
        "draft = { template = \"nope.j2\", output = \"../x\" }\n",
        "mark = \"contained\"\n",
        "confirm = \"{{ secrets.k }}\"\n",
        "[inputs.i]\nprompt = \"I\"\n",
        "[secrets.k]\nenv = \"K\"\nfile = \"f\"\n",
        "[targets.es]\nurl = \"{{ inputs.i }}\"\ntimeout = \"5 s\"\n",
        "{{",
        "}}",
        "{%",
        "\"",
        "'''",
        "\"\"\"",
        "[",
        "]",
        "{",
        "}",
        "=",
        ",",
        "\n",
        " ",
        "é",
        "→",
        "\t",
        "#",
        "\\",
        "\u{0}",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        check_and_render(&text);
    }

    #[test]
    fn arbitrary_toml_ish_text_never_panics(tokens in prop::collection::vec(toml_token(), 0..60)) {
        check_and_render(&tokens.concat());
    }

    /// Damage the real runbook: cut a range out and splice a fragment in. Whatever remains
    /// either checks clean or yields renderable diagnostics.
    #[test]
    fn damaged_bundled_runbook_never_panics(
        at in 0..BUNDLED.len(),
        cut in 0usize..200,
        insert in toml_token(),
    ) {
        let mut start = at;
        while !BUNDLED.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (start + cut).min(BUNDLED.len());
        while !BUNDLED.is_char_boundary(end) {
            end += 1;
        }
        let damaged = format!("{}{insert}{}", &BUNDLED[..start], &BUNDLED[end..]);
        check_and_render(&damaged);
    }
}

/// A random valid runbook: steps in a DAG (each needs the one before it and maybe others
/// earlier), every step captures
/// `c<i>` and reads the capture of one step it needs, some loop over it with `foreach`.
fn valid_runbook() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::collection::vec(any::<prop::sample::Index>(), 0..3),
            any::<bool>(),
            0usize..4,
        ),
        1..25,
    )
    .prop_map(|steps| {
        use std::fmt::Write as _;
        let mut s = String::from(
            "[runbook]\nid = \"gen\"\ntitle = \"Gen\"\n[inputs.base]\nprompt = \"B\"\n\
             [secrets.key]\nenv = \"K\"\n[targets.t]\nurl = \"{{ inputs.base }}\"\n\
             headers = { Authorization = \"Bearer {{ secrets.key }}\" }\n",
        );
        for (i, (needs, foreach, phase)) in steps.iter().enumerate() {
            let phase = ["confirm", "contain", "eradicate", "notify"][*phase];
            let mut needed: Vec<usize> = if i == 0 {
                Vec::new()
            } else {
                // Always the previous step (so the steps form one chain), plus random others.
                needs.iter().map(|n| n.index(i)).chain([i - 1]).collect()
            };
            needed.sort_unstable();
            needed.dedup();
            let _ = write!(s, "[[steps]]\nid = \"s{i}\"\nphase = \"{phase}\"\n");
            let list: Vec<String> = needed.iter().map(|n| format!("\"s{n}\"")).collect();
            let _ = writeln!(s, "needs = [{}]", list.join(", "));
            let read = needed.first().map(|n| format!("{{{{ vars.c{n} }}}}"));
            match (read, foreach) {
                (Some(_), true) => {
                    let n = needed[0];
                    let _ = write!(
                        s,
                        "foreach = \"vars.c{n}\"\nconcurrency = 4\n\
                         http = {{ target = \"t\", method = \"POST\", path = \"/x\", form = {{ v = \"{{{{ item }}}}\" }} }}\n\
                         expect = [\"response.status == 200\", \"item != ''\"]\n"
                    );
                }
                (read, _) => {
                    let q = read.unwrap_or_else(|| "{{ inputs.base }}".to_owned());
                    let _ = write!(
                        s,
                        "http = {{ target = \"t\", method = \"GET\", path = \"/s{i}\", query = {{ q = \"{q}\" }} }}\n\
                         expect = [\"response.status == 200\"]\n"
                    );
                }
            }
            let _ = writeln!(s, "capture = {{ c{i} = \"response.json.items\" }}");
        }
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// No false positives: a runbook that follows every rule checks clean.
    #[test]
    fn generated_valid_runbooks_check_clean(source in valid_runbook()) {
        let problems = runbook::check_source("gen.toml", &source);
        prop_assert!(
            problems.is_empty(),
            "{}",
            runbook::render_diagnostics("gen.toml", &source, &problems)
        );
    }

    /// Making the first step need the last one closes a cycle, and `check` names it.
    #[test]
    fn a_back_edge_in_a_valid_runbook_is_reported_as_a_cycle(source in valid_runbook()) {
        let last = source.matches("[[steps]]").count() - 1;
        let cyclic = source.replacen("needs = []", &format!("needs = [\"s{last}\"]"), 1);
        let problems = runbook::check_source("gen.toml", &cyclic);
        prop_assert!(
            problems.iter().any(|p| p.message.starts_with("dependency cycle: ")),
            "{}",
            runbook::render_diagnostics("gen.toml", &cyclic, &problems)
        );
    }
}

#[test]
fn the_undamaged_bundled_runbook_has_no_problems() {
    // Draft templates are resolved relative to "prop.toml", i.e. the crate root, where they
    // are not: exactly one such problem per draft step (the forum post and the three notices),
    // which also shows the property tests reach validation.
    let problems = runbook::check_source("prop.toml", BUNDLED);
    assert_eq!(
        problems.len(),
        BUNDLED.matches("\ndraft = ").count(),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .all(|p| p.message.starts_with("draft template `drafts/")
                && p.message.ends_with("not found")),
        "{problems:?}"
    );
    assert_eq!(
        runbook::check_source("runbooks/elasticsearch-exposure.toml", BUNDLED),
        Vec::new()
    );
}
