//! Study-hour certificates (学时证明, issue 18): who may download one, and when.
//!
//! A campaign with a `[certificate]` table grants a certificate of `hours` study hours to every
//! participant whose counted score (their totals' points under the campaign's `counted` policy,
//! [`crate::score::Scoring::count`]) is at least `min_score`. It can be downloaded from the
//! campaign's close (when scores are final) for `available_days` days (docs/design.md §3.9).
//! The serial and the PDF are the server's; this module only decides.

use jiff::{SignedDuration, Timestamp};

/// A campaign's `[certificate]`, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Certificate {
    /// The counted score at or above which a participant earns one.
    pub min_score: u32,
    /// The study hours it certifies.
    pub hours: u32,
    /// Days after the close during which it can be downloaded.
    pub available_days: u32,
}

/// Why a certificate is not given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The campaign has not closed yet: scores may still change.
    NotYetAvailable,
    /// The download window has ended.
    Expired,
    /// The counted score is below the threshold.
    BelowThreshold,
}

impl Certificate {
    /// The download window: from `closes_at` (inclusive) to `available_days` days later
    /// (exclusive).
    pub fn window(&self, closes_at: Timestamp) -> (Timestamp, Timestamp) {
        let days = SignedDuration::from_hours(24 * i64::from(self.available_days));
        (
            closes_at,
            closes_at.saturating_add(days).unwrap_or(Timestamp::MAX),
        )
    }

    /// Whether a participant with counted score `points` may download a certificate at `now`
    /// for a campaign that closes at `closes_at`; the window is checked first, so nobody learns
    /// a threshold result before the close.
    pub fn decide(&self, closes_at: Timestamp, now: Timestamp, points: i64) -> Result<(), Refusal> {
        let (from, until) = self.window(closes_at);
        if now < from {
            return Err(Refusal::NotYetAvailable);
        }
        if now >= until {
            return Err(Refusal::Expired);
        }
        if points < i64::from(self.min_score) {
            return Err(Refusal::BelowThreshold);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_edges_and_threshold() {
        let certificate = Certificate {
            min_score: 85,
            hours: 4,
            available_days: 15,
        };
        let closes: Timestamp = "2026-07-01T00:00:00+08:00".parse().unwrap();
        let ms = |delta: i64| Timestamp::from_millisecond(closes.as_millisecond() + delta).unwrap();
        let day = 86_400_000;
        let cases = [
            (
                -1,
                100,
                Err(Refusal::NotYetAvailable),
                "a millisecond before the close",
            ),
            (0, 85, Ok(()), "at the close, exactly the threshold"),
            (0, 84, Err(Refusal::BelowThreshold), "one point short"),
            (15 * day - 1, 100, Ok(()), "the window's last millisecond"),
            (
                15 * day,
                100,
                Err(Refusal::Expired),
                "15 days after the close",
            ),
            (
                16 * day,
                10,
                Err(Refusal::Expired),
                "late and below: the window is told",
            ),
        ];
        for (delta, points, expected, why) in cases {
            assert_eq!(
                certificate.decide(closes, ms(delta), points),
                expected,
                "{why}"
            );
        }
    }
}
