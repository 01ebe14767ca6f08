//! The text an attempt is stored as in its participant's hash, and carried as in its stream
//! entry: the one place in Rust that writes and reads it.
//!
//! Attempt `n`'s fields (the scripts write them; `lua/attempt_prelude.lua` lists them too):
//! - `n:t`, times: `day,started,deadline,accepts_until` (day number; instants in Unix ms);
//! - `n:q`, questions: `id/order` joined by `,` in display order, `order` one digit per option
//!   giving the bank's option index shown at that position (`order[shown] = original`);
//! - `n:k`, key, and `n:a`, answers: one character per question, `'0'` plus a bit set over
//!   display positions (bit 0 is the option shown first); an answer of `'0'` is unanswered;
//! - `n:v`, kinds: two characters per question, the kind (`s`, `m`, `t`) and the option count;
//! - `n:r`, result once final: `points,correct,finished,time_used,auto`.
//!
//! The questions, key and answers travel unchanged in the attempt's stream entry (see
//! [`crate::streams`]), so [`EncodedQuestions`] decodes both. It knows nothing of Redis commands.

use safequiz_domain::bank::{Choices, MAX_OPTIONS, QuestionKind};
use safequiz_domain::draw::OptionOrder;

use super::AttemptResult;

/// The character that stores a set of options: `'0'` plus its bits.
pub(crate) fn encode_choices(choices: Choices) -> char {
    char::from(b'0' + choices.bits())
}

fn decode_choices(byte: u8) -> Choices {
    Choices::from_bits(byte.wrapping_sub(b'0'))
}

/// Answers as stored (`n:a`): one character per question.
#[cfg(test)]
pub(crate) fn encode_answers(answers: &[Choices]) -> String {
    answers.iter().copied().map(encode_choices).collect()
}

/// Appends one question, `id/order`, to the questions text (`n:q`).
pub(crate) fn push_question(questions: &mut String, id: &str, order: OptionOrder) {
    if !questions.is_empty() {
        questions.push(',');
    }
    questions.push_str(id);
    questions.push('/');
    for &original in order.as_slice() {
        questions.push(char::from(b'0' + original));
    }
}

/// Appends one question's kind and option count to the kinds text (`n:v`).
pub(crate) fn push_kind(kinds: &mut String, kind: QuestionKind, options: usize) {
    kinds.push(match kind {
        QuestionKind::Single => 's',
        QuestionKind::Multiple => 'm',
        QuestionKind::TrueFalse => 't',
    });
    kinds.push(char::from(b'0' + options as u8));
}

/// An attempt's times as stored (`n:t`): day number, start, deadline, accepts-until.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Times {
    pub(crate) day: i32,
    pub(crate) started_ms: i64,
    pub(crate) deadline_ms: i64,
    pub(crate) accepts_until_ms: i64,
}

impl Times {
    /// `day,started,deadline,accepts_until`.
    #[cfg(test)]
    pub(crate) fn encode(&self) -> String {
        format!(
            "{},{},{},{}",
            self.day, self.started_ms, self.deadline_ms, self.accepts_until_ms
        )
    }

    /// Reads what [`Times::encode`] wrote.
    pub(crate) fn parse(text: &str) -> Option<Times> {
        let mut fields = text.split(',');
        let mut next = || fields.next().and_then(|field| field.parse::<i64>().ok());
        let times = Times {
            day: i32::try_from(next()?).ok()?,
            started_ms: next()?,
            deadline_ms: next()?,
            accepts_until_ms: next()?,
        };
        Some(times)
    }
}

impl AttemptResult {
    /// The result as stored (`n:r`): `points,correct,finished,time_used,auto`.
    #[cfg(test)]
    pub(crate) fn encode(&self) -> String {
        format!(
            "{},{},{},{},{}",
            self.points,
            self.correct,
            self.finished_ms,
            self.time_used_ms,
            u8::from(self.auto_submitted)
        )
    }

    /// Reads what [`AttemptResult::encode`] (or finalize) wrote.
    pub(crate) fn parse(text: &str) -> Option<AttemptResult> {
        let mut fields = text.split(',').map(str::parse::<i64>);
        let mut next = || fields.next()?.ok();
        let result = AttemptResult {
            points: u32::try_from(next()?).ok()?,
            correct: u32::try_from(next()?).ok()?,
            finished_ms: next()?,
            time_used_ms: next()?,
            auto_submitted: next()? == 1,
        };
        fields.next().is_none().then_some(result)
    }
}

/// One drawn question of a stored attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredQuestion<'a> {
    /// The question's id in the banks.
    pub id: &'a str,
    /// The display order of its options.
    pub order: OptionOrder,
    /// What the participant chose, over display positions.
    pub answer: Choices,
    /// The correct options over display positions; `None` until the attempt is final.
    pub key: Option<Choices>,
}

/// One question of a finalized attempt, its key known: what its stream entry carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FinalQuestion<'a> {
    /// The question's id in the banks.
    pub id: &'a str,
    /// The display order of its options.
    pub order: OptionOrder,
    /// The correct options, over display positions.
    pub key: Choices,
    /// What the participant chose, over display positions; empty when unanswered.
    pub chosen: Choices,
}

/// An attempt's questions, key and answers as stored, not yet decoded.
#[derive(Clone, Copy, Debug)]
pub struct EncodedQuestions<'a> {
    questions: &'a str,
    key: &'a str,
    answers: &'a str,
}

impl<'a> EncodedQuestions<'a> {
    /// The texts of `n:q`, `n:k` (empty until final) and `n:a`.
    pub fn new(questions: &'a str, key: &'a str, answers: &'a str) -> EncodedQuestions<'a> {
        EncodedQuestions {
            questions,
            key,
            answers,
        }
    }

    /// The questions in display order; `None` for one that does not decode (written by another
    /// version) or has no answer character.
    pub fn decode(self) -> impl Iterator<Item = Option<StoredQuestion<'a>>> + 'a {
        let (answers, key) = (self.answers.as_bytes(), self.key.as_bytes());
        self.questions
            .split(',')
            .enumerate()
            .map(move |(index, entry)| {
                let (id, order) = entry.split_once('/')?;
                Some(StoredQuestion {
                    id,
                    order: decode_order(order)?,
                    answer: decode_choices(*answers.get(index)?),
                    key: key.get(index).map(|&byte| decode_choices(byte)),
                })
            })
    }

    /// The questions of a final attempt with their keys; `None` when one does not decode or
    /// its key or answer is missing.
    pub fn decode_final(self) -> Option<Vec<FinalQuestion<'a>>> {
        self.decode()
            .map(|question| {
                let question = question?;
                Some(FinalQuestion {
                    id: question.id,
                    order: question.order,
                    key: question.key?,
                    chosen: question.answer,
                })
            })
            .collect()
    }
}

/// An option order from its digits, when they are a permutation.
fn decode_order(digits: &str) -> Option<OptionOrder> {
    let digits = digits.as_bytes();
    if digits.len() > MAX_OPTIONS {
        return None;
    }
    let mut order = [0u8; MAX_OPTIONS];
    for (slot, byte) in order.iter_mut().zip(digits) {
        *slot = byte.wrapping_sub(b'0');
    }
    OptionOrder::from_slice(&order[..digits.len()])
}
