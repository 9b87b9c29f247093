//! What the facilitator's loop waits on besides the clock: the lines typed on standard input,
//! and every team's incident as it commits (followed into a local mirror each). Printing a
//! team's update is here too; everything printed goes through the caller's escaping writer.

use std::io::Write;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::team::exercise;
use crate::team::follow::Pace;
use crate::team::{Follower, Mirror, Target, Update};

/// Follow every team's incident into a local mirror (`<data>/incidents/<id>`, so the
/// facilitator can verify and export each offline); the updates of all teams on one channel,
/// which closes once every follower has stopped.
pub(super) fn follow(
    target: &Target,
    exercise: &exercise::Exercise,
) -> anyhow::Result<mpsc::Receiver<(String, Update)>> {
    let (updates_tx, updates_rx) = mpsc::channel(256);
    for team in &exercise.teams {
        let dir = crate::paths::incident_dir(&team.incident)?;
        let mirror = Mirror::open(&dir, target.user())?;
        let mut follower = Follower::spawn(
            target.clone(),
            team.incident.clone(),
            mirror,
            Pace::default(),
        );
        let (name, updates_tx) = (team.team.clone(), updates_tx.clone());
        tokio::spawn(async move {
            while let Some(update) = follower.updates_rx.recv().await {
                if updates_tx.send((name.clone(), update)).await.is_err() {
                    break;
                }
            }
        });
    }
    Ok(updates_rx)
}

/// A team's update on the facilitator's terminal: the players' events (the facilitator's own
/// are printed as they are made), a lost link, the rewritten alarm.
pub(super) fn show(
    out: &mut impl Write,
    team: &str,
    update: Update,
    facilitator: &str,
) -> std::io::Result<()> {
    match update {
        Update::Events(events) => {
            for event in events.iter().filter(|e| e.actor != facilitator) {
                writeln!(
                    out,
                    "{team} · {}: {}",
                    event.actor,
                    crate::incident::describe(event)
                )?;
            }
        }
        Update::CaughtUp(_) => {}
        Update::Disconnected(e) => writeln!(out, "{team}: link lost ({e}); reconnecting")?,
        Update::Rewritten(e) => writeln!(out, "{team}: {e}")?,
    }
    Ok(())
}

/// Sleep for `wait`, or forever when nothing is due (the clock is paused or done).
pub(super) async fn sleep_for(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}

/// Standard input's lines, read on a thread of their own (reading blocks); the channel closes
/// at end of input.
pub(super) fn read_lines() -> mpsc::UnboundedReceiver<String> {
    let (lines_tx, lines_rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    lines_rx
}
