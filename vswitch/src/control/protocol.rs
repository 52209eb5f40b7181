//! Turning one request line into a command, with errors a person can act on.

use serde_json::Value;
use strum::VariantNames;
use vswitch_api::{Command, Request, API_VERSION, MIN_API_VERSION};

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
                format!("{name}: {msg}")
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
                range: Some("10.77.77.0/28".into())
            })
        );
        let e = parse_request(r#"{"version":1,"command":"igw-make","id":1}"#).unwrap_err();
        assert!(e.contains("igw-create") && e.contains("v2b-set"), "{e}");
        let e =
            parse_request(r#"{"version":1,"command":"v2b-set","prefix":"0.0.0.0/0"}"#).unwrap_err();
        assert!(e.contains("missing field `endpoints`"), "{e}");
    }
}
