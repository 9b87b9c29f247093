//! When a fact happened, as a responder types it: `17:21` (local), `17:21Z` (UTC),
//! `2019-12-26T09:21-08:00` (full, any offset), `-15m` / `-1h30m` (ago), `now` or nothing.
//!
//! A bare clock time means the most recent such moment: if today's 17:21 is still in the
//! future, it was yesterday's (facts are recorded after they happen). Pure: the caller passes
//! `now` and the local time zone.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeParseError {
    #[error(
        "`{0}` is not a time; write 17:21 (local), 17:21Z (UTC), 2019-12-26T09:21-08:00 or -15m"
    )]
    Unrecognised(String),
    #[error("`{0}`: {1}")]
    BadDuration(String, String),
    #[error("`{0}` is in the future; a fact records something that already happened")]
    Future(String),
}

/// Parse `text` relative to `now` in `tz`, to the millisecond (the clock's nanoseconds are
/// noise to the people who read the time back).
pub fn parse(text: &str, now: Timestamp, tz: &TimeZone) -> Result<Timestamp, TimeParseError> {
    Ok(to_millisecond(parse_exact(text, now, tz)?))
}

/// `at` truncated to the millisecond: the finest time the TUI shows or journals. Truncated,
/// not rounded, so `now` never moves into the future.
pub fn to_millisecond(at: Timestamp) -> Timestamp {
    Timestamp::from_millisecond(at.as_millisecond()).unwrap_or(at)
}

fn parse_exact(text: &str, now: Timestamp, tz: &TimeZone) -> Result<Timestamp, TimeParseError> {
    let text = text.trim();
    let bad = || TimeParseError::Unrecognised(text.to_owned());
    if text.is_empty() || text.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Some(ago) = text.strip_prefix('-') {
        let dur = crate::runbook::parse_duration(ago)
            .map_err(|e| TimeParseError::BadDuration(text.to_owned(), e))?;
        let span = jiff::SignedDuration::try_from(dur).map_err(|_| bad())?;
        return now.checked_sub(span).map_err(|_| bad());
    }
    let at = if let Some(clock) = text.strip_suffix(['Z', 'z']).filter(|c| !c.contains('T')) {
        latest_at(parse_clock(clock).ok_or_else(bad)?, now, &TimeZone::UTC)?
    } else if let Some(clock) = parse_clock(text) {
        latest_at(clock, now, tz)?
    } else if let Ok(ts) = text.parse::<Timestamp>() {
        ts
    } else if let Ok(zoned) = parse_with_offset(text) {
        zoned
    } else if let Ok(dt) = text.replace(' ', "T").parse::<DateTime>() {
        // A date and time with no offset: the responder's local time.
        dt.to_zoned_datetime(tz.clone())
            .map_err(|_| bad())?
            .timestamp()
    } else {
        return Err(bad());
    };
    if at > now {
        return Err(TimeParseError::Future(text.to_owned()));
    }
    Ok(at)
}

fn parse_clock(text: &str) -> Option<Time> {
    let mut parts = text.split(':');
    let h: i8 = parts.next()?.parse().ok()?;
    let m: i8 = parts.next()?.parse().ok()?;
    let s: i8 = parts.next().map_or(Some(0), |s| s.parse().ok())?;
    if parts.next().is_some() {
        return None;
    }
    Time::new(h, m, s, 0).ok()
}

/// RFC 3339 with an offset but maybe no seconds (`2019-12-26T09:21-08:00`).
fn parse_with_offset(text: &str) -> Result<Timestamp, ()> {
    let split = text.rfind(['+', '-']).ok_or(())?;
    let (local, offset) = text.split_at(split);
    if !local.contains('T') {
        return Err(());
    }
    let dt: DateTime = local.parse().map_err(|_| ())?;
    let sign: i32 = if offset.starts_with('-') { -1 } else { 1 };
    let (oh, om) = offset[1..].split_once(':').unwrap_or((&offset[1..], "0"));
    let oh: i32 = oh.parse().map_err(|_| ())?;
    let om: i32 = om.parse().map_err(|_| ())?;
    let seconds = sign * (oh * 3600 + om * 60);
    let offset = jiff::tz::Offset::from_seconds(seconds).map_err(|_| ())?;
    offset.to_timestamp(dt).map_err(|_| ())
}

/// Today's `clock` in `tz`, or yesterday's if today's has not happened yet.
fn latest_at(clock: Time, now: Timestamp, tz: &TimeZone) -> Result<Timestamp, TimeParseError> {
    let today: Date = now.to_zoned_datetime(tz.clone()).date();
    let bad = |_| TimeParseError::Unrecognised(clock.to_string());
    let at = today
        .to_datetime(clock)
        .to_zoned_datetime(tz.clone())
        .map_err(bad)?
        .timestamp();
    if at <= now {
        return Ok(at);
    }
    let yesterday = today.checked_sub(1.day()).map_err(bad)?;
    Ok(yesterday
        .to_datetime(clock)
        .to_zoned_datetime(tz.clone())
        .map_err(bad)?
        .timestamp())
}

#[cfg(test)]
mod tests {
    #[test]
    fn now_is_kept_to_the_millisecond() {
        let now: jiff::Timestamp = "2019-12-26T19:00:00.123456789Z".parse().unwrap();
        let at = super::parse("now", now, &jiff::tz::TimeZone::UTC).unwrap();
        assert_eq!(at.to_string(), "2019-12-26T19:00:00.123Z");
        let ago = super::parse("-15m", now, &jiff::tz::TimeZone::UTC).unwrap();
        assert_eq!(ago.to_string(), "2019-12-26T18:45:00.123Z");
    }

    use super::*;
    use rstest::rstest;

    fn now() -> Timestamp {
        "2019-12-26T19:00:00Z".parse().unwrap()
    }

    fn pacific() -> TimeZone {
        TimeZone::fixed(jiff::tz::offset(-8))
    }

    #[rstest]
    #[case::utc_clock("17:21Z", "2019-12-26T17:21:00Z")]
    #[case::local_clock_in_pacific("09:21", "2019-12-26T17:21:00Z")]
    #[case::full_with_offset_no_seconds("2019-12-26T09:21-08:00", "2019-12-26T17:21:00Z")]
    #[case::full_utc("2019-12-26T17:35:00Z", "2019-12-26T17:35:00Z")]
    #[case::minutes_ago("-15m", "2019-12-26T18:45:00Z")]
    #[case::compound_ago("-1h30m", "2019-12-26T17:30:00Z")]
    #[case::now("now", "2019-12-26T19:00:00Z")]
    #[case::empty_means_now("", "2019-12-26T19:00:00Z")]
    #[case::future_clock_means_yesterday("23:00Z", "2019-12-25T23:00:00Z")]
    #[case::local_datetime_without_offset("2019-12-26 09:21", "2019-12-26T17:21:00Z")]
    fn accepted_forms(#[case] text: &str, #[case] expected: &str) {
        let got = parse(text, now(), &pacific()).unwrap();
        assert_eq!(got, expected.parse::<Timestamp>().unwrap(), "{text}");
    }

    proptest::proptest! {
        /// A bare UTC clock always means the latest such moment at or before now.
        #[test]
        fn bare_clock_is_the_latest_past_moment(h in 0i8..24, m in 0i8..60, now_s in 0i64..4_000_000_000) {
            let now = Timestamp::from_second(now_s).unwrap();
            let at = parse(&format!("{h:02}:{m:02}Z"), now, &TimeZone::UTC).unwrap();
            let ago = (now - at).as_secs();
            proptest::prop_assert!((0..86_400).contains(&ago), "{ago}");
            let clock = at.to_zoned_datetime(TimeZone::UTC).time();
            proptest::prop_assert_eq!((clock.hour(), clock.minute(), clock.second()), (h, m, 0));
        }

        /// `-Nm` is exactly N minutes before now.
        #[test]
        fn minutes_ago_is_exact(n in 0u32..100_000, now_s in 10_000_000i64..4_000_000_000) {
            let now = Timestamp::from_second(now_s).unwrap();
            let at = parse(&format!("-{n}m"), now, &pacific()).unwrap();
            proptest::prop_assert_eq!((now - at).as_secs(), i64::from(n) * 60);
        }

        /// Any input either parses to a moment not after now or is refused: never a panic.
        #[test]
        fn never_panics_and_never_returns_the_future(text in "\\PC{0,30}") {
            if let Ok(at) = parse(&text, now(), &pacific()) {
                proptest::prop_assert!(at <= now());
            }
        }
    }

    #[rstest]
    #[case::words("yesterday-ish")]
    #[case::bad_clock("25:99")]
    #[case::bad_duration("-15 parsecs")]
    #[case::future_full("2030-01-01T00:00Z")]
    fn rejected_forms(#[case] text: &str) {
        assert!(parse(text, now(), &pacific()).is_err(), "{text}");
    }
}
