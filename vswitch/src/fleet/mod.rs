//! Fleet mode (README, *Fleet mode*): the switch's VPC objects come from
//! the fleet's etcd instead of its control socket. A follower thread keeps
//! a copy of the fleet's keys current (a full read, then a watch from the
//! revision after it) and, after each watch message, reads this switch's
//! part of them ([`vswitch_fabric::view`]); the management thread takes the
//! latest such view and publishes it as one generation through the same
//! check-and-commit path as `apply`. While etcd is away the switch keeps
//! forwarding on what it runs (kept in its state file, so a restart comes
//! back on it too), and catches up when etcd is back: a watch from the last
//! revision it read, or a full read when that revision was compacted.

mod follow;
mod migrate;
mod refuse;

pub use migrate::MigrationAgent;

pub use refuse::refusal;

use crate::config::FleetConfig;
use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use vswitch_api::FleetStatus;
use vswitch_fabric::view::{FleetParts, LocalUnderlay};

/// One read of this switch's part of the fleet's state.
pub struct FleetUpdate {
    /// The etcd revision it was read at.
    pub revision: i64,
    /// The fleet-owned parts, or every fault that refuses them.
    pub parts: Result<FleetParts, Vec<String>>,
    /// When the follower read it (for the time to publish).
    pub read_at: Instant,
}

/// The link between the follower thread and the management thread.
pub struct FleetLink {
    /// The configuration's `[fleet]`.
    pub cfg: FleetConfig,
    /// The switch's role (`sled` or `boundary`).
    pub role: String,
    status: Mutex<FleetStatus>,
    lost_at: Mutex<Option<Instant>>,
    latest: Mutex<Option<FleetUpdate>>,
    wake: Sender<()>,
    stop: AtomicBool,
    /// Seconds from the follower's read to the publication, of the last
    /// fleet change published.
    pub last_publish_secs: Mutex<f64>,
}

impl FleetLink {
    /// A link for `cfg`, whose state in force was built at `applied` (from
    /// the state file), and the receiver the management thread waits on.
    pub fn new(cfg: FleetConfig, role: &str, applied: i64) -> (Arc<FleetLink>, Receiver<()>) {
        let (wake, woken) = crossbeam_channel::bounded(1);
        let status = FleetStatus {
            sled: cfg.sled.clone(),
            etcd: cfg.etcd.clone(),
            revision_applied: applied,
            revision_seen: applied,
            ..Default::default()
        };
        let link = FleetLink {
            cfg,
            role: role.to_string(),
            status: Mutex::new(status),
            lost_at: Mutex::new(Some(Instant::now())),
            latest: Mutex::new(None),
            wake,
            stop: AtomicBool::new(false),
            last_publish_secs: Mutex::new(0.0),
        };
        (Arc::new(link), woken)
    }

    /// What of the underlay stays this switch's own.
    pub fn local_underlay(&self) -> LocalUnderlay {
        LocalUnderlay {
            uplink: self.cfg.uplink.clone(),
            nexthop_mac: self.cfg.nexthop_mac,
        }
    }

    /// The status `status` and the metrics show.
    pub fn status(&self) -> FleetStatus {
        let mut s = self.status.lock().map(|s| s.clone()).unwrap_or_default();
        s.disconnected_secs = self
            .lost_at
            .lock()
            .ok()
            .and_then(|l| l.map(|t| t.elapsed().as_secs_f64()));
        s
    }

    /// Changes the status.
    pub fn with_status(&self, f: impl FnOnce(&mut FleetStatus)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }

    /// Whether the follower is connected to etcd.
    pub fn connected(&self) -> bool {
        self.lost_at.lock().map(|l| l.is_none()).unwrap_or(false)
    }

    fn set_connected(&self, up: bool, error: Option<String>) {
        if let Ok(mut l) = self.lost_at.lock() {
            match (up, l.is_some()) {
                (true, _) => *l = None,
                (false, false) => *l = Some(Instant::now()),
                (false, true) => {}
            }
        }
        self.with_status(|s| {
            s.connected = up;
            if let Some(e) = error {
                s.last_error = Some(e);
            } else if up
                && s.last_error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("etcd "))
            {
                s.last_error = None;
            }
        });
    }

    /// Hands the management thread the latest view (replacing one it has
    /// not taken yet: only the newest matters).
    fn offer(&self, u: FleetUpdate) {
        let revision = u.revision;
        if let Ok(mut l) = self.latest.lock() {
            *l = Some(u);
        }
        self.with_status(|s| s.revision_seen = revision);
        let _ = self.wake.try_send(());
    }

    /// The latest view, if one is waiting.
    pub fn take(&self) -> Option<FleetUpdate> {
        self.latest.lock().ok().and_then(|mut l| l.take())
    }

    /// Asks the follower to stop.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// Starts the follower thread of `link`.
pub fn start(link: Arc<FleetLink>) -> Result<std::thread::JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name("vswitch-fleet".into())
        .spawn(move || follow::run(&link))
        .map_err(|e| format!("cannot start the fleet follower: {e}"))
}
