//! Campaigns and their unit trees, as registration pages browse them.

use actix_web::{HttpResponse, web};
use jiff::Timestamp;
use safequiz_domain::campaign::Campaign;
use safequiz_domain::score::Counted;
use safequiz_domain::units::UnitIx;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ErrorBody};

#[derive(Serialize, utoipa::ToSchema)]
struct CampaignView<'a> {
    id: &'a str,
    title: &'a str,
    opens_at: Timestamp,
    closes_at: Timestamp,
    time_zone: &'a str,
    time_limit_secs: u32,
    grace_secs: u32,
    questions_per_attempt: usize,
    attempts_per_day: u32,
    points_per_question: u32,
    /// Points per correct answer by kind (issue 18; all `points_per_question` by default).
    points: PointsView,
    /// Which attempts make a participant's score: `sum`, `best` or `last`.
    counted: &'static str,
    /// Attempts a participant may make over the whole campaign, when capped.
    attempts_total: Option<u32>,
    max_score: u32,
    entries: Vec<EntryView<'a>>,
    /// Which public rankings the campaign shows (docs/fair-play.md).
    public_rankings: RankingsView,
    /// Whether the page sends its device and page-load tokens (fair play, docs/fair-play.md).
    fair_play: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
struct PointsView {
    single: u32,
    multiple: u32,
    judge: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
struct RankingsView {
    units: bool,
    individuals: bool,
    /// How many levels of units below the whole campaign have an individual board
    /// (`individual_board_levels`; 0: the campaign's only); `null`: every level.
    individual_levels: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct EntryView<'a> {
    id: &'a str,
    name: &'a str,
    /// `units`, or `organizations`: participants find or register their organization
    /// (`GET/POST .../organizations`) under the entry's regions (issue 18).
    kind: &'static str,
}

/// The body of `GET /api/v1/campaigns` (documentation only: the handler builds it as JSON).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct CampaignList<'a> {
    items: Vec<CampaignView<'a>>,
}

/// `GET /api/v1/campaigns`: every campaign with its rules and entries.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns",
    tag = "participant",
    summary = "List the campaigns with their rules and entries",
    responses(
        (status = 200, description = "Every campaign", body = CampaignList<'_>),
    )
)]
pub async fn list(state: web::Data<AppState>) -> HttpResponse {
    // The page loads this list first: its answer carries the page-load token the page echoes
    // on its requests (docs/fair-play.md, `no_page_load`).
    let page_token = state.fair_play.page_token(state.clock.now());
    let campaigns: Vec<CampaignView<'_>> = state
        .catalogue
        .campaigns
        .iter()
        .map(|campaign| CampaignView {
            id: &campaign.id,
            title: &campaign.title,
            opens_at: campaign.opens_at,
            closes_at: campaign.closes_at,
            time_zone: &campaign.time_zone_name,
            time_limit_secs: campaign.time_limit_secs,
            grace_secs: campaign.grace_secs,
            questions_per_attempt: campaign.questions_per_attempt(),
            attempts_per_day: campaign.attempts_per_day,
            points_per_question: campaign.points_per_question,
            points: PointsView {
                single: campaign.scoring.points.single,
                multiple: campaign.scoring.points.multiple,
                judge: campaign.scoring.points.judge,
            },
            counted: match campaign.scoring.counted {
                Counted::Sum => "sum",
                Counted::Best => "best",
                Counted::Last => "last",
            },
            attempts_total: campaign.scoring.attempts_total,
            max_score: campaign.max_points(),
            entries: campaign
                .entries
                .iter()
                .map(|entry| EntryView {
                    id: &entry.id,
                    name: &entry.name,
                    kind: match entry.kind {
                        safequiz_domain::campaign::EntryKind::Units => "units",
                        safequiz_domain::campaign::EntryKind::Organizations => "organizations",
                    },
                })
                .collect(),
            public_rankings: RankingsView {
                units: campaign.public_rankings.units,
                individuals: campaign.public_rankings.individuals,
                individual_levels: campaign.individual_boards.levels(),
            },
            fair_play: campaign.fair_play,
        })
        .collect();
    HttpResponse::Ok()
        .insert_header((super::fair_play::PAGE_TOKEN_HEADER, page_token))
        .json(serde_json::json!({ "items": campaigns }))
}

/// The query of `GET /api/v1/campaigns/{cid}/units`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnitsQuery {
    /// List the children of this unit.
    parent: Option<String>,
    /// List the root units of this entry (ignored with `parent`).
    entry: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct UnitView<'a> {
    id: &'a str,
    name: &'a str,
    kind: &'static str,
    entry: &'a str,
    has_children: bool,
}

/// The body of `GET /api/v1/campaigns/{cid}/units` (documentation only).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct UnitList<'a> {
    /// The `parent` asked for, `null` for roots.
    parent: Option<String>,
    items: Vec<UnitView<'a>>,
}

/// `GET /api/v1/campaigns/{cid}/units[?parent=ID|?entry=ID]`: the root units of every entry (or
/// of one), or the children of a unit.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{cid}/units",
    tag = "participant",
    summary = "Browse a campaign's unit tree",
    params(("cid" = String, Path, description = "The campaign id"), UnitsQuery),
    responses(
        (status = 200, description = "The units asked for", body = UnitList<'_>),
        (status = 400, description = "`bad_request`: a malformed query", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such campaign, unit or entry", body = ErrorBody<'_>),
    )
)]
pub async fn units(
    state: web::Data<AppState>,
    campaign: web::Path<String>,
    query: web::Query<UnitsQuery>,
) -> Result<HttpResponse, ApiError> {
    let campaign = find_campaign(&state, &campaign)?;
    let tree = &campaign.units;
    let units: Vec<UnitIx> = match (&query.parent, &query.entry) {
        (Some(parent), _) => {
            let parent = tree
                .find(parent)
                .ok_or(ApiError::NotFound("no unit has this id in the campaign"))?;
            tree.get(parent).children.clone()
        }
        (None, Some(entry)) => {
            let entry = entry_index(campaign, entry)?;
            tree.roots(entry).to_vec()
        }
        (None, None) => (0..campaign.entries.len())
            .flat_map(|entry| tree.roots(entry).iter().copied())
            .collect(),
    };
    let items: Vec<UnitView<'_>> = units
        .into_iter()
        .map(|ix| {
            let unit = tree.get(ix);
            UnitView {
                id: &unit.id,
                name: &unit.name,
                kind: unit.kind.as_str(),
                entry: &campaign.entries[unit.entry].id,
                has_children: !unit.children.is_empty(),
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "parent": query.parent,
        "items": items,
    })))
}

/// The campaign with id `id`, or `404`.
pub fn find_campaign<'s>(state: &'s AppState, id: &str) -> Result<&'s Campaign, ApiError> {
    state
        .catalogue
        .campaign(id)
        .map(|campaign| &**campaign)
        .ok_or(ApiError::NotFound("no campaign has this id"))
}

/// The index of the entry with id `id`, or `404`.
pub fn entry_index(campaign: &Campaign, id: &str) -> Result<usize, ApiError> {
    campaign
        .entries
        .iter()
        .position(|entry| entry.id == id)
        .ok_or(ApiError::NotFound("no entry has this id in the campaign"))
}
