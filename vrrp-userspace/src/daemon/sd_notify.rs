//! systemd's readiness protocol (sd_notify(3)): one datagram to `$NOTIFY_SOCKET`, a path or,
//! with a leading `@`, an abstract socket name. Without the variable there is no systemd to
//! tell, and nothing is sent.

use std::os::{
    linux::net::SocketAddrExt,
    unix::net::{SocketAddr, UnixDatagram},
};

use anyhow::{Context, Result};

pub fn notify(state: &str) -> Result<()> {
    match std::env::var_os("NOTIFY_SOCKET") {
        Some(path) => send(&path.to_string_lossy(), state),
        None => Ok(()),
    }
}

fn send(path: &str, state: &str) -> Result<()> {
    let addr = match path.strip_prefix('@') {
        Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
        None => SocketAddr::from_pathname(path),
    }
    .with_context(|| format!("NOTIFY_SOCKET={path}"))?;
    let socket = UnixDatagram::unbound().context("opening a socket for sd_notify")?;
    socket
        .send_to_addr(state.as_bytes(), &addr)
        .with_context(|| format!("telling systemd {state:?} over {path}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_the_state_to_a_path_or_an_abstract_name() {
        let dir = std::env::temp_dir().join(format!("xvrrp-sd-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let _ = std::fs::remove_file(&path);
        let listener = UnixDatagram::bind(&path).unwrap();
        send(path.to_str().unwrap(), "READY=1").unwrap();
        let mut buf = [0; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        std::fs::remove_dir_all(&dir).unwrap();

        let name = format!("xvrrp-sd-notify-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();
        send(&format!("@{name}"), "STOPPING=1").unwrap();
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
    }
}
