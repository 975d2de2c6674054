//! The XDP advert tracker run on crafted frames with BPF_PROG_RUN: verdicts, the liveness map
//! and the per-reason counters.

use aya::programs::{TestRun as _, TestRunOptions};
use tests::{
    fixtures,
    frames::{Advert, Checksum, Family, PEER_MAC, V4_SRC, arp_request, udp},
    require_root,
};
use vrrp_common::{
    maps::{Counter, FAMILY_IPV4, FAMILY_IPV6},
    reject::Reject,
};
use vrrp_userspace::dataplane::{Counters, Dataplane, RouterLiveness};

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;

fn load() -> Dataplane {
    require_root();
    Dataplane::load().expect("loading the XDP program")
}

fn run(dp: &mut Dataplane, frame: &[u8]) -> u32 {
    let opts = TestRunOptions {
        data_in: Some(frame),
        ..Default::default()
    };
    dp.program()
        .unwrap()
        .test_run(opts)
        .expect("BPF_PROG_RUN")
        .return_value
}

fn only_router(dp: &Dataplane) -> RouterLiveness {
    let mut all = dp.liveness();
    assert_eq!(all.len(), 1, "expected one virtual router, got {all:?}");
    all.remove(0)
}

/// Counters as (name, value) for those that are not zero, for readable assertions.
fn nonzero(c: &Counters) -> Vec<(&'static str, u64)> {
    c.iter()
        .filter(|(_, v)| *v != 0)
        .map(|(c, v)| (c.name(), v))
        .collect()
}

#[test]
fn valid_v3_ipv4_advert_is_recorded_and_passed() {
    let mut dp = load();
    assert_eq!(run(&mut dp, &Advert::v3_ipv4().build()), XDP_PASS);
    let r = only_router(&dp);
    assert_eq!((r.key.vrid, r.key.family), (51, FAMILY_IPV4));
    assert_eq!(r.sender, std::net::IpAddr::from(V4_SRC));
    assert_eq!(r.sender_mac, PEER_MAC);
    assert_eq!(
        (r.priority, r.version, r.interval.0, r.adverts),
        (100, 3, 100, 1)
    );
    assert!(r.last_seen.0 > 0);
    assert_eq!(nonzero(&dp.counters().unwrap()), [("passed", 1)]);
}

#[test]
fn v2_interval_in_seconds_is_stored_in_centiseconds() {
    let mut dp = load();
    let advert = Advert {
        interval: 3,
        ..Advert::v2_ipv4()
    };
    assert_eq!(run(&mut dp, &advert.build()), XDP_PASS);
    let r = only_router(&dp);
    assert_eq!((r.version, r.interval.0), (2, 300));
}

#[test]
fn valid_v3_ipv6_advert_is_recorded() {
    let mut dp = load();
    assert_eq!(run(&mut dp, &Advert::v3_ipv6().build()), XDP_PASS);
    let r = only_router(&dp);
    assert_eq!(r.key.family, FAMILY_IPV6);
    assert_eq!(r.sender.to_string(), "fe80::2");
}

#[test]
fn vlan_tagged_advert_is_parsed() {
    let mut dp = load();
    for family in [Advert::v3_ipv4(), Advert::v3_ipv6()] {
        let advert = Advert {
            vlan: Some(100),
            ..family
        };
        assert_eq!(run(&mut dp, &advert.build()), XDP_PASS);
    }
    assert_eq!(dp.liveness().len(), 2);
}

#[test]
fn v3_ipv4_checksum_without_pseudo_header_is_accepted() {
    let mut dp = load();
    let advert = Advert {
        checksum: Checksum::WithoutPseudoHeader,
        ..Advert::v3_ipv4()
    };
    assert_eq!(run(&mut dp, &advert.build()), XDP_PASS);
    assert_eq!(dp.counters().unwrap().get(Counter::Passed), 1);
}

#[test]
fn v3_ipv6_checksum_must_include_the_pseudo_header() {
    let mut dp = load();
    let advert = Advert {
        checksum: Checksum::WithoutPseudoHeader,
        ..Advert::v3_ipv6()
    };
    assert_eq!(run(&mut dp, &advert.build()), XDP_DROP);
    assert_eq!(nonzero(&dp.counters().unwrap()), [("bad_checksum", 1)]);
}

#[test]
fn each_broken_advert_is_dropped_and_counted_by_reason() {
    let v4 = Advert::v3_ipv4;
    let cases: Vec<(&str, Advert, Reject)> = vec![
        ("ttl 254", Advert { ttl: 254, ..v4() }, Reject::TtlNot255),
        (
            "ipv6 hop limit 1",
            Advert {
                ttl: 1,
                ..Advert::v3_ipv6()
            },
            Reject::TtlNot255,
        ),
        (
            "bad checksum v3",
            Advert {
                checksum: Checksum::Corrupt,
                ..v4()
            },
            Reject::BadChecksum,
        ),
        (
            "bad checksum v2",
            Advert {
                checksum: Checksum::Corrupt,
                ..Advert::v2_ipv4()
            },
            Reject::BadChecksum,
        ),
        (
            "truncated inside vrrp",
            Advert {
                truncate_to: Some(14 + 20 + 6),
                ..v4()
            },
            Reject::Truncated,
        ),
        (
            "truncated inside ip",
            Advert {
                truncate_to: Some(14 + 12),
                ..v4()
            },
            Reject::Truncated,
        ),
        (
            "truncated ipv6",
            Advert {
                truncate_to: Some(14 + 40 + 4),
                ..Advert::v3_ipv6()
            },
            Reject::Truncated,
        ),
        (
            "version 1",
            Advert { version: 1, ..v4() },
            Reject::UnsupportedVersion,
        ),
        (
            "version 4",
            Advert { version: 4, ..v4() },
            Reject::UnsupportedVersion,
        ),
        (
            "v2 over ipv6",
            Advert {
                version: 2,
                ..Advert::v3_ipv6()
            },
            Reject::UnsupportedVersion,
        ),
        ("type 2", Advert { kind: 2, ..v4() }, Reject::UnknownType),
        (
            "count 3 carrying 1",
            Advert {
                count: Some(3),
                ..v4()
            },
            Reject::CountExceedsLength,
        ),
        (
            "v6 count 2 carrying 1",
            Advert {
                count: Some(2),
                ..Advert::v3_ipv6()
            },
            Reject::CountExceedsLength,
        ),
        (
            "zero interval v3",
            Advert {
                interval: 0,
                ..v4()
            },
            Reject::ZeroInterval,
        ),
        (
            "zero interval v2",
            Advert {
                interval: 0,
                ..Advert::v2_ipv4()
            },
            Reject::ZeroInterval,
        ),
        (
            "fragment",
            Advert {
                fragment: true,
                ..v4()
            },
            Reject::Fragment,
        ),
    ];
    for r in Reject::ALL {
        assert!(
            cases.iter().any(|(_, _, c)| *c == r),
            "{r:?} has no case in this table"
        );
    }
    for (what, advert, reason) in cases {
        let mut dp = load();
        assert_eq!(run(&mut dp, &advert.build()), XDP_DROP, "{what}");
        assert_eq!(
            nonzero(&dp.counters().unwrap()),
            [(reason.name(), 1)],
            "{what}"
        );
        assert!(
            dp.liveness().is_empty(),
            "{what}: an invalid advert reached the map"
        );
    }
}

/// BPF_PROG_RUN refuses frames shorter than an Ethernet header, so 14 zero bytes (ethertype 0)
/// stand for the shortest frame.
#[test]
fn non_vrrp_traffic_passes_untouched() {
    let mut dp = load();
    for frame in [
        udp(Family::V4),
        udp(Family::V6),
        arp_request(),
        vec![0u8; 14],
    ] {
        assert_eq!(run(&mut dp, &frame), XDP_PASS);
    }
    assert!(dp.liveness().is_empty());
    assert!(nonzero(&dp.counters().unwrap()).is_empty());
}

#[test]
fn repeated_advert_is_absorbed_only_when_absorption_is_on() {
    let mut dp = load();
    let frame = Advert::v3_ipv4().build();
    assert_eq!(
        run(&mut dp, &frame),
        XDP_PASS,
        "absorption is off in a fresh map"
    );
    assert_eq!(run(&mut dp, &frame), XDP_PASS);
    dp.set_absorb(true);
    let before = only_router(&dp);
    // The program stamps with the coarse clock: let at least one jiffy (HZ ≥ 100) pass.
    std::thread::sleep(std::time::Duration::from_millis(25));
    assert_eq!(run(&mut dp, &frame), XDP_DROP, "a repeat is absorbed");
    let after = only_router(&dp);
    assert_eq!(after.adverts, 3);
    assert!(
        after.last_seen > before.last_seen,
        "an absorbed advert still refreshes liveness"
    );
    dp.set_absorb(false);
    assert_eq!(run(&mut dp, &frame), XDP_PASS);
    let c = dp.counters().unwrap();
    assert_eq!((c.get(Counter::Passed), c.get(Counter::Absorbed)), (3, 1));
}

#[test]
fn a_changed_advert_goes_up_even_when_absorbing() {
    let mut dp = load();
    dp.set_absorb(true);
    let base = Advert::v3_ipv4();
    assert_eq!(
        run(&mut dp, &base.build()),
        XDP_PASS,
        "the first advert goes up"
    );
    assert_eq!(run(&mut dp, &base.build()), XDP_DROP);
    let changes = [
        Advert {
            priority: 0,
            ..base.clone()
        },
        Advert {
            interval: 50,
            ..base.clone()
        },
        Advert {
            src: [192, 0, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ..base.clone()
        },
        Advert {
            src_mac: [2, 0, 0, 0, 0, 9],
            ..base.clone()
        },
    ];
    for (i, changed) in changes.iter().enumerate() {
        assert_eq!(
            run(&mut dp, &changed.build()),
            XDP_PASS,
            "change {i} must go up"
        );
        assert_eq!(
            run(&mut dp, &changed.build()),
            XDP_DROP,
            "its repeat is absorbed"
        );
    }
    let r = only_router(&dp);
    assert_eq!(
        r.adverts,
        2 + 2 * changes.len() as u64,
        "the count survives changes"
    );
    assert_eq!(r.sender_mac, [2, 0, 0, 0, 0, 9]);
}

#[test]
fn ipv4_and_ipv6_of_one_vrid_are_separate_routers() {
    let mut dp = load();
    dp.set_absorb(true);
    for _ in 0..2 {
        run(&mut dp, &Advert::v3_ipv4().build());
        run(&mut dp, &Advert::v3_ipv6().build());
    }
    let c = dp.counters().unwrap();
    assert_eq!((c.get(Counter::Passed), c.get(Counter::Absorbed)), (2, 2));
    assert_eq!(dp.liveness().len(), 2);
}

#[test]
fn bytes_after_the_message_are_outside_its_checksum() {
    let mut dp = load();
    for family in [Advert::v3_ipv4(), Advert::v3_ipv6(), Advert::v2_ipv4()] {
        let advert = Advert {
            trailing: 6,
            ..family
        };
        assert_eq!(run(&mut dp, &advert.build()), XDP_PASS, "{advert:?}");
    }
}

#[test]
fn many_addresses_are_checksummed() {
    let mut dp = load();
    for addresses in [0u8, 2, 20, 255] {
        let v4 = Advert {
            addresses,
            ..Advert::v3_ipv4()
        };
        assert_eq!(
            run(&mut dp, &v4.build()),
            XDP_PASS,
            "v4 with {addresses} addresses"
        );
        let bad = Advert {
            checksum: Checksum::Corrupt,
            ..v4
        };
        assert_eq!(
            run(&mut dp, &bad.build()),
            XDP_DROP,
            "corrupt v4 with {addresses}"
        );
    }
    let v6 = Advert {
        addresses: 200,
        ..Advert::v3_ipv6()
    };
    assert_eq!(
        run(&mut dp, &v6.build()),
        XDP_PASS,
        "v6 with 200 addresses (3.2 KiB)"
    );
}

#[test]
fn keepalived_captures_are_valid_adverts() {
    let mut dp = load();
    let cases = [
        ("keepalived-2.2.7/v2-pass-ipv4", FAMILY_IPV4, 2),
        ("keepalived-2.2.7/v3-ipv4", FAMILY_IPV4, 3),
        ("keepalived-2.2.7/v3-ipv6", FAMILY_IPV6, 3),
    ];
    for (name, family, version) in cases {
        let frame = fixtures::frame(name);
        assert_eq!(run(&mut dp, &frame), XDP_PASS, "{name}");
        let r = dp
            .liveness()
            .into_iter()
            .find(|r| r.key.family == family && r.version == version)
            .unwrap_or_else(|| panic!("{name} not recorded"));
        assert_eq!(r.key.vrid, 51, "{name}");
    }
    assert_eq!(dp.counters().unwrap().get(Counter::Passed), 3);
}
