//! `stanch list`: one line per incident in the data dir (id, runbook, opened, state, drill or
//! real). Reads journals without taking their locks, so it works while incidents are open.
//! With `--team`, lists the team's incidents, their local mirrors synced first.

use std::io::Write;
use std::process::ExitCode;

use crate::store::{self, Listing};

pub fn run(args: &super::ListArgs) -> anyhow::Result<ExitCode> {
    let mut listings = store::list()?;
    if let Some(url) = super::team::url(&args.team) {
        // Team mode: the team's incidents only, each mirror synced before it is summarised.
        let ids = super::team::sync_all(&url)?;
        listings = store::list()?;
        listings.retain(|l| ids.contains(&l.id));
    }
    let mut out = crate::text::Escaping::new(std::io::stdout().lock());
    if listings.is_empty() {
        writeln!(
            out,
            "no incidents in {}",
            crate::paths::incidents_dir()?.display()
        )?;
        return Ok(crate::cli::exit::code(crate::cli::exit::SUCCESS));
    }
    out.write_all(render(&listings).as_bytes())?;
    out.flush()?;
    Ok(crate::cli::exit::code(crate::cli::exit::SUCCESS))
}

/// The table, columns padded to their widest cell.
pub fn render(listings: &[Listing]) -> String {
    let header = ["ID", "RUNBOOK", "OPENED (UTC)", "STATE", "KIND"].map(str::to_owned);
    // Cells are journal text: escaped before their widths are measured.
    let shown = |text: &str| crate::text::escape(text).into_owned();
    let rows: Vec<[String; 5]> = listings
        .iter()
        .map(|l| {
            [
                shown(&l.id),
                if l.runbook.is_empty() {
                    "?".to_owned()
                } else {
                    shown(&l.runbook)
                },
                l.opened_at.map_or_else(
                    || "?".to_owned(),
                    |t| t.strftime("%Y-%m-%d %H:%M").to_string(),
                ),
                shown(&state(l)),
                if l.drill { "DRILL" } else { "real" }.to_owned(),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

fn state(l: &Listing) -> String {
    use std::fmt::Write as _;
    // Writing to a String cannot fail.
    let mut state = if l.closed { "closed" } else { "open" }.to_owned();
    let _ = match l.steps_total {
        Some(total) => write!(state, " {}/{total} steps", l.steps_done),
        None => write!(state, " {} steps done", l.steps_done),
    };
    if let Some(holder) = &l.in_use_by {
        let _ = write!(state, ", in use ({holder})");
    }
    if let Some(damage) = &l.damaged {
        let _ = write!(state, ", DAMAGED at {damage}");
    }
    state
}
