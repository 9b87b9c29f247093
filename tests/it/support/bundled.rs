//! Run the bundled runbook headless, unchanged, with given inputs and secrets: what the engine
//! tests against the lab and against a real oidc-provider share.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};
use stanch::cli::headless::{HeadlessReport, run_all_async};
use stanch::engine::{Engine, EngineOptions};
use stanch::incident::Incident;
use stanch::journal::{Journal, Kind, NewEvent};
use stanch::secret::Secrets;
use stanch::store::Opened;

/// What a run left: the report, what it printed, and the incident directory (kept alive by
/// the tempdir).
pub struct Run {
    pub report: HeadlessReport,
    pub text: String,
    pub incident_dir: PathBuf,
    pub _dir: tempfile::TempDir,
}

pub async fn run_bundled(inputs: Value, secrets: Vec<(String, String)>) -> Run {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("runbooks/elasticsearch-exposure.toml");
    let rb = Arc::new(stanch::runbook::load(&path).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let incident_dir = dir.path().join("DRILL-BUNDLED");
    let journal = Journal::create(&incident_dir, "drill-bot").unwrap();
    let opened_event = journal
        .append(NewEvent::new(
            Kind::IncidentOpened,
            json!({
                "incident_id": "DRILL-BUNDLED",
                "runbook_id": rb.runbook.id(),
                "inputs": inputs,
                "responder": "drill-bot",
                "drill": true,
            }),
        ))
        .await
        .unwrap();
    let secrets = Secrets::from_values(secrets);
    let engine = Engine::new(rb, journal.clone(), secrets, EngineOptions::default()).unwrap();
    let mut opened = Opened {
        id: "DRILL-BUNDLED".into(),
        dir: incident_dir.clone(),
        journal,
        incident: Incident::replay([opened_event]),
        checkpoints: None,
        notice: None,
    };
    let mut out = Vec::new();
    let report = run_all_async(&engine, &mut opened, &mut out, true)
        .await
        .unwrap();
    Run {
        report,
        text: String::from_utf8(out).unwrap(),
        incident_dir,
        _dir: dir,
    }
}
