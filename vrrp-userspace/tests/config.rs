//! `config::load` through the public API, checking against this machine (no fakes): what the
//! daemon and `xvrrp check` call.

use std::path::{Path, PathBuf};

use vrrp_userspace::{
    config::{self, Host, InitialState, Severity, System},
    time::Centisecs,
};

struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str, text: &str) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("xvrrp-config-it-{tag}-{}.conf", std::process::id()));
        std::fs::write(&path, text).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn unicast_instance_loads_on_any_machine() {
    // No interface (unicast_src_ip instead) and /bin/sh: nothing this machine may lack.
    let file = TempFile::new(
        "unicast",
        "global_defs {\n  script_user root\n  enable_script_security\n}\n\
         vrrp_script chk {\n  script \"/bin/sh -c true\"\n  weight -10\n}\n\
         vrrp_instance VI {\n  virtual_router_id 9\n  priority 150\n  advert_int 2\n\
         unicast_src_ip 192.0.2.1\n  unicast_peer {\n    192.0.2.2\n  }\n\
         virtual_ipaddress {\n    192.0.2.10/24\n  }\n  track_script {\n    chk\n  }\n}\n",
    );
    let loaded = config::load(&file.0).unwrap_or_else(|d| panic!("{d}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let vi = loaded.config.instance("VI").unwrap();
    assert_eq!(
        (vi.vrid, vi.priority, vi.advert_int, vi.state),
        (9, 150, Centisecs(200), InitialState::Backup)
    );
    assert_eq!(vi.track_scripts[0].weight, -10);
}

#[test]
fn an_interface_this_machine_lacks_is_an_error_at_its_position() {
    assert!(!System.interface_exists("xvrrp-absent0"));
    let file = TempFile::new(
        "absent",
        "vrrp_instance VI {\n  interface xvrrp-absent0\n  virtual_router_id 9\n  virtual_ipaddress {\n    192.0.2.10\n  }\n}\n",
    );
    let diags = config::load(&file.0).unwrap_err();
    assert_eq!(
        diags.to_string(),
        format!(
            "{}:2:13: error: interface xvrrp-absent0 for vrrp_instance VI doesn't exist \
             (Non-existent interface specified in configuration)\n",
            file.0.display()
        )
    );
}

#[test]
fn seed_diagnostics_read_like_a_compiler() {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config/seed-master.conf");
    // Whatever this machine has, the two interval warnings are there and every line is
    // `file:line:col: severity: message`.
    let all = match config::load(&seed) {
        Ok(loaded) => loaded.warnings,
        Err(diags) => diags.0,
    };
    assert!(all.len() >= 2);
    for d in &all {
        let line = d.to_string();
        let rest = line.strip_prefix(&format!("{}:", seed.display())).unwrap();
        let mut parts = rest.splitn(4, ':');
        let (l, c, sev) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        assert!(
            l.parse::<u32>().is_ok() && c.parse::<u32>().is_ok(),
            "{line}"
        );
        assert!(sev == " warning" || sev == " error", "{line}");
    }
    assert_eq!(all[0].severity, Severity::Warning);
    assert_eq!((all[0].pos.line, all[0].pos.col), (8, 24));
    assert_eq!((all[1].pos.line, all[1].pos.col), (9, 23));
}
