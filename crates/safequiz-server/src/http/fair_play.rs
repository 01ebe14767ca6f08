//! Fair play (issue 21; docs/fair-play.md): what the participant endpoints observe, the
//! page-load token, and the organizers' review: flagged participants and exclusions.
//!
//! Observing costs a request no Redis or database call (docs/design.md §2.7): the handler
//! appends one packed line to this replica's [`FairPlay`] buffer (a mutex held while the line is
//! written into a reused byte buffer: no allocation once it has grown), and `workers::fair_play`
//! ships the buffer to Redis once a second; the fair-play worker beside the flusher writes it to
//! SQL and computes the signals there. A replica that stops loses at most its last second of
//! observations, which only weakens a signal; the results themselves never depend on them.

use std::net::IpAddr;
use std::sync::Mutex;

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use jiff::Timestamp;
use safequiz_domain::campaign::Campaign;
use safequiz_domain::scope::Scope;
use safequiz_sql::fair_play::wire::Line;
use safequiz_sql::fair_play::{FlaggedParticipant, Kind, UnitShare};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::organizer::{Organizer, Target};
use crate::auth::ParticipantClaims;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The header carrying the page's device token.
pub const DEVICE_HEADER: &str = "x-device";
/// The header carrying the page-load token back.
pub const PAGE_HEADER: &str = "x-page";
/// The header `GET /api/v1/campaigns` issues the page-load token in.
pub const PAGE_TOKEN_HEADER: &str = "x-page-token";

/// A buffer holds at most this many bytes of packed lines (about 200,000 observations);
/// beyond, new ones are dropped rather than growing memory while Redis is away.
pub const MAX_BUFFERED_BYTES: usize = 16 << 20;

/// This replica's observation buffer (packed lines, `safequiz_sql::fair_play::wire`) and the
/// page-token key.
pub struct FairPlay {
    buffer: Mutex<Vec<u8>>,
    page_key: HmacSha256,
}

impl FairPlay {
    /// A buffer, with the page-token key derived from `secret` (`auth.secret`: every replica
    /// verifies every other's tokens).
    pub fn new(secret: &SecretString) -> FairPlay {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret.expose_secret().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(b"safequiz page token v1");
        FairPlay {
            buffer: Mutex::new(Vec::new()),
            page_key: <HmacSha256 as KeyInit>::new_from_slice(&mac.finalize().into_bytes())
                .unwrap_or_else(|_| unreachable!("HMAC takes any key length")),
        }
    }

    /// Moves everything buffered into `into` (emptied first), leaving the buffer with `into`'s
    /// former capacity: two buffers swap roles every second, so neither is allocated again.
    pub fn take_into(&self, into: &mut Vec<u8>) {
        into.clear();
        std::mem::swap(
            &mut *self.buffer.lock().unwrap_or_else(|e| e.into_inner()),
            into,
        );
    }

    fn push(&self, line: Line<'_, Network>) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        if buffer.len() < MAX_BUFFERED_BYTES {
            line.append_to(&mut buffer);
        }
    }

    /// A page-load token issued at `now`: `<ms>.<MAC>`.
    pub fn page_token(&self, now: Timestamp) -> String {
        let text = now.as_millisecond().to_string();
        let mut mac = self.page_key.clone();
        mac.update(text.as_bytes());
        format!(
            "{text}.{}",
            URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..16])
        )
    }

    /// Whether `token` is one [`FairPlay::page_token`] issued.
    pub fn check_page(&self, token: &str) -> bool {
        let Some((text, signature)) = token.split_once('.') else {
            return false;
        };
        let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let mut mac = self.page_key.clone();
        mac.update(text.as_bytes());
        mac.verify_truncated_left(&signature).is_ok() && signature.len() == 16
    }

    /// Records one participant request (start, save, submit) from `request`, of a participant
    /// of `campaign`.
    #[allow(clippy::too_many_arguments)]
    pub fn observe(
        &self,
        state: &AppState,
        request: &HttpRequest,
        campaign: &Campaign,
        claims: &ParticipantClaims,
        kind: Kind,
        attempt: u32,
        now: Timestamp,
    ) {
        self.observe_participant(
            state,
            request,
            campaign,
            claims.participant,
            claims.unit(),
            kind,
            attempt,
            now,
        );
    }

    /// Records one request of `participant`.
    #[allow(clippy::too_many_arguments)]
    pub fn observe_participant(
        &self,
        state: &AppState,
        request: &HttpRequest,
        campaign: &Campaign,
        participant: u64,
        unit: &str,
        kind: Kind,
        attempt: u32,
        now: Timestamp,
    ) {
        // Only a campaign that turned fair play on is observed.
        if !campaign.fair_play {
            return;
        }
        let headers = request.headers();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let device = header(DEVICE_HEADER)
            .filter(|d| valid_device(d))
            .unwrap_or("");
        let page = header(PAGE_HEADER).is_some_and(|t| self.check_page(t));
        self.push(Line {
            campaign_id: &campaign.id,
            participant_id: i64::try_from(participant).unwrap_or(i64::MAX),
            unit_id: unit,
            kind,
            at_ms: now.as_millisecond(),
            attempt: i32::try_from(attempt).unwrap_or(i32::MAX),
            device,
            net: network(&super::limits::request_address(request, state)),
            page,
        });
    }
}

/// A device token the page makes: 16 to 64 characters of `A-Za-z0-9_-`. Anything else is
/// treated as no token (and so cannot fill the table with junk).
pub fn valid_device(token: &str) -> bool {
    (16..=64).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The network an address is counted under: its /24 (IPv4) or /48 (IPv6), written as
/// `a.b.c.0/24` or `x:y:z::/48` (`unknown` for what is not an address); the full address is
/// never kept.
pub fn network(address: &str) -> Network {
    Network(address.parse::<IpAddr>().ok())
}

/// A client's network ([`network`]), written by its `Display`.
#[derive(Clone, Copy, Debug)]
pub struct Network(Option<IpAddr>);

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(IpAddr::V4(v4)) => {
                let [a, b, c, _] = v4.octets();
                write!(f, "{a}.{b}.{c}.0/24")
            }
            Some(IpAddr::V6(v6)) => {
                let s = v6.segments();
                write!(f, "{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
            }
            None => f.write_str("unknown"),
        }
    }
}

/// The query of `GET /organizer/flags`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlagsQuery {
    /// A unit of the organizer's scope (default: the whole scope).
    unit: Option<String>,
    /// The last participant id of the previous page.
    after: Option<i64>,
    /// Participants per page, 1 to 200 (default 50).
    limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct FlagView {
    reason: String,
    /// What was seen (JSON object).
    #[schema(value_type = Object)]
    evidence: serde_json::Value,
    computed_at: Timestamp,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ExclusionView {
    reason: String,
    by: String,
    at: Timestamp,
}

#[derive(Serialize, utoipa::ToSchema)]
struct FlaggedView {
    participant_id: i64,
    unit_id: String,
    unit_name: String,
    name: String,
    /// Counted points and attempts (none while excluded).
    points: i64,
    attempts: i64,
    flags: Vec<FlagView>,
    exclusion: Option<ExclusionView>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ShareView {
    unit_id: String,
    name: String,
    participants: i64,
    flagged: i64,
    /// Flagged participants per participant with an attempt (0 when none).
    share: f64,
}

#[derive(Serialize, utoipa::ToSchema)]
struct FlagsPage {
    unit_id: String,
    items: Vec<FlaggedView>,
    /// Pass as `after` for the next page; absent on the last.
    next_after: Option<i64>,
    /// The scope's child units, each with its share of flagged participation.
    units: Vec<ShareView>,
}

fn instant(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// `GET /api/v1/organizer/flags`: flagged participants of the scope with every reason and its
/// evidence, by participant id a page at a time, and each child unit's share.
#[utoipa::path(
    get,
    path = "/api/v1/organizer/flags",
    tag = "organizer",
    summary = "Flagged participants of a scope, with reasons and evidence, and each child unit's share",
    security(("organizer" = []), ("organizer_cookie" = [])),
    params(FlagsQuery),
    responses(
        (status = 200, description = "A page of flagged participants", body = FlagsPage),
        (status = 400, description = "`bad_request`", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 403, description = "`out_of_scope` or `password_change_required`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such unit", body = ErrorBody<'_>),
    )
)]
pub async fn flags(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    query: web::Query<FlagsQuery>,
) -> Result<HttpResponse, ApiError> {
    let campaign = session.campaign()?;
    let target = Target::resolve(&session, campaign, query.unit.as_deref()).await?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::BadRequest("limit: 1 到 200".to_owned()));
    }
    let page: Vec<FlaggedParticipant> = state
        .store
        .flagged_page(
            &campaign.id,
            &target.scope,
            query.after.unwrap_or(i64::MIN),
            limit,
        )
        .await?;
    let children: Vec<String> = match target.unit {
        Some(ix) => campaign.units.get(ix).children.clone(),
        None => (0..campaign.entries.len())
            .flat_map(|entry| campaign.units.roots(entry).to_vec())
            .collect(),
    }
    .into_iter()
    .map(|ix| campaign.units.get(ix).id.clone())
    .collect();
    let shares: Vec<UnitShare> = state.store.flagged_shares(&campaign.id, &children).await?;
    let unit_name = |id: &str| {
        campaign
            .units
            .find(id)
            .map_or_else(|| id.to_owned(), |ix| campaign.units.get(ix).name.clone())
    };
    let next_after = (page.len() as i64 == limit)
        .then(|| page.last().map(|p| p.participant_id))
        .flatten();
    Ok(HttpResponse::Ok().json(FlagsPage {
        unit_id: target.scope.as_str().to_owned(),
        next_after,
        items: page
            .into_iter()
            .map(|p| FlaggedView {
                unit_name: unit_name(&p.unit_id),
                participant_id: p.participant_id,
                unit_id: p.unit_id,
                name: p.name,
                points: p.points,
                attempts: p.attempts,
                flags: p
                    .flags
                    .into_iter()
                    .map(|f| FlagView {
                        evidence: serde_json::from_str(&f.evidence)
                            .unwrap_or(serde_json::Value::Null),
                        reason: f.reason,
                        computed_at: instant(f.computed_at_ms),
                    })
                    .collect(),
                exclusion: p.exclusion.map(|e| ExclusionView {
                    reason: e.reason,
                    by: e.by_account,
                    at: instant(e.at_ms),
                }),
            })
            .collect(),
        units: shares
            .into_iter()
            .map(|s| ShareView {
                name: unit_name(&s.unit_id),
                share: if s.participants > 0 {
                    s.flagged as f64 / s.participants as f64
                } else {
                    0.0
                },
                unit_id: s.unit_id,
                participants: s.participants,
                flagged: s.flagged,
            })
            .collect(),
    }))
}

/// The body of an exclusion or its undo.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExclusionBody {
    /// Why, as the participant and the audit trail read it (1 to 200 characters).
    reason: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ExclusionAnswer {
    participant_id: i64,
    excluded: bool,
    reason: String,
}

/// Checks the reason and that the participant lies within the organizer's scope; returns the
/// reason trimmed.
async fn checked(
    state: &AppState,
    session: &super::organizer::Session,
    participant: i64,
    body: &ExclusionBody,
) -> Result<(String, String), ApiError> {
    let campaign = session.campaign()?;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(ApiError::invalid(
            "invalid_reason",
            "请填写原因（1 到 200 字）",
        ));
    }
    let unit = state
        .store
        .participant_unit(&campaign.id, participant)
        .await?
        .ok_or(ApiError::NotFound("no such participant"))?;
    session.check_scope(campaign, &Scope::Unit(unit.clone()))?;
    Ok((reason.to_owned(), unit))
}

/// Brings the hot state's mark of `participant` (of `unit`) in line with the exclusion the
/// record holds in force, whatever the request's own outcome: the live boards and unit totals
/// then follow within the board writer's pass (`safequiz_redis::exclusions`). The record
/// decides first, so a Redis that fails here leaves a `503` and a retry (answered
/// `already_excluded` or `not_excluded` by the record) marks Redis then.
async fn follow_record(
    state: &AppState,
    campaign: &Campaign,
    participant: i64,
    unit: &str,
) -> Result<(), ApiError> {
    let path = safequiz_domain::organization::unit_path(&campaign.units, unit).ok_or(
        ApiError::NotFound("the participant's unit is not configured"),
    )?;
    let in_force = state.store.exclusion(&campaign.id, participant).await?;
    let mark = in_force.map(|e| safequiz_redis::exclusions::Exclusion {
        at_ms: e.at_ms,
        reason: e.reason,
    });
    state
        .hot
        .set_exclusion(
            &campaign.id,
            state.shards,
            participant as u64,
            &path,
            mark.as_ref(),
        )
        .await?;
    Ok(())
}

/// Excludes `participant` (`exclude`) or undoes their exclusion, with the reason of `body`: the
/// record decides, Redis follows it, then the audit row; `422` when already so.
async fn decide(
    state: &AppState,
    session: &super::organizer::Session,
    participant: i64,
    body: &ExclusionBody,
    exclude: bool,
) -> Result<HttpResponse, ApiError> {
    let (reason, unit) = checked(state, session, participant, body).await?;
    let campaign = session.campaign()?;
    let by = format!("organizer:{}", session.account.username);
    let now = state.clock.now().as_millisecond();
    let changed = if exclude {
        state
            .store
            .exclude_participant(&campaign.id, participant, &reason, &by, now)
            .await?
    } else {
        state
            .store
            .undo_exclusion(&campaign.id, participant, &reason, &by, now)
            .await?
    };
    follow_record(state, campaign, participant, &unit).await?;
    let (action, refusal) = if exclude {
        (
            safequiz_sql::audit::action::EXCLUSION,
            ("already_excluded", "该参与者的成绩已被排除"),
        )
    } else {
        (
            safequiz_sql::audit::action::EXCLUSION_UNDONE,
            ("not_excluded", "该参与者的成绩未被排除"),
        )
    };
    if !changed {
        return Err(ApiError::invalid(refusal.0, refusal.1));
    }
    session
        .audit(
            action,
            session.scope().as_str(),
            format!("participant={participant} reason={reason}"),
        )
        .await?;
    Ok(HttpResponse::Ok().json(ExclusionAnswer {
        participant_id: participant,
        excluded: exclude,
        reason,
    }))
}

/// `POST /api/v1/organizer/participants/{pid}/exclusion` `{reason}`: excludes a participant of
/// the organizer's scope from boards, totals, ranks, figures and exports, with an audit row.
#[utoipa::path(
    post,
    path = "/api/v1/organizer/participants/{pid}/exclusion",
    tag = "organizer",
    summary = "Exclude a participant's results, with a reason (audited)",
    security(("organizer" = []), ("organizer_cookie" = [])),
    params(("pid" = i64, Path, description = "The participant id")),
    request_body = ExclusionBody,
    responses(
        (status = 200, description = "Excluded", body = ExclusionAnswer),
        (status = 400, description = "`bad_request`", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 403, description = "`out_of_scope` or `password_change_required`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such participant", body = ErrorBody<'_>),
        (status = 413, description = "`payload_too_large`", body = ErrorBody<'_>),
        (status = 422, description = "`invalid_reason` or `already_excluded`", body = ErrorBody<'_>),
    )
)]
pub async fn exclude(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    participant: web::Path<i64>,
    body: web::Json<ExclusionBody>,
) -> Result<HttpResponse, ApiError> {
    decide(&state, &session, participant.into_inner(), &body, true).await
}

/// `DELETE /api/v1/organizer/participants/{pid}/exclusion` `{reason}`: undoes an exclusion,
/// restoring the participant's results everywhere, with an audit row.
#[utoipa::path(
    delete,
    path = "/api/v1/organizer/participants/{pid}/exclusion",
    tag = "organizer",
    summary = "Undo an exclusion, with a reason (audited)",
    security(("organizer" = []), ("organizer_cookie" = [])),
    params(("pid" = i64, Path, description = "The participant id")),
    request_body = ExclusionBody,
    responses(
        (status = 200, description = "Restored", body = ExclusionAnswer),
        (status = 400, description = "`bad_request`", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 403, description = "`out_of_scope` or `password_change_required`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such participant", body = ErrorBody<'_>),
        (status = 413, description = "`payload_too_large`", body = ErrorBody<'_>),
        (status = 422, description = "`invalid_reason` or `not_excluded`", body = ErrorBody<'_>),
    )
)]
pub async fn undo_exclusion(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    participant: web::Path<i64>,
    body: web::Json<ExclusionBody>,
) -> Result<HttpResponse, ApiError> {
    decide(&state, &session, participant.into_inner(), &body, false).await
}

/// What `me` tells an excluded participant.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ExclusionNotice {
    /// The organizer's reason.
    reason: String,
    /// When.
    at: Timestamp,
    /// "成绩已被组织单位排除（原因：…）", as the page shows it.
    message: String,
}

/// The notice of `participant`'s exclusion, made at `at_ms` (the mark `me` read with the
/// standing): its reason is read from the hot state only for an excluded participant, so `me`
/// reads no SQL. A Redis that does not answer this second read leaves the notice out rather
/// than failing `me`.
pub async fn exclusion_notice(
    state: &AppState,
    campaign: &Campaign,
    participant: u64,
    at_ms: i64,
) -> Option<ExclusionNotice> {
    match state
        .hot
        .exclusion_reason(&campaign.id, state.shards, participant)
        .await
    {
        Ok(reason) => {
            let reason = reason.unwrap_or_default();
            Some(ExclusionNotice {
                message: format!("成绩已被组织单位排除（原因：{reason}）"),
                at: instant(at_ms),
                reason,
            })
        }
        Err(error) => {
            tracing::warn!(error = %error, "the exclusion of a participant could not be read");
            None
        }
    }
}
