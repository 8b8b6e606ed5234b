//! Understanding data and models by looking at them: a picture of a batch as the model sees
//! it (fastai's `show_batch`), where a convolutional network looks (Grad-CAM), the images it
//! gets most wrong (top losses), the labels that are probably wrong (clean), and what
//! convolutions do (filters, feature maps).

pub mod cam;
pub mod clean;
pub mod explain;
pub mod filters;
pub mod losses;
pub mod report;
pub mod runs;
pub mod show;
mod task_tables;

pub use cam::{CamMap, cam_layer, grad_cam};
pub use explain::{CamOptions, CamRecord, ExplainOutput, ExplainedPrediction, predict_with_cam};
pub use losses::{Interpretation, LossRow, interpret, validation_split};
pub use report::write_report;
pub use runs::{RunRow, RunTable, compare_runs, find_runs};
pub use show::save_batch_picture;
