//! Link announcements seen through `LinkWatch` while `ip` changes a veth pair.

use std::time::Duration;

use tests::netns::{Netns, veth};
use vrrp_userspace::net::{
    iface::{Interface, LinkState},
    link_watch::{LinkChange, LinkWatch},
};

/// Events for `index` until one carries `want`, within 5 s.
async fn wait_for(watch: &mut LinkWatch, index: u32, want: LinkChange) {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(event) = watch.next().await {
            if event.index == index {
                assert_eq!(event.name, "v0");
                if event.change == want {
                    return;
                }
                seen.push(event.change);
            }
        }
        panic!("link watch ended");
    })
    .await;
    assert!(found.is_ok(), "no {want:?} for v0 within 5 s; saw {seen:?}");
}

#[test]
fn reports_admin_down_carrier_loss_recovery_and_removal() {
    let (ns, peer) = (Netns::new("lw"), Netns::new("lwp"));
    veth(&ns, "v0", &peer, "v1");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut watch, index) = ns.run(|| {
        let _entered = rt.enter();
        let watch = LinkWatch::open().unwrap();
        let iface = Interface::by_name("v0").unwrap();
        (watch, iface.index())
    });
    rt.block_on(async {
        ns.ip(&["link", "set", "v0", "down"]);
        wait_for(&mut watch, index, LinkChange::State(LinkState::AdminDown)).await;
        ns.ip(&["link", "set", "v0", "up"]);
        wait_for(&mut watch, index, LinkChange::State(LinkState::Up)).await;
        peer.ip(&["link", "set", "v1", "down"]);
        wait_for(&mut watch, index, LinkChange::State(LinkState::NoCarrier)).await;
        peer.ip(&["link", "set", "v1", "up"]);
        wait_for(&mut watch, index, LinkChange::State(LinkState::Up)).await;
        ns.ip(&["link", "del", "v0"]);
        wait_for(&mut watch, index, LinkChange::Removed).await;
    });
}
