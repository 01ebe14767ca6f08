//! A participant's personal information (issue 20; docs/privacy.md): the campaign's notice, the
//! consent registration requires, what is held about a participant, and the deletion of their
//! registration.
//!
//! Consent: when the campaign file has a `[notice]`, registration must carry `consent: true`
//! (`422 consent_required`), and a participant who says they are under 14 must carry a
//! guardian's name and the guardian's consent (`422 guardian_consent_required`), or is refused
//! when the campaign says so (`422 under_14_refused`). The notice version and, for a child, the
//! guardian's name go with the registration to the stream and SQL.
//!
//! Deletion (`POST .../me/deletion`, confirmed by typing the phone again): the name and the phone
//! hash leave Redis (`safequiz_redis::privacy`) and SQL (`safequiz_sql::privacy`); the
//! participant stays on the boards and in every total as an anonymous row, so no figure changes
//! and `reconcile` stays exact. The audit trail records the deletion (without the name).

use actix_web::{HttpRequest, HttpResponse, web};
use jiff::Timestamp;
use safequiz_domain::campaign::Campaign;
use safequiz_domain::campaign::notice::{Notice, Under14};
use safequiz_domain::participant::{PersonName, Phone};
use safequiz_sql::audit::{AuditEntry, action};
use safequiz_sql::record::{Consent, ParticipantRow};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::attempts::campaign_of_path;
use super::campaigns::find_campaign;
use super::error::{ApiError, ErrorBody};
use super::extract::Participant;

/// The consent fields of a registration body, as the participant sent them.
pub(crate) struct ConsentFields<'a> {
    /// The consent box was ticked.
    pub consent: bool,
    /// The notice version the page showed, if it says.
    pub notice_version: Option<&'a str>,
    /// "我未满14周岁" was chosen.
    pub under_14: bool,
    /// The guardian's name.
    pub guardian_name: Option<&'a str>,
    /// The guardian's consent box was ticked.
    pub guardian_consent: bool,
}

/// The consent to record with a registration: the notice version and a guardian's name
/// (`None`: the campaign has no notice). Refuses a registration without the consent asked.
pub(crate) fn registration_consent(
    campaign: &Campaign,
    fields: &ConsentFields<'_>,
) -> Result<Option<(String, Option<String>)>, ApiError> {
    let Some(notice) = &campaign.notice else {
        return Ok(None);
    };
    if !fields.consent {
        return Err(ApiError::invalid(
            "consent_required",
            "请先阅读个人信息处理告知，并勾选同意后再报名",
        ));
    }
    if fields
        .notice_version
        .is_some_and(|version| version != notice.version)
    {
        return Err(ApiError::invalid(
            "consent_required",
            "个人信息处理告知已更新，请刷新页面重新阅读并同意",
        ));
    }
    if !fields.under_14 {
        return Ok(Some((notice.version.clone(), None)));
    }
    if notice.under_14 == Under14::Refuse {
        return Err(ApiError::invalid(
            "under_14_refused",
            "本竞赛不接受未满14周岁人员报名",
        ));
    }
    let guardian = fields
        .guardian_name
        .and_then(|name| PersonName::parse(name).ok());
    match guardian {
        Some(guardian) if fields.guardian_consent => Ok(Some((
            notice.version.clone(),
            Some(guardian.as_str().to_owned()),
        ))),
        _ => Err(ApiError::invalid(
            "guardian_consent_required",
            "未满14周岁的参赛者须由监护人填写姓名并勾选同意",
        )),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct NoticeAnswer<'a> {
    /// The notice; `null` when the campaign asks no consent.
    #[schema(value_type = Option<Object>)]
    notice: Option<&'a Notice>,
    /// From when the campaign's personal information may be purged.
    purge_from: Option<Timestamp>,
}

/// `GET /api/v1/campaigns/{cid}/notice`: the personal-information notice shown before
/// registration.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{cid}/notice",
    tag = "participant",
    summary = "The personal-information notice shown before registration",
    params(("cid" = String, Path, description = "The campaign id")),
    responses(
        (status = 200, description = "The notice (`null` when the campaign asks no consent)", body = NoticeAnswer<'_>),
        (status = 404, description = "`not_found`: no such campaign", body = ErrorBody<'_>),
    )
)]
pub async fn notice(
    state: web::Data<AppState>,
    campaign: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let campaign = find_campaign(&state, &campaign)?;
    Ok(HttpResponse::Ok().json(NoticeAnswer {
        notice: campaign.notice.as_ref(),
        purge_from: campaign
            .notice
            .as_ref()
            .map(|notice| notice.purge_from(&campaign.time_zone)),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Held {
    participant_id: u64,
    /// The name as registered (their own, unmasked: they are the one asking).
    name: String,
    phone_masked: String,
    unit_id: String,
    registered_at: Option<Timestamp>,
    /// The notice version consented to, once the record has the registration.
    consent_version: Option<String>,
    consented_at: Option<Timestamp>,
    guardian_name: Option<String>,
    /// Whether the record keeps the phone number, sealed, to notify prize winners (issue 19).
    phone_kept: bool,
    /// Attempts the durable record holds.
    attempts_recorded: i64,
    /// The last day the campaign keeps personal information.
    retain_until: Option<jiff::civil::Date>,
    /// What is kept and why, in words.
    kept: &'static str,
}

/// `GET /api/v1/campaigns/{cid}/me/privacy`: what is held about the participant.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{cid}/me/privacy",
    tag = "participant",
    summary = "What safequiz holds about the participant",
    params(("cid" = String, Path, description = "The campaign id")),
    security(("participant" = [])),
    responses(
        (status = 200, description = "The information held", body = Held),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such campaign or participant", body = ErrorBody<'_>),
    )
)]
pub async fn held(
    state: web::Data<AppState>,
    campaign: web::Path<String>,
    Participant(claims): Participant,
) -> Result<HttpResponse, ApiError> {
    let campaign = campaign_of_path(&state, &campaign, &claims)?;
    let person = state
        .hot
        .person(&campaign.id, state.shards, claims.participant)
        .await?;
    let record = state
        .store
        .participant_privacy(&campaign.id, claims.participant as i64)
        .await?;
    if person.is_none() && record.is_none() {
        return Err(ApiError::NotFound("no such participant"));
    }
    let instant = |ms: i64| Timestamp::from_millisecond(ms).ok();
    let (name, phone_masked, unit_id, registered_ms) = match (&person, &record) {
        (Some(person), _) => (
            person.name.clone(),
            person.phone_masked.clone(),
            person.unit.clone(),
            person.registered_ms,
        ),
        (None, Some(record)) => (
            record.name.clone(),
            record.phone_masked.clone(),
            record.unit_id.clone(),
            record.registered_at_ms,
        ),
        (None, None) => unreachable!("refused above"),
    };
    Ok(HttpResponse::Ok().json(Held {
        participant_id: claims.participant,
        name,
        phone_masked,
        unit_id,
        registered_at: instant(registered_ms),
        consent_version: record.as_ref().and_then(|r| r.consent_version.clone()),
        consented_at: record
            .as_ref()
            .and_then(|r| r.consented_at_ms)
            .and_then(instant),
        guardian_name: record.as_ref().and_then(|r| r.guardian_name.clone()),
        phone_kept: record.as_ref().is_some_and(|r| r.phone_kept == 1),
        attempts_recorded: record.as_ref().map_or(0, |r| r.attempts),
        retain_until: campaign.notice.as_ref().map(|n| n.retain_until),
        kept: if campaign.prizes.is_empty() {
            "姓名、遮挡后的手机号、手机号的加密摘要、所选单位、报名时间、同意的告知版本、\
             每次答题的题目、作答、得分与用时；手机号本身从不保存"
        } else {
            "姓名、遮挡后的手机号、手机号的加密摘要、所选单位、报名时间、同意的告知版本、\
             每次答题的题目、作答、得分与用时；为通知中奖，手机号以加密形式保存，\
             仅在全竞赛管理员导出获奖名单时解密"
        },
    }))
}

/// The body of a deletion: the phone typed again, as the confirmation.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletionBody {
    phone: String,
}

/// `POST /api/v1/campaigns/{cid}/me/deletion` `{phone}`: deletes the participant's registration:
/// their name and phone leave Redis and SQL, their attempts stay as anonymous rows.
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{cid}/me/deletion",
    tag = "participant",
    summary = "Delete the registration (name and phone), keeping anonymous results",
    params(("cid" = String, Path, description = "The campaign id")),
    request_body = DeletionBody,
    security(("participant" = [])),
    responses(
        (status = 204, description = "Deleted; the token no longer names a person"),
        (status = 400, description = "`bad_request`: a malformed body", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 422, description = "`confirmation_required`: the phone is not the one registered", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn delete_registration(
    request: HttpRequest,
    state: web::Data<AppState>,
    campaign: web::Path<String>,
    Participant(claims): Participant,
    body: web::Json<DeletionBody>,
) -> Result<HttpResponse, ApiError> {
    let campaign = campaign_of_path(&state, &campaign, &claims)?;
    let mismatch = || {
        ApiError::invalid(
            "confirmation_required",
            "请填写报名时使用的手机号以确认注销",
        )
    };
    let phone = Phone::parse(&body.phone).map_err(|_| mismatch())?;
    let phone_hash = state.auth.phone_hash(&campaign.id, &phone);
    let erased = state
        .hot
        .erase_participant(&campaign.id, state.shards, claims.participant, &phone_hash)
        .await?
        .ok_or_else(mismatch)?;
    let now = state.clock.now().as_millisecond();
    let unit = if erased.unit.is_empty() {
        claims.unit().to_owned()
    } else {
        erased.unit
    };
    let anonymous = ParticipantRow {
        campaign_id: campaign.id.clone(),
        participant_id: claims.participant as i64,
        name: String::new(),
        phone_masked: String::new(),
        phone_hash: String::new(),
        unit_id: unit.clone(),
        registered_at_ms: if erased.registered_ms > 0 {
            erased.registered_ms
        } else {
            now
        },
        consent: campaign.notice.as_ref().map(|notice| Consent {
            notice_version: notice.version.clone(),
            at_ms: erased.registered_ms,
            guardian_name: None,
        }),
        phone_sealed: None,
    };
    state.store.erase_participant(&anonymous, now).await?;
    super::audit::record(
        &state,
        AuditEntry {
            campaign_id: campaign.id.clone(),
            actor: format!("participant:{}", claims.participant),
            action: action::SELF_DELETION.to_owned(),
            scope: unit,
            detail: "姓名、手机号已删除，成绩以匿名形式保留".to_owned(),
            address: super::organizer::account::login_address(&request, &state),
            outcome: safequiz_sql::audit::OK.to_owned(),
            ..AuditEntry::default()
        },
    )
    .await?;
    tracing::info!("a participant deleted their registration");
    Ok(HttpResponse::NoContent().finish())
}
