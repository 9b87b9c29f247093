//! The timeline chart of the HTML export, as inline SVG: one lane per phase with a bar per
//! step (start to outcome, coloured by outcome), and lanes of markers for marks (diamonds),
//! facts (circles) and drill injects (triangles), over a time axis in `T+` offsets and UTC.
//!
//! The axis spans the response: from the opening (or the earliest mark or fact up to a day
//! before it) to the last event. Things that happened earlier still (the exposure that began
//! weeks before) sit in an "earlier" gutter at the left with their date, so one old fact does
//! not squash the hours that matter into a sliver. Text goes through [`escape`]; every shape
//! has a `<title>` for hover. Pure function of the [`Report`].

use std::fmt::Write;

use jiff::Timestamp;

mod layout;

use layout::{
    Axis, LANE_PAD, Lane, MARKER_ROW_H, Marker, MarkerLane, ROW_H, pack_lanes, place_markers,
    tick_step,
};

use super::html::escape;
use super::report::Report;
use super::report::time::{human_duration, offset_label, utc};
use crate::incident::StepStatus;

const WIDTH: f64 = 1100.0;
const LABEL_W: f64 = 130.0;
const GUTTER_W: f64 = 70.0;
const RIGHT_PAD: f64 = 20.0;
const TOP: f64 = 34.0;
/// Approximate width of one label character at font-size 11.
const CHAR_W: f64 = 6.2;
/// How far before the opening the axis may start to include marks and facts.
const LOOKBACK_MS: i64 = 24 * 3_600_000;

/// (status, fill colour, legend text).
const STATUS_COLOURS: &[(StepStatus, &str, &str)] = &[
    (StepStatus::Succeeded, "#2e7d32", "succeeded"),
    (StepStatus::Failed, "#c62828", "failed"),
    (StepStatus::Skipped, "#9e9e9e", "skipped"),
    (StepStatus::Interrupted, "#ef6c00", "interrupted / running"),
    (StepStatus::NeedsHuman, "#6a1b9a", "needs a person"),
];

fn colour(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Running => "#ef6c00",
        StepStatus::Pending => "#bdbdbd",
        other => STATUS_COLOURS
            .iter()
            .find(|(s, _, _)| *s == other)
            .map_or("#bdbdbd", |(_, c, _)| c),
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "one SVG document drawn top to bottom"
)]
pub fn render(report: &Report) -> String {
    let opened = report
        .summary
        .opened_at
        .or_else(|| report.timeline.rows.first().map(|r| r.at));
    let Some(opened) = opened else {
        return "<p class=\"muted\">No events to chart.</p>\n".to_owned();
    };
    let marks: Vec<Marker> = report
        .marks
        .iter()
        .map(|m| Marker {
            at: m.at,
            label: m.label.clone(),
            title: format!("mark {} at {}", m.label, utc(m.at)),
        })
        .collect();
    let facts: Vec<Marker> = report
        .timeline
        .rows
        .iter()
        .filter(|r| r.kind == "fact")
        .map(|r| Marker {
            at: r.at,
            label: shorten(r.text.trim_start_matches("Fact: "), 28),
            title: format!("{} ({})", r.text, utc(r.at)),
        })
        .collect();
    let injects: Vec<Marker> = report
        .injects
        .iter()
        .map(|i| Marker {
            at: i.at,
            label: shorten(&i.title, 28),
            title: format!("inject {}: {}: {}", i.offset, i.title, i.body),
        })
        .collect();

    let open_ms = opened.as_millisecond();
    let earliest = marks
        .iter()
        .chain(&facts)
        .map(|m| m.at.as_millisecond())
        .filter(|ms| *ms >= open_ms - LOOKBACK_MS)
        .min()
        .unwrap_or(open_ms)
        .min(open_ms);
    let latest = report
        .summary
        .as_of
        .map_or(open_ms, Timestamp::as_millisecond)
        .max(
            report
                .steps
                .iter()
                .filter_map(|s| s.finished_at)
                .map(Timestamp::as_millisecond)
                .max()
                .unwrap_or(open_ms),
        );
    let axis = Axis {
        start: earliest,
        // At least ten seconds, so a drill run at high speed still has an axis to read.
        end: latest.max(earliest + 10_000),
        x0: LABEL_W + GUTTER_W,
        x1: WIDTH - RIGHT_PAD,
    };

    let lanes = pack_lanes(report, &axis);
    let marker_lanes: Vec<MarkerLane> = [
        ("marks", marks, "diamond"),
        ("facts", facts, "circle"),
        ("injects", injects, "triangle"),
    ]
    .into_iter()
    .filter(|(_, m, _)| !m.is_empty())
    .map(|(name, markers, shape)| place_markers(name, shape, markers, &axis))
    .collect();
    #[allow(clippy::cast_precision_loss)] // a handful of lanes and rows
    let lanes_h = lanes.iter().map(Lane::height).sum::<f64>()
        + marker_lanes.iter().map(MarkerLane::height).sum::<f64>();
    let legend_y = TOP + lanes_h + 34.0;
    let height = legend_y + 30.0;

    let mut out = String::with_capacity(16_384);
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\" role=\"img\" aria-label=\"Timeline chart\" font-family=\"system-ui, sans-serif\" font-size=\"11\">"
    );
    let _ = writeln!(
        out,
        "<title>Timeline of {}</title>",
        escape(&report.summary.incident_id)
    );
    grid(&mut out, &axis, opened, lanes_h);
    let mut y = TOP;
    for (i, lane) in lanes.iter().enumerate() {
        lane_background(&mut out, y, lane.height(), i, &lane.phase);
        for bar in &lane.bars {
            let s = &report.steps[bar.step];
            #[allow(clippy::cast_precision_loss)] // row index is tiny
            let top = y + LANE_PAD + bar.row as f64 * ROW_H;
            let dashed = if s.finished_at.is_none() {
                " stroke=\"#333\" stroke-dasharray=\"3 2\""
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"2\" fill=\"{}\"{dashed}><title>{} ({}): {}, {}</title></rect>",
                bar.x_start,
                top + 3.0,
                bar.x_end - bar.x_start,
                ROW_H - 6.0,
                colour(s.status),
                escape(&s.title),
                escape(&s.id),
                s.status.as_str(),
                s.duration_ms.map_or_else(
                    || "no duration recorded".to_owned(),
                    |ms| human_duration(i64::try_from(ms / 1000).unwrap_or(i64::MAX))
                )
            );
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#333\"{}>{}</text>",
                if bar.label_left {
                    bar.x_start - 4.0
                } else {
                    bar.x_end + 4.0
                },
                top + ROW_H / 2.0 + 4.0,
                if bar.label_left {
                    " text-anchor=\"end\""
                } else {
                    ""
                },
                escape(&bar.label)
            );
        }
        y += lane.height();
    }
    for (i, lane) in marker_lanes.iter().enumerate() {
        lane_background(&mut out, y, lane.height(), lanes.len() + i, lane.name);
        let cy = y + 12.0;
        for m in &lane.placed {
            let _ = writeln!(
                out,
                "{}<title>{}</title></{}>",
                shape_open(lane.shape, m.x, cy),
                escape(&m.title),
                shape_tag(lane.shape)
            );
            if let Some(row) = m.row {
                #[allow(clippy::cast_precision_loss)] // a few rows
                let ty = y + 30.0 + row as f64 * MARKER_ROW_H;
                let _ = writeln!(
                    out,
                    "<text x=\"{:.1}\" y=\"{ty:.1}\" fill=\"#333\" font-size=\"10\"{}>{}</text>",
                    m.text_x,
                    if m.anchor_end {
                        " text-anchor=\"end\""
                    } else {
                        ""
                    },
                    escape(&m.label)
                );
            }
        }
        y += lane.height();
    }
    legend(&mut out, legend_y);
    out.push_str("</svg>\n");
    out
}

fn shape_tag(shape: &str) -> &'static str {
    match shape {
        "circle" => "circle",
        _ => "polygon",
    }
}

fn shape_open(shape: &str, x: f64, y: f64) -> String {
    match shape {
        "circle" => {
            format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"#1565c0\" stroke=\"#fff\">")
        }
        "triangle" => format!(
            "<polygon points=\"{x:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"#6a1b9a\">",
            y - 6.0,
            x - 6.0,
            y + 5.0,
            x + 6.0,
            y + 5.0
        ),
        _ => format!(
            "<polygon points=\"{x:.1},{:.1} {:.1},{y:.1} {x:.1},{:.1} {:.1},{y:.1}\" fill=\"#c62828\">",
            y - 7.0,
            x + 7.0,
            y + 7.0,
            x - 7.0
        ),
    }
}

fn lane_background(out: &mut String, y: f64, h: f64, index: usize, name: &str) {
    let fill = if index.is_multiple_of(2) {
        "#f6f8fa"
    } else {
        "#ffffff"
    };
    let _ = writeln!(
        out,
        "<rect x=\"0\" y=\"{y:.1}\" width=\"{WIDTH}\" height=\"{h:.1}\" fill=\"{fill}\" fill-opacity=\"0.7\"/>\n<text x=\"8\" y=\"{:.1}\" font-weight=\"600\" fill=\"#1b1f24\">{}</text>",
        y + h / 2.0 + 4.0,
        escape(&shorten(name, 18))
    );
}

fn grid(out: &mut String, axis: &Axis, opened: Timestamp, lanes_h: f64) {
    let bottom = TOP + lanes_h;
    let _ = writeln!(
        out,
        "<rect x=\"{LABEL_W}\" y=\"{TOP}\" width=\"{GUTTER_W}\" height=\"{lanes_h:.1}\" fill=\"#eceff1\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#5b6470\" text-anchor=\"middle\">earlier</text>",
        LABEL_W + GUTTER_W / 2.0,
        bottom + 13.0
    );
    let step = tick_step(axis.end - axis.start);
    // Ticks are counted from the opening so that T+ labels are round.
    let open = opened.as_millisecond();
    let first = open - ((open - axis.start) / step) * step;
    let mut t = first;
    let mut last_label_end = f64::MIN;
    while t <= axis.end {
        if let Ok(at) = Timestamp::from_millisecond(t)
            && let Some(x) = axis.x(at)
        {
            // Labels at the edges are anchored inwards so they are never cut off, and a label
            // that would overlap the previous one is left out (its grid line stays).
            let label = offset_label(t - open);
            #[allow(clippy::cast_precision_loss)] // a short label
            let w = label.len() as f64 * CHAR_W;
            let (anchor, lo, hi) = if x < axis.x0 + 45.0 {
                ("start", x, x + w)
            } else if x > axis.x1 - 45.0 {
                ("end", x - w, x)
            } else {
                ("middle", x - w / 2.0, x + w / 2.0)
            };
            let _ = writeln!(
                out,
                "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"#d5d9de\"/>"
            );
            if lo > last_label_end + 6.0 {
                last_label_end = hi;
                let clock = if step < 60_000 { "%H:%M:%SZ" } else { "%H:%MZ" };
                let _ = writeln!(
                    out,
                    "<text x=\"{x:.1}\" y=\"{:.1}\" fill=\"#5b6470\" text-anchor=\"{anchor}\">{}</text>\n<text x=\"{x:.1}\" y=\"{:.1}\" fill=\"#5b6470\" text-anchor=\"{anchor}\" font-size=\"9\">{}</text>",
                    TOP - 8.0,
                    escape(&label),
                    bottom + 13.0,
                    at.strftime(clock)
                );
            }
        }
        t += step;
    }
    if let Some(x) = axis.x(opened) {
        let _ = writeln!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"#1b1f24\" stroke-width=\"1.5\"><title>incident opened {}</title></line>",
            TOP - 4.0,
            utc(opened)
        );
    }
}

fn legend(out: &mut String, y: f64) {
    let mut x = 8.0;
    for (_, fill, text) in STATUS_COLOURS {
        let _ = writeln!(
            out,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"14\" height=\"10\" rx=\"2\" fill=\"{fill}\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#333\">{text}</text>",
            y - 9.0,
            x + 18.0,
            y
        );
        #[allow(clippy::cast_precision_loss)] // short legend texts
        let advance = 30.0 + 6.0 * text.len() as f64;
        x += advance;
    }
    for (shape, text) in [
        ("diamond", "mark"),
        ("circle", "fact (when it happened)"),
        ("triangle", "drill inject"),
    ] {
        let _ = writeln!(
            out,
            "{}</{}><text x=\"{:.1}\" y=\"{y:.1}\" fill=\"#333\">{text}</text>",
            shape_open(shape, x + 6.0, y - 4.0),
            shape_tag(shape),
            x + 18.0
        );
        #[allow(clippy::cast_precision_loss)]
        let advance = 30.0 + 6.0 * text.len() as f64;
        x += advance;
    }
}

/// Cut to `max` characters with an ellipsis (labels only; titles keep the full text).
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_at_most_ten() {
        assert_eq!(tick_step(4_000), 1_000);
        assert_eq!(tick_step(9 * 60_000), 60_000);
        assert_eq!(tick_step(3 * 3_600_000), 30 * 60_000);
        assert!((30 * 86_400_000) / tick_step(30 * 86_400_000) <= 10);
    }

    #[test]
    fn shorten_keeps_short_text_and_marks_cuts() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdef", 4), "abc…");
    }
}
