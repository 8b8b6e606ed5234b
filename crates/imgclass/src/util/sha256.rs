//! SHA-256 digests, to check downloaded files against their published digest.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::util::fs::open_regular;

/// The SHA-256 of the file at `path`, as lowercase hex.
pub(crate) fn sha256_file(path: &Path) -> Result<String> {
    let mut file = open_regular(path).at(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).at(path)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// The SHA-256 of `bytes`, as lowercase hex.
pub(crate) fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A digest as lowercase hex.
fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Errors unless the file at `path` has the SHA-256 `expected` (lowercase hex).
pub(crate) fn check_sha256(path: &Path, expected: &str) -> Result<()> {
    let actual = sha256_file(path)?;
    if actual != expected {
        return Err(Error::Checksum { path: path.into(), expected: expected.into(), actual });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_of_abc_is_the_fips_180_example_and_a_changed_file_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_file(&p).unwrap(), abc);
        assert!(check_sha256(&p, abc).is_ok());
        std::fs::write(&p, b"abd").unwrap();
        let e = check_sha256(&p, abc).unwrap_err().to_string();
        assert!(e.contains("not the published") && e.contains("fetch it again"), "{e}");
    }
}
