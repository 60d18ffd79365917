//! `swim-sim`: runs a named or described scenario over the deterministic
//! simulator and prints a report; `compare` runs one scenario under two
//! configurations; `--sweep` runs it for each value of one `Config` field;
//! `claims` checks the SWIM paper's claims; `bench` measures simulation speed
//! and memory.

use std::process::ExitCode;
use std::time::Duration;
use swim_core::Config;
use swim_sim::scenario::{self, Spec};
use swim_sim::settings::{self, parse_duration, SettingError};
use swim_sim::summary::{self, Summary};
use swim_sim::{svg, Latency, Loss};

const USAGE: &str = "\
usage:
  swim-sim [SCENARIO] [OPTIONS]     run a scenario and print a report
  swim-sim [SCENARIO] --sweep FIELD=V1,V2,... [--seeds N] [OPTIONS]
                                    run it for each value of FIELD; one table row per value
  swim-sim compare A B [--scenario SCENARIO] [--seeds N] [OPTIONS]
                                    run it under configurations A and B (presets or TOML
                                    files) with the same seeds; one table, columns A, B, B/A
  swim-sim fields                   every Config field, its default, and the presets
  swim-sim claims [--sizes 100,200,500,1000] [--crashes 10] [--seed S]
  swim-sim bench  [--sizes 1000,2000,5000] [--periods 100] [--seed S]

scenarios: crash, partition, churn, flaky (or none: described by the options)

configuration (FIELD: any swim_core::Config field, as `swim-sim fields` lists them):
  --config NAME|FILE   a preset (default, memberlist-lan, memberlist-wan, memberlist-local, fast)
                       or a TOML file of `FIELD = VALUE` lines; repeatable
  --set FIELD=VALUE    one field, e.g. suspicion_mult=5, probe_timeout=200ms; repeatable
  --a-set FIELD=VALUE  compare: a field of A only (--b-set: of B only); repeatable
  --seeds N            compare and --sweep: run the seeds S, S+1, ..., S+N-1 (default 3)
  --sweep FIELD=V1,V2,...  one run (or --seeds N) per value
  Applied in this order: the scenarios' own (Config::default(), gossip queue depth 256),
  --config, then A or B, then --set, --interval, --probe-timeout and --queue-depth as given,
  then --a-set or --b-set, then the swept value.

options (override the scenario's):
  --scenario NAME      the scenario (for compare; same as naming it first otherwise)
  --nodes N            cluster size
  --seed S             the seed (same seed, same run)
  --interval D         protocol period (e.g. 500ms, 1s); probe timeout is half unless set
  --probe-timeout D
  --loss P             packet loss, 0..1 (e.g. 0.05)
  --burst L            make the loss bursty: Gilbert-Elliott, mean burst L packets
  --latency SPEC       2ms | 1ms..5ms | lognormal:MEDIAN:SIGMA:CAP | pareto:MIN:ALPHA:CAP | geo:SPREAD:JITTER
  --crash K            crash K random nodes early in the run
  --restart K          crash K nodes early and restart them halfway
  --pause K            pause K nodes two periods in, for --pause-for (default 5s)
  --pause-for D
  --slow K             slow K nodes down by --slow-by (default 300ms) for the whole run
  --slow-by D
  --dark K             K hosts drop all their traffic for --dark-for (default 400ms) of every second
  --dark-for D
  --go-like K          the last K nodes behave as Go memberlist peers (direct_refutation=false);
                       K = --nodes: a memberlist-like cluster, to compare with swim's
  --partition A:L      split the cluster in halves at A for L (e.g. 5s:20s)
  --broadcasts K       tracked broadcasts in the first half of the run (default 3)
  --duration D         length of the measured run (after the bootstrap)
  --svg FILE           write the chart (timeline; compare: both timelines; sweep: per value)
  --queue-depth N      gossip queue depth of every node (default 256; 0: the core's default, 5000)
";

fn parse_latency(s: &str) -> Result<Latency, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let f = |x: &str| x.parse::<f64>().map_err(|_| format!("bad number {x:?}"));
    match parts.as_slice() {
        ["lognormal", m, sigma, cap] => {
            Ok(Latency::LogNormal { median: parse_duration(m)?, sigma: f(sigma)?, cap: parse_duration(cap)? })
        }
        ["geo", spread, jitter] => {
            Ok(Latency::Geo { spread: parse_duration(spread)?, jitter: parse_duration(jitter)? })
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

/// Why the program stopped.
#[derive(Debug)]
enum Fail {
    /// A mistake in the command line: the message and the usage.
    Usage(String),
    /// A mistake in a setting or the configuration, or a failed run.
    Config(String),
}

impl From<String> for Fail {
    fn from(e: String) -> Self {
        Fail::Usage(e)
    }
}

impl From<&str> for Fail {
    fn from(e: &str) -> Self {
        Fail::Usage(e.into())
    }
}

impl From<SettingError> for Fail {
    fn from(e: SettingError) -> Self {
        Fail::Config(e.to_string())
    }
}

/// glibc's switch for transparent huge pages in malloc (glibc 2.35+;
/// other C libraries ignore it).
const HUGE_PAGES: &str = "glibc.malloc.hugetlb=1";

/// Re-runs this process with malloc on transparent huge pages, unless the
/// environment already says how (`GLIBC_TUNABLES`) or asks not to
/// (`SWIM_SIM_NO_THP`). A large simulation spends most of its set-up in the
/// kernel's first touch of fresh pages, one fault per 4 KiB page; with 2 MiB
/// pages the 10,000-node run takes half the time (swim-sim README,
/// "Benchmark"). Allocation never changes what a run computes: traces and
/// reports are the same. Only on Linux; if the re-run cannot start, this
/// process goes on as it is.
#[cfg(target_os = "linux")]
fn with_huge_pages() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("GLIBC_TUNABLES").is_some() || std::env::var_os("SWIM_SIM_NO_THP").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("GLIBC_TUNABLES", HUGE_PAGES)
        .exec();
    eprintln!("swim-sim: running without huge pages ({err})");
}

#[cfg(not(target_os = "linux"))]
fn with_huge_pages() {}

fn main() -> ExitCode {
    with_huge_pages();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [cmd, bytes] = &args[..] {
        if cmd == "bench-touch" {
            // The bench's baseline, in a fresh process like each size's run.
            println!("TOUCH {:.3}", touch_fresh_memory(bytes.parse().unwrap_or(0)).as_secs_f64());
            return ExitCode::SUCCESS;
        }
    }
    match real_main(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail::Usage(e)) => {
            eprintln!("swim-sim: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Fail::Config(e)) => {
            eprintln!("swim-sim: {e}");
            ExitCode::from(2)
        }
    }
}

/// One step of building a configuration from the command line.
#[derive(Debug, Clone)]
enum Step {
    /// A preset or a TOML file.
    Load(String),
    /// `FIELD=VALUE`.
    Set(String),
    /// The probe timeout `--interval` implies (half of it), dropped if the
    /// probe timeout is set explicitly.
    ImpliedProbeTimeout(Duration),
}

/// Builds a configuration, each setting through the settings table: `base`,
/// then the presets and files among `steps` (`--config`), then `side` (A or
/// B of a comparison), then the other `steps` in order; then validates it.
fn build_config(base: &Config, side: Option<&str>, steps: &[Step]) -> Result<Config, SettingError> {
    let mut config = base.clone();
    let loads = steps.iter().filter_map(|s| match s {
        Step::Load(l) => Some(l.as_str()),
        _ => None,
    });
    for l in loads.chain(side) {
        settings::load(&mut config, l)?;
    }
    let explicit_probe_timeout = steps.iter().any(|s| match s {
        Step::Set(kv) => kv.split_once('=').is_some_and(|(k, _)| k.trim() == "probe_timeout"),
        _ => false,
    });
    for step in steps {
        match step {
            Step::Load(_) => {}
            Step::Set(kv) => settings::set_pair(&mut config, kv)?,
            Step::ImpliedProbeTimeout(d) if !explicit_probe_timeout => config.probe_timeout = *d,
            Step::ImpliedProbeTimeout(_) => {}
        }
    }
    settings::validate(&config)?;
    Ok(config)
}

fn real_main(args: Vec<String>) -> Result<(), Fail> {
    let mut args = args;
    let scenario_flag = match args.iter().position(|a| a == "--scenario") {
        Some(i) if i + 1 < args.len() => Some(args.drain(i..i + 2).nth(1).unwrap_or_default()),
        Some(_) => return Err("--scenario needs a value".into()),
        None => None,
    };
    let mut it = args.into_iter().peekable();
    let first = it.peek().cloned().unwrap_or_default();
    let command = if first.starts_with('-') || first.is_empty() {
        "run".to_string()
    } else {
        it.next().unwrap_or_default()
    };
    if command == "fields" {
        print!("{}", settings::fields_help());
        return Ok(());
    }
    let mut sides = Vec::new();
    if command == "compare" {
        for side in ["A", "B"] {
            match it.next_if(|a| !a.starts_with('-')) {
                Some(name) => sides.push(name),
                None => {
                    return Err(format!("compare needs two configurations, A and B (missing {side})").into())
                }
            }
        }
    }
    let scenario_name = match (command.as_str(), scenario_flag) {
        ("run" | "compare" | "claims" | "bench" | "bench-one", s) => s,
        (name, None) => Some(name.to_string()),
        (name, Some(s)) => return Err(format!("scenario named twice: {name} and --scenario {s}").into()),
    };
    let mut spec = match scenario_name {
        None => Spec::default(),
        Some(name) => Spec::named(&name).ok_or_else(|| format!("unknown scenario or command {name:?}"))?,
    };
    let mut svg_path = None;
    let mut sizes: Option<Vec<usize>> = None;
    let mut periods = 100u32;
    let mut crashes = 10usize;
    let mut loss_p: Option<f64> = None;
    let mut burst: Option<f64> = None;
    let mut steps: Vec<Step> = Vec::new();
    let mut side_steps: [Vec<Step>; 2] = Default::default();
    let mut seeds: Option<u64> = None;
    let mut sweep: Option<(String, Vec<String>)> = None;
    let mut config_flags = false;
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
            "--interval" => {
                let d = parse_duration(&value)?;
                steps.push(Step::Set(format!("protocol_interval={value}")));
                steps.push(Step::ImpliedProbeTimeout(d / 2));
            }
            "--probe-timeout" => steps.push(Step::Set(format!("probe_timeout={value}"))),
            "--queue-depth" => {
                let depth = Some(count(&value)?).filter(|&d| d > 0);
                let depth = depth.unwrap_or(Config::default().max_gossip_queue_depth);
                steps.push(Step::Set(format!("max_gossip_queue_depth={depth}")));
            }
            "--config" => {
                config_flags = true;
                steps.push(Step::Load(value));
            }
            "--set" => {
                config_flags = true;
                steps.push(Step::Set(value));
            }
            "--a-set" | "--b-set" if command == "compare" => {
                side_steps[usize::from(flag == "--b-set")].push(Step::Set(value));
            }
            "--seeds" => seeds = Some(value.parse().map_err(|_| format!("bad count {value:?} for --seeds"))?),
            "--sweep" => {
                let (field, values) = value.split_once('=').ok_or("--sweep wants FIELD=V1,V2,...")?;
                settings::field(field)?;
                sweep = Some((
                    field.trim().to_string(),
                    values.split(',').map(|v| v.trim().to_string()).collect(),
                ));
            }
            "--loss" => loss_p = Some(num(&value)?),
            "--burst" => burst = Some(num(&value)?),
            "--latency" => spec.latency = parse_latency(&value)?,
            "--crash" => spec.crash = count(&value)?,
            "--restart" => spec.restart = count(&value)?,
            "--pause" => spec.pause = count(&value)?,
            "--pause-for" => spec.pause_for = parse_duration(&value)?,
            "--slow" => spec.slow = count(&value)?,
            "--slow-by" => spec.slow_by = parse_duration(&value)?,
            "--dark" => spec.dark = count(&value)?,
            "--dark-for" => spec.dark_for = parse_duration(&value)?,
            "--go-like" => spec.go_like = count(&value)?,
            "--partition" => {
                let (a, l) = value.split_once(':').ok_or("--partition wants START:LENGTH")?;
                spec.partition = Some((parse_duration(a)?, parse_duration(l)?));
            }
            "--broadcasts" => spec.broadcasts = count(&value)?,
            "--duration" => spec.duration = parse_duration(&value)?,
            "--svg" => svg_path = Some(value),
            "--sizes" => sizes = Some(parse_sizes(&value)?),
            "--periods" => periods = value.parse().map_err(|_| format!("bad count {value:?}"))?,
            "--crashes" => crashes = count(&value)?,
            _ => return Err(format!("unknown option {flag}").into()),
        }
    }
    match (loss_p, burst) {
        (Some(p), Some(b)) => spec.loss = Loss::bursty(p, b),
        (Some(p), None) => spec.loss = if p > 0.0 { Loss::Uniform(p) } else { Loss::None },
        (None, Some(b)) => spec.loss = Loss::bursty(spec.loss.average(), b),
        (None, None) => {}
    }
    let is_sweep = sweep.is_some();
    match command.as_str() {
        "claims" | "bench" | "bench-one" if config_flags || is_sweep || seeds.is_some() => {
            return Err(format!(
                "--config, --set, --sweep and --seeds apply to runs and compare, not to {command}"
            )
            .into());
        }
        "compare" if is_sweep => return Err("compare and --sweep do not combine".into()),
        "claims" | "bench" | "bench-one" | "compare" => {}
        _ if seeds.is_some() && !is_sweep => return Err("--seeds applies to compare and --sweep".into()),
        _ => {}
    }
    let config = |side: Option<&str>, extra: &[Step]| {
        build_config(&spec.config, side, &[steps.as_slice(), extra].concat())
    };
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
            let depth = config(None, &[])?.max_gossip_queue_depth;
            bench(sizes.unwrap_or_else(|| vec![1000, 2000, 5000]), periods, spec.seed, depth)
                .map_err(Fail::Config)
        }
        "bench-one" => {
            let depth = config(None, &[])?.max_gossip_queue_depth;
            let r = scenario::bench_one(spec.nodes, periods, spec.seed, Some(depth));
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
        "compare" => {
            let (a, b) = (config(Some(&sides[0]), &side_steps[0])?, config(Some(&sides[1]), &side_steps[1])?);
            let names = [side_name(&sides[0], &side_steps[0]), side_name(&sides[1], &side_steps[1])];
            compare(&spec, [a, b], names, seeds.unwrap_or(3), svg_path).map_err(Fail::Config)
        }
        _ => match sweep {
            Some((field, values)) => {
                let base = config(None, &[])?;
                let configs = values
                    .iter()
                    .map(|v| {
                        config(None, &[Step::Set(format!("{field}={v}"))])
                            .map_err(|e| Fail::Config(format!("with {field}={v}: {e}")))
                    })
                    .collect::<Result<Vec<Config>, Fail>>()?;
                spec.config = base;
                run_sweep(
                    &spec,
                    &field,
                    values.into_iter().zip(configs).collect(),
                    seeds.unwrap_or(3),
                    svg_path,
                )
                .map_err(Fail::Config)
            }
            None => {
                spec.config = config(None, &[])?;
                run(&spec, svg_path).map_err(Fail::Config)
            }
        },
    }
}

/// A compared configuration's name: the preset or file, with its own `--a-set`/`--b-set`.
fn side_name(source: &str, steps: &[Step]) -> String {
    let mut name = source.to_string();
    for s in steps {
        if let Step::Set(kv) = s {
            name += &format!(" +{kv}");
        }
    }
    name
}

/// Writes a chart to `path` and says so.
fn write_chart(path: &str, svg: String) -> Result<(), String> {
    std::fs::write(path, svg).map_err(|e| format!("writing {path}: {e}"))?;
    println!("chart: {path}");
    Ok(())
}

/// The seeds line above a compare or sweep table.
fn seeds_line(spec: &Spec, seeds: u64) -> String {
    format!("seeds {}..={} ({seeds} runs each)", spec.seed, spec.seed.wrapping_add(seeds.max(1) - 1))
}

fn compare(
    spec: &Spec,
    configs: [Config; 2],
    names: [String; 2],
    seeds: u64,
    svg_path: Option<String>,
) -> Result<(), String> {
    println!("compare: {}", spec.describe_scenario());
    for (side, (config, name)) in ["A", "B"].iter().zip(configs.iter().zip(&names)) {
        println!("{side}: {name}: {}", settings::describe(config));
    }
    println!("{}", seeds_line(spec, seeds));
    println!();
    let wall = std::time::Instant::now();
    let mut runs = Vec::new();
    for config in configs {
        runs.push(summary::run_seeds(&Spec { config, ..spec.clone() }, seeds).map_err(|e| e.to_string())?);
    }
    print!("{}", summary::compare_table(&names[0], &names[1], &runs[0].summary, &runs[1].summary));
    eprintln!("(wall time {:.1} s)", wall.elapsed().as_secs_f64());
    if let Some(path) = svg_path {
        let title =
            format!("{}, seed {}: A = {} (solid), B = {} (dashed)", spec.name, spec.seed, names[0], names[1]);
        let chart =
            svg::compare_chart(("A", &runs[0].timeline), ("B", &runs[1].timeline), &title, &runs[0].marks);
        write_chart(&path, chart)?;
    }
    Ok(())
}

fn run_sweep(
    spec: &Spec,
    field: &str,
    configs: Vec<(String, Config)>,
    seeds: u64,
    svg_path: Option<String>,
) -> Result<(), String> {
    println!("sweep of {field}: {}", spec.describe());
    println!("{}", seeds_line(spec, seeds));
    println!();
    let wall = std::time::Instant::now();
    let mut rows: Vec<(String, Summary)> = Vec::new();
    for (value, config) in configs {
        let runs = summary::run_seeds(&Spec { config, ..spec.clone() }, seeds).map_err(|e| e.to_string())?;
        rows.push((value, runs.summary));
    }
    print!("{}", summary::sweep_table(field, &rows));
    eprintln!("(wall time {:.1} s)", wall.elapsed().as_secs_f64());
    if let Some(path) = svg_path {
        let title =
            format!("{}, {} nodes: {field} swept, {}", spec.name, spec.nodes, seeds_line(spec, seeds));
        write_chart(&path, summary::sweep_chart(&title, field, &rows))?;
    }
    Ok(())
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
    let node_periods = spec.nodes as f64 * out.report.measured.as_secs_f64()
        / spec.config.protocol_interval.as_secs_f64().max(1e-9);
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
        write_chart(&path, chart)?;
    }
    Ok(())
}

/// Writes one byte per 4 KiB page of `bytes` freshly allocated bytes and
/// returns how long that took: what first touching the memory a run used
/// costs on this machine by itself (on some virtual machines each fresh
/// page is a slow fault in the host).
fn touch_fresh_memory(bytes: usize) -> std::time::Duration {
    let start = std::time::Instant::now();
    let mut v = vec![0u8; bytes];
    for i in (0..bytes).step_by(4096) {
        v[i] = 1;
    }
    std::hint::black_box(&v);
    start.elapsed()
}

fn bench(sizes: Vec<usize>, periods: u32, seed: u64, depth: usize) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    println!("| nodes | bootstrap wall | converged | {periods} periods wall | total wall | node-periods/s | RSS after bootstrap | per node | per member entry | of which member tables | peak RSS | baseline: touch peak RSS of fresh memory |");
    println!("| ---: | ---: | :---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for n in sizes {
        let out = std::process::Command::new(&exe)
            .args(["bench-one", "--nodes", &n.to_string(), "--periods", &periods.to_string()])
            .args(["--seed", &seed.to_string(), "--queue-depth", &depth.to_string()])
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
        let touch = std::process::Command::new(&exe)
            .args(["bench-touch", &format!("{}", num(8) as usize)])
            .output()
            .map_err(|e| e.to_string())?;
        let touch = String::from_utf8_lossy(&touch.stdout);
        let touch =
            touch.strip_prefix("TOUCH ").and_then(|t| t.trim().parse::<f64>().ok()).unwrap_or(f64::NAN);
        println!(
            "| {n} | {:.1} s | {} | {:.1} s | {:.1} s | {:.0} | {:.0} MiB | {:.1} KiB | {:.0} B | {:.0} B | {:.0} MiB | {touch:.1} s |",
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
