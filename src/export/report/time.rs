//! How the post-mortem writes times and amounts: `T+` offsets from the opening, human
//! durations and grouped numbers. Shared by every format so they read the same.

use jiff::Timestamp;

/// Milliseconds from `from` to `to` (negative when `to` is earlier).
pub fn millis_between(from: Timestamp, to: Timestamp) -> i64 {
    to.as_millisecond() - from.as_millisecond()
}

/// `T+00:14:03`, `T+2d 03:00:00`, `T-22d 13:21:00`: time from the incident's opening.
/// Days are split off because facts from weeks before the opening are common (the exposure
/// began long before anyone noticed).
pub fn offset_label(ms: i64) -> String {
    let sign = if ms < 0 { '-' } else { '+' };
    let secs = ms.unsigned_abs() / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    if days > 0 {
        format!("T{sign}{days}d {h:02}:{m:02}:{s:02}")
    } else {
        format!("T{sign}{h:02}:{m:02}:{s:02}")
    }
}

/// `45s`, `39m`, `2h 14m`, `22d 3h`: the two largest units, which is the precision a
/// post-mortem reader needs.
pub fn human_duration(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let s = seconds.unsigned_abs();
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let text = if d > 0 {
        if h > 0 {
            format!("{d}d {h}h")
        } else {
            format!("{d}d")
        }
    } else if h > 0 {
        if m > 0 {
            format!("{h}h {m}m")
        } else {
            format!("{h}h")
        }
    } else if m > 0 {
        if sec > 0 {
            format!("{m}m {sec}s")
        } else {
            format!("{m}m")
        }
    } else {
        format!("{sec}s")
    };
    format!("{sign}{text}")
}

/// `2,400,000`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `2026-12-26 17:21:00Z`: UTC to the second, the form every table uses.
pub fn utc(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

pub use crate::incident::mark_label;

/// Serialize a time as a [`Timestamp`] serializes itself (its `Display` text), the text of the
/// last time made on this thread kept: a large timeline's rows share their millisecond by the
/// hundred, and each row has two times.
pub fn serialize_recent<S: serde::Serializer>(at: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    thread_local! {
        static RECENT: std::cell::RefCell<Option<(Timestamp, String)>> =
            const { std::cell::RefCell::new(None) };
    }
    RECENT.with_borrow_mut(|recent| {
        if recent.as_ref().is_none_or(|(time, _)| time != at) {
            *recent = Some((*at, at.to_string()));
        }
        s.serialize_str(recent.as_ref().map_or("", |(_, text)| text))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_split_days_and_sign() {
        assert_eq!(offset_label(0), "T+00:00:00");
        assert_eq!(offset_label(843_000), "T+00:14:03");
        assert_eq!(
            offset_label(2 * 86_400_000 + 3 * 3_600_000),
            "T+2d 03:00:00"
        );
        assert_eq!(offset_label(-(22 * 86_400_000 + 60_000)), "T-22d 00:01:00");
        assert_eq!(offset_label(-999), "T-00:00:00");
    }

    #[test]
    fn durations_use_two_largest_units() {
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(39 * 60), "39m");
        assert_eq!(human_duration(2 * 3600 + 14 * 60 + 5), "2h 14m");
        assert_eq!(human_duration(22 * 86_400 + 3 * 3600), "22d 3h");
        assert_eq!(human_duration(-3600), "-1h");
        assert_eq!(human_duration(3 * 86_400), "3d");
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(2_400_000), "2,400,000");
    }
}
