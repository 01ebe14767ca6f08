//! The rules of safequiz, free of I/O.
//!
//! This crate decides; it never reads files, the clock, Redis or SQL. Callers pass text they read,
//! the current instant and a random number generator, and get back decisions and typed errors.
//!
//! Dependency rule: `safequiz-domain` depends on no other safequiz crate; every other crate may
//! depend on it.
//!
//! Types to read first:
//! - [`campaign::Campaign`]: one competition's rules, pool of questions and unit tree.
//! - [`bank::Question`] and [`bank::Choices`]: the question model and a set of chosen options.
//! - [`draw::draw`]: the random draw of an attempt's questions.
//! - [`units::UnitTree`]: regions and enterprises, with cheap ancestor walks for roll-ups.
//! - [`score`] and [`board`]: how an attempt scores, and how totals place a participant on the
//!   boards (the order and its encoding for Redis).
//! - [`scope::Scope`]: the whole campaign or one unit's subtree, as organizers and reports see it.
//! - [`calendar`]: which calendar day an instant falls on in the campaign's time zone.
//! - [`prizes`]: the auditable prize draw (SHA-256 seed and stream, the published rules).
//! - [`organization`]: self-registered organizations (统一社会信用代码, pinyin initials) and the
//!   unit ids of organizations and 五进 groups, whose paths need no lookup.

pub mod bank;
pub mod board;
pub mod calendar;
pub mod campaign;
pub mod certificate;
pub mod draw;
pub mod encoding;
pub mod organization;
pub mod participant;
pub mod prizes;
pub mod scope;
pub mod score;
pub mod units;
