//! Whole configurations: the article's two seed files against keepalived 2.2.7's own output,
//! each error class at its exact line:col, includes, reload comparison, and garbage input.

use std::{
    net::IpAddr,
    path::{Path, PathBuf},
};

use proptest::prelude::*;

use super::*;
use crate::{scripts::Exposure, time::Centisecs};

/// A machine with the given interfaces whose only runnable programs are under `/usr/bin`.
struct FakeHost {
    interfaces: &'static [&'static str],
}

impl Host for FakeHost {
    fn interface_exists(&self, name: &str) -> bool {
        self.interfaces.contains(&name)
    }

    fn script_problem(&self, program: &str) -> Option<String> {
        (!program.starts_with("/usr/bin/")).then(|| "No such file or directory".to_string())
    }

    fn user_exists(&self, _: &str) -> bool {
        false
    }
}

const ETH: FakeHost = FakeHost {
    interfaces: &["eth0", "eth1", "eth2"],
};

fn check(text: &str) -> Result<Loaded, Diagnostics> {
    parse_str(Path::new("k.conf"), text, &ETH)
}

fn seed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/config")
        .join(name)
}

fn seed_report(name: &str, host: &dyn Host) -> (Result<Loaded, Diagnostics>, String) {
    let path = seed(name);
    let result = load_with(&path, host);
    let all = match &result {
        Ok(loaded) => Diagnostics(loaded.warnings.clone()).to_string(),
        Err(diags) => diags.to_string(),
    };
    (
        result,
        all.replace(&format!("{}:", path.display()), "seed:"),
    )
}

const MINIMAL: &str = "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    192.0.2.100\n  }\n}\n";

// keepalived -t, in a namespace with eth0, says (seed-master.keepalived-output.txt):
//   (Line 8) vrrp_garp_interval '0' is invalid
//   (Line 9) vrrp_gna_interval '0' is invalid
//   Disabling track script chk_http_port since not found/accessible
//   (VI_1) State MASTER must match being address owner
//   (VI_1) Strict mode does not support authentication. Ignoring.
// and when running also that /etc/keepalived/notify.sh cannot be accessed, three times.
#[test]
fn seed_master_reports_what_keepalived_reports() {
    let (result, all) = seed_report(
        "seed-master.conf",
        &FakeHost {
            interfaces: &["eth0"],
        },
    );
    assert_eq!(
        all,
        "seed:8:24: warning: vrrp_garp_interval '0' is invalid (must be in [0.000001, 4294.967295] seconds) - ignored\n\
         seed:9:23: warning: vrrp_gna_interval '0' is invalid (must be in [0.000001, 4294.967295] seconds) - ignored\n\
         seed:21:5: warning: (VI_1) State MASTER must match being address owner\n\
         seed:26:5: warning: (VI_1) Strict mode does not support authentication. Ignoring.\n\
         seed:13:12: warning: Script /etc/keepalived/chk_nginx.sh cannot be accessed - No such file or directory; disabling track script chk_http_port since not found/accessible\n\
         seed:36:19: warning: Script /etc/keepalived/notify.sh cannot be accessed - No such file or directory; notify_master will not run\n\
         seed:37:19: warning: Script /etc/keepalived/notify.sh cannot be accessed - No such file or directory; notify_backup will not run\n\
         seed:38:19: warning: Script /etc/keepalived/notify.sh cannot be accessed - No such file or directory; notify_fault will not run\n"
    );
    let config = result.unwrap().config;
    let vi = config.instance("VI_1").unwrap();
    // What keepalived runs with: BACKUP (not the owner), no authentication, no track script.
    assert_eq!(vi.state, InitialState::Backup);
    assert_eq!(vi.auth, None);
    assert!(vi.track_scripts.is_empty());
    assert!(config.scripts.is_empty());
    assert_eq!(
        (vi.vrid, vi.priority, vi.advert_int, vi.version),
        (51, 100, Centisecs(100), Version::V2)
    );
    assert!(vi.strict && !vi.accept && vi.preempt);
    assert_eq!(config.global.router_id.as_deref(), Some("LVS_DEVEL"));
}

#[test]
fn seed_backup_reports_what_keepalived_reports() {
    let (result, all) = seed_report(
        "seed-backup.conf",
        &FakeHost {
            interfaces: &["eth0"],
        },
    );
    assert_eq!(
        all,
        "seed:8:24: warning: vrrp_garp_interval '0' is invalid (must be in [0.000001, 4294.967295] seconds) - ignored\n\
         seed:9:23: warning: vrrp_gna_interval '0' is invalid (must be in [0.000001, 4294.967295] seconds) - ignored\n\
         seed:27:5: warning: (VI_1) Strict mode does not support authentication. Ignoring.\n\
         seed:13:12: warning: Script /etc/keepalived/chk_nginx.sh cannot be accessed - No such file or directory; disabling track script chk_http_port since not found/accessible\n\
         seed:37:19: warning: Script /etc/keepalived/notify.sh cannot be accessed - No such file or directory; notify_master will not run\n\
         seed:38:19: warning: Script /etc/keepalived/notify.sh cannot be accessed - No such file or directory; notify_backup will not run\n\
         seed:39:19: warning: Script /etc/keepalived/notify.sh cannot be accessed - No such file or directory; notify_fault will not run\n"
    );
    let vi = result.unwrap().config.instances.remove(0);
    assert_eq!(
        (vi.state, vi.priority, vi.preempt),
        (InitialState::Backup, 90, false)
    );
    assert_eq!(vi.vips.len(), 1);
    assert_eq!(vi.vips[0].addr, "192.168.1.100".parse::<IpAddr>().unwrap());
    assert_eq!(vi.vips[0].prefix, 32);
}

// keepalived without eth0: "(keepalived.conf: Line 22) WARNING - interface eth0 for
// vrrp_instance VI_1 doesn't exist" / "Non-existent interface specified in configuration",
// and it refuses to start.
#[test]
fn seed_without_eth0_is_refused_like_keepalived() {
    for name in ["seed-master.conf", "seed-backup.conf"] {
        let (result, all) = seed_report(name, &FakeHost { interfaces: &[] });
        let diags = result.unwrap_err();
        assert_eq!(diags.errors().count(), 1, "{all}");
        assert!(
            all.contains(
                "seed:22:15: error: interface eth0 for vrrp_instance VI_1 doesn't exist \
                 (Non-existent interface specified in configuration)\n"
            ),
            "{all}"
        );
    }
}

#[test]
fn seed_with_scripts_in_place_tracks_the_script() {
    struct Everything;
    impl Host for Everything {
        fn interface_exists(&self, _: &str) -> bool {
            true
        }
        fn script_problem(&self, _: &str) -> Option<String> {
            None
        }
        fn user_exists(&self, _: &str) -> bool {
            true
        }
    }
    let (result, _) = seed_report("seed-master.conf", &Everything);
    let config = result.unwrap().config;
    let vi = config.instance("VI_1").unwrap();
    assert_eq!(
        vi.track_scripts,
        [Tracked {
            name: "chk_http_port".into(),
            weight: -5,
            reverse: false
        }]
    );
    assert_eq!(
        vi.notify.master.as_ref().unwrap().line,
        "/etc/keepalived/notify.sh 192.168.1.100 master"
    );
    let script = config.script("chk_http_port").unwrap();
    assert_eq!(
        (script.interval, script.fall, script.rise),
        (Centisecs(200), 2, 1)
    );
}

#[test]
fn minimal_instance_takes_keepalived_defaults() {
    let loaded = check(MINIMAL).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let vi = &loaded.config.instances[0];
    assert_eq!(vi.state, InitialState::Backup);
    assert_eq!(vi.priority, 100);
    assert_eq!(vi.advert_int, Centisecs(100));
    assert_eq!(vi.family, Family::Ipv4);
    assert_eq!(vi.version, Version::V2);
    assert!(vi.preempt && vi.accept && !vi.strict);
    assert_eq!(vi.garp, Garp::default());
}

#[test]
fn every_supported_keyword() {
    let text = r#"
global_defs {
    router_id R1
    vrrp_version 3
    vrrp_skip_check_adv_addr
    vrrp_garp_master_delay 2
    vrrp_garp_master_repeat 3
    vrrp_garp_master_refresh 30
    vrrp_garp_master_refresh_repeat 2
    vrrp_garp_interval 0.001
    vrrp_gna_interval 0.002
    script_user nobody
    enable_script_security
}
vrrp_script chk {
    script "/usr/bin/check --quiet"
    interval 3
    timeout 2
    weight 20 reverse
    fall 3
    rise 2
    user nobody
}
vrrp_track_file tf {
    file /run/prio
    weight 2
}
vrrp_instance V4 {
    state BACKUP
    interface eth0
    virtual_router_id 10
    priority 150
    advert_int 0.5
    nopreempt
    virtual_ipaddress {
        192.0.2.10/24 dev eth1 label eth1:vip brd 192.0.2.255 scope global
    }
    virtual_ipaddress_excluded {
        2001:db8::10/64
    }
    track_script {
        chk weight -7
    }
    track_interface {
        eth1 weight 5
        eth2
    }
    track_file {
        tf
    }
    notify_master "/usr/bin/n master" root
    notify_backup /usr/bin/n
    notify_fault /usr/bin/n
    notify_stop /usr/bin/n
    notify /usr/bin/all
    unicast_src_ip 192.0.2.1
    unicast_peer {
        192.0.2.2
        192.0.2.3
    }
    no_accept
    garp_master_delay 1
    garp_master_repeat 2
    garp_master_refresh 10
    garp_master_refresh_repeat 4
}
vrrp_instance V6 {
    interface eth0
    virtual_router_id 10
    version 3
    priority 200
    advert_int 0.05
    preempt_delay 2.5
    accept
    virtual_ipaddress {
        fe80::1/64
        2001:db8::1/64
    }
}
vrrp_sync_group G {
    group {
        V4
        V6
    }
    notify_master /usr/bin/g
    notify /usr/bin/g
    sync_group_tracking_weight
}
"#;
    let loaded = check(text).unwrap();
    assert!(
        loaded.warnings.is_empty(),
        "{}",
        Diagnostics(loaded.warnings.clone())
    );
    let c = loaded.config;
    assert_eq!(c.global.vrrp_version, Version::V3);
    assert_eq!(c.global.garp_interval, std::time::Duration::from_millis(1));
    assert_eq!(c.scripts[0].weight, 20);
    assert_eq!(c.track_files[0].path, Path::new("/run/prio"));

    let v4 = c.instance("V4").unwrap();
    assert_eq!(v4.state, InitialState::Backup);
    assert_eq!(v4.version, Version::V3, "global vrrp_version applies");
    assert_eq!(v4.advert_int, Centisecs(50));
    assert!(!v4.preempt);
    assert_eq!(v4.vips[0].dev.as_deref(), Some("eth1"));
    assert_eq!(
        v4.excluded_vips[0].addr,
        "2001:db8::10".parse::<IpAddr>().unwrap()
    );
    assert_eq!(
        v4.track_scripts,
        [Tracked {
            name: "chk".into(),
            weight: -7,
            reverse: false
        }]
    );
    assert_eq!(
        v4.track_interfaces,
        [
            Tracked {
                name: "eth1".into(),
                weight: 5,
                reverse: false
            },
            Tracked {
                name: "eth2".into(),
                weight: 0,
                reverse: false
            }
        ]
    );
    assert_eq!(
        v4.track_files,
        [Tracked {
            name: "tf".into(),
            weight: 2,
            reverse: false
        }]
    );
    assert_eq!(
        v4.notify
            .master
            .as_ref()
            .unwrap()
            .run_as
            .as_ref()
            .unwrap()
            .user,
        "root"
    );
    assert!(v4.notify.stop.is_some() && v4.notify.any.is_some());
    assert_eq!(v4.unicast_src_ip, Some("192.0.2.1".parse().unwrap()));
    assert_eq!(v4.unicast_peers.len(), 2);
    assert!(!v4.accept);
    assert_eq!(
        v4.garp,
        Garp {
            master_delay: Centisecs(100),
            master_repeat: 2,
            master_refresh: Some(Centisecs(1000)),
            master_refresh_repeat: 4,
            lower_prio_repeat: None,
            higher_prio_send_advert: true,
        }
    );

    let v6 = c.instance("V6").unwrap();
    assert_eq!(
        (v6.family, v6.version, v6.state),
        (Family::Ipv6, Version::V3, InitialState::Backup)
    );
    assert_eq!(v6.advert_int, Centisecs(5));
    assert_eq!(v6.preempt_delay, Centisecs(250));
    assert!(v6.accept);
    assert_eq!(
        v6.garp.master_delay,
        Centisecs(200),
        "global garp defaults apply"
    );
    assert_eq!(c.sync_group_of("V6").unwrap().name, "G");
    assert!(c.sync_groups[0].notify.any.is_some());
    assert!(c.sync_groups[0].tracking_weight);
}

/// (config, every diagnostic). One case per error class, positions exact.
#[test]
fn error_classes_with_exact_positions() {
    let cases: &[(&str, &str)] = &[
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n priority 0\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:4:11: error: priority '0' outside range [1, 255]\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n priority 256\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:4:11: error: priority '256' outside range [1, 255]\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 0\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:3:20: error: virtual_router_id '0' outside range [1, 255]\n\
             k.conf:1:1: error: (V) the virtual router id must be set\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n advert_int 0\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:4:13: error: advert_int '0' outside range [0.01, 255]\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n advert_int fast\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:4:13: error: invalid number of seconds 'fast' for advert_int\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n authentication {\n  auth_type MD5\n  auth_pass x\n }\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:5:13: error: (V) unknown authentication type 'MD5'\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.256/24\n }\n}\n",
            "k.conf:5:3: error: invalid IP address '192.0.2.256'\n\
             k.conf:1:1: warning: (V) No VIP specified; at least one is sensible\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n  2001:db8::1\n }\n}\n",
            "k.conf:6:3: error: (V): address family must match VRRP instance [2001:db8::1/128] - IPv4 instance \
             (keepalived ignores this address; use a separate instance or virtual_ipaddress_excluded)\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n version 3\n virtual_ipaddress {\n  2001:db8::1\n  192.0.2.1\n }\n}\n",
            "k.conf:7:3: error: (V): address family must match VRRP instance [192.0.2.1/32] - IPv6 instance \
             (keepalived ignores this address; use a separate instance or virtual_ipaddress_excluded)\n\
             k.conf:6:3: warning: (V) the first IPv6 VIP address should be link local\n",
        ),
        (
            "vrrp_instance V {\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:1:1: error: (V) no interface: an instance needs 'interface' (or 'unicast_src_ip' for unicast)\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:1:1: error: (V) the virtual router id must be set\n",
        ),
        (
            "vrrp_instance V {\n interface eth9\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:2:12: error: interface eth9 for vrrp_instance V doesn't exist \
             (Non-existent interface specified in configuration)\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1 dev eth8\n }\n\
             virtual_ipaddress_excluded {\n  192.0.2.2/24 dev eth7\n }\n track_interface {\n  eth6\n }\n}\n",
            "k.conf:5:3: error: interface eth8 for ip address 192.0.2.1 doesn't exist \
             (Non-existent interface specified in configuration)\n\
             k.conf:8:3: error: interface eth7 for ip address 192.0.2.2 doesn't exist \
             (Non-existent interface specified in configuration)\n\
             k.conf:11:3: error: (V) tracked interface eth6 doesn't exist \
             (Non-existent interface specified in configuration)\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n\
             vrrp_instance V {\n interface eth1\n virtual_router_id 2\n virtual_ipaddress {\n  192.0.2.2\n }\n}\n",
            "k.conf:8:15: error: vrrp instance V already defined at k.conf:1:15\n",
        ),
        (
            "vrrp_instance A {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n\
             vrrp_instance B {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress {\n  192.0.2.2\n }\n}\n",
            "k.conf:10:20: error: A and B both use VRID 7 with IPv4 on interface eth0 (first at k.conf:3:20)\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n track_script {\n  nosuch\n }\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:5:3: error: (V) track script nosuch not found\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n track_file {\n  nofile\n }\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:5:3: error: (V) track file nofile not found\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n\
             vrrp_sync_group G1 {\n group {\n  V\n }\n}\nvrrp_sync_group G2 {\n group {\n  V\n  W\n }\n}\n",
            "k.conf:8:1: warning: Sync group G1 has only 1 virtual router(s) - this probably isn't what you want\n\
             k.conf:15:3: error: Virtual router V cannot exist in more than one sync group (already in G1)\n\
             k.conf:16:3: error: Virtual router W specified in sync group G2 doesn't exist\n",
        ),
        (
            "global_defs {\n vrrp_strict\n}\nvrrp_instance V {\n interface eth0\n virtual_router_id 1\n priority 255\n\
             virtual_ipaddress {\n  192.0.2.1\n }\n unicast_peer {\n  192.0.2.9\n }\n}\n",
            "k.conf:12:3: error: (V) Unicast peers are not supported in strict mode\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n version 3\n}\n",
            "k.conf:1:1: error: (V) No VIP specified; at least one is required\n",
        ),
        (
            "vrrp_instance {\n}\n",
            "k.conf:1:1: error: vrrp_instance must have a name\n",
        ),
        (
            "vrrp_instance V\n",
            "k.conf:1:1: error: 'vrrp_instance' needs a { } block\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n }\n",
            "k.conf:1:17: error: missing '}' for this '{'\n",
        ),
        (
            "global_defs {\n}\n}\n",
            "k.conf:3:1: error: unexpected '}' with no block open\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n unicast_src_ip 192.0.2.1\n unicast_peer {\n  2001:db8::2\n }\n\
             virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:6:3: error: (V) unicast peer address 2001:db8::2 MUST be of the same family as the instance (IPv4)\n",
        ),
        (
            "vrrp_script s {\n script /usr/bin/a\n}\nvrrp_script s {\n script /usr/bin/b\n}\n",
            "k.conf:4:1: error: vrrp_script s already defined at k.conf:1:1\n\
             k.conf:2:9: warning: SECURITY VIOLATION - scripts are being executed but script_security not enabled \
             (this script runs as root)\n",
        ),
    ];
    for (text, expected) in cases {
        let result = check(text);
        assert!(result.is_err(), "accepted:\n{text}");
        assert_eq!(result.unwrap_err().to_string(), *expected, "for:\n{text}");
    }
}

/// What keepalived silently fixes is accepted with a warning saying how it was fixed.
#[test]
fn keepalived_fixups_are_warnings() {
    let cases: &[(&str, &str)] = &[
        (
            "vrrp_instance V {\n state MAIN\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:2:8: warning: (V) unknown state 'MAIN', defaulting to BACKUP\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n advert_int 1.5\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:4:13: warning: (V) VRRPv2 advertisement interval 1.5s must be an integer. rounding to 2s\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n version 3\n advert_int 1.234\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:5:13: warning: (V) VRRPv3 advertisement interval 1.234s must be in units of 10ms - rounding to 1.23s\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n version 3\n advert_int 50\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:5:13: warning: (V) VRRPv3 advertisement interval 50s is out of range. Must be less than 40.96s. Setting to 40.95s\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n priority 255\n nopreempt\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:5:2: warning: (V) nopreempt is incompatible with priority 255. resetting nopreempt\n",
        ),
        (
            "vrrp_instance V {\n state MASTER\n priority 100\n nopreempt\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:4:2: warning: (V) Warning - nopreempt will not work with initial state MASTER - clearing\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n authentication {\n  auth_type PASS\n  auth_pass 123456789\n }\n\
             virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:6:13: warning: Truncating auth_pass to 8 characters\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n version 3\n authentication {\n  auth_type AH\n  auth_pass x\n }\n\
             virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:5:2: warning: (V) VRRP version 3 does not support authentication. Ignoring.\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n authentication {\n  auth_pass x\n }\n\
             virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:4:2: warning: (V) authentication without auth_type - ignored\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n authentication {\n  auth_type PASS\n }\n\
             virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:4:2: warning: (V) Authentication specified but no password given. Ignoring\n",
        ),
        (
            "vrrp_instance V {\n state MASTER\n priority 200\n interface eth0\n virtual_router_id 1\n\
             authentication {\n  auth_type AH\n  auth_pass secret\n }\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:6:1: warning: (V) Initial state master is incompatible with AH authentication - clearing\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n track_interface {\n  eth0\n }\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:5:3: warning: (V) Ignoring track_interface eth0 since own interface\n",
        ),
        (
            "global_defs {\n smtp_server 192.0.2.25\n frobnicate\n}\nvirtual_server 192.0.2.1 80 {\n real_server 192.0.2.2 80 {\n }\n}\n\
             vrrp_instance V {\n interface eth0\n virtual_router_id 1\n use_vmac\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:2:2: warning: 'smtp_server' is a keepalived feature xvrrp does not implement; ignored\n\
             k.conf:3:2: warning: Unknown keyword 'frobnicate'\n\
             k.conf:5:1: warning: 'virtual_server' is a keepalived feature xvrrp does not implement; ignored\n\
             k.conf:12:2: warning: 'use_vmac' is a keepalived feature xvrrp does not implement; ignored\n",
        ),
        (
            "vrrp_script s {\n script /usr/bin/s\n weight 10\n}\nvrrp_instance V {\n interface eth0\n virtual_router_id 1\n priority 255\n\
             track_interface {\n  eth1 weight 5\n  eth2\n }\n track_script {\n  s\n }\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:10:3: warning: (V) ignoring eth1 tracked interface due to address owner\n\
             k.conf:14:3: warning: (V) ignoring tracked script s with weights due to address_owner\n\
             k.conf:2:9: warning: SECURITY VIOLATION - scripts are being executed but script_security not enabled \
             (this script runs as root)\n",
        ),
        (
            "global_defs {\n script_user root\n}\nvrrp_script s {\n script /usr/bin/s\n weight 10\n}\n\
             vrrp_instance A {\n interface eth0\n virtual_router_id 1\n track_script {\n  s\n }\n track_interface {\n  eth1 weight 5\n }\n\
             virtual_ipaddress {\n  192.0.2.1\n }\n}\n\
             vrrp_instance B {\n interface eth0\n virtual_router_id 2\n virtual_ipaddress {\n  192.0.2.2\n }\n}\n\
             vrrp_sync_group G {\n group {\n  A\n  B\n }\n}\n",
            "k.conf:30:3: warning: (A) ignoring eth1 tracked interface weight due to SYNC group\n\
             k.conf:30:3: warning: (A) ignoring tracked script s with weights due to SYNC group\n\
             k.conf:5:9: warning: SECURITY VIOLATION - scripts are being executed but script_security not enabled \
             (this script runs as root)\n",
        ),
        (
            "global_defs {\n script_user nobody\n}\nvrrp_script quiet {\n script /usr/bin/a\n}\nvrrp_script loud {\n script /usr/bin/b\n user root\n}\n\
             vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
            "k.conf:8:9: warning: SECURITY VIOLATION - scripts are being executed but script_security not enabled \
             (this script runs as root)\n",
        ),
        (
            "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n version 2\n virtual_ipaddress {\n  fe80::1\n }\n}\n",
            "k.conf:1:1: warning: (V) cannot use IPv6 with VRRP version 2; setting version 3\n",
        ),
    ];
    for (text, expected) in cases {
        let loaded = check(text).unwrap_or_else(|d| panic!("refused:\n{text}\n{d}"));
        assert_eq!(
            Diagnostics(loaded.warnings).to_string(),
            *expected,
            "for:\n{text}"
        );
    }
}

/// A machine where `/usr/bin/open*` can be replaced by a non-root user, `/usr/bin/dev` is a
/// device, and `keepalived_script` exists only if asked.
struct Exposed {
    keepalived_script: bool,
}

impl Host for Exposed {
    fn interface_exists(&self, _: &str) -> bool {
        true
    }
    fn script_problem(&self, _: &str) -> Option<String> {
        None
    }
    fn user_exists(&self, name: &str) -> bool {
        name == "keepalived_script" && self.keepalived_script
    }
    fn script_exposure(&self, program: &str, run_as: Option<&RunAs>) -> Option<Exposure> {
        let as_root = run_as.is_none_or(|r| r.user == "root");
        let component = PathBuf::from(program);
        match program {
            _ if !as_root => None,
            "/usr/bin/dev" => Some(Exposure::WrongType { component }),
            p if p.starts_with("/usr/bin/open") => Some(Exposure::Writable { component }),
            _ => None,
        }
    }
}

const EXPOSED_INSTANCE: &str = "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n track_script {\n  safe\n  open\n }\n\
     notify_master /usr/bin/open-notify\n notify_backup /usr/bin/safe-notify\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n";
const EXPOSED_SCRIPTS: &str = "vrrp_script safe {\n script /usr/bin/safe\n weight 10\n}\n\
     vrrp_script open {\n script /usr/bin/open\n weight 10\n}\n";

fn exposed(global: &str, keepalived_script: bool) -> Result<Loaded, Diagnostics> {
    let text = format!("global_defs {{\n{global}}}\n{EXPOSED_SCRIPTS}{EXPOSED_INSTANCE}");
    parse_str(Path::new("k.conf"), &text, &Exposed { keepalived_script })
}

fn warnings(loaded: &Loaded) -> String {
    Diagnostics(loaded.warnings.clone()).to_string()
}

/// keepalived 2.2.7 with `enable_script_security`: a script someone else could replace is
/// dropped, and the instances tracking it go on without it (its weight is not added).
#[test]
fn script_security_disables_replaceable_scripts() {
    let loaded = exposed(" enable_script_security\n script_user root\n", false).unwrap();
    assert_eq!(
        warnings(&loaded),
        "k.conf:10:9: warning: Unsafe permissions found for script '/usr/bin/open' - disabling \
         (/usr/bin/open can be changed by a non-root user); disabling track script open due to insecure\n\
         k.conf:20:15: warning: Unsafe permissions found for script '/usr/bin/open-notify' - disabling \
         (/usr/bin/open-notify can be changed by a non-root user); notify_master will not run\n"
    );
    let v = loaded.config.instance("V").unwrap();
    let tracked: Vec<&str> = v.track_scripts.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(tracked, ["safe"]);
    assert!(loaded.config.scripts.iter().all(|s| s.name != "open"));
    assert_eq!(v.notify.master, None);
    assert!(v.notify.backup.is_some());

    // Run as someone else, nothing needs protecting.
    let loaded = exposed(" enable_script_security\n script_user nobody\n", false).unwrap();
    assert_eq!(warnings(&loaded), "");
    assert_eq!(loaded.config.instance("V").unwrap().track_scripts.len(), 2);
}

/// Without `enable_script_security` the same scripts run, with keepalived's warnings.
#[test]
fn without_script_security_replaceable_scripts_are_warned_about() {
    let loaded = exposed(" script_user root\n", false).unwrap();
    assert_eq!(
        warnings(&loaded),
        "k.conf:9:9: warning: Unsafe permissions found for script '/usr/bin/open' \
         (/usr/bin/open can be changed by a non-root user).\n\
         k.conf:19:15: warning: Unsafe permissions found for script '/usr/bin/open-notify' \
         (/usr/bin/open-notify can be changed by a non-root user).\n\
         k.conf:5:9: warning: SECURITY VIOLATION - scripts are being executed but script_security not enabled \
         (this script runs as root). There are insecure scripts.\n"
    );
    assert_eq!(loaded.config.instance("V").unwrap().track_scripts.len(), 2);
}

/// keepalived 2.2.7 with `enable_script_security` and nobody to run scripts as: neither
/// `script_user` nor the user `keepalived_script` means no scripts at all.
#[test]
fn script_security_needs_a_script_user() {
    let loaded = exposed(" enable_script_security\n", false).unwrap();
    let all = warnings(&loaded);
    assert!(
        all.starts_with(
            "k.conf:5:9: warning: Unable to set default user keepalived_script for script /usr/bin/safe \
             (enable_script_security needs script_user, the script's own user or the user keepalived_script); \
             disabling track script safe due to insecure\n"
        ),
        "{all}"
    );
    let v = loaded.config.instance("V").unwrap();
    assert!(v.track_scripts.is_empty());
    assert_eq!((&v.notify.master, &v.notify.backup), (&None, &None));

    let loaded = exposed(" enable_script_security\n", true).unwrap();
    assert_eq!(warnings(&loaded), "");
    assert_eq!(loaded.config.instance("V").unwrap().track_scripts.len(), 2);
}

#[test]
fn a_script_of_the_wrong_type_never_runs() {
    let text = "vrrp_script d {\n script /usr/bin/dev\n}\n\
                vrrp_instance V {\n interface eth0\n virtual_router_id 1\n track_script {\n  d\n }\n\
                virtual_ipaddress {\n  192.0.2.1\n }\n}\n";
    let loaded = parse_str(
        Path::new("k.conf"),
        text,
        &Exposed {
            keepalived_script: false,
        },
    )
    .unwrap();
    assert_eq!(
        warnings(&loaded),
        "k.conf:2:9: warning: Wrong file type found in script path '/usr/bin/dev' \
         (/usr/bin/dev has the wrong file type); disabling track script d due to insecure\n"
    );
    assert!(
        loaded
            .config
            .instance("V")
            .unwrap()
            .track_scripts
            .is_empty()
    );
}

#[test]
fn authentication_is_kept_for_v2() {
    let text = MINIMAL.replace(
        "virtual_router_id 51",
        "virtual_router_id 51\n  authentication {\n    auth_type AH\n    auth_pass secret\n  }",
    );
    let loaded = check(&text).unwrap();
    assert!(loaded.warnings.is_empty());
    assert_eq!(
        loaded.config.instances[0].auth,
        Some(Auth {
            kind: AuthType::Ah,
            pass: b"secret".to_vec()
        })
    );
}

#[test]
fn errors_are_all_collected() {
    let text = "vrrp_instance V {\n interface eth0\n virtual_router_id 300\n priority 0\n advert_int 0\n\
                virtual_ipaddress {\n  192.0.2.x\n }\n}\nbogus\n";
    let diags = check(text).unwrap_err();
    assert_eq!(
        diags.to_string(),
        "k.conf:3:20: error: virtual_router_id '300' outside range [1, 255]\n\
         k.conf:4:11: error: priority '0' outside range [1, 255]\n\
         k.conf:5:13: error: advert_int '0' outside range [0.01, 255]\n\
         k.conf:7:3: error: invalid IP address '192.0.2.x'\n\
         k.conf:1:1: warning: (V) No VIP specified; at least one is sensible\n\
         k.conf:1:1: error: (V) the virtual router id must be set\n\
         k.conf:10:1: warning: Unknown keyword 'bogus'\n"
    );
}

#[test]
fn reload_compares_instances_not_positions() {
    let a = check(MINIMAL).unwrap().config;
    let moved = check(&format!("! moved down\n\n{MINIMAL}")).unwrap().config;
    assert_eq!(a.instances[0], moved.instances[0]);
    let changed = check(&MINIMAL.replace(
        "virtual_router_id 51",
        "virtual_router_id 51\n  priority 101",
    ))
    .unwrap()
    .config;
    assert_ne!(a.instances[0], changed.instances[0]);
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("xvrrp-config-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn includes_glob_relative_to_the_including_file_and_keep_positions() {
    let dir = TempDir::new("include");
    let main = dir.write(
        "keepalived.conf",
        "global_defs {\n  router_id R\n  script_user nobody\n}\ninclude conf.d/{10-script,20-instance}.conf\n",
    );
    dir.write(
        "conf.d/10-script.conf",
        "vrrp_script chk {\n  script /usr/bin/true\n}\n",
    );
    // Relative to conf.d/, not to the main file or the working directory.
    dir.write("conf.d/20-instance.conf", "include ../instances/*.inc\n");
    dir.write("conf.d/30-skip.conf", "this is not included\n");
    dir.write(
        "instances/vi.inc",
        "vrrp_instance VI {\n  interface eth0\n  virtual_router_id 5\n  priority 999\n}\n",
    );
    let diags = load_with(&main, &ETH).unwrap_err();
    let inc = dir.0.join("conf.d/../instances/vi.inc");
    assert_eq!(
        diags.to_string(),
        format!(
            "{}:4:12: error: priority '999' outside range [1, 255]\n\
                                           {}:1:1: warning: (VI) No VIP specified; at least one is sensible\n",
            inc.display(),
            inc.display()
        )
    );

    dir.write("instances/vi.inc", "vrrp_instance VI {\n  interface eth0\n  virtual_router_id 5\n  track_script {\n    chk\n  }\n  virtual_ipaddress {\n    192.0.2.5\n  }\n}\n");
    let config = load_with(&main, &ETH).unwrap().config;
    assert_eq!(config.global.router_id.as_deref(), Some("R"));
    assert_eq!(config.instances[0].track_scripts[0].name, "chk");
}

#[test]
fn include_loops_and_missing_files() {
    let dir = TempDir::new("loop");
    let main = dir.write("a.conf", "include b.conf\n");
    dir.write("b.conf", "include a.conf\n");
    let diags = load_with(&main, &ETH).unwrap_err();
    assert_eq!(
        diags.to_string(),
        format!(
            "{}:1:9: error: include loop: {} is already being read\n",
            dir.0.join("b.conf").display(),
            dir.0.join("a.conf").display()
        )
    );
    let missing = dir.0.join("nope.conf");
    assert_eq!(
        load_with(&missing, &ETH).unwrap_err().to_string(),
        format!(
            "{}:1:1: error: cannot read {}: No such file or directory (os error 2)\n",
            missing.display(),
            missing.display()
        )
    );
}

/// Words keepalived.conf is made of, so random input reaches the block handlers.
fn vocabulary() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "global_defs",
        "vrrp_instance",
        "vrrp_script",
        "vrrp_sync_group",
        "vrrp_track_file",
        "group",
        "VI",
        "chk",
        "interface",
        "eth0",
        "virtual_router_id",
        "priority",
        "advert_int",
        "state",
        "MASTER",
        "BACKUP",
        "nopreempt",
        "authentication",
        "auth_type",
        "PASS",
        "AH",
        "auth_pass",
        "virtual_ipaddress",
        "192.0.2.1/24",
        "2001:db8::1",
        "fe80::1",
        "dev",
        "label",
        "brd",
        "scope",
        "track_script",
        "track_interface",
        "track_file",
        "weight",
        "reverse",
        "unicast_peer",
        "unicast_src_ip",
        "version",
        "3",
        "2",
        "0",
        "1",
        "255",
        "256",
        "-5",
        "1.5",
        "0.001",
        "include",
        "*.conf",
        "notify_master",
        "\"/usr/bin/x a\"",
        "\"open",
        "{",
        "}",
        "\n",
        "\n",
        "\n",
        "#",
        "!",
        "vrrp_strict",
        "vrrp_garp_interval",
        "preempt_delay",
        "script",
        "interval",
        "fall",
        "rise",
        "virtual_server",
        "é",
    ])
    .prop_map(str::to_string)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC*") {
        let _ = check(&text);
    }

    #[test]
    fn arbitrary_keyword_soup_never_panics(words in prop::collection::vec(vocabulary(), 0..200)) {
        let text = words.join(" ");
        match check(&text) {
            Ok(loaded) => prop_assert!(loaded.warnings.iter().all(|d| d.severity == Severity::Warning)),
            Err(diags) => prop_assert!(diags.has_errors()),
        }
    }
}
