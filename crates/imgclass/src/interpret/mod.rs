//! Understanding data and models by looking at them: a picture of a batch as the model sees
//! it (fastai's `show_batch`).

pub mod show;

pub use show::save_batch_picture;
