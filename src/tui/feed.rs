//! The Timeline view's feed: the [`Pager`] the event loop owns, opened off the UI thread
//! (building the offset index of a long journal takes a while the first time), and its
//! answers turned into messages.
//!
//! ```text
//! update ──Effect::Timeline(query)──▶ loop: latest query kept ──serve before the draw──▶ Msg::Paged
//!                                           idle (no input, nothing queued) ──resume──▶ Msg::Paged
//! ```
//!
//! Only the latest query is served (a burst of keys or events costs one pager call per frame);
//! a search that needs more than one slice goes on only while nothing else is waiting, so a
//! key is never queued behind it. Errors are `Msg::Failed` (shown in the error dialog).

use std::path::PathBuf;

use tokio::task::JoinHandle;

use super::error::TuiError;
use super::msg::Msg;
use crate::timeline::{Page, Pager, PagerError, Query};

pub enum Feed {
    /// Not opened (the loop opens it when it starts).
    Closed,
    Opening(JoinHandle<Result<Pager, PagerError>>),
    Ready(Box<Pager>),
    /// It could not open; the error was reported.
    Failed,
}

impl Feed {
    /// Open the pager of the journal in `dir` in a blocking task (needs the runtime).
    pub fn open(dir: PathBuf) -> Self {
        Self::Opening(tokio::task::spawn_blocking(move || Pager::open(&dir)))
    }

    /// Resolves once, when opening finishes: `Some(error message)` if it failed. Pending
    /// forever otherwise.
    pub async fn opened(&mut self) -> Option<Msg> {
        let Self::Opening(task) = self else {
            return std::future::pending().await;
        };
        let (feed, msg) = match task.await {
            Ok(Ok(pager)) => (Self::Ready(Box::new(pager)), None),
            Ok(Err(e)) => (Self::Failed, Some(Msg::Failed(e.into()))),
            Err(e) => (
                Self::Failed,
                Some(Msg::Failed(TuiError::Task {
                    what: "journal index",
                    source: std::sync::Arc::new(e),
                })),
            ),
        };
        *self = feed;
        msg
    }

    pub fn is_ready(&self) -> bool {
        matches!(self, Self::Ready(_))
    }

    /// A search has more to do.
    pub fn is_searching(&self) -> bool {
        matches!(self, Self::Ready(pager) if pager.is_searching())
    }

    /// The answer to `query` (one slice of work), or `None` while the pager is not open.
    pub fn serve(&mut self, query: &Query) -> Option<Msg> {
        let Self::Ready(pager) = self else {
            return None;
        };
        Some(answer(pager.serve(query)))
    }

    /// The next slice of the search under way, if any.
    pub fn resume(&mut self) -> Option<Msg> {
        let Self::Ready(pager) = self else {
            return None;
        };
        pager.resume().map(answer)
    }
}

fn answer(page: Result<Page, PagerError>) -> Msg {
    match page {
        Ok(page) => Msg::Paged(page),
        Err(e) => Msg::Failed(e.into()),
    }
}
