//! Unsolicited Neighbor Advertisement: the Ethernet frame a new master multicasts so that
//! neighbours move a virtual IPv6 address to its MAC (RFC 4861 §7.2.6, RFC 5798 §6.4.2).
//!
//! The view covers Ethernet, IPv6 and ICMPv6, because xvrrp writes the frame to an `AF_PACKET`
//! socket as it stands (the kernel would not let an ICMPv6 socket send from a VIP that is
//! still tentative, and an `AF_PACKET` frame needs no route).
//!
//! keepalived 2.2.7 sends an 86-byte frame: Ethernet destination 33:33:00:00:00:01, source the
//! interface MAC; IPv6 with traffic class and flow label 0, hop limit 255, **source the VIP
//! itself**, destination ff02::1; ICMPv6 type 136 code 0 with Override set, Solicited clear,
//! Router set exactly when IPv6 forwarding is on for the interface, target the VIP, and one
//! Target Link-Layer Address option carrying the interface MAC. `Repr::emit` writes exactly
//! that frame.

use std::net::Ipv6Addr;

use vrrp_common::{
    checksum,
    wire::{ethernet, icmpv6 as field, ipv6},
};

/// RFC 4861 §7.1.2: a hop limit below 255 means the message crossed a router.
const HOP_LIMIT: u8 = 255;
const OPTION_TARGET_LINK_LAYER_ADDR: u8 = 2;
/// Options count their length in units of 8 bytes.
const OPTION_UNIT: usize = 8;
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// RFC 2464 §7: 33:33 followed by the low 32 bits of ff02::1.
const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];

const ICMP: usize = ethernet::HEADER_LEN + ipv6::HEADER_LEN;
/// The advertisement with one Target Link-Layer Address option for Ethernet.
const MESSAGE_LEN: usize = field::OPTIONS + OPTION_UNIT;
/// Length of the frame `Repr::emit` writes.
pub const FRAME_LEN: usize = ICMP + MESSAGE_LEN;

/// Why a frame is not an unsolicited Neighbor Advertisement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The frame ends before the fixed advertisement, or the IPv6 payload length runs past it.
    Truncated,
    /// Not IPv6 over Ethernet carrying ICMPv6 directly.
    NotIcmpv6,
    HopLimitNot255,
    /// Another ICMPv6 message, or code not 0.
    NotNeighborAdvertisement,
    BadChecksum,
    /// Solicited set, Override clear, or not sent to ff02::1: an answer, not an announcement.
    NotUnsolicited,
    /// An option of length 0 or running past the message (RFC 4861 §7.1.2 drops these).
    BadOption,
    /// No Target Link-Layer Address option for Ethernet, so nothing to learn.
    NoTargetLinkLayerAddr,
}

/// A zero-copy view of an Ethernet frame carrying an IPv6 ICMPv6 Neighbor Advertisement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// The fixed part of the advertisement fits, and so does the IPv6 payload length.
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < ICMP + field::OPTIONS {
            return Err(Error::Truncated);
        }
        let payload = usize::from(self.payload_len());
        if payload < field::OPTIONS || ICMP + payload > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn eth_dst(&self) -> [u8; 6] {
        self.mac(ethernet::DST)
    }

    pub fn eth_src(&self) -> [u8; 6] {
        self.mac(ethernet::SRC)
    }

    pub fn ethertype(&self) -> u16 {
        self.be16(ethernet::ETHERTYPE)
    }

    pub fn ip_version(&self) -> u8 {
        self.buffer.as_ref()[ethernet::HEADER_LEN] >> 4
    }

    pub fn payload_len(&self) -> u16 {
        self.be16(ethernet::HEADER_LEN + ipv6::PAYLOAD_LEN)
    }

    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[ethernet::HEADER_LEN + ipv6::NEXT_HEADER]
    }

    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[ethernet::HEADER_LEN + ipv6::HOP_LIMIT]
    }

    pub fn src_addr(&self) -> Ipv6Addr {
        self.ipv6(ethernet::HEADER_LEN + ipv6::SRC)
    }

    pub fn dst_addr(&self) -> Ipv6Addr {
        self.ipv6(ethernet::HEADER_LEN + ipv6::DST)
    }

    pub fn icmp_type(&self) -> u8 {
        self.buffer.as_ref()[ICMP + field::TYPE]
    }

    pub fn icmp_code(&self) -> u8 {
        self.buffer.as_ref()[ICMP + field::CODE]
    }

    pub fn router(&self) -> bool {
        self.flags() & field::FLAG_ROUTER != 0
    }

    pub fn solicited(&self) -> bool {
        self.flags() & field::FLAG_SOLICITED != 0
    }

    pub fn override_(&self) -> bool {
        self.flags() & field::FLAG_OVERRIDE != 0
    }

    pub fn target(&self) -> Ipv6Addr {
        self.ipv6(ICMP + field::TARGET)
    }

    /// The ICMPv6 message, up to the IPv6 payload length.
    pub fn message(&self) -> &[u8] {
        &self.buffer.as_ref()[ICMP..ICMP + usize::from(self.payload_len())]
    }

    /// The message sums to 0xffff together with its pseudo-header (RFC 4443 §2.3).
    pub fn verify_checksum(&self) -> bool {
        let message = self.message();
        let ph = pseudo_header(self.src_addr(), self.dst_addr(), message.len());
        checksum::is_valid(checksum::sum(message, ph))
    }

    /// The first Target Link-Layer Address option that holds an Ethernet address.
    pub fn target_link_layer_addr(&self) -> Result<Option<[u8; 6]>, Error> {
        let message = self.message();
        let mut options = &message[field::OPTIONS..];
        // Every option is at least 8 bytes, so this ends after at most len / 8 rounds.
        while !options.is_empty() {
            let &[kind, units, ..] = options else {
                return Err(Error::BadOption);
            };
            let len = usize::from(units) * OPTION_UNIT;
            if len == 0 || len > options.len() {
                return Err(Error::BadOption);
            }
            if kind == OPTION_TARGET_LINK_LAYER_ADDR && len == OPTION_UNIT {
                let mut mac = [0; 6];
                mac.copy_from_slice(&options[2..2 + ethernet::ADDR_LEN]);
                return Ok(Some(mac));
            }
            options = &options[len..];
        }
        Ok(None)
    }

    fn flags(&self) -> u8 {
        self.buffer.as_ref()[ICMP + field::FLAGS]
    }

    fn be16(&self, at: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    fn mac(&self, at: usize) -> [u8; 6] {
        let mut mac = [0; 6];
        mac.copy_from_slice(&self.buffer.as_ref()[at..at + ethernet::ADDR_LEN]);
        mac
    }

    fn ipv6(&self, at: usize) -> Ipv6Addr {
        let mut a = [0; 16];
        a.copy_from_slice(&self.buffer.as_ref()[at..at + ipv6::ADDR_LEN]);
        Ipv6Addr::from(a)
    }
}

/// The ICMPv6 pseudo-header (RFC 8200 §8.1).
fn pseudo_header(src: Ipv6Addr, dst: Ipv6Addr, len: usize) -> u32 {
    checksum::pseudo_header_v6(src.octets(), dst.octets(), field::NEXT_HEADER, len as u32)
}

/// An unsolicited Neighbor Advertisement: `mac` now holds `target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// The Target Link-Layer Address; also the Ethernet source when emitted.
    pub mac: [u8; 6],
    pub target: Ipv6Addr,
    /// The sender forwards IPv6 on this interface (RFC 4861 §4.4 "R").
    pub router: bool,
}

impl Repr {
    /// Checks what a receiving host checks (RFC 4861 §7.1.2) and that the advertisement is an
    /// announcement: to ff02::1, Override set, Solicited clear. The IPv6 source is not checked
    /// (keepalived sends from the target, other implementations from their link-local address).
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Self, Error> {
        packet.check_len()?;
        if packet.ethertype() != ethernet::ETHERTYPE_IPV6
            || packet.ip_version() != 6
            || packet.next_header() != field::NEXT_HEADER
        {
            return Err(Error::NotIcmpv6);
        }
        if packet.hop_limit() != HOP_LIMIT {
            return Err(Error::HopLimitNot255);
        }
        if packet.icmp_type() != field::TYPE_NEIGHBOR_ADVERT || packet.icmp_code() != 0 {
            return Err(Error::NotNeighborAdvertisement);
        }
        if !packet.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        if packet.dst_addr() != ALL_NODES || packet.solicited() || !packet.override_() {
            return Err(Error::NotUnsolicited);
        }
        let mac = packet
            .target_link_layer_addr()?
            .ok_or(Error::NoTargetLinkLayerAddr)?;
        Ok(Repr {
            mac,
            target: packet.target(),
            router: packet.router(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        FRAME_LEN
    }

    /// Writes keepalived's frame (see the module documentation) into the first
    /// `buffer_len()` bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        let target = self.target.octets();
        let b = &mut packet.buffer.as_mut()[..FRAME_LEN];
        b[ethernet::DST..ethernet::DST + 6].copy_from_slice(&ALL_NODES_MAC);
        b[ethernet::SRC..ethernet::SRC + 6].copy_from_slice(&self.mac);
        b[ethernet::ETHERTYPE..ethernet::ETHERTYPE + 2]
            .copy_from_slice(&ethernet::ETHERTYPE_IPV6.to_be_bytes());

        let ip = &mut b[ethernet::HEADER_LEN..ICMP];
        // Version 6; traffic class and flow label 0, as keepalived sends.
        ip[..ipv6::PAYLOAD_LEN].copy_from_slice(&[0x60, 0, 0, 0]);
        ip[ipv6::PAYLOAD_LEN..ipv6::PAYLOAD_LEN + 2]
            .copy_from_slice(&(MESSAGE_LEN as u16).to_be_bytes());
        ip[ipv6::NEXT_HEADER] = field::NEXT_HEADER;
        ip[ipv6::HOP_LIMIT] = HOP_LIMIT;
        ip[ipv6::SRC..ipv6::SRC + 16].copy_from_slice(&target);
        ip[ipv6::DST..ipv6::DST + 16].copy_from_slice(&ALL_NODES.octets());

        let icmp = &mut b[ICMP..];
        icmp[field::TYPE] = field::TYPE_NEIGHBOR_ADVERT;
        icmp[field::CODE] = 0;
        icmp[field::CHECKSUM..field::CHECKSUM + 2].fill(0);
        let router = if self.router { field::FLAG_ROUTER } else { 0 };
        icmp[field::FLAGS..field::TARGET].copy_from_slice(&[
            router | field::FLAG_OVERRIDE,
            0,
            0,
            0,
        ]);
        icmp[field::TARGET..field::OPTIONS].copy_from_slice(&target);
        let option = &mut icmp[field::OPTIONS..MESSAGE_LEN];
        option[0] = OPTION_TARGET_LINK_LAYER_ADDR;
        option[1] = 1;
        option[2..].copy_from_slice(&self.mac);

        let ph = pseudo_header(self.target, ALL_NODES, MESSAGE_LEN);
        let sum = checksum::finish(checksum::sum(&icmp[..MESSAGE_LEN], ph));
        icmp[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&sum.to_be_bytes());
    }

    /// The frame as a fresh buffer.
    pub fn to_frame(&self) -> [u8; FRAME_LEN] {
        let mut frame = Packet::new_unchecked([0; FRAME_LEN]);
        self.emit(&mut frame);
        frame.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from keepalived 2.2.7 (interface MAC 02:00:00:00:0a:01, VIP 2001:db8::100,
    /// forwarding off) with tcpdump on the peer of a veth pair.
    const KEEPALIVED_NA: [u8; 86] = [
        0x33, 0x33, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x01, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0x00, 0xed, 0x2c, 0x20, 0x00,
        0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x01,
    ];

    const REPR: Repr = Repr {
        mac: [0x02, 0x00, 0x00, 0x00, 0x0a, 0x01],
        target: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100),
        router: false,
    };

    fn parse(frame: &[u8]) -> Result<Repr, Error> {
        Repr::parse(&Packet::new_unchecked(frame))
    }

    /// Recomputes the checksum after a test changed a covered field.
    fn refresh_checksum(frame: &mut [u8]) {
        frame[ICMP + 2..ICMP + 4].fill(0);
        let p = Packet::new_unchecked(&*frame);
        let ph = pseudo_header(p.src_addr(), p.dst_addr(), p.message().len());
        let sum = checksum::finish(checksum::sum(p.message(), ph));
        frame[ICMP + 2..ICMP + 4].copy_from_slice(&sum.to_be_bytes());
    }

    #[test]
    fn emits_the_frame_keepalived_sends() {
        assert_eq!(REPR.buffer_len(), KEEPALIVED_NA.len());
        assert_eq!(REPR.to_frame(), KEEPALIVED_NA);
    }

    #[test]
    fn parses_keepalived_frame() {
        let p = Packet::new_checked(&KEEPALIVED_NA[..]).unwrap();
        assert_eq!(
            (p.hop_limit(), p.src_addr(), p.dst_addr()),
            (255, REPR.target, ALL_NODES)
        );
        assert!(p.override_() && !p.solicited() && !p.router());
        assert!(p.verify_checksum());
        assert_eq!(parse(&KEEPALIVED_NA), Ok(REPR));
    }

    #[test]
    fn router_flag_round_trips_with_a_valid_checksum() {
        let repr = Repr {
            router: true,
            ..REPR
        };
        let frame = repr.to_frame();
        assert_eq!(frame[ICMP + field::FLAGS], 0xa0);
        assert_eq!(parse(&frame), Ok(repr));
    }

    #[test]
    fn finds_the_target_option_among_others() {
        let mut frame = KEEPALIVED_NA.to_vec();
        // A nonce option (type 14, 8 bytes) ahead of the link-layer address.
        frame.splice(
            ICMP + field::OPTIONS..ICMP + field::OPTIONS,
            [14, 1, 1, 2, 3, 4, 5, 6],
        );
        frame[ethernet::HEADER_LEN + 5] = 40;
        refresh_checksum(&mut frame);
        assert_eq!(parse(&frame), Ok(REPR));
    }

    #[test]
    fn rejects_what_a_host_would_drop_or_not_learn_from() {
        assert_eq!(parse(&KEEPALIVED_NA[..ICMP + 23]), Err(Error::Truncated));
        // Payload length past the frame.
        assert_eq!(parse(&KEEPALIVED_NA[..85]), Err(Error::Truncated));

        let mut ipv4 = KEEPALIVED_NA;
        ipv4[13] = 0x00;
        assert_eq!(parse(&ipv4), Err(Error::NotIcmpv6));

        let mut routed = KEEPALIVED_NA;
        routed[ethernet::HEADER_LEN + 7] = 254;
        assert_eq!(parse(&routed), Err(Error::HopLimitNot255));

        let mut ns = KEEPALIVED_NA;
        ns[ICMP] = 135;
        assert_eq!(parse(&ns), Err(Error::NotNeighborAdvertisement));

        let mut corrupt = KEEPALIVED_NA;
        corrupt[ICMP + 23] ^= 1;
        assert_eq!(parse(&corrupt), Err(Error::BadChecksum));

        let mut solicited = KEEPALIVED_NA;
        solicited[ICMP + field::FLAGS] = field::FLAG_SOLICITED | field::FLAG_OVERRIDE;
        refresh_checksum(&mut solicited);
        assert_eq!(parse(&solicited), Err(Error::NotUnsolicited));

        let mut no_override = KEEPALIVED_NA;
        no_override[ICMP + field::FLAGS] = 0;
        refresh_checksum(&mut no_override);
        assert_eq!(parse(&no_override), Err(Error::NotUnsolicited));

        let mut zero_len = KEEPALIVED_NA;
        zero_len[ICMP + field::OPTIONS + 1] = 0;
        refresh_checksum(&mut zero_len);
        assert_eq!(parse(&zero_len), Err(Error::BadOption));

        let mut source_option = KEEPALIVED_NA;
        source_option[ICMP + field::OPTIONS] = 1;
        refresh_checksum(&mut source_option);
        assert_eq!(parse(&source_option), Err(Error::NoTargetLinkLayerAddr));

        let mut bare = KEEPALIVED_NA[..ICMP + field::OPTIONS].to_vec();
        bare[ethernet::HEADER_LEN + 5] = 24;
        refresh_checksum(&mut bare);
        assert_eq!(parse(&bare), Err(Error::NoTargetLinkLayerAddr));
    }

    #[test]
    fn no_prefix_panics() {
        for end in 0..KEEPALIVED_NA.len() {
            let _ = parse(&KEEPALIVED_NA[..end]);
        }
    }
}
