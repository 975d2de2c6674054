//! Definitions shared by the XDP program (`vrrp-ebpf`) and the daemon (`vrrp-userspace`).
//!
//! `no_std` and allocation-free so that the kernel side can use it. Everything that both sides
//! must agree on lives here exactly once: wire offsets, rejection reasons, map layouts.
#![no_std]

pub mod checksum;
pub mod maps;
pub mod reject;
pub mod wire;
