//! Image input: format sniffing, a pixel-count check that runs on the header alone (so a small
//! file declaring 50000x50000 is refused before any pixel buffer is allocated), decoding to RGB,
//! and the model's preprocessing: shorter side to `resize_shorter` (bilinear), centre crop to
//! `input_size`, `(x - mean) / std` per channel, written as planar CHW `f32`.

use std::io::Cursor;

use image::{DynamicImage, ImageError, ImageFormat, ImageReader, Limits, RgbImage};

use crate::resample::{CropPlan, PixelView, resize_crop_into};

/// Formats this node decodes (the `image` features enabled in the workspace).
pub const SUPPORTED_FORMATS: [ImageFormat; 5] =
    [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Gif, ImageFormat::Bmp, ImageFormat::WebP];
pub const SUPPORTED_FORMATS_TEXT: &str = "supported formats: jpeg, png, gif, bmp, webp";

/// Why an uploaded image cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageInputError {
    #[error("the body is not an image ({formats})", formats = SUPPORTED_FORMATS_TEXT)]
    NotAnImage,
    #[error("image format {0} is not supported ({formats})", formats = SUPPORTED_FORMATS_TEXT)]
    UnsupportedFormat(String),
    #[error("image declares {width}x{height} pixels, over the limit of {limit} pixels")]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("image is corrupt or truncated: {0}")]
    Corrupt(String),
}

/// What the header says about an image, read without decoding pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageProbe {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

/// Sniffs the format from the magic bytes and reads the dimensions from the header only.
pub fn probe(bytes: &[u8], max_pixels: u64) -> Result<ImageProbe, ImageInputError> {
    let format = image::guess_format(bytes).map_err(|_| ImageInputError::NotAnImage)?;
    if !SUPPORTED_FORMATS.contains(&format) {
        return Err(ImageInputError::UnsupportedFormat(format!("{format:?}").to_lowercase()));
    }
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| ImageInputError::Corrupt(e.to_string()))?;
    if width == 0 || height == 0 {
        return Err(ImageInputError::Corrupt(format!("image has no pixels ({width}x{height})")));
    }
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(ImageInputError::TooManyPixels { width, height, limit: max_pixels });
    }
    if format == ImageFormat::Gif
        && let Some(frame) = gif_first_frame(bytes)
        && (frame.0 + frame.2 > width || frame.1 + frame.3 > height)
    {
        // The decoder would clip the frame to the screen and the model would classify a corner;
        // Pillow (the reference) grows the canvas instead. Refusing is the honest answer here.
        let (x, y, w, h) = frame;
        return Err(ImageInputError::Corrupt(format!(
            "the GIF's first frame ({w}x{h} at {x},{y}) lies outside its {width}x{height} screen"
        )));
    }
    Ok(ImageProbe { format, width, height })
}

/// The position and size (left, top, width, height) of a GIF's first image descriptor
/// (GIF89a §20), skipping the global colour table and any extension blocks; `None` if the file
/// ends first (the decoder then reports it).
fn gif_first_frame(bytes: &[u8]) -> Option<(u32, u32, u32, u32)> {
    let u16_at = |i: usize| bytes.get(i..i + 2).map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])));
    let packed = *bytes.get(10)?;
    let mut i = 13; // header (6) and logical screen descriptor (7)
    if packed & 0x80 != 0 {
        i += 3 << ((packed & 0x07) + 1);
    }
    loop {
        match *bytes.get(i)? {
            0x2c => return Some((u16_at(i + 1)?, u16_at(i + 3)?, u16_at(i + 5)?, u16_at(i + 7)?)),
            0x21 => {
                // Extension: introducer, label, then data sub-blocks up to a zero-length one.
                i += 2;
                loop {
                    let len = usize::from(*bytes.get(i)?);
                    i += 1 + len;
                    if len == 0 {
                        break;
                    }
                }
            }
            _ => return None,
        }
    }
}

/// Decodes a probed image to 8-bit RGB. The decoder's own limits hold it to the probed size, so a
/// file whose later frames or chunks lie about their size cannot allocate more.
pub fn decode(bytes: &[u8], probe: ImageProbe) -> Result<RgbImage, ImageInputError> {
    Ok(decode_any(bytes, probe)?.into_rgb8())
}

/// Decodes a probed image in the decoder's own pixel layout (no RGBA→RGB or grey→RGB copy;
/// [`Preprocessing::apply_image`] reads 8-bit grey, grey+alpha, RGB and RGBA directly).
pub fn decode_any(bytes: &[u8], probe: ImageProbe) -> Result<DynamicImage, ImageInputError> {
    // The JPEG decoder fills what a truncated file lacks with grey, as browsers do, and would
    // classify that grey; a cut-off upload is an error here, found before the decode costs anything.
    if probe.format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(ImageInputError::Corrupt("the JPEG ends before its end-of-image marker".into()));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), probe.format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(probe.width);
    limits.max_image_height = Some(probe.height);
    // Room for the widest decoded pixel type (RGBA f32 = 16 B/px) plus decoder scratch.
    limits.max_alloc = Some(u64::from(probe.width) * u64::from(probe.height) * 16 + (16 << 20));
    reader.limits(limits);
    reader.decode().map_err(|e| match e {
        ImageError::Limits(_) => ImageInputError::TooManyPixels {
            width: probe.width,
            height: probe.height,
            limit: u64::from(probe.width) * u64::from(probe.height),
        },
        ImageError::Unsupported(u) => ImageInputError::UnsupportedFormat(u.to_string()),
        other => ImageInputError::Corrupt(other.to_string()),
    })
}

/// Whether a JPEG's segments and scans run to its end-of-image marker (ITU T.81 §B.2): walks
/// the marker segments by their lengths (so a thumbnail inside an APP segment is skipped), and each
/// scan's entropy-coded data to the next marker that is not stuffing (`FF 00`), a restart or fill.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    const SOS: u8 = 0xda;
    const EOI: u8 = 0xd9;
    let is_rst = |m: u8| (0xd0..=0xd7).contains(&m);
    // The position of the next 0xFF at or after `from`.
    let next_ff = |from: usize| bytes.get(from..)?.iter().position(|&b| b == 0xff).map(|n| from + n);
    let mut i = 2; // after SOI
    loop {
        // Some encoders leave bytes between segments: go to the next marker.
        let Some(ff) = next_ff(i) else { return false };
        i = ff;
        while bytes.get(i) == Some(&0xff) {
            i += 1;
        }
        let Some(&marker) = bytes.get(i) else { return false };
        i += 1;
        match marker {
            EOI => return true,
            m if is_rst(m) || m == 0x01 => continue,
            _ => {}
        }
        let Some(len) = bytes.get(i..i + 2).map(|l| usize::from(u16::from_be_bytes([l[0], l[1]]))) else {
            return false;
        };
        if len < 2 {
            return false;
        }
        i += len;
        if marker == SOS {
            // Entropy-coded data up to the next marker.
            loop {
                let Some(ff) = next_ff(i) else { return false };
                i = ff;
                match bytes.get(i + 1) {
                    None => return false,
                    Some(&next) if next == 0x00 || next == 0xff || is_rst(next) => i += 1,
                    Some(_) => break,
                }
            }
        }
    }
}

/// The 8-bit pixels of `image` as a [`PixelView`], or `None` for 16-bit and float layouts.
fn pixel_view(image: &DynamicImage) -> Option<PixelView<'_>> {
    let (data, channels): (&[u8], usize) = match image {
        DynamicImage::ImageLuma8(i) => (i.as_raw(), 1),
        DynamicImage::ImageLumaA8(i) => (i.as_raw(), 2),
        DynamicImage::ImageRgb8(i) => (i.as_raw(), 3),
        DynamicImage::ImageRgba8(i) => (i.as_raw(), 4),
        _ => return None,
    };
    Some(PixelView { data, width: image.width(), height: image.height(), channels })
}

/// The model's preprocessing parameters (from `model.json` or the command line).
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessing {
    pub input_size: u32,
    pub resize_shorter: u32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Preprocessing {
    /// Number of `f32` values one image occupies in the input tensor.
    pub fn values_per_image(&self) -> usize {
        3 * self.input_size as usize * self.input_size as usize
    }

    /// Size after scaling the shorter side to `resize_shorter`, keeping the aspect ratio; the
    /// longer side is rounded, as the reference preprocessing (`inference-node/model/preprocess.py`) does.
    pub fn resized_dims(&self, width: u32, height: u32) -> (u32, u32) {
        let short_target = u64::from(self.resize_shorter);
        let scale = |long: u32, short: u32| {
            let (long, short) = (u64::from(long), u64::from(short));
            let rounded = (2 * long * short_target + short) / (2 * short);
            u32::try_from(rounded.max(1)).unwrap_or(u32::MAX)
        };
        if width <= height {
            (self.resize_shorter, scale(height, width))
        } else {
            (scale(width, height), self.resize_shorter)
        }
    }

    /// Appends the normalised CHW values of `image` to `out` (exactly `values_per_image` values).
    pub fn apply(&self, image: &RgbImage, out: &mut Vec<f32>) {
        let view =
            PixelView { data: image.as_raw(), width: image.width(), height: image.height(), channels: 3 };
        self.apply_view(view, out, &mut Vec::new());
    }

    /// Like [`Preprocessing::apply`] for any decoded image; 8-bit layouts are read in place.
    /// `scratch` is reused between calls (it holds the resample's intermediate rows).
    pub fn apply_image(&self, image: &DynamicImage, out: &mut Vec<f32>, scratch: &mut Vec<f32>) {
        match pixel_view(image) {
            Some(view) => self.apply_view(view, out, scratch),
            None => {
                let rgb = image.to_rgb8();
                let view =
                    PixelView { data: rgb.as_raw(), width: rgb.width(), height: rgb.height(), channels: 3 };
                self.apply_view(view, out, scratch);
            }
        }
    }

    /// Resize (shorter side to `resize_shorter`), centre crop and normalise in one step, resampling
    /// only the crop (see [`crate::resample`]).
    fn apply_view(&self, view: PixelView<'_>, out: &mut Vec<f32>, scratch: &mut Vec<f32>) {
        let resized = self.resized_dims(view.width, view.height);
        let size = self.input_size;
        // Centre crop, offset `(resized - crop) // 2` as in the reference; `resize_shorter >=
        // input_size` is checked when the config is built, and `min` keeps the crop inside the
        // image regardless (uncovered values stay zero).
        let plan = CropPlan {
            resized,
            offset: (resized.0.saturating_sub(size) / 2, resized.1.saturating_sub(size) / 2),
            size,
            covered: (size.min(resized.0), size.min(resized.1)),
        };
        let start = out.len();
        out.resize(start + self.values_per_image(), 0.0);
        let inv = [1.0 / self.std[0], 1.0 / self.std[1], 1.0 / self.std[2]];
        resize_crop_into(view, plan, self.mean, inv, scratch, &mut out[start..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgb};

    fn png_bytes(image: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(image.as_raw(), image.width(), image.height(), image::ExtendedColorType::Rgb8)
            .expect("encode");
        out
    }

    fn gif_bytes(image: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::gif::GifEncoder::new(&mut out)
            .encode(image.as_raw(), image.width(), image.height(), image::ExtendedColorType::Rgb8)
            .expect("encode");
        out
    }

    #[test]
    fn a_gif_frame_outside_its_screen_is_refused_not_cropped() {
        let gif = gif_bytes(&RgbImage::from_pixel(64, 48, Rgb([10, 200, 30])));
        let fits = probe(&gif, 1 << 20).expect("a plain GIF");
        assert_eq!((fits.width, fits.height), (64, 48));
        decode(&gif, fits).expect("decodes");
        // The same file claiming a 10x10 screen: its 64x48 frame would be cut to a corner.
        let mut small_screen = gif.clone();
        small_screen[6..10].copy_from_slice(&[10, 0, 10, 0]);
        let err = probe(&small_screen, 1 << 20).expect_err("frame outside the screen");
        assert_eq!(
            err.to_string(),
            "image is corrupt or truncated: the GIF's first frame (64x48 at 0,0) lies outside its 10x10 screen"
        );
    }

    #[test]
    fn normalises_a_tiny_image_into_planar_chw() {
        // 3x2 image, no resize (shorter side already 2), crop 2x2 from columns 0..2 (left = 1/2 = 0).
        let mut image = RgbImage::new(3, 2);
        image.put_pixel(0, 0, Rgb([0, 255, 10]));
        image.put_pixel(1, 0, Rgb([100, 50, 20]));
        image.put_pixel(2, 0, Rgb([9, 9, 9]));
        image.put_pixel(0, 1, Rgb([200, 0, 30]));
        image.put_pixel(1, 1, Rgb([127, 128, 40]));
        image.put_pixel(2, 1, Rgb([9, 9, 9]));
        let pre = Preprocessing {
            input_size: 2,
            resize_shorter: 2,
            mean: [100.0, 50.0, 0.0],
            std: [100.0, 50.0, 10.0],
        };
        let mut out = vec![7.0]; // existing contents stay untouched
        pre.apply(&image, &mut out);
        #[rustfmt::skip]
        let expected = [
            7.0,
            // R: (v - 100) / 100
            -1.0, 0.0, 1.0, 0.27,
            // G: (v - 50) / 50
            4.1, 0.0, -1.0, 1.56,
            // B: v / 10
            1.0, 2.0, 3.0, 4.0,
        ];
        assert_eq!(out.len(), expected.len());
        for (i, (got, want)) in out.iter().zip(expected).enumerate() {
            assert!((got - want).abs() < 1e-5, "value {i}: got {got}, want {want}");
        }
    }

    #[test]
    fn resizes_the_shorter_side_then_crops_the_centre() {
        let pre = Preprocessing { input_size: 224, resize_shorter: 256, mean: [0.0; 3], std: [1.0; 3] };
        assert_eq!(pre.resized_dims(451, 300), (385, 256)); // 384.85 rounds up
        assert_eq!(pre.resized_dims(300, 451), (256, 385));
        assert_eq!(pre.resized_dims(400, 300), (341, 256)); // 341.33 rounds down
        assert_eq!(pre.resized_dims(10, 10), (256, 256));
        // A uniform image stays uniform through resize and crop.
        let image = RgbImage::from_pixel(451, 300, Rgb([30, 60, 90]));
        let mut out = Vec::new();
        pre.apply(&image, &mut out);
        assert_eq!(out.len(), pre.values_per_image());
        let plane = 224 * 224;
        assert!(out[..plane].iter().all(|v| (v - 30.0).abs() < 1e-4));
        assert!(out[2 * plane..].iter().all(|v| (v - 90.0).abs() < 1e-4));
    }

    #[test]
    fn crop_only_resample_matches_a_full_resize_then_crop() {
        // A textured image, downscaled with the `image` crate's triangle filter over the whole
        // image and then cropped (the previous implementation) vs resampling only the crop.
        let image = RgbImage::from_fn(451, 300, |x, y| {
            Rgb([(x * 7 + y * 3) as u8, ((x ^ y) * 5) as u8, ((x * y) % 251) as u8])
        });
        let pre = Preprocessing { input_size: 224, resize_shorter: 256, mean: [127.5; 3], std: [127.5; 3] };
        let (w, h) = pre.resized_dims(451, 300);
        let full = DynamicImage::ImageRgb8(image.clone())
            .resize_exact(w, h, image::imageops::FilterType::Triangle)
            .into_rgb8();
        let (left, top) = ((w - 224) / 2, (h - 224) / 2);
        let mut ours = Vec::new();
        pre.apply(&image, &mut ours);
        let mut worst = 0.0f32;
        let mut total = 0.0f64;
        for c in 0..3 {
            for y in 0..224u32 {
                for x in 0..224u32 {
                    let want = f32::from(full.get_pixel(left + x, top + y)[c]);
                    let got = ours[c * 224 * 224 + (y * 224 + x) as usize] * 127.5 + 127.5;
                    worst = worst.max((got - want).abs());
                    total += f64::from((got - want).abs());
                }
            }
        }
        let mean = total / (3.0 * 224.0 * 224.0);
        assert!(mean < 1.0, "mean abs difference {mean} grey levels");
        assert!(worst < 40.0, "worst difference {worst} grey levels");
    }

    #[test]
    fn rgba_and_grey_images_are_read_without_conversion() {
        let pre = Preprocessing { input_size: 4, resize_shorter: 4, mean: [0.0; 3], std: [1.0; 3] };
        let rgba = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(6, 4, image::Rgba([10, 20, 30, 0])));
        let grey = DynamicImage::ImageLuma8(image::GrayImage::from_pixel(4, 8, image::Luma([99])));
        let (mut a, mut g, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
        pre.apply_image(&rgba, &mut a, &mut scratch);
        pre.apply_image(&grey, &mut g, &mut scratch);
        assert!(
            a[..16].iter().all(|v| (v - 10.0).abs() < 1e-4)
                && a[32..].iter().all(|v| (v - 30.0).abs() < 1e-4)
        );
        assert!(g.len() == 48 && g.iter().all(|v| (v - 99.0).abs() < 1e-4));
    }

    #[test]
    fn probe_reads_dimensions_and_rejects_non_images() {
        let bytes = png_bytes(&RgbImage::new(5, 3));
        let probe = probe(&bytes, 100).expect("probe");
        assert_eq!((probe.format, probe.width, probe.height), (ImageFormat::Png, 5, 3));
        assert_eq!(super::probe(b"hello, world", 100), Err(ImageInputError::NotAnImage));
        assert!(matches!(super::probe(&bytes, 14), Err(ImageInputError::TooManyPixels { .. })));
    }

    fn jpeg_bytes(image: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(image).expect("encode");
        out
    }

    /// `jpeg` with a comment segment right after SOI whose text is two end-of-image markers, which
    /// must not end the walk early.
    fn with_eoi_in_comment(jpeg: &[u8]) -> Vec<u8> {
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xff, 0xfe, 0x00, 0x06, 0xff, 0xd9, 0xff, 0xd9]);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn a_truncated_jpeg_is_corrupt_not_grey() {
        let image = RgbImage::from_fn(64, 48, |x, y| Rgb([(x * 4) as u8, (y * 5) as u8, 90]));
        let plain = jpeg_bytes(&image);
        for bytes in [with_eoi_in_comment(&plain), plain] {
            let probe = probe(&bytes, 1 << 20).expect("probe");
            assert_eq!(decode(&bytes, probe).expect("whole file").dimensions(), (64, 48));
            // Data after the end-of-image marker (camera trailers) is fine.
            let mut trailer = bytes.clone();
            trailer.extend_from_slice(b"trailer");
            decode(&trailer, probe).expect("trailing bytes");
            for cut in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 2, bytes.len() - 1] {
                let result = decode(&bytes[..cut], probe);
                assert!(matches!(result, Err(ImageInputError::Corrupt(_))), "cut {cut}: {result:?}");
            }
        }
    }

    #[test]
    fn truncated_image_is_corrupt_not_a_panic() {
        let bytes = png_bytes(&RgbImage::from_pixel(64, 64, Rgb([1, 2, 3])));
        for cut in [8, 20, 40, bytes.len() - 20] {
            let result = probe(&bytes[..cut], 1 << 20).and_then(|p| decode(&bytes[..cut], p));
            assert!(matches!(result, Err(ImageInputError::Corrupt(_))), "cut {cut}: {result:?}");
        }
        let probe = probe(&bytes, 1 << 20).expect("probe");
        assert_eq!(decode(&bytes, probe).expect("decode").dimensions(), (64, 64));
    }
}
