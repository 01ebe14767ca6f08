//! Micro-benchmarks of the pure work of a participant request: the draw, scoring, tokens and
//! phone hashes, the request id, and the JSON an attempt is rendered to.
//!
//! Run with `cargo bench -p safequiz-server --bench hot_path` (criterion; add a name filter after
//! `--` to run some). Everything is loaded the way the service loads it: the shipped
//! configuration, question banks and campaign. The attempts rendered are real records: setup
//! starts a redis-server (testkit) and plays one attempt through the start, save, read and
//! submit scripts. Nothing measured here touches Redis or SQL; their round trips belong to the
//! load test (`loadtest/`) and to the flusher benchmark.

use std::hint::black_box;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderValue;
use criterion::{Criterion, Throughput};
use jiff::{SignedDuration, Timestamp};
use safequiz_domain::campaign::Campaign;
use safequiz_domain::draw::{DrawPlan, QuestionPool, draw};
use safequiz_domain::participant::Phone;
use safequiz_domain::score::score;
use safequiz_redis::attempts::{
    Actor, AttemptRecord, ChoiceArg, NewAttempt, ReadOutcome, StartOutcome, SubmitOutcome,
};
use safequiz_redis::{HotState, RedisSettings};
use safequiz_server::auth::{AuthKeys, ParticipantClaims};
use safequiz_server::catalogue::Catalogue;
use safequiz_server::config;
use safequiz_server::http::attempts::{render_final, render_open, unit_path};
use safequiz_server::telemetry::RequestId;
use safequiz_testapp::{CAMPAIGN, RedisServer};
use secrecy::SecretString;

/// A county of the shipped region tree (three levels deep, like most participants).
const UNIT: &str = "110101";

/// Questions answered before the open attempt is rendered (of 5): a participant mid-attempt.
const ANSWERED: usize = 3;

/// What the benchmarks share: loaded once, before any measurement.
struct Fixture {
    campaign: Arc<Campaign>,
    auth: AuthKeys,
    token_ttl: SignedDuration,
    now: Timestamp,
    /// The attempt as a read returns it mid-attempt, with [`ANSWERED`] answers saved.
    open: AttemptRecord,
    /// The same attempt as its submit returns it.
    finished: AttemptRecord,
}

fn fixture() -> Fixture {
    let loaded = config::load(&safequiz_testapp::config_dir()).expect("the shipped settings load");
    let catalogue = Catalogue::load(&loaded.dir, &loaded.banks_dir(), &loaded.campaigns_dir())
        .expect("the shipped banks and campaigns load");
    let campaign = catalogue
        .campaign(CAMPAIGN)
        .expect("the shipped campaign")
        .clone();
    let now = campaign.opens_at + SignedDuration::from_hours(24 * 30);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the setup");
    let (open, finished) = runtime.block_on(play_one(
        &loaded.settings.redis,
        loaded.settings.hot.shards,
        &campaign,
        now,
    ));
    Fixture {
        campaign,
        auth: AuthKeys::derive(&loaded.settings.auth.secret),
        token_ttl: SignedDuration::from_hours(i64::from(
            loaded.settings.auth.participant_token_ttl_hours,
        )),
        now,
        open,
        finished,
    }
}

/// Plays one attempt on a throwaway redis-server: start, save [`ANSWERED`] answers (each the
/// first option shown), read it open, then submit it a minute later.
async fn play_one(
    settings: &RedisSettings,
    shards: u16,
    campaign: &Campaign,
    now: Timestamp,
) -> (AttemptRecord, AttemptRecord) {
    let redis = RedisServer::start();
    let mut settings = settings.clone();
    settings.url = SecretString::from(redis.url());
    let hot = HotState::connect(&settings).expect("a Redis URL from the testkit parses");
    let path = unit_path(campaign, UNIT).expect("the unit is in the shipped campaign");
    let actor = Actor {
        campaign: &campaign.id,
        shards,
        participant: 1,
        path: &path,
        scoring: campaign.scoring,
    };
    let attempt = NewAttempt::draw(campaign, now, &mut rand::rng());
    let now_ms = now.as_millisecond();
    let StartOutcome::Created(started) = hot
        .start(&actor, campaign.attempts_per_day, &attempt)
        .await
        .expect("Redis runs the start script")
    else {
        panic!("a fresh participant's first start creates an attempt");
    };
    let number = started.id.number;
    let kinds: Vec<_> = started
        .questions()
        .map(|stored| {
            let stored = stored.expect("a fresh record decodes");
            campaign.pool.find(stored.id).expect("a drawn id").kind
        })
        .collect();
    for (index, kind) in kinds.iter().enumerate().take(ANSWERED) {
        let key = kind.option_key(0).to_string();
        let choice = ChoiceArg::parse([key.as_str()]).expect("one key never repeats");
        hot.save(&actor, number, index as u32, choice, now_ms)
            .await
            .expect("Redis runs the save script");
    }
    let ReadOutcome::Open(open) = hot
        .read(&actor, number, now_ms)
        .await
        .expect("Redis runs the read script")
    else {
        panic!("the attempt is still open within its time limit");
    };
    let SubmitOutcome::Final(finished) = hot
        .submit(&actor, number, &[], now_ms + 60_000)
        .await
        .expect("Redis runs the submit script")
    else {
        panic!("a submit within the time limit finalizes the attempt");
    };
    (open, finished)
}

fn bench_draw(c: &mut Criterion, fixture: &Fixture) {
    let campaign = &fixture.campaign;
    let pool_size = campaign.pool.questions().len();
    let mut group = c.benchmark_group("draw");
    group.bench_function(
        format!("{}_of_{pool_size}", campaign.plan.questions_per_attempt),
        |b| b.iter(|| draw(&campaign.pool, &campaign.plan, &mut rand::rng())),
    );
    // The shipped campaign draws uniformly; a plan with a quota takes the other branch.
    let quota_plan = DrawPlan {
        questions_per_attempt: campaign.plan.questions_per_attempt,
        quotas: vec![(campaign.pool.questions()[0].category.clone(), 2)],
    };
    let quota_pool = QuestionPool::new(campaign.pool.questions().to_vec(), &quota_plan)
        .expect("any category of the shipped banks has two questions");
    group.bench_function(
        format!(
            "{}_of_{pool_size}_with_a_quota",
            quota_plan.questions_per_attempt
        ),
        |b| b.iter(|| draw(&quota_pool, &quota_plan, &mut rand::rng())),
    );
    group.bench_function("and_encode_for_the_start_script", |b| {
        b.iter(|| NewAttempt::draw(campaign, black_box(fixture.now), &mut rand::rng()))
    });
    group.finish();
}

fn bench_score(c: &mut Criterion, fixture: &Fixture) {
    let answers: Vec<_> = fixture
        .finished
        .questions()
        .map(|stored| {
            let stored = stored.expect("a final record decodes");
            (
                stored.key.expect("a final record has its key"),
                stored.answer,
            )
        })
        .collect();
    let points = fixture.campaign.points_per_question;
    c.bench_function(&format!("score/{}_answers", answers.len()), |b| {
        b.iter(|| score(points, black_box(&answers).iter().copied()))
    });
}

fn bench_auth(c: &mut Criterion, fixture: &Fixture) {
    let claims = ParticipantClaims::new(
        &fixture.campaign.id,
        123_456,
        UNIT,
        fixture.now + fixture.token_ttl,
    );
    let token = fixture.auth.sign(&claims);
    let phone = Phone::parse("13812345678").expect("a valid mobile number");
    let mut group = c.benchmark_group("auth");
    group.bench_function("sign", |b| b.iter(|| fixture.auth.sign(black_box(&claims))));
    // A token this thread verified before (the six requests after an attempt's first)...
    group.bench_function("verify", |b| {
        b.iter(|| fixture.auth.verify(black_box(&token), fixture.now))
    });
    // ...and one it has not: four times more tokens than the table keeps, in turn, so each is
    // verified in full and remembered in another's place.
    let tokens: Vec<String> = (0..16_384_u64)
        .map(|participant| {
            fixture.auth.sign(&ParticipantClaims::new(
                &fixture.campaign.id,
                participant,
                UNIT,
                fixture.now + fixture.token_ttl,
            ))
        })
        .collect();
    let mut next = tokens.iter().cycle();
    group.bench_function("verify_first", |b| {
        b.iter(|| {
            let token = next.next().expect("a cycle never ends");
            fixture.auth.verify(black_box(token), fixture.now)
        })
    });
    group.bench_function("phone_hash", |b| {
        b.iter(|| {
            fixture
                .auth
                .phone_hash(black_box(&fixture.campaign.id), &phone)
        })
    });
    group.finish();
}

/// What the request-id middleware adds to every request: a new id and its response header.
fn bench_request_id(c: &mut Criterion) {
    let mut group = c.benchmark_group("request_id");
    group.bench_function("generate_and_header", |b| {
        b.iter(|| {
            let id = RequestId::generate();
            HeaderValue::from_str(black_box(id.as_str())).expect("ASCII")
        })
    });
    group.finish();
}

fn bench_render(c: &mut Criterion, fixture: &Fixture) {
    let campaign = &fixture.campaign;
    // The handlers' whole response: views, JSON encoding and the response around it.
    let open = || {
        render_open(
            &fixture.auth,
            campaign,
            &fixture.open,
            fixture.now,
            StatusCode::OK,
        )
        .expect("the attempt's questions are in the banks")
    };
    let finished = || {
        render_final(campaign, &fixture.finished, fixture.now)
            .expect("the attempt's questions are in the banks")
    };
    let body_len = |response: actix_web::HttpResponse| {
        response
            .into_body()
            .try_into_bytes()
            .map(|bytes| bytes.len() as u64)
            .unwrap_or_else(|_| panic!("a JSON response body is in memory"))
    };
    let mut group = c.benchmark_group("render");
    group.throughput(Throughput::Bytes(body_len(open())));
    group.bench_function("open_attempt", |b| b.iter(open));
    group.throughput(Throughput::Bytes(body_len(finished())));
    group.bench_function("final_attempt", |b| b.iter(finished));
    group.finish();
}

fn main() {
    let fixture = fixture();
    let mut criterion = Criterion::default().configure_from_args();
    bench_draw(&mut criterion, &fixture);
    bench_score(&mut criterion, &fixture);
    bench_auth(&mut criterion, &fixture);
    bench_request_id(&mut criterion);
    bench_render(&mut criterion, &fixture);
    criterion.final_summary();
}
