//! The options of a pool, fixed at creation and the same on every rank.

/// How a [`Pool`](crate::Pool) is laid out over its communicator.
///
/// ```
/// let options = mpi_pool::PoolOptions::default().chunk_size(4).cores_per_task(2);
/// assert_eq!((options.driver, options.chunk_size, options.cores_per_task), (0, 4, 2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolOptions {
    /// The rank that runs the driver's code; every other rank is a worker.
    /// Default 0.
    pub driver: i32,
    /// How many tasks a worker takes per request (at least 1). Larger chunks
    /// cost fewer messages per task and balance the load less finely.
    /// Default 1.
    pub chunk_size: usize,
    /// How many worker ranks run each task together, with a communicator of
    /// their own (at least 1; it must divide the number of workers).
    /// Default 1.
    pub cores_per_task: usize,
    /// Whether [`Driver::map`](crate::Driver::map) draws a progress bar on
    /// stderr; it is drawn only when stderr is a terminal, so logs stay
    /// clean either way. Used on the driver only. Default `true`.
    pub progress: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            driver: 0,
            chunk_size: 1,
            cores_per_task: 1,
            progress: true,
        }
    }
}

impl PoolOptions {
    /// Sets [`driver`](Self::driver).
    pub fn driver(mut self, rank: i32) -> Self {
        self.driver = rank;
        self
    }

    /// Sets [`chunk_size`](Self::chunk_size).
    pub fn chunk_size(mut self, tasks: usize) -> Self {
        self.chunk_size = tasks;
        self
    }

    /// Sets [`cores_per_task`](Self::cores_per_task).
    pub fn cores_per_task(mut self, ranks: usize) -> Self {
        self.cores_per_task = ranks;
        self
    }

    /// Sets [`progress`](Self::progress).
    pub fn progress(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    /// What is wrong with these options on a communicator of `size` ranks.
    pub(crate) fn check(&self, size: i32) -> Result<(), String> {
        if size < 2 {
            return Err(format!(
                "a pool needs a driver and at least one worker, and the communicator has {size} rank(s)"
            ));
        }
        if !(0..size).contains(&self.driver) {
            return Err(format!(
                "the driver rank {} is outside the communicator of {size} ranks",
                self.driver
            ));
        }
        if self.chunk_size == 0 {
            return Err("the chunk size must be at least 1".into());
        }
        let workers = (size - 1) as usize;
        if self.cores_per_task == 0 || workers % self.cores_per_task != 0 {
            return Err(format!(
                "cores_per_task = {} does not divide the {workers} worker ranks",
                self.cores_per_task
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_each_mistake() {
        let ok = PoolOptions::default();
        assert!(ok.check(2).is_ok());
        assert!(ok.check(1).unwrap_err().contains("at least one worker"));
        assert!(ok.driver(3).check(3).unwrap_err().contains("driver rank 3"));
        assert!(ok
            .driver(-1)
            .check(3)
            .unwrap_err()
            .contains("driver rank -1"));
        assert!(ok
            .chunk_size(0)
            .check(3)
            .unwrap_err()
            .contains("chunk size"));
        assert!(ok
            .cores_per_task(0)
            .check(3)
            .unwrap_err()
            .contains("cores_per_task = 0"));
        assert!(ok
            .cores_per_task(2)
            .check(4)
            .unwrap_err()
            .contains("3 worker ranks"));
        assert!(ok.cores_per_task(2).check(5).is_ok());
    }
}
