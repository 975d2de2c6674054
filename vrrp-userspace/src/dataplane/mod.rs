//! The XDP program seen from the daemon: load it, attach it to an interface, steer it through
//! the control map, and read what it recorded.

mod readings;

use std::{fmt, str::FromStr};

use anyhow::{Context as _, anyhow, bail};
use aya::{
    Ebpf,
    maps::{Array, MapData, PerCpuArray},
    programs::{Xdp, XdpMode, xdp::XdpLinkId},
};
use vrrp_common::maps::{self as names, CONTROL_ABSORB, Control, Liveness, LivenessKey};

pub use readings::{Counters, RouterLiveness};

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

/// The loaded program and its maps; attached to at most one interface.
pub struct Dataplane {
    ebpf: Ebpf,
    liveness: Array<MapData, Liveness>,
    counters: PerCpuArray<MapData, u64>,
    control: Array<MapData, Control>,
    link: Option<(XdpLinkId, String, AttachMode)>,
}

impl Dataplane {
    /// Loads the program into the kernel (running the verifier) without attaching it.
    pub fn load() -> anyhow::Result<Self> {
        let mut ebpf = Ebpf::load(OBJECT).context(
            "loading the XDP object (needs root or CAP_BPF + CAP_NET_ADMIN, and a kernel with BTF)",
        )?;
        xdp_mut(&mut ebpf)?
            .load()
            .context("the kernel rejected the XDP program")?;
        let mut take = |name: &str| {
            ebpf.take_map(name)
                .ok_or_else(|| anyhow!("map {name} missing from the XDP object"))
        };
        let liveness = Array::try_from(take(names::LIVENESS)?)?;
        let counters = PerCpuArray::try_from(take(names::COUNTERS)?)?;
        let control = Array::try_from(take(names::CONTROL)?)?;
        Ok(Self {
            ebpf,
            liveness,
            counters,
            control,
            link: None,
        })
    }

    /// The loaded program, for `test_run` (BPF_PROG_RUN) in tests and benchmarks.
    pub fn program(&mut self) -> anyhow::Result<&mut Xdp> {
        xdp_mut(&mut self.ebpf)
    }

    /// Attaches to `interface`; returns the mode that was actually used.
    pub fn attach(&mut self, interface: &str, mode: AttachMode) -> anyhow::Result<AttachMode> {
        if let Some((_, current, _)) = &self.link {
            bail!("the XDP program is already attached to {current}");
        }
        let program = xdp_mut(&mut self.ebpf)?;
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
        self.link = Some((id, interface.to_owned(), used));
        Ok(used)
    }

    /// Detaches from the interface, if attached. Dropping the `Dataplane` detaches too.
    pub fn detach(&mut self) -> anyhow::Result<()> {
        if let Some((id, interface, _)) = self.link.take() {
            xdp_mut(&mut self.ebpf)?
                .detach(id)
                .with_context(|| format!("detaching XDP from {interface}"))?;
        }
        Ok(())
    }

    /// The interface and mode the program is attached with.
    pub fn attachment(&self) -> Option<(&str, AttachMode)> {
        self.link.as_ref().map(|(_, i, m)| (i.as_str(), *m))
    }

    /// Turns absorption of repeated adverts on or off.
    pub fn set_absorb(&mut self, on: bool) -> anyhow::Result<()> {
        let mut control = self.control.get(&0, 0)?;
        control.flags = if on {
            control.flags | CONTROL_ABSORB
        } else {
            control.flags & !CONTROL_ABSORB
        };
        self.control
            .set(0, control, 0)
            .context("writing the XDP control map")
    }

    /// Every virtual router the program has heard from.
    pub fn liveness(&self) -> anyhow::Result<Vec<RouterLiveness>> {
        let mut heard = Vec::new();
        for (slot, raw) in self.liveness.iter().enumerate() {
            let raw = raw?;
            if raw.adverts != 0 {
                heard.push(RouterLiveness::new(
                    LivenessKey::from_slot(slot as u32),
                    raw,
                ));
            }
        }
        Ok(heard)
    }

    /// What the program last heard from one virtual router, if anything.
    pub fn liveness_of(&self, key: LivenessKey) -> anyhow::Result<Option<RouterLiveness>> {
        let raw = self.liveness.get(&key.slot(), 0)?;
        Ok((raw.adverts != 0).then(|| RouterLiveness::new(key, raw)))
    }

    /// The per-reason and per-outcome counters, summed over CPUs.
    pub fn counters(&self) -> anyhow::Result<Counters> {
        Counters::read(&self.counters)
    }
}

/// The object's pass-everything program, loaded on its own: a benchmark baseline, and the
/// program labs attach to the far end of a veth so that `XDP_TX`ed frames are delivered.
pub struct PassProgram {
    ebpf: Ebpf,
}

impl PassProgram {
    pub fn load() -> anyhow::Result<Self> {
        let mut ebpf = Ebpf::load(OBJECT).context("loading the XDP object")?;
        program_mut(&mut ebpf, names::PASS_PROGRAM)?.load()?;
        Ok(Self { ebpf })
    }

    pub fn program(&mut self) -> anyhow::Result<&mut Xdp> {
        program_mut(&mut self.ebpf, names::PASS_PROGRAM)
    }
}

fn xdp_mut(ebpf: &mut Ebpf) -> anyhow::Result<&mut Xdp> {
    program_mut(ebpf, names::PROGRAM)
}

fn program_mut<'a>(ebpf: &'a mut Ebpf, name: &str) -> anyhow::Result<&'a mut Xdp> {
    ebpf.program_mut(name)
        .ok_or_else(|| anyhow!("program {name} missing from the XDP object"))?
        .try_into()
        .with_context(|| format!("{name} is not an XDP program"))
}

fn xdp_mode(mode: AttachMode) -> XdpMode {
    match mode {
        AttachMode::Auto => XdpMode::Default,
        AttachMode::Native => XdpMode::Driver,
        AttachMode::Skb => XdpMode::Skb,
    }
}
