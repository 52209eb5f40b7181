//! The management thread's command handling: it owns every change to the
//! switch's state and publishes new table snapshots. A refused command
//! publishes nothing, so the running state is untouched.

use crate::report;
use crate::switch::Switch;
use crate::worker::{FlowReport, WorkerRequest, PAGE_FLOWS};
use engine::control::boundary as boundary_admin;
use engine::control::commit;
use engine::control::igw as igw_admin;
use engine::control::patch::{patch_clear, patch_set, port_index};
use engine::control::vpc as vpc_admin;
use engine::flow::state::{InXform, OutXform};
use engine::flow::table::Realm;
use engine::tables::Snapshot;
use engine::{Direction, PortIdx};
use std::sync::Arc;
use std::time::Duration;
use vswitch_api::state::SwitchState;
use vswitch_api::{
    Command, FlowInfo, PublicationInfo, Reply, Response, FLOWS_PAGE, FLOWS_PAGE_MAX,
};

/// How long the management thread waits for a worker's answer.
const WORKER_ANSWER_TIMEOUT: Duration = Duration::from_secs(2);
/// How long it waits for a worker to clear flows (done over several passes).
const WORKER_CLEAR_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one `flows` page may take to gather; past it the page is cut
/// short and `next` says where to go on.
const FLOWS_PAGE_TIME: Duration = Duration::from_secs(2);

fn applied(r: Result<u64, String>) -> Result<Reply, String> {
    r.map(|generation| Reply::Applied { generation })
}

fn no_answer(cmd: &str, w: usize) -> String {
    format!("{cmd}: worker {w} does not answer")
}

/// Asks every worker to remove the flows (of one port) below epoch
/// `below_epoch`, releasing what they hold, and waits until each says it is
/// done; returns how many went.
fn clear_flows(
    sw: &Switch,
    cmd: &str,
    port: Option<PortIdx>,
    below_epoch: u64,
) -> Result<u64, String> {
    let mut waiting = Vec::new();
    for w in &sw.workers {
        let (tx, rx) = crossbeam_channel::bounded(1);
        w.mailbox
            .send_timeout(
                WorkerRequest::ClearFlows(port, below_epoch, tx),
                WORKER_ANSWER_TIMEOUT,
            )
            .map_err(|_| no_answer(cmd, w.id))?;
        waiting.push((w.id, rx));
    }
    let mut cleared = 0;
    for (id, rx) in waiting {
        cleared += rx
            .recv_timeout(WORKER_CLEAR_TIMEOUT)
            .map_err(|_| no_answer(cmd, id))?;
    }
    Ok(cleared)
}

/// `flows-clear`: removes every flow (of one port), on every worker.
fn flows_clear(sw: &Switch, port: Option<&str>) -> Result<Reply, String> {
    let cmd = "flows-clear";
    let idx = match port {
        Some(name) => Some(port_index(&sw.directory.names, name, cmd, "port")?),
        None => None,
    };
    clear_flows(sw, cmd, idx, u64::MAX).map(|cleared| Reply::Flows {
        flows: Vec::new(),
        cleared,
        next: None,
    })
}

/// A `flows` cursor: the worker, and the slot of its table to go on from.
fn parse_cursor(from: &str) -> Option<(usize, u32)> {
    let (w, s) = from.split_once(':')?;
    Some((w.parse().ok()?, s.parse().ok()?))
}

/// One page of every worker's flows, gathered between their bursts, a
/// bounded number at a time.
fn flows(
    sw: &Switch,
    port: Option<&str>,
    limit: Option<u32>,
    from: Option<&str>,
) -> Result<Reply, String> {
    let cmd = "flows";
    let port_idx = match port {
        Some(name) => Some(port_index(&sw.directory.names, name, cmd, "port")?),
        None => None,
    };
    let limit = limit.unwrap_or(FLOWS_PAGE);
    if limit == 0 || limit > FLOWS_PAGE_MAX {
        return Err(format!(
            "{cmd}: limit {limit} is not within 1..={FLOWS_PAGE_MAX}"
        ));
    }
    let (mut w, mut slot) = match from {
        Some(c) => parse_cursor(c)
            .filter(|(w, _)| *w < sw.workers.len())
            .ok_or_else(|| {
                format!("{cmd}: bad cursor {c:?} in `from` (pass a previous answer's `next`)")
            })?,
        None => (0, 0),
    };
    let limit = limit as usize;
    let deadline = std::time::Instant::now() + FLOWS_PAGE_TIME;
    let mut out = Vec::new();
    while let Some(worker) = sw.workers.get(w) {
        if out.len() >= limit || std::time::Instant::now() > deadline {
            break;
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        let req = WorkerRequest::Flows {
            port: port_idx,
            from: slot,
            max: (limit - out.len()).min(PAGE_FLOWS),
            reply: tx,
        };
        worker
            .mailbox
            .send_timeout(req, WORKER_ANSWER_TIMEOUT)
            .map_err(|_| no_answer(cmd, w))?;
        let (page, next) = rx
            .recv_timeout(WORKER_ANSWER_TIMEOUT)
            .map_err(|_| no_answer(cmd, w))?;
        out.extend(page.into_iter().map(|f| flow_info(sw, w, f)));
        match next {
            Some(s) => slot = s,
            None => {
                w += 1;
                slot = 0;
            }
        }
    }
    let next = (w < sw.workers.len()).then(|| format!("{w}:{slot}"));
    Ok(Reply::Flows {
        flows: out,
        cleared: 0,
        next,
    })
}

fn flow_info(sw: &Switch, worker: usize, f: FlowReport) -> FlowInfo {
    let out = f.state.out.as_ref().map(|x| match x {
        OutXform::Encap {
            inner_dst_mac,
            uplink,
            template,
            ..
        } => {
            let dst = std::net::Ipv6Addr::from(
                <[u8; 16]>::try_from(&template.bytes[38..54]).unwrap_or([0; 16]),
            );
            format!(
                "encap to {dst} via {}, inner dst mac {inner_dst_mac}",
                sw.port_name(*uplink)
            )
        }
        OutXform::Local { to, dst_mac } => format!("local to {} ({dst_mac})", sw.port_name(*to)),
        OutXform::Drop(r) => format!("drop ({})", r.as_str()),
    });
    // The NAT binding, when the flow goes through an internet gateway.
    let out = match (out, f.state.nat.as_deref().map(|n| &n.binding)) {
        (Some(o), Some(b)) => Some(format!(
            "nat {} {}:{} (igw {}); {o}",
            b.source.kind(),
            b.source.ip(),
            b.ext_port,
            b.tag.map_or("system".to_string(), |t| t.to_string())
        )),
        (o, _) => o,
    };
    let inb = f.state.inb.map(|x| match x {
        InXform::Deliver { src_mac } => format!("deliver, src mac {src_mac}"),
        InXform::Drop(r) => format!("drop ({})", r.as_str()),
    });
    FlowInfo {
        worker,
        port: sw.port_name(f.id.port),
        proto: f.id.key.proto,
        src: f.id.key.src,
        dst: f.id.key.dst,
        realm: match f.id.realm {
            Realm::Vpc => "vpc",
            Realm::Internet => "internet",
        }
        .into(),
        src_port: f.id.key.src_port,
        dst_port: f.id.key.dst_port,
        origin: if f.state.origin == Direction::In {
            "in"
        } else {
            "out"
        }
        .into(),
        allowed: f.state.allowed,
        out,
        inb,
        epoch: f.epoch,
        tcp_state: f.tcp.map(str::to_string),
        class: f.class.as_str().into(),
        hits: f.hits,
        idle_secs: f.idle_ns as f64 / 1e9,
    }
}

/// Carries out control commands against the running switch.
pub struct Manager {
    sw: Arc<Switch>,
    shutdown_requested: bool,
}

impl Manager {
    /// A manager of `sw`.
    pub fn new(sw: Arc<Switch>) -> Self {
        Manager {
            sw,
            shutdown_requested: false,
        }
    }

    /// Whether a `shutdown` command was received.
    pub fn shutdown_requested(&self) -> bool {
        self.shutdown_requested
    }

    /// Carries out one command whose request line was read at `received`,
    /// and keeps the times of the change it published, if any.
    pub fn handle_at(&mut self, command: Command, received: std::time::Instant) -> Response {
        let sw = Arc::clone(&self.sw);
        let tables = &sw.tables;
        let before = tables.current().generation;
        let resp = self.handle(command);
        let now = tables.current().generation;
        if now != before {
            let info = PublicationInfo {
                generation: now,
                received_ns: tables.ns_at(received),
                published_ns: tables.published_ns(),
                answered_ns: tables.now_ns(),
            };
            if let Ok(mut p) = sw.publication.lock() {
                *p = Some(info);
            }
        }
        resp
    }

    /// Carries out one command.
    pub fn handle(&mut self, command: Command) -> Response {
        let sw = &self.sw;
        let before = sw.tables.current();
        let result = match command {
            Command::Status => Ok(Reply::Status(report::status(sw))),
            Command::Ports => Ok(Reply::Ports {
                ports: report::ports(sw),
            }),
            Command::Stats => Ok(Reply::Stats(report::stats(sw))),
            Command::PatchList => Ok(report::patches(sw)),
            Command::PatchSet { from, to } => {
                patch_set(&sw.directory, &sw.tables, &from, &to).map(|()| report::patches(sw))
            }
            Command::PatchClear { from } => patch_clear(&sw.directory, &sw.tables, from.as_deref())
                .map(|()| report::patches(sw)),
            Command::Shutdown => {
                self.shutdown_requested = true;
                Ok(Reply::ShuttingDown)
            }
            Command::VnicCreate(req) => {
                applied(vpc_admin::vnic_create(&sw.directory, &sw.tables, &req))
            }
            Command::VnicDelete { port } => {
                applied(vpc_admin::vnic_delete(&sw.directory, &sw.tables, &port))
            }
            Command::VnicList => Ok(Reply::Vnics {
                vnics: vpc_admin::vnic_list(&sw.directory, &sw.tables.current()),
            }),
            Command::UnderlaySet {
                addr,
                uplink,
                nexthop_mac,
            } => applied(vpc_admin::underlay_set(
                &sw.directory,
                &sw.tables,
                addr,
                &uplink,
                &nexthop_mac,
            )),
            Command::V2pSet {
                vni,
                ip,
                mac,
                underlay,
            } => applied(vpc_admin::v2p_set(
                &sw.directory,
                &sw.tables,
                vni,
                ip,
                &mac,
                underlay,
            )),
            Command::V2pClear { vni, ip } => {
                applied(vpc_admin::v2p_clear(&sw.directory, &sw.tables, vni, ip))
            }
            Command::V2pList => Ok(Reply::V2p {
                entries: vpc_admin::v2p_list(&sw.tables.current()),
            }),
            Command::RouteAdd {
                port,
                dest,
                target,
                class,
            } => applied(vpc_admin::route_add(
                &sw.directory,
                &sw.tables,
                &port,
                &dest,
                &target,
                class.as_deref(),
            )),
            Command::RouteDel { port, dest, class } => applied(vpc_admin::route_del(
                &sw.directory,
                &sw.tables,
                &port,
                &dest,
                class.as_deref(),
            )),
            Command::FirewallSet { port, rules } => applied(vpc_admin::firewall_set(
                &sw.directory,
                &sw.tables,
                &port,
                &rules,
            )),
            Command::Layers { port } => {
                vpc_admin::layers(&sw.directory, &sw.tables.current(), &port).map(Reply::Layers)
            }
            Command::ExternalPortSet {
                port,
                nexthop_mac,
                addr,
            } => applied(boundary_admin::external_port_set(
                &sw.directory,
                sw.role,
                &sw.tables,
                &port,
                &nexthop_mac,
                addr,
            )),
            Command::BoundaryMapSet { ip, sled } => applied(boundary_admin::boundary_map_set(
                &sw.directory,
                sw.role,
                &sw.tables,
                ip,
                sled,
            )),
            Command::BoundaryMapClear { ip } => applied(boundary_admin::boundary_map_clear(
                &sw.directory,
                &sw.tables,
                ip,
            )),
            Command::BoundaryMapList => Ok(Reply::BoundaryMap(boundary_admin::boundary_map_list(
                &sw.directory,
                &sw.tables.current(),
            ))),
            Command::Flows { port, limit, from } => {
                flows(sw, port.as_deref(), limit, from.as_deref())
            }
            Command::FlowsClear { port } => flows_clear(sw, port.as_deref()),
            Command::PoolCreate { name, ranges } => {
                igw_admin::pool_create(&sw.directory, &sw.tables, &name, &ranges)
            }
            Command::PoolDelete { name } => {
                igw_admin::pool_delete(&sw.directory, &sw.tables, &name)
            }
            Command::PoolList => Ok(Reply::Pools {
                pools: igw_admin::pool_list(&sw.directory, &sw.tables.current()),
            }),
            Command::IgwCreate { id, name } => {
                igw_admin::igw_create(&sw.directory, &sw.tables, id, name.as_deref())
            }
            Command::IgwDelete { id } => igw_admin::igw_delete(&sw.directory, &sw.tables, id),
            Command::IgwAssign { id, pool, range } => igw_admin::igw_assign(
                &sw.directory,
                &sw.tables,
                id,
                pool.as_deref(),
                range.as_deref(),
            ),
            Command::IgwUnassign { id, pool, range } => igw_admin::igw_unassign(
                &sw.directory,
                &sw.tables,
                id,
                pool.as_deref(),
                range.as_deref(),
            ),
            Command::IgwList => Ok(Reply::Igws {
                igws: igw_admin::igw_list(&sw.directory, &sw.tables.current()),
            }),
            Command::ExternalSet(req) => igw_admin::external_set(&sw.directory, &sw.tables, &req),
            Command::ExternalClear { port } => {
                igw_admin::external_clear(&sw.directory, &sw.tables, &port)
            }
            Command::ExternalList => Ok(Reply::Externals {
                externals: igw_admin::external_list(&sw.directory, &sw.tables.current()),
            }),
            Command::V2bSet { prefix, endpoints } => {
                igw_admin::v2b_set(&sw.directory, &sw.tables, &prefix, &endpoints)
            }
            Command::V2bClear { prefix } => {
                igw_admin::v2b_clear(&sw.directory, &sw.tables, &prefix)
            }
            Command::V2bList => Ok(Reply::V2b {
                entries: igw_admin::v2b_list(&sw.tables.current()),
            }),
            Command::Export => {
                let cur = sw.tables.current();
                Ok(Reply::State {
                    generation: cur.generation,
                    state: Box::new(SwitchState::clone(&cur.state)),
                })
            }
            Command::Apply {
                state,
                dry_run,
                if_generation,
            } => {
                let done = apply(sw, *state, dry_run, if_generation);
                return self.after(before, done.map_err(|b| *b));
            }
        };
        self.after(before, result.map_err(Response::err))
    }

    /// Answers a command, after removing the flows of every port whose VNIC
    /// the command created, replaced or removed (on every worker, before the
    /// answer), so that nothing of an earlier tenant of the port is left.
    fn after(&self, before: Arc<Snapshot>, result: Result<Reply, Response>) -> Response {
        let now = self.sw.tables.current();
        if now.generation != before.generation {
            if let Err(e) = forget_reborn_flows(&self.sw, &before, &now) {
                return Response::err(e);
            }
        }
        match result {
            Ok(reply) => Response::ok(reply),
            Err(refusal) => refusal,
        }
    }
}

/// `apply`: the whole state, checked whole and published as one generation
/// (or, with `dry_run`, only planned); refused with every error found.
fn apply(
    sw: &Switch,
    state: SwitchState,
    dry_run: bool,
    if_generation: Option<u64>,
) -> Result<Reply, Box<Response>> {
    let cur = sw.tables.current();
    if let Some(want) = if_generation {
        if want != cur.generation {
            return Err(Box::new(Response::err(format!(
                "apply: the state in force is generation {}, not {want} (export it again and redo the change)",
                cur.generation
            ))));
        }
    }
    let names = |ports: Vec<PortIdx>| ports.into_iter().map(|p| sw.port_name(p)).collect();
    let refused = |errors: Vec<String>| {
        Box::new(Response::errs(
            format!(
                "apply: the state is refused ({} error{}; nothing changed): {}",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" },
                errors.first().cloned().unwrap_or_default()
            ),
            errors,
        ))
    };
    let (change, diff) = commit::plan(&sw.directory, &sw.tables, state.clone()).map_err(refused)?;
    if dry_run || !change.changed {
        return Ok(Reply::Plan {
            applied: false,
            generation: change.generation,
            diff,
            updated_ports: names(change.moved),
        });
    }
    let done = commit::commit(&sw.directory, &sw.tables, state).map_err(refused)?;
    Ok(Reply::Plan {
        applied: true,
        generation: done.generation,
        diff,
        updated_ports: names(done.moved),
    })
}

/// Removes, on every worker, the flows and NAT state of each port whose
/// VNIC is new, replaced or gone between `before` and `now` (below the new
/// VNIC's birth epoch; all of them when it is gone).
fn forget_reborn_flows(sw: &Switch, before: &Snapshot, now: &Snapshot) -> Result<(), String> {
    for v in before.vpc.vnics.iter().flatten() {
        let birth = now.vpc.vnic(v.port).map(|n| n.birth);
        if birth != Some(v.birth) {
            clear_flows(sw, "clear", Some(v.port), birth.unwrap_or(u64::MAX)).map_err(|e| {
                format!(
                    "{e} (generation {} is published; the port's old flows can no longer match it)",
                    now.generation
                )
            })?;
        }
    }
    Ok(())
}
