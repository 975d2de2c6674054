//! The `xvrrp` command.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use vrrp_userspace::{
    config, daemon,
    dataplane::{AttachMode, Dataplane},
    time::Monotonic,
};

const DEFAULT_CONTROL: &str = "/run/xvrrp/xvrrp.sock";
const DEFAULT_PIN_DIR: &str = "/sys/fs/bpf/xvrrp";

#[derive(Parser)]
#[command(
    name = "xvrrp",
    version,
    about = "VRRP (RFC 5798 / RFC 3768) with an XDP dataplane"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the VRRP daemon in the foreground, logging to stderr, until SIGTERM or SIGINT;
    /// SIGHUP reloads the configuration.
    Run {
        /// keepalived.conf to run.
        #[arg(short = 'f', long = "config", value_name = "FILE")]
        config: PathBuf,
        /// Unix socket that `xvrrp status` talks to (created mode 0600).
        #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTROL)]
        control: PathBuf,
        /// XDP advert tracker: auto (native, else skb, else none with a warning), native, skb,
        /// or off.
        #[arg(long, default_value = "auto", value_name = "MODE")]
        xdp: daemon::Xdp,
        /// Write the daemon's process id to this file (removed on exit).
        #[arg(long, value_name = "FILE")]
        pid_file: Option<PathBuf>,
        /// Serve Prometheus metrics (the status as counters and gauges) over HTTP on this
        /// address, e.g. 127.0.0.1:9643; off by default.
        #[arg(long, value_name = "ADDR")]
        metrics: Option<std::net::SocketAddr>,
        /// Pin XDP under DIR/<interface>/ (on bpffs, mounted on /sys/fs/bpf if missing), so
        /// that it outlives a crashed daemon and a restarted one adopts it.
        #[arg(long, value_name = "DIR", default_value = DEFAULT_PIN_DIR)]
        pin_dir: PathBuf,
        /// Do not pin: XDP goes with the daemon, whatever way it ends.
        #[arg(long)]
        no_pin: bool,
    },
    /// Planned handover for maintenance: the running daemon's Master instances (or the one
    /// named, with its sync group) hand mastership to their best Backup without losing a
    /// packet, and stay Backup until no other router is Master.
    Handover {
        /// Only this instance.
        #[arg(long, value_name = "NAME")]
        instance: Option<String>,
        /// The daemon's control socket.
        #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTROL)]
        control: PathBuf,
    },
    /// Check a configuration: print every diagnostic (warnings too); exit 0 if it is valid,
    /// 1 if it has errors.
    Check {
        /// keepalived.conf to check.
        #[arg(short = 'f', long = "config", value_name = "FILE")]
        config: PathBuf,
    },
    /// Show the running daemon's instances: state, priorities, master, last advert, counters.
    Status {
        /// Print the daemon's JSON document instead of one line per instance.
        #[arg(long)]
        json: bool,
        /// The daemon's control socket.
        #[arg(long, value_name = "PATH", default_value = DEFAULT_CONTROL)]
        control: PathBuf,
    },
    /// Attach the XDP advert tracker to an interface and print the virtual routers it hears
    /// and its counters, until interrupted.
    Watch {
        /// The interface to attach to.
        #[arg(short, long)]
        interface: String,
        /// XDP attach mode: auto (native, else generic), native, or skb (generic).
        #[arg(long, default_value = "auto")]
        xdp: AttachMode,
        /// Drop adverts that repeat what the tracker already holds (they still count as seen).
        #[arg(long)]
        absorb: bool,
        /// Seconds between reports.
        #[arg(long, default_value_t = 1.0)]
        every: f64,
        /// Stop after this many reports.
        #[arg(long)]
        count: Option<u64>,
    },
}

fn main() -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // journald and log files get plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match Cli::parse().command {
        Command::Run {
            config,
            control,
            xdp,
            pid_file,
            metrics,
            pin_dir,
            no_pin,
        } => daemon::run(daemon::Options {
            config,
            control,
            xdp,
            pid_file,
            metrics,
            pin_dir: (!no_pin).then_some(pin_dir),
        })
        .map(|()| ExitCode::SUCCESS),
        Command::Handover { instance, control } => {
            for name in daemon::handover(&control, instance.as_deref())? {
                println!("{name}: handing over");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { config } => Ok(check(&config)),
        Command::Status { json, control } => {
            let status = daemon::query(&control)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!("{}", daemon::render(&status));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Watch {
            interface,
            xdp,
            absorb,
            every,
            count,
        } => watch(&interface, xdp, absorb, every, count).map(|()| ExitCode::SUCCESS),
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    match config::load(path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                println!("{w}");
            }
            println!(
                "{}: valid ({} instances, {} sync groups)",
                path.display(),
                loaded.config.instances.len(),
                loaded.config.sync_groups.len()
            );
            ExitCode::SUCCESS
        }
        Err(diags) => {
            for d in &diags.0 {
                println!("{d}");
            }
            println!("{}: {} error(s)", path.display(), diags.errors().count());
            ExitCode::FAILURE
        }
    }
}

fn watch(
    interface: &str,
    mode: AttachMode,
    absorb: bool,
    every: f64,
    count: Option<u64>,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        every > 0.0 && every.is_finite(),
        "--every must be a positive number of seconds"
    );
    let mut dp = Dataplane::load()?;
    let used = dp.attach(interface, mode)?;
    dp.set_absorb(absorb);
    tracing::info!(%interface, mode = ?used, absorb, "XDP advert tracker attached");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(every));
        let mut reports = 0u64;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                r = tokio::signal::ctrl_c() => { r.context("waiting for Ctrl-C")?; break; }
            }
            report(&dp)?;
            reports += 1;
            if count.is_some_and(|c| reports >= c) {
                break;
            }
        }
        anyhow::Ok(())
    })?;
    dp.detach()
}

fn report(dp: &Dataplane) -> anyhow::Result<()> {
    let now = Monotonic::now();
    let routers = dp.liveness();
    if routers.is_empty() {
        println!("no VRRP adverts seen yet");
    }
    for r in routers {
        println!("{r}, last {:.2}s ago", now.since(r.last_seen).as_secs_f64());
    }
    let counters: Vec<String> = dp
        .counters()?
        .iter()
        .filter(|(_, v)| *v != 0)
        .map(|(c, v)| format!("{}={v}", c.name()))
        .collect();
    println!(
        "counters: {}",
        if counters.is_empty() {
            "none".into()
        } else {
            counters.join(" ")
        }
    );
    Ok(())
}
