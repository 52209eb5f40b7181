//! Turning one request line into a command, with errors a person can act on.

use serde_json::{Map, Value};
use strum::VariantNames;
use vswitch_api::state::SwitchState;
use vswitch_api::{AddrRange, Command, FwRuleSpec, Request, API_VERSION, MIN_API_VERSION};

/// The commands, as the help of a refusal lists them (derived from the API's
/// one list, so it cannot drift).
fn commands() -> String {
    Command::VARIANTS.join(", ")
}

/// Parses one request line. An error is the text of the error response.
pub fn parse_request(line: &str) -> Result<Command, String> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| format!("request is not valid JSON: {e}"))?;
    let obj = value.as_object().ok_or_else(|| {
        "request must be a JSON object such as {\"version\":2,\"command\":\"status\"}".to_string()
    })?;
    match obj.get("version") {
        None => {
            return Err(format!(
                "request has no \"version\" (this switch speaks API version {API_VERSION})"
            ))
        }
        Some(v)
            if !v
                .as_u64()
                .is_some_and(|v| (MIN_API_VERSION as u64..=API_VERSION as u64).contains(&v)) =>
        {
            return Err(format!(
                "unsupported API version {v} (this switch speaks {API_VERSION}, and answers \
                 {MIN_API_VERSION} to {API_VERSION}: send \"version\":{API_VERSION})"
            ))
        }
        Some(_) => {}
    }
    let name = match obj.get("command") {
        None => {
            return Err(format!(
                "request has no \"command\" (commands: {})",
                commands()
            ))
        }
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(format!("\"command\" must be a string, not {other}")),
    };
    let command = serde_json::from_value::<Request>(value.clone())
        .map(|r| r.command)
        .map_err(|e| {
            let msg = e.to_string();
            if msg.starts_with("unknown variant") {
                format!("unknown command {name:?} (commands: {})", commands())
            } else {
                match field_path(obj, &msg) {
                    Some((path, inner)) => format!("{name}: {path}: {inner}"),
                    None => format!("{name}: {msg}"),
                }
            }
        })?;
    // `flatten` makes serde ignore unknown fields; a typo must not pass silently.
    let known = serde_json::to_value(Request::new(command.clone())).unwrap_or(Value::Null);
    for key in obj.keys() {
        let optional = matches!(command, Command::PatchClear { .. }) && key == "from";
        if !optional && known.get(key).is_none() {
            return Err(format!("{name}: unknown field `{key}`"));
        }
    }
    Ok(command)
}

/// Where in the request the value refused with `msg` is, and the message
/// as said there: the field whose removal takes the error away (serde
/// buffers a tagged command, so it cannot say where itself), and, within a
/// field that is a document or a list, the path inside it (`state.vnics[0].
/// nic.mac`, `rules[1].ports[0]`). `None` when no one field is at fault
/// (a missing field, say).
fn field_path(obj: &Map<String, Value>, msg: &str) -> Option<(String, String)> {
    if msg.starts_with("missing field") || msg.starts_with("duplicate field") {
        return None;
    }
    let key = obj
        .keys()
        .filter(|k| !matches!(k.as_str(), "version" | "command"))
        .find(|k| {
            let mut less = obj.clone();
            less.remove(k.as_str());
            serde_json::from_value::<Request>(Value::Object(less))
                .err()
                .is_none_or(|e| e.to_string() != msg)
        })?;
    let value = obj.get(key)?.clone();
    let inner = match key.as_str() {
        "state" => within::<SwitchState>(value),
        "rules" => within::<Vec<FwRuleSpec>>(value),
        "ranges" => within::<Vec<AddrRange>>(value),
        _ => None,
    };
    Some(match inner {
        Some((path, inner)) if path.starts_with('[') => (format!("{key}{path}"), inner),
        Some((path, inner)) => (format!("{key}.{path}"), inner),
        None => (key.clone(), msg.to_string()),
    })
}

/// The path inside `value`, read as a `T`, of the value that does not
/// parse, and its message.
fn within<T: serde::de::DeserializeOwned>(value: Value) -> Option<(String, String)> {
    let e = serde_path_to_error::deserialize::<_, T>(value).err()?;
    let path = e.path().to_string();
    (path != ".").then(|| (path, e.into_inner().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_requests_parse() {
        assert_eq!(
            parse_request(r#"{"version":1,"command":"status"}"#),
            Ok(Command::Status)
        );
        assert_eq!(
            parse_request(r#"{"version":1,"command":"patch-set","from":"a","to":"b"}"#),
            Ok(Command::PatchSet {
                from: "a".into(),
                to: "b".into()
            })
        );
        assert_eq!(
            parse_request(r#"{"version":1,"command":"patch-clear"}"#),
            Ok(Command::PatchClear { from: None })
        );
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let e = parse_request("{nope").unwrap_err();
        assert!(e.starts_with("request is not valid JSON"), "{e}");
        let e = parse_request("[1]").unwrap_err();
        assert!(e.starts_with("request must be a JSON object"), "{e}");
        let e = parse_request(r#"{"command":"status"}"#).unwrap_err();
        assert!(e.contains("no \"version\""), "{e}");
        let e = parse_request(r#"{"version":7,"command":"status"}"#).unwrap_err();
        assert!(
            e.starts_with("unsupported API version 7 (this switch speaks 2"),
            "{e}"
        );
        assert_eq!(
            parse_request(r#"{"version":2,"command":"export"}"#),
            Ok(Command::Export)
        );
        let e = parse_request(r#"{"version":1}"#).unwrap_err();
        assert!(e.contains("no \"command\""), "{e}");
        let e = parse_request(r#"{"version":1,"command":"reboot"}"#).unwrap_err();
        assert!(e.starts_with("unknown command \"reboot\""), "{e}");
        let e = parse_request(r#"{"version":1,"command":"patch-set","from":"a"}"#).unwrap_err();
        assert_eq!(e, "patch-set: missing field `to`");
        let e = parse_request(r#"{"version":1,"command":"status","extra":1}"#).unwrap_err();
        assert!(e.contains("extra"), "{e}");
    }

    /// The internet-gateway requests as socket lines: a good one parses to its
    /// command, a misspelt command names its neighbours, a missing field is named.
    #[test]
    fn igw_requests_parse_from_socket_lines() {
        use vswitch_api::Command;
        assert_eq!(
            parse_request(r#"{"version":1,"command":"igw-assign","id":1,"range":"10.77.77.0/28"}"#),
            Ok(Command::IgwAssign {
                id: 1,
                pool: None,
                range: Some("10.77.77.0/28".parse().unwrap())
            })
        );
        let e = parse_request(r#"{"version":1,"command":"igw-make","id":1}"#).unwrap_err();
        assert!(e.contains("igw-create") && e.contains("v2b-set"), "{e}");
        let e =
            parse_request(r#"{"version":1,"command":"v2b-set","prefix":"0.0.0.0/0"}"#).unwrap_err();
        assert!(e.contains("missing field `endpoints`"), "{e}");
    }

    /// A value that does not parse is refused with its type's message and
    /// the path of the field, however deep.
    #[test]
    fn bad_values_are_named_by_their_path() {
        for (line, want) in [
            (
                r#"{"version":2,"command":"v2p-set","vni":100,"ip":"10.0.0.1","mac":"zz","underlay":"fd00::1"}"#,
                r#"v2p-set: mac: "zz" is not a MAC address (aa:bb:cc:dd:ee:ff)"#,
            ),
            (
                r#"{"version":2,"command":"v2p-clear","vni":16777216,"ip":"10.0.0.1"}"#,
                "v2p-clear: vni: vni 16777216 does not fit in 24 bits",
            ),
            (
                r#"{"version":2,"command":"route-add","port":"g","dest":"10.0.0.0/8","target":"gw"}"#,
                r#"route-add: target: "gw" is not one of drop, igw, igw:ID, ip:ADDR, subnet:PREFIX, nic:ID"#,
            ),
            (
                r#"{"version":2,"command":"firewall-set","port":"g","rules":[{"direction":"in","priority":1,"action":"allow"},{"direction":"in","priority":1,"action":"allow","ports":["22","x"]}]}"#,
                r#"firewall-set: rules[1].ports[1]: "x" is not a port or a range FIRST-LAST"#,
            ),
            (
                r#"{"version":2,"command":"pool-create","name":"p","ranges":["10.0.0.1","10.0.0.9-10.0.0.1"]}"#,
                r#"pool-create: ranges[1]: range "10.0.0.9-10.0.0.1" ends before it starts"#,
            ),
            (
                r#"{"version":2,"command":"apply","state":{"version":1,"role":"sled","vnics":[{"nic":{"port":"g","id":1,"vni":100,"mac":"zz","gateway_mac":"a8:40:25:00:00:01"}}]}}"#,
                r#"apply: state.vnics[0].nic.mac: "zz" is not a MAC address (aa:bb:cc:dd:ee:ff)"#,
            ),
        ] {
            assert_eq!(parse_request(line).unwrap_err(), want, "{line}");
        }
        // A missing field is no one field's fault.
        let e = parse_request(r#"{"version":2,"command":"v2p-clear","vni":1}"#).unwrap_err();
        assert_eq!(e, "v2p-clear: missing field `ip`");
    }
}
