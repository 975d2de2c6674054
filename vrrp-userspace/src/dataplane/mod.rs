//! The XDP program seen from the daemon: load it, attach it to an interface, steer it through
//! the control map, and read what it recorded.

mod pins;
mod readings;
mod shared;
mod steering;

use std::{fmt, str::FromStr, sync::Arc};

use anyhow::{Context as _, anyhow, bail};
use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, Map, MapData, PerCpuArray},
    programs::{
        Xdp, XdpMode,
        links::{FdLink, PinnedLink},
        xdp::{XdpLink, XdpLinkId},
    },
};
use vrrp_common::maps::{
    self as names, CONTROL_ABSORB, CONTROL_ORPHANED, Control, Liveness, LivenessKey, Takeover, Vip,
};

pub use pins::PinDir;
pub use readings::{Counters, RouterLiveness};
use shared::SharedArray;
pub use steering::{VipState, VipSteering};

/// The XDP object built from `vrrp-ebpf` by build.rs.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vrrp-ebpf"));

/// How to attach: the driver's native XDP, the kernel's generic (skb) XDP, or native with a
/// fallback to generic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachMode {
    Auto,
    Native,
    Skb,
}

impl FromStr for AttachMode {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s {
            "auto" => Ok(AttachMode::Auto),
            "native" => Ok(AttachMode::Native),
            "skb" => Ok(AttachMode::Skb),
            _ => bail!("unknown XDP mode {s:?}: expected auto, native or skb"),
        }
    }
}

impl fmt::Display for AttachMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttachMode::Auto => "auto",
            AttachMode::Native => "native",
            AttachMode::Skb => "skb",
        })
    }
}

/// The loaded program (both variants: `names::PROGRAM`, the tracker alone, and
/// `names::STEER_PROGRAM`, with VIP steering) and their shared maps; attached to at most one
/// interface, with the variant that `steering` needs.
pub struct Dataplane {
    ebpf: Ebpf,
    /// Shared with the daemon's renewer thread (`Self::reading`).
    liveness: Arc<SharedArray<Liveness>>,
    counters: PerCpuArray<MapData, u64>,
    control: SharedArray<Control>,
    vips: Array<MapData, Vip>,
    vip_counters: PerCpuArray<MapData, u64>,
    /// Shared with the programs of the daemon's other interfaces when pinned (see
    /// `vrrp_common::maps::TAKEOVERS`).
    takeovers: Array<MapData, Takeover>,
    /// Some address is in the VIP table: the steering variant is the one to run.
    steering: bool,
    link: Option<Link>,
    /// Where the link, programs and maps are pinned, if they are.
    pins: Option<PinDir>,
}

struct Link {
    id: XdpLinkId,
    interface: String,
    /// `None` for a link adopted from an earlier run, whose mode the kernel does not report.
    mode: Option<AttachMode>,
    /// Which variant holds the link.
    program: &'static str,
}

/// What the pinned maps held when a daemon adopted them from an earlier run.
#[derive(Clone, Debug, Default)]
pub struct Previous {
    /// The VIP table as the earlier daemon left it (its guards tell what it was Master of).
    pub vips: Vec<VipState>,
    /// The liveness map, with the routers that took over after it died (`orphaned`).
    pub routers: Vec<RouterLiveness>,
}

impl Dataplane {
    /// Loads the program into the kernel (running the verifier) without attaching it.
    pub fn load() -> anyhow::Result<Self> {
        Self::load_with(&mut EbpfLoader::new(), None)
    }

    /// Loads the program with its maps pinned in `pins`: those an earlier run left there are
    /// reused if they fit this build, and what they held is returned, to be `reset` once the
    /// daemon has acted on it (until then the earlier run's guards keep working).
    /// `attach` adopts a pinned link the same way.
    pub fn load_pinned(pins: PinDir) -> anyhow::Result<(Self, Option<Previous>)> {
        let adopt = pins.adoptable_maps()?;
        pins.drop_misshapen_shared_maps()?;
        let paths: Vec<_> = [
            names::LIVENESS,
            names::COUNTERS,
            names::CONTROL,
            names::VIPS,
            names::VIP_COUNTERS,
        ]
        .map(|name| (name, pins.map(name)))
        .into();
        let takeovers = pins.shared_map(names::TAKEOVERS);
        let mut loader = EbpfLoader::new();
        for (name, path) in &paths {
            loader.map_pin_path(name, path.as_path());
        }
        loader.map_pin_path(names::TAKEOVERS, takeovers.as_path());
        let mut dp = Self::load_with(&mut loader, Some(pins.clone()))?;
        for name in [names::PROGRAM, names::STEER_PROGRAM] {
            let path = pins.program(name);
            pins::remove(&path)?;
            program_mut(&mut dp.ebpf, name)?
                .pin(&path)
                .with_context(|| format!("pinning {}", path.display()))?;
        }
        let previous = if adopt {
            Some(Previous {
                vips: dp.vips()?,
                routers: dp.liveness(),
            })
        } else {
            dp.reset()?;
            None
        };
        Ok((dp, previous))
    }

    fn load_with(loader: &mut EbpfLoader<'_>, pins: Option<PinDir>) -> anyhow::Result<Self> {
        let mut ebpf = loader.load(OBJECT).context(
            "loading the XDP object (creating its maps needs root or CAP_BPF, and a kernel with BTF)",
        )?;
        for name in [names::PROGRAM, names::STEER_PROGRAM] {
            program_mut(&mut ebpf, name)?.load().with_context(|| {
                format!(
                    "the kernel rejected the XDP program {name} (without root, loading it \
                         needs CAP_BPF, CAP_NET_ADMIN and, for the verifier to allow its packet \
                         pointer arithmetic, CAP_PERFMON)"
                )
            })?;
        }
        let mut take = |name: &str| {
            ebpf.take_map(name)
                .ok_or_else(|| anyhow!("map {name} missing from the XDP object"))
        };
        let liveness = Arc::new(shared(take(names::LIVENESS)?, names::LIVENESS_SLOTS)?);
        let counters = PerCpuArray::try_from(take(names::COUNTERS)?)?;
        let control = shared(take(names::CONTROL)?, 1)?;
        let vips = Array::try_from(take(names::VIPS)?)?;
        let vip_counters = PerCpuArray::try_from(take(names::VIP_COUNTERS)?)?;
        let takeovers = Array::try_from(take(names::TAKEOVERS)?)?;
        Ok(Self {
            ebpf,
            liveness,
            counters,
            control,
            vips,
            vip_counters,
            takeovers,
            steering: false,
            link: None,
            pins,
        })
    }

    /// Forgets what an earlier run left in adopted maps: adverts (so that the next advert of
    /// every router reaches the new daemon's socket: it credits only what it validated itself),
    /// the VIP table, the heartbeat and the dead-man switch's `CONTROL_ORPHANED`. Absorption
    /// and our MAC stay as set.
    pub fn reset(&mut self) -> anyhow::Result<()> {
        self.forget_adverts()?;
        let cpus = aya::util::nr_cpus().map_err(|(_, e)| e)?;
        for slot in 0..names::VIP_SLOTS {
            self.vips.set(slot, Vip::default(), 0)?;
        }
        for index in 0..2 * names::VIP_SLOTS {
            self.vip_counters
                .set(index, vec![0u64; cpus].try_into()?, 0)?;
        }
        self.update_control(|c| {
            *c = Control {
                flags: c.flags & CONTROL_ABSORB,
                own_mac: c.own_mac,
                ..Control::default()
            }
        });
        self.refresh_steering()
    }

    /// Empties the liveness map, so that the next advert of every router goes up to the
    /// socket: what an instance that starts now needs (see the module doc of `daemon`).
    pub fn forget_adverts(&mut self) -> anyhow::Result<()> {
        for slot in 0..names::LIVENESS_SLOTS {
            self.liveness.set(slot, Liveness::default());
        }
        Ok(())
    }

    /// Whether the program found the daemon's heartbeat stale while another router
    /// advertised (`CONTROL_ORPHANED`).
    pub fn orphaned(&self) -> bool {
        self.control.get(0).flags & CONTROL_ORPHANED != 0
    }

    /// Whether the link, programs and maps are pinned.
    pub fn pinned(&self) -> bool {
        self.pins.is_some()
    }

    /// Removes the pins, so that the program goes with this process: for a clean stop.
    pub fn unpin(&mut self) -> anyhow::Result<()> {
        match self.pins.take() {
            Some(pins) => pins.remove_all(),
            None => Ok(()),
        }
    }

    /// The variant the current steering needs (the one attached, if attached), for
    /// `test_run` (BPF_PROG_RUN) in tests and benchmarks.
    pub fn program(&mut self) -> anyhow::Result<&mut Xdp> {
        let name = self.wanted_program();
        program_mut(&mut self.ebpf, name)
    }

    /// Attaches to `interface`; returns the mode that was actually used, `None` when a link
    /// pinned by an earlier run was adopted: its program replaced by ours in one step
    /// (bpf_link_update), so that no frame meets the interface without a program.
    pub fn attach(
        &mut self,
        interface: &str,
        mode: AttachMode,
    ) -> anyhow::Result<Option<AttachMode>> {
        if let Some(link) = &self.link {
            bail!("the XDP program is already attached to {}", link.interface);
        }
        let name = self.wanted_program();
        if let Some(pins) = &self.pins
            && pins.link().exists()
        {
            match adopt(&mut self.ebpf, name, &pins.link()) {
                Ok(id) => {
                    self.link = Some(Link {
                        id,
                        interface: interface.to_owned(),
                        mode: None,
                        program: name,
                    });
                    return Ok(None);
                }
                Err(e) => {
                    tracing::warn!(%interface, "not adopting the pinned XDP link: {e:#}");
                    pins::remove(&pins.link())?;
                }
            }
        }
        let program = program_mut(&mut self.ebpf, name)?;
        let (id, used) = match mode {
            AttachMode::Native | AttachMode::Skb => {
                let id = program
                    .attach(interface, xdp_mode(mode))
                    .with_context(|| format!("attaching XDP to {interface} in {mode} mode"))?;
                (id, mode)
            }
            AttachMode::Auto => match program.attach(interface, XdpMode::Driver) {
                Ok(id) => (id, AttachMode::Native),
                Err(native) => {
                    tracing::warn!(
                        %interface, error = %native,
                        "native XDP unavailable, falling back to generic (skb) mode"
                    );
                    let id = program.attach(interface, XdpMode::Skb).with_context(|| {
                        format!("attaching XDP to {interface} (native failed: {native})")
                    })?;
                    (id, AttachMode::Skb)
                }
            },
        };
        let id = match &self.pins {
            Some(pins) => pin_link(program_mut(&mut self.ebpf, name)?, id, &pins.link())?,
            None => id,
        };
        self.link = Some(Link {
            id,
            interface: interface.to_owned(),
            mode: Some(used),
            program: name,
        });
        Ok(Some(used))
    }

    /// Moves the link to the variant the steering now needs, atomically (bpf_link_update):
    /// no frame meets an interface without a program.
    fn sync_program(&mut self) -> anyhow::Result<()> {
        let wanted = self.wanted_program();
        let Some(link) = self.link.take_if(|l| l.program != wanted) else {
            return Ok(());
        };
        let taken = program_mut(&mut self.ebpf, link.program)?.take_link(link.id)?;
        let id = program_mut(&mut self.ebpf, wanted)?
            .attach_to_link(taken)
            .with_context(|| format!("switching {} to {wanted}", link.interface))?;
        self.link = Some(Link {
            id,
            program: wanted,
            ..link
        });
        Ok(())
    }

    /// Detaches from the interface, if attached. Dropping the `Dataplane` detaches too.
    pub fn detach(&mut self) -> anyhow::Result<()> {
        if let Some(link) = self.link.take() {
            program_mut(&mut self.ebpf, link.program)?
                .detach(link.id)
                .with_context(|| format!("detaching XDP from {}", link.interface))?;
        }
        Ok(())
    }

    /// The variant attached (`names::PROGRAM` or `names::STEER_PROGRAM`), if attached.
    pub fn attached_program(&self) -> Option<&'static str> {
        self.link.as_ref().map(|l| l.program)
    }

    /// The interface and mode the program is attached with (`None`: adopted, mode unknown).
    pub fn attachment(&self) -> Option<(&str, Option<AttachMode>)> {
        self.link.as_ref().map(|l| (l.interface.as_str(), l.mode))
    }

    /// Turns absorption of repeated adverts on or off.
    pub fn set_absorb(&mut self, on: bool) {
        self.update_control(|c| {
            c.flags = if on {
                c.flags | CONTROL_ABSORB
            } else {
                c.flags & !CONTROL_ABSORB
            };
        })
    }

    /// Read-modify-write of the control slot, which the program also writes (it sets
    /// `CONTROL_ORPHANED`).
    fn update_control(&mut self, change: impl FnOnce(&mut Control)) {
        let mut control = self.control.get(0);
        change(&mut control);
        self.control.set(0, control);
    }

    /// Every virtual router the program has heard from.
    pub fn liveness(&self) -> Vec<RouterLiveness> {
        (0..self.liveness.entries())
            .filter_map(|slot| self.liveness_of(LivenessKey::from_slot(slot)))
            .collect()
    }

    /// What the program last heard from one virtual router, if anything.
    pub fn liveness_of(&self, key: LivenessKey) -> Option<RouterLiveness> {
        self.liveness.read(key)
    }

    /// The liveness map for another thread, for as long as it keeps it: it holds the mapping,
    /// which outlives this dataplane if need be.
    pub fn liveness_reader(&self) -> Arc<dyn LivenessReader> {
        self.liveness.clone()
    }

    /// The per-reason and per-outcome counters, summed over CPUs.
    pub fn counters(&self) -> anyhow::Result<Counters> {
        Counters::read(&self.counters)
    }
}

/// Reads liveness slots: a mapping of the map (`Dataplane::liveness_reader`), or a test's
/// stand-in.
pub trait LivenessReader: Send + Sync {
    /// What the program last heard from one virtual router, if anything.
    fn read(&self, key: LivenessKey) -> Option<RouterLiveness>;
}

impl LivenessReader for SharedArray<Liveness> {
    fn read(&self, key: LivenessKey) -> Option<RouterLiveness> {
        let raw = self.get(key.slot());
        (raw.adverts != 0).then(|| RouterLiveness::new(key, raw))
    }
}

/// One of the object's programs for labs and benchmarks, loaded on its own.
pub struct LabProgram {
    ebpf: Ebpf,
    name: &'static str,
}

impl LabProgram {
    /// Passes every frame: the XDP benchmark's baseline, and what labs attach to the far end
    /// of a veth so that `XDP_TX`ed frames are delivered.
    pub fn pass() -> anyhow::Result<Self> {
        Self::load(names::PASS_PROGRAM)
    }

    /// Sends every frame back out: the idle benchmark's kernel-side sender.
    pub fn bounce() -> anyhow::Result<Self> {
        Self::load(names::BOUNCE_PROGRAM)
    }

    fn load(name: &'static str) -> anyhow::Result<Self> {
        let mut ebpf = Ebpf::load(OBJECT).context("loading the XDP object")?;
        program_mut(&mut ebpf, name)?.load()?;
        Ok(Self { ebpf, name })
    }

    pub fn program(&mut self) -> anyhow::Result<&mut Xdp> {
        program_mut(&mut self.ebpf, self.name)
    }
}

/// The values of `map` in this process's memory; see `shared`.
fn shared<T: Copy>(map: Map, entries: u32) -> anyhow::Result<SharedArray<T>> {
    let Map::Array(data) = map else {
        bail!("map {map:?} is not an array");
    };
    SharedArray::new(data, entries)
}

fn program_mut<'a>(ebpf: &'a mut Ebpf, name: &str) -> anyhow::Result<&'a mut Xdp> {
    ebpf.program_mut(name)
        .ok_or_else(|| anyhow!("program {name} missing from the XDP object"))?
        .try_into()
        .with_context(|| format!("{name} is not an XDP program"))
}

/// Moves the link pinned at `path` to `name`'s program; the pin stays.
fn adopt(ebpf: &mut Ebpf, name: &str, path: &std::path::Path) -> anyhow::Result<XdpLinkId> {
    let pinned = PinnedLink::from_pin(path).context("opening the pinned link")?;
    let link = XdpLink::try_from(FdLink::from(pinned)).context("the pinned link is not XDP")?;
    program_mut(ebpf, name)?
        .attach_to_link(link)
        .context("replacing the program of the pinned link (bpf_link_update)")
}

/// Pins the link `id` of `program` at `path` and hands it back to the program, which keeps
/// managing it (swaps with bpf_link_update, detach on a clean stop).
fn pin_link(program: &mut Xdp, id: XdpLinkId, path: &std::path::Path) -> anyhow::Result<XdpLinkId> {
    pins::remove(path)?;
    let link = FdLink::try_from(program.take_link(id)?).context("the XDP link has no fd")?;
    let pinned = link
        .pin(path)
        .with_context(|| format!("pinning the XDP link at {}", path.display()))?;
    let link = XdpLink::try_from(FdLink::from(pinned))?;
    Ok(program.attach_to_link(link)?)
}

fn xdp_mode(mode: AttachMode) -> XdpMode {
    match mode {
        AttachMode::Auto => XdpMode::Default,
        AttachMode::Native => XdpMode::Driver,
        AttachMode::Skb => XdpMode::Skb,
    }
}
