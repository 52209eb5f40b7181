//! Generates DPDK bindings with bindgen and compiles the C shim.
//!
//! A missing prerequisite stops the build with one line naming the Debian
//! package that provides it.

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// Stops the build with a single actionable line.
fn fail(msg: &str) -> ! {
    eprintln!("error: dpdk-sys: {msg}");
    std::process::exit(1);
}

fn pkg_config(args: &[&str]) -> Option<String> {
    let out = Command::new("pkg-config").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()
}

fn main() {
    println!("cargo:rerun-if-changed=shim/shim.h");
    println!("cargo:rerun-if-changed=shim/shim.c");
    println!("cargo:rerun-if-changed=build.rs");

    if Command::new("pkg-config")
        .arg("--version")
        .output()
        .is_err()
    {
        fail("pkg-config is not installed: apt-get install pkg-config");
    }
    let version = pkg_config(&["--modversion", "libdpdk"]).unwrap_or_else(|| {
        fail(
            "DPDK was not found by pkg-config (libdpdk): apt-get install libdpdk-dev dpdk-dev dpdk",
        )
    });
    let version = version.trim().to_string();
    if !version.starts_with("22.11") {
        fail(&format!(
            "DPDK {version} found, 22.11 LTS needed: apt-get install libdpdk-dev from Debian 12"
        ));
    }
    if clang_sys::load().is_err() {
        fail("libclang was not found (bindgen needs it): apt-get install libclang-dev");
    }

    let cflags: Vec<String> = pkg_config(&["--cflags", "libdpdk"])
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let libs = pkg_config(&["--libs", "libdpdk"]).unwrap_or_default();

    // Link: every -L and -l of libdpdk; PMDs are plugins that EAL loads at run time.
    for tok in libs.split_whitespace() {
        if let Some(dir) = tok.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        } else if let Some(lib) = tok.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={lib}");
        }
    }

    let mut shim = cc::Build::new();
    shim.file("shim/shim.c").opt_level(3).warnings(false);
    for f in &cflags {
        shim.flag(f);
    }
    shim.compile("vs_shim");

    let bindings = bindgen::Builder::default()
        .header("shim/shim.h")
        .clang_args(&cflags)
        .allowlist_function("vs_.*")
        .allowlist_function("rte_eal_(init|cleanup|remote_launch|wait_lcore|mp_wait_lcore|process_type)")
        .allowlist_function("rte_eth_(dev_count_avail|dev_get_port_by_name|dev_info_get|dev_configure|rx_queue_setup|tx_queue_setup|dev_start|dev_stop|dev_close|stats_get|stats_reset|link_get_nowait|macaddr_get|dev_socket_id|dev_set_mtu|dev_get_mtu|promiscuous_enable|dev_is_valid_port|dev_get_name_by_port|find_next_owned_by|dev_adjust_nb_rx_tx_desc)")
        .allowlist_function("rte_pktmbuf_pool_create")
        .allowlist_function("rte_eal_hotplug_(add|remove)")
        .allowlist_function("rte_mempool_(free|avail_count|in_use_count)")
        .allowlist_function("rte_(socket_id|strerror|lcore_count|get_main_lcore|lcore_is_enabled|lcore_to_socket_id|dev_probe|dev_remove|dev_count)")
        .allowlist_type("rte_mbuf|rte_mempool|rte_eth_conf|rte_eth_dev_info|rte_eth_stats|rte_eth_link|rte_ether_addr|rte_eth_rxconf|rte_eth_txconf")
        .allowlist_var("RTE_ETH_(MQ_RX_RSS|MQ_RX_NONE|RSS_IP|RSS_UDP|RSS_TCP|LINK_UP|LINK_DOWN|LINK_FULL_DUPLEX|SPEED_NUM_NONE)")
        .allowlist_var("RTE_MBUF_DEFAULT_BUF_SIZE|RTE_PKTMBUF_HEADROOM|RTE_MAX_ETHPORTS|RTE_MAX_LCORE|SOCKET_ID_ANY|RTE_ETH_NAME_MAX_LEN")
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .unwrap_or_else(|e| fail(&format!("bindgen failed on the DPDK headers: {e}")));

    let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_else(|_| fail("OUT_DIR is not set")));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .unwrap_or_else(|e| fail(&format!("cannot write bindings: {e}")));
    println!("cargo:rustc-env=DPDK_VERSION={version}");
}
