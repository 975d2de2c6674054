//! The XDP handover and the crash-safe dataplane, end to end: two xvrrp routers on a LAN, a
//! client sending 1000 probes a second to the VIP, a responder on each router answering with
//! the router's id.

use std::{
    collections::BTreeSet,
    net::SocketAddrV4,
    process::Output,
    time::{Duration, Instant, SystemTime},
};

use vrrp_userspace::daemon::handover::DRAIN;

use tests::{
    daemon::{Daemon, Lan, VIP, config, has_addr, holds_for, mac, second_mac, wait_for},
    netns::Netns,
    probe::{PORT, ProbeResult, Probes, Responder, time_of_day},
};

const RATE: u32 = 1000;

fn target() -> SocketAddrV4 {
    SocketAddrV4::new(VIP.parse().unwrap(), PORT)
}

fn state(d: &Daemon) -> String {
    let out = d.status(&[]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn is_master(d: &Daemon) -> bool {
    state(d).contains(" MASTER ")
}

/// r1 (priority 150) Master, r2 (100) Backup, both answering probes; waits until the client
/// reaches the VIP at r1.
fn lan_with_master(
    tag: &str,
    advert_int: &str,
    extra: &str,
) -> (Lan, Daemon, Daemon, [Responder; 2]) {
    lan_with_master_answering(tag, advert_int, extra, Duration::ZERO)
}

/// `lan_with_master`, with responders that answer each probe `delay` after it arrived.
fn lan_with_master_answering(
    tag: &str,
    advert_int: &str,
    extra: &str,
    delay: Duration,
) -> (Lan, Daemon, Daemon, [Responder; 2]) {
    let lan = Lan::new(tag, 2);
    let (r1, r2, responders) = master_on(&lan, advert_int, extra, delay);
    (lan, r1, r2, responders)
}

/// r1 master and r2 backup on `lan`, each with a responder answering `delay` after a probe
/// arrived; the client's neighbour entry for the VIP names r1.
fn master_on(
    lan: &Lan,
    advert_int: &str,
    extra: &str,
    delay: Duration,
) -> (Daemon, Daemon, [Responder; 2]) {
    let r1 = lan.daemon(1, &config(150, advert_int, extra), &[]);
    let r2 = lan.daemon(2, &config(100, advert_int, extra), &[]);
    wait_for(
        "r1 to become master",
        Duration::from_secs(10),
        || is_master(&r1) && has_addr(lan.router(1), "eth0", VIP),
        || format!("{}\n{}", r1.log_text(), r2.log_text()),
    );
    let responders = [
        Responder::delayed(lan.router(1), 1, delay),
        Responder::delayed(lan.router(2), 2, delay),
    ];
    lan.client.exec(&["ping", "-c", "1", "-W", "2", VIP]);
    assert_eq!(lan.client_mac_of(VIP).as_deref(), Some(mac(1).as_str()));
    (r1, r2, responders)
}

/// The echo requests of `count`, one every `interval` from `started`, that ping's output shows
/// no reply to: each with the time of day it was due, to lay beside the daemons' logs (the
/// first 20).
fn unanswered_pings(output: &str, count: u64, started: SystemTime, interval: Duration) -> String {
    let answered: BTreeSet<u64> = output
        .lines()
        .filter_map(|l| l.split("icmp_seq=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect();
    (1..=count)
        .filter(|seq| !answered.contains(seq))
        .take(20)
        .map(|seq| {
            let due = started + interval * (seq - 1) as u32;
            format!("icmp_seq={seq} due {}\n", time_of_day(due))
        })
        .collect()
}

/// The count the daemon logged when a handover window ended.
fn redirected(log: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains("handover window over"))
        .filter_map(|l| l.split("redirected=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// A client that does not act on gratuitous ARPs for `vip` from `from` (as some upstream
/// routers do; only the GARPs are dropped, the router's other ARP still passes): its frames
/// keep coming to the old master, which must send them on to the new one.
fn ignore_garps(lan: &Lan, from: &str, vip: &str) {
    for rule in [
        "add table arp t".to_owned(),
        "add chain arp t c { type filter hook input priority 0; }".to_owned(),
        format!(
            "add rule arp t c arp saddr ether {from} arp saddr ip {vip} arp daddr ip {vip} drop"
        ),
    ] {
        lan.client.exec(&["sh", "-c", &format!("nft '{rule}'")]);
    }
}

/// With the client ignoring r2's GARPs, 1.5 s of probes with r1 stopped (SIGTERM) 300 ms in:
/// what the probes saw, when the SIGTERM went, and r1's output.
fn stop_r1_under_probes(lan: &Lan, r1: Daemon) -> (ProbeResult, Instant, Output) {
    ignore_garps(lan, &mac(2), VIP);
    let probes = Probes::start(&lan.client, target(), RATE, Duration::from_millis(1500));
    std::thread::sleep(Duration::from_millis(300));
    let handover = Instant::now();
    let stopping = std::thread::spawn(move || r1.stop(libc::SIGTERM));
    let result = probes.wait();
    (result, handover, stopping.join().unwrap())
}

#[test]
fn sigterm_on_the_master_hands_over_without_losing_a_probe() {
    let (lan, r1, r2, _responders) = lan_with_master("hosig", "0.1", "  handover_window 2");
    assert!(!state(&r1).contains("xdp-tx-dropped"), "{}", state(&r1));
    let (result, handover, r1_out) = stop_r1_under_probes(&lan, r1);
    let r1_log = String::from_utf8_lossy(&r1_out.stderr).into_owned()
        + &std::fs::read_to_string(lan.scratch.path("r1.log")).unwrap_or_default();
    assert_eq!(
        result.lost(),
        0,
        "lost {} of {} probes (longest outage {:?})\n{}r1:\n{r1_log}\nr2:\n{}",
        result.lost(),
        result.sent(),
        result.longest_outage(),
        result.losses(),
        r2.log_text()
    );
    assert!(
        result.answered_after(handover + Duration::from_millis(500)) == [2].into(),
        "after the handover only r2 answers: {:?}",
        result.answered_after(handover + Duration::from_millis(500))
    );
    let n = redirected(&r1_log);
    assert!(n > 0, "r1 redirected no frame to r2\n{r1_log}");
    assert!(has_addr(lan.router(2), "eth0", VIP));
    assert!(
        !has_addr(lan.router(1), "eth0", VIP),
        "the VIP stayed on r1"
    );
    assert!(is_master(&r2));
}

/// On a veth whose peer has neither an XDP program nor GRO (a container's, say), what XDP sends
/// back out is dropped. r1 sees that when r2 takes over: it warns, redirects nothing, and keeps
/// the VIP for the drain, quiet, serving what still reaches it (here all of it: the client
/// ignores r2's GARPs), instead of sending it into nowhere.
#[test]
fn where_xdp_tx_is_dropped_the_old_master_serves_through_the_drain_instead() {
    let mut lan = Lan::new("hodrop", 2);
    lan.drop_xdp_tx();
    let (r1, r2, _responders) = master_on(&lan, "0.1", "  handover_window 2", Duration::ZERO);
    let r1_log = || std::fs::read_to_string(lan.scratch.path("r1.log")).unwrap_or_default();
    assert!(
        state(&r1).contains("xdp eth0 native pinned xdp-tx-dropped(no-redirect)"),
        "{}",
        state(&r1)
    );
    let (result, handover, _) = stop_r1_under_probes(&lan, r1);
    // r2 takes over some 100 ms after the SIGTERM, and the drain runs from then on.
    let lost_in_drain = result
        .sent_at
        .iter()
        .zip(&result.answered_by)
        .filter(|(sent, answer)| **sent < handover + DRAIN && answer.is_none())
        .count();
    assert_eq!(
        lost_in_drain,
        0,
        "lost {lost_in_drain} probes sent within {DRAIN:?} of the handover\n{}r1:\n{}\nr2:\n{}",
        result.losses(),
        r1_log(),
        r2.log_text()
    );
    for warning in [
        "will keep the VIPs for a moment but not redirect",
        "without redirecting",
    ] {
        assert!(
            r1_log().contains(warning),
            "r1 did not warn {warning:?}\n{}",
            r1_log()
        );
    }
    assert_eq!(redirected(&r1_log()), 0, "{}", r1_log());
    assert!(
        !has_addr(lan.router(1), "eth0", VIP),
        "the VIP stayed on r1"
    );
}

/// A service that takes 200 ms over each request: r1 keeps the VIP for a moment of the
/// window (`handover::DRAIN`), so that what it received before the redirect is still answered
/// from the VIP; it answers no ARP for the VIP meanwhile, and lets it go before the window ends.
#[test]
fn a_slow_service_still_answers_what_reached_it_before_the_redirect() {
    let (lan, r1, r2, _responders) = lan_with_master_answering(
        "hoslow",
        "0.1",
        "  handover_window 3",
        Duration::from_millis(200),
    );
    ignore_garps(&lan, &mac(2), VIP);
    let from_r1 = arp_replies_counter(&lan, &mac(1), VIP);
    let probes = Probes::start(&lan.client, target(), RATE, Duration::from_millis(1000));
    std::thread::sleep(Duration::from_millis(300));
    let stopping = std::thread::spawn(move || r1.stop(libc::SIGTERM));
    let r1_log = || std::fs::read_to_string(lan.scratch.path("r1.log")).unwrap_or_default();
    wait_for(
        "r1 to redirect",
        Duration::from_secs(3),
        || r1_log().contains("new master seen"),
        r1_log,
    );
    assert!(
        has_addr(lan.router(1), "eth0", VIP),
        "r1 let the VIP go at once"
    );
    // The client asks anew: only r2 answers.
    let before = from_r1();
    lan.client.exec(&["ip", "neigh", "flush", "to", VIP]);
    lan.client.exec(&["ping", "-c", "1", "-W", "2", VIP]);
    assert_eq!(
        from_r1(),
        before,
        "r1 answered ARP for the VIP it hands over"
    );
    assert_eq!(lan.client_mac_of(VIP), Some(mac(2)));
    let result = probes.wait();
    assert_eq!(
        result.lost(),
        0,
        "lost {} of {} probes (longest outage {:?})\n{}r1:\n{}\nr2:\n{}",
        result.lost(),
        result.sent(),
        result.longest_outage(),
        result.losses(),
        r1_log(),
        r2.log_text()
    );
    wait_for(
        "r1 to let the VIP go",
        Duration::from_secs(2),
        || !has_addr(lan.router(1), "eth0", VIP),
        r1_log,
    );
    assert!(!stopping.is_finished(), "the VIP went only with r1's exit");
    assert!(stopping.join().unwrap().status.success());
    assert!(redirected(&r1_log()) > 0, "{}", r1_log());
}

#[test]
fn sigterm_hands_over_an_ipv6_vip_without_losing_a_ping() {
    const VIP6: &str = "2001:db8::100";
    let lan = Lan::new("hov6", 2);
    let v6 = |priority: u8| {
        config(priority, "0.1", "  handover_window 2").replace("192.0.2.100/32", "2001:db8::100/64")
    };
    let r1 = lan.daemon(1, &v6(150), &[]);
    let r2 = lan.daemon(2, &v6(100), &[]);
    let logs = || format!("{}\n{}", r1.log_text(), r2.log_text());
    wait_for(
        "r1 to become master",
        Duration::from_secs(10),
        || is_master(&r1) && has_addr(lan.router(1), "eth0", VIP6),
        logs,
    );
    wait_for(
        "r2 to follow r1",
        Duration::from_secs(10),
        || state(&r2).contains(" BACKUP "),
        logs,
    );
    lan.client.ip(&[
        "-6",
        "addr",
        "add",
        "2001:db8::10/64",
        "dev",
        "br0",
        "nodad",
    ]);
    lan.client.exec(&["ping", "-6", "-c", "1", "-W", "2", VIP6]);
    assert_eq!(lan.client_mac_of(VIP6).as_deref(), Some(mac(1).as_str()));
    // The client takes no neighbour advertisement from r2 (as a router that ignores
    // unsolicited ones would): its frames for the VIP keep going to r1, which must send them
    // on, until r2's own solicitation for the client, sent from the VIP, updates its entry.
    let rule = format!(
        "add rule ip6 t c ether saddr {} icmpv6 type nd-neighbor-advert drop",
        mac(2)
    );
    for rule in [
        "add table ip6 t",
        "add chain ip6 t c { type filter hook input priority 0; }",
        &rule,
    ] {
        lan.client.exec(&["sh", "-c", &format!("nft '{rule}'")]);
    }
    // While r1 still holds the VIP, r2's announcements of it must not reach r1's stack, which
    // would log each as a duplicate of its own address.
    let announced_to_r1 = nft_counter(
        lan.router(1),
        "ip6",
        &format!(
            "ether saddr {} icmpv6 type nd-neighbor-advert @th,32,8 & 0x40 == 0",
            mac(2)
        ),
    );
    // 400 echo requests, one every 5 ms, the handover 300 ms in.
    let started = SystemTime::now();
    let ping = lan
        .client
        .command(&["ping", "-6", "-i", "0.005", "-c", "400", "-W", "1", VIP6])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("starting ping");
    std::thread::sleep(Duration::from_millis(300));
    let r1_out = r1.stop(libc::SIGTERM);
    let out = ping.wait_with_output().expect("ping");
    let replies = String::from_utf8_lossy(&out.stdout).into_owned();
    let r1_log = String::from_utf8_lossy(&r1_out.stderr).into_owned()
        + &std::fs::read_to_string(lan.scratch.path("r1.log")).unwrap_or_default();
    assert!(
        replies.contains("400 packets transmitted, 400 received"),
        "{}\nunanswered, with when each was due (UTC):\n{}\n--- r1 ---\n{r1_log}\n--- r2 ---\n{}",
        replies
            .lines()
            .find(|l| l.contains("packets transmitted"))
            .unwrap_or("no summary from ping"),
        unanswered_pings(&replies, 400, started, Duration::from_millis(5)),
        r2.log_text()
    );
    assert_eq!(
        announced_to_r1(),
        0,
        "r2's NAs reached r1's stack\n{r1_log}"
    );
    assert!(
        redirected(&r1_log) > 0,
        "r1 redirected no frame to r2\n{r1_log}"
    );
    assert!(has_addr(lan.router(2), "eth0", VIP6));
    assert!(
        !has_addr(lan.router(1), "eth0", VIP6),
        "the VIP stayed on r1"
    );
}

#[test]
fn xvrrp_handover_moves_mastership_and_stays_backup() {
    let (lan, r1, r2, _responders) = lan_with_master("hocmd", "0.1", "");
    let probes = Probes::start(&lan.client, target(), RATE, Duration::from_millis(1500));
    std::thread::sleep(Duration::from_millis(300));
    let out = r1.handover(&["--instance", "VI_1"]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("VI_1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = probes.wait();
    assert_eq!(
        result.lost(),
        0,
        "lost {} of {} probes\n{}{}\n{}",
        result.lost(),
        result.sent(),
        result.losses(),
        r1.log_text(),
        r2.log_text()
    );
    assert!(is_master(&r2), "{}", state(&r2));
    // Priority 150 against 100 with preemption on: only the yield keeps r1 Backup.
    holds_for(
        "r1 to stay backup",
        Duration::from_secs(1),
        || state(&r1).contains(" BACKUP "),
        || r1.log_text(),
    );
    assert!(!has_addr(lan.router(1), "eth0", VIP));
    // Nothing to hand over now: a clear error.
    let again = r1.handover(&["--instance", "VI_1"]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not MASTER"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn a_killed_master_leaves_no_split_brain_and_its_restart_adopts_the_pins() {
    let (lan, r1, r2, _responders) = lan_with_master("hokill", "0.1", "");
    r1.stop(libc::SIGKILL);
    wait_for(
        "r2 to take over",
        Duration::from_secs(5),
        || is_master(&r2),
        || r2.log_text(),
    );
    // What keepalived would leave behind: the VIP still on r1's interface...
    assert!(has_addr(lan.router(1), "eth0", VIP));
    // ...but the pinned program no longer lets it answer ARP: a client that re-resolves the
    // VIP reaches r2 only.
    lan.client.exec(&["ip", "neigh", "flush", "dev", "br0"]);
    let probes = Probes::start(&lan.client, target(), RATE, Duration::from_millis(700));
    let from = probes.start_instant() + Duration::from_millis(200);
    let result = probes.wait();
    assert_eq!(result.answered_after(from), [2].into(), "split brain");
    assert_eq!(lan.client_mac_of(VIP).as_deref(), Some(mac(2).as_str()));

    // The restarted daemon adopts the pinned link and maps, sees that r2 took over, removes
    // the leftover VIP, and (priority 150, preempting) takes mastership back.
    let r1 = lan.daemon(1, &config(150, "0.1", ""), &[]);
    let log = r1.log_text();
    assert!(log.contains("XDP adopted"), "{log}");
    assert!(log.contains("another router took over"), "{log}");
    wait_for(
        "r1 to become master again",
        Duration::from_secs(5),
        || is_master(&r1),
        || r1.log_text(),
    );
    assert!(
        state(&r1).contains("xdp eth0 adopted pinned"),
        "{}",
        state(&r1)
    );
}

#[test]
fn a_master_restarted_at_once_resumes_without_a_flap() {
    let (lan, r1, r2, _responders) = lan_with_master("horst", "1", "");
    let probes = Probes::start(&lan.client, target(), RATE, Duration::from_millis(2500));
    std::thread::sleep(Duration::from_millis(300));
    r1.stop(libc::SIGKILL);
    let r1 = lan.daemon(1, &config(150, "1", ""), &[]);
    let result = probes.wait();
    let log = r1.log_text();
    assert!(log.contains("resuming as master"), "{log}");
    assert!(is_master(&r1), "{}", state(&r1));
    assert!(has_addr(lan.router(1), "eth0", VIP));
    assert!(
        !r2.log_text().contains("to=Master"),
        "r2 took over: {}",
        r2.log_text()
    );
    assert_eq!(
        result.lost(),
        0,
        "lost {} of {} probes\n{}{log}",
        result.lost(),
        result.sent(),
        result.losses()
    );
}

#[test]
fn an_instance_reloaded_away_while_awaiting_a_new_master_takes_its_vips_along() {
    let lan = Lan::new("horl", 1);
    let r1 = lan.daemon(1, &config(150, "1", ""), &[]);
    wait_for(
        "r1 to become master",
        Duration::from_secs(10),
        || is_master(&r1) && has_addr(lan.router(1), "eth0", VIP),
        || r1.log_text(),
    );
    // No Backup to take over: the handover would hold the VIP for a Master_Down_Interval
    // of the slowest Backup (over 4 s) before giving up.
    let out = r1.handover(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(state(&r1).contains("awaiting"), "{}", state(&r1));
    // Another virtual router with another VIP: VI_1 as it was is gone.
    r1.rewrite(
        &config(150, "1", "")
            .replace("virtual_router_id 51", "virtual_router_id 52")
            .replace(VIP, "192.0.2.101"),
    );
    r1.signal(libc::SIGHUP);
    // Well before the handover would have given up.
    wait_for(
        "the VIP to go with the reloaded instance",
        Duration::from_secs(3),
        || !has_addr(lan.router(1), "eth0", VIP),
        || r1.log_text(),
    );
}

/// A VIP on the second LAN (`Lan::add_second_lan`), while adverts go out of eth0.
const VIP1: &str = "198.51.100.100";

/// `config` with its VIP replaced by `VIP1` on eth1.
fn config_vip_on_eth1(priority: u8, extra: &str) -> String {
    config(priority, "0.1", extra).replace(&format!("{VIP}/32"), &format!("{VIP1}/24 dev eth1"))
}

/// A VIP on another device than the VRRP interface (`dev eth1`, adverts on eth0): during the
/// window r1's XDP on eth1 sends the VIP's frames out of eth0 (XDP_REDIRECT), to r2's eth0
/// MAC as r2's adverts carry it.
#[test]
fn sigterm_hands_over_a_vip_on_another_device_through_the_vrrp_interface() {
    let lan = Lan::new("hodev", 2);
    lan.add_second_lan();
    let r1 = lan.daemon(1, &config_vip_on_eth1(150, "  handover_window 2"), &[]);
    let r2 = lan.daemon(2, &config_vip_on_eth1(100, "  handover_window 2"), &[]);
    wait_for(
        "r1 to become master",
        Duration::from_secs(10),
        || is_master(&r1) && has_addr(lan.router(1), "eth1", VIP1),
        || format!("{}\n{}", r1.log_text(), r2.log_text()),
    );
    let _responders = [
        Responder::start(lan.router(1), 1),
        Responder::start(lan.router(2), 2),
    ];
    lan.client.exec(&["ping", "-c", "1", "-W", "2", VIP1]);
    assert_eq!(lan.client_mac_of(VIP1), Some(second_mac(1)));
    ignore_garps(&lan, &second_mac(2), VIP1);
    let target = SocketAddrV4::new(VIP1.parse().unwrap(), PORT);
    let probes = Probes::start(&lan.client, target, RATE, Duration::from_millis(1500));
    std::thread::sleep(Duration::from_millis(300));
    let handover = Instant::now();
    let stopping = std::thread::spawn(move || r1.stop(libc::SIGTERM));
    let result = probes.wait();
    stopping.join().unwrap();
    let r1_log = std::fs::read_to_string(lan.scratch.path("r1.log")).unwrap_or_default();
    assert_eq!(
        result.lost(),
        0,
        "lost {} of {} probes (longest outage {:?})\n{}r1:\n{r1_log}\nr2:\n{}",
        result.lost(),
        result.sent(),
        result.longest_outage(),
        result.losses(),
        r2.log_text()
    );
    let late = result.answered_after(handover + Duration::from_millis(500));
    assert!(
        late == [2].into(),
        "after the handover only r2 answers: {late:?}"
    );
    // The VIP's only entry is in r1's eth1 table.
    let n = redirected(&r1_log);
    assert!(n > 0, "r1 redirected no frame to r2\n{r1_log}");
    assert!(has_addr(lan.router(2), "eth1", VIP1));
    assert!(
        !has_addr(lan.router(1), "eth1", VIP1),
        "the VIP stayed on r1"
    );
    assert!(is_master(&r2));
}

/// Counts, on the client, the ARP replies that `from` (a MAC) sends for `vip`.
fn arp_replies_counter<'a>(lan: &'a Lan, from: &str, vip: &str) -> impl Fn() -> u64 + 'a {
    nft_counter(
        &lan.client,
        "arp",
        &format!("arp operation reply arp saddr ether {from} arp saddr ip {vip}"),
    )
}

/// Counts the frames of `family` that `ns` receives and nft's `matches` selects (before its
/// stack, after XDP).
fn nft_counter<'a>(ns: &'a Netns, family: &str, matches: &str) -> impl Fn() -> u64 + use<'a> {
    for rule in [
        format!("add table {family} counted"),
        format!("add chain {family} counted c {{ type filter hook input priority 0; }}"),
        format!("add rule {family} counted c {matches} counter"),
    ] {
        let out = ns.exec(&["sh", "-c", &format!("nft '{rule}'")]);
        assert!(out.status.success(), "nft {rule}: {out:?}");
    }
    let family = family.to_owned();
    move || {
        let out = ns.exec(&["nft", "list", "chain", &family, "counted", "c"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let mut words = text.split_whitespace();
        words.find(|w| *w == "packets");
        words
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no counter in: {text}"))
    }
}

/// kill -9 of a master whose VIP is on another device (eth1; adverts on eth0): the VIP stays
/// on r1's eth1, where XDP never hears r2's adverts, but r1's eth0 program records that r2
/// took over, and eth1's stops answering ARP for the VIP. The restarted daemon forgets that
/// record, or it could not serve the VIP there again.
#[test]
fn a_killed_master_leaves_no_split_brain_on_another_device() {
    let lan = Lan::new("hokdev", 2);
    lan.add_second_lan();
    let r1 = lan.daemon(1, &config_vip_on_eth1(150, ""), &[]);
    let r2 = lan.daemon(2, &config_vip_on_eth1(100, ""), &[]);
    let r1_master = |r1: &Daemon| is_master(r1) && has_addr(lan.router(1), "eth1", VIP1);
    wait_for(
        "r1 to become master",
        Duration::from_secs(10),
        || r1_master(&r1),
        || format!("{}\n{}", r1.log_text(), r2.log_text()),
    );
    let _responders = [
        Responder::start(lan.router(1), 1),
        Responder::start(lan.router(2), 2),
    ];
    let target = SocketAddrV4::new(VIP1.parse().unwrap(), PORT);
    // Re-resolves the VIP, then probes it: which routers answered once it had resolved.
    let resolve_and_probe = || {
        lan.client.exec(&["ip", "neigh", "flush", "dev", "br1"]);
        let probes = Probes::start(&lan.client, target, RATE, Duration::from_millis(700));
        let from = probes.start_instant() + Duration::from_millis(200);
        probes.wait().answered_after(from)
    };
    let from_r1 = arp_replies_counter(&lan, &second_mac(1), VIP1);
    assert_eq!(resolve_and_probe(), [1].into());
    assert!(from_r1() > 0, "the counter sees r1's replies");

    r1.stop(libc::SIGKILL);
    wait_for(
        "r2 to take over",
        Duration::from_secs(5),
        || is_master(&r2) && has_addr(lan.router(2), "eth1", VIP1),
        || r2.log_text(),
    );
    assert!(has_addr(lan.router(1), "eth1", VIP1), "left behind");
    let before = from_r1();
    assert_eq!(resolve_and_probe(), [2].into(), "split brain");
    assert_eq!(from_r1(), before, "r1 answered ARP for the VIP it left");
    assert_eq!(lan.client_mac_of(VIP1), Some(second_mac(2)));

    // Restarted, r1 removes the leftover and (priority 150, preempting) takes the VIP back.
    let r1 = lan.daemon(1, &config_vip_on_eth1(150, ""), &[]);
    wait_for(
        "r1 to be master again, and r2 to let go",
        Duration::from_secs(10),
        || r1_master(&r1) && !has_addr(lan.router(2), "eth1", VIP1),
        || format!("{}\n{}", r1.log_text(), r2.log_text()),
    );
    assert_eq!(resolve_and_probe(), [1].into(), "{}", r1.log_text());
    assert_eq!(lan.client_mac_of(VIP1), Some(second_mac(1)));
}

/// Strict mode (no accept, RFC 5798 §6.4.3) concerns every VIP, also one on another device
/// than the VRRP interface: XDP there drops IP to it and still lets ARP for it be answered.
#[test]
fn without_accept_mode_ip_to_a_vip_on_another_device_is_dropped() {
    let lan = Lan::new("hodrop", 1);
    lan.add_second_lan();
    let r1 = lan.daemon(1, &config_vip_on_eth1(150, "  no_accept"), &[]);
    wait_for(
        "r1 to become master",
        Duration::from_secs(10),
        || is_master(&r1) && has_addr(lan.router(1), "eth1", VIP1),
        || r1.log_text(),
    );
    let _responder = Responder::start(lan.router(1), 1);
    let target = SocketAddrV4::new(VIP1.parse().unwrap(), PORT);
    let result = Probes::start(&lan.client, target, RATE, Duration::from_millis(300)).wait();
    assert!(
        result.sent() > 0 && result.lost() == result.sent(),
        "{} of {} probes answered",
        result.sent() - result.lost(),
        result.sent()
    );
    let status = state(&r1);
    assert!(
        status.contains(&format!("vip {VIP1} vrid 51 strict")) && status.contains("dropped="),
        "{status}"
    );
    assert_eq!(
        lan.client_mac_of(VIP1),
        Some(second_mac(1)),
        "ARP for the VIP is answered"
    );
}

/// `xvrrp status` names the interface a VIP on another device is redirected out of.
#[test]
fn the_status_shows_where_a_vip_on_another_device_is_redirected() {
    let lan = Lan::new("hovia", 2);
    lan.add_second_lan();
    let r1 = lan.daemon(1, &config_vip_on_eth1(150, "  handover_window 5"), &[]);
    let _r2 = lan.daemon(2, &config_vip_on_eth1(100, "  handover_window 5"), &[]);
    wait_for(
        "r1 to become master",
        Duration::from_secs(10),
        || is_master(&r1),
        || r1.log_text(),
    );
    let out = r1.handover(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let redirect = format!("vip {VIP1} vrid 51 redirect-to {} via eth0,quiet ", mac(2));
    wait_for(
        "the redirect in r1's eth1 table",
        Duration::from_secs(5),
        || {
            let status = state(&r1);
            let mut lines = status.lines().skip_while(|l| !l.starts_with("xdp eth1 "));
            lines.nth(1).is_some_and(|l| l.contains(&redirect))
        },
        || state(&r1),
    );
}
