//! VRRP advertisements: version 3 (RFC 5798) over IPv4 and IPv6, version 2 (RFC 3768) over IPv4.
//!
//! A message is only meaningful together with the IP header it arrived in: the checksum of
//! version 3 covers a pseudo-header, and the TTL / hop limit must be 255. So parsing takes an
//! [`IpContext`], and the checks run in the order the XDP program uses (`vrrp-ebpf/src/advert.rs`),
//! so that a datagram gets the same [`Reject`] whichever side looks at it.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use vrrp_common::{
    checksum,
    reject::Reject,
    wire::{ipv4, ipv6, vrrp as field},
};

use crate::time::Centisecs;

/// The two address families VRRP runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const fn addr_len(self) -> usize {
        match self {
            Family::V4 => ipv4::ADDR_LEN,
            Family::V6 => ipv6::ADDR_LEN,
        }
    }
}

/// Source and destination of the IP header around a VRRP message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoints {
    V4 { src: Ipv4Addr, dst: Ipv4Addr },
    V6 { src: Ipv6Addr, dst: Ipv6Addr },
}

impl Endpoints {
    pub const fn family(&self) -> Family {
        match self {
            Endpoints::V4 { .. } => Family::V4,
            Endpoints::V6 { .. } => Family::V6,
        }
    }

    pub fn src(&self) -> IpAddr {
        match *self {
            Endpoints::V4 { src, .. } => src.into(),
            Endpoints::V6 { src, .. } => src.into(),
        }
    }

    pub fn dst(&self) -> IpAddr {
        match *self {
            Endpoints::V4 { dst, .. } => dst.into(),
            Endpoints::V6 { dst, .. } => dst.into(),
        }
    }

    /// Partial sum of the pseudo-header for a VRRP message of `len` bytes.
    fn pseudo_header(&self, len: usize) -> u32 {
        match *self {
            // An IPv4 payload cannot exceed 65535 bytes, so the length always fits.
            Endpoints::V4 { src, dst } => checksum::pseudo_header_v4(
                src.octets(),
                dst.octets(),
                field::IP_PROTOCOL,
                len as u16,
            ),
            Endpoints::V6 { src, dst } => checksum::pseudo_header_v6(
                src.octets(),
                dst.octets(),
                field::IP_PROTOCOL,
                len as u32,
            ),
        }
    }
}

/// Everything of the IP header that judging a received VRRP message needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpContext {
    pub endpoints: Endpoints,
    /// The IPv4 TTL, or the IPv6 hop limit (from `IPV6_HOPLIMIT` ancillary data, since a raw
    /// IPv6 socket delivers only the payload).
    pub ttl: u8,
}

/// How a version 3 message over IPv4 is checksummed when sent.
///
/// RFC 5798 §5.2.8 includes the IPv4 pseudo-header, and keepalived 2.2.7 does so (see
/// `tests/fixtures/README.md`); some implementations sum the message alone, as in version 2.
/// Receiving accepts both, as the XDP program does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum V3Ipv4Checksum {
    #[default]
    WithPseudoHeader,
    MessageOnly,
}

/// The Auth Type field of version 2. RFC 3768 §5.3.6 keeps 1 and 2 reserved for compatibility
/// with RFC 2338, which defined them, and keepalived still speaks both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthType {
    None,
    /// Type 1 (RFC 2338 §5.3.6.2): eight bytes of clear-text password.
    SimplePassword,
    /// Type 2 (RFC 2338 §5.3.6.3): IPsec AH. Such adverts travel as IP protocol 51, so one
    /// that claims it inside protocol 112 is malformed; validation names it.
    IpAuthHeader,
    Unknown(u8),
}

impl From<u8> for AuthType {
    fn from(value: u8) -> Self {
        match value {
            0 => AuthType::None,
            1 => AuthType::SimplePassword,
            2 => AuthType::IpAuthHeader,
            other => AuthType::Unknown(other),
        }
    }
}

impl From<AuthType> for u8 {
    fn from(value: AuthType) -> Self {
        match value {
            AuthType::None => 0,
            AuthType::SimplePassword => 1,
            AuthType::IpAuthHeader => 2,
            AuthType::Unknown(other) => other,
        }
    }
}

/// keepalived's `auth_pass` as it goes on the wire: the first eight bytes, zero-padded.
pub fn password_field(pass: &[u8]) -> [u8; field::V2_AUTH_DATA_LEN] {
    let mut data = [0; field::V2_AUTH_DATA_LEN];
    let n = pass.len().min(data.len());
    data[..n].copy_from_slice(&pass[..n]);
    data
}

/// The protocol version, with what only version 2 carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// The authentication data is kept as received, even where no password is in use, so that
    /// emit reproduces any message.
    V2 {
        auth_type: AuthType,
        auth_data: [u8; field::V2_AUTH_DATA_LEN],
    },
    V3,
}

impl Version {
    pub const fn number(&self) -> u8 {
        match self {
            Version::V2 { .. } => field::VERSION_2,
            Version::V3 => field::VERSION_3,
        }
    }
}

/// The virtual addresses an advertisement lists, all of one family.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Addresses {
    V4(Vec<Ipv4Addr>),
    V6(Vec<Ipv6Addr>),
}

impl Addresses {
    pub const fn family(&self) -> Family {
        match self {
            Addresses::V4(_) => Family::V4,
            Addresses::V6(_) => Family::V6,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Addresses::V4(a) => a.len(),
            Addresses::V6(a) => a.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let (v4, v6) = match self {
            Addresses::V4(a) => (a.as_slice(), [].as_slice()),
            Addresses::V6(a) => ([].as_slice(), a.as_slice()),
        };
        v4.iter()
            .map(|a| IpAddr::V4(*a))
            .chain(v6.iter().map(|a| IpAddr::V6(*a)))
    }

    pub fn contains(&self, addr: &IpAddr) -> bool {
        match (self, addr) {
            (Addresses::V4(a), IpAddr::V4(x)) => a.contains(x),
            (Addresses::V6(a), IpAddr::V6(x)) => a.contains(x),
            _ => false,
        }
    }

    fn read(family: Family, bytes: &[u8]) -> Self {
        match family {
            Family::V4 => Addresses::V4(
                bytes
                    .chunks_exact(ipv4::ADDR_LEN)
                    .map(|c| Ipv4Addr::from(<[u8; ipv4::ADDR_LEN]>::try_from(c).unwrap()))
                    .collect(),
            ),
            Family::V6 => Addresses::V6(
                bytes
                    .chunks_exact(ipv6::ADDR_LEN)
                    .map(|c| Ipv6Addr::from(<[u8; ipv6::ADDR_LEN]>::try_from(c).unwrap()))
                    .collect(),
            ),
        }
    }

    fn write(&self, bytes: &mut [u8]) {
        match self {
            Addresses::V4(a) => {
                for (chunk, addr) in bytes.chunks_exact_mut(ipv4::ADDR_LEN).zip(a) {
                    chunk.copy_from_slice(&addr.octets());
                }
            }
            Addresses::V6(a) => {
                for (chunk, addr) in bytes.chunks_exact_mut(ipv6::ADDR_LEN).zip(a) {
                    chunk.copy_from_slice(&addr.octets());
                }
            }
        }
    }
}

/// A read/write view of a VRRP message: the whole IP payload.
///
/// Call [`Packet::check_len`] (or use [`Packet::new_checked`]) before the fixed-header
/// accessors, and [`Packet::check_body`] before those that reach past the fixed header; without
/// them an accessor may panic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self, Reject> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks the fixed header only: how long the rest must be depends on the version, the
    /// count and the family, which [`Packet::check_body`] checks once the version is known.
    pub fn check_len(&self) -> Result<(), Reject> {
        if self.buffer.as_ref().len() < field::HEADER_LEN {
            Err(Reject::Truncated)
        } else {
            Ok(())
        }
    }

    /// Checks that the addresses `count` announces (and in version 2 the authentication data)
    /// fit. Bytes beyond them are allowed: they belong to the message and its checksum.
    pub fn check_body(&self, family: Family) -> Result<(), Reject> {
        if self.buffer.as_ref().len() < self.message_len(family) {
            Err(Reject::CountExceedsLength)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Length of the message the header describes, which may be less than the buffer.
    pub fn message_len(&self, family: Family) -> usize {
        field::message_len(self.version(), self.count(), family.addr_len())
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION_TYPE] >> 4
    }

    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION_TYPE] & 0x0f
    }

    pub fn vrid(&self) -> u8 {
        self.buffer.as_ref()[field::VRID]
    }

    pub fn priority(&self) -> u8 {
        self.buffer.as_ref()[field::PRIORITY]
    }

    pub fn count(&self) -> u8 {
        self.buffer.as_ref()[field::COUNT]
    }

    /// Version 2 only.
    pub fn auth_type(&self) -> u8 {
        self.buffer.as_ref()[field::V2_AUTH_TYPE]
    }

    /// Version 2 only: the interval in whole seconds.
    pub fn adver_int_secs(&self) -> u8 {
        self.buffer.as_ref()[field::V2_ADVER_INT]
    }

    /// Version 3 only: the interval in centiseconds, without the reserved bits.
    pub fn max_adver_int(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[field::V3_MAX_ADVER_INT], b[field::V3_MAX_ADVER_INT + 1]])
            & field::V3_MAX_ADVER_INT_MASK
    }

    /// The advertisement interval whichever the version: v2 seconds, v3 centiseconds.
    pub fn advert_int(&self) -> Centisecs {
        if self.version() == field::VERSION_2 {
            Centisecs::from_secs(u32::from(self.adver_int_secs()))
        } else {
            Centisecs(u32::from(self.max_adver_int()))
        }
    }

    pub fn checksum(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[field::CHECKSUM], b[field::CHECKSUM + 1]])
    }

    /// The raw addresses; needs [`Packet::check_body`] for `family`.
    pub fn addresses(&self, family: Family) -> &[u8] {
        let end = field::HEADER_LEN + usize::from(self.count()) * family.addr_len();
        &self.buffer.as_ref()[field::HEADER_LEN..end]
    }

    /// Version 2 only: the eight bytes after the IPv4 addresses; needs [`Packet::check_body`].
    pub fn auth_data(&self) -> &[u8] {
        let start = field::HEADER_LEN + usize::from(self.count()) * ipv4::ADDR_LEN;
        &self.buffer.as_ref()[start..start + field::V2_AUTH_DATA_LEN]
    }

    /// The message the header describes: what the checksum covers. Bytes after it are no
    /// part of VRRP; a sender that summed them gets a bad checksum. The XDP program draws
    /// the same line. Needs [`Packet::check_body`].
    fn message(&self, family: Family) -> &[u8] {
        &self.buffer.as_ref()[..self.message_len(family)]
    }

    /// Whether the checksum is right for a message sent between `endpoints`.
    ///
    /// Version 2 sums the message alone; version 3 adds the pseudo-header, except that over
    /// IPv4 the message alone is accepted too (see [`V3Ipv4Checksum`]). Needs
    /// [`Packet::check_body`].
    pub fn verify_checksum(&self, endpoints: &Endpoints) -> bool {
        let data = self.message(endpoints.family());
        let sum = checksum::sum(data, 0);
        let with_pseudo = || checksum::is_valid(sum + endpoints.pseudo_header(data.len()));
        match (endpoints.family(), self.version()) {
            (Family::V6, _) => with_pseudo(),
            (Family::V4, field::VERSION_3) => checksum::is_valid(sum) || with_pseudo(),
            (Family::V4, _) => checksum::is_valid(sum),
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_version(&mut self, version: u8) {
        let b = &mut self.buffer.as_mut()[field::VERSION_TYPE];
        *b = (version << 4) | (*b & 0x0f);
    }

    pub fn set_msg_type(&mut self, msg_type: u8) {
        let b = &mut self.buffer.as_mut()[field::VERSION_TYPE];
        *b = (*b & 0xf0) | (msg_type & 0x0f);
    }

    pub fn set_vrid(&mut self, vrid: u8) {
        self.buffer.as_mut()[field::VRID] = vrid;
    }

    pub fn set_priority(&mut self, priority: u8) {
        self.buffer.as_mut()[field::PRIORITY] = priority;
    }

    pub fn set_count(&mut self, count: u8) {
        self.buffer.as_mut()[field::COUNT] = count;
    }

    pub fn set_auth_type(&mut self, auth_type: u8) {
        self.buffer.as_mut()[field::V2_AUTH_TYPE] = auth_type;
    }

    pub fn set_adver_int_secs(&mut self, secs: u8) {
        self.buffer.as_mut()[field::V2_ADVER_INT] = secs;
    }

    /// Writes the 12-bit interval and clears the reserved bits (RFC 5798 §5.2.6: zero on send).
    pub fn set_max_adver_int(&mut self, centisecs: u16) {
        let value = centisecs & field::V3_MAX_ADVER_INT_MASK;
        self.buffer.as_mut()[field::V3_MAX_ADVER_INT..field::V3_MAX_ADVER_INT + 2]
            .copy_from_slice(&value.to_be_bytes());
    }

    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM..field::CHECKSUM + 2]
            .copy_from_slice(&value.to_be_bytes());
    }

    /// Needs [`Packet::check_body`] for `family`.
    pub fn addresses_mut(&mut self, family: Family) -> &mut [u8] {
        let end = field::HEADER_LEN + usize::from(self.count()) * family.addr_len();
        &mut self.buffer.as_mut()[field::HEADER_LEN..end]
    }

    /// Version 2 only; needs [`Packet::check_body`].
    pub fn auth_data_mut(&mut self) -> &mut [u8] {
        let start = field::HEADER_LEN + usize::from(self.count()) * ipv4::ADDR_LEN;
        &mut self.buffer.as_mut()[start..start + field::V2_AUTH_DATA_LEN]
    }

    /// Computes the checksum over the whole buffer for a message sent between `endpoints`.
    pub fn fill_checksum(&mut self, endpoints: &Endpoints, v3_ipv4: V3Ipv4Checksum) {
        self.set_checksum(0);
        let data = self.message(endpoints.family());
        let pseudo = match (endpoints.family(), self.version(), v3_ipv4) {
            (Family::V6, ..) => endpoints.pseudo_header(data.len()),
            (Family::V4, field::VERSION_3, V3Ipv4Checksum::WithPseudoHeader) => {
                endpoints.pseudo_header(data.len())
            }
            (Family::V4, ..) => 0,
        };
        let value = checksum::finish(checksum::sum(data, pseudo));
        self.set_checksum(value);
    }
}

/// Why a [`Repr`] cannot be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EmitError {
    /// The addresses are of the other family than the IP header.
    FamilyMismatch,
    /// Version 2 is defined for IPv4 only.
    V2OverIpv6,
    /// The count field holds at most 255.
    TooManyAddresses,
    /// Version 2 needs whole seconds in 1..=255, version 3 centiseconds in 1..=4095.
    IntervalNotRepresentable,
    /// The buffer is shorter than [`Repr::buffer_len`].
    BufferTooShort,
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EmitError::FamilyMismatch => "the addresses are not of the IP header's family",
            EmitError::V2OverIpv6 => "VRRPv2 cannot be sent over IPv6",
            EmitError::TooManyAddresses => "an advertisement carries at most 255 addresses",
            EmitError::IntervalNotRepresentable => {
                "the interval does not fit the version's field (v2: 1-255 s, v3: 0.01-40.95 s)"
            }
            EmitError::BufferTooShort => "the buffer is shorter than the message",
        })
    }
}

impl std::error::Error for EmitError {}

/// A VRRP advertisement, independent of version and family.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Repr {
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    /// Version 2 carries whole seconds, version 3 centiseconds; both convert to this.
    pub advert_int: Centisecs,
    pub addresses: Addresses,
}

impl Repr {
    /// Parses and checks a received message; `ctx` is the IP header it arrived in.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>, ctx: &IpContext) -> Result<Repr, Reject> {
        packet.check_len()?;
        if ctx.ttl != field::TTL {
            return Err(Reject::TtlNot255);
        }
        let family = ctx.endpoints.family();
        let version = packet.version();
        let supported =
            version == field::VERSION_3 || version == field::VERSION_2 && family == Family::V4;
        if !supported {
            return Err(Reject::UnsupportedVersion);
        }
        if packet.msg_type() != field::TYPE_ADVERTISEMENT {
            return Err(Reject::UnknownType);
        }
        packet.check_body(family)?;
        if !packet.verify_checksum(&ctx.endpoints) {
            return Err(Reject::BadChecksum);
        }
        let advert_int = packet.advert_int();
        if advert_int.0 == 0 {
            return Err(Reject::ZeroInterval);
        }
        let version = if version == field::VERSION_2 {
            let mut auth_data = [0; field::V2_AUTH_DATA_LEN];
            auth_data.copy_from_slice(packet.auth_data());
            Version::V2 {
                auth_type: packet.auth_type().into(),
                auth_data,
            }
        } else {
            Version::V3
        };
        Ok(Repr {
            version,
            vrid: packet.vrid(),
            priority: packet.priority(),
            advert_int,
            addresses: Addresses::read(family, packet.addresses(family)),
        })
    }

    /// Length of the emitted message.
    pub fn buffer_len(&self) -> usize {
        let family = self.addresses.family();
        field::message_len(self.version.number(), 0, family.addr_len())
            + self.addresses.len() * family.addr_len()
    }

    /// Writes the message into the first [`Repr::buffer_len`] bytes of `packet`, checksummed
    /// for `endpoints`; `v3_ipv4` only matters for version 3 over IPv4.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        endpoints: &Endpoints,
        v3_ipv4: V3Ipv4Checksum,
    ) -> Result<(), EmitError> {
        let family = endpoints.family();
        if self.addresses.family() != family {
            return Err(EmitError::FamilyMismatch);
        }
        let count = u8::try_from(self.addresses.len()).map_err(|_| EmitError::TooManyAddresses)?;
        // Every check comes before the first write, so that a refused emit leaves no half message.
        let interval = match self.version {
            Version::V2 { .. } if family != Family::V4 => return Err(EmitError::V2OverIpv6),
            Version::V2 { .. } => u8::try_from(self.advert_int.0 / 100)
                .ok()
                .filter(|s| *s > 0 && self.advert_int.0.is_multiple_of(100))
                .map(u16::from),
            Version::V3 => u16::try_from(self.advert_int.0)
                .ok()
                .filter(|c| (1..=field::V3_MAX_ADVER_INT_MASK).contains(c)),
        }
        .ok_or(EmitError::IntervalNotRepresentable)?;
        let len = self.buffer_len();
        let buffer = packet.buffer.as_mut();
        if buffer.len() < len {
            return Err(EmitError::BufferTooShort);
        }
        let mut msg = Packet::new_unchecked(&mut buffer[..len]);
        msg.set_version(self.version.number());
        msg.set_msg_type(field::TYPE_ADVERTISEMENT);
        msg.set_vrid(self.vrid);
        msg.set_priority(self.priority);
        msg.set_count(count);
        match self.version {
            Version::V2 {
                auth_type,
                auth_data,
            } => {
                msg.set_auth_type(auth_type.into());
                // Checked above to be 1..=255.
                msg.set_adver_int_secs(interval as u8);
                msg.auth_data_mut().copy_from_slice(&auth_data);
            }
            Version::V3 => msg.set_max_adver_int(interval),
        }
        self.addresses.write(msg.addresses_mut(family));
        msg.fill_checksum(endpoints, v3_ipv4);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ip::Ipv4Packet;
    use proptest::prelude::*;

    const V2_PASS_IPV4: &str =
        include_str!("../../../tests/fixtures/keepalived-2.2.7/v2-pass-ipv4.hex");
    const V3_IPV4: &str = include_str!("../../../tests/fixtures/keepalived-2.2.7/v3-ipv4.hex");
    const V3_IPV4_PRIORITY0: &str =
        include_str!("../../../tests/fixtures/keepalived-2.2.7/v3-ipv4-priority0.hex");
    const V3_IPV6: &str = include_str!("../../../tests/fixtures/keepalived-2.2.7/v3-ipv6.hex");

    const ETH: usize = vrrp_common::wire::ethernet::HEADER_LEN;
    const KEEPALIVED_SRC_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const KEEPALIVED_SRC_V6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 0x0a01);
    const VIP_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
    const VIP_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        assert_eq!(digits.len() % 2, 0, "odd number of hex digits");
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    /// The VRRP message of a captured frame and the IP header it came in.
    fn strip(fixture: &str) -> (Vec<u8>, IpContext) {
        let frame = hex(fixture);
        let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
        if ethertype == vrrp_common::wire::ethernet::ETHERTYPE_IPV4 {
            let ip = Ipv4Packet::new_checked(&frame[ETH..]).unwrap();
            let (ctx, payload) = ip.vrrp_payload().unwrap();
            (payload.to_vec(), ctx)
        } else {
            assert_eq!(ethertype, vrrp_common::wire::ethernet::ETHERTYPE_IPV6);
            let ip = &frame[ETH..];
            let addr = |at: usize| Ipv6Addr::from(<[u8; 16]>::try_from(&ip[at..at + 16]).unwrap());
            let len = usize::from(u16::from_be_bytes([
                ip[ipv6::PAYLOAD_LEN],
                ip[ipv6::PAYLOAD_LEN + 1],
            ]));
            assert_eq!(ip[ipv6::NEXT_HEADER], field::IP_PROTOCOL);
            let ctx = IpContext {
                endpoints: Endpoints::V6 {
                    src: addr(ipv6::SRC),
                    dst: addr(ipv6::DST),
                },
                ttl: ip[ipv6::HOP_LIMIT],
            };
            (ip[ipv6::HEADER_LEN..ipv6::HEADER_LEN + len].to_vec(), ctx)
        }
    }

    fn parse(bytes: &[u8], ctx: &IpContext) -> Result<Repr, Reject> {
        Repr::parse(&Packet::new_unchecked(bytes), ctx)
    }

    fn emit(repr: &Repr, endpoints: &Endpoints, mode: V3Ipv4Checksum) -> Vec<u8> {
        let mut buf = vec![0; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut buf), endpoints, mode)
            .unwrap();
        buf
    }

    fn v4_ctx() -> IpContext {
        IpContext {
            endpoints: Endpoints::V4 {
                src: KEEPALIVED_SRC_V4,
                dst: field::MULTICAST_V4.into(),
            },
            ttl: 255,
        }
    }

    fn v6_ctx() -> IpContext {
        IpContext {
            endpoints: Endpoints::V6 {
                src: KEEPALIVED_SRC_V6,
                dst: field::MULTICAST_V6.into(),
            },
            ttl: 255,
        }
    }

    fn v3_ipv4_repr() -> Repr {
        Repr {
            version: Version::V3,
            vrid: 51,
            priority: 100,
            advert_int: Centisecs(100),
            addresses: Addresses::V4(vec![VIP_V4]),
        }
    }

    /// Rewrites the checksum after a test altered a field, so that the field's own check fires.
    fn refill(bytes: &mut [u8], ctx: &IpContext) {
        Packet::new_unchecked(bytes).fill_checksum(&ctx.endpoints, V3Ipv4Checksum::default());
    }

    #[test]
    fn keepalived_v2_password_ipv4() {
        let (msg, ctx) = strip(V2_PASS_IPV4);
        assert_eq!(ctx, v4_ctx());
        let repr = parse(&msg, &ctx).unwrap();
        assert_eq!(
            repr,
            Repr {
                version: Version::V2 {
                    auth_type: AuthType::SimplePassword,
                    auth_data: *b"xvrrp-pw",
                },
                vrid: 51,
                priority: 100,
                advert_int: Centisecs(100),
                addresses: Addresses::V4(vec![VIP_V4]),
            }
        );
        assert_eq!(emit(&repr, &ctx.endpoints, V3Ipv4Checksum::default()), msg);
    }

    #[test]
    fn keepalived_v3_ipv4_sums_the_pseudo_header() {
        let (msg, ctx) = strip(V3_IPV4);
        assert_eq!(ctx, v4_ctx());
        let repr = parse(&msg, &ctx).unwrap();
        assert_eq!(repr, v3_ipv4_repr());
        assert_eq!(
            emit(&repr, &ctx.endpoints, V3Ipv4Checksum::WithPseudoHeader),
            msg
        );
        assert_ne!(
            emit(&repr, &ctx.endpoints, V3Ipv4Checksum::MessageOnly),
            msg
        );
        assert!(
            !checksum::is_valid(checksum::sum(&msg, 0)),
            "keepalived's sum needs the pseudo-header"
        );
    }

    #[test]
    fn keepalived_v3_ipv4_priority_zero_on_shutdown() {
        let (msg, ctx) = strip(V3_IPV4_PRIORITY0);
        let repr = parse(&msg, &ctx).unwrap();
        assert_eq!(
            repr,
            Repr {
                priority: field::PRIORITY_STOP,
                ..v3_ipv4_repr()
            }
        );
        assert_eq!(emit(&repr, &ctx.endpoints, V3Ipv4Checksum::default()), msg);
    }

    #[test]
    fn keepalived_v3_ipv6() {
        let (msg, ctx) = strip(V3_IPV6);
        assert_eq!(ctx, v6_ctx());
        let repr = parse(&msg, &ctx).unwrap();
        assert_eq!(
            repr,
            Repr {
                version: Version::V3,
                vrid: 51,
                priority: 100,
                advert_int: Centisecs(100),
                addresses: Addresses::V6(vec![VIP_V6]),
            }
        );
        assert_eq!(emit(&repr, &ctx.endpoints, V3Ipv4Checksum::default()), msg);
    }

    #[test]
    fn accessors_read_the_captured_fields() {
        let (msg, _) = strip(V2_PASS_IPV4);
        let p = Packet::new_checked(&msg[..]).unwrap();
        p.check_body(Family::V4).unwrap();
        assert_eq!(
            (p.version(), p.msg_type(), p.vrid(), p.priority(), p.count()),
            (2, 1, 51, 100, 1)
        );
        assert_eq!(
            (p.auth_type(), p.adver_int_secs(), p.checksum()),
            (1, 1, 0xebd7)
        );
        assert_eq!(p.addresses(Family::V4), &[192, 0, 2, 100]);
        assert_eq!(p.auth_data(), b"xvrrp-pw");
        assert_eq!(p.message_len(Family::V4), msg.len());

        let (msg, _) = strip(V3_IPV6);
        let p = Packet::new_checked(&msg[..]).unwrap();
        assert_eq!(
            (p.version(), p.max_adver_int(), p.checksum()),
            (3, 100, 0x348f)
        );
        assert_eq!(p.addresses(Family::V6), &VIP_V6.octets());
    }

    #[test]
    fn v2_interval_is_seconds_and_v3_centiseconds() {
        let ctx = v4_ctx();
        let (mut msg, _) = strip(V2_PASS_IPV4);
        msg[field::V2_ADVER_INT] = 3;
        refill(&mut msg, &ctx);
        assert_eq!(parse(&msg, &ctx).unwrap().advert_int, Centisecs(300));

        let (mut msg, _) = strip(V3_IPV4);
        msg[field::V3_MAX_ADVER_INT..field::V3_MAX_ADVER_INT + 2].copy_from_slice(&[0x00, 0x03]);
        refill(&mut msg, &ctx);
        assert_eq!(parse(&msg, &ctx).unwrap().advert_int, Centisecs(3));
    }

    #[test]
    fn v3_reserved_bits_are_ignored_on_receive_and_cleared_on_send() {
        let ctx = v4_ctx();
        let (mut msg, _) = strip(V3_IPV4);
        msg[field::V3_MAX_ADVER_INT] |= 0xf0;
        refill(&mut msg, &ctx);
        let repr = parse(&msg, &ctx).unwrap();
        assert_eq!(repr.advert_int, Centisecs(100));
        assert_eq!(
            emit(&repr, &ctx.endpoints, V3Ipv4Checksum::default())[field::V3_MAX_ADVER_INT],
            0
        );
    }

    #[test]
    fn v3_ipv4_without_pseudo_header_is_accepted() {
        let ctx = v4_ctx();
        let msg = emit(&v3_ipv4_repr(), &ctx.endpoints, V3Ipv4Checksum::MessageOnly);
        assert_eq!(parse(&msg, &ctx).unwrap(), v3_ipv4_repr());
    }

    #[test]
    fn v2_with_pseudo_header_is_a_bad_checksum() {
        let ctx = v4_ctx();
        let (mut msg, _) = strip(V2_PASS_IPV4);
        let Endpoints::V4 { src, dst } = ctx.endpoints else {
            unreachable!()
        };
        let ph = checksum::pseudo_header_v4(
            src.octets(),
            dst.octets(),
            field::IP_PROTOCOL,
            msg.len() as u16,
        );
        msg[field::CHECKSUM..field::CHECKSUM + 2].fill(0);
        let c = checksum::finish(checksum::sum(&msg, ph));
        msg[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&c.to_be_bytes());
        assert_eq!(parse(&msg, &ctx), Err(Reject::BadChecksum));
    }

    #[test]
    fn v3_ipv6_needs_the_pseudo_header() {
        let (mut msg, ctx) = strip(V3_IPV6);
        msg[field::CHECKSUM..field::CHECKSUM + 2].fill(0);
        let c = checksum::finish(checksum::sum(&msg, 0));
        msg[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&c.to_be_bytes());
        assert_eq!(parse(&msg, &ctx), Err(Reject::BadChecksum));
    }

    #[test]
    fn checksum_depends_on_the_endpoints() {
        let (msg, ctx) = strip(V3_IPV6);
        let other = IpContext {
            endpoints: Endpoints::V6 {
                src: VIP_V6,
                dst: field::MULTICAST_V6.into(),
            },
            ..ctx
        };
        assert_eq!(parse(&msg, &other), Err(Reject::BadChecksum));
    }

    #[test]
    fn trailing_bytes_are_outside_the_message_and_its_checksum() {
        let ctx = v4_ctx();
        let mut msg = emit(&v3_ipv4_repr(), &ctx.endpoints, V3Ipv4Checksum::default());
        msg.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(parse(&msg, &ctx).unwrap(), v3_ipv4_repr());
        // A sender whose sum covered them does not pass: the message's own sum is off.
        let mut summed_all = msg.clone();
        summed_all[field::CHECKSUM..][..2].fill(0);
        let pseudo = ctx.endpoints.pseudo_header(summed_all.len());
        let c = checksum::finish(checksum::sum(&summed_all, pseudo));
        summed_all[field::CHECKSUM..][..2].copy_from_slice(&c.to_be_bytes());
        assert_eq!(parse(&summed_all, &ctx), Err(Reject::BadChecksum));
        refill(&mut msg, &ctx);
        assert_eq!(parse(&msg, &ctx).unwrap(), v3_ipv4_repr());
    }

    #[test]
    fn rejects_truncated() {
        let (msg, ctx) = strip(V3_IPV4);
        assert_eq!(
            parse(&msg[..field::HEADER_LEN - 1], &ctx),
            Err(Reject::Truncated)
        );
        assert_eq!(
            Packet::new_checked(&msg[..3]).unwrap_err(),
            Reject::Truncated
        );
    }

    #[test]
    fn rejects_ttl_not_255() {
        let (msg, ctx) = strip(V3_IPV6);
        assert_eq!(
            parse(&msg, &IpContext { ttl: 254, ..ctx }),
            Err(Reject::TtlNot255)
        );
        let (msg, ctx) = strip(V2_PASS_IPV4);
        assert_eq!(
            parse(&msg, &IpContext { ttl: 1, ..ctx }),
            Err(Reject::TtlNot255)
        );
    }

    #[test]
    fn rejects_unsupported_versions() {
        let ctx = v4_ctx();
        for version in [0, 1, 4, 15] {
            let (mut msg, _) = strip(V3_IPV4);
            Packet::new_unchecked(&mut msg[..]).set_version(version);
            refill(&mut msg, &ctx);
            assert_eq!(
                parse(&msg, &ctx),
                Err(Reject::UnsupportedVersion),
                "version {version}"
            );
        }
        // A v2 message over IPv6 (which RFC 3768 does not define), otherwise well formed.
        let v6 = v6_ctx();
        let mut msg = vec![0; field::message_len(2, 1, ipv6::ADDR_LEN)];
        msg[..field::HEADER_LEN].copy_from_slice(&[0x21, 51, 100, 1, 0, 1, 0, 0]);
        msg[field::HEADER_LEN..field::HEADER_LEN + 16].copy_from_slice(&VIP_V6.octets());
        refill(&mut msg, &v6);
        assert_eq!(parse(&msg, &v6), Err(Reject::UnsupportedVersion));
    }

    #[test]
    fn rejects_unknown_type() {
        let ctx = v4_ctx();
        let (mut msg, _) = strip(V3_IPV4);
        Packet::new_unchecked(&mut msg[..]).set_msg_type(2);
        refill(&mut msg, &ctx);
        assert_eq!(parse(&msg, &ctx), Err(Reject::UnknownType));
    }

    #[test]
    fn rejects_count_exceeding_length() {
        for fixture in [V2_PASS_IPV4, V3_IPV4, V3_IPV6] {
            let (mut msg, ctx) = strip(fixture);
            msg[field::COUNT] += 1;
            assert_eq!(parse(&msg, &ctx), Err(Reject::CountExceedsLength));
        }
        // v2 needs its 8 bytes of authentication data after the addresses.
        let (msg, ctx) = strip(V2_PASS_IPV4);
        assert_eq!(
            parse(&msg[..msg.len() - 1], &ctx),
            Err(Reject::CountExceedsLength)
        );
    }

    #[test]
    fn rejects_bad_checksum() {
        for fixture in [V2_PASS_IPV4, V3_IPV4, V3_IPV6] {
            let (mut msg, ctx) = strip(fixture);
            msg[field::HEADER_LEN] ^= 0x01;
            assert_eq!(parse(&msg, &ctx), Err(Reject::BadChecksum));
        }
    }

    #[test]
    fn rejects_zero_interval() {
        let ctx = v4_ctx();
        let (mut msg, _) = strip(V2_PASS_IPV4);
        Packet::new_unchecked(&mut msg[..]).set_adver_int_secs(0);
        refill(&mut msg, &ctx);
        assert_eq!(parse(&msg, &ctx), Err(Reject::ZeroInterval));

        let (mut msg, ctx) = strip(V3_IPV6);
        // Only the reserved bits set: the interval itself is still zero.
        msg[field::V3_MAX_ADVER_INT..field::V3_MAX_ADVER_INT + 2].copy_from_slice(&[0xf0, 0]);
        refill(&mut msg, &ctx);
        assert_eq!(parse(&msg, &ctx), Err(Reject::ZeroInterval));
    }

    #[test]
    fn checks_run_in_the_xdp_order() {
        // Wrong TTL, version, type, count and checksum at once: TTL is reported.
        let (mut msg, ctx) = strip(V3_IPV4);
        msg[field::HEADER_LEN] ^= 0x80;
        msg[field::VERSION_TYPE] = 0x52;
        msg[field::COUNT] = 9;
        let bad_ttl = IpContext { ttl: 64, ..ctx };
        assert_eq!(parse(&msg, &bad_ttl), Err(Reject::TtlNot255));
        assert_eq!(parse(&msg, &ctx), Err(Reject::UnsupportedVersion));
        msg[field::VERSION_TYPE] = 0x32;
        assert_eq!(parse(&msg, &ctx), Err(Reject::UnknownType));
        msg[field::VERSION_TYPE] = 0x31;
        assert_eq!(parse(&msg, &ctx), Err(Reject::CountExceedsLength));
        msg[field::COUNT] = 1;
        assert_eq!(parse(&msg, &ctx), Err(Reject::BadChecksum));
    }

    #[test]
    fn password_field_truncates_and_pads_like_keepalived() {
        assert_eq!(password_field(b"1111"), *b"1111\0\0\0\0");
        assert_eq!(password_field(b"0123456789"), *b"01234567");
        assert_eq!(password_field(b""), [0; 8]);
    }

    #[test]
    fn auth_type_round_trips_every_byte() {
        for b in 0..=u8::MAX {
            assert_eq!(u8::from(AuthType::from(b)), b);
        }
        assert_eq!(AuthType::from(2), AuthType::IpAuthHeader);
    }

    #[test]
    fn emit_refuses_what_the_wire_cannot_carry() {
        let v4 = v4_ctx().endpoints;
        let v6 = v6_ctx().endpoints;
        let mut buf = vec![0; 5000];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        let d = V3Ipv4Checksum::default();
        let v2 = Version::V2 {
            auth_type: AuthType::None,
            auth_data: [0; 8],
        };
        let base = v3_ipv4_repr();

        assert_eq!(base.emit(&mut p, &v6, d), Err(EmitError::FamilyMismatch));
        let v2_v6 = Repr {
            version: v2,
            addresses: Addresses::V6(vec![VIP_V6]),
            ..base.clone()
        };
        assert_eq!(v2_v6.emit(&mut p, &v6, d), Err(EmitError::V2OverIpv6));
        let many = Repr {
            addresses: Addresses::V4(vec![VIP_V4; 256]),
            ..base.clone()
        };
        assert_eq!(many.emit(&mut p, &v4, d), Err(EmitError::TooManyAddresses));
        for cs in [0, 150, 25600] {
            let r = Repr {
                version: v2,
                advert_int: Centisecs(cs),
                ..base.clone()
            };
            assert_eq!(
                r.emit(&mut p, &v4, d),
                Err(EmitError::IntervalNotRepresentable),
                "v2 {cs}"
            );
        }
        for cs in [0, 4096] {
            let r = Repr {
                advert_int: Centisecs(cs),
                ..base.clone()
            };
            assert_eq!(
                r.emit(&mut p, &v4, d),
                Err(EmitError::IntervalNotRepresentable),
                "v3 {cs}"
            );
        }
        assert!(
            p.buffer.iter().all(|b| *b == 0),
            "a refused emit wrote into the buffer"
        );
        let mut short = [0; 11];
        assert_eq!(
            base.emit(&mut Packet::new_unchecked(&mut short[..]), &v4, d),
            Err(EmitError::BufferTooShort)
        );
        // The largest legal intervals do fit.
        let r = Repr {
            version: v2,
            advert_int: Centisecs::from_secs(255),
            ..base.clone()
        };
        assert_eq!(r.emit(&mut p, &v4, d), Ok(()));
        let r = Repr {
            advert_int: Centisecs(4095),
            ..base
        };
        assert_eq!(r.emit(&mut p, &v4, d), Ok(()));
    }

    #[test]
    fn emit_leaves_bytes_past_the_message_alone() {
        let ctx = v4_ctx();
        let repr = v3_ipv4_repr();
        let mut buf = vec![0xaa; repr.buffer_len() + 4];
        repr.emit(
            &mut Packet::new_unchecked(&mut buf[..]),
            &ctx.endpoints,
            V3Ipv4Checksum::default(),
        )
        .unwrap();
        assert_eq!(&buf[repr.buffer_len()..], &[0xaa; 4]);
        assert_eq!(parse(&buf[..repr.buffer_len()], &ctx).unwrap(), repr);
    }

    #[test]
    fn addresses_answer_membership_by_family() {
        let a = Addresses::V4(vec![VIP_V4]);
        assert!(a.contains(&IpAddr::V4(VIP_V4)));
        assert!(!a.contains(&IpAddr::V6(VIP_V4.to_ipv6_mapped())));
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![IpAddr::V4(VIP_V4)]);
        assert!(Addresses::V6(vec![]).is_empty());
    }

    fn endpoints_strategy(family: Family) -> BoxedStrategy<Endpoints> {
        match family {
            Family::V4 => (any::<[u8; 4]>(), any::<[u8; 4]>())
                .prop_map(|(s, d)| Endpoints::V4 {
                    src: s.into(),
                    dst: d.into(),
                })
                .boxed(),
            Family::V6 => (any::<[u8; 16]>(), any::<[u8; 16]>())
                .prop_map(|(s, d)| Endpoints::V6 {
                    src: s.into(),
                    dst: d.into(),
                })
                .boxed(),
        }
    }

    /// Any advert the wire can carry, and IP endpoints of its family.
    fn advert_strategy() -> impl Strategy<Value = (Repr, Endpoints)> {
        let v2 = (
            any::<u8>(),
            any::<[u8; 8]>(),
            1..=255u32,
            proptest::collection::vec(any::<[u8; 4]>(), 0..=20),
        )
            .prop_map(|(auth, data, secs, addrs)| {
                (
                    Version::V2 {
                        auth_type: auth.into(),
                        auth_data: data,
                    },
                    Centisecs::from_secs(secs),
                    Addresses::V4(addrs.into_iter().map(Ipv4Addr::from).collect()),
                )
            });
        let v3_v4 = (
            1..=4095u32,
            proptest::collection::vec(any::<[u8; 4]>(), 0..=20),
        )
            .prop_map(|(cs, addrs)| {
                (
                    Version::V3,
                    Centisecs(cs),
                    Addresses::V4(addrs.into_iter().map(Ipv4Addr::from).collect()),
                )
            });
        let v3_v6 = (
            1..=4095u32,
            proptest::collection::vec(any::<[u8; 16]>(), 0..=20),
        )
            .prop_map(|(cs, addrs)| {
                (
                    Version::V3,
                    Centisecs(cs),
                    Addresses::V6(addrs.into_iter().map(Ipv6Addr::from).collect()),
                )
            });
        (prop_oneof![v2, v3_v4, v3_v6], any::<u8>(), any::<u8>()).prop_flat_map(
            |((version, advert_int, addresses), vrid, priority)| {
                let family = addresses.family();
                let repr = Repr {
                    version,
                    vrid,
                    priority,
                    advert_int,
                    addresses,
                };
                (Just(repr), endpoints_strategy(family))
            },
        )
    }

    fn mode_strategy() -> impl Strategy<Value = V3Ipv4Checksum> {
        prop_oneof![
            Just(V3Ipv4Checksum::WithPseudoHeader),
            Just(V3Ipv4Checksum::MessageOnly)
        ]
    }

    proptest! {
        #[test]
        fn emit_then_parse_round_trips((repr, endpoints) in advert_strategy(), mode in mode_strategy()) {
            let msg = emit(&repr, &endpoints, mode);
            prop_assert_eq!(msg.len(), repr.buffer_len());
            prop_assert_eq!(parse(&msg, &IpContext { endpoints, ttl: 255 }), Ok(repr));
        }

        #[test]
        fn every_prefix_is_rejected_without_panic((repr, endpoints) in advert_strategy()) {
            let msg = emit(&repr, &endpoints, V3Ipv4Checksum::default());
            let ctx = IpContext { endpoints, ttl: 255 };
            for end in 0..msg.len() {
                let expected = if end < field::HEADER_LEN {
                    Reject::Truncated
                } else {
                    Reject::CountExceedsLength
                };
                prop_assert_eq!(parse(&msg[..end], &ctx), Err(expected));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            endpoints in prop_oneof![endpoints_strategy(Family::V4), endpoints_strategy(Family::V6)],
            ttl in prop_oneof![Just(255u8), any::<u8>()],
        ) {
            let ctx = IpContext { endpoints, ttl };
            if let Ok(repr) = parse(&bytes, &ctx) {
                // Whatever parses re-emits to the same message fields.
                let again = emit(&repr, &endpoints, V3Ipv4Checksum::default());
                prop_assert_eq!(parse(&again, &ctx), Ok(repr));
            }
        }

        #[test]
        fn any_single_bit_flip_is_caught((repr, endpoints) in advert_strategy(), bit in any::<prop::sample::Index>()) {
            let mut msg = emit(&repr, &endpoints, V3Ipv4Checksum::default());
            let bit = bit.index(msg.len() * 8);
            msg[bit / 8] ^= 1 << (bit % 8);
            let parsed = parse(&msg, &IpContext { endpoints, ttl: 255 });
            // A flip changes the sum by a power of two, which never cancels; but v3 over IPv4 also
            // accepts the message alone, whose sum the flip may happen to make right.
            let other_convention = repr.version == Version::V3
                && endpoints.family() == Family::V4
                && checksum::is_valid(checksum::sum(&msg, 0));
            if !other_convention {
                prop_assert!(parsed.is_err(), "flip of bit {} accepted", bit);
            }
        }
    }
}
