//! `vrrp_track_file` / `track_file`: a number in a file, read as keepalived reads it
//! (track_file.c, `process_track_file`), polled instead of watched with inotify.

use std::{
    io::Read,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use tokio::{sync::mpsc, time};

use super::TrackerChange;

/// keepalived reads at most this much of the file.
const READ_MAX: usize = 127;

/// What a tracked file does to one instance, given the weight the instance tracks it with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileEffect {
    /// The instance goes to FAULT.
    Fault,
    /// Added to the instance's priority.
    Adjust(i32),
}

/// keepalived's `update_track_file_status` / `process_update_vrrp_track_file_status`: with
/// weight 0 a non-zero value is a fault (`reverse`: a zero value is); otherwise the value
/// times the weight (negated by `reverse`), where -254 or less is a fault and more than 253
/// counts as 253.
pub fn effect(value: i64, weight: i32, reverse: bool) -> FileEffect {
    if weight == 0 {
        return if (value != 0) != reverse {
            FileEffect::Fault
        } else {
            FileEffect::Adjust(0)
        };
    }
    let sign = if reverse { -1 } else { 1 };
    let adjust = value.saturating_mul(i64::from(weight) * sign);
    if adjust <= -254 {
        FileEffect::Fault
    } else {
        FileEffect::Adjust(adjust.min(253) as i32)
    }
}

/// The number in `text` as C's `strtol(text, NULL, 0)` reads it: leading blanks, a sign,
/// `0x` for hex or a leading `0` for octal, digits up to the first other character, 0 when
/// there are none. `None` where keepalived ignores the file ("Invalid number"): outside
/// [-2^31, 2^31].
pub fn parse_value(text: &[u8]) -> Option<i64> {
    let mut rest = text;
    while let [b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c', tail @ ..] = rest {
        rest = tail;
    }
    let negative = matches!(rest.first(), Some(b'-'));
    if let [b'+' | b'-', tail @ ..] = rest {
        rest = tail;
    }
    let radix = match rest {
        [b'0', b'x' | b'X', d, ..] if d.is_ascii_hexdigit() => {
            rest = &rest[2..];
            16
        }
        [b'0', ..] => 8,
        _ => 10,
    };
    let mut value: i64 = 0;
    for &b in rest {
        let Some(d) = char::from(b).to_digit(radix) else {
            break;
        };
        value = value
            .saturating_mul(i64::from(radix))
            .saturating_add(i64::from(d));
    }
    let value = if negative { -value } else { value };
    (i64::from(i32::MIN)..=i64::from(i32::MAX) + 1)
        .contains(&value)
        .then_some(value)
}

/// The file's current value: 0 when it does not exist or cannot be opened (keepalived
/// treats a deleted file as 0), `None` when its number is out of range. Opened non-blocking
/// so that a FIFO at the path cannot hang the reader.
pub fn read_value(path: &Path) -> Option<i64> {
    let Ok(mut file) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
    else {
        return Some(0);
    };
    let mut buf = [0u8; READ_MAX];
    let n = file.read(&mut buf).unwrap_or(0);
    parse_value(&buf[..n])
}

/// Polls the file at `path` every `poll` and reports each new value, starting from
/// `initial` (what [`read_value`] gave when the instances were set up). Ends when the task
/// is dropped or `changes` is closed.
pub fn spawn(
    name: String,
    path: PathBuf,
    poll: Duration,
    initial: i64,
    changes: mpsc::Sender<TrackerChange>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = initial;
        // tokio panics on a zero period.
        let mut ticks = time::interval(poll.max(Duration::from_millis(1)));
        ticks.set_missed_tick_behavior(time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let at = path.clone();
            // A file on a hung network filesystem must block a pool thread, not the runtime.
            let Ok(read) = tokio::task::spawn_blocking(move || read_value(&at)).await else {
                continue;
            };
            match read {
                Some(value) if value != last => {
                    last = value;
                    tracing::info!(track_file = %name, value, "track file value changed");
                    let change = TrackerChange::File {
                        name: name.clone(),
                        value,
                    };
                    if changes.send(change).await.is_err() {
                        return;
                    }
                }
                Some(_) => {}
                None => tracing::info!(
                    track_file = %name,
                    path = %path.display(),
                    "invalid number in track file - ignoring"
                ),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_strtol_reads_them() {
        assert_eq!(parse_value(b"42\n"), Some(42));
        assert_eq!(parse_value(b"  \t-17 apples"), Some(-17));
        assert_eq!(parse_value(b"+5"), Some(5));
        assert_eq!(parse_value(b"0x1F"), Some(31));
        assert_eq!(parse_value(b"010"), Some(8));
        assert_eq!(parse_value(b"09"), Some(0));
        assert_eq!(parse_value(b"0x"), Some(0));
        assert_eq!(parse_value(b""), Some(0));
        assert_eq!(parse_value(b"abc"), Some(0));
        assert_eq!(parse_value(b"-"), Some(0));
    }

    #[test]
    fn out_of_range_is_ignored() {
        assert_eq!(parse_value(b"2147483648"), Some(2_147_483_648));
        assert_eq!(parse_value(b"2147483649"), None);
        assert_eq!(parse_value(b"-2147483648"), Some(-2_147_483_648));
        assert_eq!(parse_value(b"-2147483649"), None);
        assert_eq!(parse_value(b"99999999999999999999999"), None);
    }

    #[test]
    fn weight_zero_faults_on_non_zero() {
        assert_eq!(effect(0, 0, false), FileEffect::Adjust(0));
        assert_eq!(effect(3, 0, false), FileEffect::Fault);
        assert_eq!(effect(-1, 0, false), FileEffect::Fault);
        assert_eq!(effect(0, 0, true), FileEffect::Fault);
        assert_eq!(effect(7, 0, true), FileEffect::Adjust(0));
    }

    #[test]
    fn weighted_values_scale_and_clamp() {
        assert_eq!(effect(2, 10, false), FileEffect::Adjust(20));
        assert_eq!(effect(2, 10, true), FileEffect::Adjust(-20));
        assert_eq!(effect(-3, -10, false), FileEffect::Adjust(30));
        assert_eq!(effect(100, 10, false), FileEffect::Adjust(253));
        assert_eq!(effect(-253, 1, false), FileEffect::Adjust(-253));
        assert_eq!(effect(-254, 1, false), FileEffect::Fault);
        assert_eq!(effect(1, 254, true), FileEffect::Fault);
        assert_eq!(effect(i64::from(i32::MIN), 254, false), FileEffect::Fault);
    }

    #[test]
    fn missing_file_reads_as_zero() {
        let dir = std::env::temp_dir().join(format!("xvrrp-track-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("prio");
        assert_eq!(read_value(&path), Some(0));
        std::fs::write(&path, "12\n").unwrap();
        assert_eq!(read_value(&path), Some(12));
        std::fs::write(&path, "99999999999").unwrap();
        assert_eq!(read_value(&path), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
