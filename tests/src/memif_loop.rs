//! A generator looping frames through the switch: `vswitch-pktgen` on core
//! 0 as the memif server of two sockets, sending on one and receiving on
//! the other, with the switch's two ports their clients.

use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running generator and the devargs of the switch's two ports.
pub struct MemifLoop {
    /// The generator's thread; joins with its output.
    pub gen: JoinHandle<String>,
    /// The switch port the generator sends into.
    pub tx_devargs: String,
    /// The switch port the generator receives from.
    pub rx_devargs: String,
}

fn memif(i: u8, sock: &Path, role: &str) -> String {
    format!(
        "net_memif{i},role={role},socket={},id=0,socket-abstract=no,rsize=13",
        sock.display()
    )
}

/// Starts the generator with sockets in `dir` and `args` added to its
/// own (`--lcore 0 --no-huge`, the two memifs, `--tx`, `--rx`), and waits
/// until it has created both sockets.
pub fn memif_loop(dir: &Path, args: &[&str]) -> MemifLoop {
    let (tx, rx) = (dir.join("tx.memif"), dir.join("rx.memif"));
    let mut all: Vec<String> = vec![
        "--lcore".into(),
        "0".into(),
        "--no-huge".into(),
        "--vdev".into(),
        memif(0, &tx, "server"),
        "--vdev".into(),
        memif(1, &rx, "server"),
        "--tx".into(),
        "net_memif0".into(),
        "--rx".into(),
        "net_memif1".into(),
        // As many queue pairs as the switch's workers: memif pairs rings
        // one to one, and each worker sends on its own.
        "--queues".into(),
        crate::e2e_workers().to_string(),
    ];
    all.extend(args.iter().map(|s| s.to_string()));
    let gen = std::thread::spawn(move || {
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        crate::pktgen(&args)
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(tx.exists() && rx.exists()) {
        assert!(
            Instant::now() < deadline,
            "pktgen did not create its memif sockets"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    MemifLoop {
        gen,
        tx_devargs: memif(0, &tx, "client"),
        rx_devargs: memif(1, &rx, "client"),
    }
}
