//! Where everything is in a host's window (offsets in `i64` words), and how a
//! reference to an extent is packed into one word.
//!
//! | words | content |
//! |---|---|
//! | 0, 1 | [`LOCK_NEXT`], [`LOCK_SERVING`]: the host's allocation lock |
//! | 2, 3 | [`USED_SLOTS`], [`USED_DESCRIPTORS`] |
//! | ⌈slots/64⌉ | bitmap of data slots |
//! | ⌈descriptors/64⌉ | bitmap of descriptors |
//! | [`DESC_WORDS`]·descriptors | the descriptors |
//! | 2·slots | the extent chain |
//! | slots | the data slots |

use crate::value::Extent;

/// Words 0 and 1: the allocation lock of the host, a ticket lock (next
/// ticket, ticket served), taken with fetch-and-add only: Open MPI 4.1's
/// default one-sided component crashes the target on `MPI_Compare_and_swap`
/// over shared memory, so this crate never uses it.
pub(crate) const LOCK_NEXT: usize = 0;
/// See [`LOCK_NEXT`].
pub(crate) const LOCK_SERVING: usize = 1;
/// Word 2: data slots in use on the host.
pub(crate) const USED_SLOTS: usize = 2;
/// Word 3: descriptors in use on the host.
pub(crate) const USED_DESCRIPTORS: usize = 3;
/// Words before the bitmaps.
const HEADER: usize = 4;

/// Words of a descriptor: [`STATE`], [`LEN`], then [`FIRST`] and
/// [`FIRST_LEN`] for a list, [`INT_VALUE`] and [`INT_SLOT`] for an integer.
pub(crate) const DESC_WORDS: usize = 4;
/// The state word ([`State`](crate::state::State)), at the descriptor's
/// address.
pub(crate) const STATE: usize = 0;
/// The number of elements.
pub(crate) const LEN: usize = 1;
/// A list's first extent, packed by [`pack_extent`] (or [`NO_EXTENT`]).
pub(crate) const FIRST: usize = 2;
/// The length of a list's first extent (0 for an empty list).
pub(crate) const FIRST_LEN: usize = 3;
/// An integer's value: next to the state word, so that reading an integer is
/// one get.
pub(crate) const INT_VALUE: usize = 2;
/// The data slot an integer reserves (so that capacity counts it as in the
/// seed), packed by [`pack_extent`].
pub(crate) const INT_SLOT: usize = 3;
const _: () = assert!(FIRST_LEN < DESC_WORDS && INT_SLOT < DESC_WORDS);

/// "No extent" in a packed extent reference.
pub(crate) const NO_EXTENT: i64 = -1;
/// A packed extent reference is `host << REF_SHIFT | start`.
const REF_SHIFT: u32 = 40;
/// Data slots a host may lend: a slot number must fit below [`REF_SHIFT`].
pub(crate) const MAX_SLOTS: usize = (1 << REF_SHIFT) - 1;
/// Ranks a communicator may have: a host rank must fit above [`REF_SHIFT`]
/// and keep the packed word non-negative ([`NO_EXTENT`] is negative).
pub(crate) const MAX_RANKS: i64 = (1 << (63 - REF_SHIFT)) - 1;

/// One word naming the host and the first slot of an extent (its length is
/// kept next to it).
pub(crate) fn pack_extent(e: &Extent) -> i64 {
    ((e.host as i64) << REF_SHIFT) | e.start as i64
}

/// An extent as a descriptor (words [`FIRST`], [`FIRST_LEN`]) or a chain
/// link names it: packed reference and length, or [`NO_EXTENT`] and 0.
pub(crate) fn extent_link(e: Option<&Extent>) -> [i64; 2] {
    e.map_or([NO_EXTENT, 0], |e| [pack_extent(e), e.len as i64])
}

/// The (host, start) of a word from [`pack_extent`]; `None` for
/// [`NO_EXTENT`] or any other negative word.
pub(crate) fn unpack_extent(word: i64) -> Option<(i32, usize)> {
    (word >= 0).then_some((
        (word >> REF_SHIFT) as i32,
        (word & ((1 << REF_SHIFT) - 1)) as usize,
    ))
}

/// Where each part of a host's window starts, for `slots` data slots and
/// `descriptors` descriptors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WindowLayout {
    /// Data slots per host.
    pub(crate) slots: usize,
    /// Descriptors per host.
    pub(crate) descriptors: usize,
    /// The bitmap of data slots (a set bit is a slot in use).
    pub(crate) slot_bitmap: usize,
    /// The bitmap of descriptors.
    pub(crate) descriptor_bitmap: usize,
    /// The first descriptor.
    descriptor_table: usize,
    /// The extent chain: two words per data slot, of which only those at the
    /// first slot of an extent are used: the next extent of the list
    /// (packed reference, length), or [`NO_EXTENT`].
    extent_chain: usize,
    /// The first data slot.
    data: usize,
    /// Words of the window.
    pub(crate) total: usize,
}

impl WindowLayout {
    /// The layout, or `None` when its size overflows `usize`.
    pub(crate) fn new(slots: usize, descriptors: usize) -> Option<WindowLayout> {
        let slot_bitmap = HEADER;
        let descriptor_bitmap = slot_bitmap.checked_add(slots.div_ceil(64))?;
        let descriptor_table = descriptor_bitmap.checked_add(descriptors.div_ceil(64))?;
        let extent_chain = descriptor_table.checked_add(descriptors.checked_mul(DESC_WORDS)?)?;
        let data = extent_chain.checked_add(slots.checked_mul(2)?)?;
        let total = data.checked_add(slots)?;
        Some(WindowLayout {
            slots,
            descriptors,
            slot_bitmap,
            descriptor_bitmap,
            descriptor_table,
            extent_chain,
            data,
            total,
        })
    }

    /// Words of the bitmap of data slots.
    pub(crate) fn slot_bitmap_words(&self) -> usize {
        self.slots.div_ceil(64)
    }

    /// Words of the bitmap of descriptors.
    pub(crate) fn descriptor_bitmap_words(&self) -> usize {
        self.descriptors.div_ceil(64)
    }

    /// The address of descriptor `index` (its state word).
    pub(crate) fn descriptor(&self, index: usize) -> usize {
        self.descriptor_table + DESC_WORDS * index
    }

    /// The address of the chain link kept for the extent starting at `slot`.
    pub(crate) fn chain_link(&self, slot: usize) -> usize {
        self.extent_chain + 2 * slot
    }

    /// The address of data slot `slot`.
    pub(crate) fn data_slot(&self, slot: usize) -> usize {
        self.data + slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_follow_each_other_without_overlap() {
        let l = WindowLayout::new(100, 70).unwrap();
        assert_eq!(l.slot_bitmap, 4);
        assert_eq!(l.descriptor_bitmap, 4 + 2);
        assert_eq!(l.descriptor(0), 6 + 2);
        assert_eq!(l.descriptor(69) + DESC_WORDS, l.chain_link(0));
        assert_eq!(l.chain_link(99) + 2, l.data_slot(0));
        assert_eq!(l.data_slot(100), l.total);
        assert_eq!(l.total, 4 + 2 + 2 + 4 * 70 + 2 * 100 + 100);
        assert_eq!((l.slot_bitmap_words(), l.descriptor_bitmap_words()), (2, 2));
        // The header words come before everything else.
        for word in [LOCK_NEXT, LOCK_SERVING, USED_SLOTS, USED_DESCRIPTORS] {
            assert!(word < l.slot_bitmap);
        }
        // The descriptor words are distinct for lists.
        assert_eq!(
            [STATE, LEN, FIRST, FIRST_LEN],
            [0, 1, 2, 3],
            "a list's descriptor"
        );
        assert_eq!([INT_VALUE, INT_SLOT], [2, 3], "an integer's descriptor");
    }

    #[test]
    fn sizes_that_overflow_are_refused() {
        assert!(WindowLayout::new(usize::MAX / 2, 1).is_none());
        assert!(WindowLayout::new(1, usize::MAX / 4).is_none());
        assert!(WindowLayout::new(0, 1).is_some());
    }

    #[test]
    fn extent_references_round_trip() {
        for (host, start) in [(1, 0), (7, 12345), (MAX_RANKS as i32, MAX_SLOTS)] {
            let word = pack_extent(&Extent {
                host,
                start,
                len: 3,
            });
            assert!(word >= 0);
            assert_eq!(unpack_extent(word), Some((host, start)));
        }
        assert_eq!(unpack_extent(NO_EXTENT), None);
        let e = Extent {
            host: 2,
            start: 9,
            len: 4,
        };
        assert_eq!(extent_link(Some(&e)), [pack_extent(&e), 4]);
        assert_eq!(extent_link(None), [NO_EXTENT, 0]);
    }
}
