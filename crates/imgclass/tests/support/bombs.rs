// Decompression-bomb builders shared by the library's unit tests (`src/data/decode.rs`) and the
// CLI's tests (`imgclass-cli/tests/cli/data.rs`), each of which `include!`s this file: tiny
// valid images whose headers then declare far more pixels. Paths are written in full, so the
// file compiles wherever it is included; it needs `image` and `crc32fast`.

/// A valid 2 × 2 PNG whose IHDR then declares `width` × `height` pixels (its CRC fixed).
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut png = Vec::new();
    let img = image::RgbImage::from_pixel(2, 2, image::Rgb([9, 8, 7]));
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), 5 more, CRC.
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32fast::hash(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

/// A valid 8 × 8 JPEG (`grey` or RGB) whose SOF0 header then says `side` × `side`.
fn jpeg_declaring(side: u16, grey: bool) -> Vec<u8> {
    let img = if grey {
        image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(8, 8, image::Luma([90])))
    } else {
        image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(8, 8, image::Rgb([9, 80, 7])))
    };
    let mut jpeg = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg).unwrap();
    // FF C0, length (2), precision (1), height (2), width (2).
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    jpeg[sof + 5..sof + 7].copy_from_slice(&side.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&side.to_be_bytes());
    jpeg
}
