//! Building the Go programs (the test peer and the benchmark's nodes) against
//! memberlist's Go source, offline, in GOPATH mode.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Where scripts/install-interop-peers.sh put memberlist's Go source
/// (`SWIM_INTEROP_DIR` overrides `/opt/swim-interop`).
pub fn interop_dir() -> PathBuf {
    PathBuf::from(std::env::var("SWIM_INTEROP_DIR").unwrap_or_else(|_| "/opt/swim-interop".into()))
}

/// The path of `tool` on `PATH`; panics with how to install it if missing.
pub fn require_tool(tool: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let p = dir.join(tool);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{tool}` is not installed: the interop tests need the real peers. \
         Run scripts/install-interop-peers.sh (as root) first."
    );
}

/// Builds `src_dir/main.go` into `work_dir/bin_name` with the installed Go,
/// in GOPATH mode against memberlist's source under [`interop_dir`], offline
/// (`GOPROXY=off`, `GOTOOLCHAIN=local`), with
/// `go-peer/overlay/memberlist_swim_interop.go` added to memberlist's package
/// (`go build -overlay`: it lets a program read every node's real state).
/// The build cache is `work_dir/go-cache`, shared by every program built
/// there. Panics with Go's output if the build fails.
pub fn build_go_program(src_dir: &Path, work_dir: &Path, bin_name: &str) -> PathBuf {
    let go = require_tool("go");
    let gopath = interop_dir().join("gocode");
    let ml = gopath.join("src/github.com/hashicorp/memberlist");
    assert!(
        ml.join("memberlist.go").is_file(),
        "memberlist's Go source is missing at {}: run scripts/install-interop-peers.sh first",
        ml.display()
    );
    std::fs::create_dir_all(work_dir).unwrap();
    let overlay_src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("go-peer/overlay/memberlist_swim_interop.go");
    let overlay = work_dir.join(format!("{bin_name}-overlay.json"));
    let json = serde_json::json!({"Replace": {
        ml.join("memberlist_swim_interop.go").to_str().unwrap(): overlay_src.to_str().unwrap()
    }});
    std::fs::write(&overlay, json.to_string()).unwrap();
    let bin = work_dir.join(bin_name);
    let started = Instant::now();
    let out = Command::new(go)
        .current_dir(src_dir)
        .env("GO111MODULE", "off")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "")
        .env("GOPATH", &gopath)
        .env("GOCACHE", work_dir.join("go-cache"))
        .args(["build", "-overlay"])
        .arg(&overlay)
        .arg("-o")
        .arg(&bin)
        .arg("main.go")
        .output()
        .expect("run go build");
    assert!(
        out.status.success(),
        "building {} failed:\n{}{}",
        src_dir.join("main.go").display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("built {bin_name} in {:?}", started.elapsed());
    bin
}
