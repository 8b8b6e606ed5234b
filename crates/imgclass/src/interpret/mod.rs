//! Understanding a model: metrics, the confusion matrix and its picture, curves.

pub mod metrics;
pub mod plot;

pub use metrics::{ClassMetrics, Confusion};
pub mod show;
