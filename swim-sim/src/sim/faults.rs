//! Faults and scenario controls: [`Fault`] (loss, latency, partitions, cut
//! links, crash, restart, pause, resume, slow nodes, dark hosts, leave,
//! broadcasts, new
//! nodes), applied now or scheduled for later, and the control RNG's draws
//! that scenarios make so their choices follow the seed.

use super::nodes::Status;
use super::queue::Ev;
use super::Sim;
use crate::net::{Latency, Loss};
use rand_core::RngCore;
use std::time::Duration;
use swim_core::Instant;

/// The cycle of a [`Fault::Dark`] host: dark, then reachable, every second.
pub const DARK_PERIOD: Duration = Duration::from_secs(1);

/// A fault or action, applied now ([`Sim::apply`]) or scheduled ([`Sim::at`]).
/// Faults compose: loss, latency, partitions, cut links and node faults all
/// apply at once, to datagrams and streams alike.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// Sets the loss model for every packet from now on.
    Loss(Loss),
    /// Sets the latency distribution from now on.
    Latency(Latency),
    /// Splits the cluster: each listed group is cut off from every other and
    /// from the unlisted nodes (which form one more group). Replaces any
    /// earlier partition.
    Partition(Vec<Vec<usize>>),
    /// Ends the partition (cut links stay cut).
    Heal,
    /// Cuts the link between two nodes, both ways.
    Cut(usize, usize),
    /// Restores a cut link.
    Mend(usize, usize),
    /// The node's process dies: its state is gone, nothing reaches it.
    Crash(usize),
    /// A crashed node starts again: same name and address, a new core that
    /// joins through a random live node (it must refute its old death with a
    /// higher incarnation). A running node is crashed first.
    Restart(usize),
    /// The node's process stops (SIGSTOP): it neither sends, receives nor runs
    /// timers; packets to it are dropped.
    Pause(usize),
    /// A paused node continues: every overdue timer runs at once.
    Resume(usize),
    /// Every packet and stream the node handles, and its timers, are processed
    /// this much late (a CPU-starved node). `Duration::ZERO` makes it normal.
    Slow(usize, Duration),
    /// Every packet and stream from or to the node's host is dropped for this
    /// long at the start of every [`DARK_PERIOD`] (the phase differs from
    /// node to node): a host whose connectivity comes and goes, as an observer
    /// and as a member. `Duration::ZERO` makes it normal.
    Dark(usize, Duration),
    /// The node leaves gracefully (it keeps running until crashed).
    Leave(usize),
    /// The node broadcasts a tracked message (see [`Sim::broadcast`]).
    Broadcast(usize),
    /// Adds this many nodes, each joining through a random live node.
    AddNodes(usize),
}

impl Sim {
    /// Schedules `fault` at virtual time `t` since the start (now if `t` is past).
    pub fn at(&mut self, t: Duration, fault: Fault) {
        self.push(Instant::from_duration(t), Ev::Fault(fault));
    }

    /// Schedules `fault` after `d` from now.
    pub fn after(&mut self, d: Duration, fault: Fault) {
        self.push(self.now + d, Ev::Fault(fault));
    }

    /// Applies `fault` now.
    pub fn apply(&mut self, fault: Fault) {
        self.do_fault(fault);
    }

    pub(super) fn do_fault(&mut self, f: Fault) {
        self.trace(format_args!("fault {f:?}"));
        let n = self.nodes.len();
        let valid = |i: usize| i < n;
        match f {
            Fault::Loss(l) => self.loss = l,
            Fault::Latency(l) => self.latency = l,
            Fault::Partition(groups) => {
                for node in &mut self.nodes {
                    node.group = 0;
                }
                for (g, members) in groups.iter().enumerate() {
                    for &i in members.iter().filter(|&&i| valid(i)) {
                        self.nodes[i].group = g as u32 + 1;
                    }
                }
                self.partitioned = true;
            }
            Fault::Heal => self.partitioned = false,
            Fault::Cut(a, b) => {
                self.cuts.insert((a.min(b), a.max(b)));
            }
            Fault::Mend(a, b) => {
                self.cuts.remove(&(a.min(b), a.max(b)));
            }
            Fault::Crash(i) if valid(i) && self.nodes[i].status != Status::Crashed => {
                let inc = self.nodes[i].swim.as_ref().map(|s| s.incarnation());
                self.set_down(i, Status::Crashed);
                let slot = &mut self.nodes[i];
                slot.swim = None;
                slot.gen += 1;
                slot.wake_at = None;
                slot.deferred.clear();
                slot.crash_incarnation = inc;
                if let Some(c) = slot.crash_record.take() {
                    // A paused node that crashes: the pause record becomes a crash.
                    self.crashes[c].paused = false;
                    self.nodes[i].crash_record = Some(c);
                } else {
                    self.open_crash_record(i, false);
                }
                self.views.clear_row(i, n);
            }
            Fault::Restart(i) if valid(i) => {
                if self.nodes[i].status != Status::Crashed {
                    self.do_fault(Fault::Crash(i));
                }
                self.start_node(i);
            }
            Fault::Pause(i) if valid(i) && self.nodes[i].status == Status::Up => {
                self.set_down(i, Status::Paused);
                self.nodes[i].wake_at = None;
                self.open_crash_record(i, true);
            }
            Fault::Resume(i) if valid(i) && self.nodes[i].status == Status::Paused => {
                self.nodes[i].status = Status::Up;
                if self.nodes[i].running() {
                    self.running += 1;
                }
                if let Some(c) = self.nodes[i].crash_record.take() {
                    self.crashes[c].closed = Some(self.now());
                }
                let now = self.now;
                if let Some(s) = self.nodes[i].swim.as_mut() {
                    s.handle_timeout(now);
                }
                let deferred = std::mem::take(&mut self.nodes[i].deferred);
                for ev in deferred {
                    self.handle(ev);
                }
                self.drain(i);
            }
            Fault::Slow(i, d) if valid(i) => self.nodes[i].slow = d,
            Fault::Dark(i, d) if valid(i) => {
                self.nodes[i].dark_for = d.min(DARK_PERIOD);
                // Spread the phases so dark hosts are not dark together.
                let phase = DARK_PERIOD.as_nanos() as u64 * ((i as u64 * 7919) % 1000) / 1000;
                self.nodes[i].dark_phase = Duration::from_nanos(phase);
            }
            Fault::Leave(i) if valid(i) && self.nodes[i].running() => {
                let now = self.now;
                if let Some(s) = self.nodes[i].swim.as_mut() {
                    s.leave(now);
                }
                self.nodes[i].leaving = true;
                self.running -= 1;
                self.drain(i);
            }
            Fault::Broadcast(i) => {
                self.broadcast(i);
            }
            Fault::AddNodes(k) => {
                self.add_nodes(k);
            }
            _ => {}
        }
    }

    /// A random running node (from the control RNG), if any.
    pub fn random_running(&mut self) -> Option<usize> {
        let r = self.running_nodes();
        if r.is_empty() {
            None
        } else {
            Some(r[(self.ctl_rng.next_u64() % r.len() as u64) as usize])
        }
    }

    /// A draw from the simulation's control RNG (for scenario choices that
    /// must follow the seed).
    pub fn random_u64(&mut self) -> u64 {
        self.ctl_rng.next_u64()
    }
}
