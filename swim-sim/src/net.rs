//! The virtual network's models: packet loss and latency distributions.
//!
//! Every random draw comes from the simulator's network RNG, in event order,
//! so a seed fixes every decision. The simulator applies these models, along
//! with partitions and cut links, where it sends datagrams and streams
//! (`sim/network.rs`).

use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;
use std::time::Duration;

/// A uniform draw in `[0, 1)` with 53 random bits.
pub(crate) fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform draw in `(0, 1]`, safe for logarithms.
fn unit_open(rng: &mut ChaCha8Rng) -> f64 {
    1.0 - unit(rng)
}

/// How packets are lost. Applies to every datagram; a stream (TCP) is not
/// lost but each loss draw delays it by a retransmission timeout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    /// Nothing is lost.
    None,
    /// Each packet is lost independently with this probability (0..=1).
    Uniform(f64),
    /// Bursty loss: a two-state Gilbert–Elliott chain per receiving node.
    /// In the good state packets are lost with `loss_good`, in the bad state
    /// with `loss_bad`; before each packet the chain moves good→bad with
    /// `p_enter_bad` and bad→good with `p_leave_bad`.
    GilbertElliott {
        /// Probability of moving from the good to the bad state, per packet.
        p_enter_bad: f64,
        /// Probability of moving from the bad to the good state, per packet.
        p_leave_bad: f64,
        /// Loss probability in the good state.
        loss_good: f64,
        /// Loss probability in the bad state.
        loss_bad: f64,
    },
}

impl Loss {
    /// Bursty loss with the given long-run average rate and mean burst length
    /// (in packets): the bad state loses everything, the good state nothing.
    pub fn bursty(average: f64, mean_burst: f64) -> Loss {
        let average = average.clamp(0.0, 0.999);
        let p_leave_bad = 1.0 / mean_burst.max(1.0);
        // Stationary share of the bad state: p_enter / (p_enter + p_leave) = average.
        let p_enter_bad = if average <= 0.0 { 0.0 } else { average * p_leave_bad / (1.0 - average) };
        Loss::GilbertElliott { p_enter_bad, p_leave_bad, loss_good: 0.0, loss_bad: 1.0 }
    }

    /// The long-run fraction of packets lost.
    pub fn average(&self) -> f64 {
        match *self {
            Loss::None => 0.0,
            Loss::Uniform(p) => p.clamp(0.0, 1.0),
            Loss::GilbertElliott { p_enter_bad, p_leave_bad, loss_good, loss_bad } => {
                let total = p_enter_bad + p_leave_bad;
                if total <= 0.0 {
                    loss_good
                } else {
                    let bad = p_enter_bad / total;
                    bad * loss_bad + (1.0 - bad) * loss_good
                }
            }
        }
    }

    /// Draws whether one packet is lost; `bad` is the receiver's chain state.
    pub(crate) fn lose(&self, rng: &mut ChaCha8Rng, bad: &mut bool) -> bool {
        match *self {
            Loss::None => false,
            Loss::Uniform(p) => p > 0.0 && unit(rng) < p,
            Loss::GilbertElliott { p_enter_bad, p_leave_bad, loss_good, loss_bad } => {
                let flip = if *bad { p_leave_bad } else { p_enter_bad };
                if unit(rng) < flip {
                    *bad = !*bad;
                }
                let p = if *bad { loss_bad } else { loss_good };
                p > 0.0 && unit(rng) < p
            }
        }
    }
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Loss::None => f.write_str("none"),
            Loss::Uniform(p) => write!(f, "{:.1}% uniform", p * 100.0),
            Loss::GilbertElliott { p_leave_bad, .. } => write!(
                f,
                "{:.1}% bursty (Gilbert-Elliott, mean burst {:.1} packets)",
                self.average() * 100.0,
                1.0 / p_leave_bad.max(1e-9)
            ),
        }
    }
}

/// One-way latency of a packet or stream message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Latency {
    /// Always the same.
    Fixed(Duration),
    /// Uniform between `min` and `max`.
    Uniform {
        /// Smallest latency.
        min: Duration,
        /// Largest latency.
        max: Duration,
    },
    /// Log-normal with this median and shape `sigma` (0.5 is moderate, 1.0
    /// heavy), capped at `cap`.
    LogNormal {
        /// The median latency.
        median: Duration,
        /// Standard deviation of the underlying normal.
        sigma: f64,
        /// No packet takes longer than this.
        cap: Duration,
    },
    /// Pareto with scale `min` and shape `alpha` (smaller is heavier; 1.5 is a
    /// classic long tail), capped at `cap`.
    Pareto {
        /// The smallest latency (the scale).
        min: Duration,
        /// The tail index.
        alpha: f64,
        /// No packet takes longer than this.
        cap: Duration,
    },
    /// Nodes on a plane: node `i` sits at a fixed place (drawn from its
    /// index) in a square `spread` wide, with an access delay of up to a
    /// tenth of `spread`; a packet between two nodes takes their distance
    /// plus both access delays, plus up to `jitter` (uniform). The model
    /// network coordinates are made for: every pair has its own latency.
    Geo {
        /// The side of the square, as a latency.
        spread: Duration,
        /// Random extra delay per packet, at most.
        jitter: Duration,
    },
}

/// Where node `i` sits on the [`Latency::Geo`] plane, as fractions of the
/// spread: `(x, y, access delay)`.
fn geo_place(i: usize) -> (f64, f64, f64) {
    let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut next = || {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut x = z;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((x ^ (x >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    (next(), next(), next() / 10.0)
}

impl Default for Latency {
    /// A LAN: uniform between 0.2 and 1 ms.
    fn default() -> Self {
        Latency::Uniform { min: Duration::from_micros(200), max: Duration::from_millis(1) }
    }
}

impl Latency {
    /// The latency of a packet from node `from` to node `to`: the pair's own
    /// for [`Latency::Geo`], else a draw of the model.
    pub(crate) fn sample_between(&self, rng: &mut ChaCha8Rng, from: usize, to: usize) -> Duration {
        match *self {
            Latency::Geo { spread, jitter } => {
                let extra = Duration::from_nanos(rng.next_u64() % (jitter.as_nanos() as u64 + 1));
                self.geo_base(from, to, spread) + extra
            }
            _ => self.sample(rng),
        }
    }

    fn geo_base(&self, a: usize, b: usize, spread: Duration) -> Duration {
        let ((xa, ya, ha), (xb, yb, hb)) = (geo_place(a), geo_place(b));
        let d = ((xa - xb).powi(2) + (ya - yb).powi(2)).sqrt() + ha + hb;
        spread.mul_f64(d)
    }

    /// The mean round-trip time between nodes `a` and `b` under
    /// [`Latency::Geo`] (`None` for the other models, where it is the same
    /// for every pair).
    pub fn expected_rtt(&self, a: usize, b: usize) -> Option<Duration> {
        match *self {
            Latency::Geo { spread, jitter } => Some(self.geo_base(a, b, spread) * 2 + jitter),
            _ => None,
        }
    }

    /// Draws one latency.
    pub(crate) fn sample(&self, rng: &mut ChaCha8Rng) -> Duration {
        match *self {
            Latency::Geo { spread, jitter } => spread / 2 + jitter / 2,
            Latency::Fixed(d) => d,
            Latency::Uniform { min, max } => {
                if max <= min {
                    return min;
                }
                let span = (max - min).as_nanos() as u64;
                min + Duration::from_nanos(rng.next_u64() % (span + 1))
            }
            Latency::LogNormal { median, sigma, cap } => {
                // Box–Muller: one standard normal draw.
                let (u1, u2) = (unit_open(rng), unit(rng));
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                let secs = median.as_secs_f64() * (sigma * z).exp();
                Duration::from_secs_f64(secs.clamp(0.0, cap.as_secs_f64()))
            }
            Latency::Pareto { min, alpha, cap } => {
                let u = unit_open(rng);
                let secs = min.as_secs_f64() / u.powf(1.0 / alpha.max(1e-3));
                Duration::from_secs_f64(secs.clamp(0.0, cap.as_secs_f64()))
            }
        }
    }
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Latency::Fixed(d) => write!(f, "fixed {d:?}"),
            Latency::Uniform { min, max } => write!(f, "uniform {min:?}..{max:?}"),
            Latency::LogNormal { median, sigma, cap } => {
                write!(f, "lognormal median {median:?} sigma {sigma} cap {cap:?}")
            }
            Latency::Pareto { min, alpha, cap } => write!(f, "pareto min {min:?} alpha {alpha} cap {cap:?}"),
            Latency::Geo { spread, jitter } => write!(f, "geo spread {spread:?} jitter {jitter:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn bursty_loss_has_the_requested_average() {
        let loss = Loss::bursty(0.1, 5.0);
        assert!((loss.average() - 0.1).abs() < 1e-9);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut bad = false;
        let n = 200_000;
        let lost = (0..n).filter(|_| loss.lose(&mut rng, &mut bad)).count();
        let rate = lost as f64 / n as f64;
        assert!((rate - 0.1).abs() < 0.01, "{rate}");
    }

    #[test]
    fn latencies_follow_their_distributions() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let ms = Duration::from_millis;
        let cap = ms(50);
        // (latency, lowest, highest, median range)
        let cases = [
            (
                Latency::Uniform { min: ms(1), max: ms(3) },
                ms(1),
                ms(3),
                (ms(1) + ms(1) * 8 / 10, ms(2) + ms(1) * 2 / 10),
            ),
            (
                Latency::LogNormal { median: ms(2), sigma: 1.0, cap },
                Duration::ZERO,
                cap,
                (ms(1) * 18 / 10, ms(1) * 22 / 10),
            ),
            // Pareto's median is min * 2^(1/alpha) = 1.587 ms.
            (Latency::Pareto { min: ms(1), alpha: 1.5, cap }, ms(1), cap, (ms(1) * 15 / 10, ms(1) * 17 / 10)),
        ];
        for (l, lo, hi, (m_lo, m_hi)) in cases {
            let mut v: Vec<Duration> = (0..20_000).map(|_| l.sample(&mut rng)).collect();
            v.sort();
            assert!(v[0] >= lo && v[v.len() - 1] <= hi, "{l}: {:?}..{:?}", v[0], v[v.len() - 1]);
            let median = v[v.len() / 2];
            assert!(median >= m_lo && median <= m_hi, "{l}: median {median:?}");
        }
        // The long tails reach their caps now and then.
        let tail = Latency::Pareto { min: ms(1), alpha: 1.5, cap };
        assert!((0..20_000).any(|_| tail.sample(&mut rng) == cap));
    }
}
