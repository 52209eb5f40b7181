//! SNAT port slices: each worker allocates from its own slice of every SNAT
//! range, so a reply's destination port names the worker holding the
//! flow, and workers never share a port.

/// Worker `w`'s slice (of `n`) of the range `first..=last`: the ports from
/// `first + floor(w * size / n)` to the next worker's first port, less one.
/// `None` when the range has fewer ports than workers and this one gets none.
#[inline]
pub fn slice_of_range((first, last): (u16, u16), w: usize, n: usize) -> Option<(u16, u16)> {
    if last < first || n == 0 || w >= n {
        return None;
    }
    let size = u64::from(last - first) + 1;
    let lo = u64::from(first) + (w as u64 * size) / n as u64;
    let hi = u64::from(first) + ((w as u64 + 1) * size) / n as u64;
    (hi > lo).then(|| (lo as u16, (hi - 1) as u16))
}

/// The worker (of `n`) whose slice of `first..=last` holds `port`; `None`
/// when the port is outside the range.
#[inline]
pub fn worker_of_port((first, last): (u16, u16), port: u16, n: usize) -> Option<usize> {
    if n == 0 || port < first || port > last {
        return None;
    }
    let size = u64::from(last - first) + 1;
    let offset = u64::from(port - first);
    Some((((offset + 1) * n as u64 - 1) / size) as usize)
}
