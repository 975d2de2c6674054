//! An interface by name and index, and what the daemon reads about it synchronously: MAC, link
//! state (for `track_interface`), IPv6 forwarding (the Router flag of an NA).
//!
//! Everything here asks the kernel through the calling thread's network namespace (ioctl on a
//! socket, `/proc/sys/net`), never through `/sys/class/net`, which shows the namespace sysfs
//! was mounted in rather than the one the thread runs in.

use std::{
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
};

use anyhow::{Context, Result, bail, ensure};

/// An interface of the current network namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Interface {
    name: String,
    index: u32,
}

/// What `track_interface` needs: keepalived counts an interface as up when it is both
/// administratively up (`IFF_UP`) and running (`IFF_RUNNING`, carrier present).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    Up,
    AdminDown,
    NoCarrier,
}

impl LinkState {
    /// From the `IFF_*` interface flags, as the ioctl and rtnetlink report them.
    pub(crate) fn from_flags(flags: u32) -> Self {
        if flags & libc::IFF_UP as u32 == 0 {
            LinkState::AdminDown
        } else if flags & libc::IFF_RUNNING as u32 == 0 {
            LinkState::NoCarrier
        } else {
            LinkState::Up
        }
    }
}

impl Interface {
    pub fn by_name(name: &str) -> Result<Self> {
        ensure!(
            !name.is_empty() && name.len() < libc::IFNAMSIZ && !name.contains(['/', '\0']),
            "{name:?} is not a valid interface name (1 to {} bytes, no '/')",
            libc::IFNAMSIZ - 1
        );
        let c_name = std::ffi::CString::new(name).expect("checked for NUL above");
        // SAFETY: c_name is a valid NUL-terminated string.
        let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
        if index == 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::ENODEV) {
                bail!("interface {name} not found in this network namespace");
            }
            return Err(err).with_context(|| format!("looking up interface {name}"));
        }
        Ok(Interface {
            name: name.to_owned(),
            index,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn index(&self) -> u32 {
        self.index
    }

    /// The hardware address; fails for interfaces that are not Ethernet-like (GARP and NA
    /// frames are Ethernet frames).
    pub fn mac(&self) -> Result<[u8; 6]> {
        let req = self.ioctl(libc::SIOCGIFHWADDR, "reading the MAC address")?;
        // SAFETY: SIOCGIFHWADDR fills ifru_hwaddr.
        let hw = unsafe { req.ifr_ifru.ifru_hwaddr };
        ensure!(
            hw.sa_family == libc::ARPHRD_ETHER,
            "interface {} is not Ethernet (ARP hardware type {}); GARP and NA need an Ethernet MAC",
            self.name,
            hw.sa_family
        );
        let mut mac = [0; 6];
        for (m, b) in mac.iter_mut().zip(hw.sa_data) {
            *m = b as u8;
        }
        Ok(mac)
    }

    pub fn link_state(&self) -> Result<LinkState> {
        let req = self.ioctl(libc::SIOCGIFFLAGS, "reading the link flags")?;
        // SAFETY: SIOCGIFFLAGS fills ifru_flags.
        let flags = unsafe { req.ifr_ifru.ifru_flags };
        // ifr_flags is the low 16 bits of the interface flags, which hold IFF_UP and IFF_RUNNING.
        Ok(LinkState::from_flags(u32::from(flags as u16)))
    }

    /// The name of the interface's driver, as `ethtool -i` shows it (e.g. "veth"); `None` for
    /// a device that names none (loopback).
    pub fn driver(&self) -> Result<Option<String>> {
        /// `struct ethtool_drvinfo`: the command, the driver's name, fields not read here.
        #[repr(C)]
        struct DrvInfo {
            cmd: u32,
            driver: [u8; 32],
            rest: [u8; 160],
        }
        const ETHTOOL_GDRVINFO: u32 = 3;
        let mut info = DrvInfo {
            cmd: ETHTOOL_GDRVINFO,
            driver: [0; 32],
            rest: [0; 160],
        };
        let asked = self.ioctl_with(libc::SIOCETHTOOL, "reading the driver name", |req| {
            req.ifr_ifru.ifru_data = (&raw mut info).cast();
        });
        if let Err(e) = asked {
            let unsupported = e
                .downcast_ref::<io::Error>()
                .is_some_and(|e| e.raw_os_error() == Some(libc::EOPNOTSUPP));
            return if unsupported { Ok(None) } else { Err(e) };
        }
        let len = info.driver.iter().position(|&b| b == 0).unwrap_or(32);
        Ok(Some(
            String::from_utf8_lossy(&info.driver[..len]).into_owned(),
        ))
    }

    /// `net.ipv6.conf.<name>.forwarding`: keepalived sets the Router flag of its NAs from it.
    pub fn ipv6_forwarding(&self) -> Result<bool> {
        let path = format!("/proc/sys/net/ipv6/conf/{}/forwarding", self.name);
        let value = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {path} (is IPv6 disabled on {}?)", self.name))?;
        Ok(value.trim() != "0")
    }

    fn ioctl(&self, request: libc::c_ulong, what: &str) -> Result<libc::ifreq> {
        self.ioctl_with(request, what, |_| {})
    }

    /// `ioctl` with a request that `prepare` completes (a pointer the kernel fills, say).
    fn ioctl_with(
        &self,
        request: libc::c_ulong,
        what: &str,
        prepare: impl FnOnce(&mut libc::ifreq),
    ) -> Result<libc::ifreq> {
        // SAFETY: plain socket(2); the result is checked before use.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error())
                .with_context(|| format!("{what} of {}: opening a socket", self.name));
        }
        // SAFETY: fd was just created and is owned by nothing else.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: ifreq is plain old data; all zeroes is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req.ifr_name.iter_mut().zip(self.name.bytes()) {
            *dst = src as libc::c_char;
        }
        prepare(&mut req);
        // SAFETY: req is a valid ifreq with a NUL-terminated name (by_name bounds its length);
        // a pointer `prepare` put in it points at a buffer of the size the request implies,
        // which outlives the call.
        let rc = unsafe { libc::ioctl(socket.as_raw_fd(), request as _, &mut req) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::ENODEV) {
                bail!("interface {} no longer exists", self.name);
            }
            return Err(err).with_context(|| format!("{what} of {}", self.name));
        }
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_found_and_is_not_ethernet() {
        let lo = Interface::by_name("lo").unwrap();
        assert_eq!(lo.index(), 1);
        let err = lo.mac().unwrap_err().to_string();
        assert!(err.contains("not Ethernet"), "{err}");
    }

    #[test]
    fn loopback_names_no_driver() {
        let lo = Interface::by_name("lo").unwrap();
        assert_eq!(lo.driver().unwrap(), None);
    }

    #[test]
    fn unknown_and_invalid_names_say_so() {
        let err = Interface::by_name("xvrrp-nope0").unwrap_err().to_string();
        assert_eq!(
            err,
            "interface xvrrp-nope0 not found in this network namespace"
        );
        for bad in ["", "a-name-far-too-long", "a/b"] {
            let err = Interface::by_name(bad).unwrap_err().to_string();
            assert!(err.contains("not a valid interface name"), "{bad:?}: {err}");
        }
    }
}
