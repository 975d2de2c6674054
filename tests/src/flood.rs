//! Prebuilt frames written straight to an interface in `sendmmsg` batches from an AF_PACKET
//! socket that bypasses the qdisc, cycling through the frames: more than the path takes for
//! the forwarding benchmarks' UDP flood (several flows, so that conntrack and RPS see distinct
//! connections), flat out for storms of hostile adverts, or paced for adverts a daemon must
//! read one by one.
//!
//! The kernel has no pktgen. A UDP socket would spend most of the generator's core in the IP
//! output path and the neighbour layer; a raw socket costs an skb allocation, a copy and the
//! driver's transmit per frame, so one core offers more than the forwarding path can take.

use std::{
    io,
    net::Ipv4Addr,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use vrrp_common::{
    checksum,
    wire::{ethernet, ipv4},
};

use crate::{
    frames::{Family, udp},
    netns::Netns,
};

/// Frames handed to the kernel per `sendmmsg` unless paced (rounded up to whole rounds).
const BATCH: usize = 64;
/// The IPv4 header checksum field (not among vrrp-common's offsets: VRRP never rewrites it).
const IPV4_CHECKSUM: usize = 10;
/// The first source port; flow `i` uses `FIRST_SOURCE_PORT + i`.
const FIRST_SOURCE_PORT: u16 = 10_000;

/// UDP flows from one host to another through a next hop, one source port a flow.
#[derive(Clone, Debug)]
pub struct UdpFlows {
    pub src_mac: [u8; 6],
    /// The next hop's MAC: the router the sender believes holds `dst`.
    pub dst_mac: [u8; 6],
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub dst_port: u16,
    /// Distinct source ports.
    pub flows: u16,
}

impl UdpFlows {
    /// One 60-byte UDP frame per flow (`frames::udp` readdressed; UDP checksum 0, as a NIC
    /// with checksum offload would leave the stack nothing to verify).
    pub fn frames(&self) -> Vec<Vec<u8>> {
        let template = udp(Family::V4);
        let l3 = ethernet::HEADER_LEN;
        let l4 = l3 + ipv4::MIN_HEADER_LEN;
        (0..self.flows)
            .map(|i| {
                let mut f = template.clone();
                f[ethernet::DST..][..6].copy_from_slice(&self.dst_mac);
                f[ethernet::SRC..][..6].copy_from_slice(&self.src_mac);
                f[l3 + ipv4::SRC..][..4].copy_from_slice(&self.src.octets());
                f[l3 + ipv4::DST..][..4].copy_from_slice(&self.dst.octets());
                f[l3 + IPV4_CHECKSUM..][..2].fill(0);
                let c = checksum::finish(checksum::sum(&f[l3..l4], 0));
                f[l3 + IPV4_CHECKSUM..][..2].copy_from_slice(&c.to_be_bytes());
                f[l4..][..2].copy_from_slice(&(FIRST_SOURCE_PORT + i).to_be_bytes());
                f[l4 + 2..][..2].copy_from_slice(&self.dst_port.to_be_bytes());
                f
            })
            .collect()
    }
}

/// How fast a flood sends.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// As fast as one thread pinned to `cpu` can (so that the path under test can be given
    /// the other CPUs), with a send buffer deep enough that it never waits for the path: it
    /// offers more than the path takes, and the excess is dropped downstream, as at a full
    /// NIC ring.
    Overload { cpu: usize },
    /// As fast as one thread can, with the socket's default send buffer: frames still queued
    /// downstream count against it, so the sender waits when the receivers fall behind.
    FlatOut,
    /// Every frame once per gap.
    Every(Duration),
}

/// A running flood; stopped (and its thread joined) on drop.
pub struct Flood {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    started: Instant,
    thread: Option<JoinHandle<io::Result<()>>>,
}

/// What a flood sent, over how long.
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

impl Flood {
    /// Opens the socket on `interface` inside `ns` and sends `frames` round-robin at `pace`
    /// until stopped, or for `limit` at most.
    pub fn start(
        ns: &Netns,
        interface: &str,
        frames: Vec<Vec<u8>>,
        pace: Pace,
        limit: Duration,
    ) -> io::Result<Flood> {
        assert!(!frames.is_empty(), "a flood needs frames");
        let deep = matches!(pace, Pace::Overload { .. });
        let socket = ns.run(|| open(interface, deep)).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("AF_PACKET socket on {interface} in {}: {e}", ns.name()),
            )
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, sent) = (stop.clone(), sent.clone());
            std::thread::Builder::new()
                .name("flood".into())
                .spawn(move || {
                    if let Pace::Overload { cpu } = pace {
                        pin_to(cpu)?;
                    }
                    send_until(&socket, &frames, pace, &stop, &sent, limit)
                })?
        };
        Ok(Flood {
            stop,
            sent,
            started: Instant::now(),
            thread: Some(thread),
        })
    }

    /// Frames the kernel has accepted so far (the driver may still drop them downstream).
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Stops sending; what was sent, or the error that ended the flood early.
    pub fn stop(mut self) -> io::Result<Sent> {
        self.halt()?;
        Ok(Sent {
            frames: self.sent(),
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

impl Drop for Flood {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}

/// A raw packet socket bound to `interface` for sending only (protocol 0: no frame is ever
/// queued to it), with `PACKET_QDISC_BYPASS`, and a 64 MiB send buffer if `deep`.
fn open(interface: &str, deep: bool) -> io::Result<OwnedFd> {
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
    if deep {
        let sndbuf: libc::c_int = 64 << 20;
        // SAFETY: the option value is a c_int of the given size.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_SNDBUFFORCE,
                (&sndbuf as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
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

fn pin_to(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_SET stays within it for cpu < CPU_SETSIZE.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set)
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn send_until(
    socket: &OwnedFd,
    frames: &[Vec<u8>],
    pace: Pace,
    stop: &AtomicBool,
    sent: &AtomicU64,
    limit: Duration,
) -> io::Result<()> {
    // A batch a whole number of rounds long, so that every batch sends each frame equally
    // (and every frame is sent, however many there are); one round when paced.
    let (rounds, gap) = match pace {
        Pace::Overload { .. } | Pace::FlatOut => (BATCH.div_ceil(frames.len()), None),
        Pace::Every(gap) => (1, Some(gap)),
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
