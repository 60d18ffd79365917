//! A SWIM node driven by a plain loop: one [`Swim`] core, a std `UdpSocket`,
//! a std `TcpListener` and the TCP exchanges in flight — no async runtime.
//!
//! It shows what embedding `swim-core` takes: feed it datagrams, accepted
//! streams, replies and the time; send what it produces; carry out the
//! [`StreamRequest`]s it makes. Every socket is non-blocking and one thread
//! calls [`PlainNode::step`] and sleeps for the time it returns. The only
//! helper threads connect outgoing streams, since std has no non-blocking
//! `connect`. A real application would wait on all its sockets at once
//! (poll/epoll, e.g. through mio) instead of sleeping a few milliseconds.
//!
//! ```no_run
//! use swim_examples::plain_loop::PlainNode;
//! use swim_core::Config;
//!
//! let config = Config { bind_addr: "127.0.0.1".parse().unwrap(), bind_port: 7946, ..Config::default() };
//! let mut node = PlainNode::bind(config).unwrap();
//! node.on_message(|from, topic, payload| println!("{topic} from {}: {payload:?}", from.id));
//! node.join("127.0.0.1:7947".parse().unwrap());
//! loop {
//!     let wait = node.step();
//!     while let Some(event) = node.poll_event() {
//!         println!("{event:?}");
//!     }
//!     std::thread::sleep(wait);
//! }
//! ```

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant as StdInstant};

use rand_chacha::rand_core::SeedableRng;
use swim_core::io::driver::{CreateError, DriverRng, SendError};
use swim_core::{
    Config, Event, FrameReader, Instant, Metrics, Node, NodeId, StreamFrame, StreamRequest, Swim,
};

/// The longest [`PlainNode::step`] asks to sleep: how long a datagram or a
/// connection may wait to be noticed, since nothing wakes the loop.
pub const MAX_WAIT: Duration = Duration::from_millis(5);

/// Datagrams handled per step at most, so TCP and timers get their turn.
const RECV_BATCH: usize = 64;

/// Accepted streams served at once (as the async drivers allow).
const MAX_INBOUND: usize = 128;

type MessageHandler = Box<dyn FnMut(&Node, &str, &[u8]) + Send>;

/// One SWIM node: the core, its sockets and its TCP exchanges in flight.
pub struct PlainNode {
    swim: Swim<DriverRng>,
    /// The core's clock counts from here.
    epoch: StdInstant,
    udp: UdpSocket,
    listener: TcpListener,
    exchanges: Vec<Exchange>,
    /// Receives datagrams and holds the ones the core encodes.
    buf: Vec<u8>,
    on_message: MessageHandler,
}

/// A TCP exchange in flight: one the core asked for, or one a peer opened.
struct Exchange {
    side: Side,
    conn: Conn,
    /// What is left to write is `out[written..]`.
    out: Vec<u8>,
    written: usize,
    /// Bytes read so far, and the framer that finds the message in them.
    read: Vec<u8>,
    reader: FrameReader,
    deadline: StdInstant,
}

enum Side {
    /// Our [`StreamRequest`] `id`: write it, then read the reply if one comes.
    Request { id: u64, expects_reply: bool },
    /// A stream from `from`: read its message, then answer.
    Serve { from: SocketAddr },
    /// Writing our answer to a served stream; done once written.
    Answer,
}

enum Conn {
    /// A helper thread is connecting.
    Connecting(mpsc::Receiver<io::Result<TcpStream>>),
    Open(TcpStream),
}

impl PlainNode {
    /// Validates `config`, binds UDP and TCP on `bind_addr:bind_port` (port
    /// 0: one free port for both) and builds the core. Nothing is sent until
    /// [`step`](Self::step).
    pub fn bind(config: Config) -> Result<Self, CreateError> {
        config.validate()?;
        let (udp, listener, bound) = bind_both(SocketAddr::new(config.bind_addr, config.bind_port))?;
        let advertise = config.advertise_addr.unwrap_or(if bound.ip().is_unspecified() {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), bound.port())
        } else {
            bound
        });
        let buf = vec![0; config.udp_buffer_size];
        let epoch = StdInstant::now();
        let swim = Swim::new(config, advertise, DriverRng::from_os_rng(), Instant::ZERO)?;
        Ok(PlainNode {
            swim,
            epoch,
            udp,
            listener,
            exchanges: Vec::new(),
            buf,
            on_message: Box::new(|_, _, _| {}),
        })
    }

    /// Sets the handler of incoming user messages (direct and broadcast).
    /// It runs inside [`step`](Self::step), with the payload still in the
    /// receive buffer.
    pub fn on_message(&mut self, f: impl FnMut(&Node, &str, &[u8]) + Send + 'static) {
        self.on_message = Box::new(f);
    }

    /// Starts joining the cluster through the node at `seed`: a state
    /// exchange that later steps carry out. Success shows as `Event::Join`s;
    /// the core retries the seed in the background while this node is alone.
    pub fn join(&mut self, seed: SocketAddr) {
        let req = self.swim.join(self.now(), seed);
        self.start_request(req);
    }

    /// Sends one datagram with `topic` and `payload` to the live member `target`.
    pub fn send(&mut self, target: &NodeId, topic: &str, payload: &[u8]) -> Result<(), SendError> {
        let t = self.swim.encode_direct(target, topic, payload, &mut self.buf)?;
        self.udp.send_to(&self.buf[..t.len], t.dst)?;
        Ok(())
    }

    /// Leaves gracefully: steps (sleeping in between) until the cluster has
    /// been told or `timeout` passed. Returns whether the news went out.
    pub fn leave(&mut self, timeout: Duration) -> bool {
        self.swim.leave(self.now());
        let deadline = StdInstant::now() + timeout;
        while !self.swim.leave_complete() && StdInstant::now() < deadline {
            let wait = self.step();
            std::thread::sleep(wait);
        }
        self.swim.leave_complete()
    }

    /// Does everything that is due: handles the datagrams and connections
    /// that arrived, runs the core's timers, moves the TCP exchanges on and
    /// sends what the core produced. Returns how long to sleep before the
    /// next step (at most [`MAX_WAIT`]).
    pub fn step(&mut self) -> Duration {
        let now = self.now();
        self.receive(now);
        self.accept();
        if self.swim.poll_timeout() <= now {
            self.swim.handle_timeout(now);
        }
        while let Some(req) = self.swim.poll_stream_request() {
            self.start_request(req);
        }
        self.advance_exchanges(now);
        while let Some(t) = self.swim.poll_transmit(now, &mut self.buf) {
            // UDP may lose datagrams anyway: a full socket buffer is no different.
            let _ = self.udp.send_to(&self.buf[..t.len], t.dst);
        }
        let next = self.swim.poll_timeout().saturating_duration_since(self.now());
        next.min(MAX_WAIT)
    }

    /// Steps until `stop` is set, calling `each` after every step (to drain
    /// events, send messages, read the member list...).
    pub fn run_until(&mut self, stop: &AtomicBool, mut each: impl FnMut(&mut Self)) {
        while !stop.load(Ordering::Acquire) {
            let wait = self.step();
            each(self);
            std::thread::sleep(wait);
        }
    }

    /// The next membership event, if any (they wait in the core until taken).
    pub fn poll_event(&mut self) -> Option<Event> {
        self.swim.poll_event()
    }

    /// The live members (alive or suspect), this node first.
    pub fn members(&self) -> Vec<Node> {
        self.swim.members()
    }

    /// The address other nodes reach this one at.
    pub fn local_addr(&self) -> SocketAddr {
        self.swim.local_node().addr
    }

    /// Counters of everything sent, received, dropped and refused.
    pub fn metrics(&self) -> Metrics {
        self.swim.metrics()
    }

    /// The core, for everything else (`broadcast`, `set_tags`, keys...):
    /// what it queues goes out on the next [`step`](Self::step).
    pub fn core(&mut self) -> &mut Swim<DriverRng> {
        &mut self.swim
    }

    /// The core's clock: time since this node was built.
    fn now(&self) -> Instant {
        Instant::from_duration(self.epoch.elapsed())
    }

    fn receive(&mut self, now: Instant) {
        for _ in 0..RECV_BATCH {
            match self.udp.recv_from(&mut self.buf) {
                Ok((n, from)) => {
                    let deliver =
                        &mut |d: swim_core::Delivery<'_>| (self.on_message)(d.sender, d.topic, d.payload);
                    self.swim.handle_packet(now, from, &mut self.buf[..n], deliver);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // E.g. an ICMP error surfacing on some systems: skip it.
                Err(_) => continue,
            }
        }
    }

    fn accept(&mut self) {
        while let Ok((conn, from)) = self.listener.accept() {
            let inbound = self.exchanges.iter().filter(|x| matches!(x.side, Side::Serve { .. })).count();
            if inbound >= MAX_INBOUND || conn.set_nonblocking(true).is_err() {
                continue; // dropped: the peer sees the connection close
            }
            let (reader, timeout) = (self.swim.frame_reader(true), self.swim.config().tcp_timeout);
            let x = Exchange::new(Side::Serve { from }, Conn::Open(conn), Vec::new(), reader, timeout);
            self.exchanges.push(x);
        }
    }

    /// Connects on a helper thread; the exchange goes on in the loop.
    fn start_request(&mut self, req: StreamRequest) {
        let (tx, rx) = mpsc::channel();
        let (addr, timeout) = (req.addr, req.timeout);
        std::thread::spawn(move || {
            let _ = tx.send(TcpStream::connect_timeout(&addr, timeout));
        });
        let side = Side::Request { id: req.id, expects_reply: req.expects_reply };
        let reader = self.swim.frame_reader(false);
        self.exchanges.push(Exchange::new(side, Conn::Connecting(rx), req.data, reader, req.timeout));
    }

    fn advance_exchanges(&mut self, now: Instant) {
        let mut exchanges = std::mem::take(&mut self.exchanges);
        exchanges.retain_mut(|x| {
            let outcome = if StdInstant::now() >= x.deadline {
                Err(io::ErrorKind::TimedOut.into())
            } else {
                self.advance(now, x)
            };
            match (outcome, &x.side) {
                (Ok(done), _) => !done,
                // The core forgets the request (a no-op if it was settled).
                (Err(_), Side::Request { id, .. }) => {
                    self.swim.handle_stream_failed(*id);
                    false
                }
                (Err(_), _) => false,
            }
        });
        self.exchanges = exchanges;
    }

    /// Moves one exchange on as far as its socket allows; `Ok(true)` when done.
    fn advance(&mut self, now: Instant, x: &mut Exchange) -> io::Result<bool> {
        if let Conn::Connecting(rx) = &x.conn {
            let conn = match rx.try_recv() {
                Ok(r) => r?,
                Err(mpsc::TryRecvError::Empty) => return Ok(false),
                Err(mpsc::TryRecvError::Disconnected) => return Err(io::Error::other("connect thread died")),
            };
            conn.set_nonblocking(true)?;
            x.conn = Conn::Open(conn);
        }
        let Conn::Open(conn) = &mut x.conn else { return Ok(false) };
        while x.written < x.out.len() {
            match conn.write(&x.out[x.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => x.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        if matches!(x.side, Side::Request { expects_reply: false, .. } | Side::Answer) {
            return Ok(true);
        }
        let Some((start, end)) = read_frame(conn, &mut x.read, &mut x.reader)? else { return Ok(false) };
        let frame = &mut x.read[start..end];
        let deliver = &mut |d: swim_core::Delivery<'_>| (self.on_message)(d.sender, d.topic, d.payload);
        match x.side {
            Side::Request { id, .. } => {
                self.swim.handle_stream_reply(now, id, frame, deliver).map_err(io::Error::other)?;
                Ok(true)
            }
            Side::Serve { from } => match self.swim.handle_stream(now, from, frame, deliver) {
                Ok(Some(reply)) => {
                    (x.side, x.out, x.written) = (Side::Answer, reply, 0);
                    self.advance(now, x)
                }
                Ok(None) => Ok(true),
                Err(e) => Err(io::Error::other(e)),
            },
            Side::Answer => Ok(true),
        }
    }
}

impl Exchange {
    fn new(side: Side, conn: Conn, out: Vec<u8>, reader: FrameReader, timeout: Duration) -> Self {
        let deadline = StdInstant::now() + timeout;
        Exchange { side, conn, out, written: 0, read: Vec::new(), reader, deadline }
    }
}

/// Reads what `conn` has; returns where the message lies once it is whole.
fn read_frame(
    conn: &mut TcpStream,
    read: &mut Vec<u8>,
    reader: &mut FrameReader,
) -> io::Result<Option<(usize, usize)>> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match conn.read(&mut chunk) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => read.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        }
        if let StreamFrame::Complete { start, end } = reader.poll(read).map_err(io::Error::other)? {
            return Ok(Some((start, end)));
        }
    }
}

/// Binds UDP and TCP on one port, both non-blocking, and says which; port
/// 0 takes the port the OS gives UDP for TCP too (retrying if TCP has it taken).
fn bind_both(addr: SocketAddr) -> Result<(UdpSocket, TcpListener, SocketAddr), CreateError> {
    let err = |addr, source| CreateError::Bind { addr, source };
    let mut last = None;
    for _ in 0..16 {
        let udp = UdpSocket::bind(addr).map_err(|e| err(addr, e))?;
        let bound = udp.local_addr().map_err(|e| err(addr, e))?;
        match TcpListener::bind(bound) {
            Ok(tcp) => {
                udp.set_nonblocking(true).map_err(|e| err(addr, e))?;
                tcp.set_nonblocking(true).map_err(|e| err(addr, e))?;
                return Ok((udp, tcp, bound));
            }
            Err(e) if addr.port() == 0 => last = Some(e),
            Err(e) => return Err(err(addr, e)),
        }
    }
    Err(err(addr, last.unwrap_or_else(|| io::Error::other("no free port"))))
}
