//! The VRRP sockets, one per interface and source address, each read by its own task that
//! hands datagrams to the daemon's loop; and the codec step of the receive path, with the
//! counters of what fails it.
//!
//! Instances sharing an interface and source share a socket. Every raw socket on an interface
//! receives every VRRP datagram of it, so a datagram is offered only to the instances of the
//! socket that read it, and each instance sees it once.

use std::{collections::HashMap, net::IpAddr, sync::Arc, time::Duration};

use anyhow::Result;
use tokio::{sync::mpsc, task::JoinHandle};
use vrrp_common::reject::Reject;

use crate::{
    net::{
        iface::Interface,
        vrrp_socket::{RECV_BUFFER_LEN, VrrpSocket},
    },
    wire::vrrp::{IpContext, Packet, Repr},
};

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketKey {
    pub iface: String,
    pub source: IpAddr,
}

/// One datagram as its socket read it: a message with its IP context, or why it is none.
pub struct Datagram {
    pub key: SocketKey,
    pub message: Result<(IpContext, Vec<u8>), Reject>,
}

/// What the receive path counted on one socket before any instance saw a datagram.
#[derive(Clone, Debug, Default)]
pub struct SocketCounters {
    pub rejected: [u64; Reject::COUNT],
    /// Valid adverts for a VRID no instance of this socket has.
    pub other_vrid: u64,
}

struct Entry {
    socket: Arc<VrrpSocket>,
    task: JoinHandle<()>,
    counters: SocketCounters,
}

pub struct Sockets {
    open: HashMap<SocketKey, Entry>,
    tx: mpsc::UnboundedSender<Datagram>,
}

impl Sockets {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Datagram>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let sockets = Sockets {
            open: HashMap::new(),
            tx,
        };
        (sockets, rx)
    }

    /// The socket of `iface` sending from `source`, opened (and its reader started) if new.
    pub fn get_or_open(&mut self, iface: &Interface, source: IpAddr) -> Result<Arc<VrrpSocket>> {
        let key = SocketKey {
            iface: iface.name().to_owned(),
            source,
        };
        if let Some(entry) = self.open.get(&key) {
            return Ok(entry.socket.clone());
        }
        let socket = Arc::new(match source {
            IpAddr::V4(v4) => VrrpSocket::open_v4(iface, v4)?,
            IpAddr::V6(v6) => VrrpSocket::open_v6(iface, v6)?,
        });
        let task = tokio::spawn(read(socket.clone(), key.clone(), self.tx.clone()));
        let entry = Entry {
            socket: socket.clone(),
            task,
            counters: SocketCounters::default(),
        };
        self.open.insert(key, entry);
        Ok(socket)
    }

    /// Closes the sockets `used` does not want any more.
    pub fn retain(&mut self, used: impl Fn(&SocketKey) -> bool) {
        self.open.retain(|key, entry| {
            let keep = used(key);
            if !keep {
                entry.task.abort();
            }
            keep
        });
    }

    pub fn counters_mut(&mut self, key: &SocketKey) -> Option<&mut SocketCounters> {
        self.open.get_mut(key).map(|e| &mut e.counters)
    }

    pub fn counters(&self) -> impl Iterator<Item = (&SocketKey, &SocketCounters)> {
        self.open.iter().map(|(k, e)| (k, &e.counters))
    }
}

impl Drop for Sockets {
    fn drop(&mut self) {
        for entry in self.open.values() {
            entry.task.abort();
        }
    }
}

/// Reads `socket` until the daemon drops the channel or aborts the task.
async fn read(socket: Arc<VrrpSocket>, key: SocketKey, tx: mpsc::UnboundedSender<Datagram>) {
    let mut buf = vec![0; RECV_BUFFER_LEN];
    loop {
        let message = match socket.recv(&mut buf).await {
            Ok(m) => m.map(|(ctx, bytes)| (ctx, bytes.to_vec())),
            Err(e) => {
                tracing::warn!(interface = %key.iface, "{e:#}");
                // A socket error repeats until its cause (say, the interface) goes away; do
                // not spin on it.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let datagram = Datagram {
            key: key.clone(),
            message,
        };
        if tx.send(datagram).is_err() {
            return;
        }
    }
}

/// The codec's verdict on a received message.
pub fn parse(ctx: &IpContext, bytes: &[u8]) -> Result<Repr, Reject> {
    Repr::parse(&Packet::new_unchecked(bytes), ctx)
}
