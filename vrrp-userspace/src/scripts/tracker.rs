//! `vrrp_script` trackers: the script every `interval`, its result through keepalived's
//! fall/rise counter (vrrp_scheduler.c, `vrrp_init_script` and `vrrp_script_child_thread`).

use std::{sync::Arc, time::Duration};

use tokio::{sync::mpsc, time};

use super::{
    TrackerChange,
    exec::{Program, Stop},
};
use crate::config::VrrpScript;

/// keepalived's `result` counter for one script.
///
/// Values below `rise` mean down, `rise` and above mean up; `rise + fall - 1` is "up, with all
/// `fall` failures still to come". A script starts at `rise - 1` in an initial state in which
/// its first result is always reported, success or failure ("one success is enough").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hysteresis {
    rise: u32,
    fall: u32,
    result: u32,
    initial: bool,
}

impl Hysteresis {
    /// `rise` and `fall` below 1 count as 1, as the config parser already makes them.
    pub fn new(rise: u32, fall: u32) -> Hysteresis {
        let (rise, fall) = (rise.max(1), fall.max(1));
        Hysteresis {
            rise,
            fall,
            result: rise - 1,
            initial: true,
        }
    }

    /// Counts one run; `Some(up)` when the tracked state is to be reported.
    pub fn record(&mut self, success: bool) -> Option<bool> {
        let top = self.rise + self.fall - 1;
        let mut report = None;
        if success {
            if self.result < self.rise - 1 {
                self.result += 1;
            } else if self.result != top {
                if self.result < self.rise {
                    report = Some(true);
                }
                self.result = top;
            }
        } else if self.result > self.rise {
            self.result -= 1;
        } else {
            if self.result == self.rise || self.initial {
                report = Some(false);
            }
            self.result = 0;
        }
        self.initial = false;
        report
    }
}

/// Runs `script` until the returned task is dropped or aborted, or `changes` is closed.
/// The first run starts at once; a run that takes longer than `interval` delays the next to
/// the next whole interval, never overlapping it. A run gets the script's `timeout`
/// (keepalived: the interval when unset), after which it fails.
pub fn spawn(
    script: &VrrpScript,
    program: Program,
    changes: mpsc::Sender<TrackerChange>,
) -> tokio::task::JoinHandle<()> {
    let name: Arc<str> = script.name.as_str().into();
    // The config never yields a zero interval; tokio would panic on one.
    let interval = script.interval.as_duration().max(Duration::from_millis(1));
    let timeout = script.timeout.map_or(interval, |t| t.as_duration());
    let mut counter = Hysteresis::new(script.rise, script.fall);
    tokio::spawn(async move {
        let mut ticks = time::interval(interval);
        ticks.set_missed_tick_behavior(time::MissedTickBehavior::Skip);
        let mut last = None;
        loop {
            ticks.tick().await;
            let outcome = program.run(&[], timeout, Stop::Terminate).await;
            if last.as_ref() != Some(&outcome) {
                tracing::info!(script = %name, "script {outcome}");
            }
            let report = counter.record(outcome.success());
            last = Some(outcome);
            if let Some(up) = report {
                tracing::info!(script = %name, "VRRP_Script({name}) {}", if up { "succeeded" } else { "failed" });
                let change = TrackerChange::Script {
                    name: name.to_string(),
                    up,
                };
                if changes.send(change).await.is_err() {
                    return;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reports for a sequence of results, `None` where nothing is reported.
    fn run(rise: u32, fall: u32, results: &[bool]) -> Vec<Option<bool>> {
        let mut h = Hysteresis::new(rise, fall);
        results.iter().map(|&ok| h.record(ok)).collect()
    }

    #[test]
    fn first_result_is_always_reported() {
        assert_eq!(run(3, 3, &[true]), [Some(true)]);
        assert_eq!(run(3, 3, &[false]), [Some(false)]);
        assert_eq!(run(1, 1, &[true]), [Some(true)]);
        assert_eq!(run(1, 1, &[false]), [Some(false)]);
    }

    #[test]
    fn fall_failures_take_it_down_rise_successes_bring_it_up() {
        let (t, f) = (true, false);
        assert_eq!(
            run(2, 3, &[t, f, f, f, t, t, t]),
            [Some(true), None, None, Some(false), None, Some(true), None]
        );
    }

    #[test]
    fn a_success_resets_the_fall_count() {
        let (t, f) = (true, false);
        assert_eq!(
            run(1, 3, &[t, f, f, t, f, f, f]),
            [Some(true), None, None, None, None, None, Some(false)]
        );
    }

    #[test]
    fn a_failure_resets_the_rise_count() {
        let (t, f) = (true, false);
        assert_eq!(
            run(3, 1, &[f, t, t, f, t, t, t, t]),
            [Some(false), None, None, None, None, None, Some(true), None]
        );
    }

    #[test]
    fn repeated_results_report_nothing() {
        assert_eq!(run(2, 2, &[true; 5]), [Some(true), None, None, None, None]);
        assert_eq!(
            run(2, 2, &[false; 5]),
            [Some(false), None, None, None, None]
        );
    }
}
