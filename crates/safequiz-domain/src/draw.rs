//! The random draw of an attempt's questions and the shuffle of their options.
//!
//! Rules (docs/design.md §3.5): no question twice in one attempt; per-category quotas of the
//! campaign's draw plan are met exactly, and the remaining places are drawn from the categories the
//! plan does not name; question order and each question's option order are shuffled per attempt.
//! True/false options keep their order (正确 before 错误), as people expect. The caller passes the
//! random number generator, so tests replay draws from a seed.

use std::collections::HashMap;

use rand::Rng;
use rand::seq::SliceRandom;
use serde_json::value::RawValue;

use crate::bank::{Choices, MAX_OPTIONS, Question, QuestionKind};

/// The questions a campaign draws from, grouped for the draw.
#[derive(Clone, Debug, Default)]
pub struct QuestionPool {
    questions: Vec<Question>,
    /// For each quota of the plan, the pool indices of that category's questions.
    quota_members: Vec<Vec<u32>>,
    /// Pool indices of the questions whose category has no quota.
    free_members: Vec<u32>,
    /// Pool index by question id, for attempts that name their questions by id.
    by_id: HashMap<String, u32>,
    /// Each question's texts as JSON, by pool index.
    texts: Vec<QuestionTexts>,
}

/// A question's texts as JSON string literals (quotes and escapes included), escaped once when
/// the pool is built. An attempt's answers carry them: a start's stems and options, a submit's
/// review with explanations and sources. Copying them costs a fraction of escaping every
/// character of every text on every request, which `serde_json`'s escaping did (3.5% of the
/// service's CPU at the load kit's ceiling, docs/performance.md).
#[derive(Clone, Debug)]
pub struct QuestionTexts {
    /// The question text.
    pub stem: Box<RawValue>,
    /// Option texts in key order.
    pub options: Vec<Box<RawValue>>,
    /// Why the answer is right.
    pub explanation: Box<RawValue>,
    /// The law, regulation or standard the answer rests on.
    pub source: Box<RawValue>,
}

impl QuestionTexts {
    /// The texts of `question`, escaped.
    pub fn of(question: &Question) -> QuestionTexts {
        QuestionTexts {
            stem: literal(&question.stem),
            options: question.options.iter().map(|text| literal(text)).collect(),
            explanation: literal(&question.explanation),
            source: literal(&question.source),
        }
    }
}

/// `text` as a JSON string literal.
fn literal(text: &str) -> Box<RawValue> {
    // Serializing a string cannot fail, and its output is valid JSON; the fallback is never
    // taken.
    serde_json::value::to_raw_value(text).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// How many questions an attempt has and how many must come from given categories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrawPlan {
    /// Questions per attempt.
    pub questions_per_attempt: usize,
    /// `(category id, exact count)`; the rest come from categories not listed here.
    pub quotas: Vec<(String, usize)>,
}

/// Why a pool cannot serve a plan.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DrawError {
    /// A category has fewer questions than its quota.
    #[error("category `{category}` has {available} questions; its quota is {quota}")]
    QuotaTooLarge {
        /// The category.
        category: String,
        /// Questions of the category in the pool.
        available: usize,
        /// The quota.
        quota: usize,
    },
    /// The quotas together ask for more questions than an attempt has.
    #[error(
        "quotas add up to {quotas}, more than the {questions_per_attempt} questions of an attempt"
    )]
    QuotasExceedAttempt {
        /// Sum of quotas.
        quotas: usize,
        /// Questions per attempt.
        questions_per_attempt: usize,
    },
    /// Too few questions outside the quota categories to fill the remaining places.
    #[error(
        "{needed} questions must come from categories without a quota, but the banks have {available}"
    )]
    TooFewFree {
        /// Places left after the quotas.
        needed: usize,
        /// Questions in categories without a quota.
        available: usize,
    },
}

impl QuestionPool {
    /// Groups `questions` for `plan`, failing when they cannot fill an attempt.
    pub fn new(questions: Vec<Question>, plan: &DrawPlan) -> Result<QuestionPool, DrawError> {
        let quota_sum: usize = plan.quotas.iter().map(|(_, count)| count).sum();
        if quota_sum > plan.questions_per_attempt {
            return Err(DrawError::QuotasExceedAttempt {
                quotas: quota_sum,
                questions_per_attempt: plan.questions_per_attempt,
            });
        }
        let mut quota_members = vec![Vec::new(); plan.quotas.len()];
        let mut free_members = Vec::new();
        for (index, question) in questions.iter().enumerate() {
            // Pool sizes are bounded by the banks, far below u32::MAX.
            let index = index as u32;
            match plan
                .quotas
                .iter()
                .position(|(category, _)| *category == question.category)
            {
                Some(quota) => quota_members[quota].push(index),
                None => free_members.push(index),
            }
        }
        for ((category, quota), members) in plan.quotas.iter().zip(&quota_members) {
            if members.len() < *quota {
                return Err(DrawError::QuotaTooLarge {
                    category: category.clone(),
                    available: members.len(),
                    quota: *quota,
                });
            }
        }
        let needed = plan.questions_per_attempt - quota_sum;
        if free_members.len() < needed {
            return Err(DrawError::TooFewFree {
                needed,
                available: free_members.len(),
            });
        }
        let by_id = questions
            .iter()
            .enumerate()
            .map(|(index, question)| (question.id.clone(), index as u32))
            .collect();
        let texts = questions.iter().map(QuestionTexts::of).collect();
        Ok(QuestionPool {
            questions,
            quota_members,
            free_members,
            by_id,
            texts,
        })
    }

    /// The question at pool index `index`.
    pub fn get(&self, index: u32) -> Option<&Question> {
        self.questions.get(index as usize)
    }

    /// Every question, by pool index.
    pub fn questions(&self) -> &[Question] {
        &self.questions
    }

    /// The pool index of the question with id `id`.
    pub fn position(&self, id: &str) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    /// The question with id `id`.
    pub fn find(&self, id: &str) -> Option<&Question> {
        self.position(id).and_then(|index| self.get(index))
    }

    /// The question with id `id` and its texts as JSON.
    pub fn find_with_texts(&self, id: &str) -> Option<(&Question, &QuestionTexts)> {
        let index = self.position(id)? as usize;
        Some((self.questions.get(index)?, self.texts.get(index)?))
    }
}

/// The order in which a drawn question's options are shown: `order[shown] = original index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OptionOrder {
    order: [u8; MAX_OPTIONS],
    len: u8,
}

impl OptionOrder {
    /// The identity order for `len` options.
    pub fn identity(len: usize) -> OptionOrder {
        let len = len.min(MAX_OPTIONS);
        let mut order = [0; MAX_OPTIONS];
        for (shown, slot) in order.iter_mut().enumerate().take(len) {
            *slot = shown as u8;
        }
        OptionOrder {
            order,
            len: len as u8,
        }
    }

    /// The order `order` (original option indices in display order), when it is a permutation
    /// of `0..order.len()` with at most [`MAX_OPTIONS`] options.
    pub fn from_slice(order: &[u8]) -> Option<OptionOrder> {
        if order.len() > MAX_OPTIONS {
            return None;
        }
        let mut seen = 0u8;
        let mut stored = [0; MAX_OPTIONS];
        for (slot, &original) in stored.iter_mut().zip(order) {
            if usize::from(original) >= order.len() || seen & (1 << original) != 0 {
                return None;
            }
            seen |= 1 << original;
            *slot = original;
        }
        Some(OptionOrder {
            order: stored,
            len: order.len() as u8,
        })
    }

    /// Original option indices in display order.
    pub fn as_slice(&self) -> &[u8] {
        &self.order[..usize::from(self.len)]
    }

    /// `original` (a set over the bank's option order) as a set over display positions.
    pub fn shown(&self, original: Choices) -> Choices {
        self.as_slice()
            .iter()
            .enumerate()
            .filter(|&(_, &from)| original.contains(usize::from(from)))
            .fold(Choices::NONE, |set, (shown, _)| set.with(shown))
    }

    /// `shown` (a set over display positions) as a set over the bank's option order.
    pub fn original(&self, shown: Choices) -> Choices {
        self.as_slice()
            .iter()
            .enumerate()
            .filter(|&(position, _)| shown.contains(position))
            .fold(Choices::NONE, |set, (_, &from)| set.with(usize::from(from)))
    }
}

/// One drawn question: which question, and in what order its options are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Drawn {
    /// The question's pool index.
    pub question: u32,
    /// Display order of its options.
    pub options: OptionOrder,
}

/// Draws `plan.questions_per_attempt` distinct questions from `pool` in random order, each with a
/// random option order.
///
/// The pool was built for `plan` ([`QuestionPool::new`]), so the draw cannot run short.
pub fn draw<R: Rng + ?Sized>(pool: &QuestionPool, plan: &DrawPlan, rng: &mut R) -> Vec<Drawn> {
    let mut picked: Vec<u32> = Vec::with_capacity(plan.questions_per_attempt);
    let quota_sum: usize = plan.quotas.iter().map(|(_, count)| count).sum();
    for ((_, count), members) in plan.quotas.iter().zip(&pool.quota_members) {
        pick_distinct(members, *count, rng, &mut picked);
    }
    pick_distinct(
        &pool.free_members,
        plan.questions_per_attempt.saturating_sub(quota_sum),
        rng,
        &mut picked,
    );
    picked.shuffle(rng);
    picked
        .into_iter()
        .map(|question| {
            let q = &pool.questions[question as usize];
            let mut options = OptionOrder::identity(q.options.len());
            if q.kind != QuestionKind::TrueFalse {
                options.order[..usize::from(options.len)].shuffle(rng);
            }
            Drawn { question, options }
        })
        .collect()
}

/// Appends `count` distinct members (or all of them, if fewer) to `out`.
fn pick_distinct<R: Rng + ?Sized>(members: &[u32], count: usize, rng: &mut R, out: &mut Vec<u32>) {
    let count = count.min(members.len());
    for index in rand::seq::index::sample(rng, members.len(), count) {
        out.push(members[index]);
    }
}

#[cfg(test)]
mod tests;
