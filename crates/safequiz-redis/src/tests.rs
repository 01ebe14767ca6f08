//! Unit tests of the crate root: which errors count as Redis being unavailable.

use redis::{ErrorKind, ServerErrorKind};

use crate::RedisError;

fn error(kind: ErrorKind) -> RedisError {
    RedisError::Command(redis::RedisError::from((kind, "test")))
}

#[test]
fn a_cluster_between_two_topologies_is_unavailable_but_a_misuse_is_not() {
    let cases = [
        (ErrorKind::Io, true, "a dropped or refused connection"),
        (
            ErrorKind::ClusterConnectionNotFound,
            true,
            "no connection to the slot's node yet",
        ),
        (
            ErrorKind::Server(ServerErrorKind::Moved),
            true,
            "a slot moved",
        ),
        (
            ErrorKind::Server(ServerErrorKind::Ask),
            true,
            "a slot migrating",
        ),
        (
            ErrorKind::Server(ServerErrorKind::TryAgain),
            true,
            "a slot migrating",
        ),
        (
            ErrorKind::Server(ServerErrorKind::ClusterDown),
            true,
            "slots unserved",
        ),
        (
            ErrorKind::Server(ServerErrorKind::MasterDown),
            true,
            "a failover",
        ),
        (
            ErrorKind::Server(ServerErrorKind::ReadOnly),
            true,
            "a write reached a node just demoted",
        ),
        (
            ErrorKind::Server(ServerErrorKind::BusyLoading),
            true,
            "a restart loading its AOF",
        ),
        (
            ErrorKind::Server(ServerErrorKind::ResponseError),
            false,
            "a script error",
        ),
        (
            ErrorKind::Server(ServerErrorKind::CrossSlot),
            false,
            "a bug: keys of two slots",
        ),
        (
            ErrorKind::Server(ServerErrorKind::NoScript),
            false,
            "handled by the EVAL fallback",
        ),
        (
            ErrorKind::UnexpectedReturnType,
            false,
            "a reply of the wrong type",
        ),
        (ErrorKind::Client, false, "a pipeline crossing slots"),
    ];
    for (kind, unavailable, why) in cases {
        assert_eq!(error(kind).is_unavailable(), unavailable, "{kind:?}: {why}");
    }
    assert!(!RedisError::Reply("?".to_owned()).is_unavailable());
}
