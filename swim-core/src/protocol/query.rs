//! Serf's queries (`serf/query.go`, `serf.go` `Query`, `handleQuery`,
//! `handleQueryResponse`, `event.go` `Query.Respond`): a request gossiped to
//! the cluster, answered by each node that passes its filters with an ack
//! and a response sent straight back to the asker over UDP (and through
//! `relay_factor` other members, in case the direct path loses it), the
//! whole bounded by a timeout.
//!
//! Asking: [`Swim::query`] returns a [`QueryId`]; acks, responses and the
//! end arrive through [`Swim::poll_query_event`]. Answering:
//! [`Swim::poll_query`] hands out each query this node should answer once
//! (de-duplicated by Lamport time and id, filters already applied, the ack
//! already sent), and [`Swim::respond_query`] answers it. Serf's internal
//! queries (`_serf_*`) never reach the application.

use super::{OutKind, Swim};
use crate::node::{NodeId, State};
use crate::protocol::user::{advance_clock, MAX_CLOCK_JUMP};
use crate::time::Instant;
use crate::wire::query::{
    encode_bin_list, BinList, Filter, Query, QueryResponse, Relay, FLAG_ACK, FLAG_NO_BROADCAST,
};
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::net::SocketAddr;
use core::time::Duration;
use rand_core::RngCore;

/// Lamport times of queries remembered for de-duplication (Serf's
/// `QueryBuffer`); an older query is dropped.
pub const QUERY_BUFFER: u64 = 512;
/// Query ids remembered per Lamport time, at most.
const IDS_PER_TIME: usize = 64;
/// Queries waiting for [`Swim::poll_query`], at most; more are dropped
/// and counted (`Metrics::queries_dropped`).
pub const MAX_PENDING_QUERIES: usize = 1024;
/// Query events waiting for [`Swim::poll_query_event`], at most.
const MAX_QUERY_EVENTS: usize = 65_536;
/// Queries of this node's running at once, at most.
pub const MAX_RUNNING_QUERIES: usize = 256;
/// Serf's prefix of internal query names.
pub const INTERNAL_PREFIX: &str = "_serf_";

/// Names one query: its Lamport time and random id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueryId {
    /// The query's Lamport time.
    pub ltime: u64,
    /// Its random id.
    pub id: u32,
}

/// How to ask a query ([`Swim::query`]); `QueryParams::default()` asks
/// every node, without acks or relays, for Serf's default timeout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryParams {
    /// Only these nodes answer (empty: any).
    pub filter_nodes: Vec<String>,
    /// Only nodes whose tag matches the regular expression answer, for
    /// each `(tag, expression)` (Go's RE2 syntax, as Serf).
    pub filter_tags: Vec<(String, String)>,
    /// Ask every answering node for an ack as soon as it gets the query.
    pub request_ack: bool,
    /// Each response is also sent through this many other members.
    pub relay_factor: u8,
    /// How long to collect answers (`None`: Serf's default,
    /// `gossip_interval × query_timeout_mult × ⌈log10(n + 1)⌉`).
    pub timeout: Option<Duration>,
}

impl QueryParams {
    /// Only node `name` answers (added to the node filter).
    pub fn node(mut self, name: impl Into<String>) -> Self {
        self.filter_nodes.push(name.into());
        self
    }

    /// Only nodes whose tag `tag` matches `expr` answer.
    pub fn tag(mut self, tag: impl Into<String>, expr: impl Into<String>) -> Self {
        self.filter_tags.push((tag.into(), expr.into()));
        self
    }

    /// Ask for acks.
    pub fn with_acks(mut self) -> Self {
        self.request_ack = true;
        self
    }

    /// Relay each response through `n` other members.
    pub fn relay_factor(mut self, n: u8) -> Self {
        self.relay_factor = n;
        self
    }

    /// Collect answers for `t`.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }
}

/// A query this node should answer ([`Swim::poll_query`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryRequest {
    /// Which query.
    pub id: QueryId,
    /// Its name.
    pub name: String,
    /// Its payload.
    pub payload: Vec<u8>,
    /// The asking node.
    pub source: NodeId,
    /// Where the asker takes answers.
    pub reply_to: SocketAddr,
    /// Answers after this are refused ([`QueryError::PastDeadline`]).
    pub deadline: Instant,
    relay_factor: u8,
}

/// What happened to a query this node asked ([`Swim::poll_query_event`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryEvent {
    /// Node `from` got the query (only with `request_ack`).
    Ack {
        /// Which query.
        query: QueryId,
        /// The node.
        from: NodeId,
    },
    /// Node `from` answered.
    Response {
        /// Which query.
        query: QueryId,
        /// The node.
        from: NodeId,
        /// Its answer.
        payload: Vec<u8>,
    },
    /// The timeout passed: nothing more comes for this query.
    Finished {
        /// Which query.
        query: QueryId,
    },
}

/// Why a query could not be asked or answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryError {
    /// The encoded query is over `Config::query_size_limit`.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The encoded response is over `Config::query_response_size_limit`.
    ResponseTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The query's deadline has passed (or it was answered already).
    PastDeadline,
    /// A tag filter's expression is not a valid regular expression.
    BadFilter(String),
    /// Too many of this node's queries are running.
    TooManyRunning,
    /// This node has left the cluster.
    Leaving,
    /// The cluster was shut down.
    Shutdown,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::TooLarge { limit } => {
                write!(f, "the query encodes to more than {limit} bytes (Config::query_size_limit)")
            }
            QueryError::ResponseTooLarge { limit } => write!(
                f,
                "the response encodes to more than {limit} bytes (Config::query_response_size_limit)"
            ),
            QueryError::PastDeadline => {
                f.write_str("the query's deadline has passed, or it was answered already")
            }
            QueryError::BadFilter(e) => write!(f, "invalid tag filter: {e}"),
            QueryError::TooManyRunning => {
                write!(f, "{MAX_RUNNING_QUERIES} queries of this node are running; wait for one to finish")
            }
            QueryError::Leaving => f.write_str("this node has left the cluster"),
            QueryError::Shutdown => f.write_str("the cluster was shut down"),
        }
    }
}

impl core::error::Error for QueryError {}

/// One of this node's queries, collecting answers.
#[derive(Debug)]
struct Running {
    id: u32,
    deadline: Instant,
    acks: BTreeSet<NodeId>,
    responses: BTreeSet<NodeId>,
}

/// The query state of a node.
#[derive(Debug, Default)]
pub(super) struct Queries {
    /// Serf's query clock, as the highest time seen (Serf's `Time()` is one more).
    clock: u64,
    /// Queries before this time are ignored (those before a join).
    min_time: u64,
    /// Ids seen per Lamport time, for the last [`QUERY_BUFFER`] times.
    seen: BTreeMap<u64, Vec<u32>>,
    running: BTreeMap<u64, Running>,
    pending: VecDeque<QueryRequest>,
    events: VecDeque<QueryEvent>,
}

impl Queries {
    /// The next free query time (Serf's `queryClock.Time()`), for push-pull.
    pub(super) fn next_time(&self) -> u64 {
        self.clock.saturating_add(1)
    }

    /// Witnesses a peer's clock from its push-pull state (Serf sends its
    /// next free time); `fresh_join`: older queries are ignored from now.
    pub(super) fn witness_state(&mut self, next_free: u64, fresh_join: bool) -> bool {
        let ok = advance_clock(&mut self.clock, next_free.saturating_sub(1));
        if ok && fresh_join {
            self.min_time = next_free;
        }
        ok
    }

    /// The earliest deadline of a running query.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.running.values().map(|r| r.deadline).min()
    }

    /// Whether (`ltime`, `id`) is new; remembers it. Times older than the
    /// buffer are forgotten.
    fn first_sight(&mut self, ltime: u64, id: u32) -> bool {
        let floor = self.next_time().saturating_sub(QUERY_BUFFER);
        while let Some((&t, _)) = self.seen.first_key_value() {
            if t >= floor {
                break;
            }
            self.seen.pop_first();
        }
        let ids = self.seen.entry(ltime).or_default();
        if ids.contains(&id) || ids.len() >= IDS_PER_TIME {
            return false;
        }
        ids.push(id);
        true
    }
}

/// Whether a node named `name` with `tags` passes every filter of a query.
/// A filter that does not decode, or an invalid expression, fails (Serf's
/// `shouldProcessQuery`).
fn passes(filters: &BinList<'_>, name: &str, tags: &[(String, String)]) -> bool {
    filters.len() <= MAX_TAG_FILTERS + 1
        && filters.iter().all(|raw| match Filter::decode(raw) {
            Ok(Filter::Nodes(names)) => names.contains(&name),
            Ok(Filter::Tag { tag, expr }) => {
                let value = tags.iter().find(|(k, _)| k == tag).map_or("", |(_, v)| v.as_str());
                regex_matches(expr, value).unwrap_or(false)
            }
            Err(_) => false,
        })
}

/// Tag filters one query may carry, and the longest expression, at most:
/// every node compiles each filter of every query it sees.
pub const MAX_TAG_FILTERS: usize = 8;
/// See [`MAX_TAG_FILTERS`].
pub const MAX_FILTER_EXPR: usize = 256;
/// Relay factor taken from a query, at most (Serf's CLI allows 5).
pub const MAX_RELAY_FACTOR: u8 = 5;

/// Go's `regexp.MatchString`: whether `expr` matches anywhere in `value`.
/// Expressions are bounded (length, compiled size: a hostile filter costs
/// little), and classes are ASCII like Go's `\d`, `\w`, `\s`.
fn regex_matches(expr: &str, value: &str) -> Result<bool, String> {
    if expr.len() > MAX_FILTER_EXPR {
        return Err(alloc::format!("expression longer than {MAX_FILTER_EXPR} bytes"));
    }
    let re = regex_automata::meta::Regex::builder()
        .syntax(regex_automata::util::syntax::Config::new().unicode(false).utf8(false))
        .configure(regex_automata::meta::Config::new().nfa_size_limit(Some(1 << 18)))
        .build(expr)
        .map_err(|e| e.to_string())?;
    Ok(re.is_match(value))
}

impl<R: RngCore> Swim<R> {
    /// Serf's default query timeout: `gossip_interval × query_timeout_mult
    /// × ⌈log10(n + 1)⌉`, `n` the live members (this node included).
    pub fn default_query_timeout(&self) -> Duration {
        let n = self.num_live() as f64;
        let scale = libm::ceil(libm::log10(n + 1.0)).max(1.0) as u32;
        self.cfg.gossip_interval.saturating_mul(self.cfg.query_timeout_mult).saturating_mul(scale)
    }

    /// Transmits a query gets beyond the retransmit limit, at every node
    /// that gossips it: as many again. With the limit alone a node misses a
    /// rumour now and then (Serf's queries too: 1 in 300 of a five-node
    /// cluster's queries missed a node in the core's experiment); a query
    /// is rare and every node should answer it, so it gets the treatment
    /// of news of a join (see `GossipQueue::push_news`).
    fn query_extra_transmits(&self) -> u32 {
        crate::protocol::dissemination::retransmit_limit(self.cfg.retransmit_mult, self.members.len() + 1)
    }

    /// Asks the cluster `name` with `payload`: gossips the query, answers
    /// it here too if this node passes the filters, and collects acks and
    /// responses for [`poll_query_event`](Self::poll_query_event) until
    /// the timeout, which ends with [`QueryEvent::Finished`].
    pub fn query(
        &mut self,
        now: Instant,
        name: &str,
        payload: &[u8],
        params: &QueryParams,
    ) -> Result<QueryId, QueryError> {
        if self.leave.is_some() || self.yielded {
            return Err(QueryError::Leaving);
        }
        if params.filter_tags.len() > MAX_TAG_FILTERS {
            return Err(QueryError::BadFilter(alloc::format!("more than {MAX_TAG_FILTERS} tag filters")));
        }
        if self.queries.running.len() >= MAX_RUNNING_QUERIES {
            return Err(QueryError::TooManyRunning);
        }
        let mut filters = Vec::new();
        if !params.filter_nodes.is_empty() {
            let names = params.filter_nodes.iter().map(String::as_str).collect();
            let mut f = Vec::new();
            Filter::Nodes(names).encode(&mut f);
            filters.push(f);
        }
        for (tag, expr) in &params.filter_tags {
            regex_matches(expr, "").map_err(QueryError::BadFilter)?;
            let mut f = Vec::new();
            Filter::Tag { tag, expr }.encode(&mut f);
            filters.push(f);
        }
        let mut list = Vec::new();
        encode_bin_list(filters.iter().map(Vec::as_slice), &mut list);
        let filters = BinList::from_encoded(&list).map_err(|_| QueryError::TooLarge { limit: 0 })?;
        let timeout = params.timeout.unwrap_or_else(|| self.default_query_timeout());
        let id = QueryId { ltime: self.queries.next_time(), id: self.rng.next_u32() & 0x7fff_ffff };
        let q = Query {
            ltime: id.ltime,
            id: id.id,
            addr: self.wire_addr.ip_bytes(),
            port: self.addr.port(),
            source_node: self.name.as_str(),
            filters,
            flags: if params.request_ack { FLAG_ACK } else { 0 },
            relay_factor: params.relay_factor,
            timeout: i64::try_from(timeout.as_nanos()).unwrap_or(i64::MAX),
            name,
            payload,
        };
        let mut msg = alloc::vec![0u8; q.encoded_len()];
        let n = q.encode(&mut msg).map_err(|_| QueryError::TooLarge { limit: self.cfg.query_size_limit })?;
        msg.truncate(n);
        // Serf measures the message without memberlist's user-message byte.
        if n - 1 > self.cfg.query_size_limit {
            return Err(QueryError::TooLarge { limit: self.cfg.query_size_limit });
        }
        self.queries.running.insert(
            id.ltime,
            Running { id: id.id, deadline: now + timeout, acks: BTreeSet::new(), responses: BTreeSet::new() },
        );
        self.metrics.queries_sent += 1;
        // Answer it here too, as Serf does, then gossip it.
        let body = msg[1..].to_vec();
        self.handle_query(now, &body, false);
        let extra = self.query_extra_transmits();
        self.gossip.push_news(None, msg, extra);
        Ok(id)
    }

    /// The next query this node should answer, oldest first.
    pub fn poll_query(&mut self) -> Option<QueryRequest> {
        self.queries.pending.pop_front()
    }

    /// The next ack, response or end of a query this node asked.
    pub fn poll_query_event(&mut self) -> Option<QueryEvent> {
        self.queries.events.pop_front()
    }

    /// Answers `query` with `payload`: sent straight to the asker, and
    /// through `relay_factor` other members. Once per query, before its
    /// deadline.
    pub fn respond_query(
        &mut self,
        now: Instant,
        query: &QueryRequest,
        payload: &[u8],
    ) -> Result<(), QueryError> {
        if now > query.deadline {
            return Err(QueryError::PastDeadline);
        }
        let name = self.name.clone();
        let resp =
            QueryResponse { ltime: query.id.ltime, id: query.id.id, from: name.as_str(), flags: 0, payload };
        let limit = self.cfg.query_response_size_limit;
        if resp.encoded_len() - 1 > limit {
            return Err(QueryError::ResponseTooLarge { limit });
        }
        self.send_query_response(query.source.as_str(), query.reply_to, query.relay_factor, &resp);
        self.metrics.query_responses_sent += 1;
        Ok(())
    }

    /// Sends `resp` to the asker (straight into this node's own collector
    /// when it asked), and relays it through up to `relay_factor` members.
    fn send_query_response(
        &mut self,
        source: &str,
        to: SocketAddr,
        relay_factor: u8,
        resp: &QueryResponse<'_>,
    ) {
        if source == self.name.as_str() && to == self.addr {
            let (ltime, id, from, ack, payload) = (
                resp.ltime,
                resp.id,
                NodeId::from(resp.from),
                resp.flags & FLAG_ACK != 0,
                resp.payload.to_vec(),
            );
            self.collect_answer(ltime, id, from, ack, payload);
            return;
        }
        let mut msg = alloc::vec![0u8; resp.encoded_len()];
        let Ok(n) = resp.encode(&mut msg) else { return };
        msg.truncate(n);
        if relay_factor > 0 && self.num_live() > usize::from(relay_factor) {
            let picked = self.random_members(usize::from(relay_factor), None, |m, _| {
                m.state == State::Alive && m.pmax() >= 5
            });
            let mut relay = Vec::new();
            Relay { dest: to, dest_name: source, inner: &msg[1..] }.encode(&mut relay);
            for addr in
                picked.iter().filter_map(|id| self.members.get(id)).map(|m| m.addr()).collect::<Vec<_>>()
            {
                self.enqueue(addr, OutKind::User(relay.clone()));
            }
        }
        self.enqueue(to, OutKind::User(msg));
    }

    /// A query from the network (`body`: after the user-message byte), or
    /// this node's own (`gossiped` false). Returns whether to gossip it on.
    pub(super) fn handle_query(&mut self, now: Instant, body: &[u8], gossiped: bool) {
        let q = match Query::decode(body) {
            Ok(q) => q,
            Err(_) => {
                self.metrics.dropped_malformed += 1;
                return;
            }
        };
        if q.ltime > self.queries.clock.saturating_add(MAX_CLOCK_JUMP) {
            self.metrics.clock_jumps_refused += 1;
            return;
        }
        advance_clock(&mut self.queries.clock, q.ltime);
        let floor = self.queries.next_time().saturating_sub(QUERY_BUFFER);
        if q.ltime < self.queries.min_time || (self.queries.next_time() > QUERY_BUFFER && q.ltime < floor) {
            self.metrics.queries_too_old += 1;
            return;
        }
        if !self.queries.first_sight(q.ltime, q.id) {
            self.metrics.queries_duplicate += u64::from(gossiped);
            return;
        }
        self.metrics.queries_received += u64::from(gossiped);
        if gossiped && q.flags & FLAG_NO_BROADCAST == 0 {
            let mut msg = Vec::with_capacity(body.len() + 1);
            msg.push(crate::wire::msg_type::USER);
            msg.extend_from_slice(body);
            let extra = self.query_extra_transmits();
            self.gossip.push_news(None, msg, extra);
        }
        let tags = crate::wire::serf::decode_tags(&self.meta).unwrap_or_default();
        if !passes(&q.filters, self.name.as_str(), &tags) {
            return;
        }
        // Answers go where the query says: only to an address the
        // allow-list accepts (else one query could aim every node at it).
        let Some(reply_to) = q.reply_addr().filter(|a| self.cfg.peer_allowed(a.ip())) else {
            self.metrics.dropped_invalid_member += 1;
            return;
        };
        let q = Query { relay_factor: q.relay_factor.min(MAX_RELAY_FACTOR), ..q };
        if q.flags & FLAG_ACK != 0 {
            let name = self.name.clone();
            let ack = QueryResponse {
                ltime: q.ltime,
                id: q.id,
                from: name.as_str(),
                flags: FLAG_ACK,
                payload: &[],
            };
            self.send_query_response(q.source_node, reply_to, q.relay_factor, &ack);
        }
        let internal = q.name.starts_with(INTERNAL_PREFIX);
        if !internal && self.queries.pending.len() >= MAX_PENDING_QUERIES {
            self.metrics.queries_dropped += 1;
            return;
        }
        let timeout = Duration::from_nanos(u64::try_from(q.timeout).unwrap_or(0));
        let req = QueryRequest {
            id: QueryId { ltime: q.ltime, id: q.id },
            name: q.name.to_string(),
            payload: q.payload.to_vec(),
            source: NodeId::from(q.source_node),
            reply_to,
            deadline: now + timeout,
            relay_factor: q.relay_factor,
        };
        if internal {
            self.answer_internal(now, &req);
        } else {
            self.queries.pending.push_back(req);
        }
    }

    /// An ack or response from the network (`body`: after the user-message byte).
    pub(super) fn handle_query_response(&mut self, body: &[u8]) {
        match QueryResponse::decode(body) {
            Ok(r) => {
                let (from, ack, payload) =
                    (NodeId::from(r.from), r.flags & FLAG_ACK != 0, r.payload.to_vec());
                self.collect_answer(r.ltime, r.id, from, ack, payload);
            }
            Err(_) => self.metrics.dropped_malformed += 1,
        }
    }

    fn collect_answer(&mut self, ltime: u64, id: u32, from: NodeId, ack: bool, payload: Vec<u8>) {
        let Some(q) = self.queries.running.get_mut(&ltime).filter(|q| q.id == id) else {
            self.metrics.query_answers_unexpected += 1;
            return;
        };
        let query = QueryId { ltime, id };
        let bound = (self.members.len() + 1).max(1024);
        let set = if ack { &mut q.acks } else { &mut q.responses };
        if set.contains(&from) || set.len() >= bound || self.queries.events.len() >= MAX_QUERY_EVENTS {
            self.metrics.query_answers_unexpected += 1;
            return;
        }
        set.insert(from.clone());
        // A name-conflict resolution's answers go to its tally, once per
        // node (like Serf's, de-duplicated by sender first).
        if !ack && self.conflict_answer_in(query, &payload) {
            return;
        }
        self.queries.events.push_back(if ack {
            QueryEvent::Ack { query, from }
        } else {
            QueryEvent::Response { query, from, payload }
        });
    }

    /// A relayed message (`body`: `[9]…`): forwards the response inside to
    /// its destination, as Serf's agents do — only query responses, within
    /// the response size limit, to an address the allow-list accepts.
    pub(super) fn handle_relay(&mut self, body: &[u8]) {
        let Ok(r) = Relay::decode(body) else {
            self.metrics.dropped_malformed += 1;
            return;
        };
        let is_response = r.inner.first() == Some(&crate::wire::serf::QUERY_RESPONSE);
        if !is_response
            || r.inner.len() > self.cfg.query_response_size_limit + 64
            || !self.cfg.peer_allowed(r.dest.ip())
        {
            self.metrics.dropped_unexpected += 1;
            return;
        }
        let mut msg = Vec::with_capacity(r.inner.len() + 1);
        msg.push(crate::wire::msg_type::USER);
        msg.extend_from_slice(r.inner);
        self.metrics.query_relays += 1;
        self.enqueue(r.dest, OutKind::User(msg));
    }

    /// Ends the queries whose timeout passed.
    pub(super) fn expire_queries(&mut self, now: Instant) {
        while let Some((&ltime, q)) = self.queries.running.iter().find(|(_, q)| q.deadline <= now) {
            let query = QueryId { ltime, id: q.id };
            self.queries.running.remove(&ltime);
            if !self.conflict_decided(query) {
                self.queries.events.push_back(QueryEvent::Finished { query });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_name_and_tag() {
        let encode = |filters: &[Filter<'_>]| {
            let raws: Vec<Vec<u8>> = filters
                .iter()
                .map(|f| {
                    let mut v = Vec::new();
                    f.encode(&mut v);
                    v
                })
                .collect();
            let mut list = Vec::new();
            encode_bin_list(raws.iter().map(Vec::as_slice), &mut list);
            list
        };
        let tags = alloc::vec![("role".to_string(), "web-1".to_string())];
        let check = |filters: &[Filter<'_>], name| {
            let list = encode(filters);
            passes(&BinList::from_encoded(&list).unwrap(), name, &tags)
        };
        assert!(check(&[], "a"));
        assert!(check(&[Filter::Nodes(alloc::vec!["a", "b"])], "a"));
        assert!(!check(&[Filter::Nodes(alloc::vec!["b"])], "a"));
        assert!(check(&[Filter::Tag { tag: "role", expr: "^web" }], "a"));
        assert!(!check(&[Filter::Tag { tag: "role", expr: "^db" }], "a"));
        // A missing tag matches as the empty string (Go's map lookup).
        assert!(check(&[Filter::Tag { tag: "dc", expr: "^$" }], "a"));
        // An invalid expression, or both filters must pass.
        assert!(!check(&[Filter::Tag { tag: "role", expr: "(" }], "a"));
        assert!(!check(&[Filter::Nodes(alloc::vec!["a"]), Filter::Tag { tag: "role", expr: "db" }], "a"));
        assert!(
            !passes(&BinList::from_encoded(&[0x91, 0xc4, 0x01, 0x09]).unwrap(), "a", &tags),
            "unknown type"
        );
    }

    #[test]
    fn each_query_is_seen_once_within_the_buffer() {
        let mut q = Queries::default();
        assert!(q.first_sight(5, 1));
        assert!(!q.first_sight(5, 1));
        assert!(q.first_sight(5, 2));
        for id in 3..100 {
            q.first_sight(6, id);
        }
        assert_eq!(q.seen[&6].len(), IDS_PER_TIME, "ids per time are bounded");
        advance_clock(&mut q.clock, 10_000);
        assert!(q.first_sight(10_000, 1));
        assert_eq!(q.seen.len(), 1, "old times are forgotten");
    }
}
