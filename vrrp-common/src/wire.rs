//! Field offsets and constants of the headers a VRRP advertisement travels in.
//!
//! Offsets are relative to the start of their own header. Multi-byte fields are big-endian.

/// Ethernet II (IEEE 802.3).
pub mod ethernet {
    pub const DST: usize = 0;
    pub const SRC: usize = 6;
    pub const ETHERTYPE: usize = 12;
    pub const HEADER_LEN: usize = 14;
    pub const ADDR_LEN: usize = 6;

    pub const ETHERTYPE_IPV4: u16 = 0x0800;
    pub const ETHERTYPE_ARP: u16 = 0x0806;
    pub const ETHERTYPE_IPV6: u16 = 0x86dd;
    pub const ETHERTYPE_VLAN: u16 = 0x8100;
    /// 802.1ad service tag; a single S-tag is handled like a C-tag.
    pub const ETHERTYPE_QINQ: u16 = 0x88a8;
}

/// One 802.1Q tag, following the source MAC; its last two bytes are the inner ethertype.
pub mod vlan {
    pub const TAG_LEN: usize = 4;
    pub const INNER_ETHERTYPE: usize = 2;
}

/// IPv4 (RFC 791).
pub mod ipv4 {
    pub const VER_IHL: usize = 0;
    pub const TOTAL_LEN: usize = 2;
    pub const FLAGS_FRAG_OFFSET: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
    pub const MIN_HEADER_LEN: usize = 20;
    pub const ADDR_LEN: usize = 4;
    /// The MF flag and the fragment offset: any bit set means this is a fragment.
    pub const FRAGMENT_MASK: u16 = 0x3fff;
}

/// IPv6 (RFC 8200).
pub mod ipv6 {
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
    pub const HEADER_LEN: usize = 40;
    pub const ADDR_LEN: usize = 16;
}

/// ARP for IPv4 over Ethernet (RFC 826); offsets relative to the start of the ARP packet.
pub mod arp {
    pub const HARDWARE_TYPE: usize = 0;
    pub const PROTOCOL_TYPE: usize = 2;
    pub const HARDWARE_LEN: usize = 4;
    pub const PROTOCOL_LEN: usize = 5;
    pub const OPERATION: usize = 6;
    pub const SENDER_HARDWARE_ADDR: usize = 8;
    pub const SENDER_PROTOCOL_ADDR: usize = 14;
    pub const TARGET_HARDWARE_ADDR: usize = 18;
    pub const TARGET_PROTOCOL_ADDR: usize = 24;
    pub const LEN: usize = 28;

    pub const HARDWARE_ETHERNET: u16 = 1;
    pub const OPERATION_REQUEST: u16 = 1;
    pub const OPERATION_REPLY: u16 = 2;
}

/// ICMPv6 (RFC 4443) and the neighbour discovery messages (RFC 4861 §4) xvrrp sends or looks
/// at; offsets relative to the start of the ICMPv6 message.
pub mod icmpv6 {
    pub const NEXT_HEADER: u8 = 58;

    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    /// Neighbor Advertisement: R, S and O flags.
    pub const FLAGS: usize = 4;
    pub const FLAG_ROUTER: u8 = 0x80;
    pub const FLAG_SOLICITED: u8 = 0x40;
    pub const FLAG_OVERRIDE: u8 = 0x20;
    /// Neighbor Solicitation and Advertisement: the address asked or told about.
    pub const TARGET: usize = 8;
    pub const OPTIONS: usize = 24;

    /// Router Solicitation, the first of the neighbour discovery types (133 to 137).
    pub const TYPE_ROUTER_SOLICIT: u8 = 133;
    pub const TYPE_NEIGHBOR_SOLICIT: u8 = 135;
    pub const TYPE_NEIGHBOR_ADVERT: u8 = 136;
    /// Redirect, the last of the neighbour discovery types.
    pub const TYPE_REDIRECT: u8 = 137;
}

/// VRRP (RFC 5798 §5.2 for version 3, RFC 3768 §5.3 for version 2).
pub mod vrrp {
    pub const IP_PROTOCOL: u8 = 112;
    /// RFC 5798 §5.1.1.3 / §5.1.2.3: sent with, and only accepted with, TTL / hop limit 255.
    pub const TTL: u8 = 255;
    pub const MULTICAST_V4: [u8; 4] = [224, 0, 0, 18];
    pub const MULTICAST_V6: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12];

    /// High nibble: version; low nibble: type.
    pub const VERSION_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const COUNT: usize = 3;
    /// Version 2: authentication type (one byte).
    pub const V2_AUTH_TYPE: usize = 4;
    /// Version 2: advertisement interval in seconds (one byte).
    pub const V2_ADVER_INT: usize = 5;
    /// Version 3: 4 reserved bits and a 12-bit Max Adver Int in centiseconds.
    pub const V3_MAX_ADVER_INT: usize = 4;
    pub const V3_MAX_ADVER_INT_MASK: u16 = 0x0fff;
    pub const CHECKSUM: usize = 6;
    pub const HEADER_LEN: usize = 8;
    /// Version 2 carries 8 bytes of authentication data after the addresses (RFC 3768 §5.3.10).
    pub const V2_AUTH_DATA_LEN: usize = 8;

    pub const TYPE_ADVERTISEMENT: u8 = 1;
    pub const VERSION_2: u8 = 2;
    pub const VERSION_3: u8 = 3;

    /// RFC 5798 §5.2.4: an owner of the addresses advertises 255; 0 means "master is leaving".
    pub const PRIORITY_OWNER: u8 = 255;
    pub const PRIORITY_STOP: u8 = 0;

    /// Length of the message that carries `count` addresses of `addr_len` bytes.
    pub const fn message_len(version: u8, count: u8, addr_len: usize) -> usize {
        let auth = if version == VERSION_2 {
            V2_AUTH_DATA_LEN
        } else {
            0
        };
        HEADER_LEN + count as usize * addr_len + auth
    }

    /// The largest message: 255 IPv6 addresses in version 3.
    pub const MAX_MESSAGE_LEN: usize = message_len(VERSION_3, 255, super::ipv6::ADDR_LEN);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_len_counts_addresses_and_v2_auth_data() {
        assert_eq!(vrrp::message_len(vrrp::VERSION_3, 1, ipv4::ADDR_LEN), 12);
        assert_eq!(vrrp::message_len(vrrp::VERSION_2, 1, ipv4::ADDR_LEN), 20);
        assert_eq!(vrrp::message_len(vrrp::VERSION_3, 2, ipv6::ADDR_LEN), 40);
        assert_eq!(
            vrrp::message_len(vrrp::VERSION_3, 0, ipv4::ADDR_LEN),
            vrrp::HEADER_LEN
        );
        assert_eq!(vrrp::MAX_MESSAGE_LEN, 8 + 255 * 16);
    }

    #[test]
    fn ipv6_headers_and_vrrp_fields_do_not_overlap() {
        assert_eq!(ipv6::DST + ipv6::ADDR_LEN, ipv6::HEADER_LEN);
        assert_eq!(ipv4::DST + ipv4::ADDR_LEN, ipv4::MIN_HEADER_LEN);
        assert_eq!(vrrp::CHECKSUM + 2, vrrp::HEADER_LEN);
        assert_eq!(ethernet::ETHERTYPE + 2, ethernet::HEADER_LEN);
    }
}
