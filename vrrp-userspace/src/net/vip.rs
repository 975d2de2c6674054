//! Virtual addresses on an interface, through rtnetlink: add, remove, list.
//!
//! Added the way keepalived 2.2.7 adds them, so that `ip addr` reads the same after a
//! migration: IPv4 with the configured prefix and optional label and no broadcast address
//! (keepalived sets one only for `brd`), IPv6 with `nodad` so a new master can use the address
//! at once instead of after duplicate address detection, scope global unless `scope` says
//! otherwise. Adding what is there
//! and removing what is not are not errors: the daemon converges, it does not keep score.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::{Context, Result, bail, ensure};
use futures::TryStreamExt;
use rtnetlink::{
    Handle,
    packet_route::{
        AddressFamily,
        address::{
            AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
        },
    },
};

use crate::net::iface::Interface;

/// A virtual address as configured (`virtual_ipaddress`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Vip {
    pub addr: IpAddr,
    pub prefix_len: u8,
    /// IPv4 only, as `ip addr add ... label eth0:1`.
    pub label: Option<String>,
    /// IPv4 only, as `ip addr add ... brd`: none unless configured, as keepalived.
    pub brd: Option<Ipv4Addr>,
    /// The rtnetlink scope (`scope link` is 253); global unless configured. IPv4 only in
    /// effect: the kernel gives an IPv6 address the scope of its kind, as `ip` finds too. An
    /// IPv4 secondary must have its primary's scope, or the kernel refuses it.
    pub scope: Option<u8>,
}

/// An address found on an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assigned {
    pub addr: IpAddr,
    pub prefix_len: u8,
    /// IPv4: the label, which is the interface name unless one was given.
    pub label: Option<String>,
    pub scope: AddressScope,
    pub flags: AddressFlags,
}

impl Assigned {
    /// Still in duplicate address detection (IPv6): not usable as a source yet.
    pub fn is_tentative(&self) -> bool {
        self.flags.contains(AddressFlags::Tentative)
    }
}

/// What `add` or `remove` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Done,
    /// Added but already there (`EEXIST`), or removed but not there (`EADDRNOTAVAIL`).
    AlreadySo,
}

/// A route netlink socket of the calling thread's network namespace.
#[derive(Clone, Debug)]
pub struct Addresses {
    handle: Handle,
}

impl Addresses {
    /// Opens the socket and spawns its connection task on the current tokio runtime.
    pub fn connect() -> Result<Self> {
        let (connection, handle, _) =
            rtnetlink::new_connection().context("opening a route netlink socket")?;
        tokio::spawn(connection);
        Ok(Addresses { handle })
    }

    pub async fn add(&self, iface: &Interface, vip: &Vip) -> Result<Change> {
        let max = if vip.addr.is_ipv4() { 32 } else { 128 };
        ensure!(
            vip.prefix_len <= max,
            "{}/{}: a prefix length cannot exceed {max}",
            vip.addr,
            vip.prefix_len
        );
        let mut request = self
            .handle
            .address()
            .add(iface.index(), vip.addr, vip.prefix_len);
        let message = request.message_mut();
        message
            .attributes
            .retain(|a| !matches!(a, AddressAttribute::Broadcast(_)));
        match (vip.addr, vip.brd) {
            (IpAddr::V4(_), Some(brd)) => message.attributes.push(AddressAttribute::Broadcast(brd)),
            (IpAddr::V6(_), Some(brd)) => {
                bail!("broadcast {brd} given for {}: IPv4 only", vip.addr)
            }
            (_, None) => {}
        }
        if let Some(scope) = vip.scope {
            message.header.scope = AddressScope::from(scope);
        }
        match (vip.addr, &vip.label) {
            (IpAddr::V4(_), Some(label)) => {
                ensure!(
                    label.len() < libc::IFNAMSIZ,
                    "label {label} for {} is longer than {} bytes",
                    vip.addr,
                    libc::IFNAMSIZ - 1
                );
                message
                    .attributes
                    .push(AddressAttribute::Label(label.clone()));
            }
            (IpAddr::V6(_), Some(label)) => {
                bail!(
                    "label {label} given for {}: labels apply to IPv4 only",
                    vip.addr
                )
            }
            (IpAddr::V6(_), None) => {
                message.header.flags |= AddressHeaderFlags::Nodad;
                message
                    .attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
            (IpAddr::V4(_), None) => {}
        }
        let what = || format!("adding {}/{} to {}", vip.addr, vip.prefix_len, iface.name());
        tolerate(request.execute().await, libc::EEXIST).with_context(what)
    }

    /// Removes `addr/prefix_len`; the prefix must be the assigned one (see `list`).
    pub async fn remove(&self, iface: &Interface, addr: IpAddr, prefix_len: u8) -> Result<Change> {
        let mut message = AddressMessage::default();
        message.header.family = match addr {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        };
        message.header.index = iface.index();
        message.header.prefix_len = prefix_len;
        message.attributes.push(AddressAttribute::Local(addr));
        message.attributes.push(AddressAttribute::Address(addr));
        let what = || format!("removing {addr}/{prefix_len} from {}", iface.name());
        tolerate(
            self.handle.address().del(message).execute().await,
            libc::EADDRNOTAVAIL,
        )
        .with_context(what)
    }

    pub async fn list(&self, iface: &Interface) -> Result<Vec<Assigned>> {
        let messages: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(iface.index())
            .execute()
            .try_collect()
            .await
            .map_err(netlink_error)
            .with_context(|| format!("listing the addresses of {}", iface.name()))?;
        Ok(messages.iter().filter_map(assigned).collect())
    }

    /// The first IPv4 address that is not secondary: what keepalived sends adverts from when
    /// no `unicast_src_ip` is configured.
    pub async fn primary_v4(&self, iface: &Interface) -> Result<Ipv4Addr> {
        self.list(iface)
            .await?
            .into_iter()
            .find_map(|a| match a.addr {
                IpAddr::V4(v4) if !a.flags.contains(AddressFlags::Secondary) => Some(v4),
                _ => None,
            })
            .with_context(|| {
                format!(
                    "interface {} has no IPv4 address to send from",
                    iface.name()
                )
            })
    }

    /// The link-local address VRRP over IPv6 is sent from (RFC 5798 §5.1.2.1).
    pub async fn link_local(&self, iface: &Interface) -> Result<Ipv6Addr> {
        self.list(iface)
            .await?
            .into_iter()
            .find_map(|a| match a.addr {
                IpAddr::V6(v6) if v6.is_unicast_link_local() && !a.is_tentative() => Some(v6),
                _ => None,
            })
            .with_context(|| {
                format!(
                    "interface {} has no usable IPv6 link-local address (IPv6 disabled, link \
                     down, or duplicate address detection still running)",
                    iface.name()
                )
            })
    }
}

/// The configured VIPs that are assigned already: after a restart (or a crash) the daemon
/// removes them unless it is master, so that two nodes never both answer for an address.
pub fn leftovers<'a>(assigned: &'a [Assigned], vips: &[Vip]) -> Vec<&'a Assigned> {
    assigned
        .iter()
        .filter(|a| vips.iter().any(|v| v.addr == a.addr))
        .collect()
}

fn assigned(message: &AddressMessage) -> Option<Assigned> {
    let mut local = None;
    let mut address = None;
    let mut label = None;
    // IFA_FLAGS holds all 32 bits; the header only the low 8, for old kernels.
    let mut flags = AddressFlags::from_bits_retain(u32::from(message.header.flags.bits()));
    for attribute in &message.attributes {
        match attribute {
            AddressAttribute::Local(a) => local = Some(*a),
            AddressAttribute::Address(a) => address = Some(*a),
            AddressAttribute::Label(l) => label = Some(l.clone()),
            AddressAttribute::Flags(f) => flags = *f,
            _ => {}
        }
    }
    // On point-to-point links IFA_ADDRESS is the peer; IFA_LOCAL is always ours when present.
    Some(Assigned {
        addr: local.or(address)?,
        prefix_len: message.header.prefix_len,
        label,
        scope: message.header.scope,
        flags,
    })
}

fn tolerate(result: Result<(), rtnetlink::Error>, benign: i32) -> Result<Change> {
    match result {
        Ok(()) => Ok(Change::Done),
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -benign => Ok(Change::AlreadySo),
        Err(e) => Err(netlink_error(e)),
    }
}

/// Turns kernel refusals into errors that say what to do about them.
fn netlink_error(e: rtnetlink::Error) -> anyhow::Error {
    match e {
        rtnetlink::Error::NetlinkError(e) => {
            let io = e.to_io();
            match io.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => {
                    anyhow::Error::new(io).context("need CAP_NET_ADMIN")
                }
                _ => io.into(),
            }
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assigned(addr: &str, flags: AddressFlags) -> Assigned {
        Assigned {
            addr: addr.parse().unwrap(),
            prefix_len: 24,
            label: None,
            scope: AddressScope::Universe,
            flags,
        }
    }

    #[test]
    fn leftovers_are_configured_vips_only() {
        let on_link = [
            assigned("192.0.2.1", AddressFlags::Permanent),
            assigned("192.0.2.100", AddressFlags::Secondary),
            assigned("2001:db8::100", AddressFlags::Nodad),
        ];
        let vips = [
            Vip {
                addr: "192.0.2.100".parse().unwrap(),
                prefix_len: 32,
                label: None,
                brd: None,
                scope: None,
            },
            Vip {
                addr: "192.0.2.101".parse().unwrap(),
                prefix_len: 24,
                label: None,
                brd: None,
                scope: None,
            },
            Vip {
                addr: "2001:db8::100".parse().unwrap(),
                prefix_len: 64,
                label: None,
                brd: None,
                scope: None,
            },
        ];
        let found: Vec<IpAddr> = leftovers(&on_link, &vips).iter().map(|a| a.addr).collect();
        // Matched by address alone: a VIP left with another prefix is still a leftover.
        assert_eq!(
            found,
            [
                "192.0.2.100".parse::<IpAddr>().unwrap(),
                "2001:db8::100".parse().unwrap()
            ]
        );
    }

    #[test]
    fn reads_local_over_peer_and_full_flags() {
        let mut m = AddressMessage::default();
        m.header.prefix_len = 32;
        m.header.flags = AddressHeaderFlags::Secondary;
        m.attributes
            .push(AddressAttribute::Address("192.0.2.9".parse().unwrap()));
        m.attributes
            .push(AddressAttribute::Local("192.0.2.1".parse().unwrap()));
        m.attributes.push(AddressAttribute::Label("eth0:1".into()));
        let a = super::assigned(&m).unwrap();
        assert_eq!(a.addr, "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(a.label.as_deref(), Some("eth0:1"));
        assert_eq!(a.flags, AddressFlags::Secondary);

        m.attributes.push(AddressAttribute::Flags(
            AddressFlags::Secondary | AddressFlags::Noprefixroute,
        ));
        assert!(
            super::assigned(&m)
                .unwrap()
                .flags
                .contains(AddressFlags::Noprefixroute)
        );

        assert_eq!(super::assigned(&AddressMessage::default()), None);
    }
}
