//! The participant tokens each thread has verified lately, so that the six requests after an
//! attempt's first do not compute the token's HMAC-SHA256 again (docs/performance.md,
//! "Tokens remembered").
//!
//! What is remembered, and why it is safe:
//! - only a token whose MAC verified under the current key ([`super::AuthKeys::verify`]); a
//!   token is then valid until its expiry and nothing else can end it (no lookup, by design),
//!   so remembering it changes no answer. A previous key's tokens also end with the rotation
//!   window, and are never remembered;
//! - keyed by the exact token and by the [`super::AuthKeys`] that verified it (an instance
//!   number, so keys made apart never share an entry);
//! - compared in constant time with the token presented, as the MAC would have been: the
//!   time a refusal takes says nothing about a remembered token;
//! - the expiry is checked again on every use, by the caller.
//!
//! The table is direct-mapped, [`SLOTS`] entries per thread (an actix-web worker serves its
//! connections on one thread, so a participant's requests meet their own entry), placed by
//! the token's last bytes: the MAC's, which no one can choose for a token that verifies, and
//! only such tokens are placed. A newer token takes its slot from an older one; a token
//! that is not found is verified in full, so a collision costs time, never an answer.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use super::ParticipantClaims;

/// Entries per thread (a power of two): about 1 MB at the longest tokens; a worker of a
/// national peak serves a few thousand participants at once.
const SLOTS: usize = 4096;
const _: () = assert!(SLOTS.is_power_of_two());

/// Bytes of the token's end that place it in the table (of its MAC's base64url text).
const PLACED_BY: usize = 8;

/// One remembered token.
struct Entry {
    instance: u64,
    token: Box<str>,
    claims: ParticipantClaims,
}

thread_local! {
    static TABLE: RefCell<Vec<Option<Entry>>> = const { RefCell::new(Vec::new()) };
}

static INSTANCES: AtomicU64 = AtomicU64::new(1);

/// A number no other set of keys of this process carries.
pub(super) fn new_instance() -> u64 {
    INSTANCES.fetch_add(1, Ordering::Relaxed)
}

/// The slot of `token`.
fn slot(token: &str) -> usize {
    let bytes = token.as_bytes();
    let mut end = [0u8; PLACED_BY];
    let tail = &bytes[bytes.len().saturating_sub(PLACED_BY)..];
    end[..tail.len()].copy_from_slice(tail);
    // Fibonacci hashing: the product's top bits depend on every bit of the eight characters,
    // and the index is those top bits.
    let mixed = u64::from_le_bytes(end).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> (u64::BITS - SLOTS.trailing_zeros())) as usize
}

/// The claims of `token` when this thread verified it under `instance`'s current key.
pub(super) fn claims(instance: u64, token: &str) -> Option<ParticipantClaims> {
    TABLE.with_borrow(|table| {
        let entry = table.get(slot(token))?.as_ref()?;
        let same = entry.instance == instance && same_bytes(&entry.token, token);
        same.then(|| entry.claims.clone())
    })
}

/// Remembers `token`, just verified under `instance`'s current key, with its `claims`.
pub(super) fn remember(instance: u64, token: &str, claims: &ParticipantClaims) {
    TABLE.with_borrow_mut(|table| {
        if table.is_empty() {
            table.resize_with(SLOTS, || None);
        }
        table[slot(token)] = Some(Entry {
            instance,
            token: token.into(),
            claims: claims.clone(),
        });
    });
}

/// Whether `a` and `b` are the same text, in a time that depends on their lengths only (a
/// remembered token's length says nothing secret: its fields are the campaign, the participant
/// number, the unit and the expiry, and its MAC's length is fixed): every
/// byte is compared, eight at a time, and the differences are folded together before the one
/// test at the end (`black_box` keeps the compiler from testing earlier). A byte-at-a-time
/// constant-time comparison took about 200 ns for a token, most of a remembered token's cost.
fn same_bytes(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let word = |chunk: &[u8]| u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
    let mut difference = 0u64;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        difference |= word(x) ^ word(y);
    }
    let tail = a.len() - a.len() % 8;
    for (x, y) in a[tail..].iter().zip(&b[tail..]) {
        difference |= u64::from(x ^ y);
    }
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use secrecy::SecretString;

    use super::{SLOTS, same_bytes, slot};
    use crate::auth::{AuthKeys, ParticipantClaims};

    #[test]
    fn signed_tokens_spread_over_the_slots() {
        let keys = AuthKeys::derive(&SecretString::from("a test secret of enough length, 32+"));
        let expires = "2026-07-01T00:00:00Z".parse().expect("instant");
        let used: HashSet<usize> = (0..SLOTS as u64)
            .map(|participant| {
                let claims = ParticipantClaims::new("safety-month", participant, "110101", expires);
                slot(&keys.sign(&claims))
            })
            .collect();
        // As many tokens as slots, placed at random, fill about 1 - 1/e of them (63%).
        assert!(used.len() > SLOTS / 2, "{} of {SLOTS} slots", used.len());
        assert!(used.iter().all(|&index| index < SLOTS));
    }

    #[test]
    fn texts_are_the_same_only_when_every_byte_is() {
        let token = "2.k1.safety-month.42.110101.1782864000.MAC-of-forty-three-characters-here-0";
        assert!(same_bytes(token, token));
        assert!(same_bytes("", ""));
        for at in 0..token.len() {
            let mut other = token.as_bytes().to_vec();
            other[at] ^= 1;
            let other = String::from_utf8(other).expect("ASCII stays ASCII");
            assert!(!same_bytes(token, &other), "a difference at byte {at}");
        }
        assert!(!same_bytes(token, &token[..token.len() - 1]));
        assert!(!same_bytes("abc", "abd"));
    }
}
