//! `cargo xtask bench forward [-- --window S --warmup S --rounds N --flows N]`: how many
//! packets per second the old master passes on to the new one during a handover, by each way
//! of doing it, measured side by side in one run.
//!
//! The lab is `Lan` with five routers on one bridge: r1 is the new master (it holds the VIP and
//! counts, then drops, what reaches it in an nftables ingress hook); r2..r5 are four old
//! masters, each set up once for one way of handing the VIP's traffic over:
//! (a) r2: xvrrp's XDP program redirects frames for the VIP to r1's MAC and sends them back
//!     out with `XDP_TX`; forwarding is off, so the kernel could not do it instead;
//! (b) r3: the seed article's commands, verbatim, with Debian's `iptables` (nf_tables backend);
//! (b') r4: the same with `iptables-legacy` (x_tables, as the article's hosts ran it);
//! (c) r5: the same rules written for nftables.
//! A generator in a namespace of its own sends 60-byte UDP frames to the VIP, addressed to the
//! MAC of the old master it believes holds it (as clients do until the new master's GARP),
//! plus a "direct" case addressed to r1 itself: the ceiling of the lab without any old master.
//!
//! What limits each figure, on a 2-core machine: the generator is pinned to CPU 0 and its
//! bridge port spreads received frames with RPS onto the other CPUs, where everything
//! downstream runs in softirq: the bridge, the old master, the bridge again and r1's ingress
//! hook (every router receives through NAPI, so nothing is dropped after it cost the path).
//! The generator only allocates and hands over frames, so it offers more than that path takes
//! (the "sent" column; the excess is dropped at the RPS CPU's backlog, as at a full NIC ring).
//! Delivered pps is then set by the per-packet cost on the forwarding CPU(s): for (a) the XDP
//! program and the veth's XDP_TX path, for (b)/(c) the IP receive path, conntrack lookup and
//! NAT of established flows, the route lookup, the forward and neighbour output. That holds
//! only while the forwarding CPUs are busy all the window ("fwd busy"); on a machine busy with
//! other work ksoftirqd waits for its turn, the backlog overflows meanwhile, and the pps
//! understate every path by different amounts. "CPU ns/pkt" (softirq time of the forwarding
//! CPUs per delivered packet) does not depend on that and is the figure to compare there.
//! The lab's own cost (bridge, veths, r1) is paid in every case and dilutes the ratios; "over
//! direct" subtracts the direct case's cost to show what the old master's path adds. A
//! physical switch would not charge the old master's CPU for the bridge.
//!
//! Cases are interleaved round by round; each figure is the median over rounds, each round a
//! fixed window after a warm-up with the flood already running.

use std::{
    net::{IpAddr, Ipv4Addr},
    thread::sleep,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use tests::{
    bench::BenchArgs,
    daemon::{Lan, addr},
    flood::{Flood, Pace, UdpFlows},
    netns::{Netns, veth},
};
use vrrp_userspace::dataplane::{AttachMode, Dataplane, VipSteering};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const GENERATOR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);
const GENERATOR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x14];
const DISCARD_PORT: u16 = 9;
/// The router that takes the VIP over.
const NEW_MASTER: usize = 1;

/// One way of getting the VIP's traffic to the new master.
struct Path {
    key: &'static str,
    name: &'static str,
    /// The router whose MAC the generator sends to.
    via: usize,
}

const PATHS: [Path; 5] = [
    Path {
        key: "direct",
        name: "direct to the new master (lab ceiling)",
        via: NEW_MASTER,
    },
    Path {
        key: "xdp",
        name: "(a) xvrrp XDP redirect",
        via: 2,
    },
    Path {
        key: "iptables",
        name: "(b) iptables DNAT+MASQUERADE",
        via: 3,
    },
    Path {
        key: "iptables-legacy",
        name: "(b') same, iptables-legacy",
        via: 4,
    },
    Path {
        key: "nftables",
        name: "(c) nftables dnat+masquerade",
        via: 5,
    },
];
const XDP: usize = 1;
const IPTABLES: usize = 2;
const IPTABLES_LEGACY: usize = 3;
const NFTABLES: usize = 4;

/// Target of the issue: (a) at least this many times (b).
const TARGET_A_OVER_B: f64 = 3.0;

/// r1 counts what reaches it, before IP (so that the count costs the same in every case and
/// no ICMP port unreachable goes back), only frames addressed to it.
const COUNTER_RULES: &str = r#"table netdev fwbench {
    counter delivered { }
    chain ingress {
        type filter hook ingress device "eth0" priority 0; policy accept;
        ether daddr 02:00:00:00:00:01 udp dport 9 counter name "delivered" drop
    }
}
"#;

/// The seed's two iptables rules, in nftables.
const NFT_HANDOVER_RULES: &str = r#"table ip handover {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "eth0" dnat to 192.0.2.1
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "eth0" masquerade
    }
}
"#;

fn main() -> anyhow::Result<()> {
    tests::require_root();
    let args = BenchArgs::parse(&["window", "warmup", "rounds", "flows"])?;
    let window = Duration::from_secs_f64(args.get("window", 3.0)?);
    let warmup = Duration::from_secs_f64(args.get("warmup", 1.0)?);
    let rounds: usize = args.get("rounds", 5)?;
    let flows: u16 = args.get("flows", 16)?;
    if rounds == 0 || flows == 0 {
        bail!("--rounds and --flows must be at least 1");
    }
    let cpus = std::thread::available_parallelism()?.get();
    if cpus < 2 {
        bail!("the forward bench needs 2 CPUs: one for the generator, one for the forwarding path");
    }

    let lab = Lab::new()?;
    let mut samples: Vec<Vec<Sample>> = (0..PATHS.len()).map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for (path, out) in PATHS.iter().zip(&mut samples) {
            out.push(lab.measure(path, flows, warmup, window)?);
        }
    }
    let redirected = lab.redirected()?;
    drop(lab);

    let medians: Vec<Sample> = samples.iter().map(|s| median(s)).collect();
    for (path, m) in PATHS.iter().zip(&medians) {
        if m.delivered == 0.0 {
            bail!(
                "no frame reached the new master by {}: the lab is broken",
                path.name
            );
        }
    }
    let report = Report {
        window,
        warmup,
        rounds,
        flows,
        medians,
        redirected,
        iptables_version: iptables_version(),
    };
    let json = report.json();
    std::fs::write(args.out.join("forward.json"), format!("{json}\n"))
        .with_context(|| format!("writing {}", args.out.display()))?;
    if args.json {
        println!("{json}");
    } else {
        report.table();
    }
    Ok(())
}

/// One measured window.
#[derive(Clone, Copy)]
struct Sample {
    /// Frames per second counted at the new master.
    delivered: f64,
    /// Frames per second the generator handed to the kernel.
    sent: f64,
    /// Softirq time of the forwarding CPUs per delivered frame: the path's cost, which other
    /// load on the machine leaves alone (it only takes CPU away, which lowers the pps).
    cpu_ns: f64,
    /// The forwarding CPUs' share of the window spent in softirqs: near 1 when delivered pps
    /// is the path's capacity; lower when other load kept ksoftirqd waiting (while the backlog
    /// overflowed), and then only `cpu_ns` compares the paths.
    busy: f64,
}

impl Sample {
    /// Almost everything sent arrived: the pps is the generator's, not the path's capacity.
    fn generator_bound(&self) -> bool {
        self.sent < self.delivered * 1.05
    }
}

fn median(samples: &[Sample]) -> Sample {
    let mid = |f: fn(&Sample) -> f64| {
        let mut v: Vec<f64> = samples.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Sample {
        delivered: mid(|s| s.delivered),
        sent: mid(|s| s.sent),
        cpu_ns: mid(|s| s.cpu_ns),
        busy: mid(|s| s.busy),
    }
}

/// The namespaces, set up once; torn down on drop (the XDP program with the `Dataplane`).
struct Lab {
    // Field order is drop order: the program first, then the namespaces.
    xdp: Dataplane,
    generator: Netns,
    lan: Lan,
    generator_cpu: usize,
    /// Where RPS sends the generator's frames, and so everything downstream of them.
    forwarding_cpus: Vec<usize>,
}

impl Lab {
    fn new() -> anyhow::Result<Lab> {
        let lan = Lan::new("fw", PATHS.len());
        let new_master = lan.router(NEW_MASTER);
        new_master.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "eth0"]);
        nft(new_master, &lan, "counter.nft", COUNTER_RULES);

        // The generator's frames are spread by RPS to every CPU but its own.
        let generator_cpu = 0;
        let cpus = std::thread::available_parallelism()?.get().min(64);
        let forwarding_cpus: Vec<usize> = (0..cpus).filter(|&c| c != generator_cpu).collect();
        let rps_mask: u64 = forwarding_cpus.iter().map(|c| 1u64 << c).sum();
        let generator = Netns::new("fwg");
        veth(&generator, "eth0", &lan.client, "pg");
        generator.ip(&["link", "set", "eth0", "address", &mac_text(GENERATOR_MAC)]);
        generator.ip(&["addr", "add", &format!("{GENERATOR}/24"), "dev", "eth0"]);
        lan.client.ip(&["link", "set", "pg", "master", "br0"]);
        lan.client.exec(&[
            "sh",
            "-c",
            &format!("echo {rps_mask:x} > /sys/class/net/pg/queues/rx-0/rps_cpus"),
        ]);
        // A switch, not a firewall: bridged frames skip this namespace's netfilter hooks.
        lan.client.exec(&[
            "sysctl",
            "-qw",
            "net.bridge.bridge-nf-call-iptables=0",
            "net.bridge.bridge-nf-call-ip6tables=0",
            "net.bridge.bridge-nf-call-arptables=0",
        ]);
        // Every router receives through NAPI (GRO on a veth turns it on), as from a NIC's ring,
        // not through the per-CPU backlog that the generator's frames fill once RPS has queued
        // them: a frame dropped there would have been dropped after paying for the whole path.
        for n in 1..=PATHS.len() {
            lan.router(n).exec(&["ethtool", "-K", "eth0", "gro", "on"]);
        }
        // The routers never have to be learnt (nor forgotten during a long run): no flooding.
        for n in 1..=PATHS.len() {
            lan.client.exec(&[
                "bridge",
                "fdb",
                "replace",
                &mac_text(mac(n)),
                "dev",
                &format!("p{n}"),
                "master",
                "static",
            ]);
        }

        let xdp_master = lan.router(PATHS[XDP].via);
        xdp_master.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
        let xdp = xdp_master.run(|| -> anyhow::Result<Dataplane> {
            let mut dp = Dataplane::load()?;
            dp.set_own_mac(mac(PATHS[XDP].via));
            dp.set_vip(
                IpAddr::V4(VIP),
                VipSteering {
                    vrid: 51,
                    redirect_to: Some(mac(NEW_MASTER)),
                    ..Default::default()
                },
            )?;
            dp.attach("eth0", AttachMode::Native)?;
            Ok(dp)
        })?;

        let to = addr(NEW_MASTER);
        for (i, iptables) in [(IPTABLES, "iptables"), (IPTABLES_LEGACY, "iptables-legacy")] {
            let r = lan.router(PATHS[i].via);
            r.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
            // Verbatim from the article, the backup's address being r1's.
            r.exec(&[iptables, "-F"]);
            r.exec(&[
                iptables,
                "-t",
                "nat",
                "-I",
                "PREROUTING",
                "-i",
                "eth0",
                "-j",
                "DNAT",
                "--to-destination",
                &to,
            ]);
            r.exec(&[
                iptables,
                "-t",
                "nat",
                "-I",
                "POSTROUTING",
                "-o",
                "eth0",
                "-j",
                "MASQUERADE",
            ]);
        }
        let r = lan.router(PATHS[NFTABLES].via);
        r.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        nft(r, &lan, "handover.nft", NFT_HANDOVER_RULES);

        Ok(Lab {
            xdp,
            generator,
            lan,
            generator_cpu,
            forwarding_cpus,
        })
    }

    /// Floods by `path` for `warmup + window`; the rates over the window.
    fn measure(
        &self,
        path: &Path,
        flows: u16,
        warmup: Duration,
        window: Duration,
    ) -> anyhow::Result<Sample> {
        let frames = UdpFlows {
            src_mac: GENERATOR_MAC,
            dst_mac: mac(path.via),
            src: GENERATOR,
            dst: VIP,
            dst_port: DISCARD_PORT,
            flows,
        }
        .frames();
        let flood = Flood::start(
            &self.generator,
            "eth0",
            frames,
            Pace::Overload {
                cpu: self.generator_cpu,
            },
            warmup + window + Duration::from_secs(30),
        )
        .context("starting the flood")?;
        sleep(warmup);
        let first = self.snapshot(&flood)?;
        sleep(window);
        let last = self.snapshot(&flood)?;
        flood.stop().context("the flood failed")?;
        // Let the backlog drain before the next case starts.
        sleep(Duration::from_millis(200));
        let secs = (last.at - first.at).as_secs_f64();
        let delivered = last.delivered.saturating_sub(first.delivered);
        let softirq = (last.softirq - first.softirq).as_secs_f64();
        Ok(Sample {
            delivered: delivered as f64 / secs,
            sent: last.sent.saturating_sub(first.sent) as f64 / secs,
            cpu_ns: softirq * 1e9 / delivered.max(1) as f64,
            busy: softirq / (secs * self.forwarding_cpus.len() as f64),
        })
    }

    /// The counters now; `at` is the middle of the counter read, which takes a few
    /// milliseconds (a process in the namespace).
    fn snapshot(&self, flood: &Flood) -> anyhow::Result<Snapshot> {
        let before = Instant::now();
        let sent = flood.sent();
        let softirq = softirq_time(&self.forwarding_cpus)?;
        let out = self.lan.router(NEW_MASTER).exec(&[
            "nft",
            "-j",
            "list",
            "counter",
            "netdev",
            "fwbench",
            "delivered",
        ]);
        let after = Instant::now();
        let text = String::from_utf8_lossy(&out.stdout);
        let delivered =
            json_number(&text, "packets").with_context(|| format!("no packet count in {text}"))?;
        Ok(Snapshot {
            at: before + (after - before) / 2,
            sent,
            delivered,
            softirq,
        })
    }

    /// Frames the XDP program redirected over the whole run.
    fn redirected(&self) -> anyhow::Result<u64> {
        Ok(self.xdp.vips()?.iter().map(|v| v.redirected).sum())
    }
}

struct Snapshot {
    at: Instant,
    sent: u64,
    delivered: u64,
    softirq: Duration,
}

/// Time `cpus` have spent in softirqs (/proc/stat, sampled at each tick, in USER_HZ units):
/// where the bridge, the veths' NAPI, XDP and the IP forward path all run here.
fn softirq_time(cpus: &[usize]) -> anyhow::Result<Duration> {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    let stat = std::fs::read_to_string("/proc/stat")?;
    let mut ticks = 0;
    for cpu in cpus {
        let line = stat
            .lines()
            .find(|l| l.split_whitespace().next() == Some(&format!("cpu{cpu}")))
            .with_context(|| format!("no cpu{cpu} in /proc/stat"))?;
        // cpuN user nice system idle iowait irq softirq ...
        ticks += line
            .split_whitespace()
            .nth(7)
            .and_then(|t| t.parse::<u64>().ok())
            .context("no softirq column in /proc/stat")?;
    }
    Ok(Duration::from_nanos(ticks * 1_000_000_000 / hz))
}

fn nft(ns: &Netns, lan: &Lan, file: &str, rules: &str) {
    let path = lan.scratch.write(file, rules);
    ns.exec(&["nft", "-f", &path.display().to_string()]);
}

fn mac(n: usize) -> [u8; 6] {
    [2, 0, 0, 0, 0, n as u8]
}

fn mac_text(m: [u8; 6]) -> String {
    m.map(|b| format!("{b:02x}")).join(":")
}

/// The first `"key": N` in nft's JSON.
fn json_number(text: &str, key: &str) -> Option<u64> {
    let rest = &text[text.find(&format!("\"{key}\""))? + key.len() + 2..];
    let digits = rest.trim_start_matches([':', ' ']);
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

fn iptables_version() -> String {
    std::process::Command::new("iptables")
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

struct Report {
    window: Duration,
    warmup: Duration,
    rounds: usize,
    flows: u16,
    medians: Vec<Sample>,
    redirected: u64,
    iptables_version: String,
}

impl Report {
    /// Delivered pps of (a) over that of `path`.
    fn speedup(&self, path: usize) -> f64 {
        self.medians[XDP].delivered / self.medians[path].delivered
    }

    /// Forwarding CPU per packet of `path` over that of (a).
    fn cost_ratio(&self, path: usize) -> f64 {
        self.medians[path].cpu_ns / self.medians[XDP].cpu_ns
    }

    /// What the path adds per packet to the lab's own cost (the direct case).
    fn over_direct(&self, m: &Sample) -> f64 {
        m.cpu_ns - self.medians[0].cpu_ns
    }

    fn json(&self) -> String {
        let rows: Vec<String> = PATHS
            .iter()
            .zip(&self.medians)
            .map(|(p, m)| {
                format!(
                    "{{\"path\":\"{}\",\"name\":\"{}\",\"delivered_pps\":{:.0},\"sent_pps\":{:.0},\
                     \"cpu_ns_per_packet\":{:.0},\"cpu_ns_over_direct\":{:.0},\"forwarding_busy\":{:.2},\"generator_bound\":{}}}",
                    p.key,
                    p.name,
                    m.delivered,
                    m.sent,
                    m.cpu_ns,
                    self.over_direct(m),
                    m.busy,
                    m.generator_bound()
                )
            })
            .collect();
        format!(
            "{{\"bench\":\"forward\",\"window_s\":{},\"warmup_s\":{},\"rounds\":{},\"flows\":{},\
             \"frame_bytes\":60,\"iptables\":\"{}\",\"xdp_redirected\":{},\"results\":[{}],\
             \"ratios\":{{\"a_over_b\":{:.3},\"a_over_b_legacy\":{:.3},\"a_over_c\":{:.3},\
             \"cpu_b_over_a\":{:.3},\"cpu_b_legacy_over_a\":{:.3},\"cpu_c_over_a\":{:.3}}},\
             \"target\":{{\"a_over_b\":{TARGET_A_OVER_B}}}}}",
            self.window.as_secs_f64(),
            self.warmup.as_secs_f64(),
            self.rounds,
            self.flows,
            self.iptables_version,
            self.redirected,
            rows.join(","),
            self.speedup(IPTABLES),
            self.speedup(IPTABLES_LEGACY),
            self.speedup(NFTABLES),
            self.cost_ratio(IPTABLES),
            self.cost_ratio(IPTABLES_LEGACY),
            self.cost_ratio(NFTABLES),
        )
    }

    fn table(&self) {
        println!(
            "Handover forwarding: 60-byte UDP to the VIP, {} flows, median of {} rounds of {:.1} s \
             (after {:.1} s warm-up); {}",
            self.flows,
            self.rounds,
            self.window.as_secs_f64(),
            self.warmup.as_secs_f64(),
            self.iptables_version
        );
        println!(
            "{:<40} {:>13} {:>11} {:>9} {:>11} {:>12}",
            "path", "delivered pps", "sent pps", "fwd busy", "CPU ns/pkt", "over direct"
        );
        for (p, m) in PATHS.iter().zip(&self.medians) {
            println!(
                "{:<40} {:>13.0} {:>11.0} {:>8.0}% {:>11.0} {:>12.0}{}",
                p.name,
                m.delivered,
                m.sent,
                m.busy * 100.0,
                m.cpu_ns,
                self.over_direct(m),
                if m.generator_bound() { " *" } else { "" }
            );
        }
        let a_over_b = self.speedup(IPTABLES);
        let verdict = if a_over_b >= TARGET_A_OVER_B {
            ""
        } else {
            " MISSED"
        };
        println!(
            "delivered pps: a/b = {a_over_b:.2}× (target ≥{TARGET_A_OVER_B}×{verdict}), \
             a/b' = {:.2}×, a/c = {:.2}×",
            self.speedup(IPTABLES_LEGACY),
            self.speedup(NFTABLES)
        );
        println!(
            "CPU per packet: b/a = {:.2}×, b'/a = {:.2}×, c/a = {:.2}×; XDP redirected {} frames",
            self.cost_ratio(IPTABLES),
            self.cost_ratio(IPTABLES_LEGACY),
            self.cost_ratio(NFTABLES),
            self.redirected
        );
        println!(
            "fwd busy: share of the window the forwarding CPU(s) spent in softirqs (below ~90%, \
             other load starved them and delivered pps understates the path); CPU ns/pkt: that \
             softirq time per delivered packet (tick-sampled); over direct: what the handover \
             path adds to the lab's own cost"
        );
        if self.medians.iter().any(Sample::generator_bound) {
            println!("*: the generator sent barely more than arrived: not the path's capacity");
        }
    }
}
