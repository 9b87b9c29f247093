//! Runbook notes (Markdown) as styled terminal lines: headings bold and underlined, **bold**,
//! *italic*, `code` highlighted, lists with bullets or numbers, code blocks indented,
//! links with their target. Pure; wrapping is left to the `Paragraph` that shows the lines.

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::Theme;

#[expect(
    clippy::too_many_lines,
    reason = "one match over pulldown-cmark's events, with the state it carries between them"
)]
pub fn render(source: &str, theme: Theme) -> Vec<Line<'static>> {
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut current: Vec<Span<'static>> = Vec::new();
    let mut styles: Vec<Style> = vec![Style::new()];
    let mut lists: Vec<Option<u64>> = Vec::new();
    let mut links: Vec<String> = Vec::new();
    let mut in_code_block = false;
    let flush = |current: &mut Vec<Span<'static>>, lines: &mut Vec<Line<'static>>| {
        if !current.is_empty() {
            lines.push(Line::from(std::mem::take(current)));
        }
    };
    for event in Parser::new(source) {
        let style = *styles.last().unwrap_or(&Style::new());
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                flush(&mut current, &mut lines);
                let mut s = theme.heading();
                if level == HeadingLevel::H1 || level == HeadingLevel::H2 {
                    s = s.add_modifier(Modifier::UNDERLINED);
                }
                styles.push(s);
            }
            Event::Start(Tag::Strong) => styles.push(style.add_modifier(Modifier::BOLD)),
            Event::Start(Tag::Emphasis) => styles.push(style.add_modifier(Modifier::ITALIC)),
            Event::Start(Tag::Link { dest_url, .. }) => {
                styles.push(style.add_modifier(Modifier::UNDERLINED));
                // The target is shown after the link text, on `End(Link)`.
                links.push(dest_url.into_string());
            }
            Event::Start(Tag::List(start)) => {
                flush(&mut current, &mut lines);
                lists.push(start);
            }
            Event::Start(Tag::Item) => {
                flush(&mut current, &mut lines);
                let depth = lists.len().saturating_sub(1);
                let marker = match lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        m
                    }
                    _ => "• ".to_owned(),
                };
                current.push(Span::raw(format!("{}{marker}", "  ".repeat(depth))));
            }
            Event::Start(Tag::CodeBlock(_)) => {
                flush(&mut current, &mut lines);
                in_code_block = true;
            }
            Event::End(TagEnd::Heading(_)) => {
                styles.pop();
                flush(&mut current, &mut lines);
            }
            Event::End(TagEnd::Strong | TagEnd::Emphasis) => {
                styles.pop();
            }
            Event::End(TagEnd::Link) => {
                styles.pop();
                if let Some(url) = links.pop() {
                    current.push(Span::styled(format!(" <{url}>"), theme.dim()));
                }
            }
            Event::End(TagEnd::List(_)) => {
                flush(&mut current, &mut lines);
                lists.pop();
                if lists.is_empty() {
                    lines.push(Line::default());
                }
            }
            Event::End(TagEnd::Item) | Event::HardBreak => flush(&mut current, &mut lines),
            Event::End(TagEnd::Paragraph) => {
                flush(&mut current, &mut lines);
                if lists.is_empty() {
                    lines.push(Line::default());
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code_block = false;
                lines.push(Line::default());
            }
            Event::Text(text) if in_code_block => {
                for line in text.lines() {
                    lines.push(Line::from(Span::styled(
                        format!("    {line}"),
                        theme.accent(),
                    )));
                }
            }
            Event::Text(text) => current.push(Span::styled(text.into_string(), style)),
            Event::Code(code) => {
                current.push(Span::styled(code.into_string(), theme.accent()));
            }
            Event::SoftBreak => current.push(Span::raw(" ")),
            Event::Rule => {
                flush(&mut current, &mut lines);
                lines.push(Line::from(Span::styled("────────", theme.dim())));
            }
            _ => {}
        }
    }
    flush(&mut current, &mut lines);
    while lines.last().is_some_and(|l| l.spans.is_empty()) {
        lines.pop();
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn headings_lists_code_and_emphasis_render_readably() {
        let md = "# Why\nClose it **now**, see `_close`.\n\n- one\n- two\n\n1. first\n2. second\n\n```\nGET /\n```\n";
        let lines = render(md, Theme { color: false });
        assert_eq!(
            plain(&lines),
            vec![
                "Why",
                "Close it now, see _close.",
                "",
                "• one",
                "• two",
                "",
                "1. first",
                "2. second",
                "",
                "    GET /",
            ]
        );
        assert!(
            lines[0].spans[0]
                .style
                .add_modifier
                .contains(Modifier::BOLD)
        );
        let bold = &lines[1].spans[1];
        assert_eq!(bold.content, "now");
        assert!(bold.style.add_modifier.contains(Modifier::BOLD));
    }
}
