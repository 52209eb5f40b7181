//! Rendering of `instance-list` and `nic-list`.

use crate::render::table;
use vswitch_api::nic::{InstanceInfo, InstanceTypeInfo, NicInfo};

fn ips(list: &[std::net::IpAddr]) -> String {
    if list.is_empty() {
        return "-".into();
    }
    list.iter()
        .map(|ip| ip.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn nic_row(n: &NicInfo) -> Vec<String> {
    let a = n.attachment.as_ref();
    vec![
        a.map_or("-".into(), |a| a.device_index.to_string()),
        n.id.to_string(),
        a.map_or("-".into(), |a| a.id.clone()),
        n.mac.clone(),
        ips(&n.private_ips),
        format!(
            "{} / {}",
            n.subnet.as_deref().unwrap_or("-"),
            n.vpc.as_deref().unwrap_or("-")
        ),
        n.vni.to_string(),
        if n.source_dest_check { "on" } else { "off" }.into(),
        format!(
            "{} rules{}",
            n.firewall_rules,
            if n.security_groups.is_empty() {
                String::new()
            } else {
                format!(" ({})", n.security_groups.join(", "))
            }
        ),
        ips(&n.external_ips),
        a.and_then(|a| a.port.clone()).unwrap_or_else(|| "-".into()),
    ]
}

const NIC_HEADER: [&str; 11] = [
    "dev",
    "nic",
    "attachment",
    "mac",
    "private ips",
    "subnet / vpc",
    "vni",
    "src/dst check",
    "firewall",
    "external ips",
    "port",
];

/// `instance-list`: the types, then each instance with its NICs.
pub fn render_instances(types: &[InstanceTypeInfo], instances: &[InstanceInfo]) -> String {
    let mut out = Vec::new();
    if !types.is_empty() {
        let mut t = table(&["instance type", "max nics"], &[1]);
        for ty in types {
            t.add_row(vec![ty.name.clone(), ty.max_nics.to_string()]);
        }
        out.push(t.to_string());
    }
    if instances.is_empty() {
        out.push("(no instances)".into());
    }
    for i in instances {
        out.push(format!(
            "instance {} ({}, {}, at most {} NICs)",
            i.id,
            i.state,
            i.instance_type.as_deref().unwrap_or("no type"),
            i.max_nics
        ));
        if i.nics.is_empty() {
            out.push("(no NICs attached)".into());
            continue;
        }
        let mut t = table(&NIC_HEADER, &[0, 1, 6]);
        for n in &i.nics {
            t.add_row(nic_row(n));
        }
        out.push(t.to_string());
    }
    out.join("\n")
}

/// `nic-list`: every NIC with its status and attachment.
pub fn render_nics(nics: &[NicInfo]) -> String {
    if nics.is_empty() {
        return "(no nics)".into();
    }
    let mut header = NIC_HEADER.to_vec();
    header.push("status");
    header.push("instance");
    let mut t = table(&header, &[0, 1, 6]);
    for n in nics {
        let mut row = nic_row(n);
        row.push(n.status.clone());
        row.push(
            n.attachment
                .as_ref()
                .map_or("-".into(), |a| format!("{} ({})", a.instance, a.state)),
        );
        t.add_row(row);
    }
    t.to_string()
}
