//! Resize-and-crop in one step: the bilinear (triangle) resample of Pillow's
//! `Image.resize(..., BILINEAR)` — the reference preprocessing — evaluated only for the output
//! pixels inside the centre crop, straight from the decoded pixels (RGB, RGBA, grey or grey+alpha,
//! 8-bit) into normalised planar CHW `f32`.
//!
//! Resizing the whole image and then throwing most of it away costs `resized_w * resized_h`
//! output pixels; this costs `crop * crop` (plus the input rows the crop's filter taps reach), and
//! it needs no RGBA→RGB copy and no intermediate `u8` image.
//!
//! The filter weights follow Pillow's `precompute_coeffs` (`src/libImaging/Resample.c`): output
//! pixel `i` is centred at `(i + 0.5) * scale` in input coordinates, the triangle's support grows
//! with the downscale factor (so shrinking antialiases), and the weights are normalised to sum to
//! one. Pillow rounds the horizontal pass to 8 bits; this keeps it in `f32`, a difference of at
//! most half a grey level.

/// Decoded 8-bit pixels, row-major, `channels` bytes per pixel (1 = grey, 2 = grey+alpha,
/// 3 = RGB, 4 = RGBA). Alpha is ignored, as Pillow's `convert("RGB")` drops it.
#[derive(Debug, Clone, Copy)]
pub struct PixelView<'a> {
    pub data: &'a [u8],
    pub width: u32,
    pub height: u32,
    pub channels: usize,
}

impl PixelView<'_> {
    /// Whether `data` holds exactly `width * height * channels` bytes of a supported layout.
    pub fn is_consistent(&self) -> bool {
        (1..=4).contains(&self.channels)
            && (self.width as usize)
                .checked_mul(self.height as usize)
                .and_then(|n| n.checked_mul(self.channels))
                .is_some_and(|n| n == self.data.len())
    }

    /// The RGB value of pixel `index` (grey is replicated into all three channels).
    fn rgb(&self, index: usize) -> [f32; 3] {
        let at = index * self.channels;
        if self.channels >= 3 {
            [f32::from(self.data[at]), f32::from(self.data[at + 1]), f32::from(self.data[at + 2])]
        } else {
            let v = f32::from(self.data[at]);
            [v, v, v]
        }
    }
}

/// The taps of one output pixel: input indices `first..first + weights.len()`.
#[derive(Debug, Clone, PartialEq)]
struct Taps {
    first: usize,
    weights: Vec<f32>,
}

/// Pillow-compatible triangle-filter taps for output pixels `out_range` when `in_size` input
/// pixels are resized to `out_size`.
fn taps(in_size: u32, out_size: u32, out_range: std::ops::Range<u32>) -> Vec<Taps> {
    let scale = f64::from(in_size) / f64::from(out_size.max(1));
    let filter_scale = scale.max(1.0);
    let support = filter_scale; // the triangle filter's support is 1.0
    let inv = 1.0 / filter_scale;
    out_range
        .map(|i| {
            let center = (f64::from(i) + 0.5) * scale;
            // `as` truncates toward zero, like Pillow's `(int)` casts.
            let first = ((center - support + 0.5) as i64).max(0) as usize;
            let end = ((center + support + 0.5) as i64).clamp(0, i64::from(in_size)) as usize;
            let mut weights: Vec<f64> = (first..end)
                .map(|x| {
                    let d = ((x as f64) - center + 0.5) * inv;
                    (1.0 - d.abs()).max(0.0)
                })
                .collect();
            let total: f64 = weights.iter().sum();
            if total > 0.0 {
                weights.iter_mut().for_each(|w| *w /= total);
            } else {
                // Cannot happen for in_size >= 1 (the nearest pixel always has weight > 0), but
                // never divide by zero: fall back to the nearest pixel.
                weights = vec![1.0];
            }
            Taps { first: first.min(in_size.saturating_sub(1) as usize), weights: weights_f32(&weights) }
        })
        .collect()
}

fn weights_f32(weights: &[f64]) -> Vec<f32> {
    weights.iter().map(|w| *w as f32).collect()
}

/// Where the crop sits in the resized image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropPlan {
    /// Size of the full resized image.
    pub resized: (u32, u32),
    /// Top-left corner of the crop in the resized image.
    pub offset: (u32, u32),
    /// Output side (the plane is `size * size`); pixels beyond `covered` stay zero.
    pub size: u32,
    /// Columns and rows of the crop that lie inside the resized image.
    pub covered: (u32, u32),
}

/// Writes the crop of `plan` into `out` (3 planes of `size * size` values, R then G then B),
/// each value `(v - mean[c]) * inv_std[c]`. `out` must hold `3 * size * size` values;
/// `scratch` is reused between calls to avoid allocating the horizontal pass's rows.
pub fn resize_crop_into(
    src: PixelView<'_>,
    plan: CropPlan,
    mean: [f32; 3],
    inv_std: [f32; 3],
    scratch: &mut Vec<f32>,
    out: &mut [f32],
) {
    let size = plan.size as usize;
    let plane = size * size;
    if !src.is_consistent() || out.len() < 3 * plane {
        return;
    }
    let (cols, rows) = (plan.covered.0 as usize, plan.covered.1 as usize);
    let x_taps = taps(src.width, plan.resized.0, plan.offset.0..plan.offset.0 + plan.covered.0);
    let y_taps = taps(src.height, plan.resized.1, plan.offset.1..plan.offset.1 + plan.covered.1);
    let (Some(first_row), Some(last)) = (y_taps.first(), y_taps.last()) else { return };
    // Input rows the crop's vertical taps reach.
    let row_lo = y_taps.iter().map(|t| t.first).min().unwrap_or(first_row.first);
    let row_hi = y_taps
        .iter()
        .map(|t| t.first + t.weights.len())
        .max()
        .unwrap_or(last.first + last.weights.len())
        .min(src.height as usize);
    // Horizontal pass: each needed input row -> `cols` RGB values (interleaved, f32).
    let stride = cols * 3;
    scratch.clear();
    scratch.resize((row_hi - row_lo) * stride, 0.0);
    let width = src.width as usize;
    for (y, line) in (row_lo..row_hi).zip(scratch.chunks_exact_mut(stride)) {
        let row_base = y * width;
        for (tap, px) in x_taps.iter().zip(line.chunks_exact_mut(3)) {
            let mut acc = [0.0f32; 3];
            for (k, w) in tap.weights.iter().enumerate() {
                let v = src.rgb(row_base + (tap.first + k).min(width - 1));
                acc[0] += v[0] * w;
                acc[1] += v[1] * w;
                acc[2] += v[2] * w;
            }
            px.copy_from_slice(&acc);
        }
    }
    // Vertical pass, normalised and written planar in the same loop.
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    let scratch_rows = row_hi - row_lo;
    for (y, tap) in y_taps.iter().enumerate().take(rows) {
        let dst = y * size;
        for x in 0..cols {
            let mut acc = [0.0f32; 3];
            for (k, w) in tap.weights.iter().enumerate() {
                let row = (tap.first + k).saturating_sub(row_lo).min(scratch_rows - 1);
                let at = row * stride + x * 3;
                acc[0] += scratch[at] * w;
                acc[1] += scratch[at + 1] * w;
                acc[2] += scratch[at + 2] * w;
            }
            // Pillow's output is 8-bit: clamp to the pixel range (rounding is left out; see above).
            r[dst + x] = (acc[0].clamp(0.0, 255.0) - mean[0]) * inv_std[0];
            g[dst + x] = (acc[1].clamp(0.0, 255.0) - mean[1]) * inv_std[1];
            b[dst + x] = (acc[2].clamp(0.0, 255.0) - mean[2]) * inv_std[2];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_size_taps_are_the_identity() {
        for t in taps(5, 5, 0..5).iter().enumerate() {
            let (i, tap) = t;
            let nonzero: Vec<(usize, f32)> = tap
                .weights
                .iter()
                .enumerate()
                .filter(|(_, w)| **w > 0.0)
                .map(|(k, w)| (tap.first + k, *w))
                .collect();
            assert_eq!(nonzero, vec![(i, 1.0)], "output {i}");
        }
    }

    #[test]
    fn halving_averages_pixel_pairs_with_antialiasing() {
        // 4 -> 2: output 0 is centred at 1.0 with support 2: inputs 0..3 weighted 1/4, 2/4... per Pillow.
        let t = taps(4, 2, 0..2);
        let sum: f32 = t[0].weights.iter().sum();
        assert!((sum - 1.0).abs() < 1e-6);
        assert_eq!(t[0].first, 0);
        // Input 0 and 1 are the nearest pixels (centres 0.5 and 1.5) and weigh the same.
        assert!((t[0].weights[0] - t[0].weights[1]).abs() < 1e-6, "{:?}", t[0]);
        // A ramp 0, 100, 200, 300 (clamped later) resamples to the mean of the covered pixels.
        let t = taps(2, 4, 0..4);
        assert_eq!(t[0].weights.len(), 1);
    }

    #[test]
    fn crop_of_a_uniform_grey_image_is_uniform_rgb() {
        let data = vec![77u8; 40 * 30];
        let src = PixelView { data: &data, width: 40, height: 30, channels: 1 };
        let plan = CropPlan { resized: (27, 20), offset: (3, 0), size: 20, covered: (20, 20) };
        let mut out = vec![-1.0; 3 * 400];
        resize_crop_into(src, plan, [0.0; 3], [1.0; 3], &mut Vec::new(), &mut out);
        assert!(out.iter().all(|v| (v - 77.0).abs() < 1e-3), "{:?}", &out[..4]);
    }

    #[test]
    fn inconsistent_views_write_nothing() {
        let data = vec![1u8; 10];
        let src = PixelView { data: &data, width: 4, height: 4, channels: 3 };
        let plan = CropPlan { resized: (4, 4), offset: (0, 0), size: 2, covered: (2, 2) };
        let mut out = vec![5.0; 12];
        resize_crop_into(src, plan, [0.0; 3], [1.0; 3], &mut Vec::new(), &mut out);
        assert!(out.iter().all(|v| *v == 5.0));
    }
}
