//! The SWIM paper's claims, checked loosely on small clusters (the full table
//! comes from `swim-sim claims`).

use swim_sim::scenario::{claims, claims_table};

#[test]
fn load_is_flat_dissemination_is_logarithmic_detection_is_quick() {
    let rows = claims(&[16, 64], 11, 8);
    eprintln!("{}", claims_table(&rows));
    let (small, big) = (&rows[0], &rows[1]);
    // Message load per node per period: flat, not growing with n (4x the nodes).
    let ratio = big.msgs_per_node_period / small.msgs_per_node_period;
    assert!((0.6..1.6).contains(&ratio), "load ratio {ratio}");
    // Dissemination: every broadcast reaches everyone; time grows with n, but
    // far slower than linearly.
    assert!(rows.iter().all(|r| r.broadcasts == 5 && r.broadcast_periods > 0.0), "{rows:?}");
    assert!(big.broadcast_periods < small.broadcast_periods * 2.5, "{rows:?}");
    // First detection: around e/(e-1) ≈ 1.58 periods on average.
    for r in &rows {
        assert_eq!(r.crashes, 8);
        assert!((0.8..3.0).contains(&r.first_detection_periods), "{r:?}");
    }
}
