//! The instance metadata service's thread (README, *Instance metadata*):
//! the workers punt a guest's TCP to 169.254.169.254:80 here (a copy of its
//! IPv4 packet, on a bounded queue: full is a counted drop,
//! `metadata_busy`); [`vswitch_metadata::MetadataServer`] runs one small
//! TCP/IP stack per NIC and answers from the state document in force; its
//! packets go back framed from the NIC's gateway MAC to the guest, sent by
//! worker 0 (which has a tx queue on every port) between its bursts.

use crate::switch::Switch;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use dpdk::Burst;
use engine::PortIdx;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use vswitch_api::state::SwitchState;
use vswitch_metadata::{Counters, InstanceView, Limits, MetadataServer, NicView};

/// Packets the workers may have queued for the service at once.
pub const PUNT_QUEUE: usize = 1024;
/// Frames the service may have queued for worker 0 at once.
pub const INJECT_QUEUE: usize = 256;
/// The longest the thread sleeps, so that it sees a stop in time.
const MAX_WAIT: Duration = Duration::from_millis(100);
/// Ethernet header length (guest ports are untagged).
const ETH_LEN: usize = 14;

/// A guest's packet for the service.
pub struct Punted {
    /// The NIC it came from.
    pub nic: u32,
    /// Its IPv4 packet (the Ethernet header removed).
    pub packet: Vec<u8>,
}

/// Frames to send on a port for the service.
pub struct Injected {
    /// The port.
    pub port: PortIdx,
    /// The frames, in mbufs.
    pub frames: Burst,
}

/// The running service's thread (its counters are the switch's
/// `metadata` field).
pub struct MetadataService {
    thread: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl MetadataService {
    /// Starts the thread serving what arrives on `punted`, sending through
    /// `inject`.
    pub fn start(sw: Arc<Switch>, punted: Receiver<Punted>, inject: Sender<Injected>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("vs-metadata".into())
            .spawn(move || serve(&sw, &punted, &inject, &s, &sw.metadata))
            .map_err(|e| tracing::warn!("metadata service not started: {e}"))
            .ok();
        MetadataService { thread, stop }
    }
}

impl Drop for MetadataService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    sw: &Switch,
    punted: &Receiver<Punted>,
    inject: &Sender<Injected>,
    stop: &AtomicBool,
    counters: &Mutex<Counters>,
) {
    let mut server = MetadataServer::new(Limits::default());
    let mut out = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wait = server.poll_delay(now).unwrap_or(MAX_WAIT).min(MAX_WAIT);
        match punted.recv_timeout(wait) {
            Ok(p) => {
                let now = Instant::now();
                server.receive(p.nic, &p.packet, now);
                // Take what else is waiting before answering: one poll serves it all.
                for p in punted.try_iter().take(PUNT_QUEUE) {
                    server.receive(p.nic, &p.packet, now);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let snapshot = sw.tables.current();
        let source = DocumentSource(&snapshot.state);
        server.poll(Instant::now(), &source, &mut out);
        if !out.is_empty() {
            send(sw, &snapshot.state, &mut out, inject);
        }
        if let Ok(mut c) = counters.lock() {
            *c = server.counters();
        }
    }
}

/// Frames each packet of `out` for its NIC's guest and hands it to worker 0;
/// a NIC no longer attached here, or a full queue, loses the packet (TCP
/// sends it again).
fn send(
    sw: &Switch,
    state: &SwitchState,
    out: &mut Vec<(u32, Vec<u8>)>,
    inject: &Sender<Injected>,
) {
    let dir = sw.directory();
    for (nic, packet) in out.drain(..) {
        let Some(n) = state.nic(nic) else { continue };
        let Some(port) = n.port() else { continue };
        let Some(idx) = dir.names.iter().position(|x| x == port) else {
            continue;
        };
        let len = ETH_LEN + packet.len();
        let Ok(len16) = u16::try_from(len) else {
            continue;
        };
        let mut frames = Burst::new();
        if frames.alloc(&sw.pool, 1, len16) != 1 {
            continue;
        }
        let b = frames.data_mut(0);
        if b.len() < len {
            continue;
        }
        b[0..6].copy_from_slice(&n.nic.mac.0);
        b[6..12].copy_from_slice(&n.nic.gateway_mac.0);
        b[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        b[ETH_LEN..len].copy_from_slice(&packet);
        let _ = inject.try_send(Injected {
            port: idx as PortIdx,
            frames,
        });
    }
}

/// The metadata tree's facts, read from the state document in force: the
/// instance a NIC is attached to and every NIC attached to it.
struct DocumentSource<'a>(&'a SwitchState);

impl vswitch_metadata::MetadataSource for DocumentSource<'_> {
    fn instance_of(&self, key: u32) -> Option<InstanceView> {
        let s = self.0;
        let instance = s.nic(key)?.attached()?.instance.clone();
        let nics = s
            .nics
            .iter()
            .filter_map(|n| {
                let a = n.attached().filter(|a| a.instance == instance)?;
                let spec = &n.nic;
                Some(NicView {
                    device_index: a.device_index,
                    mac: spec.mac.0,
                    interface_id: format!("eni-{:08x}", spec.id),
                    local_ipv4s: spec
                        .ipv4
                        .into_iter()
                        .chain(spec.secondary_ipv4.iter().copied())
                        .collect(),
                    ipv6s: spec
                        .ipv6
                        .into_iter()
                        .chain(spec.secondary_ipv6.iter().copied())
                        .collect(),
                    subnet_id: spec.subnet.clone(),
                    vpc_id: spec.vpc.clone(),
                    security_group_ids: spec.security_groups.clone(),
                    subnet_ipv4_cidr_block: None,
                })
            })
            .collect();
        Some(InstanceView {
            instance_id: instance,
            nics,
        })
    }
}
