//! Real daemons beyond one multicast IPv4 instance: link loss and `track_interface`, sync
//! groups, unicast peers, and IPv6.

use std::time::Duration;

use tests::daemon::{Daemon, Lan, VIP, config, has_addr, mac, wait_for};

const SOON: Duration = Duration::from_secs(5);

fn logs(a: &Daemon, b: &Daemon) -> impl Fn() -> String + use<> {
    let (la, lb) = (a.log.clone(), b.log.clone());
    move || {
        let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
        format!("r1:\n{}\nr2:\n{}", read(&la), read(&lb))
    }
}

#[test]
fn losing_the_link_faults_the_master_and_it_returns_with_the_link() {
    let lan = Lan::new("dlink", 2);
    let r1 = lan.router(1);
    // No dummy driver on every kernel: a veth pair within r1 serves as the tracked link.
    r1.ip(&["link", "add", "up0", "type", "veth", "peer", "name", "up1"]);
    r1.ip(&["link", "set", "up0", "up"]);
    r1.ip(&["link", "set", "up1", "up"]);
    let d2 = lan.daemon(2, &config(100, "0.1", ""), &[]);
    let d1 = lan.daemon(
        1,
        &config(200, "0.1", "  track_interface {\n    up0\n  }"),
        &[],
    );
    let logs = logs(&d1, &d2);
    wait_for("r1 master", SOON, || has_addr(r1, "eth0", VIP), &logs);

    // The tracked interface goes down: FAULT, the VIP moves.
    r1.ip(&["link", "set", "up0", "down"]);
    wait_for(
        "r2 to take over",
        SOON,
        || has_addr(lan.router(2), "eth0", VIP),
        &logs,
    );
    // r1 serves the VIP through its handover, until r2's advert has been seen.
    wait_for(
        "r1 to drop the VIP",
        SOON,
        || !has_addr(r1, "eth0", VIP),
        &logs,
    );
    let status = String::from_utf8_lossy(&d1.status(&[]).stdout).into_owned();
    assert!(status.contains("VI_1 eth0 vrid 51 IPv4 FAULT"), "{status}");
    r1.ip(&["link", "set", "up0", "up"]);
    wait_for(
        "r1 to preempt back",
        SOON,
        || has_addr(r1, "eth0", VIP),
        &logs,
    );

    // The instance's own link goes down and comes back.
    r1.ip(&["link", "set", "eth0", "down"]);
    wait_for(
        "r2 to take over",
        SOON,
        || has_addr(lan.router(2), "eth0", VIP),
        &logs,
    );
    r1.ip(&["link", "set", "eth0", "up"]);
    wait_for(
        "r1 to preempt back",
        SOON,
        || has_addr(r1, "eth0", VIP),
        &logs,
    );
    wait_for(
        "r2 to release",
        SOON,
        || !has_addr(lan.router(2), "eth0", VIP),
        &logs,
    );
}

#[test]
fn a_sync_group_fails_over_as_a_whole() {
    let lan = Lan::new("dsync", 2);
    let flag = lan.scratch.path("fail");
    let check = lan
        .scratch
        .script("chk.sh", &format!("test ! -e {}", flag.display()));
    let group = |priority: u8, track: bool| {
        let track = if track {
            "  track_script {\n    chk\n  }\n"
        } else {
            ""
        };
        format!(
            "vrrp_script chk {{\n  script \"{}\"\n  interval 1\n  fall 1\n  rise 1\n}}\n\
             vrrp_sync_group G {{\n  group {{\n    VI_1\n    VI_2\n  }}\n}}\n{}\
             vrrp_instance VI_2 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 52\n  \
             priority {priority}\n  advert_int 0.1\n  virtual_ipaddress {{\n    192.0.2.101/32\n  }}\n{track}}}\n",
            check.display(),
            config(priority, "0.1", "")
        )
    };
    let d2 = lan.daemon(2, &group(100, false), &[]);
    let d1 = lan.daemon(1, &group(200, true), &[]);
    let logs = logs(&d1, &d2);
    let (r1, r2) = (lan.router(1), lan.router(2));
    // r2, started first, may hold the VIPs until its handover to r1 is over.
    wait_for(
        "r1 master of both, r2 of none",
        SOON,
        || {
            has_addr(r1, "eth0", VIP)
                && has_addr(r1, "eth0", "192.0.2.101")
                && !has_addr(r2, "eth0", VIP)
                && !has_addr(r2, "eth0", "192.0.2.101")
        },
        &logs,
    );

    // Only VI_2 tracks the script, but the group goes to FAULT together.
    std::fs::write(&flag, "").unwrap();
    wait_for(
        "r2 to take both VIPs",
        SOON,
        || has_addr(r2, "eth0", VIP) && has_addr(r2, "eth0", "192.0.2.101"),
        &logs,
    );
    // r1 serves the VIP through its handover, until r2's advert has been seen.
    wait_for(
        "r1 to drop the VIP",
        SOON,
        || !has_addr(r1, "eth0", VIP),
        &logs,
    );
    let status = String::from_utf8_lossy(&d1.status(&[]).stdout).into_owned();
    assert_eq!(status.matches("FAULT").count(), 2, "{status}");
}

#[test]
fn unicast_peers_elect_and_fail_over() {
    let lan = Lan::new("duni", 2);
    let unicast = |me: usize, peer: usize| {
        format!("  unicast_src_ip 192.0.2.{me}\n  unicast_peer {{\n    192.0.2.{peer}\n  }}")
    };
    // r2 names no interface: the one holding its unicast_src_ip is used, as in keepalived.
    let r2_config = config(100, "0.1", &unicast(2, 1)).replace("  interface eth0\n", "");
    let d2 = lan.daemon(2, &r2_config, &[]);
    let d1 = lan.daemon(1, &config(200, "0.1", &unicast(1, 2)), &[]);
    let logs = logs(&d1, &d2);
    wait_for(
        "r1 master",
        SOON,
        || has_addr(lan.router(1), "eth0", VIP),
        &logs,
    );
    wait_for(
        "r2 backup",
        SOON,
        || !has_addr(lan.router(2), "eth0", VIP),
        &logs,
    );
    let status = String::from_utf8_lossy(&d2.status(&[]).stdout).into_owned();
    assert!(
        status.contains("BACKUP prio 100/100 master 192.0.2.1"),
        "{status}"
    );
    d1.stop(libc::SIGKILL);
    wait_for(
        "r2 to take over",
        SOON,
        || has_addr(lan.router(2), "eth0", VIP),
        &logs,
    );
}

#[test]
fn an_ipv6_instance_elects_and_fails_over() {
    let lan = Lan::new("dv6", 2);
    let v6 =
        |priority: u8| config(priority, "0.1", "").replace("192.0.2.100/32", "2001:db8::100/64");
    // r2's link has just come up with duplicate address detection on: its link-local
    // address is tentative for a second, and the daemon waits for it.
    let r2 = lan.router(2);
    r2.ip(&["link", "set", "eth0", "down"]);
    r2.exec(&["sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=1"]);
    r2.ip(&["link", "set", "eth0", "up"]);
    let d2 = lan.daemon(2, &v6(100), &[]);
    let d1 = lan.daemon(1, &v6(200), &[]);
    let logs = logs(&d1, &d2);
    let vip = "2001:db8::100";
    wait_for(
        "r1 master",
        SOON,
        || has_addr(lan.router(1), "eth0", vip),
        &logs,
    );
    wait_for(
        "r2 backup",
        SOON,
        || !has_addr(lan.router(2), "eth0", vip),
        &logs,
    );
    let status = String::from_utf8_lossy(&d2.status(&[]).stdout).into_owned();
    assert!(
        status.contains("VI_1 eth0 vrid 51 IPv6 BACKUP prio 100/100 master fe80::"),
        "{status}"
    );
    // The client talks to the VIP, so its neighbour table holds r1's MAC for it.
    lan.client.ip(&[
        "-6",
        "addr",
        "add",
        "2001:db8::10/64",
        "dev",
        "br0",
        "nodad",
    ]);
    lan.client.exec(&["ping", "-6", "-c", "1", "-W", "2", vip]);
    assert_eq!(lan.client_mac_of(vip).as_deref(), Some(mac(1).as_str()));
    d1.stop(libc::SIGKILL);
    wait_for(
        "r2 to take over",
        SOON,
        || has_addr(lan.router(2), "eth0", vip),
        &logs,
    );
    // r2's unsolicited neighbour advertisement (Override set) moves the client's entry.
    wait_for(
        "the client's neighbour entry to follow r2",
        SOON,
        || lan.client_mac_of(vip) == Some(mac(2)),
        &logs,
    );
}

#[test]
fn vrrpv2_passwords_are_checked_and_a_mismatch_is_discarded() {
    let lan = Lan::new("dv2", 2);
    let v2 = |priority: u8, pass: &str| {
        format!(
            "vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
             priority {priority}\n  advert_int 1\n  authentication {{\n    auth_type PASS\n    \
             auth_pass {pass}\n  }}\n  virtual_ipaddress {{\n    192.0.2.100/32\n  }}\n}}\n"
        )
    };
    let d1 = lan.daemon(1, &v2(200, "secret"), &[]);
    let d2 = lan.daemon(2, &v2(100, "secret"), &[]);
    let logs = logs(&d1, &d2);
    let (r1, r2) = (lan.router(1), lan.router(2));
    wait_for(
        "r1 master",
        Duration::from_secs(8),
        || has_addr(r1, "eth0", VIP),
        &logs,
    );
    wait_for(
        "r2 to follow r1",
        SOON,
        || {
            String::from_utf8_lossy(&d2.status(&[]).stdout)
                .contains("BACKUP prio 100/100 master 192.0.2.1")
        },
        &logs,
    );

    // r2 reloads with another password: its changed instance restarts and no longer believes
    // r1, so after Master_Down_Interval it is master too, as keepalived would be.
    d2.rewrite(&v2(100, "other"));
    d2.signal(libc::SIGHUP);
    wait_for(
        "r2 to take the VIP as well",
        Duration::from_secs(8),
        || has_addr(r2, "eth0", VIP),
        &logs,
    );
    let status = String::from_utf8_lossy(&d2.status(&[]).stdout).into_owned();
    assert!(status.contains("auth_password_mismatch="), "{status}");
}

#[test]
fn without_accept_mode_the_master_drops_ip_to_its_vips_but_answers_arp() {
    let lan = Lan::new("dacc", 1);
    let r1 = lan.router(1);
    let d1 = lan.daemon(1, &config(200, "0.1", "  no_accept"), &[]);
    wait_for(
        "r1 master",
        SOON,
        || has_addr(r1, "eth0", VIP),
        || d1.log_text(),
    );
    // A TCP SYN to a closed port: refused if the packet reached r1's stack, timed out if not.
    let reaches = |ip: &str| {
        let to = std::net::SocketAddr::new(ip.parse().unwrap(), 9);
        lan.client.run(|| {
            match std::net::TcpStream::connect_timeout(&to, Duration::from_millis(500)) {
                Ok(_) => true,
                Err(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
            }
        })
    };
    assert!(reaches("192.0.2.1"), "the primary address answers");
    assert!(!reaches(VIP), "XDP drops IP to the VIP");
    let status = String::from_utf8_lossy(&d1.status(&[]).stdout).into_owned();
    assert!(status.contains("vip_dropped="), "{status}");
    assert_eq!(
        lan.client_mac_of(VIP),
        Some(tests::daemon::mac(1)),
        "ARP for the VIP is answered"
    );

    // Accept mode back on (the default outside vrrp_strict): the VIP answers.
    d1.rewrite(&config(200, "0.1", ""));
    d1.signal(libc::SIGHUP);
    wait_for("the VIP to answer", SOON, || reaches(VIP), || d1.log_text());
}
