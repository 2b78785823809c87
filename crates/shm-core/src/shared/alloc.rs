//! Where each array lives in node memory: the bookkeeping of the node pool,
//! with no MPI in it.
//!
//! Every rank of a topology keeps its own [`Allocator`] and feeds it the same
//! sequence of requests (creating and closing arrays is collective, in the
//! same order on every rank), so every rank reaches the same placement with no
//! message: the allocator is deterministic, with ordered maps only and ties
//! broken by chunk id and offset.
//!
//! Memory comes in **chunks**, each one MPI shared window per node. Pooled
//! chunks hold many blocks; the first is [`CHUNK_MIN`] bytes and each new one
//! is as large as all pooled chunks together (the pool doubles), up to
//! [`CHUNK_MAX`]. A block larger than [`DEDICATED_ABOVE`] gets a chunk of its
//! own, freed as soon as the block is. Within pooled chunks a block goes to
//! the smallest free range that holds it (best fit), and freed ranges merge
//! with their free neighbours. A pooled chunk that becomes empty is kept as a
//! spare while it is the only empty one (so that arrays created and closed in
//! a loop do not create and free a window each time); a second empty chunk
//! frees the smaller of the two.

use std::collections::{BTreeMap, BTreeSet};

/// Granularity and alignment of every block: a cache line, so that no two
/// arrays share a line.
pub(crate) const LINE: usize = 64;
/// Size of the first pooled chunk.
pub(crate) const CHUNK_MIN: usize = 1 << 20;
/// Largest pooled chunk.
pub(crate) const CHUNK_MAX: usize = 64 << 20;
/// Blocks larger than this get a chunk (a window) of their own.
pub(crate) const DEDICATED_ABOVE: usize = CHUNK_MAX / 4;

/// Names a chunk; ids are never reused within a topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ChunkId(pub(crate) u64);

/// A range of one chunk, held by one array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Block {
    pub(crate) chunk: ChunkId,
    /// Byte offset in the chunk, a multiple of [`LINE`].
    pub(crate) offset: usize,
    /// Bytes, a multiple of [`LINE`].
    pub(crate) bytes: usize,
}

/// Where a new block goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// In an existing chunk, in memory that is already zero.
    Existing(Block),
    /// At the start of a chunk of `chunk_bytes` that must be created first.
    NewChunk {
        block: Block,
        chunk_bytes: usize,
        dedicated: bool,
    },
}

impl Placement {
    /// The block placed.
    pub(crate) fn block(&self) -> Block {
        match *self {
            Placement::Existing(block) | Placement::NewChunk { block, .. } => block,
        }
    }
}

/// What the pool must do once a block is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Release {
    /// The block's memory stays in the pool and must be zeroed again.
    pub(crate) zero_block: bool,
    /// This chunk holds no block any more and its window must be freed.
    pub(crate) free_chunk: Option<ChunkId>,
}

#[derive(Debug)]
struct Chunk {
    bytes: usize,
    dedicated: bool,
    /// Free ranges: offset → length.
    free: BTreeMap<usize, usize>,
    used: usize,
}

/// The placement state of one topology's node pool (identical on every rank).
#[derive(Debug, Default)]
pub(crate) struct Allocator {
    chunks: BTreeMap<ChunkId, Chunk>,
    /// Free ranges of pooled chunks as (length, chunk, offset): best fit is
    /// the first entry at or after (request, 0, 0).
    by_size: BTreeSet<(usize, ChunkId, usize)>,
    next_id: u64,
    live: u64,
    fingerprint: u64,
}

impl Allocator {
    /// Bytes of a block for `data_bytes` of data behind a `header_bytes`
    /// header, rounded up to whole lines; `None` on overflow.
    pub(crate) fn block_bytes(header_bytes: usize, data_bytes: usize) -> Option<usize> {
        header_bytes
            .checked_add(data_bytes)?
            .checked_next_multiple_of(LINE)
    }

    /// Where a block of `bytes` (a non-zero multiple of [`LINE`]) would go.
    /// Nothing changes until [`commit`](Self::commit).
    pub(crate) fn place(&self, bytes: usize) -> Placement {
        debug_assert!(bytes > 0 && bytes % LINE == 0);
        let new_block = |chunk_bytes, dedicated| Placement::NewChunk {
            block: Block {
                chunk: ChunkId(self.next_id),
                offset: 0,
                bytes,
            },
            chunk_bytes,
            dedicated,
        };
        if bytes > DEDICATED_ABOVE {
            return new_block(bytes, true);
        }
        if let Some(&(_, chunk, offset)) = self.by_size.range((bytes, ChunkId(0), 0)..).next() {
            return Placement::Existing(Block {
                chunk,
                offset,
                bytes,
            });
        }
        let grown = self.pooled_bytes().clamp(CHUNK_MIN, CHUNK_MAX);
        new_block(grown.max(bytes), false)
    }

    /// Records a placement returned by [`place`](Self::place) (after its
    /// chunk, if new, was created).
    pub(crate) fn commit(&mut self, placement: Placement) {
        let block = placement.block();
        if let Placement::NewChunk {
            chunk_bytes,
            dedicated,
            ..
        } = placement
        {
            debug_assert_eq!(block.chunk.0, self.next_id);
            self.next_id += 1;
            self.chunks.insert(
                block.chunk,
                Chunk {
                    bytes: chunk_bytes,
                    dedicated,
                    free: BTreeMap::new(),
                    used: 0,
                },
            );
            self.add_free(block.chunk, 0, chunk_bytes);
        }
        let (start, len) = {
            let chunk = &self.chunks[&block.chunk];
            let (&start, &len) = chunk
                .free
                .range(..=block.offset)
                .next_back()
                .expect("a placed block lies in a free range");
            debug_assert!(block.offset + block.bytes <= start + len);
            (start, len)
        };
        self.remove_free(block.chunk, start, len);
        if block.offset > start {
            self.add_free(block.chunk, start, block.offset - start);
        }
        let end = block.offset + block.bytes;
        if end < start + len {
            self.add_free(block.chunk, end, start + len - end);
        }
        self.chunks
            .get_mut(&block.chunk)
            .expect("chunk exists")
            .used += block.bytes;
        self.live += 1;
        self.fingerprint ^= mix(block);
    }

    /// Returns `block` to the pool.
    pub(crate) fn release(&mut self, block: Block) -> Release {
        self.live -= 1;
        self.fingerprint ^= mix(block);
        let chunk = self.chunks.get_mut(&block.chunk).expect("chunk exists");
        chunk.used -= block.bytes;
        let (empty, dedicated) = (chunk.used == 0, chunk.dedicated);
        let (mut start, mut len) = (block.offset, block.bytes);
        // Merge with the free neighbours.
        let before = chunk.free.range(..start).next_back().map(|(&o, &l)| (o, l));
        if let Some((o, l)) = before.filter(|&(o, l)| o + l == start) {
            self.remove_free(block.chunk, o, l);
            start = o;
            len += l;
        }
        let after = self.chunks[&block.chunk]
            .free
            .get(&(block.offset + block.bytes))
            .copied();
        if let Some(l) = after {
            self.remove_free(block.chunk, block.offset + block.bytes, l);
            len += l;
        }
        self.add_free(block.chunk, start, len);
        if !empty {
            return Release {
                zero_block: true,
                free_chunk: None,
            };
        }
        let victim = if dedicated {
            Some(block.chunk)
        } else {
            // Keep one empty pooled chunk; of two, free the smaller (the
            // earlier spare on a tie).
            self.chunks
                .iter()
                .filter(|(&id, c)| id != block.chunk && c.used == 0 && !c.dedicated)
                .map(|(&id, c)| (c.bytes, id))
                .next()
                .map(|(other_bytes, other)| {
                    let this_bytes = self.chunks[&block.chunk].bytes;
                    if other_bytes <= this_bytes {
                        other
                    } else {
                        block.chunk
                    }
                })
        };
        if let Some(id) = victim {
            let chunk = self.chunks.remove(&id).expect("victim exists");
            for (&o, &l) in &chunk.free {
                self.by_size.remove(&(l, id, o));
            }
        }
        Release {
            zero_block: victim != Some(block.chunk),
            free_chunk: victim,
        }
    }

    /// Blocks alive.
    pub(crate) fn live(&self) -> u64 {
        self.live
    }

    /// A digest of the live blocks: equal on two ranks when they hold the
    /// same blocks (whatever the order they were created and released in).
    pub(crate) fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Chunks (windows) held, dedicated ones included.
    pub(crate) fn chunks(&self) -> usize {
        self.chunks.len()
    }

    /// Bytes of all chunks, dedicated ones included.
    pub(crate) fn total_bytes(&self) -> usize {
        self.chunks.values().map(|c| c.bytes).sum()
    }

    fn pooled_bytes(&self) -> usize {
        self.chunks
            .values()
            .filter(|c| !c.dedicated)
            .map(|c| c.bytes)
            .sum()
    }

    fn add_free(&mut self, chunk: ChunkId, offset: usize, len: usize) {
        let state = self.chunks.get_mut(&chunk).expect("chunk exists");
        state.free.insert(offset, len);
        if !state.dedicated {
            self.by_size.insert((len, chunk, offset));
        }
    }

    fn remove_free(&mut self, chunk: ChunkId, offset: usize, len: usize) {
        let state = self.chunks.get_mut(&chunk).expect("chunk exists");
        state.free.remove(&offset);
        self.by_size.remove(&(len, chunk, offset));
    }
}

/// SplitMix64 of a block: the fingerprint is the XOR of these over the live
/// blocks.
fn mix(block: Block) -> u64 {
    let mut z = block.chunk.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ (block.offset as u64).rotate_left(21)
        ^ (block.bytes as u64).rotate_left(42);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc(a: &mut Allocator, bytes: usize) -> Placement {
        let p = a.place(bytes);
        a.commit(p);
        p
    }

    /// Every chunk is exactly covered by its free ranges and live blocks.
    fn check_cover(a: &Allocator, live: &[Block]) {
        for (&id, chunk) in &a.chunks {
            let mut ranges: Vec<(usize, usize)> =
                chunk.free.iter().map(|(&o, &l)| (o, l)).collect();
            ranges.extend(
                live.iter()
                    .filter(|b| b.chunk == id)
                    .map(|b| (b.offset, b.bytes)),
            );
            ranges.sort_unstable();
            let mut at = 0;
            for (o, l) in ranges {
                assert_eq!(o, at, "gap or overlap in chunk {id:?}");
                at += l;
            }
            assert_eq!(at, chunk.bytes);
            // Free neighbours are always merged.
            let free: Vec<_> = chunk.free.iter().collect();
            for w in free.windows(2) {
                assert_ne!(w[0].0 + w[0].1, *w[1].0, "unmerged free ranges");
            }
        }
    }

    #[test]
    fn small_blocks_share_the_first_chunk() {
        let mut a = Allocator::default();
        let p = alloc(&mut a, 320);
        assert_eq!(
            p,
            Placement::NewChunk {
                block: Block {
                    chunk: ChunkId(0),
                    offset: 0,
                    bytes: 320
                },
                chunk_bytes: CHUNK_MIN,
                dedicated: false
            }
        );
        let q = alloc(&mut a, 320);
        assert_eq!(
            q,
            Placement::Existing(Block {
                chunk: ChunkId(0),
                offset: 320,
                bytes: 320
            })
        );
        assert_eq!(a.chunks(), 1);
    }

    #[test]
    fn the_pool_doubles_and_large_blocks_get_their_own_chunk() {
        let mut a = Allocator::default();
        let mut sizes = Vec::new();
        for _ in 0..8 {
            if let Placement::NewChunk { chunk_bytes, .. } = alloc(&mut a, CHUNK_MIN) {
                sizes.push(chunk_bytes);
            }
        }
        assert_eq!(
            sizes,
            vec![CHUNK_MIN, CHUNK_MIN, 2 * CHUNK_MIN, 4 * CHUNK_MIN]
        );
        let big = DEDICATED_ABOVE + LINE;
        match alloc(&mut a, big) {
            Placement::NewChunk {
                chunk_bytes,
                dedicated,
                ..
            } => assert_eq!((chunk_bytes, dedicated), (big, true)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn freed_ranges_merge_and_are_reused_best_fit() {
        let mut a = Allocator::default();
        let blocks: Vec<Block> = (0..4).map(|_| alloc(&mut a, 128).block()).collect();
        let r = a.release(blocks[1]);
        assert_eq!(
            r,
            Release {
                zero_block: true,
                free_chunk: None
            }
        );
        a.release(blocks[2]);
        check_cover(&a, &[blocks[0], blocks[3]]);
        // The 256-byte hole is the best fit for 192 bytes, not the tail.
        let b = alloc(&mut a, 192).block();
        assert_eq!((b.chunk, b.offset), (ChunkId(0), 128));
    }

    #[test]
    fn one_empty_pooled_chunk_is_kept_and_dedicated_chunks_go_at_once() {
        let mut a = Allocator::default();
        let first = alloc(&mut a, CHUNK_MIN).block();
        let second = alloc(&mut a, CHUNK_MIN).block();
        assert_eq!(a.chunks(), 2);
        // The first empty chunk is kept as a spare, zeroed.
        assert_eq!(
            a.release(first),
            Release {
                zero_block: true,
                free_chunk: None
            }
        );
        // A second empty chunk of the same size: the older goes.
        assert_eq!(
            a.release(second),
            Release {
                zero_block: true,
                free_chunk: Some(first.chunk)
            }
        );
        assert_eq!(a.chunks(), 1);
        let big = alloc(&mut a, DEDICATED_ABOVE * 2).block();
        assert_eq!(
            a.release(big),
            Release {
                zero_block: false,
                free_chunk: Some(big.chunk)
            }
        );
        assert_eq!((a.chunks(), a.live()), (1, 0));
    }

    #[test]
    fn fingerprint_depends_on_live_blocks_not_on_order() {
        let mut a = Allocator::default();
        let mut b = Allocator::default();
        let xs: Vec<Block> = (0..3).map(|_| alloc(&mut a, 64).block()).collect();
        let ys: Vec<Block> = (0..3).map(|_| alloc(&mut b, 64).block()).collect();
        a.release(xs[0]);
        a.release(xs[2]);
        b.release(ys[2]);
        b.release(ys[0]);
        assert_eq!(a.fingerprint(), b.fingerprint());
        let mut c = Allocator::default();
        let zs: Vec<Block> = (0..3).map(|_| alloc(&mut c, 64).block()).collect();
        c.release(zs[1]);
        c.release(zs[2]);
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn random_churn_keeps_chunks_covered_and_replicas_identical() {
        // Two replicas fed the same requests, as two ranks would be.
        let mut replicas = [Allocator::default(), Allocator::default()];
        let mut live: Vec<Block> = Vec::new();
        let mut state = 12345u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            if live.is_empty() || next() % 3 != 0 {
                let bytes = Allocator::block_bytes(LINE, (next() % 5000) as usize).unwrap();
                let places: Vec<Placement> = replicas.iter().map(|a| a.place(bytes)).collect();
                assert_eq!(places[0], places[1]);
                for a in &mut replicas {
                    a.commit(places[0]);
                }
                live.push(places[0].block());
            } else {
                let block = live.swap_remove(next() as usize % live.len());
                let r0 = replicas[0].release(block);
                let r1 = replicas[1].release(block);
                assert_eq!(r0, r1);
            }
        }
        check_cover(&replicas[0], &live);
        assert_eq!(replicas[0].fingerprint(), replicas[1].fingerprint());
        for block in live.drain(..) {
            replicas[0].release(block);
        }
        assert_eq!(replicas[0].chunks(), 1, "only the spare is left");
    }
}
