//! The connection to the appliance's control socket.
//!
//! The protocol is one JSON [`Request`] per line out and one JSON
//! [`Response`] per line back, so a connection is a plain blocking
//! `UnixStream` with a line reader; nothing here needs to be asynchronous.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use vswitch_api::{Command, Reply, Request, Response};

/// How long to wait on the appliance before giving up: long enough for a
/// loaded control thread, short enough that a hung one is reported rather
/// than leaving the operator staring at a silent terminal.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest reply line accepted. Bounds memory if the socket belongs to
/// something other than vswitch and never sends a newline.
const MAX_LINE: u64 = 16 << 20;

/// Why a request did not produce a result.
///
/// Every variant displays as one plain sentence for the operator; none
/// carries a backtrace or a Rust debug representation.
#[derive(Debug)]
pub enum ClientError {
    /// The socket could not be connected to.
    Connect {
        /// The socket path tried.
        path: PathBuf,
        /// What `connect(2)` (or socket set-up) reported.
        source: io::Error,
    },
    /// Writing the request failed.
    Send {
        /// The socket path.
        path: PathBuf,
        /// The write error.
        source: io::Error,
    },
    /// Reading the reply failed.
    Receive {
        /// The socket path.
        path: PathBuf,
        /// The read error.
        source: io::Error,
    },
    /// The appliance did not answer in time.
    Timeout {
        /// The socket path.
        path: PathBuf,
        /// How long we waited.
        after: Duration,
    },
    /// The appliance closed the connection without answering.
    Closed {
        /// The socket path.
        path: PathBuf,
    },
    /// The reply was not a well-formed response.
    Protocol {
        /// The socket path.
        path: PathBuf,
        /// What was wrong with it.
        detail: String,
    },
    /// The appliance understood the request and refused it (`ok: false`);
    /// the text is the appliance's own reason.
    Refused(String),
}

impl ClientError {
    /// The process exit code for this error: 1 when the appliance refused
    /// the request, 2 when no usable answer came back at all, so scripts can
    /// tell "wrong request" from "no appliance".
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Refused(_) => 1,
            _ => 2,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Connect { path, source } => {
                let path = path.display();
                // The raw io::Error text ("No such file or directory (os
                // error 2)") does not tell the operator what to do; the
                // common cases get a hint instead.
                match source.kind() {
                    io::ErrorKind::NotFound => write!(
                        f,
                        "cannot connect to {path}: no such file (is vswitch running? use --socket)"
                    ),
                    io::ErrorKind::PermissionDenied => write!(
                        f,
                        "cannot connect to {path}: permission denied (the socket is mode 0660: \
                         run as root or as a member of its group)"
                    ),
                    io::ErrorKind::ConnectionRefused => write!(
                        f,
                        "cannot connect to {path}: connection refused (nothing is listening: \
                         is vswitch running? use --socket)"
                    ),
                    _ => write!(f, "cannot connect to {path}: {source}"),
                }
            }
            ClientError::Send { path, source } => {
                write!(
                    f,
                    "lost the connection to {} while sending: {source}",
                    path.display()
                )
            }
            ClientError::Receive { path, source } => write!(
                f,
                "lost the connection to {} while waiting for the reply: {source}",
                path.display()
            ),
            ClientError::Timeout { path, after } => write!(
                f,
                "no reply from {} within {} s (is vswitch hung?)",
                path.display(),
                after.as_secs_f64()
            ),
            ClientError::Closed { path } => write!(
                f,
                "{} closed the connection without replying (is it a vswitch control socket?)",
                path.display()
            ),
            ClientError::Protocol { path, detail } => {
                write!(f, "unreadable reply from {}: {detail}", path.display())
            }
            ClientError::Refused(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for ClientError {}

/// Whether an I/O error is the expiry of a socket timeout; Linux reports it
/// as `EAGAIN` (WouldBlock), other systems as `ETIMEDOUT`.
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// An open connection to the control socket.
pub struct Client {
    path: PathBuf,
    timeout: Duration,
    reader: BufReader<UnixStream>,
}

impl Client {
    /// Connects to the socket at `path`; every later read and write gives up
    /// after `timeout`.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Self, ClientError> {
        let connect_err = |source| ClientError::Connect {
            path: path.to_path_buf(),
            source,
        };
        let stream = UnixStream::connect(path).map_err(connect_err)?;
        stream
            .set_read_timeout(Some(timeout))
            .map_err(connect_err)?;
        stream
            .set_write_timeout(Some(timeout))
            .map_err(connect_err)?;
        Ok(Client {
            path: path.to_path_buf(),
            timeout,
            reader: BufReader::new(stream),
        })
    }

    /// Sends `line` as one request line and returns the reply line without
    /// its line terminator. The text is not checked or reformatted, which is
    /// what lets `raw` send malformed requests on purpose; only trailing line
    /// terminators are normalised so the request is exactly one line.
    pub fn exchange(&mut self, line: &str) -> Result<String, ClientError> {
        let mut out = line.trim_end_matches(['\r', '\n']).to_owned();
        out.push('\n');
        let stream = self.reader.get_mut();
        if let Err(source) = stream
            .write_all(out.as_bytes())
            .and_then(|()| stream.flush())
        {
            return Err(if is_timeout(&source) {
                self.timeout_error()
            } else {
                ClientError::Send {
                    path: self.path.clone(),
                    source,
                }
            });
        }

        let mut buf = Vec::new();
        if let Err(source) = (&mut self.reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut buf)
        {
            return Err(if is_timeout(&source) {
                self.timeout_error()
            } else {
                ClientError::Receive {
                    path: self.path.clone(),
                    source,
                }
            });
        }
        if buf.is_empty() {
            return Err(ClientError::Closed {
                path: self.path.clone(),
            });
        }
        if !buf.ends_with(b"\n") && buf.len() as u64 >= MAX_LINE {
            return Err(self.protocol_error(format!("reply longer than {MAX_LINE} bytes")));
        }
        let text = String::from_utf8(buf)
            .map_err(|_| self.protocol_error("reply is not UTF-8".to_owned()))?;
        Ok(text.trim_end_matches(['\r', '\n']).to_owned())
    }

    /// Sends `command` and returns the appliance's result, or its refusal as
    /// [`ClientError::Refused`].
    pub fn request(&mut self, command: Command) -> Result<Reply, ClientError> {
        let line = serde_json::to_string(&Request::new(command))
            .map_err(|e| self.protocol_error(format!("cannot encode the request: {e}")))?;
        let reply = self.exchange(&line)?;
        parse_response(&reply).map_err(|detail| self.protocol_error(detail))?
    }

    fn timeout_error(&self) -> ClientError {
        ClientError::Timeout {
            path: self.path.clone(),
            after: self.timeout,
        }
    }

    fn protocol_error(&self, detail: String) -> ClientError {
        ClientError::Protocol {
            path: self.path.clone(),
            detail,
        }
    }
}

/// Decodes one reply line. The outer `Err` is a malformed reply (its
/// description); the inner result is the appliance's answer, a refusal
/// included, so callers can attach the socket path only to the former.
pub fn parse_response(line: &str) -> Result<Result<Reply, ClientError>, String> {
    let response: Response = serde_json::from_str(line).map_err(|e| format!("{e}"))?;
    if response.ok {
        match response.result {
            Some(reply) => Ok(Ok(reply)),
            None => Err("\"ok\" is true but there is no \"result\"".to_owned()),
        }
    } else {
        let mut reason = response
            .error
            .unwrap_or_else(|| "the request was refused without a reason".to_owned());
        // A refused state lists every error found, one a line.
        if response.errors.len() > 1 {
            for e in &response.errors {
                reason.push_str("\n  - ");
                reason.push_str(e);
            }
        }
        Ok(Err(ClientError::Refused(reason)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread::{self, JoinHandle};

    /// A socket path unique to this process and call, so tests running in
    /// parallel (or leftover files from a killed run) never collide.
    fn unique_socket(tag: &str) -> PathBuf {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "vswitchctl-test-{}-{n}-{tag}.sock",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        path
    }

    /// A one-shot server: accepts one connection, reads one line, answers
    /// `reply` (nothing when `None`) and returns the request line it read.
    fn serve_once(path: &Path, reply: Option<String>) -> JoinHandle<String> {
        let listener = UnixListener::bind(path).expect("bind test socket");
        thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream);
            let mut request = String::new();
            reader.read_line(&mut request).expect("read request");
            if let Some(reply) = reply {
                let stream = reader.get_mut();
                stream.write_all(reply.as_bytes()).expect("write reply");
                stream.write_all(b"\n").expect("write newline");
            }
            request
        })
    }

    fn patches_reply() -> Reply {
        Reply::Patches {
            generation: 4,
            patches: vec![vswitch_api::PatchEntry {
                from: "a".into(),
                to: "b".into(),
            }],
        }
    }

    #[test]
    fn ok_response_returns_the_result() {
        let path = unique_socket("ok");
        let canned = serde_json::to_string(&Response::ok(patches_reply())).unwrap();
        let server = serve_once(&path, Some(canned));

        let mut client = Client::connect(&path, DEFAULT_TIMEOUT).unwrap();
        let reply = client
            .request(Command::PatchSet {
                from: "a".into(),
                to: "b".into(),
            })
            .unwrap();
        assert_eq!(reply, patches_reply());

        let sent = server.join().unwrap();
        assert!(sent.ends_with('\n'), "request must be one line: {sent:?}");
        let request: Request = serde_json::from_str(sent.trim_end()).unwrap();
        assert_eq!(
            request,
            Request::new(Command::PatchSet {
                from: "a".into(),
                to: "b".into()
            })
        );
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn refusal_returns_the_error_text() {
        let path = unique_socket("refused");
        let text = "patch-set: unknown port \"zz\" in `to` (ports: a, b)";
        let canned = serde_json::to_string(&Response::err(text)).unwrap();
        let server = serve_once(&path, Some(canned));

        let mut client = Client::connect(&path, DEFAULT_TIMEOUT).unwrap();
        let err = client
            .request(Command::PatchSet {
                from: "a".into(),
                to: "zz".into(),
            })
            .unwrap_err();
        assert!(matches!(err, ClientError::Refused(_)), "{err:?}");
        assert_eq!(err.to_string(), text);
        assert_eq!(err.exit_code(), 1);
        server.join().unwrap();
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn missing_socket_gives_a_plain_message() {
        let path = unique_socket("missing");
        let err = match Client::connect(&path, DEFAULT_TIMEOUT) {
            Ok(_) => panic!("connected to a socket that does not exist"),
            Err(e) => e,
        };
        assert_eq!(
            err.to_string(),
            format!(
                "cannot connect to {}: no such file (is vswitch running? use --socket)",
                path.display()
            )
        );
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn permission_and_refusal_messages_are_plain() {
        let path = PathBuf::from("/run/vswitch/vswitch.sock");
        let denied = ClientError::Connect {
            path: path.clone(),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert_eq!(
            denied.to_string(),
            "cannot connect to /run/vswitch/vswitch.sock: permission denied \
             (the socket is mode 0660: run as root or as a member of its group)"
        );
        let refused = ClientError::Connect {
            path,
            source: io::Error::from(io::ErrorKind::ConnectionRefused),
        };
        assert!(refused.to_string().contains("connection refused"));
        assert!(!refused.to_string().contains("os error"));
    }

    #[test]
    fn stale_socket_file_is_connection_refused() {
        // A socket file whose listener is gone, as after a crash.
        let path = unique_socket("stale");
        drop(UnixListener::bind(&path).unwrap());
        let err = match Client::connect(&path, DEFAULT_TIMEOUT) {
            Ok(_) => panic!("connected to a dead socket"),
            Err(e) => e,
        };
        assert!(err.to_string().contains("connection refused"), "{err}");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn raw_exchange_is_verbatim() {
        let path = unique_socket("raw");
        let server = serve_once(
            &path,
            Some("{\"version\":1,\"ok\":false,\"error\":\"bad\"}".into()),
        );
        let mut client = Client::connect(&path, DEFAULT_TIMEOUT).unwrap();
        let reply = client.exchange("{not json").unwrap();
        assert_eq!(reply, "{\"version\":1,\"ok\":false,\"error\":\"bad\"}");
        assert_eq!(server.join().unwrap(), "{not json\n");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn close_without_reply_is_reported() {
        let path = unique_socket("closed");
        let server = serve_once(&path, None);
        let mut client = Client::connect(&path, DEFAULT_TIMEOUT).unwrap();
        // The server reads the request and hangs up without a word.
        let err = client.request(Command::Status).unwrap_err();
        assert!(matches!(err, ClientError::Closed { .. }), "{err:?}");
        server.join().unwrap();
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn garbage_reply_is_a_protocol_error() {
        let path = unique_socket("garbage");
        let server = serve_once(&path, Some("hello".into()));
        let mut client = Client::connect(&path, DEFAULT_TIMEOUT).unwrap();
        let err = client.request(Command::Status).unwrap_err();
        assert!(matches!(err, ClientError::Protocol { .. }), "{err:?}");
        assert_eq!(err.exit_code(), 2);
        server.join().unwrap();
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn hung_server_times_out() {
        let path = unique_socket("hung");
        let listener = UnixListener::bind(&path).unwrap();
        let server = thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            // Hold the connection open without answering until the client
            // has given up and hung up.
            let mut sink = Vec::new();
            let _ = (&stream).read_to_end(&mut sink);
        });
        let mut client = Client::connect(&path, Duration::from_millis(200)).unwrap();
        let err = client.request(Command::Status).unwrap_err();
        assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");
        assert!(err.to_string().contains("no reply"), "{err}");
        drop(client);
        server.join().unwrap();
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn ok_without_result_is_malformed() {
        assert!(parse_response("{\"version\":1,\"ok\":true}").is_err());
        let refused = parse_response("{\"version\":1,\"ok\":false}").unwrap();
        assert!(matches!(refused, Err(ClientError::Refused(_))));
    }
}
