//! VRRP messages from arbitrary bytes, read two ways:
//!
//! - the whole input as the IPv4 packet a raw socket delivers (`Ipv4Packet::vrrp_payload`);
//! - a small header that picks the IP context, then the message: byte 0 holds flags (bit 0:
//!   IPv6; bit 1: emit v3-over-IPv4 without the pseudo-header; high nibble: subtracted from the
//!   TTL, so that 0 means 255), then the source address (4 or 16 bytes); the destination is
//!   the VRRP multicast group.
//!
//! Whatever parses must emit, and the emitted message must parse to the same `Repr`. A message
//! whose checksum is wrong is also tried with the checksum `fill_checksum` computes, which must
//! then verify: mutations almost never keep a checksum right, and without the fix-up nothing
//! behind the checksum check would be reached.
#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use vrrp_common::wire::vrrp as field;
use vrrp_userspace::wire::{
    ip::Ipv4Packet,
    vrrp::{EmitError, Endpoints, IpContext, Packet, Repr, V3Ipv4Checksum},
};

fuzz_target!(|data: &[u8]| {
    if let Ok(ip) = Ipv4Packet::new_checked(data)
        && let Ok((ctx, payload)) = ip.vrrp_payload()
    {
        check(payload, &ctx, V3Ipv4Checksum::WithPseudoHeader);
    }
    if let Some((ctx, mode, message)) = context(data) {
        check(message, &ctx, mode);
    }
});

fn context(data: &[u8]) -> Option<(IpContext, V3Ipv4Checksum, &[u8])> {
    let (&flags, rest) = data.split_first()?;
    let (endpoints, message) = if flags & 1 == 0 {
        let (src, message) = rest.split_first_chunk::<4>()?;
        let endpoints = Endpoints::V4 {
            src: Ipv4Addr::from(*src),
            dst: field::MULTICAST_V4.into(),
        };
        (endpoints, message)
    } else {
        let (src, message) = rest.split_first_chunk::<16>()?;
        let endpoints = Endpoints::V6 {
            src: Ipv6Addr::from(*src),
            dst: field::MULTICAST_V6.into(),
        };
        (endpoints, message)
    };
    let mode = if flags & 2 == 0 {
        V3Ipv4Checksum::WithPseudoHeader
    } else {
        V3Ipv4Checksum::MessageOnly
    };
    let ttl = field::TTL - (flags >> 4);
    Some((IpContext { endpoints, ttl }, mode, message))
}

fn check(message: &[u8], ctx: &IpContext, mode: V3Ipv4Checksum) {
    round_trip(message, ctx, mode);
    let packet = Packet::new_unchecked(message);
    let summable = packet.check_len().is_ok() && packet.check_body(ctx.endpoints.family()).is_ok();
    if summable && !packet.verify_checksum(&ctx.endpoints) {
        let mut fixed = message.to_vec();
        let mut packet = Packet::new_unchecked(&mut fixed[..]);
        packet.fill_checksum(&ctx.endpoints, mode);
        assert!(packet.verify_checksum(&ctx.endpoints), "{fixed:02x?}");
        round_trip(&fixed, ctx, mode);
    }
}

/// Stale bytes after an emitted message, as in a reused buffer: emit must leave them alone,
/// and parse must neither sum nor read them.
const TRAILER: u8 = 0xa5;

fn round_trip(message: &[u8], ctx: &IpContext, mode: V3Ipv4Checksum) {
    let packet = Packet::new_unchecked(message);
    let Ok(repr) = Repr::parse(&packet, ctx) else {
        return;
    };
    let len = repr.buffer_len();
    assert_eq!(
        len,
        packet.message_len(ctx.endpoints.family()),
        "emit writes the message the header described"
    );

    let mut short = vec![0; len - 1];
    assert_eq!(
        repr.emit(&mut Packet::new_unchecked(&mut short), &ctx.endpoints, mode),
        Err(EmitError::BufferTooShort)
    );

    let mut emitted = vec![TRAILER; len + 3];
    repr.emit(
        &mut Packet::new_unchecked(&mut emitted),
        &ctx.endpoints,
        mode,
    )
    .unwrap_or_else(|e| panic!("{repr:?} parsed but does not emit: {e}"));
    assert!(
        emitted[len..].iter().all(|&b| b == TRAILER),
        "{emitted:02x?}"
    );
    let again = Repr::parse(&Packet::new_unchecked(&emitted[..]), ctx)
        .unwrap_or_else(|r| panic!("{repr:?} emitted as {emitted:02x?}, which parses as {r:?}"));
    assert_eq!(again, repr, "emitted as {emitted:02x?}");
}
