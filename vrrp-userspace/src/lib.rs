//! xvrrp: VRRP (RFC 5798, RFC 3768) with an XDP dataplane, configured like keepalived.
//!
//! - `wire`: packet codecs: VRRP adverts, the IPv4 header raw sockets deliver, gratuitous ARP,
//!   unsolicited NA.
//! - `fsm`: the sans-IO VRRP state machine and its timers.
//! - `validate`: a parsed advert checked against one instance (VRID, interval, auth, addresses).
//! - `config`: keepalived.conf parsing and validation.
//! - `scripts`: vrrp_script / track_file trackers and notify scripts, run without blocking.
//! - `daemon`: the running daemon: instances driven by sockets, timers, trackers and XDP.
//! - `net`: the kernel side of the daemon: raw VRRP sockets, VIPs via rtnetlink, GARP / NA.
//! - `dataplane`: loading, attaching and reading the XDP program.
//! - `time`: `Centisecs` for intervals, `Monotonic` for points in time.

pub mod config;
pub mod daemon;
pub mod dataplane;
pub mod fsm;
pub mod net;
pub mod scripts;
pub mod time;
pub mod validate;
pub mod wire;
