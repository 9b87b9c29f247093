//! `stanch check FILE...`: parse and validate runbooks, print every problem as a caret
//! snippet, exit 1 if any file has one; otherwise one summary line per file. Drill scenario
//! files are recognised by their `[scenario]` table and checked by `lab::scenario`.

use std::io::Write;
use std::process::ExitCode;

use crate::runbook::{self, LoadError, Runbook};

pub fn run(args: &super::CheckArgs) -> anyhow::Result<ExitCode> {
    // `check *.toml | head`: every file is still checked and the verdict still counts.
    let mut out = super::exit::QuietPipe::new(std::io::stdout().lock());
    let mut failed = false;
    for path in &args.files {
        // Drill scenarios (`runbooks/drills/*.toml`) are checked by their own rules, which
        // include loading the runbook they drill.
        if crate::lab::scenario::is_scenario_file(path) {
            let rendered = crate::lab::scenario::check(path)?;
            if rendered.is_empty() {
                writeln!(out, "ok  {}: drill scenario", path.display())?;
            } else {
                failed = true;
                write!(out, "{rendered}")?;
                writeln!(out, "error: {}: invalid drill scenario\n", path.display())?;
            }
            continue;
        }
        match runbook::load(path) {
            Ok(loaded) => {
                let name = path.display().to_string();
                let warnings = runbook::validate::warnings(&loaded.runbook);
                if !warnings.is_empty() {
                    write!(
                        out,
                        "{}",
                        runbook::render_diagnostics(&name, &loaded.source, &warnings)
                    )?;
                }
                writeln!(out, "{}", summary(&name, &loaded.runbook))?;
            }
            Err(LoadError::Invalid { rendered, count }) => {
                failed = true;
                let noun = if count == 1 { "problem" } else { "problems" };
                write!(out, "{rendered}")?;
                writeln!(out, "error: {}: {count} {noun}\n", path.display())?;
            }
            Err(err @ LoadError::Io { .. }) => {
                failed = true;
                writeln!(out, "error: {err}\n")?;
            }
        }
    }
    out.flush()?;
    Ok(super::exit::verdict(!failed))
}

/// `ok  runbooks/x.toml: 23 steps in 7 phases, 4 destructive`
pub fn summary(name: &str, runbook: &Runbook) -> String {
    let steps = runbook.steps.len();
    let phases = runbook.phases().len();
    let destructive = runbook.steps.iter().filter(|s| s.is_destructive()).count();
    format!(
        "ok  {name}: {steps} {} in {phases} {}, {destructive} destructive",
        plural(steps, "step", "steps"),
        plural(phases, "phase", "phases"),
    )
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}
