//! Training with a learner and saving its bundle: the steps of the crate's first example.

use imgclass::bundle::Bundle;
use imgclass::config::TrainConfig;
use imgclass::data::{DataSplits, LoadOptions, Loader, Residency, Source, SplitOptions};
use imgclass::infer::log_probs;
use imgclass::models::{Arch, ArchKind, MlpConfig};
use imgclass::train::{Existing, Learner, RunDir, Silent};
use imgclass::transforms::{AugPreset, Augment, Preprocess, ResizeMode};

use super::{Record, config, splits};

#[test]
fn a_learner_fits_separable_data_and_reports_each_epoch() {
    let config = config(|c| {
        c.model.arch = Arch::Mlp(MlpConfig::new().with_hidden(vec![8]));
        (c.fit.epochs, c.fit.batch_size, c.optimizer.lr) = (4, 16, 1e-2);
    });
    let mut learner = Learner::new(splits(160), config, imgclass::default_device()).unwrap();
    let mut rec = Record::default();
    let report = learner.fit(&mut rec).unwrap();
    assert_eq!(rec.0.len(), 4);
    assert_eq!(rec.1, 4 * (120 / 16), "one callback per step, last partial batch dropped");
    assert!(report.final_metrics.accuracy > 0.95, "{:?}", report.history);
    assert!(report.history[3].train_loss < report.history[0].train_loss);
}

#[test]
fn the_saved_bundle_predicts_exactly_as_the_learner_model() {
    let t = tempfile::tempdir().unwrap();
    let config = config(|c| (c.fit.epochs, c.fit.batch_size) = (1, 8));
    let mut learner = Learner::new(splits(40), config.clone(), imgclass::default_device()).unwrap();
    learner.fit(&mut Silent).unwrap();
    let path = t.path().join("m.imgclass");
    learner.save_bundle(&path).unwrap();
    let bundle = Bundle::load(&path, &imgclass::default_device()).unwrap();
    let data = learner.data().valid();
    let a = log_probs(&learner.model(), data, learner.data().preprocess(), &imgclass::default_device());
    let b = log_probs(bundle.net(), data, bundle.meta().preprocess(), bundle.device());
    assert_eq!(a, b);
    assert_eq!(bundle.meta().labels(), ["top", "bottom"]);
    assert_eq!(bundle.meta().metrics().unwrap().best_epoch, 1);
    let mut settled = config.clone();
    settled.task.kind = Some(imgclass::data::targets::TaskKind::SingleLabel);
    assert_eq!(bundle.meta().train_config(), Some(&settled), "the bundle holds the typed config, with the task found");
}

#[test]
fn early_stopping_ends_training_once_validation_loss_stops_improving() {
    // A zero learning rate never improves after the first epoch.
    let config = config(|c| {
        c.model.arch = ArchKind::Logreg.arch();
        (c.fit.epochs, c.optimizer.lr, c.fit.patience) = (10, 1e-12, Some(2));
    });
    let mut learner = Learner::new(splits(40), config, imgclass::default_device()).unwrap();
    let report = learner.fit(&mut Silent).unwrap();
    // Epoch 1 is the best; epochs 2 and 3 do not improve on it (the weights cannot move), and
    // a patience of 2 stops there.
    let epochs: Vec<usize> = report.history.iter().map(|m| m.epoch).collect();
    assert!(report.early_stopped() && epochs == [1, 2, 3] && report.best_epoch == 1, "{epochs:?}");
}

#[test]
fn an_interrupt_still_saves_a_usable_bundle() {
    let t = tempfile::tempdir().unwrap();
    let config = config(|c| c.model.arch = ArchKind::Logreg.arch());
    let dir = RunDir::create(Some(&t.path().join("run")), Existing::Refuse).unwrap();
    let mut learner = Learner::new(splits(40), config, imgclass::default_device()).unwrap().with_run_dir(dir.clone());
    learner.interrupt_handle().store(true, std::sync::atomic::Ordering::SeqCst);
    let report = learner.fit(&mut Silent).unwrap();
    assert!(report.interrupted() && report.history.is_empty());
    assert!(Bundle::load(&dir.model_path(), &imgclass::default_device()).is_ok());
    assert!(dir.resume_path().is_file(), "an interrupted run leaves a checkpoint to resume from");
}

#[test]
fn the_learner_gets_its_trained_network_back_when_writing_the_run_folder_fails() {
    // `metrics.csv` is a folder: the first write after epoch 1 fails, even for root.
    let t = tempfile::tempdir().unwrap();
    let run = t.path().join("run");
    std::fs::create_dir_all(run.join("metrics.csv").join("blocker")).unwrap();
    let config = config(|c| (c.model.arch, c.fit.epochs) = (ArchKind::Cnn.arch(), 2));
    let dir = RunDir::create(Some(&run), Existing::Refuse).unwrap();
    let mut learner = Learner::new(splits(40), config, imgclass::default_device()).unwrap().with_run_dir(dir);
    let before = learner.num_params();
    let e = learner.fit(&mut Silent).unwrap_err().to_string();
    assert!(e.contains("metrics.csv"), "{e}");
    // The network is the trained CNN, not a placeholder: same size, and it still predicts.
    assert_eq!(learner.num_params(), before);
    let data = learner.data();
    let lp = log_probs(&learner.last_model(), data.valid(), data.preprocess(), &imgclass::default_device());
    assert_eq!(lp.values.len(), 2 * data.valid().len());
}

#[test]
fn images_streamed_from_disk_give_the_same_batches_and_statistics_as_images_kept_in_memory() {
    let t = tempfile::tempdir().unwrap();
    for i in 0..12usize {
        let class = ["a", "b"][i % 2];
        let img = image::RgbImage::from_fn(10 + (i % 3) as u32, 8, |x, y| {
            image::Rgb([(x * 20 + i as u32) as u8, (y * 30) as u8, (i * 9) as u8])
        });
        std::fs::create_dir_all(t.path().join(class)).unwrap();
        img.save(t.path().join(class).join(format!("{i}.png"))).unwrap();
    }
    let source = Source::open(t.path()).unwrap();
    let opts = SplitOptions { valid_pct: 0.25, test_pct: 0.0, seed: 1 };
    let load = |residency| {
        let l = LoadOptions { presize: Some(12), residency, memory_budget: 1 << 20 };
        DataSplits::load_with(&source, Preprocess::new(8, 8, 3, ResizeMode::Squish), opts, l, &|_, _| {}).unwrap()
    };
    let (memory, disk) = (load(Residency::Memory), load(Residency::Disk));
    assert!(!memory.train().is_streamed() && disk.train().is_streamed());
    assert_eq!(memory.preprocess(), disk.preprocess(), "normalization fitted the same way");
    assert_eq!(memory.train().size(), (12, 12), "training images are stored presized");
    let aug = Augment::preset(AugPreset::Default);
    let idx: Vec<usize> = (0..memory.train().len()).collect();
    let a = Loader::new(memory.train(), memory.preprocess()).augmented(&aug, 7, 1).batch(&idx);
    let b = Loader::new(disk.train(), disk.preprocess()).augmented(&aug, 7, 1).batch(&idx);
    assert_eq!((a.x, a.y, a.shape), (b.x, b.y, b.shape));
    assert_eq!(a.shape, [8, 3, 8, 8]);
}

#[test]
fn the_config_loads_data_at_the_size_the_images_share() {
    let data = TrainConfig::default().load(&super::source(20), &|_, _| {}).unwrap();
    assert_eq!((data.preprocess().height(), data.preprocess().width()), (4, 4));
    assert_eq!(data.train().len() + data.valid().len(), 20);
}
