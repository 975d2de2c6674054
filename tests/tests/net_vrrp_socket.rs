//! Raw VRRP sockets between two namespaces: multicast and unicast, IPv4 and IPv6, with the
//! source, destination and TTL / hop limit the receiver reports.
//!
//! The sockets are opened on a thread inside each namespace (so they belong to it) while the
//! test's tokio runtime is entered there, then driven from the test thread.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use tests::{
    fixtures,
    netns::{Netns, veth},
};
use tokio::runtime::Runtime;
use vrrp_common::{
    reject::Reject,
    wire::{ethernet, ipv4, ipv6},
};
use vrrp_userspace::{
    net::{
        garp::Announcer,
        iface::Interface,
        vip::Addresses,
        vrrp_socket::{RECV_BUFFER_LEN, VrrpSocket},
    },
    wire::vrrp::{Endpoints, IpContext},
};

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A (`va`) and B (`vb`) joined by a veth pair, no DAD so link-local addresses work at once.
fn topology(tag: &str) -> (Netns, Netns) {
    let (a, b) = (
        Netns::new(&format!("{tag}a")),
        Netns::new(&format!("{tag}b")),
    );
    for n in [&a, &b] {
        n.exec(&["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"]);
    }
    veth(&a, "va", &b, "vb");
    a.ip(&["addr", "add", "192.0.2.1/24", "dev", "va"]);
    a.ip(&["addr", "add", "192.0.2.11/24", "dev", "va"]);
    b.ip(&["addr", "add", "192.0.2.2/24", "dev", "vb"]);
    a.ip(&["addr", "add", "2001:db8::1/64", "dev", "va", "nodad"]);
    b.ip(&["addr", "add", "2001:db8::2/64", "dev", "vb", "nodad"]);
    (a, b)
}

/// Opens in `ns`, registered with `rt`.
fn in_ns<T: Send>(ns: &Netns, rt: &Runtime, f: impl FnOnce() -> T + Send) -> T {
    ns.run(|| {
        let _entered = rt.enter();
        f()
    })
}

/// The VRRP message of a keepalived advert (Ethernet and IP headers cut off).
fn advert(name: &str, ip_header_len: usize) -> Vec<u8> {
    fixtures::frame(name)[ethernet::HEADER_LEN + ip_header_len..].to_vec()
}

/// The next datagram within 5 s.
async fn recv(socket: &VrrpSocket) -> Result<(IpContext, Vec<u8>), Reject> {
    let mut buf = vec![0; RECV_BUFFER_LEN];
    let got = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buf))
        .await
        .expect("a datagram within 5 s")
        .expect("receiving");
    got.map(|(ctx, payload)| (ctx, payload.to_vec()))
}

/// Nothing arrives within 300 ms.
async fn nothing(socket: &VrrpSocket) {
    let mut buf = vec![0; RECV_BUFFER_LEN];
    let got = tokio::time::timeout(Duration::from_millis(300), socket.recv(&mut buf)).await;
    assert!(
        got.is_err(),
        "unexpected datagram: {:?}",
        got.map(|r| r.map(|r| r.map(|(c, _)| c)))
    );
}

#[test]
fn ipv4_multicast_and_unicast_with_a_chosen_source() {
    let (a, b) = topology("vs4");
    let rt = runtime();
    let a1 = Ipv4Addr::new(192, 0, 2, 1);
    let a11 = Ipv4Addr::new(192, 0, 2, 11);
    let b2 = Ipv4Addr::new(192, 0, 2, 2);
    let (sender, unicast_src) = in_ns(&a, &rt, || {
        let va = Interface::by_name("va").unwrap();
        (
            VrrpSocket::open_v4(&va, a1).unwrap(),
            VrrpSocket::open_v4(&va, a11).unwrap(),
        )
    });
    let receiver = in_ns(&b, &rt, || {
        VrrpSocket::open_v4(&Interface::by_name("vb").unwrap(), b2).unwrap()
    });
    let message = advert("keepalived-2.2.7/v3-ipv4", ipv4::MIN_HEADER_LEN);
    assert_eq!(message.len(), 12);

    rt.block_on(async {
        assert_eq!(sender.source(), IpAddr::V4(a1));
        sender.send_multicast(&message).await.unwrap();
        let (ctx, payload) = recv(&receiver).await.unwrap();
        let group = Ipv4Addr::from(vrrp_common::wire::vrrp::MULTICAST_V4);
        assert_eq!(
            ctx.endpoints,
            Endpoints::V4 {
                src: a1,
                dst: group
            }
        );
        assert_eq!((ctx.ttl, payload.as_slice()), (255, message.as_slice()));

        unicast_src.send_to(&message, b2.into()).await.unwrap();
        let (ctx, payload) = recv(&receiver).await.unwrap();
        assert_eq!(ctx.endpoints, Endpoints::V4 { src: a11, dst: b2 });
        assert_eq!((ctx.ttl, payload.as_slice()), (255, message.as_slice()));

        // IP_MULTICAST_LOOP off: A's other socket, joined to the group, saw none of this.
        nothing(&unicast_src).await;

        // Too short for a VRRP header: named as the XDP program names it.
        sender.send_multicast(&message[..7]).await.unwrap();
        assert_eq!(recv(&receiver).await.unwrap_err(), Reject::Truncated);

        let err = format!(
            "{:#}",
            sender
                .send_to(&message, "2001:db8::2".parse().unwrap())
                .await
                .unwrap_err()
        );
        assert!(
            err.contains("cannot send to 2001:db8::2 from the 192.0.2.1 VRRP socket on va"),
            "{err}"
        );
    });
}

#[test]
fn ipv6_multicast_and_unicast_from_the_link_local_address() {
    let (a, b) = topology("vs6");
    let rt = runtime();
    let link_local = |ns: &Netns, ifname: &'static str| -> Ipv6Addr {
        ns.run(|| {
            rt.block_on(async {
                let iface = Interface::by_name(ifname).unwrap();
                let addrs = Addresses::connect().unwrap();
                for _ in 0..50 {
                    if let Ok(lla) = addrs.link_local(&iface).await {
                        return lla;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                panic!("no link-local address on {ifname} within 5 s");
            })
        })
    };
    let (lla_a, lla_b) = (link_local(&a, "va"), link_local(&b, "vb"));
    let sender = in_ns(&a, &rt, || {
        VrrpSocket::open_v6(&Interface::by_name("va").unwrap(), lla_a).unwrap()
    });
    let receiver = in_ns(&b, &rt, || {
        VrrpSocket::open_v6(&Interface::by_name("vb").unwrap(), lla_b).unwrap()
    });
    let message = advert("keepalived-2.2.7/v3-ipv6", ipv6::HEADER_LEN);
    assert_eq!(message.len(), 24);

    rt.block_on(async {
        let group = Ipv6Addr::from(vrrp_common::wire::vrrp::MULTICAST_V6);
        let global_b: Ipv6Addr = "2001:db8::2".parse().unwrap();
        sender.send_multicast(&message).await.unwrap();
        sender.send_to(&message, lla_b.into()).await.unwrap();
        sender.send_to(&message, global_b.into()).await.unwrap();
        for dst in [group, lla_b, global_b] {
            let (ctx, payload) = recv(&receiver).await.unwrap();
            assert_eq!(ctx.endpoints, Endpoints::V6 { src: lla_a, dst }, "to {dst}");
            assert_eq!(
                (ctx.ttl, payload.as_slice()),
                (255, message.as_slice()),
                "to {dst}"
            );
        }
        nothing(&sender).await;

        sender.send_multicast(&message[..4]).await.unwrap();
        assert_eq!(recv(&receiver).await.unwrap_err(), Reject::Truncated);
    });
}

/// Runs `f` with CAP_NET_RAW out of the calling thread's effective set (capabilities are
/// per thread, and `Netns::run` threads end with their closure).
fn without_cap_net_raw<T>(f: impl FnOnce() -> T) -> T {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    const CAP_NET_RAW: u32 = 13;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget / capset with a version 3 header and two data words, as capget(2) says.
    unsafe {
        assert_eq!(
            libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()),
            0
        );
        data[0].effective &= !(1 << CAP_NET_RAW);
        let rc = libc::syscall(libc::SYS_capset, &mut header, data.as_ptr());
        assert_eq!(rc, 0, "capset: {}", std::io::Error::last_os_error());
    }
    f()
}

#[test]
fn without_cap_net_raw_the_error_says_so() {
    let (a, _b) = topology("vscap");
    let rt = runtime();
    in_ns(&a, &rt, || {
        let va = Interface::by_name("va").unwrap();
        without_cap_net_raw(|| {
            let err = format!(
                "{:#}",
                VrrpSocket::open_v4(&va, Ipv4Addr::new(192, 0, 2, 1)).unwrap_err()
            );
            assert!(
                err.starts_with("opening a raw VRRP socket for va: need CAP_NET_RAW"),
                "{err}"
            );
            let err = format!("{:#}", Announcer::open(&va).unwrap_err());
            assert!(
                err.contains(
                    "opening an AF_PACKET socket to announce VIPs on va: need CAP_NET_RAW"
                ),
                "{err}"
            );
        })
    });
}
