//! Builds the XDP program (vrrp-ebpf) for bpfel-unknown-none with the nightly toolchain and
//! bpf-linker, into OUT_DIR, where `dataplane` embeds it. `cargo xtask setup` installs both.
fn main() -> anyhow::Result<()> {
    // The program is compiled from vrrp-common's definitions as well as its own sources.
    println!("cargo:rerun-if-changed=../vrrp-common/src");
    // cargo-fuzz builds with `--cfg fuzzing`: the fuzz targets never load the program, and
    // building it in fuzz's own target dir cost CI a minute and a half. An empty object makes
    // `Dataplane::load` fail with aya's parse error, should a fuzz build ever try.
    if std::env::var_os("CARGO_CFG_FUZZING").is_some() {
        let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("vrrp-ebpf");
        std::fs::write(out, [])?;
        return Ok(());
    }
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "vrrp-ebpf",
            root_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../vrrp-ebpf"),
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
}
