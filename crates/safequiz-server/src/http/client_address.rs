//! The client address a request came from, believing forwarding headers only from trusted proxies.
//!
//! The login limits count failures per client address (`http/organizer.rs`). The address is the
//! TCP peer unless the peer is one of `http.trusted_proxies`; then the forwarding headers are
//! walked from the right (the hop the peer itself appended), skipping trusted proxies, and the
//! first untrusted address is the client. Every element read that way was appended by a trusted
//! proxy, so what a client writes into the headers itself is never reached; when every hop is
//! trusted, the leftmost one is the client.
//!
//! Both `X-Forwarded-For` and the standard `Forwarded: for=` are read. A proxy appends to one of
//! them and passes the other on from the client untouched, so trusting either alone would let a
//! client pick its address by sending the header its proxy does not write. When both arrive and
//! name different clients, or a header the walk reaches cannot be read, the address is the peer
//! (the proxy): the request is counted with the other unreadable ones, never as a fresh client.
//!
//! Pure: no I/O, no allocation per request; the list is parsed once at start.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// One entry of `http.trusted_proxies`: an address, or a network in CIDR notation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyNetwork {
    /// IPv4 addresses whose first `prefix` bits equal `base`'s.
    V4 {
        /// The network address (bits after the prefix are zero).
        base: u32,
        /// Leading bits that must match, 0 to 32.
        prefix: u8,
    },
    /// IPv6 addresses whose first `prefix` bits equal `base`'s.
    V6 {
        /// The network address (bits after the prefix are zero).
        base: u128,
        /// Leading bits that must match, 0 to 128.
        prefix: u8,
    },
}

/// Why an entry of `http.trusted_proxies` is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{entry}` {problem}")]
pub struct InvalidProxy {
    /// The entry as written.
    pub entry: String,
    /// What is wrong with it.
    pub problem: String,
}

impl ProxyNetwork {
    /// Parses `10.0.0.0/8`, `fd00::/8`, `127.0.0.1` or `::1` (a single address).
    pub fn parse(entry: &str) -> Result<ProxyNetwork, InvalidProxy> {
        let invalid = |problem: String| InvalidProxy {
            entry: entry.to_owned(),
            problem,
        };
        let text = entry.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().map_err(|_| {
            invalid(
                "is not an IP address or a network like 10.0.0.0/8, 127.0.0.1 or fd00::/8"
                    .to_owned(),
            )
        })?;
        let max_prefix = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max_prefix,
            Some(digits) => digits
                .parse::<u8>()
                .ok()
                .filter(|bits| digits.bytes().all(|b| b.is_ascii_digit()) && *bits <= max_prefix)
                .ok_or_else(|| {
                    invalid(format!(
                        "has a prefix length that is not a number from 0 to {max_prefix}"
                    ))
                })?,
        };
        let network = match address {
            IpAddr::V4(address) => ProxyNetwork::V4 {
                base: u32::from(address) & mask_v4(prefix),
                prefix,
            },
            IpAddr::V6(address) => ProxyNetwork::V6 {
                base: u128::from(address) & mask_v6(prefix),
                prefix,
            },
        };
        if network.base_address() != address {
            return Err(invalid(format!(
                "has bits set after its /{prefix} prefix; write {}/{prefix}",
                network.base_address()
            )));
        }
        Ok(network.canonical())
    }

    /// Whether `address` (already canonical: IPv4-mapped IPv6 as IPv4) is in this network.
    fn contains(self, address: IpAddr) -> bool {
        match (self, address) {
            (ProxyNetwork::V4 { base, prefix }, IpAddr::V4(address)) => {
                u32::from(address) & mask_v4(prefix) == base
            }
            (ProxyNetwork::V6 { base, prefix }, IpAddr::V6(address)) => {
                u128::from(address) & mask_v6(prefix) == base
            }
            _ => false,
        }
    }

    fn base_address(self) -> IpAddr {
        match self {
            ProxyNetwork::V4 { base, .. } => IpAddr::V4(Ipv4Addr::from(base)),
            ProxyNetwork::V6 { base, .. } => IpAddr::V6(Ipv6Addr::from(base)),
        }
    }

    /// An IPv6 network inside `::ffff:0:0/96` as the IPv4 network it maps, since addresses are
    /// compared in canonical form (a dual-stack listener sees IPv4 peers as mapped addresses).
    fn canonical(self) -> ProxyNetwork {
        const MAPPED: u128 = 0xffff_0000_0000;
        match self {
            ProxyNetwork::V6 { base, prefix } if prefix >= 96 && base >> 32 == MAPPED >> 32 => {
                ProxyNetwork::V4 {
                    // The low 32 bits are the IPv4 address; the check above fixed the rest.
                    base: (base & u128::from(u32::MAX)) as u32,
                    prefix: prefix - 96,
                }
            }
            other => other,
        }
    }
}

fn mask_v4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// The parsed `http.trusted_proxies`: the peers whose forwarding headers are believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    networks: Arc<[ProxyNetwork]>,
}

impl TrustedProxies {
    /// Parses every entry; the first bad one is the error (configuration validation reports
    /// them all, through [`ProxyNetwork::parse`]).
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, InvalidProxy> {
        let networks = entries
            .iter()
            .map(|entry| ProxyNetwork::parse(entry))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustedProxies {
            networks: networks.into(),
        })
    }

    /// Whether no proxy is trusted (then the address is always the peer).
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// Whether `address` is a trusted proxy.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.networks
            .iter()
            .any(|network| network.contains(address))
    }
}

/// The client address of a request from `peer` carrying the given `X-Forwarded-For` and
/// `Forwarded` header values (each header's values in the order they arrived; empty when the
/// header is absent). Never fails: anything unreadable gives the peer.
pub fn client_address<'a>(
    peer: IpAddr,
    trusted: &TrustedProxies,
    x_forwarded_for: impl DoubleEndedIterator<Item = &'a [u8]>,
    forwarded: impl DoubleEndedIterator<Item = &'a [u8]>,
) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    match (
        walk(x_forwarded_for, trusted, parse_hop),
        walk(forwarded, trusted, forwarded_for),
    ) {
        (Walk::Found(client), Walk::Absent) | (Walk::Absent, Walk::Found(client)) => client,
        (Walk::Found(one), Walk::Found(other)) if one == other => one,
        _ => peer,
    }
}

/// What walking one forwarding header found.
#[derive(Debug, PartialEq, Eq)]
enum Walk {
    /// The header is not there.
    Absent,
    /// An element the walk reached could not be read.
    Malformed,
    /// The first untrusted address from the right, or the leftmost when all are trusted.
    Found(IpAddr),
}

/// Walks the comma-separated elements of a header's `values` from the right.
fn walk<'a>(
    values: impl DoubleEndedIterator<Item = &'a [u8]>,
    trusted: &TrustedProxies,
    hop: fn(&str) -> Option<IpAddr>,
) -> Walk {
    let mut found = Walk::Absent;
    for value in values.rev() {
        let Ok(text) = std::str::from_utf8(value) else {
            return Walk::Malformed;
        };
        // A plain split is enough: the elements reached were written by trusted proxies, and
        // neither an address nor a `for=` pair holds a comma.
        for element in text.rsplit(',') {
            let Some(address) = hop(element) else {
                return Walk::Malformed;
            };
            let address = address.to_canonical();
            if !trusted.contains(address) {
                return Walk::Found(address);
            }
            found = Walk::Found(address);
        }
    }
    found
}

/// The address of one `Forwarded` element (`for=192.0.2.60;proto=https`): its one `for`
/// parameter, quoted or not, with or without a port (RFC 7239, section 4).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let mut address = None;
    for pair in element.split(';') {
        let (name, value) = pair.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("for") {
            if address.is_some() {
                return None;
            }
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|value| value.strip_suffix('"'))
                .unwrap_or(value);
            address = Some(parse_hop(value)?);
        }
    }
    address
}

/// One hop's address: `192.0.2.60`, `2001:db8::1`, `[2001:db8::1]`, with or without `:port`.
fn parse_hop(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(address);
    }
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Some(address.ip());
    }
    text.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<Ipv6Addr>().ok())
        .map(IpAddr::V6)
}

#[cfg(test)]
mod tests;
