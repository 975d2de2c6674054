//! SIGHUP in a real daemon: an unchanged instance keeps its state and VIP, a changed Master
//! stays Master, a new one starts, and a configuration with errors is refused while the
//! running one carries on.

use std::{
    net::SocketAddrV4,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use tests::{
    daemon::{Daemon, Lan, VIP, config, has_addr, holds_for, wait_for},
    probe::{PORT, Probes, Responder},
};

const VIP2: &str = "192.0.2.101";

fn second_instance() -> String {
    "vrrp_instance VI_2 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 52\n  priority 120\n  \
     advert_int 0.1\n  virtual_ipaddress {\n    192.0.2.101/32\n  }\n}\n"
        .to_owned()
}

/// A notify script for router `n` that appends each call, one line, to the file returned
/// with the configuration line that runs it.
fn notify_log(lan: &Lan, n: usize) -> (PathBuf, String) {
    let out = lan.scratch.path(&format!("notified{n}"));
    let script = lan.scratch.script(
        &format!("notify{n}.sh"),
        &format!("echo \"$@\" >> {}", out.display()),
    );
    (out, format!("  notify \"{}\"\n", script.display()))
}

fn notified(out: &Path) -> String {
    std::fs::read_to_string(out).unwrap_or_default()
}

/// Reloads r1 and r2 into `configs` while the client probes the VIP at 1 kHz, answered by
/// both: no probe may be lost, and r1 must answer all of them.
fn reload_under_probes(lan: &Lan, configs: [(&Daemon, String); 2], logs: impl Fn() -> String) {
    let _responders = [
        Responder::start(lan.router(1), 1),
        Responder::start(lan.router(2), 2),
    ];
    lan.client.exec(&["ping", "-c", "1", "-W", "2", VIP]);
    let target = SocketAddrV4::new(VIP.parse().unwrap(), PORT);
    let probes = Probes::start(&lan.client, target, 1000, Duration::from_millis(1500));
    std::thread::sleep(Duration::from_millis(300));
    let reload = Instant::now();
    for (d, config) in configs {
        d.rewrite(&config);
        d.signal(libc::SIGHUP);
    }
    let result = probes.wait();
    assert_eq!(
        result.lost(),
        0,
        "lost {} of {} probes through the reloads\n{}{}",
        result.lost(),
        result.sent(),
        result.losses(),
        logs()
    );
    assert_eq!(result.answered_after(reload), [1].into(), "{}", logs());
}

/// Each router's log and notify calls, for a failure message.
fn logs_and_notified(routers: [(&Daemon, &Path); 2]) -> String {
    let [(d1, out1), (d2, out2)] = routers;
    format!(
        "r1:\n{}\n{}\nr2:\n{}\n{}",
        d1.log_text(),
        notified(out1),
        d2.log_text(),
        notified(out2)
    )
}

fn status_of(d: &Daemon) -> String {
    String::from_utf8_lossy(&d.status(&[]).stdout).into_owned()
}

/// How many times an instance of `d` became Master.
fn became_master(d: &Daemon) -> usize {
    d.log_text()
        .lines()
        .filter(|l| l.contains("state change") && l.contains("to=Master"))
        .count()
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
    let status = status_of(&d1);
    assert!(status.contains("VI_1 eth0 vrid 51 IPv4 MASTER"), "{status}");
}

#[test]
fn a_backup_reloading_next_to_a_live_master_stays_backup() {
    // r2 absorbs r1's adverts; its reload adds VI_2 on the same interface, which gets a
    // fresh XDP program. VI_1 on r2 must neither take over nor lose track of r1, and the new
    // VI_2 must learn r1 as its master although r1's adverts repeat what the old map held.
    let lan = Lan::new("drlb", 2);
    let both = |priority: u8| {
        config(priority, "0.1", "")
            + &second_instance().replace("priority 120", &format!("priority {priority}"))
    };
    let d1 = lan.daemon(1, &both(200), &[]);
    let d2 = lan.daemon(2, &config(100, "0.1", ""), &[]);
    let (r1, r2) = (lan.router(1), lan.router(2));
    let logs = || format!("r1:\n{}\nr2:\n{}", d1.log_text(), d2.log_text());
    wait_for(
        "r1 master of both",
        Duration::from_secs(5),
        || has_addr(r1, "eth0", VIP) && has_addr(r1, "eth0", VIP2),
        logs,
    );
    holds_for(
        "r2 backup",
        Duration::from_secs(1),
        || !has_addr(r2, "eth0", VIP),
        logs,
    );

    d2.rewrite(&both(100));
    d2.signal(libc::SIGHUP);
    holds_for(
        "r2 staying backup of both through the reload",
        Duration::from_secs(2),
        || !has_addr(r2, "eth0", VIP) && !has_addr(r2, "eth0", VIP2),
        logs,
    );
    let status = status_of(&d2);
    assert_eq!(
        status
            .matches("BACKUP prio 100/100 master 192.0.2.1")
            .count(),
        2,
        "{status}"
    );
    // And both still fail over.
    d1.stop(libc::SIGKILL);
    wait_for(
        "r2 to take both",
        Duration::from_secs(3),
        || has_addr(r2, "eth0", VIP) && has_addr(r2, "eth0", VIP2),
        || d2.log_text(),
    );
}

#[test]
fn changed_instances_keep_their_state_through_a_reload_without_losing_a_probe() {
    let lan = Lan::new("drlm", 2);
    // Every notify call of each router, one line each.
    let ((out1, notify1), (out2, notify2)) = (notify_log(&lan, 1), notify_log(&lan, 2));
    let r1_conf = |priority: u8, vips: &str| {
        config(priority, "0.1", &notify1).replace("    192.0.2.100/32\n", vips)
    };
    // r2 takes r1's adverts with another address list as long as r1 sends them: without
    // this, r2 discards them once r1 lists a second VIP, and takes over (keepalived too).
    let r2_conf =
        |priority: u8| config(priority, "0.1", &format!("{notify2}  skip_check_adv_addr"));
    let d1 = lan.daemon(1, &r1_conf(150, "    192.0.2.100/32\n"), &[]);
    let d2 = lan.daemon(2, &r2_conf(100), &[]);
    let (r1, r2) = (lan.router(1), lan.router(2));
    let logs = || logs_and_notified([(&d1, &out1), (&d2, &out2)]);
    wait_for(
        "r1 master, r2 backup, both notified",
        Duration::from_secs(5),
        || {
            has_addr(r1, "eth0", VIP)
                && notified(&out1).contains("MASTER")
                && notified(&out2).contains("BACKUP")
        },
        logs,
    );
    holds_for(
        "r2 backup",
        Duration::from_millis(500),
        || !has_addr(r2, "eth0", VIP),
        logs,
    );
    let before = (notified(&out1), notified(&out2));
    // The Master gets a new priority and a second VIP, the Backup a new priority.
    reload_under_probes(
        &lan,
        [
            (
                &d1,
                r1_conf(160, "    192.0.2.100/32\n    192.0.2.101/32\n"),
            ),
            (&d2, r2_conf(90)),
        ],
        logs,
    );
    wait_for(
        "r1 to add the new VIP",
        Duration::from_secs(3),
        || has_addr(r1, "eth0", VIP2),
        logs,
    );
    assert!(
        status_of(&d1).contains("MASTER prio 160/160"),
        "{}",
        status_of(&d1)
    );
    assert!(
        status_of(&d2).contains("BACKUP prio 90/90"),
        "{}",
        status_of(&d2)
    );
    // A VIP dropped from the configuration goes; the rest stays in service.
    d1.rewrite(&r1_conf(160, "    192.0.2.101/32\n"));
    d1.signal(libc::SIGHUP);
    wait_for(
        "r1 to drop the old VIP",
        Duration::from_secs(3),
        || !has_addr(r1, "eth0", VIP),
        logs,
    );
    holds_for(
        "r1 keeping the other",
        Duration::from_millis(500),
        || has_addr(r1, "eth0", VIP2),
        logs,
    );
    assert_eq!(became_master(&d2), 0, "r2 took over:\n{}", logs());
    assert_eq!(
        became_master(&d1),
        1,
        "r1 became master more than once:\n{}",
        logs()
    );
    // keepalived runs no notify script on a reload that changes no state.
    assert_eq!(
        (notified(&out1), notified(&out2)),
        before,
        "notified on a reload:\n{}",
        logs()
    );
}

#[test]
fn a_changed_sync_group_keeps_its_state_through_a_reload_without_losing_a_probe() {
    let lan = Lan::new("drsg", 2);
    // Every notify call of each router, its group's and its members', one line each.
    let ((out1, notify1), (out2, notify2)) = (notify_log(&lan, 1), notify_log(&lan, 2));
    // `members` in the group's order; each member has its own VIP and runs the notify script.
    let group = |priority: u8, notify: &str, members: [&str; 2]| {
        let second = second_instance()
            .replace("priority 120", &format!("priority {priority}"))
            .replace("}\n}\n", &format!("}}\n{notify}}}\n"));
        format!(
            "vrrp_sync_group G {{\n  group {{\n    {}\n    {}\n  }}\n{notify}}}\n{}{second}",
            members[0],
            members[1],
            config(priority, "0.1", notify)
        )
    };
    let d1 = lan.daemon(1, &group(150, &notify1, ["VI_1", "VI_2"]), &[]);
    let d2 = lan.daemon(2, &group(100, &notify2, ["VI_1", "VI_2"]), &[]);
    let (r1, r2) = (lan.router(1), lan.router(2));
    let logs = || logs_and_notified([(&d1, &out1), (&d2, &out2)]);
    // Two members and the group itself: three calls on each router.
    wait_for(
        "r1 master, r2 backup, each notified for both members and the group",
        Duration::from_secs(5),
        || {
            has_addr(r1, "eth0", VIP)
                && has_addr(r1, "eth0", VIP2)
                && notified(&out1).matches("MASTER").count() == 3
                && notified(&out2).matches("BACKUP").count() == 3
        },
        logs,
    );
    let before = (notified(&out1), notified(&out2));
    // New priorities on both routers, and r1 lists its members the other way round.
    reload_under_probes(
        &lan,
        [
            (&d1, group(160, &notify1, ["VI_2", "VI_1"])),
            (&d2, group(90, &notify2, ["VI_1", "VI_2"])),
        ],
        logs,
    );
    wait_for(
        "both routers to run the new priorities",
        Duration::from_secs(3),
        || {
            status_of(&d1).matches("MASTER prio 160/160").count() == 2
                && status_of(&d2).matches("BACKUP prio 90/90").count() == 2
        },
        || format!("{}\n{}\n{}", status_of(&d1), status_of(&d2), logs()),
    );
    assert!(has_addr(r1, "eth0", VIP) && has_addr(r1, "eth0", VIP2));
    assert!(!has_addr(r2, "eth0", VIP) && !has_addr(r2, "eth0", VIP2));
    assert_eq!(became_master(&d2), 0, "r2 took over:\n{}", logs());
    assert_eq!(
        became_master(&d1),
        2,
        "r1's members became master more than once:\n{}",
        logs()
    );
    assert_eq!(
        (notified(&out1), notified(&out2)),
        before,
        "notified on a reload:\n{}",
        logs()
    );
}
