//! Frames for virtual addresses in the XDP program (BPF_PROG_RUN): handover redirect, strict
//! mode, and the dead-man switch that lets a dead master's VIPs follow the new master.

use std::{
    mem::{size_of, size_of_val},
    net::IpAddr,
    time::Duration,
};

use aya::programs::{TestRun as _, TestRunOptions};
use tests::{
    daemon::Scratch,
    frames::{
        Advert, CLIENT_MAC, Family, PEER_MAC, VIP_V4, VIP_V6, arp_request, neighbour_advert,
        neighbour_solicit, udp,
    },
};
use vrrp_common::maps::{TAKEOVER_ANY, TAKEOVER_SLOTS, Takeover};
use vrrp_userspace::{
    dataplane::{Dataplane, PinDir, VipSteering},
    time::Monotonic,
};

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;
const XDP_REDIRECT: u32 = 4;
const OWN_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const NEW_MASTER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

fn load() -> Dataplane {
    tests::require_root();
    let mut dp = Dataplane::load().expect("loading the XDP program");
    dp.set_own_mac(OWN_MAC);
    dp
}

/// Loaded and pinned as for interface `iface` under the pin root `root`.
fn load_pinned_in(root: &std::path::Path, iface: &str) -> Dataplane {
    let pins = PinDir::create(root, iface).expect("a pin directory on bpffs");
    let (mut dp, _) = Dataplane::load_pinned(pins).expect("loading the XDP program");
    dp.set_own_mac(OWN_MAC);
    dp
}

/// Runs the program on `frame`; returns the action and the frame as it left.
fn run(dp: &mut Dataplane, frame: &[u8]) -> (u32, Vec<u8>) {
    let mut out = vec![0u8; frame.len() + 256];
    let opts = TestRunOptions {
        data_in: Some(frame),
        data_out: Some(&mut out),
        ..Default::default()
    };
    let r = dp.program().unwrap().test_run(opts).expect("BPF_PROG_RUN");
    out.truncate(r.data_size_out as usize);
    (r.return_value, out)
}

fn vip4() -> IpAddr {
    IpAddr::from(VIP_V4)
}

fn vip6() -> IpAddr {
    IpAddr::from(VIP_V6)
}

fn counters(dp: &Dataplane, addr: IpAddr) -> (u64, u64) {
    let v = dp
        .vips()
        .unwrap()
        .into_iter()
        .find(|v| v.addr == addr)
        .expect("steered");
    (v.redirected, v.dropped)
}

#[test]
fn nothing_is_steered_by_default() {
    let mut dp = load();
    for frame in [
        udp(Family::V4),
        udp(Family::V6),
        arp_request(),
        neighbour_solicit(),
    ] {
        let (action, out) = run(&mut dp, &frame);
        assert_eq!((action, out), (XDP_PASS, frame));
    }
}

#[test]
fn a_handover_window_sends_vip_traffic_to_the_new_master() {
    let mut dp = load();
    let to_peer = VipSteering {
        vrid: 51,
        redirect_to: Some(NEW_MASTER_MAC),
        ..Default::default()
    };
    dp.set_vip(vip4(), to_peer).unwrap();
    dp.set_vip(vip6(), to_peer).unwrap();
    for (family, addr) in [(Family::V4, vip4()), (Family::V6, vip6())] {
        let frame = udp(family);
        let (action, out) = run(&mut dp, &frame);
        assert_eq!(action, XDP_TX, "{family:?}");
        assert_eq!(out[..6], NEW_MASTER_MAC, "destination: the new master");
        assert_eq!(out[6..12], OWN_MAC, "source: this router");
        assert_eq!(out[12..], frame[12..], "nothing else changes: no NAT");
        assert_eq!(counters(&dp, addr), (1, 0));
    }
    // Other addresses are untouched even while the lookup is on.
    let mut other = udp(Family::V4);
    other[14 + 19] = 7;
    assert_eq!(run(&mut dp, &other).0, XDP_PASS);
}

#[test]
fn a_vip_on_another_device_is_redirected_out_of_the_virtual_routers_interface() {
    let mut dp = load();
    // The instance interface: index 1 (BPF_PROG_RUN only reports the action, the redirect is
    // not carried out) and a MAC of its own, the source of what leaves through it.
    const VRRP_IFACE_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x1a];
    let via = VipSteering {
        vrid: 51,
        redirect_to: Some(NEW_MASTER_MAC),
        egress: Some((1, VRRP_IFACE_MAC)),
        quiet: true,
        ..Default::default()
    };
    dp.set_vip(vip4(), via).unwrap();
    dp.set_vip(vip6(), via).unwrap();
    for (family, addr) in [(Family::V4, vip4()), (Family::V6, vip6())] {
        let frame = udp(family);
        let (action, out) = run(&mut dp, &frame);
        assert_eq!(action, XDP_REDIRECT, "{family:?}");
        assert_eq!(out[..6], NEW_MASTER_MAC, "destination: the new master");
        assert_eq!(
            out[6..12],
            VRRP_IFACE_MAC,
            "source: the interface it leaves by"
        );
        assert_eq!(out[12..], frame[12..], "nothing else changes: no NAT");
        assert_eq!(counters(&dp, addr), (1, 0));
    }
    let listed = dp.vips().unwrap();
    assert!(listed.iter().all(|v| v.steering == via), "{listed:?}");
    // Never to the interface it leaves by: the frames would come straight back.
    let to_us = VipSteering {
        redirect_to: Some(VRRP_IFACE_MAC),
        ..via
    };
    let err = dp.set_vip(vip4(), to_us).unwrap_err();
    assert!(err.to_string().contains("own MAC"), "{err}");
    // Queries for it are dropped here, as for any quiet address, never sent on.
    assert_eq!(run(&mut dp, &arp_request()).0, XDP_DROP);
    assert_eq!(run(&mut dp, &neighbour_solicit()).0, XDP_DROP);
}

#[test]
fn the_redirect_never_loops_nor_targets_us() {
    let mut dp = load();
    // A frame that came from the new master goes up, not back to it.
    let back = VipSteering {
        vrid: 51,
        redirect_to: Some(CLIENT_MAC),
        ..Default::default()
    };
    dp.set_vip(vip4(), back).unwrap();
    assert_eq!(run(&mut dp, &udp(Family::V4)).0, XDP_PASS);
    assert_eq!(counters(&dp, vip4()), (0, 0));
    let to_us = VipSteering {
        vrid: 51,
        redirect_to: Some(OWN_MAC),
        ..Default::default()
    };
    let err = dp.set_vip(vip4(), to_us).unwrap_err();
    assert!(err.to_string().contains("own MAC"), "{err}");
}

/// The old master keeps its VIPs for a moment of the window (`handover::DRAIN`), and must not
/// answer ARP or ND for them meanwhile: the new master has them.
#[test]
fn vrrp_arp_and_nd_are_never_redirected_and_queries_for_a_quiet_vip_are_dropped() {
    let mut dp = load();
    let to_peer = VipSteering {
        vrid: 51,
        redirect_to: Some(NEW_MASTER_MAC),
        quiet: true,
        ..Default::default()
    };
    dp.set_vip(vip4(), to_peer).unwrap();
    assert_eq!(run(&mut dp, &arp_request()), (XDP_DROP, arp_request()));
    assert_eq!(counters(&dp, vip4()), (0, 1));
    dp.set_vip(vip6(), to_peer).unwrap();
    assert_eq!(
        run(&mut dp, &neighbour_solicit()),
        (XDP_DROP, neighbour_solicit())
    );
    assert_eq!(counters(&dp, vip6()), (0, 1));
    assert_eq!(run(&mut dp, &Advert::v3_ipv4().build()).0, XDP_PASS);
    // A query for another address passes.
    let mut other = arp_request();
    other[14 + 27] = 7;
    assert_eq!(run(&mut dp, &other).0, XDP_PASS);
    assert_eq!(counters(&dp, vip4()), (0, 1));
}

/// Quiet and redirect are separate: an interface that cannot send frames on keeps the VIPs
/// quiet and serves their frames itself (`Handover::without_redirect`); a redirect alone
/// leaves queries to the stack.
#[test]
fn a_quiet_vip_is_served_here_and_a_redirect_alone_answers_queries() {
    let mut dp = load();
    let quiet = VipSteering {
        vrid: 51,
        quiet: true,
        leaving: true,
        ..Default::default()
    };
    dp.set_vip(vip4(), quiet).unwrap();
    dp.set_vip(vip6(), quiet).unwrap();
    assert_eq!(run(&mut dp, &arp_request()).0, XDP_DROP);
    assert_eq!(run(&mut dp, &neighbour_solicit()).0, XDP_DROP);
    for family in [Family::V4, Family::V6] {
        assert_eq!(run(&mut dp, &udp(family)).0, XDP_PASS, "{family:?}");
    }
    assert_eq!(counters(&dp, vip4()), (0, 1));
    assert_eq!(counters(&dp, vip6()), (0, 1));
    let redirect_only = VipSteering {
        vrid: 51,
        redirect_to: Some(NEW_MASTER_MAC),
        ..Default::default()
    };
    dp.set_vip(vip4(), redirect_only).unwrap();
    dp.set_vip(vip6(), redirect_only).unwrap();
    assert_eq!(run(&mut dp, &arp_request()).0, XDP_PASS);
    assert_eq!(run(&mut dp, &neighbour_solicit()).0, XDP_PASS);
    assert_eq!(run(&mut dp, &udp(Family::V4)).0, XDP_TX);
}

/// While the old master still holds the VIP in a handover, the new master's unsolicited NAs
/// for it are dropped: its kernel would log each as a duplicate of its own address. A
/// solicited one (answering our own query) passes, and so does any NA to a Master.
#[test]
fn a_master_leaving_drops_the_new_masters_unsolicited_nas_for_the_vip() {
    let mut dp = load();
    let leaving = VipSteering {
        vrid: 51,
        leaving: true,
        ..Default::default()
    };
    dp.set_vip(vip6(), leaving).unwrap();
    assert_eq!(run(&mut dp, &neighbour_advert(false)).0, XDP_DROP);
    assert_eq!(counters(&dp, vip6()), (0, 1));
    assert_eq!(run(&mut dp, &neighbour_advert(true)).0, XDP_PASS);
    // Nothing else changes for the address while it is still ours.
    assert_eq!(run(&mut dp, &neighbour_solicit()).0, XDP_PASS);
    assert_eq!(run(&mut dp, &udp(Family::V6)).0, XDP_PASS);
    let master = VipSteering {
        vrid: 51,
        guard: true,
        ..Default::default()
    };
    dp.set_vip(vip6(), master).unwrap();
    assert_eq!(run(&mut dp, &neighbour_advert(false)).0, XDP_PASS);
}

#[test]
fn removing_the_vip_ends_the_window() {
    let mut dp = load();
    dp.set_vip(
        vip4(),
        VipSteering {
            vrid: 51,
            redirect_to: Some(NEW_MASTER_MAC),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(run(&mut dp, &udp(Family::V4)).0, XDP_TX);
    dp.remove_vip(vip4()).unwrap();
    assert_eq!(run(&mut dp, &udp(Family::V4)).0, XDP_PASS);
    assert!(dp.vips().unwrap().is_empty());
    dp.remove_vip(vip4())
        .expect("removing twice is not an error");
}

#[test]
fn strict_mode_drops_ip_to_the_vip_but_answers_arp() {
    let mut dp = load();
    dp.set_vip(
        vip4(),
        VipSteering {
            vrid: 51,
            strict: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(run(&mut dp, &udp(Family::V4)).0, XDP_DROP);
    assert_eq!(run(&mut dp, &arp_request()).0, XDP_PASS);
    assert_eq!(counters(&dp, vip4()), (0, 1));
}

#[test]
fn a_guarded_vip_follows_the_new_master_only_once_the_daemon_is_dead() {
    let mut dp = load();
    let guard = VipSteering {
        vrid: 51,
        guard: true,
        ..Default::default()
    };
    dp.set_vip(vip4(), guard).unwrap();
    dp.set_vip(vip6(), guard).unwrap();
    let timeout = Duration::from_millis(300);
    let advert = Advert::v3_ipv4().build(); // from PEER_MAC, priority 100

    // Alive: the other router's adverts change nothing for our addresses.
    dp.heartbeat(Monotonic::now(), timeout);
    run(&mut dp, &advert);
    assert_eq!(run(&mut dp, &udp(Family::V4)).0, XDP_PASS);
    assert_eq!(run(&mut dp, &arp_request()).0, XDP_PASS);

    // Dead (the last heartbeat is older than its timeout): a priority-0 advert means the other
    // router is leaving, not taking over.
    dp.heartbeat(Monotonic(Monotonic::now().0 - 10_000_000_000), timeout);
    run(
        &mut dp,
        &Advert {
            priority: 0,
            ..Advert::v3_ipv4()
        }
        .build(),
    );
    assert_eq!(run(&mut dp, &udp(Family::V4)).0, XDP_PASS);

    // Dead, and the other router advertises as master: it has our VIP now.
    run(&mut dp, &advert);
    assert!(dp.liveness().iter().any(|r| r.orphaned));
    let (action, out) = run(&mut dp, &udp(Family::V4));
    assert_eq!(action, XDP_TX);
    assert_eq!(out[..12], [PEER_MAC, OWN_MAC].concat());
    assert_eq!(
        run(&mut dp, &arp_request()).0,
        XDP_DROP,
        "the stale VIP must not answer ARP"
    );
    assert_eq!(counters(&dp, vip4()), (1, 1));

    // The IPv6 address of the same VRID follows its own (IPv6) virtual router only.
    assert_eq!(run(&mut dp, &udp(Family::V6)).0, XDP_PASS);
    run(&mut dp, &Advert::v3_ipv6().build());
    assert_eq!(run(&mut dp, &udp(Family::V6)).0, XDP_TX);
    assert_eq!(run(&mut dp, &neighbour_solicit()).0, XDP_DROP);

    // A restarted daemon takes its addresses back.
    dp.clear_orphaned().unwrap();
    dp.heartbeat(Monotonic::now(), timeout);
    assert!(dp.liveness().iter().all(|r| !r.orphaned));
    assert_eq!(run(&mut dp, &udp(Family::V4)).0, XDP_PASS);
    assert_eq!(run(&mut dp, &arp_request()).0, XDP_PASS);
}

/// A VIP on another device than its virtual router's interface: that device's program never
/// hears the adverts, so the guard goes by what the interface's program recorded in the map
/// both share (pinned once under the root they are pinned in).
#[test]
fn a_vip_on_another_device_is_guarded_from_its_virtual_routers_interface() {
    tests::require_root();
    let scratch = Scratch::new("xsremote");
    let root = scratch.pin_dir("d");
    let (mut vrrp_iface, mut device) =
        (load_pinned_in(&root, "eth0"), load_pinned_in(&root, "eth1"));
    // BPF_PROG_RUN runs the program as if on the loopback device, index 1: the interface the
    // adverts are heard on, and the one the guarded frames leave by.
    const VRRP_IFACE_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x1a];
    let guard = VipSteering {
        vrid: 51,
        guard: true,
        egress: Some((1, VRRP_IFACE_MAC)),
        ..Default::default()
    };
    device.set_vip(vip4(), guard).unwrap();
    let timeout = Duration::from_millis(300);
    vrrp_iface.heartbeat(Monotonic::now(), timeout);
    run(&mut vrrp_iface, &Advert::v3_ipv4().build());
    assert_eq!(run(&mut device, &udp(Family::V4)).0, XDP_PASS);
    assert_eq!(run(&mut device, &arp_request()).0, XDP_PASS);

    // The daemon died and the other router took over: the device follows it too.
    vrrp_iface.heartbeat(Monotonic(Monotonic::now().0 - 10_000_000_000), timeout);
    run(&mut vrrp_iface, &Advert::v3_ipv4().build());
    let (action, out) = run(&mut device, &udp(Family::V4));
    assert_eq!(action, XDP_REDIRECT);
    assert_eq!(out[..12], [PEER_MAC, VRRP_IFACE_MAC].concat());
    assert_eq!(
        run(&mut device, &arp_request()).0,
        XDP_DROP,
        "the stale VIP must not answer ARP"
    );
    assert_eq!(counters(&device, vip4()), (1, 1));

    // A takeover recorded on another interface, or for another VRID, is not this VIP's.
    let elsewhere = VipSteering {
        egress: Some((2, VRRP_IFACE_MAC)),
        ..guard
    };
    device.set_vip(vip4(), elsewhere).unwrap();
    assert_eq!(run(&mut device, &udp(Family::V4)).0, XDP_PASS);
    device
        .set_vip(vip4(), VipSteering { vrid: 52, ..guard })
        .unwrap();
    assert_eq!(run(&mut device, &arp_request()).0, XDP_PASS);
}

/// An upgrade that changed `TAKEOVERS`: the pin an older build left has another shape. The
/// program would not load against it (or would misread it), so the loader replaces it.
#[test]
fn a_shared_map_pinned_by_another_build_is_replaced() {
    tests::require_root();
    let scratch = Scratch::new("xsshape");
    let root = scratch.pin_dir("d");
    // The directory first (and bpffs mounted), for the old map to be pinned in.
    PinDir::create(&root, "eth0").expect("a pin directory on bpffs");
    let takeovers = root.join("TAKEOVERS");
    pin_array_map(&takeovers, 8, 4);
    let mut dp = load_pinned_in(&root, "eth0");
    let info = aya::maps::MapInfo::from_pin(&takeovers).expect("TAKEOVERS pinned anew");
    assert_eq!(
        (info.value_size() as usize, info.max_entries()),
        (size_of::<Takeover>(), TAKEOVER_SLOTS)
    );
    // And it is the map the program uses: a takeover it records is there.
    dp.heartbeat(
        Monotonic(Monotonic::now().0 - 10_000_000_000),
        Duration::from_millis(300),
    );
    run(&mut dp, &Advert::v3_ipv4().build());
    let map = aya::maps::Map::Array(aya::maps::MapData::from_pin(&takeovers).unwrap());
    let array: aya::maps::Array<_, Takeover> = map.try_into().unwrap();
    assert_ne!(array.get(&TAKEOVER_ANY, 0).unwrap().ifindex, 0);
}

/// Creates an array map of `value_size` × `entries` and pins it at `path`, as an older build's
/// loader would have.
fn pin_array_map(path: &std::path::Path, value_size: u32, entries: u32) {
    // linux/bpf.h, which libc does not carry.
    const BPF_MAP_CREATE: libc::c_long = 0;
    const BPF_OBJ_PIN: libc::c_long = 6;
    const BPF_MAP_TYPE_ARRAY: u32 = 2;
    // struct bpf_attr for BPF_MAP_CREATE: map_type, key_size, value_size, max_entries, …
    let mut create = [0u32; 32];
    create[..4].copy_from_slice(&[BPF_MAP_TYPE_ARRAY, 4, value_size, entries]);
    // SAFETY: bpf(2) with an attr buffer larger than the kernel reads for this command.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_MAP_CREATE,
            create.as_ptr(),
            size_of_val(&create),
        )
    };
    assert!(
        fd >= 0,
        "BPF_MAP_CREATE: {}",
        std::io::Error::last_os_error()
    );
    let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // BPF_OBJ_PIN: pathname (u64), bpf_fd (u32), file_flags (u32).
    let mut pin = [0u64; 8];
    pin[0] = name.as_ptr() as u64;
    pin[1] = fd as u64;
    // SAFETY: as above; `name` outlives the call.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, BPF_OBJ_PIN, pin.as_ptr(), size_of_val(&pin)) };
    assert_eq!(rc, 0, "BPF_OBJ_PIN: {}", std::io::Error::last_os_error());
    // SAFETY: our own descriptor; the pin keeps the map.
    unsafe { libc::close(fd as i32) };
}

#[test]
fn without_a_heartbeat_the_dead_man_switch_is_off() {
    let mut dp = load();
    dp.set_vip(
        vip4(),
        VipSteering {
            vrid: 51,
            guard: true,
            ..Default::default()
        },
    )
    .unwrap();
    run(&mut dp, &Advert::v3_ipv4().build());
    assert_eq!(run(&mut dp, &udp(Family::V4)).0, XDP_PASS);
    assert!(dp.liveness().iter().all(|r| !r.orphaned));
}
