//! Keywords keepalived understands but xvrrp does not implement.
//!
//! Operators feed their existing keepalived.conf, which often carries the LVS / checker half or
//! features xvrrp leaves out. Those get one warning each, distinct from keepalived's own
//! "Unknown keyword" for words neither program knows, so a typo is not mistaken for a feature.

use super::{diagnostic::Diagnostics, tree::Node};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    TopLevel,
    GlobalDefs,
    Instance,
    Script,
    TrackFile,
    SyncGroup,
}

const TOP_LEVEL: &[&str] = &[
    "virtual_server",
    "virtual_server_group",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "vrrp_track_process",
    "bfd_instance",
    "linkbeat_interfaces",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "instance",
    "use_pid_dir",
    "garp_group",
    "SSL",
];

const GLOBAL_DEFS: &[&str] = &[
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_helo_name",
    "smtp_connect_timeout",
    "smtp_alert",
    "smtp_alert_vrrp",
    "smtp_alert_checker",
    "checker_log_all_failures",
    "no_email_faults",
    "lvs_id",
    "lvs_flush",
    "lvs_flush_onstop",
    "lvs_timeouts",
    "lvs_sync_daemon",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "lvs_notify_fifo",
    "lvs_notify_fifo_script",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "vrrp_iptables",
    "vrrp_ipsets",
    "nftables",
    "nftables_priority",
    "nftables_ifindex",
    "nftables_counters",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_extra_if",
    "vrrp_down_timer_adverts",
    "vrrp_lower_prio_no_advert",
    "vrrp_priority",
    "vrrp_no_swap",
    "vrrp_cpu_affinity",
    "vrrp_rt_priority",
    "vrrp_rlimit_rttime",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "vrrp_notify_fifo",
    "vrrp_notify_fifo_script",
    "vrrp_notify_priority_changes",
    "vrrp_startup_delay",
    "vrrp_log_unknown_vrids",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "vrrp_process_name",
    "vrrp_dont_track_primary",
    "checker_priority",
    "checker_no_swap",
    "checker_cpu_affinity",
    "checker_rt_priority",
    "checker_rlimit_rttime",
    "checker_process_name",
    "bfd_priority",
    "bfd_no_swap",
    "bfd_cpu_affinity",
    "bfd_rt_priority",
    "bfd_rlimit_rttime",
    "bfd_process_name",
    "snmp_socket",
    "enable_snmp_vrrp",
    "enable_snmp_keepalived",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_snmp_checker",
    "enable_traps",
    "enable_dbus",
    "enable_dbus_instance_name",
    "dynamic_interfaces",
    "default_interface",
    "max_auto_priority",
    "min_auto_priority_delay",
    "linkbeat_use_polling",
    "process_names",
    "process_name",
    "notify_fifo",
    "notify_fifo_script",
    "instance",
    "net_namespace",
    "local_name",
    "umask",
    "random_seed",
    "reload_check_config",
    "reload_time_file",
    "reload_repeat",
    "reload_file",
    "config_save_dir",
    "data_use_instance",
    "fifo_write_vrrp_states_on_reload",
    "startup_script",
    "startup_script_timeout",
    "shutdown_script",
    "shutdown_script_timeout",
    "script_security",
    "use_symlink_paths",
];

const INSTANCE: &[&str] = &[
    "use_vmac",
    "use_vmac_addr",
    "vmac_xmit_base",
    "use_ipvlan",
    "native_ipv6",
    "vrf",
    "dont_track_primary",
    "track_src_ip",
    "track_process",
    "track_bfd",
    "mcast_dst_ip",
    "unicast_fault_no_peer",
    "unicast_ttl",
    "old_unicast_checksum",
    "lvs_sync_daemon_interface",
    "garp_lower_prio_delay",
    "garp_extra_if",
    "down_timer_adverts",
    "lower_prio_no_advert",
    "promote_secondaries",
    "virtual_routes",
    "virtual_rules",
    "debug",
    "notify_master_rx_lower_pri",
    "notify_deleted",
    "notify_priority_changes",
    "smtp_alert",
    "kernel_rx_buf_size",
    "linkbeat_use_polling",
];

const SCRIPT: &[&str] = &["init_fail"];

const TRACK_FILE: &[&str] = &["init_file"];

const SYNC_GROUP: &[&str] = &[
    "track_interface",
    "track_script",
    "track_file",
    "track_process",
    "track_bfd",
    "smtp_alert",
    "notify_priority_changes",
];

fn unsupported(context: Context) -> &'static [&'static str] {
    match context {
        Context::TopLevel => TOP_LEVEL,
        Context::GlobalDefs => GLOBAL_DEFS,
        Context::Instance => INSTANCE,
        Context::Script => SCRIPT,
        Context::TrackFile => TRACK_FILE,
        Context::SyncGroup => SYNC_GROUP,
    }
}

/// A statement no block handler claimed: a keepalived feature xvrrp leaves out, or a word
/// keepalived would not know either. Both only warn, as keepalived does; the block, if any,
/// is skipped whole.
pub fn not_handled(node: &Node, context: Context, diags: &mut Diagnostics) {
    let word = &node.key.text;
    if unsupported(context).contains(&word.as_str()) {
        diags.warn(
            node.pos(),
            format!("'{word}' is a keepalived feature xvrrp does not implement; ignored"),
        );
    } else {
        diags.warn(node.pos(), format!("Unknown keyword '{word}'"));
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{lexer::lex, tree::parse};

    #[test]
    fn unsupported_and_unknown_are_told_apart() {
        let mut d = Diagnostics::default();
        let nodes = parse(
            &lex(
                Path::new("t.conf"),
                "virtual_server 192.0.2.1 80 {\n}\nbogus 1\n",
                &mut d,
            ),
            &mut d,
        );
        for n in &nodes {
            not_handled(n, Context::TopLevel, &mut d);
        }
        assert_eq!(
            d.to_string(),
            "t.conf:1:1: warning: 'virtual_server' is a keepalived feature xvrrp does not implement; ignored\n\
             t.conf:3:1: warning: Unknown keyword 'bogus'\n"
        );
    }

    #[test]
    fn lists_hold_no_duplicates() {
        for context in [
            Context::TopLevel,
            Context::GlobalDefs,
            Context::Instance,
            Context::Script,
            Context::TrackFile,
            Context::SyncGroup,
        ] {
            let list = unsupported(context);
            let mut sorted = list.to_vec();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len(), "{context:?}");
        }
    }
}
