//! Study-hour certificates (学时证明, issue 18; docs/design.md §3.9): whether the participant
//! has one, the PDF, and the public verification of a serial (JSON and a page).
//!
//! Every fact comes from the SQL record, never from the URL: the participant's name and unit
//! from their registration row, the score from their attempts counted by the campaign's policy
//! (`Scoring::totals_of`, the rule recovery uses). A serial is
//! `<campaign>.<participant>.<mac>`, the MAC an HMAC of the two under the secret that never
//! rotates (`AuthKeys::certificate_mac`), so editing any part of it gives "not found"; nothing
//! is stored per certificate (no migration), and the same serial is printed on every download.
//!
//! The PDF is given from the campaign's close (scores are final) for `available_days` days;
//! a serial stays verifiable after that window, for as long as the record keeps the
//! participant (a deleted or purged registration is "not found"). The public page shows the
//! name masked as on the boards (`张*丰`): whoever holds the paper can compare it, and a
//! guessed serial tells no stranger a full name.

use actix_web::http::header::{
    CacheControl, CacheDirective, Charset, ContentDisposition, DispositionParam, DispositionType,
    ExtendedValue,
};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::TryStreamExt;
use jiff::{SignedDuration, Timestamp};
use safequiz_domain::board::Finish;
use safequiz_domain::campaign::Campaign;
use safequiz_domain::certificate::{Certificate, Refusal};
use safequiz_domain::participant::mask_name;
use safequiz_redis::attempts::AttemptId;
use safequiz_sql::recovery::IdRange;
use serde::Serialize;

use super::AppState;
use super::attempts::campaign_of_path;
use super::error::{ApiError, ErrorBody};
use super::extract::Participant;
use crate::certificate::{CertificateFont, Facts, render};

/// What the result page needs to offer the download.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CertificateStatus {
    /// Whether the PDF can be downloaded now.
    available: bool,
    /// Why not: `certificate_not_yet_available`, `certificate_expired` or
    /// `certificate_below_threshold`; absent when available.
    reason: Option<&'static str>,
    /// The participant's counted score in the record.
    score: i64,
    /// The score needed.
    min_score: u32,
    /// The study hours granted.
    hours: u32,
    /// The download window: from the close...
    available_from: Timestamp,
    /// ...until this instant (exclusive).
    available_until: Timestamp,
    /// The certificate's serial, when available (its verification page is `/verify/<serial>`).
    serial: Option<String>,
}

/// What the public verification shows: the certificate's facts, the name masked.
#[derive(Serialize, utoipa::ToSchema)]
pub struct VerifiedCertificate {
    /// The serial asked about.
    serial: String,
    /// The name masked as on the boards (`张*丰`).
    name: String,
    /// The participant's unit.
    organization: String,
    /// The counted score.
    score: i64,
    /// Study hours.
    hours: u32,
    /// The campaign's title.
    campaign: String,
    /// The certificate's date (the campaign's last day), `2026年6月30日`.
    date: String,
}

/// The campaign's certificate, or `404` when it grants none.
fn certificate_of(campaign: &Campaign) -> Result<Certificate, ApiError> {
    campaign
        .certificate
        .ok_or(ApiError::NotFound("the campaign grants no certificate"))
}

/// The serial of `participant`'s certificate in `campaign`.
fn serial(state: &AppState, campaign: &str, participant: u64) -> String {
    format!(
        "{campaign}.{participant}.{}",
        state.auth.certificate_mac(campaign, participant)
    )
}

/// The campaign and participant a serial names, when its MAC is the server's.
fn parse_serial(state: &AppState, text: &str) -> Option<(String, u64)> {
    let mut parts = text.split('.');
    let (campaign, participant, mac) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || participant.is_empty() || participant.len() > 19 {
        return None;
    }
    if !participant.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let participant: u64 = participant.parse().ok()?;
    let expected = state.auth.certificate_mac(campaign, participant);
    // Compared in constant time: the MAC is the only secret part.
    let same = expected.len() == mac.len()
        && expected
            .bytes()
            .zip(mac.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    same.then(|| (campaign.to_owned(), participant))
}

/// The certificate's facts for `participant` from the record, with their counted score;
/// `None` when the record holds no such registration (or it was deleted).
async fn facts(
    state: &AppState,
    campaign: &Campaign,
    certificate: Certificate,
    participant: u64,
) -> Result<Option<Facts>, ApiError> {
    let Ok(id) = i64::try_from(participant) else {
        return Ok(None);
    };
    let Some(held) = state.store.participant_privacy(&campaign.id, id).await? else {
        return Ok(None);
    };
    if held.erased_at_ms.is_some() || held.name.is_empty() {
        return Ok(None);
    }
    let mut attempts = Vec::new();
    let mut rows = state.store.attempt_summaries(
        &campaign.id,
        IdRange {
            after: id - 1,
            upto: Some(id),
        },
    );
    while let Some(row) = rows.try_next().await? {
        let number = AttemptId::parse(&row.attempt_id).map_or(0, |attempt| attempt.number);
        attempts.push((
            number,
            u32::try_from(row.points).unwrap_or(0),
            Finish {
                finished_ms: row.finished_at_ms,
                time_used_ms: row.time_used_ms,
            },
        ));
    }
    drop(rows);
    let totals = campaign.scoring.totals_of(attempts);
    let organization = super::organizations::unit_name(state, campaign, &held.unit_id).await?;
    Ok(Some(Facts {
        name: held.name,
        organization,
        score: totals.points,
        min_score: certificate.min_score,
        hours: certificate.hours,
        campaign: campaign.title.clone(),
        date: last_day(campaign),
        serial: serial(state, &campaign.id, participant),
    }))
}

/// The campaign's last day in its zone, as the certificate prints it.
fn last_day(campaign: &Campaign) -> String {
    let last = campaign
        .closes_at
        .checked_sub(SignedDuration::from_millis(1))
        .unwrap_or(campaign.closes_at);
    let day = campaign.day_of(last);
    format!("{}年{}月{}日", day.year(), day.month(), day.day())
}

/// The refusal's code and message.
fn refusal(reason: Refusal, certificate: Certificate) -> (&'static str, String) {
    match reason {
        Refusal::NotYetAvailable => (
            "certificate_not_yet_available",
            "竞赛结束后才能下载学时证明".to_owned(),
        ),
        Refusal::Expired => (
            "certificate_expired",
            format!(
                "学时证明的下载期（竞赛结束后 {} 天）已过",
                certificate.available_days
            ),
        ),
        Refusal::BelowThreshold => (
            "certificate_below_threshold",
            format!("成绩达到 {} 分方可获得学时证明", certificate.min_score),
        ),
    }
}

/// `GET /api/v1/campaigns/{cid}/certificate`: whether the caller can download one now.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{cid}/certificate",
    tag = "participant",
    summary = "Whether the participant's study-hour certificate can be downloaded, and why not",
    security(("participant" = [])),
    params(("cid" = String, Path, description = "The campaign id")),
    responses(
        (status = 200, description = "The score, threshold, window and whether it is available", body = CertificateStatus),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such campaign, or it grants no certificate", body = ErrorBody<'_>),
    )
)]
pub async fn status(
    state: web::Data<AppState>,
    campaign: web::Path<String>,
    Participant(claims): Participant,
) -> Result<HttpResponse, ApiError> {
    let campaign = campaign_of_path(&state, &campaign, &claims)?;
    let certificate = certificate_of(campaign)?;
    let (from, until) = certificate.window(campaign.closes_at);
    let facts = facts(&state, campaign, certificate, claims.participant).await?;
    let score = facts.as_ref().map_or(0, |facts| facts.score);
    let decision = certificate.decide(campaign.closes_at, state.clock.now(), score);
    let serial = facts.filter(|_| decision.is_ok()).map(|facts| facts.serial);
    Ok(HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(CertificateStatus {
            available: decision.is_ok(),
            reason: decision.err().map(|reason| refusal(reason, certificate).0),
            score,
            min_score: certificate.min_score,
            hours: certificate.hours,
            available_from: from,
            available_until: until,
            serial,
        }))
}

/// `GET /api/v1/campaigns/{cid}/certificate.pdf`: the caller's certificate.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{cid}/certificate.pdf",
    tag = "participant",
    summary = "The participant's study-hour certificate (PDF with a QR code of its verification page)",
    security(("participant" = [])),
    params(("cid" = String, Path, description = "The campaign id")),
    responses(
        (status = 200, description = "The PDF", content_type = "application/pdf", body = Vec<u8>),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 403, description = "`certificate_not_yet_available` (before the close), `certificate_expired` (after the window) or `certificate_below_threshold`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such campaign, it grants no certificate, or the record has no such registration", body = ErrorBody<'_>),
    )
)]
pub async fn pdf(
    request: HttpRequest,
    state: web::Data<AppState>,
    campaign: web::Path<String>,
    Participant(claims): Participant,
) -> Result<HttpResponse, ApiError> {
    let campaign = campaign_of_path(&state, &campaign, &claims)?;
    let certificate = certificate_of(campaign)?;
    let now = state.clock.now();
    // The window first, so nobody learns a result before the close.
    if let Err(reason @ (Refusal::NotYetAvailable | Refusal::Expired)) =
        certificate.decide(campaign.closes_at, now, i64::MAX)
    {
        let (code, message) = refusal(reason, certificate);
        return Err(ApiError::Forbidden { code, message });
    }
    let Some(facts) = facts(&state, campaign, certificate, claims.participant).await? else {
        return Err(ApiError::NotFound("the record has no such registration"));
    };
    if let Err(reason) = certificate.decide(campaign.closes_at, now, facts.score) {
        let (code, message) = refusal(reason, certificate);
        return Err(ApiError::Forbidden { code, message });
    }
    let url = {
        let info = request.connection_info();
        format!(
            "{}://{}/verify/{}",
            info.scheme(),
            info.host(),
            facts.serial
        )
    };
    let bytes = web::block(move || {
        let font = CertificateFont::installed()?;
        render(&font, &facts, &url)
    })
    .await
    .map_err(|error| ApiError::Internal(error.to_string()))?
    .map_err(|error| ApiError::Internal(error.to_string()))?;
    Ok(HttpResponse::Ok()
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![
                DispositionParam::Filename(format!("certificate-{}.pdf", campaign.id)),
                DispositionParam::FilenameExt(ExtendedValue {
                    charset: Charset::Ext("UTF-8".to_owned()),
                    language_tag: None,
                    value: format!("学时证明-{}.pdf", campaign.title).into_bytes(),
                }),
            ],
        })
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .content_type("application/pdf")
        .body(bytes))
}

/// The facts a serial stands for, when it is the server's and the certificate was earned.
async fn verify(state: &AppState, serial: &str) -> Result<Option<Facts>, ApiError> {
    let Some((campaign_id, participant)) = parse_serial(state, serial) else {
        return Ok(None);
    };
    let Some(campaign) = state.catalogue.campaign(&campaign_id) else {
        return Ok(None);
    };
    let Some(certificate) = campaign.certificate else {
        return Ok(None);
    };
    // Before the close nothing is issued yet; after the download window an issued certificate
    // stays verifiable.
    if state.clock.now() < campaign.closes_at {
        return Ok(None);
    }
    Ok(facts(state, campaign, certificate, participant)
        .await?
        .filter(|facts| facts.score >= i64::from(certificate.min_score)))
}

/// `GET /api/v1/certificates/{serial}`: the public verification.
#[utoipa::path(
    get,
    path = "/api/v1/certificates/{serial}",
    tag = "participant",
    summary = "Verifies a study-hour certificate's serial: its facts, the name masked",
    params(("serial" = String, Path, description = "The serial printed on the certificate")),
    responses(
        (status = 200, description = "A valid certificate's facts", body = VerifiedCertificate),
        (status = 404, description = "`not_found`: no certificate has this serial", body = ErrorBody<'_>),
    )
)]
pub async fn verify_json(
    state: web::Data<AppState>,
    serial: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let facts = verify(&state, &serial)
        .await?
        .ok_or(ApiError::NotFound("no certificate has this serial"))?;
    Ok(HttpResponse::Ok().json(verified(facts)))
}

fn verified(facts: Facts) -> VerifiedCertificate {
    VerifiedCertificate {
        serial: facts.serial,
        name: mask_name(&facts.name),
        organization: facts.organization,
        score: facts.score,
        hours: facts.hours,
        campaign: facts.campaign,
        date: facts.date,
    }
}

/// `GET /verify/{serial}`: the page the certificate's QR code opens, rendered on the server
/// (no script). A page for people: `200` either way, saying "未找到该证书" for an unknown or
/// edited serial (the API's `GET /api/v1/certificates/{serial}` answers `404` then).
#[utoipa::path(
    get,
    path = "/verify/{serial}",
    tag = "pages",
    summary = "The public verification page a certificate's QR code opens",
    params(("serial" = String, Path, description = "The serial printed on the certificate")),
    responses(
        (status = 200, description = "The certificate's facts, the name masked; or 未找到该证书 for a serial that is not valid", content_type = "text/html", body = String),
    ),
)]
pub async fn verify_page(
    state: web::Data<AppState>,
    serial: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let found = verify(&state, &serial).await?.map(verified);
    let body = match &found {
        Some(certificate) => {
            let rows = [
                ("姓名", certificate.name.clone()),
                ("单位", certificate.organization.clone()),
                ("竞赛活动", certificate.campaign.clone()),
                ("成绩", format!("{} 分", certificate.score)),
                ("学时", format!("{} 学时", certificate.hours)),
                ("日期", certificate.date.clone()),
                ("证书编号", certificate.serial.clone()),
            ];
            let rows: String = rows
                .iter()
                .map(|(label, value)| {
                    format!("<dt>{}</dt><dd>{}</dd>", escape(label), escape(value))
                })
                .collect();
            format!(
                "<h1>学时证明核验</h1><p class=\"valid\" role=\"status\">✓ 该学时证明真实有效</p>\
                 <dl>{rows}</dl>"
            )
        }
        None => format!(
            "<h1>学时证明核验</h1><p class=\"invalid\" role=\"alert\">未找到该证书：编号 {} \
             不存在或已失效，请核对编号。</p>",
            escape(&serial)
        ),
    };
    let page = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>学时证明核验</title><style>\
         body{{font-family:sans-serif;font-size:1.125rem;max-width:36rem;margin:2rem auto;\
         padding:0 1rem;line-height:1.6;color:#1a1a1a;overflow-wrap:anywhere}}\
         .valid{{color:#0b6b2e;font-weight:bold}}.invalid{{color:#a30f0f;font-weight:bold}}\
         dl{{display:grid;grid-template-columns:max-content 1fr;gap:.4rem 1rem}}\
         dt{{color:#555}}dd{{margin:0;word-break:break-all}}</style></head>\
         <body><main>{body}</main></body></html>"
    );
    Ok(HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .content_type("text/html; charset=utf-8")
        .body(page))
}

/// Text for HTML: `&`, `<`, `>`, `"` and `'` as entities.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}
