//! Gratuitous ARP and unsolicited NA sent from namespace A, seen in namespace B: the exact
//! frames on the wire, and what B's neighbour table makes of them.
//!
//! Kernel behaviour these tests pin down, which the daemon's failover tests rely on: Linux
//! updates an existing neighbour entry from a gratuitous ARP or an unsolicited NA with Override,
//! but creates a new entry only with `net.ipv4.conf.{all,<if>}.arp_accept=1` (ARP) or
//! `net.ipv6.conf.<if>.accept_untracked_na=1` together with `net.ipv6.conf.<if>.forwarding=1`
//! (NA; RFC 9131 lets only routers learn from untracked NAs) on the receiving side.

use std::{
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    time::{Duration, Instant},
};

use tests::{
    keepalived::Keepalived,
    netns::{Netns, veth},
};
use vrrp_common::wire::{ethernet, ipv6};
use vrrp_userspace::{
    net::{
        garp::Announcer,
        iface::Interface,
        vip::{Addresses, Vip},
    },
    wire::{arp, ndisc},
};

const A_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x0a, 0x01];
const A_MAC_TEXT: &str = "02:00:00:00:0a:01";
/// What B believes the VIPs' MAC to be before the announcement.
const OLD_MAC_TEXT: &str = "02:00:00:00:0e:ee";
const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);
/// How long frames A sends take at most to show up in B.
const SOON: Duration = Duration::from_secs(5);

/// A (`va`, MAC `A_MAC`, 192.0.2.1/24) and B (`vb`, 192.0.2.2/24, 2001:db8::2/64), no DAD.
fn topology(tag: &str) -> (Netns, Netns) {
    let (a, b) = (
        Netns::new(&format!("{tag}a")),
        Netns::new(&format!("{tag}b")),
    );
    for n in [&a, &b] {
        n.exec(&["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"]);
    }
    veth(&a, "va", &b, "vb");
    a.ip(&["link", "set", "va", "address", A_MAC_TEXT]);
    a.ip(&["addr", "add", "192.0.2.1/24", "dev", "va"]);
    b.ip(&["addr", "add", "192.0.2.2/24", "dev", "vb"]);
    b.ip(&["addr", "add", "2001:db8::2/64", "dev", "vb", "nodad"]);
    (a, b)
}

fn announce(a: &Netns, vips: &[IpAddr], repeat: u32) -> usize {
    a.run(|| {
        let announcer = Announcer::open(&Interface::by_name("va").unwrap()).unwrap();
        assert_eq!(announcer.mac(), A_MAC);
        announcer.announce(vips, repeat).unwrap()
    })
}

/// An `AF_PACKET` socket in a namespace that sees every frame of one interface.
struct Capture(OwnedFd);

impl Capture {
    fn open(ns: &Netns, ifname: &str) -> Self {
        let ifindex = ns.ifindex(ifname);
        ns.run(|| {
            let all = (libc::ETH_P_ALL as u16).to_be() as i32;
            // SAFETY: plain socket(2); checked before use.
            let fd =
                unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, all) };
            assert!(fd >= 0, "AF_PACKET socket: {}", io::Error::last_os_error());
            // SAFETY: fd was just created and is owned by nothing else.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            // SAFETY: all zeroes is a valid sockaddr_ll; bind reads exactly its size.
            let rc = unsafe {
                let mut ll: libc::sockaddr_ll = std::mem::zeroed();
                ll.sll_family = libc::AF_PACKET as u16;
                ll.sll_protocol = all as u16;
                ll.sll_ifindex = ifindex as i32;
                libc::bind(
                    fd.as_raw_fd(),
                    (&ll as *const libc::sockaddr_ll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            assert_eq!(rc, 0, "bind AF_PACKET: {}", io::Error::last_os_error());
            let timeout = libc::timeval {
                tv_sec: 0,
                tv_usec: 100_000,
            };
            // SAFETY: timeout outlives the call; its size is passed.
            let rc = unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVTIMEO,
                    (&timeout as *const libc::timeval).cast(),
                    std::mem::size_of::<libc::timeval>() as u32,
                )
            };
            assert_eq!(rc, 0, "SO_RCVTIMEO: {}", io::Error::last_os_error());
            Capture(fd)
        })
    }

    /// ARP and Neighbor Advertisement frames sent by A, until `n` were seen or `limit` passed.
    /// Everything else on the link (B's frames, A's router solicitations and MLD reports) is
    /// skipped.
    fn frames_from_a(&self, n: usize, limit: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + limit;
        let mut frames = Vec::new();
        let mut buf = [0u8; 2048];
        while frames.len() < n && Instant::now() < deadline {
            // SAFETY: buf is writable for its length.
            let len =
                unsafe { libc::recv(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if len < 0 {
                let err = io::Error::last_os_error();
                assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "recv: {err}");
                continue;
            }
            let frame = &buf[..len as usize];
            if is_announcement(frame) && frame[ethernet::SRC..ethernet::SRC + 6] == A_MAC {
                frames.push(frame.to_vec());
            }
        }
        frames
    }

    /// The first ARP and the first NA from A within `limit`, in that order: keepalived (or
    /// the kernel, on an address add) may repeat one kind before sending the other.
    fn first_arp_and_na(&self, limit: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + limit;
        let (mut arp, mut na) = (None, None);
        while (arp.is_none() || na.is_none()) && Instant::now() < deadline {
            for frame in self.frames_from_a(1, deadline.saturating_duration_since(Instant::now())) {
                let is_arp = frame[ethernet::ETHERTYPE..ethernet::ETHERTYPE + 2]
                    == ethernet::ETHERTYPE_ARP.to_be_bytes();
                let slot = if is_arp { &mut arp } else { &mut na };
                slot.get_or_insert(frame);
            }
        }
        arp.into_iter().chain(na).collect()
    }
}

/// ARP, or ICMPv6 type 136 directly after the IPv6 header; read with offsets from vrrp-common,
/// not with the codecs under test.
fn is_announcement(frame: &[u8]) -> bool {
    let icmp = ethernet::HEADER_LEN + ipv6::HEADER_LEN;
    if frame.len() < ethernet::HEADER_LEN {
        return false;
    }
    match u16::from_be_bytes([frame[ethernet::ETHERTYPE], frame[ethernet::ETHERTYPE + 1]]) {
        ethernet::ETHERTYPE_ARP => true,
        ethernet::ETHERTYPE_IPV6 => {
            frame.len() > icmp
                && frame[ethernet::HEADER_LEN + ipv6::NEXT_HEADER] == 58
                && frame[icmp] == 136
        }
        _ => false,
    }
}

/// The MAC `ip neigh` shows for `addr` on B's `vb`, polled until it equals `want` or 5 s pass.
fn neighbour_becomes(b: &Netns, addr: &str, want: Option<&str>) -> String {
    let mut line = String::new();
    for _ in 0..50 {
        let out = b.ip(&["neigh", "show", addr, "dev", "vb"]);
        line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let mac = line
            .split_whitespace()
            .skip_while(|w| *w != "lladdr")
            .nth(1);
        if mac == want {
            return line;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("neighbour {addr} on B never showed {want:?}; last: {line:?}");
}

#[test]
fn b_receives_exactly_the_frames_keepalived_would_send() {
    let (a, b) = topology("garp");
    let capture = Capture::open(&b, "vb");
    let vips = [IpAddr::V4(VIP4), IpAddr::V6(VIP6)];
    assert_eq!(announce(&a, &vips, 2), 4);

    let garp = arp::Repr {
        sender_mac: A_MAC,
        address: VIP4,
    }
    .to_frame()
    .to_vec();
    let na = ndisc::Repr {
        mac: A_MAC,
        target: VIP6,
        router: false,
    }
    .to_frame()
    .to_vec();
    // Rounds outside, VIPs inside, as keepalived's vrrp_garp_master_repeat.
    let frames = capture.frames_from_a(4, SOON);
    assert_eq!(frames, [garp.clone(), na.clone(), garp, na]);

    // Read back independently of the emitting code.
    let p = arp::Packet::new_checked(&frames[0][..]).unwrap();
    assert_eq!(p.eth_dst(), [0xff; 6]);
    assert_eq!(p.operation(), arp::Operation::Request);
    assert_eq!(
        (p.sender_protocol_addr(), p.target_protocol_addr()),
        (VIP4, VIP4)
    );
    let p = ndisc::Packet::new_checked(&frames[1][..]).unwrap();
    assert_eq!(
        (p.hop_limit(), p.src_addr(), p.dst_addr()),
        (255, VIP6, "ff02::1".parse().unwrap())
    );
    assert!(p.override_() && !p.solicited() && !p.router() && p.verify_checksum());
    assert_eq!(p.target_link_layer_addr(), Ok(Some(A_MAC)));
}

#[test]
fn garp_moves_an_existing_entry_and_creates_one_only_with_arp_accept() {
    let (a, b) = topology("garpn");
    b.ip(&[
        "neigh",
        "add",
        "192.0.2.100",
        "lladdr",
        OLD_MAC_TEXT,
        "dev",
        "vb",
        "nud",
        "stale",
    ]);
    announce(&a, &[IpAddr::V4(VIP4)], 1);
    neighbour_becomes(&b, "192.0.2.100", Some(A_MAC_TEXT));

    // With the default arp_accept=0 an unknown address stays unknown... (B's kernel has
    // handled a frame by the time its capture socket hands it out.)
    let capture = Capture::open(&b, "vb");
    let fresh = Ipv4Addr::new(192, 0, 2, 101);
    announce(&a, &[IpAddr::V4(fresh)], 3);
    assert_eq!(capture.frames_from_a(3, SOON).len(), 3);
    let out = b.ip(&["neigh", "show", "192.0.2.101", "dev", "vb"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "",
        "entry created without arp_accept"
    );

    // ...and with arp_accept=1 the announcement creates it.
    b.exec(&["sysctl", "-qw", "net.ipv4.conf.all.arp_accept=1"]);
    announce(&a, &[IpAddr::V4(fresh)], 1);
    neighbour_becomes(&b, "192.0.2.101", Some(A_MAC_TEXT));
}

#[test]
fn unsolicited_na_moves_an_existing_entry_and_carries_the_router_flag() {
    let (a, b) = topology("na");
    b.ip(&[
        "neigh",
        "add",
        "2001:db8::100",
        "lladdr",
        OLD_MAC_TEXT,
        "dev",
        "vb",
        "nud",
        "stale",
    ]);
    announce(&a, &[IpAddr::V6(VIP6)], 1);
    let line = neighbour_becomes(&b, "2001:db8::100", Some(A_MAC_TEXT));
    assert!(!line.contains("router"), "{line}");

    // keepalived sets the Router flag when A forwards IPv6; B then marks the entry a router.
    a.exec(&["sysctl", "-qw", "net.ipv6.conf.va.forwarding=1"]);
    announce(&a, &[IpAddr::V6(VIP6)], 1);
    let mut line = String::new();
    for _ in 0..50 {
        line = neighbour_becomes(&b, "2001:db8::100", Some(A_MAC_TEXT));
        if line.contains("router") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(line.contains("router"), "{line}");

    // An address B has never resolved: learnt only with accept_untracked_na.
    let capture = Capture::open(&b, "vb");
    let fresh: Ipv6Addr = "2001:db8::101".parse().unwrap();
    announce(&a, &[IpAddr::V6(fresh)], 3);
    assert_eq!(capture.frames_from_a(3, SOON).len(), 3);
    let out = b.ip(&["neigh", "show", "2001:db8::101", "dev", "vb"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "",
        "entry created without accept_untracked_na"
    );
    // RFC 9131 lets only routers learn from untracked NAs: forwarding must be on as well.
    b.exec(&["sysctl", "-qw", "net.ipv6.conf.vb.accept_untracked_na=1"]);
    announce(&a, &[IpAddr::V6(fresh)], 1);
    assert_eq!(capture.frames_from_a(1, SOON).len(), 1);
    let out = b.ip(&["neigh", "show", "2001:db8::101", "dev", "vb"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "",
        "entry created by a host that does not forward"
    );
    b.exec(&["sysctl", "-qw", "net.ipv6.conf.vb.forwarding=1"]);
    announce(&a, &[IpAddr::V6(fresh)], 1);
    neighbour_becomes(&b, "2001:db8::101", Some(A_MAC_TEXT));
}

/// keepalived 2.2.7 as master for an IPv4 and an IPv6 instance on A, then xvrrp doing the same
/// by hand: B receives the same GARP and NA bytes, and `ip addr` shows the VIPs the same way.
#[test]
fn matches_a_live_keepalived() {
    let (a, b) = topology("gka");
    // One announcement round per instance; the refresh after garp_master_delay (5 s) comes
    // after the test has stopped keepalived.
    let conf = "global_defs {\n  vrrp_garp_master_repeat 1\n}\n\
         vrrp_instance V4 {\n  state MASTER\n  interface va\n  virtual_router_id 51\n\
           priority 100\n  advert_int 1\n  virtual_ipaddress {\n\
             192.0.2.100/24 dev va label va:1\n  }\n}\n\
         vrrp_instance V6 {\n  state MASTER\n  interface va\n  virtual_router_id 52\n\
           priority 100\n  advert_int 1\n  version 3\n  virtual_ipaddress {\n\
             2001:db8::100/64\n  }\n}\n";
    let capture = Capture::open(&b, "vb");
    let keepalived = Keepalived::start(&a, conf);
    // keepalived takes a few seconds from start to master.
    let mut theirs = capture.first_arp_and_na(Duration::from_secs(15));
    let their_addrs = vip_lines(&a);
    let log = keepalived.stop(libc::SIGTERM);
    assert_eq!(
        theirs.len(),
        2,
        "keepalived sent no GARP / NA within 15 s: {log}"
    );
    // The instances become master independently, so compare in a fixed order.
    theirs.sort();
    assert_eq!(their_addrs.len(), 2, "{their_addrs:?}");

    // keepalived removes its VIPs when it stops.
    for _ in 0..50 {
        if vip_lines(&a).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        vip_lines(&a),
        Vec::<String>::new(),
        "keepalived left VIPs behind"
    );

    a.run(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let va = Interface::by_name("va").unwrap();
            let addrs = Addresses::connect().unwrap();
            for vip in [
                Vip {
                    addr: VIP4.into(),
                    prefix_len: 24,
                    label: Some("va:1".into()),
                    brd: None,
                    scope: None,
                },
                Vip {
                    addr: VIP6.into(),
                    prefix_len: 64,
                    label: None,
                    brd: None,
                    scope: None,
                },
            ] {
                addrs.add(&va, &vip).await.unwrap();
            }
        })
    });
    assert_eq!(vip_lines(&a), their_addrs);
    announce(&a, &[IpAddr::V4(VIP4), IpAddr::V6(VIP6)], 1);
    let mut ours = capture.first_arp_and_na(SOON);
    ours.sort();
    assert_eq!(ours, theirs);
}

/// `ip addr` lines of A's VIPs, without the interface index.
fn vip_lines(a: &Netns) -> Vec<String> {
    let out = a.ip(&["-o", "addr", "show", "dev", "va"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("192.0.2.100") || l.contains("2001:db8::100"))
        .map(|l| {
            l.split_once(':')
                .map_or(l, |(_, rest)| rest)
                .trim()
                .to_owned()
        })
        .collect()
}
