//! Config values with a spelling of their own: each parses from the text a user writes
//! ([`FromStr`]), prints back as that text ([`Display`](fmt::Display)), and is saved in
//! `config.json` as it always was (an RGB array, a `[low, high]` pair), so a front end can take
//! them from the command line without a parser of its own.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a value's text could not be read: what the value should look like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseValueError(&'static str);

impl ParseValueError {
    /// The error that says what the value should look like.
    pub(crate) fn new(expected: &'static str) -> Self {
        ParseValueError(expected)
    }
}

/// The colour transparent pixels are composited onto: `white`, `black`, `grey` or `R,G,B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Background(pub [u8; 3]);

impl Background {
    /// White, the default.
    pub const WHITE: Background = Background([255; 3]);
    /// The named colours and their values.
    const NAMED: [(&'static str, [u8; 3]); 3] = [("white", [255; 3]), ("black", [0; 3]), ("grey", [128; 3])];
}

impl FromStr for Background {
    type Err = ParseValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = if s == "gray" { "grey" } else { s };
        if let Some((_, rgb)) = Background::NAMED.iter().find(|(name, _)| *name == s) {
            return Ok(Background(*rgb));
        }
        let rgb: Option<Vec<u8>> = s.split(',').map(|v| v.trim().parse::<u8>().ok()).collect();
        match rgb.as_deref() {
            Some(&[r, g, b]) => Ok(Background([r, g, b])),
            _ => Err(ParseValueError("use white, black, grey or R,G,B with each in 0..=255")),
        }
    }
}

impl fmt::Display for Background {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Background::NAMED.iter().find(|(_, rgb)| *rgb == self.0) {
            Some((name, _)) => f.write_str(name),
            None => write!(f, "{},{},{}", self.0[0], self.0[1], self.0[2]),
        }
    }
}

/// Discriminative learning rates `LOW:HIGH`: `low` for the earliest layers, `high` for the
/// head; saved as `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "(f64, f64)", into = "(f64, f64)")]
pub struct LrRange {
    /// The earliest layers' rate.
    pub low: f64,
    /// The head's rate.
    pub high: f64,
}

impl From<(f64, f64)> for LrRange {
    fn from((low, high): (f64, f64)) -> Self {
        LrRange { low, high }
    }
}

impl From<LrRange> for (f64, f64) {
    fn from(r: LrRange) -> Self {
        (r.low, r.high)
    }
}

/// The two numbers of `LOW:HIGH` (spaces around either allowed).
pub(crate) fn low_high(s: &str) -> Option<(f64, f64)> {
    let (low, high) = s.split_once(':')?;
    Some((low.trim().parse().ok()?, high.trim().parse().ok()?))
}

impl FromStr for LrRange {
    type Err = ParseValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (low, high) = low_high(s).ok_or(ParseValueError("use LOW:HIGH, e.g. 1e-6:1e-4"))?;
        Ok(LrRange { low, high })
    }
}

impl fmt::Display for LrRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:e}:{:e}", self.low, self.high)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_background_reads_names_and_rgb_and_prints_back_the_same() {
        assert_eq!("grey".parse(), Ok(Background([128; 3])));
        assert_eq!("gray".parse(), Ok(Background([128; 3])));
        assert_eq!(" 1, 2,3".parse(), Ok(Background([1, 2, 3])));
        assert!("1,2".parse::<Background>().is_err() && "1,2,256".parse::<Background>().is_err());
        for text in ["white", "black", "grey", "1,2,3"] {
            assert_eq!(text.parse::<Background>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn an_lr_range_reads_low_high_and_is_saved_as_a_pair() {
        let r: LrRange = "1e-6:1e-4".parse().unwrap();
        assert_eq!((r.low, r.high), (1e-6, 1e-4));
        assert_eq!(r.to_string().parse::<LrRange>(), Ok(r));
        assert_eq!(serde_json::to_value(r).unwrap(), serde_json::json!([1e-6, 1e-4]));
        assert_eq!(serde_json::from_str::<LrRange>("[1e-6, 1e-4]").unwrap(), r);
        assert!("1e-6".parse::<LrRange>().is_err() && "a:b".parse::<LrRange>().is_err());
    }

    #[test]
    fn a_background_is_saved_as_its_rgb_array() {
        assert_eq!(serde_json::to_string(&Background::WHITE).unwrap(), "[255,255,255]");
        assert_eq!(serde_json::from_str::<Background>("[0,0,0]").unwrap(), Background([0; 3]));
    }
}
