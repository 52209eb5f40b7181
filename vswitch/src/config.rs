//! The appliance's configuration: a TOML file plus `VSWITCH_CFG__...`
//! environment overrides (the key path in capitals, levels joined by `__`,
//! e.g. `VSWITCH_CFG__CONTROL__SOCKET`), read with the `config` crate and then
//! validated so that a bad value stops start-up with one line naming the key.
//!
//! Only variables starting with [`ENV_PREFIX`] are read: other `VSWITCH_*`
//! names (`VSWITCH_SOCKET` of `vswitchctl`, `VSWITCH_BIN_DIR` of the tests
//! and `perf/run`) belong to other tools and are ignored.

use serde::Deserialize;
use std::collections::HashSet;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// A configuration problem: the key and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The offending key, e.g. `ports[1].role` (empty when the file itself is at fault).
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "{}: {}", self.key, self.problem)
        }
    }
}

impl std::error::Error for ConfigError {}

fn err(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        problem: problem.into(),
    }
}

pub use engine::{PortRole, SwitchRole};

/// The prefix of the environment variables that override the file: the key
/// path follows in capitals with `__` between levels, e.g.
/// `VSWITCH_CFG__CONTROL__SOCKET`, `VSWITCH_CFG__EAL__ARGS` (lists are
/// space-separated). Matched case-sensitively.
pub const ENV_PREFIX: &str = "VSWITCH_CFG__";

/// The overrides among `vars` (names and values, e.g. `std::env::vars_os()`):
/// those named [`ENV_PREFIX`] + key path, with the prefix removed. Every other
/// variable is ignored, as are names that are not UTF-8 (they can name no
/// key); a value that is not UTF-8 is an error naming the variable.
fn env_overrides<I, K, V>(vars: I) -> Result<config::Map<String, String>, ConfigError>
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<OsString>,
    V: Into<OsString>,
{
    let mut out = config::Map::new();
    for (name, value) in vars {
        let Ok(name) = name.into().into_string() else {
            continue;
        };
        let Some(path) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let value = value
            .into()
            .into_string()
            .map_err(|_| err(name.clone(), "the value is not valid UTF-8"))?;
        out.insert(path.to_string(), value);
    }
    Ok(out)
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Sled or boundary.
    pub role: SwitchRole,
    /// EAL settings.
    pub eal: EalConfig,
    /// Poll-mode workers.
    pub workers: WorkersConfig,
    /// The mbuf pool.
    pub mempool: MempoolConfig,
    /// The ports, in configuration order (their index is the switch's port index).
    pub ports: Vec<PortConfig>,
    /// The patch table at start-up.
    pub patch: Vec<PatchConfig>,
    /// The control socket.
    pub control: ControlConfig,
    /// The metrics endpoint.
    pub metrics: MetricsConfig,
    /// The state file.
    pub state: StateConfig,
    /// Fleet mode: the state comes from etcd (README, *Fleet mode*).
    pub fleet: Option<FleetConfig>,
}

/// Fleet mode: where the fleet's etcd is, which sled this switch is, and
/// what of the underlay stays its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetConfig {
    /// etcd client URLs (`http://10.0.0.1:2379`).
    pub etcd: Vec<String>,
    /// This switch's sled name in the fleet (`vswitch-fabric sled-add NAME`).
    pub sled: String,
    /// The uplink port the underlay leaves on.
    pub uplink: String,
    /// The underlay next hop's MAC.
    pub nexthop_mac: vswitch_api::MacAddr,
}

/// Where the switch keeps its state document across restarts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// The state file; every accepted change is written to it before it is
    /// answered, and it is loaded at start-up. Empty: no state file (a
    /// restart starts empty).
    #[serde(default = "default_state_path")]
    pub path: PathBuf,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            path: default_state_path(),
        }
    }
}

fn check_fleet(f: &FleetConfig, ports: &[PortConfig]) -> Result<(), ConfigError> {
    if f.etcd.is_empty() {
        return Err(err(
            "fleet.etcd",
            "empty: list etcd's client URLs, e.g. [\"http://127.0.0.1:2379\"]",
        ));
    }
    for (i, u) in f.etcd.iter().enumerate() {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(err(
                format!("fleet.etcd[{i}]"),
                format!("{u:?} is not an http:// or https:// URL"),
            ));
        }
    }
    let sled_ok = !f.sled.is_empty()
        && f.sled.len() <= 63
        && f.sled
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && f.sled != "."
        && f.sled != "..";
    if !sled_ok {
        return Err(err(
            "fleet.sled",
            format!("{:?}: 1 to 63 ASCII letters, digits, '-' or '.'", f.sled),
        ));
    }
    match ports.iter().find(|p| p.name == f.uplink) {
        Some(p) if p.role == PortRole::Uplink => Ok(()),
        Some(_) => Err(err(
            "fleet.uplink",
            format!("port {:?} is not an uplink", f.uplink),
        )),
        None => Err(err("fleet.uplink", format!("unknown port {:?}", f.uplink))),
    }
}

fn default_state_path() -> PathBuf {
    PathBuf::from(DEFAULT_STATE_PATH)
}

/// The default state file.
pub const DEFAULT_STATE_PATH: &str = "/var/lib/vswitch/state.json";

/// EAL settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EalConfig {
    /// Extra EAL arguments (e.g. `--no-huge`, `-m 512`, `--file-prefix x`).
    #[serde(default)]
    pub args: Vec<String>,
    /// The lcore of the management thread.
    #[serde(default)]
    pub main_lcore: u32,
}

/// Poll-mode workers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkersConfig {
    /// One worker per lcore listed.
    pub lcores: Vec<u32>,
    /// Packets per rx burst (1 to 64).
    #[serde(default = "default_burst")]
    pub burst: usize,
    /// Idle backoff.
    #[serde(default)]
    pub idle: IdleConfig,
    /// Flows each worker's flow table holds at most (OPTE's bound by default).
    #[serde(default = "default_flows")]
    pub flow_table_size: usize,
    /// Flows one VNIC may hold in each worker's table (a VNIC's
    /// `vnic-create` may set its own): at its quota a VNIC evicts its own
    /// embryonic flows or is refused, never another's.
    #[serde(default = "default_flow_quota")]
    pub flow_quota_per_vnic: usize,
    /// Slots of each ring that hands packets from one worker to the owner
    /// of their flow (a power of two, 64 to 65536). A full ring is a
    /// counted drop (`handoff_full`), never a wait.
    #[serde(default = "default_handoff_ring")]
    pub handoff_ring: u32,
    /// Benchmarks only: hand every packet through a ring, to its owner or
    /// to the receiving worker itself, to measure what a handoff costs.
    #[serde(default)]
    pub handoff_all: bool,
}

fn default_handoff_ring() -> u32 {
    1024
}

/// How an idle worker backs off: after `spin_us` of continuous emptiness, sleep
/// from `sleep_min_us`, doubling up to `sleep_max_us`, until traffic returns.
///
/// The threshold is time, not a count of empty polls: under load a ring is
/// often empty for a few microseconds, and a sleep then (Linux sleeps at least
/// ~55 us) overflows a 1,024-slot ring at 20 Mpps.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdleConfig {
    /// Microseconds of continuous emptiness before the first sleep.
    #[serde(default = "default_spin")]
    pub spin_us: u64,
    /// First sleep, in microseconds (0 with `sleep_max_us` 0: never sleep).
    #[serde(default = "default_sleep_min")]
    pub sleep_min_us: u64,
    /// Longest sleep, in microseconds.
    #[serde(default = "default_sleep_max")]
    pub sleep_max_us: u64,
}

impl Default for IdleConfig {
    fn default() -> Self {
        IdleConfig {
            spin_us: default_spin(),
            sleep_min_us: default_sleep_min(),
            sleep_max_us: default_sleep_max(),
        }
    }
}

/// The mbuf pool.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MempoolConfig {
    /// Number of mbufs (best as 2^n - 1).
    #[serde(default = "default_mbufs")]
    pub mbufs: u32,
    /// Per-lcore cache size (at most 512).
    #[serde(default = "default_cache")]
    pub cache: u32,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            mbufs: default_mbufs(),
            cache: default_cache(),
        }
    }
}

/// One port.
#[derive(Debug, Clone)]
pub struct PortConfig {
    /// The switch's name for it (used by the control API and metrics).
    pub name: String,
    /// DPDK device arguments, e.g. `net_memif0,role=server,socket=/run/m.sock`.
    pub devargs: String,
    /// What it connects to.
    pub role: PortRole,
    /// Rx queues wanted (default: one per worker; RSS spreads them when the device has it).
    pub rx_queues: Option<u16>,
    /// Rx descriptors per queue.
    pub rx_desc: u16,
    /// Tx descriptors per queue.
    pub tx_desc: u16,
    /// Receive frames for any MAC.
    pub promiscuous: bool,
    /// The largest IP packet the port's link carries (1500 for guests and
    /// the external port, 9000 for uplinks unless set).
    pub mtu: u16,
}

/// The smallest MTU a port may have (IPv6's minimum link MTU).
pub const MIN_MTU: u16 = 1280;
/// The largest MTU a port may have.
pub const MAX_MTU: u16 = 9216;

impl PortConfig {
    /// The DPDK device name: the devargs before the first comma.
    pub fn device_name(&self) -> &str {
        self.devargs.split(',').next().unwrap_or(&self.devargs)
    }

    /// A guest port created at run time (`port-add`): the defaults of a
    /// configured port, on a virtual device (`net_...`) created by hot-plug.
    pub fn runtime_guest(name: &str, devargs: &str) -> Result<PortConfig, String> {
        check_port_name(name)?;
        let device = devargs.split(',').next().unwrap_or_default();
        if !device.starts_with("net_") || device.len() <= 4 {
            return Err(format!(
                "devargs {devargs:?}: a run-time port is a virtual device named net_... (e.g. net_tap3,iface=g3)"
            ));
        }
        Ok(PortConfig {
            name: name.to_string(),
            devargs: devargs.to_string(),
            role: PortRole::Guest,
            rx_queues: None,
            rx_desc: default_desc(),
            tx_desc: default_desc(),
            promiscuous: true,
            mtu: PortRole::Guest.default_mtu(),
        })
    }
}

/// A port name: non-empty ASCII letters, digits, '-', '_' or '.'.
fn check_port_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(format!(
            "{name:?} must be 1 to 64 ASCII letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(())
}

/// One patch entry.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PatchConfig {
    /// Ingress port name.
    pub from: String,
    /// Egress port name.
    pub to: String,
}

/// The control socket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    /// Socket path.
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
    /// Connections served at once; the next one is refused with one error line.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Seconds a connection may stay silent before the switch closes it.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
}

impl ControlConfig {
    /// The limits the control server enforces.
    pub fn limits(&self) -> crate::control::ControlLimits {
        crate::control::ControlLimits {
            max_connections: self.max_connections,
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout_secs),
        }
    }
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            socket: default_socket(),
            max_connections: default_max_connections(),
            idle_timeout_secs: default_idle_timeout(),
        }
    }
}

/// The Prometheus endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `host:port` to serve `/metrics` on; empty turns metrics off.
    #[serde(default = "default_metrics")]
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: default_metrics(),
        }
    }
}

fn default_burst() -> usize {
    32
}
fn default_flows() -> usize {
    engine::flow::table::DEFAULT_CAPACITY
}
fn default_flow_quota() -> usize {
    engine::flow::table::DEFAULT_CAPACITY / 4
}
fn default_spin() -> u64 {
    1000
}
fn default_sleep_min() -> u64 {
    1
}
fn default_sleep_max() -> u64 {
    200
}
fn default_mbufs() -> u32 {
    16383
}
fn default_cache() -> u32 {
    256
}
fn default_socket() -> PathBuf {
    PathBuf::from(vswitch_api::DEFAULT_SOCKET)
}
fn default_max_connections() -> usize {
    16
}
fn default_idle_timeout() -> u64 {
    300
}
fn default_metrics() -> String {
    "127.0.0.1:9187".into()
}
fn default_desc() -> u16 {
    1024
}
fn default_true() -> bool {
    true
}
fn default_role() -> String {
    "sled".into()
}

/// The file as written, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_role")]
    role: String,
    #[serde(default)]
    eal: Option<EalConfig>,
    workers: Option<WorkersConfig>,
    #[serde(default)]
    mempool: MempoolConfig,
    #[serde(default)]
    ports: Vec<RawPort>,
    #[serde(default)]
    patch: Vec<PatchConfig>,
    #[serde(default)]
    control: ControlConfig,
    #[serde(default)]
    metrics: MetricsConfig,
    #[serde(default)]
    state: StateConfig,
    #[serde(default)]
    fleet: Option<FleetConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPort {
    name: Option<String>,
    devargs: Option<String>,
    role: Option<String>,
    rx_queues: Option<u16>,
    #[serde(default = "default_desc")]
    rx_desc: u16,
    #[serde(default = "default_desc")]
    tx_desc: u16,
    #[serde(default = "default_true")]
    promiscuous: bool,
    mtu: Option<u16>,
}

impl Config {
    /// Reads `path` and the `VSWITCH_CFG__...` variables of the process
    /// environment, then validates.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(path, std::env::vars_os())
    }

    /// Reads `path` with overrides from `env` (variable names and values;
    /// only those starting with [`ENV_PREFIX`] are used), then validates.
    pub fn load_with_env<I, K, V>(path: &Path, env: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        if !path.exists() {
            return Err(err(
                "",
                format!("configuration file {} does not exist", path.display()),
            ));
        }
        // The prefix is matched and removed here, not by the crate (which
        // lower-cases names before matching them): what is left is the key path.
        let env = config::Environment::default()
            .source(Some(env_overrides(env)?))
            .separator("__")
            .try_parsing(true)
            .list_separator(" ")
            .with_list_parse_key("eal.args")
            .with_list_parse_key("workers.lcores");
        let built = config::Config::builder()
            .add_source(config::File::from(path).format(config::FileFormat::Toml))
            .add_source(env)
            .build()
            .map_err(|e| err("", format!("{}: {e}", path.display())))?;
        let raw: RawConfig = built
            .try_deserialize()
            .map_err(|e| err("", e.to_string()))?;
        Self::validate(raw)
    }

    /// Parses TOML text without the environment (for tests and `--check`).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let built = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()
            .map_err(|e| err("", e.to_string()))?;
        let raw: RawConfig = built
            .try_deserialize()
            .map_err(|e| err("", e.to_string()))?;
        Self::validate(raw)
    }

    fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
        let role = match raw.role.as_str() {
            "sled" => SwitchRole::Sled,
            "boundary" => SwitchRole::Boundary,
            other => {
                return Err(err(
                    "role",
                    format!("{other:?} is not one of sled, boundary"),
                ))
            }
        };
        let eal = raw.eal.unwrap_or(EalConfig {
            args: Vec::new(),
            main_lcore: 0,
        });
        let workers = raw.workers.ok_or_else(|| {
            err(
                "workers.lcores",
                "missing: list the worker lcores, e.g. [1]",
            )
        })?;
        if workers.lcores.is_empty() {
            return Err(err(
                "workers.lcores",
                "empty: at least one worker lcore is needed",
            ));
        }
        let mut seen = HashSet::new();
        for (i, l) in workers.lcores.iter().enumerate() {
            if *l == eal.main_lcore {
                return Err(err(
                    format!("workers.lcores[{i}]"),
                    format!("lcore {l} is the main lcore (eal.main_lcore); workers need their own"),
                ));
            }
            if !seen.insert(*l) {
                return Err(err(
                    format!("workers.lcores[{i}]"),
                    format!("lcore {l} is listed twice"),
                ));
            }
        }
        if workers.burst == 0 || workers.burst > dpdk::BURST_MAX {
            return Err(err(
                "workers.burst",
                format!("{} is out of range 1..={}", workers.burst, dpdk::BURST_MAX),
            ));
        }
        if workers.flow_table_size == 0 {
            return Err(err("workers.flow_table_size", "0: at least one flow"));
        }
        if !workers.handoff_ring.is_power_of_two() || !(64..=65536).contains(&workers.handoff_ring)
        {
            return Err(err(
                "workers.handoff_ring",
                format!(
                    "{} is not a power of two from 64 to 65536",
                    workers.handoff_ring
                ),
            ));
        }
        if workers.flow_quota_per_vnic == 0 {
            return Err(err("workers.flow_quota_per_vnic", "0: at least one flow"));
        }
        if workers.idle.sleep_min_us > workers.idle.sleep_max_us {
            return Err(err(
                "workers.idle.sleep_min_us",
                format!(
                    "{} is larger than workers.idle.sleep_max_us ({})",
                    workers.idle.sleep_min_us, workers.idle.sleep_max_us
                ),
            ));
        }
        if raw.mempool.mbufs < 1024 {
            return Err(err(
                "mempool.mbufs",
                format!("{} is too small (at least 1024)", raw.mempool.mbufs),
            ));
        }
        if raw.mempool.cache > 512 {
            return Err(err(
                "mempool.cache",
                format!("{} exceeds DPDK's limit of 512", raw.mempool.cache),
            ));
        }
        if raw.ports.is_empty() {
            return Err(err(
                "ports",
                "no port configured: add at least one [[ports]] table",
            ));
        }
        let mut ports = Vec::with_capacity(raw.ports.len());
        let mut names = HashSet::new();
        let mut devices = HashSet::new();
        for (i, p) in raw.ports.into_iter().enumerate() {
            let key = |k: &str| format!("ports[{i}].{k}");
            let name = p.name.ok_or_else(|| err(key("name"), "missing"))?;
            check_port_name(&name).map_err(|m| err(key("name"), m))?;
            if !names.insert(name.clone()) {
                return Err(err(
                    key("name"),
                    format!("{name:?} is used by another port"),
                ));
            }
            let devargs = p
                .devargs
                .ok_or_else(|| err(key("devargs"), "missing (e.g. \"net_memif0,role=server\")"))?;
            let role_s = p.role.ok_or_else(|| {
                err(
                    key("role"),
                    "missing: one of uplink, guest, external, bridge",
                )
            })?;
            let port_role = PortRole::parse(&role_s).ok_or_else(|| {
                err(
                    key("role"),
                    format!("{role_s:?} is not one of uplink, guest, external, bridge"),
                )
            })?;
            let pc = PortConfig {
                name,
                devargs,
                role: port_role,
                rx_queues: p.rx_queues,
                rx_desc: p.rx_desc,
                tx_desc: p.tx_desc,
                promiscuous: p.promiscuous,
                mtu: p.mtu.unwrap_or(port_role.default_mtu()),
            };
            if !(MIN_MTU..=MAX_MTU).contains(&pc.mtu) {
                return Err(err(
                    key("mtu"),
                    format!("{} is not within {MIN_MTU}..={MAX_MTU}", pc.mtu),
                ));
            }
            if pc.device_name().is_empty() {
                return Err(err(key("devargs"), "empty device name"));
            }
            if !devices.insert(pc.device_name().to_string()) {
                return Err(err(
                    key("devargs"),
                    format!("device {:?} is used by another port", pc.device_name()),
                ));
            }
            if pc.rx_queues == Some(0) {
                return Err(err(key("rx_queues"), "0: at least one rx queue"));
            }
            if pc.rx_desc == 0 || pc.tx_desc == 0 {
                return Err(err(key("rx_desc"), "descriptor counts must be positive"));
            }
            ports.push(pc);
        }
        for (i, e) in raw.patch.iter().enumerate() {
            for (k, v) in [("from", &e.from), ("to", &e.to)] {
                if !names.contains(v) {
                    return Err(err(
                        format!("patch[{i}].{k}"),
                        format!("unknown port {v:?}"),
                    ));
                }
            }
        }
        let mut froms = HashSet::new();
        for (i, e) in raw.patch.iter().enumerate() {
            if !froms.insert(&e.from) {
                return Err(err(
                    format!("patch[{i}].from"),
                    format!("port {:?} is patched twice", e.from),
                ));
            }
        }
        if !raw.metrics.listen.is_empty()
            && raw.metrics.listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(err(
                "metrics.listen",
                format!(
                    "{:?} is not host:port (e.g. 127.0.0.1:9187)",
                    raw.metrics.listen
                ),
            ));
        }
        if raw.control.socket.as_os_str().is_empty() {
            return Err(err("control.socket", "empty path"));
        }
        if raw.control.max_connections == 0 {
            return Err(err(
                "control.max_connections",
                "0: at least one connection (default 16)",
            ));
        }
        if raw.control.idle_timeout_secs == 0 {
            return Err(err(
                "control.idle_timeout_secs",
                "0: at least one second (default 300)",
            ));
        }
        if let Some(f) = &raw.fleet {
            check_fleet(f, &ports)?;
        }
        Ok(Config {
            role,
            eal,
            workers,
            mempool: raw.mempool,
            ports,
            patch: raw.patch,
            control: raw.control,
            metrics: raw.metrics,
            state: raw.state,
            fleet: raw.fleet,
        })
    }

    /// The full EAL argument vector: program name, lcores, one `--vdev` (or `-a`
    /// for a PCI address) per port, `--no-pci` when no port is a PCI device, `--in-memory` (or with `--no-huge` a
    /// per-process `--file-prefix`) unless a file prefix is given, then `eal.args`.
    pub fn eal_argv(&self) -> Vec<String> {
        let mut v = vec!["vswitch".to_string()];
        let has = |flag: &str| {
            self.eal
                .args
                .iter()
                .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
        };
        if !has("-l") && !has("--lcores") && !has("-c") {
            let mut l = vec![self.eal.main_lcore];
            l.extend(&self.workers.lcores);
            v.push("-l".into());
            v.push(l.iter().map(u32::to_string).collect::<Vec<_>>().join(","));
            v.push("--main-lcore".into());
            v.push(self.eal.main_lcore.to_string());
        }
        for p in &self.ports {
            if is_pci_address(p.device_name()) {
                v.push("-a".into());
            } else {
                v.push("--vdev".into());
            }
            v.push(p.devargs.clone());
        }
        // Without a PCI port, EAL must not probe (and grab) the host's PCI devices.
        if !self.ports.iter().any(|p| is_pci_address(p.device_name()))
            && !has("--no-pci")
            && !has("-a")
        {
            v.push("--no-pci".into());
        }
        if !has("--file-prefix") && !has("--in-memory") {
            // Several switches may run on one host; neither may claim DPDK's
            // default shared runtime. --in-memory needs hugepages.
            if has("--no-huge") {
                v.push("--file-prefix".into());
                v.push(format!("vswitch-{}", std::process::id()));
            } else {
                v.push("--in-memory".into());
            }
        }
        v.extend(self.eal.args.iter().cloned());
        v
    }
}

/// Whether `s` looks like a PCI address (`0000:01:00.0` or `01:00.0`).
fn is_pci_address(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    (parts.len() == 2 || parts.len() == 3)
        && parts.last().is_some_and(|l| l.contains('.'))
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [workers]
        lcores = [1]
        [[ports]]
        name = "a"
        devargs = "net_ring0"
        role = "guest"
        [[ports]]
        name = "b"
        devargs = "net_null0,no-rx=1"
        role = "uplink"
        [[patch]]
        from = "a"
        to = "b"
    "#;

    #[test]
    fn good_config_parses_with_defaults() {
        let c = Config::from_toml(GOOD).unwrap();
        assert_eq!(c.role, SwitchRole::Sled);
        assert_eq!(c.ports.len(), 2);
        assert_eq!(c.ports[1].device_name(), "net_null0");
        assert_eq!(c.ports[1].role, PortRole::Uplink);
        assert_eq!(c.workers.burst, 32);
        assert_eq!(c.mempool.mbufs, 16383);
        assert_eq!(
            c.patch,
            vec![PatchConfig {
                from: "a".into(),
                to: "b".into()
            }]
        );
        let argv = c.eal_argv();
        assert_eq!(
            argv,
            [
                "vswitch",
                "-l",
                "0,1",
                "--main-lcore",
                "0",
                "--vdev",
                "net_ring0",
                "--vdev",
                "net_null0,no-rx=1",
                "--no-pci",
                "--in-memory"
            ]
        );
    }

    fn bad(text: &str) -> ConfigError {
        Config::from_toml(text).unwrap_err()
    }

    #[test]
    fn the_fleet_section_is_checked() {
        let fleet = |body: &str| format!("{GOOD}\n        [fleet]\n{body}");
        let good = r#"etcd = ["http://127.0.0.1:2379"]
            sled = "sled-1"
            uplink = "b"
            nexthop_mac = "02:00:00:00:00:fe""#;
        let c = Config::from_toml(&fleet(good)).unwrap();
        let f = c.fleet.unwrap();
        assert_eq!((f.sled.as_str(), f.uplink.as_str()), ("sled-1", "b"));
        assert!(Config::from_toml(GOOD).unwrap().fleet.is_none());
        for (from, to, key, problem) in [
            (
                "uplink = \"b\"",
                "uplink = \"a\"",
                "fleet.uplink",
                "not an uplink",
            ),
            (
                "uplink = \"b\"",
                "uplink = \"z\"",
                "fleet.uplink",
                "unknown port",
            ),
            ("\"sled-1\"", "\"a/b\"", "fleet.sled", "letters"),
            ("[\"http://127.0.0.1:2379\"]", "[]", "fleet.etcd", "empty"),
            (
                "http://127.0.0.1:2379",
                "127.0.0.1:2379",
                "fleet.etcd[0]",
                "URL",
            ),
        ] {
            let e = bad(&fleet(&good.replace(from, to)));
            assert_eq!(e.key, key, "{e}");
            assert!(e.problem.contains(problem), "{e}");
        }
    }

    #[test]
    fn bad_port_role_names_the_key() {
        let e = bad(&GOOD.replace("role = \"uplink\"", "role = \"upstream\""));
        assert_eq!(e.key, "ports[1].role");
        assert!(e.problem.contains("upstream"), "{e}");
    }

    #[test]
    fn unknown_patch_port_is_refused() {
        let e = bad(&GOOD.replace("to = \"b\"", "to = \"c\""));
        assert_eq!(e.to_string(), "patch[0].to: unknown port \"c\"");
    }

    #[test]
    fn worker_on_main_lcore_is_refused() {
        let e = bad(&GOOD.replace("lcores = [1]", "lcores = [0]"));
        assert_eq!(e.key, "workers.lcores[0]");
    }

    #[test]
    fn duplicate_names_and_devices_are_refused() {
        let e = bad(&GOOD.replace("name = \"b\"", "name = \"a\""));
        assert_eq!(e.key, "ports[1].name");
        let e = bad(&GOOD.replace("net_null0,no-rx=1", "net_ring0"));
        assert_eq!(e.key, "ports[1].devargs");
    }

    #[test]
    fn missing_workers_and_bad_values_are_refused() {
        assert_eq!(
            bad(&GOOD.replace("[workers]\n        lcores = [1]", "")).key,
            "workers.lcores"
        );
        assert_eq!(
            bad(&GOOD.replace("lcores = [1]", "lcores = [1]\nburst = 65")).key,
            "workers.burst"
        );
        let e = bad(&format!("{GOOD}\n[metrics]\nlisten = \"nowhere\""));
        assert_eq!(e.key, "metrics.listen");
        let e = bad(&format!("role = \"router\"\n{GOOD}"));
        assert_eq!(e.key, "role");
    }

    #[test]
    fn port_mtus_default_by_role_and_are_bounded() {
        let c = Config::from_toml(GOOD).unwrap();
        assert_eq!((c.ports[0].mtu, c.ports[1].mtu), (1500, 9000));
        let c = Config::from_toml(
            &GOOD.replace("role = \"uplink\"", "role = \"uplink\"\n        mtu = 1500"),
        )
        .unwrap();
        assert_eq!(c.ports[1].mtu, 1500);
        for v in [1279, 9217] {
            let e = bad(&GOOD.replace(
                "role = \"uplink\"",
                &format!("role = \"uplink\"\n        mtu = {v}"),
            ));
            assert_eq!(
                e.to_string(),
                format!("ports[1].mtu: {v} is not within 1280..=9216")
            );
        }
        let e = bad(&GOOD.replace("lcores = [1]", "lcores = [1]\nflow_quota_per_vnic = 0"));
        assert_eq!(e.key, "workers.flow_quota_per_vnic");
    }

    #[test]
    fn control_limits_default_and_refuse_zero() {
        let c = Config::from_toml(GOOD).unwrap();
        assert_eq!(c.control.max_connections, 16);
        assert_eq!(c.control.idle_timeout_secs, 300);
        assert_eq!(c.control.limits(), crate::control::ControlLimits::default());
        let c = Config::from_toml(&format!(
            "{GOOD}\n[control]\nmax_connections = 2\nidle_timeout_secs = 1"
        ))
        .unwrap();
        assert_eq!(c.control.limits().max_connections, 2);
        assert_eq!(
            c.control.limits().idle_timeout,
            std::time::Duration::from_secs(1)
        );
        let e = bad(&format!("{GOOD}\n[control]\nmax_connections = 0"));
        assert_eq!(
            e.to_string(),
            "control.max_connections: 0: at least one connection (default 16)"
        );
        let e = bad(&format!("{GOOD}\n[control]\nidle_timeout_secs = 0"));
        assert_eq!(e.key, "control.idle_timeout_secs");
        let e = bad(&format!("{GOOD}\n[control]\nmax_connections = -1"));
        assert!(e.to_string().contains("max_connections"), "{e}");
    }

    #[test]
    fn unknown_key_is_refused() {
        let e = bad(&format!("{GOOD}\n[mempool]\nmbufz = 3"));
        assert!(e.to_string().contains("mbufz"), "{e}");
    }

    #[test]
    fn user_lcores_and_prefix_are_kept() {
        let c = Config::from_toml(&GOOD.replace(
            "[workers]",
            "[eal]\nargs = [\"-l\", \"0-1\", \"--file-prefix\", \"x\"]\n[workers]",
        ))
        .unwrap();
        let argv = c.eal_argv();
        assert!(!argv.contains(&"--in-memory".to_string()));
        assert_eq!(argv.iter().filter(|a| *a == "-l").count(), 1);
    }

    /// `GOOD` in a file, loaded with `env` as the whole environment.
    fn load_good_with(env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vswitch.toml");
        std::fs::write(&path, GOOD).unwrap();
        Config::load_with_env(&path, env.iter().copied())
    }

    #[test]
    fn only_vswitch_cfg_variables_override() {
        let others = [
            ("VSWITCH_SOCKET", "/nonexistent/x.sock"),
            ("VSWITCH_BIN_DIR", "/nonexistent/bin"),
            ("VSWITCH_FOO", "bar"),
            ("VSWITCH_CONTROL__SOCKET", "/old/spelling.sock"),
            ("vswitch_cfg__control__max_connections", "not a number"),
            ("VSWITCH_CFG_CONTROL__MAX_CONNECTIONS", "not a number"),
        ];
        // Other tools' variables (and the old spelling) are ignored...
        let c = load_good_with(&others).unwrap();
        assert_eq!(c.control.socket, default_socket());
        assert_eq!(c.control.max_connections, default_max_connections());
        // ...while the switch's own apply, nested keys and lists included.
        let mut env = others.to_vec();
        env.extend([
            ("VSWITCH_CFG__CONTROL__SOCKET", "/tmp/vs.sock"),
            ("VSWITCH_CFG__CONTROL__MAX_CONNECTIONS", "3"),
            ("VSWITCH_CFG__EAL__ARGS", "--no-huge -m 512"),
            ("VSWITCH_CFG__WORKERS__LCORES", "1 2"),
        ]);
        let c = load_good_with(&env).unwrap();
        assert_eq!(c.control.socket, PathBuf::from("/tmp/vs.sock"));
        assert_eq!(c.control.max_connections, 3);
        assert_eq!(c.eal.args, ["--no-huge", "-m", "512"]);
        assert_eq!(c.workers.lcores, [1, 2]);
    }

    #[test]
    fn a_bad_override_names_the_key() {
        let e = load_good_with(&[("VSWITCH_CFG__CONTROL__SOKET", "/tmp/vs.sock")]).unwrap_err();
        assert!(e.to_string().contains("soket"), "{e}");
        let e = load_good_with(&[("VSWITCH_CFG__METRICS__LISTEN", "bogus")]).unwrap_err();
        assert!(e.to_string().contains("metrics.listen"), "{e}");
    }

    #[test]
    fn pci_addresses_are_recognised() {
        assert!(is_pci_address("0000:01:00.0"));
        assert!(is_pci_address("01:00.1"));
        assert!(!is_pci_address("net_ring0"));
    }
}
