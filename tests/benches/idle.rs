//! `cargo xtask bench idle [-- --seconds N]`: what a daemon costs while nothing happens. Two
//! routers on one LAN with 50 VRRPv3 instances (VRIDs 1–50, advert_int 0.01 s, one VIP each,
//! priority 150 on the master, 100 on the backup); once every instance has settled, the CPU
//! time (of every thread of every process in the router's namespace, from schedstat) over
//! `seconds` (default 60), for the master and for the backup, with xvrrp absorbing adverts in
//! XDP (`--xdp auto`), xvrrp without XDP (`--xdp off`) and keepalived 2.2.7, one after the other
//! on the same keepalived.conf (`--daemons xvrrp_absorb,keepalived` measures only those). The bridge's ports receive in NAPI threads
//! (`Lan::bill_each_router_alone`): what a router's adverts cost the bridge and the other router
//! is not billed to it, as on a real LAN. Target: xvrrp with absorption ≤ 1/10 of keepalived.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use tests::{
    bench::BenchArgs,
    daemon::{Daemon, Lan},
    keepalived::Keepalived,
    netns::Netns,
};

const INSTANCES: u8 = 50;
const ADVERT_INT: &str = "0.01";
/// xvrrp with absorption against keepalived.
const TARGET: f64 = 0.1;
/// Settling: the master's instances take over in 3.6 advert_int, the backup then only listens.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);
const SETTLE_QUIET: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    XvrrpAbsorb,
    XvrrpNoXdp,
    Keepalived,
}

impl Variant {
    const ALL: [Variant; 3] = [
        Variant::XvrrpAbsorb,
        Variant::XvrrpNoXdp,
        Variant::Keepalived,
    ];

    fn name(self) -> &'static str {
        match self {
            Variant::XvrrpAbsorb => "xvrrp (XDP absorbing)",
            Variant::XvrrpNoXdp => "xvrrp (--xdp off)",
            Variant::Keepalived => "keepalived 2.2.7",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Variant::XvrrpAbsorb => "xvrrp_absorb",
            Variant::XvrrpNoXdp => "xvrrp_xdp_off",
            Variant::Keepalived => "keepalived",
        }
    }
}

/// One router's daemon of either kind.
enum Router {
    Xvrrp(Daemon),
    /// Held for its lifetime: keepalived has nothing to ask.
    Keepalived {
        _process: Keepalived,
    },
}

impl Router {
    fn start(variant: Variant, lan: &Lan, n: usize, priority: u8) -> Router {
        let config = fifty(priority);
        match variant {
            Variant::XvrrpAbsorb => Router::Xvrrp(lan.daemon(n, &config, &["--xdp", "auto"])),
            Variant::XvrrpNoXdp => Router::Xvrrp(lan.daemon(n, &config, &["--xdp", "off"])),
            Variant::Keepalived => Router::Keepalived {
                _process: Keepalived::start(lan.router(n), &config),
            },
        }
    }

    /// How many instances `xvrrp status` puts in `state`; keepalived has no status to ask.
    fn count_in(&self, state: &str) -> Option<usize> {
        match self {
            Router::Xvrrp(d) => {
                let out = d.status(&["--json"]);
                let compact: String = String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .collect();
                Some(compact.matches(&format!("\"state\":\"{state}\"")).count())
            }
            Router::Keepalived { .. } => None,
        }
    }

    /// The end of an xvrrp router's log, for an error that needs it.
    fn log_tail(&self) -> String {
        match self {
            Router::Xvrrp(d) => {
                let text = d.log_text();
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(20)..].join("\n");
                let tail = format!(
                    "{}\n{tail}",
                    text.lines()
                        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                        .take(10)
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                let status = String::from_utf8_lossy(&d.status(&[]).stdout).into_owned();
                format!("--- {} ---\n{tail}\n{status}\n", d.log.display())
            }
            Router::Keepalived { .. } => String::new(),
        }
    }
}

/// CPU % of the master's and the backup's daemon.
#[derive(Clone, Copy)]
struct Usage {
    master: f64,
    backup: f64,
}

fn main() -> anyhow::Result<()> {
    tests::require_root();
    let args = BenchArgs::parse(&["seconds", "daemons"])?;
    let seconds: u64 = args.get("seconds", 60)?;
    if !(1..=3600).contains(&seconds) {
        bail!("--seconds between 1 and 3600");
    }
    let all: Vec<&str> = Variant::ALL.iter().map(|v| v.key()).collect();
    let picked: String = args.get("daemons", all.join(","))?;
    let mut variants = Vec::new();
    for key in picked.split(',') {
        match Variant::ALL.into_iter().find(|v| v.key() == key) {
            Some(v) => variants.push(v),
            None => bail!("--daemons: {key:?} is none of {}", all.join(", ")),
        }
    }
    let period = Duration::from_secs(seconds);
    let mut usage = Vec::new();
    for &variant in &variants {
        let u = measure(variant, period).with_context(|| variant.name())?;
        eprintln!(
            "idle: {:<22} master {:.2} % CPU, backup {:.2} % CPU",
            variant.name(),
            u.master,
            u.backup
        );
        usage.push(u);
    }
    let keepalived = variants
        .iter()
        .position(|&v| v == Variant::Keepalived)
        .map_or(
            Usage {
                master: f64::NAN,
                backup: f64::NAN,
            },
            |i| usage[i],
        );
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    if args.json {
        let rows: Vec<String> = variants
            .iter()
            .zip(&usage)
            .map(|(v, u)| {
                format!(
                    "{{\"daemon\":\"{}\",\"master_cpu_percent\":{:.3},\"backup_cpu_percent\":{:.3},\
                     \"master_ratio\":{},\"backup_ratio\":{}}}",
                    v.key(),
                    u.master,
                    u.backup,
                    json_number(ratio(u.master, keepalived.master)),
                    json_number(ratio(u.backup, keepalived.backup))
                )
            })
            .collect();
        println!(
            "{{\"bench\":\"idle\",\"seconds\":{seconds},\"instances\":{INSTANCES},\
             \"advert_int\":{ADVERT_INT},\"target_ratio\":{TARGET},\"results\":[{}]}}",
            rows.join(",")
        );
    } else {
        println!(
            "Idle CPU over {seconds} s: {INSTANCES} VRRPv3 instances at advert_int {ADVERT_INT} s, \
             two routers"
        );
        println!(
            "{:<22} {:>9} {:>9} {:>13} {:>13}",
            "daemon", "master %", "backup %", "master ratio", "backup ratio"
        );
        for (v, u) in variants.iter().zip(&usage) {
            let cell = |r: f64| {
                if *v == Variant::XvrrpAbsorb {
                    format!("{r:.3}{}", if r <= TARGET { "" } else { " MISSED" })
                } else {
                    format!("{r:.3}")
                }
            };
            println!(
                "{:<22} {:>9.2} {:>9.2} {:>13} {:>13}",
                v.name(),
                u.master,
                u.backup,
                cell(ratio(u.master, keepalived.master)),
                cell(ratio(u.backup, keepalived.backup))
            );
        }
        println!(
            "ratio: CPU time / keepalived's on the same router; target for xvrrp with absorption ≤ {TARGET}"
        );
    }
    Ok(())
}

fn json_number(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.4}")
    } else {
        "null".into()
    }
}

fn measure(variant: Variant, period: Duration) -> anyhow::Result<Usage> {
    let lan = Lan::new("idle", 2);
    lan.bill_each_router_alone();
    let master = Router::start(variant, &lan, 1, 150);
    settle(&lan, &master, None).with_context(|| master.log_tail())?;
    let backup = Router::start(variant, &lan, 2, 100);
    let logs = || format!("{}{}", master.log_tail(), backup.log_tail());
    settle(&lan, &master, Some(&backup)).with_context(logs)?;
    std::thread::sleep(SETTLE_QUIET);
    settle(&lan, &master, Some(&backup)).with_context(logs)?;

    let (m0, b0) = (cpu_ns(lan.router(1))?, cpu_ns(lan.router(2))?);
    let start = Instant::now();
    std::thread::sleep(period);
    let (m1, b1) = (cpu_ns(lan.router(1))?, cpu_ns(lan.router(2))?);
    let elapsed = start.elapsed().as_secs_f64();
    // Still one master each: a measurement across an election would not be an idle one.
    settle(&lan, &master, Some(&backup))?;
    let percent = |a: u64, b: u64| b.saturating_sub(a) as f64 / 1e9 / elapsed * 100.0;
    Ok(Usage {
        master: percent(m0, m1),
        backup: percent(b0, b1),
    })
}

/// Waits until router 1 holds all the VIPs and, with a backup, router 2 none, and (for xvrrp)
/// until the daemons' status agrees: every instance master on router 1, backup on router 2.
fn settle(lan: &Lan, master: &Router, backup: Option<&Router>) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let vips = |n: usize| {
            let out = lan
                .router(n)
                .exec(&["ip", "-o", "addr", "show", "dev", "eth0"]);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            (1..=INSTANCES)
                .filter(|i| text.contains(&format!(" {}/32 ", vip(*i))))
                .count()
        };
        let expect = usize::from(INSTANCES);
        let statuses = [
            master.count_in("MASTER").unwrap_or(expect),
            backup
                .map_or(Some(expect), |b| b.count_in("BACKUP"))
                .unwrap_or(expect),
        ];
        let (on_master, on_backup) = (vips(1), if backup.is_some() { vips(2) } else { 0 });
        if on_master == expect && on_backup == 0 && statuses == [expect, expect] {
            return Ok(());
        }
        if start.elapsed() > SETTLE_LIMIT {
            bail!(
                "not settled after {SETTLE_LIMIT:?}: router 1 holds {on_master} VIPs, router 2 \
                 {on_backup}; status: {} master on router 1, {} backup on router 2",
                statuses[0],
                statuses[1]
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// CPU time in ns of every thread of every process in `ns`, from /proc/PID/task/TID/schedstat:
/// the scheduler's exact run time, where utime and stime are sampled at each tick (4 ms here),
/// too coarse for a daemon that runs a fraction of a percent in short bursts.
fn cpu_ns(ns: &Netns) -> anyhow::Result<u64> {
    let out = Command::new("ip")
        .args(["netns", "pids", ns.name()])
        .output()?;
    let pids: Vec<&str> = std::str::from_utf8(&out.stdout)?
        .split_whitespace()
        .collect();
    if pids.is_empty() {
        bail!("no daemon runs in {}", ns.name());
    }
    let mut total = 0;
    for pid in pids {
        for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
            let stat = std::fs::read_to_string(task?.path().join("schedstat"))?;
            let on_cpu = stat
                .split_whitespace()
                .next()
                .context("an empty schedstat")?;
            total += on_cpu.parse::<u64>()?;
        }
    }
    Ok(total)
}

fn vip(i: u8) -> String {
    format!("192.0.2.{}", 100 + i)
}

/// A keepalived.conf with VRRPv3 instances VRID 1–50 on `eth0`, each with one VIP.
fn fifty(priority: u8) -> String {
    let mut conf = String::from("global_defs {\n  vrrp_version 3\n  vrrp_garp_master_delay 0\n}\n");
    for i in 1..=INSTANCES {
        conf += &format!(
            "vrrp_instance VI_{i} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {i}\n  \
             priority {priority}\n  advert_int {ADVERT_INT}\n  virtual_ipaddress {{\n    {}/32\n  }}\n}}\n",
            vip(i)
        );
    }
    conf
}
