//! The sections of a blameless post-mortem: summary, detection, trigger and root cause,
//! resolution, what went well / wrong, where we were lucky, decisions and lessons.
//!
//! Each [`Section`] holds what the journal says (entries, each naming where it came from) and,
//! until someone has written their part, a prompt saying what is still to write. Nothing here
//! invents a sentence: entries are marks, facts, step outcomes, deadlines and the notes people
//! tagged for the section (`#went-well` in the text or `went-well` in the note's tags; see
//! [`SECTION_TAGS`]). A section's prompt disappears once at least one note was tagged for it,
//! because only people can say why. Facts are placed by the time they happened: at or before
//! `exposure_began` they are the trigger, between it and `aware` they are how it was found.

use std::fmt::Write;

use jiff::Timestamp;
use serde::Serialize;

use super::measures::Measure;
use super::time::{human_duration, mark_label, millis_between, utc};
use super::{DurationRow, TimelineRow};
use crate::draft::deadline::{Deadline, Standing};
use crate::incident::{Incident, Note};

/// Every section's tags, in the order the sections are shown.
pub const SECTION_TAGS: &[(&str, &[&str])] = &[
    ("summary", &["summary"]),
    ("detection", &["detection"]),
    ("trigger_and_root_cause", &["root-cause", "trigger"]),
    ("resolution", &["resolution"]),
    ("went_well", &["went-well"]),
    ("went_wrong", &["went-wrong"]),
    ("lucky", &["lucky"]),
    ("decisions", &["decision"]),
    ("lessons", &["lesson"]),
];

#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub summary: Section,
    pub detection: Section,
    pub trigger_and_root_cause: Section,
    pub resolution: Section,
    pub went_well: Section,
    pub went_wrong: Section,
    pub lucky: Section,
    pub decisions: Section,
    pub lessons: Section,
}

impl Review {
    /// The sections with their headings, in reading order.
    pub fn sections(&self) -> [(&'static str, &Section); 9] {
        [
            ("Summary", &self.summary),
            ("Detection", &self.detection),
            ("Trigger and root cause", &self.trigger_and_root_cause),
            ("Resolution", &self.resolution),
            ("What went well", &self.went_well),
            ("What went wrong", &self.went_wrong),
            ("Where we got lucky", &self.lucky),
            ("Decisions", &self.decisions),
            ("Lessons", &self.lessons),
        ]
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// What the journal says, in order.
    pub entries: Vec<Entry>,
    /// What is still for people to write; `None` once a note was tagged for this section.
    pub prompt: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub text: String,
    /// When it happened, where that is known.
    pub at: Option<Timestamp>,
    /// Where it came from, so a reader can check it (`note seq 30 by bob`, `mark aware`).
    pub source: String,
}

impl Entry {
    fn new(text: String, at: Option<Timestamp>, source: String) -> Self {
        Self { text, at, source }
    }
}

/// Everything a section is built from.
pub struct Inputs<'a> {
    pub incident: &'a Incident,
    pub title: &'a str,
    pub metrics: &'a [DurationRow],
    pub measures: &'a [Measure],
    pub deadlines: &'a [Deadline],
    pub timeline: &'a [TimelineRow],
}

pub fn build(i: &Inputs<'_>) -> Review {
    let tagged = |section: &str| tagged_entries(i.incident, section);
    Review {
        summary: section(
            summary(i),
            tagged("summary"),
            "In two or three sentences for someone who was not there: what happened, who was affected, and how it ended.",
        ),
        detection: section(
            detection(i.incident, i.metrics),
            tagged("detection"),
            "How was it found (monitoring, a report from outside, by chance), and what would have found it sooner?",
        ),
        trigger_and_root_cause: section(
            trigger(i.incident),
            tagged("trigger_and_root_cause"),
            "What change started it (the trigger), and what let that change do harm (the root cause and the conditions that allowed it)? Ask how the system allowed it, not who.",
        ),
        resolution: section(
            resolution(i.incident, i.measures),
            tagged("resolution"),
            "What ended the impact for good, and what is still open?",
        ),
        went_well: section(
            judged(i.deadlines, false),
            tagged("went_well"),
            "What helped: preparation, tools or people that made the response faster or safer?",
        ),
        went_wrong: section(
            [setbacks(i.timeline), judged(i.deadlines, true)].concat(),
            tagged("went_wrong"),
            "What slowed the response down or made things worse?",
        ),
        lucky: section(
            Vec::new(),
            tagged("lucky"),
            "Where did luck rather than design save us, so that it is not relied on next time?",
        ),
        decisions: section(
            Vec::new(),
            tagged("decisions"),
            "Which decisions were taken, by whom, when and on what basis? (Tag notes `#decision` as they are taken.)",
        ),
        lessons: section(
            Vec::new(),
            tagged("lessons"),
            "What do we know now that we did not know before, and what will we change because of it?",
        ),
    }
}

fn section(mut derived: Vec<Entry>, notes: Vec<Entry>, prompt: &str) -> Section {
    let written = !notes.is_empty();
    derived.extend(notes);
    Section {
        entries: derived,
        prompt: (!written).then(|| prompt.to_owned()),
    }
}

/// Does `note` carry `tag`, in its tags or as `#tag` in its text?
pub fn has_tag(note: &Note, tag: &str) -> bool {
    note.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
        || note.text.split_whitespace().any(|word| {
            word.strip_prefix('#').is_some_and(|w| {
                w.trim_end_matches(|c: char| !c.is_alphanumeric())
                    .eq_ignore_ascii_case(tag)
            })
        })
}

fn tagged_entries(incident: &Incident, section: &str) -> Vec<Entry> {
    let tags = SECTION_TAGS
        .iter()
        .find(|(name, _)| *name == section)
        .map_or(&[][..], |(_, tags)| *tags);
    incident
        .notes
        .iter()
        .filter(|n| tags.iter().any(|t| has_tag(n, t)))
        .map(|n| {
            Entry::new(
                n.text.clone(),
                Some(n.at),
                format!("note seq {} by {}", n.seq, n.actor),
            )
        })
        .collect()
}

fn mark_at(incident: &Incident, name: &str) -> Option<Timestamp> {
    incident.marks.get(name).map(|m| m.at)
}

fn mark_entry(
    incident: &Incident,
    name: &str,
    text: impl FnOnce(Timestamp) -> String,
) -> Option<Entry> {
    incident.marks.get(name).map(|m| {
        Entry::new(
            text(m.at),
            Some(m.at),
            format!("mark {name}, set by {}", m.actor),
        )
    })
}

fn summary(i: &Inputs<'_>) -> Vec<Entry> {
    let incident = i.incident;
    let state = incident.closed_at.map_or_else(
        || "still open at the last journal event".to_owned(),
        |at| format!("closed {}", utc(at)),
    );
    let mut out = vec![Entry::new(
        format!(
            "{}{}: incident {} opened {} by {}, {state}.",
            i.title,
            incident
                .severity
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default(),
            incident.id,
            incident.opened_at.map_or_else(|| "—".to_owned(), utc),
            incident.responder,
        ),
        incident.opened_at,
        "incident.opened".to_owned(),
    )];
    out.extend(i.metrics.iter().map(|d| {
        Entry::new(
            format!("{}: {}", d.label, d.text),
            None,
            format!("marks {} → {}", d.from, d.to),
        )
    }));
    out
}

/// Facts placed between `after` (exclusive) and `until` (inclusive), by the time they
/// happened (their current version).
fn facts_between(
    incident: &Incident,
    after: Option<Timestamp>,
    until: Option<Timestamp>,
) -> Vec<Entry> {
    incident
        .facts
        .iter()
        .filter_map(|f| {
            let (text, occurred) = f.current();
            let at = occurred.unwrap_or(f.recorded_at);
            let placed = after.is_none_or(|a| at > a) && until.is_none_or(|u| at <= u);
            placed.then(|| {
                Entry::new(
                    format!("{}: {text}", utc(at)),
                    Some(at),
                    format!("fact seq {} by {}", f.seq, f.actor),
                )
            })
        })
        .collect()
}

fn detection(incident: &Incident, metrics: &[DurationRow]) -> Vec<Entry> {
    let began = mark_at(incident, "exposure_began");
    let aware = mark_at(incident, "aware");
    let reported = mark_at(incident, "reported");
    let mut out: Vec<Entry> = mark_entry(incident, "reported", |at| {
        format!("Reported to the team {}.", utc(at))
    })
    .into_iter()
    .collect();
    // Without `aware` every later fact would count as detection; there is nothing to place.
    if aware.is_some() {
        out.extend(facts_between(incident, began, aware));
    }
    out.extend(mark_entry(incident, "aware", |at| {
        let after_report = reported
            .map(|r| {
                format!(
                    ", {} after the report",
                    human_duration(millis_between(r, at) / 1000)
                )
            })
            .unwrap_or_default();
        format!("The team became aware {}{after_report}.", utc(at))
    }));
    out.extend(
        metrics
            .iter()
            .filter(|d| d.from == "exposure_began" && d.to == "aware")
            .map(|d| {
                Entry::new(
                    format!(
                        "{} from the start of the exposure to awareness (time to detect).",
                        d.text
                    ),
                    None,
                    "marks exposure_began → aware".to_owned(),
                )
            }),
    );
    out
}

fn trigger(incident: &Incident) -> Vec<Entry> {
    let Some(began) = incident.marks.get("exposure_began") else {
        return Vec::new();
    };
    let corrected = if began.previous.is_empty() {
        String::new()
    } else {
        let earlier: Vec<String> = began.previous.iter().map(|p| utc(*p)).collect();
        format!(" (corrected from {})", earlier.join(", "))
    };
    let mut out = vec![Entry::new(
        format!("The exposure began {}{corrected}.", utc(began.at)),
        Some(began.at),
        format!("mark exposure_began, set by {}", began.actor),
    )];
    out.extend(facts_between(incident, None, Some(began.at)));
    out
}

/// Marks that end or limit the harm, in the order a response reaches them.
const RESOLVING_MARKS: &[&str] = &["contained", "evidence_preserved", "rotated", "resolved"];

fn resolution(incident: &Incident, measures: &[Measure]) -> Vec<Entry> {
    let mut out: Vec<Entry> = measures
        .iter()
        .map(|m| {
            let mut text = m.title.clone();
            if let Some(summary) = &m.summary {
                text.push_str(": ");
                text.push_str(summary);
            }
            for mark in &m.marks {
                let _ = write!(text, "; {} {}", mark.label, utc(mark.at));
            }
            Entry::new(text, m.finished_at, format!("step {}", m.step))
        })
        .collect();
    for name in RESOLVING_MARKS {
        let by_measure = measures
            .iter()
            .any(|m| m.marks.iter().any(|k| k.name == *name));
        if !by_measure {
            out.extend(mark_entry(incident, name, |at| {
                format!("{} {}", capitalise(&mark_label(name)), utc(at))
            }));
        }
    }
    out
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// Failed and interrupted steps, from the timeline.
fn setbacks(timeline: &[TimelineRow]) -> Vec<Entry> {
    timeline
        .iter()
        .filter(|r| matches!(r.kind, "step.failed" | "step.interrupted"))
        .map(|r| {
            Entry::new(
                format!("{}: {}", r.step.as_deref().unwrap_or("—"), r.text),
                Some(r.at),
                format!("journal seq {}", r.seq),
            )
        })
        .collect()
}

/// Deadlines met (`late` false) or missed/overdue (`late` true).
fn judged(deadlines: &[Deadline], late: bool) -> Vec<Entry> {
    deadlines
        .iter()
        .filter(|d| {
            if late {
                matches!(d.status, Standing::Missed | Standing::Overdue)
            } else {
                d.status == Standing::Met
            }
        })
        .map(|d| {
            Entry::new(
                format!("{}: {}.", d.label, d.text),
                d.notified_at,
                format!("deadline {} from mark aware", d.id),
            )
        })
        .collect()
}
