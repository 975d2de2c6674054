//! `cargo xtask run`: the demo lab, in network namespaces that are removed on exit.
//!
//! Two routers run `xvrrp run` with the seed article's setup (VRRPv3 here, advert_int 0.5, VIP
//! 192.0.2.100): r1 priority 150, r2 priority 100 with `nopreempt` left out so that r1 takes the
//! VIP back. They sit on a bridge in the client's namespace, which pings the VIP five times a
//! second. Every second the lab prints both routers' `xvrrp status`, which router the client's
//! neighbour entry points at, and the probe tally. Every 20 seconds it stops r1 (SIGTERM: a
//! planned handover) or starts it again, so that the VIP moves while you watch.

use std::{
    io::{BufRead, BufReader},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

const VIP: &str = "192.0.2.100";
const TOGGLE_EVERY: Duration = Duration::from_secs(20);

pub fn run(duration: Option<u64>) -> anyhow::Result<()> {
    crate::setup::run()?;
    crate::setup::require_root("the lab creates network namespaces and attaches XDP")?;
    crate::cargo(
        [
            "build",
            "--release",
            "--quiet",
            "-p",
            "vrrp-userspace",
            "--bin",
            "xvrrp",
        ]
        .map(String::from),
    )?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| crate::workspace_root().join("target"), PathBuf::from);
    let xvrrp = target.join("release/xvrrp");

    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_interrupt as *const () as libc::sighandler_t,
        );
        libc::signal(
            libc::SIGTERM,
            on_interrupt as *const () as libc::sighandler_t,
        );
    }
    let lab = Lab::build()?;
    let mut routers = [Router::new(&lab, 1, 150), Router::new(&lab, 2, 100)];
    for r in &mut routers {
        r.start(&xvrrp)?;
    }
    let probes = Probes::start(&lab)?;
    println!(
        "lab up in namespaces {}-*: r1 (prio 150) and r2 (prio 100) hold VIP {VIP}; the client \
         pings it every 200 ms. Logs in {}. Ctrl-C to stop.",
        lab.prefix,
        lab.dir.display()
    );

    let start = Instant::now();
    let mut next_toggle = TOGGLE_EVERY;
    while !INTERRUPTED.load(Ordering::SeqCst)
        && duration.is_none_or(|d| start.elapsed() < Duration::from_secs(d))
    {
        std::thread::sleep(Duration::from_secs(1));
        if start.elapsed() >= next_toggle {
            next_toggle += TOGGLE_EVERY;
            let r1 = &mut routers[0];
            if r1.child.is_some() {
                println!("--- stopping r1 (SIGTERM): planned handover to r2");
                r1.stop()?;
            } else {
                println!("--- starting r1 again: it preempts r2");
                r1.start(&xvrrp)?;
            }
        }
        report(&lab, &xvrrp, &mut routers, &probes, start.elapsed())?;
    }
    for r in &mut routers {
        r.stop()?;
    }
    println!("lab stopped and removed");
    Ok(())
}

fn report(
    lab: &Lab,
    xvrrp: &Path,
    routers: &mut [Router],
    probes: &Probes,
    at: Duration,
) -> anyhow::Result<()> {
    println!("t={:>5.1}s", at.as_secs_f64());
    for r in routers.iter_mut() {
        if let Some(child) = &mut r.child {
            if let Some(status) = child.try_wait()? {
                bail!("r{} exited ({status}); its log: {}", r.n, r.log.display());
            }
            let out = lab.exec(
                &r.ns,
                &[
                    &xvrrp.display().to_string(),
                    "status",
                    "--control",
                    &r.control(),
                ],
            )?;
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                println!("  r{}: {line}", r.n);
            }
        } else {
            println!("  r{}: stopped", r.n);
        }
    }
    let out = lab.exec(&lab.client, &["ip", "neigh", "show", VIP, "dev", "br0"])?;
    let neigh = String::from_utf8_lossy(&out.stdout);
    let holder = neigh
        .split_whitespace()
        .skip_while(|w| *w != "lladdr")
        .nth(1)
        .map_or("nobody yet".to_string(), |m| {
            match routers.iter().find(|r| r.mac() == m) {
                Some(r) => format!("r{} ({m})", r.n),
                None => m.to_string(),
            }
        });
    let (sent, answered) = (
        probes.sent.load(Ordering::Relaxed),
        probes.answered.load(Ordering::Relaxed),
    );
    println!(
        "  client: {VIP} is at {holder}; probes answered {answered} of {sent} ({} lost)",
        sent - answered
    );
    Ok(())
}

struct Router {
    n: usize,
    ns: String,
    config: PathBuf,
    log: PathBuf,
    /// Where its XDP is pinned (on bpffs, removed with the lab).
    pins: PathBuf,
    child: Option<Child>,
}

impl Router {
    fn new(lab: &Lab, n: usize, priority: u8) -> Self {
        let ns = format!("{}-r{n}", lab.prefix);
        let config = lab.dir.join(format!("r{n}.conf"));
        let log = lab.dir.join(format!("r{n}.log"));
        let text = format!(
            "global_defs {{\n  router_id lab-r{n}\n}}\n\
             vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
             priority {priority}\n  advert_int 0.5\n  version 3\n  virtual_ipaddress {{\n    \
             {VIP}/24\n  }}\n}}\n"
        );
        std::fs::write(&config, text).expect("writing a router's configuration");
        Router {
            n,
            ns,
            config,
            log,
            pins: lab.pins().join(format!("r{n}")),
            child: None,
        }
    }

    fn mac(&self) -> String {
        format!("02:00:00:00:00:{:02x}", self.n)
    }

    fn control(&self) -> String {
        self.config.with_extension("sock").display().to_string()
    }

    fn start(&mut self, xvrrp: &Path) -> anyhow::Result<()> {
        let log = std::fs::File::create(&self.log)?;
        // nsenter, not `ip netns exec`: that would give xvrrp a mount namespace of its own,
        // where the bpffs it pins on dies with it. Generic (skb) XDP: a frame the old master
        // redirects with XDP_TX during the handover leaves a veth in native mode only if the
        // peer end runs an XDP program too, which the bridge port here does not.
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.ns))
            .arg("--")
            .arg(xvrrp)
            .args([
                "run",
                "-f",
                &self.config.display().to_string(),
                "--control",
                &self.control(),
                "--xdp",
                "skb",
                "--pin-dir",
                &self.pins.display().to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Its own process group: a Ctrl-C in the terminal reaches the lab, which stops
            // the routers in order, not the routers directly.
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting xvrrp in {}", self.ns))?;
        self.child = Some(child);
        Ok(())
    }

    fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            child.wait()?;
        }
        Ok(())
    }
}

/// The client's ping of the VIP, tallied by a reader thread.
struct Probes {
    sent: Arc<AtomicU64>,
    answered: Arc<AtomicU64>,
    _child: ChildGuard,
}

impl Probes {
    fn start(lab: &Lab) -> anyhow::Result<Self> {
        let mut child = Command::new("ip")
            // Line-buffered: ping block-buffers a pipe, and the tally would lag by kilobytes.
            .args([
                "netns",
                "exec",
                &lab.client,
                "stdbuf",
                "-oL",
                "ping",
                "-n",
                "-O",
                "-i",
                "0.2",
            ])
            .args(["-W", "1", VIP])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("starting ping in the client namespace")?;
        let stdout = child.stdout.take().expect("piped");
        let (sent, answered) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (s, a) = (sent.clone(), answered.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("bytes from") {
                    s.fetch_add(1, Ordering::Relaxed);
                    a.fetch_add(1, Ordering::Relaxed);
                } else if line.starts_with("no answer yet") {
                    s.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Ok(Probes {
            sent,
            answered,
            _child: ChildGuard(child),
        })
    }
}

struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lab's namespaces and files; dropped (also on error), it removes them.
struct Lab {
    prefix: String,
    client: String,
    dir: PathBuf,
}

impl Lab {
    fn build() -> anyhow::Result<Self> {
        let prefix = format!("xvrrp-lab-{}", std::process::id());
        let dir = std::env::temp_dir().join(&prefix);
        std::fs::create_dir_all(&dir)?;
        let lab = Lab {
            client: format!("{prefix}-client"),
            prefix,
            dir,
        };
        let c = lab.client.as_str();
        ip(&["netns", "add", c])?;
        ip(&["-n", c, "link", "set", "lo", "up"])?;
        lab.exec(c, &["sysctl", "-qw", "net.ipv4.conf.all.arp_accept=1"])?;
        ip(&["-n", c, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", c, "addr", "add", "192.0.2.10/24", "dev", "br0"])?;
        ip(&["-n", c, "link", "set", "br0", "up"])?;
        for n in 1..=2 {
            let r = format!("{}-r{n}", lab.prefix);
            let port = format!("p{n}");
            ip(&["netns", "add", &r])?;
            ip(&["-n", &r, "link", "set", "lo", "up"])?;
            ip(&[
                "-n", c, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &r,
            ])?;
            ip(&["-n", c, "link", "set", &port, "master", "br0"])?;
            ip(&["-n", c, "link", "set", &port, "up"])?;
            ip(&[
                "-n",
                &r,
                "link",
                "set",
                "eth0",
                "address",
                &format!("02:00:00:00:00:{n:02x}"),
            ])?;
            ip(&[
                "-n",
                &r,
                "addr",
                "add",
                &format!("192.0.2.{n}/24"),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &r, "link", "set", "eth0", "up"])?;
        }
        Ok(lab)
    }

    /// The bpffs directory the routers pin under.
    fn pins(&self) -> PathBuf {
        Path::new("/sys/fs/bpf").join(&self.prefix)
    }

    fn namespaces(&self) -> Vec<String> {
        vec![
            self.client.clone(),
            format!("{}-r1", self.prefix),
            format!("{}-r2", self.prefix),
        ]
    }

    fn exec(&self, ns: &str, args: &[&str]) -> anyhow::Result<std::process::Output> {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .output()
            .with_context(|| format!("running {} in {ns}", args[0]))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in self.namespaces() {
            if let Ok(out) = Command::new("ip").args(["netns", "pids", &ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(self.pins());
    }
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running ip (iproute2)")?;
    if !out.status.success() {
        bail!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
