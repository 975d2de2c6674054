//! The running daemon (`xvrrp run`): instances driven by their sockets, timers, trackers,
//! link changes and the XDP liveness map, on one tokio thread that owns all state, but for
//! what steady Backups hand to the renewer thread (`renewer`).
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
//! rules and their limits are in `liveness`; a Backup whose master repeats itself is renewed
//! from the map by the renewer thread, without waking this one (`renewer`). Because credit
//! requires content the daemon validated itself, an instance that starts next to a map that
//! already holds its master would never be credited; so when a reload starts an instance, the
//! interface's liveness map is emptied (as are adopted maps at startup), and the next advert of
//! every router reaches the socket.
//!
//! Accept_Mode (RFC 5798 §6.4.3): while an instance is Master without it (and not the address
//! owner), its VIPs on its interface are in the XDP program's table as strict: IP packets to
//! them are dropped, ARP and ND still answered. Without XDP this is not enforced (keepalived
//! enforces it with iptables, in `vrrp_strict` mode only; accept is the default outside it).
//!
//! Leaving Master (any reason but a fault), an instance hands over without loss (`handover`):
//! it keeps its VIPs until the new master's advert is seen, then XDP redirects their frames to
//! it for a window. `xvrrp handover` makes Masters yield on purpose (`fsm::Event::Yield`).
//!
//! Crash safety: the XDP link, programs and maps are pinned under `--pin-dir`/<interface>, so
//! the program outlives the daemon. The daemon writes a heartbeat into the control map; a
//! Master's VIPs are guarded there, so that if the daemon dies and another router takes over,
//! XDP sends their frames on to it and stops answering ARP / NS for them (keepalived would
//! leave the VIPs answering: a split brain). A restarted daemon adopts the pinned link and
//! maps without detaching, and resumes as Master where no one took over (`Event::Resume`);
//! a clean stop removes the pins, `--xdp off` removes those an earlier run left.
//!
//! Startup removes configured VIPs left on their devices (we are not Master yet), SIGTERM or
//! SIGINT shut every instance down (a Master sends priority 0 and drops its VIPs), SIGHUP
//! reloads (`reload`), and readiness goes to systemd (`sd_notify`).

mod control;
pub mod handover;
mod instance;
mod liveness;
mod metrics;
mod receive;
mod reload;
mod renewer;
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

pub use control::{Command, RequestError, Status, handover, parse_request, query, render};

use crate::{
    config,
    dataplane::{AttachMode, Dataplane, PinDir, Previous, VipSteering},
    fsm::{Action, Event, State, TimerId},
    net::{
        garp::Announcer,
        iface::{Interface, LinkState},
        link_watch::{LinkChange, LinkEvent, LinkWatch},
        vip, xdp_features,
    },
    scripts::{TrackerChange, Trackers},
    time::Monotonic,
    validate::{Discard, validate},
};
use handover::{Handover, Step};
use instance::{Io, Resources, Slot};
use liveness::Credit;
use renewer::{Delegated, Renewer, Watch};

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
    /// Where XDP is pinned (`<dir>/<interface>/`); `None` leaves it unpinned, going with the
    /// process.
    pub pin_dir: Option<PathBuf>,
}

/// The daemon's sign of life in each pinned dataplane's control map.
struct Heartbeat {
    period: std::time::Duration,
    timeout: std::time::Duration,
    next: Monotonic,
    /// Interfaces whose dead-man switch is armed (a non-zero timeout written).
    armed: HashSet<String>,
}

impl Heartbeat {
    /// Beats at half the shortest advert interval (10 ms to 500 ms); the program counts the
    /// daemon dead after three missed beats, at least 50 ms: well within a Backup's
    /// Master_Down_Interval (three intervals and a skew), so that by the time a Backup takes
    /// over after a crash, its adverts find the daemon dead.
    fn for_config(config: &config::Config) -> Heartbeat {
        let shortest = config
            .instances
            .iter()
            .map(|i| i.advert_int.as_duration())
            .min()
            .unwrap_or(std::time::Duration::from_secs(1));
        let period = (shortest / 2).clamp(
            std::time::Duration::from_millis(10),
            std::time::Duration::from_millis(500),
        );
        Heartbeat {
            period,
            timeout: (period * 3).max(std::time::Duration::from_millis(50)),
            next: Monotonic::now(),
            armed: HashSet::new(),
        }
    }
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
        // A task of the runtime rather than the future block_on polls: a timer that wakes a
        // task queues it, where waking block_on's future costs an eventfd write and a second
        // epoll_wait, on every wake of an otherwise idle daemon.
        tokio::spawn(async move {
            let outcome = daemon.serve(signals).await;
            daemon.shutdown().await;
            outcome
        })
        .await
        .context("the daemon's task")?
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
    /// What adopted pinned maps held, by interface, until startup has acted on it.
    previous: HashMap<String, Previous>,
    heartbeat: Heartbeat,
    renewer: Renewer,
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
        let heartbeat = Heartbeat::for_config(&config);
        let mut daemon = Daemon {
            opts,
            heartbeat,
            renewer: Renewer::start()?,
            previous: HashMap::new(),
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
        let resume = daemon.resumable();
        for u in 0..daemon.units.len() {
            daemon.remove_leftovers(u, &resume).await;
        }
        // Only now: until the leftovers are gone, the earlier run's guards keep them quiet.
        for (iface, _) in std::mem::take(&mut daemon.previous) {
            if let Some(dp) = daemon.dataplanes.get_mut(&iface)
                && let Err(e) = dp.reset()
            {
                tracing::error!(interface = %iface, "resetting the adopted XDP maps: {e:#}");
            }
        }
        for u in 0..daemon.units.len() {
            daemon.start_unit(u, &resume).await;
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

    /// Members (unit, member) that an earlier run of the daemon left as Master, with the
    /// VIPs still guarded in adopted XDP maps and no other router having taken over since.
    fn resumable(&self) -> HashSet<(usize, usize)> {
        let mut resume = HashSet::new();
        for (u, unit) in self.units.iter().enumerate() {
            for (m, slot) in unit.slots.iter().enumerate() {
                let Some(previous) = self.previous.get(slot.iface.name()) else {
                    continue;
                };
                let guarded = previous.vips.iter().any(|v| {
                    v.steering.guard
                        && v.steering.vrid == slot.cfg.vrid
                        && slot.own_vips().any(|a| a == v.addr)
                });
                let key = slot.liveness_key();
                let taken_over = previous.routers.iter().any(|r| r.key == key && r.orphaned);
                if guarded && taken_over {
                    tracing::info!(instance = %slot.cfg.name, "another router took over while the daemon was down");
                } else if guarded {
                    tracing::info!(instance = %slot.cfg.name, "resuming as master: the daemon restarted and no one took over");
                    resume.insert((u, m));
                }
            }
        }
        resume
    }

    /// Clears VIPs left on their devices by an earlier run, except for members that resume.
    async fn remove_leftovers(&mut self, u: usize, resume: &HashSet<(usize, usize)>) {
        for (m, slot) in self.units[u].slots.iter().enumerate() {
            if !resume.contains(&(u, m)) {
                slot.remove_leftovers(&self.io).await;
            }
        }
    }

    /// Tells the fsm about down interfaces, and starts (or resumes) each member.
    async fn start_unit(&mut self, u: usize, resume: &HashSet<(usize, usize)>) {
        let now = Monotonic::now();
        for m in 0..self.units[u].slots.len() {
            let slot = &self.units[u].slots[m];
            let up = slot.iface.link_state().is_ok_and(|s| s == LinkState::Up);
            if !up {
                self.feed(u, m, Event::Interface { up: false }, now).await;
            }
        }
        let resumes = |m| resume.contains(&(u, m));
        let actions = self.units[u].machine.start(
            |m| {
                if resumes(m) {
                    Event::Resume
                } else {
                    Event::Startup
                }
            },
            now,
        );
        self.carry_out(u, &actions, now).await;
    }

    /// Attaches XDP to every interface that carries an instance and has none yet, and makes
    /// those in `fresh` forget the adverts they hold; detaches it from interfaces no instance
    /// uses any more. With `--xdp off`, removes what an earlier run left pinned.
    fn attach_dataplanes(&mut self, fresh: &HashSet<String>) -> Result<()> {
        // Instance interfaces, and the devices that hold VIPs: frames for a VIP arrive where it
        // lives, and only XDP there can send them on during a handover.
        let used: HashSet<String> = self
            .units
            .iter()
            .flat_map(|u| &u.slots)
            .flat_map(|s| {
                std::iter::once(s.iface.name())
                    .chain(s.vips_by_device().map(|(device, _)| device.name()))
            })
            .map(str::to_owned)
            .collect();
        let Xdp::Attach(mode) = self.opts.xdp else {
            for iface in &used {
                if let Some(pins) = self
                    .opts
                    .pin_dir
                    .as_deref()
                    .and_then(|root| PinDir::existing(root, iface))
                {
                    tracing::info!(interface = %iface, "--xdp off: removing the XDP program an earlier run pinned");
                    pins.remove_all()?;
                }
            }
            return Ok(());
        };
        let gone: Vec<String> = self
            .dataplanes
            .keys()
            .filter(|iface| !used.contains(*iface))
            .cloned()
            .collect();
        for iface in gone {
            if let Some(mut dp) = self.dataplanes.remove(&iface) {
                release(&iface, &mut dp);
            }
        }
        for iface in fresh {
            if let Some(dp) = self.dataplanes.get_mut(iface)
                && let Err(e) = dp.forget_adverts()
            {
                tracing::error!(interface = %iface, "{e:#}");
            }
        }
        for iface in used {
            if self.dataplanes.contains_key(&iface) {
                continue;
            }
            match attach(&iface, mode, self.opts.pin_dir.as_deref()) {
                Ok((dp, previous)) => {
                    self.dataplanes.insert(iface.clone(), dp);
                    if let Some(previous) = previous {
                        self.previous.insert(iface, previous);
                    }
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
                () = self.renewer.wait_returned() => self.on_returned().await,
                ev = self.links.next() => match ev {
                    Some(ev) => self.on_link(ev).await,
                    None => bail!("the link watch ended"),
                },
                Some(change) = self.trackers.changes.recv() => self.on_tracker(change).await,
                Some(req) = self.requests.recv() => self.on_request(req).await,
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
        let actions = self.units[u].handle(&self.renewer, m, event, now);
        self.carry_out(u, &actions, now).await;
        actions
    }

    /// Executes the fsm's `actions` for unit `u`, records the states reached and steers.
    async fn carry_out(&mut self, u: usize, actions: &[(usize, Action)], now: Monotonic) {
        // Only deadlines moved, as when a Backup hears its master (most events by far): every
        // change of state comes with a `Notify`, so there is nothing to settle or steer.
        if actions.iter().all(|(_, a)| a.is_timer()) {
            for &(i, action) in actions {
                self.units[u].slots[i].set_timer(action);
            }
            return;
        }
        self.execute(u, actions, now).await;
        // Notify scripts run on, reaped by their own task.
        drop(self.units[u].settle(now));
        self.steer(u);
    }

    /// Carries out the fsm's actions for unit `u`'s members, starting a handover instead of
    /// removing a leaving Master's VIPs (`hand_over`).
    async fn execute(&mut self, u: usize, actions: &[(usize, Action)], now: Monotonic) {
        let Daemon {
            units,
            io,
            dataplanes,
            ..
        } = self;
        let unit = &mut units[u];
        for &(i, action) in actions {
            let cfg = unit.machine.member(i).config();
            let slot = &mut unit.slots[i];
            if hand_over(slot, action, cfg, dataplanes, now) {
                continue;
            }
            if action == (Action::AddVips { accept: false }) {
                // Strict mode in place before the addresses are: without accept mode, no frame
                // for them may reach the stack even for a moment (the state is recorded, and
                // the XDP tables follow it, only once every action has run).
                steer_slot(dataplanes, slot, cfg, State::Master);
            }
            slot.execute(action, io).await;
        }
    }

    /// Brings the XDP table of each member's interface in line with its state and handover
    /// (`handover::steering`). Without XDP on the interface none of it is enforced.
    fn steer(&mut self, u: usize) {
        let unit = &mut self.units[u];
        for (i, slot) in unit.slots.iter_mut().enumerate() {
            let cfg = unit.machine.member(i).config();
            let state = slot.state;
            steer_slot(&mut self.dataplanes, slot, cfg, state);
        }
        // A guard that came or went arms or disarms the dead-man switch on the next turn of
        // the loop, not at the next beat: a Master killed within a beat of taking over must
        // already be guarded (a test that killed one at once flaked on this).
        let armed = &self.heartbeat.armed;
        if unit
            .slots
            .iter()
            .any(|s| s.steering.is_some_and(|v| v.guard) != armed.contains(s.iface.name()))
        {
            self.heartbeat.next = Monotonic(0);
        }
    }

    async fn on_request(&mut self, req: control::Request) {
        match req {
            control::Request::Status(reply) => {
                let _ = reply.send(self.status());
            }
            control::Request::Handover { instance, reply } => {
                let _ = reply.send(self.yield_masters(instance.as_deref()).await);
            }
        }
    }

    /// The (unit, member) of every instance that `pick` picks.
    fn members(&self, pick: impl Fn(&Slot) -> bool) -> Vec<(usize, usize)> {
        self.units
            .iter()
            .enumerate()
            .flat_map(|(u, unit)| {
                unit.slots
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| pick(s))
                    .map(move |(m, _)| (u, m))
            })
            .collect()
    }

    /// `xvrrp handover [INSTANCE]`: Masters (all, or the one named and its sync group) yield.
    async fn yield_masters(&mut self, name: Option<&str>) -> Result<Vec<String>, String> {
        let named = self.members(|s| name.is_none_or(|n| s.cfg.name == n));
        if let Some(n) = name {
            let Some(&(u, m)) = named.first() else {
                return Err(format!("no instance is named {n:?}"));
            };
            let state = self.units[u].slots[m].state;
            if state != State::Master {
                return Err(format!(
                    "{n} is {}, not MASTER: nothing to hand over",
                    state_name(state)
                ));
            }
        }
        let before = self.members(|s| s.state == State::Master);
        let now = Monotonic::now();
        for (u, m) in named {
            // A sync group yields as a whole: later members may have gone already.
            if self.units[u].slots[m].state == State::Master {
                self.feed(u, m, Event::Yield, now).await;
            }
        }
        let after = self.members(|s| s.state == State::Master);
        let handed: Vec<String> = before
            .iter()
            .filter(|um| !after.contains(um))
            .map(|&(u, m)| self.units[u].slots[m].cfg.name.clone())
            .collect();
        if handed.is_empty() {
            return Err("no instance is MASTER: nothing to hand over".into());
        }
        tracing::info!(instances = ?handed, "handover requested");
        Ok(handed)
    }

    /// Moves every due handover on (see `handover`), and writes the heartbeat when due.
    async fn on_handovers_and_heartbeat(&mut self, now: Monotonic) {
        for u in 0..self.units.len() {
            let mut changed = false;
            for slot in &mut self.units[u].slots {
                if slot.handover.is_some_and(|h| h.deadline() <= now) {
                    changed |= advance(slot, &mut self.dataplanes, &self.io, now).await;
                }
            }
            if changed {
                self.steer(u);
            }
        }
        // Half a period early rather than a wake of its own: the beat is a store to shared
        // memory, a wake is not, and the timeout allows three periods.
        if self.heartbeat.next <= now + self.heartbeat.period / 2 {
            self.heartbeat.next = now + self.heartbeat.period;
            // The dead-man switch is armed only where we guard VIPs (Master): elsewhere it has
            // nothing to protect, and a Backup whose beat went stale would only have the
            // program mark the Master's adverts orphaned, to be redirected to once we guard.
            for (iface, dp) in &mut self.dataplanes {
                if !dp.pinned() {
                    continue;
                }
                let armed = self.heartbeat.armed.contains(iface);
                let guarding = self.units.iter().flat_map(|u| &u.slots).any(|s| {
                    s.iface.name() == iface.as_str() && s.steering.is_some_and(|v| v.guard)
                });
                if guarding != armed {
                    let timeout = if armed {
                        std::time::Duration::ZERO
                    } else {
                        self.heartbeat.timeout
                    };
                    if let Err(e) = dp.clear_orphaned() {
                        tracing::warn!(interface = %iface, "{e:#}");
                    }
                    dp.heartbeat(now, timeout);
                    if armed {
                        self.heartbeat.armed.remove(iface);
                    } else {
                        self.heartbeat.armed.insert(iface.clone());
                    }
                    continue;
                }
                if !armed {
                    continue;
                }
                dp.heartbeat(now, self.heartbeat.timeout);
                if dp.orphaned() {
                    tracing::warn!(
                        interface = %iface,
                        "XDP found the daemon's heartbeat stale while another router advertised \
                         (was the daemon stopped?); its guards are reset"
                    );
                    if let Err(e) = dp.clear_orphaned() {
                        tracing::warn!(interface = %iface, "{e:#}");
                    }
                }
            }
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
        let targets = self.members(|s| s.socket_key == d.key && s.cfg.vrid == repr.vrid);
        if targets.is_empty() {
            if let Some(c) = self.sockets.counters_mut(&d.key) {
                c.other_vrid += 1;
            }
            return;
        }
        for (u, m) in targets {
            self.units[u].reclaim(&self.renewer, m);
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
        let accepted = match self.units[u].renew(m, advert, at) {
            Some(_) => {
                self.delegate(u, m);
                true
            }
            None => {
                let actions = self.feed(u, m, Event::Advert(advert), at).await;
                actions.iter().any(|&(i, a)| {
                    i == m
                        && matches!(
                            a,
                            Action::ArmTimer {
                                timer: TimerId::MasterDown,
                                ..
                            }
                        )
                })
            }
        };
        let slot = &mut self.units[u].slots[m];
        if accepted && advert.priority != crate::fsm::PRIORITY_STOP && slot.state == State::Backup {
            slot.master = Some(advert.src);
            slot.last_advert = Some(at);
        }
    }

    fn next_deadline(&self) -> Option<Monotonic> {
        let slots = self.units.iter().flat_map(|u| &u.slots);
        // Only while a dead-man switch is armed, or about to be: a Backup has nothing to beat
        // for, and would otherwise wake every beat period for nothing.
        let beating = self.dataplanes.values().any(Dataplane::pinned)
            && (!self.heartbeat.armed.is_empty()
                || slots.clone().any(|s| s.steering.is_some_and(|v| v.guard)));
        let heartbeat = beating.then_some(self.heartbeat.next);
        slots
            .clone()
            .filter_map(|s| s.deadlines.next())
            .chain(slots.filter_map(|s| s.handover.map(|h| h.deadline())))
            .chain(heartbeat)
            .min()
    }

    /// Expires every due timer, one at a time, consulting the liveness map first for those
    /// that depend on adverts (see the module doc).
    async fn on_timers(&mut self) {
        self.on_handovers_and_heartbeat(Monotonic::now()).await;
        self.credit_soon(Monotonic::now()).await;
        // Handling a timer may arm or cancel others, so each is taken when reached, and passes
        // go on until one finds nothing due: one pass, and one to check, where restarting from
        // the first instance after each expiry made a wake of 50 Masters quadratic. Bounded,
        // as a bug must not spin.
        let slots: usize = self.units.iter().map(|u| u.slots.len()).sum();
        let mut budget = 256.max(8 * slots);
        loop {
            let mut expired = false;
            // One clock read a pass: a timer that falls due during it waits for the next.
            let now = Monotonic::now();
            for u in 0..self.units.len() {
                for m in 0..self.units[u].slots.len() {
                    while let Some((timer, at)) = self.units[u].slots[m].deadlines.take_due(now) {
                        if budget == 0 {
                            self.units[u].slots[m].deadlines.arm(timer, at);
                            tracing::warn!(
                                "too many timer expiries at once; continuing on the next turn"
                            );
                            return;
                        }
                        budget -= 1;
                        expired = true;
                        self.expire(u, m, timer, at, now).await;
                    }
                }
            }
            if !expired {
                return;
            }
        }
    }

    /// `timer` of member `m` of unit `u`, due at `at`, has expired at `now`.
    async fn expire(&mut self, u: usize, m: usize, timer: TimerId, at: Monotonic, now: Monotonic) {
        if matches!(timer, TimerId::MasterDown | TimerId::Adver) {
            // Credited or fed, an absorbed advert decides first; the timer stays due after.
            self.units[u].slots[m].deadlines.arm(timer, at);
            if self.credit(u, m).await {
                return;
            }
            self.units[u].slots[m].deadlines.cancel(timer);
        }
        if timer == TimerId::Adver && self.units[u].readvertise(m, now).await {
            return;
        }
        self.feed(u, m, Event::TimerExpired(timer), now).await;
    }

    /// Credits absorbed adverts to every Backup whose Master_Down_Timer falls due within one
    /// advert interval, not only to those due now. Each Backup must look at the liveness map
    /// once per Master_Down_Interval less an advert interval anyway; looking a little early
    /// lets one wake serve the Backups of all instances, where each woke on its own before (with
    /// 50 instances at 10 ms, some 1600 wakes a second became about 100).
    async fn credit_soon(&mut self, now: Monotonic) {
        for u in 0..self.units.len() {
            for m in 0..self.units[u].slots.len() {
                let slot = &self.units[u].slots[m];
                let soon = slot
                    .deadlines
                    .get(TimerId::MasterDown)
                    .is_some_and(|at| at <= now + slot.cfg.advert_int);
                if soon {
                    self.credit(u, m).await;
                }
            }
        }
    }

    /// Hands member `m` of unit `u`, whose Master_Down_Timer was just renewed, to the renewer
    /// thread, if its interface has a liveness map to renew it from (`renewer`).
    fn delegate(&mut self, u: usize, m: usize) {
        let slot = &mut self.units[u].slots[m];
        let (Some(dp), Some(deadline)) = (
            self.dataplanes.get(slot.iface.name()),
            slot.deadlines.get(TimerId::MasterDown),
        ) else {
            return;
        };
        let watch = Watch {
            map: dp.liveness_reader(),
            key: slot.liveness_key(),
            own: slot.source,
            version: slot.version_number(),
        };
        let heard = std::mem::take(&mut slot.heard);
        slot.deadlines.cancel(TimerId::MasterDown);
        slot.delegated = true;
        if let Err(refused) = self
            .renewer
            .delegate(slot.id, Delegated { heard, deadline }, watch)
        {
            slot.restore(refused);
        }
    }

    /// Takes back what the renewer thread returned: each such instance either has something
    /// newer in the map than a repeat, credited here, or its Master_Down_Timer is due, and
    /// expires on the next turn of the loop.
    async fn on_returned(&mut self) {
        for (id, d) in self.renewer.returned() {
            let found = self.units.iter().enumerate().find_map(|(u, unit)| {
                let m = unit.slots.iter().position(|s| s.id == id)?;
                Some((u, m))
            });
            // Gone with its unit (a reload), which reclaimed whatever it still had.
            let Some((u, m)) = found else { continue };
            self.units[u].slots[m].restore(d);
            self.credit(u, m).await;
        }
    }

    /// Acts on an absorbed advert in the liveness map for member `m` of unit `u`, if there is
    /// one to act on; returns whether there was.
    async fn credit(&mut self, u: usize, m: usize) -> bool {
        let slot = &mut self.units[u].slots[m];
        let Some(entry) = self
            .dataplanes
            .get(slot.iface.name())
            .and_then(|dp| dp.liveness_of(slot.liveness_key()))
        else {
            return false;
        };
        let version = slot.version_number();
        match slot.heard.credit(&entry, slot.source, version) {
            Credit::Nothing => false,
            Credit::Renewed { seen, deadline } => {
                slot.deadlines.arm(TimerId::MasterDown, deadline);
                slot.last_advert = Some(seen);
                self.delegate(u, m);
                true
            }
            Credit::Feed(advert, seen) => {
                tracing::debug!(instance = %slot.cfg.name, sender = %entry.sender, "crediting an absorbed advert");
                self.advert(u, m, advert, seen).await;
                true
            }
        }
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
            let actions = unit.handle(&self.renewer, m, Event::Shutdown, now);
            for (i, action) in actions {
                unit.slots[i].execute(action, &self.io).await;
            }
        }
        for slot in &mut unit.slots {
            // A member still handing over may hold its VIPs: they go with the unit.
            if slot.handover.take().is_some_and(|h| h.holds_vips()) {
                slot.remove_vips(&self.io).await;
            }
            steer_slot_off(&mut self.dataplanes, slot);
        }
        for run in unit.settle(now) {
            let _ = run.await;
        }
    }

    /// SIGTERM: every Master hands over (`handover`) and the daemon waits until each handover
    /// has ended, bounded by the slowest Backup's Master_Down_Interval plus the window.
    async fn stop_all(&mut self) {
        let now = Monotonic::now();
        let mut scripts = Vec::new();
        for u in 0..self.units.len() {
            for m in 0..self.units[u].slots.len() {
                let actions = self.units[u].handle(&self.renewer, m, Event::Shutdown, now);
                self.execute(u, &actions, now).await;
            }
            scripts.extend(self.units[u].settle(now));
            self.steer(u);
        }
        // Bounded by the deadlines above; the count only guards against a bug.
        for _ in 0..100_000 {
            let Some(at) = self
                .units
                .iter()
                .flat_map(|u| &u.slots)
                .filter_map(|s| s.handover.map(|h| h.deadline()))
                .min()
            else {
                break;
            };
            tokio::time::sleep_until(timers::instant_of(at)).await;
            self.on_handovers_and_heartbeat(Monotonic::now()).await;
        }
        for mut unit in std::mem::take(&mut self.units) {
            for slot in &mut unit.slots {
                steer_slot_off(&mut self.dataplanes, slot);
            }
        }
        for run in scripts {
            let _ = run.await;
        }
    }

    async fn shutdown(&mut self) {
        if let Err(e) = sd_notify::notify("STOPPING=1") {
            tracing::warn!("{e:#}");
        }
        self.stop_all().await;
        for (iface, mut dp) in std::mem::take(&mut self.dataplanes) {
            release(&iface, &mut dp);
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
                    .and_then(|dp| dp.liveness_of(slot.liveness_key()))
                    .filter(|e| slot.state == State::Backup && Some(e.sender) == slot.master)
                    .map(|e| e.last_seen);
                let last = slot.last_advert.max(absorbed);
                status.instances.push(control::InstanceStatus {
                    handover: slot.handover.map(|h| h.describe(now)),
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
            let vips = dp.vips().unwrap_or_default();
            // Frames XDP sent on to a new master, and dropped (strict VIPs; ARP / NS for
            // orphaned ones).
            for (name, n) in [
                (
                    "vip_redirected",
                    vips.iter().map(|v| v.redirected).sum::<u64>(),
                ),
                ("vip_dropped", vips.iter().map(|v| v.dropped).sum()),
            ] {
                if n != 0 {
                    counters.insert(name.into(), n);
                }
            }
            status.xdp.push(control::XdpStatus {
                interface: iface.clone(),
                mode: match dp.attachment() {
                    None => "detached".into(),
                    Some((_, None)) => "adopted".into(),
                    Some((_, Some(m))) => m.to_string(),
                },
                xdp_tx_dropped: Interface::by_name(iface)
                    .and_then(|i| drops_xdp_tx(dp, &i))
                    .unwrap_or(false),
                pinned: dp.pinned(),
                counters,
                vips: vips.iter().map(control::VipStatus::from).collect(),
            });
        }
        status
    }
}

/// Whether `action` starts a handover instead of being executed: a Master's `RemoveVips`,
/// on an interface with XDP that is up, with a non-zero window. `AddVips` ends a handover.
fn hand_over(
    slot: &mut Slot,
    action: Action,
    cfg: &crate::fsm::Config,
    dataplanes: &BTreeMap<String, Dataplane>,
    now: Monotonic,
) -> bool {
    match action {
        Action::AddVips { .. } => {
            slot.handover = None;
            false
        }
        Action::RemoveVips
            if slot.state == State::Master
                && slot.handover.is_none()
                && dataplanes.contains_key(slot.iface.name())
                && slot.cfg.handover_window_or_default().0 > 0
                && slot.iface.link_state().is_ok_and(|s| s == LinkState::Up) =>
        {
            slot.stop_announcing();
            slot.handover = Some(Handover::begin(cfg.version, cfg.advert_interval, now));
            tracing::info!(instance = %slot.cfg.name, "leaving master: serving the VIPs until the new master is seen");
            true
        }
        _ => false,
    }
}

/// Moves `slot`'s due handover on; returns whether its steering must change.
async fn advance(
    slot: &mut Slot,
    dataplanes: &mut BTreeMap<String, Dataplane>,
    io: &Io,
    now: Monotonic,
) -> bool {
    let Some(mut handover) = slot.handover else {
        return false;
    };
    let heard = dataplanes
        .get(slot.iface.name())
        .and_then(|dp| dp.liveness_of(slot.liveness_key()));
    let window = slot.cfg.handover_window_or_default().as_duration();
    let step = handover.poll(
        heard.as_ref(),
        slot.source,
        slot.cfg.advert_int,
        window,
        now,
    );
    slot.handover = Some(handover);
    match step {
        Step::Wait => false,
        Step::Redirect(to) => {
            let drops = dataplanes
                .get(slot.iface.name())
                .map_or(Ok(false), |dp| drops_xdp_tx(dp, &slot.iface))
                .unwrap_or_else(|e| {
                    tracing::warn!(instance = %slot.cfg.name, "{e:#}; redirecting as usual");
                    false
                });
            if drops {
                handover.without_redirect();
                slot.handover = Some(handover);
                tracing::warn!(
                    instance = %slot.cfg.name, new_master = %handover::mac(to),
                    "new master seen: VIPs kept for {:?}, quiet, without redirecting their \
                     frames to it: {}",
                    handover::DRAIN.min(window),
                    NO_XDP_TX
                );
            } else {
                tracing::info!(
                    instance = %slot.cfg.name, new_master = %handover::mac(to), ?window,
                    "new master seen: frames for the VIPs redirected to it"
                );
            }
            // Redirect before the VIPs go: from here on no frame for a VIP meets a stack
            // without it. The entry does not depend on accept mode or pinning while
            // redirecting.
            let redirect = handover::steering(
                slot.cfg.vrid,
                slot.state,
                slot.handover.as_ref(),
                true,
                false,
            );
            apply_steering(dataplanes, slot, redirect);
            true
        }
        Step::RemoveVips => {
            slot.remove_vips(io).await;
            // No longer held: the new master's advertisements may update our neighbour cache.
            true
        }
        Step::GiveUp => {
            tracing::warn!(instance = %slot.cfg.name, "no new master seen: VIPs removed");
            slot.handover = None;
            slot.remove_vips(io).await;
            true
        }
        Step::Done => {
            let redirected: u64 = slot
                .vips_by_device()
                .filter_map(|(device, addr)| {
                    let vips = dataplanes.get(device.name())?.vips().ok()?;
                    vips.into_iter()
                        .find(|v| v.addr == addr && v.steering.vrid == slot.cfg.vrid)
                })
                .map(|v| v.redirected)
                .sum();
            tracing::info!(instance = %slot.cfg.name, redirected, "handover window over");
            slot.handover = None;
            true
        }
    }
}

/// Why a handover cannot redirect, and what the operator can do about it.
const NO_XDP_TX: &str = "the interface drops what XDP sends out of it (a veth whose peer has \
                         neither an XDP program nor GRO: `ethtool -K <peer> gro on` where the \
                         peer is, or any XDP program on it, lets the redirect work)";

/// Whether what `dp`, attached to `iface`, sends back out of it would be dropped
/// (`xdp_features::drops_xdp_tx`); in generic (skb) mode it never is.
fn drops_xdp_tx(dp: &Dataplane, iface: &Interface) -> Result<bool> {
    if dp
        .attachment()
        .is_none_or(|(_, mode)| mode == Some(AttachMode::Skb))
    {
        return Ok(false);
    }
    xdp_features::drops_xdp_tx(iface)
}

/// Brings one slot's entries in its interface's XDP table in line with `handover::steering`
/// for the slot in `state`: the one recorded, or Master just before its VIPs are added.
fn steer_slot(
    dataplanes: &mut BTreeMap<String, Dataplane>,
    slot: &mut Slot,
    cfg: &crate::fsm::Config,
    state: State,
) {
    let accept = cfg.accept || cfg.priority == crate::fsm::PRIORITY_OWNER;
    let pinned = dataplanes
        .get(slot.iface.name())
        .is_some_and(Dataplane::pinned);
    let wanted = handover::steering(slot.cfg.vrid, state, slot.handover.as_ref(), accept, pinned);
    apply_steering(dataplanes, slot, wanted);
}

/// Takes one slot's entries out of the XDP tables of its devices.
fn steer_slot_off(dataplanes: &mut BTreeMap<String, Dataplane>, slot: &mut Slot) {
    apply_steering(dataplanes, slot, None);
}

/// Sets `wanted` for the slot's VIPs on its interface, and what follows from it
/// (`steering_elsewhere`) for its VIPs on other devices, in each device's XDP table.
fn apply_steering(
    dataplanes: &mut BTreeMap<String, Dataplane>,
    slot: &mut Slot,
    wanted: Option<VipSteering>,
) {
    if wanted == slot.steering {
        return;
    }
    let elsewhere = wanted.and_then(|w| steering_elsewhere(w, slot));
    let entries: Vec<(String, std::net::IpAddr, Option<VipSteering>)> = slot
        .vips_by_device()
        .map(|(device, addr)| {
            let steering = if *device == slot.iface {
                wanted
            } else {
                elsewhere
            };
            (device.name().to_owned(), addr, steering)
        })
        .collect();
    for (device, addr, steering) in entries {
        let Some(dp) = dataplanes.get_mut(&device) else {
            continue;
        };
        let done = match steering {
            Some(steering) => dp.set_vip(addr, steering),
            None => dp.remove_vip(addr),
        };
        if let Err(e) = done {
            tracing::error!(instance = %slot.cfg.name, interface = %device, "{e:#}");
        }
    }
    slot.steering = wanted;
}

/// What XDP on another device does with the slot's VIPs there when its interface's table
/// holds `wanted`. A redirect goes out of the slot's interface (XDP_REDIRECT), where the new
/// master was heard and its MAC is valid; the new master takes the frame in on its own
/// interface and, the VIP being a local address there, accepts it (weak host model; a strict
/// `rp_filter` would drop it, its source being reached through the VIP's device). Strict mode
/// applies as on the interface: RFC 5798 §6.4.3 concerns every VIP. A guard goes by what the
/// interface's program records in `TAKEOVERS` (the device's own program never hears the
/// virtual router's adverts), and sends frames on the same way.
fn steering_elsewhere(wanted: VipSteering, slot: &Slot) -> Option<VipSteering> {
    let egress = if wanted.redirect_to.is_some() || wanted.guard {
        match slot.iface.mac() {
            Ok(mac) => Some((slot.iface.index(), mac)),
            Err(e) => {
                tracing::error!(instance = %slot.cfg.name, "no redirect or guard on other devices: {e:#}");
                return None;
            }
        }
    } else {
        None
    };
    let steering = VipSteering { egress, ..wanted };
    (steering
        != VipSteering {
            vrid: wanted.vrid,
            ..VipSteering::default()
        })
    .then_some(steering)
}

/// Loads and attaches XDP on `iface`, pinned under `pin_root` when given (and possible);
/// returns what adopted pins held.
fn attach(
    iface: &str,
    mode: AttachMode,
    pin_root: Option<&std::path::Path>,
) -> Result<(Dataplane, Option<Previous>)> {
    let pins = pin_root.map(|root| PinDir::create(root, iface));
    let (mut dp, previous) = match pins {
        Some(Ok(pins)) => Dataplane::load_pinned(pins)?,
        Some(Err(e)) => {
            tracing::warn!(
                interface = %iface,
                "XDP not pinned, so it goes with the daemon if it dies: {e:#}"
            );
            (Dataplane::load()?, None)
        }
        None => (Dataplane::load()?, None),
    };
    let used = dp.attach(iface, mode)?;
    // What an earlier run's program recorded for other devices is in `previous` now.
    dp.forget_takeovers()?;
    dp.set_absorb(true);
    let interface = Interface::by_name(iface)?;
    dp.set_own_mac(interface.mac()?);
    match used {
        Some(mode) => {
            tracing::info!(interface = %iface, %mode, pinned = dp.pinned(), "XDP advert tracker attached, absorbing repeats");
            // Only a heads-up: each handover checks again.
            match drops_xdp_tx(&dp, &interface) {
                Ok(true) => {
                    tracing::warn!(interface = %iface, "planned handovers will keep the VIPs for a moment but not redirect their frames: {NO_XDP_TX}");
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(interface = %iface, "{e:#}"),
            }
        }
        None => {
            tracing::info!(interface = %iface, "XDP adopted from the earlier run's pins, absorbing repeats")
        }
    }
    Ok((dp, previous))
}

/// A clean goodbye to one interface's XDP: unpinned, then detached.
fn release(iface: &str, dp: &mut Dataplane) {
    if let Err(e) = dp.unpin() {
        tracing::warn!(interface = %iface, "{e:#}");
    }
    if let Err(e) = dp.detach() {
        tracing::warn!(interface = %iface, "{e:#}");
    }
}

fn state_name(state: State) -> &'static str {
    match state {
        State::Initialize => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
    }
}
