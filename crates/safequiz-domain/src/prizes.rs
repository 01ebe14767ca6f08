//! Prize draws anyone can audit (docs/prizes.md).
//!
//! The input is the frozen eligible list (every participant with at least one final attempt, in
//! the individual ranking's published order, [`crate::board::Placing`]), the campaign's prize
//! rules in file order, and a seed; the output is the winners of each prize. Nothing here reads a
//! clock or a random source: the same list, rules and seed give the same winners on any machine,
//! which is what `safequiz prizes verify` relies on.
//!
//! # The seed and the random stream
//!
//! - The list file is the CSV [`EligibleList::to_csv`] writes; its digest is SHA-256 of the file's
//!   bytes.
//! - `seed = SHA-256("safequiz-prizes-v1" ‖ field(campaign id) ‖ field(public value) ‖
//!   field(list digest, 32 bytes))`, where `field(x)` is the length of `x` as 8 bytes big-endian
//!   followed by `x`'s bytes (UTF-8 for text), so no two inputs give the same bytes.
//! - The stream is the concatenation of `SHA-256(seed ‖ counter)` blocks, `counter` = 0, 1, 2, …
//!   as 8 bytes big-endian; it is read as big-endian `u64`s, four per block.
//! - A number below `n` is the next `u64` `x` with `x < n × ⌊(2^64 − 1) / n⌋`, taken modulo `n`;
//!   larger values are skipped (rejection sampling), so every number below `n` is equally likely.
//! - Drawing `k` of a group is the first `k` steps of a Fisher–Yates shuffle: for `i` in `0..k`,
//!   swap item `i` with item `i + below(len − i)`; the first `k` items win.
//!
//! One stream serves the whole draw, consumed prize by prize in file order and only where a rule
//! actually draws, so a draw is reproducible from (list, rules, seed) alone.
//!
//! # The rules
//!
//! Two participants are *tied* when their points, time used and last finish are all equal: the
//! board's last tie-break, the smaller participant id, orders them only so that a board is a total
//! order; it says nothing about merit, so where a prize boundary falls inside a tie, the draw
//! decides instead.
//!
//! - `full_marks_then_rank` (count `c`): the candidates with full marks (every final attempt with
//!   full marks) win if there are at most `c` of them; more, and `c` of them are drawn. Places
//!   left are filled from the other candidates in ranking order; a tie group straddling the last
//!   place is drawn from.
//! - `rank_tiers`: the tiers take the candidates in ranking order, the first tier its count first;
//!   a tie group straddling a tier's boundary is drawn from: those drawn take the better tier and
//!   the rest of the group stays first in line for the next tier. Drawing, rather than giving
//!   everyone tied the better tier, keeps every tier's count exactly as published.
//! - `lottery` (count `c`, `min_points`): the candidates with points strictly greater than
//!   `min_points` ("above 50" as published: 50 itself is not eligible) are eligible; at most `c`
//!   of them all win, else `c` are drawn.
//!
//! With `exclude_earlier_winners`, the winners of the prizes above in the file are not
//! candidates; without it, one participant may win several prizes (never one prize twice).

use std::fmt;

use sha2::{Digest, Sha256};

use crate::board::{BoardMember, BoardScore, Placing};

/// The header line of an eligible list file.
pub const LIST_HEADER: &str = "rank,participant_id,points,time_used_ms,last_finished_ms,full_marks";

/// The domain separation prefix of the seed; a new construction would get a new one.
const SEED_PREFIX: &[u8] = b"safequiz-prizes-v1";

/// One prize of a campaign, as its file validated it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prize {
    /// The prize's name, e.g. 个人优胜奖.
    pub name: String,
    /// How its winners are chosen.
    pub rule: PrizeRule,
    /// Whether winners of the prizes above in the file are left out.
    pub exclude_earlier_winners: bool,
}

/// How a prize's winners are chosen (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrizeRule {
    /// Full marks first (drawn if more than `count`), then by rank.
    FullMarksThenRank {
        /// Winners.
        count: u32,
    },
    /// Tiers in ranking order, the best tier first.
    RankTiers {
        /// The tiers, best first.
        tiers: Vec<Tier>,
    },
    /// A draw among those with more than `min_points`.
    Lottery {
        /// Winners.
        count: u32,
        /// Points a candidate must exceed (strictly) to be eligible.
        min_points: i64,
    },
}

/// One tier of a [`PrizeRule::RankTiers`] prize.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tier {
    /// What the tier's winners are awarded, e.g. 一等奖.
    pub name: String,
    /// Winners of this tier.
    pub count: u32,
}

impl Prize {
    /// Winners the prize has at most (fewer when there are fewer candidates).
    pub fn count(&self) -> u32 {
        match &self.rule {
            PrizeRule::FullMarksThenRank { count } | PrizeRule::Lottery { count, .. } => *count,
            PrizeRule::RankTiers { tiers } => tiers.iter().map(|tier| tier.count).sum(),
        }
    }
}

/// A participant on the eligible list: what places them, and whether they have full marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eligible {
    /// The participant.
    pub participant: u64,
    /// Points over all final attempts.
    pub points: i64,
    /// Time used over all final attempts, ms.
    pub time_used_ms: i64,
    /// When the last final attempt finished, Unix ms.
    pub last_finished_ms: i64,
    /// Whether every final attempt had full marks.
    pub full_marks: bool,
}

impl Eligible {
    /// The participant's place on the individual board.
    pub fn placing(&self) -> Placing {
        Placing {
            score: BoardScore {
                points: self.points,
                time_used_ms: self.time_used_ms,
            },
            member: BoardMember {
                last_finished_ms: self.last_finished_ms,
                participant: self.participant,
            },
        }
    }

    /// Whether `self` and `other` are tied: the same place but for the participant id.
    fn tied(&self, other: &Eligible) -> bool {
        let mut theirs = other.placing();
        theirs.member.participant = self.participant;
        self.placing() == theirs
    }
}

/// The frozen eligible list, in the published order (rank 1 first), each participant once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EligibleList(Vec<Eligible>);

/// Why an eligible list file is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// The first line is not [`LIST_HEADER`].
    #[error("the first line must be `{LIST_HEADER}`")]
    Header,
    /// A line does not have the six fields as numbers.
    #[error("line {line}: {problem}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
}

impl EligibleList {
    /// Puts `entries` in the published order; a participant listed twice is refused.
    pub fn new(mut entries: Vec<Eligible>) -> Result<EligibleList, ListError> {
        entries.sort_by_key(Eligible::placing);
        if let Some(pair) = entries
            .windows(2)
            .find(|pair| pair[0].participant == pair[1].participant)
        {
            return Err(ListError::Line {
                line: 0,
                problem: format!("participant {} is listed twice", pair[0].participant),
            });
        }
        Ok(EligibleList(entries))
    }

    /// The participants, rank 1 first.
    pub fn entries(&self) -> &[Eligible] {
        &self.0
    }

    /// The list file: [`LIST_HEADER`], then one line per participant with its 1-based rank,
    /// `\n` line ends, full marks as `1` or `0`. No names or phone numbers.
    pub fn to_csv(&self) -> String {
        let mut text = String::with_capacity(LIST_HEADER.len() + 1 + self.0.len() * 48);
        text.push_str(LIST_HEADER);
        text.push('\n');
        for (index, entry) in self.0.iter().enumerate() {
            text.push_str(&format!(
                "{},{},{},{},{},{}\n",
                index + 1,
                entry.participant,
                entry.points,
                entry.time_used_ms,
                entry.last_finished_ms,
                u8::from(entry.full_marks)
            ));
        }
        text
    }

    /// Reads a list file [`EligibleList::to_csv`] wrote, refusing any line out of the published
    /// order, a wrong rank, or a participant listed twice (an edited list fails here or on its
    /// digest).
    pub fn parse_csv(text: &str) -> Result<EligibleList, ListError> {
        let mut lines = text.lines();
        if lines.next() != Some(LIST_HEADER) {
            return Err(ListError::Header);
        }
        let mut entries: Vec<Eligible> = Vec::new();
        for (index, line) in lines.enumerate() {
            let number = index + 2;
            let bad = |problem: String| ListError::Line {
                line: number,
                problem,
            };
            let fields: Vec<&str> = line.split(',').collect();
            let [rank, participant, points, time, finish, full] = fields[..] else {
                return Err(bad(format!("{} fields, expected 6", fields.len())));
            };
            let number_of = |field: &str, name: &str| {
                field
                    .parse::<i64>()
                    .map_err(|_| bad(format!("{name} `{field}` is not a whole number")))
            };
            if number_of(rank, "rank")? != index as i64 + 1 {
                return Err(bad(format!("rank {rank}, expected {}", index + 1)));
            }
            let entry = Eligible {
                participant: participant
                    .parse()
                    .map_err(|_| bad(format!("participant id `{participant}` is not an id")))?,
                points: number_of(points, "points")?,
                time_used_ms: number_of(time, "time_used_ms")?,
                last_finished_ms: number_of(finish, "last_finished_ms")?,
                full_marks: match full {
                    "1" => true,
                    "0" => false,
                    other => return Err(bad(format!("full_marks `{other}` is not 0 or 1"))),
                },
            };
            if let Some(previous) = entries.last()
                && previous.placing() >= entry.placing()
            {
                return Err(bad(
                    "not after the line above in the published order".to_owned()
                ));
            }
            entries.push(entry);
        }
        Ok(EligibleList(entries))
    }
}

/// SHA-256 of a list file's bytes.
pub fn list_digest(file: &[u8]) -> [u8; 32] {
    Sha256::digest(file).into()
}

/// The seed of a draw (see the module documentation).
pub fn seed(campaign: &str, public_value: &str, list_digest: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(SEED_PREFIX);
    for field in [campaign.as_bytes(), public_value.as_bytes(), list_digest] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field);
    }
    hasher.finalize().into()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The counter-mode SHA-256 stream of a seed (see the module documentation).
pub struct Stream {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl Stream {
    /// The stream of `seed`, from its first block.
    pub fn new(seed: [u8; 32]) -> Stream {
        Stream {
            seed,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    /// The next 8 bytes as a big-endian `u64`.
    pub fn next_u64(&mut self) -> u64 {
        if self.used == 32 {
            let mut hasher = Sha256::new();
            hasher.update(self.seed);
            hasher.update(self.counter.to_be_bytes());
            self.block = hasher.finalize().into();
            self.counter += 1;
            self.used = 0;
        }
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&self.block[self.used..self.used + 8]);
        self.used += 8;
        u64::from_be_bytes(bytes)
    }

    /// A number below `n` (> 0), each equally likely.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0) has no value");
        let zone = (u64::MAX / n) * n;
        loop {
            let value = self.next_u64();
            if value < zone {
                return value % n;
            }
        }
    }

    /// Moves `k` items drawn from `items` to its front (the first `k` steps of Fisher–Yates).
    pub fn choose<T>(&mut self, items: &mut [T], k: usize) {
        for i in 0..k.min(items.len()) {
            let j = i + self.below((items.len() - i) as u64) as usize;
            items.swap(i, j);
        }
    }
}

/// One winner of a prize.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Winner {
    /// The participant.
    pub participant: u64,
    /// Their rank on the eligible list (1-based).
    pub rank: u32,
    /// What they are awarded: the tier's name, or the prize's.
    pub award: String,
}

/// The winners of one prize, by award (tier order), then rank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrizeWinners {
    /// The prize's name.
    pub prize: String,
    /// Its winners.
    pub winners: Vec<Winner>,
}

impl fmt::Display for PrizeWinners {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} ({} winners)", self.prize, self.winners.len())?;
        for winner in &self.winners {
            writeln!(
                f,
                "  {}\trank {}\tparticipant {}",
                winner.award, winner.rank, winner.participant
            )?;
        }
        Ok(())
    }
}

/// Draws every prize in file order from `list` with the stream of `seed`.
pub fn draw(list: &EligibleList, prizes: &[Prize], seed: [u8; 32]) -> Vec<PrizeWinners> {
    let entries = list.entries();
    let mut stream = Stream::new(seed);
    let mut won = vec![false; entries.len()];
    let mut results = Vec::with_capacity(prizes.len());
    for prize in prizes {
        // Indices into the list, in ranking order.
        let candidates: Vec<usize> = (0..entries.len())
            .filter(|&index| !(prize.exclude_earlier_winners && won[index]))
            .collect();
        let mut awarded: Vec<(usize, String)> = Vec::new();
        match &prize.rule {
            PrizeRule::FullMarksThenRank { count } => {
                let count = *count as usize;
                let (mut full, rest): (Vec<usize>, Vec<usize>) = candidates
                    .iter()
                    .partition(|&&index| entries[index].full_marks);
                if full.len() > count {
                    stream.choose(&mut full, count);
                    full.truncate(count);
                }
                let room = count - full.len();
                full.extend(take_by_rank(entries, &rest, room, &mut stream));
                awarded.extend(full.into_iter().map(|index| (index, prize.name.clone())));
            }
            PrizeRule::RankTiers { tiers } => {
                let mut remaining = candidates;
                for tier in tiers {
                    let taken = take_by_rank(entries, &remaining, tier.count as usize, &mut stream);
                    remaining.retain(|index| !taken.contains(index));
                    awarded.extend(taken.into_iter().map(|index| (index, tier.name.clone())));
                }
            }
            PrizeRule::Lottery { count, min_points } => {
                let mut eligible: Vec<usize> = candidates
                    .into_iter()
                    .filter(|&index| entries[index].points > *min_points)
                    .collect();
                let count = (*count as usize).min(eligible.len());
                if eligible.len() > count {
                    stream.choose(&mut eligible, count);
                }
                eligible.truncate(count);
                awarded.extend(
                    eligible
                        .into_iter()
                        .map(|index| (index, prize.name.clone())),
                );
            }
        }
        // Sorted by tier (the order awarded pushed them, stable), then rank.
        let tier_of = |award: &str| match &prize.rule {
            PrizeRule::RankTiers { tiers } => tiers.iter().position(|tier| tier.name == award),
            _ => Some(0),
        };
        awarded.sort_by_key(|(index, award)| (tier_of(award), *index));
        for (index, _) in &awarded {
            won[*index] = true;
        }
        results.push(PrizeWinners {
            prize: prize.name.clone(),
            winners: awarded
                .into_iter()
                .map(|(index, award)| Winner {
                    participant: entries[index].participant,
                    rank: index as u32 + 1,
                    award,
                })
                .collect(),
        });
    }
    results
}

/// Up to `n` of `candidates` (indices in ranking order) by rank; a tie group straddling the
/// `n`-th place is drawn from.
fn take_by_rank(
    entries: &[Eligible],
    candidates: &[usize],
    n: usize,
    stream: &mut Stream,
) -> Vec<usize> {
    let mut taken = Vec::with_capacity(n.min(candidates.len()));
    let mut start = 0;
    while taken.len() < n && start < candidates.len() {
        let first = &entries[candidates[start]];
        let end = start
            + candidates[start..]
                .iter()
                .take_while(|&&index| entries[index].tied(first))
                .count();
        let group = &candidates[start..end];
        let room = n - taken.len();
        if group.len() <= room {
            taken.extend_from_slice(group);
        } else {
            let mut group = group.to_vec();
            stream.choose(&mut group, room);
            taken.extend_from_slice(&group[..room]);
        }
        start = end;
    }
    taken
}

#[cfg(test)]
mod tests;
