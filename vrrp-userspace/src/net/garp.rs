//! Gratuitous ARPs and unsolicited Neighbor Advertisements for a set of VIPs, written as whole
//! Ethernet frames to an `AF_PACKET` socket, as keepalived does: no route, no neighbour entry
//! and no usable (non-tentative) address is needed, only the interface.
//!
//! Neighbours act on them only in part. Linux updates an *existing* neighbour entry from a
//! gratuitous ARP or an unsolicited NA, but creates none unless the receiving interface has
//! `net.ipv4.conf.<if>.arp_accept=1` (or `all`) for ARP, or
//! `net.ipv6.conf.<if>.accept_untracked_na=1` on an interface that also forwards IPv6 for NA
//! (RFC 9131: routers only). A host that has not talked to a VIP yet learns its MAC by asking,
//! which reaches the master anyway.

use std::{mem, net::IpAddr};

use anyhow::{Context, Result};
use socket2::{Domain, SockAddr, Socket, Type};
use vrrp_common::wire::ethernet;

use crate::{
    net::iface::Interface,
    wire::{arp, ndisc},
};

/// Sends announcements out of one interface.
#[derive(Debug)]
pub struct Announcer {
    socket: Socket,
    iface: Interface,
    mac: [u8; 6],
}

impl Announcer {
    /// Reads the interface MAC once: a MAC change means a new `Announcer`.
    pub fn open(iface: &Interface) -> Result<Self> {
        let mac = iface.mac()?;
        // Protocol 0: the socket sends only and never queues received frames.
        let socket = Socket::new(Domain::PACKET, Type::RAW, None)
            .map_err(super::need_cap_net_raw)
            .with_context(|| {
                format!(
                    "opening an AF_PACKET socket to announce VIPs on {}",
                    iface.name()
                )
            })?;
        Ok(Announcer {
            socket,
            iface: iface.clone(),
            mac,
        })
    }

    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Sends `repeat` rounds of one frame per VIP, back to back, in keepalived's order (rounds
    /// outside, VIPs inside; `vrrp_garp_master_repeat`). Spacing rounds in time
    /// (`vrrp_garp_interval`, `garp_master_delay`) is the caller's. Returns the frames sent.
    pub fn announce(&self, vips: &[IpAddr], repeat: u32) -> Result<usize> {
        // keepalived reads forwarding at each NA, so a sysctl change shows in the next one.
        let router = if vips.iter().any(IpAddr::is_ipv6) {
            self.iface.ipv6_forwarding()?
        } else {
            false
        };
        let mut sent = 0;
        for _ in 0..repeat {
            for vip in vips {
                match *vip {
                    IpAddr::V4(address) => {
                        let frame = arp::Repr {
                            sender_mac: self.mac,
                            address,
                        }
                        .to_frame();
                        self.send(&frame, ethernet::ETHERTYPE_ARP)
                    }
                    IpAddr::V6(target) => {
                        let frame = ndisc::Repr {
                            mac: self.mac,
                            target,
                            router,
                        }
                        .to_frame();
                        self.send(&frame, ethernet::ETHERTYPE_IPV6)
                    }
                }
                .with_context(|| {
                    format!(
                        "announcing {vip} on {} (after {sent} frames)",
                        self.iface.name()
                    )
                })?;
                sent += 1;
            }
        }
        Ok(sent)
    }

    fn send(&self, frame: &[u8], ethertype: u16) -> Result<()> {
        let mut dst = [0; 6];
        dst.copy_from_slice(&frame[ethernet::DST..ethernet::DST + ethernet::ADDR_LEN]);
        let n = self
            .socket
            .send_to(frame, &link_addr(self.iface.index(), ethertype, dst))?;
        anyhow::ensure!(n == frame.len(), "sent {n} of {} bytes", frame.len());
        Ok(())
    }
}

/// A `sockaddr_ll` for sending `ethertype` frames to `dst` out of `ifindex`.
fn link_addr(ifindex: u32, ethertype: u16, dst: [u8; 6]) -> SockAddr {
    // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_ll, and all zeroes is a
    // valid value of both.
    unsafe {
        let mut storage: libc::sockaddr_storage = mem::zeroed();
        let ll = &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_ll>();
        ll.sll_family = libc::AF_PACKET as u16;
        ll.sll_protocol = ethertype.to_be();
        ll.sll_ifindex = ifindex as i32;
        ll.sll_halen = ethernet::ADDR_LEN as u8;
        ll.sll_addr[..6].copy_from_slice(&dst);
        SockAddr::new(
            storage,
            mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    }
}
