//! Whether a well-formed advertisement is one a virtual router instance acts on.
//!
//! The codec (`wire::vrrp`) has decided that a datagram is a VRRP advertisement; here it meets
//! one instance's configuration, as in FRR's vrrpd after parsing. The checks, their order and
//! their outcome follow keepalived's `vrrp_check_packet` (keepalived/vrrp/vrrp.c, 2.2.x): an
//! interop peer should see xvrrp drop exactly what keepalived drops.
//!
//! Two keepalived behaviours worth knowing, both confirmed against keepalived 2.2.7 in network
//! namespaces (a backup whose VIP list differs from the master's logged "ip address associated
//! with VRID 51 not present in MASTER advert" / "received an unexpected ip number count 1,
//! expected 2!" and took over after the master-down interval, with and without
//! `vrrp_skip_check_adv_addr`):
//! - an advert whose address list differs from the instance's VIPs is dropped, not merely
//!   logged, although RFC 5798 §7.1 only says the addresses MAY be checked;
//! - `skip_check_adv_addr` skips the address (and unicast peer) checks only in backup state and
//!   only for adverts from the master whose advert was last accepted.

use std::net::IpAddr;

use vrrp_common::wire::vrrp as field;

use crate::{
    time::Centisecs,
    wire::vrrp::{AuthType, Repr, Version},
};

/// How a version 2 instance authenticates (keepalived's `authentication` block).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum V2Auth {
    None,
    /// `auth_type PASS`: the field as it goes on the wire, see `wire::vrrp::password_field`.
    Password([u8; field::V2_AUTH_DATA_LEN]),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExpectedVersion {
    V2 { auth: V2Auth },
    V3,
}

/// What one instance expects of the adverts it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expectations<'a> {
    pub vrid: u8,
    pub version: ExpectedVersion,
    /// The configured interval. Only version 2 compares it: RFC 3768 §7.1 drops a mismatch,
    /// while a version 3 backup learns the master's interval (RFC 5798 §6.4.2).
    pub advert_int: Centisecs,
    /// The instance's virtual addresses, of its family.
    pub vips: &'a [IpAddr],
    /// keepalived's `skip_check_adv_addr` (default `vrrp_skip_check_adv_addr`).
    pub skip_check_adv_addr: bool,
    /// `Some(peers)` when the source must be one of the unicast peers (always, with unicast
    /// peers: `config::Instance::allowed_peers`).
    pub allowed_peers: Option<&'a [IpAddr]>,
}

/// Why a valid advertisement is not for this instance, or not to be believed by it.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Discard {
    /// For another virtual router on the link: routine, not an error.
    VridMismatch = 0,
    /// Version 2 to a version 3 instance or the other way round.
    VersionMismatch = 1,
    /// A version 2 auth type that no RFC defines.
    UnknownAuthType = 2,
    /// Version 2 auth type 2 (IPsec AH, RFC 2338): not implemented, and keepalived sends such
    /// adverts as IP protocol 51, so one inside protocol 112 is bogus.
    IpsecAh = 3,
    /// Version 2 auth type none vs simple password.
    AuthTypeMismatch = 4,
    AuthPasswordMismatch = 5,
    /// Version 2 only.
    IntervalMismatch = 6,
    /// The advert lists a different number of addresses than the instance has VIPs.
    AddressCountMismatch = 7,
    /// One of the instance's VIPs is missing from the advert.
    AddressMismatch = 8,
    /// The source is not one of the configured unicast peers.
    UnknownPeer = 9,
}

impl Discard {
    pub const COUNT: usize = 10;
    pub const ALL: [Discard; Self::COUNT] = [
        Discard::VridMismatch,
        Discard::VersionMismatch,
        Discard::UnknownAuthType,
        Discard::IpsecAh,
        Discard::AuthTypeMismatch,
        Discard::AuthPasswordMismatch,
        Discard::IntervalMismatch,
        Discard::AddressCountMismatch,
        Discard::AddressMismatch,
        Discard::UnknownPeer,
    ];

    /// Stable snake_case name for logs, `xvrrp status` and metrics.
    pub const fn name(self) -> &'static str {
        match self {
            Discard::VridMismatch => "vrid_mismatch",
            Discard::VersionMismatch => "version_mismatch",
            Discard::UnknownAuthType => "unknown_auth_type",
            Discard::IpsecAh => "ipsec_ah",
            Discard::AuthTypeMismatch => "auth_type_mismatch",
            Discard::AuthPasswordMismatch => "auth_password_mismatch",
            Discard::IntervalMismatch => "interval_mismatch",
            Discard::AddressCountMismatch => "address_count_mismatch",
            Discard::AddressMismatch => "address_mismatch",
            Discard::UnknownPeer => "unknown_peer",
        }
    }
}

/// Checks `advert`, sent from `sender`, against `instance`.
///
/// `last_master` is the source of the advert this instance last accepted while in backup
/// state, and `None` in any other state: keepalived's master state always checks addresses.
pub fn validate(
    advert: &Repr,
    sender: IpAddr,
    instance: &Expectations<'_>,
    last_master: Option<IpAddr>,
) -> Result<(), Discard> {
    // keepalived looks instances up by VRID before anything else.
    if advert.vrid != instance.vrid {
        return Err(Discard::VridMismatch);
    }
    match (instance.version, advert.version) {
        (ExpectedVersion::V3, Version::V3) => {}
        (
            ExpectedVersion::V2 { auth },
            Version::V2 {
                auth_type,
                auth_data,
            },
        ) => {
            check_v2_auth(auth, auth_type, &auth_data)?;
            if advert.advert_int != instance.advert_int {
                return Err(Discard::IntervalMismatch);
            }
        }
        _ => return Err(Discard::VersionMismatch),
    }
    let check_addresses = !instance.skip_check_adv_addr || last_master != Some(sender);
    if check_addresses {
        if advert.addresses.len() != instance.vips.len() {
            return Err(Discard::AddressCountMismatch);
        }
        if !instance
            .vips
            .iter()
            .all(|vip| advert.addresses.contains(vip))
        {
            return Err(Discard::AddressMismatch);
        }
        if let Some(peers) = instance.allowed_peers
            && !peers.contains(&sender)
        {
            return Err(Discard::UnknownPeer);
        }
    }
    Ok(())
}

fn check_v2_auth(expected: V2Auth, auth_type: AuthType, data: &[u8]) -> Result<(), Discard> {
    match (expected, auth_type) {
        (_, AuthType::Unknown(_)) => Err(Discard::UnknownAuthType),
        (_, AuthType::IpAuthHeader) => Err(Discard::IpsecAh),
        // keepalived compares the data only under PASS; without authentication it is unused.
        (V2Auth::None, AuthType::None) => Ok(()),
        (V2Auth::Password(pass), AuthType::SimplePassword) => {
            if constant_time_eq(&pass, data) {
                Ok(())
            } else {
                Err(Discard::AuthPasswordMismatch)
            }
        }
        _ => Err(Discard::AuthTypeMismatch),
    }
}

/// keepalived compares passwords in constant time (`memcmp_constant_time`), so that the reply
/// timing tells nothing about how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::vrrp::{Addresses, password_field};
    use std::net::{Ipv4Addr, Ipv6Addr};

    const MASTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
    const VIP2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 101);
    const VIPS: [IpAddr; 1] = [IpAddr::V4(VIP)];

    fn v2_advert(auth_type: AuthType, auth_data: [u8; 8]) -> Repr {
        Repr {
            version: Version::V2 {
                auth_type,
                auth_data,
            },
            vrid: 51,
            priority: 100,
            advert_int: Centisecs(100),
            addresses: Addresses::V4(vec![VIP]),
        }
    }

    fn v3_advert() -> Repr {
        Repr {
            version: Version::V3,
            ..v2_advert(AuthType::None, [0; 8])
        }
    }

    fn v3_instance() -> Expectations<'static> {
        Expectations {
            vrid: 51,
            version: ExpectedVersion::V3,
            advert_int: Centisecs(100),
            vips: &VIPS,
            skip_check_adv_addr: false,
            allowed_peers: None,
        }
    }

    fn v2_instance(auth: V2Auth) -> Expectations<'static> {
        Expectations {
            version: ExpectedVersion::V2 { auth },
            ..v3_instance()
        }
    }

    #[test]
    fn matching_adverts_pass() {
        assert_eq!(validate(&v3_advert(), MASTER, &v3_instance(), None), Ok(()));
        let pass = password_field(b"xvrrp-pw");
        let advert = v2_advert(AuthType::SimplePassword, pass);
        assert_eq!(
            validate(&advert, MASTER, &v2_instance(V2Auth::Password(pass)), None),
            Ok(())
        );
    }

    #[test]
    fn vrid_mismatch() {
        let advert = Repr {
            vrid: 52,
            ..v3_advert()
        };
        assert_eq!(
            validate(&advert, MASTER, &v3_instance(), None),
            Err(Discard::VridMismatch)
        );
    }

    #[test]
    fn version_mismatch_both_ways() {
        let v2 = v2_instance(V2Auth::None);
        assert_eq!(
            validate(&v3_advert(), MASTER, &v2, None),
            Err(Discard::VersionMismatch)
        );
        let advert = v2_advert(AuthType::None, [0; 8]);
        assert_eq!(
            validate(&advert, MASTER, &v3_instance(), None),
            Err(Discard::VersionMismatch)
        );
    }

    #[test]
    fn v2_auth_type_checks() {
        let pass = V2Auth::Password(password_field(b"1111"));
        let cases = [
            (
                V2Auth::None,
                AuthType::Unknown(7),
                Err(Discard::UnknownAuthType),
            ),
            (pass, AuthType::Unknown(3), Err(Discard::UnknownAuthType)),
            (V2Auth::None, AuthType::IpAuthHeader, Err(Discard::IpsecAh)),
            (pass, AuthType::IpAuthHeader, Err(Discard::IpsecAh)),
            (
                V2Auth::None,
                AuthType::SimplePassword,
                Err(Discard::AuthTypeMismatch),
            ),
            (pass, AuthType::None, Err(Discard::AuthTypeMismatch)),
        ];
        for (expected, received, outcome) in cases {
            let advert = v2_advert(received, password_field(b"1111"));
            assert_eq!(
                validate(&advert, MASTER, &v2_instance(expected), None),
                outcome,
                "{expected:?} {received:?}"
            );
        }
    }

    #[test]
    fn v2_no_auth_ignores_the_data() {
        let advert = v2_advert(AuthType::None, *b"garbage!");
        assert_eq!(
            validate(&advert, MASTER, &v2_instance(V2Auth::None), None),
            Ok(())
        );
    }

    #[test]
    fn v2_password_must_match_all_eight_bytes() {
        let instance = v2_instance(V2Auth::Password(password_field(b"1111")));
        for wrong in [&b"1112"[..], b"111", b"11110", b""] {
            let advert = v2_advert(AuthType::SimplePassword, password_field(wrong));
            assert_eq!(
                validate(&advert, MASTER, &instance, None),
                Err(Discard::AuthPasswordMismatch),
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn v2_interval_must_match_and_v3_is_learned() {
        let instance = v2_instance(V2Auth::None);
        let advert = Repr {
            advert_int: Centisecs(200),
            ..v2_advert(AuthType::None, [0; 8])
        };
        assert_eq!(
            validate(&advert, MASTER, &instance, None),
            Err(Discard::IntervalMismatch)
        );
        let advert = Repr {
            advert_int: Centisecs(200),
            ..v3_advert()
        };
        assert_eq!(validate(&advert, MASTER, &v3_instance(), None), Ok(()));
    }

    #[test]
    fn auth_is_checked_before_the_interval() {
        let instance = v2_instance(V2Auth::Password(password_field(b"a")));
        let advert = Repr {
            advert_int: Centisecs(300),
            ..v2_advert(AuthType::SimplePassword, password_field(b"b"))
        };
        assert_eq!(
            validate(&advert, MASTER, &instance, None),
            Err(Discard::AuthPasswordMismatch)
        );
    }

    #[test]
    fn address_list_must_match_like_keepalived() {
        let instance = v3_instance();
        let fewer = Repr {
            addresses: Addresses::V4(vec![]),
            ..v3_advert()
        };
        assert_eq!(
            validate(&fewer, MASTER, &instance, None),
            Err(Discard::AddressCountMismatch)
        );
        let more = Repr {
            addresses: Addresses::V4(vec![VIP, VIP2]),
            ..v3_advert()
        };
        assert_eq!(
            validate(&more, MASTER, &instance, None),
            Err(Discard::AddressCountMismatch)
        );
        let other = Repr {
            addresses: Addresses::V4(vec![VIP2]),
            ..v3_advert()
        };
        assert_eq!(
            validate(&other, MASTER, &instance, None),
            Err(Discard::AddressMismatch)
        );
        let v6 = Repr {
            addresses: Addresses::V6(vec![Ipv6Addr::LOCALHOST]),
            ..v3_advert()
        };
        assert_eq!(
            validate(&v6, MASTER, &instance, None),
            Err(Discard::AddressMismatch)
        );
    }

    #[test]
    fn address_order_does_not_matter() {
        let vips = [IpAddr::V4(VIP), IpAddr::V4(VIP2)];
        let instance = Expectations {
            vips: &vips,
            ..v3_instance()
        };
        let advert = Repr {
            addresses: Addresses::V4(vec![VIP2, VIP]),
            ..v3_advert()
        };
        assert_eq!(validate(&advert, MASTER, &instance, None), Ok(()));
    }

    #[test]
    fn skip_check_adv_addr_trusts_only_the_known_master() {
        let instance = Expectations {
            skip_check_adv_addr: true,
            ..v3_instance()
        };
        let other = Repr {
            addresses: Addresses::V4(vec![VIP2]),
            ..v3_advert()
        };
        assert_eq!(validate(&other, MASTER, &instance, Some(MASTER)), Ok(()));
        assert_eq!(
            validate(&other, OTHER, &instance, Some(MASTER)),
            Err(Discard::AddressMismatch)
        );
        assert_eq!(
            validate(&other, MASTER, &instance, None),
            Err(Discard::AddressMismatch)
        );
        // Without the option a known master is checked too.
        assert_eq!(
            validate(&other, MASTER, &v3_instance(), Some(MASTER)),
            Err(Discard::AddressMismatch)
        );
    }

    #[test]
    fn unicast_source_must_be_a_peer_when_asked() {
        let peers = [MASTER];
        let instance = Expectations {
            allowed_peers: Some(&peers),
            ..v3_instance()
        };
        assert_eq!(validate(&v3_advert(), MASTER, &instance, None), Ok(()));
        assert_eq!(
            validate(&v3_advert(), OTHER, &instance, None),
            Err(Discard::UnknownPeer)
        );
        assert_eq!(validate(&v3_advert(), OTHER, &v3_instance(), None), Ok(()));
        // keepalived checks peers inside its address checks, so the skip covers both.
        let skipping = Expectations {
            skip_check_adv_addr: true,
            ..instance
        };
        assert_eq!(
            validate(&v3_advert(), OTHER, &skipping, Some(OTHER)),
            Ok(())
        );
    }

    #[test]
    fn names_are_unique_and_all_is_dense() {
        for (i, d) in Discard::ALL.iter().enumerate() {
            assert_eq!(*d as usize, i);
            for e in Discard::ALL {
                assert_eq!(*d == e, d.name() == e.name());
            }
        }
    }

    #[test]
    fn constant_time_eq_compares_every_byte() {
        assert!(constant_time_eq(b"12345678", b"12345678"));
        assert!(!constant_time_eq(b"12345678", b"12345679"));
        assert!(!constant_time_eq(b"92345678", b"12345678"));
        assert!(!constant_time_eq(b"1234", b"12345678"));
    }
}
