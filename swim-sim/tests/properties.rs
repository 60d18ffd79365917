//! Property tests over random fault schedules (few cases, small clusters).
//!
//! Each case builds a small cluster, applies a random schedule of crashes,
//! restarts, pauses, partitions, cut links, slow nodes and loss during a
//! fault window, then stops every fault and checks what SWIM promises.

use proptest::prelude::*;
use std::time::Duration;
use swim_core::Config;
use swim_sim::{Fault, Loss, Sim};

const N: usize = 10;
const WINDOW: u64 = 8_000; // ms of faults

fn fast() -> Config {
    swim_sim::fast_config()
}

#[derive(Debug, Clone)]
enum Step {
    Crash(usize),
    Restart(usize),
    Pause(usize, u64),
    Partition(Vec<usize>, u64),
    Cut(usize, usize, u64),
    Slow(usize, u64),
    Loss(u8, u64),
}

fn step() -> impl Strategy<Value = (u64, Step)> {
    let node = 0..N;
    let len = 200u64..3_000;
    let s = prop_oneof![
        node.clone().prop_map(Step::Crash),
        node.clone().prop_map(Step::Restart),
        (node.clone(), len.clone()).prop_map(|(i, l)| Step::Pause(i, l)),
        (proptest::collection::vec(0..N, 1..N / 2), len.clone()).prop_map(|(g, l)| Step::Partition(g, l)),
        (node.clone(), node.clone(), len.clone()).prop_map(|(a, b, l)| Step::Cut(a, b, l)),
        (node, 1u64..60).prop_map(|(i, ms)| Step::Slow(i, ms)),
        (1u8..30, len).prop_map(|(p, l)| Step::Loss(p, l)),
    ];
    (0..WINDOW, s)
}

/// Applies the schedule; returns the nodes crashed for good at the end.
fn schedule(sim: &mut Sim, steps: &[(u64, Step)]) -> Vec<usize> {
    let base = sim.now();
    let ms = |t: u64| base + Duration::from_millis(t);
    let mut crashed = [false; N];
    let mut steps = steps.to_vec();
    steps.sort_by_key(|s| s.0);
    for (t, s) in steps {
        let end = |l: u64| ms((t + l).min(WINDOW));
        match s {
            Step::Crash(i) => {
                sim.at(ms(t), Fault::Crash(i));
                crashed[i] = true;
            }
            Step::Restart(i) => {
                sim.at(ms(t), Fault::Restart(i));
                crashed[i] = false;
            }
            Step::Pause(i, l) => {
                sim.at(ms(t), Fault::Pause(i));
                sim.at(end(l), Fault::Resume(i));
            }
            Step::Partition(g, l) => {
                sim.at(ms(t), Fault::Partition(vec![g]));
                sim.at(end(l), Fault::Heal);
            }
            Step::Cut(a, b, l) => {
                sim.at(ms(t), Fault::Cut(a, b));
                sim.at(end(l), Fault::Mend(a, b));
            }
            Step::Slow(i, d) => {
                sim.at(ms(t), Fault::Slow(i, Duration::from_millis(d)));
                sim.at(ms(WINDOW), Fault::Slow(i, Duration::ZERO));
            }
            Step::Loss(p, l) => {
                sim.at(ms(t), Fault::Loss(Loss::Uniform(p as f64 / 100.0)));
                sim.at(end(l), Fault::Loss(Loss::None));
            }
        }
    }
    // The fault window closes: everything heals, every paused node resumes.
    sim.at(ms(WINDOW), Fault::Heal);
    sim.at(ms(WINDOW), Fault::Loss(Loss::None));
    for i in 0..N {
        sim.at(ms(WINDOW), Fault::Resume(i));
        for j in 0..N {
            sim.at(ms(WINDOW), Fault::Mend(i, j));
        }
    }
    (0..N).filter(|&i| crashed[i]).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn after_faults_stop_crashes_are_dead_everywhere_and_views_converge(
        seed in 0u64..1_000_000,
        steps in proptest::collection::vec(step(), 1..8),
    ) {
        let mut sim = Sim::new(seed, fast()).unwrap();
        sim.add_nodes(N);
        prop_assert!(sim.run_until(Sim::converged, Duration::from_secs(30)).is_some());
        let crashed = schedule(&mut sim, &steps);
        sim.run_for(Duration::from_millis(WINDOW + 1));
        prop_assume!(sim.running_count() >= 2);
        let limit = Duration::from_secs(120);
        // Every crashed node is declared dead by every running node.
        for &c in &crashed {
            prop_assert!(
                sim.run_until(|s| s.dead_everywhere(c), limit).is_some(),
                "n{} not dead everywhere; running {:?}", c, sim.running_nodes()
            );
        }
        // Views converge: every running node sees exactly the running nodes as members,
        // and a node that was suspected (and refuted) is alive again everywhere.
        prop_assert!(sim.run_until(Sim::all_alive, limit).is_some(), "views did not converge");
        for o in sim.running_nodes() {
            prop_assert_eq!(sim.node(o).unwrap().members().len(), sim.running_count());
            for s in sim.running_nodes() {
                if s != o {
                    prop_assert_eq!(sim.view(o, s), Some(swim_core::State::Alive));
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, failure_persistence: None, ..ProptestConfig::default() })]

    /// A partition of any length (up to four times `gossip_to_the_dead_time`,
    /// after which each side has forgotten the other), on top of a random
    /// schedule of short faults: once everything stops, one view comes back
    /// within a bound (a reconnect interval and the time to spread the news).
    #[test]
    fn after_a_partition_of_any_length_views_converge(
        seed in 0u64..1_000_000,
        group in proptest::collection::vec(0..N, 1..N / 2),
        secs in 1u64..120,
        steps in proptest::collection::vec(step(), 0..4),
    ) {
        let mut sim = Sim::new(seed, fast()).unwrap();
        sim.add_nodes(N);
        prop_assert!(sim.run_until(Sim::converged, Duration::from_secs(30)).is_some());
        let crashed = schedule(&mut sim, &steps);
        sim.apply(Fault::Partition(vec![group]));
        sim.run_for(Duration::from_secs(secs).max(Duration::from_millis(WINDOW + 1)));
        sim.apply(Fault::Heal);
        prop_assume!(sim.running_count() >= 2);
        let bound = Duration::from_secs(90);
        prop_assert!(sim.run_until(Sim::all_alive, bound).is_some(), "views did not converge within {:?} of the heal", bound);
        for &c in &crashed {
            prop_assert!(sim.dead_everywhere(c) || sim.is_running(c));
        }
    }
}
