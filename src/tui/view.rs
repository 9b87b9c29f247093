//! Rendering: `&App` → widgets on a frame. Pure: reads the model (including its injected
//! clock), mutates nothing, does no I/O. One widget per file under `view/`.
//!
//! Layout: the current view above a one-line status bar and a one-line key hint; dialogs and
//! the help overlay on top. Colours come from [`Theme`], which under `NO_COLOR` falls back to
//! bold/reverse/underline; only the 8 named ANSI colours are used and never a fixed
//! background, so dark and light terminals both stay readable.

pub mod drafts;
pub mod drill_panel;
pub mod evidence;
pub mod help;
pub mod markdown;
pub mod runbook;
pub mod setup_form;
pub mod status_bar;
pub mod step_detail;
pub mod timeline;

use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::{App, DisplayStatus, View};

/// Styles by meaning, so `NO_COLOR` is one switch.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    fn fg(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }
    pub fn good(self) -> Style {
        self.fg(Color::Green)
    }
    pub fn bad(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    pub fn accent(self) -> Style {
        self.fg(Color::Cyan)
    }
    pub fn dim(self) -> Style {
        if self.color {
            Style::new().add_modifier(Modifier::DIM)
        } else {
            Style::new()
        }
    }
    pub fn heading(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    pub fn status(self, status: DisplayStatus) -> Style {
        match status {
            DisplayStatus::Pending | DisplayStatus::Skipped => self.dim(),
            DisplayStatus::Ready => Style::new(),
            DisplayStatus::Running => self.accent(),
            DisplayStatus::Succeeded => self.good(),
            DisplayStatus::Failed => self.bad(),
            DisplayStatus::Interrupted | DisplayStatus::NeedsHuman => self.warn(),
        }
    }
}

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// The state glyph of a step; a running step's spinner frame comes from the injected clock.
pub fn glyph(status: DisplayStatus, now: Timestamp) -> &'static str {
    match status {
        DisplayStatus::Pending => "·",
        DisplayStatus::Ready => "○",
        DisplayStatus::Running => {
            let frame = now.as_millisecond().rem_euclid(1000) / 100;
            SPINNER[usize::try_from(frame).unwrap_or(0)]
        }
        DisplayStatus::Succeeded => "✓",
        DisplayStatus::Failed => "✗",
        DisplayStatus::Skipped => "»",
        DisplayStatus::Interrupted => "!",
        DisplayStatus::NeedsHuman => "?",
    }
}

/// Milliseconds from `since` to `now` (negative if `since` is later).
pub fn elapsed_ms(now: Timestamp, since: Timestamp) -> i64 {
    i64::try_from((now - since).as_millis()).unwrap_or(i64::MAX)
}

/// `42s`, `3m07s`, `2h05m`, `3d04h`: short enough for a step list.
pub fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0 => format!("{}ms", ms.max(0)),
        1..60 if ms < 10_000 => format!("{}.{}s", s, (ms.max(0) % 1000) / 100),
        1..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// Draw the whole screen.
pub fn render(app: &App, frame: &mut Frame) {
    let theme = Theme { color: app.color };
    let [main, status, hints] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    match app.view {
        View::Runbook => render_runbook_view(app, frame, main, theme),
        View::Timeline => timeline::render(app, frame, main, theme),
        View::Evidence => evidence::render(app, frame, main, theme),
        View::Drafts => drafts::render(app, frame, main, theme),
    }
    status_bar::render(app, frame, status, theme);
    render_hints(app, frame, hints, theme);
    if let Some(modal) = &app.modal {
        super::dialog::render(app, modal, frame, theme);
    }
}

fn render_runbook_view(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let left_width = (area.width * 2 / 5).clamp(24, 48);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_width), Constraint::Min(20)]).areas(area);
    runbook::render(app, frame, left, theme);
    let show_panel = app.drill.as_ref().is_some_and(|d| d.show_panel);
    if show_panel {
        let panel_height = app
            .drill
            .as_ref()
            .map_or(0, |d| u16::try_from(d.panel.len()).unwrap_or(u16::MAX))
            .saturating_add(2)
            .min(right.height / 2);
        let [detail, panel] =
            Layout::vertical([Constraint::Min(5), Constraint::Length(panel_height)]).areas(right);
        step_detail::render(app, frame, detail, theme);
        drill_panel::render(app, frame, panel, theme);
    } else {
        step_detail::render(app, frame, right, theme);
    }
}

fn render_hints(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let text = if let Some(flash) = &app.flash {
        // Quotes outcomes (server text): escaped like every outside text (`crate::text`).
        Line::from(Span::styled(
            crate::text::escape(flash).into_owned(),
            theme.accent(),
        ))
    } else {
        // The hint line is the key table's short form: the bindings of this view with a hint
        // (not the one that leads to where the responder already is).
        let mut spans = Vec::new();
        for binding in super::keymap::for_view(app.view) {
            if binding.view() == Some(app.view) {
                continue;
            }
            if let Some(what) = binding.hint {
                spans.push(Span::styled(binding.hint_key(), theme.heading()));
                spans.push(Span::styled(format!(" {what}  "), theme.dim()));
            }
        }
        Line::from(spans)
    };
    frame.render_widget(Paragraph::new(text), area);
}

/// A centered rectangle of at most `width`×`height` inside `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// `17:21:04Z 09:21:04` — UTC and the responder's local clock.
pub fn both_clocks(app: &App, at: Timestamp) -> String {
    let local = at.to_zoned_datetime(app.tz.clone());
    format!(
        "{}Z {}",
        at.strftime("%H:%M:%S"),
        local.strftime("%H:%M:%S")
    )
}
