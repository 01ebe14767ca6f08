//! Which address a request is counted under, and which proxy lists are accepted.

use std::net::IpAddr;

use super::{ProxyNetwork, TrustedProxies, client_address};

fn ip(text: &str) -> IpAddr {
    text.parse().expect("a valid address")
}

fn trusting(entries: &[&str]) -> TrustedProxies {
    let entries: Vec<String> = entries.iter().map(|entry| (*entry).to_owned()).collect();
    TrustedProxies::parse(&entries).expect("a valid list")
}

/// The client address of a request from `peer` with these header values (each slice: one
/// header's lines, in order).
fn resolve(trusted: &TrustedProxies, peer: &str, xff: &[&str], forwarded: &[&str]) -> IpAddr {
    client_address(
        ip(peer),
        trusted,
        xff.iter().map(|value| value.as_bytes()),
        forwarded.iter().map(|value| value.as_bytes()),
    )
}

#[test]
fn without_trusted_proxies_the_peer_is_the_client_whatever_the_headers_say() {
    let trusted = TrustedProxies::default();
    assert!(trusted.is_empty());
    let cases: [(&[&str], &[&str], &str); 3] = [
        (&["203.0.113.9"], &[], "a spoofed X-Forwarded-For"),
        (&[], &["for=203.0.113.9"], "a spoofed Forwarded"),
        (&["198.51.100.1, 203.0.113.9"], &["for=203.0.113.9"], "both"),
    ];
    for (xff, forwarded, why) in cases {
        assert_eq!(
            resolve(&trusted, "192.0.2.7", xff, forwarded),
            ip("192.0.2.7"),
            "{why}"
        );
    }
}

#[test]
fn an_untrusted_peer_is_the_client_even_when_other_proxies_are_trusted() {
    let trusted = trusting(&["10.0.0.0/8"]);
    assert_eq!(
        resolve(&trusted, "192.0.2.7", &["203.0.113.9"], &[]),
        ip("192.0.2.7")
    );
}

#[test]
fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() {
    let trusted = trusting(&["127.0.0.1", "10.0.0.0/8", "fd00::/8"]);
    let cases: [(&[&str], &[&str], &str, &str); 14] = [
        (&["203.0.113.9"], &[], "203.0.113.9", "one hop"),
        (
            &["198.51.100.1, 203.0.113.9"],
            &[],
            "203.0.113.9",
            "what the client wrote left of its real address is ignored",
        ),
        (
            &["198.51.100.1, 203.0.113.9, 10.1.2.3"],
            &[],
            "203.0.113.9",
            "a second trusted proxy is skipped",
        ),
        (
            &["198.51.100.1", "203.0.113.9, 10.1.2.3"],
            &[],
            "203.0.113.9",
            "repeated header lines read as one list",
        ),
        (
            &["10.9.9.9, 10.1.2.3"],
            &[],
            "10.9.9.9",
            "when every hop is trusted, the leftmost",
        ),
        (
            &["garbage, 203.0.113.9"],
            &[],
            "203.0.113.9",
            "garbage left of the client is never reached",
        ),
        (
            &["203.0.113.9:4711"],
            &[],
            "203.0.113.9",
            "an IPv4 hop with a port",
        ),
        (
            &["[2001:db8::17]:4711"],
            &[],
            "2001:db8::17",
            "an IPv6 hop with a port",
        ),
        (
            &[" 2001:db8::17 "],
            &[],
            "2001:db8::17",
            "an IPv6 hop with spaces",
        ),
        (
            &["::ffff:203.0.113.9"],
            &[],
            "203.0.113.9",
            "an IPv4-mapped hop",
        ),
        (
            &[],
            &["for=198.51.100.1, For=\"203.0.113.9:80\";proto=https, for=10.1.2.3;by=10.0.0.1"],
            "203.0.113.9",
            "Forwarded: case-insensitive names, quotes, ports and other parameters",
        ),
        (
            &[],
            &["for=\"[2001:db8:cafe::17]:4711\""],
            "2001:db8:cafe::17",
            "Forwarded: a quoted IPv6 hop",
        ),
        (
            &["203.0.113.9"],
            &["for=203.0.113.9"],
            "203.0.113.9",
            "both headers naming the same client",
        ),
        (
            &["198.51.100.1, 203.0.113.9, fd00::1"],
            &["for=203.0.113.9;proto=https"],
            "203.0.113.9",
            "both headers agreeing after different trusted hops",
        ),
    ];
    for (xff, forwarded, expected, why) in cases {
        assert_eq!(
            resolve(&trusted, "127.0.0.1", xff, forwarded),
            ip(expected),
            "{why}"
        );
    }
}

#[test]
fn unreadable_or_conflicting_headers_give_the_peer() {
    let trusted = trusting(&["127.0.0.1", "10.0.0.0/8"]);
    let cases: [(&[&str], &[&str], &str); 11] = [
        (&[], &[], "no forwarding header"),
        (&[""], &[], "an empty X-Forwarded-For"),
        (&["203.0.113.9, "], &[], "an empty last hop"),
        (
            &["203.0.113.9, proxy.internal"],
            &[],
            "a name, not an address",
        ),
        (
            &["203.0.113.9, 10.1.2.3:http"],
            &[],
            "a port that is not a number",
        ),
        (&["fe80::1%eth0"], &[], "a zone index"),
        (&[], &["for=unknown"], "Forwarded: an unknown client"),
        (&[], &["for=_hidden"], "Forwarded: an obfuscated client"),
        (&[], &["proto=https"], "Forwarded: an element without for"),
        (
            &[],
            &["for=203.0.113.9;for=198.51.100.1"],
            "Forwarded: two for parameters in one element",
        ),
        (
            &["203.0.113.9"],
            &["for=198.51.100.1"],
            "the headers naming different clients: the client wrote one of them",
        ),
    ];
    for (xff, forwarded, why) in cases {
        assert_eq!(
            resolve(&trusted, "127.0.0.1", xff, forwarded),
            ip("127.0.0.1"),
            "{why}"
        );
    }
    let not_text: &[u8] = b"203.0.113.\xff";
    assert_eq!(
        client_address(
            ip("127.0.0.1"),
            &trusted,
            [not_text].into_iter(),
            std::iter::empty()
        ),
        ip("127.0.0.1"),
        "a header value that is not text"
    );
}

#[test]
fn a_mapped_ipv4_peer_matches_ipv4_entries() {
    let trusted = trusting(&["127.0.0.0/8"]);
    assert_eq!(
        resolve(&trusted, "::ffff:127.0.0.1", &["203.0.113.9"], &[]),
        ip("203.0.113.9"),
    );
    let mapped = trusting(&["::ffff:10.0.0.0/104"]);
    assert!(mapped.contains(ip("10.20.30.40")), "a mapped network entry");
    assert!(!mapped.contains(ip("11.0.0.1")));
}

#[test]
fn networks_contain_exactly_their_prefix() {
    let cases = [
        ("10.0.0.0/8", "10.255.255.255", true),
        ("10.0.0.0/8", "11.0.0.0", false),
        ("192.168.1.1", "192.168.1.1", true),
        ("192.168.1.1", "192.168.1.2", false),
        ("0.0.0.0/0", "203.0.113.9", true),
        ("0.0.0.0/0", "2001:db8::1", false),
        ("fd00::/8", "fdff::1", true),
        ("fd00::/8", "fe00::1", false),
        ("::/0", "2001:db8::1", true),
        ("::1", "::1", true),
        ("::1", "127.0.0.1", false),
    ];
    for (entry, address, expected) in cases {
        assert_eq!(
            trusting(&[entry]).contains(ip(address)),
            expected,
            "{entry} contains {address}"
        );
    }
}

#[test]
fn bad_entries_are_refused_with_the_reason() {
    let cases = [
        ("localhost", "is not an IP address or a network"),
        ("", "is not an IP address or a network"),
        ("10.0.0/8", "is not an IP address or a network"),
        ("10.0.0.0/33", "not a number from 0 to 32"),
        ("fd00::/129", "not a number from 0 to 128"),
        ("10.0.0.0/", "not a number from 0 to 32"),
        ("10.0.0.0/+8", "not a number from 0 to 32"),
        (
            "10.0.0.1/8",
            "has bits set after its /8 prefix; write 10.0.0.0/8",
        ),
        ("fd00::1/8", "write fd00::/8"),
    ];
    for (entry, expected) in cases {
        let error = ProxyNetwork::parse(entry).expect_err(entry);
        assert_eq!(error.entry, entry);
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("`{entry}` ")) && message.contains(expected),
            "{entry}: {message}"
        );
    }
    let entries = vec!["127.0.0.1".to_owned(), "proxy.internal".to_owned()];
    let error = TrustedProxies::parse(&entries).expect_err("a bad entry");
    assert_eq!(error.entry, "proxy.internal");
}
