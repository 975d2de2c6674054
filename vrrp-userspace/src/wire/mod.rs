//! Packet codecs: zero-copy `Packet<T: AsRef<[u8]>>` views with checked lengths, and `Repr`s
//! with `parse` / `emit` / `buffer_len` (after smoltcp's wire modules).

pub mod arp;
pub mod ip;
pub mod ndisc;
pub mod vrrp;
