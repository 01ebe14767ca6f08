//! Observations as the service replicas hand them to the fair-play worker: packed lines of
//! text, one observation a line, appended to a byte buffer as requests happen and shipped as
//! one Redis stream entry a second (`safequiz_redis::observations`; docs/fair-play.md).
//!
//! A line is nine tab-separated values, in the order of [`Observation`]'s fields:
//! `campaign_id`, `participant_id`, `unit_id`, `kind`, `at_ms`, `attempt`, `device`, `net`,
//! `page`, then `\n`. No value can hold a tab or a newline: campaign and unit ids come from the
//! validated configuration, a device token is `A-Za-z0-9_-` (checked before it is written), a
//! network is written by the service, and the rest are numbers. Appending a line allocates
//! nothing once the buffer has grown to a second's worth of lines.

use std::fmt::Display;
use std::io::Write;

use super::{Kind, Observation};

/// One observation, borrowed from the request that made it; `net` is written with its
/// `Display`, so the service never builds its text on its own.
pub struct Line<'a, N: Display> {
    /// The campaign.
    pub campaign_id: &'a str,
    /// The participant.
    pub participant_id: i64,
    /// Their unit.
    pub unit_id: &'a str,
    /// What the request was.
    pub kind: Kind,
    /// When, Unix ms.
    pub at_ms: i64,
    /// The attempt's number (0 for a registration).
    pub attempt: i32,
    /// The page's device token (checked), '' when none was sent.
    pub device: &'a str,
    /// The client's network.
    pub net: N,
    /// Whether the request carried a valid page-load token.
    pub page: bool,
}

impl<N: Display> Line<'_, N> {
    /// Appends this line to `buffer`.
    pub fn append_to(&self, buffer: &mut Vec<u8>) {
        // Writing into a `Vec<u8>` cannot fail.
        let _ = writeln!(
            buffer,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            self.campaign_id,
            self.participant_id,
            self.unit_id,
            self.kind as i32,
            self.at_ms,
            self.attempt,
            self.device,
            self.net,
            u8::from(self.page),
        );
    }
}

/// The observations of a shipped buffer, and how many of its lines were malformed (skipped: an
/// observation only ever strengthens a signal, so a bad line is dropped, not retried).
pub fn read(text: &str) -> (Vec<Observation>, usize) {
    let mut observations = Vec::with_capacity(text.len() / 80);
    let mut malformed = 0;
    for line in text.lines().filter(|line| !line.is_empty()) {
        match parse(line) {
            Some(observation) => observations.push(observation),
            None => malformed += 1,
        }
    }
    (observations, malformed)
}

fn parse(line: &str) -> Option<Observation> {
    let mut values = line.split('\t');
    let mut next = || values.next();
    let observation = Observation {
        campaign_id: next()?.to_owned(),
        participant_id: next()?.parse().ok()?,
        unit_id: next()?.to_owned(),
        kind: next()?.parse().ok().filter(|k| (0..=3).contains(k))?,
        at_ms: next()?.parse().ok()?,
        attempt: next()?.parse().ok()?,
        device: next()?.to_owned(),
        net: next()?.to_owned(),
        page: next()?.parse().ok().filter(|p| *p == 0 || *p == 1)?,
    };
    (next().is_none() && !observation.campaign_id.is_empty()).then_some(observation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_back_as_the_observations_written_and_bad_lines_are_skipped() {
        let mut buffer = Vec::new();
        Line {
            campaign_id: "water",
            participant_id: 42,
            unit_id: "110101",
            kind: Kind::Start,
            at_ms: 1_700_000_000_123,
            attempt: 3,
            device: "abcdefghijklmnop",
            net: format_args!("{}.{}.{}.0/24", 10, 1, 2),
            page: true,
        }
        .append_to(&mut buffer);
        Line {
            campaign_id: "water",
            participant_id: 7,
            unit_id: "org-9",
            kind: Kind::Register,
            at_ms: 5,
            attempt: 0,
            device: "",
            net: "unknown",
            page: false,
        }
        .append_to(&mut buffer);
        let mut text = String::from_utf8(buffer).expect("text");
        text.push_str("water\tnot a number\t1\t1\t1\t1\t\tn\t0\n");
        text.push_str("water\t1\t1\t9\t1\t1\t\tn\t0\n");
        text.push_str("water\t1\t1\t1\t1\t1\t\tn\t0\textra\n");
        text.push_str("water\t1\t1\t1\n");
        let (observations, malformed) = read(&text);
        assert_eq!(
            malformed, 4,
            "a bad number, a bad kind, a value too many, too few"
        );
        assert_eq!(
            observations,
            vec![
                Observation {
                    campaign_id: "water".to_owned(),
                    participant_id: 42,
                    unit_id: "110101".to_owned(),
                    kind: Kind::Start as i32,
                    at_ms: 1_700_000_000_123,
                    attempt: 3,
                    device: "abcdefghijklmnop".to_owned(),
                    net: "10.1.2.0/24".to_owned(),
                    page: 1,
                },
                Observation {
                    campaign_id: "water".to_owned(),
                    participant_id: 7,
                    unit_id: "org-9".to_owned(),
                    kind: Kind::Register as i32,
                    at_ms: 5,
                    attempt: 0,
                    device: String::new(),
                    net: "unknown".to_owned(),
                    page: 0,
                },
            ]
        );
    }
}
