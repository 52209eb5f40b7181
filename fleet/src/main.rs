//! `vswitch-fabric`: the rack's controller (README, *The rack fabric*). Its
//! commands read and change the fleet's state in etcd; every allocation is
//! a transaction, so several controllers may run at once.

use clap::{Parser, Subcommand};
use serde::Serialize;
use std::net::Ipv6Addr;
use std::process::ExitCode;
use vswitch_fabric::migration::MigrationPhase;
use vswitch_fabric::plan::{RackPlan, Zone};
use vswitch_fleet::migrate::{self, MigrateOptions};
use vswitch_fleet::{alloc, objects, pods, FleetError, Store};

/// The rack's controller: the underlay plan, sleds, endpoint addresses and
/// names, kept in etcd.
#[derive(Parser)]
#[command(name = "vswitch-fabric", version)]
struct Cli {
    /// etcd client URLs (comma-separated)
    #[arg(
        long,
        env = "VSWITCH_FABRIC_ETCD",
        default_value = "http://127.0.0.1:2379",
        value_delimiter = ','
    )]
    etcd: Vec<String>,
    /// Print the answer as JSON
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    cmd: Sub,
}

#[derive(Subcommand)]
enum Sub {
    /// Set the rack's availability zone and number (its /56)
    RackSet {
        /// Availability zone: two hex groups, e.g. 1701:d
        #[arg(long)]
        zone: Zone,
        /// Rack number (0-255)
        #[arg(long)]
        rack: u8,
    },
    /// Show the rack plan
    Rack,
    /// Add a sled: the next /64 of the rack and ::1 of it
    SledAdd {
        /// Sled name
        name: String,
        /// Address it from another rack of the zone (a pod with an
        /// underlay of its own): that rack's /56 and sled numbers
        #[arg(long)]
        rack: Option<u8>,
    },
    /// List the sleds
    SledList,
    /// Allocate the lowest free endpoint address of a sled (from ::100)
    EndpointAlloc {
        /// Sled name
        sled: String,
        /// What holds it (an instance, a daemon)
        #[arg(long)]
        holder: String,
    },
    /// Give an endpoint address back
    EndpointRelease {
        /// Sled name
        sled: String,
        /// The address
        addr: Ipv6Addr,
    },
    /// List the endpoint addresses in use (of one sled)
    EndpointList {
        /// Sled name
        sled: Option<String>,
    },
    /// Bind (or move) a name to an address
    NameSet {
        /// The name
        name: String,
        /// The address
        addr: Ipv6Addr,
    },
    /// Remove a name
    NameDel {
        /// The name
        name: String,
    },
    /// List the names
    NameList,
    /// Create an instance on a sled: its endpoint address (the lowest free
    /// from ::100) and its id as a name, in one transaction
    InstanceCreate {
        /// Instance id (also its DNS name)
        id: String,
        /// The sled it runs on
        #[arg(long)]
        sled: String,
        /// Its instance type
        #[arg(long = "type")]
        instance_type: Option<String>,
    },
    /// Delete an instance with its NICs, endpoint address and name
    InstanceDelete {
        /// Instance id
        id: String,
    },
    /// List the instances
    InstanceList,
    /// Create or replace a NIC from a JSON file (`-`: stdin) in the state
    /// document's form (`vswitchctl export`'s nics[]); its V2P and boundary
    /// map entries follow it
    NicPut {
        /// The file
        file: String,
    },
    /// Delete a NIC with its V2P and boundary map entries
    NicDelete {
        /// NIC id
        id: u32,
    },
    /// List the NICs
    NicList,
    /// Create or replace a pod: its boundary switch (a sled name of role
    /// boundary), its sleds and its external networks (the floating IPs it
    /// hands out)
    PodSet {
        /// Pod name
        name: String,
        /// The fleet name of its boundary switch
        #[arg(long)]
        boundary: String,
        /// A sled of the pod (repeat)
        #[arg(long = "sled")]
        sleds: Vec<String>,
        /// An external network of the pod, CIDR (repeat)
        #[arg(long = "external")]
        external: Vec<vswitch_api::Prefix>,
    },
    /// List the pods
    PodList,
    /// Set the bridge CIDR pool: bridge networks (one per pair of pods) are
    /// cut from CIDR, each of prefix length LEN
    BridgePoolSet {
        /// The pool (IPv4 CIDR)
        cidr: vswitch_api::Prefix,
        /// Each bridge network's prefix length
        #[arg(long, default_value_t = 24)]
        len: u8,
    },
    /// Declare the link between two pods' boundaries: for each end, the
    /// pod, its boundary's port of role bridge, and the MAC of the other
    /// end's port (its next hop)
    BridgeLinkSet {
        /// First pod
        pod_a: String,
        /// Its boundary's bridge port
        port_a: String,
        /// The MAC its port sends to (the second boundary's port)
        nexthop_mac_a: vswitch_api::MacAddr,
        /// Second pod
        pod_b: String,
        /// Its boundary's bridge port
        port_b: String,
        /// The MAC its port sends to (the first boundary's port)
        nexthop_mac_b: vswitch_api::MacAddr,
    },
    /// Bind floating IP FIP to NIC: in the NIC's own pod, one step; across
    /// pods, over the pair's bridge network (allocated on first use): the
    /// NIC holds a bridge address, FIP's pod's boundary the static NAT
    FipBind {
        /// NIC id
        nic: u32,
        /// Floating IP (in some pod's external networks)
        fip: std::net::IpAddr,
    },
    /// Unbind floating IP FIP from NIC, releasing its bridge address (and
    /// the bridge network when nothing uses it any more)
    FipUnbind {
        /// NIC id
        nic: u32,
        /// Floating IP
        fip: std::net::IpAddr,
    },
    /// List the bridge networks, their CIDRs and the addresses in use
    BridgeList,
    /// Replace the shared tables a JSON file (`-`: stdin) gives:
    /// {"instance_types":[..], "pools":[..], "igws":[..], "v2b":[..]}
    TablesSet {
        /// The file
        file: String,
    },
    /// Write V2P entries by hand from a JSON file (`-`: stdin): a list of
    /// {"vni", "ip", "mac", "underlay"}, in transactions of 128
    V2pImport {
        /// The file
        file: String,
    },
    /// Migrate an instance to another sled, keeping its connections: its
    /// NICs on the target, their flows carried over, then every V2P and
    /// boundary map entry and its name moved in one transaction (a second
    /// run of the same command goes on from the recorded phase)
    Migrate {
        /// Instance id
        instance: String,
        /// Target sled
        #[arg(long)]
        to: String,
        /// The guest port NIC is attached to on the target switch
        /// (default: the same name), as NIC=PORT; repeatable
        #[arg(long = "port", value_name = "NIC=PORT")]
        ports: Vec<String>,
        /// Seconds the source forwards what still reaches it after the flip
        #[arg(long, default_value_t = 2.0)]
        grace: f64,
        /// Seconds to wait for the switches to export and import the flows
        #[arg(long, default_value_t = 30.0)]
        timeout: f64,
        /// Stop after this phase: prepared, exporting or flipped (a later
        /// migrate goes on from it)
        #[arg(long)]
        stop_after: Option<String>,
    },
    /// Roll back a migration that has not moved the traffic yet
    MigrateAbort {
        /// Instance id
        instance: String,
    },
    /// List the migrations under way
    MigrateList,
    /// Show what a sled's switch is told (the fleet-owned parts of its state)
    View {
        /// Sled name
        sled: String,
        /// The switch's role
        #[arg(long, default_value = "sled")]
        role: String,
    },
    /// Serve the underlay DNS zone: AAAA for every name, kept current by a
    /// watch on etcd
    Dns {
        /// Address to listen on (UDP and TCP)
        #[arg(long, default_value = "127.0.0.1:5353")]
        listen: std::net::SocketAddr,
        /// The zone: NAME is answered as NAME.ZONE
        #[arg(long, default_value = "underlay.")]
        zone: String,
    },
}

fn show<T: Serialize + std::fmt::Debug>(json: bool, v: &T, text: impl FnOnce(&T) -> String) {
    if json {
        match serde_json::to_string_pretty(v) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("vswitch-fabric: {e}"),
        }
    } else {
        println!("{}", text(v));
    }
}

fn run(cli: Cli) -> Result<(), FleetError> {
    if let Sub::Dns { listen, zone } = &cli.cmd {
        return vswitch_fleet::dns::serve(cli.etcd.clone(), *listen, zone)
            .map_err(FleetError::Refused);
    }
    let mut store = Store::connect(&cli.etcd)?;
    let s = &mut store;
    let j = cli.json;
    match cli.cmd {
        Sub::RackSet { zone, rack } => {
            let p = alloc::rack_set(s, RackPlan { zone, rack })?;
            show(j, &p, |p| {
                format!("rack {} of zone {}: {}", p.rack, p.zone, p.rack_prefix())
            });
        }
        Sub::Rack => {
            let p: Option<RackPlan> = s.get(&vswitch_fabric::keys::rack())?;
            let p =
                p.ok_or_else(|| FleetError::Refused("no rack plan yet: rack-set first".into()))?;
            show(j, &p, |p| {
                format!("rack {} of zone {}: {}", p.rack, p.zone, p.rack_prefix())
            });
        }
        Sub::SledAdd { name, rack } => {
            let x = alloc::sled_add(s, &name, rack)?;
            show(j, &x, |x| {
                format!(
                    "sled {} (number {}): {} underlay {}",
                    x.name, x.number, x.prefix, x.underlay
                )
            });
        }
        Sub::SledList => {
            let v = alloc::sled_list(s)?;
            show(j, &v, |v| {
                v.iter()
                    .map(|x| {
                        format!(
                            "{:<16} {:>3} {:<24} {}",
                            x.name,
                            x.number,
                            x.prefix.to_string(),
                            x.underlay
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Sub::EndpointAlloc { sled, holder } => {
            let e = alloc::endpoint_alloc(s, &sled, &holder)?;
            show(j, &e, |e| e.addr.to_string());
        }
        Sub::EndpointRelease { sled, addr } => {
            alloc::endpoint_release(s, &sled, addr)?;
            show(j, &addr, |a| format!("{a} released"));
        }
        Sub::EndpointList { sled } => {
            let v = alloc::endpoint_list(s, sled.as_deref())?;
            show(j, &v, |v| {
                v.iter()
                    .map(|e| format!("{:<16} {:<28} {}", e.sled, e.addr.to_string(), e.holder))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Sub::NameSet { name, addr } => {
            let n = alloc::name_set(s, &name, addr)?;
            show(j, &n, |n| format!("{} -> {}", n.name, n.addr));
        }
        Sub::NameDel { name } => {
            alloc::name_del(s, &name)?;
            show(j, &name, |n| format!("{n} removed"));
        }
        Sub::Dns { .. } => {}
        Sub::InstanceCreate {
            id,
            sled,
            instance_type,
        } => {
            let i = objects::instance_create(s, &id, &sled, instance_type)?;
            show(j, &i, |i| {
                format!("instance {} on {}: endpoint {}", i.id, i.sled, i.endpoint)
            });
        }
        Sub::PodSet {
            name,
            boundary,
            sleds,
            external,
        } => {
            let p = pods::pod_set(
                s,
                vswitch_fabric::pods::Pod {
                    name,
                    boundary,
                    sleds,
                    external,
                },
            )?;
            show(j, &p, |p| {
                format!("pod {}: boundary {}", p.name, p.boundary)
            });
        }
        Sub::PodList => {
            let v: Vec<vswitch_fabric::pods::Pod> = s
                .list(&vswitch_fabric::pods::pods())?
                .into_iter()
                .map(|(_, p)| p)
                .collect();
            show(j, &v, |v| {
                v.iter()
                    .map(|p| {
                        let ext: Vec<String> = p.external.iter().map(|e| e.to_string()).collect();
                        format!(
                            "{:<12} boundary {:<12} sleds {:<24} external {}",
                            p.name,
                            p.boundary,
                            p.sleds.join(","),
                            ext.join(",")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Sub::BridgePoolSet { cidr, len } => {
            let pool = vswitch_fabric::pods::BridgePool { cidr, len };
            pods::bridge_pool_set(s, pool)?;
            show(j, &pool, |p| {
                format!("bridge pool {} in /{}", p.cidr, p.len)
            });
        }
        Sub::BridgeLinkSet {
            pod_a,
            port_a,
            nexthop_mac_a,
            pod_b,
            port_b,
            nexthop_mac_b,
        } => {
            let pair = pods::bridge_link_set(
                s,
                pods::link_end(&pod_a, &port_a, nexthop_mac_a),
                pods::link_end(&pod_b, &port_b, nexthop_mac_b),
            )?;
            show(j, &pair, |p| format!("bridge link {p}"));
        }
        Sub::FipBind { nic, fip } => {
            let b = pods::fip_bind(s, nic, fip)?;
            show(j, &b, |b| match &b.binding.bridge {
                Some((pair, addr)) => format!(
                    "{fip} -> NIC {nic} across pods {pair}: bridge address {addr}{}",
                    b.bridge_cidr
                        .map(|c| format!(" of {c}"))
                        .unwrap_or_default()
                ),
                None => format!("{fip} -> NIC {nic} in pod {}", b.binding.pod),
            });
        }
        Sub::FipUnbind { nic, fip } => {
            let b = pods::fip_unbind(s, nic, fip)?;
            show(j, &b, |b| match &b.bridge {
                Some((pair, addr)) => {
                    format!(
                        "{fip} unbound from NIC {nic}; bridge address {addr} of {pair} released"
                    )
                }
                None => format!("{fip} unbound from NIC {nic}"),
            });
        }
        Sub::BridgeList => {
            let v = pods::bridge_list(s)?;
            show(j, &v, |v| {
                v.iter()
                    .map(|b| {
                        let used: Vec<String> = b
                            .addresses
                            .iter()
                            .map(|(a, n, f)| format!("{a} (NIC {n}, {f})"))
                            .collect();
                        format!(
                            "{:<16} {:<18} in use: {}",
                            b.pods.join(","),
                            b.cidr.to_string(),
                            if used.is_empty() {
                                "-".to_string()
                            } else {
                                used.join(", ")
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Sub::InstanceDelete { id } => {
            objects::instance_delete(s, &id)?;
            show(j, &id, |i| format!("instance {i} deleted"));
        }
        Sub::InstanceList => {
            let v = objects::instance_list(s)?;
            show(j, &v, |v| {
                v.iter()
                    .map(|i| {
                        format!(
                            "{:<24} {:<16} {:<28} {}",
                            i.id,
                            i.sled,
                            i.endpoint.to_string(),
                            i.state
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Sub::NicPut { file } => {
            let nic = serde_json::from_str(&read_input(&file)?)
                .map_err(|e| FleetError::Refused(format!("{file}: {e}")))?;
            let n = objects::nic_put(s, nic)?;
            show(j, &n, |n| format!("nic {} written", n.nic.id));
        }
        Sub::NicDelete { id } => {
            objects::nic_delete(s, id)?;
            show(j, &id, |i| format!("nic {i} deleted"));
        }
        Sub::NicList => {
            let v = objects::nic_list(s)?;
            show(j, &v, |v| {
                v.iter()
                    .map(|n| {
                        format!(
                            "{:<6} vni {:<8} {} {}",
                            n.nic.id,
                            n.nic.vni.get(),
                            n.nic.mac,
                            n.attachment
                                .as_ref()
                                .map(|a| format!(
                                    "{} {}",
                                    a.instance,
                                    a.port.as_deref().unwrap_or("-")
                                ))
                                .unwrap_or_else(|| "detached".into())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Sub::TablesSet { file } => {
            let t: objects::Tables = serde_json::from_str(&read_input(&file)?)
                .map_err(|e| FleetError::Refused(format!("{file}: {e}")))?;
            objects::tables_set(s, &t)?;
            show(j, &t, |_| "tables written".to_string());
        }
        Sub::Migrate {
            instance,
            to,
            ports,
            grace,
            timeout,
            stop_after,
        } => {
            let opts = migrate_options(&ports, grace, timeout, stop_after.as_deref())?;
            let r = migrate::migrate(s, &instance, &to, &opts)?;
            show(j, &r, |r| {
                let g = &r.migration;
                let carried: u64 = r
                    .imported
                    .iter()
                    .flat_map(|i| i.nics.values())
                    .map(|x| x.imported)
                    .sum();
                format!(
                    "instance {} {} on {} ({} -> {}); {carried} flows carried; {:.2} s to the flip, {:.2} s in all",
                    g.instance,
                    if g.phase == MigrationPhase::Flipped { "runs" } else { "is being migrated" },
                    g.to,
                    g.old_endpoint,
                    g.new_endpoint,
                    r.to_flip_secs,
                    r.total_secs
                )
            });
        }
        Sub::MigrateAbort { instance } => {
            let g = migrate::abort(s, &instance)?;
            show(j, &g, |g| {
                format!("migration of {} to {} rolled back", g.instance, g.to)
            });
        }
        Sub::MigrateList => {
            let v = migrate::list(s)?;
            show(j, &v, |v| {
                v.iter()
                    .map(|g| {
                        format!(
                            "{:<24} {} -> {} {:<10} {} -> {}",
                            g.instance,
                            g.from,
                            g.to,
                            g.phase.as_str(),
                            g.old_endpoint,
                            g.new_endpoint
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Sub::V2pImport { file } => {
            let v: Vec<vswitch_api::V2pEntry> = serde_json::from_str(&read_input(&file)?)
                .map_err(|e| FleetError::Refused(format!("{file}: {e}")))?;
            let n = objects::v2p_import(s, &v)?;
            show(j, &n, |n| format!("{n} V2P entries written"));
        }
        Sub::View { sled, role } => {
            let mirror: vswitch_fabric::view::Mirror = s
                .list_raw(&format!("{}/", vswitch_fabric::keys::ROOT))?
                .into_iter()
                .map(|(k, v, _)| (k, v))
                .collect();
            let parts = vswitch_fabric::view::read(&mirror, &sled, &role)
                .map_err(|e| FleetError::Refused(e.join("\n")))?;
            show(j, &parts, |p| {
                format!(
                    "sled {sled}: underlay {}, {} endpoint(s), {} instance(s), {} NIC(s), {} V2P entries, {} boundary map entries",
                    p.underlay,
                    p.endpoints.len(),
                    p.instances.len(),
                    p.nics.len(),
                    p.v2p.len(),
                    p.boundary_map.len()
                )
            });
        }
        Sub::NameList => {
            let v = alloc::name_list(s)?;
            show(j, &v, |v| {
                v.iter()
                    .map(|n| format!("{:<32} {}", n.name, n.addr))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}

/// The text of `file`, or of stdin for `-`.
fn read_input(file: &str) -> Result<String, FleetError> {
    let r = if file == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map(|_| s)
    } else {
        std::fs::read_to_string(file)
    };
    r.map_err(|e| FleetError::Refused(format!("{file}: {e}")))
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vswitch-fabric: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `migrate`'s options from its arguments.
fn migrate_options(
    ports: &[String],
    grace: f64,
    timeout: f64,
    stop_after: Option<&str>,
) -> Result<MigrateOptions, FleetError> {
    let bad = |m: String| FleetError::Refused(m);
    let mut map = std::collections::BTreeMap::new();
    for p in ports {
        let (nic, port) = p
            .split_once('=')
            .ok_or_else(|| bad(format!("--port {p:?}: give NIC=PORT")))?;
        let nic: u32 = nic
            .parse()
            .map_err(|_| bad(format!("--port {p:?}: {nic:?} is not a NIC id")))?;
        if port.is_empty() || map.insert(nic, port.to_string()).is_some() {
            return Err(bad(format!(
                "--port {p:?}: an empty port, or NIC {nic} twice"
            )));
        }
    }
    let secs = |what: &str, s: f64| {
        if s.is_finite() && (0.0..=3600.0).contains(&s) {
            Ok(std::time::Duration::from_secs_f64(s))
        } else {
            Err(bad(format!("--{what} {s}: seconds from 0 to 3600")))
        }
    };
    let stop_after = match stop_after {
        None => None,
        Some("prepared") => Some(MigrationPhase::Prepared),
        Some("exporting") => Some(MigrationPhase::Exporting),
        Some("flipped") => Some(MigrationPhase::Flipped),
        Some(o) => {
            return Err(bad(format!(
                "--stop-after {o:?}: prepared, exporting or flipped"
            )))
        }
    };
    Ok(MigrateOptions {
        ports: map,
        grace: secs("grace", grace)?,
        timeout: secs("timeout", timeout)?,
        stop_after,
    })
}
