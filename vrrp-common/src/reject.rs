//! Why a datagram is not a valid VRRP advertisement (RFC 5798 §7.1, RFC 3768 §7.1).
//!
//! The XDP program counts each reason in its own per-CPU slot; the userspace codec returns the
//! same values, so a rejection has one name whichever side saw it.

#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reject {
    /// The frame ends before the IP header, or the IP length runs past the frame, or the VRRP
    /// message is shorter than its fixed header.
    Truncated = 0,
    /// TTL (IPv4) or hop limit (IPv6) is not 255: the advert was routed, or forged off-link.
    TtlNot255 = 1,
    /// Not version 3, nor version 2 over IPv4.
    UnsupportedVersion = 2,
    /// Type is not 1 (ADVERTISEMENT).
    UnknownType = 3,
    /// The message is too short for the addresses `count` announces (and, in v2, the
    /// authentication data).
    CountExceedsLength = 4,
    BadChecksum = 5,
    /// An advertisement interval of 0 would make every timer fire at once.
    ZeroInterval = 6,
    /// An IPv4 fragment: adverts are never fragmented, and a fragment cannot be checked.
    Fragment = 7,
}

impl Reject {
    pub const COUNT: usize = 8;
    pub const ALL: [Reject; Self::COUNT] = [
        Reject::Truncated,
        Reject::TtlNot255,
        Reject::UnsupportedVersion,
        Reject::UnknownType,
        Reject::CountExceedsLength,
        Reject::BadChecksum,
        Reject::ZeroInterval,
        Reject::Fragment,
    ];

    /// Stable snake_case name, used in logs, `xvrrp status` and metrics.
    pub const fn name(self) -> &'static str {
        match self {
            Reject::Truncated => "truncated",
            Reject::TtlNot255 => "ttl_not_255",
            Reject::UnsupportedVersion => "unsupported_version",
            Reject::UnknownType => "unknown_type",
            Reject::CountExceedsLength => "count_exceeds_length",
            Reject::BadChecksum => "bad_checksum",
            Reject::ZeroInterval => "zero_interval",
            Reject::Fragment => "fragment",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_reason_at_its_own_index() {
        for (i, r) in Reject::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }

    #[test]
    fn names_are_unique() {
        for a in Reject::ALL {
            for b in Reject::ALL {
                assert_eq!(a == b, a.name() == b.name());
            }
        }
    }
}
