//! Whether frames an XDP program sends back out of an interface (`XDP_TX`) leave it, as the
//! kernel tells (the `netdev` generic netlink family, Linux 6.3 on).
//!
//! Native drivers transmit what their program sends: `XDP_TX` is part of every driver's base
//! XDP support. A veth is the exception: it transmits XDP frames only while its peer runs an
//! XDP program or has GRO on, and drops them silently otherwise, as a container's veth whose
//! peer on the host has neither does. The kernel then clears `NDO_XMIT` from the veth's XDP
//! features, which is what is read here.

use std::{
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
};

use anyhow::{Context as _, Result};

use super::iface::Interface;

const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
/// include/uapi/linux/netdev.h
const NETDEV_CMD_DEV_GET: u8 = 1;
const NETDEV_A_DEV_IFINDEX: u16 = 1;
const NETDEV_A_DEV_XDP_FEATURES: u16 = 3;
const NETDEV_XDP_ACT_NDO_XMIT: u64 = 1 << 2;

const NLMSG_HDR_LEN: usize = 16;
const GENL_HDR_LEN: usize = 4;
const NLA_HDR_LEN: usize = 4;

/// Whether frames the XDP program on `iface` sends back out of it (`XDP_TX`) are dropped, as
/// they are on a veth whose peer has neither an XDP program nor GRO; `false` when the kernel
/// cannot tell (before 6.3).
pub fn drops_xdp_tx(iface: &Interface) -> Result<bool> {
    if iface.driver()?.as_deref() != Some("veth") {
        return Ok(false);
    }
    let socket = GenlSocket::open()?;
    let Some(family) = socket.family("netdev")? else {
        return Ok(false);
    };
    let reply = socket
        .request(
            family,
            NETDEV_CMD_DEV_GET,
            &[(NETDEV_A_DEV_IFINDEX, &iface.index().to_ne_bytes())],
        )
        .with_context(|| format!("asking the kernel about XDP on {}", iface.name()))?;
    let features = attribute(&reply, NETDEV_A_DEV_XDP_FEATURES)
        .and_then(|v| Some(u64::from_ne_bytes(v.try_into().ok()?)))
        .with_context(|| {
            format!(
                "no XDP features in the kernel's answer for {}",
                iface.name()
            )
        })?;
    Ok(features & NETDEV_XDP_ACT_NDO_XMIT == 0)
}

struct GenlSocket(OwnedFd);

impl GenlSocket {
    fn open() -> Result<Self> {
        // SAFETY: plain socket(2); the result is checked before it is owned.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_GENERIC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error()).context("opening a generic netlink socket");
        }
        // SAFETY: a descriptor just returned by socket(2), owned by nothing else.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// The id of the generic netlink family `name`, if the kernel has it.
    fn family(&self, name: &str) -> Result<Option<u16>> {
        let mut name = name.as_bytes().to_vec();
        name.push(0);
        match self.request(
            GENL_ID_CTRL,
            CTRL_CMD_GETFAMILY,
            &[(CTRL_ATTR_FAMILY_NAME, &name)],
        ) {
            Ok(reply) => Ok(attribute(&reply, CTRL_ATTR_FAMILY_ID)
                .and_then(|v| Some(u16::from_ne_bytes(v.try_into().ok()?)))),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e).context("looking up a generic netlink family"),
        }
    }

    /// Sends one request and returns the attributes of its answer.
    fn request(&self, family: u16, cmd: u8, attrs: &[(u16, &[u8])]) -> io::Result<Vec<u8>> {
        let message = message(family, cmd, attrs);
        // SAFETY: the buffer is live for the call and its length is passed; the kernel is the
        // destination by default on a netlink socket.
        let sent = unsafe {
            libc::send(
                self.0.as_raw_fd(),
                message.as_ptr().cast(),
                message.len(),
                0,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = vec![0u8; 8192];
        // SAFETY: as above, into a buffer of the stated length.
        let len = unsafe { libc::recv(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if len < 0 {
            return Err(io::Error::last_os_error());
        }
        buf.truncate(len as usize);
        answer(&buf)
    }
}

/// A generic netlink request: netlink header, generic header, attributes.
fn message(family: u16, cmd: u8, attrs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut m = vec![0u8; NLMSG_HDR_LEN];
    m[4..6].copy_from_slice(&family.to_ne_bytes());
    m[6..8].copy_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    m.extend_from_slice(&[cmd, 1, 0, 0]);
    for (kind, value) in attrs {
        m.extend_from_slice(&((NLA_HDR_LEN + value.len()) as u16).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(value);
        m.resize(m.len().next_multiple_of(4), 0);
    }
    let len = m.len() as u32;
    m[..4].copy_from_slice(&len.to_ne_bytes());
    m
}

/// The attributes of the answer in `buf`, or the error the kernel sent instead.
fn answer(buf: &[u8]) -> io::Result<Vec<u8>> {
    let malformed = || io::Error::new(io::ErrorKind::InvalidData, "malformed netlink answer");
    let header = buf.get(..NLMSG_HDR_LEN).ok_or_else(malformed)?;
    let len = u32::from_ne_bytes(header[..4].try_into().unwrap()) as usize;
    let kind = u16::from_ne_bytes(header[4..6].try_into().unwrap());
    let body = buf.get(NLMSG_HDR_LEN..len).ok_or_else(malformed)?;
    if kind == libc::NLMSG_ERROR as u16 {
        let code = i32::from_ne_bytes(body.get(..4).ok_or_else(malformed)?.try_into().unwrap());
        return Err(io::Error::from_raw_os_error(-code));
    }
    Ok(body.get(GENL_HDR_LEN..).ok_or_else(malformed)?.to_vec())
}

/// The value of the first attribute of type `kind` in `attrs`.
fn attribute(attrs: &[u8], kind: u16) -> Option<&[u8]> {
    let mut rest = attrs;
    while rest.len() >= NLA_HDR_LEN {
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let this = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < NLA_HDR_LEN || len > rest.len() {
            return None;
        }
        if this == kind {
            return Some(&rest[NLA_HDR_LEN..len]);
        }
        rest = &rest[len.next_multiple_of(4).min(rest.len())..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_padded_and_measured() {
        let m = message(
            0x10,
            CTRL_CMD_GETFAMILY,
            &[(CTRL_ATTR_FAMILY_NAME, b"netdev\0")],
        );
        // 16 + 4 + (4 + 7, padded to 12)
        assert_eq!(m.len(), 32);
        assert_eq!(u32::from_ne_bytes(m[..4].try_into().unwrap()), 32);
        assert_eq!(&m[16..20], &[CTRL_CMD_GETFAMILY, 1, 0, 0]);
        assert_eq!(
            attribute(&m[20..], CTRL_ATTR_FAMILY_NAME),
            Some(&b"netdev\0"[..])
        );
    }

    #[test]
    fn attributes_are_found_past_padding_and_truncation_is_refused() {
        let mut attrs = Vec::new();
        for (kind, value) in [(1u16, &[7u8][..]), (3, &[1, 2, 3, 4, 5, 6, 7, 8])] {
            attrs.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
            attrs.extend_from_slice(&kind.to_ne_bytes());
            attrs.extend_from_slice(value);
            attrs.resize(attrs.len().next_multiple_of(4), 0);
        }
        assert_eq!(attribute(&attrs, 1), Some(&[7u8][..]));
        assert_eq!(attribute(&attrs, 3), Some(&[1u8, 2, 3, 4, 5, 6, 7, 8][..]));
        assert_eq!(attribute(&attrs, 2), None);
        assert_eq!(attribute(&attrs[..10], 3), None);
    }

    #[test]
    fn an_error_answer_is_the_kernels_errno() {
        let mut buf = vec![0u8; NLMSG_HDR_LEN + 4];
        let len = buf.len() as u32;
        buf[..4].copy_from_slice(&len.to_ne_bytes());
        buf[4..6].copy_from_slice(&(libc::NLMSG_ERROR as u16).to_ne_bytes());
        buf[16..20].copy_from_slice(&(-libc::ENOENT).to_ne_bytes());
        let e = answer(&buf).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        assert!(answer(&buf[..10]).is_err());
    }
}
