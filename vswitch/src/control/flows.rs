//! The flow-table commands: `flows` (a page at a time, gathered from every
//! worker between its bursts) and `flows-clear`, and the clearing of a
//! port's flows that a new, replaced or removed VNIC needs.

use super::area::Handled;
use crate::switch::Switch;
use crate::worker::{FlowReport, WorkerRequest, PAGE_FLOWS};
use engine::control::patch::port_index;
use engine::flow::state::{InXform, OutXform};
use engine::flow::table::Realm;
use engine::{Direction, PortIdx};
use std::time::Duration;
use vswitch_api::{Command, FlowInfo, Reply, FLOWS_PAGE, FLOWS_PAGE_MAX};

/// How long the management thread waits for a worker's answer.
const WORKER_ANSWER_TIMEOUT: Duration = Duration::from_secs(2);
/// How long it waits for a worker to clear flows (done over several passes).
const WORKER_CLEAR_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one `flows` page may take to gather; past it the page is cut
/// short and `next` says where to go on.
const FLOWS_PAGE_TIME: Duration = Duration::from_secs(2);

/// Carries out a flow-table command; any other is handed back.
pub(crate) fn handle(sw: &Switch, command: Command) -> Handled {
    Handled::Done(match command {
        Command::Flows { port, limit, from } => flows(sw, port.as_deref(), limit, from.as_deref()),
        Command::FlowsClear { port } => flows_clear(sw, port.as_deref()),
        other => return Handled::Not(other),
    })
}

fn no_answer(cmd: &str, w: usize) -> String {
    format!("{cmd}: worker {w} does not answer")
}

/// Asks every worker to remove the flows (of one port) below epoch
/// `below_epoch`, releasing what they hold, and waits until each says it is
/// done; returns how many went.
pub(crate) fn clear_flows(
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
        Some(name) => Some(port_index(&sw.directory().names, name, cmd, "port")?),
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
        Some(name) => Some(port_index(&sw.directory().names, name, cmd, "port")?),
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
