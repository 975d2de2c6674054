//! Validation of a VRRP advertisement inside an IPv4 or IPv6 packet.
//!
//! The checks and their order match the userspace codec: truncation, fragment, TTL, version,
//! type, address count, checksum, interval. The first failing check names the rejection.

use aya_ebpf::programs::XdpContext;
use vrrp_common::{
    checksum,
    maps::{FAMILY_IPV4, FAMILY_IPV6},
    reject::Reject,
    wire::{ethernet, ipv4, ipv6, vrrp},
};

use crate::frame;

/// What a valid advert tells, before it meets the liveness map.
pub struct Advert {
    pub family: u8,
    pub vrid: u8,
    pub priority: u8,
    pub version: u8,
    pub interval_cs: u16,
    pub sender: [u8; 16],
    pub sender_mac: [u8; 6],
}

/// `l3` is the offset of the IPv4 header, whose protocol is already known to be VRRP.
#[inline(always)]
pub fn parse_v4(ctx: &XdpContext, l3: usize) -> Result<Advert, Reject> {
    let ver_ihl = frame::u8_at(ctx, l3 + ipv4::VER_IHL).ok_or(Reject::Truncated)?;
    let ihl = usize::from(ver_ihl & 0x0f) * 4;
    let total_len =
        usize::from(frame::be16_at(ctx, l3 + ipv4::TOTAL_LEN).ok_or(Reject::Truncated)?);
    // The IP stack drops a packet longer than its frame; so must we, before it updates the
    // liveness map.
    if ihl < ipv4::MIN_HEADER_LEN
        || total_len < ihl + vrrp::HEADER_LEN
        || !frame::holds(ctx, l3 + total_len)
    {
        return Err(Reject::Truncated);
    }
    let frag = frame::be16_at(ctx, l3 + ipv4::FLAGS_FRAG_OFFSET).ok_or(Reject::Truncated)?;
    if frag & ipv4::FRAGMENT_MASK != 0 {
        return Err(Reject::Fragment);
    }
    if frame::u8_at(ctx, l3 + ipv4::TTL) != Some(vrrp::TTL) {
        return Err(Reject::TtlNot255);
    }
    let src: [u8; 4] = frame::bytes_at::<2, 4>(ctx, l3 + ipv4::SRC).ok_or(Reject::Truncated)?;
    let dst: [u8; 4] = frame::bytes_at::<2, 4>(ctx, l3 + ipv4::DST).ok_or(Reject::Truncated)?;
    let header = Header::read(ctx, l3 + ihl, total_len - ihl, ipv4::ADDR_LEN, true)?;
    let len = header.message_len;
    let sum = header.sum_message(ctx, l3 + ihl)?;
    // Version 2 sums the message alone. Version 3 over IPv4: RFC 5798 adds the pseudo-header,
    // but implementations differ (keepalived and Cisco), so either form is accepted; the
    // RFC's form is tried first.
    let valid = if header.version == vrrp::VERSION_3 {
        let pseudo = checksum::pseudo_header_v4(src, dst, vrrp::IP_PROTOCOL, len as u16);
        checksum::is_valid(sum + pseudo) || checksum::is_valid(sum)
    } else {
        checksum::is_valid(sum)
    };
    if !valid {
        return Err(Reject::BadChecksum);
    }
    let mut sender = [0u8; 16];
    sender[..4].copy_from_slice(&src);
    header.into_advert(ctx, FAMILY_IPV4, sender)
}

/// `l3` is the offset of the IPv6 header, whose next header is already known to be VRRP.
#[inline(always)]
pub fn parse_v6(ctx: &XdpContext, l3: usize) -> Result<Advert, Reject> {
    let payload_len =
        usize::from(frame::be16_at(ctx, l3 + ipv6::PAYLOAD_LEN).ok_or(Reject::Truncated)?);
    let vrrp_start = l3 + ipv6::HEADER_LEN;
    if payload_len < vrrp::HEADER_LEN || !frame::holds(ctx, vrrp_start + payload_len) {
        return Err(Reject::Truncated);
    }
    if frame::u8_at(ctx, l3 + ipv6::HOP_LIMIT) != Some(vrrp::TTL) {
        return Err(Reject::TtlNot255);
    }
    let src: [u8; 16] = frame::bytes_at::<8, 16>(ctx, l3 + ipv6::SRC).ok_or(Reject::Truncated)?;
    let dst: [u8; 16] = frame::bytes_at::<8, 16>(ctx, l3 + ipv6::DST).ok_or(Reject::Truncated)?;
    let header = Header::read(ctx, vrrp_start, payload_len, ipv6::ADDR_LEN, false)?;
    let len = header.message_len;
    let sum = header.sum_message(ctx, vrrp_start)?;
    if !checksum::is_valid(
        sum + checksum::pseudo_header_v6(src, dst, vrrp::IP_PROTOCOL, len as u32),
    ) {
        return Err(Reject::BadChecksum);
    }
    header.into_advert(ctx, FAMILY_IPV6, src)
}

/// The fixed VRRP header, checked for version, type and address count.
struct Header {
    /// What the fixed header and `count` add up to: the bytes the checksum covers. A sender
    /// that appended bytes after it gets a bad checksum, as its sum covered them.
    message_len: usize,
    /// Partial checksum of the fixed header, summed from the words already read.
    sum: u32,
    version: u8,
    vrid: u8,
    priority: u8,
    interval_cs: u16,
}

impl Header {
    #[inline(always)]
    fn read(
        ctx: &XdpContext,
        at: usize,
        len: usize,
        addr_len: usize,
        v2_allowed: bool,
    ) -> Result<Self, Reject> {
        let words =
            frame::words_at::<{ vrrp::HEADER_LEN / 2 }>(ctx, at).ok_or(Reject::Truncated)?;
        // SAFETY: the same bytes, as the frame holds them.
        let fixed: [u8; vrrp::HEADER_LEN] = unsafe { core::mem::transmute(words) };
        let version = fixed[vrrp::VERSION_TYPE] >> 4;
        if !(version == vrrp::VERSION_3 || version == vrrp::VERSION_2 && v2_allowed) {
            return Err(Reject::UnsupportedVersion);
        }
        if fixed[vrrp::VERSION_TYPE] & 0x0f != vrrp::TYPE_ADVERTISEMENT {
            return Err(Reject::UnknownType);
        }
        let message_len = vrrp::message_len(version, fixed[vrrp::COUNT], addr_len);
        if len < message_len {
            return Err(Reject::CountExceedsLength);
        }
        let interval_cs = if version == vrrp::VERSION_2 {
            u16::from(fixed[vrrp::V2_ADVER_INT]) * 100
        } else {
            u16::from_be_bytes([
                fixed[vrrp::V3_MAX_ADVER_INT],
                fixed[vrrp::V3_MAX_ADVER_INT + 1],
            ]) & vrrp::V3_MAX_ADVER_INT_MASK
        };
        let mut sum = 0;
        let mut i = 0;
        while i < words.len() {
            sum += u32::from(u16::from_be(words[i]));
            i += 1;
        }
        Ok(Self {
            message_len,
            sum,
            version,
            vrid: fixed[vrrp::VRID],
            priority: fixed[vrrp::PRIORITY],
            interval_cs,
        })
    }

    /// The interval is checked last so that a corrupted message counts as a bad checksum.
    #[inline(always)]
    fn into_advert(self, ctx: &XdpContext, family: u8, sender: [u8; 16]) -> Result<Advert, Reject> {
        if self.interval_cs == 0 {
            return Err(Reject::ZeroInterval);
        }
        let sender_mac = frame::bytes_at::<3, 6>(ctx, ethernet::SRC).ok_or(Reject::Truncated)?;
        Ok(Advert {
            family,
            vrid: self.vrid,
            priority: self.priority,
            version: self.version,
            interval_cs: self.interval_cs,
            sender,
            sender_mac,
        })
    }
}

impl Header {
    /// Ones'-complement partial sum of the message at `at` (`message_len` bytes): the fixed
    /// header's sum, then the words after it.
    ///
    /// `message_len` is a multiple of 4 no larger than `MAX_MESSAGE_LEN`, so one bounded loop
    /// over pairs of 16-bit words covers the rest. Each read is bounds-checked for the
    /// verifier.
    #[inline(always)]
    fn sum_message(&self, ctx: &XdpContext, at: usize) -> Result<u32, Reject> {
        const MAX_WORDS: usize = (vrrp::MAX_MESSAGE_LEN - vrrp::HEADER_LEN) / 4;
        let words = (self.message_len - vrrp::HEADER_LEN) / 4;
        let mut acc = self.sum;
        let mut i = 0;
        while i < MAX_WORDS && i < words {
            // Opaque to LLVM, which would otherwise fold the per-read checks into one check
            // before the loop; the verifier only accepts a check next to each read.
            let offset = core::hint::black_box(at + vrrp::HEADER_LEN + i * 4);
            let [hi, lo] = frame::words_at::<2>(ctx, offset).ok_or(Reject::Truncated)?;
            acc += u32::from(u16::from_be(hi)) + u32::from(u16::from_be(lo));
            i += 1;
        }
        Ok(acc)
    }
}
