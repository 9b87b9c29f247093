//! An incident's state without replaying its whole journal: [`fold`] loads the last checkpoint
//! (see [`crate::journal::checkpoint`] for the file, the chain event and what makes one
//! trusted) and folds only the events after it; a [`Checkpointer`] writes new ones while the
//! incident is open.
//!
//! ```text
//! fold:  find the last `checkpoint` event (from the end) ─▶ its file, checked against it
//!          ─▶ stream from the file's position, seeing that event go by ─▶ state
//!        any miss ─▶ one notice (Source::Replay { fallback }) and a replay from seq 1
//! write: every `every` events, or more when the state is large (see below), from a thread
//!        waiting on the durable watermark, and when the incident is closed with at least
//!        `on_close` events since the last one:
//!        the kept state + the events the writer queued since ─▶ durable? ─▶ file
//!          ─▶ `checkpoint` event (queued, never waited for by the engine)
//! ```
//!
//! Why 20,000 events: opening reads at most the events since the last checkpoint, and a fold
//! runs at about 270,000 events/s on the shared 2-core VM under load (`stanch list` replaying
//! 2,000,000 events took 7.41 s), so a worst-case tail folds in about 75 ms, inside the 150 ms
//! first frame of `stanch resume` with room for the TUI's own start. The cost of a smaller N
//! is small: the background folds together read every event once whatever N is (each starts
//! at the previous checkpoint), and each checkpoint adds one state file (kilobytes unless
//! steps captured large values) per 20,000 events (about 8 MB of journal). `on_close`
//! (1,000) skips a checkpoint whose tail would fold in a few milliseconds anyway, so opening
//! and quitting does not lengthen the journal. `STANCH_CHECKPOINT_EVERY=N` sets `every` (and
//! `on_close` to at most N) for tests and benchmarks.
//!
//! A large state (a step captured a 16 MB list of a million tokens) spaces checkpoints out: the
//! next background one waits until the journal has grown by at least the last file's size
//! (in events, at the journal's bytes per event so far), so checkpoint files never cost more
//! writing than the journal itself. Each one reads the previous file, folds the tail and
//! writes the whole state again: at 20,000 events, a foreach of a million items over that
//! list rewrote 14 MB a hundred times (1.4 GB, each synced, and three 14 MB buffers on the
//! checkpointer's thread each time). Opening then folds at most that many bytes of events
//! after a state it takes about as long to load.
//!
//! The checkpointer keeps one state, folded through the last event the writer queued, and
//! folds into it the events the writer hands over ([`Watch::follow`]): the very events it
//! chained and wrote, in seq order, each with the byte offset its line ends at. It folds
//! them every [`CATCH_UP`] events, so they never pile up in the writer's queue, and saves the
//! state once its last event is durable. A 14 MB capture in that state is then the engine's
//! own text, shared, not a second copy; and nothing reads back, parses and hashes again the
//! lines it just wrote (re-reading them held the 14 MB line twice more, in the read buffer
//! and the parsed event, beside the engine's: the run's peak memory). The state starts as
//! the fold of the file through where the following starts (the last checkpoint and its
//! tail: see [`fold`]). The queue keeps a few MB of events at most: a checkpointer that fell
//! further behind (a slow disk under a large checkpoint) gets none of them, folds the file
//! from its state up to the writer's last event, and follows again from there. When the
//! events do not continue the state (never expected: the queue hands over every event it
//! chains), the checkpointer stops following and folds the file, from the state it kept when
//! the journal continues from there, else from the last file (or the start).
//!
//! The checkpoint's state is the fold of the chain itself (the file's events, or the same
//! events as the writer queued them), never a caller's incident (the TUI's and the
//! headless runner's fold only part of the events), so what is saved is always the fold of
//! exactly the chain through its seq.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::incident::{Incident, Keep};
use crate::journal::checkpoint::{self, Fallback, Found};
use crate::journal::stream::{Position, Streamed, stream_between};
use crate::journal::writer::JOURNAL_FILE;
use crate::journal::writer::{Fed, Follower};
use crate::journal::{Event, Journal, JournalError, NewEvent, Watch};

/// Default events between two checkpoints (see the module doc for why).
pub const EVERY: u64 = 20_000;
/// Default least tail worth a checkpoint when the incident is closed.
pub const ON_CLOSE: u64 = 1_000;
/// Events the writer queues before the background thread folds them (see the module doc).
const CATCH_UP: u64 = 4_096;

/// When checkpoints are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    pub every: u64,
    pub on_close: u64,
}

impl Default for Cadence {
    fn default() -> Self {
        Self {
            every: EVERY,
            on_close: ON_CLOSE,
        }
    }
}

impl Cadence {
    /// The default, or `STANCH_CHECKPOINT_EVERY` when set to a positive number.
    pub fn from_env() -> Self {
        std::env::var("STANCH_CHECKPOINT_EVERY")
            .ok()
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|&n| n > 0)
            .map_or_else(Self::default, |every| Self {
                every,
                on_close: ON_CLOSE.min(every),
            })
    }
}

/// Where a folded state came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The checkpoint through `seq` (in `file`), then the events after it.
    Checkpoint { seq: u64, file: String },
    /// Every event from seq 1: the journal has no checkpoint, or (`fallback`) its last one
    /// could not be trusted.
    Replay { fallback: Option<Fallback> },
}

impl Source {
    /// What the responder is told, once, when a checkpoint was not used.
    pub fn notice(&self) -> Option<String> {
        match self {
            Source::Replay {
                fallback: Some(fallback),
            } => Some(format!(
                "checkpoint not used ({fallback}); the whole journal was replayed"
            )),
            _ => None,
        }
    }
}

/// A folded journal.
pub struct Folded<T> {
    pub incident: Incident,
    pub source: Source,
    /// The last read: position, torn tail, damage.
    pub streamed: Streamed,
    /// What the reader returned besides (the open [`Journal`] for a writer).
    pub with: T,
}

/// A checkpoint accepted and its state, before the tail is folded in.
struct Start {
    found: Found,
    from: Position,
    incident: Incident,
}

/// Fold the journal in `dir` into an incident keeping what `keep` says: from the last
/// checkpoint when it holds, else from the start. `read(from, each)` streams the journal from
/// `from`, handing every good event to `each` (a plain read, or [`Journal::open_from`]).
pub fn fold<T>(
    dir: &Path,
    keep: Keep,
    mut read: impl FnMut(&Position, &mut dyn FnMut(Event)) -> Result<(T, Streamed), JournalError>,
) -> Result<Folded<T>, JournalError> {
    let fallback = match start(dir, keep) {
        Ok(None) => None,
        Err(fallback) => Some(fallback),
        Ok(Some(Start {
            found,
            from,
            mut incident,
        })) => {
            let mut seen = false;
            let attempt = read(&from, &mut |event| {
                if event.seq == found.event.seq {
                    seen = event.hash == found.event.hash;
                }
                incident.apply(event);
            });
            match attempt {
                Ok((with, streamed)) if streamed.broken.is_none() && seen => {
                    return Ok(Folded {
                        incident,
                        source: Source::Checkpoint {
                            seq: from.seq,
                            file: found.checkpoint.file,
                        },
                        streamed,
                        with,
                    });
                }
                // A writer's journal is dropped here, before the replay takes its lock again.
                Ok(_) | Err(JournalError::Broken { .. }) => Some(Fallback::Chain {
                    file: found.checkpoint.file,
                    seq: from.seq,
                }),
                Err(e) => return Err(e),
            }
        }
    };
    if let Some(fallback) = &fallback {
        tracing::warn!(dir = %dir.display(), "checkpoint not used: {fallback}");
    }
    let mut incident = Incident::keeping(keep);
    let (with, streamed) = read(&Position::genesis(), &mut |event| incident.apply(event))?;
    Ok(Folded {
        incident,
        source: Source::Replay { fallback },
        streamed,
        with,
    })
}

/// The last checkpoint, accepted, with its state: `Ok(None)` when the journal has none.
fn start(dir: &Path, keep: Keep) -> Result<Option<Start>, Fallback> {
    let found = match checkpoint::find_last(dir) {
        Ok(Some(found)) => found,
        Ok(None) => return Ok(None),
        Err(e) => {
            return Err(Fallback::Unreadable {
                file: JOURNAL_FILE.to_owned(),
                reason: e.to_string(),
            });
        }
    };
    let loaded = checkpoint::load(dir, &found)?;
    let file = found.checkpoint.file.clone();
    let mut incident: Incident =
        serde_json::from_str(loaded.state.get()).map_err(|e| Fallback::Unreadable {
            file: file.clone(),
            reason: e.to_string(),
        })?;
    if incident.last_seq != loaded.from.seq || incident.last_hash != loaded.from.hash {
        return Err(Fallback::Seq {
            file,
            seq: loaded.from.seq,
        });
    }
    incident.keep(keep);
    Ok(Some(Start {
        found,
        from: loaded.from,
        incident,
    }))
}

/// Fold the journal in `dir` without the writer lock (a live incident reads as of its last
/// complete line).
pub fn read(dir: &Path, keep: Keep) -> Result<Folded<()>, JournalError> {
    read_until(dir, keep, None)
}

/// [`read`] no further than byte `until` (see [`stream_between`]).
fn read_until(dir: &Path, keep: Keep, until: Option<u64>) -> Result<Folded<()>, JournalError> {
    let path = dir.join(JOURNAL_FILE);
    fold(dir, keep, |from, each| {
        let streamed = stream_between(dir, from, until, each).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                JournalError::Missing(dir.to_path_buf())
            } else {
                JournalError::Io {
                    path: path.clone(),
                    source,
                }
            }
        })?;
        Ok(((), streamed))
    })
}

/// Writes checkpoints of one open incident: every [`Cadence::every`] events from a background
/// thread, and on [`Checkpointer::close`] (or drop) when the tail is worth it.
pub struct Checkpointer {
    journal: Journal,
    shared: Arc<Shared>,
}

struct Shared {
    dir: PathBuf,
    cadence: Cadence,
    /// The last checkpoint written; held while one is written or the state folded, so two
    /// never race.
    saved: Mutex<Saved>,
    /// The state through the last event folded and where the journal stood; used (and
    /// replaced) only under `saved`.
    last: Mutex<Option<(Incident, Position)>>,
    /// The writer's events, while they continue `last` (`None`: fold from the file).
    following: Mutex<Option<Following>>,
}

/// The events the writer queued since [`Watch::follow`], folded in place of the lines.
struct Following {
    follower: Follower,
    /// Where the follower started, until the state through it is folded from the file.
    from: Option<Position>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Saved {
    /// The seq its state covers (0: none yet).
    seq: u64,
    /// The seq of its `checkpoint` event, when this process queued it (0: none).
    event: u64,
    /// Events from it to the next background checkpoint (0: [`Cadence::every`]).
    gap: u64,
}

impl Checkpointer {
    /// Start checkpointing `journal`, whose last checkpoint covers `saved` (0: none).
    pub fn start(journal: &Journal, saved: u64, cadence: Cadence) -> Self {
        Self::begin(journal, saved, cadence, None)
    }

    /// [`Checkpointer::start`] from `state`, the fold of every event queued so far (an
    /// opener's, with its captures: not [`Keep::Summary`]), instead of folding the file
    /// again, which would read back from its end every line since the last checkpoint (one
    /// of them, perhaps, a 14 MB capture). A state that is not the journal's last is not used.
    pub fn start_from(journal: &Journal, saved: u64, cadence: Cadence, state: Incident) -> Self {
        Self::begin(journal, saved, cadence, Some(state))
    }

    fn begin(journal: &Journal, saved: u64, cadence: Cadence, state: Option<Incident>) -> Self {
        let watch = journal.watch();
        let mut last = None;
        let following = watch.follow().map(|(follower, from)| {
            let from = match state {
                Some(mut incident)
                    if incident.last_seq == from.seq && incident.last_hash == from.hash =>
                {
                    incident.keep(Keep::State);
                    last = Some((incident, from));
                    None
                }
                _ => Some(from),
            };
            Following { follower, from }
        });
        let shared = Arc::new(Shared {
            dir: journal.dir().to_path_buf(),
            cadence,
            saved: Mutex::new(Saved {
                seq: saved,
                ..Saved::default()
            }),
            last: Mutex::new(last),
            following: Mutex::new(following),
        });
        let background = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("checkpointer".into())
            .spawn(move || background.run(&watch));
        if let Err(e) = spawned {
            tracing::warn!("no background checkpoints: {e}");
            // Nothing would fold the events as they come: they would wait in the writer's
            // queue until the incident is closed.
            *shared.following() = None;
        }
        Self {
            journal: journal.clone(),
            shared,
        }
    }

    /// Write a checkpoint now if at least [`Cadence::on_close`] events came since the last,
    /// and wait until its event is durable. Returns its payload's seq when one was written.
    pub fn close(&self) -> Result<Option<u64>, CheckpointError> {
        let last = self.journal.last_seq();
        let saved = self.shared.saved().seq;
        let written = if last.saturating_sub(saved) >= self.shared.cadence.on_close {
            self.journal.watch().wait(last)?;
            self.shared.write(&self.journal)?
        } else {
            None
        };
        // Whichever wrote the last checkpoint (this call or the background thread), its event
        // is on disk before the incident is let go: a process that exits right after loses
        // nothing but the cost of an earlier checkpoint.
        let event = self.shared.saved().event;
        if event > 0 {
            self.journal.watch().wait(event)?;
        }
        Ok(written.map(|(seq, _)| seq))
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::warn!("no checkpoint on close: {e}");
        }
        // The journal may outlive this: nothing is kept for a fold that will not come.
        *self.shared.following() = None;
    }
}

/// A checkpoint that could not be written (nothing is lost: the next open replays more).
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("cannot write a checkpoint in {dir}: {source}")]
    Write {
        dir: PathBuf,
        source: std::io::Error,
    },
}

impl Shared {
    fn saved(&self) -> std::sync::MutexGuard<'_, Saved> {
        // A panic mid-write leaves at worst a file no event names: the value is still right.
        self.saved.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn last(&self) -> std::sync::MutexGuard<'_, Option<(Incident, Position)>> {
        self.last.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn following(&self) -> std::sync::MutexGuard<'_, Option<Following>> {
        self.following
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The state through the last event queued: the events the writer queued since the last
    /// fold, folded into its state (first into the file's fold through where the following
    /// started, when it has none that far). A follower that fell behind (the queue let its
    /// events go) follows again from the writer's last event, after the file through it is
    /// folded. `None` when not following, or when the events do not continue the state (never
    /// expected; following then stops, the state stays for the caller to fold the file on).
    /// Call under `saved`.
    fn follow_on(&self, watch: &Watch) -> Result<Option<(Incident, Position)>, JournalError> {
        let mut following = self.following();
        let Some(now) = following.as_mut() else {
            return Ok(None);
        };
        let fed = if let Some(fed) = now.follower.take() {
            fed
        } else if let Some((follower, from)) = watch.follow() {
            tracing::debug!(dir = %self.dir.display(), seq = from.seq, "the checkpointer fell behind; reading the file up to here");
            *now = Following {
                follower,
                from: Some(from),
            };
            Vec::new()
        } else {
            *following = None;
            return Ok(None);
        };
        let state = match now.from.take() {
            None => self.last().take(),
            Some(from) => {
                watch.wait(from.seq)?;
                let (incident, at) = self.fold_until(from.offset)?;
                (at == from).then_some((incident, at))
            }
        };
        let Some((mut incident, mut at)) = state else {
            tracing::warn!(dir = %self.dir.display(), "the checkpointer lost its place; folding the journal from the file");
            *following = None;
            return Ok(None);
        };
        for Fed { event, end } in fed {
            if event.seq != at.seq + 1 || event.prev != at.hash {
                tracing::warn!(dir = %self.dir.display(), seq = event.seq, "the queued events do not continue the checkpointer's state; folding the journal from the file");
                *following = None;
                *self.last() = Some((incident, at));
                return Ok(None);
            }
            at = Position {
                seq: event.seq,
                hash: event.hash.clone(),
                offset: end,
            };
            incident.apply(event);
        }
        Ok(Some((incident, at)))
    }

    /// Fold what the writer queued so far, so its events never pile up between checkpoints.
    fn catch_up(&self, watch: &Watch) {
        let _saved = self.saved();
        match self.follow_on(watch) {
            Ok(Some(state)) => *self.last() = Some(state),
            Ok(None) => {}
            Err(e) => tracing::warn!("the checkpointer could not fold the journal: {e}"),
        }
    }

    /// The seq the background thread waits for next: the next checkpoint, or a few thousand
    /// events on while following.
    fn next_wake(&self, due: u64) -> u64 {
        if self.following().is_none() {
            return due;
        }
        let folded = self.last().as_ref().map_or(0, |(_, at)| at.seq);
        due.min(folded + CATCH_UP)
    }

    /// The fold of the journal through byte `until`: the last saved state and the events
    /// after it when the journal continues from there, else a fold as [`read`] does it.
    fn fold_until(&self, until: u64) -> Result<(Incident, Position), JournalError> {
        if let Some((mut incident, from)) = self.last().take() {
            let streamed = stream_between(&self.dir, &from, Some(until), |e| incident.apply(e));
            match streamed {
                Ok(streamed) if streamed.broken.is_none() && streamed.last_seq >= from.seq => {
                    return Ok((incident, position(&streamed)));
                }
                Ok(_) => tracing::warn!(
                    dir = %self.dir.display(),
                    "the journal does not continue the last checkpoint's state; folding it again"
                ),
                Err(e) => tracing::warn!(dir = %self.dir.display(), "folding it again: {e}"),
            }
        }
        let folded = read_until(&self.dir, Keep::State, Some(until))?;
        let at = position(&folded.streamed);
        Ok((folded.incident, at))
    }

    /// The seq after which the next background checkpoint is due.
    fn due(&self, after: u64) -> u64 {
        let saved = self.saved();
        saved.seq.max(after) + saved.gap.max(self.cadence.every)
    }

    /// Every `every` events (or the gap a large state asks for), until the journal closes.
    fn run(&self, watch: &Watch) {
        let mut next = self.due(0);
        loop {
            let wake = self.next_wake(next);
            if watch.wait(wake).is_err() {
                return;
            }
            if wake < next {
                self.catch_up(watch);
                continue;
            }
            let Some(journal) = watch.journal() else {
                return;
            };
            match self.write(&journal) {
                Ok(_) => {}
                Err(e) => tracing::warn!("background checkpoint failed: {e}"),
            }
            next = self.due(next);
        }
    }

    /// Fold the journal as on disk, save it, queue its `checkpoint` event; returns the state's
    /// seq and the event's, or `None` when the last checkpoint is already as recent.
    fn write(&self, journal: &Journal) -> Result<Option<(u64, u64)>, CheckpointError> {
        let mut saved = self.saved();
        let watch = journal.watch();
        let (incident, at) = if let Some((incident, at)) = self.follow_on(&watch)? {
            // Queued, not yet synced: a file never holds a state the journal may not.
            watch.wait(at.seq)?;
            (incident, at)
        } else {
            // The journal as it is now: a fold that read on while the writer appends could
            // chase a fast writer to the end of the run.
            let path = self.dir.join(JOURNAL_FILE);
            let until = std::fs::metadata(&path)
                .map_err(|source| JournalError::Io { path, source })?
                .len();
            self.fold_until(until)?
        };
        if at.seq <= saved.seq {
            *self.last() = Some((incident, at));
            return Ok(None);
        }
        let written = checkpoint::write(&self.dir, &at, &incident).map_err(|source| {
            CheckpointError::Write {
                dir: self.dir.clone(),
                source,
            }
        })?;
        *self.last() = Some((incident, at.clone()));
        let bytes = std::fs::metadata(self.dir.join(&written.file)).map_or(0, |m| m.len());
        let event = journal.enqueue(NewEvent::incident(written))?;
        // The file before this one stays until this one's event is on disk: keep the two.
        checkpoint::prune(&self.dir, saved.seq);
        *saved = Saved {
            seq: at.seq,
            event: event.seq,
            gap: gap(bytes, &at),
        };
        Ok(Some((at.seq, event.seq)))
    }
}

/// Just past the last good event a stream read.
fn position(streamed: &Streamed) -> Position {
    Position {
        seq: streamed.last_seq,
        hash: streamed.last_hash.clone(),
        offset: streamed.good_len,
    }
}

/// Events after a checkpoint of `bytes` at `at` before the journal has grown by as many bytes
/// (at its bytes per event so far).
fn gap(bytes: u64, at: &Position) -> u64 {
    let per_event = (at.offset / at.seq.max(1)).max(1);
    bytes.div_ceil(per_event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Kind;
    use crate::journal::stream::stream_from;
    use proptest::prelude::*;
    use serde_json::json;

    /// A journal of `n` events of every kind that changes state: steps that start and finish
    /// with captures, exchanges, notes, facts and their corrections, marks.
    fn journal(n: u64) -> (tempfile::TempDir, Journal) {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), "alice").unwrap();
        journal
            .enqueue(NewEvent::new(
                Kind::IncidentOpened,
                json!({ "incident_id": "INC", "runbook_id": "rb", "drill": true, "speed": 2.0 }),
            ))
            .unwrap();
        for i in 2..=n {
            let step = format!("s{}", i % 7);
            let new = match i % 9 {
                0 => NewEvent::for_step(Kind::StepStarted, step, json!({ "attempt": 1 })),
                1 => NewEvent::for_step(
                    Kind::StepSucceeded,
                    step,
                    json!({ "duration_ms": i, "summary": "ok", "captures": { "n": i, "l": [i, "x"] } }),
                ),
                2 => NewEvent::for_step(
                    Kind::HttpRequest,
                    step,
                    json!({ "method": "GET", "url": "http://x/", "headers": {} }),
                ),
                3 => NewEvent::for_step(
                    Kind::HttpResponse,
                    step,
                    json!({ "status": 200, "elapsed_ms": 1 }),
                ),
                4 => NewEvent::new(Kind::Fact, json!({ "text": format!("fact {i}") })),
                5 => NewEvent::new(
                    Kind::FactCorrected,
                    json!({ "corrects": i - 1, "text": "fixed" }),
                ),
                6 => NewEvent::new(Kind::Mark, json!({ "name": "contained" })).by("bob"),
                7 => NewEvent::for_step(
                    Kind::StepFailed,
                    step,
                    json!({ "error": "e", "duration_ms": 1 }),
                ),
                _ => NewEvent::new(
                    Kind::Note,
                    json!({ "text": format!("note {i}"), "tags": ["follow-up"] }),
                ),
            };
            journal.enqueue(new).unwrap();
        }
        journal.watch().wait(n).unwrap();
        (dir, journal)
    }

    fn state(incident: &Incident) -> String {
        serde_json::to_string(incident).unwrap()
    }

    /// A journal of `n` events and its checkpointer, started as an opener starts it (from the
    /// state it folded); only `close` writes.
    fn opened(n: u64) -> (tempfile::TempDir, Journal, Checkpointer) {
        let (dir, journal) = journal(n);
        let opened = read(dir.path(), Keep::State).unwrap().incident;
        let checkpoints = Checkpointer::start_from(
            &journal,
            0,
            Cadence {
                every: 1_000_000,
                on_close: 1,
            },
            opened,
        );
        (dir, journal, checkpoints)
    }

    /// The last checkpoint's saved state is the replay of the journal through `seq`.
    fn assert_last_saved_is_the_replay_through(dir: &Path, seq: u64) {
        let mut full = Incident::keeping(Keep::State);
        crate::journal::stream::stream(dir, |e| {
            if e.seq <= seq {
                full.apply(e);
            }
        })
        .unwrap();
        let found = checkpoint::find_last(dir).unwrap().unwrap();
        let loaded = checkpoint::load(dir, &found).unwrap();
        assert_eq!(loaded.state.get(), state(&full), "checkpoint through {seq}");
    }

    /// The file and event for a checkpoint through `cut`, as the checkpointer writes them.
    fn checkpoint_at(dir: &Path, journal: &Journal, cut: u64) {
        let mut incident = Incident::keeping(Keep::State);
        let mut at = Position::genesis();
        let mut offset = 0;
        stream_from(dir, &Position::genesis(), |event| {
            if event.seq <= cut {
                offset += serde_json::to_vec(&event).unwrap().len() as u64 + 1;
                at = Position {
                    seq: event.seq,
                    hash: event.hash.clone(),
                    offset,
                };
                incident.apply(event);
            }
        })
        .unwrap();
        let written = checkpoint::write(dir, &at, &incident).unwrap();
        journal
            .append_blocking(NewEvent::incident(written))
            .unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn state_from_a_checkpoint_and_its_tail_is_the_full_replay(
            n in 2_u64..120,
            cut in 1_u64..120,
            more in 0_u64..30,
        ) {
            let cut = cut.min(n);
            let (dir, journal) = journal(n);
            checkpoint_at(dir.path(), &journal, cut);
            for i in 0..more {
                journal.enqueue(NewEvent::new(Kind::Note, json!({ "text": format!("after {i}") }))).unwrap();
            }
            journal.watch().wait(journal.last_seq()).unwrap();
            let folded = read(dir.path(), Keep::State).unwrap();
            prop_assert_eq!(&folded.source, &Source::Checkpoint { seq: cut, file: checkpoint::file_name(cut) });
            let mut full = Incident::keeping(Keep::State);
            crate::journal::stream::stream(dir.path(), |e| full.apply(e)).unwrap();
            prop_assert_eq!(state(&folded.incident), state(&full));
            prop_assert_eq!(folded.incident.speed, Some(2.0));
        }
    }

    #[test]
    fn a_checkpoint_is_written_every_n_events_and_on_close() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), "alice").unwrap();
        let cadence = Cadence {
            every: 100,
            on_close: 10,
        };
        let checkpoints = Checkpointer::start(&journal, 0, cadence);
        let notes = |from: u64, to: u64| {
            for i in from..to {
                journal
                    .enqueue(NewEvent::new(
                        Kind::Note,
                        json!({ "text": format!("n{i}") }),
                    ))
                    .unwrap();
            }
        };
        notes(0, 150);
        // Past 100 durable events the checkpointer saves what is on disk and queues its
        // event right after: seq 151 is that event.
        journal.watch().wait(151).unwrap();
        let periodic = checkpoint::find_last(dir.path()).unwrap().unwrap();
        assert_eq!(periodic.event.seq, 151);
        assert!(
            (100..=150).contains(&periodic.checkpoint.seq),
            "{periodic:?}"
        );
        notes(151, 171);
        let closed = checkpoints.close().unwrap().unwrap();
        assert_eq!(closed, journal.last_seq() - 1);
        let last = checkpoint::find_last(dir.path()).unwrap().unwrap();
        assert_eq!(last.checkpoint.seq, closed);
        assert_eq!(
            read(dir.path(), Keep::State).unwrap().source,
            Source::Checkpoint {
                seq: closed,
                file: checkpoint::file_name(closed),
            }
        );
        // Older files are pruned; the last two stay.
        let files = std::fs::read_dir(dir.path().join(checkpoint::DIR))
            .unwrap()
            .count();
        assert!((1..=2).contains(&files), "{files} files");
        // Nothing new since: closing again writes nothing.
        assert_eq!(checkpoints.close().unwrap(), None);
    }

    #[test]
    fn each_checkpoint_folded_from_the_last_saved_state_is_the_full_replay() {
        let (dir, journal) = journal(400);
        let checkpoints = Checkpointer::start(
            &journal,
            0,
            // Only `close` writes: no background thread races these checks.
            Cadence {
                every: 1_000_000,
                on_close: 1,
            },
        );
        let mut checked = 0;
        for round in 0..4 {
            for i in 0..30 {
                journal
                    .enqueue(NewEvent::new(
                        Kind::Note,
                        json!({ "text": format!("round {round} note {i}") }),
                    ))
                    .unwrap();
            }
            // The first write folds the journal; the later ones fold from the state the one
            // before saved, and must save the same as a replay of the file would.
            let Some(seq) = checkpoints.close().unwrap() else {
                continue;
            };
            assert_last_saved_is_the_replay_through(dir.path(), seq);
            checked += 1;
        }
        assert_eq!(checked, 4);
    }

    #[test]
    fn a_large_capture_is_kept_as_the_queued_events_text_not_a_copy() {
        let (dir, journal, checkpoints) = opened(40);
        let tokens: Vec<String> = (0..20_000).map(|i| format!("rt_{i:08x}")).collect();
        let listed = journal
            .enqueue(NewEvent::for_step(
                Kind::StepSucceeded,
                "list",
                json!({ "duration_ms": 1, "summary": "ok", "captures": { "tokens": tokens } }),
            ))
            .unwrap();
        journal
            .enqueue(NewEvent::new(Kind::Note, json!({ "text": "after" })))
            .unwrap();
        let seq = checkpoints.close().unwrap().unwrap();
        assert_eq!(seq, listed.seq + 1);
        {
            let last = checkpoints.shared.last();
            let (state, at) = last.as_ref().unwrap();
            assert_eq!(at.seq, seq);
            let kept = state.vars["tokens"].json();
            assert_eq!(kept.len(), serde_json::to_string(&tokens).unwrap().len());
            assert!(
                listed
                    .data
                    .get()
                    .as_bytes()
                    .as_ptr_range()
                    .contains(&kept.as_ptr()),
                "the checkpointer keeps its own copy of the capture"
            );
        }
        // What it saved is the fold of the file, and opening reads from its position.
        assert_last_saved_is_the_replay_through(dir.path(), seq);
        journal.watch().wait(journal.last_seq()).unwrap();
        assert_eq!(
            read(dir.path(), Keep::State).unwrap().source,
            Source::Checkpoint {
                seq,
                file: checkpoint::file_name(seq),
            }
        );
    }

    #[test]
    fn a_checkpointer_that_falls_behind_reads_the_file_for_what_it_missed() {
        let (dir, journal, checkpoints) = opened(40);
        {
            // Busy (as while writing a large checkpoint): the background thread cannot fold,
            // and the queue lets the events go rather than keep them all.
            let _busy = checkpoints.shared.saved();
            for i in 0..20_000 {
                journal
                    .enqueue(NewEvent::new(
                        Kind::Note,
                        json!({ "text": format!("n{i}") }),
                    ))
                    .unwrap();
            }
            let following = checkpoints.shared.following();
            assert!(
                following.as_ref().unwrap().follower.take().is_none(),
                "the queue kept every event for a follower that took none"
            );
        }
        journal
            .enqueue(NewEvent::new(Kind::Mark, json!({ "name": "contained" })))
            .unwrap();
        let seq = checkpoints.close().unwrap().unwrap();
        assert_eq!(seq, 20_041);
        assert!(
            checkpoints.shared.following().is_some(),
            "it follows the writer again"
        );
        assert_last_saved_is_the_replay_through(dir.path(), seq);
    }

    #[test]
    fn a_large_state_spaces_background_checkpoints_by_its_size() {
        // A 1 MiB state at seq 1,000 of a 400,000-byte journal (400 bytes per event): the
        // journal must grow by 1 MiB, 2,622 events, before the next one.
        let at = Position {
            seq: 1_000,
            hash: String::new(),
            offset: 400_000,
        };
        assert_eq!(gap(1 << 20, &at), 2_622);
        let shared = Shared {
            dir: PathBuf::new(),
            cadence: Cadence {
                every: 100,
                on_close: 10,
            },
            saved: Mutex::new(Saved {
                seq: 1_000,
                event: 1_001,
                gap: gap(1 << 20, &at),
            }),
            last: Mutex::new(None),
            following: Mutex::new(None),
        };
        assert_eq!(shared.due(1_000), 3_622);
        // A small state: the cadence's every.
        shared.saved().gap = gap(4_000, &at);
        assert_eq!(shared.due(1_000), 1_100);
        assert_eq!(shared.due(1_200), 1_300, "never before the last threshold");
    }
}
