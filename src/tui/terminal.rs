//! Owning the terminal: raw mode + alternate screen on entry, and a restore that runs on
//! every way out (normal quit, error, panic hook; SIGTERM/SIGHUP arrive in the event loop as
//! a quit). Also suspends around `$EDITOR` and runs the blocking set-up form.
//!
//! The only module that switches terminal modes.

use std::io::{self, Stdout};

use crossterm::event::{self, Event, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{
    Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use super::setup::{Answers, FormStep, SetupForm};
use super::view::{Theme, setup_form};

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Raw mode, alternate screen, hidden cursor. Installs the panic hook first, so a panic
/// anywhere after this leaves a usable shell.
pub fn enter() -> io::Result<Term> {
    install_panic_hook();
    enable_raw_mode()?;
    fresh_terminal()
}

/// Alternate screen, cleared, and a `Terminal` with empty buffers so the first draw paints
/// every cell. Deliberately not `Terminal::clear`: it asks the terminal for the cursor
/// position, an answer that can be lost to the input reader or time out over a slow link.
fn fresh_terminal() -> io::Result<Term> {
    execute!(
        io::stdout(),
        EnterAlternateScreen,
        Clear(ClearType::All),
        crossterm::cursor::Hide
    )?;
    Terminal::new(CrosstermBackend::new(io::stdout()))
}

/// Leave raw mode and the alternate screen, show the cursor. Safe to call twice.
pub fn restore() -> io::Result<()> {
    let raw = disable_raw_mode();
    execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show)?;
    raw
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = restore();
            previous(info);
        }));
    });
}

/// Give the terminal to another program (the editor) and take it back, redrawn.
pub fn suspended<T>(term: &mut Term, f: impl FnOnce() -> T) -> io::Result<T> {
    restore()?;
    let out = f();
    enable_raw_mode()?;
    *term = fresh_terminal()?;
    Ok(out)
}

/// Show the set-up form until submitted (`Some`) or aborted (`None`). Blocking: it runs
/// before the incident and the async loop exist.
pub fn ask(term: &mut Term, mut form: SetupForm, color: bool) -> io::Result<Option<Answers>> {
    let theme = Theme { color };
    loop {
        term.draw(|frame| setup_form::render(&form, frame, theme))?;
        if let Event::Key(key) = event::read()? {
            if key.kind != KeyEventKind::Press {
                continue;
            }
            if key
                .modifiers
                .contains(crossterm::event::KeyModifiers::CONTROL)
                && key.code == crossterm::event::KeyCode::Char('c')
            {
                return Ok(None);
            }
            match form.handle(key) {
                FormStep::Editing => {}
                FormStep::Submit => return Ok(Some(form.answers())),
                FormStep::Abort => return Ok(None),
            }
        }
    }
}
