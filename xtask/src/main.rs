//! Developer entry points: `cargo xtask setup | test | bench | run`.
//!
//! xtask depends on nothing of the workspace, so that it builds on a fresh machine before the
//! eBPF toolchain that `setup` installs is there.

mod bench;
mod fuzz;
mod lab;
mod setup;

use std::process::Command;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "xvrrp developer tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install what building and testing need: rust-src for nightly, bpf-linker 0.10.0, and
    /// the Debian packages the tests use. Idempotent.
    Setup,
    /// Run setup, then every test: unit, BPF_PROG_RUN and network-namespace tests (needs root);
    /// then, when no arguments are given (as CI runs it), every fuzz target for a short time
    /// from its corpus, failing on a crash.
    Test {
        /// Extra arguments for `cargo test` (e.g. a test name filter after `--`); with any,
        /// the fuzz run is left out.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Benchmarks, reported as ratios measured side by side in one run.
    Bench(bench::Bench),
    /// Fuzz the codecs, the configuration parser and the control socket's request parser
    /// (libFuzzer via cargo-fuzz, on nightly) from the corpus in `fuzz/corpus`; fails with the
    /// input's path when a target crashes.
    Fuzz {
        /// How long to run each target.
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        time: u64,
        /// Targets to run (all when none is given): vrrp_codec, arp_ndisc, config, control.
        targets: Vec<String>,
    },
    /// The demo: a lab in network namespaces, printed live until Ctrl-C (needs root).
    Run {
        /// Stop by itself after this many seconds.
        #[arg(long = "for", value_name = "SECONDS")]
        duration: Option<u64>,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Setup => setup::run(),
        Task::Test { args } => {
            setup::run()?;
            setup::require_root("the tests load BPF programs and create network namespaces")?;
            let fuzz = args.is_empty();
            // default-members: all but vrrp-ebpf, which only builds for the BPF target.
            cargo(["test"].into_iter().map(String::from).chain(args))?;
            if fuzz {
                fuzz::run(fuzz::CI_SECONDS, Vec::new())?;
            }
            Ok(())
        }
        Task::Bench(bench) => bench::run(bench),
        Task::Fuzz { time, targets } => fuzz::run(time, targets),
        Task::Run { duration } => lab::run(duration),
    }
}

/// Runs cargo (the one that runs xtask) with `args` from the workspace root.
fn cargo(args: impl IntoIterator<Item = String>) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let args: Vec<String> = args.into_iter().collect();
    let status = Command::new(&cargo)
        .args(&args)
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("running {cargo}"))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is in the workspace")
        .to_path_buf()
}
