//! The name table the simulated nodes share ([`Names`]): each member name is
//! stored once for the whole process, the simulator's own names found by
//! their number.

/// The process-wide name table the simulated nodes share: with 10,000 nodes
/// each knowing every other, names would otherwise be stored 10^8 times.
/// The simulator's own names (`n0`, `n1`, …) are found by their number.
#[derive(Debug, Default)]
pub(super) struct Names(std::sync::Mutex<NamesInner>);

#[derive(Debug, Default)]
struct NamesInner {
    by_index: Vec<Option<swim_core::NodeId>>,
    others: std::collections::HashSet<swim_core::NodeId>,
}

/// `i` if `name` is exactly `node_name(i)` (and `i` is not absurdly large).
fn sim_index(name: &str) -> Option<usize> {
    let d = name.strip_prefix('n')?;
    let canonical = !d.is_empty() && d.len() <= 7 && (d.len() == 1 || !d.starts_with('0'));
    if !canonical || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    d.parse().ok()
}

impl swim_core::protocol::members::Interner for Names {
    fn intern(&self, name: &str) -> swim_core::NodeId {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // By number while the table stays dense (a stray `n9999999` must
        // not grow it to millions of entries).
        if let Some(i) = sim_index(name).filter(|&i| i < g.by_index.len() + 4096) {
            if let Some(Some(id)) = g.by_index.get(i) {
                return id.clone();
            }
            if g.by_index.len() <= i {
                g.by_index.resize(i + 1, None);
            }
            let id = swim_core::NodeId::from(name);
            g.by_index[i] = Some(id.clone());
            return id;
        }
        if let Some(id) = g.others.get(name) {
            return id.clone();
        }
        let id = swim_core::NodeId::from(name);
        g.others.insert(id.clone());
        id
    }
}
