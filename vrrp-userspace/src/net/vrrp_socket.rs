//! Raw IP protocol 112 sockets that carry VRRP messages, one per interface and family.
//!
//! The socket moves message bytes; the codec builds and judges them. What the socket settles is
//! what RFC 5798 and keepalived 2.2.7 ask of the IP layer:
//! - sent with TTL / hop limit 255 (§5.1.1.3, §5.1.2.3), to multicast and to unicast peers
//!   alike, and with TOS / traffic class 0xc0 as keepalived (see `tests/fixtures/README.md`);
//! - sent from an explicit source (`unicast_src_ip`, or the interface's primary IPv4 address;
//!   for IPv6 its link-local address, §5.1.2.1) chosen per message with `IP_PKTINFO` /
//!   `IPV6_PKTINFO`, because binding a raw socket to an address would also filter what it
//!   receives down to that destination, multicast included;
//! - bound to the interface, joined to 224.0.0.18 / ff02::12 on it, own multicast not looped
//!   back;
//! - received with source, destination and TTL / hop limit, which the codec checks. A raw IPv4
//!   socket delivers the IP header (read with `wire::ip`), a raw IPv6 socket only the payload,
//!   with the hop limit and destination as ancillary data.
//!
//! One socket per interface and family serves every instance on it: each receives every VRRP
//! datagram of the interface, so the daemon demultiplexes by VRID after parsing.

use std::{
    io, mem,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6},
    os::fd::AsRawFd,
};

use anyhow::{Context, Result, bail};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::io::{Interest, unix::AsyncFd};
use vrrp_common::{reject::Reject, wire::vrrp};

use crate::{
    net::iface::Interface,
    wire::{
        ip::Ipv4Packet,
        vrrp::{Endpoints, IpContext},
    },
};

/// A receive buffer this long holds any IP datagram, so nothing is ever cut short.
pub const RECV_BUFFER_LEN: usize = 65535;

/// IPTOS_PREC_INTERNETCONTROL, what keepalived sends adverts with.
const TOS: u32 = 0xc0;

/// Room for the ancillary data of one receive: `IPV6_PKTINFO` and `IPV6_HOPLIMIT`. `u64`s keep
/// it aligned for `cmsghdr`.
type Control = [u64; 16];

/// A VRRP socket of one interface and address family, registered with the tokio reactor.
#[derive(Debug)]
pub struct VrrpSocket {
    fd: AsyncFd<Socket>,
    iface: Interface,
    source: IpAddr,
}

impl VrrpSocket {
    /// Must be called within a tokio runtime; the socket belongs to the calling thread's
    /// network namespace.
    pub fn open_v4(iface: &Interface, source: Ipv4Addr) -> Result<Self> {
        let socket = raw_socket(Domain::IPV4, iface)?;
        let index = InterfaceIndexOrAddress::Index(iface.index());
        let group = Ipv4Addr::from(vrrp::MULTICAST_V4);
        (|| {
            socket.set_ttl(vrrp::TTL.into())?;
            socket.set_multicast_ttl_v4(vrrp::TTL.into())?;
            socket.set_multicast_loop_v4(false)?;
            socket.set_tos(TOS)?;
            socket.join_multicast_v4_n(&group, &index)
        })()
        .with_context(|| format!("setting up the IPv4 VRRP socket on {}", iface.name()))?;
        Self::register(socket, iface, source.into())
    }

    /// `source` is normally the interface's link-local address (`Addresses::link_local`).
    pub fn open_v6(iface: &Interface, source: Ipv6Addr) -> Result<Self> {
        let socket = raw_socket(Domain::IPV6, iface)?;
        let group = Ipv6Addr::from(vrrp::MULTICAST_V6);
        (|| {
            socket.set_unicast_hops_v6(vrrp::TTL.into())?;
            socket.set_multicast_hops_v6(vrrp::TTL.into())?;
            socket.set_multicast_loop_v6(false)?;
            socket.set_multicast_if_v6(iface.index())?;
            socket.set_tclass_v6(TOS)?;
            socket.set_recv_hoplimit_v6(true)?;
            set_int_option(&socket, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
            socket.join_multicast_v6(&group, iface.index())
        })()
        .with_context(|| format!("setting up the IPv6 VRRP socket on {}", iface.name()))?;
        Self::register(socket, iface, source.into())
    }

    fn register(socket: Socket, iface: &Interface, source: IpAddr) -> Result<Self> {
        socket.set_nonblocking(true)?;
        // SAFETY: the Socket owns its descriptor and keeps it open until it is dropped, which
        // happens only with the AsyncFd.
        let fd = unsafe { AsyncFd::register(socket) }
            .map_err(io::Error::from)
            .context("registering the VRRP socket with tokio (no runtime?)")?;
        Ok(VrrpSocket {
            fd,
            iface: iface.clone(),
            source,
        })
    }

    pub fn interface(&self) -> &Interface {
        &self.iface
    }

    /// The address every message is sent from; the codec needs it for the checksum.
    pub fn source(&self) -> IpAddr {
        self.source
    }

    /// Sends to 224.0.0.18 or ff02::12.
    pub async fn send_multicast(&self, message: &[u8]) -> Result<()> {
        let group = match self.source {
            IpAddr::V4(_) => IpAddr::from(vrrp::MULTICAST_V4),
            IpAddr::V6(_) => IpAddr::from(vrrp::MULTICAST_V6),
        };
        self.send_to(message, group).await
    }

    /// Sends to one address: a unicast peer, or a multicast group.
    pub async fn send_to(&self, message: &[u8], dst: IpAddr) -> Result<()> {
        let index = self.iface.index();
        let sent = match (self.source, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let info = libc::in_pktinfo {
                    ipi_ifindex: index as libc::c_int,
                    ipi_spec_dst: in_addr(src),
                    ipi_addr: in_addr(Ipv4Addr::UNSPECIFIED),
                };
                let to = SockAddr::from(SocketAddrV4::new(dst, 0));
                self.send_msg(message, &to, libc::IPPROTO_IP, libc::IP_PKTINFO, info)
                    .await
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: src.octets(),
                    },
                    ipi6_ifindex: index,
                };
                // The scope matters for link-local and ff02:: destinations only; the kernel
                // ignores it for the others.
                let to = SockAddr::from(SocketAddrV6::new(dst, 0, 0, index));
                self.send_msg(message, &to, libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, info)
                    .await
            }
            _ => bail!(
                "cannot send to {dst} from the {} VRRP socket on {}",
                self.source,
                self.iface.name()
            ),
        };
        let what = || {
            format!(
                "sending VRRP from {} to {dst} on {}",
                self.source,
                self.iface.name()
            )
        };
        let n = sent.with_context(what)?;
        anyhow::ensure!(
            n == message.len(),
            "sent {n} of {} bytes ({})",
            message.len(),
            what()
        );
        Ok(())
    }

    /// Waits for the next datagram. The outer error is the socket's; the inner one names why
    /// the datagram cannot carry a VRRP message (a reason the daemon counts, as the XDP program
    /// does): too short for a VRRP header, an IPv4 fragment, or cut short by a buffer shorter
    /// than `RECV_BUFFER_LEN`. The TTL is reported, not judged.
    pub async fn recv<'b>(
        &self,
        buf: &'b mut [u8],
    ) -> Result<Result<(IpContext, &'b [u8]), Reject>> {
        let mut control: Control = [0; 16];
        let (n, from, flags, control_len) = self
            .fd
            .async_io(Interest::READABLE, |s| recv_msg(s, buf, &mut control))
            .await
            .with_context(|| format!("receiving VRRP on {}", self.iface.name()))?;
        if flags & libc::MSG_TRUNC != 0 {
            return Ok(Err(Reject::Truncated));
        }
        let datagram = &buf[..n];
        match self.source {
            IpAddr::V4(_) => Ok(Ipv4Packet::new_checked(datagram).and_then(|p| {
                let (ctx, _) = p.vrrp_payload()?;
                // The same bytes as that payload, but borrowed from `buf` rather than from `p`.
                Ok((ctx, &datagram[p.header_len()..usize::from(p.total_len())]))
            })),
            IpAddr::V6(_) => {
                let Some(src) = from.as_socket_ipv6() else {
                    bail!(
                        "IPv6 VRRP socket on {} received from {from:?}",
                        self.iface.name()
                    );
                };
                let (dst, ttl) = ipv6_ancillary(&control, control_len).with_context(|| {
                    format!(
                        "the kernel gave no destination or hop limit on {}",
                        self.iface.name()
                    )
                })?;
                if datagram.len() < vrrp::HEADER_LEN {
                    return Ok(Err(Reject::Truncated));
                }
                let endpoints = Endpoints::V6 {
                    src: *src.ip(),
                    dst,
                };
                Ok(Ok((IpContext { endpoints, ttl }, datagram)))
            }
        }
    }

    async fn send_msg<T: Copy>(
        &self,
        message: &[u8],
        to: &SockAddr,
        level: libc::c_int,
        kind: libc::c_int,
        info: T,
    ) -> io::Result<usize> {
        self.fd
            .async_io(Interest::WRITABLE, |s| {
                send_msg(s, message, to, level, kind, info)
            })
            .await
    }
}

fn raw_socket(domain: Domain, iface: &Interface) -> Result<Socket> {
    let protocol = Protocol::from(i32::from(vrrp::IP_PROTOCOL));
    let socket = Socket::new(domain, Type::RAW, Some(protocol))
        .map_err(super::need_cap_net_raw)
        .with_context(|| format!("opening a raw VRRP socket for {}", iface.name()))?;
    socket
        .bind_device(Some(iface.name().as_bytes()))
        .with_context(|| format!("binding the VRRP socket to interface {}", iface.name()))?;
    Ok(socket)
}

fn set_int_option(
    socket: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: value is a c_int that outlives the call, and its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn in_addr(a: Ipv4Addr) -> libc::in_addr {
    libc::in_addr {
        s_addr: u32::from_ne_bytes(a.octets()),
    }
}

/// `sendmsg` with one control message holding `info`.
fn send_msg<T: Copy>(
    socket: &Socket,
    message: &[u8],
    to: &SockAddr,
    level: libc::c_int,
    kind: libc::c_int,
    info: T,
) -> io::Result<usize> {
    let mut control: Control = [0; 16];
    let data_len = mem::size_of::<T>() as u32;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(data_len) } as usize;
    assert!(
        space <= mem::size_of::<Control>(),
        "control buffer too small"
    );
    let mut iov = libc::iovec {
        iov_base: message.as_ptr() as *mut _,
        iov_len: message.len(),
    };
    // SAFETY: msghdr is plain old data; all zeroes is a valid value.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = to.as_ptr() as *mut _;
    msg.msg_namelen = to.len();
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space;
    // SAFETY: msg_control points to `space` zeroed, aligned bytes, room for one header and
    // `info`; sendmsg only reads from the buffers msg points to, which all outlive the call.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = level;
        (*cmsg).cmsg_type = kind;
        (*cmsg).cmsg_len = libc::CMSG_LEN(data_len) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<T>(), info);
        let n = libc::sendmsg(socket.as_raw_fd(), &msg, 0);
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
}

/// `recvmsg` into `buf` and `control`: bytes, sender, flags, ancillary data length.
fn recv_msg(
    socket: &Socket,
    buf: &mut [u8],
    control: &mut Control,
) -> io::Result<(usize, SockAddr, libc::c_int, usize)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: try_init hands a zeroed sockaddr_storage and its length to fill; recvmsg writes
    // at most msg_namelen, msg_controllen and iov_len bytes into buffers that outlive the call.
    let ((n, flags, control_len), from) = unsafe {
        SockAddr::try_init(|storage, len| {
            let mut msg: libc::msghdr = mem::zeroed();
            msg.msg_name = storage.cast();
            msg.msg_namelen = *len;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = mem::size_of::<Control>();
            let n = libc::recvmsg(socket.as_raw_fd(), &mut msg, 0);
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            *len = msg.msg_namelen;
            Ok((n as usize, msg.msg_flags, msg.msg_controllen))
        })?
    };
    Ok((n, from, flags, control_len))
}

/// Destination (`IPV6_PKTINFO`) and hop limit (`IPV6_HOPLIMIT`) of a received datagram.
fn ipv6_ancillary(control: &Control, len: usize) -> Option<(Ipv6Addr, u8)> {
    // SAFETY: msghdr is plain old data; all zeroes is a valid value.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_control = control.as_ptr() as *mut _;
    msg.msg_controllen = len;
    let (mut dst, mut hops) = (None, None);
    // SAFETY: the kernel wrote `len` bytes of well-formed control messages into `control`;
    // CMSG_NXTHDR stops at its end, and each data read stays within its cmsg_len.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let data = libc::CMSG_DATA(cmsg);
            match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                    let info = std::ptr::read_unaligned(data.cast::<libc::in6_pktinfo>());
                    dst = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr));
                }
                (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                    let h = std::ptr::read_unaligned(data.cast::<libc::c_int>());
                    hops = u8::try_from(h).ok();
                }
                _ => {}
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Some((dst?, hops?))
}
