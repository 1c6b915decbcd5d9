//! A depthwise 2-D convolution op for tract, written for the layer shapes of mobile CNNs.
//!
//! tract 0.23's x86_64 depthwise kernel is vectorised only for stride 1 and output rows of at
//! least 8 points, so EfficientNet-Lite's stride-2 layers and its 14- and 7-wide late layers run
//! scalar (see `docs/performance.md`, "Inference node"). This op replaces every f32 NCHW
//! depthwise `Conv` (group = input channels = output channels, no dilation, explicit padding)
//! before tract optimises the model. It keeps every inner loop contiguous so the compiler
//! vectorises it:
//!
//! - each channel is first copied into a zero-padded plane, so no tap ever needs a bounds check;
//! - stride 1 accumulates over the padded plane's full width (`(rows - 1) * padded_w + out_w`
//!   points in one run per tap) and then keeps the `out_w` valid columns of each row. Short rows
//!   thus still give long vector loops;
//! - stride `s > 1` splits each padded row into `s` column phases (`x * s + p`), so tap `kx`
//!   reads phase `kx % s` contiguously from column `kx / s`.
//!
//! Results equal a direct convolution up to float summation order (checked against one in the
//! tests).

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec};
use tract_onnx::tract_core::ops::nn::DataFormat;

/// Which depthwise convolution runs the model's depthwise layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DepthwiseKernel {
    /// tract's own `DepthWise` op.
    Tract,
    /// [`DepthwiseConv2d`] (this module) wherever it covers the layer.
    #[default]
    Rudder,
}

/// Geometry of one depthwise layer (per image).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Geometry {
    pub channels: usize,
    pub input: (usize, usize),
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    /// Zero padding before (top, left) and after (bottom, right).
    pub pad_before: (usize, usize),
    pub pad_after: (usize, usize),
}

impl Geometry {
    fn padded(&self) -> (usize, usize) {
        (
            self.input.0 + self.pad_before.0 + self.pad_after.0,
            self.input.1 + self.pad_before.1 + self.pad_after.1,
        )
    }

    /// Output (height, width), or `None` when the kernel does not fit the padded input.
    pub fn output(&self) -> Option<(usize, usize)> {
        let (ph, pw) = self.padded();
        let (sh, sw) = self.stride;
        if sh == 0 || sw == 0 || self.kernel.0 == 0 || self.kernel.1 == 0 {
            return None;
        }
        Some(((ph.checked_sub(self.kernel.0)?) / sh + 1, (pw.checked_sub(self.kernel.1)?) / sw + 1))
    }
}

/// The op: weights `[channels, kh, kw]` and one bias per channel are part of the op.
#[derive(Debug, Clone)]
pub struct DepthwiseConv2d {
    pub geometry: Geometry,
    weights: Arc<[f32]>,
    bias: Arc<[f32]>,
}

impl PartialEq for DepthwiseConv2d {
    fn eq(&self, other: &Self) -> bool {
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        self.geometry == other.geometry
            && bits(&self.weights) == bits(&other.weights)
            && bits(&self.bias) == bits(&other.bias)
    }
}

impl Eq for DepthwiseConv2d {}

impl DepthwiseConv2d {
    /// `None` unless `weights` holds `channels * kh * kw` values, `bias` `channels`, and the
    /// kernel fits the padded input.
    pub fn new(geometry: Geometry, weights: Vec<f32>, bias: Vec<f32>) -> Option<Self> {
        let (kh, kw) = geometry.kernel;
        let ok = weights.len() == geometry.channels * kh * kw
            && bias.len() == geometry.channels
            && geometry.output().is_some();
        ok.then(|| DepthwiseConv2d { geometry, weights: weights.into(), bias: bias.into() })
    }

    /// Convolves `input` (`n * channels * h * w`, NCHW) into `output` (`n * channels * oh * ow`).
    pub fn run(&self, input: &[f32], output: &mut [f32], scratch: &mut Scratch) {
        let g = &self.geometry;
        let Some((oh, ow)) = g.output() else { return };
        let (h, w) = g.input;
        let (kh, kw) = g.kernel;
        let in_plane = h * w;
        let out_plane = oh * ow;
        for (c_index, (src, dst)) in
            input.chunks_exact(in_plane).zip(output.chunks_exact_mut(out_plane)).enumerate()
        {
            let c = c_index % g.channels;
            let taps = &self.weights[c * kh * kw..(c + 1) * kh * kw];
            self.channel(src, dst, taps, self.bias[c], scratch);
        }
    }

    fn channel(&self, src: &[f32], dst: &mut [f32], taps: &[f32], bias: f32, scratch: &mut Scratch) {
        let g = &self.geometry;
        let (h, w) = g.input;
        let (ph, pw) = g.padded();
        let (kh, kw) = g.kernel;
        let (sh, sw) = g.stride;
        let Some((oh, ow)) = g.output() else { return };
        // Zero-padded plane.
        let padded = &mut scratch.padded;
        padded.clear();
        padded.resize(ph * pw, 0.0);
        for (y, row) in src.chunks_exact(w).take(h).enumerate() {
            let start = (y + g.pad_before.0) * pw + g.pad_before.1;
            padded[start..start + w].copy_from_slice(row);
        }
        if sw == 1 {
            // Full-width accumulation: output point (oy, x) sits at acc[oy * pw + x]; the
            // columns x >= ow of each row are computed and thrown away.
            let span = (oh - 1) * pw + ow;
            let acc = &mut scratch.acc;
            acc.clear();
            acc.resize(span, bias);
            for ky in 0..kh {
                for kx in 0..kw {
                    let weight = taps[ky * kw + kx];
                    // With vertical stride > 1, rows are picked out below; compute every row.
                    let from = ky * pw + kx;
                    if sh == 1 {
                        for (a, v) in acc.iter_mut().zip(&padded[from..from + span]) {
                            *a += weight * v;
                        }
                    } else {
                        for oy in 0..oh {
                            let row = &mut acc[oy * pw..oy * pw + ow];
                            let at = (oy * sh) * pw + from;
                            for (a, v) in row.iter_mut().zip(&padded[at..at + ow]) {
                                *a += weight * v;
                            }
                        }
                    }
                }
            }
            for (oy, out_row) in dst.chunks_exact_mut(ow).enumerate().take(oh) {
                out_row.copy_from_slice(&acc[oy * pw..oy * pw + ow]);
            }
            return;
        }
        // Horizontal stride > 1: split the padded plane into `sw` column phases.
        let qw = pw.div_ceil(sw);
        let phases = &mut scratch.phases;
        phases.clear();
        phases.resize(sw * ph * qw, 0.0);
        for (y, row) in padded.chunks_exact(pw).enumerate() {
            for (x, v) in row.iter().enumerate() {
                phases[(x % sw) * ph * qw + y * qw + x / sw] = *v;
            }
        }
        for (oy, out_row) in dst.chunks_exact_mut(ow).enumerate().take(oh) {
            out_row.fill(bias);
            for ky in 0..kh {
                let y = oy * sh + ky;
                for kx in 0..kw {
                    let weight = taps[ky * kw + kx];
                    let at = (kx % sw) * ph * qw + y * qw + kx / sw;
                    for (o, v) in out_row.iter_mut().zip(&phases[at..at + ow]) {
                        *o += weight * v;
                    }
                }
            }
        }
    }
}

/// Buffers reused across channels within one evaluation.
#[derive(Debug, Default)]
pub struct Scratch {
    padded: Vec<f32>,
    acc: Vec<f32>,
    phases: Vec<f32>,
}

impl Op for DepthwiseConv2d {
    fn name(&self) -> StaticName {
        "RudderDepthwiseConv2d".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("{:?}", self.geometry)])
    }

    op_as_typed_op!();
}

impl EvalOp for DepthwiseConv2d {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = inputs.first().context("depthwise conv needs one input")?;
        let shape = input.shape();
        let g = &self.geometry;
        let (oh, ow) = g.output().context("kernel does not fit")?;
        ensure!(
            shape.len() == 4 && shape[1] == g.channels && (shape[2], shape[3]) == g.input,
            "depthwise conv built for {:?} got input {shape:?}",
            g
        );
        let n = shape[0];
        let mut output = Tensor::zero::<f32>(&[n, g.channels, oh, ow])?;
        let src = input.as_slice::<f32>()?;
        let dst = output.as_slice_mut::<f32>()?;
        self.run(src, dst, &mut Scratch::default());
        Ok(tvec!(output.into_tvalue()))
    }
}

impl TypedOp for DepthwiseConv2d {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let input = inputs.first().context("depthwise conv needs one input")?;
        let (oh, ow) = self.geometry.output().context("kernel does not fit")?;
        let n = input.shape.first().cloned().context("input has no batch axis")?;
        Ok(tvec!(f32::fact([n, self.geometry.channels.to_dim(), oh.to_dim(), ow.to_dim()])))
    }

    as_op!();
}

/// A constant f32 input of `node` as a flat vector, if it is one.
fn const_input(model: &TypedModel, node: &TypedNode, slot: usize) -> Option<(Vec<usize>, Vec<f32>)> {
    let outlet = node.inputs.get(slot)?;
    let konst = model.outlet_fact(*outlet).ok()?.konst.clone()?;
    let values = konst.cast_to::<f32>().ok()?.as_slice::<f32>().ok()?.to_vec();
    Some((konst.shape().to_vec(), values))
}

/// The [`DepthwiseConv2d`] equivalent of a tract `Conv` node, if the node is an f32 NCHW
/// depthwise convolution this op covers.
fn replacement(model: &TypedModel, node: &TypedNode) -> Option<DepthwiseConv2d> {
    let conv = node.op_as::<Conv>()?;
    let spec = &conv.pool_spec;
    let input = model.outlet_fact(*node.inputs.first()?).ok()?;
    let shape = input.shape.as_concrete()?;
    let channels = spec.input_channels;
    let plain = conv.q_params.is_none()
        && input.datum_type == f32::datum_type()
        && spec.data_format == DataFormat::NCHW
        && spec.kernel_shape.len() == 2
        && conv.group == channels
        && spec.output_channels == channels
        && shape.len() == 4
        && shape[1] == channels
        && spec.dilations.as_ref().is_none_or(|d| d.iter().all(|v| *v == 1))
        && node.inputs.len() == 3;
    if !plain {
        return None;
    }
    let (kh, kw) = (spec.kernel_shape[0], spec.kernel_shape[1]);
    let (pad_before, pad_after) = match &spec.padding {
        PaddingSpec::Explicit(b, a) if b.len() == 2 && a.len() == 2 => ((b[0], b[1]), (a[0], a[1])),
        PaddingSpec::Valid => ((0, 0), (0, 0)),
        _ => return None,
    };
    let stride = match spec.strides.as_deref() {
        None => (1, 1),
        Some([sh, sw]) => (*sh, *sw),
        Some(_) => return None,
    };
    let (kernel_shape, weights) = const_input(model, node, 1)?;
    // OIHW with I = 1 (one input channel per group) is the ONNX layout; anything else is left to tract.
    if conv.kernel_fmt != KernelFormat::OIHW || kernel_shape != [channels, 1, kh, kw] {
        return None;
    }
    let (bias_shape, bias) = const_input(model, node, 2)?;
    let bias = match bias_shape.iter().product::<usize>() {
        1 => vec![bias[0]; channels],
        n if n == channels => bias,
        _ => return None,
    };
    let geometry =
        Geometry { channels, input: (shape[2], shape[3]), kernel: (kh, kw), stride, pad_before, pad_after };
    DepthwiseConv2d::new(geometry, weights, bias)
}

/// Replaces every depthwise `Conv` of a decluttered model that [`DepthwiseConv2d`] covers;
/// returns how many were replaced.
pub fn replace_depthwise_convs(model: &mut TypedModel) -> TractResult<usize> {
    let mut replaced = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(op) = replacement(model, node) else { continue };
        let mut patch = TypedModelPatch::new("rudder-depthwise");
        let input = patch.tap_model(model, node.inputs[0])?;
        let wire = patch.wire_node(&node.name, op, &[input])?;
        patch.shunt_outside(model, OutletId::new(id, 0), wire[0])?;
        patch.apply(model)?;
        replaced += 1;
    }
    Ok(replaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct convolution, the definition: zero outside the input.
    fn reference(g: &Geometry, input: &[f32], weights: &[f32], bias: &[f32]) -> Vec<f32> {
        let (oh, ow) = g.output().expect("fits");
        let (h, w) = g.input;
        let (kh, kw) = g.kernel;
        let n = input.len() / (g.channels * h * w);
        let mut out = Vec::new();
        for i in 0..n * g.channels {
            let c = i % g.channels;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut sum = bias[c];
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let y = (oy * g.stride.0 + ky) as isize - g.pad_before.0 as isize;
                            let x = (ox * g.stride.1 + kx) as isize - g.pad_before.1 as isize;
                            if y >= 0 && x >= 0 && (y as usize) < h && (x as usize) < w {
                                sum += weights[c * kh * kw + ky * kw + kx]
                                    * input[i * h * w + y as usize * w + x as usize];
                            }
                        }
                    }
                    out.push(sum);
                }
            }
        }
        out
    }

    fn pseudo_random(len: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn matches_a_direct_convolution_for_mobile_net_shapes() {
        let cases = [
            // (channels, input, kernel, stride, pad before, pad after)
            (3, (12, 12), (3, 3), (1, 1), (1, 1), (1, 1)),
            (4, (14, 14), (3, 3), (2, 2), (0, 0), (1, 1)), // TF-style "same" for stride 2
            (2, (7, 7), (5, 5), (1, 1), (2, 2), (2, 2)),
            (5, (28, 28), (5, 5), (2, 2), (1, 1), (2, 2)),
            (2, (9, 6), (3, 5), (1, 2), (1, 2), (0, 1)),
            (3, (8, 8), (3, 3), (2, 1), (0, 0), (0, 0)),
        ];
        for (i, (channels, input, kernel, stride, pad_before, pad_after)) in cases.into_iter().enumerate() {
            let g = Geometry { channels, input, kernel, stride, pad_before, pad_after };
            let weights = pseudo_random(channels * kernel.0 * kernel.1, 7 + i as u32);
            let bias = pseudo_random(channels, 99 + i as u32);
            let batch = 2;
            let x = pseudo_random(batch * channels * input.0 * input.1, 1234 + i as u32);
            let op = DepthwiseConv2d::new(g, weights.clone(), bias.clone()).expect("valid");
            let (oh, ow) = g.output().expect("fits");
            let mut got = vec![f32::NAN; batch * channels * oh * ow];
            op.run(&x, &mut got, &mut Scratch::default());
            let want = reference(&g, &x, &weights, &bias);
            assert_eq!(got.len(), want.len());
            for (j, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!((a - b).abs() < 1e-4, "case {i} value {j}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn invalid_geometry_or_weights_are_refused() {
        let g = Geometry {
            channels: 2,
            input: (3, 3),
            kernel: (5, 5),
            stride: (1, 1),
            pad_before: (0, 0),
            pad_after: (0, 0),
        };
        assert_eq!(g.output(), None);
        assert!(DepthwiseConv2d::new(g, vec![0.0; 50], vec![0.0; 2]).is_none());
        let fits = Geometry { kernel: (3, 3), ..g };
        assert!(DepthwiseConv2d::new(fits, vec![0.0; 17], vec![0.0; 2]).is_none());
        assert!(DepthwiseConv2d::new(fits, vec![0.0; 18], vec![0.0; 2]).is_some());
    }
}
