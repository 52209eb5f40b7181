//! `vswitchctl`: command-line client of the vswitch appliance.
//!
//! Sends one request over the appliance's control socket and prints the
//! answer as tables (or as JSON with `--json`). Exit codes: 0 success,
//! 1 the appliance refused the request, 2 no usable answer (cannot connect,
//! timeout, malformed reply); usage errors keep clap's own code.

mod client;
mod render;

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vswitch_api::{Command, Response, DEFAULT_SOCKET};

use client::{Client, ClientError, DEFAULT_TIMEOUT};

/// Environment variable naming the control socket when `--socket` is absent.
const SOCKET_ENV: &str = "VSWITCH_SOCKET";

/// Control the vswitch appliance through its control socket.
#[derive(Debug, Parser)]
#[command(name = "vswitchctl", version)]
struct Cli {
    /// Control socket of the appliance [default: $VSWITCH_SOCKET, else /run/vswitch/vswitch.sock]
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,

    /// Print the result as pretty JSON instead of tables
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Sub,
}

/// The subcommands; all but `raw` map one-to-one onto [`Command`].
#[derive(Debug, Subcommand)]
enum Sub {
    /// Show versions, uptime, ports and workers
    Status,
    /// Show link state and counters of every port
    Ports,
    /// Show total and per-worker counters
    Stats,
    /// Send frames received on FROM out of TO
    PatchSet {
        /// Ingress port name
        from: String,
        /// Egress port name
        to: String,
    },
    /// Remove the patch entry of FROM, or every entry when FROM is omitted
    PatchClear {
        /// Ingress port name
        from: Option<String>,
    },
    /// List the patch table
    PatchList,
    /// Stop the appliance's workers and ports and make it exit
    Shutdown,
    /// Send JSON verbatim as one request line and print the raw reply line
    ///
    /// Exits 0 when the reply says ok, 1 when it says not ok, 2 when it is
    /// not a response at all. Meant for scripts and tests, e.g. to check
    /// that malformed requests are refused.
    #[command(hide = true)]
    Raw {
        /// The request text, sent as is
        #[arg(value_name = "JSON", allow_hyphen_values = true)]
        line: String,
    },
}

/// What a parsed command line asks for.
#[derive(Debug, PartialEq)]
enum Action {
    /// A protocol command, sent as a proper [`vswitch_api::Request`].
    Api(Command),
    /// A request line sent as is.
    Raw(String),
}

impl Sub {
    fn into_action(self) -> Action {
        Action::Api(match self {
            Sub::Status => Command::Status,
            Sub::Ports => Command::Ports,
            Sub::Stats => Command::Stats,
            Sub::PatchSet { from, to } => Command::PatchSet { from, to },
            Sub::PatchClear { from } => Command::PatchClear { from },
            Sub::PatchList => Command::PatchList,
            Sub::Shutdown => Command::Shutdown,
            Sub::Raw { line } => return Action::Raw(line),
        })
    }
}

/// The socket to use: `--socket`, else the environment variable, else the
/// built-in default. An empty variable counts as unset, since `VAR= cmd`
/// is the usual way to disable an inherited setting.
fn socket_path(flag: Option<PathBuf>, env: Option<OsString>) -> PathBuf {
    flag.or_else(|| env.filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

/// Writes `text` plus a newline to stdout. A closed pipe (`vswitchctl ports
/// | head -1`) is not an error worth reporting, so it is swallowed.
fn emit(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Reports a failure on stderr. `eprintln!` would panic if stderr were
/// closed; there is nowhere left to report that, so it is ignored.
fn complain(msg: &dyn std::fmt::Display) {
    let _ = writeln!(io::stderr(), "vswitchctl: {msg}");
}

/// Why `run` failed: the appliance's side, or our own output.
enum Failure {
    Client(ClientError),
    Output(io::Error),
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::Client(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

fn run(cli: Cli) -> Result<u8, Failure> {
    let path = socket_path(cli.socket, std::env::var_os(SOCKET_ENV));
    let mut client = Client::connect(&path, DEFAULT_TIMEOUT)?;
    match cli.command.into_action() {
        Action::Api(command) => {
            let reply = client.request(command)?;
            let text = if cli.json {
                serde_json::to_string_pretty(&reply).map_err(|e| ClientError::Protocol {
                    path: path.clone(),
                    detail: format!("cannot re-encode the result: {e}"),
                })?
            } else {
                render::render(&reply)
            };
            emit(&text)?;
            Ok(0)
        }
        Action::Raw(line) => {
            let reply = client.exchange(&line)?;
            emit(&reply)?;
            // The reply is printed whatever it says; the exit code is what
            // lets a script check the verdict without parsing it.
            Ok(match serde_json::from_str::<Response>(&reply) {
                Ok(response) if response.ok => 0,
                Ok(_) => 1,
                Err(_) => 2,
            })
        }
    }
}

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with its own code.
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Client(e)) => {
            complain(&e);
            ExitCode::from(e.exit_code())
        }
        Err(Failure::Output(e)) => {
            complain(&format_args!("cannot write the output: {e}"));
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn action(args: &[&str]) -> Action {
        let mut argv = vec!["vswitchctl"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap().command.into_action()
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn subcommands_map_to_protocol_commands() {
        assert_eq!(action(&["status"]), Action::Api(Command::Status));
        assert_eq!(action(&["ports"]), Action::Api(Command::Ports));
        assert_eq!(action(&["stats"]), Action::Api(Command::Stats));
        assert_eq!(
            action(&["patch-set", "vm1", "uplink0"]),
            Action::Api(Command::PatchSet {
                from: "vm1".into(),
                to: "uplink0".into()
            })
        );
        assert_eq!(
            action(&["patch-clear", "vm1"]),
            Action::Api(Command::PatchClear {
                from: Some("vm1".into())
            })
        );
        assert_eq!(
            action(&["patch-clear"]),
            Action::Api(Command::PatchClear { from: None })
        );
        assert_eq!(action(&["patch-list"]), Action::Api(Command::PatchList));
        assert_eq!(action(&["shutdown"]), Action::Api(Command::Shutdown));
        assert_eq!(
            action(&["raw", "{\"version\":1}"]),
            Action::Raw("{\"version\":1}".into())
        );
    }

    #[test]
    fn global_flags_parse_before_and_after_the_subcommand() {
        let cli =
            Cli::try_parse_from(["vswitchctl", "--socket", "/tmp/s", "--json", "ports"]).unwrap();
        assert_eq!(cli.socket, Some(PathBuf::from("/tmp/s")));
        assert!(cli.json);
        let cli = Cli::try_parse_from(["vswitchctl", "stats", "--json"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.socket, None);
    }

    #[test]
    fn bad_usage_is_rejected() {
        assert!(Cli::try_parse_from(["vswitchctl"]).is_err());
        assert!(Cli::try_parse_from(["vswitchctl", "patch-set", "a"]).is_err());
        assert!(Cli::try_parse_from(["vswitchctl", "patch-clear", "a", "b"]).is_err());
        assert!(Cli::try_parse_from(["vswitchctl", "frobnicate"]).is_err());
    }

    #[test]
    fn raw_is_hidden_from_help() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("patch-set"), "{help}");
        assert!(!help.contains("raw"), "{help}");
    }

    #[test]
    fn socket_precedence() {
        let flag = Some(PathBuf::from("/flag.sock"));
        let env = Some(OsString::from("/env.sock"));
        assert_eq!(
            socket_path(flag.clone(), env.clone()),
            PathBuf::from("/flag.sock")
        );
        assert_eq!(socket_path(None, env), PathBuf::from("/env.sock"));
        assert_eq!(
            socket_path(None, Some(OsString::new())),
            PathBuf::from(DEFAULT_SOCKET)
        );
        assert_eq!(socket_path(None, None), PathBuf::from(DEFAULT_SOCKET));
    }
}
