//! The Unix socket listener and its per-connection threads.

use super::parse_request;
use crossbeam_channel::{bounded, Sender};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use vswitch_api::{Command, Response};

/// Longest request line accepted; a longer one closes the connection.
const MAX_LINE: u64 = 1 << 20;

/// A parsed command on its way to the management thread, with where to answer.
pub struct ControlRequest {
    /// The command.
    pub command: Command,
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
    /// Binds `path` (mode 0660, parent directories created) and starts accepting.
    /// Refuses to take over a socket that another live process is serving.
    pub fn start(
        path: &Path,
        to_manager: Sender<ControlRequest>,
    ) -> std::io::Result<ControlServer> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    format!("{} is served by another running vswitch", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let inflight = Arc::new(AtomicUsize::new(0));
        let inflight2 = Arc::clone(&inflight);
        let acceptor = std::thread::Builder::new()
            .name("vswitch-ctl".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if stop2.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let tx = to_manager.clone();
                    let inflight = Arc::clone(&inflight2);
                    let _ = std::thread::Builder::new()
                        .name("vswitch-ctl-conn".into())
                        .spawn(move || serve_connection(conn, tx, &inflight));
                }
            })?;
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
        self.stop.store(true, Ordering::Relaxed);
        // Wake the blocking accept so the thread sees the flag.
        let _ = UnixStream::connect(&self.path);
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        // Let answers already decided (above all `shutdown`'s) reach their clients.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while self.inflight.load(Ordering::Acquire) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Answers requests on one connection until the client closes it.
fn serve_connection(conn: UnixStream, to_manager: Sender<ControlRequest>, inflight: &AtomicUsize) {
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
                &Response::err("request longer than 1 MiB; closing"),
            );
            return;
        }
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        inflight.fetch_add(1, Ordering::AcqRel);
        let response = match parse_request(text) {
            Err(msg) => Response::err(msg),
            Ok(command) => {
                let (tx, rx) = bounded(1);
                if to_manager
                    .send(ControlRequest { command, reply: tx })
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
