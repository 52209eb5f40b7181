//! `flows-export` and `flows-import`: a NIC's flows carried from the
//! source sled's switch to the target's in a live migration (README, *Live
//! migration*; the engine's side is `engine/src/sequencer/carry.rs`).
//!
//! Export gathers the NIC's flows from every worker between its bursts, a
//! page at a time; import hands each flow to the worker that owns it here
//! (the one its packets will reach: `engine/src/owner`), which installs it
//! between its bursts. Neither makes a generation: flows are not part of
//! the state document.

use super::area::Handled;
use crate::switch::Switch;
use crate::worker::{WorkerRequest, PAGE_FLOWS};
use engine::control::instances::nic_list;
use engine::control::patch::port_index;
use engine::owner::{toeplitz, worker_of_hash};
use engine::sequencer::carry::carried_id;
use engine::PortIdx;
use std::time::Duration;
use vswitch_api::migration::{
    CarriedFlow, FlowExport, FlowImportReport, FLOW_EXPORT_MAX, FLOW_EXPORT_VERSION,
};
use vswitch_api::{Command, Reply};

/// How long the management thread waits for a worker's answer.
const WORKER_ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// Carries out a migration command; any other is handed back.
pub(crate) fn handle(sw: &Switch, command: Command) -> Handled {
    Handled::Done(match command {
        Command::FlowsExport { nic } => export(sw, nic).map(Reply::FlowExport),
        Command::FlowsImport(x) => import(sw, x).map(Reply::FlowImport),
        other => return Handled::Not(other),
    })
}

/// The guest port NIC `nic` is attached to here.
fn nic_port(sw: &Switch, nic: u32, cmd: &str) -> Result<PortIdx, String> {
    let nics = nic_list(&sw.tables.current());
    let info = nics
        .iter()
        .find(|n| n.id == nic)
        .ok_or_else(|| format!("{cmd}: no NIC {nic} on this switch"))?;
    let port = info
        .attachment
        .as_ref()
        .and_then(|a| a.port.as_deref())
        .ok_or_else(|| format!("{cmd}: NIC {nic} is not attached to a port of this switch"))?;
    port_index(&sw.directory().names, port, cmd, "port")
}

fn no_answer(cmd: &str, w: usize) -> String {
    format!("{cmd}: worker {w} does not answer")
}

/// `flows-export NIC`: every flow of the NIC worth carrying, from every worker.
pub(crate) fn export(sw: &Switch, nic: u32) -> Result<FlowExport, String> {
    let cmd = "flows-export";
    let port = nic_port(sw, nic, cmd)?;
    let mut flows = Vec::new();
    for w in &sw.workers {
        let mut from = 0;
        loop {
            let (tx, rx) = crossbeam_channel::bounded(1);
            w.mailbox
                .send_timeout(
                    WorkerRequest::CarryOut {
                        port,
                        from,
                        reply: tx,
                    },
                    WORKER_ANSWER_TIMEOUT,
                )
                .map_err(|_| no_answer(cmd, w.id))?;
            let (page, next) = rx
                .recv_timeout(WORKER_ANSWER_TIMEOUT)
                .map_err(|_| no_answer(cmd, w.id))?;
            flows.extend(page);
            if flows.len() > FLOW_EXPORT_MAX {
                return Err(format!(
                    "{cmd}: NIC {nic} holds more than {FLOW_EXPORT_MAX} flows"
                ));
            }
            match next {
                Some(s) => from = s,
                None => break,
            }
        }
    }
    Ok(FlowExport {
        version: FLOW_EXPORT_VERSION,
        nic,
        workers: sw.workers.len(),
        flows,
    })
}

/// `flows-import`: checked whole first (version, NIC, workers, every
/// flow's form), then each flow to the worker that owns it.
pub(crate) fn import(sw: &Switch, x: FlowExport) -> Result<FlowImportReport, String> {
    let cmd = "flows-import";
    if x.version != FLOW_EXPORT_VERSION {
        return Err(format!(
            "{cmd}: export version {} is not {FLOW_EXPORT_VERSION}, the one this switch reads",
            x.version
        ));
    }
    if x.flows.len() > FLOW_EXPORT_MAX {
        return Err(format!("{cmd}: more than {FLOW_EXPORT_MAX} flows"));
    }
    let port = nic_port(sw, x.nic, cmd)?;
    let n = sw.workers.len();
    let snat = x
        .flows
        .iter()
        .any(|f| f.nat.as_ref().is_some_and(|b| b.kind == "snat"));
    if snat && x.workers != n {
        return Err(format!(
            "{cmd}: exported by a switch of {} workers, this one runs {n}: a SNAT port belongs to one worker's slice of its range, so SNAT flows move only between switches of as many workers",
            x.workers
        ));
    }
    let mut per_worker: Vec<Vec<CarriedFlow>> = vec![Vec::new(); n];
    for (i, f) in x.flows.into_iter().enumerate() {
        let id = carried_id(port, &f).ok_or_else(|| {
            format!("{cmd}: flow {i} is malformed (realm, protocol or addresses)")
        })?;
        let w = worker_of_hash(toeplitz::flow_hash(&id.key), n);
        if let Some(v) = per_worker.get_mut(w) {
            v.push(f);
        }
    }
    let mut report = FlowImportReport::default();
    for (w, all) in sw.workers.iter().zip(per_worker) {
        // A page at a time, so that a worker installs a bounded number
        // between two bursts.
        for flows in all.chunks(PAGE_FLOWS).map(<[CarriedFlow]>::to_vec) {
            let (tx, rx) = crossbeam_channel::bounded(1);
            w.mailbox
                .send_timeout(
                    WorkerRequest::CarryIn {
                        port,
                        flows,
                        reply: tx,
                    },
                    WORKER_ANSWER_TIMEOUT,
                )
                .map_err(|_| no_answer(cmd, w.id))?;
            let r = rx
                .recv_timeout(WORKER_ANSWER_TIMEOUT)
                .map_err(|_| no_answer(cmd, w.id))?;
            report.imported += r.imported;
            for (k, v) in r.refused {
                *report.refused.entry(k).or_default() += v;
            }
        }
    }
    Ok(report)
}
