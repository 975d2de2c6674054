//! The running daemon (`xvrrp run`): instances driven by their sockets, timers, trackers,
//! link changes and the XDP liveness map, on one tokio thread that owns all state.
//!
//! The loop waits for whichever comes first: a datagram from a socket reader task
//! (`receive`), the earliest timer deadline of any instance (`timers`), a link change
//! (`net::link_watch`), a control request (`control`), or a signal. Each input becomes fsm
//! events, and the fsm's actions are executed at once and in order (`instance`): adverts out
//! of the instance's socket, VIPs through rtnetlink, GARP / NA bursts in tasks of their own,
//! timers into the instance's deadline table. A sync group is driven as one fsm (`unit`).
//!
//! Receive path, after FRR's vrrpd: the socket's reader hands over the message or the
//! codec-level reason it is none; `wire::vrrp` parses it (rejections counted per socket);
//! `validate` judges it for each instance of that socket with its VRID (discards counted per
//! instance); the fsm gets the advert.
//!
//! XDP: one `Dataplane` per interface that carries instances, attached per `--xdp`, with
//! absorption on: repeats of what its liveness map holds never reach the socket. The timers
//! whose outcome depends on adverts therefore consult the map when they fire, before the fsm
//! hears of the expiry: a Backup's Master_Down_Timer and a Master's Adver_Timer. If the map
//! holds an advert the instance has not acted on, and its content is what the daemon itself
//! last validated from that sender, it is fed to the fsm as an advert received at the map's
//! timestamp, and the timer is put back: the fsm re-arms it (a live master; Master_Down
//! counts from the absorbed advert, exactly as if it had been received), or leaves it due,
//! and it expires on the next turn of the loop without crediting the same slot twice. The
//! rules and their limits are in `liveness`. Because credit requires content the daemon
//! validated itself, an instance that starts next to a map that already holds its master
//! would never be credited; so when a reload starts an instance, the interface gets a fresh
//! program and empty maps, and the next advert of every router reaches the socket.
//!
//! Accept_Mode (RFC 5798 §6.4.3): while an instance is Master without it (and not the address
//! owner), its VIPs on its interface are in the XDP program's table as strict: IP packets to
//! them are dropped, ARP and ND still answered. Without XDP this is not enforced (keepalived
//! enforces it with iptables, in `vrrp_strict` mode only; accept is the default outside it).
//! The program's guard (dead-man switch) and handover redirect are not used: nothing is
//! pinned, so the XDP link is this process's and goes with it when it dies.
//!
//! Startup removes configured VIPs left on their devices (we are not Master yet), SIGTERM or
//! SIGINT shut every instance down (a Master sends priority 0 and drops its VIPs), SIGHUP
//! reloads (`reload`), and readiness goes to systemd (`sd_notify`).

mod control;
mod instance;
mod liveness;
mod metrics;
mod receive;
mod reload;
mod sd_notify;
mod timers;
mod track;
mod unit;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::PathBuf,
    str::FromStr,
    sync::Arc,
};

use anyhow::{Context, Result, bail};
use tokio::{
    signal::unix::{SignalKind, signal},
    sync::mpsc,
};
use vrrp_common::reject::Reject;

pub use control::{Status, query, render};

use crate::{
    config,
    dataplane::{AttachMode, Dataplane, VipSteering},
    fsm::{Action, Event, State, TimerId},
    net::{
        garp::Announcer,
        iface::LinkState,
        link_watch::{LinkChange, LinkEvent, LinkWatch},
        vip,
    },
    scripts::{TrackerChange, Trackers},
    time::Monotonic,
    validate::{Discard, validate},
};
use instance::{Io, Resources, Slot};

/// How often track files are read (keepalived watches them with inotify).
const TRACK_FILE_POLL: std::time::Duration = std::time::Duration::from_secs(1);
use receive::{Datagram, Sockets};
use track::Source;
use unit::{Machine, Spec, Unit};

/// `--xdp`: how to attach the advert tracker, or not at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Xdp {
    Off,
    /// `Auto` runs without XDP (with a warning) when neither native nor skb mode attaches.
    Attach(AttachMode),
}

impl FromStr for Xdp {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "off" => Ok(Xdp::Off),
            _ => s.parse().map(Xdp::Attach).map_err(|_| {
                anyhow::anyhow!("unknown XDP mode {s:?}: expected auto, native, skb or off")
            }),
        }
    }
}

pub struct Options {
    pub config: PathBuf,
    pub control: PathBuf,
    pub xdp: Xdp,
    pub pid_file: Option<PathBuf>,
    /// Serve Prometheus metrics on this address.
    pub metrics: Option<std::net::SocketAddr>,
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(opts: Options) -> Result<()> {
    let loaded = load(&opts.config).context("the configuration is invalid")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // Handlers first: a signal during startup must not take the default action (exit
        // without cleanup, even on SIGHUP); it waits for the loop instead.
        let signals = Signals::install()?;
        let mut daemon = Daemon::start(opts, loaded.config).await?;
        let outcome = daemon.serve(signals).await;
        daemon.shutdown().await;
        outcome
    })
}

struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }
}

/// `config::load`, with every diagnostic logged.
fn load(path: &std::path::Path) -> Result<config::Loaded> {
    match config::load(path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                tracing::warn!("{w}");
            }
            Ok(loaded)
        }
        Err(diags) => {
            for d in &diags.0 {
                tracing::error!("{d}");
            }
            bail!("{} has {} error(s)", path.display(), diags.errors().count())
        }
    }
}

struct Daemon {
    opts: Options,
    config: config::Config,
    units: Vec<Unit>,
    io: Io,
    sockets: Sockets,
    datagrams: mpsc::UnboundedReceiver<Datagram>,
    announcers: HashMap<String, Arc<Announcer>>,
    dataplanes: BTreeMap<String, Dataplane>,
    links: LinkWatch,
    trackers: Trackers,
    requests: mpsc::Receiver<control::Request>,
    _control: (tokio::task::JoinHandle<()>, control::Bound),
    _metrics: Option<AbortOnDrop>,
}

/// A server task that ends with the daemon.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Daemon {
    async fn start(opts: Options, config: config::Config) -> Result<Daemon> {
        let (sockets, datagrams) = Sockets::new();
        let (req_tx, requests) = mpsc::channel(16);
        let metrics = match opts.metrics {
            Some(addr) => Some(AbortOnDrop(metrics::serve(addr, req_tx.clone()).await?)),
            None => None,
        };
        let server = control::serve(&opts.control, req_tx)?;
        let bound = control::Bound(opts.control.clone());
        // Subscribed before any link state is read, so that no change falls in between.
        let links = LinkWatch::open()?;
        let io = Io {
            addresses: vip::Addresses::connect()?,
            garp_interval: config.global.garp_interval,
            gna_interval: config.global.gna_interval,
        };
        let trackers = Trackers::start(&config, TRACK_FILE_POLL)?;
        let mut daemon = Daemon {
            opts,
            config,
            trackers,
            units: Vec::new(),
            io,
            sockets,
            datagrams,
            announcers: HashMap::new(),
            dataplanes: BTreeMap::new(),
            links,
            requests,
            _control: (server, bound),
            _metrics: metrics,
        };
        for spec in Spec::all(&daemon.config) {
            let unit = daemon.open_unit(spec).await?;
            daemon.units.push(unit);
        }
        daemon.attach_dataplanes(&HashSet::new())?;
        for u in 0..daemon.units.len() {
            daemon.start_unit(u).await;
        }
        if let Some(pid_file) = &daemon.opts.pid_file {
            std::fs::write(pid_file, format!("{}\n", std::process::id()))
                .with_context(|| format!("writing {}", pid_file.display()))?;
        }
        if let Err(e) = sd_notify::notify("READY=1") {
            tracing::warn!("{e:#}");
        }
        tracing::info!(
            instances = daemon.units.iter().map(|u| u.slots.len()).sum::<usize>(),
            "xvrrp running"
        );
        Ok(daemon)
    }

    /// Opens the sockets and devices of a unit's members, without starting them.
    async fn open_unit(&mut self, spec: Spec) -> Result<Unit> {
        let mut slots = Vec::new();
        let mut configs = Vec::new();
        let script_user = self.config.global.script_user.as_ref();
        for cfg in &spec.instances {
            let res = Resources {
                io: &self.io,
                sockets: &mut self.sockets,
                announcers: &mut self.announcers,
                files: &self.trackers.initial_files,
                script_user,
            };
            let (slot, fsm_cfg) = Slot::open(cfg, res).await?;
            slots.push(slot);
            configs.push(fsm_cfg);
        }
        let machine = Machine::new(&spec, configs);
        Unit::new(spec, machine, slots, script_user)
    }

    /// Clears leftover VIPs, tells the fsm about down interfaces, and starts each member.
    async fn start_unit(&mut self, u: usize) {
        let now = Monotonic::now();
        for m in 0..self.units[u].slots.len() {
            let slot = &self.units[u].slots[m];
            slot.remove_leftovers(&self.io).await;
            let up = slot.iface.link_state().is_ok_and(|s| s == LinkState::Up);
            if !up {
                self.feed(u, m, Event::Interface { up: false }, now).await;
            }
        }
        for m in 0..self.units[u].slots.len() {
            self.feed(u, m, Event::Startup, now).await;
        }
    }

    /// Attaches XDP to every interface that carries an instance and has none yet, and to
    /// those in `fresh` anew; detaches it from interfaces no instance uses any more.
    fn attach_dataplanes(&mut self, fresh: &HashSet<String>) -> Result<()> {
        let Xdp::Attach(mode) = self.opts.xdp else {
            return Ok(());
        };
        let used: HashSet<String> = self
            .units
            .iter()
            .flat_map(|u| u.slots.iter().map(|s| s.iface.name().to_owned()))
            .collect();
        self.dataplanes
            .retain(|iface, _| used.contains(iface) && !fresh.contains(iface));
        // A fresh program has an empty VIP table.
        for slot in self.units.iter_mut().flat_map(|u| &mut u.slots) {
            if fresh.contains(slot.iface.name()) {
                slot.steered = false;
            }
        }
        for iface in used {
            if self.dataplanes.contains_key(&iface) {
                continue;
            }
            match attach(&iface, mode) {
                Ok(dp) => {
                    self.dataplanes.insert(iface, dp);
                }
                Err(e) if mode == AttachMode::Auto => {
                    tracing::warn!(interface = %iface, "running without XDP: {e:#}");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn serve(&mut self, mut signals: Signals) -> Result<()> {
        loop {
            let next = self.next_deadline();
            let wake = async move {
                match next {
                    Some(at) => tokio::time::sleep_until(timers::instant_of(at)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(d) = self.datagrams.recv() => self.on_datagram(d).await,
                () = wake => self.on_timers().await,
                ev = self.links.next() => match ev {
                    Some(ev) => self.on_link(ev).await,
                    None => bail!("the link watch ended"),
                },
                Some(change) = self.trackers.changes.recv() => self.on_tracker(change).await,
                Some(req) = self.requests.recv() => {
                    let _ = req.reply.send(self.status());
                }
                _ = signals.term.recv() => { tracing::info!("SIGTERM: shutting down"); return Ok(()) }
                _ = signals.int.recv() => { tracing::info!("SIGINT: shutting down"); return Ok(()) }
                _ = signals.hup.recv() => self.reload().await,
            }
        }
    }

    /// Feeds one event to member `m` of unit `u`, executes the actions, and records state
    /// changes; returns the actions for callers that judge the outcome.
    async fn feed(
        &mut self,
        u: usize,
        m: usize,
        event: Event,
        now: Monotonic,
    ) -> Vec<(usize, Action)> {
        let Daemon { units, io, .. } = self;
        let unit = &mut units[u];
        let actions = unit.machine.handle(m, event, now);
        for &(i, action) in &actions {
            unit.slots[i].execute(action, io).await;
        }
        // Notify scripts run on, reaped by their own task.
        drop(unit.settle(now));
        self.steer(u);
        actions
    }

    /// Puts the VIPs of unit `u`'s Masters without Accept_Mode in their interface's XDP table
    /// as strict (IP to them dropped, ARP / ND answered: RFC 5798 §6.4.3), and takes them out
    /// again when that no longer holds. Without XDP on the interface this is not enforced.
    fn steer(&mut self, u: usize) {
        let unit = &mut self.units[u];
        for (i, slot) in unit.slots.iter_mut().enumerate() {
            let cfg = unit.machine.member(i).config();
            let strict = slot.state == State::Master
                && !(cfg.accept || cfg.priority == crate::fsm::PRIORITY_OWNER);
            set_strict(&mut self.dataplanes, slot, strict);
        }
    }

    async fn on_datagram(&mut self, d: Datagram) {
        let now = Monotonic::now();
        let parsed = d
            .message
            .and_then(|(ctx, bytes)| receive::parse(&ctx, &bytes).map(|r| (ctx, r)));
        let (ctx, repr) = match parsed {
            Ok(p) => p,
            Err(reason) => {
                if let Some(c) = self.sockets.counters_mut(&d.key) {
                    c.rejected[reason as usize] += 1;
                }
                tracing::debug!(socket = ?d.key, reason = reason.name(), "datagram rejected");
                return;
            }
        };
        let src = ctx.endpoints.src();
        let targets: Vec<(usize, usize)> = self
            .units
            .iter()
            .enumerate()
            .flat_map(|(u, unit)| {
                unit.slots
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.socket_key == d.key && s.cfg.vrid == repr.vrid)
                    .map(move |(m, _)| (u, m))
            })
            .collect();
        if targets.is_empty() {
            if let Some(c) = self.sockets.counters_mut(&d.key) {
                c.other_vrid += 1;
            }
            return;
        }
        for (u, m) in targets {
            let slot = &mut self.units[u].slots[m];
            let last_master = if slot.state == State::Backup {
                slot.master
            } else {
                None
            };
            if let Err(reason) = validate(&repr, src, &slot.expectations(), last_master) {
                slot.stats.discarded[reason as usize] += 1;
                slot.heard.invalid(src);
                tracing::debug!(instance = %slot.cfg.name, %src, reason = reason.name(), "advert discarded");
                continue;
            }
            slot.stats.received += 1;
            slot.heard
                .validated(src, repr.priority, repr.advert_int, now);
            let advert = crate::fsm::Advert {
                src,
                priority: repr.priority,
                max_adver_int: repr.advert_int,
            };
            self.advert(u, m, advert, now).await;
        }
    }

    /// Feeds an advert and notes its sender as master if the instance, as Backup, accepted it.
    async fn advert(&mut self, u: usize, m: usize, advert: crate::fsm::Advert, at: Monotonic) {
        let actions = self.feed(u, m, Event::Advert(advert), at).await;
        let accepted = actions.iter().any(|&(i, a)| {
            i == m
                && matches!(
                    a,
                    Action::ArmTimer {
                        timer: TimerId::MasterDown,
                        ..
                    }
                )
        });
        let slot = &mut self.units[u].slots[m];
        if accepted && advert.priority != crate::fsm::PRIORITY_STOP && slot.state == State::Backup {
            slot.master = Some(advert.src);
            slot.last_advert = Some(at);
        }
    }

    fn next_deadline(&self) -> Option<Monotonic> {
        self.units
            .iter()
            .flat_map(|u| &u.slots)
            .filter_map(|s| s.deadlines.next())
            .min()
    }

    /// Expires every due timer, one at a time, consulting the liveness map first for those
    /// that depend on adverts (see the module doc).
    async fn on_timers(&mut self) {
        // Bounded: each turn expires a timer or consumes a map slot, but a bug must not spin.
        for _ in 0..256 {
            let now = Monotonic::now();
            let Some((u, m, timer, at)) =
                self.units.iter_mut().enumerate().find_map(|(u, unit)| {
                    unit.slots
                        .iter_mut()
                        .enumerate()
                        .find_map(|(m, s)| s.deadlines.take_due(now).map(|(t, at)| (u, m, t, at)))
                })
            else {
                return;
            };
            if matches!(timer, TimerId::MasterDown | TimerId::Adver)
                && let Some((advert, seen)) = self.absorbed(u, m)
            {
                self.units[u].slots[m].deadlines.arm(timer, at);
                self.advert(u, m, advert, seen).await;
                continue;
            }
            self.feed(u, m, Event::TimerExpired(timer), now).await;
        }
        tracing::warn!("more than 256 timer expiries at once; continuing on the next turn");
    }

    /// An absorbed advert from the liveness map that member `m` of unit `u` should act on.
    fn absorbed(&mut self, u: usize, m: usize) -> Option<(crate::fsm::Advert, Monotonic)> {
        let slot = &mut self.units[u].slots[m];
        let dp = self.dataplanes.get(slot.iface.name())?;
        let entry = match dp.liveness_of(slot.liveness_key()) {
            Ok(entry) => entry?,
            Err(e) => {
                tracing::warn!(interface = %slot.iface.name(), "reading the liveness map: {e:#}");
                return None;
            }
        };
        let version = slot.version_number();
        let credited = slot.heard.credit(&entry, slot.source, version);
        if credited.is_some() {
            tracing::debug!(instance = %slot.cfg.name, sender = %entry.sender, "crediting an absorbed advert");
        }
        credited
    }

    async fn on_link(&mut self, ev: LinkEvent) {
        let up = ev.change == LinkChange::State(LinkState::Up);
        let now = Monotonic::now();
        let mut events = Vec::new();
        for (u, unit) in self.units.iter().enumerate() {
            for (m, slot) in unit.slots.iter().enumerate() {
                if slot.iface.index() == ev.index {
                    events.push((u, m, Event::Interface { up }));
                }
                for t in &slot.trackers {
                    if t.source == Source::Interface(ev.name.clone()) {
                        events.push((u, m, t.event(!up)));
                    }
                }
            }
        }
        for (u, m, event) in events {
            self.feed(u, m, event, now).await;
        }
    }

    async fn on_tracker(&mut self, change: TrackerChange) {
        let now = Monotonic::now();
        let mut events = Vec::new();
        for (u, unit) in self.units.iter().enumerate() {
            for (m, slot) in unit.slots.iter().enumerate() {
                for t in &slot.trackers {
                    let event = match (&change, &t.source) {
                        (TrackerChange::Script { name, up }, Source::Script(s)) if s == name => {
                            Some(t.event(!up))
                        }
                        (TrackerChange::File { name, value }, Source::File { name: f, .. })
                            if f == name =>
                        {
                            t.file_event(*value)
                        }
                        _ => None,
                    };
                    events.extend(event.map(|e| (u, m, e)));
                }
            }
        }
        for (u, m, event) in events {
            self.feed(u, m, event, now).await;
        }
    }

    /// Shuts a unit's members down and returns once their notify_stop scripts have ended
    /// (they are killed after `scripts::STOP_TIMEOUT`).
    async fn stop_unit(&mut self, mut unit: Unit) {
        let now = Monotonic::now();
        for m in 0..unit.slots.len() {
            let actions = unit.machine.handle(m, Event::Shutdown, now);
            for (i, action) in actions {
                unit.slots[i].execute(action, &self.io).await;
            }
        }
        for slot in &mut unit.slots {
            set_strict(&mut self.dataplanes, slot, false);
        }
        for run in unit.settle(now) {
            let _ = run.await;
        }
    }

    async fn shutdown(&mut self) {
        if let Err(e) = sd_notify::notify("STOPPING=1") {
            tracing::warn!("{e:#}");
        }
        for unit in std::mem::take(&mut self.units) {
            self.stop_unit(unit).await;
        }
        for (iface, mut dp) in std::mem::take(&mut self.dataplanes) {
            if let Err(e) = dp.detach() {
                tracing::warn!(interface = %iface, "{e:#}");
            }
        }
        if let Some(pid_file) = &self.opts.pid_file {
            let _ = std::fs::remove_file(pid_file);
        }
        tracing::info!("xvrrp stopped");
    }

    fn status(&self) -> Status {
        let now = Monotonic::now();
        let mut status = Status::default();
        for unit in &self.units {
            for (m, slot) in unit.slots.iter().enumerate() {
                let fsm = unit.machine.member(m);
                let mut counters = BTreeMap::from([
                    ("received".to_owned(), slot.stats.received),
                    ("sent".to_owned(), slot.stats.sent),
                    ("became_master".to_owned(), slot.stats.became_master),
                ]);
                for d in Discard::ALL {
                    let n = slot.stats.discarded[d as usize];
                    if n != 0 {
                        counters.insert(d.name().to_owned(), n);
                    }
                }
                let absorbed = self
                    .dataplanes
                    .get(slot.iface.name())
                    .and_then(|dp| dp.liveness_of(slot.liveness_key()).ok().flatten())
                    .filter(|e| slot.state == State::Backup && Some(e.sender) == slot.master)
                    .map(|e| e.last_seen);
                let last = slot.last_advert.max(absorbed);
                status.instances.push(control::InstanceStatus {
                    name: slot.cfg.name.clone(),
                    interface: slot.iface.name().to_owned(),
                    vrid: slot.cfg.vrid,
                    family: slot.cfg.family.to_string(),
                    state: state_name(slot.state).to_owned(),
                    base_priority: fsm.config().priority,
                    effective_priority: fsm.priority(),
                    master: slot.master.map(|a| a.to_string()),
                    last_advert_ms: last.map(|t| now.since(t).as_millis() as u64),
                    counters,
                });
            }
        }
        for (key, c) in self.sockets.counters() {
            let mut counters: BTreeMap<String, u64> = Reject::ALL
                .iter()
                .filter(|r| c.rejected[**r as usize] != 0)
                .map(|r| (r.name().to_owned(), c.rejected[*r as usize]))
                .collect();
            if c.other_vrid != 0 {
                counters.insert("other_vrid".into(), c.other_vrid);
            }
            status.sockets.push(control::SocketStatus {
                interface: key.iface.clone(),
                source: key.source.to_string(),
                counters,
            });
        }
        status
            .sockets
            .sort_by(|a, b| (&a.interface, &a.source).cmp(&(&b.interface, &b.source)));
        for (iface, dp) in &self.dataplanes {
            let mut counters: BTreeMap<String, u64> = dp
                .counters()
                .map(|c| {
                    c.iter()
                        .filter(|(_, v)| *v != 0)
                        .map(|(c, v)| (c.name().to_owned(), v))
                        .collect()
                })
                .unwrap_or_default();
            // Packets to strict VIPs (Accept_Mode off) that XDP dropped.
            let dropped: u64 = dp
                .vips()
                .map(|v| v.iter().map(|v| v.dropped).sum())
                .unwrap_or_default();
            if dropped != 0 {
                counters.insert("vip_dropped".into(), dropped);
            }
            status.xdp.push(control::XdpStatus {
                interface: iface.clone(),
                mode: dp
                    .attachment()
                    .map_or("detached".into(), |(_, m)| m.to_string()),
                counters,
            });
        }
        status
    }
}

/// Adds or removes `slot`'s VIPs as strict in its interface's XDP table, if that changes
/// anything and the interface has XDP.
fn set_strict(dataplanes: &mut BTreeMap<String, Dataplane>, slot: &mut Slot, strict: bool) {
    if strict == slot.steered {
        return;
    }
    let Some(dp) = dataplanes.get_mut(slot.iface.name()) else {
        return;
    };
    for addr in slot.own_vips() {
        let steering = VipSteering {
            vrid: slot.cfg.vrid,
            strict: true,
            ..VipSteering::default()
        };
        let done = if strict {
            dp.set_vip(addr, steering)
        } else {
            dp.remove_vip(addr)
        };
        if let Err(e) = done {
            tracing::error!(instance = %slot.cfg.name, "{e:#}");
        }
    }
    slot.steered = strict;
}

fn attach(iface: &str, mode: AttachMode) -> Result<Dataplane> {
    let mut dp = Dataplane::load()?;
    let used = dp.attach(iface, mode)?;
    dp.set_absorb(true)?;
    tracing::info!(interface = %iface, mode = %used, "XDP advert tracker attached, absorbing repeats");
    Ok(dp)
}

fn state_name(state: State) -> &'static str {
    match state {
        State::Initialize => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
    }
}
