//! The control socket: a Unix stream socket, mode 0600, for `xvrrp status` and
//! `xvrrp handover`.
//!
//! The protocol is one request line (at most [`MAX_REQUEST`] bytes, within
//! [`REQUEST_TIMEOUT`]; see [`parse_request`]) answered with one JSON document, after which the
//! daemon closes the connection. A connection is served by its own task, which asks the daemon's loop for the
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
    /// A handover in progress after leaving Master: its phase and time.
    #[serde(default)]
    pub handover: Option<String>,
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
    /// `native`, `skb`, or `adopted` (a link pinned by an earlier run, its mode unknown).
    pub mode: String,
    /// What XDP sends back out of the interface is dropped (a veth whose peer has neither an
    /// XDP program nor GRO): handovers keep the VIPs for a moment instead of redirecting.
    #[serde(default)]
    pub xdp_tx_dropped: bool,
    /// The link, programs and maps are pinned (they outlive the daemon).
    #[serde(default)]
    pub pinned: bool,
    /// The program's counters, and `vip_redirected` / `vip_dropped`, where non-zero.
    pub counters: BTreeMap<String, u64>,
    /// The addresses XDP steers.
    #[serde(default)]
    pub vips: Vec<VipStatus>,
}

/// One address in the XDP table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VipStatus {
    pub addr: String,
    pub vrid: u8,
    /// Where frames are redirected during a handover window.
    pub redirect_to: Option<String>,
    /// The interface they leave by, when not the one they came in on: a VIP on another device
    /// than its virtual router's interface.
    pub redirect_via: Option<String>,
    pub strict: bool,
    pub guard: bool,
    /// ARP requests / NS for the address are dropped (a handover).
    #[serde(default)]
    pub quiet: bool,
    pub redirected: u64,
    pub dropped: u64,
}

impl From<&crate::dataplane::VipState> for VipStatus {
    fn from(v: &crate::dataplane::VipState) -> Self {
        VipStatus {
            addr: v.addr.to_string(),
            vrid: v.steering.vrid,
            redirect_to: v.steering.redirect_to.map(super::handover::mac),
            redirect_via: v
                .steering
                .egress
                .map(|(ifindex, _)| interface_name(ifindex)),
            strict: v.steering.strict,
            guard: v.steering.guard,
            quiet: v.steering.quiet,
            redirected: v.redirected,
            dropped: v.dropped,
        }
    }
}

/// A request line, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `status`: the daemon's [`Status`].
    Status,
    /// `handover [INSTANCE]`: every Master instance (or the one named, and its sync group)
    /// hands mastership over to a Backup and stays Backup (see `fsm::Event::Yield`).
    Handover { instance: Option<String> },
}

/// Why a request line was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestError {
    NotUtf8,
    Unknown(String),
    TooManyArguments,
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::NotUtf8 => f.write_str("the request is not UTF-8"),
            RequestError::Unknown(word) => write!(
                f,
                "unknown request {word:?}; expected 'status' or 'handover [INSTANCE]'"
            ),
            RequestError::TooManyArguments => {
                f.write_str("too many arguments; expected 'status' or 'handover [INSTANCE]'")
            }
        }
    }
}

/// Parses one request line (its newline optional): a command word and its arguments,
/// separated by ASCII whitespace. The caller bounds the length ([`MAX_REQUEST`]).
pub fn parse_request(line: &[u8]) -> Result<Command, RequestError> {
    let line = std::str::from_utf8(line).map_err(|_| RequestError::NotUtf8)?;
    let mut words = line.split_ascii_whitespace();
    let command = match words.next() {
        Some("status") => Command::Status,
        Some("handover") => Command::Handover {
            instance: words.next().map(str::to_owned),
        },
        other => return Err(RequestError::Unknown(other.unwrap_or("").to_owned())),
    };
    if words.next().is_some() {
        return Err(RequestError::TooManyArguments);
    }
    Ok(command)
}

/// A request the daemon's loop answers.
pub enum Request {
    Status(oneshot::Sender<Status>),
    /// Answered with the instances that handed over, or why none could.
    Handover {
        instance: Option<String>,
        reply: oneshot::Sender<Result<Vec<String>, String>>,
    },
}

/// The answer to `handover`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum HandoverReply {
    HandedOver(Vec<String>),
    Error(String),
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
    let reply = match parse_request(&line) {
        Ok(Command::Status) => {
            let (tx, rx) = oneshot::channel();
            requests.send(Request::Status(tx)).await?;
            serde_json::to_string(&rx.await?)?
        }
        Ok(Command::Handover { instance }) => {
            let (reply, rx) = oneshot::channel();
            requests.send(Request::Handover { instance, reply }).await?;
            let answer = match rx.await? {
                Ok(names) => HandoverReply::HandedOver(names),
                Err(e) => HandoverReply::Error(e),
            };
            serde_json::to_string(&answer)?
        }
        Err(e) => serde_json::to_string(&HandoverReply::Error(e.to_string()))?,
    } + "\n";
    write.write_all(reply.as_bytes()).await?;
    write.shutdown().await?;
    Ok(())
}

/// Asks the daemon listening on `path` for its status (blocking; for `xvrrp status`).
pub fn query(path: &Path) -> Result<Status> {
    let reply = ask(path, "status", REQUEST_TIMEOUT * 2)?;
    serde_json::from_str(&reply).with_context(|| format!("unexpected answer: {}", reply.trim()))
}

/// Asks the daemon to hand mastership over (blocking; for `xvrrp handover`); returns the
/// instances that did.
pub fn handover(path: &Path, instance: Option<&str>) -> Result<Vec<String>> {
    let request = match instance {
        Some(name) => format!("handover {name}"),
        None => "handover".to_owned(),
    };
    let reply = ask(path, &request, REQUEST_TIMEOUT * 2)?;
    match serde_json::from_str(&reply) {
        Ok(HandoverReply::HandedOver(names)) => Ok(names),
        Ok(HandoverReply::Error(e)) => bail!("{e}"),
        Err(_) => bail!("unexpected answer: {}", reply.trim()),
    }
}

/// Sends one request line and reads the one-line answer.
fn ask(path: &Path, request: &str, timeout: Duration) -> Result<String> {
    let mut stream = std::os::unix::net::UnixStream::connect(path).with_context(|| {
        format!(
            "connecting to {} (is xvrrp running? see --control)",
            path.display()
        )
    })?;
    stream.set_read_timeout(Some(timeout))?;
    stream.write_all(format!("{request}\n").as_bytes())?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply)?;
    if reply.is_empty() {
        bail!("the daemon closed the control connection without answering");
    }
    Ok(reply)
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
        if let Some(h) = &i.handover {
            out += &format!("  handover: {h}\n");
        }
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
        let pinned = if x.pinned { " pinned" } else { "" };
        let no_redirect = if x.xdp_tx_dropped {
            " xdp-tx-dropped(no-redirect)"
        } else {
            ""
        };
        out += &format!(
            "xdp {} {}{}{} {}\n",
            x.interface,
            x.mode,
            pinned,
            no_redirect,
            counters(&x.counters)
        );
        for v in &x.vips {
            let mut what = Vec::new();
            if let Some(to) = &v.redirect_to {
                what.push(match &v.redirect_via {
                    Some(via) => format!("redirect-to {to} via {via}"),
                    None => format!("redirect-to {to}"),
                });
            }
            if v.strict {
                what.push("strict".into());
            }
            if v.guard {
                what.push("guard".into());
            }
            if v.quiet {
                what.push("quiet".into());
            }
            out += &format!(
                "  vip {} vrid {} {} redirected={} dropped={}\n",
                v.addr,
                v.vrid,
                what.join(","),
                v.redirected,
                v.dropped
            );
        }
    }
    out
}

/// The name of interface `index` in the daemon's namespace, or the index if it is gone.
fn interface_name(index: u32) -> String {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` holds IF_NAMESIZE bytes, as if_indextoname requires.
    let name = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if name.is_null() {
        return format!("ifindex {index}");
    }
    // SAFETY: on success `buf` holds a NUL-terminated name.
    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse() {
        assert_eq!(parse_request(b"status\n"), Ok(Command::Status));
        assert_eq!(parse_request(b"  status"), Ok(Command::Status));
        assert_eq!(
            parse_request(b"handover\n"),
            Ok(Command::Handover { instance: None })
        );
        assert_eq!(
            parse_request(b"handover VI_1\r\n"),
            Ok(Command::Handover {
                instance: Some("VI_1".into())
            })
        );
    }

    #[test]
    fn bad_requests_are_named() {
        assert_eq!(
            parse_request(b""),
            Err(RequestError::Unknown(String::new()))
        );
        assert_eq!(
            parse_request(b"reboot"),
            Err(RequestError::Unknown("reboot".into()))
        );
        assert_eq!(
            parse_request(b"status now"),
            Err(RequestError::TooManyArguments)
        );
        assert_eq!(
            parse_request(b"handover a b"),
            Err(RequestError::TooManyArguments)
        );
        assert_eq!(parse_request(b"st\xffatus"), Err(RequestError::NotUtf8));
    }
}
