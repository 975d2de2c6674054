//! Pinning in bpffs: `<root>/<interface>/` holds the XDP link, both programs and the maps
//! (`<root>/` holds the one map all interfaces' programs share, `TAKEOVERS`), so
//! that the program keeps running, with the state the daemon left in its maps, when the daemon
//! dies (the dead-man switch of `vrrp-ebpf/steer` needs exactly that), and so that a restarted
//! daemon adopts them without detaching.

use std::{
    ffi::CString,
    mem::size_of,
    os::unix::ffi::OsStrExt as _,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, bail};
use aya::maps::MapInfo;
use vrrp_common::maps::{self as names, Control, Counter, Liveness, Takeover, Vip};

/// The standard bpffs mount point.
const BPFFS: &str = "/sys/fs/bpf";
/// statfs(2) `f_type` of bpffs.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
/// The pinned link's file name; the maps and programs are pinned under their object names.
const LINK: &str = "link";

/// A map's shape as this build creates it: pinned maps of another shape are not adopted.
struct Shape {
    name: &'static str,
    value_size: u32,
    entries: u32,
    flags: u32,
}

fn shape(name: &'static str, value_size: usize, entries: u32, flags: u32) -> Shape {
    Shape {
        name,
        value_size: value_size as u32,
        entries,
        flags,
    }
}

impl Shape {
    /// Whether the map pinned at `path` has this shape; `None`: nothing is pinned there.
    fn fits(&self, path: &Path) -> anyhow::Result<Option<bool>> {
        if !path.exists() {
            return Ok(None);
        }
        let info = MapInfo::from_pin(path)
            .with_context(|| format!("reading the pinned map {}", path.display()))?;
        Ok(Some(
            info.value_size() == self.value_size
                && info.max_entries() == self.entries
                && info.map_flags() == self.flags,
        ))
    }
}

/// The maps every interface's program shares.
fn shared_maps() -> [Shape; 1] {
    [shape(
        names::TAKEOVERS,
        size_of::<Takeover>(),
        names::TAKEOVER_SLOTS,
        0,
    )]
}

/// Every map of one interface's program.
fn maps() -> [Shape; 5] {
    [
        shape(
            names::LIVENESS,
            size_of::<Liveness>(),
            names::LIVENESS_SLOTS,
            names::SHARED_MEMORY,
        ),
        shape(names::COUNTERS, size_of::<u64>(), Counter::SLOTS, 0),
        shape(
            names::CONTROL,
            size_of::<Control>(),
            1,
            names::SHARED_MEMORY,
        ),
        shape(names::VIPS, size_of::<Vip>(), names::VIP_SLOTS, 0),
        shape(
            names::VIP_COUNTERS,
            size_of::<u64>(),
            2 * names::VIP_SLOTS,
            0,
        ),
    ]
}

/// One interface's pin directory.
#[derive(Clone, Debug)]
pub struct PinDir(PathBuf);

impl PinDir {
    /// `<root>/<interface>`, created (and bpffs mounted on its standard mount point, if that is
    /// where `root` lies and nothing is mounted there).
    pub fn create(root: &Path, interface: &str) -> anyhow::Result<PinDir> {
        ensure_bpffs(root)?;
        let dir = root.join(interface);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating the pin directory {}", dir.display()))?;
        Ok(PinDir(dir))
    }

    /// `<root>/<interface>` as it is, for removing what an earlier run left.
    pub fn existing(root: &Path, interface: &str) -> Option<PinDir> {
        let dir = root.join(interface);
        dir.is_dir().then_some(PinDir(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn map(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// A map every interface's program shares: pinned once, beside the interfaces'
    /// directories.
    pub fn shared_map(&self, name: &str) -> PathBuf {
        self.root().join(name)
    }

    fn root(&self) -> &Path {
        self.0.parent().unwrap_or(&self.0)
    }

    pub fn program(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn link(&self) -> PathBuf {
        self.0.join(LINK)
    }

    /// Whether an earlier run left maps here that this build can use: all of them, each of
    /// the shape it expects. Maps of another shape (an upgrade that changed them) are removed,
    /// so that the loader creates fresh ones; the link is kept, to be moved to the new program.
    pub fn adoptable_maps(&self) -> anyhow::Result<bool> {
        let mut fit = 0;
        for shape in maps() {
            if shape.fits(&self.map(shape.name))? == Some(true) {
                fit += 1;
            }
        }
        if fit == maps().len() {
            return Ok(true);
        }
        for shape in maps() {
            remove(&self.map(shape.name))?;
        }
        Ok(false)
    }

    /// Removes a shared map that an earlier build pinned in another shape (an upgrade that
    /// changed it), so that the loader creates a fresh one: a program would not load against
    /// it, or would misread it. What still runs of that build keeps the old map until replaced.
    pub fn drop_misshapen_shared_maps(&self) -> anyhow::Result<()> {
        for shape in shared_maps() {
            let path = self.shared_map(shape.name);
            if shape.fits(&path)? == Some(false) {
                tracing::info!(map = %path.display(), "a shared map of another build's shape: replaced");
                remove(&path)?;
            }
        }
        Ok(())
    }

    /// Removes every pin; the link then lasts only as long as a process holds it.
    pub fn remove_all(self) -> anyhow::Result<()> {
        std::fs::remove_dir_all(&self.0)
            .with_context(|| format!("removing the pins in {}", self.0.display()))?;
        // The shared maps go with the last interface.
        let interfaces_left = std::fs::read_dir(self.root())
            .with_context(|| format!("reading {}", self.root().display()))?
            .filter_map(Result::ok)
            .any(|entry| entry.file_type().is_ok_and(|t| t.is_dir()));
        if interfaces_left {
            return Ok(());
        }
        remove(&self.shared_map(names::TAKEOVERS))
    }
}

/// Removes one pin, if it is there.
pub fn remove(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing the pin {}", path.display())),
    }
}

/// Mounts bpffs on /sys/fs/bpf when `root` lies under it and nothing is mounted there (many
/// systems without systemd, and these test machines, leave it unmounted).
fn ensure_bpffs(root: &Path) -> anyhow::Result<()> {
    let mut existing = root;
    while !existing.exists() {
        existing = existing
            .parent()
            .with_context(|| format!("{} has no existing ancestor", root.display()))?;
    }
    if fs_type(existing)? == BPF_FS_MAGIC {
        return Ok(());
    }
    if !root.starts_with(BPFFS) || existing != Path::new(BPFFS) {
        bail!(
            "{} is not on a bpffs (pinned BPF objects live on one; mount it or pick another \
             --pin-dir)",
            existing.display()
        );
    }
    let target = CString::new(BPFFS).expect("no NUL");
    let fstype = CString::new("bpf").expect("no NUL");
    let options = CString::new("mode=0700").expect("no NUL");
    // SAFETY: mount(2) with valid NUL-terminated strings.
    let rc = unsafe {
        libc::mount(
            fstype.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            options.as_ptr().cast(),
        )
    };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        bail!(
            "bpffs is not mounted on {BPFFS} and mounting it failed: {e} (it needs CAP_SYS_ADMIN; under systemd it is mounted already)"
        );
    }
    tracing::info!("mounted bpffs on {BPFFS}");
    Ok(())
}

fn fs_type(path: &Path) -> anyhow::Result<i64> {
    let c = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: statfs writes into the zeroed struct it is given.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid path and a valid out pointer.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("statfs {}", path.display()));
    }
    Ok(st.f_type as i64)
}
