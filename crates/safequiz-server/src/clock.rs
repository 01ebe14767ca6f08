//! The one clock of the service.
//!
//! The server's clock decides every deadline (docs/design.md §2.2). Handlers and workers read time
//! only through a [`Clock`] held in the application state, so tests can move time (day boundaries,
//! deadlines) without sleeping.
//!
//! The load kit plays campaign days without waiting for them: `clock.offset_secs` (test only;
//! production refuses it, see `config`) makes the system clock run that many seconds ahead, so a
//! service restarted with one more day of offset serves the next campaign day.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};

/// A source of the current instant; cheap to clone, shared by all tasks.
#[derive(Clone, Debug)]
pub struct Clock(Arc<Source>);

#[derive(Debug)]
enum Source {
    System,
    /// The system clock plus a fixed offset, in microseconds (`clock.offset_secs`, test only).
    Offset(i64),
    /// Microseconds since the Unix epoch, moved only by the test that owns it.
    Manual(AtomicI64),
}

impl Clock {
    /// The system clock; what `safequiz serve` uses.
    pub fn system() -> Clock {
        Clock(Arc::new(Source::System))
    }

    /// The system clock `offset_secs` seconds ahead (behind, when negative); the system clock
    /// itself for 0. Only the load kit sets an offset, to play campaign days.
    pub fn system_with_offset(offset_secs: i64) -> Clock {
        if offset_secs == 0 {
            return Clock::system();
        }
        Clock(Arc::new(Source::Offset(
            offset_secs.saturating_mul(1_000_000),
        )))
    }

    /// A clock that stands at `at` until [`Clock::set`] or [`Clock::advance`] moves it.
    pub fn manual(at: Timestamp) -> Clock {
        Clock(Arc::new(Source::Manual(AtomicI64::new(
            at.as_microsecond(),
        ))))
    }

    /// The current instant.
    pub fn now(&self) -> Timestamp {
        match &*self.0 {
            Source::System => Timestamp::now(),
            Source::Offset(micros) => Timestamp::from_microsecond(
                Timestamp::now().as_microsecond().saturating_add(*micros),
            )
            .unwrap_or(Timestamp::MAX),
            Source::Manual(micros) => Timestamp::from_microsecond(micros.load(Ordering::SeqCst))
                .unwrap_or(Timestamp::UNIX_EPOCH),
        }
    }

    /// Moves a manual clock to `at`; the system clock (with or without offset) ignores it.
    pub fn set(&self, at: Timestamp) {
        if let Source::Manual(micros) = &*self.0 {
            micros.store(at.as_microsecond(), Ordering::SeqCst);
        }
    }

    /// Moves a manual clock forward by `by`; the system clock ignores it.
    pub fn advance(&self, by: SignedDuration) {
        if let Source::Manual(micros) = &*self.0 {
            let by_micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
            micros.fetch_add(by_micros, Ordering::SeqCst);
        }
    }
}
