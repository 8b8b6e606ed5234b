//! Evaluating a bundle on labelled data, with the class names matched by name and a guard
//! against scoring a model on the data it was trained from.

use super::Bundle;
use crate::data::{Skipped, Source};
use crate::error::{Error, Result};
use crate::train::{EvalReport, evaluate};

/// Class names match ignoring case and punctuation, so a folder `T-shirt_top` is the class
/// `T-shirt/top` (a folder name cannot hold `/`).
fn same_name(a: &str, b: &str) -> bool {
    let key = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>();
    key(a) == key(b)
}

impl Bundle {
    /// Errors when `source` shares a part with the model's training or validation data.
    pub fn check_not_training_data(&self, source: &Source) -> Result<()> {
        let Some(info) = &self.meta.data else { return Ok(()) };
        if source.part_fingerprints().iter().any(|f| info.fingerprints.contains(f)) {
            return Err(Error::Leakage(format!(
                "{}: this model was trained on this data (from {}); its score here would not measure anything. \
                 Evaluate on held-out data (for a model trained on the bundled Fashion-MNIST sample: train on \
                 /usr/share/datasets/fashion-mnist instead), or pass --allow-training-data to see it anyway",
                source.root.display(),
                info.source
            )));
        }
        Ok(())
    }

    /// Evaluates every image of `source`. Its classes must be among the model's labels.
    pub fn evaluate_source(&self, source: &Source, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<(EvalReport, Vec<Skipped>)> {
        let mut map = Vec::with_capacity(source.classes.len());
        for class in &source.classes {
            let exact = self.meta.labels.iter().position(|l| l == class);
            match exact.or_else(|| self.meta.labels.iter().position(|l| same_name(l, class))) {
                Some(i) => map.push(i),
                None => {
                    return Err(Error::BadDataset {
                        path: source.root.clone(),
                        message: format!(
                            "class {class:?} is not one the model knows ({}); evaluate on data with the model's classes",
                            self.meta.labels.join(", ")
                        ),
                    });
                }
            }
        }
        let all: Vec<usize> = (0..source.items.len()).collect();
        let (mut data, mut skipped, _) = source.load(&all, &self.meta.preprocess, progress);
        skipped.splice(0..0, source.problems.iter().cloned());
        for l in &mut data.labels {
            *l = map[*l];
        }
        if data.is_empty() {
            return Err(Error::BadDataset { path: source.root.clone(), message: "no readable image to evaluate".into() });
        }
        Ok((evaluate(&self.net, &data, &self.meta.labels, &self.meta.preprocess, &self.device), skipped))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn folder_safe_spellings_match_their_class_names() {
        assert!(super::same_name("T-shirt/top", "T-shirt_top"));
        assert!(super::same_name("Ankle boot", "ankle_boot"));
        assert!(!super::same_name("Shirt", "T-shirt_top"));
    }
}
