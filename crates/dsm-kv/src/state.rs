//! The state word of a descriptor, and the atomic updates the protocol makes
//! to it.
//!
//! The word lives in its host's window and is only ever changed with MPI
//! atomics (`MPI_Fetch_and_op` / `MPI_Accumulate`, never a CPU atomic): each
//! change is an [`Update`] (an operation and its operand) that the target
//! applies atomically, so several ranks can pin, flag and publish at once.
//! This module computes the updates and reads the words; it makes no MPI
//! call, and its tests pin down the bit layout and every transition.
//!
//! ```text
//! bits  0..16  pins: operations in progress that need the layout to stay put
//! bit  16      BUSY: an exclusive operation (map, filter) is in progress
//! bit  17      DEAD: a free is in progress
//! bit  18      LIVE: the descriptor holds a variable
//! bit  19      INT: the variable is an integer (its value is in the descriptor)
//! bits 20..40  version, bumped by every exclusive operation
//! bits 40..63  generation, bumped by every allocation of the descriptor
//! ```

use shm_core::window::Op;

const PIN_MASK: i64 = 0xFFFF;
const VERSION_SHIFT: u32 = 20;
const VERSION_MASK: i64 = (1 << 20) - 1;
const GENERATION_SHIFT: u32 = 40;
const GENERATION_MASK: i64 = (1 << 23) - 1;

/// Flags of a state word, alone or together (`Flags::LIVE | Flags::INT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flags(i64);

impl Flags {
    /// No flag.
    pub(crate) const NONE: Flags = Flags(0);
    /// An exclusive operation (map, filter) is in progress.
    pub(crate) const BUSY: Flags = Flags(1 << 16);
    /// A free is in progress.
    pub(crate) const DEAD: Flags = Flags(1 << 17);
    /// The descriptor holds a variable.
    pub(crate) const LIVE: Flags = Flags(1 << 18);
    /// The variable is an integer.
    pub(crate) const INT: Flags = Flags(1 << 19);
}

impl std::ops::BitOr for Flags {
    type Output = Flags;

    fn bitor(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
}

/// The state word of a descriptor: pins, flags, version and generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct State(i64);

impl State {
    /// The state of a word read from a window.
    pub(crate) fn from_word(word: i64) -> State {
        State(word)
    }

    /// Operations holding a pin.
    pub(crate) fn pins(self) -> u32 {
        (self.0 & PIN_MASK) as u32
    }

    /// `true` when any of `flags` is set.
    pub(crate) fn has(self, flags: Flags) -> bool {
        self.0 & flags.0 != 0
    }

    /// Bumped by every exclusive operation (wraps after 2^20).
    pub(crate) fn version(self) -> u32 {
        ((self.0 >> VERSION_SHIFT) & VERSION_MASK) as u32
    }

    /// Bumped by every allocation of the descriptor (wraps after 2^23 − 1,
    /// never 0, so that no handle names a descriptor that was never live).
    pub(crate) fn generation(self) -> u32 {
        ((self.0 >> GENERATION_SHIFT) & GENERATION_MASK) as u32
    }

    /// `true` when this is the live state of generation `generation`
    /// (possibly being freed, or for an instant marked so by a stale handle).
    pub(crate) fn is_live_generation(self, generation: u32) -> bool {
        self.generation() == generation && self.has(Flags::LIVE)
    }

    /// `true` when no operation pins the variable and none of `flags` is set.
    pub(crate) fn is_drained(self, flags: Flags) -> bool {
        self.pins() == 0 && !self.has(flags)
    }

    /// The state without its pins: what a layout read under this state stays
    /// valid for (same generation, same version, same kind).
    pub(crate) fn key(self) -> State {
        State(self.0 & !PIN_MASK)
    }

    /// The update that makes a free descriptor live, with the next
    /// generation and `LIVE` (and `INT` for an integer), and that generation.
    ///
    /// Only the rank holding the descriptor (from the allocator) changes its
    /// generation, and `LIVE` and `INT` are clear, so one atomic add sets
    /// them without disturbing the pins or flags that ranks with stale
    /// handles may be toggling for an instant.
    pub(crate) fn publish(self, int: bool) -> (Update, u32) {
        let old = i64::from(self.generation());
        let generation = match (old + 1) & GENERATION_MASK {
            0 => 1,
            g => g,
        };
        let flags = if int {
            Flags::LIVE | Flags::INT
        } else {
            Flags::LIVE
        };
        let delta = ((generation - old) << GENERATION_SHIFT) + flags.0;
        (Update::add(delta), generation as u32)
    }

    /// The update that ends an exclusive operation this rank holds: clears
    /// `BUSY` and bumps the version (wrapping to 0 without touching the
    /// generation), in one atomic add.
    pub(crate) fn end_exclusive(self) -> Update {
        let bump = if i64::from(self.version()) == VERSION_MASK {
            -(VERSION_MASK << VERSION_SHIFT)
        } else {
            1 << VERSION_SHIFT
        };
        Update::add(bump - Flags::BUSY.0)
    }
}

/// An atomic update of a state word: the operation the target applies and
/// its operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Update {
    /// `Sum`, `BitOr`, `BitAnd` or `NoOp`.
    pub(crate) op: Op,
    /// The operand.
    pub(crate) operand: i64,
}

impl Update {
    /// Pins the variable (one more operation that needs its layout).
    pub(crate) const PIN: Update = Update::add(1);
    /// Takes a pin back.
    pub(crate) const UNPIN: Update = Update::add(-1);
    /// Changes nothing: with fetch-and-op, an atomic read.
    pub(crate) const READ: Update = Update {
        op: Op::NoOp,
        operand: 0,
    };

    const fn add(delta: i64) -> Update {
        Update {
            op: Op::Sum,
            operand: delta,
        }
    }

    /// Sets `flags` (fetch-or: the old state says whether this rank set them).
    pub(crate) fn set(flags: Flags) -> Update {
        Update {
            op: Op::BitOr,
            operand: flags.0,
        }
    }

    /// Clears `flags`.
    pub(crate) fn clear(flags: Flags) -> Update {
        Update {
            op: Op::BitAnd,
            operand: !flags.0,
        }
    }

    /// The state after the target applied this update to `state`.
    pub(crate) fn apply(self, state: State) -> State {
        State(match self.op {
            Op::Sum => state.0.wrapping_add(self.operand),
            Op::BitOr => state.0 | self.operand,
            Op::BitAnd => state.0 & self.operand,
            Op::NoOp => state.0,
            op => unreachable!("state words are never updated with {op:?}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A descriptor as a fresh window holds it.
    const FREE: State = State(0);

    fn apply_all(state: State, updates: &[Update]) -> State {
        updates.iter().fold(state, |s, u| u.apply(s))
    }

    fn live_list() -> State {
        FREE.publish(false).0.apply(FREE)
    }

    #[test]
    fn bit_layout() {
        let (update, generation) = FREE.publish(true);
        assert_eq!(generation, 1);
        let s = update.apply(FREE);
        assert_eq!(s.0, 1 << 40 | 1 << 19 | 1 << 18);
        assert_eq!(Update::PIN.apply(s).0, s.0 + 1);
        assert_eq!(Update::set(Flags::BUSY).apply(s).0, s.0 | 1 << 16);
        assert_eq!(Update::set(Flags::DEAD).apply(s).0, s.0 | 1 << 17);
        let mapped = s.end_exclusive().apply(Update::set(Flags::BUSY).apply(s));
        assert_eq!(mapped.0, s.0 + (1 << 20));
        let s = State::from_word(0x7FFF_FFAB_CDEF_0005);
        assert_eq!(
            (s.generation(), s.version(), s.pins()),
            ((1 << 23) - 1, 0xABCDE, 5)
        );
        for flag in [Flags::BUSY, Flags::DEAD, Flags::LIVE, Flags::INT] {
            assert!(s.has(flag));
        }
    }

    #[test]
    fn publish_a_fresh_descriptor() {
        let s = live_list();
        assert!(s.is_live_generation(1));
        assert!(!s.is_live_generation(0) && !s.is_live_generation(2));
        assert!(!s.has(Flags::INT | Flags::BUSY | Flags::DEAD));
        assert_eq!((s.pins(), s.version(), s.generation()), (0, 0, 1));
        assert!(
            !FREE.is_live_generation(0),
            "a free descriptor holds nothing"
        );
    }

    #[test]
    fn pins_count_up_and_down_without_touching_the_rest() {
        let s = live_list();
        let pinned = apply_all(s, &[Update::PIN; 1000]);
        assert_eq!(pinned.pins(), 1000);
        assert_eq!(pinned.key(), s.key(), "pins are not part of the key");
        assert!(pinned.is_live_generation(1) && !pinned.has(Flags::BUSY | Flags::DEAD));
        assert!(!pinned.is_drained(Flags::NONE));
        assert_eq!(apply_all(pinned, &[Update::UNPIN; 1000]), s);
        // The most pins the field holds.
        let full = apply_all(s, &vec![Update::PIN; PIN_MASK as usize]);
        assert_eq!(full.pins(), PIN_MASK as u32);
        assert_eq!(full.key(), s.key());
    }

    #[test]
    fn exclusive_set_drain_and_clear_with_a_new_version() {
        let s = live_list();
        let old = Update::PIN.apply(s);
        let busy = Update::set(Flags::BUSY).apply(old);
        assert!(!old.has(Flags::BUSY), "the old state says this rank set it");
        assert!(busy.has(Flags::BUSY) && busy.pins() == 1);
        assert!(!busy.is_drained(Flags::NONE), "a pin is still held");
        let drained = Update::UNPIN.apply(busy);
        assert!(drained.is_drained(Flags::NONE));
        assert!(!drained.is_drained(Flags::BUSY));
        let done = drained.end_exclusive().apply(drained);
        assert!(!done.has(Flags::BUSY));
        assert_eq!(done.version(), 1);
        assert_eq!(done.generation(), 1);
        assert_ne!(
            done.key(),
            s.key(),
            "a cached layout of the old version is stale"
        );
        // Another rank's attempt finds BUSY set: not its own, it backs off.
        assert!(Update::set(Flags::BUSY).apply(busy).has(Flags::BUSY));
    }

    #[test]
    fn version_wraps_without_touching_the_generation() {
        let mut s = live_list();
        for _ in 0..VERSION_MASK {
            let busy = Update::set(Flags::BUSY).apply(s);
            s = busy.end_exclusive().apply(busy);
        }
        assert_eq!((s.version(), s.generation()), (VERSION_MASK as u32, 1));
        let busy = Update::set(Flags::BUSY).apply(s);
        let wrapped = busy.end_exclusive().apply(busy);
        assert_eq!((wrapped.version(), wrapped.generation()), (0, 1));
        assert_eq!(wrapped, live_list());
    }

    #[test]
    fn free_then_reuse_with_a_new_generation() {
        let (update, _) = FREE.publish(true);
        let s = update.apply(FREE);
        let busy = Update::set(Flags::BUSY).apply(s);
        let s = busy.end_exclusive().apply(busy);
        // free: DEAD, drain pins and BUSY, then clear.
        let dead = Update::set(Flags::DEAD).apply(s);
        assert!(
            dead.is_live_generation(1),
            "being freed, still its variable"
        );
        assert!(dead.is_drained(Flags::BUSY));
        let freed = Update::clear(Flags::LIVE | Flags::INT | Flags::DEAD).apply(dead);
        assert!(!freed.is_live_generation(1));
        assert!(!freed.has(Flags::LIVE | Flags::INT | Flags::DEAD | Flags::BUSY));
        assert_eq!(freed.generation(), 1, "kept, so that the next one differs");
        // Reuse as a list.
        let (update, generation) = freed.publish(false);
        let reused = update.apply(freed);
        assert_eq!(generation, 2);
        assert!(reused.is_live_generation(2) && !reused.is_live_generation(1));
        assert!(!reused.has(Flags::INT));
    }

    #[test]
    fn generation_wraps_to_one() {
        let last = State((GENERATION_MASK << GENERATION_SHIFT) | 123 << VERSION_SHIFT);
        let (update, generation) = last.publish(false);
        let s = update.apply(last);
        assert_eq!((generation, s.generation()), (1, 1));
        assert_eq!(s.version(), 123);
        assert!(s.0 > 0 && s.is_live_generation(1));
    }

    #[test]
    fn stale_handles_flags_and_pins_do_not_disturb() {
        let s = live_list();
        let freed =
            Update::clear(Flags::LIVE | Flags::DEAD).apply(Update::set(Flags::DEAD).apply(s));
        // A stale handle (generation 1) pins the free descriptor, and sets
        // BUSY and DEAD on it, while its new holder publishes it.
        let stale = apply_all(
            freed,
            &[
                Update::PIN,
                Update::set(Flags::BUSY),
                Update::set(Flags::DEAD),
            ],
        );
        let (update, generation) = freed.publish(false);
        let racing = update.apply(stale);
        assert!(racing.is_live_generation(generation));
        assert!(
            !racing.is_live_generation(1),
            "the stale handle sees it is stale"
        );
        assert!(
            racing.has(Flags::BUSY),
            "others see busy: retry, never freed"
        );
        // The stale handle takes back what it set.
        let after = apply_all(
            racing,
            &[
                Update::UNPIN,
                Update::clear(Flags::BUSY),
                Update::clear(Flags::DEAD),
            ],
        );
        assert_eq!(after, update.apply(freed));
        assert!(after.is_drained(Flags::BUSY | Flags::DEAD));
    }

    #[test]
    fn read_changes_nothing() {
        let s = Update::PIN.apply(live_list());
        assert_eq!(Update::READ.apply(s), s);
    }
}
