//! The IPv4 header a raw `IPPROTO_VRRP` socket delivers ahead of each VRRP message.
//!
//! Only what judging the message needs: lengths, fragmentation, TTL and the two addresses. A
//! raw IPv6 socket delivers the payload alone (the hop limit comes as `IPV6_HOPLIMIT` ancillary
//! data), so IPv6 needs no view here.

use std::net::Ipv4Addr;

use vrrp_common::{
    reject::Reject,
    wire::{ipv4, vrrp},
};

use crate::wire::vrrp::{Endpoints, IpContext};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self, Reject> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// The header, its options and the total length all lie within the buffer. Bytes past the
    /// total length (none from a socket; Ethernet padding in a frame) are not part of the packet.
    pub fn check_len(&self) -> Result<(), Reject> {
        let len = self.buffer.as_ref().len();
        if len < ipv4::MIN_HEADER_LEN {
            return Err(Reject::Truncated);
        }
        let header_len = self.header_len();
        let total_len = usize::from(self.total_len());
        if header_len < ipv4::MIN_HEADER_LEN || total_len < header_len || total_len > len {
            return Err(Reject::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// IHL in bytes.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[ipv4::VER_IHL] & 0x0f) * 4
    }

    pub fn total_len(&self) -> u16 {
        self.be16(ipv4::TOTAL_LEN)
    }

    /// More fragments set, or a non-zero fragment offset.
    pub fn is_fragment(&self) -> bool {
        self.be16(ipv4::FLAGS_FRAG_OFFSET) & ipv4::FRAGMENT_MASK != 0
    }

    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[ipv4::TTL]
    }

    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[ipv4::PROTOCOL]
    }

    pub fn src_addr(&self) -> Ipv4Addr {
        self.addr(ipv4::SRC)
    }

    pub fn dst_addr(&self) -> Ipv4Addr {
        self.addr(ipv4::DST)
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }

    /// The VRRP message and the context to parse it in, after the checks that the XDP program
    /// makes at the IP layer, in its order: a payload too short for the VRRP header is
    /// `Truncated` before a fragment is a `Fragment`.
    pub fn vrrp_payload(&self) -> Result<(IpContext, &[u8]), Reject> {
        let payload = self.payload();
        if payload.len() < vrrp::HEADER_LEN {
            return Err(Reject::Truncated);
        }
        if self.is_fragment() {
            return Err(Reject::Fragment);
        }
        let ctx = IpContext {
            endpoints: Endpoints::V4 {
                src: self.src_addr(),
                dst: self.dst_addr(),
            },
            ttl: self.ttl(),
        };
        Ok((ctx, payload))
    }

    fn be16(&self, at: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    fn addr(&self, at: usize) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// keepalived's v3 advert from `tests/fixtures/keepalived-2.2.7/v3-ipv4.hex`, without Ethernet.
    const V3_IPV4: [u8; 32] = [
        0x45, 0xc0, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0x18, 0x99, 0xc0, 0x00, 0x02,
        0x01, 0xe0, 0x00, 0x00, 0x12, 0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0x05, 0x72, 0xc0, 0x00,
        0x02, 0x64,
    ];

    #[test]
    fn reads_the_header_keepalived_sends() {
        let p = Ipv4Packet::new_checked(&V3_IPV4[..]).unwrap();
        assert_eq!(
            (p.header_len(), p.total_len(), p.ttl(), p.protocol()),
            (20, 32, 255, 112)
        );
        assert_eq!(p.src_addr(), Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(224, 0, 0, 18));
        assert!(!p.is_fragment());
        let (ctx, payload) = p.vrrp_payload().unwrap();
        assert_eq!(ctx.ttl, 255);
        assert_eq!(ctx.endpoints.src(), Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(payload, &V3_IPV4[20..]);
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        let mut padded = V3_IPV4.to_vec();
        padded.extend_from_slice(&[0; 14]);
        let p = Ipv4Packet::new_checked(&padded[..]).unwrap();
        assert_eq!(p.payload(), &V3_IPV4[20..]);
    }

    #[test]
    fn options_move_the_payload() {
        let mut with_options = V3_IPV4.to_vec();
        with_options.splice(20..20, [0x94, 0x04, 0x00, 0x00]); // Router Alert
        with_options[0] = 0x46;
        with_options[3] = 36;
        let p = Ipv4Packet::new_checked(&with_options[..]).unwrap();
        assert_eq!(p.vrrp_payload().unwrap().1, &V3_IPV4[20..]);
    }

    #[test]
    fn rejects_truncated_headers_and_lengths() {
        assert_eq!(
            Ipv4Packet::new_checked(&V3_IPV4[..19]).unwrap_err(),
            Reject::Truncated
        );
        // Total length past the buffer.
        assert_eq!(
            Ipv4Packet::new_checked(&V3_IPV4[..31]).unwrap_err(),
            Reject::Truncated
        );
        let mut bad = V3_IPV4;
        bad[0] = 0x44; // IHL 16 bytes
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            Reject::Truncated
        );
        let mut bad = V3_IPV4;
        bad[3] = 19; // total length shorter than the header
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            Reject::Truncated
        );
        let mut short = V3_IPV4;
        short[3] = 27; // a VRRP payload of 7 bytes
        let p = Ipv4Packet::new_checked(&short[..]).unwrap();
        assert_eq!(p.vrrp_payload().unwrap_err(), Reject::Truncated);
    }

    #[test]
    fn rejects_fragments_after_truncation() {
        for flags in [[0x20, 0x00], [0x00, 0x01], [0x3f, 0xff]] {
            let mut frag = V3_IPV4;
            frag[6..8].copy_from_slice(&flags);
            let p = Ipv4Packet::new_checked(&frag[..]).unwrap();
            assert_eq!(p.vrrp_payload().unwrap_err(), Reject::Fragment, "{flags:?}");
        }
        // DF alone is not a fragment.
        let mut df = V3_IPV4;
        df[6] = 0x40;
        assert!(
            Ipv4Packet::new_checked(&df[..])
                .unwrap()
                .vrrp_payload()
                .is_ok()
        );
        // A fragment too short for a VRRP header is truncated first, as in the XDP program.
        let mut both = V3_IPV4;
        both[6] = 0x20;
        both[3] = 27;
        let p = Ipv4Packet::new_checked(&both[..]).unwrap();
        assert_eq!(p.vrrp_payload().unwrap_err(), Reject::Truncated);
    }

    #[test]
    fn no_prefix_panics() {
        for end in 0..V3_IPV4.len() {
            if let Ok(p) = Ipv4Packet::new_checked(&V3_IPV4[..end]) {
                let _ = p.vrrp_payload();
            }
        }
    }
}
