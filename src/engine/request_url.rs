//! A request's URL, built from structure: the target's base URL, then the path template's own
//! text for the shape (segments, `?`, query delimiters) and each printed value encoded for the
//! place the text puts it.
//!
//! ```text
//!   path = "/_security/api_key/{{ item }}"      item = "../../customers?"
//!            ─── text: 3 segments ──── value: one segment, encoded
//!   → <base>/_security/api_key/..%2F..%2Fcustomers%3F
//! ```
//!
//! - A value in a path segment is percent-encoded with [`PATH_SEGMENT`]: `/ ? # %` in it can
//!   never end the segment, start a query or a fragment. A segment that a value makes `.` or
//!   `..` (which URL parsers collapse, encoded or not), or that only an empty value fills
//!   (it would address the resource above), is refused.
//! - After a `?` in the text, a value is form-encoded: `& = # +` in it stay inside the value.
//! - A `#` in the text is refused: a fragment is never sent.
//! - The final path must stay under the base URL's path; otherwise the request is refused.
//!
//! Errors are sentences for the step's failure (journalled as `step.failed`, shown by every
//! front end); they quote values only through the caller's redactor. Nothing here sends.

use url::Url;

use crate::template::Piece;
use crate::text::PATH_SEGMENT;

/// Build the URL for `pieces` (the rendered path template) under `base`.
pub fn build(base: &Url, pieces: &[Piece]) -> Result<Url, String> {
    // An empty path (written or rendered) sends to the target URL as written: a webhook's
    // full URL must not gain a trailing `/`.
    if pieces
        .iter()
        .all(|p| matches!(p, Piece::Text(t) | Piece::Value(t) | Piece::Segments(t) if t.is_empty()))
    {
        return Ok(base.clone());
    }
    let mut shape = Shape::default();
    for piece in pieces {
        match piece {
            Piece::Text(text) => shape.text(text)?,
            Piece::Value(value) => shape.value(value),
            Piece::Segments(value) => shape.segments(value)?,
        }
    }
    shape.end_segment()?;
    let mut url = base.clone();
    // The template's leading `/` (or none) both mean "under the base path".
    let mut segments = shape.segments.as_slice();
    if segments.len() > 1 && segments[0].is_empty() {
        segments = &segments[1..];
    }
    let base_path = base.path().trim_end_matches('/');
    url.set_path(&format!("{base_path}/{}", segments.join("/")));
    if let Some(query) = shape.query {
        url.set_query(Some(&query));
    }
    let under = format!("{base_path}/");
    if url.path() != base.path() && !url.path().starts_with(&under) {
        return Err(format!(
            "the request's path `{}` leaves the target's base path `{}`; refused: check the \
             step's `path`",
            url.path(),
            base.path()
        ));
    }
    Ok(url)
}

#[derive(Default)]
struct Shape {
    segments: Vec<String>,
    /// The segment being built, and whether a value is part of it.
    current: String,
    current_has_value: bool,
    /// `Some` once the text has passed a `?`.
    query: Option<String>,
}

impl Shape {
    fn text(&mut self, text: &str) -> Result<(), String> {
        for c in text.chars() {
            if c == '#' {
                return Err(
                    "the step's `path` has a `#`: a URL fragment is never sent to the server; \
                     remove it"
                        .to_owned(),
                );
            }
            match &mut self.query {
                Some(query) => query.push(c),
                None if c == '/' => self.end_segment()?,
                None if c == '?' => {
                    self.end_segment()?;
                    self.query = Some(String::new());
                }
                None => self.current.push(c),
            }
        }
        Ok(())
    }

    fn value(&mut self, value: &str) {
        if let Some(query) = &mut self.query {
            query.extend(url::form_urlencoded::byte_serialize(value.as_bytes()));
        } else {
            self.current
                .extend(percent_encoding::utf8_percent_encode(value, PATH_SEGMENT));
            self.current_has_value = true;
        }
    }

    /// A value marked `| path_segments`: each `/`-separated part is one segment, encoded like
    /// any value (so `?`, `#`, `%` stay inside it; `.`, `..` and empty parts are refused). A
    /// leading `/` where a segment starts is the separator the text would have written.
    fn segments(&mut self, value: &str) -> Result<(), String> {
        if self.query.is_some() {
            self.value(value);
            return Ok(());
        }
        let at_start = self.current.is_empty() && !self.current_has_value;
        let value = if at_start {
            value.strip_prefix('/').unwrap_or(value)
        } else {
            value
        };
        for (i, part) in value.split('/').enumerate() {
            if i > 0 {
                self.end_segment()?;
            }
            self.value(part);
        }
        Ok(())
    }

    fn end_segment(&mut self) -> Result<(), String> {
        if self.query.is_some() {
            return Ok(());
        }
        let segment = std::mem::take(&mut self.current);
        let has_value = std::mem::take(&mut self.current_has_value);
        if has_value && is_dot_segment(&segment) {
            return Err(format!(
                "a value in the step's `path` makes the path segment `{segment}`, which would \
                 move up the path; refused"
            ));
        }
        if has_value && segment.is_empty() {
            // `DELETE /_security/api_key/{{ item }}` with an empty id addresses the collection.
            return Err(
                "a value in the step's `path` is empty, which would leave its path segment \
                 empty and address the resource above it; refused"
                    .to_owned(),
            );
        }
        self.segments.push(segment);
        Ok(())
    }
}

/// `.` or `..`, as URL parsers read a segment (`%2e` is a dot to them).
fn is_dot_segment(segment: &str) -> bool {
    let dots = segment.to_ascii_lowercase().replace("%2e", ".");
    dots == "." || dots == ".."
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn text(s: &str) -> Piece {
        Piece::Text(s.to_owned())
    }
    fn value(s: &str) -> Piece {
        Piece::Value(s.to_owned())
    }

    fn segments(s: &str) -> Piece {
        Piece::Segments(s.to_owned())
    }

    fn built(base: &str, pieces: &[Piece]) -> Result<String, String> {
        build(&Url::parse(base).unwrap(), pieces).map(|u| u.to_string())
    }

    #[rstest]
    #[case::plain(&[text("/_cluster/health")], "http://h:9200/_cluster/health")]
    #[case::value_as_one_segment(
        &[text("/_security/api_key/"), value("../../customers?")],
        "http://h:9200/_security/api_key/..%2F..%2Fcustomers%3F"
    )]
    #[case::hash_in_value(&[text("/k/"), value("k3#")], "http://h:9200/k/k3%23")]
    #[case::query_in_value_stays_in_path(
        &[text("/"), value("x?admin=true"), text("/_close")],
        "http://h:9200/x%3Fadmin%3Dtrue/_close"
    )]
    #[case::encoded_dots_in_value_are_encoded_again(
        &[text("/"), value("%2e%2e"), text("/_close")],
        "http://h:9200/%252e%252e/_close"
    )]
    #[case::dots_inside_a_longer_segment(&[text("/"), value("logs-2026.11..x")], "http://h:9200/logs-2026.11..x")]
    #[case::query_text_and_value(
        &[text("/_search?q="), value("a&b=c d#e"), text("&size=1")],
        "http://h:9200/_search?q=a%26b%3Dc+d%23e&size=1"
    )]
    #[case::utf8_value(&[text("/"), value("p@ss+w rd#1é")], "http://h:9200/p%40ss%2Bw%20rd%231%C3%A9")]
    #[case::no_path(&[], "http://h:9200/")]
    fn values_land_in_the_part_the_text_names(#[case] pieces: &[Piece], #[case] url: &str) {
        assert_eq!(built("http://h:9200", pieces).unwrap(), url);
    }

    #[rstest]
    #[case::discovered_endpoint(
        &[segments("/realms/lab/protocol/openid-connect/revoke")],
        "http://h:9200/base/realms/lab/protocol/openid-connect/revoke"
    )]
    #[case::after_text(&[text("/x/"), segments("a/b")], "http://h:9200/base/x/a/b")]
    #[case::each_part_encoded(&[segments("/a?b/c#d")], "http://h:9200/base/a%3Fb/c%23d")]
    fn path_segments_values_split_at_slashes_only(#[case] pieces: &[Piece], #[case] url: &str) {
        assert_eq!(built("http://h:9200/base/", pieces).unwrap(), url);
    }

    #[rstest]
    #[case::dot_dot(&[segments("/token/../../admin")])]
    #[case::dot(&[segments("/./x")])]
    #[case::empty_part(&[segments("/a//b")])]
    #[case::trailing_slash(&[segments("/a/")])]
    fn path_segments_values_cannot_climb_or_leave_gaps(#[case] pieces: &[Piece]) {
        assert!(built("http://h:9200/base/", pieces).is_err());
    }

    #[rstest]
    #[case::nothing(&[])]
    #[case::empty_text(&[text("")])]
    #[case::empty_value(&[value("")])]
    fn an_empty_path_sends_to_the_target_url_as_written(#[case] pieces: &[Piece]) {
        let hook = "https://hooks.example/services/T0/B0/XyZ?team=ir";
        assert_eq!(built(hook, pieces).unwrap(), hook);
    }

    #[rstest]
    #[case::under_base(&[text("/"), value("x"), text("/_close")], "http://h/es/x/_close")]
    #[case::base_itself(&[text("/")], "http://h/es/")]
    fn paths_join_under_the_base_path(#[case] pieces: &[Piece], #[case] url: &str) {
        assert_eq!(built("http://h/es/", pieces).unwrap(), url);
        assert_eq!(built("http://h/es", pieces).unwrap(), url);
    }

    #[rstest]
    #[case::dotdot_value(&[text("/k/"), value("..")], "makes the path segment `..`")]
    #[case::dot_value(&[text("/k/"), value(".")], "makes the path segment `.`")]
    #[case::empty_value_segment(&[text("/_security/api_key/"), value("")], "is empty, which would leave its path segment empty")]
    #[case::empty_value_mid_path(&[text("/"), value(""), text("/_close")], "is empty")]
    #[case::text_leaving_base(&[text("/../admin")], "leaves the target's base path `/es/`")]
    #[case::encoded_text_leaving_base(&[text("/%2e%2e/%2E%2E/admin")], "leaves the target's base path")]
    #[case::fragment(&[text("/x#y")], "a URL fragment is never sent")]
    fn what_would_move_the_request_is_refused(#[case] pieces: &[Piece], #[case] why: &str) {
        let err = built("http://h/es/", pieces).unwrap_err();
        assert!(err.contains(why), "{err}");
    }
}
