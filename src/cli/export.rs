//! `stanch export ID [--format md|html|json] [--timeline summary|full] [-o FILE]`: the
//! post-mortem of an incident, read from its journal (no lock taken: exporting a live
//! incident is allowed and shows it as of its last synced event). With `--team`, the local
//! mirror is synced first. `--timeline full` lists every foreach exchange in the Markdown and
//! HTML timeline instead of one summary line per step.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use super::{ExportArgs, ExportFormat, TimelineArg};
use crate::export::{self, Format, TimelineView};

pub fn run(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    if let Some(url) = super::team::url(&args.team) {
        super::team::sync_incident(&url, &args.id)?;
    }
    // The journal is streamed rather than replayed into memory whole (`store::load`), so a
    // large incident exports in memory proportional to the report (`export::build_from_journal`).
    let dir = crate::store::locate(&args.id)?;
    let format = match args.format {
        ExportFormat::Md => Format::Markdown,
        ExportFormat::Html => Format::Html,
        ExportFormat::Json => Format::Json,
    };
    let view = match args.timeline {
        TimelineArg::Summary => TimelineView::Summary,
        TimelineArg::Full => TimelineView::Full,
    };
    let report = export::build_from_journal(&dir, format, view)?;
    if let Some(path) = &args.output {
        export::write_file(path, &report, format, view)?;
        eprintln!(
            "stanch: wrote the {} post-mortem of {} to {}",
            format.extension(),
            args.id,
            path.display()
        );
    } else {
        // Draft text, captures and notes are outside text: escaped on the terminal (a file
        // written with `-o` keeps them as recorded).
        let mut stdout =
            std::io::BufWriter::new(crate::text::Escaping::new(std::io::stdout().lock()));
        match export::render_to(&report, format, view, &mut stdout).and_then(|()| stdout.flush()) {
            // `stanch export ID | head`: the reader had enough; that is not a failure.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.context("writing the export to standard output")?,
        }
    }
    Ok(crate::cli::exit::code(crate::cli::exit::SUCCESS))
}
