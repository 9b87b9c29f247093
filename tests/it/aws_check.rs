//! `stanch check` for the AWS parts of the format: `auth.aws_sigv4`, `http.xml`, `paginate`
//! and `response.xml`, and every bundled runbook and drill scenario passing.
//!
//! Each file in `tests/fixtures/aws_bad/` has exactly one mistake; its exact rendered
//! diagnostic is in the `.expected` file beside it. Regenerate after an intended change with
//! `UPDATE_EXPECT=1 cargo test --test it aws_check::` and review the diff.

use std::path::PathBuf;
use std::process::Command;

const BAD: &str = "tests/fixtures/aws_bad";

fn check_fixture(name: &str) {
    crate::check::check_fixture_in(BAD, name);
}

macro_rules! bad_fixtures {
    ($($name:ident),* $(,)?) => {
        const FIXTURES: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                check_fixture(stringify!($name));
            }
        )*
    };
}

bad_fixtures!(
    auth_two_forms,
    sigv4_half_key_pair,
    sigv4_bad_region,
    sigv4_secret_in_file,
    sigv4_token_without_pair,
    sigv4_unknown_field,
    paginate_with_foreach,
    paginate_bad_param,
    paginate_zero_pages,
    two_bodies,
    response_xml_in_body,
    response_field_typo,
);

#[test]
fn every_fixture_file_has_a_test() {
    let mut files: Vec<String> = std::fs::read_dir(BAD)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            (path.extension()? == "toml").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    files.sort();
    let mut listed: Vec<String> = FIXTURES.iter().map(|s| (*s).to_owned()).collect();
    listed.sort();
    assert_eq!(files, listed);
}

#[test]
fn stanch_check_passes_on_every_bundled_runbook_and_drill() {
    let mut files: Vec<PathBuf> = ["runbooks", "runbooks/drills"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for name in [
        "s3-public-bucket",
        "aws-leaked-access-key",
        "exposed-database-port",
    ] {
        for dir in ["runbooks", "runbooks/drills"] {
            let path = PathBuf::from(dir).join(format!("{name}.toml"));
            assert!(files.contains(&path), "{} is not bundled", path.display());
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_stanch"))
        .arg("check")
        .args(&files)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("ok ")).count(),
        files.len(),
        "{text}"
    );
}
