//! `xvrrp status` against real daemons: one line per instance or JSON, the control socket's
//! permissions, and the XDP tracker absorbing the master's repeats on the backup.

use std::{os::unix::fs::PermissionsExt, time::Duration};

use tests::daemon::{Lan, VIP, config, has_addr, wait_for};

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn status_shows_states_masters_and_absorbed_adverts() {
    let lan = Lan::new("dst", 2);
    let d2 = lan.daemon(2, &config(100, "0.1", ""), &[]);
    let d1 = lan.daemon(1, &config(200, "0.1", ""), &[]);
    let logs = || format!("r1:\n{}\nr2:\n{}", d1.log_text(), d2.log_text());
    wait_for(
        "r1 to be master",
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

    let mode = std::fs::metadata(&d1.control).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "control socket mode");

    let master = text(&d1.status(&[]));
    assert!(
        master.contains("VI_1 eth0 vrid 51 IPv4 MASTER prio 200/200 master 192.0.2.1"),
        "{master}"
    );
    // A second of adverts at 0.1 s: the backup's tracker absorbs the repeats.
    std::thread::sleep(Duration::from_secs(1));
    let backup = text(&d2.status(&[]));
    assert!(
        backup.contains("VI_1 eth0 vrid 51 IPv4 BACKUP prio 100/100 master 192.0.2.1"),
        "{backup}"
    );
    let xdp = backup
        .lines()
        .find(|l| l.starts_with("xdp eth0"))
        .unwrap_or_else(|| panic!("{backup}"));
    let absorbed: u64 = xdp
        .split_whitespace()
        .find_map(|w| w.strip_prefix("absorbed="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no absorbed count: {backup}"));
    assert!(absorbed >= 5, "{backup}");

    let json = text(&d2.status(&["--json"]));
    assert!(json.contains("\"state\": \"BACKUP\""), "{json}");
    assert!(json.contains("\"master\": \"192.0.2.1\""), "{json}");
    assert!(json.contains("\"last_advert_ms\": "), "{json}");
}

#[test]
fn pid_file_a_second_daemon_on_the_socket_and_status_without_a_daemon() {
    let lan = Lan::new("dst0", 1);
    let pid_file = lan.scratch.path("xvrrp.pid");
    let d1 = lan.daemon(
        1,
        &config(100, "1", ""),
        &["--pid-file", pid_file.to_str().unwrap()],
    );
    let written = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(written.trim(), d1.pid().to_string());
    let xvrrp = tests::daemon::xvrrp();
    let second = lan
        .router(1)
        .command(&[
            xvrrp.to_str().unwrap(),
            "run",
            "-f",
            d1.config.to_str().unwrap(),
        ])
        .args(["--control", d1.control.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{err}");
    assert!(err.contains("another daemon answers on"), "{err}");
    assert!(
        d1.status(&[]).status.success(),
        "the first daemon still answers"
    );
    let out = d1.stop(libc::SIGTERM);
    assert!(out.status.success());
    assert!(!pid_file.exists(), "the pid file goes with the daemon");
    let out = std::process::Command::new(tests::daemon::xvrrp())
        .args(["status", "--control"])
        .arg(lan.scratch.path("r1.sock"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is xvrrp running?"), "{err}");
}

/// `--metrics`: the same facts as `xvrrp status`, as Prometheus text over HTTP, scraped from
/// inside the router's namespace.
#[test]
fn metrics_are_served_in_prometheus_text() {
    use std::io::{Read as _, Write as _};

    let lan = Lan::new("dme", 2);
    let d2 = lan.daemon(2, &config(100, "0.1", ""), &["--metrics", "127.0.0.1:9643"]);
    let d1 = lan.daemon(1, &config(200, "0.1", ""), &[]);
    let logs = || format!("r1:\n{}\nr2:\n{}", d1.log_text(), d2.log_text());
    wait_for(
        "r2 to be backup behind r1",
        Duration::from_secs(5),
        || has_addr(lan.router(1), "eth0", VIP) && !has_addr(lan.router(2), "eth0", VIP),
        logs,
    );
    std::thread::sleep(Duration::from_secs(1));
    let get = |path: &str| {
        lan.router(2).run(|| {
            let mut s = std::net::TcpStream::connect("127.0.0.1:9643").expect("connecting");
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            write!(s, "GET {path} HTTP/1.0\r\n\r\n").unwrap();
            let mut reply = String::new();
            s.read_to_string(&mut reply).unwrap();
            reply
        })
    };
    let reply = get("/metrics");
    assert!(reply.starts_with("HTTP/1.0 200 OK"), "{reply}");
    let l = "instance=\"VI_1\",interface=\"eth0\",vrid=\"51\",family=\"IPv4\"";
    for line in [
        format!("xvrrp_instance_state{{{l},state=\"BACKUP\"}} 1"),
        format!("xvrrp_instance_priority{{{l},kind=\"effective\"}} 100"),
    ] {
        assert!(reply.lines().any(|x| x == line), "missing {line}:\n{reply}");
    }
    assert!(
        reply.contains(
            "xvrrp_xdp_packets_total{interface=\"eth0\",mode=\"native\",outcome=\"absorbed\"}"
        ),
        "the backup's tracker absorbs the master's repeats:\n{reply}"
    );
    assert!(
        get("/").starts_with("HTTP/1.0 404"),
        "only /metrics is served"
    );
}
