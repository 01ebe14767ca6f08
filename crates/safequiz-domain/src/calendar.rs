//! Calendar days in a campaign's time zone.
//!
//! "Once a day" means once per calendar day where the campaign runs (Asia/Shanghai for the national
//! competition), whatever zone the server or the phone is in. Callers pass the instant; nothing
//! here reads the clock.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// The calendar day `at` falls on in `tz`.
pub fn day_of(at: Timestamp, tz: &TimeZone) -> Date {
    at.to_zoned(tz.clone()).date()
}

/// The first instant of the calendar day after the one `at` falls on, in `tz`: when the next
/// day's attempts become possible.
///
/// Uses the zone's rules for that day, so a day that starts at 01:00 because of a daylight saving
/// change still gets its true first instant.
pub fn start_of_next_day(at: Timestamp, tz: &TimeZone) -> Timestamp {
    let today = day_of(at, tz);
    match today
        .tomorrow()
        .and_then(|tomorrow| tomorrow.to_zoned(tz.clone()))
    {
        Ok(start) => start.timestamp(),
        // Only the last representable day has no tomorrow; nothing after it exists.
        Err(_) => Timestamp::MAX,
    }
}

/// The first instant of calendar day `day` in `tz`.
pub fn start_of_day(day: Date, tz: &TimeZone) -> Timestamp {
    day.to_zoned(tz.clone())
        .map(|start: Zoned| start.timestamp())
        .unwrap_or(Timestamp::MAX)
}

/// A compact number for calendar day `day`: days since 1970-01-01 (negative before).
///
/// Redis keys and SQL rows carry it instead of a date string.
pub fn day_number(day: Date) -> i32 {
    let epoch = Date::constant(1970, 1, 1);
    // A civil date's distance in days to the epoch always fits in i32 (±~3.6 million days).
    (day - epoch).get_days()
}

#[cfg(test)]
mod tests;
