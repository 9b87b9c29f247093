//! A step's `paginate`: only on an ordinary http step (a `foreach` step already sends one
//! request per item; pages of each are not supported), a parameter name to send the token
//! as, and at least one page. The `next` expression itself is checked by `templates`.

use super::{Diagnostic, Seg, Validator};
use crate::runbook::{DEFAULT_MAX_PAGES, Step};

impl Validator<'_, '_> {
    pub(super) fn paginate(&mut self, i: usize, step: &Step) {
        let Some(paginate) = &step.paginate else {
            return;
        };
        let p = paginate.get_ref();
        if let Some(foreach) = &step.foreach {
            self.push(
                Diagnostic::new(
                    format!("step `{}` has both `paginate` and `foreach`", step.id()),
                    self.step_key(i, "paginate"),
                    "pages of every item are not supported",
                )
                .with_label(foreach.span(), "one request per item")
                .with_help(
                    "list everything in one paginated step that captures a list, then \
                     `foreach` over that capture in a step that `needs` it",
                ),
            );
        }
        let param = p.param.get_ref();
        if param.trim().is_empty() || param.contains(['&', '=', '#', '?']) {
            self.push(
                Diagnostic::new(
                    format!("`paginate.param` of step `{}` is not a parameter name", step.id()),
                    p.param.span(),
                    "the token is sent under this name",
                )
                .with_help("the API's name for the token, e.g. \"Marker\", \"NextToken\", \"continuation-token\""),
            );
        }
        if let Some(max) = &p.max_pages
            && *max.get_ref() == 0
        {
            let at = [
                Seg::Key("steps"),
                Seg::Index(i),
                Seg::Key("paginate"),
                Seg::Key("max_pages"),
            ];
            let span = self.doc.span(&at).unwrap_or_else(|| max.span());
            self.push(
                Diagnostic::new(
                    "`paginate.max_pages` must be at least 1",
                    span,
                    "no page would be read",
                )
                .with_help(format!("the default is {DEFAULT_MAX_PAGES}")),
            );
        }
    }
}
