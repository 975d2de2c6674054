//! Gratuitous ARP and unsolicited NA frames from arbitrary bytes: whatever parses must emit as
//! keepalived's frame, and that frame must parse to the same `Repr`. An NA whose checksum is
//! wrong is tried again with the checksum fixed: mutations almost never keep a checksum right,
//! and without the fix-up nothing behind the checksum check would be reached.
#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use vrrp_common::{
    checksum,
    wire::{ethernet, ipv6},
};
use vrrp_userspace::wire::{arp, ndisc};

const ICMPV6: usize = ethernet::HEADER_LEN + ipv6::HEADER_LEN;
/// RFC 4443 §2.1: every ICMPv6 message carries its checksum in bytes 2 and 3.
const ICMPV6_CHECKSUM: usize = ICMPV6 + 2;
const NEXT_HEADER_ICMPV6: u8 = 58;

fuzz_target!(|data: &[u8]| {
    round_trip(data, parse_arp, arp::Repr::to_frame);
    round_trip(data, parse_ndisc, ndisc::Repr::to_frame);
    if let Ok(packet) = ndisc::Packet::new_checked(data)
        && !packet.verify_checksum()
    {
        let fixed = checksum_fixed(data, &packet);
        let packet = ndisc::Packet::new_checked(&fixed[..]).expect("same lengths");
        assert!(packet.verify_checksum(), "{fixed:02x?}");
        round_trip(&fixed, parse_ndisc, ndisc::Repr::to_frame);
    }
});

fn parse_arp(data: &[u8]) -> Result<arp::Repr, arp::Error> {
    arp::Packet::new_checked(data).and_then(|p| arp::Repr::parse(&p))
}

fn parse_ndisc(data: &[u8]) -> Result<ndisc::Repr, ndisc::Error> {
    ndisc::Packet::new_checked(data).and_then(|p| ndisc::Repr::parse(&p))
}

fn round_trip<R: PartialEq + Debug, E: Debug, const N: usize>(
    data: &[u8],
    parse: impl Fn(&[u8]) -> Result<R, E>,
    to_frame: impl Fn(&R) -> [u8; N],
) {
    let Ok(repr) = parse(data) else {
        return;
    };
    let frame = to_frame(&repr);
    let again = parse(&frame)
        .unwrap_or_else(|e| panic!("{repr:?} emitted as {frame:02x?}, which gives {e:?}"));
    assert_eq!(again, repr);
}

/// `data` with the ICMPv6 checksum that its addresses and payload length call for; `check_len`
/// has made sure the checksum lies within the message.
fn checksum_fixed(data: &[u8], packet: &ndisc::Packet<&[u8]>) -> Vec<u8> {
    let mut fixed = data.to_vec();
    fixed[ICMPV6_CHECKSUM..ICMPV6_CHECKSUM + 2].fill(0);
    let message = &fixed[ICMPV6..ICMPV6 + usize::from(packet.payload_len())];
    let pseudo = checksum::pseudo_header_v6(
        packet.src_addr().octets(),
        packet.dst_addr().octets(),
        NEXT_HEADER_ICMPV6,
        message.len() as u32,
    );
    let sum = checksum::finish(checksum::sum(message, pseudo));
    fixed[ICMPV6_CHECKSUM..ICMPV6_CHECKSUM + 2].copy_from_slice(&sum.to_be_bytes());
    fixed
}
