//! Public leaderboards: units (children of a parent, rolled up from their whole subtree),
//! individuals (names masked, no phone numbers) and, in a campaign of self-registered
//! organizations (issue 18), the organizations of a region ranked by participation rate or score.
//!
//! Individual order, total and published: more points, then less total time used, then the
//! earlier finish of the last attempt, then the smaller participant id. Unit order: the chosen
//! figure, larger first; units with equal figures share a rank and are listed in the order of
//! the unit file.
//!
//! Both boards are served from shared snapshots (`http::snapshots`): a query is normalized into
//! a [`BoardKey`] (refusing unknown units and bad limits as before), the board of that key is
//! computed at most once per `http.board_snapshot_ms` in this replica, and every viewer gets the
//! same bytes with an `ETag`, `Cache-Control: public, max-age=..` and `304` on a matching
//! `If-None-Match`. Live streams (`http::live`) follow the same snapshots.

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use safequiz_domain::campaign::Campaign;
use safequiz_domain::organization::{participation_rate, public_unit_id};
use safequiz_domain::participant::mask_name;
use safequiz_domain::units::UnitIx;
use safequiz_redis::boards::UnitTotals;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::campaigns::{entry_index, find_campaign};
use super::error::{ApiError, ErrorBody};

/// Most participants one board request returns.
pub const MAX_BOARD_LIMIT: usize = 100;

/// Participants an individual board returns without `limit`.
const DEFAULT_BOARD_LIMIT: usize = 20;

/// Which figure orders a unit board.
#[derive(
    Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, Hash, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum UnitSort {
    /// Total points (the competition's result).
    #[default]
    Points,
    /// Distinct participants.
    Participants,
    /// Final attempts.
    Attempts,
}

impl UnitSort {
    /// The name the query and the board's JSON use.
    fn as_str(self) -> &'static str {
        match self {
            UnitSort::Points => "points",
            UnitSort::Participants => "participants",
            UnitSort::Attempts => "attempts",
        }
    }
}

/// The query of the unit board.
#[derive(Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UnitBoardQuery {
    /// A unit id (its children are listed) or an entry id (its root units are).
    pub(crate) parent: String,
    /// The figure that orders the units, larger first.
    #[serde(default)]
    #[param(inline)]
    pub(crate) sort: UnitSort,
}

/// A unit's figures as every board and the organizer pages show them.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Figures {
    pub(crate) points: u64,
    pub(crate) participants: u64,
    pub(crate) attempts: u64,
    pub(crate) full_marks: u64,
    pub(crate) avg_score: f64,
}

impl From<UnitTotals> for Figures {
    fn from(totals: UnitTotals) -> Figures {
        let avg_score = average(totals.points, totals.attempts);
        Figures {
            points: totals.points,
            participants: totals.participants,
            attempts: totals.attempts,
            full_marks: totals.full_marks,
            avg_score,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct UnitItem<'a> {
    rank: usize,
    unit_id: &'a str,
    name: &'a str,
    has_children: bool,
    #[serde(flatten)]
    figures: Figures,
}

#[derive(Serialize, utoipa::ToSchema)]
struct UnitBoard<'a> {
    parent: &'a str,
    parent_name: &'a str,
    totals: Figures,
    sort: &'static str,
    items: Vec<UnitItem<'a>>,
}

/// A public board, normalized: every spelling of the same query (parameter order, a default
/// written out) gives the same key, and only boards that exist get one (an unknown campaign,
/// parent or unit is a 404 and a bad limit a 400 before any key is made). So the snapshot cache
/// holds at most the campaign's real boards, however clients vary their queries.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BoardKey {
    campaign: String,
    board: Board,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Board {
    /// The children of `parent`, ordered by `sort`.
    Units { parent: Parent, sort: UnitSort },
    /// The best `limit` participants of `unit`'s subtree (of the campaign without `unit`).
    Participants { unit: Option<UnitIx>, limit: u8 },
    /// The first `limit` self-registered organizations of `parent`'s subtree by `sort`.
    Organizations {
        parent: Parent,
        sort: OrganizationSort,
        limit: u8,
    },
}

/// What a unit board lists the children of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Parent {
    /// A unit: its children.
    Unit(UnitIx),
    /// An entry (`region`, `enterprise`), by index: its roots.
    Entry(usize),
}

impl BoardKey {
    /// The unit board of `query` in campaign `campaign`, or the 404 of an unknown campaign or
    /// parent.
    pub fn units(
        state: &AppState,
        campaign: &str,
        query: &UnitBoardQuery,
    ) -> Result<BoardKey, ApiError> {
        let campaign = find_campaign(state, campaign)?;
        if !campaign.public_rankings.units {
            return Err(ApiError::RankingsHidden);
        }
        let parent = match campaign.units.find(&query.parent) {
            Some(ix) => Parent::Unit(ix),
            None => Parent::Entry(entry_index(campaign, &query.parent)?),
        };
        Ok(BoardKey {
            campaign: campaign.id.clone(),
            board: Board::Units {
                parent,
                sort: query.sort,
            },
        })
    }

    /// The individual board of `query` in campaign `campaign`, or the 404 of an unknown campaign
    /// or unit, or the 400 of a limit outside 1 to [`MAX_BOARD_LIMIT`].
    pub fn participants(
        state: &AppState,
        campaign: &str,
        query: &ParticipantBoardQuery,
    ) -> Result<BoardKey, ApiError> {
        let campaign = find_campaign(state, campaign)?;
        if !campaign.public_rankings.individuals {
            return Err(ApiError::RankingsHidden);
        }
        let unit = match &query.unit {
            Some(unit) => {
                let ix = campaign
                    .units
                    .find(unit)
                    .ok_or(ApiError::NotFound("no unit has this id in the campaign"))?;
                // A unit's path from its entry's root holds depth + 1 units.
                let length = usize::from(campaign.units.get(ix).depth) + 1;
                if !campaign.individual_boards.keeps(length) {
                    return Err(ApiError::BoardNotKept);
                }
                Some(ix)
            }
            None => None,
        };
        Ok(BoardKey {
            campaign: campaign.id.clone(),
            board: Board::Participants {
                unit,
                limit: board_limit(query.limit)?,
            },
        })
    }

    /// The board of organizations of `query` in campaign `campaign`: the 404 of a campaign
    /// without organizations, or of a parent that is neither its organizations entry nor one of
    /// that entry's regions; the 400 of a limit outside 1 to [`MAX_BOARD_LIMIT`].
    pub fn organizations(
        state: &AppState,
        campaign: &str,
        query: &OrganizationBoardQuery,
    ) -> Result<BoardKey, ApiError> {
        let campaign = find_campaign(state, campaign)?;
        if !campaign.public_rankings.units {
            return Err(ApiError::RankingsHidden);
        }
        let parent = match campaign.units.find(&query.parent) {
            Some(ix) if campaign.is_organization_region(ix) => Some(Parent::Unit(ix)),
            Some(_) => None,
            None => entry_index(campaign, &query.parent)
                .ok()
                .filter(|&entry| campaign.is_organizations_entry(entry))
                .map(Parent::Entry),
        }
        .ok_or(ApiError::NotFound(
            "no region or entry of organizations has this id in the campaign",
        ))?;
        Ok(BoardKey {
            campaign: campaign.id.clone(),
            board: Board::Organizations {
                parent,
                sort: query.sort,
                limit: board_limit(query.limit)?,
            },
        })
    }

    /// Computes the board from Redis (and, for organizations, their list from SQL): its JSON
    /// body, exactly as served.
    pub async fn compute(&self, state: &AppState) -> Result<Bytes, ApiError> {
        let campaign = find_campaign(state, &self.campaign)?;
        let body = match self.board {
            Board::Units { parent, sort } => unit_board(state, campaign, parent, sort).await?,
            Board::Participants { unit, limit } => {
                participant_board(state, campaign, unit, usize::from(limit)).await?
            }
            Board::Organizations {
                parent,
                sort,
                limit,
            } => organization_board(state, campaign, parent, sort, usize::from(limit)).await?,
        };
        Ok(Bytes::from(body))
    }
}

/// `total / count` in two decimals, 0 for no count: an average as every board shows it.
fn average(total: u64, count: u64) -> f64 {
    if count == 0 {
        0.0
    } else {
        super::round2(total as f64 / count as f64)
    }
}

/// The ranks of rows already in board order, given each row's figure: 1-based positions, equal
/// figures sharing the rank of the first of them (1, 2, 2, 4).
fn shared_ranks<V: PartialEq>(figures: impl Iterator<Item = V>) -> Vec<usize> {
    let mut ranks = Vec::new();
    let mut previous: Option<V> = None;
    for (position, value) in figures.enumerate() {
        let rank = match (&previous, ranks.last()) {
            (Some(before), Some(&rank)) if *before == value => rank,
            _ => position + 1,
        };
        ranks.push(rank);
        previous = Some(value);
    }
    ranks
}

/// A board's `limit` (20 without one), or the 400 of one outside 1 to [`MAX_BOARD_LIMIT`].
fn board_limit(limit: Option<usize>) -> Result<u8, ApiError> {
    u8::try_from(limit.unwrap_or(DEFAULT_BOARD_LIMIT))
        .ok()
        .filter(|&limit| limit > 0 && usize::from(limit) <= MAX_BOARD_LIMIT)
        .ok_or_else(|| {
            ApiError::BadRequest(format!("limit must be between 1 and {MAX_BOARD_LIMIT}"))
        })
}

/// The board of `key` from the shared snapshots, as a `200` or a `304`.
async fn serve(
    state: &AppState,
    key: &BoardKey,
    request: &HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let snapshot = state.boards.get(key, || key.compute(state)).await?;
    Ok(state.boards.respond(&snapshot, request))
}

/// `GET /api/v1/campaigns/{cid}/leaderboards/units?parent=ID&sort=points|participants|attempts`:
/// the children of a unit, or the roots of an entry when `parent` is an entry id (`region`,
/// `enterprise`), each with figures rolled up from its whole subtree.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{cid}/leaderboards/units",
    tag = "participant",
    summary = "The unit board: a unit's children (or an entry's roots) ranked by a figure",
    params(("cid" = String, Path, description = "The campaign id"), UnitBoardQuery),
    responses(
        (status = 200, description = "The board (a shared snapshot, with `ETag`)", body = UnitBoard<'_>),
        (status = 304, description = "Not modified (`If-None-Match` matched)"),
        (status = 400, description = "`bad_request`: a malformed query", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such campaign, unit or entry; `rankings_hidden`: the campaign hides this ranking", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn units(
    state: web::Data<AppState>,
    campaign: web::Path<String>,
    query: web::Query<UnitBoardQuery>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let key = BoardKey::units(&state, &campaign, &query)?;
    serve(&state, &key, &request).await
}

/// The unit board as JSON text.
async fn unit_board(
    state: &AppState,
    campaign: &Campaign,
    parent: Parent,
    sort: UnitSort,
) -> Result<String, ApiError> {
    let tree = &campaign.units;
    let (parent_id, parent_name, children): (&str, &str, Vec<UnitIx>) = match parent {
        Parent::Unit(ix) => {
            let unit = tree.get(ix);
            (&unit.id, &unit.name, unit.children.clone())
        }
        Parent::Entry(entry) => {
            let entry_ref = &campaign.entries[entry];
            (&entry_ref.id, &entry_ref.name, tree.roots(entry).to_vec())
        }
    };
    let mut ids: Vec<&str> = children
        .iter()
        .map(|&ix| tree.get(ix).id.as_str())
        .collect();
    // The parent's own totals come in the same round trip; an entry's are the sum of its roots.
    let parent_is_unit = matches!(parent, Parent::Unit(_));
    if parent_is_unit {
        ids.push(parent_id);
    }
    let mut totals = state
        .hot
        .unit_totals(&campaign.id, state.shards, &ids)
        .await?;
    let parent_totals = if parent_is_unit {
        totals.pop().unwrap_or_default()
    } else {
        totals
            .iter()
            .fold(UnitTotals::default(), |sum, t| UnitTotals {
                points: sum.points + t.points,
                attempts: sum.attempts + t.attempts,
                participants: sum.participants + t.participants,
                full_marks: sum.full_marks + t.full_marks,
            })
    };
    let figure = |totals: &UnitTotals| match sort {
        UnitSort::Points => totals.points,
        UnitSort::Participants => totals.participants,
        UnitSort::Attempts => totals.attempts,
    };
    let mut rows: Vec<(UnitIx, UnitTotals)> = children.into_iter().zip(totals).collect();
    // A stable sort keeps the unit file's order among equal figures.
    rows.sort_by_key(|row| std::cmp::Reverse(figure(&row.1)));
    let ranks = shared_ranks(rows.iter().map(|row| figure(&row.1)));
    let mut items = Vec::with_capacity(rows.len());
    for ((ix, totals), rank) in rows.iter().zip(ranks) {
        let unit = tree.get(*ix);
        items.push(UnitItem {
            rank,
            unit_id: &unit.id,
            name: &unit.name,
            has_children: !unit.children.is_empty(),
            figures: (*totals).into(),
        });
    }
    let board = UnitBoard {
        parent: parent_id,
        parent_name,
        totals: parent_totals.into(),
        sort: sort.as_str(),
        items,
    };
    serde_json::to_string(&board).map_err(|error| ApiError::Internal(error.to_string()))
}

/// The query of the individual board.
#[derive(Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ParticipantBoardQuery {
    /// The unit whose subtree is ranked; the whole campaign without it.
    pub(crate) unit: Option<String>,
    /// How many participants, 1 to 100 (20 without it).
    #[param(minimum = 1, maximum = 100)]
    pub(crate) limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = BoardParticipant)]
struct ParticipantItem<'a> {
    rank: usize,
    name_masked: String,
    unit_id: String,
    unit_name: &'a str,
    points: i64,
    time_used_ms: i64,
}

/// `GET /api/v1/campaigns/{cid}/leaderboards/participants?unit=ID&limit=N`: the best
/// participants of a unit's subtree (of the whole campaign without `unit`), at most 100.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{cid}/leaderboards/participants",
    tag = "participant",
    summary = "The individual board: the best participants of a unit's subtree, names masked",
    params(("cid" = String, Path, description = "The campaign id"), ParticipantBoardQuery),
    responses(
        (status = 200, description = "The board (a shared snapshot, with `ETag`)", body = ParticipantBoard<'_>),
        (status = 304, description = "Not modified (`If-None-Match` matched)"),
        (status = 400, description = "`bad_request`: a malformed query or a limit outside 1 to 100", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such campaign or unit; `rankings_hidden`: the campaign hides this ranking", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn participants(
    state: web::Data<AppState>,
    campaign: web::Path<String>,
    query: web::Query<ParticipantBoardQuery>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let key = BoardKey::participants(&state, &campaign, &query)?;
    serve(&state, &key, &request).await
}

/// The body of the individual board (documentation only: it is built as JSON text).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ParticipantBoard<'a> {
    /// The unit asked for, `null` for the whole campaign.
    unit: Option<&'a str>,
    items: Vec<ParticipantItem<'a>>,
}

/// The individual board as JSON text.
async fn participant_board(
    state: &AppState,
    campaign: &Campaign,
    unit: Option<UnitIx>,
    limit: usize,
) -> Result<String, ApiError> {
    let unit = unit.map(|ix| campaign.units.get(ix).id.as_str());
    let entries = state
        .hot
        .top_participants(&campaign.id, state.shards, unit, limit)
        .await?;
    let items: Vec<ParticipantItem<'_>> = entries
        .into_iter()
        .enumerate()
        .map(|(position, entry)| ParticipantItem {
            rank: position + 1,
            name_masked: mask_name(&entry.name),
            unit_name: campaign
                .units
                .find(&entry.unit)
                .map_or("", |ix| campaign.units.get(ix).name.as_str()),
            unit_id: entry.unit,
            points: entry.points,
            time_used_ms: entry.time_used_ms,
        })
        .collect();
    Ok(serde_json::json!({
        "unit": unit,
        "items": items,
    })
    .to_string())
}

/// Which figure orders the board of organizations.
#[derive(
    Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, Hash, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OrganizationSort {
    /// The participation rate: staff who took part over the staff the organization declared.
    #[default]
    Rate,
    /// The average counted score of the staff who took part.
    AvgPoints,
    /// The staff's points.
    Points,
    /// Staff who took part.
    Participants,
}

impl OrganizationSort {
    fn as_str(self) -> &'static str {
        match self {
            OrganizationSort::Rate => "rate",
            OrganizationSort::AvgPoints => "avg_points",
            OrganizationSort::Points => "points",
            OrganizationSort::Participants => "participants",
        }
    }
}

/// The query of the board of organizations.
#[derive(Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrganizationBoardQuery {
    /// A region of the organizations entry (its whole subtree's organizations are ranked), or
    /// the entry's id (every organization of the campaign).
    pub(crate) parent: String,
    /// The figure that orders the organizations, larger first.
    #[serde(default)]
    #[param(inline)]
    pub(crate) sort: OrganizationSort,
    /// How many organizations, 1 to 100 (20 without it).
    #[param(minimum = 1, maximum = 100)]
    pub(crate) limit: Option<usize>,
}

/// One organization on the board: its staff apart from its 五进 participants.
#[derive(Serialize, utoipa::ToSchema)]
struct OrganizationItem<'a> {
    rank: usize,
    unit_id: &'a str,
    name: &'a str,
    /// The region it registered under, by name.
    region_name: &'a str,
    /// The staff it declared; `null` for one registered before staff were asked.
    staff: Option<i64>,
    /// Staff with a final attempt.
    staff_participants: u64,
    /// `staff_participants / staff`, a share of 1 rounded to four places; `null` without staff.
    participation_rate: Option<f64>,
    /// The staff's points (counted as the campaign counts them).
    points: u64,
    /// `points / staff_participants`, rounded to two places (0 before anyone took part).
    avg_points: f64,
    /// 五进 participants with a final attempt, counted for the organization apart.
    public_participants: u64,
}

/// The body of the board of organizations.
#[derive(Serialize, utoipa::ToSchema)]
struct OrganizationBoard<'a> {
    parent: &'a str,
    parent_name: &'a str,
    sort: &'static str,
    /// Organizations registered in the parent's subtree, all of them (the items are the first
    /// `limit`).
    organizations: usize,
    items: Vec<OrganizationItem<'a>>,
}

/// `GET /api/v1/campaigns/{cid}/leaderboards/organizations?parent=ID&sort=rate|avg_points|points|participants&limit=N`:
/// the self-registered organizations of a region's subtree (or of the campaign), ranked.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{cid}/leaderboards/organizations",
    tag = "participant",
    summary = "The board of organizations: a region's self-registered organizations ranked by participation rate or score",
    params(("cid" = String, Path, description = "The campaign id"), OrganizationBoardQuery),
    responses(
        (status = 200, description = "The board (a shared snapshot, with `ETag`)", body = OrganizationBoard<'_>),
        (status = 304, description = "Not modified (`If-None-Match` matched)"),
        (status = 400, description = "`bad_request`: a malformed query or a limit outside 1 to 100", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such campaign, or no such region or entry of organizations; `rankings_hidden`: the campaign hides unit rankings", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn organizations(
    state: web::Data<AppState>,
    campaign: web::Path<String>,
    query: web::Query<OrganizationBoardQuery>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let key = BoardKey::organizations(&state, &campaign, &query)?;
    serve(&state, &key, &request).await
}

/// The board of organizations as JSON text: the organizations of the parent's subtree from the
/// record (names and declared staff; they change only when one registers), their live figures
/// from Redis (each organization's unit totals and its 五进 group's, in one round trip per
/// shard), staff = organization − group. Its cost grows with the organizations of the subtree,
/// and it is paid once per snapshot interval, whatever the viewers.
async fn organization_board(
    state: &AppState,
    campaign: &Campaign,
    parent: Parent,
    sort: OrganizationSort,
    limit: usize,
) -> Result<String, ApiError> {
    let tree = &campaign.units;
    let (parent_id, parent_name, within) = match parent {
        Parent::Unit(ix) => {
            let unit = tree.get(ix);
            (unit.id.as_str(), unit.name.as_str(), Some(unit.id.as_str()))
        }
        Parent::Entry(entry) => {
            let entry = &campaign.entries[entry];
            (entry.id.as_str(), entry.name.as_str(), None)
        }
    };
    let organizations = state
        .store
        .organizations_on_board(&campaign.id, within)
        .await?;
    let ids: Vec<String> = organizations
        .iter()
        .flat_map(|o| [o.unit_id.clone(), public_unit_id(&o.unit_id)])
        .collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let totals = state
        .hot
        .unit_totals(&campaign.id, state.shards, &id_refs)
        .await?;
    let mut rows: Vec<OrganizationItem<'_>> = organizations
        .iter()
        .zip(totals.chunks(2))
        .map(|(organization, totals)| {
            let (whole, public) = (totals[0], totals.get(1).copied().unwrap_or_default());
            let staff_participants = whole.participants.saturating_sub(public.participants);
            let points = whole.points.saturating_sub(public.points);
            let avg_points = average(points, staff_participants);
            OrganizationItem {
                rank: 0,
                unit_id: &organization.unit_id,
                name: &organization.name,
                region_name: tree
                    .find(&organization.region_id)
                    .map_or("", |ix| tree.get(ix).name.as_str()),
                staff: organization.staff,
                staff_participants,
                participation_rate: participation_rate(staff_participants, organization.staff),
                points,
                avg_points,
                public_participants: public.participants,
            }
        })
        .collect();
    // Larger first; an organization without declared staff has no rate and goes last on that
    // board. Equal figures share a rank and keep the registration order (by unit id).
    let figure = |item: &OrganizationItem<'_>| match sort {
        OrganizationSort::Rate => item.participation_rate.unwrap_or(-1.0),
        OrganizationSort::AvgPoints => item.avg_points,
        OrganizationSort::Points => item.points as f64,
        OrganizationSort::Participants => item.staff_participants as f64,
    };
    rows.sort_by(|a, b| figure(b).total_cmp(&figure(a)));
    let count = rows.len();
    rows.truncate(limit);
    let ranks = shared_ranks(rows.iter().map(figure));
    for (row, rank) in rows.iter_mut().zip(ranks) {
        row.rank = rank;
    }
    let board = OrganizationBoard {
        parent: parent_id,
        parent_name,
        sort: sort.as_str(),
        organizations: count,
        items: rows,
    };
    serde_json::to_string(&board).map_err(|error| ApiError::Internal(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_figures_share_the_rank_of_the_first_of_them() {
        assert_eq!(
            shared_ranks([9, 7, 7, 5, 5, 5, 1].into_iter()),
            [1, 2, 2, 4, 4, 4, 7]
        );
        assert_eq!(shared_ranks(std::iter::empty::<u64>()), Vec::<usize>::new());
        assert_eq!(average(3, 2), 1.5);
        assert_eq!(average(1, 3), 0.33);
        assert_eq!(average(5, 0), 0.0);
    }
}
