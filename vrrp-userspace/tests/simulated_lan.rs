//! Routers running the `fsm` state machine on a simulated LAN with a simulated clock: adverts
//! are delivered after a fixed latency or dropped by partitions; routers crash, restart, shut
//! down, lose links and change priority. Properties: after any such history, exactly one Master
//! emerges within Master_Down_Interval + one Advertisement_Interval of the last change, it is
//! the one RFC 5798 says, and nobody changes state while nothing changes. The same holds for
//! routers running a keepalived sync group over two virtual routers, whose members never split.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use proptest::prelude::*;
use vrrp_userspace::{
    fsm::{
        Action, Advert, Config, Event, GarpConfig, Instance, State, SyncGroup, TimerId, Tracker,
        TrackerId, Version, master_down_interval, skew_time,
    },
    time::{Centisecs, Monotonic},
};

const LATENCY: Duration = Duration::from_millis(1);
/// Every simulation loop stops here; a run that needs more is a livelock and fails.
const MAX_STEPS: usize = 200_000;
const TRACKER: TrackerId = TrackerId(1);

fn address(router: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10 + router as u8))
}

/// What runs on one router: a lone instance, or a sync group with one member per virtual
/// router (VR) of the LAN.
trait Node: Sized {
    fn build(configs: &[Config]) -> Self;
    fn handle(&mut self, vr: usize, event: Event, now: Monotonic) -> Vec<(usize, Action)>;
    fn instance(&self, vr: usize) -> &Instance;
}

impl Node for Instance {
    fn build(configs: &[Config]) -> Self {
        Instance::new(configs[0].clone())
    }

    fn handle(&mut self, _vr: usize, event: Event, now: Monotonic) -> Vec<(usize, Action)> {
        Instance::handle(self, event, now)
            .into_iter()
            .map(|a| (0, a))
            .collect()
    }

    fn instance(&self, _vr: usize) -> &Instance {
        self
    }
}

impl Node for SyncGroup {
    fn build(configs: &[Config]) -> Self {
        SyncGroup::new(configs.iter().cloned().map(Instance::new).collect(), false)
    }

    fn handle(&mut self, vr: usize, event: Event, now: Monotonic) -> Vec<(usize, Action)> {
        SyncGroup::handle(self, vr, event, now)
    }

    fn instance(&self, vr: usize) -> &Instance {
        &self.members()[vr]
    }
}

struct Router<N> {
    /// One per VR.
    configs: Vec<Config>,
    /// None while crashed.
    node: Option<N>,
    /// (VR, timer, deadline), in arming order so equal deadlines fire deterministically.
    timers: Vec<(usize, TimerId, Monotonic)>,
    vips: Vec<bool>,
    /// The world outside the daemon, which outlives crashes: tracker status and links.
    tracker_failing: bool,
    link_up: Vec<bool>,
    /// When an advert last reached this router.
    heard: Option<Monotonic>,
}

impl<N: Node> Router<N> {
    fn state(&self, vr: usize) -> Option<State> {
        self.node.as_ref().map(|n| n.instance(vr).state())
    }

    fn states(&self) -> Vec<Option<State>> {
        (0..self.configs.len()).map(|vr| self.state(vr)).collect()
    }

    fn running(&self) -> bool {
        self.states()
            .iter()
            .any(|s| matches!(s, Some(State::Backup | State::Master | State::Fault)))
    }

    /// Running and healthy on every VR: a candidate for Master.
    fn eligible(&self) -> bool {
        self.states()
            .iter()
            .all(|s| matches!(s, Some(State::Backup | State::Master)))
    }

    fn priority(&self) -> u8 {
        self.node.as_ref().map_or(0, |n| n.instance(0).priority())
    }
}

struct Delivery {
    at: Monotonic,
    vr: usize,
    from: usize,
    to: usize,
    advert: Advert,
}

struct Lan<N> {
    now: Monotonic,
    routers: Vec<Router<N>>,
    in_flight: Vec<Delivery>,
    /// Per VR: routers only hear each other on the same side.
    side: Vec<Vec<u8>>,
    /// (when, router, VR, new state) for every notify.
    transitions: Vec<(Monotonic, usize, usize, State)>,
}

impl<N: Node> Lan<N> {
    /// `configs[router][vr]`.
    fn new(configs: Vec<Vec<Config>>) -> Self {
        let vrs = configs[0].len();
        let side = vec![vec![0; configs.len()]; vrs];
        let routers = configs
            .into_iter()
            .map(|configs| Router {
                node: None,
                timers: Vec::new(),
                vips: vec![false; vrs],
                tracker_failing: false,
                link_up: vec![true; vrs],
                heard: None,
                configs,
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

    fn vrs(&self) -> usize {
        self.side.len()
    }

    fn event(&mut self, i: usize, vr: usize, event: Event) {
        let now = self.now;
        let Some(node) = self.routers[i].node.as_mut() else {
            return;
        };
        let actions = node.handle(vr, event, now);
        let states = self.routers[i].states();
        // Shutting a group down goes member by member, so stopped members do not count.
        let running = states.iter().filter(|&&s| s != Some(State::Initialize));
        let masters = running
            .clone()
            .filter(|&&s| s == Some(State::Master))
            .count();
        assert!(
            masters == 0 || masters == running.count(),
            "router {i} split its group: {states:?}"
        );
        for (vr, action) in actions {
            let router = &mut self.routers[i];
            match action {
                Action::SendAdvert { priority } => {
                    let advert = Advert {
                        src: router.configs[vr].primary_address,
                        priority,
                        max_adver_int: router.configs[vr].advert_interval,
                    };
                    let side = &self.side[vr];
                    for to in (0..side.len()).filter(|&to| to != i && side[to] == side[i]) {
                        self.in_flight.push(Delivery {
                            at: now + LATENCY,
                            vr,
                            from: i,
                            to,
                            advert,
                        });
                    }
                }
                Action::AddVips { .. } => router.vips[vr] = true,
                Action::RemoveVips => router.vips[vr] = false,
                Action::SendGarp { .. } => {}
                Action::Notify(_) => {
                    let state = states[vr].expect("a running node notifies");
                    self.transitions.push((now, i, vr, state));
                }
                Action::ArmTimer { timer, at } => {
                    router.timers.retain(|&(v, t, _)| (v, t) != (vr, timer));
                    router.timers.push((vr, timer, at));
                }
                Action::CancelTimer(timer) => {
                    router.timers.retain(|&(v, t, _)| (v, t) != (vr, timer));
                }
            }
        }
    }

    fn start(&mut self, i: usize) {
        let router = &mut self.routers[i];
        let mut configs = router.configs.clone();
        for cfg in &mut configs {
            cfg.trackers[0].failing = router.tracker_failing;
        }
        router.node = Some(N::build(&configs));
        for vr in 0..self.vrs() {
            if !self.routers[i].link_up[vr] {
                self.event(i, vr, Event::Interface { up: false });
            }
        }
        for vr in 0..self.vrs() {
            self.event(i, vr, Event::Startup);
        }
    }

    fn shutdown(&mut self, i: usize) {
        for vr in 0..self.vrs() {
            self.event(i, vr, Event::Shutdown);
        }
    }

    fn crash(&mut self, i: usize) {
        let router = &mut self.routers[i];
        router.node = None;
        router.timers.clear();
        router.vips.fill(false);
    }

    fn toggle_tracker(&mut self, i: usize) {
        let failing = !self.routers[i].tracker_failing;
        self.routers[i].tracker_failing = failing;
        self.event(
            i,
            0,
            Event::Tracker {
                id: TRACKER,
                failing,
            },
        );
    }

    fn toggle_link(&mut self, i: usize, vr: usize) {
        let up = !self.routers[i].link_up[vr];
        self.routers[i].link_up[vr] = up;
        self.event(i, vr, Event::Interface { up });
    }

    fn partition(&mut self, vr: usize, sides: Vec<u8>) {
        self.side[vr] = sides;
        // Adverts already on the wire across the cut are lost with the link.
        let side = &self.side;
        self.in_flight
            .retain(|d| side[d.vr][d.from] == side[d.vr][d.to]);
    }

    /// Runs every timer and delivery due up to `until`, in time order.
    fn run_until(&mut self, until: Monotonic) {
        for _ in 0..MAX_STEPS {
            let next_timer = self
                .routers
                .iter()
                .enumerate()
                .flat_map(|(i, r)| r.timers.iter().map(move |&(vr, t, at)| (at, i, vr, t)))
                .min_by_key(|&(at, i, ..)| (at, i));
            let next_delivery = self
                .in_flight
                .iter()
                .enumerate()
                .min_by_key(|(_, d)| d.at)
                .map(|(k, d)| (d.at, k));
            match (next_timer, next_delivery) {
                (Some((at, i, vr, timer)), d)
                    if at <= until && d.is_none_or(|(dat, _)| at <= dat) =>
                {
                    self.now = self.now.max(at);
                    self.routers[i]
                        .timers
                        .retain(|&(v, t, _)| (v, t) != (vr, timer));
                    self.event(i, vr, Event::TimerExpired(timer));
                }
                (_, Some((at, k))) if at <= until => {
                    self.now = self.now.max(at);
                    // `remove`, not `swap_remove`: adverts due at the same instant arrive in
                    // the order they were sent, as on a wire (a Master's last advert, then its
                    // priority 0 when it faults at that instant).
                    let d = self.in_flight.remove(k);
                    if self.routers[d.to].node.is_some() {
                        self.routers[d.to].heard = Some(self.now);
                        self.event(d.to, d.vr, Event::Advert(d.advert));
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

    /// Routers that are Master (of every VR: `event` checks groups never split).
    fn masters(&self) -> Vec<usize> {
        (0..self.routers.len())
            .filter(|&i| self.routers[i].state(0) == Some(State::Master))
            .collect()
    }

    /// Master_Down_Interval + one Advertisement_Interval for the slowest running instance,
    /// plus the wire latency of the advert that settles it.
    fn settle_bound(&self) -> Duration {
        self.routers
            .iter()
            .filter_map(|r| r.node.as_ref())
            .flat_map(|n| (0..self.vrs()).map(move |vr| n.instance(vr)))
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
    router: usize,
    version: Version,
    priority: u8,
    interval: Centisecs,
    weight: i16,
    nopreempt: bool,
) -> Config {
    let mut cfg = Config::new(version, priority, interval, address(router));
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

/// A LAN of lone instances, one VR.
fn single(configs: Vec<Config>) -> Lan<Instance> {
    Lan::new(configs.into_iter().map(|c| vec![c]).collect())
}

// Deterministic scenarios -------------------------------------------------------------------------

#[test]
fn shutdown_hands_over_after_skew_time_not_master_down_interval() {
    for version in [Version::V3, Version::V2] {
        let interval = Centisecs(100);
        let mut lan = single(vec![
            config(0, version, 200, interval, -10, false),
            config(1, version, 100, interval, -10, false),
        ]);
        lan.start(0);
        lan.start(1);
        lan.advance(Duration::from_secs(10));
        assert_eq!(lan.masters(), vec![0]);

        let t = lan.now;
        lan.shutdown(0);
        lan.advance(Duration::from_secs(10));
        let took_over = lan
            .transitions
            .iter()
            .find(|&&(at, i, _, s)| at > t && i == 1 && s == State::Master);
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
    let mut lan = single(vec![
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
        .find(|&&(_, i, _, s)| i == 1 && s == State::Master);
    assert_eq!(
        took_over.map(|&(at, ..)| at),
        Some(last_heard + master_down_interval(Version::V3, 100, interval))
    );
}

#[test]
fn equal_priorities_started_together_elect_the_greatest_address() {
    for n in [2, 3] {
        let mut lan = single(
            (0..n)
                .map(|i| config(i, Version::V3, 100, Centisecs(100), -10, false))
                .collect(),
        );
        for i in 0..n {
            lan.start(i);
        }
        lan.advance(Duration::from_secs(10));
        assert_eq!(lan.masters(), vec![n - 1]);
        assert_eq!(lan.routers.iter().filter(|r| r.vips[0]).count(), 1);
    }
}

#[test]
fn nopreempt_keeps_a_lower_priority_master() {
    let mut lan = single(vec![
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
    let mut lan = single(vec![
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
fn preempt_delay_holds_preemption_for_the_delay_after_the_first_lower_advert() {
    let interval = Centisecs(100);
    let mut patient = config(0, Version::V3, 200, interval, -10, false);
    patient.preempt_delay = Centisecs::from_secs(10);
    let mut lan = single(vec![
        patient,
        config(1, Version::V3, 100, interval, -10, false),
    ]);
    lan.start(1);
    lan.advance(Duration::from_secs(10));
    lan.start(0);
    let mark = lan.transitions.len();
    for _ in 0..200 {
        if lan.routers[0].heard.is_some() {
            break;
        }
        lan.advance(Duration::from_millis(10));
    }
    let h1 = lan.routers[0]
        .heard
        .expect("router 0 hears the Master within 2 s");
    lan.advance(Duration::from_secs(30));
    let took_over = lan.transitions[mark..]
        .iter()
        .find(|&&(_, i, _, s)| i == 0 && s == State::Master)
        .map(|&(at, ..)| at)
        .expect("router 0 preempts in the end");
    let mdi = master_down_interval(Version::V3, 200, interval);
    assert!(
        took_over >= h1 + Duration::from_secs(10),
        "not before the delay"
    );
    assert!(
        took_over <= h1 + Duration::from_secs(10) + mdi,
        "within one Master_Down_Interval after"
    );
    assert_eq!(lan.masters(), vec![0]);
}

#[test]
fn tracker_weight_moves_mastership_and_back() {
    let mut lan = single(vec![
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

#[test]
fn a_sync_group_fails_over_as_a_whole_when_one_link_fails() {
    let group = |router, priority| {
        (0..2)
            .map(|_| config(router, Version::V3, priority, Centisecs(100), 0, false))
            .collect()
    };
    let mut lan: Lan<SyncGroup> = Lan::new(vec![group(0, 200), group(1, 100)]);
    lan.start(0);
    lan.start(1);
    lan.advance(Duration::from_secs(10));
    assert_eq!(lan.masters(), vec![0]);

    // Router 0 loses VR 1's link: both its members go FAULT and send priority 0, so router 1
    // takes both VRs over after Skew_Time.
    lan.toggle_link(0, 1);
    let t = lan.now;
    lan.advance(Duration::from_secs(1));
    assert_eq!(lan.masters(), vec![1]);
    assert_eq!(lan.routers[0].states(), vec![Some(State::Fault); 2]);
    let taken = lan
        .transitions
        .iter()
        .filter(|&&(at, i, _, s)| at > t && i == 1 && s == State::Master);
    assert!(
        taken
            .clone()
            .all(|&(at, ..)| at == t + LATENCY + skew_time(Version::V3, 100, Centisecs(100)))
    );
    assert_eq!(taken.count(), 2);

    // Only VR 0 is cut: router 1's VR 0 member wants Master, its VR 1 member still hears
    // router 0, so the group stays Backup rather than split.
    lan.toggle_link(0, 1);
    let bound = lan.settle_bound();
    lan.advance(bound);
    assert_eq!(lan.masters(), vec![0]);
    lan.partition(0, vec![0, 1]);
    let before = lan.transitions.len();
    lan.advance(Duration::from_secs(30));
    assert_eq!(&lan.transitions[before..], &[], "nobody moves");
    assert_eq!(lan.masters(), vec![0]);
    assert_eq!(lan.routers[1].states(), vec![Some(State::Backup); 2]);
}

// Property tests -----------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Change {
    Crash(usize),
    Restart(usize),
    Shutdown(usize),
    Tracker(usize),
    /// Toggles a router's link on a VR.
    Link(usize, usize),
    /// On a VR, routers whose bit is set are cut off from the others.
    Partition(usize, u8),
    Heal,
}

fn change(n: usize, vrs: usize) -> impl Strategy<Value = Change> {
    prop_oneof![
        (0..n).prop_map(Change::Crash),
        (0..n).prop_map(Change::Restart),
        (0..n).prop_map(Change::Shutdown),
        (0..n).prop_map(Change::Tracker),
        (0..n, 0..vrs).prop_map(|(i, vr)| Change::Link(i, vr)),
        (0..vrs, 1u8..(1 << n) - 1).prop_map(|(vr, mask)| Change::Partition(vr, mask)),
        Just(Change::Heal),
    ]
}

#[derive(Clone, Debug)]
struct Setup {
    version: Version,
    interval: Centisecs,
    /// (base priority, tracker weight) per router, the same on every VR.
    routers: Vec<(u8, i16)>,
    /// (centiseconds before the change, change)
    history: Vec<(u32, Change)>,
}

fn setup(vrs: usize) -> impl Strategy<Value = Setup> {
    (
        2usize..=3,
        prop_oneof![Just(Version::V2), Just(Version::V3)],
        prop_oneof![Just(10u32), Just(50), Just(100)],
    )
        .prop_flat_map(move |(n, version, cs)| {
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
                prop::collection::vec((0u32..600, change(n, vrs)), 1..12),
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
    fn lan<N: Node>(&self, vrs: usize, nopreempt: bool) -> Lan<N> {
        // The owner always preempts (keepalived clears its nopreempt), so nopreempt runs
        // demote it to 254.
        let configs = self
            .routers
            .iter()
            .enumerate()
            .map(|(i, &(p, w))| {
                let p = if nopreempt { p.min(254) } else { p };
                vec![config(i, self.version, p, self.interval, w, nopreempt); vrs]
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
fn apply<N: Node>(lan: &mut Lan<N>, change: Change) -> bool {
    match change {
        Change::Crash(i) if lan.routers[i].node.is_some() => lan.crash(i),
        Change::Restart(i) if !lan.routers[i].running() => lan.start(i),
        Change::Shutdown(i) if lan.routers[i].running() => lan.shutdown(i),
        Change::Tracker(i) if lan.routers[i].running() => lan.toggle_tracker(i),
        Change::Link(i, vr) => lan.toggle_link(i, vr),
        Change::Partition(vr, mask) => {
            let sides = (0..lan.routers.len()).map(|i| (mask >> i) & 1).collect();
            lan.partition(vr, sides);
        }
        Change::Heal if lan.side.iter().flatten().any(|&s| s != 0) => {
            for vr in 0..lan.vrs() {
                lan.partition(vr, vec![0; lan.routers.len()]);
            }
        }
        _ => return false,
    }
    true
}

/// Asserts that, right now, exactly the router RFC 5798 elects is Master and holds the VIPs.
fn assert_elected<N: Node>(lan: &Lan<N>) -> Result<(), TestCaseError> {
    let eligible: Vec<usize> = (0..lan.routers.len())
        .filter(|&i| lan.routers[i].eligible())
        .collect();
    let masters = lan.masters();
    for vr in 0..lan.vrs() {
        let holders: Vec<usize> = (0..lan.routers.len())
            .filter(|&i| lan.routers[i].vips[vr])
            .collect();
        prop_assert_eq!(
            &holders,
            &masters,
            "VR {} VIPs are held by exactly the Masters",
            vr
        );
    }
    for r in &lan.routers {
        let states = r.states();
        prop_assert!(
            states.iter().all(|s| *s == states[0]),
            "members agree: {:?}",
            states
        );
    }
    if eligible.is_empty() {
        prop_assert!(masters.is_empty());
        return Ok(());
    }
    prop_assert_eq!(masters.len(), 1, "exactly one Master among {:?}", eligible);
    prop_assert!(eligible.contains(&masters[0]));
    // Highest priority wins. Among equals, RFC 5798 §6.4.2 makes a Backup accept an
    // equal-priority Master whatever its address, so the address decides only between routers
    // that are Master at the same time; `equal_priorities_started_together…` covers that.
    let top = eligible
        .iter()
        .map(|&i| lan.routers[i].priority())
        .max()
        .unwrap();
    prop_assert_eq!(
        lan.routers[masters[0]].priority(),
        top,
        "Master {} is not of the highest priority",
        masters[0]
    );
    Ok(())
}

/// Plays `setup` with preemption on, heals every partition, and checks the election within
/// the bound and its stability for 20 intervals after.
fn elects_and_stays<N: Node>(setup: &Setup, vrs: usize) -> Result<(), TestCaseError> {
    let mut lan: Lan<N> = setup.lan(vrs, false);
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
    prop_assert_eq!(
        &lan.transitions[settled..],
        &[],
        "state changed while nothing changed"
    );
    assert_elected(&lan)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Preemption on: after the last change, the highest-priority router is the only Master
    /// within Master_Down_Interval + one interval, and nothing moves afterwards.
    #[test]
    fn one_master_emerges_and_stays(setup in setup(1)) {
        elects_and_stays::<Instance>(&setup, 1)?;
    }

    /// The same with every router running a sync group over two VRs (tracker weights ignored,
    /// as keepalived does without sync_group_tracking_weight): groups never split.
    #[test]
    fn one_sync_group_master_emerges_and_stays(setup in setup(2)) {
        elects_and_stays::<SyncGroup>(&setup, 2)?;
    }

    /// nopreempt: the settled Master keeps its role through restarts and priority changes of
    /// the others; only its own departure or a healed partition (where two Masters meet and
    /// §6.4.3 picks the higher priority, then the greater address) moves mastership.
    #[test]
    fn nopreempt_master_keeps_its_role(setup in setup(1)) {
        let mut lan: Lan<Instance> = setup.lan(1, true);
        let bound = lan.settle_bound();
        lan.advance(bound);
        for &(_, change) in &setup.history {
            let before = lan.masters();
            if !apply(&mut lan, change) {
                continue;
            }
            // Partitions are healed right after the cut has settled, so each change is judged alone.
            if let Change::Partition(..) = change {
                let bound = lan.settle_bound();
                lan.advance(bound);
                let split = lan.masters();
                apply(&mut lan, Change::Heal);
                let bound = lan.settle_bound();
                lan.advance(bound);
                let expected = split
                    .iter()
                    .map(|&i| (lan.routers[i].priority(), address(i), i))
                    .max()
                    .map(|(.., i)| i);
                prop_assert_eq!(lan.masters(), expected.into_iter().collect::<Vec<_>>());
                continue;
            }
            let bound = lan.settle_bound();
            lan.advance(bound);
            let after = lan.masters();
            let eligible = (0..lan.routers.len()).any(|i| lan.routers[i].eligible());
            prop_assert_eq!(after.len(), usize::from(eligible), "one Master iff a router can be");
            if let [m] = before[..]
                && lan.routers[m].eligible()
            {
                prop_assert_eq!(&after, &before, "{:?} moved mastership", change);
            }
        }
        let settled = lan.transitions.len();
        lan.advance(20 * setup.interval.as_duration());
        prop_assert_eq!(&lan.transitions[settled..], &[], "state changed while nothing changed");
    }
}
