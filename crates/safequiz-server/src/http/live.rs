//! Live leaderboards over Server-Sent Events, for ranking pages and big screens.
//!
//! `GET /api/v1/campaigns/{cid}/leaderboards/stream?board=units&parent=ID[&sort=..]` or
//! `?board=participants[&unit=ID][&limit=N]` answers `text/event-stream`: an `event: board` with
//! the same JSON as the plain endpoint at once, then again whenever it changes (checked every
//! second, shared by every viewer of the same board), and a comment every 15 s so that proxies
//! keep the connection open. Browsers reconnect by themselves when it drops.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use futures_util::stream;
use serde::Deserialize;

use super::AppState;
use super::campaigns::find_campaign;
use super::error::ApiError;
use super::leaderboards::{
    ParticipantBoardQuery, UnitBoardQuery, UnitSort, participant_board, unit_board,
};

const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The query of a stream: the board kind and that board's own query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamParams {
    board: BoardKind,
    parent: Option<String>,
    #[serde(default)]
    sort: UnitSort,
    unit: Option<String>,
    limit: Option<usize>,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum BoardKind {
    Units,
    Participants,
}

/// Which board a stream follows.
enum StreamQuery {
    Units(UnitBoardQuery),
    Participants(ParticipantBoardQuery),
}

impl StreamQuery {
    fn parse(params: StreamParams) -> Result<StreamQuery, ApiError> {
        match params.board {
            BoardKind::Units => Ok(StreamQuery::Units(UnitBoardQuery {
                parent: params.parent.ok_or_else(|| {
                    ApiError::BadRequest("a unit board stream needs `parent`".to_owned())
                })?,
                sort: params.sort,
            })),
            BoardKind::Participants => Ok(StreamQuery::Participants(ParticipantBoardQuery {
                unit: params.unit,
                limit: params.limit,
            })),
        }
    }
}

/// `GET /api/v1/campaigns/{cid}/leaderboards/stream`.
#[tracing::instrument(skip_all)]
pub async fn stream(
    state: web::Data<AppState>,
    campaign: web::Path<String>,
    params: web::Query<StreamParams>,
    request: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let campaign = Arc::clone(
        state
            .catalogue
            .campaign(find_campaign(&state, &campaign)?.id.as_str())
            .ok_or(ApiError::NotFound("no campaign has this id"))?,
    );
    let query = StreamQuery::parse(params.into_inner())?;
    // The first board is computed here, so a bad query is a 4xx before any stream starts.
    let initial = match &query {
        StreamQuery::Units(q) => unit_board(&state, &campaign, q).await?,
        StreamQuery::Participants(q) => participant_board(&state, &campaign, q).await?,
    };
    let key = format!("{}?{}", campaign.id, request.query_string());
    let shared: AppState = (**state).clone();
    let receiver = state.broadcaster.subscribe(key, initial, move || {
        let state = shared.clone();
        let campaign = Arc::clone(&campaign);
        let query = match &query {
            StreamQuery::Units(q) => StreamQuery::Units(q.clone()),
            StreamQuery::Participants(q) => StreamQuery::Participants(q.clone()),
        };
        async move {
            let board = match &query {
                StreamQuery::Units(q) => unit_board(&state, &campaign, q).await,
                StreamQuery::Participants(q) => participant_board(&state, &campaign, q).await,
            };
            board.ok()
        }
    });
    let events = stream::unfold((receiver, true), |(mut receiver, first)| async move {
        if !first {
            match tokio::time::timeout(KEEP_ALIVE, receiver.changed()).await {
                Ok(Ok(())) => {}
                // The poller stopped (shutdown): end the stream; the browser reconnects.
                Ok(Err(_)) => return None,
                Err(_) => {
                    let ping = Bytes::from_static(b": keep-alive\n\n");
                    return Some((Ok::<_, actix_web::Error>(ping), (receiver, false)));
                }
            }
        }
        let board = Arc::clone(&receiver.borrow_and_update());
        let event = Bytes::from(format!("event: board\ndata: {board}\n\n"));
        Some((Ok(event), (receiver, false)))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(events))
}
