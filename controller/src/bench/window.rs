//! Window accounting of one emulated switch: the sequence numbers of its PACKET_INs, which are in
//! flight and which are settled. A controller handles one switch's PACKET_INs in order, so the answer
//! to number `n` settles every number below `n`; the ones never answered were dropped.

/// Sequence numbers of one switch's PACKET_INs: which are in flight, which are settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqWindow {
    /// Number of the next PACKET_IN (the wire carries its low 32 bits).
    next: u64,
    /// Every PACKET_IN numbered at or below this one is answered or written off.
    pub settled: u64,
}

impl Default for SeqWindow {
    fn default() -> Self {
        SeqWindow { next: 1, settled: 0 }
    }
}

impl SeqWindow {
    /// Numbers the next PACKET_IN: (its number, what goes on the wire).
    pub fn issue(&mut self) -> (u64, u32) {
        let seq = self.next;
        self.next += 1;
        (seq, seq as u32)
    }

    pub fn in_flight(&self) -> u64 {
        self.next - 1 - self.settled
    }

    /// A PACKET_OUT carried `wire_seq`: that PACKET_IN and all before it are settled. Returns how many
    /// earlier ones were skipped (dropped by the controller), or `None` if `wire_seq` is a duplicate or
    /// not one in flight.
    pub fn settle(&mut self, wire_seq: u32) -> Option<u64> {
        // The answer is at most a window ahead of `settled`, so the distance modulo 2^32 is the true one.
        let ahead = u64::from(wire_seq.wrapping_sub(self.settled as u32));
        if ahead == 0 || self.settled + ahead >= self.next {
            return None;
        }
        self.settled += ahead;
        Some(ahead - 1)
    }

    /// Gives up on everything in flight; returns how many that was.
    pub fn write_off(&mut self) -> u64 {
        let n = self.in_flight();
        self.settled = self.next - 1;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_settles_in_order_and_counts_drops() {
        let mut w = SeqWindow::default();
        let wire: Vec<u32> = (0..5).map(|_| w.issue().1).collect();
        assert_eq!(wire, vec![1, 2, 3, 4, 5]);
        assert_eq!(w.in_flight(), 5);
        assert_eq!(w.settle(1), Some(0));
        assert_eq!(w.settle(4), Some(2), "2 and 3 were dropped");
        assert_eq!(w.settle(4), None, "duplicate");
        assert_eq!(w.settle(2), None, "already settled");
        assert_eq!(w.settle(9), None, "never sent");
        assert_eq!(w.in_flight(), 1);
        assert_eq!(w.write_off(), 1);
        assert_eq!(w.in_flight(), 0);
    }

    #[test]
    fn window_survives_32_bit_wraparound() {
        let mut w = SeqWindow { next: u64::from(u32::MAX), settled: u64::from(u32::MAX) - 1 };
        let (_, a) = w.issue();
        let (_, b) = w.issue();
        let (_, c) = w.issue();
        assert_eq!((a, b, c), (u32::MAX, 0, 1));
        assert_eq!(w.settle(1), Some(2));
        assert_eq!(w.settled, u64::from(u32::MAX) + 2);
        assert_eq!(w.in_flight(), 0);
    }
}
