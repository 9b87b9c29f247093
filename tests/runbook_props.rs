//! Property tests: whatever text reaches the runbook parser and validator, they answer with
//! diagnostics, never a panic, and every span they report can be rendered (inside the source,
//! on character boundaries).

use proptest::prelude::*;
use stanch::runbook;

const BUNDLED: &str = include_str!("../runbooks/elasticsearch-exposure.toml");

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

#[test]
fn the_undamaged_bundled_runbook_has_no_problems() {
    // The draft template is resolved relative to "prop.toml", i.e. the crate root, where it
    // is not: exactly that one problem, which also shows the property tests reach validation.
    let problems = runbook::check_source("prop.toml", BUNDLED);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].message.contains("not found"), "{problems:?}");
    assert_eq!(
        runbook::check_source("runbooks/elasticsearch-exposure.toml", BUNDLED),
        Vec::new()
    );
}
