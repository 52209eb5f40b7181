//! The engine's one test harness: a switch as a test builds it (its ports,
//! its tables, one worker's engine), set up through the functions the
//! control socket uses, and packets run through it as the worker runs them.
//! Every engine test module builds on it; each adds its own topology.

use crate::control::vpc::PortDirectory;
use crate::pktbuf::VecPacket;
use crate::sequencer::Engine;
use crate::tables::{Snapshot, TableStore};
use crate::{DropReason, Outcome, Path, PortIdx, PortRole, SwitchRole, Verdict};
use std::net::Ipv6Addr;
use wire::MacAddr;

/// Flows each test engine holds at most.
pub(crate) const FLOW_CAPACITY: usize = 1024;

/// A port of a test switch: its name, role, MAC and MTU (`None`: the default).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TestPort<'a> {
    pub(crate) name: &'a str,
    pub(crate) role: PortRole,
    pub(crate) mac: [u8; 6],
    pub(crate) mtu: Option<u16>,
}

/// A port with the default MTU.
pub(crate) fn port(name: &str, role: PortRole, mac: [u8; 6]) -> TestPort<'_> {
    TestPort {
        name,
        role,
        mac,
        mtu: None,
    }
}

/// A switch under test.
pub(crate) struct Switch {
    /// The ports, as the control commands see them.
    pub(crate) dir: PortDirectory,
    /// The published tables.
    pub(crate) tables: TableStore,
    /// One worker's engine.
    pub(crate) engine: Engine,
}

impl Switch {
    /// A switch of `role` with `ports`, one worker and nothing configured.
    pub(crate) fn new(role: SwitchRole, ports: &[TestPort]) -> Self {
        let (dir, tables) = Self::tables(role, ports);
        Switch {
            dir,
            tables,
            engine: Engine::new(FLOW_CAPACITY),
        }
    }

    /// The port directory and tables alone (for the control commands' tests).
    pub(crate) fn tables(role: SwitchRole, ports: &[TestPort]) -> (PortDirectory, TableStore) {
        let mtus = if ports.iter().any(|p| p.mtu.is_some()) {
            ports
                .iter()
                .map(|p| p.mtu.unwrap_or_else(|| p.role.default_mtu()))
                .collect()
        } else {
            vec![]
        };
        let dir = PortDirectory {
            names: ports.iter().map(|p| p.name.to_string()).collect(),
            roles: ports.iter().map(|p| p.role).collect(),
            macs: ports.iter().map(|p| MacAddr(p.mac)).collect(),
            workers: 1,
            flow_quota: 1 << 20,
            mtus,
            runtime: vec![],
        };
        let tables = TableStore::new(Snapshot::with_role(role, ports.len()));
        (dir, tables)
    }

    /// Runs a frame through the engine as the worker does: a burst (of
    /// one), the first pass's hint, then processing from it.
    pub(crate) fn run(&mut self, port: PortIdx, frame: &[u8], now: u64) -> (Outcome, Vec<u8>) {
        let snap = self.tables.current();
        let mut burst = [VecPacket::new(frame)];
        let mut out = [Outcome::drop(DropReason::Unsupported, Path::Early)];
        let n = self
            .engine
            .process_burst(&snap, port, &mut burst[..], now, &mut out);
        assert_eq!(n, 1);
        (out[0], burst[0].to_vec())
    }

    /// Runs a frame through the engine alone, without a first pass (the
    /// lookup reads the key and hashes on its own).
    pub(crate) fn run_unhinted(
        &mut self,
        port: PortIdx,
        frame: &[u8],
        now: u64,
    ) -> (Outcome, Vec<u8>) {
        let snap = self.tables.current();
        let mut p = VecPacket::new(frame);
        let o = self.engine.process(&snap, port, &mut p, now);
        (o, p.to_vec())
    }
}

/// The MAC as the control commands take it.
pub(crate) fn mac_s(m: [u8; 6]) -> vswitch_api::MacAddr {
    vswitch_api::MacAddr(m)
}

/// The VNI `n` as the control commands take it.
pub(crate) fn vni(n: u32) -> vswitch_api::Vni {
    vswitch_api::Vni::try_from(n).expect("a 24-bit test VNI")
}

/// A typed API value from a test's literal (`"10.0.0.0/8"`, `"igw:4"`...).
pub(crate) fn typed<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse()
        .unwrap_or_else(|e| panic!("test literal {s:?}: {e:?}"))
}

/// Typed API values from a test's literals.
pub(crate) fn typed_all<T: std::str::FromStr>(s: &[&str]) -> Vec<T>
where
    T::Err: std::fmt::Debug,
{
    s.iter().map(|x| typed(x)).collect()
}

/// The underlay address of test sled `n`.
pub(crate) fn sled(n: u16) -> Ipv6Addr {
    Ipv6Addr::new(0xfd00, 0x1701, 0xd, 0x0100 + n, 0, 0, 0, 1)
}

/// The port a forwarded packet leaves on (a drop fails the test).
pub(crate) fn forwarded(o: Outcome) -> PortIdx {
    match o.verdict {
        Verdict::Forward(p) => p,
        Verdict::Drop(r) => panic!("dropped: {}", r.as_str()),
        Verdict::Metadata => panic!("punted to the metadata service"),
    }
}

/// Why a packet was dropped (a forward fails the test).
pub(crate) fn dropped(o: Outcome) -> DropReason {
    match o.verdict {
        Verdict::Drop(r) => r,
        Verdict::Forward(p) => panic!("forwarded to {p}"),
        Verdict::Metadata => panic!("punted to the metadata service"),
    }
}

/// xorshift64: a deterministic, dependency-free stream of numbers for tests.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// The next number.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
