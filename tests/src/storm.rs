//! Prebuilt frames written to an interface as fast as one thread can, for storms of hostile
//! traffic: an `AF_PACKET` socket that bypasses the qdisc, `sendmmsg` batches cycling through
//! the frames. The kernel has no pktgen; this is what comes closest from userspace.

use std::{
    io,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use crate::netns::Netns;

/// Frames handed to the kernel per `sendmmsg`.
const BATCH: usize = 64;

/// A running storm; stopped (and its thread joined) on drop.
pub struct Storm {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    started: Instant,
    thread: Option<JoinHandle<io::Result<()>>>,
}

/// What a storm sent, over how long.
#[derive(Clone, Copy, Debug)]
pub struct Sent {
    pub frames: u64,
    pub elapsed: Duration,
}

impl Sent {
    pub fn per_second(&self) -> f64 {
        self.frames as f64 / self.elapsed.as_secs_f64()
    }
}

impl Storm {
    /// Opens the socket on `interface` inside `ns` and sends `frames` round-robin as fast as
    /// it can until stopped, or for `limit` at most.
    pub fn start(ns: &Netns, interface: &str, frames: Vec<Vec<u8>>, limit: Duration) -> Storm {
        Self::spawn(ns, interface, frames, None, limit)
    }

    /// The same at a walk: every frame once per `gap`, for adverts a daemon must read one by
    /// one rather than a flood.
    pub fn paced(
        ns: &Netns,
        interface: &str,
        frames: Vec<Vec<u8>>,
        gap: Duration,
        limit: Duration,
    ) -> Storm {
        Self::spawn(ns, interface, frames, Some(gap), limit)
    }

    fn spawn(
        ns: &Netns,
        interface: &str,
        frames: Vec<Vec<u8>>,
        gap: Option<Duration>,
        limit: Duration,
    ) -> Storm {
        assert!(!frames.is_empty(), "a storm needs frames");
        let socket = ns
            .run(|| open(interface))
            .unwrap_or_else(|e| panic!("AF_PACKET socket on {interface} in {}: {e}", ns.name()));
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, sent) = (stop.clone(), sent.clone());
            std::thread::spawn(move || send_until(&socket, &frames, gap, &stop, &sent, limit))
        };
        Storm {
            stop,
            sent,
            started: Instant::now(),
            thread: Some(thread),
        }
    }

    /// Stops sending; what was sent, or the error that ended the storm early.
    pub fn stop(mut self) -> io::Result<Sent> {
        self.halt()?;
        Ok(Sent {
            frames: self.sent.load(Ordering::Relaxed),
            elapsed: self.started.elapsed(),
        })
    }

    fn halt(&mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Ok(()),
        }
    }
}

impl Drop for Storm {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}

/// A raw packet socket bound to `interface` for sending only (protocol 0: nothing is queued to
/// it), with `PACKET_QDISC_BYPASS`.
fn open(interface: &str) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned right away.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh socket nobody else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    // SAFETY: the option value is a c_int of the given size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_QDISC_BYPASS,
            (&one as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let name = std::ffi::CString::new(interface)?;
    // SAFETY: name is a valid C string.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if ifindex == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sockaddr_ll is plain data; all-zero is valid.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_ifindex = ifindex as i32;
    // SAFETY: addr is a sockaddr_ll of the given size.
    let rc = unsafe {
        libc::bind(
            fd,
            (&addr as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(socket)
}

fn send_until(
    socket: &OwnedFd,
    frames: &[Vec<u8>],
    gap: Option<Duration>,
    stop: &AtomicBool,
    sent: &AtomicU64,
    limit: Duration,
) -> io::Result<()> {
    // A batch a whole number of rounds long, so that every batch sends each frame equally;
    // one round when paced.
    let rounds = if gap.is_some() {
        1
    } else {
        BATCH.div_ceil(frames.len())
    };
    let batch = rounds * frames.len();
    let mut iovecs: Vec<libc::iovec> = (0..batch)
        .map(|i| {
            let f = &frames[i % frames.len()];
            libc::iovec {
                iov_base: f.as_ptr() as *mut libc::c_void,
                iov_len: f.len(),
            }
        })
        .collect();
    let mut messages: Vec<libc::mmsghdr> = iovecs
        .iter_mut()
        .map(|iov| {
            // SAFETY: msghdr is plain data; all-zero is an empty message.
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
            m
        })
        .collect();
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) && started.elapsed() < limit {
        // SAFETY: every message points at one iovec over a frame that outlives the call.
        let n = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                messages.as_mut_ptr(),
                batch as libc::c_uint,
                0,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            // A full device queue: try again, as a NIC's ring would make us.
            if e.raw_os_error() == Some(libc::ENOBUFS) {
                std::thread::yield_now();
                continue;
            }
            return Err(e);
        }
        sent.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(gap) = gap {
            std::thread::sleep(gap);
        }
    }
    Ok(())
}
