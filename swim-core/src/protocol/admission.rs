//! Admission: which peers and members this node deals with — the network
//! allow-list ([`Config::cidrs_allowed`], memberlist's `CIDRsAllowed` in
//! `config.go` and its checks in `net.go` / `state.go` `aliveNode`) and the
//! application's [`Hooks::admit`] check (memberlist's Alive and Merge
//! delegates).

use super::hooks::{Candidate, Hooks};
use super::Swim;
use crate::config::Config;
use crate::node::Node;
use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;
use core::net::{IpAddr, SocketAddr};
use core::str::FromStr;
use rand_core::RngCore;

/// An IP network (`10.0.0.0/8`, `fd00::/8`), for
/// [`Config::cidrs_allowed`]. Parse one with `"10.0.0.0/8".parse()`; an
/// address without a prefix length is that one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// The network of `addr` with `prefix` leading bits (host bits are
    /// cleared); `None` when `prefix` is longer than the address.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<IpNet> {
        let bits = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if prefix > bits {
            return None;
        }
        let addr = match addr {
            IpAddr::V4(a) => IpAddr::V4((u32::from(a) & mask32(prefix)).into()),
            IpAddr::V6(a) => IpAddr::V6((u128::from(a) & mask128(prefix)).into()),
        };
        Some(IpNet { addr, prefix })
    }

    /// The network's address (host bits zero).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// Its prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in this network. An IPv4 network also holds the
    /// IPv4-mapped IPv6 form of its addresses (`::ffff:10.0.0.1`), which a
    /// dual-stack socket reports.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(a)) => u32::from(a) & mask32(self.prefix) == u32::from(net),
            (IpAddr::V6(net), IpAddr::V6(a)) => u128::from(a) & mask128(self.prefix) == u128::from(net),
            _ => false,
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A string that is not an IP network (`ADDRESS/PREFIX`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpNetParseError(String);

impl fmt::Display for IpNetParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not an IP network: write ADDRESS/PREFIX, e.g. 10.0.0.0/8 or fd00::/8", self.0)
    }
}

impl core::error::Error for IpNetParseError {}

impl FromStr for IpNet {
    type Err = IpNetParseError;

    fn from_str(s: &str) -> Result<IpNet, IpNetParseError> {
        let bad = || IpNetParseError(s.into());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let prefix = match (prefix, addr) {
            (Some(p), _) => p.parse().map_err(|_| bad())?,
            (None, IpAddr::V4(_)) => 32,
            (None, IpAddr::V6(_)) => 128,
        };
        IpNet::new(addr, prefix).ok_or_else(bad)
    }
}

impl Config {
    /// Whether `ip` may talk to this node under
    /// [`cidrs_allowed`](Config::cidrs_allowed) (always, when it is `None`).
    pub fn peer_allowed(&self, ip: IpAddr) -> bool {
        self.cidrs_allowed.as_ref().is_none_or(|nets| nets.iter().any(|n| n.contains(ip)))
    }
}

impl<R: RngCore> Swim<R> {
    /// Installs the application's [`Hooks`] (replacing any installed before).
    pub fn set_hooks(&mut self, hooks: Box<dyn Hooks>) {
        self.hooks = Some(hooks);
    }

    /// Removes the installed [`Hooks`] and returns them.
    pub fn take_hooks(&mut self) -> Option<Box<dyn Hooks>> {
        self.hooks.take()
    }

    /// Whether packets and streams from `addr` are taken (see
    /// [`Config::cidrs_allowed`]); a refusal is counted
    /// (`Metrics::dropped_not_allowed`). [`handle_packet`](Self::handle_packet)
    /// and [`handle_stream`](Self::handle_stream) check it themselves; a
    /// driver asks it before reading an accepted connection and closes a
    /// refused one at once.
    pub fn admit_peer(&mut self, addr: SocketAddr) -> bool {
        let ok = self.cfg.peer_allowed(addr.ip());
        self.metrics.dropped_not_allowed += u64::from(!ok);
        ok
    }

    /// The allow-list and the application's check on a member about to be
    /// admitted or changed; a refusal is counted.
    pub(super) fn admit(&mut self, member: &Candidate<'_>) -> Result<(), String> {
        if !self.cfg.peer_allowed(member.addr.ip()) {
            self.metrics.members_refused += 1;
            return Err(alloc::format!("{} is outside cidrs_allowed", member.addr.ip()));
        }
        let verdict = self.hooks.as_mut().map_or(Ok(()), |h| h.admit(member));
        self.metrics.members_refused += u64::from(verdict.is_err());
        verdict
    }

    /// Tells the application that `claimant` claims the name of `known`.
    pub(super) fn notify_conflict(&mut self, known: &Node, claimant: &Candidate<'_>) {
        if let Some(h) = self.hooks.as_mut() {
            h.name_conflict(known, claimant);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn networks_parse_contain_and_print() {
        let net: IpNet = "10.1.2.3/8".parse().unwrap();
        assert_eq!(net.to_string(), "10.0.0.0/8");
        assert!(net.contains("10.200.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        let one: IpNet = "127.0.0.1".parse().unwrap();
        assert_eq!(one.prefix(), 32);
        assert!(one.contains("127.0.0.1".parse().unwrap()) && !one.contains("127.0.0.2".parse().unwrap()));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let v6: IpNet = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()) && !v6.contains("fe80::1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "::/129", "10.0.0/8", "x/1", "10.0.0.0/-1", ""] {
            let err = bad.parse::<IpNet>().unwrap_err();
            assert!(err.to_string().contains("ADDRESS/PREFIX"), "{bad}");
        }
    }

    #[test]
    fn no_list_allows_all_and_an_empty_one_none() {
        let ip = "192.168.1.1".parse().unwrap();
        assert!(Config::default().peer_allowed(ip));
        let none = Config { cidrs_allowed: Some(alloc::vec![]), ..Config::default() };
        assert!(!none.peer_allowed(ip));
        let some = Config {
            cidrs_allowed: Some(alloc::vec!["192.168.0.0/16".parse().unwrap()]),
            ..Config::default()
        };
        assert!(some.peer_allowed(ip) && !some.peer_allowed("10.0.0.1".parse().unwrap()));
    }

    proptest::proptest! {
        #[test]
        fn contains_matches_the_prefix_bits(a in proptest::prelude::any::<u32>(), b in proptest::prelude::any::<u32>(), p in 0u8..=32) {
            let net = IpNet::new(IpAddr::V4(a.into()), p).unwrap();
            let same = p == 0 || (a ^ b) >> (32 - u32::from(p)) == 0;
            proptest::prop_assert_eq!(net.contains(IpAddr::V4(b.into())), same);
        }
    }
}
