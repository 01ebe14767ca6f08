//! The scripted-crowd generators (issue 21, docs/fair-play.md): who does what when, as plain
//! data, shared by `safequiz-loadgen crowd` and the service's integration test
//! (`crates/safequiz-server/tests/it/fair_play.rs` includes this file), so both measure the same
//! crowd. No dependencies beyond std: a seeded xorshift makes every run the same.
//!
//! Three groups, as the issue describes them:
//! - **scripted**: accounts driven by one script on one device token from one address, without
//!   loading the page; registered in a burst just after midnight, all starting within the
//!   minute 00:05, answering with uniform 6-9 s pauses (the public 2023 scripts).
//! - **factory**: ordinary people behind one shared address (a factory's NAT), each on their
//!   own phone, loading the page, registering and starting at times spread over a morning
//!   (07:00-12:00), answering with human pauses.
//! - **scattered**: ordinary people each on their own device and network, over the whole day.
//! - **meeting**: a unit told "everyone answer now" at a 9:00 meeting: ordinary people behind
//!   one address, each on their own phone, loading the page, registering during the ten minutes
//!   before and all starting within the minute 09:00, answering with human pauses.

/// Which group a person belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    /// Scripted accounts.
    Scripted,
    /// Ordinary people behind one address.
    Factory,
    /// Ordinary people, each on their own.
    Scattered,
    /// Ordinary people behind one address, all starting in one minute.
    Meeting,
}

impl Group {
    /// Every group, in the order reports list them.
    pub const ALL: [Group; 4] = [
        Group::Scripted,
        Group::Factory,
        Group::Scattered,
        Group::Meeting,
    ];

    /// The group's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Group::Scripted => "scripted",
            Group::Factory => "factory",
            Group::Scattered => "scattered",
            Group::Meeting => "meeting",
        }
    }

    /// The most flagged share the issue allows (scripted: the least).
    pub fn target(self) -> f64 {
        match self {
            Group::Scripted => 0.95,
            Group::Factory | Group::Meeting => 0.01,
            Group::Scattered => 0.005,
        }
    }

    /// Whether `share` meets the group's target.
    pub fn meets(self, share: f64) -> bool {
        match self {
            Group::Scripted => share >= self.target(),
            _ => share <= self.target(),
        }
    }
}

/// One request of a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Registration.
    Register,
    /// Start of the attempt.
    Start,
    /// Saving the answer to question `n` (from 0).
    Save(usize),
    /// Submitting.
    Submit,
}

/// One person of the crowd.
#[derive(Clone, Debug)]
pub struct Person {
    /// Their group.
    pub group: Group,
    /// A mainland mobile number, unique in the crowd.
    pub phone: String,
    /// The device token their requests carry.
    pub device: String,
    /// The client address their requests come from.
    pub address: String,
    /// Whether they loaded the page (and so carry its page-load token).
    pub page: bool,
    /// Their requests: milliseconds after the day's midnight, in order.
    pub steps: Vec<(i64, Step)>,
}

/// A seeded xorshift64*: enough randomness for a plan, the same on every run.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[low, high)`.
    pub fn range(&mut self, low: i64, high: i64) -> i64 {
        low + (self.unit() * (high - low) as f64) as i64
    }

    /// A standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// A device token as the page makes one: 32 hex digits.
    pub fn device(&mut self) -> String {
        format!("{:016x}{:016x}", self.next(), self.next())
    }
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

/// A human pause before an answer: log-normal around 11 s, between 3 and 22 s.
fn human_gap(rng: &mut Rng) -> i64 {
    let seconds = (11.0f64.ln() + 0.5 * rng.normal()).exp().clamp(3.0, 22.0);
    (seconds * 1000.0) as i64
}

/// A script's pause: uniform 6-9 s.
fn script_gap(rng: &mut Rng) -> i64 {
    rng.range(6_000, 9_000)
}

/// The answers and the submit after a start at `start`, with pauses from `gap`.
fn answers(
    rng: &mut Rng,
    start: i64,
    questions: usize,
    gap: fn(&mut Rng) -> i64,
) -> Vec<(i64, Step)> {
    let mut at = start;
    let mut steps = vec![(start, Step::Start)];
    for n in 0..questions {
        at += gap(rng);
        steps.push((at, Step::Save(n)));
    }
    at += gap(rng);
    steps.push((at, Step::Submit));
    steps
}

/// How many people of each group a crowd has.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Scripted accounts.
    pub scripted: usize,
    /// People behind the factory's address.
    pub factory: usize,
    /// People each on their own.
    pub scattered: usize,
    /// People of the 9:00 meeting.
    pub meeting: usize,
}

/// The crowd of one day: the people of `sizes` answering `questions` questions each, phones
/// from `first_phone` on.
pub fn crowd(seed: u64, sizes: Sizes, questions: usize, first_phone: u64) -> Vec<Person> {
    let Sizes {
        scripted,
        factory,
        scattered,
        meeting,
    } = sizes;
    let mut rng = Rng::new(seed);
    let mut people = Vec::with_capacity(scripted + factory + scattered + meeting);
    let mut phone = first_phone;
    let mut next_phone = || {
        phone += 1;
        format!("1{phone:010}")
    };
    let script_device = rng.device();
    for _ in 0..scripted {
        let register = rng.range(0, 4 * MINUTE);
        let start = 5 * MINUTE + rng.range(0, MINUTE);
        let mut steps = vec![(register, Step::Register)];
        steps.extend(answers(&mut rng, start, questions, script_gap));
        people.push(Person {
            group: Group::Scripted,
            phone: next_phone(),
            device: script_device.clone(),
            address: "198.51.100.7".to_owned(),
            page: false,
            steps,
        });
    }
    for _ in 0..factory {
        let register = 7 * HOUR + rng.range(0, 5 * HOUR);
        let start = register + rng.range(MINUTE, 20 * MINUTE);
        let mut steps = vec![(register, Step::Register)];
        steps.extend(answers(&mut rng, start, questions, human_gap));
        people.push(Person {
            group: Group::Factory,
            phone: next_phone(),
            device: rng.device(),
            address: "203.0.113.9".to_owned(),
            page: true,
            steps,
        });
    }
    for i in 0..scattered {
        let register = 6 * HOUR + rng.range(0, 17 * HOUR);
        let start = register + rng.range(MINUTE, 30 * MINUTE);
        let mut steps = vec![(register, Step::Register)];
        steps.extend(answers(&mut rng, start, questions, human_gap));
        people.push(Person {
            group: Group::Scattered,
            phone: next_phone(),
            device: rng.device(),
            // One network each: 100.64.0.0/10, a /24 per person.
            address: format!(
                "100.{}.{}.{}",
                64 + (i / 256) % 64,
                i % 256,
                rng.range(1, 255)
            ),
            page: true,
            steps,
        });
    }
    for _ in 0..meeting {
        let register = 8 * HOUR + 50 * MINUTE + rng.range(0, 10 * MINUTE);
        let start = 9 * HOUR + rng.range(0, MINUTE);
        let mut steps = vec![(register, Step::Register)];
        steps.extend(answers(&mut rng, start, questions, human_gap));
        people.push(Person {
            group: Group::Meeting,
            phone: next_phone(),
            device: rng.device(),
            address: "192.0.2.60".to_owned(),
            page: true,
            steps,
        });
    }
    people
}

/// Every step of the crowd in time order, as (person index, instant, step).
pub fn timeline(people: &[Person]) -> Vec<(usize, i64, Step)> {
    let mut all: Vec<(usize, i64, Step)> = people
        .iter()
        .enumerate()
        .flat_map(|(i, p)| p.steps.iter().map(move |&(at, step)| (i, at, step)))
        .collect();
    all.sort_by_key(|&(i, at, _)| (at, i));
    all
}
