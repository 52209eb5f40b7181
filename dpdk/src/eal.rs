//! EAL initialisation and clean-up, lcore launch, and the TSC clock.

use super::DpdkError;
use std::ffi::{c_void, CString};
use std::os::raw::{c_char, c_int};

/// The initialised Environment Abstraction Layer. Dropping it runs `rte_eal_cleanup`.
///
/// Create one per process, before any port or mempool, and drop it last.
pub struct Eal {
    _private: (),
}

impl Eal {
    /// Runs `rte_eal_init` with `args` (the program name first, as in `argv`).
    pub fn init(args: &[String]) -> Result<Eal, DpdkError> {
        let cargs: Vec<CString> = args
            .iter()
            .map(|a| CString::new(a.as_str()))
            .collect::<Result<_, _>>()
            .map_err(|_| DpdkError {
                op: "rte_eal_init".into(),
                code: -22,
                msg: "an EAL argument contains a NUL byte".into(),
            })?;
        // EAL may keep pointers into argv, so the strings live for the process.
        let cargs: &'static [CString] = Box::leak(cargs.into_boxed_slice());
        let mut argv: Vec<*mut c_char> = cargs.iter().map(|c| c.as_ptr() as *mut c_char).collect();
        argv.push(std::ptr::null_mut());
        let argv: &'static mut [*mut c_char] = Box::leak(argv.into_boxed_slice());
        // SAFETY: argv holds argc valid NUL-terminated strings followed by NULL,
        // all leaked so they outlive EAL.
        let rc = unsafe { dpdk_sys::rte_eal_init(cargs.len() as c_int, argv.as_mut_ptr()) };
        if rc < 0 {
            return Err(DpdkError::last("rte_eal_init"));
        }
        Ok(Eal { _private: () })
    }

    /// The main lcore's id.
    pub fn main_lcore(&self) -> u32 {
        // SAFETY: EAL is initialised (self exists).
        unsafe { dpdk_sys::rte_get_main_lcore() }
    }

    /// Whether `lcore` is enabled in this EAL's core list.
    pub fn lcore_enabled(&self, lcore: u32) -> bool {
        // SAFETY: EAL is initialised; out-of-range ids return 0.
        unsafe { dpdk_sys::rte_lcore_is_enabled(lcore) != 0 }
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: every port, mempool and lcore job was released before the
        // Eal (the owner drops it last).
        unsafe {
            dpdk_sys::rte_eal_cleanup();
        }
    }
}

/// The calling thread's lcore id (`u32::MAX` for a non-EAL thread).
pub fn lcore_id() -> u32 {
    // SAFETY: reads a thread-local; valid on any thread.
    unsafe { dpdk_sys::vs_lcore_id() }
}

/// The TSC counter.
#[inline]
pub fn tsc_cycles() -> u64 {
    // SAFETY: reads the timestamp counter; no memory effects.
    unsafe { dpdk_sys::vs_get_tsc_cycles() }
}

/// TSC ticks per second, as EAL measured them.
pub fn tsc_hz() -> u64 {
    // SAFETY: reads a value EAL computed at init.
    unsafe { dpdk_sys::vs_get_tsc_hz() }
}

type Job = Box<dyn FnOnce() -> i32 + Send + 'static>;

unsafe extern "C" fn trampoline(arg: *mut c_void) -> c_int {
    // SAFETY: arg is the Box<Job> leaked by launch_on_lcore, taken back exactly once here.
    let job: Box<Job> = unsafe { Box::from_raw(arg as *mut Job) };
    job()
}

/// Runs `job` on worker lcore `lcore` (`rte_eal_remote_launch`).
pub fn launch_on_lcore(
    _eal: &Eal,
    lcore: u32,
    job: impl FnOnce() -> i32 + Send + 'static,
) -> Result<(), DpdkError> {
    let boxed: Box<Job> = Box::new(Box::new(job));
    let raw = Box::into_raw(boxed) as *mut c_void;
    // SAFETY: trampoline matches lcore_function_t and takes ownership of raw.
    let rc = unsafe { dpdk_sys::rte_eal_remote_launch(Some(trampoline), raw, lcore) };
    if rc != 0 {
        // SAFETY: the launch failed, so the trampoline never ran: take the job back.
        drop(unsafe { Box::from_raw(raw as *mut Job) });
        return Err(DpdkError::from_code(
            format!("rte_eal_remote_launch on lcore {lcore}"),
            rc,
        ));
    }
    Ok(())
}

/// Waits for the job on `lcore` to return, giving its return value.
pub fn wait_lcore(_eal: &Eal, lcore: u32) -> i32 {
    // SAFETY: EAL is initialised; waiting on an idle lcore returns at once.
    unsafe { dpdk_sys::rte_eal_wait_lcore(lcore) }
}
