//! Routers running `fsm::Instance` on a simulated LAN with a simulated clock: adverts are
//! delivered after a fixed latency or dropped by partitions; routers crash, restart, shut down
//! and change priority. Properties: after any such history, exactly one Master emerges within
//! Master_Down_Interval + one Advertisement_Interval of the last change, it is the one RFC 5798
//! says, and nobody changes state while nothing changes.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use proptest::prelude::*;
use vrrp_userspace::{
    fsm::{
        Action, Advert, Config, Event, GarpConfig, Instance, State, TimerId, Tracker, TrackerId,
        Version, master_down_interval, skew_time,
    },
    time::{Centisecs, Monotonic},
};

const LATENCY: Duration = Duration::from_millis(1);
/// Every simulation loop stops here; a run that needs more is a livelock and fails.
const MAX_STEPS: usize = 200_000;
const TRACKER: TrackerId = TrackerId(1);

fn address(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10 + i as u8))
}

struct Router {
    cfg: Config,
    /// None while crashed.
    instance: Option<Instance>,
    timers: HashMap<TimerId, Monotonic>,
    vips: bool,
    /// The tracker's status, which outlives crashes of the router.
    tracker_failing: bool,
    /// When an advert last reached this router.
    heard: Option<Monotonic>,
}

impl Router {
    fn state(&self) -> Option<State> {
        self.instance.as_ref().map(Instance::state)
    }

    fn running(&self) -> bool {
        matches!(
            self.state(),
            Some(State::Backup | State::Master | State::Fault)
        )
    }
}

struct Delivery {
    at: Monotonic,
    from: usize,
    to: usize,
    advert: Advert,
}

struct Lan {
    now: Monotonic,
    routers: Vec<Router>,
    in_flight: Vec<Delivery>,
    /// Routers only hear each other within the same side.
    side: Vec<u8>,
    /// (when, router, new state) for every notify.
    transitions: Vec<(Monotonic, usize, State)>,
}

impl Lan {
    fn new(configs: Vec<Config>) -> Self {
        let side = vec![0; configs.len()];
        let routers = configs
            .into_iter()
            .map(|cfg| Router {
                cfg,
                instance: None,
                timers: HashMap::new(),
                vips: false,
                tracker_failing: false,
                heard: None,
            })
            .collect();
        Lan {
            now: Monotonic(1_000_000_000),
            routers,
            in_flight: Vec::new(),
            side,
            transitions: Vec::new(),
        }
    }

    fn event(&mut self, i: usize, event: Event) {
        let Some(instance) = self.routers[i].instance.as_mut() else {
            return;
        };
        let actions = instance.handle(event, self.now);
        let state = instance.state();
        for action in actions {
            match action {
                Action::SendAdvert { priority } => {
                    let advert = Advert {
                        src: self.routers[i].cfg.primary_address,
                        priority,
                        max_adver_int: self.routers[i].cfg.advert_interval,
                    };
                    for to in (0..self.routers.len())
                        .filter(|&to| to != i && self.side[to] == self.side[i])
                    {
                        self.in_flight.push(Delivery {
                            at: self.now + LATENCY,
                            from: i,
                            to,
                            advert,
                        });
                    }
                }
                Action::AddVips { .. } => self.routers[i].vips = true,
                Action::RemoveVips => self.routers[i].vips = false,
                Action::SendGarp { .. } => {}
                Action::Notify(_) => self.transitions.push((self.now, i, state)),
                Action::ArmTimer { timer, at } => {
                    self.routers[i].timers.insert(timer, at);
                }
                Action::CancelTimer(timer) => {
                    self.routers[i].timers.remove(&timer);
                }
            }
        }
    }

    fn start(&mut self, i: usize) {
        let mut cfg = self.routers[i].cfg.clone();
        cfg.trackers[0].failing = self.routers[i].tracker_failing;
        self.routers[i].instance = Some(Instance::new(cfg));
        self.event(i, Event::Startup);
    }

    fn toggle_tracker(&mut self, i: usize) {
        let failing = !self.routers[i].tracker_failing;
        self.routers[i].tracker_failing = failing;
        self.event(
            i,
            Event::Tracker {
                id: TRACKER,
                failing,
            },
        );
    }

    fn crash(&mut self, i: usize) {
        let r = &mut self.routers[i];
        r.instance = None;
        r.timers.clear();
        r.vips = false;
    }

    fn partition(&mut self, sides: &[u8]) {
        self.side.copy_from_slice(sides);
        // Adverts already on the wire across the cut are lost with the link.
        let side = &self.side;
        self.in_flight.retain(|d| side[d.from] == side[d.to]);
    }

    /// Runs every timer and delivery due up to `until`, in time order.
    fn run_until(&mut self, until: Monotonic) {
        for _ in 0..MAX_STEPS {
            let next_timer = self
                .routers
                .iter()
                .enumerate()
                .flat_map(|(i, r)| r.timers.iter().map(move |(&t, &at)| (at, i, t)))
                .min_by_key(|&(at, i, _)| (at, i));
            let next_delivery = self
                .in_flight
                .iter()
                .enumerate()
                .min_by_key(|(_, d)| d.at)
                .map(|(k, d)| (d.at, k));
            match (next_timer, next_delivery) {
                (Some((at, i, timer)), d) if at <= until && d.is_none_or(|(dat, _)| at <= dat) => {
                    self.now = self.now.max(at);
                    self.routers[i].timers.remove(&timer);
                    self.event(i, Event::TimerExpired(timer));
                }
                (_, Some((at, k))) if at <= until => {
                    self.now = self.now.max(at);
                    let d = self.in_flight.swap_remove(k);
                    if self.routers[d.to].instance.is_some() {
                        self.routers[d.to].heard = Some(self.now);
                        self.event(d.to, Event::Advert(d.advert));
                    }
                }
                _ => {
                    self.now = self.now.max(until);
                    return;
                }
            }
        }
        panic!("simulation did not settle in {MAX_STEPS} steps");
    }

    fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        self.run_until(until);
    }

    fn masters(&self) -> Vec<usize> {
        (0..self.routers.len())
            .filter(|&i| self.routers[i].state() == Some(State::Master))
            .collect()
    }

    fn priority(&self, i: usize) -> u8 {
        self.routers[i]
            .instance
            .as_ref()
            .map_or(0, Instance::priority)
    }

    /// Master_Down_Interval + one Advertisement_Interval for the slowest running router, plus
    /// the wire latency of the advert that settles it.
    fn settle_bound(&self) -> Duration {
        self.routers
            .iter()
            .filter_map(|r| r.instance.as_ref())
            .map(|i| {
                let c = i.config();
                master_down_interval(c.version, i.priority(), c.advert_interval)
                    + c.advert_interval.as_duration()
            })
            .max()
            .unwrap_or_default()
            + 2 * LATENCY
    }
}

fn config(
    i: usize,
    version: Version,
    priority: u8,
    interval: Centisecs,
    weight: i16,
    nopreempt: bool,
) -> Config {
    let mut cfg = Config::new(version, priority, interval, address(i));
    cfg.nopreempt = nopreempt;
    cfg.garp = GarpConfig {
        master_delay: Centisecs(0),
        ..GarpConfig::default()
    };
    cfg.trackers = vec![Tracker {
        id: TRACKER,
        weight,
        failing: false,
    }];
    cfg
}

// Deterministic scenarios -------------------------------------------------------------------------

#[test]
fn shutdown_hands_over_after_skew_time_not_master_down_interval() {
    for version in [Version::V3, Version::V2] {
        let interval = Centisecs(100);
        let mut lan = Lan::new(vec![
            config(0, version, 200, interval, -10, false),
            config(1, version, 100, interval, -10, false),
        ]);
        lan.start(0);
        lan.start(1);
        lan.advance(Duration::from_secs(10));
        assert_eq!(lan.masters(), vec![0]);

        let t = lan.now;
        lan.event(0, Event::Shutdown);
        lan.advance(Duration::from_secs(10));
        let took_over = lan
            .transitions
            .iter()
            .find(|&&(at, i, s)| at > t && i == 1 && s == State::Master);
        let skew = skew_time(version, 100, interval);
        assert_eq!(
            took_over.map(|&(at, ..)| at),
            Some(t + LATENCY + skew),
            "{version:?}"
        );
        assert!(skew < master_down_interval(version, 100, interval));
    }
}

#[test]
fn a_crash_hands_over_after_master_down_interval() {
    let interval = Centisecs(100);
    let mut lan = Lan::new(vec![
        config(0, Version::V3, 200, interval, -10, false),
        config(1, Version::V3, 100, interval, -10, false),
    ]);
    lan.start(0);
    lan.start(1);
    lan.advance(Duration::from_millis(10_500));
    let last_heard = lan.routers[1].heard.expect("router 1 heard the Master");
    lan.crash(0);
    lan.advance(Duration::from_secs(10));
    let took_over = lan
        .transitions
        .iter()
        .find(|&&(_, i, s)| i == 1 && s == State::Master);
    assert_eq!(
        took_over.map(|&(at, ..)| at),
        Some(last_heard + master_down_interval(Version::V3, 100, interval))
    );
}

#[test]
fn equal_priorities_started_together_elect_the_greatest_address() {
    for n in [2, 3] {
        let configs = (0..n)
            .map(|i| config(i, Version::V3, 100, Centisecs(100), -10, false))
            .collect();
        let mut lan = Lan::new(configs);
        for i in 0..n {
            lan.start(i);
        }
        lan.advance(Duration::from_secs(10));
        assert_eq!(lan.masters(), vec![n - 1]);
        assert_eq!(lan.routers.iter().filter(|r| r.vips).count(), 1);
    }
}

#[test]
fn nopreempt_keeps_a_lower_priority_master() {
    let mut lan = Lan::new(vec![
        config(0, Version::V3, 200, Centisecs(100), -10, true),
        config(1, Version::V3, 100, Centisecs(100), -10, true),
    ]);
    lan.start(1);
    lan.advance(Duration::from_secs(10));
    assert_eq!(lan.masters(), vec![1]);
    lan.start(0);
    lan.advance(Duration::from_secs(30));
    assert_eq!(
        lan.masters(),
        vec![1],
        "the higher priority router must not preempt"
    );

    // The same with preemption: router 0 takes over within its Master_Down_Interval.
    let mut lan = Lan::new(vec![
        config(0, Version::V3, 200, Centisecs(100), -10, false),
        config(1, Version::V3, 100, Centisecs(100), -10, false),
    ]);
    lan.start(1);
    lan.advance(Duration::from_secs(10));
    lan.start(0);
    lan.advance(master_down_interval(Version::V3, 200, Centisecs(100)) + 2 * LATENCY);
    assert_eq!(lan.masters(), vec![0]);
}

#[test]
fn tracker_weight_moves_mastership_and_back() {
    let mut lan = Lan::new(vec![
        config(0, Version::V3, 110, Centisecs(100), -20, false),
        config(1, Version::V3, 100, Centisecs(100), -20, false),
    ]);
    lan.start(0);
    lan.start(1);
    lan.advance(Duration::from_secs(10));
    assert_eq!(lan.masters(), vec![0]);
    lan.toggle_tracker(0);
    let bound = lan.settle_bound();
    lan.advance(bound);
    assert_eq!(lan.masters(), vec![1]);
    lan.toggle_tracker(0);
    let bound = lan.settle_bound();
    lan.advance(bound);
    assert_eq!(lan.masters(), vec![0]);
}

// Property tests -----------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Change {
    Crash(usize),
    Restart(usize),
    Shutdown(usize),
    Tracker(usize),
    /// Routers whose bit is set are cut off from the others.
    Partition(u8),
    Heal,
}

fn change(n: usize) -> impl Strategy<Value = Change> {
    prop_oneof![
        (0..n).prop_map(Change::Crash),
        (0..n).prop_map(Change::Restart),
        (0..n).prop_map(Change::Shutdown),
        (0..n).prop_map(Change::Tracker),
        (1u8..(1 << n) - 1).prop_map(Change::Partition),
        Just(Change::Heal),
    ]
}

#[derive(Clone, Debug)]
struct Setup {
    version: Version,
    interval: Centisecs,
    /// (base priority, tracker weight) per router.
    routers: Vec<(u8, i16)>,
    /// (centiseconds before the change, change)
    history: Vec<(u32, Change)>,
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        2usize..=3,
        prop_oneof![Just(Version::V2), Just(Version::V3)],
        prop_oneof![Just(10u32), Just(50), Just(100)],
    )
        .prop_flat_map(|(n, version, cs)| {
            let interval = if version == Version::V2 {
                Centisecs(100)
            } else {
                Centisecs(cs)
            };
            // Few distinct priorities, so ties happen often.
            let router = (
                prop_oneof![Just(90u8), Just(100), Just(110), Just(255)],
                prop_oneof![Just(-15i16), Just(-25), Just(30)],
            );
            (
                Just(version),
                Just(interval),
                prop::collection::vec(router, n),
                prop::collection::vec((0u32..600, change(n)), 1..12),
            )
        })
        .prop_map(|(version, interval, routers, history)| Setup {
            version,
            interval,
            routers,
            history,
        })
}

impl Setup {
    fn lan(&self, nopreempt: bool) -> Lan {
        // The owner always preempts (keepalived clears its nopreempt), so nopreempt runs
        // demote it to 254.
        let configs = self
            .routers
            .iter()
            .enumerate()
            .map(|(i, &(p, w))| {
                let p = if nopreempt { p.min(254) } else { p };
                config(i, self.version, p, self.interval, w, nopreempt)
            })
            .collect();
        let mut lan = Lan::new(configs);
        for i in 0..self.routers.len() {
            lan.start(i);
        }
        lan
    }
}

/// Applies `change`; false if it changed nothing (crashing a crashed router, …).
fn apply(lan: &mut Lan, change: Change) -> bool {
    match change {
        Change::Crash(i) if lan.routers[i].instance.is_some() => lan.crash(i),
        Change::Restart(i) if !lan.routers[i].running() => lan.start(i),
        Change::Shutdown(i) if lan.routers[i].running() => lan.event(i, Event::Shutdown),
        Change::Tracker(i) if lan.routers[i].running() => lan.toggle_tracker(i),
        Change::Partition(mask) => {
            let sides: Vec<u8> = (0..lan.routers.len()).map(|i| (mask >> i) & 1).collect();
            lan.partition(&sides);
        }
        Change::Heal if lan.side.iter().any(|&s| s != 0) => {
            let n = lan.routers.len();
            lan.partition(&vec![0; n]);
        }
        _ => return false,
    }
    true
}

/// Asserts that, right now, exactly the router RFC 5798 elects is Master and holds the VIPs.
fn assert_elected(lan: &Lan) -> Result<(), TestCaseError> {
    let running: Vec<usize> = (0..lan.routers.len())
        .filter(|&i| lan.routers[i].running())
        .collect();
    let masters = lan.masters();
    let holders: Vec<usize> = (0..lan.routers.len())
        .filter(|&i| lan.routers[i].vips)
        .collect();
    prop_assert_eq!(&holders, &masters, "VIPs are held by exactly the Masters");
    if running.is_empty() {
        prop_assert!(masters.is_empty());
        return Ok(());
    }
    prop_assert_eq!(masters.len(), 1, "exactly one Master among {:?}", running);
    // Highest priority wins. Among equals, RFC 5798 §6.4.2 makes a Backup accept an
    // equal-priority Master whatever its address, so the address decides only between routers
    // that are Master at the same time; `equal_priorities_started_together…` covers that.
    let top = running.iter().map(|&i| lan.priority(i)).max().unwrap();
    prop_assert_eq!(
        lan.priority(masters[0]),
        top,
        "Master {} is not of the highest priority",
        masters[0]
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Preemption on: after the last change, the highest-priority router is the only Master
    /// within Master_Down_Interval + one interval, and nothing moves afterwards.
    #[test]
    fn one_master_emerges_and_stays(setup in setup()) {
        let mut lan = setup.lan(false);
        let mut last_change = lan.now;
        for &(gap, change) in &setup.history {
            lan.advance(Centisecs(gap).as_duration());
            if apply(&mut lan, change) {
                last_change = lan.now;
            }
        }
        if apply(&mut lan, Change::Heal) {
            last_change = lan.now;
        }
        let bound = lan.settle_bound();
        lan.run_until(last_change + bound);
        assert_elected(&lan)?;

        let settled = lan.transitions.len();
        lan.advance(20 * setup.interval.as_duration());
        prop_assert_eq!(&lan.transitions[settled..], &[], "state changed while nothing changed");
        assert_elected(&lan)?;
    }

    /// nopreempt: the settled Master keeps its role through restarts and priority changes of
    /// the others; only its own departure or a healed partition (where two Masters meet and
    /// §6.4.3 picks the higher priority, then the greater address) moves mastership.
    #[test]
    fn nopreempt_master_keeps_its_role(setup in setup()) {
        let mut lan = setup.lan(true);
        let bound = lan.settle_bound();
        lan.advance(bound);
        for &(_, change) in &setup.history {
            let before = lan.masters();
            let contenders: Vec<(u8, IpAddr, usize)> =
                before.iter().map(|&i| (lan.priority(i), address(i), i)).collect();
            if !apply(&mut lan, change) {
                continue;
            }
            // Partitions are healed right after the cut has settled, so each change is judged alone.
            if let Change::Partition(_) = change {
                let bound = lan.settle_bound();
                lan.advance(bound);
                let split = lan.masters();
                apply(&mut lan, Change::Heal);
                let bound = lan.settle_bound();
                lan.advance(bound);
                let expected = split.iter().map(|&i| (lan.priority(i), address(i), i)).max().map(|(.., i)| i);
                prop_assert_eq!(lan.masters(), expected.into_iter().collect::<Vec<_>>());
                continue;
            }
            let bound = lan.settle_bound();
            lan.advance(bound);
            let after = lan.masters();
            let departed = match change {
                Change::Crash(i) | Change::Shutdown(i) => before.contains(&i),
                _ => false,
            };
            let running = (0..lan.routers.len()).any(|i| lan.routers[i].running());
            prop_assert_eq!(after.len(), usize::from(running), "one Master iff a router runs");
            if !departed && !before.is_empty() {
                prop_assert_eq!(&after, &before, "{:?} moved mastership from {:?}", change, contenders);
            }
        }
        let settled = lan.transitions.len();
        lan.advance(20 * setup.interval.as_duration());
        prop_assert_eq!(&lan.transitions[settled..], &[], "state changed while nothing changed");
    }
}
