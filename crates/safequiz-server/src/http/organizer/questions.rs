//! The question analysis: how each question fared in a subtree's attempts of a period, from
//! the SQL record, so that ambiguous or wrong questions surface during the campaign.

use actix_web::{HttpResponse, web};
use jiff::civil::Date;
use safequiz_domain::bank::{Categories, QuestionKind};
use safequiz_domain::campaign::Campaign;
use safequiz_sql::reports::QuestionStat;
use serde::Serialize;

use super::Organizer;
use super::period::PeriodQuery;
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};

#[derive(Serialize, utoipa::ToSchema)]
struct AnalysisOption<'q> {
    key: char,
    text: &'q str,
    chosen: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
struct WrongView<'q> {
    choices: Vec<char>,
    texts: Vec<&'q str>,
    count: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
struct QuestionAnalysis<'q> {
    question_id: String,
    in_bank: bool,
    kind: Option<&'static str>,
    category: Option<&'q str>,
    /// The category's Chinese name, as organizers know it.
    category_name: Option<&'q str>,
    stem: Option<&'q str>,
    options: Vec<AnalysisOption<'q>>,
    correct_choices: Vec<char>,
    drawn: u64,
    answered: u64,
    correct: u64,
    share_correct: f64,
    most_chosen_wrong: Option<WrongView<'q>>,
}

/// A question's tallies with its text; keys are the bank's option order (`A` is the bank's
/// first option), since each participant saw the options shuffled.
fn question_analysis<'q>(
    campaign: &'q Campaign,
    categories: &'q Categories,
    stat: QuestionStat,
) -> QuestionAnalysis<'q> {
    let question = campaign.pool.find(&stat.question_id);
    let kind = question.map_or(QuestionKind::Single, |q| q.kind);
    let text = |index: usize| {
        question
            .and_then(|q| q.options.get(index))
            .map_or("", String::as_str)
    };
    QuestionAnalysis {
        in_bank: question.is_some(),
        kind: question.map(|q| q.kind.as_str()),
        category: question.map(|q| q.category.as_str()),
        category_name: question.and_then(|q| categories.name(&q.category)),
        stem: question.map(|q| q.stem.as_str()),
        options: stat
            .option_counts
            .iter()
            .enumerate()
            .map(|(index, &chosen)| AnalysisOption {
                key: kind.option_key(index),
                text: text(index),
                chosen,
            })
            .collect(),
        correct_choices: question.map_or_else(Vec::new, |q| {
            q.answer.indices().map(|i| kind.option_key(i)).collect()
        }),
        share_correct: (stat.share_correct() * 10_000.0).round() / 10_000.0,
        most_chosen_wrong: stat.most_chosen_wrong.map(|wrong| WrongView {
            choices: wrong.chosen.indices().map(|i| kind.option_key(i)).collect(),
            texts: wrong.chosen.indices().map(text).collect(),
            count: wrong.count,
        }),
        drawn: stat.drawn,
        answered: stat.answered,
        correct: stat.correct,
        question_id: stat.question_id,
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct AnalysisAnswer<'c> {
    unit_id: &'c str,
    name: &'c str,
    from: Date,
    to: Date,
    /// Recorded attempts of the campaign (any unit, any day) whose answers the analysis does
    /// not count yet: the question counters are folded a moment after the flush, usually
    /// within a second or two, longer while a peak is being flushed.
    pending_attempts: i64,
    items: Vec<QuestionAnalysis<'c>>,
}

/// `GET /api/v1/organizer/questions?unit=&from=&to=`: how each question fared in a subtree's
/// attempts of a period, the least often answered correctly first, so that ambiguous or wrong
/// questions surface during the campaign.
#[utoipa::path(
    get,
    path = "/api/v1/organizer/questions",
    tag = "organizer",
    summary = "How each question fared in a subtree's attempts of a period, worst first",
    security(("organizer" = []), ("organizer_cookie" = [])),
    params(PeriodQuery),
    responses(
        (status = 200, description = "The analysis", body = AnalysisAnswer<'_>),
        (status = 400, description = "`bad_request`: a malformed query or date", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`: no session, or an ended one", body = ErrorBody<'_>),
        (status = 403, description = "`out_of_scope`, or `password_change_required`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: the campaign has no such unit", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn questions(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    query: web::Query<PeriodQuery>,
) -> Result<HttpResponse, ApiError> {
    let (campaign, target, period) = query.resolve(&session, state.clock.now()).await?;
    let (from, to) = period.days();
    let stats = state
        .store
        .question_stats(&campaign.id, &target.scope, from, to)
        .await?;
    let pending_attempts = state.store.questions_pending(&campaign.id).await?;
    let mut items: Vec<QuestionAnalysis<'_>> = stats
        .into_iter()
        .map(|stat| question_analysis(campaign, &state.catalogue.categories, stat))
        .collect();
    // The worst first; among equals the most drawn (the surest figure), then by id.
    items.sort_by(|a, b| {
        a.share_correct
            .total_cmp(&b.share_correct)
            .then(b.drawn.cmp(&a.drawn))
    });
    Ok(HttpResponse::Ok().json(AnalysisAnswer {
        unit_id: target.scope.as_str(),
        name: &target.name,
        from: period.from,
        to: period.to,
        pending_attempts,
        items,
    }))
}
