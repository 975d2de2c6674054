//! Hand-built Ethernet frames for BPF_PROG_RUN tests: adverts that are valid or broken in one
//! chosen way, and ordinary traffic.
//!
//! Deliberately independent of the userspace codec, so that a bug there cannot hide the same
//! bug in the XDP program: offsets and checksum arithmetic come from vrrp-common alone.

use vrrp_common::{
    checksum,
    wire::{ethernet, icmpv6, ipv4, ipv6, vrrp},
};

pub const PEER_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x02];
/// The source of ordinary traffic: a client, neither router.
pub const CLIENT_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0xc1];
pub const V4_SRC: [u8; 4] = [192, 0, 2, 2];
pub const V6_SRC: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    /// As RFC 5798 / RFC 3768 say for the version and family.
    Correct,
    /// v3 over IPv4 computed without the pseudo-header (some implementations do this).
    WithoutPseudoHeader,
    Corrupt,
}

/// A VRRP advert in an Ethernet frame, with every field a test may want to break.
#[derive(Clone, Debug)]
pub struct Advert {
    pub family: Family,
    pub version: u8,
    pub kind: u8,
    pub vrid: u8,
    pub priority: u8,
    /// The raw interval field: seconds in v2, centiseconds in v3.
    pub interval: u16,
    /// Addresses actually carried.
    pub addresses: u8,
    /// The count field, when it should disagree with `addresses`.
    pub count: Option<u8>,
    pub ttl: u8,
    pub vlan: Option<u16>,
    pub checksum: Checksum,
    pub src_mac: [u8; 6],
    pub src: [u8; 16],
    /// Cut the frame to this many bytes, leaving the IP length field as it was.
    pub truncate_to: Option<usize>,
    pub fragment: bool,
    /// Bytes appended to the IP payload after the VRRP message (outside its checksum).
    pub trailing: usize,
}

impl Advert {
    pub fn v3_ipv4() -> Self {
        let mut src = [0u8; 16];
        src[..4].copy_from_slice(&V4_SRC);
        Advert {
            family: Family::V4,
            version: 3,
            kind: vrrp::TYPE_ADVERTISEMENT,
            vrid: 51,
            priority: 100,
            interval: 100,
            addresses: 1,
            count: None,
            ttl: 255,
            vlan: None,
            checksum: Checksum::Correct,
            src_mac: PEER_MAC,
            src,
            truncate_to: None,
            fragment: false,
            trailing: 0,
        }
    }

    pub fn v2_ipv4() -> Self {
        Advert {
            version: 2,
            interval: 1,
            ..Self::v3_ipv4()
        }
    }

    pub fn v3_ipv6() -> Self {
        Advert {
            family: Family::V6,
            src: V6_SRC,
            ..Self::v3_ipv4()
        }
    }

    pub fn build(&self) -> Vec<u8> {
        let mut message = self.message();
        message.resize(message.len() + self.trailing, 0xee);
        let mut frame = l2_header(self.src_mac, self.vlan, self.ethertype());
        match self.family {
            Family::V4 => {
                let mut ip = ipv4_header(self.src4(), vrrp::MULTICAST_V4, self.ttl, message.len());
                if self.fragment {
                    ip[ipv4::FLAGS_FRAG_OFFSET] |= 0x20;
                    set_ipv4_checksum(&mut ip);
                }
                frame.extend_from_slice(&ip);
            }
            Family::V6 => {
                frame.extend_from_slice(&[0x60, 0, 0, 0]);
                frame.extend_from_slice(&(message.len() as u16).to_be_bytes());
                frame.extend_from_slice(&[vrrp::IP_PROTOCOL, self.ttl]);
                frame.extend_from_slice(&self.src);
                frame.extend_from_slice(&vrrp::MULTICAST_V6);
            }
        }
        frame.extend_from_slice(&message);
        if let Some(n) = self.truncate_to {
            frame.truncate(n);
        }
        frame
    }

    fn ethertype(&self) -> u16 {
        match self.family {
            Family::V4 => ethernet::ETHERTYPE_IPV4,
            Family::V6 => ethernet::ETHERTYPE_IPV6,
        }
    }

    fn src4(&self) -> [u8; 4] {
        [self.src[0], self.src[1], self.src[2], self.src[3]]
    }

    fn message(&self) -> Vec<u8> {
        let addr_len = match self.family {
            Family::V4 => ipv4::ADDR_LEN,
            Family::V6 => ipv6::ADDR_LEN,
        };
        let mut m = vec![0u8; vrrp::HEADER_LEN];
        m[vrrp::VERSION_TYPE] = self.version << 4 | self.kind;
        m[vrrp::VRID] = self.vrid;
        m[vrrp::PRIORITY] = self.priority;
        m[vrrp::COUNT] = self.count.unwrap_or(self.addresses);
        if self.version == vrrp::VERSION_2 {
            m[vrrp::V2_AUTH_TYPE] = 0;
            m[vrrp::V2_ADVER_INT] = self.interval as u8;
        } else {
            m[vrrp::V3_MAX_ADVER_INT..][..2].copy_from_slice(&self.interval.to_be_bytes());
        }
        for i in 0..self.addresses {
            // 192.0.2.i or 2001:db8::1:i.
            let mut a = vec![0u8; addr_len];
            if addr_len == 4 {
                a.copy_from_slice(&[192, 0, 2, i]);
            } else {
                a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                a[14] = 1;
                a[15] = i;
            }
            m.extend_from_slice(&a);
        }
        if self.version == vrrp::VERSION_2 {
            m.extend_from_slice(&[0; vrrp::V2_AUTH_DATA_LEN]);
        }
        let pseudo = match (self.family, self.version, self.checksum) {
            (_, vrrp::VERSION_2, _) | (_, _, Checksum::WithoutPseudoHeader) => 0,
            (Family::V4, _, _) => checksum::pseudo_header_v4(
                self.src4(),
                vrrp::MULTICAST_V4,
                vrrp::IP_PROTOCOL,
                m.len() as u16,
            ),
            (Family::V6, _, _) => checksum::pseudo_header_v6(
                self.src,
                vrrp::MULTICAST_V6,
                vrrp::IP_PROTOCOL,
                m.len() as u32,
            ),
        };
        let mut c = checksum::finish(checksum::sum(&m, pseudo));
        if self.checksum == Checksum::Corrupt {
            c ^= 0x0100;
        }
        m[vrrp::CHECKSUM..][..2].copy_from_slice(&c.to_be_bytes());
        m
    }
}

/// The VIP that `udp` and the neighbour queries are for.
pub const VIP_V4: [u8; 4] = [192, 0, 2, 100];
pub const VIP_V6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];

/// A UDP datagram from a client to 192.0.2.100:9 (or [2001:db8::100]:9): the traffic a VIP
/// carries.
pub fn udp(family: Family) -> Vec<u8> {
    let payload = [0u8; 18];
    let mut udp = Vec::from(9000u16.to_be_bytes());
    udp.extend_from_slice(&9u16.to_be_bytes());
    udp.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(&payload);
    match family {
        Family::V4 => {
            let mut f = l2_header(CLIENT_MAC, None, ethernet::ETHERTYPE_IPV4);
            let mut ip = ipv4_header(V4_SRC, VIP_V4, 64, udp.len());
            ip[ipv4::PROTOCOL] = 17;
            set_ipv4_checksum(&mut ip);
            f.extend_from_slice(&ip);
            f.extend_from_slice(&udp);
            f
        }
        Family::V6 => {
            let mut f = l2_header(CLIENT_MAC, None, ethernet::ETHERTYPE_IPV6);
            f.extend_from_slice(&[0x60, 0, 0, 0]);
            f.extend_from_slice(&(udp.len() as u16).to_be_bytes());
            f.extend_from_slice(&[17, 64]);
            f.extend_from_slice(&V6_SRC);
            f.extend_from_slice(&VIP_V6);
            f.extend_from_slice(&udp);
            f
        }
    }
}

/// An ARP request from a client: who has 192.0.2.100?
pub fn arp_request() -> Vec<u8> {
    let mut f = l2_header(CLIENT_MAC, None, ethernet::ETHERTYPE_ARP);
    f[..6].copy_from_slice(&[0xff; 6]);
    f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&V4_SRC);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&VIP_V4);
    f
}

/// A neighbour solicitation from a client for 2001:db8::100, to its solicited-node group.
pub fn neighbour_solicit() -> Vec<u8> {
    let solicited_node = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 1, 0];
    let header = [icmpv6::TYPE_NEIGHBOR_SOLICIT, 0, 0, 0, 0, 0, 0, 0];
    neighbour_discovery(CLIENT_MAC, V6_SRC, solicited_node, header)
}

/// A neighbour advertisement for 2001:db8::100 from the peer, to all nodes: the peer announcing
/// the VIP as a new master does, or (`solicited`) answering someone's solicitation for it.
pub fn neighbour_advert(solicited: bool) -> Vec<u8> {
    let all_nodes = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let flags = icmpv6::FLAG_OVERRIDE | if solicited { icmpv6::FLAG_SOLICITED } else { 0 };
    let header = [icmpv6::TYPE_NEIGHBOR_ADVERT, 0, 0, 0, flags, 0, 0, 0];
    neighbour_discovery(PEER_MAC, VIP_V6, all_nodes, header)
}

/// A neighbour discovery message about 2001:db8::100 (target), with its first 8 bytes as
/// given and no options. (The ICMPv6 checksum is left zero: XDP does not check it.)
fn neighbour_discovery(src_mac: [u8; 6], src: [u8; 16], dst: [u8; 16], header: [u8; 8]) -> Vec<u8> {
    let mut f = l2_header(src_mac, None, ethernet::ETHERTYPE_IPV6);
    let icmp_len = header.len() + VIP_V6.len();
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(icmp_len as u16).to_be_bytes());
    f.extend_from_slice(&[icmpv6::NEXT_HEADER, 255]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&header);
    f.extend_from_slice(&VIP_V6);
    f
}

fn l2_header(src_mac: [u8; 6], tag: Option<u16>, ethertype: u16) -> Vec<u8> {
    // The VRRP virtual MAC of VRID 51 as destination, as for multicast adverts.
    let mut f = vec![0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
    f.extend_from_slice(&src_mac);
    if let Some(id) = tag {
        f.extend_from_slice(&ethernet::ETHERTYPE_VLAN.to_be_bytes());
        f.extend_from_slice(&id.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

fn ipv4_header(src: [u8; 4], dst: [u8; 4], ttl: u8, payload_len: usize) -> [u8; 20] {
    let mut ip = [0u8; ipv4::MIN_HEADER_LEN];
    ip[ipv4::VER_IHL] = 0x45;
    ip[ipv4::TOTAL_LEN..][..2].copy_from_slice(&((20 + payload_len) as u16).to_be_bytes());
    ip[ipv4::TTL] = ttl;
    ip[ipv4::PROTOCOL] = vrrp::IP_PROTOCOL;
    ip[ipv4::SRC..][..4].copy_from_slice(&src);
    ip[ipv4::DST..][..4].copy_from_slice(&dst);
    set_ipv4_checksum(&mut ip);
    ip
}

fn set_ipv4_checksum(ip: &mut [u8; 20]) {
    ip[10..12].fill(0);
    let c = checksum::finish(checksum::sum(ip, 0));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
}
