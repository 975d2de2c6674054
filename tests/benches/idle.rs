//! `cargo xtask bench idle [-- --seconds N]`: what a daemon costs while nothing happens. Two
//! routers on one LAN with 50 VRRPv3 instances (VRIDs 1–50, advert_int 0.01 s, one VIP each,
//! priority 150 on the master, 100 on the backup); once every instance has settled, the CPU
//! time (of every thread of every process in the router's namespace, from schedstat) over
//! `seconds` (default 60), for the master and for the backup, with xvrrp absorbing adverts in
//! XDP (`--xdp auto`), xvrrp without XDP (`--xdp off`) and keepalived 2.2.7, one after the other
//! on the same keepalived.conf (`--daemons xvrrp_absorb,keepalived` measures only those). The bridge's ports receive in NAPI threads
//! (`Lan::bill_each_router_alone`): what a router's adverts cost the bridge and the other router
//! is not billed to it, as on a real LAN. Target: xvrrp with absorption ≤ 1/10 of keepalived.
//!
//! Two last rows are the least any master could spend here, each measured on a process that
//! does nothing else (this bench's own binary, `--floor-sender`, in router 1's namespace) and
//! refused unless eth0 sent what 50 masters would:
//! - `floor`: the same 50 adverts every 10 ms put on the wire as prebuilt frames with one
//!   `sendmmsg` on an AF_PACKET socket;
//! - `floor_xdp`: no socket at all: every 10 ms one BPF_PROG_RUN of `xvrrp_bounce` with live
//!   frames sends router 1's first advert 50 times out of eth0 from the kernel (a lower bound:
//!   a real sender would rewrite each copy into its own instance's advert).

use std::{
    mem::{size_of, zeroed},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use aya::programs::{TestRun as _, TestRunAttrs, TestRunOptions, XdpMode};
use tests::{
    bench::BenchArgs,
    daemon::{Daemon, Lan, mac},
    frames::Advert,
    keepalived::Keepalived,
    netns::{Netns, Process},
};
use vrrp_userspace::dataplane::LabProgram;

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
    /// Not a daemon: see the module doc. A master only.
    Floor(SendPath),
}

/// How a floor sender puts its frames on the wire.
#[derive(Clone, Copy, PartialEq)]
enum SendPath {
    Packet,
    Xdp,
}

impl SendPath {
    /// The floor sender's argument naming it.
    fn arg(self) -> &'static str {
        match self {
            SendPath::Packet => "packet",
            SendPath::Xdp => "xdp",
        }
    }
}

impl Variant {
    const ALL: [Variant; 5] = [
        Variant::XvrrpAbsorb,
        Variant::XvrrpNoXdp,
        Variant::Keepalived,
        Variant::Floor(SendPath::Packet),
        Variant::Floor(SendPath::Xdp),
    ];

    fn name(self) -> &'static str {
        match self {
            Variant::XvrrpAbsorb => "xvrrp (XDP absorbing)",
            Variant::XvrrpNoXdp => "xvrrp (--xdp off)",
            Variant::Keepalived => "keepalived 2.2.7",
            Variant::Floor(SendPath::Packet) => "floor (AF_PACKET)",
            Variant::Floor(SendPath::Xdp) => "floor (XDP live)",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Variant::XvrrpAbsorb => "xvrrp_absorb",
            Variant::XvrrpNoXdp => "xvrrp_xdp_off",
            Variant::Keepalived => "keepalived",
            Variant::Floor(SendPath::Packet) => "floor",
            Variant::Floor(SendPath::Xdp) => "floor_xdp",
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
            Variant::Floor(_) => unreachable!("a floor runs no router (measure_floor)"),
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

/// The floor sender's argument; see the module doc.
const FLOOR_SENDER: &str = "--floor-sender";

fn main() -> anyhow::Result<()> {
    tests::require_root();
    if let [_, flag, seconds, send] = &std::env::args().collect::<Vec<_>>()[..]
        && flag == FLOOR_SENDER
    {
        let Some(send) = [SendPath::Packet, SendPath::Xdp]
            .into_iter()
            .find(|p| p.arg() == send)
        else {
            bail!("{FLOOR_SENDER}: unknown way to send {send:?}");
        };
        return send_floor(seconds.parse()?, send);
    }
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
            "idle: {:<22} master {} % CPU, backup {} % CPU",
            variant.name(),
            percent(u.master),
            percent(u.backup)
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
                if r.is_nan() {
                    "-".to_owned()
                } else if *v == Variant::XvrrpAbsorb {
                    format!("{r:.3}{}", if r <= TARGET { "" } else { " MISSED" })
                } else {
                    format!("{r:.3}")
                }
            };
            println!(
                "{:<22} {:>9} {:>9} {:>13} {:>13}",
                v.name(),
                percent(u.master),
                percent(u.backup),
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

/// A CPU share for the table; `-` where there is none (the floor has no backup).
fn percent(p: f64) -> String {
    if p.is_nan() {
        "-".to_owned()
    } else {
        format!("{p:.2}")
    }
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
    if let Variant::Floor(send) = variant {
        return measure_floor(&lan, period, send);
    }
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

/// A floor sender in router 1's namespace: its CPU over `period`, once it runs steadily.
fn measure_floor(lan: &Lan, period: Duration, send: SendPath) -> anyhow::Result<Usage> {
    let exe = std::env::current_exe()?;
    let lifetime = (period + SETTLE_QUIET * 2).as_secs().to_string();
    let _sender: Process = lan.router(1).spawn(&[
        &exe.display().to_string(),
        FLOOR_SENDER,
        &lifetime,
        send.arg(),
    ]);
    std::thread::sleep(SETTLE_QUIET);
    let (m0, sent0) = (cpu_ns(lan.router(1))?, tx_packets(lan.router(1))?);
    let start = Instant::now();
    std::thread::sleep(period);
    let (m1, sent1) = (cpu_ns(lan.router(1))?, tx_packets(lan.router(1))?);
    let elapsed = start.elapsed().as_secs_f64();
    // It sent what 50 masters would have, or it measured nothing.
    let expected = f64::from(INSTANCES) * 100.0 * elapsed;
    let sent = sent1.saturating_sub(sent0) as f64;
    if sent < 0.9 * expected {
        bail!("the floor sender sent {sent} frames in {elapsed:.1} s, not {expected:.0}");
    }
    Ok(Usage {
        master: m1.saturating_sub(m0) as f64 / 1e9 / elapsed * 100.0,
        backup: f64::NAN,
    })
}

/// Frames `ns` has sent on eth0.
fn tx_packets(ns: &Netns) -> anyhow::Result<u64> {
    let out = ns.exec(&["cat", "/sys/class/net/eth0/statistics/tx_packets"]);
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

/// A floor sender (see the module doc): for `seconds`, every advert interval, the 50
/// instances' adverts as router 1 would send them, in the way `send` names.
fn send_floor(seconds: u64, send: SendPath) -> anyhow::Result<()> {
    let src_mac: Vec<u8> = mac(1)
        .split(':')
        .map(|b| u8::from_str_radix(b, 16))
        .collect::<Result<_, _>>()?;
    let frames: Vec<Vec<u8>> = (1..=INSTANCES)
        .map(|vrid| {
            Advert {
                vrid,
                priority: 150,
                interval: 1,
                src_mac: src_mac[..].try_into().expect("6 bytes"),
                ..Advert::v3_ipv4()
            }
            .build()
        })
        .collect();
    match send {
        SendPath::Packet => send_packets(seconds, &frames),
        SendPath::Xdp => send_live_frames(seconds, &frames[0]),
    }
}

/// Calls `send` once every advert interval for `seconds`.
fn every_interval(
    seconds: u64,
    mut send: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let interval = Duration::from_millis(10);
    let start = Instant::now();
    for tick in 1..=(seconds * 100) as u32 {
        if let Some(wait) = (start + interval * tick).checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        send()?;
    }
    Ok(())
}

/// `frames` in one `sendmmsg` on an AF_PACKET socket bound to eth0 (protocol 0: it receives
/// nothing).
fn send_packets(seconds: u64, frames: &[Vec<u8>]) -> anyhow::Result<()> {
    // SAFETY: plain socket calls on a descriptor this function owns; every pointer handed to
    // the kernel points into `frames`, `iov`, `msgs` or `at`, alive until after the last call.
    unsafe {
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
        if fd < 0 {
            bail!("AF_PACKET socket: {}", std::io::Error::last_os_error());
        }
        let mut at: libc::sockaddr_ll = zeroed();
        at.sll_family = libc::AF_PACKET as u16;
        at.sll_ifindex = libc::if_nametoindex(c"eth0".as_ptr()) as i32;
        let bound = libc::bind(
            fd,
            (&raw const at).cast(),
            size_of::<libc::sockaddr_ll>() as u32,
        );
        if bound != 0 {
            bail!("binding to eth0: {}", std::io::Error::last_os_error());
        }
        let mut iov: Vec<libc::iovec> = frames
            .iter()
            .map(|f| libc::iovec {
                iov_base: f.as_ptr() as *mut _,
                iov_len: f.len(),
            })
            .collect();
        let mut msgs: Vec<libc::mmsghdr> = iov
            .iter_mut()
            .map(|v| {
                let mut m: libc::mmsghdr = zeroed();
                m.msg_hdr.msg_iov = v;
                m.msg_hdr.msg_iovlen = 1;
                m
            })
            .collect();
        let sent = every_interval(seconds, || {
            let sent = libc::sendmmsg(fd, msgs.as_mut_ptr(), msgs.len() as u32, 0);
            if sent != msgs.len() as i32 {
                bail!("sendmmsg: {sent} sent, {}", std::io::Error::last_os_error());
            }
            Ok(())
        });
        libc::close(fd);
        sent
    }
}

/// `frame` sent out of eth0 50 times from the kernel: one BPF_PROG_RUN of `xvrrp_bounce` with
/// live frames, as if the frame had arrived on eth0.
fn send_live_frames(seconds: u64, frame: &[u8]) -> anyhow::Result<()> {
    // The kernel runs live frames only "from" an interface whose XDP receive queue is
    // registered, which attaching a program does.
    let mut pass = LabProgram::pass()?;
    pass.program()?.attach("eth0", XdpMode::Driver)?;
    // A program attached nowhere joins the kernel's XDP dispatcher for each run and leaves it
    // after, waiting out two RCU grace periods (~13 ms here): more than the interval. Attached
    // to a spare veth, it stays.
    for args in [
        &[
            "link", "add", "floor0", "type", "veth", "peer", "name", "floor1",
        ][..],
        &["link", "set", "floor0", "up"],
        &["link", "set", "floor1", "up"],
    ] {
        let status = Command::new("ip").args(args).status()?;
        if !status.success() {
            bail!("ip {}: {status}", args.join(" "));
        }
    }
    let mut bounce = LabProgram::bounce()?;
    let program = bounce.program()?;
    program.attach("floor0", XdpMode::Driver)?;
    // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex.
    // SAFETY: a NUL-terminated name.
    let eth0 = unsafe { libc::if_nametoindex(c"eth0".as_ptr()) };
    let ctx: Vec<u8> = [0, frame.len() as u32, 0, eth0, 0, 0]
        .iter()
        .flat_map(|w| w.to_ne_bytes())
        .collect();
    every_interval(seconds, || {
        program.test_run(TestRunOptions {
            data_in: Some(frame),
            ctx_in: Some(&ctx),
            repeat: u32::from(INSTANCES),
            attrs: TestRunAttrs::new().xdp_live_frames(0),
            ..Default::default()
        })?;
        Ok(())
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
