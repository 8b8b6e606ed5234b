//! Decoding one image file, whatever its extension says: the format is guessed from the
//! content, EXIF orientation is applied, and every failure names the file.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader};

use crate::error::{Error, Result};

/// Decodes the image at `path`, rotated upright by its EXIF orientation.
pub fn decode_file(path: &Path) -> Result<DynamicImage> {
    let bytes = std::fs::read(path).map_err(|e| Error::Decode { path: path.to_path_buf(), message: e.to_string() })?;
    decode_bytes(&bytes, path)
}

/// Decodes an image file's bytes (`path` names it in errors), rotated upright by its EXIF orientation.
pub fn decode_bytes(bytes: &[u8], path: &Path) -> Result<DynamicImage> {
    let err = |message: String| Error::Decode { path: path.to_path_buf(), message };
    if bytes.is_empty() {
        return Err(err("empty file".into()));
    }
    let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| err(e.to_string()))?;
    if reader.format().is_none() {
        return Err(err("not an image format imgclass can read (unrecognised content)".into()));
    }
    let mut decoder = reader.into_decoder().map_err(|e| err(e.to_string()))?;
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| err(e.to_string()))?;
    if let Some(o) = orientation {
        image.apply_orientation(o);
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_png_named_jpg_decodes_from_its_content() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("really_png.jpg");
        image::RgbImage::from_pixel(3, 2, image::Rgb([1, 2, 3])).save_with_format(&p, image::ImageFormat::Png).unwrap();
        assert_eq!(decode_file(&p).unwrap().width(), 3);
    }

    #[test]
    fn a_text_file_named_png_is_an_error_naming_the_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("notes.png");
        std::fs::write(&p, "hello").unwrap();
        let e = decode_file(&p).unwrap_err().to_string();
        assert!(e.contains("notes.png"), "{e}");
    }

    #[test]
    fn an_empty_file_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("empty.jpg");
        std::fs::write(&p, b"").unwrap();
        assert!(decode_file(&p).is_err());
    }
}
