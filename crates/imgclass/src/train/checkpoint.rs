//! The resume checkpoint: where training stands, the network as the last step left it and the
//! optimizer's state — everything `--resume` needs to continue a run as if it had never stopped.
//!
//! One file, `checkpoints/resume.ckpt`, rewritten atomically at the end of every epoch and when
//! training is interrupted:
//!
//! ```text
//! "imgclass-resume\n" | u64 LE header length | header JSON | network (burnpack) | optimizer (burnpack)
//! ```
//!
//! The header holds a format version, the [`Progress`], the byte lengths and an FNV-1a hash of
//! the tensors. Burnpack keeps each parameter's id, which is what the optimizer's state is
//! keyed by, so the restored optimizer finds its moments again.

use std::path::Path;

use burn::optim::ModuleOptimizer;
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

use super::report::{Ending, EpochMetrics};
use crate::error::{Error, Result};
use crate::models::Net;
use crate::util::fs::{MAX_MODEL, atomic_write, read_file};
use crate::util::rng::{FNV_OFFSET, Rng, fnv1a};

const MAGIC: &[u8] = b"imgclass-resume\n";
const FORMAT: u32 = 1;

/// Where a run stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Progress {
    /// Epochs finished.
    pub(crate) epochs_done: usize,
    /// Steps finished of the next epoch (0 at an epoch boundary).
    pub(crate) step: usize,
    /// The shuffling generator's state at the start of the next epoch.
    pub(crate) rng: u64,
    /// Sum of the training losses of the next epoch's finished steps.
    pub(crate) loss_sum: f64,
    /// How many of those steps had a loss (a batch with no readable image has none).
    pub(crate) loss_count: usize,
    /// Those losses, in order (they move into the epoch's [`EpochMetrics::batch_losses`]).
    #[serde(default)]
    pub(crate) batch_losses: Vec<f32>,
    /// Seconds spent on those steps.
    pub(crate) epoch_seconds: f64,
    /// The learning rate of the last step (the head's).
    pub(crate) lr: f64,
    /// One row per finished epoch.
    pub(crate) history: Vec<EpochMetrics>,
    /// The finished epoch with the lowest validation loss, and that loss.
    pub(crate) best: Option<(usize, f64)>,
    /// Finished epochs since the best one.
    pub(crate) since_best: usize,
    /// Wall time of the run's earlier sessions, in seconds.
    pub(crate) seconds: f64,
    /// How the run ended, once it has (a finished run resumes to its report).
    pub(crate) ended: Option<Ending>,
}

impl Progress {
    /// The start of a run seeded with `seed`.
    pub fn start(seed: u64) -> Self {
        Progress {
            epochs_done: 0,
            step: 0,
            rng: Rng::new(seed.wrapping_add(1)).state(),
            loss_sum: 0.0,
            loss_count: 0,
            batch_losses: Vec::new(),
            epoch_seconds: 0.0,
            lr: 0.0,
            history: Vec::new(),
            best: None,
            since_best: 0,
            seconds: 0.0,
            ended: None,
        }
    }
}

impl Progress {
    /// Whether this can be where a run of `epochs` epochs of `steps` steps each stands; the
    /// problem when not (a header edited, or written for another config, would otherwise
    /// train past the schedule or stop at once on every resume).
    pub(crate) fn check(&self, epochs: usize, steps: usize) -> Result<(), String> {
        let done = self.epochs_done;
        let problem = if done > epochs {
            format!("{done} epochs done of the {epochs} it trains")
        } else if self.step >= steps || (self.step > 0 && done == epochs) {
            format!("step {} of epoch {} of {epochs}, with {steps} steps an epoch", self.step, done + 1)
        } else if self.history.len() != done {
            format!("{} epochs in its history for {done} done", self.history.len())
        } else if self.best.is_some_and(|(e, _)| e == 0 || e > done) || self.since_best > done {
            format!("a best epoch that is not among the {done} done")
        } else if self.loss_count > self.step {
            format!("{} losses summed over {} steps", self.loss_count, self.step)
        } else if self.batch_losses.len() != self.loss_count {
            format!("{} step losses kept for {} summed", self.batch_losses.len(), self.loss_count)
        } else {
            return Ok(());
        };
        Err(problem)
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: u32,
    progress: Progress,
    net_bytes: usize,
    optimizer_bytes: usize,
    fnv1a: u64,
}

/// A checkpoint read back: the progress and the serialized network and optimizer.
pub(crate) struct Checkpoint {
    pub(crate) progress: Progress,
    net: Vec<u8>,
    optimizer: Vec<u8>,
}

/// Writes the checkpoint of `progress`, `net` and `optim` to `path`, atomically.
pub(crate) fn write(path: &Path, progress: &Progress, net: &Net, optim: &ModuleOptimizer) -> Result<()> {
    let mut store = BurnpackStore::from_bytes(None);
    net.save_into(&mut store).map_err(|e| Error::store(path, e))?;
    let net_bytes = store.get_bytes().map_err(|e| Error::store(path, e))?;
    let optim_bytes = optim.into_bytes().map_err(|e| Error::store(path, e))?;
    let header = Header {
        format: FORMAT,
        progress: progress.clone(),
        net_bytes: net_bytes.len(),
        optimizer_bytes: optim_bytes.len(),
        fnv1a: fnv1a(fnv1a(FNV_OFFSET, &net_bytes), &optim_bytes),
    };
    let json = serde_json::to_vec(&header).map_err(|source| Error::Json { path: path.into(), source })?;
    let mut out = Vec::with_capacity(MAGIC.len() + 8 + json.len() + net_bytes.len() + optim_bytes.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&net_bytes);
    out.extend_from_slice(&optim_bytes);
    atomic_write(path, &out)
}

/// Reads the checkpoint at `path`, checking its format and the tensors' hash.
pub(crate) fn read(path: &Path) -> Result<Checkpoint> {
    let bytes = read_file(path, MAX_MODEL)?;
    let damaged = |what: &str| Error::Resume {
        path: path.into(),
        message: format!("the checkpoint is damaged ({what}); the run cannot continue from it, start it again"),
    };
    let rest = bytes.strip_prefix(MAGIC).ok_or_else(|| damaged("not an imgclass resume checkpoint"))?;
    let len = rest.get(..8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()) as usize);
    let json = len.and_then(|n| rest.get(8..8 + n)).ok_or_else(|| damaged("truncated header"))?;
    let header: Header = serde_json::from_slice(json).map_err(|_| damaged("unreadable header"))?;
    if header.format != FORMAT {
        return Err(damaged(&format!("format {} is not {FORMAT}", header.format)));
    }
    let tensors = &rest[8 + json.len()..];
    if tensors.len() != header.net_bytes + header.optimizer_bytes || fnv1a(FNV_OFFSET, tensors) != header.fnv1a {
        return Err(damaged("the tensors do not match the header"));
    }
    let (net, optimizer) = tensors.split_at(header.net_bytes);
    Ok(Checkpoint { progress: header.progress, net: net.to_vec(), optimizer: optimizer.to_vec() })
}

impl Checkpoint {
    /// Loads the checkpoint's weights, and parameter ids, into `net`.
    pub(crate) fn load_net(&self, net: &mut Net, path: &Path) -> Result<()> {
        let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(self.net.clone())));
        let applied = net.load_from(&mut store).map_err(|e| Error::store(path, e))?;
        if !applied.missing.is_empty() || !applied.errors.is_empty() {
            return Err(Error::Resume {
                path: path.into(),
                message: format!(
                    "the checkpoint's network does not fit the run's config ({} tensors missing, {} do not fit)",
                    applied.missing.len(),
                    applied.errors.len()
                ),
            });
        }
        Ok(())
    }

    /// `optim` with the checkpoint's state.
    pub(crate) fn load_optimizer(&self, optim: ModuleOptimizer, path: &Path) -> Result<ModuleOptimizer> {
        optim.from_bytes(Bytes::from_bytes_vec(self.optimizer.clone())).map_err(|e| Error::store(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ArchKind;
    use burn::prelude::*;

    #[test]
    fn a_checkpoint_round_trips_and_a_damaged_one_is_refused() {
        let d = Device::flex().autodiff();
        let net = ArchKind::Cnn.arch().init([1, 8, 8], 3, &d).unwrap();
        let optim = crate::config::OptimizerConfig::default().init();
        let mut progress = Progress::start(1);
        progress.epochs_done = 2;
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("resume.ckpt");
        write(&p, &progress, &net, &optim).unwrap();
        let c = read(&p).unwrap();
        assert_eq!(c.progress, progress);
        let mut other = ArchKind::Cnn.arch().init([1, 8, 8], 3, &d).unwrap();
        c.load_net(&mut other, &p).unwrap();
        let x = Tensor::<4>::ones([1, 1, 8, 8], &Device::flex());
        assert_eq!(net.valid().forward(x.clone()).into_data(), other.valid().forward(x).into_data());

        let mut bytes = std::fs::read(&p).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&p, &bytes).unwrap();
        let e = read(&p).err().unwrap().to_string();
        assert!(e.contains("damaged"), "{e}");
    }

    #[test]
    fn progress_that_no_run_of_the_config_reaches_is_refused() {
        let mut p = Progress::start(1);
        assert_eq!(p.check(5, 4), Ok(()));
        p.step = 3;
        assert_eq!(p.check(5, 4), Ok(()), "interrupted before the last step of epoch 1");
        p.step = 1_000_000_000_000_000;
        assert!(p.check(5, 4).unwrap_err().contains("step 1000000000000000"));
        p.step = 0;
        p.epochs_done = 100;
        assert!(p.check(5, 4).unwrap_err().contains("100 epochs done of the 5"));
        p.epochs_done = 1;
        assert!(p.check(5, 4).unwrap_err().contains("history"));
        (p.epochs_done, p.step, p.loss_count) = (0, 2, 2);
        p.batch_losses = vec![0.5];
        assert!(p.check(5, 4).unwrap_err().contains("1 step losses kept for 2 summed"));
    }
}
