//! Real `xvrrp run` daemons on a LAN of network namespaces: routers `r1`, `r2`, … each with
//! `eth0` (192.0.2.N/24, MAC 02:00:00:00:00:0N) on a bridge in a client namespace (`br0`,
//! 192.0.2.10/24, `arp_accept=1` so that gratuitous ARPs create neighbour entries).

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use aya::programs::XdpMode;
use vrrp_userspace::dataplane::LabProgram;

use crate::netns::{Netns, Process, veth};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub const CLIENT_ADDR: &str = "192.0.2.10";

/// The `xvrrp` binary of the profile the test was built with, next to the test's `deps/`.
/// `cargo test` builds it for vrrp-userspace's own integration tests; a test run of this crate
/// alone needs `cargo build -p vrrp-userspace --bin xvrrp` first (and again after every change
/// to the daemon, or it tests the old one).
pub fn xvrrp() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors()
        .map(|dir| dir.join("xvrrp"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no xvrrp binary above {}: build it with `cargo build -p vrrp-userspace --bin xvrrp` \
                 (same profile and target dir as the tests)",
                exe.display()
            )
        })
}

/// The bpffs directory under which test daemons pin their XDP objects.
const PIN_ROOT: &str = "/sys/fs/bpf/xvrrp-test";

/// A directory for configurations, logs and sockets, removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "xvrrp-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Where a daemon named `name` pins its XDP objects: on bpffs, under this scratch's name,
    /// so that concurrent tests never share pins; removed with the scratch.
    pub fn pin_dir(&self, name: &str) -> PathBuf {
        self.pins().join(name)
    }

    fn pins(&self) -> PathBuf {
        Path::new(PIN_ROOT).join(self.0.file_name().expect("a named directory"))
    }

    /// An executable shell script.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.write(name, &format!("#!/bin/sh\n{body}\n"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Pins left by a daemon that was killed keep its XDP program alive until removed.
        let _ = std::fs::remove_dir_all(self.pins());
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Lan {
    pub client: Netns,
    pub routers: Vec<Netns>,
    pub scratch: Scratch,
    /// On every bridge port: a frame a router sends back out with `XDP_TX` (a handover
    /// redirect) is delivered by a veth only when its peer has an XDP program.
    port_programs: Vec<LabProgram>,
}

impl Lan {
    pub fn new(tag: &str, routers: usize) -> Lan {
        let client = Netns::new(&format!("{tag}c"));
        client.exec(&["sysctl", "-qw", "net.ipv4.conf.all.arp_accept=1"]);
        client.ip(&["link", "add", "br0", "type", "bridge"]);
        client.ip(&["link", "set", "br0", "up"]);
        client.ip(&["addr", "add", &format!("{CLIENT_ADDR}/24"), "dev", "br0"]);
        // Frames a router redirects with XDP_TX leave as the bytes it received; over veth the
        // client's UDP checksums would still be offloaded (partial), and the next router would
        // drop them. A real NIC puts complete checksums on the wire.
        client.exec(&["ethtool", "-K", "br0", "tx", "off"]);
        // A LAN switch forwards frames; it does not run them through iptables, which this
        // kernel's built-in br_netfilter does by default in every namespace.
        for table in ["iptables", "ip6tables", "arptables"] {
            client.exec(&[
                "sysctl",
                "-qw",
                &format!("net.bridge.bridge-nf-call-{table}=0"),
            ]);
        }
        let mut ports = Vec::new();
        let routers = (1..=routers)
            .map(|n| {
                let r = Netns::new(&format!("{tag}{n}"));
                r.exec(&["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"]);
                r.exec(&["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"]);
                let port = format!("p{n}");
                veth(&client, &port, &r, "eth0");
                client.ip(&["link", "set", &port, "master", "br0"]);
                ports.push(client.run(|| {
                    let mut pass = LabProgram::pass().expect("loading the pass program");
                    let program = pass.program().expect("the pass program");
                    program
                        .attach(&port, XdpMode::Driver)
                        .unwrap_or_else(|e| panic!("attaching XDP_PASS to {port}: {e}"));
                    pass
                }));
                r.ip(&["link", "set", "eth0", "address", &mac(n)]);
                r.ip(&["addr", "add", &format!("{}/24", addr(n)), "dev", "eth0"]);
                r
            })
            .collect();
        Lan {
            client,
            routers,
            scratch: Scratch::new(tag),
            port_programs: ports,
        }
    }

    /// Adds a second LAN for VIPs on another device than the VRRP interface (`dev eth1` in
    /// `virtual_ipaddress`): `eth1` in every router (198.51.100.N/24, MAC
    /// 02:00:00:00:01:0N) on a bridge `br1` in the client namespace (`SECOND_CLIENT_ADDR`).
    /// Routers filter reverse paths loosely, as such a deployment needs: during a handover the
    /// new master receives the VIP's frames on `eth0`, from sources reached through `eth1`.
    pub fn add_second_lan(&self) {
        self.client.ip(&["link", "add", "br1", "type", "bridge"]);
        self.client.ip(&["link", "set", "br1", "up"]);
        self.client.ip(&[
            "addr",
            "add",
            &format!("{SECOND_CLIENT_ADDR}/24"),
            "dev",
            "br1",
        ]);
        // As for br0 (see `new`).
        self.client.exec(&["ethtool", "-K", "br1", "tx", "off"]);
        for (i, r) in self.routers.iter().enumerate() {
            let n = i + 1;
            let port = format!("q{n}");
            veth(&self.client, &port, r, "eth1");
            self.client.ip(&["link", "set", &port, "master", "br1"]);
            r.ip(&["link", "set", "eth1", "address", &second_mac(n)]);
            r.ip(&["addr", "add", &format!("198.51.100.{n}/24"), "dev", "eth1"]);
            r.exec(&["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=2"]);
        }
    }

    /// Takes the XDP programs off the bridge's ports, as on a container's veth whose peer on the
    /// host has neither an XDP program nor GRO: what a router sends back out with `XDP_TX` is
    /// dropped.
    pub fn drop_xdp_tx(&mut self) {
        self.port_programs.clear();
    }

    /// Moves the receive work of the bridge's ports into NAPI threads. A frame a router sends
    /// is otherwise forwarded by the bridge, and received by every other router, inside the
    /// sender's own system call (veth hands it over synchronously), and billed to the sender:
    /// on a real LAN that work happens in the switch and on the other machines. For benchmarks
    /// that measure what one daemon costs.
    pub fn bill_each_router_alone(&self) {
        for n in 1..=self.routers.len() {
            let threaded = format!("/sys/class/net/p{n}/threaded");
            self.client
                .exec(&["sh", "-c", &format!("echo 1 > {threaded}")]);
        }
    }

    pub fn router(&self, n: usize) -> &Netns {
        &self.routers[n - 1]
    }

    /// Starts `xvrrp run` in router `n` with `config`; waits until it says it runs.
    pub fn daemon(&self, n: usize, config: &str, extra: &[&str]) -> Daemon {
        Daemon::start(
            self.router(n),
            &self.scratch,
            &format!("r{n}"),
            config,
            extra,
        )
    }

    /// The MAC the client's neighbour table holds for `ip`, if any.
    pub fn client_mac_of(&self, ip: &str) -> Option<String> {
        let out = self.client.exec(&["ip", "neigh", "show", ip]);
        let text = String::from_utf8_lossy(&out.stdout);
        let mut words = text.split_whitespace();
        words.find(|w| *w == "lladdr")?;
        words.next().map(str::to_owned)
    }
}

/// The client's address on the LAN of `Lan::add_second_lan`.
pub const SECOND_CLIENT_ADDR: &str = "198.51.100.10";

/// Router `n`'s MAC on the LAN of `Lan::add_second_lan`.
pub fn second_mac(n: usize) -> String {
    format!("02:00:00:00:01:{n:02x}")
}

pub fn addr(n: usize) -> String {
    format!("192.0.2.{n}")
}

pub fn mac(n: usize) -> String {
    format!("02:00:00:00:00:{n:02x}")
}

/// Whether `ns` has `ip` (with or without prefix) on `ifname`.
pub fn has_addr(ns: &Netns, ifname: &str, ip: &str) -> bool {
    let out = ns.exec(&["ip", "-o", "addr", "show", "dev", ifname]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .any(|w| w.split('/').next() == Some(ip))
}

/// Polls `cond` every 10 ms until it holds; the time that took. Panics after `limit`, with
/// `what` and the result of `context`.
pub fn wait_for(
    what: &str,
    limit: Duration,
    mut cond: impl FnMut() -> bool,
    context: impl Fn() -> String,
) -> Duration {
    let start = Instant::now();
    loop {
        if cond() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Asserts that `cond` holds throughout `period`, polling every 50 ms.
pub fn holds_for(
    what: &str,
    period: Duration,
    mut cond: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let start = Instant::now();
    while start.elapsed() < period {
        assert!(
            cond(),
            "{what} stopped holding after {:?}\n{}",
            start.elapsed(),
            context()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An `xvrrp run` process in a namespace, logging to a file; killed on drop.
pub struct Daemon {
    process: Option<Process>,
    pub config: PathBuf,
    pub log: PathBuf,
    pub control: PathBuf,
}

impl Daemon {
    pub fn start(
        ns: &Netns,
        scratch: &Scratch,
        name: &str,
        config: &str,
        extra: &[&str],
    ) -> Daemon {
        let conf = scratch.write(&format!("{name}.conf"), config);
        let log = scratch.path(&format!("{name}.log"));
        let control = scratch.path(&format!("{name}.sock"));
        let mut line = format!(
            "RUST_LOG=${{RUST_LOG:-info}} exec {} run -f {} --control {} --pin-dir {}",
            xvrrp().display(),
            conf.display(),
            control.display(),
            scratch.pin_dir(name).display()
        );
        for arg in extra {
            line += &format!(" {arg}");
        }
        // Appended, so that a router's log keeps every run; readiness is then a new "running".
        line += &format!(" 2>>{}", log.display());
        let runs = |text: &str| text.matches("xvrrp running").count();
        let before = runs(&std::fs::read_to_string(&log).unwrap_or_default());
        let process = ns.spawn_keeping_mounts(&["sh", "-c", &line]);
        let d = Daemon {
            process: Some(process),
            config: conf,
            log,
            control,
        };
        wait_for(
            "the daemon to start",
            Duration::from_secs(15),
            || runs(&d.log_text()) > before,
            || d.log_text(),
        );
        d
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.process.as_ref().expect("running").id() as i32
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill on our own child's pid.
        assert_eq!(unsafe { libc::kill(self.pid(), signal) }, 0);
    }

    /// Sends `signal` and waits for the exit.
    pub fn stop(mut self, signal: i32) -> Output {
        self.process.take().expect("running").stop(signal)
    }

    /// `xvrrp status` with `args` against this daemon.
    pub fn status(&self, args: &[&str]) -> Output {
        Command::new(xvrrp())
            .arg("status")
            .arg("--control")
            .arg(&self.control)
            .args(args)
            .output()
            .expect("running xvrrp status")
    }

    /// `xvrrp handover` against this daemon, with `args` (e.g. `--instance NAME`).
    pub fn handover(&self, args: &[&str]) -> Output {
        Command::new(xvrrp())
            .arg("handover")
            .args(args)
            .arg("--control")
            .arg(&self.control)
            .output()
            .expect("running xvrrp handover")
    }

    /// Rewrites the configuration file (for a reload).
    pub fn rewrite(&self, config: &str) {
        std::fs::write(&self.config, config).unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- {} ---\n{}", self.log.display(), self.log_text());
        }
    }
}

/// `xvrrp check -f path` on the host.
pub fn check(path: &Path) -> Output {
    Command::new(xvrrp())
        .args(["check", "-f"])
        .arg(path)
        .output()
        .expect("running xvrrp check")
}

/// A keepalived.conf with one VRRPv3 instance `VI_1` on `eth0`, VRID 51, VIP 192.0.2.100,
/// and `extra` lines inside the instance.
pub fn config(priority: u8, advert_int: &str, extra: &str) -> String {
    format!(
        "global_defs {{\n  vrrp_version 3\n  vrrp_garp_master_delay 0\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
         priority {priority}\n  advert_int {advert_int}\n  virtual_ipaddress {{\n    192.0.2.100/32\n  }}\n\
         {extra}\n}}\n"
    )
}

pub const VIP: &str = "192.0.2.100";
