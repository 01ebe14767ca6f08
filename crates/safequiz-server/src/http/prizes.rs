//! Prize results (docs/prizes.md): whether the participant won, the public list of winners, and
//! the organizer's winners export. All three read the stored draw (`safequiz_sql::prizes`);
//! `safequiz prizes draw` is the only writer.
//!
//! The winners are notified on the phone they registered with: a campaign with prizes keeps each
//! registration's number sealed (`AuthKeys::seal_phone`, docs/prizes.md "Notifying the
//! winners"), and this export is the only place it is opened. It gives the organizer of the
//! whole campaign the names as registered, the full numbers, the masked ones and the
//! participant ids; an organizer of one unit's subtree gets `403 out_of_scope` (prizes are the
//! whole campaign's, and a unit's share of the list is not theirs to publish). Every download
//! writes an audit row first, saying how many full numbers it carries.

use actix_web::http::header::{
    CacheControl, CacheDirective, Charset, ContentDisposition, DispositionParam, DispositionType,
    ExtendedValue,
};
use actix_web::{HttpResponse, web};
use jiff::Timestamp;
use safequiz_domain::campaign::Campaign;
use safequiz_domain::participant::mask_name;
use safequiz_domain::scope::Scope;
use safequiz_sql::audit::action;
use safequiz_sql::prizes::WinnerRow;
use serde::Serialize;

use super::AppState;
use super::attempts::campaign_of_path;
use super::campaigns::find_campaign;
use super::error::{ApiError, ErrorBody};
use super::extract::Participant;
use super::organizer::Organizer;

/// One prize a participant won.
#[derive(Serialize, utoipa::ToSchema)]
struct Won {
    prize: String,
    award: String,
}

/// What the participant's result page shows.
#[derive(Serialize, utoipa::ToSchema)]
struct MyPrizes {
    /// Whether the campaign's prizes have been drawn.
    drawn: bool,
    /// The prizes this participant won (empty: none, or not drawn yet).
    prizes: Vec<Won>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct PublicWinner {
    award: String,
    rank: i64,
    /// The name masked as on the boards (`张*`).
    name: String,
    /// The masked phone number (`138****5678`).
    phone: String,
    unit: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct PublicPrize {
    prize: String,
    winners: Vec<PublicWinner>,
}

/// The published result of a campaign's draw.
#[derive(Serialize, utoipa::ToSchema)]
struct Winners {
    drawn: bool,
    /// What anyone needs to run `safequiz prizes verify` (with the published list file).
    seed_from: Option<String>,
    list_digest: Option<String>,
    seed: Option<String>,
    eligible: Option<i64>,
    drawn_at: Option<Timestamp>,
    prizes: Vec<PublicPrize>,
}

/// `GET /api/v1/campaigns/{cid}/prizes/me`: what the caller won.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{cid}/prizes/me",
    tag = "participant",
    summary = "Whether the participant won a prize in the campaign's draw",
    security(("participant" = [])),
    params(("cid" = String, Path, description = "The campaign id")),
    responses(
        (status = 200, description = "Drawn or not, and the prizes won", body = MyPrizes),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such campaign", body = ErrorBody<'_>),
    )
)]
pub async fn me(
    state: web::Data<AppState>,
    campaign: web::Path<String>,
    Participant(claims): Participant,
) -> Result<HttpResponse, ApiError> {
    let campaign = campaign_of_path(&state, &campaign, &claims)?;
    let drawn = state.store.prize_draw(&campaign.id).await?.is_some();
    let participant = i64::try_from(claims.participant)
        .map_err(|_| ApiError::Unauthorized("凭证有误".to_owned()))?;
    let prizes = state
        .store
        .participant_prizes(&campaign.id, participant)
        .await?
        .into_iter()
        .map(|row| Won {
            prize: row.prize,
            award: row.award,
        })
        .collect();
    Ok(HttpResponse::Ok().json(MyPrizes { drawn, prizes }))
}

fn unit_name(campaign: &Campaign, unit: &str) -> String {
    campaign
        .units
        .find(unit)
        .map(|ix| campaign.units.get(ix).name.clone())
        .unwrap_or_else(|| unit.to_owned())
}

/// `GET /api/v1/campaigns/{cid}/prizes/winners`: the public list, names and phones masked.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{cid}/prizes/winners",
    tag = "participant",
    summary = "The campaign's prize winners, names and phone numbers masked, with the draw's audit values",
    params(("cid" = String, Path, description = "The campaign id")),
    responses(
        (status = 200, description = "The draw and its winners (`drawn: false` before the draw)", body = Winners),
        (status = 404, description = "`not_found`: no such campaign", body = ErrorBody<'_>),
    )
)]
pub async fn winners(
    state: web::Data<AppState>,
    campaign: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let campaign = find_campaign(&state, &campaign)?;
    let Some(draw) = state.store.prize_draw(&campaign.id).await? else {
        return Ok(HttpResponse::Ok().json(Winners {
            drawn: false,
            seed_from: None,
            list_digest: None,
            seed: None,
            eligible: None,
            drawn_at: None,
            prizes: Vec::new(),
        }));
    };
    let mut prizes: Vec<PublicPrize> = Vec::new();
    for row in state.store.prize_winners(&campaign.id).await? {
        if prizes.last().is_none_or(|prize| prize.prize != row.prize) {
            prizes.push(PublicPrize {
                prize: row.prize.clone(),
                winners: Vec::new(),
            });
        }
        let unit = unit_name(campaign, &row.unit_id);
        if let Some(prize) = prizes.last_mut() {
            prize.winners.push(PublicWinner {
                award: row.award,
                rank: row.rank,
                name: mask_name(&row.name),
                phone: row.phone_masked,
                unit,
            });
        }
    }
    Ok(HttpResponse::Ok().json(Winners {
        drawn: true,
        seed_from: Some(draw.seed_from),
        list_digest: Some(draw.list_digest),
        seed: Some(draw.seed),
        eligible: Some(draw.eligible),
        drawn_at: Timestamp::from_millisecond(draw.drawn_at_ms).ok(),
        prizes,
    }))
}

/// A CSV field, quoted when it holds a separator, a quote or a line break; a leading `=`, `+`,
/// `-` or `@` gets a `'`, as in the other exports, so that a spreadsheet never runs it.
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The winners' file; `phones[i]` is row `i`'s full number, empty when the record holds none.
fn winners_csv(campaign: &Campaign, rows: &[WinnerRow], phones: &[String]) -> String {
    // UTF-8 with BOM, so Excel and WPS read the Chinese.
    let mut text =
        String::from("\u{feff}奖项,奖级,名次,参与者编号,姓名,手机号,手机号（脱敏）,单位,得分\r\n");
    for (row, phone) in rows.iter().zip(phones) {
        let line = [
            field(&row.prize),
            field(&row.award),
            row.rank.to_string(),
            row.participant_id.to_string(),
            field(&row.name),
            field(phone),
            field(&row.phone_masked),
            field(&unit_name(campaign, &row.unit_id)),
            row.points.to_string(),
        ]
        .join(",");
        text.push_str(&line);
        text.push_str("\r\n");
    }
    text
}

/// `GET /api/v1/organizer/exports/winners.csv`: the winners with their names as registered, for
/// the organizer of the whole campaign only; audited.
#[utoipa::path(
    get,
    path = "/api/v1/organizer/exports/winners.csv",
    tag = "organizer",
    summary = "Download the prize winners (whole-campaign organizers only; audited)",
    security(("organizer" = []), ("organizer_cookie" = [])),
    responses(
        (status = 200, description = "The CSV (UTF-8 with BOM): prize, award, rank, participant id, name, full phone (empty when not kept), masked phone, unit, points", content_type = "text/csv"),
        (status = 401, description = "`unauthorized`: no session, or an ended one", body = ErrorBody<'_>),
        (status = 403, description = "`out_of_scope`: not the organizer of the whole campaign; or `password_change_required`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: the campaign has no draw yet", body = ErrorBody<'_>),
    )
)]
pub async fn export_winners(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
) -> Result<HttpResponse, ApiError> {
    if !session.scope().is_whole_campaign() {
        return Err(ApiError::Forbidden {
            code: "out_of_scope",
            message: "获奖名单仅由全竞赛管理员导出".to_owned(),
        });
    }
    let campaign = session.campaign()?;
    if state.store.prize_draw(&campaign.id).await?.is_none() {
        return Err(ApiError::NotFound(
            "the campaign's prizes have not been drawn",
        ));
    }
    let rows = state.store.prize_winners(&campaign.id).await?;
    // A number that does not open (another secret, a damaged row) is left out, never guessed.
    let phones: Vec<String> = rows
        .iter()
        .map(|row| {
            row.phone_sealed
                .as_deref()
                .and_then(|sealed| state.auth.open_phone(&campaign.id, sealed))
                .unwrap_or_default()
        })
        .collect();
    let full = phones.iter().filter(|phone| !phone.is_empty()).count();
    session
        .audit(
            action::EXPORT,
            Scope::WholeCampaign.as_str(),
            format!(
                "winners.csv: {} rows, {full} full phone numbers",
                rows.len()
            ),
        )
        .await?;
    let body = winners_csv(campaign, &rows, &phones);
    Ok(HttpResponse::Ok()
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![
                DispositionParam::Filename(format!("winners-{}.csv", campaign.id)),
                DispositionParam::FilenameExt(ExtendedValue {
                    charset: Charset::Ext("UTF-8".to_owned()),
                    language_tag: None,
                    value: format!("获奖名单-{}.csv", campaign.title).into_bytes(),
                }),
            ],
        })
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .content_type("text/csv; charset=utf-8")
        .body(body))
}
