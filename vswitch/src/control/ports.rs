//! Guest ports at run time (README, *Guest ports at run time*): `port-add`
//! creates a virtual device by DPDK hot-plug, lists it in the state document
//! and gives its queues to the workers through their mailboxes; `port-del`
//! (and any change after which the document no longer lists a run-time
//! port) takes the queues back from every worker, then stops, closes and
//! removes the device. Other ports' packets never wait: a worker picks up
//! or drops queues between two bursts.

use super::area::{applied, Handled};
use super::flows::clear_flows;
use crate::config::PortConfig;
use crate::ports::{open_port, rx_worker, OpenedPort, MAX_PORTS};
use crate::switch::Switch;
use crate::worker::WorkerRequest;
use engine::control::commit;
use engine::PortIdx;
use std::time::Duration;
use vswitch_api::state::RuntimePortState;
use vswitch_api::Command;

/// How long the management thread waits for a worker to take or drop a
/// port's queues (done between two bursts).
const WORKER_PORT_TIMEOUT: Duration = Duration::from_secs(5);

/// Carries out `port-add` and `port-del`; any other command is handed back.
pub(crate) fn handle(sw: &Switch, command: Command) -> Handled {
    Handled::Done(match command {
        Command::PortAdd {
            name,
            devargs,
            role,
        } => applied(port_add(sw, "port-add", &name, &devargs, &role)),
        Command::PortDel { name } => applied(port_del(sw, &name)),
        other => return Handled::Not(other),
    })
}

/// Creates guest port `name` from `devargs`, lists it in the state
/// document and has the workers poll it; returns the generation in force.
/// On any refusal nothing is left behind (no device, no entry).
pub(crate) fn port_add(
    sw: &Switch,
    cmd: &str,
    name: &str,
    devargs: &str,
    role: &str,
) -> Result<u64, String> {
    if role != "guest" {
        return Err(format!(
            "{cmd}: role {role:?}: only guest ports can be created at run time"
        ));
    }
    let pc = PortConfig::runtime_guest(name, devargs).map_err(|e| format!("{cmd}: {e}"))?;
    let dir = sw.directory();
    if dir.names.iter().any(|n| n == name) {
        return Err(format!("{cmd}: there is already a port {name:?}"));
    }
    if let Some(p) = sw
        .ports()
        .iter()
        .flatten()
        .find(|p| p.cfg.device_name() == pc.device_name())
    {
        return Err(format!(
            "{cmd}: device {:?} is port {:?}'s already",
            pc.device_name(),
            p.cfg.name
        ));
    }
    let slot = dir
        .names
        .iter()
        .position(String::is_empty)
        .unwrap_or(dir.names.len());
    if slot >= MAX_PORTS {
        return Err(format!(
            "{cmd}: the switch has {MAX_PORTS} ports, its most (port-del one first)"
        ));
    }
    let opened =
        open_port(&pc, sw.workers.len(), &sw.pool, true).map_err(|e| format!("{cmd}: {e}"))?;
    // The directory names the port before the document lists it: the
    // change's check finds it there.
    let mut next = (*dir).clone();
    let grow = slot + 1;
    if next.names.len() < grow {
        next.names.resize(grow, String::new());
        next.roles.resize(grow, pc.role);
        next.macs.resize(grow, wire::MacAddr([0; 6]));
        next.mtus.resize(grow, pc.mtu);
    }
    next.runtime.resize(next.names.len(), false);
    next.names[slot] = name.to_string();
    next.roles[slot] = pc.role;
    next.macs[slot] = wire::MacAddr(opened.port.port.mac());
    next.mtus[slot] = pc.mtu;
    next.runtime[slot] = true;
    sw.set_directory(next);
    let entry = RuntimePortState {
        name: name.to_string(),
        devargs: devargs.to_string(),
        role: role.to_string(),
    };
    let change = commit::change(&sw.directory(), &sw.tables, cmd, |s| {
        s.ports.push(entry);
        Ok(())
    });
    let generation = match change {
        Ok(c) => c.generation,
        Err(e) => {
            sw.set_directory((*dir).clone());
            if let Err(x) = opened.port.port.hotplug_remove() {
                tracing::warn!("{cmd}: port {name:?}: {x}");
            }
            return Err(e);
        }
    };
    give_to_workers(sw, slot as PortIdx, opened).map_err(|e| format!("{cmd}: {e}"))?;
    tracing::info!(port = name, devargs, "run-time port added");
    Ok(generation)
}

/// Hands the queues of the port opened at `idx` to the workers and waits
/// until each polls them.
fn give_to_workers(sw: &Switch, idx: PortIdx, opened: OpenedPort) -> Result<(), String> {
    let OpenedPort { port, rx, tx, via } = opened;
    let workers = sw.workers.len();
    let queues = rx.len();
    let mut by_worker: Vec<Vec<dpdk::RxQueue>> = (0..workers).map(|_| Vec::new()).collect();
    for (q, rxq) in rx.into_iter().enumerate() {
        let w = rx_worker(q, queues, usize::from(idx), workers);
        if let Some(list) = by_worker.get_mut(w) {
            list.push(rxq);
        }
    }
    {
        let mut ports = sw.ports_mut();
        let i = usize::from(idx);
        if ports.len() <= i {
            ports.resize_with(i + 1, || None);
        }
        ports[i] = Some(port);
    }
    let mut waiting = Vec::new();
    for (((w, rx), tx), via) in sw.workers.iter().zip(by_worker).zip(tx).zip(via) {
        let queues: Vec<u16> = rx.iter().map(|q| q.queue()).collect();
        let (reply, answer) = crossbeam_channel::bounded(1);
        let req = WorkerRequest::AddPort {
            port: idx,
            rx,
            tx,
            via,
            reply,
        };
        w.mailbox
            .send_timeout(req, WORKER_PORT_TIMEOUT)
            .map_err(|_| format!("worker {} does not answer", w.id))?;
        w.set_rx(|list| list.extend(queues.into_iter().map(|q| (idx, q))));
        waiting.push((w.id, answer));
    }
    for (id, answer) in waiting {
        answer
            .recv_timeout(WORKER_PORT_TIMEOUT)
            .map_err(|_| format!("worker {id} does not answer"))?;
    }
    Ok(())
}

/// `port-del`: removes run-time port `name`, refused while a NIC is
/// attached to it.
fn port_del(sw: &Switch, name: &str) -> Result<u64, String> {
    let cmd = "port-del";
    let dir = sw.directory();
    let Some(i) = dir.names.iter().position(|n| !n.is_empty() && n == name) else {
        return Err(format!(
            "{cmd}: unknown port {name:?} (ports: {})",
            engine::control::patch::listed(&dir.names)
        ));
    };
    if !dir.runtime.get(i).copied().unwrap_or(false) {
        return Err(format!(
            "{cmd}: port {name:?} comes from the configuration (remove it there); only ports created at run time can be removed"
        ));
    }
    if let Some(n) = sw.tables.current().state.vnic(name) {
        return Err(format!(
            "{cmd}: nic {} is attached to port {name:?} (nic-detach it first)",
            n.nic.id
        ));
    }
    // The manager removes the device once the change is in force
    // (`reconcile`, after every change that publishes).
    let c = commit::change(&dir, &sw.tables, cmd, |s| {
        s.ports.retain(|p| p.name != name);
        Ok(())
    })?;
    Ok(c.generation)
}

/// Removes every run-time port the document in force no longer lists (a
/// `port-del`, a detach that ends a port created for the attachment, an
/// `apply`): the workers drop its queues, its flows go, then the device.
pub(crate) fn reconcile(sw: &Switch) -> Result<(), String> {
    let dir = sw.directory();
    let state = &sw.tables.current().state;
    let gone: Vec<usize> = dir
        .names
        .iter()
        .enumerate()
        .filter(|(i, n)| {
            !n.is_empty()
                && dir.runtime.get(*i).copied().unwrap_or(false)
                && !state.ports.iter().any(|p| &p.name == *n)
        })
        .map(|(i, _)| i)
        .collect();
    for i in gone {
        remove_port(sw, i as PortIdx)?;
    }
    Ok(())
}

/// Takes port `idx`'s queues back from every worker, clears its flows and
/// removes its device; its slot in the directory is left empty for reuse.
fn remove_port(sw: &Switch, idx: PortIdx) -> Result<(), String> {
    let name = sw.port_name(idx);
    let mut waiting = Vec::new();
    for w in &sw.workers {
        let (reply, answer) = crossbeam_channel::bounded(1);
        w.mailbox
            .send_timeout(
                WorkerRequest::RemovePort { port: idx, reply },
                WORKER_PORT_TIMEOUT,
            )
            .map_err(|_| format!("port {name:?}: worker {} does not answer", w.id))?;
        waiting.push((w.id, answer));
    }
    for (id, answer) in waiting {
        answer
            .recv_timeout(WORKER_PORT_TIMEOUT)
            .map_err(|_| format!("port {name:?}: worker {id} does not answer"))?;
    }
    for w in &sw.workers {
        w.set_rx(|list| list.retain(|(p, _)| *p != idx));
    }
    clear_flows(sw, "port-del", Some(idx), u64::MAX)?;
    let port = sw
        .ports_mut()
        .get_mut(usize::from(idx))
        .and_then(Option::take);
    let mut next = (*sw.directory()).clone();
    if let Some(n) = next.names.get_mut(usize::from(idx)) {
        n.clear();
    }
    if let Some(r) = next.runtime.get_mut(usize::from(idx)) {
        *r = false;
    }
    sw.set_directory(next);
    if let Some(p) = port {
        p.port
            .hotplug_remove()
            .map_err(|e| format!("port {name:?}: {e}"))?;
    }
    tracing::info!(port = name, "run-time port removed");
    Ok(())
}
