//! The arithmetic of [`super::DepthwiseConv2d`]: per channel, a zero-padded copy split into
//! stride phases, then register-blocked FMA accumulation over the flat phase plane.
//!
//! Layout. The padded input (`ph x pw`) is split into `sh * sw` phase planes: phase `(ry, rx)`
//! holds padded pixel `(qy * sh + ry, qx * sw + rx)` at `(qy, qx)`, planes being `qh x qw`. Then
//! every output `(oy, ox)` reads tap `(ky, kx)` from phase `(ky % sh, kx % sw)` at
//! `(oy + ky / sh, ox + kx / sw)`: a stride-1 access. Numbering outputs flat with the phase row
//! length, `j = oy * qw + ox`, tap `t` reads `plane_t[j + offset_t]`, so all outputs of a channel
//! form one contiguous run of `span = (oh - 1) * qw + ow` points per tap, whatever the width. The
//! `qw - ow` points past each row's end are computed and dropped; that costs little next to
//! running a 7-wide row as a scalar loop. Stride 1 is the one-phase case (the padded plane).
//!
//! Accumulation. The run is cut into blocks of up to [`MAX_BLOCK`] SIMD vectors. A block keeps
//! its accumulators in registers across all taps: per tap one weight broadcast, then one load and
//! one FMA per vector. Enough independent accumulators hide the FMA latency, and the
//! accumulators are never spilled to memory between taps. Bias and the fused clamp (ReLU6) are
//! applied in registers before the block is stored.
//!
//! Every helper is `#[inline(always)]`: pulp compiles `with_simd` with the dispatched target
//! features (AVX2 + FMA on x86-64-v3), and only inlined code inherits them.

use pulp::{Simd, WithSimd};

/// Most SIMD vectors one block accumulates in registers. 12 accumulators + 1 broadcast weight
/// fit AVX2's 16 registers and give more than the 10 FMAs in flight that FMA latency (4-5
/// cycles) times throughput (2 per cycle) needs.
pub const MAX_BLOCK: usize = 12;

/// Floats of slack after the flat run, so that the last block (rounded up to whole vectors) reads
/// and writes inside the buffers for any vector width pulp may pick (up to 16 lanes).
const SLACK: usize = 16;

/// Precomputed layout of one layer; see the module comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub input: (usize, usize),
    pub output: (usize, usize),
    pub stride: (usize, usize),
    pub pad_before: (usize, usize),
    /// Phase plane height and width.
    pub plane: (usize, usize),
    /// Flat outputs per channel, including the dropped points past each row.
    pub span: usize,
    /// Per tap (row-major over the kernel), the index in the scratch buffer of the value that
    /// output 0 reads.
    pub offsets: Vec<usize>,
    /// Length of the scratch buffer holding all phase planes plus slack.
    pub buffer_len: usize,
    /// Per input row, the scratch indices of its pixels 0 and 1: precomputed because the
    /// divisions by the stride cost as much as a narrow row's copy.
    rows: Vec<[usize; 2]>,
}

impl Layout {
    /// `None` when the kernel does not fit the padded input or a stride or kernel side is 0.
    pub fn new(
        input: (usize, usize),
        kernel: (usize, usize),
        stride: (usize, usize),
        pad_before: (usize, usize),
        pad_after: (usize, usize),
    ) -> Option<Layout> {
        let (h, w) = input;
        let (kh, kw) = kernel;
        let (sh, sw) = stride;
        if sh == 0 || sw == 0 || kh == 0 || kw == 0 {
            return None;
        }
        let (ph, pw) = (h + pad_before.0 + pad_after.0, w + pad_before.1 + pad_after.1);
        let output = ((ph.checked_sub(kh)?) / sh + 1, (pw.checked_sub(kw)?) / sw + 1);
        let plane = (ph.div_ceil(sh), pw.div_ceil(sw));
        let plane_len = plane.0 * plane.1;
        let span = (output.0 - 1) * plane.1 + output.1;
        let offsets: Vec<usize> = (0..kh)
            .flat_map(|ky| (0..kw).map(move |kx| (ky, kx)))
            .map(|(ky, kx)| {
                let phase = (ky % sh) * sw + kx % sw;
                phase * plane_len + (ky / sh) * plane.1 + kx / sw
            })
            .collect();
        let furthest = offsets.iter().max().copied().unwrap_or(0);
        let buffer_len = (sh * sw * plane_len).max(furthest + span + SLACK);
        let mut layout =
            Layout { input, output, stride, pad_before, plane, span, offsets, buffer_len, rows: Vec::new() };
        layout.rows = (0..h)
            .map(|y| {
                [
                    layout.index(y + pad_before.0, pad_before.1),
                    layout.index(y + pad_before.0, pad_before.1 + 1),
                ]
            })
            .collect();
        Some(layout)
    }

    /// Scratch buffer index of padded pixel `(py, px)`.
    #[inline(always)]
    fn index(&self, py: usize, px: usize) -> usize {
        let (sh, sw) = self.stride;
        let (qh, qw) = self.plane;
        ((py % sh) * sw + px % sw) * qh * qw + (py / sh) * qw + px / sw
    }
}

/// Buffers reused across the channels of one evaluation.
#[derive(Debug, Default)]
pub struct Scratch {
    planes: Vec<f32>,
    flat: Vec<f32>,
}

/// One evaluation: `input` holds whole `h x w` planes (any batch), `output` the `oh x ow` ones.
pub struct Convolve<'a> {
    pub layout: &'a Layout,
    /// `[channels, kh * kw]`, taps in the order of `layout.offsets`.
    pub weights: &'a [f32],
    pub bias: &'a [f32],
    /// Output clamp (`-inf..inf` when nothing was fused).
    pub clamp: (f32, f32),
    pub input: &'a [f32],
    pub output: &'a mut [f32],
    pub scratch: &'a mut Scratch,
}

impl WithSimd for Convolve<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Convolve { layout, weights, bias, clamp, input, output, scratch } = self;
        let (h, w) = layout.input;
        let (oh, ow) = layout.output;
        let taps = layout.offsets.len();
        let channels = bias.len();
        if h * w == 0 || oh * ow == 0 || taps == 0 || channels == 0 {
            return;
        }
        // Padding cells are at the same places for every channel and never written: zero them
        // once per evaluation, then each channel only overwrites the interior.
        scratch.planes.clear();
        scratch.planes.resize(layout.buffer_len, 0.0);
        scratch.flat.clear();
        scratch.flat.resize(layout.span + SLACK, 0.0);
        let lanes = S::F32_LANES;
        let vectors = layout.span.div_ceil(lanes);
        let blocks = vectors.div_ceil(MAX_BLOCK);
        for (index, (src, dst)) in input.chunks_exact(h * w).zip(output.chunks_exact_mut(oh * ow)).enumerate()
        {
            let c = index % channels;
            fill_phases(layout, src, &mut scratch.planes);
            let channel = Channel {
                planes: &scratch.planes,
                offsets: &layout.offsets,
                weights: &weights[c * taps..(c + 1) * taps],
                bias: simd.splat_f32s(bias[c]),
                lo: simd.splat_f32s(clamp.0),
                hi: simd.splat_f32s(clamp.1),
            };
            // Even split of the run into `blocks` blocks of at most MAX_BLOCK vectors, so that no
            // short block (few accumulators, latency-bound) is left at the end.
            let mut start = 0;
            for b in 0..blocks {
                let len = vectors * (b + 1) / blocks - vectors * b / blocks;
                channel.block_of(simd, len, start * lanes, &mut scratch.flat);
                start += len;
            }
            let qw = layout.plane.1;
            for (oy, row) in dst.chunks_exact_mut(ow).enumerate() {
                row.copy_from_slice(&scratch.flat[oy * qw..oy * qw + ow]);
            }
        }
    }
}

/// Copies one input channel into the interior of the phase planes.
#[inline(always)]
fn fill_phases(layout: &Layout, src: &[f32], planes: &mut [f32]) {
    let (_, w) = layout.input;
    let (pt, pl) = layout.pad_before;
    let sw = layout.stride.1;
    for ((y, row), &[first_at, second_at]) in src.chunks_exact(w).enumerate().zip(&layout.rows) {
        let py = y + pt;
        match sw {
            1 => planes[first_at..first_at + w].copy_from_slice(row),
            2 => {
                // Row pixels 2i and 2i + 1 land in the two column phases, both at column
                // i + (pl + parity) / 2: a plain deinterleave the compiler vectorises.
                let (even_at, odd_at) = (first_at, second_at);
                let pairs = w / 2;
                let (even, odd) = if even_at < odd_at {
                    let (a, b) = planes.split_at_mut(odd_at);
                    (&mut a[even_at..even_at + pairs + w % 2], &mut b[..pairs])
                } else {
                    let (a, b) = planes.split_at_mut(even_at);
                    (&mut b[..pairs + w % 2], &mut a[odd_at..odd_at + pairs])
                };
                for ((e, o), pair) in even.iter_mut().zip(odd.iter_mut()).zip(row.chunks_exact(2)) {
                    *e = pair[0];
                    *o = pair[1];
                }
                if w % 2 == 1 {
                    even[pairs] = row[w - 1];
                }
            }
            _ => {
                for (x, v) in row.iter().enumerate() {
                    planes[layout.index(py, x + pl)] = *v;
                }
            }
        }
    }
}

/// One channel's inputs to the block kernel.
struct Channel<'a, S: Simd> {
    planes: &'a [f32],
    offsets: &'a [usize],
    weights: &'a [f32],
    bias: S::f32s,
    lo: S::f32s,
    hi: S::f32s,
}

impl<S: Simd> Channel<'_, S> {
    /// Turns a run-time block length into a const-generic one, so the accumulators are an array
    /// the compiler keeps in registers.
    #[inline(always)]
    fn block_of(&self, simd: S, len: usize, base: usize, flat: &mut [f32]) {
        match len {
            1 => self.block::<1>(simd, base, flat),
            2 => self.block::<2>(simd, base, flat),
            3 => self.block::<3>(simd, base, flat),
            4 => self.block::<4>(simd, base, flat),
            5 => self.block::<5>(simd, base, flat),
            6 => self.block::<6>(simd, base, flat),
            7 => self.block::<7>(simd, base, flat),
            8 => self.block::<8>(simd, base, flat),
            9 => self.block::<9>(simd, base, flat),
            10 => self.block::<10>(simd, base, flat),
            11 => self.block::<11>(simd, base, flat),
            _ => self.block::<MAX_BLOCK>(simd, base, flat),
        }
    }

    /// Flat outputs `base .. base + N * lanes`: all taps accumulated in `N` registers, then bias
    /// (the accumulators' start value) and clamp, then one store per vector.
    #[inline(always)]
    fn block<const N: usize>(&self, simd: S, base: usize, flat: &mut [f32]) {
        let width = N * S::F32_LANES;
        let mut acc = [self.bias; N];
        for (&offset, &weight) in self.offsets.iter().zip(self.weights) {
            let weight = simd.splat_f32s(weight);
            let at = offset + base;
            let (vectors, _) = S::as_simd_f32s(&self.planes[at..at + width]);
            for (a, v) in acc.iter_mut().zip(vectors) {
                *a = simd.mul_add_f32s(weight, *v, *a);
            }
        }
        let (out, _) = S::as_mut_simd_f32s(&mut flat[base..base + width]);
        for (o, a) in out.iter_mut().zip(acc) {
            *o = simd.min_f32s(simd.max_f32s(a, self.lo), self.hi);
        }
    }
}
