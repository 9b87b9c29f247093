//! html (next commit).
use super::report::Report;
pub fn render(report: &Report) -> String {
    let _ = report;
    String::new()
}
