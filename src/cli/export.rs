//! `stanch export ID [--format md|html|json] [-o FILE]`: the post-mortem of an incident,
//! read from its journal (no lock taken: exporting a live incident is allowed and shows it
//! as of its last synced event).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use super::{ExportArgs, ExportFormat};
use crate::export::{self, Format, Sources};

pub fn run(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let incident = crate::store::load(&args.id)?;
    let dir = crate::paths::incident_dir(&args.id)?;
    let sources = Sources::read(&dir, &incident);
    let format = match args.format {
        ExportFormat::Md => Format::Markdown,
        ExportFormat::Html => Format::Html,
        ExportFormat::Json => Format::Json,
    };
    let text = export::render(&incident, &sources, format);
    if let Some(path) = &args.output {
        export::write_file(path, &text)?;
        eprintln!(
            "stanch: wrote the {} post-mortem of {} to {}",
            format.extension(),
            args.id,
            path.display()
        );
    } else {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .context("writing the export to standard output")?;
    }
    Ok(ExitCode::SUCCESS)
}
