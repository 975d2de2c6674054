//! `cargo xtask bench [NAME…] [--json] [-- ARGS…]`: each benchmark is a `harness = false` bench
//! target of the `tests` crate, run in release mode, one after the other in one run; this only
//! picks them and forwards the options. Every bench takes `--json` (one JSON document on stdout
//! instead of a table) and `--out DIR` (where it may write plots), and ignores `--bench`, which
//! cargo passes to every bench target.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

/// Every benchmark, in the order a full run takes them: the names of the bench targets in
/// tests/Cargo.toml.
const ALL: &[&str] = &["xdp", "forward", "failover", "idle"];

#[derive(Args)]
pub struct Bench {
    /// Benchmarks to run (all when none is given): xdp, forward, failover, idle.
    names: Vec<String>,
    /// Print JSON instead of tables (one document per benchmark, one per line).
    #[arg(long)]
    json: bool,
    /// Extra arguments for every benchmark (e.g. `-- --repeat 100000` for xdp).
    #[arg(last = true)]
    args: Vec<String>,
}

pub fn run(bench: Bench) -> anyhow::Result<()> {
    let names: Vec<&str> = if bench.names.is_empty() {
        ALL.to_vec()
    } else {
        bench.names.iter().map(String::as_str).collect()
    };
    if let Some(unknown) = names.iter().find(|n| !ALL.contains(n)) {
        bail!(
            "unknown benchmark {unknown:?}: expected one of {}",
            ALL.join(", ")
        );
    }
    crate::setup::run()?;
    crate::setup::require_root("benchmarks load BPF programs and build network namespaces")?;
    // The daemon benches run the release `xvrrp` next to their own binary; cargo bench
    // builds only the bench targets.
    crate::cargo(
        [
            "build",
            "--quiet",
            "--release",
            "-p",
            "vrrp-userspace",
            "--bin",
            "xvrrp",
        ]
        .map(String::from),
    )?;
    let out = crate::workspace_root().join("target").join("bench");
    std::fs::create_dir_all(&out)?;
    for name in names {
        let mut args: Vec<String> = ["bench", "--quiet", "-p", "tests", "--bench", name, "--"]
            .map(String::from)
            .into();
        if bench.json {
            args.push("--json".into());
        }
        args.push("--out".into());
        args.push(PathBuf::from(&out).display().to_string());
        args.extend(bench.args.iter().cloned());
        crate::cargo(args)?;
    }
    Ok(())
}
