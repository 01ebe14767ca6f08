//! What the load tools read from the service's answers, and the registration every scenario
//! starts with: one home for the parts of the participant API the generators share.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::Method;
use serde::Deserialize;
use serde_json::json;

use crate::client::Connection;

/// A registration's answer.
#[derive(Deserialize)]
pub(crate) struct Registered {
    pub(crate) participant_id: u64,
    pub(crate) token: String,
}

/// A start's answer, borrowed from its body: the attempt and the option keys of its questions
/// (nothing is copied; the texts and the rest are skipped).
#[derive(Deserialize)]
pub(crate) struct Started<'a> {
    #[serde(borrow)]
    pub(crate) attempt_id: &'a str,
    #[serde(borrow)]
    questions: Vec<StartedQuestion<'a>>,
    /// Sent back with each save, as the participant's page does.
    #[serde(borrow)]
    save_ticket: &'a str,
}

/// One question of a start's answer.
#[derive(Deserialize)]
struct StartedQuestion<'a> {
    #[serde(borrow)]
    options: Vec<StartedOption<'a>>,
}

/// One option of a question, by the key an answer names it with.
#[derive(Deserialize)]
struct StartedOption<'a> {
    key: &'a str,
}

impl<'a> Started<'a> {
    /// The key of each question's first option, in display order: the answer the load tools
    /// give.
    pub(crate) fn first_keys(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.questions
            .iter()
            .map(|question| question.options.first().map_or("A", |option| option.key))
    }

    /// What a tool keeps of the attempt after the answer's body is gone.
    pub(crate) fn to_open(&self) -> OpenAttempt {
        OpenAttempt {
            attempt_id: self.attempt_id.to_owned(),
            keys: self.first_keys().map(str::to_owned).collect(),
            save_ticket: self.save_ticket.to_owned(),
        }
    }

    /// Each question's save of its first option, in display order: (path, body).
    pub(crate) fn saves(&self) -> impl Iterator<Item = (String, Bytes)> + '_ {
        self.first_keys()
            .enumerate()
            .map(|(index, key)| save_request(self.attempt_id, index, key, self.save_ticket))
    }
}

/// A started attempt kept between requests: its id, each question's first option key and the
/// save ticket.
pub(crate) struct OpenAttempt {
    pub(crate) attempt_id: String,
    pub(crate) keys: Vec<String>,
    save_ticket: String,
}

impl OpenAttempt {
    /// Each question's save of its first option, in display order: (path, body).
    pub(crate) fn saves(&self) -> impl Iterator<Item = (String, Bytes)> + '_ {
        self.keys
            .iter()
            .enumerate()
            .map(|(index, key)| save_request(&self.attempt_id, index, key, &self.save_ticket))
    }
}

/// The path and body that save option `key` to question `index` of `attempt_id`, with the
/// attempt's save ticket as the participant's page sends it.
fn save_request(attempt_id: &str, index: usize, key: &str, ticket: &str) -> (String, Bytes) {
    (
        format!("/api/v1/attempts/{attempt_id}/answers/{index}"),
        Bytes::from(format!(
            "{{\"choices\":[\"{key}\"],\"ticket\":\"{ticket}\"}}"
        )),
    )
}

/// A submit's answer, borrowed from its body.
#[derive(Deserialize)]
pub(crate) struct Submitted<'a> {
    pub(crate) attempt_id: &'a str,
    pub(crate) score: u32,
}

/// Who to register: `count` participants with phones from `first_phone` on, spread over
/// `units` in turn, for `campaign` at `addr`.
pub(crate) struct Registration<'a> {
    pub(crate) addr: SocketAddr,
    pub(crate) campaign: &'a str,
    pub(crate) units: &'a [String],
    pub(crate) first_phone: u64,
    pub(crate) count: usize,
    pub(crate) connections: usize,
}

/// Registers every participant of `who` over `who.connections` connections; their ids and
/// tokens, in phone order.
pub(crate) async fn register_all(who: Registration<'_>) -> anyhow::Result<Vec<(u64, String)>> {
    anyhow::ensure!(!who.units.is_empty(), "no unit to register participants in");
    let path = Arc::new(format!("/api/v1/campaigns/{}/participants", who.campaign));
    let units = Arc::new(who.units.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..who.connections.max(1) {
        let (path, units, next) = (path.clone(), units.clone(), next.clone());
        let (addr, first_phone, count) = (who.addr, who.first_phone, who.count);
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::new(addr);
            let mut people = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, anyhow::Error>(people);
                }
                let body = json!({
                    "name": "压测者",
                    "phone": format!("13{:09}", first_phone + i as u64),
                    "unit_id": units[i % units.len()],
                    "consent": true,
                });
                let (status, body) = connection
                    .send(
                        Method::POST,
                        &path,
                        None,
                        Some(Bytes::from(body.to_string())),
                    )
                    .await?;
                anyhow::ensure!(
                    status.is_success(),
                    "registration answered {status}: {body:?}"
                );
                let registered: Registered = serde_json::from_slice(&body)?;
                people.push((i, registered.participant_id, registered.token));
            }
        }));
    }
    let mut people = Vec::with_capacity(who.count);
    for task in tasks {
        people.extend(task.await??);
    }
    people.sort_unstable_by_key(|(i, _, _)| *i);
    Ok(people
        .into_iter()
        .map(|(_, id, token)| (id, token))
        .collect())
}
