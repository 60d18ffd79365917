//! Which address a node advertises when `Config::advertise_addr` is not set,
//! and which name when `Config::node_name` is not (feature `std`).
//!
//! The name defaults to the host name, as memberlist's `DefaultLANConfig`
//! takes `os.Hostname()` ([`host_name`]): every host bound to `0.0.0.0:7946`
//! then has a name of its own. Two nodes on one host need names set.
//!
//! Other members reach a node only at the address it advertises, so a node
//! bound to an unspecified address (`0.0.0.0`, the default, or `::`) must pick
//! one of its interfaces' addresses. Like memberlist (`FinalAdvertiseAddr`,
//! which takes go-sockaddr's `GetPrivateIP`), it prefers a private address;
//! unlike memberlist it also handles `::` and hosts with only public or only
//! loopback addresses. The rules, in order:
//!
//! 1. `advertise_addr` configured: that address, as given.
//! 2. Bound to a specific address: that address (with the bound port).
//! 3. Bound to an unspecified address: the interface addresses of the bound
//!    family only (`0.0.0.0` → IPv4, `::` → IPv6: whether a `::` socket also
//!    takes IPv4 depends on the OS, so IPv4 is never guessed for it), in the
//!    order the OS lists them, excluding link-local (unusable without a
//!    scope), multicast, unspecified and IPv4-mapped addresses; the first of,
//!    in this order of preference:
//!    - a private address of a running interface: RFC 1918 (`10/8`,
//!      `172.16/12`, `192.168/16`), RFC 6598 (`100.64/10`) or an IPv6 unique
//!      local address (`fc00::/7`), logged at `info`;
//!    - a public (any other) address of a running interface, logged at
//!      `warn`: memberlist refuses to start here, but a host with only
//!      public addresses (a cloud VM, an IPv6-only network) is served better
//!      by working, with a warning;
//!    - a private, then a public address of an interface that is not running
//!      (no carrier: a bridge with nothing attached, or a link that has just
//!      come up and has no carrier yet, as at boot), logged at `warn`;
//!    - loopback (`127.0.0.1` / `::1`), logged at `info`: only when the host
//!      has nothing else, so only nodes on this host can reach it.
//! 4. Nothing usable: [`CreateError::NoAdvertiseAddress`].
//!
//! [`choose`] is the pure rule (tested without touching the host);
//! [`interface_addrs`] lists the host's addresses.

extern crate std;

use crate::io::driver::CreateError;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One address of a network interface, as [`choose`] sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceAddr {
    /// The interface's name (`eth0`, `lo`, ...), for the log.
    pub name: String,
    /// The address.
    pub ip: IpAddr,
    /// Whether the interface is running (up, with a carrier).
    pub running: bool,
}

/// Why an address was advertised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// `Config::advertise_addr` was set.
    Configured,
    /// The node is bound to this specific address.
    Bound,
    /// A private (RFC 1918, RFC 6598 or unique local) interface address.
    Private,
    /// A public interface address: the host has no private one.
    Public,
    /// An address of an interface that is not running: no running one has
    /// an address to advertise.
    NotRunning,
    /// Loopback: the host has no other address of the bound family.
    Loopback,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Configured => "configured advertise_addr",
            Reason::Bound => "the bound address",
            Reason::Private => "private interface address",
            Reason::Public => "public interface address (no private one found)",
            Reason::NotRunning => "address of an interface that is not running (no running one has one)",
            Reason::Loopback => "loopback (no other interface address found)",
        })
    }
}

/// The address to advertise and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advertised {
    /// The address other nodes will reach this one at.
    pub addr: SocketAddr,
    /// Why it was chosen.
    pub reason: Reason,
    /// The interface it belongs to, when taken from one.
    pub interface: Option<String>,
}

/// How [`choose`] ranks an interface address; `None`: never advertised.
fn rank(ip: IpAddr) -> Option<Reason> {
    let usable = |ip: IpAddr| !ip.is_unspecified() && !ip.is_multicast();
    if !usable(ip) {
        return None;
    }
    match ip {
        IpAddr::V4(v4) if v4.is_loopback() => Some(Reason::Loopback),
        IpAddr::V4(v4) if v4.is_link_local() || v4.is_broadcast() => None,
        IpAddr::V4(v4) if v4.is_private() || is_shared(v4) => Some(Reason::Private),
        IpAddr::V4(_) => Some(Reason::Public),
        IpAddr::V6(v6) if v6.is_loopback() => Some(Reason::Loopback),
        IpAddr::V6(v6) if is_link_local_v6(v6) || v6.to_ipv4_mapped().is_some() => None,
        IpAddr::V6(v6) if is_unique_local(v6) => Some(Reason::Private),
        IpAddr::V6(_) => Some(Reason::Public),
    }
}

/// RFC 6598 shared address space, `100.64.0.0/10` (carrier-grade NAT).
fn is_shared(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    a == 100 && (b & 0xc0) == 64
}

/// IPv6 unique local addresses, `fc00::/7`.
fn is_unique_local(ip: Ipv6Addr) -> bool {
    (ip.segments()[0] & 0xfe00) == 0xfc00
}

/// IPv6 link-local unicast, `fe80::/10`.
fn is_link_local_v6(ip: Ipv6Addr) -> bool {
    (ip.segments()[0] & 0xffc0) == 0xfe80
}

/// The address to advertise for a node bound to `bound` with
/// `advertise_addr` = `configured`, given the host's interface addresses
/// (see the [module docs](self) for the rules). Pure: logs nothing.
pub fn choose(
    configured: Option<SocketAddr>,
    bound: SocketAddr,
    interfaces: &[InterfaceAddr],
) -> Result<Advertised, CreateError> {
    if let Some(addr) = configured {
        return Ok(Advertised { addr, reason: Reason::Configured, interface: None });
    }
    if !bound.ip().is_unspecified() {
        return Ok(Advertised { addr: bound, reason: Reason::Bound, interface: None });
    }
    let candidates = interfaces
        .iter()
        .filter(|i| i.ip.is_ipv4() == bound.is_ipv4())
        .filter_map(|i| rank(i.ip).map(|r| (r, i)));
    // (class, running, reported as), best first; loopback after them all.
    let order = [
        (Reason::Private, true, Reason::Private),
        (Reason::Public, true, Reason::Public),
        (Reason::Private, false, Reason::NotRunning),
        (Reason::Public, false, Reason::NotRunning),
    ];
    let best = order
        .into_iter()
        .find_map(|(class, running, why)| {
            candidates.clone().find(|(r, i)| *r == class && i.running == running).map(|(_, i)| (why, i))
        })
        .or_else(|| candidates.clone().find(|(r, _)| *r == Reason::Loopback));
    match best {
        Some((reason, i)) => Ok(Advertised {
            addr: SocketAddr::new(i.ip, bound.port()),
            reason,
            interface: Some(i.name.clone()),
        }),
        None => Err(CreateError::NoAdvertiseAddress { bound, source: None }),
    }
}

/// The host's interface addresses (through the `if-addrs` crate).
pub fn interface_addrs() -> std::io::Result<Vec<InterfaceAddr>> {
    Ok(if_addrs::get_if_addrs()?
        .into_iter()
        .map(|i| InterfaceAddr { running: i.is_oper_up(), ip: i.ip(), name: i.name })
        .collect())
}

/// [`choose`] on this host's interfaces, logging the choice (`info`, or
/// `warn` for a public address).
pub(crate) fn advertise_addr(
    configured: Option<SocketAddr>,
    bound: SocketAddr,
) -> Result<SocketAddr, CreateError> {
    let interfaces = if configured.is_none() && bound.ip().is_unspecified() {
        interface_addrs().map_err(|e| CreateError::NoAdvertiseAddress { bound, source: Some(e) })?
    } else {
        Vec::new()
    };
    let chosen = choose(configured, bound, &interfaces)?;
    let (addr, reason, interface) = (chosen.addr, chosen.reason, chosen.interface.as_deref().unwrap_or("-"));
    if matches!(reason, Reason::Public | Reason::NotRunning) {
        tracing::warn!(
            %addr, %bound, interface, "advertising a public address ({reason}); \
             set Config::advertise_addr if other nodes reach this one elsewhere"
        );
    } else {
        tracing::info!(%addr, %bound, interface, "advertising {reason}");
    }
    Ok(addr)
}

/// The default node name: the host name, or `None` when it cannot be read
/// or is not a valid node name (empty, longer than 255 bytes, not UTF-8).
pub fn host_name() -> Option<String> {
    let name = gethostname::gethostname().into_string().ok()?;
    (!name.is_empty() && name.len() <= 255).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn iface(name: &str, ip: &str, running: bool) -> InterfaceAddr {
        InterfaceAddr { name: name.to_string(), ip: ip.parse().unwrap(), running }
    }

    fn host() -> Vec<InterfaceAddr> {
        vec![
            iface("lo", "127.0.0.1", true),
            iface("lo", "::1", true),
            iface("eth0", "203.0.113.7", true),
            iface("eth0", "fe80::1", true),
            iface("eth0", "2001:db8::7", true),
            iface("eth1", "10.1.2.3", true),
            iface("eth1", "fd00::3", true),
        ]
    }

    fn pick(bound: &str, ifaces: &[InterfaceAddr]) -> (String, Reason) {
        let a = choose(None, bound.parse().unwrap(), ifaces).unwrap();
        (a.addr.to_string(), a.reason)
    }

    #[test]
    fn configured_and_specific_bind_addresses_win() {
        let cfg: SocketAddr = "192.0.2.1:9000".parse().unwrap();
        let a = choose(Some(cfg), "0.0.0.0:7946".parse().unwrap(), &[]).unwrap();
        assert_eq!((a.addr, a.reason), (cfg, Reason::Configured));
        assert_eq!(pick("10.9.9.9:7946", &[]), ("10.9.9.9:7946".into(), Reason::Bound));
        assert_eq!(pick("[::1]:7946", &host()), ("[::1]:7946".into(), Reason::Bound));
    }

    #[test]
    fn unspecified_v4_takes_the_first_private_ipv4_over_public_and_loopback() {
        let a = choose(None, "0.0.0.0:7946".parse().unwrap(), &host()).unwrap();
        assert_eq!(a.addr.to_string(), "10.1.2.3:7946");
        assert_eq!((a.reason, a.interface.as_deref()), (Reason::Private, Some("eth1")));
        let cgnat = [iface("lo", "127.0.0.1", true), iface("wg0", "100.72.0.5", true)];
        assert_eq!(pick("0.0.0.0:1", &cgnat), ("100.72.0.5:1".into(), Reason::Private));
        let order = [iface("a", "192.168.1.2", true), iface("b", "172.20.0.1", true)];
        assert_eq!(pick("0.0.0.0:1", &order).0, "192.168.1.2:1", "the OS's order decides");
    }

    #[test]
    fn unspecified_v6_takes_a_unique_local_then_global_ipv6_never_ipv4() {
        assert_eq!(pick("[::]:7946", &host()), ("[fd00::3]:7946".into(), Reason::Private));
        let global =
            [iface("lo", "::1", true), iface("eth0", "10.0.0.1", true), iface("eth0", "2001:db8::7", true)];
        assert_eq!(pick("[::]:7946", &global), ("[2001:db8::7]:7946".into(), Reason::Public));
        let v4_only = [iface("lo", "127.0.0.1", true), iface("eth0", "10.0.0.1", true)];
        let err = choose(None, "[::]:7946".parse().unwrap(), &v4_only).unwrap_err();
        assert!(matches!(err, CreateError::NoAdvertiseAddress { .. }), "{err}");
        assert!(err.to_string().contains("0.0.0.0"), "suggests binding IPv4: {err}");
    }

    #[test]
    fn public_only_hosts_advertise_the_public_address() {
        let public = [iface("lo", "127.0.0.1", true), iface("eth0", "203.0.113.7", true)];
        assert_eq!(pick("0.0.0.0:7946", &public), ("203.0.113.7:7946".into(), Reason::Public));
    }

    #[test]
    fn running_interfaces_first_then_any_address_over_loopback() {
        // docker0 without containers has no carrier: the public eth0 wins.
        let docker = [iface("docker0", "172.17.0.1", false), iface("eth0", "203.0.113.7", true)];
        assert_eq!(pick("0.0.0.0:7946", &docker), ("203.0.113.7:7946".into(), Reason::Public));
        // A link just brought up has no carrier yet: still better than loopback.
        let booting = [iface("lo", "127.0.0.1", true), iface("eth0", "10.0.0.1", false)];
        assert_eq!(pick("0.0.0.0:7946", &booting), ("10.0.0.1:7946".into(), Reason::NotRunning));
        let booting6 = [iface("lo", "::1", true), iface("eth0", "2001:db8::1", false)];
        assert_eq!(pick("[::]:7946", &booting6), ("[2001:db8::1]:7946".into(), Reason::NotRunning));
    }

    #[test]
    fn loopback_only_when_nothing_else_is_there() {
        let lonely = [
            iface("lo", "127.0.0.1", true),
            iface("eth0", "169.254.3.4", true),
            iface("eth0", "fe80::1", true),
        ];
        assert_eq!(pick("0.0.0.0:7946", &lonely), ("127.0.0.1:7946".into(), Reason::Loopback));
        let lonely6 = [iface("lo", "::1", true), iface("eth0", "fe80::1", true)];
        assert_eq!(pick("[::]:7946", &lonely6), ("[::1]:7946".into(), Reason::Loopback));
    }

    #[test]
    fn nothing_usable_is_a_clear_error() {
        for ifaces in [vec![], vec![iface("eth0", "169.254.0.9", true), iface("eth0", "fe80::1", true)]] {
            let err = choose(None, "0.0.0.0:7946".parse().unwrap(), &ifaces).unwrap_err();
            assert!(matches!(err, CreateError::NoAdvertiseAddress { source: None, .. }), "{err}");
            assert!(err.to_string().contains("advertise_addr"), "says what to set: {err}");
        }
    }

    #[test]
    fn ranks_special_addresses() {
        let r = |s: &str| rank(s.parse().unwrap());
        assert_eq!(r("100.63.255.255"), Some(Reason::Public));
        assert_eq!(r("100.128.0.0"), Some(Reason::Public));
        assert_eq!(r("100.127.0.1"), Some(Reason::Private));
        assert_eq!(r("fc00::1"), Some(Reason::Private));
        assert_eq!(r("fe00::1"), Some(Reason::Public));
        assert_eq!(r("febf::1"), None);
        assert_eq!(r("::ffff:10.0.0.1"), None);
        assert_eq!(r("224.0.0.1"), None);
        assert_eq!(r("255.255.255.255"), None);
        assert_eq!(r("ff02::1"), None);
    }

    #[test]
    fn this_host_lists_at_least_loopback() {
        let ifaces = interface_addrs().expect("interfaces listed");
        assert!(ifaces.iter().any(|i| i.ip.is_loopback()), "{ifaces:?}");
        // The default bind address always finds something on a host with lo up.
        assert!(choose(None, "0.0.0.0:0".parse().unwrap(), &ifaces).is_ok());
    }
}
