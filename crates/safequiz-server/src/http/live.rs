//! Live leaderboards over Server-Sent Events, for ranking pages and big screens.
//!
//! `GET /api/v1/campaigns/{cid}/leaderboards/stream?board=units&parent=ID[&sort=..]`,
//! `?board=participants[&unit=ID][&limit=N]` or `?board=organizations&parent=ID[&sort=..][&limit=N]`
//! answers `text/event-stream`: an `event: board` with
//! the same JSON as the plain endpoint at once, then again whenever it changes, and a comment every
//! 15 s so that proxies keep the connection open. Browsers reconnect by themselves when it drops.
//!
//! A stream reads the same shared snapshot as the plain GET of its board (`http::snapshots`,
//! refreshed for streams by `workers::broadcaster`), so a board costs one computation per
//! interval however many screens and pages watch it.

use std::time::Duration;

use actix_web::web::{Bytes, BytesMut};
use actix_web::{HttpResponse, web};
use futures_util::stream;
use serde::Deserialize;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::leaderboards::{
    BoardKey, OrganizationBoardQuery, ParticipantBoardQuery, UnitBoardQuery,
};
use super::snapshots::Snapshot;

const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The query of a stream: the board kind and that board's own query.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StreamParams {
    /// Which board the stream follows.
    #[param(inline)]
    board: BoardKind,
    /// For `units`: the unit or entry whose children are ranked; for `organizations`: the
    /// region or entry whose organizations are (required for both).
    parent: Option<String>,
    /// The figure that orders the board: for `units` `points` (the default), `participants` or
    /// `attempts`; for `organizations` `rate` (the default), `avg_points`, `points` or
    /// `participants`.
    sort: Option<String>,
    /// For `participants`: the unit whose subtree is ranked.
    unit: Option<String>,
    /// For `participants` and `organizations`: how many, 1 to 100.
    limit: Option<usize>,
}

#[derive(Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
enum BoardKind {
    Units,
    Participants,
    Organizations,
}

impl StreamParams {
    /// The board the stream follows, refused as the plain endpoint refuses its query.
    fn key(self, state: &AppState, campaign: &str) -> Result<BoardKey, ApiError> {
        match self.board {
            BoardKind::Units => {
                let query = UnitBoardQuery {
                    parent: self.parent.ok_or_else(|| {
                        ApiError::BadRequest("a unit board stream needs `parent`".to_owned())
                    })?,
                    sort: sort_of(self.sort.as_deref())?,
                };
                BoardKey::units(state, campaign, &query)
            }
            BoardKind::Participants => {
                let query = ParticipantBoardQuery {
                    unit: self.unit,
                    limit: self.limit,
                };
                BoardKey::participants(state, campaign, &query)
            }
            BoardKind::Organizations => {
                let query = OrganizationBoardQuery {
                    parent: self.parent.ok_or_else(|| {
                        ApiError::BadRequest(
                            "a board of organizations stream needs `parent`".to_owned(),
                        )
                    })?,
                    sort: sort_of(self.sort.as_deref())?,
                    limit: self.limit,
                };
                BoardKey::organizations(state, campaign, &query)
            }
        }
    }
}

/// The sort `sort` names for a board whose sorts are `T`'s (its default without one), or a 400.
fn sort_of<T: serde::de::DeserializeOwned + Default>(sort: Option<&str>) -> Result<T, ApiError> {
    match sort {
        None => Ok(T::default()),
        Some(sort) => {
            T::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(sort))
                .map_err(|_| {
                    ApiError::BadRequest(format!("no board of this kind is sorted by `{sort}`"))
                })
        }
    }
}

/// One event of a board stream as an SSE client reads it (documentation only: [`event`]
/// writes it).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct BoardEvent {
    /// Always `board`.
    #[schema(pattern = "^board$")]
    event: String,
    /// The board's JSON, the body of the plain board endpoint.
    data: String,
}

/// `GET /api/v1/campaigns/{cid}/leaderboards/stream`.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{cid}/leaderboards/stream",
    tag = "participant",
    summary = "A board as Server-Sent Events: `event: board` with the board's JSON on each change",
    params(("cid" = String, Path, description = "The campaign id"), StreamParams),
    responses(
        (status = 200, description = "An endless `text/event-stream` of `board` events, each the \
            board's JSON as the plain endpoint answers it; a comment every 15 s", content_type = "text/event-stream", body = BoardEvent),
        (status = 400, description = "`bad_request`: a malformed query", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such campaign, unit or entry; `rankings_hidden`: the campaign hides this ranking", body = ErrorBody<'_>),
        (status = 503, description = "`too_many_streams`: this replica serves `limits.live_streams_per_replica` streams; see `Retry-After` (or `not_ready`: Redis unreachable)", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn stream(
    state: web::Data<AppState>,
    campaign: web::Path<String>,
    params: web::Query<StreamParams>,
) -> Result<HttpResponse, ApiError> {
    let key = params.into_inner().key(&state, &campaign)?;
    // Held by the stream below until it ends or its client goes away (`http::limits`).
    let slot = state.limits.open_stream()?;
    // The first board is read here, so a failure is an error response before any stream starts.
    let first = state.boards.get(&key, || key.compute(&state)).await?;
    let shared: AppState = (**state).clone();
    let computed = key.clone();
    let mut receiver = state.broadcaster.follow(key, move || {
        let (state, key) = (shared.clone(), computed.clone());
        async move { key.compute(&state).await }
    });
    // The receiver starts at the latest snapshot, which is at least as new as `first`.
    let first = receiver.borrow_and_update().clone().unwrap_or(first);
    let events = stream::unfold(
        (receiver, Some(first)),
        |(mut receiver, first)| async move {
            if let Some(board) = first {
                return Some((Ok::<_, actix_web::Error>(event(&board)), (receiver, None)));
            }
            loop {
                match tokio::time::timeout(KEEP_ALIVE, receiver.changed()).await {
                    Ok(Ok(())) => {}
                    // The cache is gone (the service is stopping): end the stream; the browser
                    // reconnects.
                    Ok(Err(_)) => return None,
                    Err(_) => {
                        let ping = Bytes::from_static(b": keep-alive\n\n");
                        return Some((Ok(ping), (receiver, None)));
                    }
                }
                let board = receiver.borrow_and_update().clone();
                if let Some(board) = board {
                    return Some((Ok(event(&board)), (receiver, None)));
                }
            }
        },
    );
    let events = futures_util::StreamExt::map(events, move |item| {
        let _held = &slot;
        item
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(events))
}

/// One `board` event carrying the snapshot's JSON.
fn event(board: &Snapshot) -> Bytes {
    const PREFIX: &[u8] = b"event: board\ndata: ";
    const SUFFIX: &[u8] = b"\n\n";
    let mut event = BytesMut::with_capacity(PREFIX.len() + board.body().len() + SUFFIX.len());
    event.extend_from_slice(PREFIX);
    event.extend_from_slice(board.body());
    event.extend_from_slice(SUFFIX);
    event.freeze()
}
