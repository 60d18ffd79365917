//! Serf's internal queries (`serf/internal_query.go`), answered by the node
//! itself, never by the application: `_serf_ping` (the ack is the answer),
//! `_serf_conflict` (what this node knows of a name), and the keyring
//! queries `_serf_install-key`, `_serf_use-key`, `_serf_remove-key`,
//! `_serf_list-keys` that `serf keys` sends — acted on this node's keyring,
//! answered with Serf's `nodeKeyResponse`. Also the asker's side of those
//! (Serf's `KeyManager`, `keymanager.go`): [`KeyReport`] tallies the
//! answers of a cluster-wide key operation.

use super::query::{QueryRequest, INTERNAL_PREFIX};
use super::Swim;
use crate::node::{NodeId, State};
use crate::time::Instant;
use crate::wire::query::{ConflictMember, KeyRequest, NodeKeyResponse};
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use base64::Engine;
use rand_core::RngCore;

/// A cluster-wide key operation, as Serf's `serf keys` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOp {
    /// `_serf_install-key`: add a key to every keyring.
    Install,
    /// `_serf_use-key`: make an installed key the primary everywhere.
    Use,
    /// `_serf_remove-key`: remove a key (never the primary) everywhere.
    Remove,
    /// `_serf_list-keys`: every node's keys.
    List,
}

impl KeyOp {
    /// The internal query's name.
    pub fn query_name(self) -> &'static str {
        match self {
            KeyOp::Install => "_serf_install-key",
            KeyOp::Use => "_serf_use-key",
            KeyOp::Remove => "_serf_remove-key",
            KeyOp::List => "_serf_list-keys",
        }
    }

    /// The query's payload for `key` (`[7]{Key}`; list-keys sends one too).
    pub fn payload(self, key: &[u8]) -> Vec<u8> {
        let req = KeyRequest { key };
        let mut out = alloc::vec![0u8; req.encoded_len()];
        let n = req.encode(&mut out).unwrap_or(0);
        out.truncate(n);
        out
    }
}

/// What the nodes answered to a cluster-wide key operation (Serf's
/// `KeyResponse`, what `serf keys` prints).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyReport {
    /// Live members when the operation started (this node included).
    pub num_nodes: usize,
    /// Nodes that answered.
    pub num_resp: usize,
    /// Nodes that reported a failure (or sent an unreadable answer).
    pub num_err: usize,
    /// Each failing (or warning) node's message.
    pub messages: BTreeMap<NodeId, String>,
    /// For list-keys: each key (raw bytes) and how many nodes have it.
    pub keys: BTreeMap<Vec<u8>, usize>,
    /// For list-keys: each primary key and how many nodes use it.
    pub primary_keys: BTreeMap<Vec<u8>, usize>,
}

impl KeyReport {
    /// An empty report for a cluster of `num_nodes`.
    pub fn new(num_nodes: usize) -> KeyReport {
        KeyReport { num_nodes, ..KeyReport::default() }
    }

    /// Counts `from`'s answer (Serf's `streamKeyResp`).
    pub fn add(&mut self, from: &NodeId, payload: &[u8]) {
        self.num_resp += 1;
        let Ok(r) = NodeKeyResponse::decode(payload) else {
            self.num_err += 1;
            self.messages.insert(from.clone(), "invalid key query response".into());
            return;
        };
        if !r.result {
            self.num_err += 1;
        }
        if !r.message.is_empty() {
            self.messages.insert(from.clone(), r.message.to_string());
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        for k in &r.keys {
            if let Ok(k) = b64.decode(k) {
                *self.keys.entry(k).or_default() += 1;
            }
        }
        if let Ok(k) = b64.decode(r.primary_key) {
            if !k.is_empty() {
                *self.primary_keys.entry(k).or_default() += 1;
            }
        }
    }

    /// Whether every node answered, and none failed.
    pub fn is_complete(&self) -> bool {
        self.num_err == 0 && self.num_resp >= self.num_nodes
    }
}

impl<R: RngCore> Swim<R> {
    /// Answers an internal query (`q.name` starts with `_serf_`).
    pub(super) fn answer_internal(&mut self, now: Instant, q: &QueryRequest) {
        let payload = match &q.name[INTERNAL_PREFIX.len()..] {
            "ping" => return, // the ack is the answer
            "conflict" => match self.conflict_answer(&q.payload) {
                Some(p) => p,
                None => return,
            },
            "install-key" | "use-key" | "remove-key" | "list-keys" => self.key_answer(&q.name, &q.payload),
            _ => {
                self.metrics.serf_messages_ignored += 1;
                return;
            }
        };
        let _ = self.respond_query(now, q, &payload);
    }

    /// `_serf_conflict`: what this node knows of the name (no answer when
    /// it is this node's own, as Serf).
    fn conflict_answer(&self, name: &[u8]) -> Option<Vec<u8>> {
        let name = core::str::from_utf8(name).unwrap_or("");
        let mut out = Vec::new();
        if name == self.name.as_str() {
            return None;
        }
        match self.members.get(name) {
            Some(m) => {
                let status = match m.state {
                    State::Alive | State::Suspect => 1,
                    State::Left => 3,
                    State::Dead => 4,
                };
                let cm = ConflictMember { name, addr: m.addr(), status, vsn: *m.vsn() };
                let tags = crate::wire::serf::decode_tags(m.meta()).unwrap_or_default();
                ConflictMember::encode(Some(&cm), &tags, &mut out);
            }
            None => ConflictMember::encode(None, &[], &mut out),
        }
        Some(out)
    }

    /// The keyring queries, acted on this node's keyring.
    fn key_answer(&mut self, name: &str, payload: &[u8]) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut message = String::new();
        let mut keys = Vec::new();
        let mut primary = String::new();
        let result = if self.keyring.is_none() {
            message = if name.ends_with("list-keys") {
                "Keyring is empty (encryption not enabled)".into()
            } else {
                "No keyring to modify (encryption not enabled)".into()
            };
            false
        } else if name.ends_with("list-keys") {
            let ring = self.keyring.as_ref();
            keys = ring.map(|r| r.keys().map(|k| b64.encode(k)).collect()).unwrap_or_default();
            primary = ring.and_then(|r| r.keys().next()).map(|k| b64.encode(k)).unwrap_or_default();
            true
        } else {
            match KeyRequest::decode(payload) {
                Err(_) => {
                    message = "Failed to decode key request".into();
                    false
                }
                Ok(req) => {
                    let done = match name {
                        "_serf_install-key" => self.install_key(req.key),
                        "_serf_use-key" => self.use_key(req.key),
                        _ => self.remove_key(req.key),
                    };
                    if let Err(e) = &done {
                        message = e.to_string();
                    }
                    done.is_ok()
                }
            }
        };
        self.metrics.key_queries_answered += 1;
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut out = Vec::new();
        NodeKeyResponse { result, message: &message, keys, primary_key: &primary }.encode(&mut out);
        out
    }
}
