//! [`WorkQueue`]: dynamic work distribution on a [`Counter`], the dynamic
//! counterpart of [`shm_core::split_indices`].

use crate::counter::{Counter, CounterOptions};
use crate::error::LockError;
use crate::words::Access;
use mpi::topology::Communicator;
use std::cell::Cell;
use std::ops::Range;

/// Hands out the indices `0..n` in chunks of `chunk`, each to whichever
/// rank asks next: dynamic load balancing for work whose cost varies, where
/// [`shm_core::split_indices`] fixes each rank's share in advance.
///
/// This is the `NXTVAL` pattern of Global Arrays and NWChem: a shared
/// [`Counter`] numbers the chunks, and every rank loops taking the next
/// number until the numbers run past the end. A fast rank simply takes more
/// chunks; a rank that is held up takes fewer. Each request is one atomic
/// fetch-and-add on the root's word, so the chunk should be large enough
/// that the work in it dwarfs one remote atomic (a few microseconds over
/// MPI, well under one with CPU atomics).
///
/// ```no_run
/// use mpi_lock::{LockError, WorkQueue};
/// let universe = mpi::initialize().unwrap();
/// let world = universe.world();
/// let tasks: Vec<f64> = (0..1000).map(f64::from).collect();
/// // Collective: every rank passes the same n and chunk.
/// let queue = WorkQueue::new(&world, tasks.len(), 16)?;
/// let mut local_sum = 0.0;
/// queue.for_each(|range| {
///     // Any rank may get any chunk; together they get each index once.
///     local_sum += tasks[range].iter().map(|x| x.sqrt()).sum::<f64>();
///     Ok::<(), LockError>(())
/// })?;
/// // Or, chunk by chunk:
/// //     while let Some(range) = queue.next_chunk()? { ... }
/// //     for range in queue.chunks() { let range = range?; ... }
/// queue.close()?; // collective
/// # Ok::<(), LockError>(())
/// ```
///
/// Every index of `0..n` is handed out exactly once over all ranks, in
/// chunks of `chunk` indices (the last one clipped at `n`), in increasing
/// order of their starts in the order the requests reach the counter. Once
/// the chunks run out, every further request on every rank returns `None`
/// (a rank that has seen the end does not ask the counter again).
///
/// The queue is used up once; for another pass over the work, create
/// another (or a bigger one: `n` is the total over all passes).
pub struct WorkQueue {
    /// Numbers the chunks handed out (start 0, step 1).
    counter: Counter<u64>,
    n: usize,
    chunk: usize,
    /// This rank has seen the end.
    exhausted: Cell<bool>,
}

impl std::fmt::Debug for WorkQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkQueue")
            .field("n", &self.n)
            .field("chunk", &self.chunk)
            .field("exhausted", &self.exhausted.get())
            .field("counter", &self.counter)
            .finish()
    }
}

impl WorkQueue {
    /// A queue of the indices `0..n` in chunks of `chunk`, its counter on
    /// rank 0 (collective over `comm`).
    ///
    /// # Errors
    /// The same [`shm_core::Error::Invalid`] on every rank when the ranks
    /// passed different `n` or `chunk`, or when `chunk` is 0; or an MPI
    /// error.
    pub fn new<C: Communicator + ?Sized>(
        comm: &C,
        n: usize,
        chunk: usize,
    ) -> Result<Self, LockError> {
        Self::options(n, chunk).create(comm)
    }

    /// The options of a new queue of `0..n` in chunks of `chunk`: the root
    /// rank and the access to the counter.
    pub fn options(n: usize, chunk: usize) -> WorkQueueOptions {
        WorkQueueOptions {
            n,
            chunk,
            counter: CounterOptions::default(),
        }
    }

    /// An in-process queue with the same interface and no MPI: it hands
    /// every chunk to this process.
    ///
    /// # Errors
    /// [`shm_core::Error::Invalid`] when `chunk` is 0.
    pub fn local(n: usize, chunk: usize) -> Result<Self, LockError> {
        check_chunk(chunk).map_err(|message| {
            LockError::Core(shm_core::Error::Invalid {
                rank: Some(0),
                message,
            })
        })?;
        Ok(Self::with_counter(Counter::local(0, 1), n, chunk))
    }

    fn with_counter(counter: Counter<u64>, n: usize, chunk: usize) -> Self {
        WorkQueue {
            counter,
            n,
            chunk,
            exhausted: Cell::new(false),
        }
    }

    /// The next chunk of `0..n` for this rank, or `None` once every chunk
    /// has been handed out (on any rank). One atomic fetch-and-add on the
    /// counter while chunks remain; none after this rank saw the end.
    ///
    /// # Errors
    /// The MPI error of the fetch-and-add.
    pub fn next_chunk(&self) -> Result<Option<Range<usize>>, LockError> {
        if self.exhausted.get() {
            return Ok(None);
        }
        let number = self.counter.next()?;
        let start = usize::try_from(number)
            .ok()
            .and_then(|k| k.checked_mul(self.chunk))
            .filter(|&start| start < self.n);
        match start {
            Some(start) => Ok(Some(start..start + self.chunk.min(self.n - start))),
            None => {
                self.exhausted.set(true);
                Ok(None)
            }
        }
    }

    /// An iterator over this rank's chunks ([`next_chunk`](Self::next_chunk)
    /// until `None`). It ends after yielding an error.
    pub fn chunks(&self) -> Chunks<'_> {
        Chunks {
            queue: self,
            done: false,
        }
    }

    /// Runs `work` on each chunk this rank gets, until the chunks run out.
    /// Stops at the first error, of `work` or of the queue, and returns it.
    ///
    /// The closure's error type `E` is the caller's (anything a
    /// [`LockError`] converts into); when nothing else fixes it, name it
    /// in the closure's `Ok`: `Ok::<(), LockError>(())`.
    pub fn for_each<E: From<LockError>>(
        &self,
        mut work: impl FnMut(Range<usize>) -> Result<(), E>,
    ) -> Result<(), E> {
        while let Some(range) = self.next_chunk()? {
            work(range)?;
        }
        Ok(())
    }

    /// The number of indices, `n`.
    pub fn len(&self) -> usize {
        self.n
    }

    /// `true` when `n` is 0.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The number of indices per chunk.
    pub fn chunk(&self) -> usize {
        self.chunk
    }

    /// The number of chunks: `n / chunk`, rounded up.
    pub fn num_chunks(&self) -> usize {
        self.n.div_ceil(self.chunk)
    }

    /// `true` for a queue made by [`WorkQueue::local`].
    pub fn is_local(&self) -> bool {
        self.counter.is_local()
    }

    /// The counter numbering the chunks (start 0, step 1): its
    /// [`value`](Counter::value) is the number of requests so far, past
    /// the end ones included.
    pub fn counter(&self) -> &Counter<u64> {
        &self.counter
    }

    /// Frees the queue (collective over its communicator; dropping it does
    /// the same).
    ///
    /// # Errors
    /// As [`Counter::close`].
    pub fn close(self) -> Result<(), LockError> {
        self.counter.close()
    }
}

/// The chunks of a [`WorkQueue`] for this rank, from [`WorkQueue::chunks`].
#[derive(Debug)]
#[must_use = "iterators do nothing unless consumed"]
pub struct Chunks<'a> {
    queue: &'a WorkQueue,
    done: bool,
}

impl Iterator for Chunks<'_> {
    type Item = Result<Range<usize>, LockError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.queue.next_chunk().transpose();
        self.done = !matches!(item, Some(Ok(_)));
        item
    }
}

impl std::iter::FusedIterator for Chunks<'_> {}

/// The options of a new [`WorkQueue`], from [`WorkQueue::options`]; every
/// rank must pass the same ones.
#[derive(Debug, Clone, Copy)]
#[must_use = "options do nothing until `create` is called"]
pub struct WorkQueueOptions {
    n: usize,
    chunk: usize,
    counter: CounterOptions,
}

impl WorkQueueOptions {
    /// The rank holding the counter (default 0).
    pub fn root(mut self, root: i32) -> Self {
        self.counter = self.counter.root(root);
        self
    }

    /// How the counter is reached (default [`Access::Auto`]).
    pub fn access(mut self, access: Access) -> Self {
        self.counter = self.counter.access(access);
        self
    }

    /// Creates the queue over `comm` (collective over `comm`).
    ///
    /// # Errors
    /// As [`WorkQueue::new`], and a root that is not a rank of `comm`.
    pub fn create<C: Communicator + ?Sized>(self, comm: &C) -> Result<WorkQueue, LockError> {
        let counter = self.counter.create_agreeing::<u64>(
            comm,
            "the work queue options",
            &[self.n as i64, self.chunk as i64],
        )?;
        // The same n and chunk everywhere now, so the same verdict; on an
        // error every rank drops (frees) the counter.
        check_chunk(self.chunk).map_err(|message| {
            LockError::Core(shm_core::Error::Invalid {
                rank: Some(0),
                message,
            })
        })?;
        Ok(WorkQueue::with_counter(counter, self.n, self.chunk))
    }
}

fn check_chunk(chunk: usize) -> Result<(), String> {
    if chunk == 0 {
        Err("the chunk of a work queue must hold at least one index".to_string())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_chunks(queue: &WorkQueue) -> Vec<Range<usize>> {
        queue.chunks().map(Result::unwrap).collect()
    }

    #[test]
    fn local_queue_covers_the_range_once() {
        for (n, chunk) in [(0, 3), (2, 5), (10, 3), (12, 4), (1, 1)] {
            let queue = WorkQueue::local(n, chunk).unwrap();
            let chunks = all_chunks(&queue);
            assert_eq!(chunks.len(), queue.num_chunks());
            let indices: Vec<usize> = chunks.iter().cloned().flatten().collect();
            assert_eq!(indices, (0..n).collect::<Vec<_>>(), "n {n} chunk {chunk}");
            assert!(chunks.iter().all(|r| r.len() <= chunk && !r.is_empty()));
            // After the end: None, again and again, without asking the counter.
            let asked = queue.counter().value().unwrap();
            assert_eq!(queue.next_chunk().unwrap(), None);
            assert_eq!(queue.next_chunk().unwrap(), None);
            assert_eq!(queue.counter().value().unwrap(), asked);
        }
    }

    #[derive(Debug, PartialEq)]
    enum Failure {
        Queue(LockError),
        Work(usize),
    }

    impl From<LockError> for Failure {
        fn from(e: LockError) -> Self {
            Failure::Queue(e)
        }
    }

    #[test]
    fn for_each_stops_at_the_first_error() {
        let queue = WorkQueue::local(10, 2).unwrap();
        let mut seen = Vec::new();
        let result = queue.for_each(|range| {
            seen.push(range.start);
            if range.start == 4 {
                Err(Failure::Work(4))
            } else {
                Ok(())
            }
        });
        assert_eq!(result, Err(Failure::Work(4)));
        assert_eq!(seen, [0, 2, 4]);
        // The rest is still there for whoever asks.
        assert_eq!(queue.next_chunk().unwrap(), Some(6..8));
    }

    #[test]
    fn huge_chunks_do_not_overflow() {
        let queue = WorkQueue::local(usize::MAX, usize::MAX / 2 + 1).unwrap();
        assert_eq!(queue.next_chunk().unwrap(), Some(0..usize::MAX / 2 + 1));
        assert_eq!(
            queue.next_chunk().unwrap(),
            Some(usize::MAX / 2 + 1..usize::MAX)
        );
        assert_eq!(queue.next_chunk().unwrap(), None);
    }

    #[test]
    fn zero_chunk_is_invalid() {
        assert!(matches!(
            WorkQueue::local(5, 0).unwrap_err(),
            LockError::Core(shm_core::Error::Invalid { .. })
        ));
    }
}
