//! What a model answers for one image, an enum per task: the top classes (single-label),
//! the labels at or above their thresholds (multi-label), a number or several (regression),
//! a count.

use serde::Serialize;

use super::Task;
use crate::data::targets::TaskKind;

/// One class (or label) and its probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// Class name.
    pub label: String,
    /// Its probability (softmax for single-label, its own sigmoid for multi-label).
    pub probability: f32,
}

/// A model's answer for one image. Serialized without a tag: the fields say which it is
/// (`top`, `labels`, `value` or `values`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// Single-label: the most probable classes, most probable first.
    Top {
        /// The classes.
        top: Vec<Prediction>,
    },
    /// Multi-label: every label whose probability reaches its threshold, most probable first.
    Labels {
        /// The labels predicted (none is an answer too).
        labels: Vec<Prediction>,
        /// Every label's probability, in the model's label order, when asked for.
        #[serde(skip_serializing_if = "Option::is_none")]
        all: Option<Vec<Prediction>>,
    },
    /// Regression with one target.
    Value {
        /// The prediction.
        value: f32,
    },
    /// Regression with several targets: each target's prediction, in the model's order.
    Values {
        /// `(target, prediction)` pairs, serialized as an object.
        #[serde(serialize_with = "as_object")]
        values: Vec<(String, f32)>,
    },
    /// A count: the predicted rate rounded to a whole number, and the rate.
    Count {
        /// The count.
        value: u32,
        /// The expected count (the Poisson rate, or the regression's number).
        rate: f32,
    },
}

fn as_object<S: serde::Serializer>(values: &[(String, f32)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(values.len()))?;
    for (k, v) in values {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

impl Answer {
    /// The classes or labels it names, most probable first (empty for numbers).
    pub fn classes(&self) -> &[Prediction] {
        match self {
            Answer::Top { top } => top,
            Answer::Labels { labels, .. } => labels,
            _ => &[],
        }
    }
}

impl Task {
    /// The answer of one image's raw outputs `z`: the top `k` classes (single-label), the
    /// labels at their thresholds (multi-label; every probability too with `all`), or the
    /// numbers.
    pub(crate) fn answer(&self, z: &[f32], k: usize, all: bool) -> Answer {
        let a = self.answer_row(z);
        let named = |c: usize| Prediction { label: self.names[c].clone(), probability: a[c] };
        let by_probability = |mut order: Vec<usize>| {
            order.sort_by(|&x, &y| a[y].total_cmp(&a[x]));
            order.into_iter().map(named).collect::<Vec<_>>()
        };
        match self.kind {
            TaskKind::SingleLabel => {
                let mut top = by_probability((0..a.len()).collect());
                top.truncate(k.max(1));
                Answer::Top { top }
            }
            TaskKind::MultiLabel => Answer::Labels {
                labels: by_probability((0..a.len()).filter(|&c| a[c] >= self.thresholds[c]).collect()),
                all: all.then(|| (0..a.len()).map(named).collect()),
            },
            TaskKind::Count if a.len() == 1 => Answer::Count { value: a[0].round().max(0.0) as u32, rate: a[0] },
            _ if a.len() == 1 => Answer::Value { value: a[0] },
            _ => Answer::Values { values: self.names.iter().cloned().zip(a).collect() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_task_answers_in_its_own_shape_and_json() {
        let names = vec!["bag".to_string(), "coat".into(), "dress".into()];
        let single = Task::single_label(names.clone());
        let top = single.answer(&[0.0, 2.0, 1.0], 2, false);
        assert_eq!(top.classes().iter().map(|p| p.label.as_str()).collect::<Vec<_>>(), ["coat", "dress"]);
        let mut multi = Task::single_label(names);
        (multi.kind, multi.thresholds) = (TaskKind::MultiLabel, vec![0.5, 0.5, 0.9]);
        let labels = multi.answer(&[3.0, -3.0, 1.0], 1, false);
        assert_eq!(
            labels.classes().iter().map(|p| p.label.as_str()).collect::<Vec<_>>(),
            ["bag"],
            "dress is under its 0.9"
        );
        let json = serde_json::to_value(&labels).unwrap();
        assert!(json["labels"][0]["probability"].as_f64().unwrap() > 0.95 && json.get("all").is_none(), "{json}");
        let mut reg = Task::single_label(vec!["angle".into(), "size".into()]);
        (reg.kind, reg.mean, reg.std, reg.loss) =
            (TaskKind::Regression, vec![10.0, 0.0], vec![2.0, 1.0], crate::config::ValueLoss::Mse);
        let json = serde_json::to_value(reg.answer(&[1.0, -1.0], 1, false)).unwrap();
        assert_eq!(json, serde_json::json!({"values": {"angle": 12.0, "size": -1.0}}));
    }
}
