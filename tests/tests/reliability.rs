//! Hostile and faulty networks against real daemons (issue 6): a storm of invalid and foreign
//! adverts, forged adverts (unknown unicast source, wrong VRRPv2 password), a partition and
//! its healing, 30 % advert loss, a flapping vrrp_script, and rapid SIGHUP reloads under a
//! probe stream.
//!
//! Figures (storm rate, daemon CPU, transitions under loss, heal time) are printed: run with
//! `--nocapture`. The only timed assertions are protocol bounds (Master_Down_Interval).

use std::{
    collections::BTreeMap,
    net::SocketAddrV4,
    sync::{RwLock, RwLockReadGuard, RwLockWriteGuard},
    time::{Duration, Instant},
};

use tests::{
    daemon::{Daemon, Lan, VIP, config, has_addr, holds_for, mac, wait_for},
    flood::{Flood, Pace},
    frames::{Advert, Checksum},
    netns::Netns,
    probe::{PORT, Probes, Responder},
};
use vrrp_common::{
    checksum,
    reject::Reject,
    wire::{ethernet, ipv4, vrrp},
};
use vrrp_userspace::daemon::{Status, handover::DRAIN, query};

/// The storm saturates the machine: the timing-sensitive scenarios run beside each other, but
/// not beside it.
static MACHINE: RwLock<()> = RwLock::new(());

fn alone() -> RwLockWriteGuard<'static, ()> {
    MACHINE.write().unwrap_or_else(|p| p.into_inner())
}

fn beside_others() -> RwLockReadGuard<'static, ()> {
    MACHINE.read().unwrap_or_else(|p| p.into_inner())
}

/// Slack for scheduling, `ip` polling and a loaded CI machine, where no protocol bound applies.
const SOON: Duration = Duration::from_secs(5);

/// Master_Down_Interval of a priority-100 backup (RFC 5798 §6.1) at `interval_cs`.
fn master_down(interval_cs: u64) -> Duration {
    let interval = Duration::from_millis(interval_cs * 10);
    3 * interval + interval * 156 / 256
}

/// A stranger on the LAN: neither router, nor the client's own address.
const STRANGER: [u8; 4] = [192, 0, 2, 50];
const STRANGER_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x50];
const VIP_BYTES: [u8; 4] = [192, 0, 2, 100];
/// The IPv4 header checksum field (not among vrrp-common's offsets: VRRP never rewrites it).
const IPV4_CHECKSUM: usize = 10;
const L3: usize = ethernet::HEADER_LEN;
const L4: usize = L3 + ipv4::MIN_HEADER_LEN;

fn status(d: &Daemon) -> Status {
    query(&d.control).unwrap_or_else(|e| panic!("status of {}: {e:#}", d.control.display()))
}

/// The one instance's state and counters.
fn instance(d: &Daemon) -> (String, BTreeMap<String, u64>) {
    let s = status(d);
    let i = s.instances.first().expect("one instance");
    (i.state.clone(), i.counters.clone())
}

fn became_master(d: &Daemon) -> u64 {
    instance(d).1.get("became_master").copied().unwrap_or(0)
}

fn logs<'a>(d1: &'a Daemon, d2: &'a Daemon) -> impl Fn() -> String + 'a {
    move || format!("r1:\n{}\nr2:\n{}", d1.log_text(), d2.log_text())
}

/// r1 (priority 200) master and r2 (priority 100) backup, as settled on the wire, with the
/// client's neighbour entry for the VIP on r1.
fn elect(lan: &Lan, config1: &str, config2: &str) -> (Daemon, Daemon) {
    let d2 = lan.daemon(2, config2, &[]);
    let d1 = lan.daemon(1, config1, &[]);
    wait_for(
        "r1 master and r2 backup",
        Duration::from_secs(10),
        || {
            has_addr(lan.router(1), "eth0", VIP)
                && !has_addr(lan.router(2), "eth0", VIP)
                && instance(&d2).0 == "BACKUP"
        },
        logs(&d1, &d2),
    );
    wait_for(
        "the client to learn r1's MAC for the VIP",
        SOON,
        || lan.client_mac_of(VIP) == Some(mac(1)),
        logs(&d1, &d2),
    );
    (d1, d2)
}

/// Holds while r1 keeps the VIP and r2 does not.
fn r1_alone_holds_the_vip(lan: &Lan) -> bool {
    has_addr(lan.router(1), "eth0", VIP) && !has_addr(lan.router(2), "eth0", VIP)
}

/// A frame built by `frames`, then readdressed and rewritten by `edit` (on the VRRP message),
/// with both checksums made right again: adverts a forger on the LAN would send.
fn forge(advert: Advert, to: Option<usize>, edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let advert = Advert {
        src: ipv4_src(STRANGER),
        src_mac: STRANGER_MAC,
        addresses: 1,
        ..advert
    };
    let version = advert.version;
    let mut f = advert.build();
    if let Some(n) = to {
        f[ethernet::DST..][..ethernet::ADDR_LEN].copy_from_slice(&[2, 0, 0, 0, 0, n as u8]);
        f[L3 + ipv4::DST..][..4].copy_from_slice(&[192, 0, 2, n as u8]);
    }
    // `frames` numbers its addresses 192.0.2.0, …: carry the instance's VIP instead, so that
    // the advert passes the address checks and meets the one under test.
    f[L4 + vrrp::HEADER_LEN..][..4].copy_from_slice(&VIP_BYTES);
    edit(&mut f[L4..]);
    f[L3 + IPV4_CHECKSUM..][..2].fill(0);
    let c = checksum::finish(checksum::sum(&f[L3..L4], 0));
    f[L3 + IPV4_CHECKSUM..][..2].copy_from_slice(&c.to_be_bytes());
    let pseudo = if version == vrrp::VERSION_2 {
        0
    } else {
        let at = |o: usize| <[u8; 4]>::try_from(&f[L3 + o..][..4]).unwrap();
        checksum::pseudo_header_v4(
            at(ipv4::SRC),
            at(ipv4::DST),
            vrrp::IP_PROTOCOL,
            (f.len() - L4) as u16,
        )
    };
    f[L4 + vrrp::CHECKSUM..][..2].fill(0);
    let c = checksum::finish(checksum::sum(&f[L4..], pseudo));
    f[L4 + vrrp::CHECKSUM..][..2].copy_from_slice(&c.to_be_bytes());
    f
}

fn ipv4_src(a: [u8; 4]) -> [u8; 16] {
    let mut src = [0u8; 16];
    src[..4].copy_from_slice(&a);
    src
}

// ---------------------------------------------------------------------------------------------
// a. Advert storm

/// One frame per reason the XDP program rejects, then valid adverts for VRIDs the routers do
/// not run (IPv4 and IPv6), all from a stranger to the VRRP group.
fn storm_frames() -> Vec<(&'static str, Vec<u8>)> {
    let base = || Advert {
        src: ipv4_src(STRANGER),
        src_mac: STRANGER_MAC,
        ..Advert::v3_ipv4()
    };
    let mut truncated = base().build();
    truncated.truncate(L4 + 4);
    let mut v6 = Advert {
        vrid: 52,
        src_mac: STRANGER_MAC,
        ..Advert::v3_ipv6()
    };
    v6.src[15] = 50;
    vec![
        (Reject::Truncated.name(), truncated),
        (
            Reject::TtlNot255.name(),
            Advert { ttl: 64, ..base() }.build(),
        ),
        (
            Reject::UnsupportedVersion.name(),
            Advert {
                version: 4,
                ..base()
            }
            .build(),
        ),
        (
            Reject::UnknownType.name(),
            Advert { kind: 2, ..base() }.build(),
        ),
        (
            Reject::CountExceedsLength.name(),
            Advert {
                count: Some(4),
                ..base()
            }
            .build(),
        ),
        (
            Reject::BadChecksum.name(),
            Advert {
                checksum: Checksum::Corrupt,
                ..base()
            }
            .build(),
        ),
        (
            Reject::ZeroInterval.name(),
            Advert {
                interval: 0,
                ..base()
            }
            .build(),
        ),
        (
            Reject::Fragment.name(),
            Advert {
                fragment: true,
                ..base()
            }
            .build(),
        ),
        ("absorbed", Advert { vrid: 52, ..base() }.build()),
        ("absorbed", v6.build()),
    ]
}

/// CPU time (user + system) the process has used.
fn cpu_time(pid: i32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// XDP counters of the daemon's one interface.
fn xdp_counters(d: &Daemon) -> BTreeMap<String, u64> {
    let s = status(d);
    assert_eq!(s.xdp.len(), 1, "XDP on eth0: {s:?}");
    s.xdp[0].counters.clone()
}

#[test]
fn an_advert_storm_changes_nothing_and_xdp_counts_every_reason() {
    let _machine = alone();
    const STORM: Duration = Duration::from_secs(5);
    let lan = Lan::new("rst", 2);
    let (d1, d2) = elect(&lan, &config(200, "1", ""), &config(100, "1", ""));
    let daemons = [&d1, &d2];
    let before: Vec<_> = daemons.iter().map(|d| instance(d)).collect();
    let xdp_before: Vec<_> = daemons.iter().map(|d| xdp_counters(d)).collect();

    let idle: Vec<_> = daemons.iter().map(|d| cpu_time(d.pid())).collect();
    std::thread::sleep(STORM);
    let idle: Vec<_> = daemons
        .iter()
        .zip(idle)
        .map(|(d, t)| cpu_time(d.pid()) - t)
        .collect();

    // With multicast snooping on, the bridge itself drops multicast frames whose IP header
    // is broken (truncated ones among them): a switch without IGMP snooping passes them on.
    lan.client.ip(&[
        "link",
        "set",
        "br0",
        "type",
        "bridge",
        "mcast_snooping",
        "0",
    ]);
    let frames = storm_frames();
    let reasons: Vec<&str> = frames.iter().map(|(r, _)| *r).collect();
    let cpu: Vec<_> = daemons.iter().map(|d| cpu_time(d.pid())).collect();
    // To the VRRP group's MAC, so that the bridge floods each frame to both routers.
    let storm = Flood::start(
        &lan.client,
        "br0",
        frames.into_iter().map(|(_, f)| f).collect(),
        Pace::FlatOut,
        STORM * 3,
    )
    .expect("starting the storm");
    holds_for(
        "r1 master and r2 backup during the storm",
        STORM,
        || r1_alone_holds_the_vip(&lan),
        logs(&d1, &d2),
    );
    let sent = storm.stop().expect("the storm's socket");
    let busy: Vec<_> = daemons
        .iter()
        .zip(cpu)
        .map(|(d, t)| cpu_time(d.pid()) - t)
        .collect();

    let mut report = Vec::new();
    for (n, d) in daemons.iter().enumerate() {
        let (state, counters) = instance(d);
        assert_eq!(state, before[n].0, "r{} state after the storm", n + 1);
        assert_eq!(
            counters.get("became_master"),
            before[n].1.get("became_master"),
            "r{}: no transition during the storm",
            n + 1
        );
        let xdp = xdp_counters(d);
        let delta =
            |k: &str| xdp.get(k).copied().unwrap_or(0) - xdp_before[n].get(k).copied().unwrap_or(0);
        for reason in &reasons {
            assert!(
                delta(reason) > 0,
                "r{}: XDP counted no {reason} during the storm: {xdp:?}",
                n + 1
            );
        }
        let dropped: u64 =
            Reject::ALL.iter().map(|r| delta(r.name())).sum::<u64>() + delta("absorbed");
        // Nothing invalid reached the daemon's socket, and the foreign VRIDs only when their
        // liveness slot changed: XDP dropped the storm in the driver.
        let s = status(d);
        let socket: BTreeMap<_, _> = s.sockets.iter().flat_map(|s| s.counters.clone()).collect();
        for reason in Reject::ALL {
            assert_eq!(
                socket.get(reason.name()),
                None,
                "r{}: an invalid advert reached the socket: {socket:?}",
                n + 1
            );
        }
        let foreign = socket.get("other_vrid").copied().unwrap_or(0);
        assert!(
            foreign * 1000 <= dropped,
            "r{}: {foreign} foreign adverts reached the socket of {dropped} dropped: {socket:?}",
            n + 1
        );
        report.push(format!(
            "r{}: XDP dropped {dropped} ({:.0} pps), socket heard {foreign} foreign; daemon CPU \
             {:.1} % of a core (idle {:.1} %)",
            n + 1,
            dropped as f64 / sent.elapsed.as_secs_f64(),
            busy[n].as_secs_f64() * 100.0 / sent.elapsed.as_secs_f64(),
            idle[n].as_secs_f64() * 100.0 / STORM.as_secs_f64(),
        ));
    }
    println!(
        "advert storm: {} frames in {:.1} s = {:.0} pps sent from the client ({} kinds)\n{}",
        sent.frames,
        sent.elapsed.as_secs_f64(),
        sent.per_second(),
        reasons.len(),
        report.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// b. Forged adverts

/// A kind of forged advert: the frames, which router they reach (`None`: both, sent to the
/// VRRP group), and the discard reason a daemon must count them under.
struct Forgery {
    frames: Vec<Vec<u8>>,
    to: Option<usize>,
    discard: &'static str,
}

/// Forged adverts, each kind sent every 20 ms for two seconds, must leave r1 master and r2 its
/// backup, and be counted by the routers they reach.
fn forged_adverts_are_ignored(lan: &Lan, d1: &Daemon, d2: &Daemon, forgeries: &[Forgery]) {
    const PERIOD: Duration = Duration::from_secs(2);
    let before: Vec<_> = [d1, d2].iter().map(|d| instance(d).1).collect();
    let storms: Vec<_> = forgeries
        .iter()
        .map(|f| {
            Flood::start(
                &lan.client,
                "br0",
                f.frames.clone(),
                Pace::Every(Duration::from_millis(20)),
                PERIOD * 3,
            )
            .expect("starting the forger")
        })
        .collect();
    holds_for(
        "r1 master and r2 backup under forged adverts",
        PERIOD,
        || r1_alone_holds_the_vip(lan),
        logs(d1, d2),
    );
    let sent: Vec<_> = storms
        .into_iter()
        .map(|s| s.stop().expect("the forger's socket").frames)
        .collect();
    for (n, d) in [d1, d2].into_iter().enumerate() {
        let router = n + 1;
        let (state, counters) = instance(d);
        let want = if router == 1 { "MASTER" } else { "BACKUP" };
        assert_eq!(state, want, "r{router}: {counters:?}\n{}", d.log_text());
        let delta = |k: &str| {
            counters.get(k).copied().unwrap_or(0) - before[n].get(k).copied().unwrap_or(0)
        };
        assert_eq!(delta("became_master"), 0, "r{router}: {counters:?}");
        let mut addressed: BTreeMap<&str, u64> = BTreeMap::new();
        for (f, sent) in forgeries.iter().zip(&sent) {
            if f.to.is_none_or(|to| to == router) {
                *addressed.entry(f.discard).or_default() += sent;
            }
        }
        for (discard, sent) in addressed {
            // Half, for a loaded machine: each kind alternates two priorities, so that every
            // advert changes what XDP's liveness slot holds and reaches the daemon instead of
            // being absorbed, but two senders' adverts may interleave.
            assert!(
                delta(discard) * 2 >= sent,
                "r{router}: {} of {sent} forged adverts counted as {discard}: {counters:?}",
                delta(discard)
            );
        }
    }
    let s = status(d2);
    assert_eq!(
        s.instances[0].master.as_deref(),
        Some("192.0.2.1"),
        "r2 still follows r1"
    );
}

/// Two forged adverts for the instance, at priorities 255 and 254, edited by `edit`.
fn forged_pair(
    advert: impl Fn() -> Advert,
    to: Option<usize>,
    edit: impl Fn(&mut [u8]),
) -> Vec<Vec<u8>> {
    [255, 254]
        .into_iter()
        .map(|priority| {
            forge(
                Advert {
                    priority,
                    ..advert()
                },
                to,
                &edit,
            )
        })
        .collect()
}

#[test]
fn a_forged_owner_advert_from_outside_the_unicast_peers_is_ignored_and_counted() {
    let _machine = beside_others();
    let lan = Lan::new("rfu", 2);
    let unicast = |me: usize, peer: usize| {
        format!(
            "  check_unicast_src\n  unicast_src_ip 192.0.2.{me}\n  unicast_peer {{\n    192.0.2.{peer}\n  }}"
        )
    };
    let (d1, d2) = elect(
        &lan,
        &config(200, "0.1", &unicast(1, 2)),
        &config(100, "0.1", &unicast(2, 1)),
    );
    // Unicast to each router, as a peer's adverts would come.
    let to = |router: usize| Forgery {
        frames: forged_pair(Advert::v3_ipv4, Some(router), |_| {}),
        to: Some(router),
        discard: "unknown_peer",
    };
    forged_adverts_are_ignored(&lan, &d1, &d2, &[to(1), to(2)]);
}

/// A VRRPv2 instance with PASS authentication, as keepalived writes it.
fn v2_pass(priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
         priority {priority}\n  advert_int 1\n  authentication {{\n    auth_type PASS\n    \
         auth_pass secret\n  }}\n  virtual_ipaddress {{\n    192.0.2.100/32\n  }}\n}}\n"
    )
}

#[test]
fn forged_vrrpv2_adverts_with_a_wrong_password_or_none_are_ignored_and_counted() {
    let _machine = beside_others();
    let lan = Lan::new("rfp", 2);
    let (d1, d2) = elect(&lan, &v2_pass(200), &v2_pass(100));
    let auth_data = vrrp::HEADER_LEN + ipv4::ADDR_LEN;
    let wrong = forged_pair(Advert::v2_ipv4, None, |m| {
        m[vrrp::V2_AUTH_TYPE] = 1;
        m[auth_data..][..vrrp::V2_AUTH_DATA_LEN].copy_from_slice(b"secreT\0\0");
    });
    // `frames` writes auth type 0: no authentication, where PASS is configured.
    let none = forged_pair(Advert::v2_ipv4, None, |_| {});
    forged_adverts_are_ignored(
        &lan,
        &d1,
        &d2,
        &[
            Forgery {
                frames: wrong,
                to: None,
                discard: "auth_password_mismatch",
            },
            Forgery {
                frames: none,
                to: None,
                discard: "auth_type_mismatch",
            },
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// c, d. Partition and loss, made by nftables on the client's bridge: inside the routers, the
// XDP tracker would see the adverts before netfilter drops them.

/// An nftables table on the client's bridge, forwarding hook, removed on drop.
struct BridgeFilter<'a> {
    ns: &'a Netns,
    table: &'static str,
}

impl<'a> BridgeFilter<'a> {
    fn new(ns: &'a Netns, table: &'static str, rules: &[&str]) -> Self {
        ns.exec(&["nft", "add", "table", "bridge", table]);
        let filter = BridgeFilter { ns, table };
        ns.exec(&[
            "nft",
            "add",
            "chain",
            "bridge",
            table,
            "forward",
            "{ type filter hook forward priority 0 ; policy accept ; }",
        ]);
        for rule in rules {
            ns.exec(&["nft", "add", "rule", "bridge", table, "forward", rule]);
        }
        filter
    }

    /// The packet counts of the table's `counter` rules, in order.
    fn counters(&self) -> Vec<u64> {
        let out = self
            .ns
            .exec(&["nft", "list", "table", "bridge", self.table]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut words = text.split_whitespace();
        let mut counts = Vec::new();
        while words.any(|w| w == "packets") {
            counts.push(words.next().and_then(|n| n.parse().ok()).expect("a count"));
        }
        counts
    }
}

impl Drop for BridgeFilter<'_> {
    fn drop(&mut self) {
        let _ = self
            .ns
            .command(&["nft", "delete", "table", "bridge", self.table])
            .status();
    }
}

#[test]
fn a_healed_partition_leaves_one_master_and_the_client_follows_it() {
    let _machine = beside_others();
    let lan = Lan::new("rpa", 2);
    let (d1, d2) = elect(&lan, &config(200, "1", ""), &config(100, "1", ""));
    let logs = logs(&d1, &d2);
    let r1_masters = became_master(&d1);

    let partition = BridgeFilter::new(&lan.client, "partition", &["ip protocol 112 drop"]);
    wait_for(
        "both routers to be master",
        master_down(100) + SOON,
        || has_addr(lan.router(2), "eth0", VIP) && has_addr(lan.router(1), "eth0", VIP),
        &logs,
    );
    wait_for(
        "r2's gratuitous ARP to reach the client",
        SOON,
        || lan.client_mac_of(VIP) == Some(mac(2)),
        &logs,
    );

    drop(partition);
    let healed = Instant::now();
    wait_for(
        "r2 to step down after the heal",
        master_down(100),
        || instance(&d2).0 == "BACKUP",
        &logs,
    );
    let resolved = healed.elapsed();
    println!(
        "partition healed: one master after {:.0} ms (Master_Down_Interval {:.0} ms)",
        resolved.as_secs_f64() * 1000.0,
        master_down(100).as_secs_f64() * 1000.0
    );
    // r2 hands over: its VIP goes a moment into the window, its frames sent on to r1 meanwhile.
    wait_for(
        "r2 to release the VIP",
        DRAIN + SOON,
        || !has_addr(lan.router(2), "eth0", VIP),
        &logs,
    );
    assert!(has_addr(lan.router(1), "eth0", VIP), "{}", logs());
    assert_eq!(instance(&d1).0, "MASTER", "{}", logs());
    assert_eq!(instance(&d2).0, "BACKUP", "{}", logs());
    assert_eq!(became_master(&d1), r1_masters, "r1 never left Master");
    // The client still sends to r2's MAC, where the VIP no longer is, until r1 announces
    // itself again (keepalived: vrrp_garp_lower_prio_repeat when a master hears a lower
    // priority).
    wait_for(
        "the client's neighbour entry to move back to r1",
        SOON,
        || lan.client_mac_of(VIP) == Some(mac(1)),
        || {
            format!(
                "the client holds {:?} for the VIP\n{}",
                lan.client_mac_of(VIP),
                logs()
            )
        },
    );
    let converged = healed.elapsed();
    println!(
        "partition healed: the client's neighbour entry followed r1 after {:.0} ms",
        converged.as_secs_f64() * 1000.0
    );
}

#[test]
fn thirty_percent_advert_loss_causes_few_spurious_transitions() {
    let _machine = beside_others();
    const LOSS: f64 = 0.3;
    const PERIOD: Duration = Duration::from_secs(60);
    const INTERVAL_CS: u64 = 10;
    let lan = Lan::new("rlo", 2);
    let (d1, d2) = elect(&lan, &config(200, "0.1", ""), &config(100, "0.1", ""));
    let (r1_before, r2_before) = (became_master(&d1), became_master(&d2));

    let loss = BridgeFilter::new(
        &lan.client,
        "loss",
        &[
            "ip protocol 112 counter",
            "ip protocol 112 numgen random mod 100 < 30 counter drop",
        ],
    );
    // r1 must keep the VIP throughout: a backup that takes over by mistake makes two masters,
    // and the lower one yields at r1's next advert that gets through.
    holds_for(
        "r1 to keep the VIP under loss",
        PERIOD,
        || has_addr(lan.router(1), "eth0", VIP),
        logs(&d1, &d2),
    );
    let counts = loss.counters();
    drop(loss);
    let (seen, dropped) = (counts[0], counts[1]);
    let ratio = dropped as f64 / seen as f64;
    // 600 draws at 30 %: a standard deviation is 1.9 points; this is more than seven.
    assert!(
        (0.15..0.45).contains(&ratio),
        "the lab dropped {dropped} of {seen} adverts"
    );
    assert_eq!(became_master(&d1), r1_before, "r1 never left Master");
    let spurious = became_master(&d2) - r2_before;

    // r2 takes over after three adverts in a row are lost: Master_Down_Interval is 3.61
    // intervals, so the fourth comes too late. Each run of three or more losses starts at an
    // advert that got through, followed by three lost: N·(1−p)·p³ ≈ 11.3 runs in N = 600
    // adverts, a Poisson count. Six standard deviations above its mean (32) keep a correct
    // daemon from failing here (p ≈ 1e-6, with room for a late advert on a loaded machine); a
    // daemon that gave up after a single loss would count ~126, one that gave up after two ~38.
    let adverts = PERIOD.as_millis() as f64 / (INTERVAL_CS * 10) as f64;
    let mean = adverts * (1.0 - LOSS) * LOSS.powi(3);
    let bound = (mean + 6.0 * mean.sqrt()).ceil() as u64;
    println!(
        "30 % loss at advert_int 0.1 s over {} s: {dropped} of {seen} adverts dropped, \
         {spurious} spurious takeovers by the backup (expected {mean:.1}, bound {bound})",
        PERIOD.as_secs()
    );
    assert!(
        spurious <= bound,
        "{spurious} spurious takeovers, more than {bound}\n{}",
        d2.log_text()
    );
}

// ---------------------------------------------------------------------------------------------
// e. A flapping vrrp_script

#[test]
fn a_script_flapping_every_interval_is_held_back_by_fall_and_rise() {
    let _machine = beside_others();
    const PERIOD: Duration = Duration::from_secs(12);
    let lan = Lan::new("rsc", 2);
    let flap = lan.scratch.path("flap");
    let runs = lan.scratch.path("runs");
    // Succeeds until `flap` exists, then fails every other run.
    let check = lan.scratch.script(
        "chk.sh",
        &format!(
            "[ -e {flap} ] || exit 0\nn=$(cat {runs} 2>/dev/null || echo 0)\necho $((n + 1)) > {runs}\n\
             [ $((n % 2)) -eq 0 ]",
            flap = flap.display(),
            runs = runs.display()
        ),
    );
    // Two failures in a row to fall, two successes to rise: an alternating result never
    // changes the tracker, whatever the run it starts on.
    let script = format!(
        "vrrp_script chk {{\n  script \"{}\"\n  interval 1\n  fall 2\n  rise 2\n  weight -150\n}}\n",
        check.display()
    );
    let (d1, d2) = elect(
        &lan,
        &(script + &config(200, "0.1", "  track_script {\n    chk\n  }")),
        &config(100, "0.1", ""),
    );
    let before = (became_master(&d1), became_master(&d2));
    std::fs::write(&flap, "").unwrap();
    holds_for(
        "r1 to stay master at full priority while its script flaps",
        PERIOD,
        || r1_alone_holds_the_vip(&lan) && status(&d1).instances[0].effective_priority == 200,
        logs(&d1, &d2),
    );
    let flaps: u64 = std::fs::read_to_string(&runs)
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(
        flaps >= 8,
        "the script ran only {flaps} times while flapping"
    );
    assert_eq!((became_master(&d1), became_master(&d2)), before);
    println!("flapping script: {flaps} alternating runs, no transition");
}

// ---------------------------------------------------------------------------------------------
// f. Rapid reloads

#[test]
fn twenty_rapid_reloads_of_an_unchanged_configuration_lose_no_probe() {
    let _machine = beside_others();
    const RELOADS: u32 = 20;
    const GAP: Duration = Duration::from_millis(100);
    let lan = Lan::new("rhu", 2);
    let (d1, d2) = elect(&lan, &config(200, "0.1", ""), &config(100, "0.1", ""));
    let before = (became_master(&d1), became_master(&d2));
    let reloads = |d: &Daemon| d.log_text().matches("SIGHUP: reloading").count();
    let start_reloads = reloads(&d1);
    let _responders = [
        Responder::start(lan.router(1), 1),
        Responder::start(lan.router(2), 2),
    ];
    // A second of probes before the first signal and after the last, whose consequences, if
    // any, would show within a Master_Down_Interval.
    let probes = Probes::start(
        &lan.client,
        SocketAddrV4::new(VIP.parse().unwrap(), PORT),
        1000,
        GAP * RELOADS + Duration::from_secs(2),
    );
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    for n in 1..=RELOADS {
        d1.signal(libc::SIGHUP);
        wait_for(
            "the reload to begin",
            SOON,
            || reloads(&d1) >= start_reloads + n as usize,
            || d1.log_text(),
        );
        std::thread::sleep((GAP * n).saturating_sub(started.elapsed()));
    }
    let signalled = started.elapsed();
    let result = probes.wait();
    println!(
        "{RELOADS} SIGHUPs in {:.1} s under {} probes at 1 kHz: {} lost, answered by {:?}",
        signalled.as_secs_f64(),
        result.sent(),
        result.lost(),
        result.answered_after(result.start)
    );
    assert_eq!(
        result.lost(),
        0,
        "probes lost during the reloads (longest outage {:?})\n{}{}",
        result.longest_outage(),
        result.losses(),
        d1.log_text()
    );
    assert_eq!(
        result.answered_after(result.start),
        [1].into(),
        "only r1 answered"
    );
    assert_eq!((became_master(&d1), became_master(&d2)), before);
    assert_eq!(instance(&d1).0, "MASTER");
    assert!(
        !d1.log_text().contains("stopping: removed or changed"),
        "an unchanged instance was restarted\n{}",
        d1.log_text()
    );
}
