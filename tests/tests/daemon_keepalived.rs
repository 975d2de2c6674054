//! xvrrp and keepalived 2.2.7 on one wire, each as master and as backup: the same elections,
//! the backup holding still while the other master lives (xvrrp's XDP absorbing keepalived's
//! adverts), and failover either way.

use std::time::Duration;

use tests::{
    daemon::{Lan, VIP, config, has_addr, holds_for, wait_for},
    keepalived::Keepalived,
};

const SOON: Duration = Duration::from_secs(5);

#[test]
fn xvrrp_backs_up_a_keepalived_master() {
    let lan = Lan::new("dkax", 2);
    let d2 = lan.daemon(2, &config(100, "0.1", ""), &[]);
    let ka = Keepalived::start(lan.router(1), &config(200, "0.1", ""));
    wait_for(
        "keepalived to be master",
        SOON,
        || has_addr(lan.router(1), "eth0", VIP),
        || d2.log_text(),
    );
    wait_for(
        "xvrrp to be backup",
        SOON,
        || !has_addr(lan.router(2), "eth0", VIP),
        || d2.log_text(),
    );
    holds_for(
        "xvrrp staying backup",
        Duration::from_secs(1),
        || !has_addr(lan.router(2), "eth0", VIP),
        || d2.log_text(),
    );
    let status = String::from_utf8_lossy(&d2.status(&[]).stdout).into_owned();
    assert!(
        status.contains("VI_1 eth0 vrid 51 IPv4 BACKUP prio 100/100 master 192.0.2.1"),
        "{status}"
    );
    assert!(
        !status.contains("discard") && !status.contains("mismatch"),
        "nothing of keepalived's is discarded:\n{status}"
    );

    let log = ka.stop(libc::SIGKILL);
    wait_for(
        "xvrrp to take over",
        SOON,
        || has_addr(lan.router(2), "eth0", VIP),
        || format!("{}\nkeepalived:\n{log}", d2.log_text()),
    );
}

#[test]
fn keepalived_backs_up_an_xvrrp_master() {
    let lan = Lan::new("dxka", 2);
    let d1 = lan.daemon(1, &config(200, "0.1", ""), &[]);
    wait_for(
        "xvrrp to be master",
        SOON,
        || has_addr(lan.router(1), "eth0", VIP),
        || d1.log_text(),
    );
    let ka = Keepalived::start(lan.router(2), &config(100, "0.1", ""));
    holds_for(
        "keepalived staying backup",
        Duration::from_secs(2),
        || !has_addr(lan.router(2), "eth0", VIP) && has_addr(lan.router(1), "eth0", VIP),
        || d1.log_text(),
    );
    // SIGTERM: xvrrp's priority-0 advert makes keepalived take over after its Skew_Time.
    assert!(d1.stop(libc::SIGTERM).status.success());
    let took = std::time::Instant::now();
    wait_for(
        "keepalived to take over",
        SOON,
        || has_addr(lan.router(2), "eth0", VIP),
        String::new,
    );
    println!(
        "xvrrp SIGTERM -> keepalived holds the VIP in {:.0} ms",
        took.elapsed().as_secs_f64() * 1000.0
    );
    drop(ka);
}
