//! The gratuitous ARPs of a new master as the LAN sees them (tcpdump on the client's bridge
//! port): `vrrp_garp_master_repeat` rounds over every VIP, each message
//! `vrrp_garp_interval` after the previous one, as keepalived paces them.

use std::time::Duration;

use tests::daemon::{Lan, VIP, has_addr, wait_for};

const CONFIG: &str = "global_defs {
  vrrp_version 3
  vrrp_garp_interval 0.2
  vrrp_garp_master_repeat 3
  vrrp_garp_master_delay 0
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  priority 200
  advert_int 0.1
  virtual_ipaddress {
    192.0.2.100/32
    192.0.2.101/32
  }
}
";

#[test]
fn a_new_master_paces_its_gratuitous_arps_message_by_message() {
    let lan = Lan::new("dgarp", 1);
    let capture = lan
        .client
        .spawn(&["tcpdump", "-i", "p1", "-n", "-tt", "-l", "arp"]);
    // tcpdump needs a moment before it captures; the daemon's first GARPs must not precede it.
    std::thread::sleep(Duration::from_secs(1));
    let d1 = lan.daemon(1, CONFIG, &[]);
    wait_for(
        "r1 master",
        Duration::from_secs(5),
        || has_addr(lan.router(1), "eth0", VIP),
        || d1.log_text(),
    );
    // Six messages 0.2 s apart take a second.
    std::thread::sleep(Duration::from_millis(1500));
    let out = capture.stop(libc::SIGINT);
    let text = String::from_utf8_lossy(&out.stdout);
    let garps: Vec<(f64, &str)> = text
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let at: f64 = w.next()?.parse().ok()?;
            let words: Vec<&str> = w.collect();
            // "ARP, Request who-has X (ff:ff:ff:ff:ff:ff) tell X, length 28"
            let target = words.get(3)?;
            let sender = words.get(6)?.trim_end_matches(',');
            (target == &sender).then_some((at, sender))
        })
        .collect();
    let order: Vec<&str> = garps.iter().map(|g| g.1).collect();
    assert_eq!(
        order,
        [
            "192.0.2.100",
            "192.0.2.101",
            "192.0.2.100",
            "192.0.2.101",
            "192.0.2.100",
            "192.0.2.101"
        ],
        "three rounds over both VIPs:\n{text}"
    );
    for pair in garps.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(gap >= 0.18, "{gap:.3} s between messages:\n{text}");
    }
}
