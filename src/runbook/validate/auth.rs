//! A target's `auth`: at most one form (`bearer`, `basic`, `aws_sigv4`), and an `aws_sigv4`
//! block that can sign: a region and a service that look like AWS's, and a key pair given
//! whole or not at all (then it comes from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`).
//!
//! Values that are templates are checked by `templates` (syntax, declared names); only plain
//! text is judged here. Nothing here reads the environment: a missing variable is a run-time
//! error of the step, named by the engine.

use super::{Diagnostic, Seg, Validator};
use crate::runbook::{Auth, AwsSigV4};

impl Validator<'_, '_> {
    pub(super) fn auth(&mut self, target: &str, auth: &Auth) {
        let forms: Vec<&str> = [
            auth.bearer.as_ref().map(|_| "bearer"),
            auth.basic.as_ref().map(|_| "basic"),
            auth.aws_sigv4.as_ref().map(|_| "aws_sigv4"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if let [first, second, ..] = forms.as_slice() {
            let at = |form| {
                [
                    Seg::Key("targets"),
                    Seg::Key(target),
                    Seg::Key("auth"),
                    Seg::Key(form),
                ]
            };
            self.push(
                Diagnostic::new(
                    format!("target `{target}` has more than one auth form"),
                    self.key(&at(second)),
                    "second form",
                )
                .with_label(self.key(&at(first)), "first form")
                .with_help("keep exactly one of `bearer`, `basic` or `aws_sigv4`"),
            );
        }
        if let Some(aws) = &auth.aws_sigv4 {
            self.aws_sigv4(target, aws.get_ref(), aws.span());
        }
    }

    fn aws_sigv4(&mut self, target: &str, aws: &AwsSigV4, block: std::ops::Range<usize>) {
        for (field, value, example) in [
            ("region", &aws.region, "us-east-1"),
            ("service", &aws.service, "s3, iam, sts, ec2"),
        ] {
            let text = value.get_ref();
            if text.contains('{') {
                continue;
            }
            let plain = !text.is_empty()
                && text
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !plain {
                self.push(
                    Diagnostic::new(
                        format!(
                            "aws_sigv4 `{field}` of target `{target}` is not an AWS {field} name"
                        ),
                        value.span(),
                        format!("`{text}`"),
                    )
                    .with_help(format!(
                        "lower-case letters, digits and `-`, e.g. {example} (the signing name, \
                         as in the endpoint's credential scope)"
                    )),
                );
            }
        }
        match (&aws.access_key, &aws.secret_key) {
            (Some(_), Some(_)) | (None, None) => {}
            (Some(given), None) | (None, Some(given)) => {
                let missing = if aws.access_key.is_some() {
                    "secret_key"
                } else {
                    "access_key"
                };
                self.push(
                    Diagnostic::new(
                        format!("aws_sigv4 of target `{target}` has half a key pair"),
                        given.span(),
                        format!("`{missing}` is missing"),
                    )
                    .with_help(
                        "give both `access_key` and `secret_key` (from `{{ secrets.… }}`), or \
                         neither to read AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                    ),
                );
            }
        }
        if let (Some(token), None) = (&aws.session_token, &aws.access_key) {
            self.push(
                Diagnostic::new(
                    format!("aws_sigv4 of target `{target}` has a session token but no key pair"),
                    token.span(),
                    "a session token belongs to one key pair",
                )
                .with_label(block, "in this block")
                .with_help(
                    "give `access_key` and `secret_key` too, or drop `session_token` to read \
                     AWS_SESSION_TOKEN with the environment's pair",
                ),
            );
        }
        // The key id names the key (it appears in logs and CloudTrail); the other two are
        // the credential itself.
        for (field, value) in [
            ("secret_key", &aws.secret_key),
            ("session_token", &aws.session_token),
        ] {
            if let Some(value) = value
                && !value.get_ref().contains("secrets.")
            {
                self.push(
                    Diagnostic::new(
                        format!(
                            "aws_sigv4 `{field}` of target `{target}` is written in the runbook"
                        ),
                        value.span(),
                        "not from a secret",
                    )
                    .with_help(
                        "declare it under [secrets] and write `{{ secrets.<name> }}`: a key in \
                         the file would be journalled, shared and committed",
                    ),
                );
            }
        }
    }
}
