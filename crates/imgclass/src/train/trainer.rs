//! The training loop, as its outline reads: [`Trainer::run`] → `run_phase` (freezing and
//! schedule of one phase) → `train_epoch` (the steps, ending `Done`, `Interrupted` or
//! `Diverged`) → `step`; then `end_epoch` → `validate` → keep the best weights → write the
//! run folder and the resume checkpoint.
//!
//! The trainer takes the network out of the learner's state for the fit and its `Drop` puts
//! it back, whichever way the fit ends (an error, an interrupt, a panic unwinding).
//!
//! Everything random is a function of the seed and the position in the run — the shuffling
//! generator's state is saved at each epoch start, the augmentation is seeded by (seed, epoch,
//! image), and each step's generator (mixing, the dropout key) is seeded by (seed, step) — so a
//! run resumed from any step ends with the weights an uninterrupted run ends with.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::Callback;
use super::balance::oversampled_order;
use super::checkpoint;
use super::loss::Objective;
use super::phases::{Phase, plan};
use super::report::{Ending, EpochMetrics, TrainReport};
use super::state::{Env, Kept, State, bundle_meta};
use super::trainee::{StepInput, Trainee};
use crate::config::Balance;
use crate::data::{Loader, Skipped};
use crate::error::{Error, Result};
use crate::infer::evaluate;
use crate::util::rng::{Rng, mix};

/// How one epoch's training steps ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EpochEnd {
    /// Every step ran.
    Done,
    /// An interrupt stopped it after a step.
    Interrupted,
    /// The loss became NaN or infinite.
    Diverged,
}

/// The steps of an epoch of `n` training images in batches of `bs`: the last incomplete batch
/// is dropped (fastai's `drop_last`), unless that would leave none.
pub(super) fn steps_per_epoch(n: usize, bs: usize) -> usize {
    if n >= bs { n / bs } else { 1 }
}

/// One fit of a learner's network.
pub(super) struct Trainer<'a> {
    env: &'a Env,
    state: &'a mut State,
    cb: &'a mut dyn Callback,
    /// What trains; back into `state.net` when the trainer is dropped.
    trainee: Option<Trainee>,
    objective: Objective,
    steps_per_epoch: usize,
    epochs: usize,
    started: Instant,
    epoch_started: Instant,
    /// The shuffling generator's state after this epoch's draws.
    next_rng: u64,
    /// The interrupted epoch's metrics.
    partial: Option<EpochMetrics>,
    /// Unreadable files already named.
    reported: HashSet<PathBuf>,
}

impl Drop for Trainer<'_> {
    fn drop(&mut self) {
        if let Some(trainee) = self.trainee.take() {
            self.state.net = Some(trainee.into_net());
        }
    }
}

impl<'a> Trainer<'a> {
    /// Takes the network out of `state` for the fit.
    pub fn new(env: &'a Env, state: &'a mut State, cb: &'a mut dyn Callback) -> Self {
        let net = state.net.take().expect("the learner holds its network outside `fit`");
        let steps_per_epoch = steps_per_epoch(env.data.train.len(), env.config.fit.batch_size);
        let epochs = plan(&env.config).iter().map(|p| p.epochs).sum();
        Trainer {
            env,
            next_rng: state.progress.rng,
            state,
            cb,
            trainee: Some(Trainee::Network(net)),
            objective: Objective::new(env),
            steps_per_epoch,
            epochs,
            started: Instant::now(),
            epoch_started: Instant::now(),
            partial: None,
            reported: HashSet::new(),
        }
    }

    /// Trains the epochs still ahead (none for a run that has ended) and reports.
    pub fn run(mut self) -> Result<TrainReport> {
        if let Some(dir) = &self.env.run_dir {
            dir.write_start(&self.env.config, &self.env.data)?;
        }
        let ending = match self.state.progress.ended {
            Some(ending) => ending,
            None => self.run_phases()?,
        };
        self.finish(ending)
    }

    fn run_phases(&mut self) -> Result<Ending> {
        let mut first = 0;
        for phase in plan(&self.env.config) {
            let end = first + phase.epochs;
            if self.state.progress.epochs_done < end
                && let Some(ending) = self.run_phase(&phase, first, end)?
            {
                return Ok(ending);
            }
            first = end;
        }
        Ok(Ending::Completed)
    }

    /// Trains the epochs of `phase` not yet done (`first` epochs came before it, it ends after
    /// epoch `end`); `Some` when training must stop.
    fn run_phase(&mut self, phase: &Phase, first: usize, end: usize) -> Result<Option<Ending>> {
        self.enter(phase);
        while self.state.progress.epochs_done < end {
            let epoch = self.state.progress.epochs_done + 1;
            match self.train_epoch(phase, first) {
                EpochEnd::Diverged => return Ok(Some(Ending::Diverged)),
                EpochEnd::Interrupted => {
                    self.interrupted(phase, epoch)?;
                    return Ok(Some(Ending::Interrupted));
                }
                EpochEnd::Done => self.end_epoch(phase, epoch)?,
            }
            let since_best = self.state.progress.since_best;
            if self.env.config.fit.patience.is_some_and(|p| since_best >= p) {
                self.cb.message(&format!("early stopping: no better validation loss for {since_best} epochs"));
                return Ok(Some(Ending::EarlyStopped));
            }
        }
        Ok(None)
    }

    /// Sets the network's freezing for `phase` and, when the phase trains the head on cached
    /// features, computes them.
    fn enter(&mut self, phase: &Phase) {
        let net = phase.set_freezing(self.trainee.take().expect("a trainee between phases").into_net());
        self.trainee = Some(if phase.cached {
            self.cb.message("computing the frozen body's features once; the head trains on them");
            let (trainee, skipped) = Trainee::cached(net, &self.env.data, &self.env.base);
            self.report_skipped(skipped);
            trainee
        } else {
            Trainee::Network(net)
        });
    }

    /// The epoch's batches of training-image indices, drawn from the generator state saved at
    /// the epoch's start (shuffled, or oversampled with `fit.balance`).
    fn batches(&mut self) -> Vec<Vec<usize>> {
        let env = self.env;
        let (n, bs) = (env.data.train.len(), env.config.fit.batch_size);
        let mut rng = Rng::from_state(self.state.progress.rng);
        let mut order: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut order);
        if env.config.fit.balance == Some(Balance::Oversample) {
            order = oversampled_order(&env.data.train.labels, env.data.classes.len(), &mut rng);
        }
        self.next_rng = rng.state();
        (0..self.steps_per_epoch).map(|b| order[b * bs..((b + 1) * bs).min(n)].to_vec()).collect()
    }

    /// Runs the epoch's steps not yet done.
    fn train_epoch(&mut self, phase: &Phase, first: usize) -> EpochEnd {
        let env = self.env;
        let epoch = self.state.progress.epochs_done + 1;
        if phase.probe {
            return self.probe(epoch);
        }
        let batches = self.batches();
        let todo = &batches[self.state.progress.step.min(batches.len())..];
        self.cb.epoch_start(epoch, self.epochs, todo.len());
        self.epoch_started = Instant::now();
        let mut end = EpochEnd::Done;
        if self.trainee.as_ref().is_some_and(Trainee::needs_images) {
            let augment = &env.config.transforms.augment;
            let loader = Loader::new(&env.data.train, &env.data.preprocess).on_pool(&env.pool).augmented(
                augment,
                env.config.seed,
                epoch,
            );
            loader.for_each(todo, |batch| {
                end = self.step(phase, first, StepInput::Images(batch));
                end == EpochEnd::Done
            });
        } else {
            for idx in todo {
                end = self.step(phase, first, StepInput::Cached(idx));
                if end != EpochEnd::Done {
                    break;
                }
            }
        }
        end
    }

    /// The probe's epoch: the head fitted at once on the cached features (no steps, nothing
    /// to interrupt); its training loss is the fit's.
    fn probe(&mut self, epoch: usize) -> EpochEnd {
        self.cb.epoch_start(epoch, self.epochs, 0);
        self.epoch_started = Instant::now();
        let trainee = self.trainee.as_mut().expect("a trainee during an epoch");
        let Some(fit) = trainee.probe(&self.env.task, &self.env.base) else { return EpochEnd::Done };
        let path: Vec<String> = fit
            .trials
            .iter()
            .map(|t| format!("{:.0e}: {:.4} ({} it.)", t.strength, t.valid_loss, t.iterations))
            .collect();
        self.cb.message(&format!(
            "linear probe: L2 strength {:.0e} chosen by validation loss (strength: loss, iterations: {})",
            fit.strength,
            path.join(", ")
        ));
        let p = &mut self.state.progress;
        (p.loss_sum, p.loss_count, p.lr) = (fit.train_loss, 1, 0.0);
        EpochEnd::Done
    }

    /// One optimizer step at the schedule's rates for the step's place in `phase`.
    fn step(&mut self, phase: &Phase, first: usize, input: StepInput<'_>) -> EpochEnd {
        if self.env.interrupt.load(Ordering::Relaxed) {
            return EpochEnd::Interrupted;
        }
        if let StepInput::Images(batch) = &input {
            self.report_skipped(batch.skipped.clone());
        }
        let (env, steps_per_epoch) = (self.env, self.steps_per_epoch);
        let p = &self.state.progress;
        let in_phase = (p.epochs_done - first) * steps_per_epoch + p.step;
        let rates = phase.lr(env.groups.as_deref(), in_phase, steps_per_epoch * phase.epochs);
        let head_lr = rates.head;
        // Mixing and dropout draw from a generator seeded by the step: a resumed run draws what
        // an uninterrupted one would.
        let step_seed = mix(env.config.seed, (p.epochs_done * steps_per_epoch + p.step) as u64);
        let trainee = self.trainee.take().expect("a trainee during an epoch");
        let mut rng = Rng::new(step_seed);
        let (trainee, loss) = trainee.step(&mut self.state.optim, &env.device, input, rates, &self.objective, &mut rng);
        self.trainee = Some(trainee);
        let p = &mut self.state.progress;
        p.step += 1;
        let Some(loss) = loss else { return EpochEnd::Done };
        if !loss.is_finite() {
            let (epoch, step) = (p.epochs_done + 1, p.step);
            self.cb.message(&format!(
                "the training loss became {loss} at epoch {epoch}, step {step}: the learning rate is too high \
                 (lower it); keeping the best weights before that"
            ));
            return EpochEnd::Diverged;
        }
        (p.loss_sum, p.loss_count, p.lr) = (p.loss_sum + loss as f64, p.loss_count + 1, head_lr);
        p.batch_losses.push(loss);
        self.cb.batch_end(p.step, loss, head_lr);
        EpochEnd::Done
    }

    /// Validates the finished epoch, records it, keeps the best weights, and writes the run
    /// folder and the resume checkpoint.
    fn end_epoch(&mut self, phase: &Phase, epoch: usize) -> Result<()> {
        let (m, improved) = self.validate(phase, epoch, false);
        let p = &mut self.state.progress;
        p.history.push(m.clone());
        if improved {
            (p.best, p.since_best) = (Some((epoch, m.valid_loss)), 0);
        } else {
            p.since_best += 1;
        }
        (p.epochs_done, p.step, p.loss_sum, p.loss_count, p.epoch_seconds) = (epoch, 0, 0.0, 0, 0.0);
        p.batch_losses.clear();
        p.rng = self.next_rng;
        self.cb.epoch_end(&m, improved);
        let Some(dir) = &self.env.run_dir else { return Ok(()) };
        dir.write_metrics(&self.state.progress.history)?;
        if let Some(kept) = self.state.kept.as_ref().filter(|_| improved) {
            dir.write_checkpoint(&kept.net, &bundle_meta(self.env, None))?;
        }
        self.save_resume()
    }

    /// After an interrupt: saves where training stands (mid-epoch), then validates what the
    /// epoch's finished steps trained — kept when best, so the bundle has it — without
    /// recording it as a finished epoch.
    fn interrupted(&mut self, phase: &Phase, epoch: usize) -> Result<()> {
        self.state.progress.epoch_seconds += self.epoch_started.elapsed().as_secs_f64();
        self.save_resume()?;
        let step = self.state.progress.step;
        if step > 0 {
            let (m, improved) = self.validate(phase, epoch, true);
            self.cb.epoch_end(&m, improved);
            self.partial = Some(m);
            if let Some(dir) = &self.env.run_dir {
                let mut history = self.state.progress.history.clone();
                history.extend(self.partial.clone());
                dir.write_metrics(&history)?;
            }
        }
        self.cb.message(&format!(
            "interrupted during epoch {epoch} after step {step} of {}; keeping the best weights so far",
            self.steps_per_epoch
        ));
        Ok(())
    }

    /// Validates the trainee; keeps its weights when their validation loss is the best yet.
    fn validate(&mut self, phase: &Phase, epoch: usize, partial: bool) -> (EpochMetrics, bool) {
        self.cb.validating();
        let trainee = self.trainee.as_ref().expect("a trainee during an epoch");
        let (report, net, skipped) = trainee.validate(&self.env.data, &self.env.task, &self.env.base);
        self.report_skipped(skipped);
        let p = &self.state.progress;
        let m = EpochMetrics {
            epoch,
            train_loss: p.loss_sum / p.loss_count.max(1) as f64,
            valid_loss: report.loss,
            accuracy: report.accuracy,
            error_rate: report.error_rate,
            metrics: report.metrics().into_iter().map(|(name, v)| (name.to_string(), v)).collect(),
            seconds: if partial {
                p.epoch_seconds
            } else {
                p.epoch_seconds + self.epoch_started.elapsed().as_secs_f64()
            },
            lr: p.lr,
            frozen: phase.frozen,
            partial,
            batch_losses: p.batch_losses.clone(),
        };
        let improved = self.state.kept.as_ref().is_none_or(|k| report.loss < k.report.loss);
        if improved {
            self.state.kept = Some(Kept { net, report, epoch });
        }
        (m, improved)
    }

    /// Writes the resume checkpoint of where training stands.
    fn save_resume(&self) -> Result<()> {
        let Some(dir) = &self.env.run_dir else { return Ok(()) };
        let mut progress = self.state.progress.clone();
        progress.seconds += self.started.elapsed().as_secs_f64();
        let net = self.trainee.as_ref().expect("a trainee during the fit").snapshot();
        checkpoint::write(&dir.resume_path(), &progress, &net, &self.state.optim)
    }

    /// Names each unreadable file once.
    fn report_skipped(&mut self, skipped: Vec<Skipped>) {
        for s in skipped {
            if self.reported.insert(s.path.clone()) {
                self.cb.message(&format!("warning: skipped {}: {}", s.path.display(), s.reason));
            }
        }
    }

    /// The report of the fit: the kept weights (the current ones when no epoch finished) and
    /// their validation and test metrics.
    fn finish(mut self, ending: Ending) -> Result<TrainReport> {
        if self.state.kept.is_none() {
            if ending == Ending::Diverged {
                return Err(Error::Diverged(
                    "the training loss became NaN or infinite in the first epoch; lower the learning rate".into(),
                ));
            }
            let (report, net, _) =
                self.trainee.as_ref().expect("a trainee").validate(&self.env.data, &self.env.task, &self.env.base);
            self.state.kept = Some(Kept { net, report, epoch: 0 });
        }
        if matches!(ending, Ending::Completed | Ending::EarlyStopped) && self.state.progress.ended.is_none() {
            self.state.progress.ended = Some(ending);
            self.save_resume()?;
        }
        let kept = self.state.kept.as_ref().expect("weights kept above");
        let d = &self.env.data;
        let test_metrics =
            d.test.as_ref().map(|t| evaluate(&kept.net, t, &self.env.task, &d.preprocess, &self.env.base));
        let mut history = self.state.progress.history.clone();
        history.extend(self.partial.take());
        Ok(TrainReport {
            history,
            best_epoch: kept.epoch,
            final_metrics: kept.report.clone(),
            test_metrics,
            ending,
            seconds: self.state.progress.seconds + self.started.elapsed().as_secs_f64(),
        })
    }
}
