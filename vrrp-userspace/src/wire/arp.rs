//! Gratuitous ARP: the Ethernet frame a new master broadcasts so that neighbours move a virtual
//! IPv4 address to its MAC (RFC 5227 §3 "ARP Announcement", RFC 5798 §6.4.2).
//!
//! The view covers the whole frame, Ethernet header included, because xvrrp writes it to an
//! `AF_PACKET` socket as it stands. Only ARP for IPv4 over Ethernet exists here.
//!
//! keepalived 2.2.7 sends a 42-byte frame (no padding): Ethernet destination broadcast, source
//! the interface MAC, an ARP *request* whose sender and target protocol addresses are both the
//! VIP, sender hardware address the interface MAC and target hardware address
//! ff:ff:ff:ff:ff:ff. `Repr::emit` writes exactly that frame.

use std::net::Ipv4Addr;

use vrrp_common::wire::{arp as field, ethernet, ipv4};

const BROADCAST: [u8; ethernet::ADDR_LEN] = [0xff; ethernet::ADDR_LEN];

/// Length of the frame `Repr::emit` writes.
pub const FRAME_LEN: usize = ethernet::HEADER_LEN + field::LEN;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Request,
    Reply,
    Unknown(u16),
}

impl From<u16> for Operation {
    fn from(value: u16) -> Self {
        match value {
            field::OPERATION_REQUEST => Operation::Request,
            field::OPERATION_REPLY => Operation::Reply,
            other => Operation::Unknown(other),
        }
    }
}

impl From<Operation> for u16 {
    fn from(value: Operation) -> Self {
        match value {
            Operation::Request => field::OPERATION_REQUEST,
            Operation::Reply => field::OPERATION_REPLY,
            Operation::Unknown(other) => other,
        }
    }
}

/// Why a frame is not a gratuitous ARP for an IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Shorter than an Ethernet header and an Ethernet/IPv4 ARP packet.
    Truncated,
    /// Not ARP, or ARP for another hardware or protocol type.
    Unsupported,
    /// Neither a request nor a reply.
    UnknownOperation,
    /// Sender and target protocol addresses differ: an ordinary query or answer.
    NotGratuitous,
}

/// A zero-copy view of an Ethernet frame carrying ARP.
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

    /// The Ethernet header and a whole Ethernet/IPv4 ARP packet fit; Ethernet padding after
    /// it is allowed.
    pub fn check_len(&self) -> Result<(), Error> {
        if self.buffer.as_ref().len() < FRAME_LEN {
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

    pub fn hardware_type(&self) -> u16 {
        self.be16(ethernet::HEADER_LEN + field::HARDWARE_TYPE)
    }

    pub fn protocol_type(&self) -> u16 {
        self.be16(ethernet::HEADER_LEN + field::PROTOCOL_TYPE)
    }

    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[ethernet::HEADER_LEN + field::HARDWARE_LEN]
    }

    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[ethernet::HEADER_LEN + field::PROTOCOL_LEN]
    }

    pub fn operation(&self) -> Operation {
        self.be16(ethernet::HEADER_LEN + field::OPERATION).into()
    }

    pub fn sender_hardware_addr(&self) -> [u8; 6] {
        self.mac(ethernet::HEADER_LEN + field::SENDER_HARDWARE_ADDR)
    }

    pub fn sender_protocol_addr(&self) -> Ipv4Addr {
        self.ipv4(ethernet::HEADER_LEN + field::SENDER_PROTOCOL_ADDR)
    }

    pub fn target_hardware_addr(&self) -> [u8; 6] {
        self.mac(ethernet::HEADER_LEN + field::TARGET_HARDWARE_ADDR)
    }

    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        self.ipv4(ethernet::HEADER_LEN + field::TARGET_PROTOCOL_ADDR)
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

    fn ipv4(&self, at: usize) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_be16(&mut self, at: usize, value: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&value.to_be_bytes());
    }

    fn set_bytes(&mut self, at: usize, value: &[u8]) {
        self.buffer.as_mut()[at..at + value.len()].copy_from_slice(value);
    }
}

/// A gratuitous ARP: `sender_mac` announces that it holds `address`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub sender_mac: [u8; 6],
    pub address: Ipv4Addr,
}

impl Repr {
    /// Accepts requests and replies (other implementations announce with either) whose sender
    /// and target protocol addresses are equal. The Ethernet destination and the target
    /// hardware address carry no meaning in an announcement and are not checked.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Self, Error> {
        packet.check_len()?;
        if packet.ethertype() != ethernet::ETHERTYPE_ARP
            || packet.hardware_type() != field::HARDWARE_ETHERNET
            || packet.protocol_type() != ethernet::ETHERTYPE_IPV4
            || usize::from(packet.hardware_len()) != ethernet::ADDR_LEN
            || usize::from(packet.protocol_len()) != ipv4::ADDR_LEN
        {
            return Err(Error::Unsupported);
        }
        if let Operation::Unknown(_) = packet.operation() {
            return Err(Error::UnknownOperation);
        }
        if packet.sender_protocol_addr() != packet.target_protocol_addr() {
            return Err(Error::NotGratuitous);
        }
        Ok(Repr {
            sender_mac: packet.sender_hardware_addr(),
            address: packet.sender_protocol_addr(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        FRAME_LEN
    }

    /// Writes keepalived's frame (see the module documentation) into the first
    /// `buffer_len()` bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        let arp = ethernet::HEADER_LEN;
        let address = self.address.octets();
        packet.set_bytes(ethernet::DST, &BROADCAST);
        packet.set_bytes(ethernet::SRC, &self.sender_mac);
        packet.set_be16(ethernet::ETHERTYPE, ethernet::ETHERTYPE_ARP);
        packet.set_be16(arp + field::HARDWARE_TYPE, field::HARDWARE_ETHERNET);
        packet.set_be16(arp + field::PROTOCOL_TYPE, ethernet::ETHERTYPE_IPV4);
        packet.set_bytes(
            arp + field::HARDWARE_LEN,
            &[ethernet::ADDR_LEN as u8, ipv4::ADDR_LEN as u8],
        );
        packet.set_be16(arp + field::OPERATION, Operation::Request.into());
        packet.set_bytes(arp + field::SENDER_HARDWARE_ADDR, &self.sender_mac);
        packet.set_bytes(arp + field::SENDER_PROTOCOL_ADDR, &address);
        packet.set_bytes(arp + field::TARGET_HARDWARE_ADDR, &BROADCAST);
        packet.set_bytes(arp + field::TARGET_PROTOCOL_ADDR, &address);
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

    /// Captured from keepalived 2.2.7 (interface MAC 02:00:00:00:0a:01, VIP 192.0.2.100) with
    /// tcpdump on the peer of a veth pair.
    const KEEPALIVED_GARP: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x01, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x01, 0xc0, 0x00,
        0x02, 0x64, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc0, 0x00, 0x02, 0x64,
    ];

    const REPR: Repr = Repr {
        sender_mac: [0x02, 0x00, 0x00, 0x00, 0x0a, 0x01],
        address: Ipv4Addr::new(192, 0, 2, 100),
    };

    #[test]
    fn emits_the_frame_keepalived_sends() {
        assert_eq!(REPR.buffer_len(), KEEPALIVED_GARP.len());
        assert_eq!(REPR.to_frame(), KEEPALIVED_GARP);
    }

    #[test]
    fn parses_keepalived_frame() {
        let p = Packet::new_checked(&KEEPALIVED_GARP[..]).unwrap();
        assert_eq!(p.operation(), Operation::Request);
        assert_eq!(p.eth_dst(), BROADCAST);
        assert_eq!(p.eth_src(), REPR.sender_mac);
        assert_eq!(p.target_hardware_addr(), BROADCAST);
        assert_eq!(Repr::parse(&p), Ok(REPR));
    }

    #[test]
    fn accepts_reply_announcements_and_padding() {
        let mut frame = KEEPALIVED_GARP.to_vec();
        frame[21] = 2;
        frame.extend_from_slice(&[0; 18]); // padded to the 60-byte Ethernet minimum
        let p = Packet::new_checked(&frame[..]).unwrap();
        assert_eq!(p.operation(), Operation::Reply);
        assert_eq!(Repr::parse(&p), Ok(REPR));
    }

    #[test]
    fn rejects_what_is_not_a_gratuitous_arp() {
        let parse = |frame: &[u8]| Repr::parse(&Packet::new_unchecked(frame));
        assert_eq!(
            Packet::new_checked(&KEEPALIVED_GARP[..41]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(parse(&KEEPALIVED_GARP[..41]), Err(Error::Truncated));

        let mut query = KEEPALIVED_GARP;
        query[41] = 0x01; // who-has 192.0.2.1 tell 192.0.2.100
        assert_eq!(parse(&query), Err(Error::NotGratuitous));

        let mut op = KEEPALIVED_GARP;
        op[21] = 3; // RARP request
        assert_eq!(parse(&op), Err(Error::UnknownOperation));

        for (at, value) in [(13, 0x00), (15, 6), (17, 0xdd), (18, 8), (19, 16)] {
            let mut other = KEEPALIVED_GARP;
            other[at] = value;
            assert_eq!(
                parse(&other),
                Err(Error::Unsupported),
                "byte {at} = {value}"
            );
        }
    }

    #[test]
    fn emit_then_parse_round_trips() {
        let repr = Repr {
            sender_mac: [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee],
            address: Ipv4Addr::new(192, 0, 2, 254),
        };
        let frame = repr.to_frame();
        assert_eq!(
            Repr::parse(&Packet::new_checked(&frame[..]).unwrap()),
            Ok(repr)
        );
    }
}
