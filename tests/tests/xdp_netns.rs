//! The XDP tracker attached to a veth in a network namespace, fed by a real keepalived 2.2.7
//! in another namespace: the liveness map follows keepalived's adverts. And what the kernel
//! says of a veth's XDP transmit.

use std::time::{Duration, Instant};

use aya::programs::XdpMode;
use tests::{
    keepalived::Keepalived,
    netns::{Netns, veth},
};
use vrrp_common::maps::{self, Counter, FAMILY_IPV4, LivenessKey};
use vrrp_userspace::{
    dataplane::{AttachMode, Dataplane, LabProgram, RouterLiveness, VipSteering},
    net::{iface::Interface, xdp_features::drops_xdp_tx},
};

const KEEPALIVED_MAC: &str = "02:00:00:00:0b:01";

const KEEPALIVED_CONF: &str = "global_defs {\n  vrrp_version 3\n}\n\
    vrrp_instance VI_1 {\n  state MASTER\n  interface va\n  virtual_router_id 51\n\
    priority 150\n  advert_int 0.1\n  virtual_ipaddress {\n    192.0.2.100/24\n  }\n}\n";

/// Polls the liveness map until `pred` holds, for at most `limit`.
fn wait_for(
    dp: &Dataplane,
    key: LivenessKey,
    limit: Duration,
    what: &str,
    pred: impl Fn(&RouterLiveness) -> bool,
) -> RouterLiveness {
    let start = Instant::now();
    loop {
        if let Some(r) = dp.liveness_of(key)
            && pred(&r)
        {
            return r;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn liveness_map_follows_a_real_keepalived() {
    tests::require_root();
    let sender = Netns::new("ka");
    let router = Netns::new("xdp");
    veth(&sender, "va", &router, "vb");
    sender.ip(&["link", "set", "va", "address", KEEPALIVED_MAC]);
    sender.ip(&["addr", "add", "192.0.2.1/24", "dev", "va"]);
    router.ip(&["addr", "add", "192.0.2.2/24", "dev", "vb"]);

    let mut dp = Dataplane::load().expect("loading the XDP program");
    let mode = router
        .run(|| dp.attach("vb", AttachMode::Auto))
        .expect("attaching to vb");
    assert_eq!(mode, Some(AttachMode::Native), "veth supports native XDP");
    let key = LivenessKey::new(51, FAMILY_IPV4);

    let keepalived = Keepalived::start(&sender, KEEPALIVED_CONF);

    let first = wait_for(
        &dp,
        key,
        Duration::from_secs(10),
        "keepalived's first advert",
        |_| true,
    );
    assert_eq!(first.sender.to_string(), "192.0.2.1");
    assert_eq!(
        first.sender_mac.map(|b| format!("{b:02x}")).join(":"),
        KEEPALIVED_MAC
    );
    assert_eq!(
        (first.priority, first.version, first.interval.0),
        (150, 3, 10)
    );

    // Every advert repeats the first: with absorption on they stop reaching the stack.
    let seen = wait_for(&dp, key, Duration::from_secs(5), "five adverts", |r| {
        r.adverts >= 5
    });
    dp.set_absorb(true);
    let passed_before = dp.counters().unwrap().get(Counter::Passed);
    let later = wait_for(&dp, key, Duration::from_secs(5), "ten more adverts", |r| {
        r.adverts >= seen.adverts + 10
    });
    assert!(later.last_seen > seen.last_seen);
    let c = dp.counters().unwrap();
    assert!(c.get(Counter::Absorbed) >= 10, "absorbed: {c:?}");
    assert!(
        c.get(Counter::Passed) <= passed_before + 1,
        "repeats were passed: {c:?}"
    );

    // Steering swaps the attached variant in place, and the tracker goes on counting.
    assert_eq!(dp.attached_program(), Some(maps::PROGRAM));
    let guard = VipSteering {
        vrid: 51,
        guard: true,
        ..Default::default()
    };
    dp.set_vip("192.0.2.100".parse().unwrap(), guard).unwrap();
    assert_eq!(dp.attached_program(), Some(maps::STEER_PROGRAM));
    let before = dp.liveness_of(key).unwrap().adverts;
    wait_for(
        &dp,
        key,
        Duration::from_secs(5),
        "adverts under the steering variant",
        |r| r.adverts >= before + 3,
    );
    dp.remove_vip("192.0.2.100".parse().unwrap()).unwrap();
    assert_eq!(dp.attached_program(), Some(maps::PROGRAM));

    // keepalived's shutdown advert (priority 0) changes the entry and goes up.
    let log = keepalived.stop(libc::SIGTERM);
    let stopped = wait_for(
        &dp,
        key,
        Duration::from_secs(5),
        "the priority-0 advert",
        |r| r.priority == 0,
    );
    assert_eq!(stopped.sender.to_string(), "192.0.2.1");
    assert!(dp.counters().unwrap().get(Counter::Passed) > passed_before);
    assert!(
        log.contains("VI_1"),
        "keepalived's console log is missing: {log}"
    );
    for complaint in ["invalid", "error", "bogus"] {
        assert!(
            !log.to_lowercase().contains(complaint),
            "keepalived complained: {log}"
        );
    }

    dp.detach().unwrap();
    assert_eq!(dp.attachment(), None);
}

/// A veth transmits what XDP sends out of it only while its peer runs an XDP program or has GRO
/// on; otherwise the frames are dropped and a handover must not redirect (`drops_xdp_tx`, read
/// from the kernel's XDP features).
#[test]
fn a_veth_drops_xdp_tx_unless_its_peer_has_xdp_or_gro() {
    tests::require_root();
    let ours = Netns::new("xtxa");
    let peer = Netns::new("xtxb");
    veth(&ours, "va", &peer, "vb");
    let mut dp = Dataplane::load().expect("loading the XDP program");
    ours.run(|| dp.attach("va", AttachMode::Native))
        .expect("attaching to va");
    let drops = || {
        ours.run(|| {
            let va = Interface::by_name("va").expect("va");
            assert_eq!(va.driver().expect("va's driver").as_deref(), Some("veth"));
            drops_xdp_tx(&va).expect("asking the kernel")
        })
    };
    assert!(drops(), "the peer has neither XDP nor GRO");
    peer.exec(&["ethtool", "-K", "vb", "gro", "on"]);
    assert!(!drops(), "GRO on the peer");
    peer.exec(&["ethtool", "-K", "vb", "gro", "off"]);
    assert!(drops(), "GRO off again");
    let mut pass = LabProgram::pass().expect("loading the pass program");
    let program = pass.program().expect("the pass program");
    peer.run(|| program.attach("vb", XdpMode::Driver))
        .expect("attaching XDP_PASS to vb");
    assert!(!drops(), "an XDP program on the peer");
}
