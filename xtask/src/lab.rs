//! `cargo xtask run`: the demo lab, in network namespaces that are removed on exit.
//!
//! Today: a keepalived 2.2.7 master advertising VRID 51 from one namespace, and `xvrrp watch`
//! with absorption on in another, printing what the XDP tracker records each second.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

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
    let lab = Lab::new()?;
    lab.build()?;
    let mut children = vec![
        lab.spawn(
            &lab.master,
            &[
                "keepalived",
                "-P",
                "-n",
                "-l",
                "-D",
                "-G",
                "-f",
                &lab.path("keepalived.conf"),
                "-p",
                &lab.path("keepalived.pid"),
                "-r",
                &lab.path("vrrp.pid"),
            ],
            Stdio::null(),
        )?,
        lab.spawn(
            &lab.router,
            &[
                &xvrrp.display().to_string(),
                "watch",
                "--interface",
                "vb",
                "--absorb",
                "--every",
                "1",
            ],
            Stdio::inherit(),
        )?,
    ];
    println!(
        "lab up: keepalived (VRID 51, 192.0.2.1, advert_int 1) in {}, xvrrp watch on vb in {}; \
         Ctrl-C to stop",
        lab.master, lab.router
    );
    let start = Instant::now();
    while !INTERRUPTED.load(Ordering::SeqCst)
        && duration.is_none_or(|d| start.elapsed() < Duration::from_secs(d))
    {
        for c in &mut children {
            if let Some(status) = c.try_wait()? {
                bail!("a lab process exited early ({status})");
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for c in &mut children {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
    }
    for mut c in children {
        c.wait()?;
    }
    println!("lab stopped and removed");
    Ok(())
}

/// The lab's namespaces and files; dropped (also on error), it removes them.
struct Lab {
    master: String,
    router: String,
    dir: PathBuf,
}

impl Lab {
    fn new() -> anyhow::Result<Self> {
        let id = std::process::id();
        let dir = std::env::temp_dir().join(format!("xvrrp-lab-{id}"));
        std::fs::create_dir_all(&dir)?;
        Ok(Lab {
            master: format!("xvrrp-lab-{id}-ka"),
            router: format!("xvrrp-lab-{id}-xdp"),
            dir,
        })
    }

    fn build(&self) -> anyhow::Result<()> {
        for ns in [&self.master, &self.router] {
            ip(&["netns", "add", ns])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        ip(&[
            "-n",
            &self.master,
            "link",
            "add",
            "va",
            "type",
            "veth",
            "peer",
            "name",
            "vb",
            "netns",
            &self.router,
        ])?;
        ip(&[
            "-n",
            &self.master,
            "addr",
            "add",
            "192.0.2.1/24",
            "dev",
            "va",
        ])?;
        ip(&[
            "-n",
            &self.router,
            "addr",
            "add",
            "192.0.2.2/24",
            "dev",
            "vb",
        ])?;
        ip(&["-n", &self.master, "link", "set", "va", "up"])?;
        ip(&["-n", &self.router, "link", "set", "vb", "up"])?;
        std::fs::write(
            self.dir.join("keepalived.conf"),
            "vrrp_instance VI_1 {\n  state MASTER\n  interface va\n  virtual_router_id 51\n  \
             priority 150\n  advert_int 1\n  authentication {\n    auth_type PASS\n    \
             auth_pass xvrrp\n  }\n  virtual_ipaddress {\n    192.0.2.100/24\n  }\n}\n",
        )?;
        Ok(())
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn spawn(&self, ns: &str, args: &[&str], stdout: Stdio) -> anyhow::Result<Child> {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .spawn()
            .with_context(|| format!("starting {} in {ns}", args[0]))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.master, &self.router] {
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
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
