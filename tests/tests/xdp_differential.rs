//! The XDP program and the userspace codec judge the same frames the same way.
//!
//! Valid adverts, keepalived's captures and their mutations (truncation at any offset, bytes
//! overwritten anywhere, bytes appended, VLAN tags) go through BPF_PROG_RUN and through the
//! codec (`wire::ip` + `wire::vrrp`). The verifier guarantees the program is memory-safe; this
//! guarantees its verdicts: a frame the codec rejects is never passed up as a valid advert, a
//! frame it accepts is never dropped, and both name the same reason.

use std::net::Ipv6Addr;

use aya::programs::{TestRun as _, TestRunOptions};
use proptest::prelude::*;
use tests::{
    fixtures,
    frames::{Advert, Checksum},
};
use vrrp_common::{
    maps::Counter,
    reject::Reject,
    wire::{ethernet, ipv4, ipv6, vlan, vrrp},
};
use vrrp_userspace::{
    dataplane::{Counters, Dataplane},
    wire::{
        ip::Ipv4Packet,
        vrrp::{Endpoints, IpContext, Packet, Repr},
    },
};

/// What happened to a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    NotVrrp,
    Valid,
    Rejected(Reject),
}

/// How sure the codec's verdict is: a frame cut short of its IP length never reaches a socket,
/// so only "it is dropped" is required of XDP there, not which check noticed first.
#[derive(Debug)]
struct Expected {
    verdict: Verdict,
    complete: bool,
}

fn codec_verdict(frame: &[u8]) -> Expected {
    let complete = |end: usize| end <= frame.len();
    let be16 = |at: usize| {
        frame
            .get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    // As the program: a frame too short for an IPv4 protocol field is not looked at.
    if frame.len() < ethernet::HEADER_LEN + ipv4::PROTOCOL + 1 {
        return Expected {
            verdict: Verdict::NotVrrp,
            complete: true,
        };
    }
    let mut l3 = ethernet::HEADER_LEN;
    let mut ethertype = be16(ethernet::ETHERTYPE);
    if matches!(
        ethertype,
        Some(ethernet::ETHERTYPE_VLAN | ethernet::ETHERTYPE_QINQ)
    ) {
        ethertype = be16(ethernet::HEADER_LEN + vlan::INNER_ETHERTYPE);
        l3 += vlan::TAG_LEN;
    }
    let ip = &frame[l3.min(frame.len())..];
    let not_vrrp = Expected {
        verdict: Verdict::NotVrrp,
        complete: true,
    };
    let (verdict, complete) = match ethertype {
        Some(ethernet::ETHERTYPE_IPV4) => {
            if ip.get(ipv4::PROTOCOL) != Some(&vrrp::IP_PROTOCOL) {
                return not_vrrp;
            }
            let total = be16(l3 + ipv4::TOTAL_LEN).map_or(usize::MAX, usize::from);
            let verdict = Ipv4Packet::new_checked(ip)
                .and_then(|p| {
                    let (ctx, payload) = p.vrrp_payload()?;
                    parse(payload, &ctx)
                })
                .map_or_else(Verdict::Rejected, |_| Verdict::Valid);
            (verdict, complete(l3.saturating_add(total)))
        }
        Some(ethernet::ETHERTYPE_IPV6) => {
            if ip.get(ipv6::NEXT_HEADER) != Some(&vrrp::IP_PROTOCOL) {
                return not_vrrp;
            }
            let Some(payload_len) = be16(l3 + ipv6::PAYLOAD_LEN).map(usize::from) else {
                return Expected {
                    verdict: Verdict::Rejected(Reject::Truncated),
                    complete: false,
                };
            };
            let end = ipv6::HEADER_LEN + payload_len;
            if ip.len() < end {
                return Expected {
                    verdict: Verdict::Rejected(Reject::Truncated),
                    complete: false,
                };
            }
            let addr = |at: usize| Ipv6Addr::from(<[u8; 16]>::try_from(&ip[at..at + 16]).unwrap());
            let ctx = IpContext {
                endpoints: Endpoints::V6 {
                    src: addr(ipv6::SRC),
                    dst: addr(ipv6::DST),
                },
                ttl: ip[ipv6::HOP_LIMIT],
            };
            let verdict = if payload_len < vrrp::HEADER_LEN {
                Verdict::Rejected(Reject::Truncated)
            } else {
                parse(&ip[ipv6::HEADER_LEN..end], &ctx)
                    .map_or_else(Verdict::Rejected, |_| Verdict::Valid)
            };
            (verdict, true)
        }
        _ => return not_vrrp,
    };
    Expected { verdict, complete }
}

fn parse(payload: &[u8], ctx: &IpContext) -> Result<Repr, Reject> {
    Repr::parse(&Packet::new_checked(payload)?, ctx)
}

struct Xdp {
    dp: Dataplane,
    counters: Counters,
}

impl Xdp {
    fn new() -> Self {
        tests::require_root();
        let dp = Dataplane::load().expect("loading the XDP program");
        let counters = dp.counters().unwrap();
        Xdp { dp, counters }
    }

    fn verdict(&mut self, frame: &[u8]) -> (u32, Verdict) {
        let opts = TestRunOptions {
            data_in: Some(frame),
            ..Default::default()
        };
        let action = self
            .dp
            .program()
            .unwrap()
            .test_run(opts)
            .expect("BPF_PROG_RUN")
            .return_value;
        let after = self.dp.counters().unwrap();
        let moved: Vec<Counter> = after
            .iter()
            .zip(self.counters.iter())
            .filter(|((_, a), (_, b))| a != b)
            .map(|((c, _), _)| c)
            .collect();
        self.counters = after;
        let verdict = match moved.as_slice() {
            [] => Verdict::NotVrrp,
            [Counter::Passed] => Verdict::Valid,
            [Counter::Rejected(r)] => Verdict::Rejected(*r),
            other => panic!("one frame moved several counters: {other:?}"),
        };
        (action, verdict)
    }
}

fn bases() -> Vec<Vec<u8>> {
    let mut frames: Vec<Vec<u8>> = ["v2-pass-ipv4", "v3-ipv4", "v3-ipv6", "v3-ipv4-priority0"]
        .iter()
        .map(|n| fixtures::frame(&format!("keepalived-2.2.7/{n}")))
        .collect();
    for a in [
        Advert::v2_ipv4(),
        Advert::v3_ipv4(),
        Advert {
            checksum: Checksum::WithoutPseudoHeader,
            ..Advert::v3_ipv4()
        },
        Advert::v3_ipv6(),
        Advert {
            addresses: 3,
            vlan: Some(7),
            ..Advert::v3_ipv4()
        },
        Advert {
            addresses: 2,
            vlan: Some(7),
            ..Advert::v3_ipv6()
        },
    ] {
        frames.push(a.build());
    }
    frames
}

#[derive(Clone, Debug)]
enum Mutation {
    Truncate(usize),
    Overwrite(usize, u8),
    Append(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0usize..200).prop_map(Mutation::Truncate),
        (0usize..200, any::<u8>()).prop_map(|(i, b)| Mutation::Overwrite(i, b)),
        prop::collection::vec(any::<u8>(), 1..8).prop_map(Mutation::Append),
    ]
}

fn apply(frame: &mut Vec<u8>, m: &Mutation) {
    match m {
        Mutation::Truncate(n) => frame.truncate((*n).max(ethernet::HEADER_LEN)),
        Mutation::Overwrite(i, b) => {
            if !frame.is_empty() {
                let i = i % frame.len();
                frame[i] = *b;
            }
        }
        Mutation::Append(bytes) => frame.extend_from_slice(bytes),
    }
}

fn check(xdp: &mut Xdp, frame: &[u8]) -> Result<(), TestCaseError> {
    let expected = codec_verdict(frame);
    let (action, got) = xdp.verdict(frame);
    let (pass, drop) = (2, 1);
    match expected.verdict {
        Verdict::Valid | Verdict::NotVrrp => prop_assert_eq!(action, pass),
        Verdict::Rejected(_) => prop_assert_eq!(action, drop, "{:?}: {:02x?}", expected, frame),
    }
    if expected.complete {
        prop_assert_eq!(got, expected.verdict, "frame {:02x?}", frame);
    } else {
        prop_assert!(
            matches!(got, Verdict::Rejected(_)),
            "{:?} for {:02x?}",
            got,
            frame
        );
    }
    Ok(())
}

#[test]
fn unmutated_bases_are_valid_in_both() {
    let mut xdp = Xdp::new();
    for frame in bases() {
        assert_eq!(codec_verdict(&frame).verdict, Verdict::Valid);
        assert_eq!(xdp.verdict(&frame), (2, Verdict::Valid));
    }
}

#[test]
fn every_truncation_is_judged_alike() {
    let mut xdp = Xdp::new();
    for base in bases() {
        for len in ethernet::HEADER_LEN..=base.len() {
            check(&mut xdp, &base[..len]).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_adverts_are_judged_alike(
        base in 0usize..10,
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        thread_local!(static XDP: std::cell::RefCell<Xdp> = std::cell::RefCell::new(Xdp::new()));
        let mut frame = bases()[base].clone();
        for m in &mutations {
            apply(&mut frame, m);
        }
        XDP.with(|x| check(&mut x.borrow_mut(), &frame))?;
    }

    #[test]
    fn random_frames_are_judged_alike(
        ethertype in prop_oneof![Just(0x0800u16), Just(0x86dd), Just(0x8100), any::<u16>()],
        mut body in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        thread_local!(static XDP: std::cell::RefCell<Xdp> = std::cell::RefCell::new(Xdp::new()));
        // Often enough an IP protocol of 112 to reach the VRRP checks.
        if body.len() > 9 && body[0] & 1 == 0 {
            body[9] = vrrp::IP_PROTOCOL;
            body[6] = vrrp::IP_PROTOCOL;
        }
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&ethertype.to_be_bytes());
        frame.extend_from_slice(&body);
        XDP.with(|x| check(&mut x.borrow_mut(), &frame))?;
    }
}
