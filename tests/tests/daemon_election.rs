//! Two `xvrrp run` daemons on one LAN (XDP in auto mode, absorption on): elections by
//! priority, failover on kill -9 and on SIGTERM, preemption and `nopreempt`, and what the
//! client's neighbour table learns from the new master's gratuitous ARPs.
//!
//! Failover times are printed (run with `--nocapture`); the only timed assertions are "within
//! Master_Down_Interval plus generous slack".

use std::time::{Duration, Instant};

use tests::daemon::{Daemon, Lan, VIP, config, has_addr, holds_for, mac, wait_for};
use vrrp_userspace::daemon::handover::DRAIN;

/// Slack on top of Master_Down_Interval for scheduling, `ip` polling and a loaded CI machine.
const SLACK: Duration = Duration::from_millis(1500);

/// Master_Down_Interval of a priority-100 backup (RFC 5798 §6.1) at `interval_cs`.
fn master_down(interval_cs: u64) -> Duration {
    let interval = Duration::from_millis(interval_cs * 10);
    3 * interval + interval * 156 / 256
}

/// r1 (priority 200) is master and r2 (priority 100) backup, as settled on the wire.
fn elect(lan: &Lan, advert_int: &str, extra1: &str, extra2: &str) -> (Daemon, Daemon) {
    let d2 = lan.daemon(2, &config(100, advert_int, extra2), &[]);
    let d1 = lan.daemon(1, &config(200, advert_int, extra1), &[]);
    let logs = || format!("r1:\n{}\nr2:\n{}", d1.log_text(), d2.log_text());
    wait_for(
        "r1 to hold the VIP",
        Duration::from_secs(10),
        || has_addr(lan.router(1), "eth0", VIP),
        logs,
    );
    wait_for(
        "r2 to drop the VIP",
        Duration::from_secs(10),
        || !has_addr(lan.router(2), "eth0", VIP),
        logs,
    );
    (d1, d2)
}

/// `rounds` times: r1 master, r2 backup (staying so while r1 lives), kill -9 r1, time until
/// r2 holds the VIP and the client's neighbour entry moves to r2's MAC. The times are printed.
fn failover_after_kill(tag: &str, advert_int: &str, interval_cs: u64, rounds: usize) {
    let lan = Lan::new(tag, 2);
    let (d1, d2) = elect(&lan, advert_int, "", "");
    let mut d1 = Some(d1);
    let mut times = Vec::new();
    for round in 0..rounds {
        if round > 0 {
            // r1 returns (removing its leftover VIP) and preempts r2.
            let back = lan.daemon(1, &config(200, advert_int, ""), &[]);
            // r1 waits its own Master_Down_Interval; r2 hears of it at its next Adver_Timer,
            // and keeps the VIP a moment into its handover window.
            wait_for(
                "r1 to preempt",
                master_down(interval_cs) + Duration::from_millis(interval_cs * 10) + DRAIN + SLACK,
                || has_addr(lan.router(1), "eth0", VIP) && !has_addr(lan.router(2), "eth0", VIP),
                || format!("r1:\n{}\nr2:\n{}", back.log_text(), d2.log_text()),
            );
            d1 = Some(back);
        }
        let master = d1.take().expect("r1 runs");
        // The backup stays backup for longer than Master_Down_Interval while adverts are
        // absorbed.
        holds_for(
            "r2 staying backup while r1 is alive",
            2 * master_down(interval_cs) + Duration::from_millis(200),
            || !has_addr(lan.router(2), "eth0", VIP),
            || d2.log_text(),
        );
        wait_for(
            "the client to learn r1's MAC",
            Duration::from_secs(5),
            || lan.client_mac_of(VIP) == Some(mac(1)),
            || master.log_text(),
        );
        let start = Instant::now();
        master.stop(libc::SIGKILL);
        wait_for(
            "r2 to take the VIP",
            master_down(interval_cs) + SLACK,
            || has_addr(lan.router(2), "eth0", VIP),
            || d2.log_text(),
        );
        let took = start.elapsed();
        wait_for(
            "the client to learn r2's MAC",
            Duration::from_secs(2),
            || lan.client_mac_of(VIP) == Some(mac(2)),
            || d2.log_text(),
        );
        times.push(format!("{:.0}", took.as_secs_f64() * 1000.0));
    }
    println!(
        "failover at advert_int {advert_int}: kill -9 -> VIP on backup in [{}] ms \
         (Master_Down_Interval {:.0} ms)",
        times.join(", "),
        master_down(interval_cs).as_secs_f64() * 1000.0
    );
}

#[test]
fn failover_on_kill_at_one_second() {
    failover_after_kill("dk1", "1", 100, 2);
}

#[test]
fn failover_on_kill_at_a_tenth_of_a_second() {
    failover_after_kill("dk01", "0.1", 10, 5);
}

#[test]
fn higher_priority_preempts_back_when_it_returns() {
    let lan = Lan::new("dpre", 2);
    let (d1, d2) = elect(&lan, "0.1", "", "");
    d1.stop(libc::SIGKILL);
    wait_for(
        "r2 to take over",
        Duration::from_secs(3),
        || has_addr(lan.router(2), "eth0", VIP),
        || d2.log_text(),
    );
    // r1 comes back: its leftover VIP is removed at startup, then it preempts r2. Its adverts
    // repeat what r2's liveness map held before r1 died, so XDP absorbs every one of them:
    // r2 learns of r1 only by crediting the map when its Adver_Timer fires.
    let d1 = lan.daemon(1, &config(200, "0.1", ""), &[]);
    let logs = || format!("r1:\n{}\nr2:\n{}", d1.log_text(), d2.log_text());
    wait_for(
        "r2 to release the VIP",
        Duration::from_secs(3),
        || !has_addr(lan.router(2), "eth0", VIP),
        logs,
    );
    wait_for(
        "r1 to hold the VIP again",
        Duration::from_secs(3),
        || has_addr(lan.router(1), "eth0", VIP),
        logs,
    );
    wait_for(
        "the client to learn r1's MAC",
        Duration::from_secs(3),
        || lan.client_mac_of(VIP) == Some(mac(1)),
        logs,
    );
}

#[test]
fn nopreempt_keeps_the_current_master() {
    let lan = Lan::new("dnop", 2);
    // r2 alone first: it becomes master.
    let d2 = lan.daemon(2, &config(100, "0.1", "  nopreempt"), &[]);
    wait_for(
        "r2 to become master",
        Duration::from_secs(3),
        || has_addr(lan.router(2), "eth0", VIP),
        || d2.log_text(),
    );
    // r1, higher but nopreempt, must not take over from a live master.
    let d1 = lan.daemon(1, &config(200, "0.1", "  nopreempt"), &[]);
    let logs = || format!("r1:\n{}\nr2:\n{}", d1.log_text(), d2.log_text());
    holds_for(
        "r2 staying master",
        Duration::from_secs(2),
        || has_addr(lan.router(2), "eth0", VIP) && !has_addr(lan.router(1), "eth0", VIP),
        logs,
    );
}

#[test]
fn sigterm_hands_over_after_skew_time() {
    let lan = Lan::new("dterm", 2);
    let (d1, d2) = elect(&lan, "1", "", "");
    let start = Instant::now();
    let out = d1.stop(libc::SIGTERM);
    assert!(out.status.success(), "SIGTERM exit: {:?}", out.status);
    assert!(
        !has_addr(lan.router(1), "eth0", VIP),
        "r1 removed its VIP on the way out"
    );
    let link = lan.router(1).exec(&["ip", "-d", "link", "show", "eth0"]);
    let link = String::from_utf8_lossy(&link.stdout);
    assert!(!link.contains("prog/xdp"), "XDP detached:\n{link}");
    // Priority 0 makes the backup wait Skew_Time (0.61 s), far below Master_Down_Interval.
    wait_for(
        "r2 to take over",
        Duration::from_millis(1500),
        || has_addr(lan.router(2), "eth0", VIP),
        || d2.log_text(),
    );
    println!(
        "SIGTERM -> VIP on backup in {:.0} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );
}
