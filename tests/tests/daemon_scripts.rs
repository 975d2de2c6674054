//! Trackers and notify scripts in real daemons: a failing `vrrp_script` lowers the master's
//! priority and the VIP moves; notify scripts get keepalived's arguments.

use std::time::Duration;

use tests::daemon::{Lan, VIP, config, has_addr, wait_for};
use vrrp_userspace::daemon::handover::DRAIN;

#[test]
fn a_failing_script_lowers_priority_and_moves_the_vip() {
    let lan = Lan::new("dscr", 2);
    let flag = lan.scratch.path("fail");
    let check = lan
        .scratch
        .script("chk.sh", &format!("test ! -e {}", flag.display()));
    let script = format!(
        "vrrp_script chk {{\n  script \"{}\"\n  interval 1\n  fall 1\n  rise 1\n  weight -150\n}}\n",
        check.display()
    );
    let d2 = lan.daemon(2, &config(100, "0.1", ""), &[]);
    let d1 = lan.daemon(
        1,
        &(script + &config(200, "0.1", "  track_script {\n    chk\n  }")),
        &[],
    );
    let logs = || format!("r1:\n{}\nr2:\n{}", d1.log_text(), d2.log_text());
    // r2, started first, may hold the VIP until its handover to r1 is over.
    wait_for(
        "r1 to be master, r2 not",
        Duration::from_secs(5),
        || has_addr(lan.router(1), "eth0", VIP) && !has_addr(lan.router(2), "eth0", VIP),
        logs,
    );
    let status = String::from_utf8_lossy(&d1.status(&[]).stdout).into_owned();
    assert!(status.contains("MASTER prio 200/200"), "{status}");

    std::fs::write(&flag, "").unwrap();
    wait_for(
        "r2 to take the VIP",
        Duration::from_secs(5),
        || has_addr(lan.router(2), "eth0", VIP),
        logs,
    );
    // After the first moment of its handover window.
    wait_for(
        "r1 to drop it",
        DRAIN + Duration::from_secs(2),
        || !has_addr(lan.router(1), "eth0", VIP),
        logs,
    );
    let status = String::from_utf8_lossy(&d1.status(&[]).stdout).into_owned();
    assert!(
        status.contains("BACKUP prio 200/50 master 192.0.2.2"),
        "{status}"
    );

    std::fs::remove_file(&flag).unwrap();
    wait_for(
        "r1 to preempt back",
        Duration::from_secs(5),
        || has_addr(lan.router(1), "eth0", VIP),
        logs,
    );
}

#[test]
fn notify_scripts_run_with_keepalived_arguments() {
    let lan = Lan::new("dnot", 1);
    let out = lan.scratch.path("notified");
    let any = lan
        .scratch
        .script("any.sh", &format!("echo \"$@\" >> {}", out.display()));
    let master = lan.scratch.script(
        "master.sh",
        &format!("echo master-script >> {}", out.display()),
    );
    let extra = format!(
        "  notify \"{}\"\n  notify_master \"{}\"",
        any.display(),
        master.display()
    );
    let d1 = lan.daemon(1, &config(150, "0.1", &extra), &[]);
    let read = || std::fs::read_to_string(&out).unwrap_or_default();
    wait_for(
        "the master notifications",
        Duration::from_secs(5),
        || read().contains("INSTANCE VI_1 MASTER 150") && read().contains("master-script"),
        || format!("{}\nnotified:\n{}", d1.log_text(), read()),
    );
    assert!(read().contains("INSTANCE VI_1 BACKUP 150"), "{}", read());
    let stopped = d1.stop(libc::SIGTERM);
    assert!(stopped.status.success());
    assert!(
        read().contains("INSTANCE VI_1 STOP 150"),
        "notify_stop runs before exit:\n{}",
        read()
    );
}

#[test]
fn a_track_file_with_weight_0_faults_the_instance_while_it_holds_a_number() {
    let lan = Lan::new("dtf", 2);
    let file = lan.scratch.write("prio", "0\n");
    let track = format!("vrrp_track_file tf {{\n  file {}\n}}\n", file.display());
    let d2 = lan.daemon(2, &config(100, "0.1", ""), &[]);
    let d1 = lan.daemon(
        1,
        &(track + &config(200, "0.1", "  track_file {\n    tf weight 0\n  }")),
        &[],
    );
    let logs = || format!("r1:\n{}\nr2:\n{}", d1.log_text(), d2.log_text());
    // r2, started first, may hold the VIP until its handover to r1 is over.
    wait_for(
        "r1 master, r2 not",
        Duration::from_secs(5),
        || has_addr(lan.router(1), "eth0", VIP) && !has_addr(lan.router(2), "eth0", VIP),
        logs,
    );
    std::fs::write(&file, "1\n").unwrap();
    wait_for(
        "r2 to take over from a faulted r1",
        Duration::from_secs(5),
        || has_addr(lan.router(2), "eth0", VIP),
        logs,
    );
    let status = String::from_utf8_lossy(&d1.status(&[]).stdout).into_owned();
    assert!(status.contains("VI_1 eth0 vrid 51 IPv4 FAULT"), "{status}");
    std::fs::write(&file, "0\n").unwrap();
    wait_for(
        "r1 back",
        Duration::from_secs(5),
        || has_addr(lan.router(1), "eth0", VIP),
        logs,
    );
}

#[test]
fn a_weighted_track_file_moves_the_priority_by_weight_times_value() {
    let lan = Lan::new("dtfw", 2);
    let file = lan.scratch.write("prio", "0\n");
    let track = format!("vrrp_track_file tf {{\n  file {}\n}}\n", file.display());
    let d2 = lan.daemon(2, &config(100, "0.1", ""), &[]);
    let d1 = lan.daemon(
        1,
        &(track + &config(200, "0.1", "  track_file {\n    tf weight -10\n  }")),
        &[],
    );
    let logs = || format!("r1:\n{}\nr2:\n{}", d1.log_text(), d2.log_text());
    // r2, started first, may hold the VIP until its handover to r1 is over.
    wait_for(
        "r1 master, r2 not",
        Duration::from_secs(5),
        || has_addr(lan.router(1), "eth0", VIP) && !has_addr(lan.router(2), "eth0", VIP),
        logs,
    );
    std::fs::write(&file, "15\n").unwrap();
    wait_for(
        "r2 to preempt r1 at 50",
        Duration::from_secs(5),
        || has_addr(lan.router(2), "eth0", VIP),
        logs,
    );
    // r1 steps down at its next Adver_Timer at the latest (r2's adverts may be absorbed).
    let status = || String::from_utf8_lossy(&d1.status(&[]).stdout).into_owned();
    wait_for(
        "r1 to follow r2",
        Duration::from_secs(2),
        || status().contains("BACKUP prio 200/50 master 192.0.2.2"),
        status,
    );
    std::fs::write(&file, "7\n").unwrap();
    wait_for(
        "r1 at 130 to preempt back",
        Duration::from_secs(5),
        || status().contains("MASTER prio 200/130") && !has_addr(lan.router(2), "eth0", VIP),
        status,
    );
}
