//! The `swim-sim` program's configuration commands, run as a user would:
//! `--set`, `--config` (presets and TOML files), `compare` and `--sweep`.
//! Small clusters and short runs, so each test takes well under a second.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A small, quick scenario: 20 nodes on the fast protocol, one crash.
const SMALL: &[&str] = &["--nodes", "20", "--duration", "15s", "--crash", "1", "--config", "fast"];

fn swim_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_swim-sim")).args(args).output().expect("swim-sim runs")
}

/// Runs `args` and returns stdout; panics (with stderr) if it failed.
fn ok(args: &[&str]) -> String {
    let out = swim_sim(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "swim-sim {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Runs `args`, expects exit code 2, and returns stderr's first line.
fn fails(args: &[&str]) -> String {
    let out = swim_sim(args);
    assert_eq!(out.status.code(), Some(2), "swim-sim {args:?} should fail: {out:?}");
    String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or_default().to_string()
}

fn file(name: &str, text: &str) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).expect("write the test file");
    path.to_string_lossy().into_owned()
}

#[test]
fn set_changes_fields_and_the_first_line_echoes_them() {
    let out = ok(&[SMALL, &["--set", "suspicion_mult=5", "--set", "compression=true"]].concat());
    let first = out.lines().next().unwrap();
    assert!(first.contains("config: Config::default() with "), "{first}");
    for setting in ["protocol_interval=200ms", "suspicion_mult=5", "compression=true"] {
        assert!(first.contains(setting), "{setting} not echoed: {first}");
    }
    let e = fails(&["--set", "suspicion_mul=5"]);
    assert!(e.contains("unknown Config field \"suspicion_mul\"") && e.contains("suspicion_mult"), "{e}");
    let e = fails(&["--set", "suspicion_mult=lots"]);
    assert!(e.contains("suspicion_mult") && e.contains("\"lots\""), "{e}");
    let e = fails(&["--set", "bind_addr=127.0.0.1"]);
    assert!(e.contains("bind_addr cannot be set in the simulator"), "{e}");
    let e = fails(&["--set", "probe_timeout=2s"]);
    assert!(e.contains("invalid configuration: probe_timeout must be shorter than protocol_interval"), "{e}");
}

#[test]
fn config_files_and_presets() {
    let good = file(
        "good.toml",
        "# a cluster\nsuspicion_mult = 6\nprobe_timeout = \"50ms\"\n[tags]\nrole = \"web\"\n",
    );
    let out = ok(&[SMALL, &["--config", &good]].concat());
    let first = out.lines().next().unwrap();
    for setting in ["probe_timeout=50ms", "suspicion_mult=6", "tags=role=web"] {
        assert!(first.contains(setting), "{setting} not echoed: {first}");
    }
    // A later --set wins over the file.
    let out = ok(&[SMALL, &["--config", &good, "--set", "suspicion_mult=3"]].concat());
    assert!(out.lines().next().unwrap().contains("suspicion_mult=3"));

    let unknown = file("unknown.toml", "suspicion_mult = 6\nsuspicion_multiplier = 6\n");
    let e = fails(&["--config", &unknown]);
    assert!(e.contains("unknown.toml") && e.contains("unknown Config field \"suspicion_multiplier\""), "{e}");
    let bad = file("bad.toml", "gossip_nodes = \"many\"\n");
    let e = fails(&["--config", &bad]);
    assert!(e.contains("bad.toml") && e.contains("bad value \"many\" for gossip_nodes"), "{e}");
    let broken = file("broken.toml", "gossip_nodes = \n");
    let e = fails(&["--config", &broken]);
    assert!(e.contains("broken.toml is not valid TOML") && e.contains("line 1"), "{e}");
    let invalid = file("invalid.toml", "retransmit_mult = 0\n");
    let e = fails(&["--config", &invalid]);
    assert!(e.contains("invalid configuration: retransmit_mult must be between 1 and 1000"), "{e}");
    let e = fails(&["--config", "memberlist-lam"]);
    assert!(e.contains("neither a preset") && e.contains("memberlist-lan"), "{e}");

    let out = ok(&["--nodes", "10", "--duration", "2s", "--config", "memberlist-lan"]);
    let first = out.lines().next().unwrap();
    assert!(first.contains("reconnect_interval=0s compression=true delegate_versions=memberlist"), "{first}");
}

#[test]
fn compare_gives_the_same_table_for_the_same_seeds() {
    let svg = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("compare.svg");
    let args = [
        &["compare", "fast", "fast", "--b-set", "suspicion_mult=8", "--scenario", "crash", "--seeds", "2"],
        &SMALL[..6],
        &["--svg", svg.to_str().unwrap()],
    ]
    .concat();
    let (first, second) = (ok(&args), ok(&args));
    assert_eq!(first, second, "same arguments, same table");
    assert!(first.contains("| metric | A: fast | B: fast +suspicion_mult=8 | B/A |"), "{first}");
    assert!(first.contains("B: fast +suspicion_mult=8: Config::default() with "), "{first}");
    let row = |name: &str| -> Vec<String> {
        let line = first.lines().find(|l| l.starts_with(&format!("| {name}"))).expect(name);
        line.split('|').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect()
    };
    // Same seeds, same crashes: first suspicion is the same; a longer
    // suspicion timeout takes longer to declare the node dead.
    assert_eq!(row("crash → first suspicion by anyone: median")[3], "1.00");
    let dead = row("crash → dead, per observer: median");
    assert!(dead[3].parse::<f64>().unwrap() > 1.2, "{dead:?}");
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(chart.contains("alive (avg view) A") && chart.contains("alive (avg view) B"));

    let e = fails(&["compare", "fast"]);
    assert!(e.contains("compare needs two configurations"), "{e}");
}

#[test]
fn sweep_prints_a_row_per_value() {
    let svg = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sweep.svg");
    let args =
        [SMALL, &["--sweep", "suspicion_mult=2,8", "--seeds", "2", "--svg", svg.to_str().unwrap()]].concat();
    let out = ok(&args);
    assert!(out.starts_with("sweep of suspicion_mult: "), "{out}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.starts_with("| 2 |") || l.starts_with("| 8 |"))
        .map(|l| l.split('|').map(str::trim).filter(|c| !c.is_empty()).collect())
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    let dead = |r: &Vec<&str>| r[2].parse::<f64>().unwrap();
    assert!(dead(&rows[1]) > dead(&rows[0]), "a larger multiplier declares death later: {out}");
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(chart.contains(">suspicion_mult<") && chart.contains(">false deaths<"));

    let e = fails(&[SMALL, &["--sweep", "probe_timeout=50ms,1s"]].concat());
    assert!(e.contains("with probe_timeout=1s: invalid configuration"), "{e}");
    let e = fails(&["--sweep", "suspicion=1,2"]);
    assert!(e.contains("unknown Config field \"suspicion\""), "{e}");
}
