//! Decoding one image file, whatever its extension says: the format is guessed from the
//! content, EXIF orientation is applied, and every failure names the file.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader};

use crate::error::{DecodeError, Error, Result};

/// Decodes the image at `path`, rotated upright by its EXIF orientation.
pub fn decode_file(path: &Path) -> Result<DynamicImage> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::Decode { path: path.to_path_buf(), source: DecodeError::Io(e) })?;
    decode_bytes(&bytes, path)
}

/// Decodes an image file's bytes (`path` names it in errors), rotated upright by its EXIF orientation.
pub fn decode_bytes(bytes: &[u8], path: &Path) -> Result<DynamicImage> {
    let err = |source: DecodeError| Error::Decode { path: path.to_path_buf(), source };
    if bytes.is_empty() {
        return Err(err(DecodeError::Empty));
    }
    let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| err(DecodeError::Io(e)))?;
    if reader.format().is_none() {
        return Err(err(DecodeError::Unrecognised));
    }
    let mut decoder = reader.into_decoder().map_err(|e| err(DecodeError::Image(e)))?;
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| err(DecodeError::Image(e)))?;
    if let Some(o) = orientation {
        image.apply_orientation(o);
    }
    Ok(image)
}

/// The format of the file `path` (by content) and what decoding it into `image` had to do
/// beyond a plain 8-bit RGB or grey read, one line each: content of another format than the
/// extension says, EXIF rotation, transparency, 16-bit depth, a GIF's later frames dropped.
/// Reads only the file's header again; `None` when that cannot be read.
pub fn describe(path: &Path, image: &DynamicImage) -> Option<(image::ImageFormat, Vec<String>)> {
    let mut notes = Vec::new();
    let reader = ImageReader::open(path).ok()?.with_guessed_format().ok()?;
    let format = reader.format()?;
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let gif = format == image::ImageFormat::Gif;
    if !format.extensions_str().contains(&ext.as_str()) {
        notes.push(format!("{format:?} content with a .{ext} extension (read by its content)"));
    }
    if gif {
        notes.push("GIF: the first frame is used".into());
    }
    if let Some(o) = reader.into_decoder().ok().and_then(|mut d| d.orientation().ok())
        && o != image::metadata::Orientation::NoTransforms
    {
        notes.push(format!("EXIF orientation {} applied ({o:?})", o.to_exif()));
    }
    if image.color().has_alpha() && !gif {
        notes.push("transparency composited onto the background colour".into());
    }
    if image.color().bytes_per_pixel() / image.color().channel_count() > 1 {
        notes.push(format!(
            "{} bits per channel, scaled to 8",
            8 * image.color().bytes_per_pixel() / image.color().channel_count()
        ));
    }
    Some((format, notes))
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
    fn conversions_name_a_wrong_extension_transparency_and_sixteen_bits() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x.jpg");
        let img = image::ImageBuffer::<image::Rgba<u16>, _>::from_pixel(2, 2, image::Rgba([1, 2, 3, 4]));
        image::DynamicImage::ImageRgba16(img).save_with_format(&p, image::ImageFormat::Png).unwrap();
        let (format, notes) = describe(&p, &decode_file(&p).unwrap()).unwrap();
        assert_eq!(format, image::ImageFormat::Png);
        let notes = notes.join("; ");
        assert!(
            notes.contains("Png content with a .jpg") && notes.contains("transparency") && notes.contains("16 bits"),
            "{notes}"
        );
    }

    #[test]
    fn an_empty_file_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("empty.jpg");
        std::fs::write(&p, b"").unwrap();
        assert!(decode_file(&p).is_err());
    }
}
