//! Idle Backups' Master_Down_Timer, renewed from the liveness map on a thread of its own.
//!
//! With absorption on, a Backup whose master is steady has one thing left to do: once every
//! Master_Down_Interval less the age of the last advert (some 30 times a second at 10 ms
//! adverts), see in the liveness map that the master still advertises and renew the timer
//! (`Heard::credit`). On the daemon's task each of those wakes cost a runtime turn, an epoll
//! round trip and cache misses all over the daemon's state: tens of microseconds, most of an
//! idle Backup's CPU. Here a wake touches this thread's table and the map, nothing else.
//!
//! Once the fsm has renewed an instance's timer (`Unit::renew`), the daemon moves the
//! instance's `Heard` and the timer's deadline here ("delegates" it), and arms no
//! Master_Down_Timer of its own for it. The thread renews it while each newer absorbed advert
//! repeats the renewal (`Heard::renew`), and returns it, waking the daemon, when the daemon's
//! own look at the map is needed: something newer that is no repeat (left unconsumed for
//! `Heard::credit`), or nothing newer by the deadline (the timer then expires on the daemon's
//! next turn). The daemon takes an instance back itself before anything else touches it: a
//! socket advert, or any event of its unit (`Daemon::reclaim`). So at any time exactly one side
//! owns an instance's `Heard` and Master_Down deadline.

use std::{
    net::IpAddr,
    sync::{Arc, Condvar, Mutex, MutexGuard},
    time::Duration,
};

use anyhow::{Context as _, Result};
use tokio::sync::Notify;

use vrrp_common::maps::LivenessKey;

use super::liveness::{Heard, Repeat};
use crate::{dataplane::LivenessReader, time::Monotonic};

/// What is handed over, and back.
#[derive(Debug)]
pub struct Delegated {
    pub heard: Heard,
    /// Master_Down_Timer.
    pub deadline: Monotonic,
}

/// Where the thread reads an instance's slot, and how it judges it.
pub struct Watch {
    pub map: Arc<dyn LivenessReader>,
    pub key: LivenessKey,
    /// The instance's own address and version, as `Heard::renew` needs them.
    pub own: IpAddr,
    pub version: u8,
}

struct Entry {
    id: u64,
    state: Delegated,
    watch: Watch,
    /// Handed back, waiting for the daemon to collect it.
    returned: bool,
}

#[derive(Default)]
struct Table {
    entries: Vec<Entry>,
    stop: bool,
    /// The thread panicked: everything went back, and nothing is taken any more.
    broken: bool,
}

#[derive(Default)]
struct Shared {
    table: Mutex<Table>,
    /// The table changed in a way the thread must see before its next deadline.
    changed: Condvar,
    /// Some entry was handed back.
    returned: Notify,
}

pub struct Renewer {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Renewer {
    pub fn start() -> Result<Renewer> {
        let shared = Arc::new(Shared::default());
        let thread = std::thread::Builder::new()
            .name("xvrrp-renew".into())
            .spawn({
                let shared = shared.clone();
                move || {
                    // A Backup left with the thread would never time out: whatever went wrong,
                    // everything goes back to the daemon, which then renews on its own.
                    let run = std::panic::AssertUnwindSafe(|| run(&shared));
                    if std::panic::catch_unwind(run).is_err() {
                        tracing::error!(
                            "the renewer thread failed; the daemon renews Backups itself from now on"
                        );
                        let mut table = lock(&shared);
                        table.broken = true;
                        for e in &mut table.entries {
                            e.returned = true;
                        }
                        shared.returned.notify_one();
                    }
                }
            })
            .context("starting the renewer thread")?;
        Ok(Renewer {
            shared,
            thread: Some(thread),
        })
    }

    /// Hands instance `id` over, or gives `state` back if the thread is gone.
    pub fn delegate(&self, id: u64, state: Delegated, watch: Watch) -> Result<(), Delegated> {
        let mut table = self.table();
        if table.broken {
            return Err(state);
        }
        table.entries.retain(|e| e.id != id);
        table.entries.push(Entry {
            id,
            state,
            watch,
            returned: false,
        });
        self.shared.changed.notify_one();
        Ok(())
    }

    /// Takes instance `id` back, returned or not.
    pub fn reclaim(&self, id: u64) -> Option<Delegated> {
        let mut table = self.table();
        let i = table.entries.iter().position(|e| e.id == id)?;
        Some(table.entries.swap_remove(i).state)
    }

    /// The instances handed back since the last call.
    pub fn returned(&self) -> Vec<(u64, Delegated)> {
        let mut table = self.table();
        let (back, kept) = std::mem::take(&mut table.entries)
            .into_iter()
            .partition(|e| e.returned);
        table.entries = kept;
        back.into_iter().map(|e: Entry| (e.id, e.state)).collect()
    }

    /// Waits until some instance is handed back.
    pub async fn wait_returned(&self) {
        self.shared.returned.notified().await;
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        lock(&self.shared)
    }
}

impl Drop for Renewer {
    fn drop(&mut self) {
        self.table().stop = true;
        self.shared.changed.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The table, whoever panicked holding it: every change to it is a single push, removal or
/// field store, so it is never left half-done.
fn lock(shared: &Shared) -> MutexGuard<'_, Table> {
    shared.table.lock().unwrap_or_else(|e| e.into_inner())
}

fn run(shared: &Shared) {
    let mut table = lock(shared);
    while !table.stop {
        let now = Monotonic::now();
        let mut handed_back = false;
        // Every instance, not only those due: renewing from an advert already received is
        // never early, and it keeps every deadline on the phase of the latest adverts, so that
        // one wake a Master_Down_Interval serves all (with only the due ones, instances
        // delegated at different times kept apart, and the thread woke for each group).
        for e in table.entries.iter_mut().filter(|e| !e.returned) {
            let repeat = e
                .watch
                .map
                .read(e.watch.key)
                .map_or(Repeat::Nothing, |slot| {
                    e.state.heard.renew(&slot, e.watch.own, e.watch.version)
                });
            if let Repeat::Renewed { deadline, .. } = repeat {
                e.state.deadline = deadline;
            }
            if repeat == Repeat::Other || e.state.deadline <= now {
                e.returned = true;
                handed_back = true;
            }
        }
        if handed_back {
            shared.returned.notify_one();
        }
        let next = table
            .entries
            .iter()
            .filter(|e| !e.returned)
            .map(|e| e.state.deadline)
            .min();
        table = match next {
            // At the earliest deadline itself: that instance is then renewed or returned.
            Some(at) => {
                let wait = at.since(Monotonic::now()).max(Duration::from_micros(50));
                shared
                    .changed
                    .wait_timeout(table, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
            None => shared
                .changed
                .wait(table)
                .unwrap_or_else(|e| e.into_inner()),
        };
    }
}

#[cfg(test)]
mod tests {
    use std::{net::Ipv4Addr, time::Instant};

    use vrrp_common::maps::FAMILY_IPV4;

    use super::*;
    use crate::{
        daemon::liveness::Credit, dataplane::RouterLiveness, fsm::Advert, time::Centisecs,
    };

    const MASTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const US: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    const MS: u64 = 1_000_000;
    const KEY: LivenessKey = LivenessKey::new(7, FAMILY_IPV4);

    /// A liveness map of one slot that the test rewrites.
    struct Map(Mutex<RouterLiveness>);

    impl LivenessReader for Map {
        fn read(&self, key: LivenessKey) -> Option<RouterLiveness> {
            (key == KEY).then(|| self.0.lock().unwrap().clone())
        }
    }

    impl Map {
        fn new(priority: u8, last_seen: Monotonic) -> Arc<Map> {
            Arc::new(Map(Mutex::new(RouterLiveness {
                key: KEY,
                last_seen,
                adverts: 1,
                sender: MASTER,
                sender_mac: [2, 0, 0, 0, 0, 1],
                priority,
                version: 3,
                interval: Centisecs(1),
                orphaned: false,
            })))
        }

        fn set(&self, priority: u8, last_seen: Monotonic) {
            let mut slot = self.0.lock().unwrap();
            slot.priority = priority;
            slot.last_seen = last_seen;
        }
    }

    fn watch(map: &Arc<Map>) -> Watch {
        Watch {
            map: map.clone(),
            key: KEY,
            own: US,
            version: 3,
        }
    }

    const ADVERT: Advert = Advert {
        src: MASTER,
        priority: 200,
        max_adver_int: Centisecs(1),
    };

    /// A `Heard` whose fsm renewed `ADVERT` at `at`, adding `adds` ms.
    fn renewed(at: Monotonic, adds: u64) -> Heard {
        let mut heard = Heard::default();
        heard.validated(MASTER, 200, Centisecs(1), at);
        heard.renewed(ADVERT, at, Monotonic(at.0 + adds * MS));
        heard
    }

    /// Polls `returned` for up to 2 s.
    fn wait_for_return(r: &Renewer) -> Vec<(u64, Delegated)> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(2) {
            let back = r.returned();
            if !back.is_empty() {
                return back;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        panic!("nothing handed back in 2 s");
    }

    #[test]
    fn renews_while_the_master_advertises_and_returns_at_the_deadline_once_it_stops() {
        // Generous against a loaded machine: a pause of the test thread of up to 300 ms
        // between two adverts is not silence.
        const ADDS: u64 = 300;
        let start = Monotonic::now();
        let map = Map::new(200, start);
        let r = Renewer::start().unwrap();
        let first = Monotonic(start.0 + ADDS * MS);
        let state = Delegated {
            heard: renewed(start, ADDS),
            deadline: first,
        };
        r.delegate(1, state, watch(&map)).unwrap();
        // The master advertises every 10 ms for 0.5 s, then falls silent.
        let mut last = start;
        for _ in 0..50 {
            std::thread::sleep(Duration::from_millis(10));
            last = Monotonic::now();
            map.set(200, last);
            assert!(
                r.returned().is_empty(),
                "returned while the master advertised"
            );
        }
        let back = wait_for_return(&r);
        let returned_at = Monotonic::now();
        assert_eq!(back.len(), 1);
        let (id, d) = &back[0];
        assert_eq!(*id, 1);
        assert!(d.deadline > first, "never renewed");
        assert!(
            d.deadline <= Monotonic(last.0 + ADDS * MS),
            "renewed past the last advert"
        );
        assert!(returned_at >= d.deadline, "returned before the deadline");
        assert!(r.reclaim(1).is_none(), "collected once");
    }

    #[test]
    fn other_content_goes_back_at_once_unconsumed() {
        let start = Monotonic::now();
        // Validated, but not the renewal's: the daemon's own credit must see it.
        let mut heard = renewed(start, 30);
        heard.validated(MASTER, 150, Centisecs(1), start);
        let map = Map::new(150, Monotonic(start.0 + 1));
        let r = Renewer::start().unwrap();
        let far = Monotonic(start.0 + 60_000 * MS);
        let state = Delegated {
            heard,
            deadline: far,
        };
        r.delegate(2, state, watch(&map)).unwrap();
        let (_, mut d) = wait_for_return(&r).pop().unwrap();
        assert_eq!(d.deadline, far);
        let current = map.read(KEY).unwrap();
        match d.heard.credit(&current, US, 3) {
            Credit::Feed(advert, seen) => {
                assert_eq!((advert.priority, seen), (150, Monotonic(start.0 + 1)))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reclaim_takes_back_what_is_still_there_once() {
        let start = Monotonic::now();
        // Nothing newer than the renewal: nothing to do until the deadline.
        let map = Map::new(200, start);
        let r = Renewer::start().unwrap();
        let far = Monotonic(start.0 + 60_000 * MS);
        let state = Delegated {
            heard: renewed(start, 30),
            deadline: far,
        };
        r.delegate(3, state, watch(&map)).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let d = r.reclaim(3).expect("still delegated");
        assert_eq!(d.deadline, far);
        assert!(r.reclaim(3).is_none());
        assert!(r.returned().is_empty());
    }

    /// Panics on every read.
    struct Broken;

    impl LivenessReader for Broken {
        fn read(&self, _: LivenessKey) -> Option<RouterLiveness> {
            panic!("a reader that fails (this panic is the test's)")
        }
    }

    #[test]
    fn a_panicking_thread_gives_everything_back_and_takes_nothing_more() {
        let start = Monotonic::now();
        let r = Renewer::start().unwrap();
        let far = Monotonic(start.0 + 60_000 * MS);
        let watch = |map: Arc<dyn LivenessReader>| Watch {
            map,
            key: KEY,
            own: US,
            version: 3,
        };
        let state = || Delegated {
            heard: renewed(start, 30),
            deadline: far,
        };
        r.delegate(4, state(), watch(Arc::new(Broken))).unwrap();
        let back = wait_for_return(&r);
        assert_eq!((back[0].0, back[0].1.deadline), (4, far));
        let refused = r.delegate(5, state(), watch(Map::new(200, start)));
        assert_eq!(refused.map_err(|d| d.deadline), Err(far));
    }
}
