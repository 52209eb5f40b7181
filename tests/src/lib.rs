//! Harness for end-to-end tests: starts the real binaries (built by
//! `cargo build --release --bins`, or found through `VSWITCH_BIN_DIR`), talks
//! to the control socket, scrapes metrics, and writes and reads pcap files.

#![forbid(unsafe_code)]

pub mod ctl;
pub mod dns;
pub mod download;
pub mod etcd;
pub mod fleet;
pub mod memif_loop;
pub mod netns;
pub mod pcap;
pub mod prom;
pub mod proxy;
pub mod rack;
pub mod sleds;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use vswitch_api::{Command as Cmd, Reply, Request, Response};

/// Directory of the built binaries: `VSWITCH_BIN_DIR`, else the profile
/// directory this test executable was built into.
pub fn bin_dir() -> PathBuf {
    if let Ok(d) = std::env::var("VSWITCH_BIN_DIR") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

/// Path of binary `name`, which must have been built.
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --release --bins` first (or set VSWITCH_BIN_DIR)",
        p.display()
    );
    p
}

/// EAL arguments every test switch uses: no hugepages, so tests run anywhere.
pub const TEST_EAL: &str =
    r#"args = ["--no-huge", "-m", "256", "--no-pci", "--log-level", "lib.eal:warning"]"#;

/// Worker cores every test switch runs: `VS_E2E_WORKERS` (default 1; a
/// name outside the switch's own `VSWITCH_CFG__` configuration, so that it
/// reaches every switch a test starts and overrides what the test wrote).
pub fn e2e_workers() -> usize {
    match std::env::var("VS_E2E_WORKERS") {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n @ 1..=8) => n,
            _ => panic!("VS_E2E_WORKERS={v:?}: a number of workers from 1 to 8"),
        },
        Err(_) => 1,
    }
}

/// A test's configuration run with [`e2e_workers`] workers: `lcores = [1]`
/// becomes `[1, 2, ..]`, and EAL maps those lcores onto the machine's CPUs
/// (worker k on CPU k mod CPUs, the main lcore on CPU 0), so that two
/// workers run on two cores even here.
pub fn with_e2e_workers(toml: &str) -> String {
    let n = e2e_workers();
    if n == 1 || !toml.contains("lcores = [1]") {
        return toml.to_string();
    }
    let cpus = std::thread::available_parallelism().map_or(1, |c| c.get());
    let lcores: Vec<String> = (1..=n).map(|l| l.to_string()).collect();
    let mut map = vec!["0@0".to_string()];
    map.extend((1..=n).map(|l| format!("{l}@{}", l % cpus)));
    toml.replacen(
        "lcores = [1]",
        &format!("lcores = [{}]", lcores.join(", ")),
        1,
    )
    .replacen(
        "args = [",
        &format!("args = [\"--lcores\", \"{}\", ", map.join(",")),
        1,
    )
}

/// With several workers, deeper handoff rings (and the mbufs to fill them).
///
/// Here two cores carry three busy pollers (the generator and two workers),
/// so the scheduler can take a worker's core for tens of milliseconds; at a
/// test's 100 kpps a 1,024-slot ring then fills and drops (`handoff_full`),
/// an artifact of sharing cores that no test is about. 8,192 slots hold
/// ~160 ms of the half of the traffic that is handed over.
fn several_workers_env() -> Vec<(&'static str, &'static str)> {
    if e2e_workers() == 1 {
        return Vec::new();
    }
    vec![
        ("VSWITCH_CFG__WORKERS__HANDOFF_RING", "8192"),
        ("VSWITCH_CFG__MEMPOOL__MBUFS", "32767"),
    ]
}

/// A running `vswitch` process.
pub struct Vswitch {
    child: Child,
    /// Its control socket.
    pub socket: PathBuf,
    /// Its metrics address (`host:port`), if on.
    pub metrics: Option<String>,
    stdout: mpsc::Receiver<String>,
    /// Everything it printed so far.
    pub output: Vec<String>,
}

impl Vswitch {
    /// Writes `toml` (which must not contain `[control]`) to `dir`, adds a
    /// control socket in `dir`, metrics on a free port and (unless `toml`
    /// has a `[state]`) the state file `dir/state.json`, starts the switch,
    /// and waits until it reports it is running.
    pub fn start(dir: &Path, toml: &str) -> Vswitch {
        Self::start_with_env(dir, toml, &[])
    }

    /// As [`Vswitch::start`], with extra environment variables for the switch
    /// (`VSWITCH_CFG__...` overrides, or `RUST_LOG`, which is `warn` unless given).
    pub fn start_with_env(dir: &Path, toml: &str, env: &[(&str, &str)]) -> Vswitch {
        let socket = dir.join("vswitch.sock");
        let port = free_tcp_port();
        let metrics = format!("127.0.0.1:{port}");
        let toml = with_e2e_workers(toml);
        let mut text = format!(
            "{toml}\n[control]\nsocket = \"{}\"\n[metrics]\nlisten = \"{metrics}\"\n",
            socket.display()
        );
        // Each switch keeps its state file in its own directory (a restart
        // in the same directory loads it), never in the shared default.
        if !toml.contains("[state]") {
            text.push_str(&format!(
                "[state]\npath = \"{}\"\n",
                dir.join("state.json").display()
            ));
        }
        let cfg = dir.join("vswitch.toml");
        std::fs::write(&cfg, text).expect("write config");
        let mut child = Command::new(bin("vswitch"))
            .arg("--config")
            .arg(&cfg)
            .env("RUST_LOG", "warn")
            .envs(several_workers_env())
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start vswitch");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        std::thread::spawn(move || {
            for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx2.send(format!("stderr: {l}"));
            }
        });
        let mut sw = Vswitch {
            child,
            socket,
            metrics: Some(metrics),
            stdout: rx,
            output: Vec::new(),
        };
        sw.wait_for_line("vswitch: running", Duration::from_secs(30));
        sw
    }

    /// Waits until the switch prints a line containing `needle`; panics with its output otherwise.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.output.iter().any(|l| l.contains(needle)) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .stdout
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(l) => self.output.push(l),
                Err(_) => {
                    if let Ok(Some(st)) = self.child.try_wait() {
                        self.drain_output();
                        panic!(
                            "vswitch exited ({st}) before printing {needle:?}:\n{}",
                            self.output.join("\n")
                        );
                    }
                    if Instant::now() >= deadline {
                        panic!(
                            "vswitch did not print {needle:?} in time:\n{}",
                            self.output.join("\n")
                        );
                    }
                }
            }
        }
    }

    fn drain_output(&mut self) {
        while let Ok(l) = self.stdout.recv_timeout(Duration::from_millis(100)) {
            self.output.push(l);
        }
    }

    /// A new control connection.
    pub fn connect(&self) -> Ctl {
        Ctl::connect(&self.socket)
    }

    /// Sends one command on a fresh connection; panics if it is refused.
    pub fn request(&self, cmd: Cmd) -> Reply {
        let r = self.connect().request(&cmd);
        assert!(r.ok, "{cmd:?} refused: {:?}", r.error);
        r.result.expect("ok response has a result")
    }

    /// The `ports` reply.
    pub fn ports(&self) -> Vec<vswitch_api::PortInfo> {
        match self.request(Cmd::Ports) {
            Reply::Ports { ports } => ports,
            other => panic!("unexpected reply {other:?}"),
        }
    }

    /// One port's info by name.
    pub fn port(&self, name: &str) -> vswitch_api::PortInfo {
        self.ports()
            .into_iter()
            .find(|p| p.name == name)
            .expect("port exists")
    }

    /// The `stats` reply.
    pub fn stats(&self) -> vswitch_api::StatsInfo {
        match self.request(Cmd::Stats) {
            Reply::Stats(s) => s,
            other => panic!("unexpected reply {other:?}"),
        }
    }

    /// Polls `stats` until total rx stops moving for `quiet`, and returns the last stats.
    pub fn wait_quiescent(&self, quiet: Duration, timeout: Duration) -> vswitch_api::StatsInfo {
        let deadline = Instant::now() + timeout;
        let mut last = self.stats();
        let mut since = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(50));
            let s = self.stats();
            if s.total.rx_packets != last.total.rx_packets
                || s.total.tx_packets != last.total.tx_packets
            {
                since = Instant::now();
            } else if since.elapsed() >= quiet {
                return s;
            }
            last = s;
            assert!(Instant::now() < deadline, "traffic did not settle in time");
        }
    }

    /// Scrapes `/metrics`.
    pub fn scrape(&self) -> String {
        let addr = self.metrics.as_ref().expect("metrics on");
        http_get(addr, "/metrics")
    }

    /// Sends `shutdown` and waits for the process to exit.
    pub fn shutdown(mut self) -> (ExitStatus, Vec<String>) {
        let r = self.connect().request(&Cmd::Shutdown);
        assert!(r.ok, "shutdown refused: {:?}", r.error);
        self.wait_exit(Duration::from_secs(20))
    }

    /// Waits for the process to exit, returning its status and output.
    pub fn wait_exit(&mut self, timeout: Duration) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                self.drain_output();
                return (st, self.output.clone());
            }
            assert!(Instant::now() < deadline, "vswitch did not exit in time");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Takes in whatever the switch printed since the last look, without waiting.
    pub fn collect_output(&mut self) {
        while let Ok(l) = self.stdout.try_recv() {
            self.output.push(l);
        }
    }
}

/// A numeric field of `/proc/PID/status`, e.g. `VmRSS` (in kB) or `Threads`.
pub fn proc_status(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

impl Drop for Vswitch {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One control connection (newline-delimited JSON).
pub struct Ctl {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Ctl {
    /// Connects to `socket`.
    pub fn connect(socket: &Path) -> Ctl {
        let stream = UnixStream::connect(socket).expect("connect to control socket");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        Ctl { stream, reader }
    }

    /// Sends a raw line and returns the raw response line.
    pub fn raw(&mut self, line: &str) -> String {
        self.stream.write_all(line.as_bytes()).expect("write");
        self.stream.write_all(b"\n").expect("write");
        let mut resp = String::new();
        self.reader.read_line(&mut resp).expect("read response");
        resp
    }

    /// Sends a command and parses the response.
    pub fn request(&mut self, cmd: &Cmd) -> Response {
        let line = serde_json::to_string(&Request::new(cmd.clone())).expect("encode");
        let resp = self.raw(&line);
        serde_json::from_str(&resp).unwrap_or_else(|e| panic!("bad response {resp:?}: {e}"))
    }
}

/// A TCP port free right now on 127.0.0.1.
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A minimal HTTP/1.0 GET returning the body.
pub fn http_get(addr: &str, path: &str) -> String {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(addr).expect("connect metrics");
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let (head, body) = text.split_once("\r\n\r\n").expect("http response");
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        "HTTP error: {head}"
    );
    body.to_string()
}

/// Runs `vswitch-pktgen` with `args` and returns its output (it must exit 0).
pub fn pktgen(args: &[&str]) -> String {
    let out = Command::new(bin("vswitch-pktgen"))
        .args(args)
        .output()
        .expect("run pktgen");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pktgen failed: {text}");
    text
}

/// The JSON totals line of a pktgen run with `--json`.
pub fn pktgen_totals(output: &str) -> serde_json::Value {
    let line = output
        .lines()
        .rev()
        .find(|l| l.starts_with("{\"sent\""))
        .expect("pktgen JSON totals");
    serde_json::from_str(line).expect("totals parse")
}

/// Writes `frames` to the interface `iface` (the host side of a `net_tap`
/// port, say) with a packet socket, in order, from one Python process,
/// pausing 2 ms every 200 frames: on two cores the sender must not starve
/// a worker that shares its core. The interface's queues are first made
/// 10,000 frames long (the kernel's default is 1,000), so that a worker
/// descheduled for a few tens of milliseconds on a loaded machine finds its
/// frames waiting rather than dropped by the kernel.
pub fn tap_send(iface: &str, frames: &[Vec<u8>]) {
    let _ = Command::new("ip")
        .args(["link", "set", iface, "txqueuelen", "10000"])
        .status();
    let hex: Vec<String> = frames
        .iter()
        .map(|f| f.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    let script = format!(
        "import socket, sys, time\ns = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n\
         s.bind(('{iface}', 0))\nfor i, l in enumerate(sys.stdin):\n    s.send(bytes.fromhex(l.strip()))\n\
         \x20   if i % 200 == 199:\n        time.sleep(0.002)\n"
    );
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    if let Some(mut stdin) = child.stdin.take() {
        for h in &hex {
            writeln!(stdin, "{h}").expect("write to python");
        }
    }
    let out = child.wait_with_output().expect("python3 ran");
    assert!(
        out.status.success(),
        "sending to {iface} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A typed API value from a test's literal (`"10.0.0.0/8"`, `"igw:4"`,
/// a MAC...).
pub fn typed<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse()
        .unwrap_or_else(|e| panic!("test literal {s:?}: {e:?}"))
}

/// Typed API values from a test's literals.
pub fn typed_all<T: std::str::FromStr>(s: &[&str]) -> Vec<T>
where
    T::Err: std::fmt::Debug,
{
    s.iter().map(|x| typed(x)).collect()
}

/// The VNI `n`.
pub fn vni(n: u32) -> vswitch_api::Vni {
    vswitch_api::Vni::try_from(n).expect("a 24-bit test VNI")
}

/// A VNIC request for a guest on `port` in `vni` with `mac` and `ipv4`, its
/// gateway 172.30.0.1 (MAC a8:40:25:00:00:01), nothing else set.
pub fn guest_vnic(port: &str, vni_n: u32, mac: &str, ipv4: &str) -> vswitch_api::VnicCreate {
    let mac: vswitch_api::MacAddr = typed(mac);
    vswitch_api::VnicCreate {
        port: port.into(),
        // NIC ids are unique on a switch: the MAC's last byte, as unique
        // as the MACs of a test's guests.
        id: u32::from(mac.0[5]),
        vni: vni(vni_n),
        mac,
        ipv4: Some(ipv4.parse().expect("an IPv4 address")),
        ipv6: None,
        gateway_mac: typed("a8:40:25:00:00:01"),
        gateway_ipv4: Some(std::net::Ipv4Addr::new(172, 30, 0, 1)),
        gateway_ipv6: None,
        dns: vec![],
        hostname: None,
        domain: None,
        mtu: None,
        flow_quota: None,
    }
}
