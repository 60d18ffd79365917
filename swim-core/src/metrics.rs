//! Counters for everything the node sent, received, dropped or refused.

/// Counters readable through [`crate::Swim::metrics`]. Every dropped or refused
/// input is counted under its reason; nothing is dropped silently.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// UDP packets handed to [`crate::Swim::handle_packet`].
    pub packets_received: u64,
    /// UDP packets produced by `poll_transmit` and the direct-send encoders.
    pub packets_sent: u64,
    /// Bytes of UDP received.
    pub bytes_received: u64,
    /// Bytes of UDP sent.
    pub bytes_sent: u64,
    /// Packets dropped: label missing, unexpected or different.
    pub dropped_label: u64,
    /// Packets dropped: no key decrypted them, or plaintext refused.
    pub dropped_decrypt: u64,
    /// Packets dropped: CRC mismatch.
    pub dropped_crc: u64,
    /// Packets or parts dropped: malformed (truncated, bad MessagePack, bad field).
    pub dropped_malformed: u64,
    /// Compound parts whose declared length ran past the packet end.
    pub dropped_truncated_parts: u64,
    /// Packets dropped: compressed payload invalid or too large.
    pub dropped_decompress: u64,
    /// Pings addressed to another node name.
    pub dropped_wrong_node: u64,
    /// Messages of a kind not valid on UDP (push-pull, encrypt wrapper, …).
    pub dropped_unexpected: u64,
    /// Membership messages with an invalid address or version vector.
    pub dropped_invalid_member: u64,
    /// Acks and nacks that matched no outstanding probe.
    pub stale_acks: u64,
    /// Gossip items dropped because the queue was full.
    pub gossip_queue_dropped: u64,
    /// Outgoing packets dropped because the send queue was full.
    pub outgoing_dropped: u64,
    /// Events dropped because the application did not read them.
    pub events_dropped: u64,
    /// Received messages dropped because the `on_message` handlers were
    /// `handoff_queue_depth` messages behind.
    pub handoff_dropped: u64,
    /// `on_message` handlers that panicked (caught and logged; the node runs on).
    pub handler_panics: u64,
    /// Times a driver's send buffer pool was empty and a buffer had to be
    /// allocated (raise `send_buffer_count`).
    pub buffer_pool_misses: u64,
    /// Direct messages that went out sharing a datagram with others to the
    /// same member (coalesced into a compound message).
    pub direct_coalesced: u64,
    /// Times a direct send found the driver's send queue full
    /// (`Config::send_queue_depth`): `send` waited, `try_send` returned
    /// `SendError::QueueFull`.
    pub send_queue_full: u64,
    /// Inbound TCP streams closed unread: 128 already being served
    /// (memberlist's limit on concurrent push-pulls), or
    /// `Config::max_inbound_stream_bytes` already held by others.
    pub streams_refused: u64,
    /// Datagrams the socket refused to send (e.g. no route, or the kernel's
    /// buffer full); each is logged at debug.
    pub udp_send_errors: u64,
    /// Indirect-probe requests refused because too many were in flight.
    pub relays_dropped: u64,
    /// Probes started.
    pub probes: u64,
    /// Probes that needed indirect help.
    pub indirect_probes: u64,
    /// Probes that failed (the target became suspect).
    pub failed_probes: u64,
    /// Members this node marked suspect (its own failed probes and
    /// accusations heard from others): suspicion timers started.
    pub suspicions: u64,
    /// Times this node refuted a suspicion or death of itself.
    pub refutes: u64,
    /// Members declared dead by this node's suspicion timers.
    pub declared_dead: u64,
    /// Suspicion timers that ran out while the suspect was heard from
    /// directly since: moved on instead of declaring it dead.
    pub suspicions_deferred: u64,
    /// Suspects told of their suspicion again: a packet came from them (at
    /// most once per protocol interval each), or a reminder of a suspicion
    /// this node raised and nobody confirmed (once per minimum timeout).
    pub suspicions_retold: u64,
    /// Refutations sent straight to a member that accused this node (besides
    /// gossiping them).
    pub refutations_sent_to_accusers: u64,
    /// Direct user messages received.
    pub user_messages_received: u64,
    /// Broadcasts received and delivered (new).
    pub broadcasts_received: u64,
    /// Broadcasts received again (not delivered).
    pub broadcasts_duplicate: u64,
    /// Broadcasts older than the de-duplication window (not delivered): their
    /// sender's event clock lagged more than 512 events behind.
    pub broadcasts_too_old: u64,
    /// Broadcasts refused because 64 others of the same Lamport time were
    /// remembered already (forged or corrupt traffic).
    pub broadcasts_refused: u64,
    /// Broadcasts this node missed, received in a state exchange and
    /// delivered (Serf's event replay).
    pub broadcasts_replayed: u64,
    /// Serf messages other than user events (ignored).
    pub serf_messages_ignored: u64,
    /// Datagrams received whose CRC was checked (and matched).
    pub crc_checked: u64,
    /// Compressed messages received and decompressed.
    pub decompressed: u64,
    /// Push-pull exchanges completed (either side).
    pub push_pulls: u64,
    /// Bytes of push-pull state sent (this node's state, as framed on the
    /// stream: both the exchanges it started and those it answered).
    pub push_pull_bytes_sent: u64,
    /// Bytes of push-pull state received (the peers' states, as framed on
    /// the stream).
    pub push_pull_bytes_received: u64,
    /// Of those, the ones another node started (this node answered).
    pub push_pulls_answered: u64,
    /// Extra state exchanges started to catch up: after a join, or with a
    /// member that revealed this node's view lacks something.
    pub catch_up_exchanges: u64,
    /// Alive messages naming this node at another address: another node
    /// uses this node's name (memberlist's conflict). Not refuted.
    pub name_conflicts: u64,
    /// Queries this node asked (`Swim::query`).
    pub queries_sent: u64,
    /// Queries received by gossip for the first time.
    pub queries_received: u64,
    /// Queries received again (de-duplicated by Lamport time and id).
    pub queries_duplicate: u64,
    /// Queries dropped: older than the query buffer, or from before this
    /// node joined.
    pub queries_too_old: u64,
    /// Queries dropped because the application did not take them
    /// (`poll_query` / the query handler).
    pub queries_dropped: u64,
    /// Responses this node sent to queries.
    pub query_responses_sent: u64,
    /// Acks and responses matching no running query of this node, or
    /// repeated.
    pub query_answers_unexpected: u64,
    /// Query responses this node relayed for others (Serf's relay factor).
    pub query_relays: u64,
    /// Serf keyring queries (`serf keys`) this node acted on and answered.
    pub key_queries_answered: u64,
    /// Name-conflict resolutions this node started (another address
    /// claimed its name).
    pub conflict_resolutions: u64,
    /// Resolutions this node lost (it yielded: `Event::Yielded`).
    pub name_conflicts_lost: u64,
    /// Network coordinates learnt from direct acks.
    pub coordinate_updates: u64,
    /// Ack payloads that were not a valid coordinate (with
    /// `Config::coordinates` on).
    pub coordinates_rejected: u64,
    /// "Latest value" broadcasts not delivered: a newer value of their
    /// topic was delivered already (see `Swim::broadcast_latest`).
    pub broadcasts_superseded: u64,
    /// Packets and streams dropped because their source address is
    /// outside `Config::cidrs_allowed`.
    pub dropped_not_allowed: u64,
    /// Members refused admission: an address outside
    /// `Config::cidrs_allowed`, or refused by `Hooks::admit`.
    pub members_refused: u64,
    /// Ack payloads and application states from the hooks not sent:
    /// longer than `MAX_ACK_PAYLOAD` / `MAX_APP_STATE`.
    pub hook_output_dropped: u64,
    /// Peers' application states not handed to the hooks: longer than
    /// `MAX_APP_STATE`.
    pub app_state_refused: u64,
    /// Lamport times refused because they jumped too far ahead of this
    /// node's clock (a forged or corrupt event, intent or push-pull state).
    pub clock_jumps_refused: u64,
    /// Alive, suspect or dead messages refused because they moved a known
    /// node's incarnation more than 2^24 ahead (forged or corrupt).
    pub incarnation_jumps_refused: u64,
    /// Serf join and leave intents new to this node, gossiped on (as Serf
    /// agents do).
    pub intents_relayed: u64,
    /// Leave intents naming this running node (`serf force-leave`), refuted
    /// with a join intent.
    pub leave_intents_refuted: u64,
    /// State exchanges started with a failed member or, while alone, a seed
    /// (`Config::reconnect_interval`).
    pub reconnects: u64,
    /// Failed members forgotten before `reconnect_timeout` because too many
    /// were remembered.
    pub reconnect_forgotten: u64,
    /// Stream exchanges that failed (I/O, decode, version mismatch).
    pub stream_errors: u64,
    /// UDP messages sent, by kind (each part of a compound packet counted,
    /// piggybacked gossip included).
    pub messages_sent: MessageCounts,
    /// UDP messages received and decoded, by kind (each part of a compound
    /// packet counted).
    pub messages_received: MessageCounts,
}

/// UDP messages counted by memberlist message type. Wrappers (compound,
/// compress, encrypt, CRC) are not messages of their own and are not counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessageCounts {
    /// Pings (direct probes, and the ones sent on behalf of others).
    pub ping: u64,
    /// Indirect-ping requests.
    pub indirect_ping: u64,
    /// Acks.
    pub ack: u64,
    /// Nacks (Lifeguard's negative acks from indirect-probe helpers).
    pub nack: u64,
    /// Alive messages (joins, refutations, updates).
    pub alive: u64,
    /// Suspect messages.
    pub suspect: u64,
    /// Dead messages (failures and leaves).
    pub dead: u64,
    /// User messages (direct messages and broadcasts).
    pub user: u64,
}

impl MessageCounts {
    /// Counts one message of memberlist type `msg_type` (see
    /// [`crate::wire::msg_type`]); wrappers and unknown types are ignored.
    pub fn count(&mut self, msg_type: u8) {
        use crate::wire::msg_type as t;
        let c = match msg_type {
            t::PING => &mut self.ping,
            t::INDIRECT_PING => &mut self.indirect_ping,
            t::ACK => &mut self.ack,
            t::NACK => &mut self.nack,
            t::ALIVE => &mut self.alive,
            t::SUSPECT => &mut self.suspect,
            t::DEAD => &mut self.dead,
            t::USER => &mut self.user,
            _ => return,
        };
        *c += 1;
    }

    /// Every count with its kind's name (`"ping"`, `"indirect_ping"`, …),
    /// the names the `metrics` exporter uses as its `kind` label.
    pub fn by_kind(&self) -> [(&'static str, u64); 8] {
        [
            ("ping", self.ping),
            ("indirect_ping", self.indirect_ping),
            ("ack", self.ack),
            ("nack", self.nack),
            ("alive", self.alive),
            ("suspect", self.suspect),
            ("dead", self.dead),
            ("user", self.user),
        ]
    }
}

impl Metrics {
    /// Everything dropped or refused from the network, all reasons together
    /// (packets, and parts of compound packets).
    pub fn dropped_total(&self) -> u64 {
        self.dropped_label
            + self.dropped_decrypt
            + self.dropped_crc
            + self.dropped_malformed
            + self.dropped_truncated_parts
            + self.dropped_decompress
            + self.dropped_wrong_node
            + self.dropped_unexpected
            + self.dropped_invalid_member
    }
}
