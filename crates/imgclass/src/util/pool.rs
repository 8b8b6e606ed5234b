//! Thread pools for the workers that decode, augment and normalize images.

use crate::error::{Error, Result};

/// The most worker threads a loader may ask for.
pub(crate) const MAX_WORKERS: usize = 256;

/// Errors when `workers` is more than [`MAX_WORKERS`]; `field` names the config field.
pub(crate) fn check_workers(workers: usize, field: &'static str) -> Result<()> {
    if workers > MAX_WORKERS {
        return Err(Error::config(field, format!("must be at most {MAX_WORKERS} (0: one per core); got {workers}")));
    }
    Ok(())
}

/// A pool of `workers` threads for loaders (0: one per core, as rayon's global pool).
/// `field` names the config field that asked, for the error when the number is out of range.
pub(crate) fn worker_pool(workers: usize, field: &'static str) -> Result<rayon::ThreadPool> {
    check_workers(workers, field)?;
    rayon::ThreadPoolBuilder::new()
        .num_threads(if workers == 0 { rayon::current_num_threads() } else { workers })
        .thread_name(|i| format!("imgclass-loader-{i}"))
        .build()
        .map_err(|e| Error::config(field, format!("({workers}) cannot start its worker threads: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_workers_means_one_per_core_and_too_many_is_a_config_error() {
        assert_eq!(worker_pool(0, "w").unwrap().current_num_threads(), rayon::current_num_threads());
        assert_eq!(worker_pool(3, "w").unwrap().current_num_threads(), 3);
        let e = worker_pool(100_000, "data.loader.workers").unwrap_err().to_string();
        assert!(e.contains("data.loader.workers must be at most 256"), "{e}");
    }
}
