//! Ethernet ports: lookup, configuration with RSS, queues, counters, link state.

use super::{DpdkError, Mempool};
use std::ffi::{CStr, CString};

// RTE_ETH_RSS_* are RTE_BIT64() macros that bindgen cannot evaluate; values
// from rte_ethdev.h of DPDK 22.11.
const RSS_IPV4: u64 = 1 << 2;
const RSS_FRAG_IPV4: u64 = 1 << 3;
const RSS_NONFRAG_IPV4_TCP: u64 = 1 << 4;
const RSS_NONFRAG_IPV4_UDP: u64 = 1 << 5;
const RSS_NONFRAG_IPV4_OTHER: u64 = 1 << 7;
const RSS_IPV6: u64 = 1 << 8;
const RSS_FRAG_IPV6: u64 = 1 << 9;
const RSS_NONFRAG_IPV6_TCP: u64 = 1 << 10;
const RSS_NONFRAG_IPV6_UDP: u64 = 1 << 11;
const RSS_NONFRAG_IPV6_OTHER: u64 = 1 << 13;
const RSS_IPV6_EX: u64 = 1 << 15;
const RSS_IPV6_TCP_EX: u64 = 1 << 16;
const RSS_IPV6_UDP_EX: u64 = 1 << 17;
/// RTE_ETH_RSS_LEVEL_INNERMOST: hash a tunnel's inner headers (for Geneve
/// on the uplink: the flow's own 5-tuple, so the owner's queue).
const RSS_LEVEL_INNERMOST: u64 = 2 << 50;
/// RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP.
const RSS_WANTED: u64 = RSS_IPV4
    | RSS_FRAG_IPV4
    | RSS_NONFRAG_IPV4_OTHER
    | RSS_IPV6
    | RSS_FRAG_IPV6
    | RSS_NONFRAG_IPV6_OTHER
    | RSS_IPV6_EX
    | RSS_NONFRAG_IPV4_UDP
    | RSS_NONFRAG_IPV6_UDP
    | RSS_IPV6_UDP_EX
    | RSS_NONFRAG_IPV4_TCP
    | RSS_NONFRAG_IPV6_TCP
    | RSS_IPV6_TCP_EX;

/// What a device can do (`rte_eth_dev_info`).
#[derive(Debug, Clone)]
pub struct DevInfo {
    /// Driver name, e.g. `net_memif`.
    pub driver: String,
    /// Most rx queues the device supports.
    pub max_rx_queues: u16,
    /// Most tx queues the device supports.
    pub max_tx_queues: u16,
    /// RSS hash types the device supports (0: no RSS).
    pub rss_offloads: u64,
    /// Length of the device's RSS key in bytes (0: not reported).
    pub hash_key_size: u8,
}

/// A device's own counters (`rte_eth_stats`).
#[derive(Debug, Clone, Copy, Default)]
pub struct DevStats {
    /// Received packets.
    pub ipackets: u64,
    /// Transmitted packets.
    pub opackets: u64,
    /// Received bytes.
    pub ibytes: u64,
    /// Transmitted bytes.
    pub obytes: u64,
    /// Dropped for a full rx ring.
    pub imissed: u64,
    /// Receive errors.
    pub ierrors: u64,
    /// Transmit errors.
    pub oerrors: u64,
    /// Receive failures for lack of mbufs.
    pub rx_nombuf: u64,
}

/// Link state.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkState {
    /// Link up.
    pub up: bool,
    /// Speed in Mb/s.
    pub speed_mbps: u32,
    /// Full duplex.
    pub full_duplex: bool,
}

/// How to configure a port.
#[derive(Debug, Clone)]
pub struct PortSetup {
    /// Wanted rx queues (capped by the device).
    pub rx_queues: u16,
    /// Needed tx queues (one per worker; the device must have them).
    pub tx_queues: u16,
    /// Rx descriptors per queue.
    pub rx_desc: u16,
    /// Tx descriptors per queue.
    pub tx_desc: u16,
    /// Receive frames for any MAC address.
    pub promiscuous: bool,
}

/// A DPDK ethernet port, found by its device name.
#[derive(Debug)]
pub struct Port {
    id: u16,
    name: String,
}

/// A configured port's queues and whether RSS spreads its rx.
pub struct Configured {
    /// The rx queues, each to be polled by exactly one worker.
    pub rx: Vec<RxQueue>,
    /// The tx queues, one per worker.
    pub tx: Vec<TxQueue>,
    /// Whether RSS is on.
    pub rss: bool,
}

impl Port {
    /// The port whose device name is `name` (for a vdev, the devargs before the first comma).
    pub fn by_name(name: &str) -> Result<Port, DpdkError> {
        let cname = CString::new(name).map_err(|_| DpdkError {
            op: "rte_eth_dev_get_port_by_name".into(),
            code: -22,
            msg: "device name contains a NUL byte".into(),
        })?;
        let mut id = 0u16;
        // SAFETY: cname is a valid C string and id a valid out-pointer.
        let rc = unsafe { dpdk_sys::rte_eth_dev_get_port_by_name(cname.as_ptr(), &mut id) };
        if rc != 0 {
            return Err(DpdkError::from_code(
                format!("no DPDK port named {name:?}"),
                rc,
            ));
        }
        Ok(Port {
            id,
            name: name.to_string(),
        })
    }

    /// Programs the redirection table of a port configured with `queues`
    /// RSS queues: hash bucket `j` (the hash's low bits) goes to queue
    /// `(j % span) % queues`. Succeeds without doing anything on a device
    /// that has no table.
    pub fn program_reta(&self, span: u16, queues: u16) -> Result<(), DpdkError> {
        // SAFETY: the port is valid and configured; the call fills its own table.
        let rc = unsafe { dpdk_sys::vs_rss_reta_program(self.id, span, queues) };
        if rc != 0 {
            return Err(DpdkError::from_code(
                format!("rss redirection table of {}", self.name),
                rc,
            ));
        }
        Ok(())
    }

    /// The DPDK port id.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The device name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The device's capabilities.
    pub fn info(&self) -> Result<DevInfo, DpdkError> {
        let mut info = dpdk_sys::rte_eth_dev_info::default();
        // SAFETY: info is a valid out-pointer for the port's info.
        let rc = unsafe { dpdk_sys::rte_eth_dev_info_get(self.id, &mut info) };
        if rc != 0 {
            return Err(DpdkError::from_code("rte_eth_dev_info_get", rc));
        }
        let driver = if info.driver_name.is_null() {
            String::from("unknown")
        } else {
            // SAFETY: the driver name is a static NUL-terminated string of the PMD.
            unsafe { CStr::from_ptr(info.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        Ok(DevInfo {
            driver,
            max_rx_queues: info.max_rx_queues,
            max_tx_queues: info.max_tx_queues,
            rss_offloads: info.flow_type_rss_offloads,
            hash_key_size: info.hash_key_size,
        })
    }

    /// Configures the port and its queues: as many as asked for, up to
    /// what the device has (a worker without a tx queue of its own on the
    /// port sends through one that has). RSS, with a symmetric key, is on
    /// when there are several rx queues and the device hashes; without it
    /// the peer or the kernel picks the queue (memif, tap).
    pub fn configure(&self, setup: &PortSetup, pool: &Mempool) -> Result<Configured, DpdkError> {
        let info = self.info()?;
        // The innermost level where the device offers it: the uplink's
        // Geneve then hashes by the inner flow, as the owner function does.
        let rss_hf = info.rss_offloads & (RSS_WANTED | RSS_LEVEL_INNERMOST);
        let nrx = setup.rx_queues.max(1).min(info.max_rx_queues.max(1));
        let rss = nrx > 1 && rss_hf & RSS_WANTED != 0;
        let ntx = setup.tx_queues.max(1).min(info.max_tx_queues.max(1));
        let mut conf = dpdk_sys::rte_eth_conf::default();
        // The key repeats every 16 bits whatever its length, so both
        // directions of a flow hash alike (see `engine/src/owner/toeplitz.rs`).
        let key_len = if info.hash_key_size == 0 {
            40
        } else {
            info.hash_key_size
        };
        let mut key: Vec<u8> = (0..key_len)
            .map(|i| if i % 2 == 0 { 0x6d } else { 0x5a })
            .collect();
        if rss && nrx > 1 {
            conf.rxmode.mq_mode = dpdk_sys::rte_eth_rx_mq_mode_RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
            conf.rx_adv_conf.rss_conf.rss_key = key.as_mut_ptr();
            conf.rx_adv_conf.rss_conf.rss_key_len = key_len;
        }
        // SAFETY: conf is a valid, fully initialised configuration; the key
        // it points to outlives the call, which copies it.
        let rc = unsafe { dpdk_sys::rte_eth_dev_configure(self.id, nrx, ntx, &conf) };
        drop(key);
        if rc != 0 {
            return Err(DpdkError::from_code(
                format!("rte_eth_dev_configure {}", self.name),
                rc,
            ));
        }
        let (mut rxd, mut txd) = (setup.rx_desc, setup.tx_desc);
        // SAFETY: valid out-pointers; the device clamps them to its limits.
        let rc = unsafe { dpdk_sys::rte_eth_dev_adjust_nb_rx_tx_desc(self.id, &mut rxd, &mut txd) };
        if rc != 0 {
            return Err(DpdkError::from_code("rte_eth_dev_adjust_nb_rx_tx_desc", rc));
        }
        // SAFETY: the port is valid; its NUMA socket may be -1 (any).
        let socket = unsafe { dpdk_sys::rte_eth_dev_socket_id(self.id) };
        let socket = if socket < 0 { 0 } else { socket as u32 };
        let mut rx = Vec::with_capacity(nrx as usize);
        for q in 0..nrx {
            // SAFETY: the port is configured with nrx queues; pool outlives the port.
            let rc = unsafe {
                dpdk_sys::rte_eth_rx_queue_setup(
                    self.id,
                    q,
                    rxd,
                    socket,
                    std::ptr::null(),
                    pool.as_ptr(),
                )
            };
            if rc != 0 {
                return Err(DpdkError::from_code(
                    format!("rx queue {q} setup on {}", self.name),
                    rc,
                ));
            }
            rx.push(RxQueue {
                port: self.id,
                queue: q,
            });
        }
        let mut tx = Vec::with_capacity(ntx as usize);
        for q in 0..ntx {
            // SAFETY: the port is configured with ntx queues.
            let rc = unsafe {
                dpdk_sys::rte_eth_tx_queue_setup(self.id, q, txd, socket, std::ptr::null())
            };
            if rc != 0 {
                return Err(DpdkError::from_code(
                    format!("tx queue {q} setup on {}", self.name),
                    rc,
                ));
            }
            tx.push(TxQueue {
                port: self.id,
                queue: q,
            });
        }
        if setup.promiscuous {
            // SAFETY: valid port; drivers without the mode return -ENOTSUP, which is fine.
            unsafe { dpdk_sys::rte_eth_promiscuous_enable(self.id) };
        }
        Ok(Configured {
            rx,
            tx,
            rss: rss && nrx > 1,
        })
    }

    /// Starts the port.
    pub fn start(&self) -> Result<(), DpdkError> {
        // SAFETY: the port is configured.
        let rc = unsafe { dpdk_sys::rte_eth_dev_start(self.id) };
        if rc != 0 {
            return Err(DpdkError::from_code(
                format!("rte_eth_dev_start {}", self.name),
                rc,
            ));
        }
        Ok(())
    }

    /// Sets the device's MTU (before it starts). `Ok(false)` when the device
    /// cannot set one (many virtual devices): the switch then enforces the
    /// MTU itself, as it always does.
    pub fn set_mtu(&self, mtu: u16) -> Result<bool, DpdkError> {
        // SAFETY: the port id is valid; the call only reads it and the value.
        let rc = unsafe { dpdk_sys::rte_eth_dev_set_mtu(self.id, mtu) };
        match rc {
            0 => Ok(true),
            rc if rc == -libc_enotsup() => Ok(false),
            rc => Err(DpdkError::from_code(
                format!("rte_eth_dev_set_mtu {} {mtu}", self.name),
                rc,
            )),
        }
    }

    /// Stops and closes the port. Call only once no worker polls it.
    pub fn stop_and_close(&self) {
        // SAFETY: the owner calls this after every worker has returned.
        unsafe {
            dpdk_sys::rte_eth_dev_stop(self.id);
            dpdk_sys::rte_eth_dev_close(self.id);
        }
    }

    /// Creates a virtual device at run time from its devargs (`net_tap1,iface=x`:
    /// the device name, then its arguments) and returns its port.
    ///
    /// `rte_eal_hotplug_add` probes in this process only, which is what a
    /// switch running as the one DPDK process wants.
    pub fn hotplug_add(devargs: &str) -> Result<Port, DpdkError> {
        let (name, args) = devargs.split_once(',').unwrap_or((devargs, ""));
        let nul = |what: &str| DpdkError {
            op: "rte_eal_hotplug_add".into(),
            code: -22,
            msg: format!("{what} contains a NUL byte"),
        };
        let bus = CString::new("vdev").map_err(|_| nul("bus"))?;
        let cname = CString::new(name).map_err(|_| nul("device name"))?;
        let cargs = CString::new(args).map_err(|_| nul("devargs"))?;
        // SAFETY: three valid C strings; EAL serialises hot-plug itself.
        let rc =
            unsafe { dpdk_sys::rte_eal_hotplug_add(bus.as_ptr(), cname.as_ptr(), cargs.as_ptr()) };
        if rc != 0 {
            return Err(DpdkError::from_code(
                format!("rte_eal_hotplug_add(vdev, {name:?}, {args:?})"),
                rc,
            ));
        }
        Port::by_name(name)
    }

    /// Stops and closes the port, then removes its virtual device (the
    /// reverse of [`Port::hotplug_add`]). The caller guarantees that no
    /// worker polls or sends on it any more.
    pub fn hotplug_remove(self) -> Result<(), DpdkError> {
        self.stop_and_close();
        let bus = CString::new("vdev").map_err(|_| DpdkError {
            op: "rte_eal_hotplug_remove".into(),
            code: -22,
            msg: "bus name".into(),
        })?;
        let cname = CString::new(self.name.as_str()).map_err(|_| DpdkError {
            op: "rte_eal_hotplug_remove".into(),
            code: -22,
            msg: "device name contains a NUL byte".into(),
        })?;
        // SAFETY: two valid C strings; the port is closed and unused.
        let rc = unsafe { dpdk_sys::rte_eal_hotplug_remove(bus.as_ptr(), cname.as_ptr()) };
        if rc != 0 {
            return Err(DpdkError::from_code(
                format!("rte_eal_hotplug_remove(vdev, {:?})", self.name),
                rc,
            ));
        }
        Ok(())
    }

    /// The device's counters.
    pub fn stats(&self) -> DevStats {
        let mut s = dpdk_sys::rte_eth_stats::default();
        // SAFETY: s is a valid out-pointer; stats reads are thread-safe.
        let rc = unsafe { dpdk_sys::rte_eth_stats_get(self.id, &mut s) };
        if rc != 0 {
            return DevStats::default();
        }
        DevStats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        }
    }

    /// The link state, without waiting.
    pub fn link(&self) -> LinkState {
        let mut l = dpdk_sys::rte_eth_link::default();
        // SAFETY: l is a valid out-pointer.
        let rc = unsafe { dpdk_sys::rte_eth_link_get_nowait(self.id, &mut l) };
        if rc != 0 {
            return LinkState::default();
        }
        LinkState {
            up: l.link_status() != 0,
            speed_mbps: l.link_speed,
            full_duplex: l.link_duplex() != 0,
        }
    }

    /// The port's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        let mut a = dpdk_sys::rte_ether_addr::default();
        // SAFETY: a is a valid out-pointer.
        let rc = unsafe { dpdk_sys::rte_eth_macaddr_get(self.id, &mut a) };
        if rc != 0 {
            return [0; 6];
        }
        a.addr_bytes
    }
}

/// One rx queue of a port. Not `Clone`: DPDK allows one poller per queue.
#[derive(Debug)]
pub struct RxQueue {
    pub(super) port: u16,
    pub(super) queue: u16,
}

/// One tx queue of a port. Not `Clone`: DPDK allows one sender per queue.
#[derive(Debug)]
pub struct TxQueue {
    pub(super) port: u16,
    pub(super) queue: u16,
}

impl RxQueue {
    /// The port id.
    pub fn port(&self) -> u16 {
        self.port
    }
    /// The queue index.
    pub fn queue(&self) -> u16 {
        self.queue
    }
}

impl TxQueue {
    /// The port id.
    pub fn port(&self) -> u16 {
        self.port
    }
    /// The queue index.
    pub fn queue(&self) -> u16 {
        self.queue
    }
}

/// ENOTSUP on Linux (95): what DPDK returns for an operation a driver lacks.
const fn libc_enotsup() -> i32 {
    95
}
