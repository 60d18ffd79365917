//! `swim-sim`: runs a named or described scenario over the deterministic
//! simulator and prints a report; `claims` checks the SWIM paper's claims;
//! `bench` measures simulation speed and memory.

use std::process::ExitCode;
use std::time::Duration;
use swim_sim::scenario::{self, Spec};
use swim_sim::{svg, Latency, Loss};

const USAGE: &str = "\
usage:
  swim-sim [SCENARIO] [OPTIONS]     run a scenario and print a report
  swim-sim claims [--sizes 100,200,500,1000] [--crashes 10] [--seed S]
  swim-sim bench  [--sizes 1000,2000,5000] [--periods 100] [--seed S]

scenarios: crash, partition, churn, flaky (or none: described by the options)

options (override the scenario's):
  --nodes N            cluster size
  --seed S             the seed (same seed, same run)
  --interval D         protocol period (e.g. 500ms, 1s); probe timeout is half unless set
  --probe-timeout D
  --loss P             packet loss, 0..1 (e.g. 0.05)
  --burst L            make the loss bursty: Gilbert-Elliott, mean burst L packets
  --latency SPEC       2ms | 1ms..5ms | lognormal:MEDIAN:SIGMA:CAP | pareto:MIN:ALPHA:CAP
  --crash K            crash K random nodes early in the run
  --restart K          crash K nodes early and restart them halfway
  --pause K            pause K nodes two periods in, for --pause-for (default 5s)
  --pause-for D
  --slow K             slow K nodes down by --slow-by (default 300ms) for the whole run
  --slow-by D
  --partition A:L      split the cluster in halves at A for L (e.g. 5s:20s)
  --broadcasts K       tracked broadcasts in the first half of the run (default 3)
  --duration D         length of the measured run (after the bootstrap)
  --svg FILE           write the timeline chart
  --queue-depth N      gossip queue depth of every node (default 256; 0: the core's default, 5000)
";

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "ns" => v / 1e9,
        "us" | "µs" => v / 1e6,
        "ms" => v / 1e3,
        "s" | "" => v,
        "m" | "min" => v * 60.0,
        _ => return Err(format!("bad duration unit in {s:?}")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn parse_latency(s: &str) -> Result<Latency, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let f = |x: &str| x.parse::<f64>().map_err(|_| format!("bad number {x:?}"));
    match parts.as_slice() {
        ["lognormal", m, sigma, cap] => {
            Ok(Latency::LogNormal { median: parse_duration(m)?, sigma: f(sigma)?, cap: parse_duration(cap)? })
        }
        ["pareto", m, alpha, cap] => {
            Ok(Latency::Pareto { min: parse_duration(m)?, alpha: f(alpha)?, cap: parse_duration(cap)? })
        }
        [one] => match one.split_once("..") {
            Some((a, b)) => Ok(Latency::Uniform { min: parse_duration(a)?, max: parse_duration(b)? }),
            None => Ok(Latency::Fixed(parse_duration(one)?)),
        },
        _ => Err(format!("bad latency {s:?}")),
    }
}

fn parse_sizes(s: &str) -> Result<Vec<usize>, String> {
    s.split(',').map(|x| x.trim().parse().map_err(|_| format!("bad size {x:?}"))).collect()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match real_main(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("swim-sim: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn real_main(args: Vec<String>) -> Result<(), String> {
    let mut it = args.into_iter().peekable();
    let first = it.peek().cloned().unwrap_or_default();
    let command = if first.starts_with('-') || first.is_empty() {
        "run".to_string()
    } else {
        it.next().unwrap_or_default()
    };
    let mut spec = match command.as_str() {
        "run" | "claims" | "bench" | "bench-one" => Spec::default(),
        name => Spec::named(name).ok_or_else(|| format!("unknown scenario or command {name:?}"))?,
    };
    let mut svg_path = None;
    let mut sizes: Option<Vec<usize>> = None;
    let mut periods = 100u32;
    let mut crashes = 10usize;
    let mut loss_p: Option<f64> = None;
    let mut burst: Option<f64> = None;
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            print!("{USAGE}");
            return Ok(());
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<f64>().map_err(|_| format!("bad number {v:?} for {flag}"));
        let count = |v: &str| v.parse::<usize>().map_err(|_| format!("bad count {v:?} for {flag}"));
        match flag.as_str() {
            "--nodes" => spec.nodes = count(&value)?,
            "--seed" => spec.seed = value.parse().map_err(|_| format!("bad seed {value:?}"))?,
            "--interval" => spec.interval = parse_duration(&value)?,
            "--probe-timeout" => spec.probe_timeout = Some(parse_duration(&value)?),
            "--loss" => loss_p = Some(num(&value)?),
            "--burst" => burst = Some(num(&value)?),
            "--latency" => spec.latency = parse_latency(&value)?,
            "--crash" => spec.crash = count(&value)?,
            "--restart" => spec.restart = count(&value)?,
            "--pause" => spec.pause = count(&value)?,
            "--pause-for" => spec.pause_for = parse_duration(&value)?,
            "--slow" => spec.slow = count(&value)?,
            "--slow-by" => spec.slow_by = parse_duration(&value)?,
            "--partition" => {
                let (a, l) = value.split_once(':').ok_or("--partition wants START:LENGTH")?;
                spec.partition = Some((parse_duration(a)?, parse_duration(l)?));
            }
            "--broadcasts" => spec.broadcasts = count(&value)?,
            "--duration" => spec.duration = parse_duration(&value)?,
            "--svg" => svg_path = Some(value),
            "--queue-depth" => spec.queue_depth = Some(count(&value)?).filter(|&d| d > 0),
            "--sizes" => sizes = Some(parse_sizes(&value)?),
            "--periods" => periods = value.parse().map_err(|_| format!("bad count {value:?}"))?,
            "--crashes" => crashes = count(&value)?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    match (loss_p, burst) {
        (Some(p), Some(b)) => spec.loss = Loss::bursty(p, b),
        (Some(p), None) => spec.loss = if p > 0.0 { Loss::Uniform(p) } else { Loss::None },
        (None, Some(b)) => spec.loss = Loss::bursty(spec.loss.average(), b),
        (None, None) => {}
    }
    match command.as_str() {
        "claims" => {
            let sizes = sizes.unwrap_or_else(|| vec![100, 200, 500, 1000]);
            let wall = std::time::Instant::now();
            let rows = scenario::claims(&sizes, spec.seed, crashes);
            print!("{}", scenario::claims_table(&rows));
            println!("(seed {}, interval 500ms; wall time {:.1} s)", spec.seed, wall.elapsed().as_secs_f64());
            Ok(())
        }
        "bench" => {
            bench(sizes.unwrap_or_else(|| vec![1000, 2000, 5000]), periods, spec.seed, spec.queue_depth)
        }
        "bench-one" => {
            let r = scenario::bench_one(spec.nodes, periods, spec.seed, spec.queue_depth);
            println!(
                "BENCH {} {} {:.3} {} {:.3} {:.1} {} {} {}",
                r.nodes,
                r.periods,
                r.bootstrap_wall.as_secs_f64(),
                r.converged,
                r.run_wall.as_secs_f64(),
                r.node_periods_per_sec,
                r.rss_delta,
                r.peak_rss,
                r.table_bytes
            );
            Ok(())
        }
        _ => run(&spec, svg_path),
    }
}

fn run(spec: &Spec, svg_path: Option<String>) -> Result<(), String> {
    println!("{}", spec.describe());
    let out = scenario::run(spec).map_err(|e| e.to_string())?;
    match out.bootstrap {
        Some(d) => println!(
            "bootstrap: {} nodes joined and converged in {:.1} s virtual ({:.1} s wall)",
            spec.nodes,
            d.as_secs_f64(),
            out.bootstrap_wall.as_secs_f64()
        ),
        None => println!(
            "bootstrap: NOT converged within {:?} ({:.1} s wall); measuring anyway",
            spec.bootstrap_limit,
            out.bootstrap_wall.as_secs_f64()
        ),
    }
    println!();
    println!("{}", out.report);
    match out.reconverged {
        Some(d) => println!(
            "views converged {:.1} s after the last fault ended (at {:.1} s into the run)",
            d.as_secs_f64(),
            out.faults_end.as_secs_f64()
        ),
        None => println!("views NOT converged by the end of the run"),
    }
    let node_periods =
        spec.nodes as f64 * out.report.measured.as_secs_f64() / spec.interval.as_secs_f64().max(1e-9);
    println!(
        "wall time: {:.1} s for the run ({:.0} node-periods/s), {:.1} s bootstrap",
        out.run_wall.as_secs_f64(),
        node_periods / out.run_wall.as_secs_f64().max(1e-9),
        out.bootstrap_wall.as_secs_f64()
    );
    println!(
        "process memory: {:.0} MiB resident now ({:.1} KiB per node)",
        scenario::rss_bytes() as f64 / (1024.0 * 1024.0),
        scenario::rss_bytes() as f64 / 1024.0 / spec.nodes.max(1) as f64
    );
    if let Some(path) = svg_path {
        let title = spec.describe();
        let chart = svg::chart(out.sim.timeline(), &title, &out.marks);
        std::fs::write(&path, chart).map_err(|e| format!("writing {path}: {e}"))?;
        println!("chart: {path}");
    }
    Ok(())
}

fn bench(sizes: Vec<usize>, periods: u32, seed: u64, depth: Option<usize>) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    println!("| nodes | bootstrap wall | converged | {periods} periods wall | total wall | node-periods/s | RSS after bootstrap | per node | per member entry | of which member tables | peak RSS |");
    println!("| ---: | ---: | :---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for n in sizes {
        let out = std::process::Command::new(&exe)
            .args(["bench-one", "--nodes", &n.to_string(), "--periods", &periods.to_string()])
            .args(["--seed", &seed.to_string(), "--queue-depth", &depth.unwrap_or(0).to_string()])
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(line) = text.lines().find(|l| l.starts_with("BENCH ")) else {
            println!("| {n} | failed: {} |", String::from_utf8_lossy(&out.stderr).trim());
            continue;
        };
        let f: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
        let rss = num(7);
        let mib = |b: f64| b / (1024.0 * 1024.0);
        println!(
            "| {n} | {:.1} s | {} | {:.1} s | {:.1} s | {:.0} | {:.0} MiB | {:.1} KiB | {:.0} B | {:.0} B | {:.0} MiB |",
            num(3),
            f.get(4).unwrap_or(&"?"),
            num(5),
            num(3) + num(5),
            num(6),
            mib(rss),
            rss / n as f64 / 1024.0,
            rss / (n as f64 * n as f64),
            num(9) / (n as f64 * n as f64),
            mib(num(8))
        );
    }
    Ok(())
}
