//! The control socket: a Unix stream socket, mode 0600, for `xvrrp status`.
//!
//! The protocol is one request line (`status`, at most [`MAX_REQUEST`] bytes, within
//! [`REQUEST_TIMEOUT`]) answered with one JSON document, after which the daemon closes the
//! connection. A connection is served by its own task, which asks the daemon's loop for the
//! answer, so a slow client never holds the loop up.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Write},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt},
    net::{UnixListener, UnixStream},
    sync::{mpsc, oneshot},
};

pub const MAX_REQUEST: usize = 256;
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub instances: Vec<InstanceStatus>,
    pub sockets: Vec<SocketStatus>,
    pub xdp: Vec<XdpStatus>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStatus {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    /// `IPv4` or `IPv6`.
    pub family: String,
    /// `INIT`, `BACKUP`, `MASTER` or `FAULT`, as keepalived names them.
    pub state: String,
    pub base_priority: u8,
    pub effective_priority: u8,
    pub master: Option<String>,
    /// Milliseconds since the current master's last advert (from the socket or, when XDP
    /// absorbs them, from the liveness map).
    pub last_advert_ms: Option<u64>,
    /// `received`, `sent`, `became_master`, and each discard reason that occurred.
    pub counters: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketStatus {
    pub interface: String,
    pub source: String,
    /// Rejection reasons of the codec and `other_vrid`, where non-zero.
    pub counters: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct XdpStatus {
    pub interface: String,
    pub mode: String,
    /// The program's counters, and `vip_dropped` (IP to strict VIPs), where non-zero.
    pub counters: BTreeMap<String, u64>,
}

/// A request the daemon's loop answers.
pub struct Request {
    pub reply: oneshot::Sender<Status>,
}

/// Binds `path` (replacing a stale socket, never a live one) with mode 0600 and serves it until the task is
/// aborted or the daemon stops answering.
pub fn serve(path: &Path, requests: mpsc::Sender<Request>) -> Result<tokio::task::JoinHandle<()>> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating {} for the control socket", dir.display()))?;
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        bail!(
            "another daemon answers on {}; give this one its own --control",
            path.display()
        );
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing a stale {}", path.display())),
    }
    // The umask closes the window in which the socket exists with looser permissions.
    // SAFETY: umask only swaps the process's file mode mask.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let listener =
        bound.with_context(|| format!("binding the control socket {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(answer(stream, requests.clone()));
                }
                Err(e) => {
                    tracing::warn!("control socket: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }))
}

async fn answer(stream: UnixStream, requests: mpsc::Sender<Request>) {
    if let Err(e) = answer_one(stream, requests).await {
        tracing::debug!("control connection: {e:#}");
    }
}

async fn answer_one(stream: UnixStream, requests: mpsc::Sender<Request>) -> Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = Vec::new();
    let mut limited =
        tokio::io::BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_REQUEST as u64));
    tokio::time::timeout(REQUEST_TIMEOUT, limited.read_until(b'\n', &mut line))
        .await
        .context("request timed out")??;
    let reply = match std::str::from_utf8(&line).map(str::trim) {
        Ok("status") => {
            let (tx, rx) = oneshot::channel();
            requests.send(Request { reply: tx }).await?;
            serde_json::to_string(&rx.await?)? + "\n"
        }
        _ => "{\"error\":\"unknown request; the only one is 'status'\"}\n".to_owned(),
    };
    write.write_all(reply.as_bytes()).await?;
    write.shutdown().await?;
    Ok(())
}

/// Asks the daemon listening on `path` for its status (blocking; for `xvrrp status`).
pub fn query(path: &Path) -> Result<Status> {
    let mut stream = std::os::unix::net::UnixStream::connect(path).with_context(|| {
        format!(
            "connecting to {} (is xvrrp running? see --control)",
            path.display()
        )
    })?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT * 2))?;
    stream.write_all(b"status\n")?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply)?;
    if reply.is_empty() {
        bail!("the daemon closed the control connection without answering");
    }
    serde_json::from_str(&reply).with_context(|| format!("unexpected answer: {}", reply.trim()))
}

/// One line per instance, then one per socket and XDP attachment with non-zero counters.
pub fn render(status: &Status) -> String {
    let mut out = String::new();
    for i in &status.instances {
        let age = i
            .last_advert_ms
            .map_or("-".into(), |ms| format!("{:.2}s", ms as f64 / 1000.0));
        out += &format!(
            "{} {} vrid {} {} {} prio {}/{} master {} last-advert {} {}\n",
            i.name,
            i.interface,
            i.vrid,
            i.family,
            i.state,
            i.base_priority,
            i.effective_priority,
            i.master.as_deref().unwrap_or("-"),
            age,
            counters(&i.counters),
        );
    }
    for s in &status.sockets {
        out += &format!(
            "socket {} from {} {}\n",
            s.interface,
            s.source,
            counters(&s.counters)
        );
    }
    for x in &status.xdp {
        out += &format!("xdp {} {} {}\n", x.interface, x.mode, counters(&x.counters));
    }
    out
}

fn counters(c: &BTreeMap<String, u64>) -> String {
    let parts: Vec<String> = c.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if parts.is_empty() {
        "counters none".into()
    } else {
        parts.join(" ")
    }
}

/// Removes the socket file on drop.
pub struct Bound(pub PathBuf);

impl Drop for Bound {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
