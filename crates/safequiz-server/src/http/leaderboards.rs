//! Public leaderboards: units (children of a parent, rolled up from their whole subtree) and
//! individuals (names masked, no phone numbers).
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
        let avg_score = if totals.attempts == 0 {
            0.0
        } else {
            (totals.points as f64 / totals.attempts as f64 * 100.0).round() / 100.0
        };
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
            Some(unit) => Some(
                campaign
                    .units
                    .find(unit)
                    .ok_or(ApiError::NotFound("no unit has this id in the campaign"))?,
            ),
            None => None,
        };
        let limit = query.limit.unwrap_or(DEFAULT_BOARD_LIMIT);
        let limit = u8::try_from(limit)
            .ok()
            .filter(|&limit| limit > 0 && usize::from(limit) <= MAX_BOARD_LIMIT)
            .ok_or_else(|| {
                ApiError::BadRequest(format!("limit must be between 1 and {MAX_BOARD_LIMIT}"))
            })?;
        Ok(BoardKey {
            campaign: campaign.id.clone(),
            board: Board::Participants { unit, limit },
        })
    }

    /// Computes the board from Redis: its JSON body, exactly as served.
    pub async fn compute(&self, state: &AppState) -> Result<Bytes, ApiError> {
        let campaign = find_campaign(state, &self.campaign)?;
        let body = match self.board {
            Board::Units { parent, sort } => unit_board(state, campaign, parent, sort).await?,
            Board::Participants { unit, limit } => {
                participant_board(state, campaign, unit, usize::from(limit)).await?
            }
        };
        Ok(Bytes::from(body))
    }
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
    let mut items = Vec::with_capacity(rows.len());
    let mut rank = 0;
    for (position, (ix, totals)) in rows.iter().enumerate() {
        if position == 0 || figure(totals) != figure(&rows[position - 1].1) {
            rank = position + 1;
        }
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
