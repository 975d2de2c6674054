//! Virtual addresses through rtnetlink, and the interface helpers, in a network namespace.
//!
//! Each test builds `ns` with a veth pair `v0` (ours) / `v1` (the peer, in a second namespace)
//! and reads the result back with `ip`, independently of the code under test.

use std::{net::IpAddr, time::Duration};

use tests::netns::{Netns, veth};
use vrrp_userspace::net::{
    iface::{Interface, LinkState},
    vip::{Addresses, Change, Vip, leftovers},
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Two namespaces joined by `v0` / `v1`, both up, with DAD off so link-local addresses are
/// usable at once.
fn pair(tag: &str) -> (Netns, Netns) {
    let (ns, peer) = (Netns::new(tag), Netns::new(&format!("{tag}p")));
    for n in [&ns, &peer] {
        n.exec(&["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"]);
    }
    veth(&ns, "v0", &peer, "v1");
    ns.ip(&["addr", "add", "192.0.2.1/24", "dev", "v0"]);
    (ns, peer)
}

fn ip_addr_lines(ns: &Netns) -> Vec<String> {
    let out = ns.ip(&["-o", "addr", "show", "dev", "v0"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn line_with<'a>(lines: &'a [String], needle: &str) -> Option<&'a String> {
    lines.iter().find(|l| l.contains(needle))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn add_list_remove_with_label_and_nodad() {
    let (ns, _peer) = pair("vip");
    let v4 = Vip {
        addr: ip("192.0.2.100"),
        prefix_len: 24,
        label: Some("v0:1".into()),
        brd: None,
        scope: None,
    };
    let v6 = Vip {
        addr: ip("2001:db8::100"),
        prefix_len: 64,
        label: None,
        brd: None,
        scope: None,
    };
    ns.run(|| {
        runtime().block_on(async {
            let iface = Interface::by_name("v0").unwrap();
            let addrs = Addresses::connect().unwrap();
            for vip in [&v4, &v6] {
                assert_eq!(
                    addrs.add(&iface, vip).await.unwrap(),
                    Change::Done,
                    "{vip:?}"
                );
                assert_eq!(
                    addrs.add(&iface, vip).await.unwrap(),
                    Change::AlreadySo,
                    "{vip:?}"
                );
            }

            let listed = addrs.list(&iface).await.unwrap();
            let a4 = listed
                .iter()
                .find(|a| a.addr == v4.addr)
                .expect("IPv4 VIP listed");
            assert_eq!((a4.prefix_len, a4.label.as_deref()), (24, Some("v0:1")));
            let a6 = listed
                .iter()
                .find(|a| a.addr == v6.addr)
                .expect("IPv6 VIP listed");
            assert_eq!(a6.prefix_len, 64);
            assert!(!a6.is_tentative(), "nodad: usable at once, {a6:?}");
        })
    });

    // What an operator sees: as keepalived 2.2.7 leaves it (no broadcast, label, nodad).
    let lines = ip_addr_lines(&ns);
    let l4 = line_with(&lines, "192.0.2.100/24").expect("IPv4 VIP in ip addr");
    assert!(l4.contains("scope global secondary v0:1"), "{l4}");
    assert!(!l4.contains("brd"), "{l4}");
    let l6 = line_with(&lines, "2001:db8::100/64").expect("IPv6 VIP in ip addr");
    assert!(l6.contains("scope global nodad"), "{l6}");
    assert!(!l6.contains("tentative"), "{l6}");

    ns.run(|| {
        runtime().block_on(async {
            let iface = Interface::by_name("v0").unwrap();
            let addrs = Addresses::connect().unwrap();
            for vip in [&v4, &v6] {
                let remove = || addrs.remove(&iface, vip.addr, vip.prefix_len);
                assert_eq!(remove().await.unwrap(), Change::Done, "{vip:?}");
                assert_eq!(remove().await.unwrap(), Change::AlreadySo, "{vip:?}");
            }
            let listed = addrs.list(&iface).await.unwrap();
            assert!(
                listed
                    .iter()
                    .all(|a| a.addr != v4.addr && a.addr != v6.addr),
                "{listed:?}"
            );
            assert!(
                listed.iter().any(|a| a.addr == ip("192.0.2.1")),
                "primary stays"
            );
        })
    });
    let lines = ip_addr_lines(&ns);
    assert!(line_with(&lines, "192.0.2.100").is_none(), "{lines:?}");
    assert!(line_with(&lines, "2001:db8::100").is_none(), "{lines:?}");
}

#[test]
fn brd_and_scope_are_applied_as_ip_addr_add_applies_them() {
    let (ns, _peer) = pair("vipbs");
    // Outside the primary's subnet: the kernel wants a secondary's scope to be the primary's.
    let v4 = Vip {
        addr: ip("198.51.100.10"),
        prefix_len: 24,
        label: Some("v0:2".into()),
        brd: Some("198.51.100.255".parse().unwrap()),
        scope: Some(253),
    };
    let v6 = Vip {
        addr: ip("2001:db8::110"),
        prefix_len: 64,
        label: None,
        brd: None,
        scope: Some(200),
    };
    ns.run(|| {
        runtime().block_on(async {
            let iface = Interface::by_name("v0").unwrap();
            let addrs = Addresses::connect().unwrap();
            for vip in [&v4, &v6] {
                addrs.add(&iface, vip).await.unwrap();
            }
            let v6_brd = Vip {
                brd: Some("192.0.2.255".parse().unwrap()),
                ..v6.clone()
            };
            let err = format!("{:#}", addrs.add(&iface, &v6_brd).await.unwrap_err());
            assert!(err.contains("IPv4 only"), "{err}");
        })
    });
    // As `ip addr add 198.51.100.10/24 brd 198.51.100.255 scope link label v0:2` leaves it.
    let lines = ip_addr_lines(&ns);
    let l4 = line_with(&lines, "198.51.100.10/24").expect("IPv4 VIP in ip addr");
    assert!(l4.contains("brd 198.51.100.255 scope link v0:2"), "{l4}");
    // IPv6 takes its scope from the address, whatever the request says, as with `ip`.
    let l6 = line_with(&lines, "2001:db8::110/64").expect("IPv6 VIP in ip addr");
    assert!(l6.contains("scope global nodad"), "{l6}");
}

#[test]
fn refusals_name_the_address_and_interface() {
    let (ns, _peer) = pair("viperr");
    ns.run(|| {
        runtime().block_on(async {
            let iface = Interface::by_name("v0").unwrap();
            let addrs = Addresses::connect().unwrap();
            let labelled_v6 = Vip {
                addr: ip("2001:db8::100"),
                prefix_len: 64,
                label: Some("v0:1".into()),
                brd: None,
                scope: None,
            };
            let err = addrs
                .add(&iface, &labelled_v6)
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains("labels apply to IPv4 only"), "{err}");

            let long = Vip {
                addr: ip("192.0.2.100"),
                prefix_len: 24,
                label: Some("v0:a-label-too-long".into()),
                brd: None,
                scope: None,
            };
            let err = addrs.add(&iface, &long).await.unwrap_err().to_string();
            assert!(err.contains("longer than 15 bytes"), "{err}");

            let bad = Vip {
                addr: ip("192.0.2.100"),
                prefix_len: 33,
                label: None,
                brd: None,
                scope: None,
            };
            let err = addrs.add(&iface, &bad).await.unwrap_err().to_string();
            assert_eq!(err, "192.0.2.100/33: a prefix length cannot exceed 32");
        })
    });

    // A refusal by the kernel says what was being done, and where.
    let gone = ns.run(|| Interface::by_name("v0").unwrap());
    ns.ip(&["link", "del", "v0"]);
    ns.run(|| {
        runtime().block_on(async {
            let addrs = Addresses::connect().unwrap();
            let vip = Vip {
                addr: ip("2001:db8::100"),
                prefix_len: 64,
                label: None,
                brd: None,
                scope: None,
            };
            let err = format!("{:#}", addrs.add(&gone, &vip).await.unwrap_err());
            assert!(err.starts_with("adding 2001:db8::100/64 to v0: "), "{err}");
        })
    });
}

/// A previous run died as master and left its VIPs; the restarted daemon, not master yet,
/// lists the interface and removes the configured VIPs it finds, with the prefix they have.
#[test]
fn reconcile_removes_leftover_vips_only() {
    let (ns, _peer) = pair("viprec");
    ns.ip(&[
        "addr",
        "add",
        "192.0.2.100/32",
        "dev",
        "v0",
        "label",
        "v0:1",
    ]);
    ns.ip(&["addr", "add", "192.0.2.50/24", "dev", "v0"]); // not a VIP: an operator's address
    ns.ip(&["addr", "add", "2001:db8::100/64", "dev", "v0", "nodad"]);
    let configured = [
        Vip {
            addr: ip("192.0.2.100"),
            prefix_len: 24,
            label: Some("v0:1".into()),
            brd: None,
            scope: None,
        },
        Vip {
            addr: ip("192.0.2.101"),
            prefix_len: 24,
            label: None,
            brd: None,
            scope: None,
        },
        Vip {
            addr: ip("2001:db8::100"),
            prefix_len: 64,
            label: None,
            brd: None,
            scope: None,
        },
    ];
    ns.run(|| {
        runtime().block_on(async {
            let iface = Interface::by_name("v0").unwrap();
            let addrs = Addresses::connect().unwrap();
            let assigned = addrs.list(&iface).await.unwrap();
            let stale = leftovers(&assigned, &configured);
            let mut found: Vec<(IpAddr, u8)> =
                stale.iter().map(|a| (a.addr, a.prefix_len)).collect();
            found.sort();
            assert_eq!(found, [(ip("192.0.2.100"), 32), (ip("2001:db8::100"), 64)]);
            for a in stale {
                assert_eq!(
                    addrs.remove(&iface, a.addr, a.prefix_len).await.unwrap(),
                    Change::Done
                );
            }
        })
    });
    let lines = ip_addr_lines(&ns);
    assert!(line_with(&lines, "192.0.2.100").is_none(), "{lines:?}");
    assert!(line_with(&lines, "2001:db8::100").is_none(), "{lines:?}");
    assert!(line_with(&lines, "192.0.2.1/24").is_some(), "{lines:?}");
    assert!(line_with(&lines, "192.0.2.50/24").is_some(), "{lines:?}");
}

#[test]
fn interface_helpers_agree_with_ip() {
    let (ns, peer) = pair("ifh");
    ns.ip(&["link", "set", "v0", "address", "02:00:00:00:0a:01"]);
    ns.ip(&["addr", "add", "192.0.2.100/24", "dev", "v0"]); // secondary
    let expected_index = ns.ifindex("v0");
    let lla_out = ns.ip(&["-6", "-o", "addr", "show", "dev", "v0", "scope", "link"]);
    let lla_text = String::from_utf8_lossy(&lla_out.stdout).into_owned();

    ns.run(|| {
        let iface = Interface::by_name("v0").unwrap();
        assert_eq!(iface.index(), expected_index);
        assert_eq!(iface.mac().unwrap(), [0x02, 0, 0, 0, 0x0a, 0x01]);
        assert_eq!(iface.link_state().unwrap(), LinkState::Up);
        assert!(!iface.ipv6_forwarding().unwrap());
        let err = Interface::by_name("eth7").unwrap_err().to_string();
        assert_eq!(err, "interface eth7 not found in this network namespace");

        runtime().block_on(async {
            let addrs = Addresses::connect().unwrap();
            assert_eq!(addrs.primary_v4(&iface).await.unwrap(), ip("192.0.2.1"));
            // Link-local addresses appear a moment after the link comes up.
            let mut lla = None;
            for _ in 0..50 {
                if let Ok(a) = addrs.link_local(&iface).await {
                    lla = Some(a);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let lla = lla.expect("a link-local address within 5 s");
            assert!(
                lla_text.contains(&format!("{lla}/64")),
                "{lla} not in {lla_text}"
            );
        })
    });

    ns.exec(&["sysctl", "-qw", "net.ipv6.conf.v0.forwarding=1"]);
    peer.ip(&["link", "set", "v1", "down"]);
    ns.run(|| {
        let iface = Interface::by_name("v0").unwrap();
        assert!(iface.ipv6_forwarding().unwrap());
        // IFF_RUNNING follows the operational state, which linkwatch updates a moment later.
        let mut state = iface.link_state().unwrap();
        for _ in 0..50 {
            if state != LinkState::Up {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            state = iface.link_state().unwrap();
        }
        assert_eq!(state, LinkState::NoCarrier);
    });
    ns.ip(&["link", "set", "v0", "down"]);
    ns.run(|| {
        let iface = Interface::by_name("v0").unwrap();
        assert_eq!(iface.link_state().unwrap(), LinkState::AdminDown);
    });
}
