//! The Unix socket listener and its per-connection threads.
//!
//! Bounds against a misbehaving client: at most `max_connections` served at
//! once (the next one gets one error line and is closed, without a thread),
//! an idle timeout per connection, and a 32 MiB request line (an `apply` carries a whole state). The socket file
//! appears at its path already with mode 0660, and the acceptor polls its stop
//! flag, so shutdown never depends on the socket file still being there.

use super::audit::{changes_state, command_name};
use super::parse_request;
use crossbeam_channel::{bounded, Sender};
use rustix::event::{PollFd, PollFlags, Timespec};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use vswitch_api::{Command, Response};

/// Longest request line accepted; a longer one closes the connection. An
/// `apply` carries a whole state document: 32 MiB holds one of about
/// 300,000 V2P entries.
const MAX_LINE: u64 = 32 << 20;

/// How often the acceptor looks at its stop flag while no client connects.
const ACCEPT_TICK: Duration = Duration::from_millis(100);

/// How long the refusal line of a connection past the cap may take to write;
/// the acceptor writes it itself and must not be held up by that client.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_millis(100);

/// How long a refused connection stays open after its refusal line, and how
/// many are kept so: a client that writes its request before reading (as
/// vswitchctl does) must find the socket open to read why it was refused.
const REFUSED_LINGER: Duration = Duration::from_secs(1);
const REFUSED_KEPT: usize = 64;

/// Mode of the socket file: owner and group may connect.
const SOCKET_MODE: u32 = 0o660;

/// Limits on the control socket's clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlLimits {
    /// Connections served at once; the next one is refused with one error line.
    pub max_connections: usize,
    /// A connection that sends nothing (or reads no answer) for this long is closed.
    pub idle_timeout: Duration,
}

impl Default for ControlLimits {
    fn default() -> Self {
        ControlLimits {
            max_connections: 16,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// A parsed command on its way to the management thread, with where to answer.
pub struct ControlRequest {
    /// The command.
    pub command: Command,
    /// When its line was read (a change is timed from here).
    pub received: std::time::Instant,
    /// Where the response goes.
    pub reply: Sender<Response>,
}

/// The listening control socket. Dropping it stops accepting and removes the socket file.
pub struct ControlServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
    /// Requests taken but not yet answered on their connection.
    inflight: Arc<AtomicUsize>,
}

impl ControlServer {
    /// Binds `path` (mode 0660 from the start, parent directories created) and
    /// starts accepting within `limits`. Refuses to take over a socket that
    /// another live process is serving; a stale socket file is replaced.
    pub fn start(
        path: &Path,
        limits: ControlLimits,
        to_manager: Sender<ControlRequest>,
    ) -> std::io::Result<ControlServer> {
        if limits.max_connections == 0 || limits.idle_timeout.is_zero() {
            return Err(std::io::Error::new(
                ErrorKind::InvalidInput,
                "control limits must be positive",
            ));
        }
        let listener = bind_with_final_mode(path)?;
        // Nonblocking, so that the acceptor can wait in poll(2) with a timeout.
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let inflight = Arc::new(AtomicUsize::new(0));
        let acceptor = Acceptor {
            listener,
            stop: Arc::clone(&stop),
            open: Arc::new(AtomicUsize::new(0)),
            inflight: Arc::clone(&inflight),
            limits,
            to_manager,
        };
        let acceptor = std::thread::Builder::new()
            .name("vswitch-ctl".into())
            .spawn(move || acceptor.run())?;
        Ok(ControlServer {
            path: path.to_path_buf(),
            stop,
            acceptor: Some(acceptor),
            inflight,
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        // The acceptor sees the flag within one poll tick, whether or not the
        // socket file still exists.
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        // Let answers already decided (above all `shutdown`'s) reach their clients.
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.inflight.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds a listener whose socket file shows up at `path` already with mode
/// 0660: bound and chmod'ed inside a fresh private directory (mode 0700) next
/// to `path`, then renamed onto it. The process umask is left alone, since
/// other threads run.
fn bind_with_final_mode(path: &Path) -> std::io::Result<UnixListener> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    if path.exists() && UnixStream::connect(path).is_ok() {
        return Err(std::io::Error::new(
            ErrorKind::AddrInUse,
            format!("{} is served by another running vswitch", path.display()),
        ));
    }
    // Short names: the staged path must fit in sun_path as the final one does.
    let private = tempfile::Builder::new()
        .prefix(".vs")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(dir)?;
    // The umask may have taken bits from the directory's mode; nobody else
    // may reach the socket while its mode is not final.
    std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700))?;
    let staged = private.path().join("s");
    let listener = UnixListener::bind(&staged)?;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(SOCKET_MODE))?;
    // rename(2) replaces a stale socket file atomically.
    std::fs::rename(&staged, path)?;
    if let Err(e) = private.close() {
        tracing::warn!("control: cannot remove the private directory used to bind the socket: {e}");
    }
    Ok(listener)
}

/// The acceptor thread's state.
struct Acceptor {
    listener: UnixListener,
    stop: Arc<AtomicBool>,
    /// Connections being served now.
    open: Arc<AtomicUsize>,
    inflight: Arc<AtomicUsize>,
    limits: ControlLimits,
    to_manager: Sender<ControlRequest>,
}

impl Acceptor {
    fn run(self) {
        let tick = Timespec {
            tv_sec: 0,
            tv_nsec: ACCEPT_TICK.as_nanos() as _,
        };
        // Refused connections, oldest first; no thread serves them.
        let mut refused: VecDeque<(Instant, UnixStream)> = VecDeque::new();
        while !self.stop.load(Ordering::Relaxed) {
            while refused
                .front()
                .is_some_and(|(at, _)| at.elapsed() >= REFUSED_LINGER)
            {
                refused.pop_front();
            }
            let mut fds = [PollFd::new(&self.listener, PollFlags::IN)];
            match rustix::event::poll(&mut fds, Some(&tick)) {
                Ok(0) | Err(rustix::io::Errno::INTR) => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("control: poll on the socket failed: {e}");
                    std::thread::sleep(ACCEPT_TICK);
                    continue;
                }
            }
            while !self.stop.load(Ordering::Relaxed) {
                match self.listener.accept() {
                    Ok((conn, _)) => {
                        if let Some(conn) = self.admit(conn) {
                            if refused.len() >= REFUSED_KEPT {
                                refused.pop_front();
                            }
                            refused.push_back((Instant::now(), conn));
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => {
                        // E.g. out of file descriptors: back off rather than spin.
                        tracing::warn!("control: accept failed: {e}");
                        std::thread::sleep(ACCEPT_TICK);
                        break;
                    }
                }
            }
        }
    }

    /// Serves `conn` on its own thread, or, when the cap is reached, writes it
    /// the refusal line, ends its output and hands it back to be closed later.
    fn admit(&self, mut conn: UnixStream) -> Option<UnixStream> {
        let max = self.limits.max_connections;
        if self.open.load(Ordering::Acquire) >= max {
            let _ = conn.set_write_timeout(Some(REFUSAL_WRITE_TIMEOUT));
            let _ = send(
                &mut conn,
                &Response::err(format!(
                    "too many control connections ({max} open); try again later"
                )),
            );
            let _ = conn.shutdown(Shutdown::Write);
            return Some(conn);
        }
        // Accepted sockets do not inherit O_NONBLOCK on Linux; make sure anyway,
        // since the connection thread relies on blocking reads with a timeout.
        if conn.set_nonblocking(false).is_err() {
            return None;
        }
        let slot = Slot::take(&self.open);
        let peer = peer_of(&conn);
        let tx = self.to_manager.clone();
        let inflight = Arc::clone(&self.inflight);
        let idle = self.limits.idle_timeout;
        // If the spawn fails the closure, and the slot with it, is dropped.
        let spawned = std::thread::Builder::new()
            .name("vswitch-ctl-conn".into())
            .spawn(move || {
                let _slot = slot;
                serve_connection(conn, &peer, idle, tx, &inflight);
            });
        if let Err(e) = spawned {
            tracing::warn!("control: cannot start a connection thread: {e}");
        }
        None
    }
}

/// One counted connection; dropping it frees its place under the cap.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(open: &Arc<AtomicUsize>) -> Slot {
        open.fetch_add(1, Ordering::AcqRel);
        Slot(Arc::clone(open))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The client's credentials as the kernel saw them at connect time.
fn peer_of(conn: &UnixStream) -> String {
    match rustix::net::sockopt::socket_peercred(conn) {
        Ok(c) => format!(
            "uid={} gid={} pid={}",
            c.uid.as_raw(),
            c.gid.as_raw(),
            c.pid.as_raw_pid()
        ),
        Err(e) => format!("an unknown peer ({e})"),
    }
}

/// Answers requests on one connection until the client closes it, stays
/// silent for `idle`, or sends a line over 32 MiB.
fn serve_connection(
    conn: UnixStream,
    peer: &str,
    idle: Duration,
    to_manager: Sender<ControlRequest>,
    inflight: &AtomicUsize,
) {
    // The read timeout is the idle timeout: it runs only while waiting for the
    // client, never while its command is with the management thread. The write
    // timeout closes a client that stops reading its answers.
    if conn.set_read_timeout(Some(idle)).is_err() || conn.set_write_timeout(Some(idle)).is_err() {
        return;
    }
    let Ok(mut writer) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    loop {
        line.clear();
        let n = match (&mut reader).take(MAX_LINE + 1).read_line(&mut line) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                let _ = send(
                    &mut writer,
                    &Response::err(format!(
                        "no request for {} s; closing the idle connection",
                        idle.as_secs()
                    )),
                );
                return;
            }
            Err(e) => {
                let _ = send(
                    &mut writer,
                    &Response::err(format!("cannot read request: {e}")),
                );
                return;
            }
        };
        if n as u64 > MAX_LINE {
            let _ = send(
                &mut writer,
                &Response::err(format!(
                    "request longer than {} MiB; closing",
                    MAX_LINE >> 20
                )),
            );
            return;
        }
        let received = std::time::Instant::now();
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        inflight.fetch_add(1, Ordering::AcqRel);
        let response = match parse_request(text) {
            Err(msg) => Response::err(msg),
            Ok(command) => {
                if changes_state(&command) {
                    tracing::info!("control: {} from {peer}", command_name(&command));
                }
                let (tx, rx) = bounded(1);
                if to_manager
                    .send(ControlRequest {
                        command,
                        received,
                        reply: tx,
                    })
                    .is_err()
                {
                    Response::err("the switch is shutting down")
                } else {
                    rx.recv()
                        .unwrap_or_else(|_| Response::err("the switch is shutting down"))
                }
            }
        };
        let sent = send(&mut writer, &response);
        inflight.fetch_sub(1, Ordering::AcqRel);
        if sent.is_err() {
            return;
        }
    }
}

fn send(w: &mut UnixStream, r: &Response) -> std::io::Result<()> {
    let mut text = serde_json::to_string(r).unwrap_or_else(|_| {
        r#"{"version":1,"ok":false,"error":"internal: cannot encode response"}"#.into()
    });
    text.push('\n');
    w.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::os::unix::fs::FileTypeExt;
    use vswitch_api::Reply;

    /// A stand-in management thread answering every command with `applied`.
    fn manager() -> Sender<ControlRequest> {
        let (tx, rx) = crossbeam_channel::bounded::<ControlRequest>(8);
        std::thread::spawn(move || {
            for req in rx {
                let _ = req
                    .reply
                    .send(Response::ok(Reply::Applied { generation: 7 }));
            }
        });
        tx
    }

    fn limits(max: usize, idle_ms: u64) -> ControlLimits {
        ControlLimits {
            max_connections: max,
            idle_timeout: Duration::from_millis(idle_ms),
        }
    }

    fn connect(path: &Path) -> BufReader<UnixStream> {
        let c = UnixStream::connect(path).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        BufReader::new(c)
    }

    fn ask(c: &mut BufReader<UnixStream>, line: &str) -> serde_json::Value {
        c.get_mut().write_all(line.as_bytes()).unwrap();
        c.get_mut().write_all(b"\n").unwrap();
        read_reply(c)
    }

    fn read_reply(c: &mut BufReader<UnixStream>) -> serde_json::Value {
        let mut resp = String::new();
        c.read_line(&mut resp).unwrap();
        serde_json::from_str(&resp).unwrap_or_else(|e| panic!("{resp:?}: {e}"))
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    const STATUS: &str = r#"{"version":1,"command":"status"}"#;

    #[test]
    fn the_socket_only_ever_appears_with_mode_0660_and_no_private_dir_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/vswitch/vs.sock");
        let seen = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
        let done = Arc::new(AtomicBool::new(false));
        // Watch the final path as fast as possible while the server is started
        // and stopped over and over: every mode observed there must be 0660.
        let watcher = {
            let (path, seen, done) = (path.clone(), Arc::clone(&seen), Arc::clone(&done));
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    if let Ok(m) = std::fs::symlink_metadata(&path) {
                        seen.lock().unwrap().insert(m.permissions().mode() & 0o7777);
                    }
                }
            })
        };
        let tx = manager();
        for _ in 0..40 {
            let server = ControlServer::start(&path, limits(4, 10_000), tx.clone()).unwrap();
            let m = std::fs::symlink_metadata(&path).unwrap();
            assert!(m.file_type().is_socket());
            assert_eq!(m.permissions().mode() & 0o7777, SOCKET_MODE);
            let parent = path.parent().unwrap();
            assert_eq!(entries(parent), ["vs.sock"], "no private directory is left");
            assert_eq!(ask(&mut connect(&path), STATUS)["ok"], true);
            drop(server);
            assert!(entries(path.parent().unwrap()).is_empty());
        }
        done.store(true, Ordering::Relaxed);
        watcher.join().unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(
            *seen,
            BTreeSet::from([SOCKET_MODE]),
            "modes seen at the path"
        );
    }

    #[test]
    fn a_stale_socket_is_replaced_and_a_live_one_is_not_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vs.sock");
        let live = UnixListener::bind(&path).unwrap();
        let e = ControlServer::start(&path, ControlLimits::default(), manager())
            .err()
            .expect("a live socket is refused");
        assert_eq!(e.kind(), ErrorKind::AddrInUse);
        assert_eq!(entries(dir.path()), ["vs.sock"]);
        // Its listener gone, the file is stale.
        drop(live);
        let server = ControlServer::start(&path, ControlLimits::default(), manager()).unwrap();
        assert_eq!(ask(&mut connect(&path), STATUS)["result"]["generation"], 7);
        assert_eq!(entries(dir.path()), ["vs.sock"]);
        drop(server);
    }

    #[test]
    fn stopping_does_not_need_the_socket_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vs.sock");
        let server = ControlServer::start(&path, ControlLimits::default(), manager()).unwrap();
        std::fs::remove_file(&path).unwrap();
        let (tx, rx) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || {
            drop(server);
            let _ = tx.send(());
        });
        rx.recv_timeout(Duration::from_secs(3))
            .expect("the server stops without its socket file");
    }

    #[test]
    fn connections_past_the_cap_get_one_line_and_eof() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vs.sock");
        let _server = ControlServer::start(&path, limits(2, 10_000), manager()).unwrap();
        let mut a = connect(&path);
        let mut b = connect(&path);
        assert_eq!(ask(&mut a, STATUS)["ok"], true);
        assert_eq!(ask(&mut b, STATUS)["ok"], true);
        let mut c = connect(&path);
        let r = read_reply(&mut c);
        assert_eq!(r["ok"], false);
        assert_eq!(
            r["error"],
            "too many control connections (2 open); try again later"
        );
        let mut rest = String::new();
        assert_eq!(c.read_line(&mut rest).unwrap(), 0, "then EOF");
        // A client that writes before it reads is told the same.
        let r = ask(&mut connect(&path), STATUS);
        assert_eq!(r["ok"], false);
        assert!(r["error"].as_str().unwrap().starts_with("too many"), "{r}");
        drop(a);
        // The closed connection's place is freed once its thread sees EOF.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut d = connect(&path);
            if ask(&mut d, STATUS)["ok"] == true {
                break;
            }
            assert!(Instant::now() < deadline, "the freed place is never reused");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(ask(&mut b, STATUS)["ok"], true);
    }

    #[test]
    fn an_idle_connection_is_closed_and_a_busy_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vs.sock");
        let _server = ControlServer::start(&path, limits(4, 300), manager()).unwrap();
        let mut idle = connect(&path);
        let mut busy = connect(&path);
        let t0 = Instant::now();
        for _ in 0..10 {
            std::thread::sleep(Duration::from_millis(100));
            assert_eq!(ask(&mut busy, STATUS)["ok"], true);
        }
        let r = read_reply(&mut idle);
        assert_eq!(r["ok"], false);
        assert!(
            r["error"].as_str().unwrap().contains("idle"),
            "{}",
            r["error"]
        );
        let mut rest = String::new();
        assert_eq!(idle.read_line(&mut rest).unwrap(), 0);
        assert!(
            t0.elapsed() >= Duration::from_millis(900),
            "busy kept going"
        );
    }

    #[test]
    fn a_line_over_1_mib_closes_the_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vs.sock");
        let _server = ControlServer::start(&path, ControlLimits::default(), manager()).unwrap();
        let mut c = connect(&path);
        let big = vec![b'x'; (MAX_LINE + 10) as usize];
        // The server may close before all of it is written.
        let _ = c.get_mut().write_all(&big);
        let r = read_reply(&mut c);
        assert_eq!(r["error"], "request longer than 32 MiB; closing");
    }
}
