//! Shared pieces of xvrrp's integration tests: crafted frames, captured fixtures, and network
//! namespaces that clean up after themselves.

pub mod bench;
pub mod daemon;
pub mod fixtures;
pub mod flood;
pub mod frames;
pub mod keepalived;
pub mod netns;
pub mod plot;
pub mod probe;

/// Tests in this crate need root (BPF, namespaces). Fail with a clear message, never skip.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test needs root (CAP_BPF, CAP_NET_ADMIN, network namespaces); run `cargo xtask test` as root"
    );
}
