//! What an operator sees of the core in `tracing` (feature `std`; without it
//! these are no-ops): a span per probe round that records how it ended.
//!
//! memberlist logs a probe's path only when it fails (`state.go`
//! `probeNode`: "Suspect %s has failed, no acks received"); here every round
//! is a `debug` span `probe{peer, seq}` whose fields say which stage
//! answered and how long it took, so a slow or lossy path shows before a
//! member is suspected. Nothing here logs at `info` or above: a healthy
//! cluster is quiet at `info`. The drivers add the spans for joins and
//! stream exchanges (`io::cluster`).

use core::time::Duration;

/// The span of one probe round: opened when the ping goes out, given the
/// stage changes as events, closed with its outcome and duration.
#[derive(Debug, Clone)]
pub(crate) struct ProbeSpan {
    #[cfg(feature = "std")]
    span: tracing::Span,
}

impl ProbeSpan {
    /// Opens the span of a probe of `peer` with ping sequence `seq`.
    #[cfg_attr(not(feature = "std"), allow(unused_variables))]
    pub(crate) fn start(peer: &str, seq: u32) -> Self {
        ProbeSpan {
            #[cfg(feature = "std")]
            span: tracing::debug_span!(
                "probe",
                peer,
                seq,
                outcome = tracing::field::Empty,
                duration_ms = tracing::field::Empty,
            ),
        }
    }

    /// The direct ping went unanswered: `helpers` members were asked to ping
    /// the target, and a TCP ping went out if `tcp`.
    #[cfg_attr(not(feature = "std"), allow(unused_variables))]
    pub(crate) fn indirect(&self, helpers: usize, tcp: bool) {
        #[cfg(feature = "std")]
        self.span.in_scope(|| tracing::debug!(helpers, tcp, "no ack in time: probing indirectly"));
    }

    /// Closes the round: `outcome` is a
    /// [`ProbeOutcome`](crate::protocol::ProbeOutcome)'s name, or
    /// `abandoned` when the target left the table mid-round.
    #[cfg_attr(not(feature = "std"), allow(unused_variables))]
    pub(crate) fn finish(&self, outcome: &'static str, took: Duration) {
        #[cfg(feature = "std")]
        {
            self.span.record("outcome", outcome);
            self.span.record("duration_ms", took.as_secs_f64() * 1e3);
            self.span.in_scope(|| tracing::debug!(outcome, "probe done"));
        }
    }
}
