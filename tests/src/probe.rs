//! A probe stream for failover measurements: a client sends sequence-numbered UDP probes at a
//! fixed rate to a VIP, and a [`Responder`] on each router echoes them with its own id, from the
//! address the probe was sent to (as a service on the VIP would, so that the client sees the
//! VIP answer and not the router's own address). The [`ProbeResult`] tells which probes were
//! answered, by whom, and when the answers stopped. IPv4 only.

use std::{
    collections::{BTreeSet, VecDeque},
    io,
    mem::{size_of, zeroed},
    net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket},
    os::fd::AsRawFd,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use crate::netns::Netns;

/// The UDP port the responders listen on.
pub const PORT: u16 = 9797;

/// How often the receiving loops look at their stop flag.
const POLL: Duration = Duration::from_millis(10);

/// How long the client waits for the last probes' replies after sending them.
const GRACE: Duration = Duration::from_millis(300);

/// The longest stream [`Probes::start`] accepts, so that a mistaken argument cannot run away.
const MAX_DURATION: Duration = Duration::from_secs(600);

/// A probe is its sequence number; a reply is the probe followed by the responder's id.
const PROBE_LEN: usize = 8;

/// A UDP echo server on `0.0.0.0:PORT` in a router's namespace, answering each probe with the
/// router's id; it stops answering at once when stopped or dropped.
pub struct Responder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Responder {
    pub fn start(ns: &Netns, id: u8) -> Responder {
        Responder::delayed(ns, id, Duration::ZERO)
    }

    /// A responder that answers each probe `delay` after it arrived, as a service that takes
    /// its time over a request.
    pub fn delayed(ns: &Netns, id: u8, delay: Duration) -> Responder {
        let socket = ns.run(|| {
            let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, PORT))
                .unwrap_or_else(|e| panic!("binding the responder in {}: {e}", ns.name()));
            set_int_option(&s, libc::IPPROTO_IP, libc::IP_PKTINFO, 1)
                .expect("IP_PKTINFO on the responder");
            s.set_read_timeout(Some(POLL)).unwrap();
            s
        });
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            // Replies not yet due, oldest first: (due, reply, client, the address it asked).
            let mut pending: VecDeque<(Instant, [u8; PROBE_LEN + 1], SocketAddrV4, Ipv4Addr)> =
                VecDeque::new();
            while !flag.load(Ordering::Relaxed) {
                while let Some(&(due, reply, client, asked)) = pending.front() {
                    if due > Instant::now() {
                        break;
                    }
                    pending.pop_front();
                    // A reply that cannot go out (the VIP was just removed) is a lost probe.
                    let _ = send_from(&socket, &reply, client, asked);
                }
                if let Some(&(due, ..)) = pending.front() {
                    let wait = due.saturating_duration_since(Instant::now());
                    let _ =
                        socket.set_read_timeout(Some(wait.clamp(Duration::from_micros(100), POLL)));
                }
                let Ok((len, from, to)) = recv_with_destination(&socket, &mut buf) else {
                    continue;
                };
                // Checked again after the wait, so that a stop takes effect for the very next probe.
                if len != PROBE_LEN || flag.load(Ordering::Relaxed) {
                    continue;
                }
                let mut reply = [0u8; PROBE_LEN + 1];
                reply[..PROBE_LEN].copy_from_slice(&buf[..PROBE_LEN]);
                reply[PROBE_LEN] = id;
                if delay.is_zero() {
                    let _ = send_from(&socket, &reply, from, to);
                } else {
                    pending.push_back((Instant::now() + delay, reply, from, to));
                }
            }
        });
        Responder {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops answering (a crashed service) and waits for the thread.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("the responder thread panicked");
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A probe stream under way, sent from a namespace.
pub struct Probes {
    period: Duration,
    start: Instant,
    stop: Arc<AtomicBool>,
    sender: JoinHandle<Vec<Instant>>,
    receiver: JoinHandle<Vec<(u64, u8)>>,
}

impl Probes {
    /// Starts sending `rate` probes a second to `target` from `ns` for `duration`.
    pub fn start(ns: &Netns, target: SocketAddrV4, rate: u32, duration: Duration) -> Probes {
        assert!(
            rate > 0 && duration <= MAX_DURATION,
            "a probe stream of {rate}/s for {duration:?}"
        );
        let socket = ns.run(|| {
            UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
                .unwrap_or_else(|e| panic!("binding the probe client in {}: {e}", ns.name()))
        });
        socket.set_read_timeout(Some(POLL)).unwrap();
        let receiving = socket.try_clone().expect("cloning the client socket");
        let period = Duration::from_secs(1) / rate;
        let count = (duration.as_nanos() / period.as_nanos()) as u64;
        let start = Instant::now();
        let sender = std::thread::spawn(move || {
            let mut sent = Vec::with_capacity(count as usize);
            for seq in 0..count {
                // Paced against the start, not the previous probe: a late wake-up is caught up.
                let due = start + period * seq as u32;
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                sent.push(Instant::now());
                // An unreachable VIP (no ARP answer yet) is a lost probe, not an error.
                let _ = socket.send_to(&seq.to_be_bytes(), target);
            }
            sent
        });
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let receiver = std::thread::spawn(move || {
            let mut replies = Vec::with_capacity(count as usize);
            let mut buf = [0u8; 64];
            while !flag.load(Ordering::Relaxed) {
                let Ok((len, from)) = receiving.recv_from(&mut buf) else {
                    continue;
                };
                // Only the VIP itself counts: a client that connected to it would see no other.
                if len == PROBE_LEN + 1 && from == SocketAddr::V4(target) {
                    let seq = u64::from_be_bytes(buf[..PROBE_LEN].try_into().unwrap());
                    replies.push((seq, buf[PROBE_LEN]));
                }
            }
            replies
        });
        Probes {
            period,
            start,
            stop,
            sender,
            receiver,
        }
    }

    /// When the first probe was due.
    pub fn start_instant(&self) -> Instant {
        self.start
    }

    /// Waits for the stream to end and for the last replies.
    pub fn wait(self) -> ProbeResult {
        let sent_at = self.sender.join().expect("the probe sender panicked");
        std::thread::sleep(GRACE);
        self.stop.store(true, Ordering::Relaxed);
        let replies = self.receiver.join().expect("the probe receiver panicked");
        let mut answered_by = vec![None; sent_at.len()];
        for (seq, id) in replies {
            if let Some(slot) = answered_by.get_mut(seq as usize) {
                slot.get_or_insert(id);
            }
        }
        ProbeResult {
            period: self.period,
            start: self.start,
            sent_at,
            answered_by,
        }
    }
}

/// What became of each probe of a stream.
pub struct ProbeResult {
    pub period: Duration,
    /// When the first probe was due.
    pub start: Instant,
    /// When each probe went out, by sequence number.
    pub sent_at: Vec<Instant>,
    /// The id of the responder whose reply came first, by sequence number; `None`: lost.
    pub answered_by: Vec<Option<u8>>,
}

impl ProbeResult {
    pub fn sent(&self) -> usize {
        self.sent_at.len()
    }

    pub fn lost(&self) -> usize {
        self.answered_by.iter().filter(|a| a.is_none()).count()
    }

    /// The longest run of consecutive lost probes, as time at the stream's rate.
    pub fn longest_outage(&self) -> Duration {
        let (mut run, mut longest) = (0u32, 0u32);
        for a in &self.answered_by {
            run = if a.is_none() { run + 1 } else { 0 };
            longest = longest.max(run);
        }
        self.period * longest
    }

    /// Each lost probe with its send time of day (UTC, as the daemons' logs print it) and the
    /// responders of its neighbours, so that a failure can be laid beside the logs (the first
    /// 20).
    pub fn losses(&self) -> String {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let time_of_day = |t: Instant| time_of_day(wall - now.duration_since(t));
        let answered = |seq: Option<usize>| {
            seq.and_then(|s| self.answered_by.get(s).copied().flatten())
                .map_or("-".to_owned(), |id| format!("r{id}"))
        };
        self.answered_by
            .iter()
            .enumerate()
            .filter(|(_, a)| a.is_none())
            .take(20)
            .map(|(seq, _)| {
                format!(
                    "probe {seq} sent {} lost (before it: {}, after: {})\n",
                    time_of_day(self.sent_at[seq]),
                    answered(seq.checked_sub(1)),
                    answered(Some(seq + 1)),
                )
            })
            .collect()
    }

    /// The responders that answered probes sent at or after `instant`.
    pub fn answered_after(&self, instant: Instant) -> BTreeSet<u8> {
        self.sent_at
            .iter()
            .zip(&self.answered_by)
            .filter(|(t, _)| **t >= instant)
            .filter_map(|(_, a)| *a)
            .collect()
    }

    /// Loss over time for a plot: for each `bucket` of send time, (its start in seconds from
    /// `origin`, the fraction of its probes that were lost).
    pub fn loss_series(&self, origin: Instant, bucket: Duration) -> Vec<(f64, f64)> {
        let offset = |t: Instant| match t.checked_duration_since(origin) {
            Some(d) => d.as_secs_f64(),
            None => -origin.duration_since(t).as_secs_f64(),
        };
        let width = bucket.as_secs_f64();
        let mut buckets: Vec<(i64, usize, usize)> = Vec::new();
        for (t, a) in self.sent_at.iter().zip(&self.answered_by) {
            let index = (offset(*t) / width).floor() as i64;
            match buckets.last_mut() {
                Some((i, sent, lost)) if *i == index => {
                    *sent += 1;
                    *lost += usize::from(a.is_none());
                }
                _ => buckets.push((index, 1, usize::from(a.is_none()))),
            }
        }
        buckets
            .into_iter()
            .map(|(i, sent, lost)| (i as f64 * width, lost as f64 / sent as f64))
            .collect()
    }
}

/// `at` as a time of day, UTC to the millisecond, as the daemons' logs print it.
pub fn time_of_day(at: SystemTime) -> String {
    let ms = at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

fn set_int_option(s: &UdpSocket, level: i32, name: i32, value: libc::c_int) -> io::Result<()> {
    // SAFETY: a valid socket and a c_int option of the given size.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Control-message space for one `in_pktinfo`, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct PktinfoControl([u8; 64]);

/// `recvmsg` with `IP_PKTINFO`: the datagram's length, its sender, and the address it was sent to.
fn recv_with_destination(
    s: &UdpSocket,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddrV4, Ipv4Addr)> {
    // SAFETY: plain C structs, all-zero is a valid value.
    let mut from: libc::sockaddr_in = unsafe { zeroed() };
    let mut control = PktinfoControl([0; 64]);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len() - 1, // room for the id
    };
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_name = (&mut from as *mut libc::sockaddr_in).cast();
    msg.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control.0.len();
    // SAFETY: every pointer in msg points at a live buffer of the stated length.
    let len = unsafe { libc::recvmsg(s.as_raw_fd(), &mut msg, 0) };
    if len < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut to = None;
    // SAFETY: the CMSG macros walk the control buffer the kernel just filled, within
    // msg_controllen.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::IPPROTO_IP && (*c).cmsg_type == libc::IP_PKTINFO {
                let info = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::in_pktinfo>());
                to = Some(Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr)));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    let to = to.ok_or_else(|| io::Error::other("no IP_PKTINFO on a received datagram"))?;
    let from = SocketAddrV4::new(
        Ipv4Addr::from(u32::from_be(from.sin_addr.s_addr)),
        u16::from_be(from.sin_port),
    );
    Ok((len as usize, from, to))
}

/// `sendmsg` to `to` with `from` as the source address (`IP_PKTINFO`'s `ipi_spec_dst`).
fn send_from(s: &UdpSocket, data: &[u8], to: SocketAddrV4, from: Ipv4Addr) -> io::Result<()> {
    // SAFETY: plain C structs, all-zero is a valid value.
    let mut dest: libc::sockaddr_in = unsafe { zeroed() };
    dest.sin_family = libc::AF_INET as libc::sa_family_t;
    dest.sin_port = to.port().to_be();
    dest.sin_addr.s_addr = u32::from(*to.ip()).to_be();
    let mut control = PktinfoControl([0; 64]);
    let mut iov = libc::iovec {
        iov_base: data.as_ptr().cast_mut().cast(),
        iov_len: data.len(),
    };
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_name = (&mut dest as *mut libc::sockaddr_in).cast();
    msg.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE/CMSG_LEN are arithmetic; the header and data written lie within
    // `control`, which holds CMSG_SPACE(in_pktinfo) bytes.
    unsafe {
        msg.msg_controllen = libc::CMSG_SPACE(size_of::<libc::in_pktinfo>() as u32) as usize;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::IPPROTO_IP;
        (*c).cmsg_type = libc::IP_PKTINFO;
        (*c).cmsg_len = libc::CMSG_LEN(size_of::<libc::in_pktinfo>() as u32) as usize;
        let mut info: libc::in_pktinfo = zeroed();
        info.ipi_spec_dst.s_addr = u32::from(from).to_be();
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::in_pktinfo>(), info);
    }
    // SAFETY: every pointer in msg points at a live buffer of the stated length.
    let rc = unsafe { libc::sendmsg(s.as_raw_fd(), &msg, 0) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::{Lan, VIP};

    /// One router holding the VIP on a quiet LAN: every probe answered, by that router, from
    /// the VIP (a reply from the router's own address would not count); then the responder
    /// stops half-way and the rest is lost, as one outage.
    #[test]
    fn answers_from_the_vip_then_loses_everything_after_a_stop() {
        let lan = Lan::new("probe", 1);
        lan.router(1)
            .ip(&["addr", "add", &format!("{VIP}/32"), "dev", "eth0"]);
        let target = SocketAddrV4::new(VIP.parse().unwrap(), PORT);
        let mut responder = Responder::start(lan.router(1), 7);

        let quiet = Probes::start(&lan.client, target, 1000, Duration::from_millis(500)).wait();
        assert_eq!(quiet.sent(), 500);
        assert_eq!(quiet.lost(), 0, "lost probes on a quiet LAN");
        assert_eq!(quiet.longest_outage(), Duration::ZERO);
        assert_eq!(quiet.answered_after(quiet.start), BTreeSet::from([7]));

        let probes = Probes::start(&lan.client, target, 1000, Duration::from_millis(600));
        std::thread::sleep(Duration::from_millis(300));
        responder.stop();
        let stopped = Instant::now();
        let r = probes.wait();
        assert_eq!(r.sent(), 600);
        let answered = r.sent() - r.lost();
        assert!(
            (100..=500).contains(&answered),
            "{answered} of 600 answered, the responder stopped after 300 ms"
        );
        assert_eq!(
            r.longest_outage(),
            r.period * r.lost() as u32,
            "the losses are one run"
        );
        assert!(r.answered_after(stopped).is_empty());
        let series = r.loss_series(stopped, Duration::from_millis(50));
        assert!(series.iter().all(|(t, loss)| *t < 0.0 || *loss == 1.0));
        assert!(series.iter().any(|(t, loss)| *t < -0.1 && *loss == 0.0));
    }
}
