//! Debian's keepalived (2.2.7) as a real peer: run in a test's namespace, VRRP only, in the
//! foreground, logging to the console, with its configuration and pid files in a directory of
//! its own, so that nothing on the host is touched.

use std::{
    path::PathBuf,
    sync::atomic::{AtomicU32, Ordering},
};

use crate::netns::{Netns, Process};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct Keepalived {
    process: Option<Process>,
    dir: PathBuf,
}

impl Keepalived {
    /// Starts keepalived in `ns` with `config` (the text of a keepalived.conf).
    pub fn start(ns: &Netns, config: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "xvrrp-keepalived-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("creating keepalived's directory");
        let conf = dir.join("keepalived.conf");
        std::fs::write(&conf, config).expect("writing keepalived.conf");
        let file = |n: &str| dir.join(n).display().to_string();
        let process = ns.spawn(&[
            "keepalived",
            "-P", // VRRP only
            "-n", // no fork
            "-l", // log to the console
            "-D", // detailed log
            "-G", // no syslog
            "-f",
            &conf.display().to_string(),
            "-p",
            &file("keepalived.pid"),
            "-r",
            &file("vrrp.pid"),
        ]);
        Keepalived {
            process: Some(process),
            dir,
        }
    }

    /// Sends `signal`, waits for keepalived to exit, and returns what it logged.
    pub fn stop(mut self, signal: i32) -> String {
        let out = self.process.take().expect("running").stop(signal);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        drop(self.process.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
