//! `vswitchctl`: command-line client of the vswitch appliance.
//!
//! Sends one request over the appliance's control socket and prints the
//! answer as tables (or as JSON with `--json`). Exit codes: 0 success,
//! 1 the appliance refused the request, 2 no usable answer (cannot connect,
//! timeout, malformed reply) or an unusable argument (a `--rules` file or
//! text that is not a JSON array of rules); usage errors keep clap's own
//! code.

#![forbid(unsafe_code)]

mod client;
mod nic_args;
mod render;
mod render_nics;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args, Parser, Subcommand};
use vswitch_api::{
    AddrRange, Command, ExternalIpsSpec, FwRuleSpec, GatewayRef, MacAddr, Prefix, Response,
    RouteClass, RouteTarget, SnatRange, Vni, DEFAULT_SOCKET,
};

use client::{Client, ClientError, DEFAULT_TIMEOUT};

/// Environment variable naming the control socket when `--socket` is absent.
const SOCKET_ENV: &str = "VSWITCH_SOCKET";

/// Control the vswitch appliance through its control socket.
#[derive(Debug, Parser)]
#[command(name = "vswitchctl", version)]
struct Cli {
    /// Control socket of the appliance [default: $VSWITCH_SOCKET, else /run/vswitch/vswitch.sock]
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,

    /// Print the result as pretty JSON instead of tables
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Sub,
}

/// The subcommands; all but `raw` map one-to-one onto [`Command`].
#[derive(Debug, Subcommand)]
enum Sub {
    /// Show versions, uptime, ports and workers
    Status,
    /// Show link state and counters of every port
    Ports,
    /// Show total and per-worker counters
    Stats,
    /// Send frames received on FROM out of TO
    PatchSet {
        /// Ingress port name
        from: String,
        /// Egress port name
        to: String,
    },
    /// Remove the patch entry of FROM, or every entry when FROM is omitted
    PatchClear {
        /// Ingress port name
        from: Option<String>,
    },
    /// List the patch table
    PatchList,
    /// Create (or replace) the VNIC bound to the guest port PORT
    VnicCreate(nic_args::VnicCreateArgs),
    /// Delete the VNIC of the guest port PORT
    VnicDelete {
        /// Guest port name
        port: String,
    },
    /// List the VNICs
    VnicList,
    /// Create or change an instance type and its NIC limit (1 to 8)
    InstanceTypeSet {
        /// Type name
        name: String,
        /// The most NICs an instance of it may have attached
        #[arg(long, value_name = "N")]
        max_nics: u8,
    },
    /// Create an instance (pending)
    InstanceCreate {
        /// Instance id
        id: String,
        /// Instance type [default: none, at most 8 NICs]
        #[arg(long = "type", value_name = "NAME")]
        instance_type: Option<String>,
    },
    /// Move an instance to pending, running, stopped or terminated
    InstanceState {
        /// Instance id
        id: String,
        /// pending, running, stopped or terminated
        state: vswitch_api::nic::InstanceRun,
    },
    /// List the instance types and every instance with its NICs
    InstanceList,
    /// Create a NIC (not attached)
    NicCreate(nic_args::NicCreateArgs),
    /// Delete a NIC that is not attached
    NicDelete {
        /// NIC id
        id: u32,
    },
    /// Attach NIC to INSTANCE at a device index (--port, --devargs or --remote)
    NicAttach(nic_args::NicAttachArgs),
    /// Detach a NIC from its instance
    NicDetach {
        /// NIC id
        nic: u32,
    },
    /// List the NICs
    NicList,
    /// Create a guest port at run time (DPDK hot-plug of a virtual device)
    PortAdd {
        /// Port name
        name: String,
        /// The virtual device's devargs, e.g. net_tap3,iface=g3
        #[arg(long)]
        devargs: String,
        /// Its role (only guest ports are created at run time)
        #[arg(long, default_value = "guest")]
        role: String,
    },
    /// Remove a port created at run time (nothing may be attached to it)
    PortDel {
        /// Port name
        name: String,
    },
    /// Set this sled's underlay address, uplink port and underlay next hop
    UnderlaySet {
        /// The sled's underlay IPv6 address
        addr: Ipv6Addr,
        /// The uplink port name
        #[arg(long, value_name = "PORT")]
        uplink: String,
        /// MAC of the underlay next hop (outer destination MAC)
        #[arg(long, value_name = "MAC")]
        nexthop_mac: MacAddr,
    },
    /// Map guest IP of VPC VNI to guest MAC on the sled at UNDERLAY
    V2pSet {
        /// VPC VNI (24 bits)
        vni: Vni,
        /// Guest IP
        ip: IpAddr,
        /// Guest MAC
        mac: MacAddr,
        /// The sled's underlay IPv6 address
        underlay: Ipv6Addr,
    },
    /// Remove the V2P mapping of guest IP in VPC VNI
    V2pClear {
        /// VPC VNI (24 bits)
        vni: Vni,
        /// Guest IP
        ip: IpAddr,
    },
    /// List the V2P mappings
    V2pList,
    /// Add a router entry to the VNIC of PORT
    RouteAdd {
        /// Guest port name
        port: String,
        /// Destination prefix, e.g. 10.0.0.0/8
        dest: Prefix,
        /// drop, igw, igw:ID, ip:ADDR, subnet:PREFIX or nic:ID
        target: RouteTarget,
        /// Route class: custom or system [default: custom]
        #[arg(long)]
        class: Option<RouteClass>,
    },
    /// Delete a router entry of the VNIC of PORT
    RouteDel {
        /// Guest port name
        port: String,
        /// Destination prefix, e.g. 10.0.0.0/8
        dest: Prefix,
        /// Route class: custom or system [default: custom]
        #[arg(long)]
        class: Option<RouteClass>,
    },
    /// Replace the firewall rules of the VNIC of PORT, atomically
    ///
    /// The rules come from --rules (a JSON file, or inline JSON text
    /// starting with `[`), from --rule (repeatable), or both, in that order.
    /// At least one of them is required; `--rules '[]'` removes every rule.
    #[command(group(ArgGroup::new("rule-source").args(["rules", "rule"]).required(true).multiple(true)))]
    FirewallSet {
        /// Guest port name
        port: String,
        /// Path of a JSON file, or inline JSON, holding an array of rules
        /// {direction, priority, action, hosts, protocols, ports}
        #[arg(long, value_name = "FILE_OR_JSON", allow_hyphen_values = true)]
        rules: Option<String>,
        /// One rule: 'DIRECTION PRIORITY ACTION [hosts=a,b] [protocols=a,b]
        /// [ports=a,b]', e.g. 'in 100 allow protocols=tcp ports=22,80-90'
        #[arg(long = "rule", value_name = "RULE", value_parser = parse_rule)]
        rule: Vec<FwRuleSpec>,
    },
    /// Show the layers of the VNIC of PORT: rules and hit counts
    Layers {
        /// Guest port name
        port: String,
    },
    /// Show the flow tables of every worker (only PORT's flows, if given),
    /// a page at a time
    Flows {
        /// Guest port name
        port: Option<String>,
        /// Most flows to show (default 1000, at most 10000)
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
        /// Go on from where a previous page ended (its "more: --from" cursor)
        #[arg(long, value_name = "CURSOR")]
        from: Option<String>,
    },
    /// Export NIC's flows (firewall standing, TCP state, NAT bindings) for
    /// a live migration, as JSON (with --json: the file flows-import reads)
    FlowsExport {
        /// NIC id
        nic: u32,
    },
    /// Import flows another switch exported (flows-export --json) for a NIC
    /// of this one, before its traffic moves here
    FlowsImport {
        /// The export (`-` reads standard input)
        file: PathBuf,
    },
    /// Clear the flow tables (only PORT's flows, if given)
    FlowsClear {
        /// Guest port name
        port: Option<String>,
    },
    /// Create a pool of external addresses
    PoolCreate {
        /// Pool name
        name: String,
        /// Its ranges: A-B, a single address A, or a CIDR A/N (IPv4 or IPv6)
        #[arg(required = true, value_name = "RANGE")]
        ranges: Vec<AddrRange>,
    },
    /// Delete a pool (refused while a gateway or a VNIC uses it)
    PoolDelete {
        /// Pool name
        name: String,
    },
    /// List the pools, the gateways they are assigned to and the ports using them
    PoolList,
    /// Create an internet gateway (changes nothing in the data plane)
    IgwCreate {
        /// Gateway id, as routes name it (igw:ID)
        id: u32,
        /// A name, for people
        #[arg(long)]
        name: Option<String>,
    },
    /// Delete an internet gateway (refused while a route or an igw map names it)
    IgwDelete {
        /// Gateway id
        id: u32,
    },
    /// Assign a pool, or a range inside a pool, to an internet gateway
    ///
    /// Updates exactly the ports that route through the gateway.
    #[command(group(ArgGroup::new("source").args(["pool", "range"]).required(true)))]
    IgwAssign {
        /// Gateway id
        id: u32,
        /// A whole pool
        #[arg(long, value_name = "NAME")]
        pool: Option<String>,
        /// A range inside one pool: A-B, A or A/N
        #[arg(long, value_name = "RANGE")]
        range: Option<AddrRange>,
    },
    /// Take back a pool or a range assigned to an internet gateway
    ///
    /// Updates exactly the ports that route through the gateway.
    #[command(group(ArgGroup::new("source").args(["pool", "range"]).required(true)))]
    IgwUnassign {
        /// Gateway id
        id: u32,
        /// A pool, as assigned
        #[arg(long, value_name = "NAME")]
        pool: Option<String>,
        /// A range, as assigned
        #[arg(long, value_name = "RANGE")]
        range: Option<AddrRange>,
    },
    /// List the internet gateways, their pools and ranges, and the ports routing through each
    IgwList,
    /// Set (replace) the external IPs of the VNIC of PORT
    ///
    /// Updates that port only. Without --map every external IP belongs to
    /// the system gateway only; with it, an IP not mapped still does.
    ExternalSet(ExternalSetArgs),
    /// Remove every external IP of the VNIC of PORT
    ExternalClear {
        /// Guest port name
        port: String,
    },
    /// List the external IPs of every VNIC
    ExternalList,
    /// Send traffic for an external PREFIX to these boundary endpoints (V2B)
    V2bSet {
        /// External prefix, e.g. 0.0.0.0/0
        prefix: Prefix,
        /// Underlay addresses of boundary switches; a flow picks one by hash
        #[arg(required = true, value_name = "ENDPOINT")]
        endpoints: Vec<Ipv6Addr>,
    },
    /// Remove the V2B entry of PREFIX
    V2bClear {
        /// External prefix
        prefix: Prefix,
    },
    /// List the V2B table
    V2bList,
    /// Boundary role: set the external port, its next hop and the boundary's own address
    ///
    /// The port's role must be `external` and the switch's role `boundary`.
    ExternalPortSet {
        /// External port name
        port: String,
        /// MAC of the external next hop (destination MAC of what leaves)
        #[arg(long, value_name = "MAC")]
        nexthop_mac: MacAddr,
        /// The boundary's own IPv4 address on the external link (answered to ARP and ping)
        #[arg(long, value_name = "IPV4")]
        addr: Option<Ipv4Addr>,
    },
    /// Boundary role: send traffic from the internet for external IP to the sled at SLED
    ///
    /// With --ports, IP is a SNAT address shared by sleds and only those
    /// ports (a NIC's SNAT range) go to SLED; shares of one address must
    /// not overlap.
    BoundaryMapSet {
        /// External IP (IPv4 or IPv6)
        ip: IpAddr,
        /// The sled's underlay IPv6 address
        sled: Ipv6Addr,
        /// Ports FIRST-LAST of a shared SNAT address
        #[arg(long)]
        ports: Option<vswitch_api::PortRangeSpec>,
    },
    /// Boundary role: remove the boundary-map entry of IP (with --ports:
    /// that share of a shared SNAT address)
    BoundaryMapClear {
        /// External IP
        ip: IpAddr,
        /// Ports FIRST-LAST of the share
        #[arg(long)]
        ports: Option<vswitch_api::PortRangeSpec>,
    },
    /// Boundary role: show the external port and the boundary map
    BoundaryMapList,
    /// Boundary role: the link on PORT (role bridge) to another pod's
    /// boundary, carrying bridge network CIDR
    BridgeLinkSet {
        /// Port name
        port: String,
        /// The bridge network (IPv4)
        #[arg(long)]
        cidr: vswitch_api::Prefix,
        /// The other boundary's port MAC
        #[arg(long)]
        nexthop_mac: vswitch_api::MacAddr,
        /// This boundary's own address on the link
        #[arg(long)]
        addr: Option<std::net::Ipv4Addr>,
    },
    /// Boundary role: remove the bridge link on PORT
    BridgeLinkClear {
        /// Port name
        port: String,
    },
    /// Boundary role: static 1:1 NAT EXTERNAL (external link) <-> BRIDGE
    /// (a bridge link's network)
    StaticNatSet {
        /// The external address
        external: std::net::Ipv4Addr,
        /// The bridge address
        bridge: std::net::Ipv4Addr,
    },
    /// Boundary role: remove the static NAT of EXTERNAL
    StaticNatClear {
        /// The external address
        external: std::net::Ipv4Addr,
    },
    /// Print the state in force as one document (JSON), with its generation
    ///
    /// The output is a state file: `vswitchctl apply` takes it back.
    Export,
    /// Replace the whole state with the document in FILE (JSON, or TOML
    /// when the name ends in .toml), in one step
    ///
    /// The document is checked whole and published as one generation, or
    /// refused with every error found and nothing changed.
    Apply {
        /// The state document (`-` reads standard input)
        file: PathBuf,
        /// Print what would change (objects added, changed, removed, and the
        /// VNICs whose epoch moves) and publish nothing
        #[arg(long)]
        dry_run: bool,
        /// Refuse unless the state in force is generation N
        #[arg(long, value_name = "N")]
        if_generation: Option<u64>,
    },
    /// Stop the appliance's workers and ports and make it exit
    Shutdown,
    /// Send JSON verbatim as one request line and print the raw reply line
    ///
    /// Exits 0 when the reply says ok, 1 when it says not ok, 2 when it is
    /// not a response at all. Meant for scripts and tests, e.g. to check
    /// that malformed requests are refused.
    #[command(hide = true)]
    Raw {
        /// The request text, sent as is
        #[arg(value_name = "JSON", allow_hyphen_values = true)]
        line: String,
    },
}

/// Options of `external-set`.
#[derive(Debug, Args)]
struct ExternalSetArgs {
    /// Guest port name
    port: String,
    /// Floating IP, 1:1 (repeatable, or comma-separated)
    #[arg(long, value_name = "IP", value_delimiter = ',')]
    floating: Vec<IpAddr>,
    /// Ephemeral IP, 1:1
    #[arg(long, value_name = "IP")]
    ephemeral: Option<IpAddr>,
    /// SNAT address, shared with other ports (needs --snat-ports)
    #[arg(long, value_name = "IP", requires = "snat_ports")]
    snat: Option<IpAddr>,
    /// This port's SNAT source ports (needs --snat)
    #[arg(long, value_name = "FIRST-LAST", requires = "snat", value_parser = parse_port_range)]
    snat_ports: Option<PortSpan>,
    /// The gateways an external IP may leave through: IP=GW[,GW..], each GW
    /// `system` or an IGW id (repeatable, one per IP)
    #[arg(long = "map", value_name = "IP=GW,..", value_parser = parse_map_entry)]
    map: Vec<MapEntry>,
}

/// A port range `FIRST-LAST` (or one port).
#[derive(Debug, Clone, Copy, PartialEq)]
struct PortSpan(u16, u16);

/// Parses `FIRST-LAST` or `PORT`; the switch checks the order and bounds.
fn parse_port_range(text: &str) -> Result<PortSpan, String> {
    let port = |p: &str| {
        p.trim()
            .parse::<u16>()
            .map_err(|_| format!("{p:?} is not a port number (FIRST-LAST, e.g. 1024-65535)"))
    };
    match text.split_once('-') {
        Some((a, b)) => Ok(PortSpan(port(a)?, port(b)?)),
        None => port(text).map(|p| PortSpan(p, p)),
    }
}

/// One `--map IP=GW,..` entry.
#[derive(Debug, Clone, PartialEq)]
struct MapEntry {
    ip: IpAddr,
    gateways: Vec<GatewayRef>,
}

/// Parses `IP=GW[,GW..]`, each GW `system`, an id, or `igw:ID`.
fn parse_map_entry(text: &str) -> Result<MapEntry, String> {
    let Some((ip, list)) = text.split_once('=') else {
        return Err("expected IP=GW[,GW..], e.g. 192.168.0.2=system,4".to_owned());
    };
    let ip = ip
        .trim()
        .parse::<IpAddr>()
        .map_err(|_| format!("{ip:?} is not an IP address (expected IP=GW[,GW..])"))?;
    let gateways = list
        .split(',')
        .map(|g| {
            let g = g.trim();
            let id = g.strip_prefix("igw:").unwrap_or(g);
            if g == "system" {
                Ok(GatewayRef::Named("system".to_owned()))
            } else {
                id.parse::<u32>()
                    .map(GatewayRef::Id)
                    .map_err(|_| format!("gateway {g:?} is not system or an IGW id"))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(MapEntry { ip, gateways })
}

impl TryFrom<ExternalSetArgs> for ExternalIpsSpec {
    type Error = String;

    fn try_from(a: ExternalSetArgs) -> Result<Self, String> {
        let igw_map = if a.map.is_empty() {
            None
        } else {
            let mut map = BTreeMap::new();
            for e in a.map {
                if map.insert(e.ip, e.gateways).is_some() {
                    return Err(format!("--map: {} is given twice", e.ip));
                }
            }
            Some(map)
        };
        Ok(ExternalIpsSpec {
            port: a.port,
            floating: a.floating,
            ephemeral: a.ephemeral,
            snat: match (a.snat, a.snat_ports) {
                (Some(ip), Some(PortSpan(first_port, last_port))) => Some(SnatRange {
                    ip,
                    first_port,
                    last_port,
                }),
                _ => None,
            },
            igw_map,
        })
    }
}

/// Parses a compact firewall rule,
/// `DIRECTION PRIORITY ACTION [hosts=a,b] [protocols=a,b] [ports=a,b]`,
/// e.g. `in 100 allow hosts=subnet:10.0.0.0/8 protocols=tcp ports=22,80-90`.
/// Each part is parsed as the API's type and named when it is refused; the
/// switch checks what a well-formed rule can still get wrong.
fn parse_rule(text: &str) -> Result<FwRuleSpec, String> {
    const SHAPE: &str = "DIRECTION PRIORITY ACTION [hosts=a,b] [protocols=a,b] [ports=a,b]";
    let mut words = text.split_whitespace();
    let (Some(direction), Some(priority), Some(action)) =
        (words.next(), words.next(), words.next())
    else {
        return Err(format!("expected {SHAPE}"));
    };
    let direction = direction.parse().map_err(|e| format!("direction: {e}"))?;
    let priority = priority
        .parse::<u16>()
        .map_err(|_| format!("priority {priority:?} is not a number from 0 to 65535"))?;
    let action = action.parse().map_err(|e| format!("action: {e}"))?;
    let mut rule = FwRuleSpec {
        direction,
        priority,
        action,
        hosts: Vec::new(),
        protocols: Vec::new(),
        ports: Vec::new(),
    };
    let mut seen: Vec<&str> = Vec::new();
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!("{word:?} is not KEY=VALUES (expected {SHAPE})"));
        };
        if !matches!(key, "hosts" | "protocols" | "ports") {
            return Err(format!(
                "unknown key {key:?} (expected hosts=, protocols= or ports=)"
            ));
        }
        if seen.contains(&key) {
            return Err(format!("{key}= given twice"));
        }
        seen.push(key);
        match key {
            "hosts" => rule.hosts = rule_items(key, value)?,
            "protocols" => rule.protocols = rule_items(key, value)?,
            _ => rule.ports = rule_items(key, value)?,
        }
    }
    Ok(rule)
}

/// The comma-separated items of a rule's `KEY=a,b`, each parsed.
fn rule_items<T: std::str::FromStr<Err = String>>(
    key: &str,
    value: &str,
) -> Result<Vec<T>, String> {
    value
        .split(',')
        .map(|item| {
            if item.is_empty() {
                return Err(format!("{key}= has an empty item in {value:?}"));
            }
            item.parse().map_err(|e| format!("{key}: {e}"))
        })
        .collect()
}

/// Reads the value of `--rules`: inline JSON when it starts with `[` or
/// `{`, else the path of a JSON file. Either way it must be an array of
/// rule objects.
fn load_rules(value: &str) -> Result<Vec<FwRuleSpec>, String> {
    let trimmed = value.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        return serde_json::from_str(value).map_err(|e| {
            format!("--rules: the inline JSON is not an array of firewall rules: {e}")
        });
    }
    let text = std::fs::read_to_string(value)
        .map_err(|e| format!("--rules: cannot read {value}: {}", io_reason(&e)))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("--rules: {value} is not a JSON array of firewall rules: {e}"))
}

/// An I/O error in words, without the "(os error N)" suffix.
fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => {
            let text = e.to_string();
            match text.find(" (os error ") {
                Some(i) => text[..i].to_owned(),
                None => text,
            }
        }
    }
}

/// Reads a state document: TOML when the file name ends in `.toml`, JSON
/// otherwise (`-` is standard input, JSON).
/// The text of `path` (`-`: standard input).
fn read_text(path: &std::path::Path) -> Result<String, String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        io::Read::read_to_string(&mut io::stdin(), &mut s)
            .map_err(|e| format!("standard input: {}", io_reason(&e)))?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("{}: {}", path.display(), io_reason(&e)))
    }
}

/// A flow export (`flows-export --json`'s answer) from `path`.
fn load_flow_export(path: &std::path::Path) -> Result<vswitch_api::migration::FlowExport, String> {
    let text = read_text(path)?;
    let mut v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    // The answer as `--json` prints it carries the reply's tag.
    if let Some(o) = v.as_object_mut() {
        o.remove("type");
    }
    serde_path_to_error::deserialize(v)
        .map_err(|e| format!("{}: not a flow export: {e}", path.display()))
}

fn load_state(path: &std::path::Path) -> Result<vswitch_api::state::SwitchState, String> {
    let shown = path.display();
    let text = read_text(path)?;
    let parsed = if path.extension().is_some_and(|e| e == "toml") {
        toml::de::Deserializer::parse(&text)
            .map_err(|e| e.to_string())
            .and_then(|d| serde_path_to_error::deserialize(d).map_err(|e| e.to_string()))
    } else {
        let mut d = serde_json::Deserializer::from_str(&text);
        serde_path_to_error::deserialize(&mut d)
            .map_err(|e| e.to_string())
            .and_then(|s| d.end().map(|()| s).map_err(|e| e.to_string()))
    };
    parsed.map_err(|e| format!("{shown}: not a state document: {e}"))
}

/// What a parsed command line asks for.
#[derive(Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // one per run: its size costs nothing
enum Action {
    /// A protocol command, sent as a proper [`vswitch_api::Request`].
    Api(Command),
    /// A request line sent as is.
    Raw(String),
}

impl Sub {
    /// The request this command line stands for; `Err` is a plain message
    /// when an argument's contents (e.g. a rules file) cannot be used.
    fn into_action(self) -> Result<Action, String> {
        Ok(Action::Api(match self {
            Sub::Status => Command::Status,
            Sub::Ports => Command::Ports,
            Sub::Stats => Command::Stats,
            Sub::PatchSet { from, to } => Command::PatchSet { from, to },
            Sub::PatchClear { from } => Command::PatchClear { from },
            Sub::PatchList => Command::PatchList,
            Sub::VnicCreate(args) => Command::VnicCreate(args.into()),
            Sub::VnicDelete { port } => Command::VnicDelete { port },
            Sub::VnicList => Command::VnicList,
            Sub::InstanceTypeSet { name, max_nics } => Command::InstanceTypeSet { name, max_nics },
            Sub::InstanceCreate { id, instance_type } => {
                Command::InstanceCreate { id, instance_type }
            }
            Sub::InstanceState { id, state } => Command::InstanceState { id, state },
            Sub::InstanceList => Command::InstanceList,
            Sub::NicCreate(args) => Command::NicCreate(args.into()),
            Sub::NicDelete { id } => Command::NicDelete { id },
            Sub::NicAttach(args) => Command::NicAttach(args.into()),
            Sub::NicDetach { nic } => Command::NicDetach { nic },
            Sub::NicList => Command::NicList,
            Sub::PortAdd {
                name,
                devargs,
                role,
            } => Command::PortAdd {
                name,
                devargs,
                role,
            },
            Sub::PortDel { name } => Command::PortDel { name },
            Sub::UnderlaySet {
                addr,
                uplink,
                nexthop_mac,
            } => Command::UnderlaySet {
                addr,
                uplink,
                nexthop_mac,
            },
            Sub::V2pSet {
                vni,
                ip,
                mac,
                underlay,
            } => Command::V2pSet {
                vni,
                ip,
                mac,
                underlay,
            },
            Sub::V2pClear { vni, ip } => Command::V2pClear { vni, ip },
            Sub::V2pList => Command::V2pList,
            Sub::RouteAdd {
                port,
                dest,
                target,
                class,
            } => Command::RouteAdd {
                port,
                dest,
                target,
                class,
            },
            Sub::RouteDel { port, dest, class } => Command::RouteDel { port, dest, class },
            Sub::FirewallSet { port, rules, rule } => {
                let mut all = match rules {
                    Some(value) => load_rules(&value)?,
                    None => Vec::new(),
                };
                all.extend(rule);
                Command::FirewallSet { port, rules: all }
            }
            Sub::Layers { port } => Command::Layers { port },
            Sub::Flows { port, limit, from } => Command::Flows { port, limit, from },
            Sub::FlowsClear { port } => Command::FlowsClear { port },
            Sub::FlowsExport { nic } => Command::FlowsExport { nic },
            Sub::FlowsImport { file } => Command::FlowsImport(load_flow_export(&file)?),
            Sub::PoolCreate { name, ranges } => Command::PoolCreate { name, ranges },
            Sub::PoolDelete { name } => Command::PoolDelete { name },
            Sub::PoolList => Command::PoolList,
            Sub::IgwCreate { id, name } => Command::IgwCreate { id, name },
            Sub::IgwDelete { id } => Command::IgwDelete { id },
            Sub::IgwAssign { id, pool, range } => Command::IgwAssign { id, pool, range },
            Sub::IgwUnassign { id, pool, range } => Command::IgwUnassign { id, pool, range },
            Sub::IgwList => Command::IgwList,
            Sub::ExternalSet(args) => Command::ExternalSet(args.try_into()?),
            Sub::ExternalClear { port } => Command::ExternalClear { port },
            Sub::ExternalList => Command::ExternalList,
            Sub::V2bSet { prefix, endpoints } => Command::V2bSet { prefix, endpoints },
            Sub::V2bClear { prefix } => Command::V2bClear { prefix },
            Sub::V2bList => Command::V2bList,
            Sub::ExternalPortSet {
                port,
                nexthop_mac,
                addr,
            } => Command::ExternalPortSet {
                port,
                nexthop_mac,
                addr,
            },
            Sub::BoundaryMapSet { ip, sled, ports } => Command::BoundaryMapSet { ip, sled, ports },
            Sub::BoundaryMapClear { ip, ports } => Command::BoundaryMapClear { ip, ports },
            Sub::BoundaryMapList => Command::BoundaryMapList,
            Sub::BridgeLinkSet {
                port,
                cidr,
                nexthop_mac,
                addr,
            } => Command::BridgeLinkSet(vswitch_api::state::BridgeLinkState {
                port,
                cidr,
                nexthop_mac,
                addr,
            }),
            Sub::BridgeLinkClear { port } => Command::BridgeLinkClear { port },
            Sub::StaticNatSet { external, bridge } => {
                Command::StaticNatSet(vswitch_api::state::StaticNatEntry { external, bridge })
            }
            Sub::StaticNatClear { external } => Command::StaticNatClear { external },
            Sub::Export => Command::Export,
            Sub::Apply {
                file,
                dry_run,
                if_generation,
            } => Command::Apply {
                state: Box::new(load_state(&file)?),
                dry_run,
                if_generation,
            },
            Sub::Shutdown => Command::Shutdown,
            Sub::Raw { line } => return Ok(Action::Raw(line)),
        }))
    }
}

/// The socket to use: `--socket`, else the environment variable, else the
/// built-in default. An empty variable counts as unset, since `VAR= cmd`
/// is the usual way to disable an inherited setting.
fn socket_path(flag: Option<PathBuf>, env: Option<OsString>) -> PathBuf {
    flag.or_else(|| env.filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

/// Writes `text` plus a newline to stdout. A closed pipe (`vswitchctl ports
/// | head -1`) is not an error worth reporting, so it is swallowed.
fn emit(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Reports a failure on stderr. `eprintln!` would panic if stderr were
/// closed; there is nowhere left to report that, so it is ignored.
fn complain(msg: &dyn std::fmt::Display) {
    let _ = writeln!(io::stderr(), "vswitchctl: {msg}");
}

/// Why `run` failed: an unusable argument, the appliance's side, or our
/// own output.
enum Failure {
    Usage(String),
    Client(ClientError),
    Output(io::Error),
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::Client(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

fn run(cli: Cli) -> Result<u8, Failure> {
    // Arguments are checked before connecting, so a bad rules file is
    // reported as such whether or not the appliance is running.
    let action = cli.command.into_action().map_err(Failure::Usage)?;
    let path = socket_path(cli.socket, std::env::var_os(SOCKET_ENV));
    let mut client = Client::connect(&path, DEFAULT_TIMEOUT)?;
    match action {
        Action::Api(command) => {
            let reply = client.request(command.clone())?;
            let text = if cli.json {
                serde_json::to_string_pretty(&reply).map_err(|e| ClientError::Protocol {
                    path: path.clone(),
                    detail: format!("cannot re-encode the result: {e}"),
                })?
            } else {
                render::render_answer(&command, &reply)
            };
            emit(&text)?;
            Ok(0)
        }
        Action::Raw(line) => {
            let reply = client.exchange(&line)?;
            emit(&reply)?;
            // The reply is printed whatever it says; the exit code is what
            // lets a script check the verdict without parsing it.
            Ok(match serde_json::from_str::<Response>(&reply) {
                Ok(response) if response.ok => 0,
                Ok(_) => 1,
                Err(_) => 2,
            })
        }
    }
}

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with its own code.
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Usage(msg)) => {
            complain(&msg);
            ExitCode::from(2)
        }
        Err(Failure::Client(e)) => {
            complain(&e);
            ExitCode::from(e.exit_code())
        }
        Err(Failure::Output(e)) => {
            complain(&format_args!("cannot write the output: {e}"));
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use vswitch_api::VnicCreate;

    /// Every command of the API's one list has a subcommand of its name, and
    /// every subcommand but `raw` is a command of the list.
    #[test]
    fn subcommands_are_the_apis_commands() {
        use strum::VariantNames;
        let cli = Cli::command();
        let subs: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
        for name in Command::VARIANTS {
            assert!(
                subs.contains(name),
                "the API's {name} has no vswitchctl subcommand"
            );
        }
        for sub in subs.iter().filter(|s| **s != "raw") {
            assert!(
                Command::VARIANTS.contains(sub),
                "vswitchctl {sub} is not an API command"
            );
        }
    }

    fn action(args: &[&str]) -> Action {
        let mut argv = vec!["vswitchctl"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)
            .unwrap()
            .command
            .into_action()
            .unwrap()
    }

    fn api(args: &[&str]) -> Command {
        match action(args) {
            Action::Api(command) => command,
            other => panic!("{args:?} gave {other:?}"),
        }
    }

    /// The error of a command line that parses but cannot be used.
    fn action_error(args: &[&str]) -> String {
        let mut argv = vec!["vswitchctl"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)
            .unwrap()
            .command
            .into_action()
            .unwrap_err()
    }

    fn rule(direction: &str, priority: u16, action: &str) -> FwRuleSpec {
        FwRuleSpec {
            direction: direction.parse().unwrap(),
            priority,
            action: action.parse().unwrap(),
            hosts: vec![],
            protocols: vec![],
            ports: vec![],
        }
    }

    /// Typed API values from their texts.
    fn strings<T: std::str::FromStr>(items: &[&str]) -> Vec<T>
    where
        T::Err: std::fmt::Debug,
    {
        items.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn subcommands_map_to_protocol_commands() {
        assert_eq!(action(&["status"]), Action::Api(Command::Status));
        assert_eq!(action(&["ports"]), Action::Api(Command::Ports));
        assert_eq!(action(&["stats"]), Action::Api(Command::Stats));
        assert_eq!(
            action(&["patch-set", "vm1", "uplink0"]),
            Action::Api(Command::PatchSet {
                from: "vm1".into(),
                to: "uplink0".into()
            })
        );
        assert_eq!(
            action(&["patch-clear", "vm1"]),
            Action::Api(Command::PatchClear {
                from: Some("vm1".into())
            })
        );
        assert_eq!(
            action(&["patch-clear"]),
            Action::Api(Command::PatchClear { from: None })
        );
        assert_eq!(action(&["patch-list"]), Action::Api(Command::PatchList));
        assert_eq!(action(&["shutdown"]), Action::Api(Command::Shutdown));
        assert_eq!(
            action(&["raw", "{\"version\":1}"]),
            Action::Raw("{\"version\":1}".into())
        );
    }

    #[test]
    fn vnic_subcommands_map_to_protocol_commands() {
        assert_eq!(
            api(&[
                "vnic-create",
                "vm1",
                "--id",
                "7",
                "--vni",
                "1234",
                "--mac",
                "a8:40:25:00:00:07",
                "--gateway-mac",
                "a8:40:25:ff:ff:ff",
                "--ipv4",
                "172.30.0.5",
                "--gateway-ipv4",
                "172.30.0.1",
                "--ipv6",
                "fd00::5",
                "--gateway-ipv6",
                "fd00::1",
                "--dns",
                "1.1.1.1",
                "--dns",
                "2606:4700::1111,8.8.8.8",
                "--hostname",
                "web1",
                "--domain",
                "vpc.example",
                "--mtu",
                "1450",
            ]),
            Command::VnicCreate(VnicCreate {
                port: "vm1".into(),
                id: 7,
                vni: Vni::try_from(1234).unwrap(),
                mac: "a8:40:25:00:00:07".parse().unwrap(),
                ipv4: Some(Ipv4Addr::new(172, 30, 0, 5)),
                ipv6: Some("fd00::5".parse().unwrap()),
                gateway_mac: "a8:40:25:ff:ff:ff".parse().unwrap(),
                gateway_ipv4: Some(Ipv4Addr::new(172, 30, 0, 1)),
                gateway_ipv6: Some("fd00::1".parse().unwrap()),
                dns: vec![
                    "1.1.1.1".parse().unwrap(),
                    "2606:4700::1111".parse().unwrap(),
                    "8.8.8.8".parse().unwrap(),
                ],
                hostname: Some("web1".into()),
                domain: Some("vpc.example".into()),
                mtu: Some(1450),
                flow_quota: None,
            })
        );
        assert_eq!(
            api(&[
                "vnic-create",
                "vm2",
                "--id",
                "1",
                "--vni",
                "16777215",
                "--mac",
                "02:00:00:00:00:02",
                "--gateway-mac",
                "02:00:00:00:00:01",
            ]),
            Command::VnicCreate(VnicCreate {
                port: "vm2".into(),
                id: 1,
                vni: Vni::try_from(0xff_ffff).unwrap(),
                mac: "02:00:00:00:00:02".parse().unwrap(),
                ipv4: None,
                ipv6: None,
                gateway_mac: "02:00:00:00:00:01".parse().unwrap(),
                gateway_ipv4: None,
                gateway_ipv6: None,
                dns: vec![],
                hostname: None,
                domain: None,
                mtu: None,
                flow_quota: None,
            })
        );
        assert_eq!(
            api(&["vnic-delete", "vm1"]),
            Command::VnicDelete { port: "vm1".into() }
        );
        assert_eq!(api(&["vnic-list"]), Command::VnicList);
    }

    #[test]
    fn overlay_subcommands_map_to_protocol_commands() {
        assert_eq!(
            api(&[
                "underlay-set",
                "fd00:99::1",
                "--uplink",
                "uplink0",
                "--nexthop-mac",
                "02:aa:00:00:00:01",
            ]),
            Command::UnderlaySet {
                addr: "fd00:99::1".parse().unwrap(),
                uplink: "uplink0".into(),
                nexthop_mac: "02:aa:00:00:00:01".parse().unwrap(),
            }
        );
        assert_eq!(
            api(&[
                "v2p-set",
                "1234",
                "172.30.0.9",
                "a8:40:25:00:00:09",
                "fd00:99::2"
            ]),
            Command::V2pSet {
                vni: Vni::try_from(1234).unwrap(),
                ip: "172.30.0.9".parse().unwrap(),
                mac: "a8:40:25:00:00:09".parse().unwrap(),
                underlay: "fd00:99::2".parse().unwrap(),
            }
        );
        assert_eq!(
            api(&["v2p-clear", "1234", "fd00::9"]),
            Command::V2pClear {
                vni: Vni::try_from(1234).unwrap(),
                ip: "fd00::9".parse().unwrap(),
            }
        );
        assert_eq!(api(&["v2p-list"]), Command::V2pList);
    }

    #[test]
    fn boundary_subcommands_map_to_protocol_commands() {
        assert_eq!(
            api(&[
                "external-port-set",
                "ext0",
                "--nexthop-mac",
                "02:00:00:00:00:fe",
                "--addr",
                "192.0.2.1",
            ]),
            Command::ExternalPortSet {
                port: "ext0".into(),
                nexthop_mac: "02:00:00:00:00:fe".parse().unwrap(),
                addr: Some("192.0.2.1".parse().unwrap()),
            }
        );
        assert_eq!(
            api(&[
                "external-port-set",
                "ext0",
                "--nexthop-mac",
                "02:00:00:00:00:FE"
            ]),
            Command::ExternalPortSet {
                port: "ext0".into(),
                nexthop_mac: "02:00:00:00:00:fe".parse().unwrap(),
                addr: None,
            }
        );
        assert_eq!(
            api(&["boundary-map-set", "203.0.113.5", "fd00:1701:d:101::1"]),
            Command::BoundaryMapSet {
                ip: "203.0.113.5".parse().unwrap(),
                sled: "fd00:1701:d:101::1".parse().unwrap(),
                ports: None,
            }
        );
        assert_eq!(
            api(&[
                "boundary-map-set",
                "198.51.100.13",
                "fd00:1701:d:102::1",
                "--ports",
                "2048-3071"
            ]),
            Command::BoundaryMapSet {
                ip: "198.51.100.13".parse().unwrap(),
                sled: "fd00:1701:d:102::1".parse().unwrap(),
                ports: Some("2048-3071".parse().unwrap()),
            }
        );
        assert_eq!(
            api(&["boundary-map-clear", "2001:db8::5"]),
            Command::BoundaryMapClear {
                ip: "2001:db8::5".parse().unwrap(),
                ports: None,
            }
        );
        assert_eq!(api(&["boundary-map-list"]), Command::BoundaryMapList);
        assert_eq!(
            api(&[
                "bridge-link-set",
                "br",
                "--cidr",
                "100.0.1.0/24",
                "--nexthop-mac",
                "02:00:00:00:b0:0b",
                "--addr",
                "100.0.1.1"
            ]),
            Command::BridgeLinkSet(vswitch_api::state::BridgeLinkState {
                port: "br".into(),
                cidr: "100.0.1.0/24".parse().unwrap(),
                nexthop_mac: "02:00:00:00:b0:0b".parse().unwrap(),
                addr: Some("100.0.1.1".parse().unwrap()),
            })
        );
        assert_eq!(
            api(&["static-nat-set", "162.3.124.5", "100.0.1.4"]),
            Command::StaticNatSet(vswitch_api::state::StaticNatEntry {
                external: "162.3.124.5".parse().unwrap(),
                bridge: "100.0.1.4".parse().unwrap(),
            })
        );
        for bad in [
            &["external-port-set", "ext0"][..],
            &[
                "external-port-set",
                "ext0",
                "--nexthop-mac",
                "m",
                "--addr",
                "fd00::1",
            ],
            &["boundary-map-set", "203.0.113.5"],
            &["boundary-map-set", "203.0.113.5", "10.0.0.1"],
            &["boundary-map-clear", "x"],
        ] {
            let mut argv = vec!["vswitchctl"];
            argv.extend_from_slice(bad);
            assert!(Cli::try_parse_from(argv).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn route_subcommands_map_to_protocol_commands() {
        assert_eq!(
            api(&["route-add", "vm1", "0.0.0.0/0", "igw:3"]),
            Command::RouteAdd {
                port: "vm1".into(),
                dest: "0.0.0.0/0".parse().unwrap(),
                target: "igw:3".parse().unwrap(),
                class: None,
            }
        );
        assert_eq!(
            api(&[
                "route-add",
                "vm1",
                "10.0.0.0/24",
                "subnet:10.0.0.0/24",
                "--class",
                "system"
            ]),
            Command::RouteAdd {
                port: "vm1".into(),
                dest: "10.0.0.0/24".parse().unwrap(),
                target: "subnet:10.0.0.0/24".parse().unwrap(),
                class: Some("system".parse().unwrap()),
            }
        );
        assert_eq!(
            api(&["route-del", "vm1", "0.0.0.0/0"]),
            Command::RouteDel {
                port: "vm1".into(),
                dest: "0.0.0.0/0".parse().unwrap(),
                class: None,
            }
        );
        assert_eq!(
            api(&["route-del", "vm1", "10.0.0.0/24", "--class", "custom"]),
            Command::RouteDel {
                port: "vm1".into(),
                dest: "10.0.0.0/24".parse().unwrap(),
                class: Some("custom".parse().unwrap()),
            }
        );
    }

    #[test]
    fn layer_and_flow_subcommands_map_to_protocol_commands() {
        assert_eq!(
            api(&["layers", "vm1"]),
            Command::Layers { port: "vm1".into() }
        );
        assert_eq!(
            api(&["flows"]),
            Command::Flows {
                port: None,
                limit: None,
                from: None
            }
        );
        assert_eq!(
            api(&["flows", "vm1", "--limit", "5", "--from", "0:77"]),
            Command::Flows {
                port: Some("vm1".into()),
                limit: Some(5),
                from: Some("0:77".into()),
            }
        );
        assert_eq!(api(&["flows-clear"]), Command::FlowsClear { port: None });
        assert_eq!(
            api(&["flows-clear", "vm1"]),
            Command::FlowsClear {
                port: Some("vm1".into())
            }
        );
    }

    #[test]
    fn firewall_set_takes_inline_json() {
        let json = r#"[{"direction":"in","priority":100,"action":"allow",
            "hosts":["subnet:10.0.0.0/8"],"protocols":["tcp"],"ports":["22"]},
            {"direction":"out","priority":65535,"action":"deny"}]"#;
        let mut first = rule("in", 100, "allow");
        first.hosts = strings(&["subnet:10.0.0.0/8"]);
        first.protocols = strings(&["tcp"]);
        first.ports = strings(&["22"]);
        assert_eq!(
            api(&["firewall-set", "vm1", "--rules", json]),
            Command::FirewallSet {
                port: "vm1".into(),
                rules: vec![first, rule("out", 65535, "deny")],
            }
        );
        // An empty array is how every rule is removed.
        assert_eq!(
            api(&["firewall-set", "vm1", "--rules", "[]"]),
            Command::FirewallSet {
                port: "vm1".into(),
                rules: vec![],
            }
        );
    }

    #[test]
    fn firewall_set_takes_a_rules_file() {
        let path =
            std::env::temp_dir().join(format!("vswitchctl-test-{}-rules.json", std::process::id()));
        std::fs::write(
            &path,
            r#"[{"direction":"out","priority":5,"action":"allow","protocols":["udp"]}]"#,
        )
        .unwrap();
        let mut expected = rule("out", 5, "allow");
        expected.protocols = strings(&["udp"]);
        let command = api(&["firewall-set", "vm1", "--rules", path.to_str().unwrap()]);
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            command,
            Command::FirewallSet {
                port: "vm1".into(),
                rules: vec![expected],
            }
        );
    }

    #[test]
    fn firewall_set_takes_compact_rules() {
        let mut first = rule("in", 100, "allow");
        first.hosts = strings(&["subnet:10.0.0.0/8"]);
        first.protocols = strings(&["tcp"]);
        first.ports = strings(&["22", "80-90"]);
        assert_eq!(
            api(&[
                "firewall-set",
                "vm1",
                "--rule",
                "in 100 allow hosts=subnet:10.0.0.0/8 protocols=tcp ports=22,80-90",
                "--rule",
                "out 65535 deny",
            ]),
            Command::FirewallSet {
                port: "vm1".into(),
                rules: vec![first, rule("out", 65535, "deny")],
            }
        );
        // --rules comes first, then each --rule in order.
        assert_eq!(
            api(&[
                "firewall-set",
                "vm1",
                "--rule",
                "in 7 deny",
                "--rules",
                r#"[{"direction":"out","priority":1,"action":"allow"}]"#,
            ]),
            Command::FirewallSet {
                port: "vm1".into(),
                rules: vec![rule("out", 1, "allow"), rule("in", 7, "deny")],
            }
        );
    }

    #[test]
    fn compact_rule_parser() {
        let mut full = rule("out", 0, "deny");
        full.hosts = strings(&["ip:192.0.2.1", "vni:77"]);
        full.protocols = strings(&["icmp:8/0", "udp"]);
        full.ports = strings(&["53"]);
        assert_eq!(
            parse_rule("  out 0 deny   ports=53 protocols=icmp:8/0,udp hosts=ip:192.0.2.1,vni:77 "),
            Ok(full)
        );
        assert_eq!(parse_rule("in 65535 allow"), Ok(rule("in", 65535, "allow")));

        for (text, needle) in [
            ("", "expected DIRECTION PRIORITY ACTION"),
            ("in 100", "expected DIRECTION PRIORITY ACTION"),
            (
                "sideways 1 allow",
                "direction: \"sideways\" is not one of in, out",
            ),
            ("in high allow", "priority \"high\""),
            ("in 65536 allow", "priority \"65536\""),
            (
                "in 1 permit",
                "action: \"permit\" is not one of allow, deny",
            ),
            (
                "in 1 allow hosts=subnet:10.0.0.0",
                "hosts: \"10.0.0.0\" is not a prefix",
            ),
            (
                "in 1 allow protocols=sctp",
                "protocols: \"sctp\" is not one of",
            ),
            (
                "in 1 allow ports=90-80",
                "ports: port range 90-80 has first > last",
            ),
            ("in 1 allow tcp", "\"tcp\" is not KEY=VALUES"),
            ("in 1 allow host=any", "unknown key \"host\""),
            ("in 1 allow ports=1 ports=2", "ports= given twice"),
            ("in 1 allow ports=", "empty item"),
            ("in 1 allow ports=1,,2", "empty item"),
        ] {
            let err = parse_rule(text).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn bad_rules_are_plain_errors() {
        // A bad compact rule is a usage error naming the rule.
        let err =
            Cli::try_parse_from(["vswitchctl", "firewall-set", "vm1", "--rule", "in x allow"])
                .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("priority \"x\""), "{err}");

        let err = action_error(&["firewall-set", "vm1", "--rules", "[{\"direction\":\"in\"}]"]);
        assert!(
            err.starts_with(
                "--rules: the inline JSON is not an array of firewall rules: missing field"
            ),
            "{err}"
        );
        let err = action_error(&["firewall-set", "vm1", "--rules", "{\"rules\":[]}"]);
        assert!(err.contains("inline JSON"), "{err}");

        let missing = "/nonexistent/vswitchctl-rules.json";
        let err = action_error(&["firewall-set", "vm1", "--rules", missing]);
        assert_eq!(err, format!("--rules: cannot read {missing}: no such file"));

        let path = std::env::temp_dir().join(format!(
            "vswitchctl-test-{}-bad-rules.json",
            std::process::id()
        ));
        std::fs::write(
            &path,
            "[{\"direction\":\"in\",\"priority\":1,\"action\":\"allow\",\"prio\":2}]",
        )
        .unwrap();
        let err = action_error(&["firewall-set", "vm1", "--rules", path.to_str().unwrap()]);
        let _ = std::fs::remove_file(&path);
        assert!(
            err.starts_with(&format!(
                "--rules: {} is not a JSON array of firewall rules: unknown field `prio`",
                path.display()
            )),
            "{err}"
        );
        assert!(!err.contains("os error"), "{err}");
    }

    /// A value that does not parse is refused by clap with the API type's
    /// message, naming the argument.
    #[test]
    fn bad_values_are_refused_with_the_types_message() {
        for (args, arg, want) in [
            (
                &["v2p-set", "1", "10.0.0.1", "zz", "fd00::1"][..],
                "<MAC>",
                "\"zz\" is not a MAC address (aa:bb:cc:dd:ee:ff)",
            ),
            (
                &[
                    "v2p-set",
                    "16777216",
                    "10.0.0.1",
                    "02:00:00:00:00:01",
                    "fd00::1",
                ],
                "<VNI>",
                "vni 16777216 does not fit in 24 bits",
            ),
            (
                &[
                    "underlay-set",
                    "fd00::1",
                    "--uplink",
                    "u",
                    "--nexthop-mac",
                    "m",
                ],
                "--nexthop-mac <MAC>",
                "\"m\" is not a MAC address",
            ),
            (
                &["route-add", "vm1", "10.0.0.0", "drop"],
                "<DEST>",
                "\"10.0.0.0\" is not a prefix (e.g. 10.0.0.0/8, fd00::/64)",
            ),
            (
                &["route-add", "vm1", "10.0.0.0/8", "gateway"],
                "<TARGET>",
                "\"gateway\" is not one of drop, igw, igw:ID, ip:ADDR, subnet:PREFIX, nic:ID",
            ),
            (
                &["route-del", "vm1", "10.0.0.0/8", "--class", "vip"],
                "--class <CLASS>",
                "\"vip\" is not one of custom, system",
            ),
            (
                &["pool-create", "p", "10.0.0.9-10.0.0.1"],
                "<RANGE>",
                "range \"10.0.0.9-10.0.0.1\" ends before it starts",
            ),
            (
                &["igw-assign", "1", "--range", "10.0.0.1/24"],
                "--range <RANGE>",
                "has host bits set (did you mean 10.0.0.0/24?)",
            ),
            (
                &["v2b-clear", "8.8.8.8"],
                "<PREFIX>",
                "\"8.8.8.8\" is not a prefix",
            ),
        ] {
            let mut argv = vec!["vswitchctl"];
            argv.extend_from_slice(args);
            let err = Cli::try_parse_from(argv).unwrap_err().to_string();
            assert!(err.contains(arg) && err.contains(want), "{args:?}: {err}");
        }
    }

    /// A state document whose value does not parse is refused with the
    /// path of the field, in JSON and in TOML.
    #[test]
    fn a_bad_state_document_names_the_field() {
        let dir = std::env::temp_dir();
        let nic = r#""port":"g0","id":1,"vni":100,"gateway_mac":"a8:40:25:00:00:01""#;
        let json =
            format!(r#"{{"version":1,"role":"sled","vnics":[{{"nic":{{{nic},"mac":"zz"}}}}]}}"#);
        let toml = "version = 1\nrole = \"sled\"\n[[vnics]]\n[vnics.nic]\nport = \"g0\"\n\
                    id = 1\nvni = 100\nmac = \"a8:40:25:00:00:05\"\ngateway_mac = \"zz\"\n";
        for (name, text, want) in [
            (
                "bad.json",
                json.as_str(),
                r#"vnics[0].nic.mac: "zz" is not a MAC address (aa:bb:cc:dd:ee:ff)"#,
            ),
            // TOML's own message shows the line between the path and ours.
            (
                "bad.toml",
                toml,
                "vnics[0].nic.gateway_mac: TOML parse error",
            ),
        ] {
            let path = dir.join(format!("vswitchctl-test-{}-{name}", std::process::id()));
            std::fs::write(&path, text).unwrap();
            let err = action_error(&["apply", path.to_str().unwrap()]);
            let _ = std::fs::remove_file(&path);
            assert!(err.contains("not a state document: "), "{err}");
            assert!(err.contains(want), "{err}");
            assert!(
                err.contains(r#""zz" is not a MAC address (aa:bb:cc:dd:ee:ff)"#),
                "{err}"
            );
        }
    }

    #[test]
    fn new_subcommands_reject_bad_usage() {
        let bad: &[&[&str]] = &[
            // Missing required options.
            &[
                "vnic-create",
                "vm1",
                "--id",
                "1",
                "--vni",
                "2",
                "--mac",
                "02:00:00:00:00:01",
            ],
            // An address family without its gateway, and the reverse.
            &[
                "vnic-create",
                "vm1",
                "--id",
                "1",
                "--vni",
                "2",
                "--mac",
                "02:00:00:00:00:01",
                "--gateway-mac",
                "02:00:00:00:00:02",
                "--ipv4",
                "10.0.0.2",
            ],
            &[
                "vnic-create",
                "vm1",
                "--id",
                "1",
                "--vni",
                "2",
                "--mac",
                "02:00:00:00:00:01",
                "--gateway-mac",
                "02:00:00:00:00:02",
                "--gateway-ipv6",
                "fd00::1",
            ],
            // VNIs are 24 bits.
            &[
                "vnic-create",
                "vm1",
                "--id",
                "1",
                "--vni",
                "16777216",
                "--mac",
                "02:00:00:00:00:01",
                "--gateway-mac",
                "02:00:00:00:00:02",
            ],
            &[
                "v2p-set",
                "16777216",
                "10.0.0.1",
                "02:00:00:00:00:01",
                "fd00::1",
            ],
            &["v2p-set", "1", "10.0.0.1", "02:00:00:00:00:01", "10.0.0.2"],
            &["v2p-clear", "1", "not-an-ip"],
            &["underlay-set", "fd00::1", "--uplink", "u"],
            &[
                "underlay-set",
                "10.0.0.1",
                "--uplink",
                "u",
                "--nexthop-mac",
                "02:00:00:00:00:01",
            ],
            &["route-add", "vm1", "0.0.0.0/0"],
            &["route-add", "vm1", "0.0.0.0/0", "drop", "--class", "other"],
            &["route-del", "vm1"],
            // Firewall rules must come from somewhere.
            &["firewall-set", "vm1"],
            &["layers"],
            &["flows", "a", "b"],
        ];
        for args in bad {
            let mut argv = vec!["vswitchctl"];
            argv.extend_from_slice(args);
            assert!(Cli::try_parse_from(argv).is_err(), "accepted {args:?}");
        }
    }

    #[test]
    fn pool_and_igw_subcommands_map_to_protocol_commands() {
        assert_eq!(
            api(&[
                "pool-create",
                "ext",
                "192.168.0.0/24",
                "10.0.0.1-10.0.0.9",
                "fd00::7"
            ]),
            Command::PoolCreate {
                name: "ext".into(),
                ranges: strings(&["192.168.0.0/24", "10.0.0.1-10.0.0.9", "fd00::7"]),
            }
        );
        assert_eq!(
            api(&["pool-delete", "ext"]),
            Command::PoolDelete { name: "ext".into() }
        );
        assert_eq!(api(&["pool-list"]), Command::PoolList);
        assert_eq!(
            api(&["igw-create", "4", "--name", "d"]),
            Command::IgwCreate {
                id: 4,
                name: Some("d".into())
            }
        );
        assert_eq!(
            api(&["igw-create", "5"]),
            Command::IgwCreate { id: 5, name: None }
        );
        assert_eq!(api(&["igw-delete", "4"]), Command::IgwDelete { id: 4 });
        assert_eq!(
            api(&["igw-assign", "4", "--pool", "ext"]),
            Command::IgwAssign {
                id: 4,
                pool: Some("ext".into()),
                range: None
            }
        );
        assert_eq!(
            api(&["igw-assign", "1", "--range", "192.168.0.2-192.168.0.3"]),
            Command::IgwAssign {
                id: 1,
                pool: None,
                range: Some("192.168.0.2-192.168.0.3".parse().unwrap())
            }
        );
        assert_eq!(
            api(&["igw-unassign", "1", "--range", "192.168.0.2-192.168.0.3"]),
            Command::IgwUnassign {
                id: 1,
                pool: None,
                range: Some("192.168.0.2-192.168.0.3".parse().unwrap())
            }
        );
        assert_eq!(api(&["igw-list"]), Command::IgwList);
        assert_eq!(
            api(&["v2b-set", "0.0.0.0/0", "fd00:99::1", "fd00:99::2"]),
            Command::V2bSet {
                prefix: "0.0.0.0/0".parse().unwrap(),
                endpoints: vec!["fd00:99::1".parse().unwrap(), "fd00:99::2".parse().unwrap()],
            }
        );
        assert_eq!(
            api(&["v2b-clear", "0.0.0.0/0"]),
            Command::V2bClear {
                prefix: "0.0.0.0/0".parse().unwrap()
            }
        );
        assert_eq!(api(&["v2b-list"]), Command::V2bList);
        assert_eq!(
            api(&["external-clear", "vm1"]),
            Command::ExternalClear { port: "vm1".into() }
        );
        assert_eq!(api(&["external-list"]), Command::ExternalList);
    }

    #[test]
    fn external_set_maps_to_protocol_command() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // docs/VPC-MODEL.md's reference case.
        assert_eq!(
            api(&[
                "external-set",
                "vm1",
                "--floating",
                "192.168.0.2,192.168.0.3",
                "--floating",
                "192.168.0.4",
                "--ephemeral",
                "192.168.0.1",
                "--snat",
                "10.77.77.13",
                "--snat-ports",
                "1025-4096",
                "--map",
                "192.168.0.1=system,4",
                "--map",
                "192.168.0.2=1,igw:4",
                "--map",
                "192.168.0.4=2,4",
            ]),
            Command::ExternalSet(ExternalIpsSpec {
                port: "vm1".into(),
                floating: vec![ip("192.168.0.2"), ip("192.168.0.3"), ip("192.168.0.4")],
                ephemeral: Some(ip("192.168.0.1")),
                snat: Some(SnatRange {
                    ip: ip("10.77.77.13"),
                    first_port: 1025,
                    last_port: 4096,
                }),
                igw_map: Some(BTreeMap::from([
                    (
                        ip("192.168.0.1"),
                        vec![GatewayRef::Named("system".into()), GatewayRef::Id(4)]
                    ),
                    (
                        ip("192.168.0.2"),
                        vec![GatewayRef::Id(1), GatewayRef::Id(4)]
                    ),
                    (
                        ip("192.168.0.4"),
                        vec![GatewayRef::Id(2), GatewayRef::Id(4)]
                    ),
                ])),
            })
        );
        // Nothing but the port: no external IPs, no map.
        assert_eq!(
            api(&[
                "external-set",
                "vm1",
                "--snat",
                "fd00::1",
                "--snat-ports",
                "80"
            ]),
            Command::ExternalSet(ExternalIpsSpec {
                port: "vm1".into(),
                floating: vec![],
                ephemeral: None,
                snat: Some(SnatRange {
                    ip: ip("fd00::1"),
                    first_port: 80,
                    last_port: 80,
                }),
                igw_map: None,
            })
        );
        let err = action_error(&[
            "external-set",
            "vm1",
            "--floating",
            "192.168.0.2",
            "--map",
            "192.168.0.2=1",
            "--map",
            "192.168.0.2=2",
        ]);
        assert_eq!(err, "--map: 192.168.0.2 is given twice");
    }

    #[test]
    fn igw_subcommands_reject_bad_usage() {
        let bad: &[&[&str]] = &[
            &["pool-create", "ext"],
            &["igw-create", "x"],
            &["igw-create", "-1"],
            // Exactly one of --pool and --range.
            &["igw-assign", "1"],
            &["igw-assign", "1", "--pool", "a", "--range", "10.0.0.1"],
            &["igw-unassign", "1"],
            &["external-set"],
            &["external-set", "vm1", "--floating", "nope"],
            &["external-set", "vm1", "--snat", "10.0.0.1"],
            &["external-set", "vm1", "--snat-ports", "1-2"],
            &[
                "external-set",
                "vm1",
                "--snat",
                "10.0.0.1",
                "--snat-ports",
                "1-x",
            ],
            &[
                "external-set",
                "vm1",
                "--snat",
                "10.0.0.1",
                "--snat-ports",
                "70000",
            ],
            &["external-set", "vm1", "--map", "192.168.0.2"],
            &["external-set", "vm1", "--map", "192.168.0.2=default"],
            &["external-set", "vm1", "--map", "host=1"],
            &["v2b-set", "0.0.0.0/0"],
            &["v2b-set", "0.0.0.0/0", "10.0.0.1"],
            &["v2b-clear"],
        ];
        for args in bad {
            let mut argv = vec!["vswitchctl"];
            argv.extend_from_slice(args);
            assert!(Cli::try_parse_from(argv).is_err(), "accepted {args:?}");
        }
        assert_eq!(parse_port_range("1024-2047"), Ok(PortSpan(1024, 2047)));
        assert!(parse_map_entry("192.168.0.2=4,")
            .unwrap_err()
            .contains("gateway \"\" is not system"));
    }

    #[test]
    fn global_flags_parse_before_and_after_the_subcommand() {
        let cli =
            Cli::try_parse_from(["vswitchctl", "--socket", "/tmp/s", "--json", "ports"]).unwrap();
        assert_eq!(cli.socket, Some(PathBuf::from("/tmp/s")));
        assert!(cli.json);
        let cli = Cli::try_parse_from(["vswitchctl", "stats", "--json"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.socket, None);
    }

    #[test]
    fn bad_usage_is_rejected() {
        assert!(Cli::try_parse_from(["vswitchctl"]).is_err());
        assert!(Cli::try_parse_from(["vswitchctl", "patch-set", "a"]).is_err());
        assert!(Cli::try_parse_from(["vswitchctl", "patch-clear", "a", "b"]).is_err());
        assert!(Cli::try_parse_from(["vswitchctl", "frobnicate"]).is_err());
    }

    #[test]
    fn raw_is_hidden_from_help() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("patch-set"), "{help}");
        assert!(!help.contains("raw"), "{help}");
    }

    #[test]
    fn socket_precedence() {
        let flag = Some(PathBuf::from("/flag.sock"));
        let env = Some(OsString::from("/env.sock"));
        assert_eq!(
            socket_path(flag.clone(), env.clone()),
            PathBuf::from("/flag.sock")
        );
        assert_eq!(socket_path(None, env), PathBuf::from("/env.sock"));
        assert_eq!(
            socket_path(None, Some(OsString::new())),
            PathBuf::from(DEFAULT_SOCKET)
        );
        assert_eq!(socket_path(None, None), PathBuf::from(DEFAULT_SOCKET));
    }
}
