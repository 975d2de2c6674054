//! Link state changes as the kernel announces them (the rtnetlink link group), so that
//! `track_interface` and the VRRP interface itself react to a flap at once instead of at the
//! next poll, and see flaps shorter than a poll interval.

use anyhow::{Context, Result};
use futures::{StreamExt, channel::mpsc::UnboundedReceiver};
use rtnetlink::{
    MulticastGroup,
    packet_core::{NetlinkMessage, NetlinkPayload},
    packet_route::{
        RouteNetlinkMessage,
        link::{LinkAttribute, LinkMessage},
    },
    sys::SocketAddr,
};

use crate::net::iface::LinkState;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkEvent {
    pub index: u32,
    /// The kernel names the link in every announcement.
    pub name: String,
    pub change: LinkChange,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkChange {
    /// The state after the change. The kernel announces other changes (MTU, MAC, ...) too, so
    /// the same state may come several times in a row.
    State(LinkState),
    Removed,
}

/// A subscription to link announcements in the calling thread's network namespace.
///
/// Subscribe first, then read the current state (`Interface::link_state`): a change in
/// between is then announced rather than lost.
#[derive(Debug)]
pub struct LinkWatch {
    messages: UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>,
}

impl LinkWatch {
    /// Must be called within a tokio runtime, which runs the netlink connection.
    pub fn open() -> Result<Self> {
        let (connection, _, messages) =
            rtnetlink::new_multicast_connection(&[MulticastGroup::Link])
                .context("subscribing to link changes over route netlink")?;
        tokio::spawn(connection);
        Ok(LinkWatch { messages })
    }

    /// The next change to any link; `None` once the netlink socket is gone.
    pub async fn next(&mut self) -> Option<LinkEvent> {
        while let Some((message, _)) = self.messages.next().await {
            match message.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) => {
                    let state = LinkState::from_flags(link.header.flags.bits());
                    return Some(event(&link, LinkChange::State(state)));
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(link)) => {
                    return Some(event(&link, LinkChange::Removed));
                }
                _ => {}
            }
        }
        None
    }
}

fn event(link: &LinkMessage, change: LinkChange) -> LinkEvent {
    let name = link
        .attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::IfName(name) => Some(name.clone()),
            _ => None,
        })
        .unwrap_or_default();
    LinkEvent {
        index: link.header.index,
        name,
        change,
    }
}
