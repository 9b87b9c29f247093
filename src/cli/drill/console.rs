//! The facilitator's commands, one per line on standard input:
//!
//! ```text
//! start | pause | resume          the scenario clock (journalled as `drill.clock`)
//! speed N                         scenario time runs N times as fast from now on
//! inject TEAM|all [@ROLE] TITLE | BODY
//!                                 an ad-hoc inject, now, for a team (or every team), or for
//!                                 one role in it
//! status | score | end | help     where things stand · the live table · final scores, quit
//! ```
//!
//! Parsing only: what a command does is `facilitate.rs`'s.

/// One facilitator command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Start,
    Pause,
    Resume,
    Speed(f64),
    Inject {
        /// `None`: every team.
        team: Option<String>,
        role: Option<String>,
        title: String,
        body: String,
    },
    Status,
    Score,
    End,
    Help,
}

pub const HELP: &str = "commands: start · pause · resume · speed N · inject TEAM|all [@ROLE] TITLE | BODY · status · score · end";

/// A line typed by the facilitator; blank lines are `None`. The error says what is wrong.
pub fn parse(line: &str) -> Result<Option<Command>, String> {
    let line = line.trim();
    let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    let bare = |command| {
        if rest.is_empty() {
            Ok(Some(command))
        } else {
            Err(format!("`{word}` takes nothing after it"))
        }
    };
    match word {
        "" => Ok(None),
        "start" => bare(Command::Start),
        "pause" => bare(Command::Pause),
        "resume" => bare(Command::Resume),
        "status" => bare(Command::Status),
        "score" => bare(Command::Score),
        "end" | "quit" => bare(Command::End),
        "help" | "?" => bare(Command::Help),
        "speed" => match rest.parse::<f64>() {
            Ok(speed) if speed.is_finite() && speed > 0.0 => Ok(Some(Command::Speed(speed))),
            _ => Err(format!("speed needs a positive number, not `{rest}`")),
        },
        "inject" => inject(rest).map(Some),
        other => Err(format!("unknown command `{other}`; {HELP}")),
    }
}

fn inject(rest: &str) -> Result<Command, String> {
    const USAGE: &str = "usage: inject TEAM|all [@ROLE] TITLE | BODY";
    let (who, text) = rest
        .split_once(char::is_whitespace)
        .ok_or_else(|| USAGE.to_owned())?;
    let team = (who != "all").then(|| who.to_owned());
    let text = text.trim_start();
    let (role, text) = match text.strip_prefix('@') {
        Some(after) => {
            let (role, text) = after
                .split_once(char::is_whitespace)
                .ok_or_else(|| USAGE.to_owned())?;
            (Some(role.to_owned()), text)
        }
        None => (None, text),
    };
    let (title, body) = text.split_once('|').ok_or_else(|| USAGE.to_owned())?;
    let (title, body) = (title.trim(), body.trim());
    if title.is_empty() {
        return Err(format!("the inject has no title; {USAGE}"));
    }
    Ok(Command::Inject {
        team,
        role,
        title: title.to_owned(),
        body: body.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_mistakes_say_what_is_wrong() {
        assert_eq!(parse("  "), Ok(None));
        assert_eq!(parse("start"), Ok(Some(Command::Start)));
        assert_eq!(parse("speed 4.5"), Ok(Some(Command::Speed(4.5))));
        assert_eq!(
            parse("speed -1"),
            Err("speed needs a positive number, not `-1`".to_owned())
        );
        assert_eq!(
            parse("pause now"),
            Err("`pause` takes nothing after it".to_owned())
        );
        assert!(
            parse("launch")
                .unwrap_err()
                .starts_with("unknown command `launch`")
        );
        assert_eq!(
            parse("inject red @comms Journalist calls | Is the database still open?"),
            Ok(Some(Command::Inject {
                team: Some("red".into()),
                role: Some("comms".into()),
                title: "Journalist calls".into(),
                body: "Is the database still open?".into(),
            }))
        );
        assert_eq!(
            parse("inject all Power cut |"),
            Ok(Some(Command::Inject {
                team: None,
                role: None,
                title: "Power cut".into(),
                body: String::new(),
            }))
        );
        assert_eq!(
            parse("inject red no bar"),
            Err("usage: inject TEAM|all [@ROLE] TITLE | BODY".to_owned())
        );
        assert_eq!(
            parse("inject red | body"),
            Err("the inject has no title; usage: inject TEAM|all [@ROLE] TITLE | BODY".to_owned())
        );
    }
}
