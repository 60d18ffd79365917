//! Runnable examples for swim (see `src/bin`): `quickstart` walks through the
//! usage guide step by step, `demo` runs a 5-node cluster that loses a node.
//! Both run on tokio by default, or on smol with `--runtime smol`.
//! `prometheus` serves a small cluster's metrics in Prometheus text format.
//! [`plain_loop`] drives the core with std sockets and no runtime at all
//! (`plain_loop` binary).

pub mod plain_loop;

use std::future::Future;
use std::time::{Duration, Instant};
use swim_core::runtime::Runtime;

/// Logs to stderr, filtered by `RUST_LOG` (default: warnings only).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Runs the tokio or the smol version of a program, as `--runtime` says
/// (`tokio`, the default, or `smol`).
pub fn run_selected<T>(tokio: impl Future<Output = T>, smol: impl Future<Output = T>) -> T {
    let args: Vec<String> = std::env::args().collect();
    let runtime =
        args.iter().position(|a| a == "--runtime").and_then(|i| args.get(i + 1)).map(String::as_str);
    match runtime {
        None | Some("tokio") => {
            println!("(runtime: tokio)");
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("tokio runtime")
                .block_on(tokio)
        }
        Some("smol") => {
            println!("(runtime: smol)");
            smol::block_on(smol)
        }
        Some(other) => {
            eprintln!("unknown runtime {other:?}: use --runtime tokio or --runtime smol");
            std::process::exit(2)
        }
    }
}

/// Sleeps on runtime `R`.
pub async fn sleep<R: Runtime>(d: Duration) {
    R::current().sleep_until(Instant::now() + d).await;
}
