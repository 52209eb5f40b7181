//! The EC2 path layout under `/latest/meta-data/`.
//!
//! Directory listings are one entry per line, subdirectories with a trailing
//! `/`, and no newline after the last entry, as EC2 answers. A directory
//! answers with or without its trailing slash; a leaf only without. An entry
//! is listed only when it has a value, so every listed entry answers 200.

use std::fmt::Write as _;

use crate::{InstanceView, NicView};

/// A node of the tree: a directory listing or a leaf's value.
enum Node {
    /// A directory's entries, subdirectories ending in `/`.
    Dir(Vec<String>),
    /// A leaf's value.
    Leaf(String),
}

/// The body that `path` (the request target without its query) answers for
/// `view`, `None` for 404.
pub(crate) fn lookup(view: &InstanceView, path: &str) -> Option<String> {
    let rest = path.strip_prefix('/')?;
    let (rest, slash) = match rest.strip_suffix('/') {
        Some(r) => (r, true),
        None => (rest, false),
    };
    if rest.is_empty() {
        return None;
    }
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return None;
    }
    match node(view, &segments)? {
        Node::Dir(entries) => Some(entries.join("\n")),
        Node::Leaf(_) if slash => None,
        Node::Leaf(value) => Some(value),
    }
}

fn node(view: &InstanceView, segments: &[&str]) -> Option<Node> {
    match segments {
        ["latest"] => Some(dir(&["meta-data/"])),
        ["latest", "meta-data", rest @ ..] => meta_data(view, rest),
        _ => None,
    }
}

fn meta_data(view: &InstanceView, segments: &[&str]) -> Option<Node> {
    let primary = primary(view);
    let local_ipv4 = primary.and_then(|n| n.local_ipv4s.first());
    match segments {
        [] => {
            let mut entries = vec!["instance-id".to_string()];
            if local_ipv4.is_some() {
                entries.push("local-ipv4".to_string());
            }
            if primary.is_some() {
                entries.push("mac".to_string());
            }
            entries.push("network/".to_string());
            Some(Node::Dir(entries))
        }
        ["instance-id"] => Some(Node::Leaf(view.instance_id.clone())),
        ["local-ipv4"] => local_ipv4.map(|a| Node::Leaf(a.to_string())),
        ["mac"] => primary.map(|n| Node::Leaf(format_mac(&n.mac))),
        ["network"] => Some(dir(&["interfaces/"])),
        ["network", "interfaces"] => Some(dir(&["macs/"])),
        ["network", "interfaces", "macs"] => Some(Node::Dir(
            sorted_nics(view)
                .iter()
                .map(|n| format!("{}/", format_mac(&n.mac)))
                .collect(),
        )),
        ["network", "interfaces", "macs", mac, rest @ ..] => {
            let mac = parse_mac(mac)?;
            let nic = sorted_nics(view).into_iter().find(|n| n.mac == mac)?;
            nic_node(nic, rest)
        }
        _ => None,
    }
}

fn nic_node(nic: &NicView, segments: &[&str]) -> Option<Node> {
    let leaf = |name: &str| -> Option<String> {
        match name {
            "device-number" => Some(nic.device_index.to_string()),
            "interface-id" => Some(nic.interface_id.clone()),
            "ipv6s" => lines(&nic.ipv6s),
            "local-ipv4s" => lines(&nic.local_ipv4s),
            "mac" => Some(format_mac(&nic.mac)),
            "security-group-ids" => lines(&nic.security_group_ids),
            "subnet-id" => nic.subnet_id.clone(),
            "subnet-ipv4-cidr-block" => nic.subnet_ipv4_cidr_block.clone(),
            "vpc-id" => nic.vpc_id.clone(),
            _ => None,
        }
    };
    match segments {
        [] => Some(Node::Dir(
            NIC_ENTRIES
                .iter()
                .filter(|name| leaf(name).is_some())
                .map(|name| name.to_string())
                .collect(),
        )),
        [name] => leaf(name).map(Node::Leaf),
        _ => None,
    }
}

/// A NIC directory's possible entries, in EC2's (alphabetical) order.
const NIC_ENTRIES: [&str; 9] = [
    "device-number",
    "interface-id",
    "ipv6s",
    "local-ipv4s",
    "mac",
    "security-group-ids",
    "subnet-id",
    "subnet-ipv4-cidr-block",
    "vpc-id",
];

fn dir(entries: &[&str]) -> Node {
    Node::Dir(entries.iter().map(|e| e.to_string()).collect())
}

/// The instance's NICs by device index (then MAC, for a stable order).
fn sorted_nics(view: &InstanceView) -> Vec<&NicView> {
    let mut nics: Vec<&NicView> = view.nics.iter().collect();
    nics.sort_by_key(|n| (n.device_index, n.mac));
    nics
}

/// Device 0, the one whose MAC and first IPv4 the top level shows.
fn primary(view: &InstanceView) -> Option<&NicView> {
    sorted_nics(view).into_iter().find(|n| n.device_index == 0)
}

/// One value per line, `None` when there is none.
fn lines<T: std::fmt::Display>(values: &[T]) -> Option<String> {
    if values.is_empty() {
        return None;
    }
    let mut out = String::new();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = write!(out, "{v}");
    }
    Some(out)
}

/// `aa:bb:cc:dd:ee:ff`, lower-case as EC2 writes it.
pub(crate) fn format_mac(mac: &[u8; 6]) -> String {
    let mut out = String::with_capacity(17);
    for (i, b) in mac.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The MAC of a path segment, in either case.
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn view() -> InstanceView {
        InstanceView {
            instance_id: "i-1".into(),
            nics: vec![
                NicView {
                    device_index: 1,
                    mac: [2, 0, 0, 0, 0, 0xb1],
                    interface_id: "eni-b".into(),
                    local_ipv4s: vec![Ipv4Addr::new(10, 0, 1, 5)],
                    ..NicView::default()
                },
                NicView {
                    device_index: 0,
                    mac: [2, 0, 0, 0, 0, 0xa0],
                    interface_id: "eni-a".into(),
                    local_ipv4s: vec![Ipv4Addr::new(10, 0, 0, 5), Ipv4Addr::new(10, 0, 0, 6)],
                    vpc_id: Some("vpc-1".into()),
                    ..NicView::default()
                },
            ],
        }
    }

    #[test]
    fn mac_text_round_trips_and_rejects_junk() {
        let mac = [0xaa, 0xbb, 0xcc, 0x0d, 0xee, 0xff];
        assert_eq!(format_mac(&mac), "aa:bb:cc:0d:ee:ff");
        assert_eq!(parse_mac("AA:BB:CC:0D:EE:FF"), Some(mac));
        for bad in [
            "",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "a:bb:cc:dd:ee:fff",
            "zz:bb:cc:dd:ee:ff",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }

    #[test]
    fn paths_answer_like_ec2() {
        let v = view();
        assert_eq!(lookup(&v, "/latest").as_deref(), Some("meta-data/"));
        assert_eq!(
            lookup(&v, "/latest/meta-data").as_deref(),
            Some("instance-id\nlocal-ipv4\nmac\nnetwork/")
        );
        assert_eq!(
            lookup(&v, "/latest/meta-data/local-ipv4").as_deref(),
            Some("10.0.0.5")
        );
        assert_eq!(
            lookup(&v, "/latest/meta-data/mac").as_deref(),
            Some("02:00:00:00:00:a0")
        );
        assert_eq!(
            lookup(&v, "/latest/meta-data/network/interfaces/macs/").as_deref(),
            Some("02:00:00:00:00:a0/\n02:00:00:00:00:b1/")
        );
        assert_eq!(
            lookup(
                &v,
                "/latest/meta-data/network/interfaces/macs/02:00:00:00:00:a0"
            )
            .as_deref(),
            Some("device-number\ninterface-id\nlocal-ipv4s\nmac\nvpc-id")
        );
        assert_eq!(
            lookup(
                &v,
                "/latest/meta-data/network/interfaces/macs/02:00:00:00:00:a0/local-ipv4s"
            )
            .as_deref(),
            Some("10.0.0.5\n10.0.0.6")
        );
        // A leaf does not answer with a trailing slash; absent and unknown
        // entries, empty segments and the root are 404.
        for missing in [
            "/",
            "",
            "latest",
            "/latest//meta-data",
            "/latest/meta-data/instance-id/",
            "/latest/meta-data/network/interfaces/macs/02:00:00:00:00:b1/vpc-id",
            "/latest/meta-data/network/interfaces/macs/02:00:00:00:00:c2/",
            "/latest/meta-data/nope",
            "/latest/user-data",
        ] {
            assert_eq!(lookup(&v, missing), None, "{missing}");
        }
    }

    #[test]
    fn an_instance_without_device_zero_lists_no_mac_or_local_ipv4() {
        let mut v = view();
        v.nics.retain(|n| n.device_index != 0);
        assert_eq!(
            lookup(&v, "/latest/meta-data/").as_deref(),
            Some("instance-id\nnetwork/")
        );
        assert_eq!(lookup(&v, "/latest/meta-data/mac"), None);
        assert_eq!(lookup(&v, "/latest/meta-data/local-ipv4"), None);
    }
}
