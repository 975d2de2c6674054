//! `cargo xtask bench`: each benchmark is a `harness = false` bench target of the `tests` crate,
//! run in release mode; this only picks it and forwards the options.

use clap::Subcommand;

#[derive(Subcommand)]
pub enum Which {
    /// Per-packet cost of the XDP program (BPF_PROG_RUN) beside an empty XDP program.
    Xdp {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// BPF_PROG_RUN repetitions per measurement.
        #[arg(long, default_value_t = 1_000_000)]
        repeat: u32,
    },
}

pub fn run(which: Which) -> anyhow::Result<()> {
    crate::setup::run()?;
    crate::setup::require_root("benchmarks load BPF programs")?;
    let (bench, args) = match which {
        Which::Xdp { json, repeat } => {
            let mut args = vec!["--repeat".to_string(), repeat.to_string()];
            if json {
                args.push("--json".into());
            }
            ("xdp", args)
        }
    };
    let mut cargo_args: Vec<String> = ["bench", "--quiet", "-p", "tests", "--bench", bench, "--"]
        .map(String::from)
        .into();
    cargo_args.extend(args);
    crate::cargo(cargo_args)
}
