//! One configured instance at run time: its socket, addresses and timers, what it has heard,
//! and how it carries out the fsm's actions.

use std::{net::IpAddr, sync::Arc, time::Duration};

use anyhow::{Context, Result, bail};
use tokio::task::JoinHandle;
use vrrp_common::{maps::LivenessKey, wire::vrrp as field};

use super::{
    liveness::Heard,
    receive::SocketKey,
    renewer::Delegated,
    timers::Deadlines,
    track::{self, Tracked},
};
use crate::{
    config,
    fsm::{self, Action, NotifyState, State},
    net::{garp::Announcer, iface::Interface, vip, vrrp_socket::VrrpSocket},
    scripts::NotifyScripts,
    time::Monotonic,
    validate::{Discard, Expectations, ExpectedVersion, V2Auth},
    wire::vrrp::{Addresses, AuthType, Endpoints, Packet, Repr, V3Ipv4Checksum, Version},
};

/// What the daemon shares among instances while executing actions.
pub struct Io {
    pub addresses: vip::Addresses,
    /// keepalived's `vrrp_garp_interval` / `vrrp_gna_interval`: pauses between messages.
    pub garp_interval: Duration,
    pub gna_interval: Duration,
}

/// The addresses to add on one device, and how to announce them there.
struct VipTarget {
    iface: Interface,
    vips: Vec<vip::Vip>,
    /// `None` on a device without an Ethernet MAC, where there is nothing to announce.
    announcer: Option<Arc<Announcer>>,
}

#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub received: u64,
    pub sent: u64,
    pub became_master: u64,
    pub discarded: [u64; Discard::COUNT],
}

/// Adverts built for one priority, with the destination of each.
struct Built {
    priority: u8,
    messages: Vec<(IpAddr, Vec<u8>)>,
}

pub struct Slot {
    /// Unique in the daemon's lifetime: how the renewer thread names the instance.
    pub id: u64,
    /// `heard` and the Master_Down deadline are with the renewer thread (`renewer`).
    pub delegated: bool,
    pub cfg: config::Instance,
    pub iface: Interface,
    /// Our primary address: the source of our adverts.
    pub source: IpAddr,
    pub socket_key: SocketKey,
    socket: Arc<VrrpSocket>,
    /// The advert we send, but for its priority.
    advert: Repr,
    /// The adverts last built from `advert`: a Master sends the same bytes every interval,
    /// and only the priority changes them.
    built: Option<Built>,
    /// The VIPs of the instance's family, as adverts list them.
    advert_vips: Vec<IpAddr>,
    expected: ExpectedVersion,
    targets: Vec<VipTarget>,
    pub trackers: Vec<Tracked>,
    pub deadlines: Deadlines,
    pub heard: Heard,
    /// The current master as far as we know: the sender of the last advert accepted as
    /// Backup, ourselves as Master.
    pub master: Option<IpAddr>,
    /// When the last advert of the current master was accepted.
    pub last_advert: Option<Monotonic>,
    pub state: State,
    pub stats: Stats,
    /// What the XDP table of our interface does with our VIPs there (`handover::steering`).
    pub steering: Option<crate::dataplane::VipSteering>,
    /// Leaving Master: the VIPs kept until the new master is seen, then redirected to it.
    pub handover: Option<super::handover::Handover>,
    notify: NotifyScripts,
    garp_tasks: Vec<JoinHandle<()>>,
}

/// How long a notify script may run before its process group is killed. keepalived sets no
/// limit; a hung script would then pile up with every transition.
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(30);

/// The notify scripts started for a state change, reaped in their own task.
pub type NotifyRun = JoinHandle<Vec<(String, crate::scripts::Outcome)>>;

/// What opening an instance needs from the daemon.
pub struct Resources<'a> {
    pub io: &'a Io,
    pub sockets: &'a mut super::receive::Sockets,
    pub announcers: &'a mut std::collections::HashMap<String, Arc<Announcer>>,
    /// Each track file's value at start.
    pub files: &'a [(String, i64)],
    pub script_user: Option<&'a config::RunAs>,
}

impl Slot {
    /// Resolves the interface and addresses of `cfg` and opens its socket; returns the fsm
    /// configuration with the trackers' initial states.
    pub async fn open(cfg: &config::Instance, res: Resources<'_>) -> Result<(Slot, fsm::Config)> {
        let name = &cfg.name;
        let iface = match (&cfg.interface, cfg.unicast_src_ip) {
            (Some(ifname), _) => Interface::by_name(ifname),
            (None, Some(src)) => interface_with(src, &res.io.addresses).await,
            (None, None) => bail!("no interface and no unicast_src_ip"),
        }
        .with_context(|| format!("({name})"))?;
        let source = match cfg.unicast_src_ip {
            Some(addr) => addr,
            None => match cfg.family {
                config::Family::Ipv4 => res.io.addresses.primary_v4(&iface).await.map(IpAddr::from),
                config::Family::Ipv6 => link_local(&iface, &res.io.addresses)
                    .await
                    .map(IpAddr::from),
            }
            .with_context(|| format!("({name})"))?,
        };
        let (advert, expected) = advert_template(cfg, source)?;
        let advert_vips = advert.addresses.iter().collect();
        let targets = vip_targets(cfg, &iface, res.announcers)?;
        let socket = res.sockets.get_or_open(&iface, source)?;
        let (trackers, fsm_trackers) = track::trackers(cfg, res.files);
        let notify = NotifyScripts::instance(name, &cfg.notify, res.script_user, NOTIFY_TIMEOUT)
            .with_context(|| format!("({name}) notify scripts"))?;
        let fsm_cfg = fsm::Config {
            trackers: fsm_trackers,
            ..fsm_config(cfg, source)
        };
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let slot = Slot {
            id: IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            delegated: false,
            cfg: cfg.clone(),
            socket_key: SocketKey {
                iface: iface.name().to_owned(),
                source,
            },
            iface,
            source,
            socket,
            advert,
            built: None,
            advert_vips,
            expected,
            targets,
            trackers,
            deadlines: Deadlines::default(),
            heard: Heard::default(),
            master: None,
            last_advert: None,
            state: State::Initialize,
            stats: Stats::default(),
            steering: None,
            handover: None,
            notify,
            garp_tasks: Vec::new(),
        };
        Ok((slot, fsm_cfg))
    }

    pub fn expectations(&self) -> Expectations<'_> {
        Expectations {
            vrid: self.cfg.vrid,
            version: self.expected,
            advert_int: self.cfg.advert_int,
            vips: &self.advert_vips,
            skip_check_adv_addr: self.cfg.skip_check_adv_addr,
            allowed_peers: self.cfg.allowed_peers(),
        }
    }

    /// The VIPs (and excluded VIPs) that go on the instance's own interface, where its XDP
    /// program runs.
    pub fn own_vips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.targets
            .iter()
            .filter(|t| t.iface == self.iface)
            .flat_map(|t| t.vips.iter().map(|v| v.addr))
    }

    /// Every VIP (and excluded VIP) with the device it goes on.
    pub fn vips_by_device(&self) -> impl Iterator<Item = (&Interface, IpAddr)> + '_ {
        self.targets
            .iter()
            .flat_map(|t| t.vips.iter().map(move |v| (&t.iface, v.addr)))
    }

    pub fn liveness_key(&self) -> LivenessKey {
        let family = match self.source {
            IpAddr::V4(_) => vrrp_common::maps::FAMILY_IPV4,
            IpAddr::V6(_) => vrrp_common::maps::FAMILY_IPV6,
        };
        LivenessKey::new(self.cfg.vrid, family)
    }

    pub fn version_number(&self) -> u8 {
        self.advert.version.number()
    }

    /// Removes configured VIPs left on their devices by an earlier run: we are not Master yet.
    pub async fn remove_leftovers(&self, io: &Io) {
        for target in &self.targets {
            let assigned = match io.addresses.list(&target.iface).await {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(instance = %self.cfg.name, "{e:#}");
                    continue;
                }
            };
            for left in vip::leftovers(&assigned, &target.vips) {
                tracing::info!(
                    instance = %self.cfg.name, vip = %left.addr, interface = %target.iface.name(),
                    "removing a VIP left over while not master"
                );
                if let Err(e) = io
                    .addresses
                    .remove(&target.iface, left.addr, left.prefix_len)
                    .await
                {
                    tracing::warn!(instance = %self.cfg.name, "{e:#}");
                }
            }
        }
    }

    /// Carries out one action of the fsm (the module doc of `fsm` gives the contract).
    pub async fn execute(&mut self, action: Action, io: &Io) {
        match action {
            Action::SendAdvert { priority } => self.send_advert(priority).await,
            Action::AddVips { .. } => self.add_vips(io).await,
            Action::RemoveVips => self.remove_vips(io).await,
            Action::SendGarp { count } => {
                self.announce(count, io);
                // The bursts' tasks run now, not once the loop has finished this turn (steering
                // and the heartbeat's map work): clients move to a new master on its first GARP.
                tokio::task::yield_now().await;
            }
            Action::ArmTimer { .. } | Action::CancelTimer(_) => self.set_timer(action),
            // State bookkeeping happens in `entered`, once the fsm has settled.
            Action::Notify(_) => {}
        }
    }

    /// Back from the renewer thread.
    pub fn restore(&mut self, d: Delegated) {
        self.heard = d.heard;
        self.deadlines.arm(fsm::TimerId::MasterDown, d.deadline);
        self.delegated = false;
    }

    /// Carries out an `ArmTimer` or `CancelTimer`; ignores any other action.
    pub fn set_timer(&mut self, action: Action) {
        match action {
            Action::ArmTimer { timer, at } => self.deadlines.arm(timer, at),
            Action::CancelTimer(timer) => self.deadlines.cancel(timer),
            _ => {}
        }
    }

    /// Records that the fsm now has the instance in `state` at effective `priority`, and
    /// starts its notify scripts.
    pub fn entered(&mut self, state: State, priority: u8, now: Monotonic) -> NotifyRun {
        tracing::info!(instance = %self.cfg.name, from = ?self.state, to = ?state, priority, "state change");
        self.state = state;
        self.heard.state_changed(now);
        self.master = (state == State::Master).then_some(self.source);
        self.last_advert = None;
        if state == State::Master {
            self.stats.became_master += 1;
        }
        self.notify.fire(notify_state(state), priority)
    }

    pub async fn send_advert(&mut self, priority: u8) {
        if self.built.as_ref().is_none_or(|b| b.priority != priority) {
            self.built = self.build_adverts(priority);
        }
        let Slot {
            built: Some(built),
            socket,
            stats,
            cfg,
            ..
        } = self
        else {
            return;
        };
        for (dst, message) in &built.messages {
            match socket.send_to(message, *dst).await {
                Ok(()) => stats.sent += 1,
                Err(e) => tracing::warn!(instance = %cfg.name, "{e:#}"),
            }
        }
    }

    /// The adverts to send at `priority`, one per destination: the group, or each unicast peer.
    fn build_adverts(&self, priority: u8) -> Option<Built> {
        let mut repr = self.advert.clone();
        repr.priority = priority;
        let group = match self.source {
            IpAddr::V4(_) => IpAddr::from(field::MULTICAST_V4),
            IpAddr::V6(_) => IpAddr::from(field::MULTICAST_V6),
        };
        let peers = if self.cfg.unicast_peers.is_empty() {
            vec![group]
        } else {
            self.cfg.unicast_peers.clone()
        };
        let mut messages = Vec::with_capacity(peers.len());
        for dst in peers {
            let endpoints = match (self.source, dst) {
                (IpAddr::V4(src), IpAddr::V4(dst)) => Endpoints::V4 { src, dst },
                (IpAddr::V6(src), IpAddr::V6(dst)) => Endpoints::V6 { src, dst },
                _ => {
                    tracing::warn!(instance = %self.cfg.name, %dst, "peer of the other family skipped");
                    continue;
                }
            };
            let mut buf = vec![0; repr.buffer_len()];
            if let Err(e) = repr.emit(
                &mut Packet::new_unchecked(&mut buf),
                &endpoints,
                V3Ipv4Checksum::default(),
            ) {
                tracing::error!(instance = %self.cfg.name, "cannot build an advert: {e}");
                return None;
            }
            messages.push((dst, buf));
        }
        Some(Built { priority, messages })
    }

    async fn add_vips(&mut self, io: &Io) {
        for target in &self.targets {
            for v in &target.vips {
                if let Err(e) = io.addresses.add(&target.iface, v).await {
                    tracing::error!(instance = %self.cfg.name, "{e:#}");
                }
            }
        }
    }

    /// Ends the GARP / NA bursts still going: we are no longer the one to announce.
    pub fn stop_announcing(&mut self) {
        for task in self.garp_tasks.drain(..) {
            task.abort();
        }
    }

    /// Whether `other`, a reloaded configuration's instance, is this same virtual router: same
    /// name, interface, VRID and family, its state then worth keeping (`reload`).
    pub fn same_router(&self, other: &Slot) -> bool {
        self.cfg.name == other.cfg.name
            && self.iface == other.iface
            && self.cfg.vrid == other.cfg.vrid
            && self.cfg.family == other.cfg.family
    }

    /// This instance's reloaded self, `successor`, takes over in the same state (Master or
    /// Backup): the VIPs it configures exactly as they are stay in service, the others are
    /// removed (a changed prefix or option comes back from the successor's own add), and the
    /// counters carry on.
    pub async fn succeed(&mut self, successor: &mut Slot, io: &Io) {
        self.stop_announcing();
        for target in &self.targets {
            for v in &target.vips {
                let kept = successor
                    .targets
                    .iter()
                    .any(|t| t.iface == target.iface && t.vips.contains(v));
                if kept {
                    continue;
                }
                if let Err(e) = io
                    .addresses
                    .remove(&target.iface, v.addr, v.prefix_len)
                    .await
                {
                    tracing::error!(instance = %self.cfg.name, "{e:#}");
                }
            }
        }
        successor.stats = self.stats.clone();
        // The successor's fsm enters this same state as it starts: no change of state, so no
        // notify script runs (keepalived runs none on a reload).
        successor.state = self.state;
        // A Backup's master stays the one it knew: `skip_check_adv_addr` goes by it.
        successor.master = match self.state {
            State::Master => Some(successor.source),
            _ => self.master,
        };
    }

    pub async fn remove_vips(&mut self, io: &Io) {
        self.stop_announcing();
        for target in &self.targets {
            for v in &target.vips {
                if let Err(e) = io
                    .addresses
                    .remove(&target.iface, v.addr, v.prefix_len)
                    .await
                {
                    tracing::error!(instance = %self.cfg.name, "{e:#}");
                }
            }
        }
    }

    /// `count` rounds of GARP (IPv4) and NA (IPv6) per device, each message `vrrp_garp_interval`
    /// / `vrrp_gna_interval` after the previous one, in a task of their own so that the loop
    /// does not wait on them.
    fn announce(&mut self, count: u32, io: &Io) {
        self.garp_tasks.retain(|t| !t.is_finished());
        for target in &self.targets {
            let Some(announcer) = &target.announcer else {
                continue;
            };
            for (v6, pause) in [(false, io.garp_interval), (true, io.gna_interval)] {
                let addrs: Vec<IpAddr> = target
                    .vips
                    .iter()
                    .map(|v| v.addr)
                    .filter(|a| a.is_ipv6() == v6)
                    .collect();
                if addrs.is_empty() {
                    continue;
                }
                let (announcer, name) = (announcer.clone(), self.cfg.name.clone());
                self.garp_tasks.push(tokio::spawn(async move {
                    if pause.is_zero() {
                        if let Err(e) = announcer.announce(&addrs, count) {
                            tracing::warn!(instance = %name, "{e:#}");
                        }
                        return;
                    }
                    // keepalived spaces every message on the interface, not every round.
                    let messages = (0..count).flat_map(|_| addrs.iter().copied());
                    for (i, addr) in messages.enumerate() {
                        if i > 0 {
                            tokio::time::sleep(pause).await;
                        }
                        if let Err(e) = announcer.announce(&[addr], 1) {
                            tracing::warn!(instance = %name, "{e:#}");
                        }
                    }
                }));
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        for task in &self.garp_tasks {
            task.abort();
        }
    }
}

pub fn notify_state(state: State) -> NotifyState {
    match state {
        State::Initialize => NotifyState::Stop,
        State::Backup => NotifyState::Backup,
        State::Master => NotifyState::Master,
        State::Fault => NotifyState::Fault,
    }
}

/// The advert we send (but for its priority), and what we expect of the ones we receive.
fn advert_template(cfg: &config::Instance, source: IpAddr) -> Result<(Repr, ExpectedVersion)> {
    let (version, expected) = match (cfg.version, &cfg.auth) {
        (config::Version::V3, _) => (Version::V3, ExpectedVersion::V3),
        (config::Version::V2, None) => (
            Version::V2 {
                auth_type: AuthType::None,
                auth_data: [0; field::V2_AUTH_DATA_LEN],
            },
            ExpectedVersion::V2 { auth: V2Auth::None },
        ),
        (config::Version::V2, Some(auth)) => match auth.kind {
            config::AuthType::Pass => {
                let data = crate::wire::vrrp::password_field(&auth.pass);
                (
                    Version::V2 {
                        auth_type: AuthType::SimplePassword,
                        auth_data: data,
                    },
                    ExpectedVersion::V2 {
                        auth: V2Auth::Password(data),
                    },
                )
            }
            config::AuthType::Ah => bail!("({}) auth_type AH is not supported", cfg.name),
        },
    };
    // Adverts list the VIPs of the family they travel in; the others are only configured.
    let vips = cfg.vips.iter().map(|v| v.addr);
    let addresses = match source {
        IpAddr::V4(_) => Addresses::V4(
            vips.filter_map(|a| match a {
                IpAddr::V4(v4) => Some(v4),
                IpAddr::V6(_) => None,
            })
            .collect(),
        ),
        IpAddr::V6(_) => Addresses::V6(
            vips.filter_map(|a| match a {
                IpAddr::V6(v6) => Some(v6),
                IpAddr::V4(_) => None,
            })
            .collect(),
        ),
    };
    let advert = Repr {
        version,
        vrid: cfg.vrid,
        priority: cfg.priority,
        advert_int: cfg.advert_int,
        addresses,
    };
    Ok((advert, expected))
}

/// The fsm's view of `cfg`, without trackers.
fn fsm_config(cfg: &config::Instance, source: IpAddr) -> fsm::Config {
    let version = match cfg.version {
        config::Version::V2 => fsm::Version::V2,
        config::Version::V3 => fsm::Version::V3,
    };
    fsm::Config {
        initial_state: match cfg.state {
            config::InitialState::Master => fsm::InitialState::Master,
            config::InitialState::Backup => fsm::InitialState::Backup,
        },
        nopreempt: !cfg.preempt,
        preempt_delay: cfg.preempt_delay,
        accept: cfg.accept,
        garp: fsm::GarpConfig {
            master_delay: cfg.garp.master_delay,
            master_repeat: cfg.garp.master_repeat,
            master_refresh: cfg.garp.master_refresh.unwrap_or_default(),
            master_refresh_repeat: cfg.garp.master_refresh_repeat,
            lower_prio_repeat: cfg.garp.lower_prio_repeat.unwrap_or(if cfg.strict {
                0
            } else {
                cfg.garp.master_repeat
            }),
            higher_prio_send_advert: cfg.garp.higher_prio_send_advert,
        },
        ..fsm::Config::new(version, cfg.priority, cfg.advert_int, source)
    }
}

/// The interface's link-local address, waiting out duplicate address detection (about a
/// second per probe) on an interface that has just come up.
async fn link_local(iface: &Interface, addresses: &vip::Addresses) -> Result<std::net::Ipv6Addr> {
    const ATTEMPTS: u32 = 50;
    for _ in 1..ATTEMPTS {
        if let Ok(addr) = addresses.link_local(iface).await {
            return Ok(addr);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    addresses.link_local(iface).await
}

/// The interface that holds `addr`: keepalived's choice for a unicast instance that names
/// only its `unicast_src_ip`.
async fn interface_with(addr: IpAddr, addresses: &vip::Addresses) -> Result<Interface> {
    for name in interface_names()? {
        // An interface may vanish between listing and lookup; it cannot hold the address then.
        let Ok(iface) = Interface::by_name(&name) else {
            continue;
        };
        if addresses.list(&iface).await?.iter().any(|a| a.addr == addr) {
            return Ok(iface);
        }
    }
    bail!("no interface has unicast_src_ip {addr}")
}

/// The names of the interfaces of this network namespace.
fn interface_names() -> Result<Vec<String>> {
    // SAFETY: if_nameindex has no preconditions; the result is checked for NULL.
    let list = unsafe { libc::if_nameindex() };
    if list.is_null() {
        return Err(std::io::Error::last_os_error()).context("listing interfaces");
    }
    let mut names = Vec::new();
    // SAFETY: the array ends with an entry whose index is 0; every name before it is a
    // NUL-terminated string owned by the array, which is freed once, after the last read.
    unsafe {
        let mut entry = list;
        while (*entry).if_index != 0 {
            names.push(
                std::ffi::CStr::from_ptr((*entry).if_name)
                    .to_string_lossy()
                    .into_owned(),
            );
            entry = entry.add(1);
        }
        libc::if_freenameindex(list);
    }
    Ok(names)
}

/// The VIPs (and excluded VIPs) of `cfg` grouped by the device they go on.
fn vip_targets(
    cfg: &config::Instance,
    iface: &Interface,
    announcers: &mut std::collections::HashMap<String, Arc<Announcer>>,
) -> Result<Vec<VipTarget>> {
    let mut targets: Vec<VipTarget> = Vec::new();
    for v in cfg.vips.iter().chain(&cfg.excluded_vips) {
        let device = match &v.dev {
            Some(dev) => Interface::by_name(dev).with_context(|| format!("({})", cfg.name))?,
            None => iface.clone(),
        };
        let vip = vip::Vip {
            addr: v.addr,
            prefix_len: v.prefix,
            label: v.label.clone(),
            brd: v.brd,
            scope: v.scope,
        };
        if let Some(t) = targets.iter_mut().find(|t| t.iface == device) {
            t.vips.push(vip);
            continue;
        }
        let announcer = match announcers.get(device.name()) {
            Some(a) => Some(a.clone()),
            None => match Announcer::open(&device) {
                Ok(a) => {
                    let a = Arc::new(a);
                    announcers.insert(device.name().to_owned(), a.clone());
                    Some(a)
                }
                Err(e) => {
                    tracing::warn!(instance = %cfg.name, "no gratuitous ARP / NA: {e:#}");
                    None
                }
            },
        };
        targets.push(VipTarget {
            iface: device,
            vips: vec![vip],
            announcer,
        });
    }
    Ok(targets)
}
