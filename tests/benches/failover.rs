//! `cargo xtask bench failover [-- --rate N] [--only WORD,…] [--samples N]`: what a client loses while the VIP moves. Two
//! routers on one LAN (priority 150 master, 100 backup, VRRPv3, one VIP), each running a UDP
//! responder on the VIP; the client sends `rate` sequence-numbered probes a second (default
//! 1000) to the VIP while the master goes away:
//! - planned: SIGTERM to the master's daemon (the service on the node stays up);
//! - kill -9: SIGKILL to every process of the master and its responder stops with them, a
//!   crashed node (a responder left running would answer on the VIP the dead daemon leaves
//!   behind, and no daemon would lose anything);
//! - link down: the master's interface goes down.
//!
//! Each case runs with xvrrp (`--xdp auto`) and with keepalived 2.2.7 on the same
//! keepalived.conf, at advert_int 1 s and 0.1 s, plus 0.03 s for xvrrp alone. Reported: lost
//! probes and the longest outage (consecutive lost probes × period), xvrrp's outage as a ratio
//! of keepalived's, and `failover.svg` (and `.png`) in the output directory: loss over time
//! around each event. Targets: planned 0 lost with xvrrp; unplanned no worse than keepalived.
//! `--only` keeps the cases that match every word given: an event (`planned`, `kill`,
//! `link_down`), an advert_int (`1`, `0.1`, `0.03`) or a daemon (`xvrrp`, `keepalived`).
//! `--samples N` (default 1) runs each case N times and reports the sample of median outage,
//! with the range of all N.

use std::{
    collections::BTreeSet,
    mem::size_of,
    net::{Ipv4Addr, SocketAddrV4},
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use tests::{
    bench::BenchArgs,
    daemon::{Daemon, Lan, VIP, config, has_addr, wait_for},
    keepalived::Keepalived,
    plot::{self, Lane, Panel},
    probe::{PORT, Probes, Responder},
};
use vrrp_common::wire::{ipv4, vrrp};

/// Probes sent before the event, to show the stream was whole.
const PRE: Duration = Duration::from_millis(500);

/// The time resolution of the loss-over-time series in the plot.
const BUCKET: Duration = Duration::from_millis(10);

const INTERVALS: [&str; 3] = ["1", "0.1", "0.03"];

/// Router 1's address, the source of the master's adverts.
const MASTER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

#[derive(Clone, Copy, PartialEq)]
enum Event {
    Planned,
    Kill,
    LinkDown,
}

impl Event {
    const ALL: [Event; 3] = [Event::Planned, Event::Kill, Event::LinkDown];

    fn name(self) -> &'static str {
        match self {
            Event::Planned => "planned (SIGTERM)",
            Event::Kill => "kill -9",
            Event::LinkDown => "link down",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Event::Planned => "planned",
            Event::Kill => "kill",
            Event::LinkDown => "link_down",
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Implementation {
    Xvrrp,
    Keepalived,
}

impl Implementation {
    fn name(self) -> &'static str {
        match self {
            Implementation::Xvrrp => "xvrrp",
            Implementation::Keepalived => "keepalived",
        }
    }

    fn color(self) -> &'static str {
        match self {
            Implementation::Xvrrp => "#1f77b4",
            Implementation::Keepalived => "#d62728",
        }
    }
}

/// One router's VRRP daemon, of either implementation.
enum Router {
    Xvrrp(Daemon),
    Keepalived(Keepalived),
}

impl Router {
    fn start(which: Implementation, lan: &Lan, n: usize, config: &str) -> Router {
        match which {
            Implementation::Xvrrp => Router::Xvrrp(lan.daemon(n, config, &[])),
            Implementation::Keepalived => {
                Router::Keepalived(Keepalived::start(lan.router(n), config))
            }
        }
    }

    /// SIGTERM, and the wait for the daemon's exit.
    fn terminate(self) {
        match self {
            Router::Xvrrp(d) => drop(d.stop(libc::SIGTERM)),
            Router::Keepalived(k) => drop(k.stop(libc::SIGTERM)),
        }
    }
}

struct Case {
    event: Event,
    advert_int: &'static str,
    which: Implementation,
}

struct Outcome {
    sent: usize,
    lost: usize,
    outage: Duration,
    /// Whether the last probes were answered, i.e. the backup took over within the stream.
    recovered: bool,
    /// The routers that answered probes sent after the event.
    answered_after: BTreeSet<u8>,
    /// Loss over time, from the event.
    series: Vec<(f64, f64)>,
}

fn main() -> anyhow::Result<()> {
    tests::require_root();
    let args = BenchArgs::parse(&["rate", "only", "samples"])?;
    let rate: u32 = args.get("rate", 1000)?;
    if rate == 0 {
        bail!("--rate must be positive");
    }
    let samples: usize = args.get("samples", 1)?;
    if !(1..=25).contains(&samples) {
        bail!("--samples between 1 and 25");
    }
    let only: String = args.get("only", String::new())?;
    let mut cases = Vec::new();
    for advert_int in INTERVALS {
        for event in Event::ALL {
            for which in [Implementation::Xvrrp, Implementation::Keepalived] {
                if which == Implementation::Keepalived && advert_int == "0.03" {
                    continue;
                }
                let words = [event.key(), advert_int, which.name()];
                if !only.split(',').all(|w| w.is_empty() || words.contains(&w)) {
                    continue;
                }
                cases.push(Case {
                    event,
                    advert_int,
                    which,
                });
            }
        }
    }
    let mut outcomes = Vec::new();
    // Per case, the outage of every sample, in ms, ascending.
    let mut spreads: Vec<Vec<u128>> = Vec::new();
    for case in &cases {
        let mut runs = Vec::new();
        for _ in 0..samples {
            let o = run(case, rate).with_context(|| {
                format!(
                    "{} {} at advert_int {}",
                    case.which.name(),
                    case.event.name(),
                    case.advert_int
                )
            })?;
            eprintln!(
                "failover: {:<10} {:<17} advert_int {:<4}: {} of {} lost, outage {} ms",
                case.which.name(),
                case.event.name(),
                case.advert_int,
                o.lost,
                o.sent,
                o.outage.as_millis()
            );
            runs.push(o);
        }
        runs.sort_by_key(|o| o.outage);
        spreads.push(runs.iter().map(|o| o.outage.as_millis()).collect());
        outcomes.push(runs.swap_remove(samples / 2));
    }
    let plot_path = args.out.join("failover.svg");
    plot::write(&plot_path, &svg(&cases, &outcomes, rate))?;

    let position = |event: Event, advert_int: &str, which: Implementation| {
        cases
            .iter()
            .position(|c| c.event == event && c.advert_int == advert_int && c.which == which)
    };
    let find = |event: Event, advert_int: &str, which: Implementation| {
        position(event, advert_int, which).map(|i| &outcomes[i])
    };
    if args.json {
        let rows: Vec<String> = cases
            .iter()
            .zip(&outcomes)
            .zip(&spreads)
            .map(|((c, o), spread)| {
                format!(
                    "{{\"event\":\"{}\",\"advert_int\":{},\"daemon\":\"{}\",\"sent\":{},\
                     \"lost\":{},\"outage_ms\":{},\"recovered\":{},\"answered_after\":[{}],\
                     \"outage_ms_samples\":{:?}}}",
                    c.event.key(),
                    c.advert_int,
                    c.which.name(),
                    o.sent,
                    o.lost,
                    o.outage.as_millis(),
                    o.recovered,
                    o.answered_after
                        .iter()
                        .map(u8::to_string)
                        .collect::<Vec<_>>()
                        .join(","),
                    spread
                )
            })
            .collect();
        let mut ratios = Vec::new();
        for advert_int in INTERVALS {
            for event in Event::ALL {
                if let (Some(x), Some(k)) = (
                    find(event, advert_int, Implementation::Xvrrp),
                    find(event, advert_int, Implementation::Keepalived),
                ) {
                    ratios.push(format!(
                        "{{\"event\":\"{}\",\"advert_int\":{advert_int},\"outage_ratio\":{}}}",
                        event.key(),
                        ratio(x, k).map_or("null".into(), |r| format!("{r:.3}"))
                    ));
                }
            }
        }
        println!(
            "{{\"bench\":\"failover\",\"rate\":{rate},\"plot\":{:?},\"results\":[{}],\
             \"ratios\":[{}]}}",
            plot_path.display().to_string(),
            rows.join(","),
            ratios.join(",")
        );
    } else {
        println!(
            "Failover: {rate} UDP probes/s to the VIP, VRRPv3, priority 150 master → 100 backup; \
             lost probes / longest outage"
        );
        println!(
            "{:<18} {:>10}  {:>18}  {:>18}  {:>13}",
            "event", "advert_int", "xvrrp", "keepalived", "outage ratio"
        );
        let cell = |i: Option<usize>| {
            i.map_or("-".into(), |i| {
                let (o, spread) = (&outcomes[i], &spreads[i]);
                let range = match (spread.first(), spread.last()) {
                    (Some(lo), Some(hi)) if samples > 1 => format!(" [{lo}–{hi}]"),
                    _ => String::new(),
                };
                format!(
                    "{} / {} ms{}{range}",
                    o.lost,
                    o.outage.as_millis(),
                    if o.recovered { "" } else { "!" }
                )
            })
        };
        for advert_int in INTERVALS {
            for event in Event::ALL {
                let x = find(event, advert_int, Implementation::Xvrrp);
                let k = find(event, advert_int, Implementation::Keepalived);
                let r = match (x, k) {
                    (None, None) => continue,
                    (Some(x), Some(k)) => ratio(x, k).map_or("-".into(), |r| format!("{r:.2}×")),
                    _ => "-".into(),
                };
                println!(
                    "{:<18} {:>8} s  {:>18}  {:>18}  {:>13}",
                    event.name(),
                    advert_int,
                    cell(position(event, advert_int, Implementation::Xvrrp)),
                    cell(position(event, advert_int, Implementation::Keepalived)),
                    r
                );
            }
        }
        println!(
            "outage ratio: xvrrp's longest outage / keepalived's; '!': still losing when the \
             stream ended{}",
            if samples > 1 {
                format!("; the median of {samples} samples, [the range of their outages]")
            } else {
                String::new()
            }
        );
        println!("plot: {} (and .png)", plot_path.display());
    }
    Ok(())
}

/// xvrrp's outage over keepalived's, when keepalived had one.
fn ratio(xvrrp: &Outcome, keepalived: &Outcome) -> Option<f64> {
    (!keepalived.outage.is_zero())
        .then(|| xvrrp.outage.as_secs_f64() / keepalived.outage.as_secs_f64())
}

fn run(case: &Case, rate: u32) -> anyhow::Result<Outcome> {
    let interval = Duration::from_secs_f64(case.advert_int.parse()?);
    let lan = Lan::new("fo", 2);
    let mut responders = [
        Responder::start(lan.router(1), 1),
        Responder::start(lan.router(2), 2),
    ];
    let holds = |n: usize| has_addr(lan.router(n), "eth0", VIP);
    // The master first, so that the backup finds it established.
    let master = Router::start(case.which, &lan, 1, &config(150, case.advert_int, ""));
    wait_for(
        "the master to take the VIP",
        Duration::from_secs(15),
        || holds(1),
        String::new,
    );
    let backup = Router::start(case.which, &lan, 2, &config(100, case.advert_int, ""));
    std::thread::sleep(interval * 2 + Duration::from_millis(500));
    if !holds(1) || holds(2) {
        bail!("no settled master before the event");
    }

    let after = after(case.advert_int);
    let target = SocketAddrV4::new(VIP.parse()?, PORT);
    // Room for the wait for an advert and half an interval after it.
    let probes = Probes::start(&lan.client, target, rate, PRE + interval * 3 / 2 + after);
    if let Some(wait) = (probes.start_instant() + PRE).checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
    // The backup's timer runs from the master's last advert: the event comes half an interval
    // after one in every case, or the comparison would be one of phases (up to a whole interval).
    next_advert(&lan, MASTER, interval * 3)?;
    std::thread::sleep(interval / 2);
    let at = Instant::now();
    match case.event {
        Event::Planned => master.terminate(),
        Event::Kill => {
            lan.router(1).kill_all();
            responders[0].stop();
            drop(master);
        }
        Event::LinkDown => {
            lan.router(1).ip(&["link", "set", "eth0", "down"]);
            drop(master);
        }
    }
    let result = probes.wait();
    drop(backup);
    Ok(Outcome {
        sent: result.sent(),
        lost: result.lost(),
        outage: result.longest_outage(),
        recovered: result.answered_by.last().is_some_and(Option::is_some),
        answered_after: result.answered_after(at),
        series: result.loss_series(at, BUCKET),
    })
}

/// Waits for the next VRRP advert from `source` that the client hears.
fn next_advert(lan: &Lan, source: Ipv4Addr, limit: Duration) -> anyhow::Result<()> {
    let ifindex = lan.client.ifindex("br0");
    let socket = lan.client.run(|| -> std::io::Result<OwnedFd> {
        // SAFETY: socket(2) with constant arguments; the fd is owned from here on.
        let fd = unsafe {
            libc::socket(
                libc::AF_INET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(vrrp::IP_PROTOCOL),
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: a fresh fd that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    })?;
    // Multicast reaches a raw socket only on an interface that joined the group.
    let join = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr {
            s_addr: u32::from_ne_bytes(vrrp::MULTICAST_V4),
        },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: ifindex as i32,
    };
    let timeout = libc::timeval {
        tv_sec: 0,
        tv_usec: 20_000,
    };
    for (name, value, len) in [
        (
            libc::IP_ADD_MEMBERSHIP,
            (&join as *const libc::ip_mreqn).cast(),
            size_of::<libc::ip_mreqn>(),
        ),
        (
            libc::SO_RCVTIMEO,
            (&timeout as *const libc::timeval).cast(),
            size_of::<libc::timeval>(),
        ),
    ] {
        let level = if name == libc::SO_RCVTIMEO {
            libc::SOL_SOCKET
        } else {
            libc::IPPROTO_IP
        };
        // SAFETY: a valid fd and an option value of the stated length.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                level,
                name,
                value,
                len as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error()).context("setting up the advert socket");
        }
    }
    let deadline = Instant::now() + limit;
    let mut packet = [0u8; 1500];
    while Instant::now() < deadline {
        // SAFETY: a valid fd and a buffer of the stated length.
        let len = unsafe {
            libc::recv(
                socket.as_raw_fd(),
                packet.as_mut_ptr().cast(),
                packet.len(),
                0,
            )
        };
        // A raw IPv4 socket hands over the IP header.
        if len >= ipv4::MIN_HEADER_LEN as isize
            && packet[ipv4::SRC..ipv4::SRC + ipv4::ADDR_LEN] == source.octets()
        {
            return Ok(());
        }
    }
    bail!("no advert from {source} within {limit:?}")
}

/// How long probes go on after the event: the backup's Master_Down_Interval is 3.6 advert_int,
/// the rest is room for a busy machine.
fn after(advert_int: &str) -> Duration {
    Duration::from_secs_f64(advert_int.parse().expect("a number of seconds")) * 4
        + Duration::from_millis(1500)
}

fn svg(cases: &[Case], outcomes: &[Outcome], rate: u32) -> String {
    let mut panels = Vec::new();
    for advert_int in INTERVALS {
        for event in Event::ALL {
            let lanes: Vec<Lane> = cases
                .iter()
                .zip(outcomes)
                .filter(|(c, _)| c.event == event && c.advert_int == advert_int)
                .map(|(c, o)| {
                    let mut note = format!("{} lost, {} ms", o.lost, o.outage.as_millis());
                    if !o.recovered {
                        note += ", not recovered";
                    }
                    Lane {
                        label: c.which.name().into(),
                        color: c.which.color(),
                        points: o.series.clone(),
                        note,
                    }
                })
                .collect();
            if lanes.is_empty() {
                continue;
            }
            panels.push(Panel {
                title: format!("{}, advert_int {advert_int} s", event.name()),
                x: (-PRE.as_secs_f64(), after(advert_int).as_secs_f64()),
                step: BUCKET.as_secs_f64(),
                lanes,
            });
        }
    }
    let title = format!(
        "Probe loss around a failover ({rate} probes/s, {} ms steps): xvrrp beside keepalived 2.2.7",
        BUCKET.as_millis()
    );
    plot::svg(&title, "event", &panels, Event::ALL.len())
}
