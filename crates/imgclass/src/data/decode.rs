//! Decoding one image file, whatever its extension says: the format is guessed from the
//! content, EXIF orientation is applied, and every failure names the file.
//!
//! Decompression bombs are refused before any pixel is allocated: a file is read only if it is
//! a regular file of at most 256 MiB, and an image is decoded only if its header declares at
//! most `max_pixels` pixels ([`MAX_PIXELS`] unless `data.max_pixels` says otherwise). A 2.4 MB PNG declaring 50,000 × 50,000 pixels, or a 630-byte
//! JPEG declaring 65,500 × 65,500, is an error naming the file, and so is skipped like any
//! undecodable file. Legitimate large images load: the 168-megapixel clip-art of Debian's
//! `openclipart-png` is under the limit (and needs about 0.7 GB of memory while it is decoded).

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

use crate::error::{DecodeError, Error, Result};
use crate::util::fs::{MAX_IMAGE, open_regular, read_bounded};

/// The most pixels (width × height) an image may declare by default (`data.max_pixels`):
/// Pillow's decompression-bomb error threshold, 2 × 89,478,485. Larger images are refused before decoding
/// ([`DecodeError::TooLarge`]); they are not shrunk on load, since the decoders imgclass uses
/// cannot decode at a reduced scale.
pub const MAX_PIXELS: u64 = 2 * 89_478_485;

/// The most bytes a decoder may allocate besides the decoded image: `image`'s own default,
/// 512 MiB, which bounds what is read before the size is known (a PNG's compressed ICC profile,
/// say). Once the size has passed [`MAX_PIXELS`], the decoded image's own bytes are added to
/// it, so that no image under the pixel limit is refused for its colour type (TIFF decoding
/// counts the image against the limit; with 512 MiB alone a 168-megapixel RGBA TIFF would fail).
const MAX_DECODER_BYTES: u64 = 512 << 20;

/// Decodes the image at `path`, rotated upright by its EXIF orientation, if it declares at
/// most `max_pixels` pixels.
pub(crate) fn decode_file(path: &Path, max_pixels: u64) -> Result<DynamicImage> {
    decode_bytes(&read_image(path)?, path, max_pixels)
}

/// The bytes of the image file at `path`: a regular file of at most 256 MiB, else a decode
/// error naming it (so that it is skipped like any undecodable file).
pub(crate) fn read_image(path: &Path) -> Result<Vec<u8>> {
    read_bounded(path, MAX_IMAGE).map_err(|e| Error::Decode { path: path.to_path_buf(), source: e.into() })
}

/// The limits a decoder runs under: no side over `max_pixels`, at most `max_alloc` bytes.
fn limits(max_alloc: u64, max_pixels: u64) -> Limits {
    let side = u32::try_from(max_pixels).unwrap_or(u32::MAX);
    let mut limits = Limits::default();
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    limits.max_alloc = Some(max_alloc);
    limits
}

/// Errors unless `width` × `height` is at most `max_pixels`.
fn check_pixels((width, height): (u32, u32), max_pixels: u64) -> Result<(), DecodeError> {
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(DecodeError::TooLarge { width, height, limit: max_pixels });
    }
    Ok(())
}

/// Decodes an image file's bytes (`path` names it in errors), rotated upright by its EXIF
/// orientation, if it declares at most `max_pixels` pixels.
pub(crate) fn decode_bytes(bytes: &[u8], path: &Path, max_pixels: u64) -> Result<DynamicImage> {
    let err = |source: DecodeError| Error::Decode { path: path.to_path_buf(), source };
    if bytes.is_empty() {
        return Err(err(DecodeError::Empty));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| err(DecodeError::Io(e)))?;
    if reader.format().is_none() {
        return Err(err(DecodeError::Unrecognised));
    }
    reader.limits(limits(MAX_DECODER_BYTES, max_pixels));
    let mut decoder = reader.into_decoder().map_err(|e| err(DecodeError::Image(e)))?;
    check_pixels(decoder.dimensions(), max_pixels).map_err(err)?;
    let image_bytes = decoder.total_bytes();
    decoder.set_limits(limits(MAX_DECODER_BYTES + image_bytes, max_pixels)).map_err(|e| err(DecodeError::Image(e)))?;
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| err(DecodeError::Image(e)))?;
    if let Some(o) = orientation {
        image.apply_orientation(o);
    }
    Ok(image)
}

/// Decodes an image file's bytes as training and prediction do (format guessed from the
/// content, EXIF orientation applied), refusing before any pixel is allocated an image that
/// declares more than `max_pixels` pixels; `name` names the image in errors. For front ends
/// that receive images as bytes (uploads) and check them before keeping them.
pub fn decode_image(bytes: &[u8], name: &Path, max_pixels: u64) -> Result<DynamicImage> {
    decode_bytes(bytes, name, max_pixels)
}

/// The format of the file `path` (by content) and what decoding it into `image` had to do
/// beyond a plain 8-bit RGB or grey read, one line each: content of another format than the
/// extension says, EXIF rotation, transparency, 16-bit depth, a GIF's later frames dropped.
/// Reads only the file's header again; `None` when that cannot be read.
pub(crate) fn describe(path: &Path, image: &DynamicImage) -> Option<(image::ImageFormat, Vec<String>)> {
    let mut notes = Vec::new();
    let mut reader = header_reader(path)?;
    reader.limits(limits(MAX_DECODER_BYTES, MAX_PIXELS));
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

/// A reader of the regular file at `path`, its format guessed from the content.
fn header_reader(path: &Path) -> Option<ImageReader<std::io::BufReader<std::fs::File>>> {
    let file = std::io::BufReader::new(open_regular(path).ok()?);
    ImageReader::new(file).with_guessed_format().ok()
}

/// The width and height the image file at `path` declares, from its header; `None` when it
/// is not a regular file or not an image.
pub(crate) fn dimensions(path: &Path) -> Option<(u32, u32)> {
    header_reader(path)?.into_dimensions().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::chain;

    #[test]
    fn a_png_named_jpg_decodes_from_its_content() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("really_png.jpg");
        image::RgbImage::from_pixel(3, 2, image::Rgb([1, 2, 3])).save_with_format(&p, image::ImageFormat::Png).unwrap();
        assert_eq!(decode_file(&p, MAX_PIXELS).unwrap().width(), 3);
    }

    #[test]
    fn a_text_file_named_png_is_an_error_naming_the_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("notes.png");
        std::fs::write(&p, "hello").unwrap();
        let e = decode_file(&p, MAX_PIXELS).unwrap_err().to_string();
        assert!(e.contains("notes.png"), "{e}");
    }

    #[test]
    fn conversions_name_a_wrong_extension_transparency_and_sixteen_bits() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x.jpg");
        let img = image::ImageBuffer::<image::Rgba<u16>, _>::from_pixel(2, 2, image::Rgba([1, 2, 3, 4]));
        image::DynamicImage::ImageRgba16(img).save_with_format(&p, image::ImageFormat::Png).unwrap();
        let (format, notes) = describe(&p, &decode_file(&p, MAX_PIXELS).unwrap()).unwrap();
        assert_eq!(format, image::ImageFormat::Png);
        let notes = notes.join("; ");
        assert!(
            notes.contains("Png content with a .jpg") && notes.contains("transparency") && notes.contains("16 bits"),
            "{notes}"
        );
    }

    include!("../../tests/support/bombs.rs");

    #[test]
    fn a_png_declaring_fifty_thousand_squared_pixels_is_refused_naming_the_file_and_the_pixels() {
        let e = chain(&decode_bytes(&png_declaring(50_000, 50_000), Path::new("bomb.png"), MAX_PIXELS).unwrap_err());
        assert!(e.starts_with("bomb.png: ") && e.contains("50000 × 50000 pixels"), "{e}");
        assert!(e.contains(&format!("{MAX_PIXELS} pixels")), "{e}");
        assert_eq!(decode_bytes(&png_declaring(2, 2), Path::new("ok.png"), MAX_PIXELS).unwrap().width(), 2);
        let e = chain(&decode_bytes(&png_declaring(2, 2), Path::new("small.png"), 3).unwrap_err());
        assert!(e.contains("2 × 2 pixels, more than the 3 pixels"), "a lower limit is the one applied: {e}");
    }

    #[test]
    fn jpegs_declaring_65500_squared_pixels_are_refused_without_aborting_the_process() {
        for grey in [false, true] {
            let e = chain(&decode_bytes(&jpeg_declaring(65_500, grey), Path::new("bomb.jpg"), MAX_PIXELS).unwrap_err());
            assert!(e.starts_with("bomb.jpg: ") && e.contains("65500 × 65500 pixels"), "{e}");
        }
        assert_eq!(decode_bytes(&jpeg_declaring(8, false), Path::new("ok.jpg"), MAX_PIXELS).unwrap().width(), 8);
    }

    #[test]
    fn an_image_at_the_pixel_limit_is_not_refused_for_its_size() {
        assert!(
            check_pixels((13_000, 13_000), MAX_PIXELS).is_ok(),
            "a 169-megapixel image (openclipart's largest) loads"
        );
        assert!(check_pixels((MAX_PIXELS as u32, 1), MAX_PIXELS).is_ok());
        assert!(check_pixels((MAX_PIXELS as u32 + 1, 1), MAX_PIXELS).is_err());
    }

    #[test]
    fn a_large_rgba_tiff_is_not_refused_by_the_decoders_allocation_limit() {
        // 12,000 × 12,000 RGBA: 576 MB decoded, over `image`'s default 512 MiB allocation limit.
        let img = image::RgbaImage::from_pixel(12_000, 12_000, image::Rgba([1, 2, 3, 4]));
        let mut tiff = Vec::new();
        img.write_to(&mut Cursor::new(&mut tiff), image::ImageFormat::Tiff).unwrap();
        drop(img);
        let back = decode_bytes(&tiff, Path::new("big.tiff"), MAX_PIXELS).unwrap();
        assert_eq!((back.width(), back.height(), back.color()), (12_000, 12_000, image::ColorType::Rgba8));
    }

    #[cfg(unix)]
    #[test]
    fn dev_zero_named_like_an_image_is_refused_at_once() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("z.jpg");
        std::os::unix::fs::symlink("/dev/zero", &p).unwrap();
        let e = chain(&decode_file(&p, MAX_PIXELS).unwrap_err());
        assert!(e.contains("z.jpg") && e.contains("not a regular file but a character special file"), "{e}");
        assert_eq!(dimensions(&p), None);
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_fifo_named_like_an_image_is_refused_without_waiting_for_a_writer() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("pipe.png");
        crate::util::fs::make_fifo(&p);
        let e = chain(&decode_file(&p, MAX_PIXELS).unwrap_err());
        assert!(e.contains("pipe.png") && e.contains("not a regular file but a FIFO"), "{e}");
        assert_eq!(dimensions(&p), None);
    }

    #[test]
    fn an_empty_file_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("empty.jpg");
        std::fs::write(&p, b"").unwrap();
        assert!(decode_file(&p, MAX_PIXELS).is_err());
    }
}
