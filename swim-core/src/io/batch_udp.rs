//! Batched UDP for the drivers (feature `std`), on `quinn-udp` — the crate
//! quinn uses under tokio and async-io alike — so each driver only adds
//! its runtime's readiness wait around these non-blocking calls.
//!
//! - Sending: consecutive datagrams to the same address with the same size
//!   (the last may be shorter) go out in one system call with UDP GSO where
//!   the kernel has it (Linux; up to 64 datagrams, 64 KiB); elsewhere, and
//!   for the rest, one `sendmsg` per datagram.
//! - Receiving: `recvmmsg` fills several slots per call (Linux, BSDs), and
//!   with GRO (Linux) one slot receives a run of datagrams from one sender
//!   as a single buffer with a stride ([`RecvSlot::stride`]).
//!
//! `quinn-udp` sets the don't-fragment bit (path MTU probing): a datagram
//! larger than the path MTU is refused rather than fragmented, so keep
//! `udp_buffer_size` under the network's MTU (memberlist's 1400 is).

extern crate std;

use crate::io::runtime::{RecvSlot, Segment};
use core::net::SocketAddr;
use std::io::{self, IoSliceMut};

pub use quinn_udp::UdpSockRef;

/// The UDP receive buffer asked for: memberlist's `udpRecvBufSize`
/// (`net_transport.go`), 2 MiB, so a burst of messages waits in the kernel
/// instead of being dropped. Linux caps it at `net.core.rmem_max`.
pub const RECV_BUFFER: usize = 2 << 20;

/// Slots filled per receive call at most.
const RECV_SLOTS: usize = 16;
/// Bytes one GSO call may carry (the kernel's 64 KiB less headers).
const GSO_BYTES: usize = 65_000;

/// A socket's batching state: what its kernel supports.
#[derive(Debug)]
pub struct BatchUdp {
    state: quinn_udp::UdpSocketState,
}

impl BatchUdp {
    /// Probes `socket` and turns on what it supports (GRO, packet info),
    /// and asks for a [`RECV_BUFFER`] receive buffer as memberlist does.
    pub fn new<S: ?Sized>(socket: &S) -> io::Result<BatchUdp>
    where
        for<'a> &'a S: Into<UdpSockRef<'a>>,
    {
        let state = quinn_udp::UdpSocketState::new(socket.into())?;
        // The kernel caps it (net.core.rmem_max); a smaller buffer still works.
        if let Err(e) = state.set_recv_buffer_size(socket.into(), RECV_BUFFER) {
            tracing::debug!(error = %e, "cannot enlarge the UDP receive buffer");
        }
        Ok(BatchUdp { state })
    }

    /// Datagrams one receive slot may hold (see [`crate::runtime::Udp::gro_segments`]).
    pub fn gro_segments(&self) -> usize {
        self.state.gro_segments()
    }

    /// Sends `buf`'s datagrams from segment `*next` on (see
    /// [`crate::runtime::Udp::send_batch`]), advancing `*next` past each
    /// run handed to the kernel and counting refused datagrams in
    /// `*failed`. Returns `WouldBlock` when the socket is full: wait until
    /// it is writable and call again.
    pub fn try_send<S: ?Sized>(
        &self,
        socket: &S,
        buf: &[u8],
        segments: &[Segment],
        next: &mut usize,
        failed: &mut usize,
    ) -> io::Result<()>
    where
        for<'a> &'a S: Into<UdpSockRef<'a>>,
    {
        let mut start: usize = segments[..*next].iter().map(|s| s.len).sum();
        while let Some(first) = segments.get(*next) {
            let run = gso_run(&segments[*next..], self.state.max_gso_segments());
            let len: usize = segments[*next..*next + run].iter().map(|s| s.len).sum();
            let Some(contents) = buf.get(start..start + len) else {
                *failed += segments.len() - *next;
                *next = segments.len();
                return Ok(());
            };
            let transmit = quinn_udp::Transmit {
                destination: first.dst,
                ecn: None,
                contents,
                segment_size: (run > 1).then_some(first.len),
                src_ip: None,
            };
            match self.state.try_send(socket.into(), &transmit) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(e),
                Err(e) => {
                    tracing::debug!(dst = %first.dst, datagrams = run, error = %e, "udp send failed");
                    *failed += run;
                }
                Ok(()) => {}
            }
            *next += run;
            start += len;
        }
        Ok(())
    }

    /// Whether a [`try_recv`](Self::try_recv) that filled `filled` of
    /// `slots` slots left nothing queued, so that the driver may wait for
    /// readiness at once instead of making the receive call that would
    /// only say `WouldBlock` (one system call less per wake-up).
    ///
    /// True on Linux when the call filled fewer slots than it asked for:
    /// `recvmmsg` on a non-blocking socket stops early only when the queue
    /// is empty (the socket reports no ICMP errors: `IP_RECVERR` is off).
    /// Elsewhere false: the receive may take one datagram per call.
    pub fn emptied(&self, filled: usize, slots: usize) -> bool {
        cfg!(any(target_os = "linux", target_os = "android"))
            && quinn_udp::BATCH_SIZE >= RECV_SLOTS
            && filled < slots.min(RECV_SLOTS)
    }

    /// Fills `slots` with what is queued (see
    /// [`crate::runtime::Udp::recv_batch`]); `WouldBlock` when nothing is:
    /// wait until the socket is readable and call again.
    pub fn try_recv<S: ?Sized>(&self, socket: &S, slots: &mut [RecvSlot]) -> io::Result<usize>
    where
        for<'a> &'a S: Into<UdpSockRef<'a>>,
    {
        let count = slots.len().min(RECV_SLOTS);
        let mut it = slots.iter_mut();
        let mut bufs: [IoSliceMut<'_>; RECV_SLOTS] =
            core::array::from_fn(|_| IoSliceMut::new(it.next().map_or(&mut [][..], |s| &mut s.buf[..])));
        let mut meta = [quinn_udp::RecvMeta::default(); RECV_SLOTS];
        let n = self.state.recv(socket.into(), &mut bufs[..count], &mut meta[..count])?;
        for (slot, m) in slots.iter_mut().zip(&meta[..n]) {
            slot.len = m.len;
            slot.stride = if m.stride == 0 { m.len } else { m.stride };
            slot.from = unmap(m.addr);
        }
        Ok(n)
    }
}

/// Logs why the socket refused the last `datagrams` of a batch; returns
/// `datagrams` (for the count [`crate::runtime::Udp::send_batch`] returns).
pub fn refused(e: &io::Error, datagrams: usize) -> usize {
    tracing::debug!(datagrams, error = %e, "udp batch send failed");
    datagrams
}

/// How many of `segments` (at least 1) can go in one GSO call: the same
/// destination and size, the last possibly shorter, within the limits.
fn gso_run(segments: &[Segment], max: usize) -> usize {
    let Some(first) = segments.first() else { return 0 };
    let max = max.min(GSO_BYTES / first.len.max(1)).max(1);
    let mut run = 1;
    for s in &segments[1..] {
        if run >= max || s.dst != first.dst || s.len > first.len {
            break;
        }
        run += 1;
        if s.len < first.len {
            break;
        }
    }
    run
}

/// An IPv4 sender seen through a dual-stack socket, as the IPv4 address.
fn unmap(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => a,
        },
        a => a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(port: u16, len: usize) -> Segment {
        Segment { dst: ([127, 0, 0, 1], port).into(), len }
    }

    #[test]
    fn a_batch_arrives_whole_with_or_without_gro() {
        use std::net::UdpSocket;
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let plain = UdpSocket::bind("127.0.0.1:0").unwrap();
        let gro = UdpSocket::bind("127.0.0.1:0").unwrap();
        plain.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
        let (sender, receiver) = (BatchUdp::new(&tx).unwrap(), BatchUdp::new(&gro).unwrap());
        let mut buf = std::vec::Vec::new();
        let mut segments = std::vec::Vec::new();
        for (i, len) in [(0u8, 100), (1, 100), (2, 100), (3, 40)] {
            buf.extend(core::iter::repeat_n(i, len));
        }
        for dst in [plain.local_addr().unwrap(), gro.local_addr().unwrap()] {
            segments.extend([100, 100, 100, 40].map(|len| Segment { dst, len }));
        }
        buf.extend_from_within(..);
        let (mut next, mut failed) = (0, 0);
        sender.try_send(&tx, &buf, &segments, &mut next, &mut failed).unwrap();
        assert_eq!((next, failed), (8, 0));
        let mut got = std::vec::Vec::new();
        let mut b = [0u8; 2000];
        for _ in 0..4 {
            let (n, from) = plain.recv_from(&mut b).unwrap();
            assert_eq!(from, tx.local_addr().unwrap());
            got.push((b[0], n));
        }
        assert_eq!(got, [(0, 100), (1, 100), (2, 100), (3, 40)]);
        let mut slots: std::vec::Vec<RecvSlot> = (0..4).map(|_| RecvSlot::new(1 << 16)).collect();
        let mut datagrams = std::vec::Vec::new();
        let start = std::time::Instant::now();
        while datagrams.len() < 4 && start.elapsed() < std::time::Duration::from_secs(2) {
            let n = match receiver.try_recv(&gro, &mut slots) {
                Ok(n) => n,
                Err(_) => continue,
            };
            for slot in &mut slots[..n] {
                assert_eq!(slot.from, tx.local_addr().unwrap());
                datagrams.extend(slot.datagrams_mut().map(|d| (d[0], d.len())));
            }
        }
        assert_eq!(datagrams, [(0, 100), (1, 100), (2, 100), (3, 40)]);
    }

    #[test]
    fn a_slot_yields_its_datagrams_by_stride_and_an_empty_one_too() {
        let mut slot = RecvSlot::new(16);
        (slot.len, slot.stride) = (10, 4);
        let lens: std::vec::Vec<usize> = slot.datagrams_mut().map(|d| d.len()).collect();
        assert_eq!(lens, [4, 4, 2]);
        (slot.len, slot.stride) = (0, 0);
        assert_eq!(slot.datagrams_mut().map(|d| d.len()).collect::<std::vec::Vec<_>>(), [0]);
        (slot.len, slot.stride) = (7, 0);
        assert_eq!(slot.datagrams_mut().map(|d| d.len()).collect::<std::vec::Vec<_>>(), [7]);
    }

    #[test]
    fn a_gso_run_is_one_destination_and_size_with_a_shorter_last() {
        let s = [seg(1, 100), seg(1, 100), seg(1, 60), seg(1, 100)];
        assert_eq!(gso_run(&s, 64), 3);
        assert_eq!(gso_run(&s[3..], 64), 1);
        assert_eq!(gso_run(&[seg(1, 100), seg(2, 100)], 64), 1);
        assert_eq!(gso_run(&[seg(1, 100), seg(1, 120)], 64), 1);
        assert_eq!(gso_run(&[seg(1, 100); 10], 4), 4);
        assert_eq!(gso_run(&[seg(1, 1400); 64], 64), 46);
        assert_eq!(gso_run(&[seg(1, 100); 3], 1), 1);
    }
}
