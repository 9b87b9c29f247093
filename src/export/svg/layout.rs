//! Where things go on the timeline chart: the time axis, the packing of step bars into rows
//! of their phase lane, and of marker labels into rows of their lane, so that nothing
//! overlaps. Pure geometry; drawing is `svg::render`'s.

use jiff::Timestamp;

use super::{CHAR_W, GUTTER_W, LABEL_W, WIDTH, shorten};
use crate::export::report::Report;
use crate::incident::StepStatus;

/// One row of bars inside a phase lane; a lane grows a row per overlapping bar.
pub const ROW_H: f64 = 22.0;
pub const LANE_PAD: f64 = 4.0;
/// Height of one row of marker labels; labels that collide go to the next row.
pub const MARKER_ROW_H: f64 = 12.0;
/// Rows of marker labels before further labels are left to the hover title.
const MARKER_ROWS_MAX: usize = 6;
/// Approximate width of one character at font-size 10.
const SMALL_CHAR_W: f64 = 5.6;

/// Maps times to x.
pub struct Axis {
    pub start: i64,
    pub end: i64,
    pub x0: f64,
    pub x1: f64,
}

impl Axis {
    /// `None` for times before the axis (drawn in the gutter).
    #[allow(clippy::cast_precision_loss)] // milliseconds of an incident fit f64 exactly
    pub fn x(&self, at: Timestamp) -> Option<f64> {
        let ms = at.as_millisecond();
        (ms >= self.start).then(|| {
            let frac = (ms.min(self.end) - self.start) as f64 / (self.end - self.start) as f64;
            self.x0 + frac * (self.x1 - self.x0)
        })
    }
}

/// Tick spacing: the smallest "round" step giving at most ten ticks.
pub fn tick_step(span_ms: i64) -> i64 {
    const STEPS_S: &[i64] = &[
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200,
        86_400, 172_800, 604_800,
    ];
    STEPS_S
        .iter()
        .map(|s| s * 1000)
        .find(|step| span_ms / step <= 10)
        .unwrap_or(span_ms / 10 + 1)
}

/// A step's bar, placed in a row of its phase lane so that no two bars or labels overlap.
pub struct Bar {
    pub step: usize,
    pub x_start: f64,
    pub x_end: f64,
    pub label: String,
    /// Label drawn left of the bar when it would run off the right edge.
    pub label_left: bool,
    pub row: usize,
}

pub struct Lane {
    pub phase: String,
    pub bars: Vec<Bar>,
    rows: usize,
}

impl Lane {
    #[allow(clippy::cast_precision_loss)] // a few rows
    pub fn height(&self) -> f64 {
        self.rows.max(1) as f64 * ROW_H + 2.0 * LANE_PAD
    }
}

/// One lane per phase (in step order) holding the steps that started; each bar goes into the
/// first row where it and its label fit (greedy interval packing).
pub fn pack_lanes(report: &Report, axis: &Axis) -> Vec<Lane> {
    let mut lanes: Vec<Lane> = Vec::new();
    for (index, s) in report.steps.iter().enumerate() {
        let Some(started) = s.started_at else {
            continue;
        };
        let phase = s.phase.clone().unwrap_or_else(|| "steps".to_owned());
        let x_start = axis.x(started).unwrap_or(axis.x0);
        let x_end = match (s.finished_at, s.status) {
            (Some(end), _) => axis.x(end).unwrap_or(axis.x0),
            // Outcome unknown: a stub, not a bar to the end of the incident.
            (None, StepStatus::Interrupted) => x_start + 10.0,
            (None, _) => report
                .summary
                .as_of
                .and_then(|t| axis.x(t))
                .unwrap_or(x_start),
        }
        .max(x_start + 3.0);
        let label = match s.status {
            StepStatus::Interrupted => format!("{} (interrupted)", shorten(&s.id, 24)),
            _ => shorten(&s.id, 24),
        };
        #[allow(clippy::cast_precision_loss)] // label lengths are tiny
        let label_w = label.chars().count() as f64 * CHAR_W + 8.0;
        let label_left = x_end + label_w > WIDTH && x_start - label_w > axis.x0;
        let (lo, hi) = if label_left {
            (x_start - label_w, x_end)
        } else {
            (x_start, x_end + label_w)
        };
        let lane_index = if let Some(i) = lanes.iter().position(|l| l.phase == phase) {
            i
        } else {
            lanes.push(Lane {
                phase,
                bars: Vec::new(),
                rows: 0,
            });
            lanes.len() - 1
        };
        let lane = &mut lanes[lane_index];
        // A new row always fits, so the search ends at `bars.len()` at the latest.
        let row = (0..=lane.bars.len())
            .find(|row| {
                !lane.bars.iter().any(|b| {
                    let (blo, bhi) = b.extent();
                    b.row == *row && lo < bhi && blo < hi
                })
            })
            .unwrap_or(0);
        lane.rows = lane.rows.max(row + 1);
        lane.bars.push(Bar {
            step: index,
            x_start,
            x_end,
            label,
            label_left,
            row,
        });
    }
    lanes
}

impl Bar {
    /// Horizontal extent including the label.
    #[allow(clippy::cast_precision_loss)]
    fn extent(&self) -> (f64, f64) {
        let label_w = self.label.chars().count() as f64 * CHAR_W + 8.0;
        if self.label_left {
            (self.x_start - label_w, self.x_end)
        } else {
            (self.x_start, self.x_end + label_w)
        }
    }
}

pub struct PlacedMarker {
    pub x: f64,
    pub text_x: f64,
    pub anchor_end: bool,
    pub label: String,
    pub title: String,
    /// Label row; `None` when every row was taken there (the hover title still says it).
    pub row: Option<usize>,
}

pub struct MarkerLane {
    pub name: &'static str,
    pub shape: &'static str,
    pub placed: Vec<PlacedMarker>,
    rows: usize,
}

impl MarkerLane {
    #[allow(clippy::cast_precision_loss)] // a few rows
    pub fn height(&self) -> f64 {
        24.0 + self.rows.max(1) as f64 * MARKER_ROW_H
    }
}

/// Markers in x order, each label in the first row whose previous label ends before it
/// starts. Things before the axis sit in the "earlier" gutter with their date.
pub fn place_markers(
    name: &'static str,
    shape: &'static str,
    markers: Vec<Marker>,
    axis: &Axis,
) -> MarkerLane {
    let mut placed: Vec<PlacedMarker> = markers
        .into_iter()
        .map(|m| {
            let (x, label) = match axis.x(m.at) {
                Some(x) => (x, m.label),
                None => (
                    LABEL_W + GUTTER_W / 2.0,
                    format!("{} ({})", m.label, m.at.strftime("%d %b")),
                ),
            };
            let gutter = x < axis.x0;
            let anchor_end = !gutter && x > axis.x1 - 140.0;
            PlacedMarker {
                x,
                text_x: if gutter {
                    LABEL_W + 4.0
                } else if anchor_end {
                    x + 4.0
                } else {
                    x - 4.0
                },
                anchor_end,
                label,
                title: m.title,
                row: None,
            }
        })
        .collect();
    placed.sort_by(|a, b| a.x.total_cmp(&b.x));
    let mut row_ends: Vec<f64> = Vec::new();
    for m in &mut placed {
        #[allow(clippy::cast_precision_loss)] // label lengths are tiny
        let w = m.label.chars().count() as f64 * SMALL_CHAR_W + 6.0;
        let (lo, hi) = if m.anchor_end {
            (m.text_x - w, m.text_x)
        } else {
            (m.text_x, m.text_x + w)
        };
        if let Some(row) = row_ends.iter().position(|end| *end < lo) {
            row_ends[row] = hi;
            m.row = Some(row);
        } else if row_ends.len() < MARKER_ROWS_MAX {
            row_ends.push(hi);
            m.row = Some(row_ends.len() - 1);
        }
    }
    MarkerLane {
        name,
        shape,
        placed,
        rows: row_ends.len(),
    }
}

/// Something to mark on a lane: when, a short label, and the full text for hover.
pub struct Marker {
    pub at: Timestamp,
    pub label: String,
    pub title: String,
}
