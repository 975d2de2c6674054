//! The kernel side of the daemon: interfaces, virtual addresses (rtnetlink), gratuitous ARP and
//! unsolicited NA (`AF_PACKET`), and the raw sockets VRRP travels in.
//!
//! Every socket belongs to the network namespace of the thread that opens it.

pub mod garp;
pub mod iface;
pub mod link_watch;
pub mod vip;
pub mod vrrp_socket;
pub mod xdp_features;

/// Raw and packet sockets need CAP_NET_RAW; say so instead of a bare "Operation not permitted".
fn need_cap_net_raw(e: std::io::Error) -> anyhow::Error {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => anyhow::Error::new(e).context("need CAP_NET_RAW"),
        _ => e.into(),
    }
}
