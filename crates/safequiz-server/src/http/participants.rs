//! Registration and a participant's own standing.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use jiff::Timestamp;
use safequiz_domain::calendar;
use safequiz_domain::campaign::Campaign;
use safequiz_domain::participant::{IdentityError, PersonName, Phone};
use safequiz_domain::units::Unit;
use safequiz_redis::boards::Standing;
use safequiz_redis::participants::{
    RecordFields, RegisterOutcome, Registration, RegistrationConsent,
};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::attempts::campaign_of_path;
use super::campaigns::find_campaign;
use super::error::{ApiError, ErrorBody};
use super::extract::Participant;
use crate::auth::ParticipantClaims;

/// The body of a registration.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    /// The participant's name: letters, `·`, `.` and single spaces.
    #[schema(min_length = 1, max_length = 30)]
    name: String,
    /// A mainland mobile number (spaces, dashes and a `+86` prefix are tolerated too).
    #[schema(pattern = r"^(\+86|0086)?1[3-9][0-9]{9}$")]
    phone: String,
    /// A leaf unit of the campaign (`GET .../units`).
    unit_id: String,
    /// The consent box under the campaign's notice was ticked (required when the campaign has
    /// a notice: `422 consent_required`).
    #[serde(default)]
    consent: bool,
    /// The notice version the page showed; a stale one is `422 consent_required`.
    #[serde(default)]
    notice_version: Option<String>,
    /// "我未满14周岁": then `guardian_name` and `guardian_consent` are required.
    #[serde(default)]
    under_14: bool,
    /// The guardian's name, for a participant under 14.
    #[serde(default)]
    guardian_name: Option<String>,
    /// The guardian's consent box was ticked.
    #[serde(default)]
    guardian_consent: bool,
    /// "五进" registration (issue 18): `enterprise`, `village`, `community`, `school` or
    /// `family`; `unit_id` then names the linked organization and the participant counts in its
    /// 五进 group.
    #[serde(default)]
    public_kind: Option<String>,
    /// "单位主要负责人" was ticked; `principal_post` is then required.
    #[serde(default)]
    principal: bool,
    /// The principal person's post (职务), 1 to 30 characters.
    #[serde(default)]
    principal_post: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Registered {
    participant_id: u64,
    token: String,
    unit_id: String,
    expires_at: Timestamp,
}

/// The unit a participant registers with: a leaf of `campaign` (`422 invalid_unit` otherwise).
pub(crate) fn registration_unit<'c>(
    campaign: &'c Campaign,
    unit_id: &str,
) -> Result<&'c Unit, ApiError> {
    let unit = campaign
        .units
        .find(unit_id.trim())
        .map(|ix| campaign.units.get(ix))
        .ok_or_else(|| ApiError::invalid("invalid_unit", "所选单位不存在，请重新选择"))?;
    // Points roll up along one unambiguous path, so a participant belongs to a leaf: a county
    // (or a city without counties, a development zone, a division) or an enterprise.
    if !unit.children.is_empty() {
        return Err(ApiError::invalid(
            "invalid_unit",
            format!("请继续选择“{}”的下级单位", unit.name),
        ));
    }
    Ok(unit)
}

/// The answer to a registration: `201` for a new participant, `200` for one found again, each
/// with a fresh token.
fn registered(
    state: &AppState,
    campaign: &Campaign,
    outcome: RegisterOutcome,
    now: Timestamp,
) -> Result<HttpResponse, ApiError> {
    let (status, participant, unit) = match outcome {
        RegisterOutcome::Created { participant, unit } => (StatusCode::CREATED, participant, unit),
        RegisterOutcome::Existing { participant, unit } => (StatusCode::OK, participant, unit),
        RegisterOutcome::PhoneTaken => return Err(ApiError::PhoneTaken),
        RegisterOutcome::Limited { retry_after_ms } => {
            return Err(super::limits::phone_limited(retry_after_ms));
        }
    };
    let expires_at = now
        .saturating_add(state.token_ttl)
        .unwrap_or(Timestamp::MAX);
    let token = state.auth.sign(&ParticipantClaims::new(
        &campaign.id,
        participant,
        &unit,
        expires_at,
    ));
    Ok(HttpResponse::build(status).json(Registered {
        participant_id: participant,
        token,
        unit_id: unit,
        expires_at,
    }))
}

/// `POST /api/v1/campaigns/{cid}/participants`: registers, or finds again the participant with
/// the same phone and name (`200`, a fresh token for a new device).
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{cid}/participants",
    tag = "participant",
    summary = "Register, or find again the participant with this phone and name",
    params(("cid" = String, Path, description = "The campaign id")),
    request_body = RegisterBody,
    responses(
        (status = 201, description = "A new participant and their token", body = Registered),
        (status = 200, description = "The participant found again, with a fresh token", body = Registered),
        (status = 400, description = "`bad_request`: a malformed body", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such campaign", body = ErrorBody<'_>),
        (status = 409, description = "`phone_taken`: the phone is registered under another name", body = ErrorBody<'_>),
        (status = 413, description = "`payload_too_large`", body = ErrorBody<'_>),
        (status = 422, description = "`invalid_name`, `invalid_phone`, `invalid_unit`, `invalid_public_kind`, `invalid_post`, `consent_required` (the campaign's notice was not consented to), `guardian_consent_required` or `under_14_refused`", body = ErrorBody<'_>),
        (status = 429, description = "`rate_limited`: too many registrations from this address or with this phone; see `Retry-After`", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all, fields(campaign = %campaign))]
pub async fn register(
    request: actix_web::HttpRequest,
    state: web::Data<AppState>,
    campaign: web::Path<String>,
    body: web::Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let campaign = find_campaign(&state, &campaign)?;
    let name = PersonName::parse(&body.name).map_err(|e| identity_error("invalid_name", e))?;
    let phone = Phone::parse(&body.phone).map_err(|e| identity_error("invalid_phone", e))?;
    let role = super::organizations::Role::parse(
        body.public_kind.as_deref(),
        body.principal,
        body.principal_post.as_deref(),
    )?;
    // A leaf, or an organization (read from SQL: it must exist) or its 五进 group (issue 18).
    let unit_id =
        super::organizations::registration_unit(&state, campaign, &body.unit_id, &role).await?;
    let consent = super::privacy::registration_consent(
        campaign,
        &super::privacy::ConsentFields {
            consent: body.consent,
            notice_version: body.notice_version.as_deref(),
            under_14: body.under_14,
            guardian_name: body.guardian_name.as_deref(),
            guardian_consent: body.guardian_consent,
        },
    )?;
    let now = state.clock.now();
    let phone_hash = state.auth.phone_hash(&campaign.id, &phone);
    super::limits::check_address(&state, &request, &campaign.id).await?;
    // A campaign with prizes keeps the number, sealed, to notify its winners (issue 19).
    let phone_sealed =
        (!campaign.prizes.is_empty()).then(|| state.auth.seal_phone(&campaign.id, &phone));
    let outcome = state
        .hot
        .register_with(
            &Registration {
                campaign: &campaign.id,
                shards: state.shards,
                phone_hash: &phone_hash,
                name: name.as_str(),
                phone_masked: &phone.masked(),
                unit: &unit_id,
                now_ms: now.as_millisecond(),
            },
            &RecordFields {
                consent: consent
                    .as_ref()
                    .map(|(version, guardian)| RegistrationConsent {
                        notice_version: version,
                        guardian_name: guardian.as_deref(),
                    }),
                phone_sealed: phone_sealed.as_deref(),
            },
            super::limits::phone_limit(&state),
        )
        .await?;
    if let RegisterOutcome::Created { participant, unit }
    | RegisterOutcome::Existing { participant, unit } = &outcome
    {
        state.fair_play.observe_participant(
            &state,
            &request,
            campaign,
            *participant,
            unit,
            safequiz_sql::fair_play::Kind::Register,
            0,
            now,
        );
    }
    if let RegisterOutcome::Created { participant, unit }
    | RegisterOutcome::Existing { participant, unit } = &outcome
        && *unit == unit_id
    {
        super::organizations::record_role(&state, campaign, *participant, unit, &role, now).await?;
    }
    registered(&state, campaign, outcome, now)
}

fn identity_error(code: &'static str, error: IdentityError) -> ApiError {
    ApiError::invalid(code, error.to_string())
}

#[derive(Serialize, utoipa::ToSchema)]
struct Me<'a> {
    participant_id: u64,
    unit_path: Vec<UnitRef<'a>>,
    points: i64,
    attempts: u32,
    time_used_ms: i64,
    today: Today,
    ranks: Vec<Rank<'a>>,
    server_time: Timestamp,
    /// Present when organizers excluded the participant's results (docs/fair-play.md): the
    /// participant still sees their own results, and this notice.
    #[serde(skip_serializing_if = "Option::is_none")]
    exclusion: Option<super::fair_play::ExclusionNotice>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct UnitRef<'a> {
    id: &'a str,
    name: &'a str,
    kind: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Today {
    date: jiff::civil::Date,
    attempts_allowed: u32,
    attempts_started: u32,
    open_attempt_id: Option<String>,
    next_attempt_at: Option<Timestamp>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Rank<'a> {
    /// `national`, or the kind of the unit (`province`, `city`, `county`, `enterprise`, ...).
    level: &'static str,
    unit_id: Option<&'a str>,
    name: &'a str,
    /// `None` until the participant has a final attempt.
    rank: Option<u64>,
}

/// The participant's standing and their rank on the campaign's board and on each board the
/// campaign keeps of `path` (the unit ids from the entry's root down to their own; the first
/// `individual_board_levels` of them when the campaign sets it), `None` everywhere before a
/// final attempt: the participant's hash, then one `ZRANK` per board, or right after a finish
/// the counts that place the new score (`HotState::my_standing`), read live, so the result page
/// shows a rank that counts the attempt just submitted.
async fn standing_and_ranks(
    state: &AppState,
    campaign: &Campaign,
    claims: &ParticipantClaims,
    path: &[&str],
) -> Result<(Standing, Vec<Option<u64>>), ApiError> {
    let mut boards: Vec<Option<&str>> = vec![None];
    let kept = campaign.individual_boards.kept(path);
    boards.extend(kept.iter().map(|id| Some(*id)));
    let (standing, ranks) = state
        .hot
        .my_standing(
            &campaign.id,
            state.shards,
            claims.participant,
            &boards,
            state.clock.now().as_millisecond(),
        )
        .await?;
    // Hidden individual rankings (`public_rankings`): `me` tells no rank either.
    let ranks = if standing.attempts == 0 || !campaign.public_rankings.individuals {
        vec![None; boards.len()]
    } else {
        ranks.into_iter().map(Some).collect()
    };
    Ok((standing, ranks))
}

/// Today's attempts: allowed, started, the open one, and when the next may start once today's
/// are used up.
fn today(
    campaign: &Campaign,
    claims: &ParticipantClaims,
    standing: &Standing,
    now: Timestamp,
) -> Today {
    let date = campaign.day_of(now);
    let started = if standing.last_start_day == Some(calendar::day_number(date)) {
        standing.starts_that_day
    } else {
        0
    };
    Today {
        date,
        attempts_allowed: campaign.attempts_per_day,
        attempts_started: started,
        open_attempt_id: standing
            .open
            .map(|number| format!("{}-{number}", claims.participant)),
        next_attempt_at: (started >= campaign.attempts_per_day)
            .then(|| calendar::start_of_next_day(now, &campaign.time_zone)),
    }
}

/// The national rank, then one rank per unit of the path that has a board (`ranks` holds one
/// per kept board), each named by its level.
fn rank_views<'c>(units: &[&'c Unit], ranks: &[Option<u64>]) -> Vec<Rank<'c>> {
    let national = Rank {
        level: "national",
        unit_id: None,
        name: "全国",
        rank: ranks.first().copied().flatten(),
    };
    let by_unit = units
        .iter()
        .zip(ranks.iter().skip(1))
        .map(|(unit, rank)| Rank {
            level: unit.kind.as_str(),
            unit_id: Some(&unit.id),
            name: &unit.name,
            rank: *rank,
        });
    std::iter::once(national).chain(by_unit).collect()
}

/// `GET /api/v1/campaigns/{cid}/me`: my unit path, totals, today's attempts and my rank at
/// every level of my unit path that keeps an individual board, from the campaign down to my own
/// unit (or to the campaign's `individual_board_levels`).
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{cid}/me",
    tag = "participant",
    summary = "My totals, today's attempts and my rank at every level",
    security(("participant" = [])),
    params(("cid" = String, Path, description = "The campaign id")),
    responses(
        (status = 200, description = "My standing", body = Me<'_>),
        (status = 401, description = "`unauthorized`: no token, a bad one, or another campaign's", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such campaign", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all, fields(campaign = %campaign))]
pub async fn me(
    state: web::Data<AppState>,
    campaign: web::Path<String>,
    Participant(claims): Participant,
) -> Result<HttpResponse, ApiError> {
    let campaign = campaign_of_path(&state, &campaign, &claims)?;
    let path = super::attempts::unit_path(campaign, claims.unit())?;
    let now = state.clock.now();
    let (standing, ranks) = standing_and_ranks(&state, campaign, &claims, &path).await?;
    let units: Vec<&Unit> = path
        .iter()
        .filter_map(|id| campaign.units.find(id).map(|ix| campaign.units.get(ix)))
        .collect();
    let mut unit_path: Vec<UnitRef<'_>> = units
        .iter()
        .map(|unit| UnitRef {
            id: &unit.id,
            name: &unit.name,
            kind: unit.kind.as_str(),
        })
        .collect();
    let mut rank_list = rank_views(&units, &ranks);
    // An organization and its 五进 group close the path (issue 18); their names live in SQL,
    // which `me` does not read: the page shows the name it registered with.
    for (offset, id) in path.iter().enumerate().skip(units.len()) {
        let (kind, name) = super::organizations::dynamic_label(id);
        unit_path.push(UnitRef { id, name, kind });
        rank_list.push(Rank {
            level: kind,
            unit_id: Some(id),
            name,
            rank: ranks.get(offset + 1).copied().flatten(),
        });
    }
    Ok(HttpResponse::Ok().json(Me {
        participant_id: claims.participant,
        unit_path,
        points: standing.points,
        attempts: standing.attempts,
        time_used_ms: standing.time_used_ms,
        today: today(campaign, &claims, &standing, now),
        ranks: rank_list,
        server_time: now,
        exclusion: match standing.excluded_ms {
            Some(at_ms) => {
                super::fair_play::exclusion_notice(&state, campaign, claims.participant, at_ms)
                    .await
            }
            None => None,
        },
    }))
}
