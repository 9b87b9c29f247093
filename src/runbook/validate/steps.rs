//! Checks of one step on its own: its id and phase, exactly one action and only the options
//! that action supports, the http request (target, method, safe retry, size), the draft (its
//! template file), its mark, capture names, `foreach`/`concurrency` and `retry` timing.
//!
//! How steps relate to each other is `graph`; what their templates read is `templates`.

use super::{Diagnostic, Seg, Validator, closest, is_slug};
use crate::runbook::{Action, Draft, Http, MARKS, Step, parse_size};

/// HTTP methods a step may use. Upper case only: the journal and previews show them verbatim.
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
/// Methods that are safe to send twice, hence to retry without an `expect` to poll for.
const IDEMPOTENT: &[&str] = &["GET", "HEAD", "PUT", "DELETE", "OPTIONS"];

impl Validator<'_, '_> {
    pub(super) fn step(&mut self, i: usize, step: &Step) {
        if !is_slug(step.id()) {
            self.push(Diagnostic::new(
                format!("step id `{}` is not a plain name", step.id()),
                step.id.span(),
                "use letters, digits, `-` and `_`",
            ));
        }
        if step.phase.trim().is_empty() {
            self.push(Diagnostic::new(
                format!("step `{}` has an empty phase", step.id()),
                self.step_key(i, "phase"),
                "empty",
            ));
        }
        self.action(i, step);
        if let Some(mark) = &step.mark
            && !MARKS.contains(&mark.get_ref().as_str())
        {
            self.push(
                Diagnostic::new(
                    format!("unknown mark `{}`", mark.get_ref()),
                    mark.span(),
                    "not a known mark",
                )
                .with_help(format!("known marks: {}", MARKS.join(", "))),
            );
        }
        for name in step.capture.keys() {
            let path = [
                Seg::Key("steps"),
                Seg::Index(i),
                Seg::Key("capture"),
                Seg::Key(name),
            ];
            self.identifier(&path, "capture", name);
        }
        self.foreach_and_retry(step);
    }

    /// Exactly one action, and only the options that action supports.
    fn action(&mut self, i: usize, step: &Step) {
        let mut present: Vec<&str> = [
            step.http.as_ref().map(|_| "http"),
            step.manual.as_ref().map(|_| "manual"),
            step.draft.as_ref().map(|_| "draft"),
        ]
        .into_iter()
        .flatten()
        .collect();
        // "First" and "second" as the file has them, whatever the kinds.
        present.sort_by_key(|key| self.step_key(i, key).start);
        match present.as_slice() {
            [] => self.push(
                Diagnostic::new(
                    format!("step `{}` has no action", step.id()),
                    step.id.span(),
                    "this step does nothing",
                )
                .with_help("give it exactly one of `http`, `manual` or `draft`"),
            ),
            [_] => {}
            [first, second, ..] => self.push(
                Diagnostic::new(
                    format!("step `{}` has more than one action", step.id()),
                    self.step_key(i, second),
                    "second action",
                )
                .with_label(self.step_key(i, first), "first action")
                .with_help("split it into two steps, the second with `needs`"),
            ),
        }
        match step.action() {
            Some(Action::Http(http)) => self.http(i, step, http),
            Some(Action::Manual([])) => self.push(Diagnostic::new(
                format!("step `{}` has an empty checklist", step.id()),
                self.step_key(i, "manual"),
                "no items",
            )),
            Some(Action::Draft(draft)) => self.draft(draft),
            _ => {}
        }
        if step.http.is_none() && !present.is_empty() {
            let only_http = [
                ("expect", !step.expect.is_empty()),
                ("capture", !step.capture.is_empty()),
                ("evidence", step.evidence),
                ("retry", step.retry.is_some()),
                ("foreach", step.foreach.is_some()),
                ("paginate", step.paginate.is_some()),
            ];
            for (key, set) in only_http {
                if set {
                    self.push(
                        Diagnostic::new(
                            format!("`{key}` needs an `http` action"),
                            self.step_key(i, key),
                            format!("step `{}` sends no request", step.id()),
                        )
                        .with_help(format!("remove `{key}`, or make this an http step")),
                    );
                }
            }
        }
    }

    #[expect(
        clippy::too_many_lines,
        reason = "every rule of an http action, one after the other"
    )]
    fn http(&mut self, i: usize, step: &Step, http: &Http) {
        if !self.rb.targets.contains_key(http.target.get_ref()) {
            let declared: Vec<&str> = self.rb.targets.keys().map(String::as_str).collect();
            let help = match closest(http.target.get_ref(), &declared) {
                Some(near) => format!("did you mean `{near}`?"),
                None if declared.is_empty() => "declare it under `[targets.<name>]`".to_owned(),
                None => format!("declared targets: {}", declared.join(", ")),
            };
            self.push(
                Diagnostic::new(
                    format!("unknown target `{}`", http.target.get_ref()),
                    http.target.span(),
                    "no such target",
                )
                .with_help(help),
            );
        }
        let method = http.method.get_ref();
        if !METHODS.contains(&method.as_str()) {
            let upper = method.to_ascii_uppercase();
            let help = if METHODS.contains(&upper.as_str()) {
                format!("write it in upper case: `{upper}`")
            } else {
                format!("use one of {}", METHODS.join(", "))
            };
            self.push(
                Diagnostic::new(
                    format!("unknown HTTP method `{method}`"),
                    http.method.span(),
                    "not a method",
                )
                .with_help(help),
            );
        } else if step.retry.is_some()
            && step.expect.is_empty()
            && !IDEMPOTENT.contains(&method.as_str())
        {
            self.push(
                Diagnostic::new(
                    format!(
                        "step `{}` retries a {method} with nothing to wait for",
                        step.id()
                    ),
                    self.step_key(i, "retry"),
                    format!("would resend a non-idempotent {method}"),
                )
                .with_label(http.method.span(), "not safe to repeat")
                .with_help("add an `expect` that the retry polls for, or remove `retry`"),
            );
        }
        if let Some(allow) = &http.allow_redirect_status
            && !step.expect.is_empty()
        {
            self.push(
                Diagnostic::new(
                    format!(
                        "`allow_redirect_status` of step `{}` has no effect: the step has an `expect`",
                        step.id()
                    ),
                    allow.span(),
                    "only for steps without `expect`",
                )
                .with_help(
                    "remove it, or say in `expect` which statuses pass (`response.status == 301`)",
                ),
            );
        }
        let bodies: Vec<&str> = [
            http.json.as_ref().map(|_| "json"),
            (!http.form.is_empty()).then_some("form"),
            http.xml.as_ref().map(|_| "xml"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if let [first, second, ..] = bodies.as_slice() {
            let at = |key| {
                [
                    Seg::Key("steps"),
                    Seg::Index(i),
                    Seg::Key("http"),
                    Seg::Key(key),
                ]
            };
            self.push(
                Diagnostic::new(
                    format!("step `{}` has more than one request body", step.id()),
                    self.key(&at(second)),
                    "second body",
                )
                .with_label(self.key(&at(first)), "first body")
                .with_help("keep exactly one of `json`, `form` or `xml`"),
            );
        }
        if let Some(max) = &http.max_body
            && let Err(why) = parse_size(max.get_ref())
        {
            self.push(Diagnostic::new(
                format!("bad size in `max_body`: {why}"),
                max.span(),
                "not a size",
            ));
        }
    }

    fn draft(&mut self, draft: &Draft) {
        // The output name is not checked here: `draft::path` refuses names that would escape
        // the incident's `drafts/` at the moment of writing, and its tests load runbooks that
        // carry such a name on purpose.
        self.file_exists(&draft.template, "draft template");
    }

    fn foreach_and_retry(&mut self, step: &Step) {
        if let Some(concurrency) = &step.concurrency {
            if *concurrency.get_ref() == 0 {
                self.push(
                    Diagnostic::new(
                        "`concurrency` must be at least 1",
                        concurrency.span(),
                        "no request would ever be sent",
                    )
                    .with_help("the default is 8; use 1 to send one request at a time"),
                );
            }
            if step.foreach.is_none() {
                self.push(
                    Diagnostic::new(
                        "`concurrency` without `foreach`",
                        concurrency.span(),
                        "only a foreach step sends several requests",
                    )
                    .with_help("add `foreach = \"vars.<list>\"`, or remove `concurrency`"),
                );
            }
        }
        if let Some(retry) = &step.retry {
            let retry = retry.get_ref();
            let every = self.duration(&retry.every, "retry.every");
            let within = self.duration(&retry.within, "retry.within");
            if let (Some(every), Some(within)) = (every, within)
                && every > within
            {
                self.push(
                    Diagnostic::new(
                        "`retry.every` is longer than `retry.within`",
                        retry.every.span(),
                        "the first retry would come after the deadline",
                    )
                    .with_label(retry.within.span(), "deadline"),
                );
            }
        }
    }
}
