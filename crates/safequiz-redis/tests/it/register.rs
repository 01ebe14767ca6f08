//! `register.lua`: one participant per phone per campaign, in the shard the phone picks.

use std::collections::HashSet;

use safequiz_redis::keys::{Shard, ShardKeys};
use safequiz_redis::participants::{PhoneLimit, RecordFields, RegisterOutcome, Registration};

use crate::{CAMPAIGN, SHARDS, T0, hot_state, raw};

/// A keyed phone hash made from a number (the service derives it with an HMAC).
fn phone_hash(n: u8) -> [u8; 16] {
    let mut hash = [0u8; 16];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = n.wrapping_mul(31).wrapping_add(i as u8 * 17);
    }
    hash
}

fn registration<'a>(hash: &'a [u8; 16], name: &'a str, unit: &'a str) -> Registration<'a> {
    Registration {
        campaign: CAMPAIGN,
        shards: SHARDS,
        phone_hash: hash,
        name,
        phone_masked: "138****5678",
        unit,
        now_ms: T0,
    }
}

#[tokio::test]
async fn the_same_phone_and_name_find_the_same_participant_in_their_first_unit() {
    let (_redis, hot) = hot_state();
    let hash = phone_hash(1);

    let first = hot
        .register(&registration(&hash, "张三", "110101"))
        .await
        .expect("Redis runs the register script");
    let again = hot
        .register(&registration(&hash, "张三", "130102"))
        .await
        .expect("Redis runs the register script");
    let someone_else = hot
        .register(&registration(&hash, "李四", "110101"))
        .await
        .expect("Redis runs the register script");

    let RegisterOutcome::Created { participant, unit } = first else {
        panic!("a new phone creates a participant, got {first:?}");
    };
    assert_eq!(unit, "110101");
    assert_eq!(
        again,
        RegisterOutcome::Existing {
            participant,
            unit: "110101".to_owned()
        },
        "a returning participant keeps their id and their first unit"
    );
    assert_eq!(someone_else, RegisterOutcome::PhoneTaken);
    assert_eq!(
        hot.people_count(CAMPAIGN, SHARDS).await.expect("HLEN"),
        1,
        "one participant per phone"
    );
}

#[tokio::test]
async fn ids_are_distinct_and_fall_in_the_shard_their_phone_hash_picks() {
    let (_redis, hot) = hot_state();
    let mut ids = HashSet::new();

    for n in 0..40 {
        let hash = phone_hash(n);
        let outcome = hot
            .register(&registration(&hash, "测试者", "110101"))
            .await
            .expect("Redis runs the register script");
        let RegisterOutcome::Created { participant, .. } = outcome else {
            panic!("every phone is new, got {outcome:?}");
        };

        assert_eq!(
            Shard::of_participant(participant, SHARDS),
            Shard::of_phone_hash(&hash, SHARDS),
            "participant {participant} lives in the shard its phone picks"
        );
        assert!(
            ids.insert(participant),
            "id {participant} was handed out twice"
        );
    }
    let shards: HashSet<_> = ids
        .iter()
        .map(|&id| Shard::of_participant(id, SHARDS))
        .collect();
    assert_eq!(
        shards.len(),
        usize::from(SHARDS),
        "the phones spread over every shard"
    );
}

#[tokio::test]
async fn a_phone_over_its_limit_is_refused_in_the_same_call_and_nothing_is_written() {
    let (redis, hot) = hot_state();
    let hash = phone_hash(7);
    let limit = PhoneLimit {
        allowed: 2,
        window_secs: 600,
    };
    let register = |name: &'static str| {
        let hot = &hot;
        let hash = &hash;
        async move {
            hot.register_with(
                &registration(hash, name, "110101"),
                &RecordFields::default(),
                limit,
            )
            .await
            .expect("Redis runs the register script")
        }
    };

    let first = register("张三").await;
    assert!(
        matches!(first, RegisterOutcome::Created { .. }),
        "{first:?}"
    );
    // A phone's first registration keeps no counter (issue 15: memory per participant).
    let shard = Shard::of_phone_hash(&hash, SHARDS);
    let counter = ShardKeys::new(CAMPAIGN, shard).phone_hits(&hex(&hash));
    let mut connection = raw(&redis).await;
    let kept: u64 = redis::cmd("EXISTS")
        .arg(&counter)
        .query_async(&mut connection)
        .await
        .expect("EXISTS");
    assert_eq!(kept, 0, "no counter after a first registration");
    let again = register("张三").await;
    assert!(
        matches!(again, RegisterOutcome::Existing { .. }),
        "{again:?}"
    );
    // The second counted the first as well: the third in the window is refused before the name
    // is compared (another name would otherwise be `PhoneTaken`).
    let refused = register("李四").await;
    let RegisterOutcome::Limited { retry_after_ms } = refused else {
        panic!("the third registration of one phone is limited, got {refused:?}");
    };
    assert!(
        (1..=600_000).contains(&retry_after_ms),
        "the time left in a 600 s window: {retry_after_ms}"
    );
    // Refused ones are counted too: a script that keeps trying stays refused.
    assert!(matches!(
        register("张三").await,
        RegisterOutcome::Limited { .. }
    ));

    let entries: u64 = redis::cmd("XLEN")
        .arg(ShardKeys::new(CAMPAIGN, shard).stream())
        .query_async(&mut connection)
        .await
        .expect("XLEN");
    assert_eq!(entries, 1, "only the first registration wrote an entry");
    assert_eq!(hot.people_count(CAMPAIGN, SHARDS).await.expect("HLEN"), 1);

    // Another phone has its own allowance; no limit counts nothing.
    let other = phone_hash(8);
    for _ in 0..3 {
        let outcome = hot
            .register(&registration(&other, "王五", "110101"))
            .await
            .expect("Redis runs the register script");
        assert!(!matches!(outcome, RegisterOutcome::Limited { .. }));
    }
}

/// The keyed phone hash as the register script's counter key spells it.
fn hex(hash: &[u8; 16]) -> String {
    hash.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[tokio::test]
async fn a_phone_registered_before_the_window_counts_from_its_next_registration() {
    let (_redis, hot) = hot_state();
    let hash = phone_hash(9);
    let limit = PhoneLimit {
        allowed: 1,
        window_secs: 600,
    };
    let register_at = |now_ms: i64| {
        let hot = &hot;
        let hash = &hash;
        async move {
            let mut registration = registration(hash, "张三", "110101");
            registration.now_ms = now_ms;
            hot.register_with(&registration, &RecordFields::default(), limit)
                .await
                .expect("Redis runs the register script")
        }
    };
    assert!(matches!(
        register_at(T0).await,
        RegisterOutcome::Created { .. }
    ));
    // Within the window the creation counts: a second registration is over a limit of 1.
    let RegisterOutcome::Limited { retry_after_ms } = register_at(T0 + 200_000).await else {
        panic!("the creation 200 s ago counts in a 600 s window");
    };
    assert!(
        (1..=400_000).contains(&retry_after_ms),
        "the window ends 600 s after the creation: {retry_after_ms} ms left"
    );
    let other = phone_hash(10);
    let mut registration = registration(&other, "李四", "110101");
    let created = hot
        .register_with(&registration, &RecordFields::default(), limit)
        .await
        .expect("register");
    assert!(matches!(created, RegisterOutcome::Created { .. }));
    // Past the window the creation no longer counts: one more is allowed, then the next is not.
    registration.now_ms = T0 + 601_000;
    let later = hot
        .register_with(&registration, &RecordFields::default(), limit)
        .await
        .expect("register");
    assert!(
        matches!(later, RegisterOutcome::Existing { .. }),
        "{later:?}"
    );
    let again = hot
        .register_with(&registration, &RecordFields::default(), limit)
        .await
        .expect("register");
    assert!(
        matches!(again, RegisterOutcome::Limited { .. }),
        "{again:?}"
    );
}
