//! From image file bytes to the network input, identically for training,
//! the CLI and the browser.
//!
//! Decisions:
//! - The EXIF orientation is applied, so a phone photo is seen upright.
//! - Every pixel format (grayscale, alpha, 16-bit, CMYK) becomes 8-bit RGB;
//!   transparent pixels are composited over white.
//! - Proportions are kept ([`Geometry::Crop`]): the network sees the centred
//!   square of the photo, resized to its input. A lesion keeps its shape and
//!   scale whether the photo is 4:3 dermoscopy, a square phone photo or a
//!   user's own crop; training crops draw from the same frame (and beyond
//!   the square, so off-centre lesions are seen too). Earlier bundles
//!   stretched the whole frame ([`Geometry::Stretch`]); a bundle says which.
//! - Resizing is bilinear with anti-aliasing (a box pre-reduction first when
//!   the image is many times larger than the input, to keep phone photos fast).
//! - Optionally, shades-of-grey colour constancy evens out the light source
//!   ([`colour_constancy`]), when a bundle was trained so.
//! - Normalisation is `(value - mean) / std` per channel on the 0..255 scale,
//!   with the constants the model bundle declares.

use std::io::Cursor;

#[cfg(feature = "burn")]
use burn::tensor::{Device, Tensor, TensorData};
use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage, RgbaImage};
use serde::{Deserialize, Serialize};

/// Largest image accepted, in pixels (a 64-megapixel photo): checked from the
/// header, before any pixel buffer is allocated.
pub const MAX_PIXELS: u64 = 64_000_000;
/// Largest side accepted, in pixels.
pub const MAX_SIDE: u32 = 20_000;
/// Ceiling on what the decoder may allocate: 64 MP at 16-bit RGBA.
const MAX_DECODER_ALLOC: u64 = 64_000_000 * 8;

/// The file formats the decoder reads, as shown to a person.
pub const SUPPORTED_FORMATS: &str = "JPEG, PNG, WebP, BMP or GIF";

#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    #[error("the file is empty")]
    Empty,
    #[error("not an image format this tool reads (it reads {SUPPORTED_FORMATS})")]
    UnknownFormat,
    #[error("{0} images are not supported (use {SUPPORTED_FORMATS})")]
    UnsupportedFormat(String),
    #[error("the image is {width}x{height} pixels, more than the {MAX_PIXELS} pixel limit")]
    TooLarge { width: u32, height: u32 },
    #[error("the image has no pixels ({width}x{height})")]
    NoPixels { width: u32, height: u32 },
    #[error("the image data is damaged or truncated: {0}")]
    Corrupt(String),
    #[error("the file ends before the image does (truncated {0})")]
    Truncated(&'static str),
}

/// Per-channel normalisation on the 0..255 scale: `(value - mean) / std`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Normalization {
    /// What EfficientNet-Lite was trained with: `(x - 127) / 128`.
    pub const LITE: Self = Self { mean: [127.0; 3], std: [128.0; 3] };
    /// torchvision's ImageNet statistics, scaled to 0..255.
    pub const IMAGENET: Self = Self {
        mean: [0.485 * 255.0, 0.456 * 255.0, 0.406 * 255.0],
        std: [0.229 * 255.0, 0.224 * 255.0, 0.225 * 255.0],
    };
}

/// Decodes image bytes into upright 8-bit RGB, refusing oversized images
/// before decoding them.
pub fn decode(bytes: &[u8]) -> Result<RgbImage, PreprocessError> {
    if bytes.is_empty() {
        return Err(PreprocessError::Empty);
    }
    let stripped = without_png_profiles(bytes);
    let bytes: &[u8] = &stripped;
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PreprocessError::Corrupt(e.to_string()))?;
    match reader.format() {
        None => return Err(sniff_unsupported(bytes)),
        Some(
            ImageFormat::Jpeg
            | ImageFormat::Png
            | ImageFormat::WebP
            | ImageFormat::Bmp
            | ImageFormat::Gif,
        ) => {}
        Some(other) => {
            return Err(PreprocessError::UnsupportedFormat(format!("{other:?}").to_uppercase()));
        }
    }
    // The header's size first, so a decompression bomb is refused, and named
    // with its size, before any pixel buffer exists.
    if let Some((width, height)) = header_dimensions(bytes) {
        check_dimensions(width, height)?;
    }
    if let Some(format) = reader.format()
        && !is_complete(bytes, format)
    {
        return Err(PreprocessError::Truncated(format_name(format)));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODER_ALLOC);
    reader.limits(limits);

    let mut decoder = reader.into_decoder().map_err(|e| decode_error(e, bytes))?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height)?;
    // A damaged EXIF block should not cost the picture: fall back to as-stored.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(e, bytes))?;
    image.apply_orientation(orientation);
    Ok(to_rgb(image))
}

fn check_dimensions(width: u32, height: u32) -> Result<(), PreprocessError> {
    if width == 0 || height == 0 {
        return Err(PreprocessError::NoPixels { width, height });
    }
    if u64::from(width) * u64::from(height) > MAX_PIXELS || width > MAX_SIDE || height > MAX_SIDE {
        return Err(PreprocessError::TooLarge { width, height });
    }
    Ok(())
}

/// The width and height an image file's header declares (no pixels decoded).
fn header_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    ImageReader::new(Cursor::new(bytes)).with_guessed_format().ok()?.into_dimensions().ok()
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The PNG without its ICC profile chunks: the decoder inflates a profile
/// eagerly (a 1 MB file can hold a 1 GiB one) and the pixels are used as
/// stored, so the profile only ever cost memory. Other formats, and PNGs
/// without a profile, are returned as they are; a damaged chunk list is
/// left to the decoder to report.
fn without_png_profiles(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !bytes.starts_with(PNG_SIGNATURE) {
        return bytes.into();
    }
    let mut chunks = Vec::new();
    let mut at = PNG_SIGNATURE.len();
    while let Some(header) = bytes.get(at..at + 8) {
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let end = at.saturating_add(12).saturating_add(length).min(bytes.len());
        chunks.push((at..end, &header[4..8] == b"iCCP"));
        at = end;
    }
    if !chunks.iter().any(|&(_, profile)| profile) {
        return bytes.into();
    }
    let mut out = PNG_SIGNATURE.to_vec();
    for (range, profile) in chunks {
        if !profile {
            out.extend_from_slice(&bytes[range]);
        }
    }
    out.extend_from_slice(&bytes[at..]);
    out.into()
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
        ImageFormat::Gif => "GIF",
        ImageFormat::WebP => "WebP",
        ImageFormat::Bmp => "BMP",
        _ => "image",
    }
}

/// Whether the file holds its format's end mark: decoders fill a missing
/// tail with grey rather than fail, and a half photo must not be judged.
fn is_complete(bytes: &[u8], format: ImageFormat) -> bool {
    let last = |needle: &[u8]| bytes.windows(needle.len()).rposition(|w| w == needle);
    match format {
        // The end-of-image marker after the last scan (markers inside scans are byte-stuffed).
        ImageFormat::Jpeg => {
            matches!((last(&[0xFF, 0xDA]), last(&[0xFF, 0xD9])), (Some(scan), Some(end)) if end > scan)
        }
        ImageFormat::Png => last(b"IEND").is_some(),
        // The trailer byte, possibly followed by padding.
        ImageFormat::Gif => bytes.iter().rposition(|&b| b != 0).is_some_and(|i| bytes[i] == 0x3B),
        // The RIFF container says how long it is.
        ImageFormat::WebP => bytes
            .get(4..8)
            .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])) + 8)
            .is_some_and(|declared| declared <= bytes.len() as u64),
        // The file header says how long the file is (0: not said).
        ImageFormat::Bmp => bytes
            .get(2..6)
            .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .is_some_and(|declared| declared <= bytes.len() as u64),
        _ => true,
    }
}

fn decode_error(error: image::ImageError, bytes: &[u8]) -> PreprocessError {
    match error {
        // The decoder stops before allocating: its header still says how large the image is.
        image::ImageError::Limits(_) => {
            let (width, height) = header_dimensions(bytes).unwrap_or((0, 0));
            PreprocessError::TooLarge { width, height }
        }
        image::ImageError::Unsupported(e) => PreprocessError::UnsupportedFormat(e.to_string()),
        other => PreprocessError::Corrupt(other.to_string()),
    }
}

/// Names formats people commonly have but the decoder does not read.
fn sniff_unsupported(bytes: &[u8]) -> PreprocessError {
    let head = &bytes[..bytes.len().min(32)];
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    if has(b"ftypheic") || has(b"ftypheix") || has(b"ftypmif1") || has(b"ftyphevc") {
        PreprocessError::UnsupportedFormat("HEIC/HEIF".into())
    } else if has(b"ftypavif") {
        PreprocessError::UnsupportedFormat("AVIF".into())
    } else if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        PreprocessError::UnsupportedFormat("TIFF".into())
    } else {
        PreprocessError::UnknownFormat
    }
}

/// Any pixel format to 8-bit RGB; alpha is composited over white.
fn to_rgb(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba: RgbaImage = image.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut rgb = RgbImage::new(w, h);
    for (out, px) in rgb.pixels_mut().zip(rgba.pixels()) {
        let a = u32::from(px[3]);
        for c in 0..3 {
            out[c] = ((u32::from(px[c]) * a + 255 * (255 - a) + 127) / 255) as u8;
        }
    }
    rgb
}

/// How a photo becomes the network's square input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Geometry {
    /// The centred square of the photo, resized: proportions are kept.
    #[default]
    Crop,
    /// The whole frame resized to the input: proportions change.
    Stretch,
}

impl Geometry {
    /// The part of a `width` x `height` photo the network sees, as
    /// `[x, y, width, height]`.
    pub fn region(self, width: u32, height: u32) -> [u32; 4] {
        match self {
            Self::Stretch => [0, 0, width, height],
            Self::Crop => {
                let side = width.min(height);
                [(width - side) / 2, (height - side) / 2, side, side]
            }
        }
    }

    /// The network's view of `image` at `size` (`[height, width]`).
    pub fn view(self, image: &RgbImage, size: [u32; 2]) -> RgbImage {
        let [x, y, w, h] = self.region(image.width(), image.height());
        if [x, y, w, h] == [0, 0, image.width(), image.height()] {
            return resize(image, size[1], size[0]);
        }
        resize(&imageops::crop_imm(image, x, y, w, h).to_image(), size[1], size[0])
    }
}

/// Shades-of-grey colour constancy (Finlayson and Trezzi, 2004): the
/// gains that make the Minkowski `p`-norm means of the three channels of
/// `image` equal, as if the light were neutral (1 where a channel is black).
pub fn colour_constancy_gains(image: &RgbImage, p: f32) -> [f32; 3] {
    let mut sums = [0.0f64; 3];
    for px in image.pixels() {
        for c in 0..3 {
            sums[c] += f64::from(f32::from(px[c]).powf(p));
        }
    }
    let n = f64::from(image.width() * image.height()).max(1.0);
    let norms = sums.map(|s| (s / n).powf(1.0 / f64::from(p)));
    if norms.iter().any(|&v| v <= 0.0) {
        return [1.0; 3];
    }
    let grey = (norms.iter().map(|v| v * v).sum::<f64>() / 3.0).sqrt();
    norms.map(|v| (grey / v) as f32)
}

/// Scales each channel of `image` by its gain.
pub fn apply_gains(image: &mut RgbImage, gains: [f32; 3]) {
    for px in image.pixels_mut() {
        for c in 0..3 {
            px[c] = (f32::from(px[c]) * gains[c]).round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// Corrects `image`'s colours by its own shades-of-grey gains.
pub fn colour_constancy(image: &mut RgbImage, p: f32) {
    let gains = colour_constancy_gains(image, p);
    apply_gains(image, gains);
}

/// Everything that turns a decoded photo into a network input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preparation {
    pub geometry: Geometry,
    pub normalization: Normalization,
    /// Shades-of-grey colour constancy before anything else.
    pub colour_constancy: bool,
}

/// The exponent of the shades-of-grey norm.
pub const COLOUR_CONSTANCY_P: f32 = 6.0;

impl Preparation {
    /// A decoded photo as normalised planar floats `[3, h, w]` for an input of `size`.
    pub fn input(&self, photo: &RgbImage, size: [u32; 2]) -> Vec<f32> {
        let mut view = self.geometry.view(photo, size);
        if self.colour_constancy {
            apply_gains(&mut view, self.gains(photo));
        }
        to_chw(&view, &self.normalization)
    }

    /// The colour-constancy gains of a photo: measured on a small copy of
    /// the network's view, so training and use measure the same.
    pub fn gains(&self, photo: &RgbImage) -> [f32; 3] {
        colour_constancy_gains(&self.geometry.view(photo, [64, 64]), COLOUR_CONSTANCY_P)
    }
}

/// Resizes the whole frame to `width` x `height` (bilinear, anti-aliased).
pub fn resize(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    if image.dimensions() == (width, height) {
        return image.clone();
    }
    // A box reduction to about twice the target keeps the bilinear filter's
    // cost bounded on large photos without visible aliasing.
    let (w, h) = image.dimensions();
    if w > width * 4 && h > height * 4 {
        let reduced = imageops::thumbnail(image, width * 2, height * 2);
        return imageops::resize(&reduced, width, height, FilterType::Triangle);
    }
    imageops::resize(image, width, height, FilterType::Triangle)
}

/// An RGB image as normalised planar floats `[3, h, w]`.
pub fn to_chw(image: &RgbImage, norm: &Normalization) -> Vec<f32> {
    let (w, h) = image.dimensions();
    let plane = (w * h) as usize;
    let mut out = vec![0.0f32; 3 * plane];
    for (i, px) in image.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (f32::from(px[c]) - norm.mean[c]) / norm.std[c];
        }
    }
    out
}

/// Decodes one image and prepares it for a network of the given input size.
pub fn prepare(
    bytes: &[u8],
    size: [u32; 2],
    preparation: &Preparation,
) -> Result<Vec<f32>, PreprocessError> {
    Ok(preparation.input(&decode(bytes)?, size))
}

/// Stacks prepared images (each `[3, h, w]`, all the same size) into a batch tensor.
#[cfg(feature = "burn")]
pub fn batch(images: &[Vec<f32>], size: [usize; 2], device: &Device) -> Tensor<4> {
    let [h, w] = size;
    let mut flat = Vec::with_capacity(images.len() * 3 * h * w);
    for image in images {
        debug_assert_eq!(image.len(), 3 * h * w);
        flat.extend_from_slice(image);
    }
    Tensor::from_data(TensorData::new(flat, [images.len(), 3, h, w]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma, Rgb, Rgba};

    fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut bytes = Cursor::new(Vec::new());
        image.write_to(&mut bytes, format).expect("encoding a test image");
        bytes.into_inner()
    }

    fn gradient(w: u32, h: u32) -> RgbImage {
        ImageBuffer::from_fn(w, h, |x, y| {
            Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 90])
        })
    }

    #[test]
    fn decodes_every_supported_format() {
        let rgb = DynamicImage::ImageRgb8(gradient(40, 30));
        for format in [
            ImageFormat::Png,
            ImageFormat::Jpeg,
            ImageFormat::Bmp,
            ImageFormat::Gif,
            ImageFormat::WebP,
        ] {
            let decoded =
                decode(&encode(rgb.clone(), format)).unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert_eq!(decoded.dimensions(), (40, 30), "{format:?}");
        }
    }

    #[test]
    fn grayscale_sixteen_bit_and_alpha_become_rgb() {
        let gray = DynamicImage::ImageLuma8(ImageBuffer::from_pixel(8, 8, Luma([100u8])));
        assert_eq!(
            decode(&encode(gray, ImageFormat::Png)).unwrap().get_pixel(3, 3).0,
            [100, 100, 100]
        );

        let deep =
            DynamicImage::ImageRgb16(ImageBuffer::from_pixel(8, 8, Rgb([65535u16, 0, 32896])));
        assert_eq!(
            decode(&encode(deep, ImageFormat::Png)).unwrap().get_pixel(0, 0).0,
            [255, 0, 128]
        );

        let clear = DynamicImage::ImageRgba8(ImageBuffer::from_pixel(8, 8, Rgba([0u8, 0, 0, 0])));
        assert_eq!(
            decode(&encode(clear, ImageFormat::Png)).unwrap().get_pixel(0, 0).0,
            [255, 255, 255]
        );
        let half = DynamicImage::ImageRgba8(ImageBuffer::from_pixel(8, 8, Rgba([0u8, 0, 0, 128])));
        assert_eq!(
            decode(&encode(half, ImageFormat::Png)).unwrap().get_pixel(0, 0).0,
            [127, 127, 127]
        );
    }

    /// A JPEG with an EXIF block carrying `orientation`, inserted after SOI.
    fn jpeg_with_orientation(image: &RgbImage, orientation: u16) -> Vec<u8> {
        let jpeg = encode(DynamicImage::ImageRgb8(image.clone()), ImageFormat::Jpeg);
        let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&app1);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn exif_orientation_is_applied() {
        // Left half black, right half white, 40x30.
        let image: RgbImage =
            ImageBuffer::from_fn(
                40,
                30,
                |x, _| if x < 20 { Rgb([0, 0, 0]) } else { Rgb([255; 3]) },
            );
        let upright = decode(&jpeg_with_orientation(&image, 1)).unwrap();
        assert_eq!(upright.dimensions(), (40, 30));
        // Orientation 6: the stored picture must be turned 90 degrees clockwise,
        // so the left (black) half ends up on top.
        let turned = decode(&jpeg_with_orientation(&image, 6)).unwrap();
        assert_eq!(turned.dimensions(), (30, 40));
        assert!(turned.get_pixel(15, 5)[0] < 40);
        assert!(turned.get_pixel(15, 35)[0] > 215);
    }

    #[test]
    fn bad_bytes_are_typed_errors() {
        assert!(matches!(decode(&[]), Err(PreprocessError::Empty)));
        assert!(matches!(
            decode(b"hello, this is not an image"),
            Err(PreprocessError::UnknownFormat)
        ));
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        assert!(
            matches!(decode(heic), Err(PreprocessError::UnsupportedFormat(f)) if f.contains("HEIC"))
        );
        let png = encode(DynamicImage::ImageRgb8(gradient(64, 64)), ImageFormat::Png);
        for cut in [8, 30, png.len() / 2, png.len() - 13] {
            assert!(decode(&png[..cut]).is_err(), "truncated at {cut}");
        }
        let jpeg = encode(DynamicImage::ImageRgb8(gradient(64, 64)), ImageFormat::Jpeg);
        assert!(decode(&jpeg[..jpeg.len() / 3]).is_err());
        // The first half of a photo decodes with a grey tail: refused, by name.
        for format in [
            ImageFormat::Jpeg,
            ImageFormat::Png,
            ImageFormat::Gif,
            ImageFormat::WebP,
            ImageFormat::Bmp,
        ] {
            let whole = encode(DynamicImage::ImageRgb8(gradient(64, 48)), format);
            assert!(decode(&whole).is_ok(), "{format:?} whole");
            let half = &whole[..whole.len() / 2];
            assert!(
                matches!(
                    decode(half),
                    Err(PreprocessError::Truncated(_) | PreprocessError::Corrupt(_))
                ),
                "{format:?} half"
            );
        }
    }

    #[test]
    fn a_decompression_bomb_is_refused_from_its_header() {
        // A valid PNG header declaring 100000 x 100000 pixels, then nothing.
        let mut png = encode(DynamicImage::ImageRgb8(gradient(1, 1)), ImageFormat::Png);
        png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        // Fix the IHDR CRC so the header itself is valid.
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        let error = decode(&png).unwrap_err();
        assert!(
            matches!(error, PreprocessError::TooLarge { width: 100_000, height: 100_000 }),
            "{error}"
        );
        assert!(error.to_string().contains("100000x100000"), "the real size is named: {error}");
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    #[test]
    fn the_crop_keeps_proportions_and_the_stretch_the_frame() {
        // A 4:3 photo: a dark band on the left, a bright one on the right.
        let photo = ImageBuffer::from_fn(400, 300, |x, _| {
            if x < 50 {
                Rgb([0, 0, 0])
            } else if x >= 350 {
                Rgb([255, 255, 255])
            } else {
                Rgb([128, 128, 128])
            }
        });
        assert_eq!(Geometry::Crop.region(400, 300), [50, 0, 300, 300]);
        assert_eq!(Geometry::Crop.region(300, 400), [0, 50, 300, 300]);
        assert_eq!(Geometry::Stretch.region(400, 300), [0, 0, 400, 300]);
        let cropped = Geometry::Crop.view(&photo, [100, 100]);
        assert_eq!(cropped.dimensions(), (100, 100));
        assert!(cropped.pixels().all(|p| p[0] == 128), "the bands lie outside the square");
        let stretched = Geometry::Stretch.view(&photo, [100, 100]);
        assert!(stretched.get_pixel(0, 50)[0] < 10 && stretched.get_pixel(99, 50)[0] > 245);
        // A square photo is the same either way.
        let square = gradient(64, 64);
        assert_eq!(
            Geometry::Crop.view(&square, [32, 32]),
            Geometry::Stretch.view(&square, [32, 32])
        );
    }

    #[test]
    fn colour_constancy_makes_a_tinted_grey_grey() {
        let mut tinted: RgbImage = ImageBuffer::from_fn(8, 8, |x, _| {
            Rgb([(120 + x) as u8, (90 + x) as u8, (60 + x) as u8])
        });
        colour_constancy(&mut tinted, COLOUR_CONSTANCY_P);
        let px = tinted.get_pixel(4, 4);
        assert!((i32::from(px[0]) - i32::from(px[2])).abs() <= 2, "{px:?}");
        let mut black = RgbImage::new(4, 4);
        colour_constancy(&mut black, COLOUR_CONSTANCY_P);
        assert!(
            black.pixels().all(|p| p.0 == [0, 0, 0]),
            "nothing to correct, nothing divided by zero"
        );
    }

    #[test]
    fn resize_keeps_the_whole_frame_and_normalises() {
        let image = gradient(400, 300);
        let small = resize(&image, 224, 224);
        assert_eq!(small.dimensions(), (224, 224));
        // Left edge dark red channel, right edge bright: no crop happened.
        assert!(small.get_pixel(0, 100)[0] < 10);
        assert!(small.get_pixel(223, 100)[0] > 245);
        let big = resize(&gradient(3000, 2000), 224, 224);
        assert!(big.get_pixel(223, 100)[0] > 245);

        let chw =
            to_chw(&ImageBuffer::from_pixel(2, 1, Rgb([255u8, 127, 0])), &Normalization::LITE);
        assert_eq!(chw, vec![1.0, 1.0, 0.0, 0.0, -127.0 / 128.0, -127.0 / 128.0]);
    }
}
