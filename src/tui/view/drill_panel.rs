//! The lab panel (drill mode): the lab's own status lines (`DrillSetup::panel`), refreshed
//! on every tick, so the team sees what their actions did to the simulated systems.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Padding, Paragraph};

use super::Theme;
use crate::tui::app::App;

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let Some(drill) = &app.drill else {
        return;
    };
    let lines: Vec<Line> = drill
        .panel
        .iter()
        .map(|(label, value)| {
            Line::from(vec![
                Span::styled(format!("{label}: "), theme.dim()),
                Span::raw(value.clone()),
            ])
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::new()
                .borders(Borders::TOP)
                // The same one-column margin as the step detail above it.
                .padding(Padding::left(1))
                .border_style(theme.dim())
                .title(Span::styled(" Lab (DRILL) ", theme.warn())),
        ),
        area,
    );
}
