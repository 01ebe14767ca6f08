//! Live progress: the figures of a unit within the organizer's scope and of each of its
//! children, from the hot state (up to the second), with the children nobody in has finished an
//! attempt yet.

use actix_web::{HttpResponse, web};
use jiff::Timestamp;
use safequiz_domain::board::UnitTotals;
use safequiz_domain::campaign::Campaign;
use safequiz_domain::scope::Scope;
use safequiz_domain::units::{UnitIx, UnitTree};
use serde::{Deserialize, Serialize};

use super::{Organizer, Session, Target};
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::leaderboards::{Figures, UnitSort};

/// The query of `GET /organizer/progress`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProgressQuery {
    /// The unit whose children are listed; the organizer's own unit when absent.
    unit: Option<String>,
    /// Which figure orders the children.
    #[serde(default)]
    #[param(inline)]
    sort: UnitSort,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ProgressItem<'a> {
    unit_id: &'a str,
    name: &'a str,
    has_children: bool,
    started: bool,
    #[serde(flatten)]
    figures: Figures,
}

/// One step of the way from the organizer's own unit down to the unit shown.
#[derive(Serialize, utoipa::ToSchema)]
struct PathStep<'a> {
    unit_id: &'a str,
    name: &'a str,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Progress<'a> {
    unit_id: &'a str,
    name: &'a str,
    /// From the organizer's own unit (the whole campaign for a national account) down to this
    /// one, for the pages' breadcrumbs.
    path: Vec<PathStep<'a>>,
    at: Timestamp,
    totals: Figures,
    sort: UnitSort,
    items: Vec<ProgressItem<'a>>,
    not_started: Vec<&'a str>,
}

/// The units from the session's own unit down to `target` (`None`: the whole campaign).
fn path_from_own_unit<'t>(
    session: &Session,
    tree: &'t UnitTree,
    target: Option<UnitIx>,
) -> Vec<PathStep<'t>> {
    let everything = session.scope().is_whole_campaign();
    let mut path = Vec::new();
    if everything {
        path.push(PathStep {
            unit_id: Scope::WholeCampaign.as_str(),
            name: Scope::WholeCampaign.name(tree),
        });
    }
    let own = session.scope().unit_id().and_then(|unit| tree.find(unit));
    if let Some(target) = target {
        path.extend(
            tree.path(target)
                .into_iter()
                .skip_while(|&unit| !everything && Some(unit) != own)
                .map(|ix| {
                    let unit = tree.get(ix);
                    PathStep {
                        unit_id: &unit.id,
                        name: &unit.name,
                    }
                }),
        );
    }
    path
}

/// The units listed under `target`: its children, or for the whole campaign the entries' roots.
fn children_of(campaign: &Campaign, target: Option<UnitIx>) -> Vec<UnitIx> {
    match target {
        Some(ix) => campaign.units.get(ix).children.clone(),
        None => (0..campaign.entries.len())
            .flat_map(|entry| campaign.units.roots(entry).iter().copied())
            .collect(),
    }
}

/// Each child with its totals, the larger figure of `sort` first; equal figures keep the unit
/// file's order.
fn ranked_items<'t>(
    tree: &'t UnitTree,
    children: &[UnitIx],
    totals: Vec<UnitTotals>,
    sort: UnitSort,
) -> Vec<ProgressItem<'t>> {
    let mut items: Vec<ProgressItem<'_>> = children
        .iter()
        .zip(totals)
        .map(|(&ix, figures)| {
            let unit = tree.get(ix);
            ProgressItem {
                unit_id: &unit.id,
                name: &unit.name,
                has_children: !unit.children.is_empty(),
                started: figures.attempts > 0,
                figures: figures.into(),
            }
        })
        .collect();
    let key = |item: &ProgressItem<'_>| match sort {
        UnitSort::Points => item.figures.points,
        UnitSort::Participants => item.figures.participants,
        UnitSort::Attempts => item.figures.attempts,
    };
    // Stable: equal figures keep the unit file's order.
    items.sort_by_key(|item| std::cmp::Reverse(key(item)));
    items
}

/// `GET /api/v1/organizer/progress?unit=ID&sort=points|participants|attempts`: live figures
/// (from the hot state, up to the second) of a unit within the organizer's subtree and of each
/// of its children, sorted, with the children nobody in has finished an attempt yet.
#[utoipa::path(
    get,
    path = "/api/v1/organizer/progress",
    tag = "organizer",
    summary = "Live figures of a unit and its children, from the hot state",
    security(("organizer" = []), ("organizer_cookie" = [])),
    params(ProgressQuery),
    responses(
        (status = 200, description = "The unit's and its children's figures", body = Progress<'_>),
        (status = 400, description = "`bad_request`: a malformed query or date", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`: no session, or an ended one", body = ErrorBody<'_>),
        (status = 403, description = "`out_of_scope`, or `password_change_required`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: the campaign has no such unit", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn progress(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    query: web::Query<ProgressQuery>,
) -> Result<HttpResponse, ApiError> {
    let campaign = session.campaign()?;
    let scope = match &query.unit {
        Some(unit) => Scope::parse(unit)?,
        None => session.scope().clone(),
    };
    let target = Target::checked(&session, campaign, scope).await?;
    let tree = &campaign.units;
    // An organization or a 五进 group has no children in the tree: its own totals only (the
    // staff and 五进 split is in the organizations report).
    let children = if target.dynamic {
        Vec::new()
    } else {
        children_of(campaign, target.unit)
    };
    let mut ids: Vec<&str> = children
        .iter()
        .map(|&ix| tree.get(ix).id.as_str())
        .collect();
    ids.push(target.scope.as_str());
    let mut totals = state
        .hot
        .unit_totals(&campaign.id, state.shards, &ids)
        .await?;
    let own = totals.pop().unwrap_or_default();
    let items = ranked_items(tree, &children, totals, query.sort);
    let not_started = items
        .iter()
        .filter(|item| !item.started)
        .map(|item| item.name)
        .collect();
    Ok(HttpResponse::Ok().json(Progress {
        unit_id: target.scope.as_str(),
        name: &target.name,
        path: path_from_own_unit(&session, tree, target.unit),
        at: state.clock.now(),
        totals: own.into(),
        sort: query.sort,
        items,
        not_started,
    }))
}
