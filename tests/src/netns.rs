//! Network namespaces that a test creates and that disappear with it, also on panic.

use std::{
    fs::File,
    os::fd::AsRawFd,
    process::{Child, Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A named network namespace (`ip netns`), deleted on drop with every process still in it.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `xvrrp-<tag>-<pid>-<n>` with its loopback up.
    pub fn new(tag: &str) -> Self {
        crate::require_root();
        let name = format!(
            "xvrrp-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        run(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n <ns> <args>`; panics with ip's message on failure.
    pub fn ip(&self, args: &[&str]) -> Output {
        run(Command::new("ip").arg("-n").arg(&self.name).args(args))
    }

    /// Runs a command inside the namespace to completion; panics on failure.
    pub fn exec(&self, args: &[&str]) -> Output {
        run(&mut self.command(args))
    }

    /// A command that will run inside the namespace.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }

    /// Starts a long-running process in the namespace; it is killed when the guard drops.
    pub fn spawn(&self, args: &[&str]) -> Process {
        self.start(self.command(args), args)
    }

    /// Like `spawn`, but entering only the network namespace: `ip netns exec` also gives the
    /// process a mount namespace of its own, where a bpffs it mounts, and what is pinned
    /// there, dies with it; pinned XDP must outlive the process, as it does on a host.
    pub fn spawn_keeping_mounts(&self, args: &[&str]) -> Process {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net=/run/netns/{}", self.name))
            .arg("--")
            .args(args);
        self.start(command, args)
    }

    fn start(&self, mut command: Command, args: &[&str]) -> Process {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {args:?} in {}: {e}", self.name));
        Process(Some(child))
    }

    /// Runs `f` on a thread that has entered the namespace (for netlink, sockets, XDP attach);
    /// file descriptors it creates keep working from any thread afterwards.
    pub fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        let path = format!("/run/netns/{}", self.name);
        let ns = File::open(&path).unwrap_or_else(|e| panic!("opening {path}: {e}"));
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: setns on this thread only; the fd is a valid netns file.
                let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }

    /// kill -9 of every process in the namespace: a crash of all of them at once. Newest
    /// first, in one kill(1): a child whose parent dies first may be told so (keepalived's
    /// VRRP process gets SIGTERM and hands over cleanly) before its own SIGKILL arrives.
    pub fn kill_all(&self) {
        let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        else {
            return;
        };
        let mut pids: Vec<u32> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        if pids.is_empty() {
            return;
        }
        pids.sort_unstable_by(|a, b| b.cmp(a));
        let _ = Command::new("kill")
            .arg("-9")
            .args(pids.iter().map(u32::to_string))
            .status();
    }

    /// The interface's index inside the namespace.
    pub fn ifindex(&self, ifname: &str) -> u32 {
        let out = self.exec(&["cat", &format!("/sys/class/net/{ifname}/ifindex")]);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("ifindex is a number")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.kill_all();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Connects `a_if` in `a` to `b_if` in `b` with a veth pair, both ends up.
pub fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) {
    a.ip(&[
        "link",
        "add",
        a_if,
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "netns",
        b.name(),
    ]);
    a.ip(&["link", "set", a_if, "up"]);
    b.ip(&["link", "set", b_if, "up"]);
}

/// A child process killed (and reaped) on drop.
pub struct Process(Option<Child>);

impl Process {
    /// Sends `signal` and waits for the process to exit; returns its output.
    pub fn stop(mut self, signal: i32) -> Output {
        let child = self.0.take().expect("process already stopped");
        // SAFETY: kill on our own child's pid.
        unsafe { libc::kill(child.id() as i32, signal) };
        child.wait_with_output().expect("waiting for the child")
    }

    pub fn id(&self) -> u32 {
        self.0.as_ref().expect("running").id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out
}
