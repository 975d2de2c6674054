//! SIGHUP in a real daemon: an unchanged instance keeps its state and VIP, a new one starts,
//! and a configuration with errors is refused while the running one carries on.

use std::time::Duration;

use tests::daemon::{Lan, VIP, config, has_addr, holds_for, wait_for};

const VIP2: &str = "192.0.2.101";

fn second_instance() -> String {
    "vrrp_instance VI_2 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 52\n  priority 120\n  \
     advert_int 0.1\n  virtual_ipaddress {\n    192.0.2.101/32\n  }\n}\n"
        .to_owned()
}

#[test]
fn sighup_keeps_unchanged_instances_and_starts_new_ones() {
    let lan = Lan::new("drel", 1);
    let r1 = lan.router(1);
    let d1 = lan.daemon(1, &config(200, "0.1", ""), &[]);
    wait_for(
        "r1 to be master",
        Duration::from_secs(5),
        || has_addr(r1, "eth0", VIP),
        || d1.log_text(),
    );
    let changes = || d1.log_text().matches("state change").count();
    let before = changes();

    d1.rewrite(&(config(200, "0.1", "") + &second_instance()));
    d1.signal(libc::SIGHUP);
    wait_for(
        "VI_2 to become master",
        Duration::from_secs(5),
        || has_addr(r1, "eth0", VIP2),
        || d1.log_text(),
    );
    holds_for(
        "VI_1 keeping its VIP",
        Duration::from_millis(500),
        || has_addr(r1, "eth0", VIP),
        || d1.log_text(),
    );
    let log = d1.log_text();
    let vi1_changes = log
        .lines()
        .filter(|l| l.contains("state change") && l.contains("VI_1"))
        .count();
    assert_eq!(
        vi1_changes, 2,
        "VI_1 went INIT -> BACKUP -> MASTER once, untouched by the reload:\n{log}"
    );
    assert!(changes() > before, "VI_2 started:\n{log}");

    // Dropping VI_2 stops it cleanly: its VIP goes, VI_1 stays.
    d1.rewrite(&config(200, "0.1", ""));
    d1.signal(libc::SIGHUP);
    wait_for(
        "VI_2's VIP to go",
        Duration::from_secs(5),
        || !has_addr(r1, "eth0", VIP2),
        || d1.log_text(),
    );
    assert!(has_addr(r1, "eth0", VIP), "{}", d1.log_text());
}

#[test]
fn a_bad_configuration_is_refused_and_the_old_one_keeps_running() {
    let lan = Lan::new("dbad", 1);
    let r1 = lan.router(1);
    let d1 = lan.daemon(1, &config(200, "0.1", ""), &[]);
    wait_for(
        "r1 to be master",
        Duration::from_secs(5),
        || has_addr(r1, "eth0", VIP),
        || d1.log_text(),
    );

    d1.rewrite(&config(200, "0.1", "").replace("virtual_router_id 51", "virtual_router_id 300"));
    d1.signal(libc::SIGHUP);
    wait_for(
        "the refusal in the log",
        Duration::from_secs(5),
        || d1.log_text().contains("reload refused"),
        || d1.log_text(),
    );
    let log = d1.log_text();
    assert!(
        log.contains("virtual_router_id '300' outside range"),
        "diagnostics are logged:\n{log}"
    );
    holds_for(
        "the VIP staying",
        Duration::from_millis(500),
        || has_addr(r1, "eth0", VIP),
        || d1.log_text(),
    );
    let status = String::from_utf8_lossy(&d1.status(&[]).stdout).into_owned();
    assert!(status.contains("VI_1 eth0 vrid 51 IPv4 MASTER"), "{status}");
}
