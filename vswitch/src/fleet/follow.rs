//! The follower: a copy of every key under the fleet's root, kept current
//! by an etcd watch, and this switch's view of it after each change.

use super::{FleetLink, FleetUpdate};
use etcd_client::{Client, ConnectOptions, EventType, WatchOptions};
use std::time::{Duration, Instant};
use vswitch_fabric::keys;
use vswitch_fabric::view::{self, Mirror};
use vswitch_fleet::paged;

/// How long to wait before connecting to etcd again.
const RETRY: Duration = Duration::from_millis(500);

/// What the follower knows across connections.
struct Follower {
    mirror: Mirror,
    /// The revision `mirror` is at (0: nothing read yet).
    revision: i64,
}

/// Follows the fleet until the link is stopped.
pub(super) fn run(link: &FleetLink) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            link.set_connected(false, Some(format!("cannot start a runtime: {e}")));
            return;
        }
    };
    let mut f = Follower {
        mirror: Mirror::new(),
        revision: 0,
    };
    while !link.stopping() {
        let r = rt.block_on(async {
            tokio::select! {
                r = follow_once(link, &mut f) => r,
                () = stopped(link) => Ok(()),
            }
        });
        if let Err(e) = r {
            if link.connected() {
                tracing::warn!(
                    "fleet: etcd {}: {e}; forwarding on the state in force",
                    link.cfg.etcd.join(",")
                );
            }
            link.set_connected(
                false,
                Some(format!("etcd {}: {e}", link.cfg.etcd.join(","))),
            );
        }
        std::thread::sleep(RETRY);
    }
}

async fn stopped(link: &FleetLink) {
    while !link.stopping() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn offer(link: &FleetLink, f: &Follower) {
    link.offer(FleetUpdate {
        revision: f.revision,
        parts: view::read(&f.mirror, &link.cfg.sled, &link.role),
        read_at: Instant::now(),
    });
}

async fn follow_once(link: &FleetLink, f: &mut Follower) -> Result<(), etcd_client::Error> {
    let opts = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(2))
        .with_keep_alive(Duration::from_secs(1), Duration::from_secs(2))
        .with_keep_alive_while_idle(true);
    let mut client = Client::connect(link.cfg.etcd.clone(), Some(opts)).await?;
    let root = format!("{}/", keys::ROOT);
    if f.revision == 0 {
        // In pages: one answer for a large fleet would exceed the client's
        // message limit (see vswitch_fleet::paged).
        let (revision, all) = paged::read_prefix(&mut client, &root, paged::PAGE).await?;
        f.revision = revision;
        f.mirror = all.into_iter().map(|e| (e.key, e.value)).collect();
        link.with_status(|s| s.resyncs += 1);
        offer(link, f);
    }
    let (_watcher, mut stream) = client
        .watch(
            root.as_str(),
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(f.revision + 1)
                    .with_progress_notify(),
            ),
        )
        .await?;
    link.set_connected(true, None);
    tracing::info!(revision = f.revision, "fleet: watching etcd");
    while let Some(resp) = stream.message().await? {
        if resp.canceled() {
            if resp.compact_revision() > 0 {
                tracing::warn!(
                    from = f.revision + 1,
                    compacted = resp.compact_revision(),
                    "fleet: the revision to watch from was compacted; reading everything again"
                );
                f.revision = 0;
            }
            return Err(etcd_client::Error::WatchError(format!(
                "watch canceled: {}",
                resp.cancel_reason()
            )));
        }
        if resp.events().is_empty() {
            continue;
        }
        // The events' own revision, not the header's: the header may be
        // ahead of events still to come, which a watch resumed from it
        // would miss.
        let mut revision = f.revision;
        for ev in resp.events() {
            let Some(kv) = ev.kv() else { continue };
            revision = revision.max(kv.mod_revision());
            let key = String::from_utf8_lossy(kv.key()).into_owned();
            match ev.event_type() {
                EventType::Put => {
                    f.mirror.insert(key, kv.value().to_vec());
                }
                EventType::Delete => {
                    f.mirror.remove(&key);
                }
            }
        }
        f.revision = revision;
        offer(link, f);
    }
    Err(etcd_client::Error::WatchError("the watch ended".into()))
}
