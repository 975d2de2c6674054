//! The Internet checksum (RFC 1071) pieces that VRRP needs, and the pseudo-headers it covers.
//!
//! Sums are kept unfolded in a `u32`: a VRRP message is at most 4 KiB, 2048 words of at most
//! 0xffff, which cannot overflow 32 bits together with a pseudo-header.

/// Ones'-complement partial sum of `data` as big-endian 16-bit words, the odd tail padded.
pub fn sum(data: &[u8], mut acc: u32) -> u32 {
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        acc += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

/// Folds the carries of a partial sum into 16 bits (not complemented).
pub const fn fold(mut acc: u32) -> u16 {
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    acc as u16
}

/// A message whose checksum field is correct sums (with its pseudo-header, if any) to 0xffff.
pub const fn is_valid(acc: u32) -> bool {
    fold(acc) == 0xffff
}

/// The value to store in the checksum field, given the sum with that field zeroed.
pub const fn finish(acc: u32) -> u16 {
    !fold(acc)
}

/// Partial sum of the IPv4 pseudo-header for an upper-layer `protocol` message of `len` bytes
/// (RFC 5798 §5.2.8 refers to RFC 768's form).
pub const fn pseudo_header_v4(src: [u8; 4], dst: [u8; 4], protocol: u8, len: u16) -> u32 {
    u16::from_be_bytes([src[0], src[1]]) as u32
        + u16::from_be_bytes([src[2], src[3]]) as u32
        + u16::from_be_bytes([dst[0], dst[1]]) as u32
        + u16::from_be_bytes([dst[2], dst[3]]) as u32
        + protocol as u32
        + len as u32
}

/// Partial sum of the IPv6 pseudo-header for a `next_header` message of `len` bytes
/// (RFC 8200 §8.1).
pub const fn pseudo_header_v6(src: [u8; 16], dst: [u8; 16], next_header: u8, len: u32) -> u32 {
    let mut acc = (len >> 16) + (len & 0xffff) + next_header as u32;
    let mut i = 0;
    while i < 16 {
        acc += u16::from_be_bytes([src[i], src[i + 1]]) as u32;
        acc += u16::from_be_bytes([dst[i], dst[i + 1]]) as u32;
        i += 2;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to 0xddf2 after folding.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data, 0)), 0xddf2);
        assert_eq!(finish(sum(&data, 0)), !0xddf2);
    }

    #[test]
    fn odd_length_pads_the_last_byte() {
        assert_eq!(sum(&[0x12, 0x34, 0x56], 0), 0x1234 + 0x5600);
    }

    #[test]
    fn a_finished_message_validates() {
        let mut msg = [
            0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0x00, 0x00, 192, 0, 2, 100,
        ];
        let ph = pseudo_header_v4([192, 0, 2, 1], [224, 0, 0, 18], 112, msg.len() as u16);
        let c = finish(sum(&msg, ph));
        msg[6..8].copy_from_slice(&c.to_be_bytes());
        assert!(is_valid(sum(&msg, ph)));
        assert!(
            !is_valid(sum(&msg, 0)),
            "without the pseudo-header the sum differs"
        );
    }

    #[test]
    fn fold_handles_double_carry() {
        assert_eq!(fold(0x0001_ffff), 0x0001);
        assert_eq!(fold(0xffff_ffff), 0xffff);
    }

    #[test]
    fn pseudo_header_v6_counts_length_halves() {
        let z = [0u8; 16];
        assert_eq!(pseudo_header_v6(z, z, 112, 0x0001_0002), 1 + 2 + 112);
        let mut a = [0u8; 16];
        a[15] = 1;
        assert_eq!(pseudo_header_v6(a, a, 58, 0), 2 + 58);
    }
}
