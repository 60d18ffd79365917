//! Serf's query messages (`serf/messages.go`): `messageQuery`,
//! `messageQueryResponse`, the filters a query carries (`filterNode`,
//! `filterTag`, `encodeFilter`) and the relay wrapper (`messageRelay`,
//! `relayHeader`, `encodeRelayMessage`). Each rides in a memberlist user
//! message: `[8][4]{query}`, `[8][5]{response}`, `[8][9]{header}[5]{response}`.

use crate::wire::codec::{body_after, wire_message, FieldValue};
use crate::wire::msg_type;
use crate::wire::msgpack::{DecodeError, EncodeError, Reader, Writer};
use crate::wire::serf::{QUERY, QUERY_RESPONSE, RELAY};
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};

/// `messageQuery.Flags`: the asker wants an ack from every node that
/// processes the query (`queryFlagAck`).
pub const FLAG_ACK: u32 = 1;
/// `messageQuery.Flags`: do not gossip the query on (`queryFlagNoBroadcast`).
pub const FLAG_NO_BROADCAST: u32 = 2;
/// Filter type: node names (`filterNodeType`).
pub const FILTER_NODES: u8 = 0;
/// Filter type: a tag and a regular expression (`filterTagType`).
pub const FILTER_TAG: u8 = 1;

/// Go `[][]byte` kept as its encoded msgpack array, borrowed from the input
/// (the query's `Filters`). Nil and the empty array are both empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BinList<'a> {
    raw: &'a [u8],
    len: usize,
}

impl<'a> BinList<'a> {
    /// Wraps `raw`, which must be a msgpack array of byte strings (as
    /// [`encode_bin_list`] writes).
    pub fn from_encoded(raw: &'a [u8]) -> Result<BinList<'a>, DecodeError> {
        let mut r = Reader::new(raw);
        let list = Self::read(&mut r)?;
        Ok(list)
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its elements.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut r = Reader::new(self.raw);
        let n = if self.len == 0 { 0 } else { r.read_array_len().unwrap_or(0) };
        (0..n).map_while(move |_| r.read_bytes().ok())
    }
}

/// Appends `items` as a msgpack array of byte strings (for [`BinList`]).
pub fn encode_bin_list<'i>(items: impl ExactSizeIterator<Item = &'i [u8]> + Clone, out: &mut Vec<u8>) {
    let body = |w: &mut Writer<'_>| {
        w.array_header(items.len())?;
        items.clone().try_for_each(|i| w.bytes(i))
    };
    let len = crate::wire::msgpack::measure(body);
    let _ = crate::wire::append_with(out, len, |b| {
        let mut w = Writer::new(b);
        body(&mut w)?;
        Ok(w.position())
    });
}

impl<'a> FieldValue<'a> for BinList<'a> {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        if self.len == 0 {
            return w.nil();
        }
        w.raw(self.raw)
    }
    fn read(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        if r.is_nil()? {
            r.skip_value()?;
            return Ok(BinList::default());
        }
        let start = r.remaining();
        let n = r.read_array_len()?;
        for _ in 0..n {
            r.read_bytes()?;
        }
        let used = start.len() - r.remaining().len();
        Ok(BinList { raw: &start[..used], len: n })
    }
    fn is_zero(&self) -> bool {
        self.len == 0
    }
    fn max_len(&self) -> usize {
        self.raw.len().max(1)
    }
}

/// Go `int64` (`time.Duration`): go-msgpack writes a non-negative one as
/// an unsigned integer.
impl FieldValue<'_> for i64 {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.int(*self)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(r.read_nil_or(|r| r.read_int())?.unwrap_or(0))
    }
    fn is_zero(&self) -> bool {
        *self == 0
    }
    fn max_len(&self) -> usize {
        9
    }
}

wire_message! {
    /// Serf `messageQuery`, `[8][4]{…}`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct Query<'a> = msg_type::USER => QUERY {
        /// The query's Lamport time (Serf's query clock).
        ltime: u64 = "LTime" required,
        /// A random id; with `ltime`, names the query.
        id: u32 = "ID",
        /// The asker's IP address (4 or 16 bytes), for direct replies.
        addr: &'a [u8] = "Addr",
        /// The asker's port.
        port: u16 = "Port",
        /// The asker's node name.
        source_node: &'a str = "SourceNode",
        /// Filters, each `[type][msgpack]` (see [`Filter`]).
        filters: BinList<'a> = "Filters",
        /// [`FLAG_ACK`], [`FLAG_NO_BROADCAST`].
        flags: u32 = "Flags",
        /// How many other nodes relay each response too.
        relay_factor: u8 = "RelayFactor",
        /// How long the asker waits, in nanoseconds.
        timeout: i64 = "Timeout",
        /// The query's name.
        name: &'a str = "Name" required,
        /// Its payload.
        payload: &'a [u8] = "Payload",
    }
}

wire_message! {
    /// Serf `messageQueryResponse`, `[8][5]{…}`: an ack (flag [`FLAG_ACK`])
    /// or a response.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct QueryResponse<'a> = msg_type::USER => QUERY_RESPONSE {
        /// The query's Lamport time.
        ltime: u64 = "LTime" required,
        /// The query's id.
        id: u32 = "ID",
        /// The responding node.
        from: &'a str = "From",
        /// [`FLAG_ACK`] for an ack.
        flags: u32 = "Flags",
        /// The response (none in an ack).
        payload: &'a [u8] = "Payload",
    }
}

impl Query<'_> {
    /// Where the asker wants replies (`None`: no usable address).
    pub fn reply_addr(&self) -> Option<SocketAddr> {
        let ip = match self.addr.len() {
            4 => IpAddr::from(<[u8; 4]>::try_from(self.addr).ok()?),
            16 => {
                let v6 = core::net::Ipv6Addr::from(<[u8; 16]>::try_from(self.addr).ok()?);
                v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
            }
            _ => return None,
        };
        Some(SocketAddr::new(ip, self.port))
    }
}

/// One decoded query filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter<'a> {
    /// Only these node names process the query.
    Nodes(Vec<&'a str>),
    /// Only nodes whose tag `tag` matches the regular expression `expr`.
    Tag {
        /// The tag's name.
        tag: &'a str,
        /// A regular expression (Go's RE2 syntax).
        expr: &'a str,
    },
}

impl<'a> Filter<'a> {
    /// Decodes one `[type][msgpack]` filter; an unknown type is an error
    /// (Serf then does not process the query).
    pub fn decode(raw: &'a [u8]) -> Result<Filter<'a>, DecodeError> {
        let (&ty, body) = raw.split_first().ok_or(DecodeError::Truncated)?;
        let mut r = Reader::new(body);
        match ty {
            FILTER_NODES => {
                let n = r.read_nil_or(|r| r.read_array_len())?.unwrap_or(0);
                let mut names = Vec::with_capacity(n.min(body.len()));
                for _ in 0..n {
                    names.push(r.read_str()?);
                }
                Ok(Filter::Nodes(names))
            }
            FILTER_TAG => {
                let (mut tag, mut expr) = ("", "");
                for _ in 0..r.read_map_len()? {
                    match r.read_bytes()? {
                        b"Tag" => tag = <&str>::read(&mut r)?,
                        b"Expr" => expr = <&str>::read(&mut r)?,
                        _ => r.skip_value()?,
                    }
                }
                Ok(Filter::Tag { tag, expr })
            }
            t => Err(DecodeError::UnknownMessageType(t)),
        }
    }

    /// Appends this filter as Serf encodes it (`encodeFilter`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let body = |w: &mut Writer<'_>| match self {
            Filter::Nodes(names) => {
                w.array_header(names.len())?;
                names.iter().try_for_each(|n| w.str(n))
            }
            Filter::Tag { tag, expr } => {
                w.map_header(2)?;
                w.str("Expr")?;
                w.str(expr)?;
                w.str("Tag")?;
                w.str(tag)
            }
        };
        out.push(match self {
            Filter::Nodes(_) => FILTER_NODES,
            Filter::Tag { .. } => FILTER_TAG,
        });
        let len = crate::wire::msgpack::measure(body);
        let _ = crate::wire::append_with(out, len, |b| {
            let mut w = Writer::new(b);
            body(&mut w)?;
            Ok(w.position())
        });
    }
}

/// Serf's relay wrapper (`messageRelay`): `[8][9]` + `relayHeader{DestAddr:
/// {IP, Port, Zone}, DestName}` + the relayed message (`[5]{response}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relay<'a> {
    /// Where to forward the message.
    pub dest: SocketAddr,
    /// The destination's node name.
    pub dest_name: &'a str,
    /// The message to forward, starting with its Serf type byte.
    pub inner: &'a [u8],
}

impl<'a> Relay<'a> {
    /// Decodes a relay from a user message's body (`[9]…`, after the `8`).
    pub fn decode(body: &'a [u8]) -> Result<Relay<'a>, DecodeError> {
        let mut r = body_after(body, RELAY)?;
        let (mut ip, mut port, mut dest_name) = (None, 0u16, "");
        for _ in 0..r.read_map_len()? {
            match r.read_bytes()? {
                b"DestAddr" => {
                    for _ in 0..r.read_map_len()? {
                        match r.read_bytes()? {
                            b"IP" => ip = Some(r.read_bytes()?),
                            b"Port" => port = u16::read(&mut r)?,
                            _ => r.skip_value()?,
                        }
                    }
                }
                b"DestName" => dest_name = <&str>::read(&mut r)?,
                _ => r.skip_value()?,
            }
        }
        let fake = Query { addr: ip.unwrap_or(&[]), port, ..Query::default() };
        let dest = fake.reply_addr().ok_or(DecodeError::IntOutOfRange)?;
        Ok(Relay { dest, dest_name, inner: r.remaining() })
    }

    /// Appends the whole `[8][9]…` user message.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let ip: alloc::vec::Vec<u8> = match self.dest.ip() {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        let body = |w: &mut Writer<'_>| {
            w.map_header(2)?;
            w.str("DestAddr")?;
            w.map_header(3)?;
            w.str("IP")?;
            w.bytes(&ip)?;
            w.str("Port")?;
            w.uint(u64::from(self.dest.port()))?;
            w.str("Zone")?;
            w.str("")?;
            w.str("DestName")?;
            w.str(self.dest_name)
        };
        out.push(msg_type::USER);
        out.push(RELAY);
        let len = crate::wire::msgpack::measure(body);
        let _ = crate::wire::append_with(out, len, |b| {
            let mut w = Writer::new(b);
            body(&mut w)?;
            Ok(w.position())
        });
        out.extend_from_slice(self.inner);
    }
}

wire_message! {
    /// Serf `keyRequest{Key}`, the payload of a key query: `[7]{Key}`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct KeyRequest<'a> = crate::wire::serf::KEY_REQUEST {
        /// The raw key.
        key: &'a [u8] = "Key",
    }
}

impl<'a> KeyRequest<'a> {
    /// Decodes a key query's payload, `[7]{Key}`.
    pub fn decode(payload: &'a [u8]) -> Result<KeyRequest<'a>, DecodeError> {
        Self::decode_body(&mut body_after(payload, crate::wire::serf::KEY_REQUEST)?)
    }
}

/// Serf `nodeKeyResponse{Result, Message, Keys, PrimaryKey}`, the response
/// to a key query: `[8]{…}` (keys base64-encoded, as Serf sends them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeKeyResponse<'a> {
    /// Whether the operation succeeded on the node.
    pub result: bool,
    /// Why it failed (or a warning).
    pub message: &'a str,
    /// The node's keys, base64 (list-keys only).
    pub keys: Vec<&'a str>,
    /// The node's primary key, base64 (list-keys only).
    pub primary_key: &'a str,
}

impl<'a> NodeKeyResponse<'a> {
    /// Appends `[8]` + the msgpack map.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let body = |w: &mut Writer<'_>| {
            w.map_header(4)?;
            w.str("Result")?;
            w.bool(self.result)?;
            w.str("Message")?;
            w.str(self.message)?;
            w.str("Keys")?;
            if self.keys.is_empty() {
                w.nil()?;
            } else {
                w.array_header(self.keys.len())?;
                self.keys.iter().try_for_each(|k| w.str(k))?;
            }
            w.str("PrimaryKey")?;
            w.str(self.primary_key)
        };
        out.push(crate::wire::serf::KEY_RESPONSE);
        let len = crate::wire::msgpack::measure(body);
        let _ = crate::wire::append_with(out, len, |b| {
            let mut w = Writer::new(b);
            body(&mut w)?;
            Ok(w.position())
        });
    }

    /// Decodes `[8]{…}`.
    pub fn decode(msg: &'a [u8]) -> Result<NodeKeyResponse<'a>, DecodeError> {
        let mut r = body_after(msg, crate::wire::serf::KEY_RESPONSE)?;
        let mut out = NodeKeyResponse::default();
        for _ in 0..r.read_map_len()? {
            match r.read_bytes()? {
                b"Result" => out.result = bool::read(&mut r)?,
                b"Message" => out.message = <&str>::read(&mut r)?,
                b"PrimaryKey" => out.primary_key = <&str>::read(&mut r)?,
                b"Keys" if !r.is_nil()? => {
                    let n = r.read_array_len()?;
                    out.keys.reserve(n.min(r.remaining().len()));
                    for _ in 0..n {
                        out.keys.push(r.read_str()?);
                    }
                }
                _ => r.skip_value()?,
            }
        }
        Ok(out)
    }
}

/// Serf's `Member` as a conflict response carries it (`[6]{…}`, or
/// `[6]` + nil when the answering node does not know the name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictMember<'a> {
    /// The name asked about.
    pub name: &'a str,
    /// The address the answering node knows for it.
    pub addr: SocketAddr,
    /// Serf's `MemberStatus` (1 alive, 2 leaving, 3 left, 4 failed).
    pub status: u8,
    /// Protocol min, max, current, delegate min, max, current.
    pub vsn: [u8; 6],
}

impl ConflictMember<'_> {
    /// Appends `[6]` + Serf's `Member{Name, Addr, Port, Tags, Status,
    /// Protocol*, Delegate*}` (or nil for `None`).
    pub fn encode(
        m: Option<&ConflictMember<'_>>,
        tags: &[(alloc::string::String, alloc::string::String)],
        out: &mut Vec<u8>,
    ) {
        out.push(crate::wire::serf::CONFLICT_RESPONSE);
        let Some(m) = m else {
            out.push(0xc0);
            return;
        };
        let ip: Vec<u8> = match m.addr.ip() {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        let body = |w: &mut Writer<'_>| {
            w.map_header(11)?;
            w.str("Name")?;
            w.str(m.name)?;
            w.str("Addr")?;
            w.bytes(&ip)?;
            w.str("Port")?;
            w.uint(u64::from(m.addr.port()))?;
            w.str("Tags")?;
            w.map_header(tags.len())?;
            for (k, v) in tags {
                w.str(k)?;
                w.str(v)?;
            }
            w.str("Status")?;
            w.uint(u64::from(m.status))?;
            let keys =
                ["ProtocolMin", "ProtocolMax", "ProtocolCur", "DelegateMin", "DelegateMax", "DelegateCur"];
            for (k, v) in keys.into_iter().zip(m.vsn) {
                w.str(k)?;
                w.uint(u64::from(v))?;
            }
            Ok(())
        };
        let len = crate::wire::msgpack::measure(body);
        let _ = crate::wire::append_with(out, len, |b| {
            let mut w = Writer::new(b);
            body(&mut w)?;
            Ok(w.position())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(q: &Query<'_>) -> Vec<u8> {
        let mut out = alloc::vec![0u8; q.encoded_len()];
        let n = q.encode(&mut out).unwrap();
        out.truncate(n);
        out
    }

    #[test]
    fn a_query_with_filters_round_trips() {
        let mut filters = Vec::new();
        let mut nodes = Vec::new();
        Filter::Nodes(alloc::vec!["a", "b"]).encode(&mut nodes);
        let mut tag = Vec::new();
        Filter::Tag { tag: "role", expr: "^web$" }.encode(&mut tag);
        encode_bin_list([nodes.as_slice(), tag.as_slice()].into_iter(), &mut filters);
        let q = Query {
            ltime: 9,
            id: 77,
            addr: &[127, 0, 0, 1],
            port: 7946,
            source_node: "asker",
            filters: BinList::from_encoded(&filters).unwrap(),
            flags: FLAG_ACK,
            relay_factor: 2,
            timeout: 3_000_000_000,
            name: "uptime",
            payload: b"?",
        };
        let msg = encode(&q);
        assert_eq!(&msg[..2], &[msg_type::USER, QUERY]);
        let back = Query::decode(&msg[1..]).unwrap();
        assert_eq!(back, q);
        let got: Vec<_> = back.filters.iter().map(|f| Filter::decode(f).unwrap()).collect();
        assert_eq!(
            got,
            alloc::vec![Filter::Nodes(alloc::vec!["a", "b"]), Filter::Tag { tag: "role", expr: "^web$" }]
        );
        assert_eq!(back.reply_addr(), Some("127.0.0.1:7946".parse().unwrap()));
    }

    #[test]
    fn a_relay_round_trips() {
        let resp = QueryResponse { ltime: 3, id: 4, from: "n1", flags: 0, payload: b"ok" };
        let mut inner = alloc::vec![0u8; resp.encoded_len()];
        let n = resp.encode(&mut inner).unwrap();
        let relay = Relay { dest: "10.1.2.3:7946".parse().unwrap(), dest_name: "asker", inner: &inner[1..n] };
        let mut msg = Vec::new();
        relay.encode(&mut msg);
        let back = Relay::decode(&msg[1..]).unwrap();
        assert_eq!(back, relay);
        assert_eq!(QueryResponse::decode(back.inner).unwrap(), resp);
    }

    #[test]
    fn key_messages_round_trip() {
        let req = KeyRequest { key: &[7; 32] };
        let mut msg = alloc::vec![0u8; req.encoded_len()];
        let n = req.encode(&mut msg).unwrap();
        assert_eq!(msg[0], crate::wire::serf::KEY_REQUEST);
        assert_eq!(KeyRequest::decode(&msg[..n]).unwrap(), req);
        let resp = NodeKeyResponse {
            result: true,
            message: "",
            keys: alloc::vec!["a2V5", "b3RoZXI="],
            primary_key: "a2V5",
        };
        let mut out = Vec::new();
        resp.encode(&mut out);
        assert_eq!(NodeKeyResponse::decode(&out).unwrap(), resp);
    }

    /// Real Serf bytes (`testdata/wire/serf/queries/`, captured from serf
    /// 0.10.1 agents: see `index.txt` and the capture test in interop).
    #[test]
    fn captured_serf_queries_responses_and_relays_decode() {
        use crate::wire::tests::{hex, read_shared};
        let q = hex(&read_shared("serf/queries/query_from_serf.hex"));
        let q = Query::decode(&q).unwrap();
        assert_eq!(
            (q.name, q.payload, q.source_node, q.relay_factor),
            ("uptime", &b"from-serf"[..], "s2", 2)
        );
        assert_eq!(q.timeout, 1_000_000_000);
        assert_eq!(q.flags & FLAG_ACK, FLAG_ACK, "serf query asks for acks by default");
        let filters: Vec<_> = q.filters.iter().map(|f| Filter::decode(f).unwrap()).collect();
        assert_eq!(
            filters,
            alloc::vec![Filter::Nodes(alloc::vec!["s1", "g1"]), Filter::Tag { tag: "role", expr: ".*" }]
        );
        assert_eq!(q.reply_addr().map(|a| a.ip()), Some(core::net::IpAddr::from([127, 0, 0, 1])));
        let (mut acks, mut responses) = (0, 0);
        for i in 0..10 {
            let d = hex(&read_shared(&alloc::format!("serf/queries/udp_to_asker_{i:03}.hex")));
            assert_eq!(d[0], msg_type::USER);
            let r = QueryResponse::decode(&d[1..]).unwrap();
            assert_eq!((r.ltime, r.id), (1000, 4242));
            if r.flags & FLAG_ACK != 0 {
                acks += 1;
                assert!(r.payload.is_empty());
            } else {
                responses += 1;
                assert_eq!(r.payload, alloc::format!("serf-{}:from-capture", r.from).as_bytes());
            }
        }
        assert_eq!((acks, responses), (6, 4), "s1 and s2 answered, directly and relayed");
        for i in 0..3 {
            let d = hex(&read_shared(&alloc::format!("serf/queries/relay_{i:03}.hex")));
            let relay = Relay::decode(&d).unwrap();
            assert!(["s2", "capture"].contains(&relay.dest_name), "{}", relay.dest_name);
            let inner = QueryResponse::decode(relay.inner).unwrap();
            assert_eq!(inner.payload.is_empty(), inner.flags & FLAG_ACK != 0);
        }
    }

    proptest! {
        #[test]
        fn hostile_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(q) = Query::decode(&b) {
                for f in q.filters.iter() {
                    let _ = Filter::decode(f);
                }
                let _ = q.reply_addr();
            }
            let _ = QueryResponse::decode(&b);
            let _ = Relay::decode(&b);
            let _ = Filter::decode(&b);
            let _ = KeyRequest::decode(&b);
            let _ = NodeKeyResponse::decode(&b);
        }
    }
}
