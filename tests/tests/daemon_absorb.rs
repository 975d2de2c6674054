//! The backup's XDP tracker absorbs the master's repeated adverts, so its socket hears almost
//! nothing; its Master_Down_Timer must then credit the liveness map instead of taking over,
//! and still take over in time once the master is gone. Also: the same failover without XDP.

use std::time::{Duration, Instant};

use tests::daemon::{Daemon, Lan, VIP, config, has_addr, holds_for, wait_for};

/// Master_Down_Interval of a priority-100 backup at 0.1 s is 361 ms.
const MASTER_DOWN: Duration = Duration::from_millis(361);
const SLACK: Duration = Duration::from_millis(1500);

fn counter(status: &str, line_prefix: &str, name: &str) -> u64 {
    status
        .lines()
        .find(|l| l.starts_with(line_prefix))
        .and_then(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{name}=")))
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn status(d: &Daemon) -> String {
    String::from_utf8_lossy(&d.status(&[]).stdout).into_owned()
}

/// r1 master, r2 backup with `xdp`; kill -9 r1; returns how long r2 took to hold the VIP.
fn kill_master(tag: &str, xdp: &str) -> (Duration, String) {
    let lan = Lan::new(tag, 2);
    let d2 = lan.daemon(2, &config(100, "0.1", ""), &["--xdp", xdp]);
    let d1 = lan.daemon(1, &config(200, "0.1", ""), &["--xdp", xdp]);
    let logs = || format!("r1:\n{}\nr2:\n{}", d1.log_text(), d2.log_text());
    wait_for(
        "r1 to hold the VIP",
        Duration::from_secs(5),
        || has_addr(lan.router(1), "eth0", VIP),
        logs,
    );
    wait_for(
        "r2 to be backup",
        Duration::from_secs(5),
        || !has_addr(lan.router(2), "eth0", VIP),
        logs,
    );
    holds_for(
        "r2 staying backup while r1 is alive",
        Duration::from_secs(2),
        || !has_addr(lan.router(2), "eth0", VIP),
        logs,
    );
    let before = status(&d2);
    let start = Instant::now();
    d1.stop(libc::SIGKILL);
    wait_for(
        "r2 to take the VIP",
        MASTER_DOWN + SLACK,
        || has_addr(lan.router(2), "eth0", VIP),
        || d2.log_text(),
    );
    (start.elapsed(), before)
}

#[test]
fn an_absorbing_backup_waits_for_the_master_and_takes_over_when_it_dies() {
    let (took, backup) = kill_master("dabs", "native");
    // Two seconds of adverts every 0.1 s: the socket saw the first, XDP absorbed the rest.
    let received = counter(&backup, "VI_1 ", "received");
    let absorbed = counter(&backup, "xdp eth0 native", "absorbed");
    assert!(received <= 3, "the socket heard only changes:\n{backup}");
    assert!(
        absorbed >= 15,
        "the tracker absorbed the repeats:\n{backup}"
    );
    println!(
        "absorbing backup (native XDP): kill -9 -> VIP in {:.0} ms (Master_Down_Interval {} ms); \
         socket heard {received}, XDP absorbed {absorbed}",
        took.as_secs_f64() * 1000.0,
        MASTER_DOWN.as_millis()
    );
}

#[test]
fn generic_xdp_absorbs_as_well() {
    let (took, backup) = kill_master("dskb", "skb");
    assert!(counter(&backup, "VI_1 ", "received") <= 3, "{backup}");
    assert!(
        counter(&backup, "xdp eth0 skb", "absorbed") >= 15,
        "{backup}"
    );
    println!(
        "absorbing backup (skb XDP): kill -9 -> VIP in {:.0} ms",
        took.as_secs_f64() * 1000.0
    );
}

#[test]
fn without_xdp_every_advert_reaches_the_socket() {
    let (took, backup) = kill_master("dnox", "off");
    assert!(counter(&backup, "VI_1 ", "received") >= 15, "{backup}");
    assert!(!backup.contains("xdp "), "no XDP attached:\n{backup}");
    println!(
        "backup without XDP: kill -9 -> VIP in {:.0} ms (Master_Down_Interval {} ms)",
        took.as_secs_f64() * 1000.0,
        MASTER_DOWN.as_millis()
    );
}
