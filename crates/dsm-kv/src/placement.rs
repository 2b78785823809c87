//! Where the elements of a variable are, and this rank's cache of it.

use crate::layout::extent_link;
use crate::state::State;
use crate::value::{Extent, Var};
use rustc_hash::FxHashMap;
use std::rc::Rc;

/// The placement of a variable: its length and its extents in list order. An
/// integer has one extent, the slot it reserves (its value lives in the
/// descriptor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placement {
    /// The number of elements.
    pub(crate) len: usize,
    /// The extents, in list order; their lengths add up to `len`.
    pub(crate) extents: Vec<Extent>,
}

impl Placement {
    /// The (host, slot) of element `index` (`index < len`).
    pub(crate) fn locate(&self, mut index: usize) -> (i32, usize) {
        for e in &self.extents {
            if index < e.len {
                return (e.host, e.start + index);
            }
            index -= e.len;
        }
        unreachable!("index checked against the length")
    }

    /// The first `keep` elements' placement, and the extents that hold the
    /// others: the list shrinks from its end, so indices `0..keep` stay
    /// where they are.
    pub(crate) fn truncate(&self, keep: usize) -> (Placement, Vec<Extent>) {
        let mut extents = Vec::new();
        let mut released = Vec::new();
        let mut offset = 0;
        for e in &self.extents {
            let kept = keep.saturating_sub(offset).min(e.len);
            if kept > 0 {
                extents.push(Extent { len: kept, ..*e });
            }
            if kept < e.len {
                released.push(Extent {
                    host: e.host,
                    start: e.start + kept,
                    len: e.len - kept,
                });
            }
            offset += e.len;
        }
        (
            Placement {
                len: keep.min(self.len),
                extents,
            },
            released,
        )
    }

    /// The descriptor words of a list with this placement: length, first
    /// extent (packed) and its length.
    pub(crate) fn list_descriptor(&self) -> [i64; 3] {
        let [first, first_len] = extent_link(self.extents.first());
        [self.len as i64, first, first_len]
    }
}

/// Placements this rank read, by (host, descriptor), each with the state key
/// it is valid for: a pinned operation whose key matches needs no read.
#[derive(Debug, Default)]
pub(crate) struct PlacementCache {
    map: FxHashMap<Slot, (State, Rc<Placement>)>,
    /// The entry found or stored last, also in `map`: a loop of operations
    /// on one variable (`modify` after `modify`) skips the hash lookup,
    /// which was a fifth of a direct `modify`.
    last: Option<(Slot, State, Rc<Placement>)>,
}

/// A descriptor: (host, index).
type Slot = (u32, u32);

impl PlacementCache {
    /// Entries kept at most; the cache starts over when it is full.
    const CAPACITY: usize = 4096;

    /// The placement of `var` under state key `key`, if cached.
    pub(crate) fn get(&mut self, var: &Var, key: State) -> Option<Rc<Placement>> {
        let slot = (var.host, var.index);
        if let Some((s, k, placement)) = &self.last {
            if *s == slot && *k == key {
                return Some(placement.clone());
            }
        }
        match self.map.get(&slot) {
            Some((k, placement)) if *k == key => {
                self.last = Some((slot, key, placement.clone()));
                Some(placement.clone())
            }
            _ => None,
        }
    }

    /// Remembers the placement of `var` under state key `key`.
    pub(crate) fn insert(&mut self, var: &Var, key: State, placement: Rc<Placement>) {
        if self.map.len() >= Self::CAPACITY {
            self.map.clear();
        }
        let slot = (var.host, var.index);
        self.last = Some((slot, key, placement.clone()));
        self.map.insert(slot, (key, placement));
    }

    /// Forgets `var`'s descriptor (it was freed).
    pub(crate) fn remove(&mut self, var: &Var) {
        let slot = (var.host, var.index);
        if self.last.as_ref().is_some_and(|(s, ..)| *s == slot) {
            self.last = None;
        }
        self.map.remove(&slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{pack_extent, NO_EXTENT};

    fn extent(host: i32, start: usize, len: usize) -> Extent {
        Extent { host, start, len }
    }

    fn three_hosts() -> Placement {
        Placement {
            len: 10,
            extents: vec![extent(2, 5, 3), extent(1, 0, 4), extent(3, 7, 3)],
        }
    }

    #[test]
    fn the_cache_answers_only_for_the_key_it_was_given() {
        let mut cache = PlacementCache::default();
        let var = |index| Var {
            host: 1,
            index,
            gen: 0,
        };
        let (a, b) = (State::from_word(1 << 40), State::from_word(2 << 40));
        cache.insert(&var(7), a, Rc::new(three_hosts()));
        let empty = Placement {
            len: 0,
            extents: Vec::new(),
        };
        cache.insert(&var(8), a, Rc::new(empty));
        // Found in the map, then as the last entry; never under another key.
        for _ in 0..2 {
            assert_eq!(cache.get(&var(7), a).map(|p| p.len), Some(10));
            assert!(cache.get(&var(7), b).is_none());
        }
        assert_eq!(cache.get(&var(8), a).map(|p| p.len), Some(0));
        // A freed descriptor is forgotten, last entry included.
        cache.remove(&var(8));
        assert!(cache.get(&var(8), a).is_none());
        assert_eq!(cache.get(&var(7), a).map(|p| p.len), Some(10));
        cache.remove(&var(7));
        assert!(cache.get(&var(7), a).is_none());
    }

    #[test]
    fn locate_walks_the_extents_in_order() {
        let p = three_hosts();
        let got: Vec<(i32, usize)> = (0..10).map(|i| p.locate(i)).collect();
        assert_eq!(
            got,
            [
                (2, 5),
                (2, 6),
                (2, 7),
                (1, 0),
                (1, 1),
                (1, 2),
                (1, 3),
                (3, 7),
                (3, 8),
                (3, 9)
            ]
        );
    }

    #[test]
    fn truncate_keeps_a_prefix_and_releases_the_rest() {
        let p = three_hosts();
        let (kept, released) = p.truncate(5);
        assert_eq!(kept.len, 5);
        assert_eq!(kept.extents, [extent(2, 5, 3), extent(1, 0, 2)]);
        assert_eq!(released, [extent(1, 2, 2), extent(3, 7, 3)]);
        let (all, none) = p.truncate(10);
        assert_eq!((all, none), (p.clone(), vec![]));
        let (empty, every) = p.truncate(0);
        assert_eq!((empty.len, empty.extents), (0, vec![]));
        assert_eq!(every, p.extents);
        // At an extent boundary, no empty extent is kept or released.
        let (kept, released) = p.truncate(3);
        assert_eq!(kept.extents, [extent(2, 5, 3)]);
        assert_eq!(released, [extent(1, 0, 4), extent(3, 7, 3)]);
    }

    #[test]
    fn list_descriptor_names_the_first_extent() {
        let p = three_hosts();
        assert_eq!(p.list_descriptor(), [10, pack_extent(&p.extents[0]), 3]);
        let empty = Placement {
            len: 0,
            extents: vec![],
        };
        assert_eq!(empty.list_descriptor(), [0, NO_EXTENT, 0]);
    }

    #[test]
    fn cache_answers_for_the_same_key_only() {
        let var = Var {
            host: 1,
            index: 2,
            gen: 3,
        };
        let key = State::from_word(5 << 40);
        let other = State::from_word(6 << 40);
        let mut cache = PlacementCache::default();
        cache.insert(&var, key, Rc::new(three_hosts()));
        assert_eq!(cache.get(&var, key).as_deref(), Some(&three_hosts()));
        assert_eq!(cache.get(&var, other), None);
        cache.remove(&var);
        assert_eq!(cache.get(&var, key), None);
    }
}
