//! Helpers the modules above share, so that none of them has to import another for them:
//! atomic file writes and JSON files, CSV text, base64, a seeded generator and stable hashes, SHA-256 digests,
//! thread pools, and an L-BFGS minimiser.

pub(crate) mod base64;
pub(crate) mod csv;
pub(crate) mod fs;
pub(crate) mod lbfgs;
pub(crate) mod pool;
pub(crate) mod rng;
pub(crate) mod sha256;
