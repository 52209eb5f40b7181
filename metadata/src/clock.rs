//! Between the caller's `std::time::Instant` and smoltcp's `Instant`.

use std::time::{Duration, Instant};

/// Maps caller time to smoltcp time, taking the first instant it sees as
/// smoltcp's zero (smoltcp time is signed, so earlier instants map too).
#[derive(Debug, Default)]
pub(crate) struct Clock {
    epoch: Option<Instant>,
}

impl Clock {
    /// `now` in smoltcp time.
    pub(crate) fn at(&mut self, now: Instant) -> smoltcp::time::Instant {
        let epoch = *self.epoch.get_or_insert(now);
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        if now >= epoch {
            smoltcp::time::Instant::from_micros(micros(now - epoch))
        } else {
            smoltcp::time::Instant::from_micros(-micros(epoch - now))
        }
    }

    /// smoltcp time `at` in caller time (`None` before any call to `at`, or
    /// if out of range).
    pub(crate) fn instant(&self, at: smoltcp::time::Instant) -> Option<Instant> {
        let epoch = self.epoch?;
        let micros = at.total_micros();
        let d = Duration::from_micros(micros.unsigned_abs());
        if micros >= 0 {
            epoch.checked_add(d)
        } else {
            epoch.checked_sub(d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_on_both_sides_of_the_epoch() {
        let mut clock = Clock::default();
        let t0 = Instant::now() + Duration::from_secs(10);
        assert_eq!(clock.at(t0).total_micros(), 0);
        let later = t0 + Duration::from_millis(1500);
        assert_eq!(clock.at(later).total_millis(), 1500);
        let at = clock.at(later);
        assert_eq!(clock.instant(at), Some(later));
        let earlier = t0 - Duration::from_secs(3);
        assert_eq!(clock.at(earlier).total_millis(), -3000);
        let at = clock.at(earlier);
        assert_eq!(clock.instant(at), Some(earlier));
    }
}
