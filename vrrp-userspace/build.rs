//! Builds the XDP program (vrrp-ebpf) for bpfel-unknown-none with the nightly toolchain and
//! bpf-linker, into OUT_DIR, where `dataplane` embeds it. `cargo xtask setup` installs both.
fn main() -> anyhow::Result<()> {
    // The program is compiled from vrrp-common's definitions as well as its own sources.
    println!("cargo:rerun-if-changed=../vrrp-common/src");
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "vrrp-ebpf",
            root_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../vrrp-ebpf"),
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
}
