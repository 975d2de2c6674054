//! xvrrp and keepalived 2.2.7 on one wire, in each role, for each protocol keepalived users
//! run: VRRPv2 with `auth_type PASS` (the seed article's setup), VRRPv3 over IPv4 and over
//! IPv6. The same elections, the backup holding still while the other master lives (xvrrp's
//! XDP absorbing keepalived's adverts), failover either way, and nothing of either side's
//! adverts refused by the other: no discard counter in `xvrrp status`, no complaint in
//! keepalived's log.

use std::time::{Duration, Instant};

use tests::{
    daemon::{Daemon, Lan, config, has_addr, holds_for, wait_for},
    keepalived::Keepalived,
};

/// Master_Down_Interval of the slowest variant (v2, 1 s: 3.6 s) with room for a loaded machine.
const TAKEOVER: Duration = Duration::from_secs(8);

struct Variant {
    name: &'static str,
    vip: &'static str,
    /// A keepalived.conf that both daemons read, for `priority`.
    config: fn(u8) -> String,
    /// How the master's address shows in `xvrrp status`.
    master_prefix: &'static str,
    /// How long the backup must stay still: past its Master_Down_Interval, so that a backup
    /// deaf to the master's adverts would show.
    hold: Duration,
}

const VARIANTS: [Variant; 3] = [
    Variant {
        name: "VRRPv2 with auth_type PASS",
        vip: "192.0.2.100",
        config: v2_pass,
        master_prefix: "192.0.2.1",
        hold: Duration::from_secs(4),
    },
    Variant {
        name: "VRRPv3 over IPv4",
        vip: "192.0.2.100",
        config: v3_ipv4,
        master_prefix: "192.0.2.1",
        hold: Duration::from_secs(2),
    },
    Variant {
        name: "VRRPv3 over IPv6",
        vip: "2001:db8::100",
        config: v3_ipv6,
        master_prefix: "fe80::",
        hold: Duration::from_secs(2),
    },
];

fn v2_pass(priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
         priority {priority}\n  advert_int 1\n  authentication {{\n    auth_type PASS\n    \
         auth_pass aaaaaaa\n  }}\n  virtual_ipaddress {{\n    192.0.2.100/32\n  }}\n}}\n"
    )
}

fn v3_ipv4(priority: u8) -> String {
    config(priority, "0.1", "")
}

fn v3_ipv6(priority: u8) -> String {
    config(priority, "0.1", "").replace("192.0.2.100/32", "2001:db8::100/64")
}

/// What keepalived says when it refuses an advert (vrrp.c `vrrp_check_packet` and its
/// callers). Not "discarding": that is how it logs a lower-priority advert it outranks.
const COMPLAINTS: [&str; 7] = [
    "invalid",
    "bogus",
    "mismatch",
    "too short",
    "wrong",
    "error",
    "passwd",
];

fn assert_no_complaint(variant: &str, log: &str) {
    let lower = log.to_lowercase();
    for c in COMPLAINTS {
        assert!(
            !lower.contains(c),
            "{variant}: keepalived complained ({c}):\n{log}"
        );
    }
}

fn assert_nothing_discarded(variant: &str, d: &Daemon) {
    let status = String::from_utf8_lossy(&d.status(&[]).stdout).into_owned();
    for word in [
        "discard",
        "mismatch",
        "bad_checksum",
        "ttl_not_255",
        "unsupported",
    ] {
        assert!(
            !status.contains(word),
            "{variant}: xvrrp refused something:\n{status}"
        );
    }
}

#[test]
fn xvrrp_backs_up_a_keepalived_master() {
    for v in &VARIANTS {
        let lan = Lan::new("dkax", 2);
        // keepalived is master before xvrrp starts: started the other way round, a slow
        // keepalived start leaves xvrrp alone on the wire for a Master_Down_Interval, and it
        // rightly takes the VIP until preempted.
        let ka = Keepalived::start(lan.router(1), &(v.config)(200));
        wait_for(
            v.name,
            TAKEOVER,
            || has_addr(lan.router(1), "eth0", v.vip),
            String::new,
        );
        let d2 = lan.daemon(2, &(v.config)(100), &[]);
        let logs = || d2.log_text();
        holds_for(
            "xvrrp staying backup",
            v.hold,
            || !has_addr(lan.router(2), "eth0", v.vip),
            logs,
        );
        let status = String::from_utf8_lossy(&d2.status(&[]).stdout).into_owned();
        let expected = format!("BACKUP prio 100/100 master {}", v.master_prefix);
        assert!(status.contains(&expected), "{}: {status}", v.name);
        assert_nothing_discarded(v.name, &d2);

        // Every keepalived process at once (its VRRP child would outlive the parent).
        let killed = Instant::now();
        lan.router(1).kill_all();
        wait_for(
            "xvrrp to take over",
            TAKEOVER,
            || has_addr(lan.router(2), "eth0", v.vip),
            || d2.log_text(),
        );
        println!(
            "{}: keepalived kill -9 -> xvrrp holds the VIP in {:.0} ms",
            v.name,
            killed.elapsed().as_secs_f64() * 1000.0
        );
        assert_no_complaint(v.name, &ka.stop(libc::SIGKILL));
    }
}

#[test]
fn keepalived_backs_up_an_xvrrp_master() {
    for v in &VARIANTS {
        let lan = Lan::new("dxka", 2);
        let d1 = lan.daemon(1, &(v.config)(200), &[]);
        wait_for(
            v.name,
            TAKEOVER,
            || has_addr(lan.router(1), "eth0", v.vip),
            || d1.log_text(),
        );
        let ka = Keepalived::start(lan.router(2), &(v.config)(100));
        holds_for(
            "keepalived staying backup",
            Duration::from_secs(2),
            || !has_addr(lan.router(2), "eth0", v.vip) && has_addr(lan.router(1), "eth0", v.vip),
            || d1.log_text(),
        );
        // SIGTERM: xvrrp's priority-0 advert makes keepalived take over after Skew_Time.
        assert!(d1.stop(libc::SIGTERM).status.success());
        let stopped = Instant::now();
        wait_for(
            "keepalived to take over",
            TAKEOVER,
            || has_addr(lan.router(2), "eth0", v.vip),
            String::new,
        );
        println!(
            "{}: xvrrp SIGTERM -> keepalived holds the VIP in {:.0} ms",
            v.name,
            stopped.elapsed().as_secs_f64() * 1000.0
        );
        assert_no_complaint(v.name, &ka.stop(libc::SIGTERM));
    }
}
