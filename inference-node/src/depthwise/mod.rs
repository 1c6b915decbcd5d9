//! A depthwise 2-D convolution op for tract, vectorised for the layer shapes of mobile CNNs.
//!
//! tract 0.23's x86_64 depthwise kernel is vectorised only for stride 1 and output rows of at
//! least 8 points, so EfficientNet-Lite's stride-2 layers and its 14- and 7-wide late layers run
//! scalar (see `docs/performance.md`, "Inference node"). [`replace_depthwise_convs`] swaps every
//! f32 depthwise `Conv` of a decluttered model (group = input channels = output channels, no
//! dilation, explicit padding, constant weights and bias) for [`DepthwiseConv2d`] before tract
//! optimises the model. A `Max`/`Min` pair with constant bounds right after the conv (ReLU6, how
//! tract declutters ONNX `Clip`) is fused into the op as an output clamp, so it costs no extra
//! pass over the activations.
//!
//! The arithmetic (`kernel.rs`) is safe Rust on `pulp`, which picks AVX2 + FMA at run time on
//! CPUs that have it and a scalar path elsewhere; this crate itself forbids `unsafe`.
//! Results equal a direct convolution up to float summation order (`tests.rs`).

mod kernel;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec};
use tract_onnx::tract_core::ops::nn::DataFormat;

pub use kernel::{Layout, Scratch};

/// Which implementation runs the model's depthwise convolutions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DepthwiseKernel {
    /// tract's own `DepthWise` op (with ReLU6 as a separate `Max`/`Min` op).
    Tract,
    /// Rudder's op (`DepthwiseConv2d`) with ReLU6 fused, on every layer it covers (f32, concrete
    /// shapes); the others stay with tract.
    #[default]
    Rudder,
}

/// The op: one layer's layout, its weights `[channels, kh * kw]`, one bias per channel and the
/// fused output clamp.
#[derive(Debug, Clone)]
pub struct DepthwiseConv2d {
    layout: Arc<Layout>,
    kernel: (usize, usize),
    weights: Arc<[f32]>,
    bias: Arc<[f32]>,
    clamp: (f32, f32),
    arch: pulp::Arch,
}

impl PartialEq for DepthwiseConv2d {
    fn eq(&self, other: &Self) -> bool {
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        self.layout == other.layout
            && self.kernel == other.kernel
            && bits(&self.weights) == bits(&other.weights)
            && bits(&self.bias) == bits(&other.bias)
            && bits(&[self.clamp.0, self.clamp.1]) == bits(&[other.clamp.0, other.clamp.1])
    }
}

impl Eq for DepthwiseConv2d {}

/// Shape of one depthwise layer (per image).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub channels: usize,
    pub input: (usize, usize),
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    /// Zero padding before (top, left) and after (bottom, right).
    pub pad_before: (usize, usize),
    pub pad_after: (usize, usize),
}

impl DepthwiseConv2d {
    /// `None` unless `weights` holds `channels * kh * kw` values, `bias` `channels`, and the
    /// kernel fits the padded input. `clamp` bounds every output (use infinities for none).
    pub fn new(g: Geometry, weights: Vec<f32>, bias: Vec<f32>, clamp: (f32, f32)) -> Option<Self> {
        let layout = Layout::new(g.input, g.kernel, g.stride, g.pad_before, g.pad_after)?;
        let ok = g.channels > 0
            && weights.len() == g.channels * g.kernel.0 * g.kernel.1
            && bias.len() == g.channels
            && clamp.0 <= clamp.1;
        ok.then(|| DepthwiseConv2d {
            layout: Arc::new(layout),
            kernel: g.kernel,
            weights: weights.into(),
            bias: bias.into(),
            clamp,
            arch: pulp::Arch::new(),
        })
    }

    pub fn channels(&self) -> usize {
        self.bias.len()
    }

    /// Output (height, width) per channel.
    pub fn output(&self) -> (usize, usize) {
        self.layout.output
    }

    /// Convolves `input` (whole channel planes, `n * channels * h * w` values, NCHW or CHW) into
    /// `output` (`n * channels * oh * ow`).
    pub fn run(&self, input: &[f32], output: &mut [f32], scratch: &mut Scratch) {
        self.arch.dispatch(kernel::Convolve {
            layout: &self.layout,
            weights: &self.weights,
            bias: &self.bias,
            clamp: self.clamp,
            input,
            output,
            scratch,
        });
    }
}

impl Op for DepthwiseConv2d {
    fn name(&self) -> StaticName {
        "RudderDepthwise".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        let l = &self.layout;
        Ok(vec![format!(
            "{} channels, {:?} -> {:?}, kernel {:?}, stride {:?}, clamp {:?}",
            self.channels(),
            l.input,
            l.output,
            self.kernel,
            l.stride,
            self.clamp
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for DepthwiseConv2d {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = inputs.first().context("depthwise conv needs one input")?;
        let shape = input.shape();
        let rank = shape.len();
        ensure!(
            (rank == 3 || rank == 4)
                && shape[rank - 3] == self.channels()
                && (shape[rank - 2], shape[rank - 1]) == self.layout.input,
            "depthwise conv built for {} channels of {:?} got input {shape:?}",
            self.channels(),
            self.layout.input
        );
        let (oh, ow) = self.output();
        let mut out_shape: TVec<usize> = shape.into();
        out_shape[rank - 2] = oh;
        out_shape[rank - 1] = ow;
        let mut output = Tensor::zero::<f32>(&out_shape)?;
        {
            let input = input.try_as_plain_ram()?;
            let mut view = output.try_as_plain_ram_mut()?;
            self.run(input.as_slice::<f32>()?, view.as_slice_mut::<f32>()?, &mut Scratch::default());
        }
        Ok(tvec!(output.into_tvalue()))
    }
}

impl TypedOp for DepthwiseConv2d {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let input = inputs.first().context("depthwise conv needs one input")?;
        let rank = input.rank();
        ensure!(rank == 3 || rank == 4, "depthwise conv input must be CHW or NCHW");
        let (oh, ow) = self.output();
        let mut shape: TVec<TDim> = input.shape.iter().cloned().collect();
        shape[rank - 2] = oh.to_dim();
        shape[rank - 1] = ow.to_dim();
        Ok(tvec!(f32::fact(shape)))
    }

    as_op!();
}

/// A constant f32 input of `node` as a shape and a flat vector, if it is one.
fn const_input(model: &TypedModel, node: &TypedNode, slot: usize) -> Option<(Vec<usize>, Vec<f32>)> {
    let outlet = node.inputs.get(slot)?;
    let konst = model.outlet_fact(*outlet).ok()?.konst.clone()?;
    let values = konst.cast_to::<f32>().ok()?.try_as_plain_ram().ok()?.as_slice::<f32>().ok()?.to_vec();
    Some((konst.shape().to_vec(), values))
}

/// The only node reading `node`'s single output, if there is exactly one and the output is not a
/// model output.
fn sole_successor<'a>(model: &'a TypedModel, node: &TypedNode) -> Option<&'a TypedNode> {
    let [output] = node.outputs.as_slice() else { return None };
    let [successor] = output.successors.as_slice() else { return None };
    let outlet = OutletId::new(node.id, 0);
    (!model.output_outlets().ok()?.contains(&outlet)).then(|| model.node(successor.node))
}

/// If `node` is `Max` or `Min` of `from`'s output and a constant that holds one value, returns
/// the clamp it applies.
fn clamp_step(
    model: &TypedModel,
    node: &TypedNode,
    from: &TypedNode,
    clamp: (f32, f32),
) -> Option<(f32, f32)> {
    let bin = node.op_as::<TypedBinOp>()?;
    let [a, b] = node.inputs.as_slice() else { return None };
    let from_outlet = OutletId::new(from.id, 0);
    let konst_slot = if *a == from_outlet {
        1
    } else if *b == from_outlet {
        0
    } else {
        return None;
    };
    let (_, values) = const_input(model, node, konst_slot)?;
    let value = *values.first()?;
    // The op must not broadcast the activations to a bigger shape or change their type.
    let same = model.outlet_fact(OutletId::new(node.id, 0)).ok()? == model.outlet_fact(from_outlet).ok()?;
    if !same || values.iter().any(|v| v.to_bits() != value.to_bits()) || value.is_nan() {
        return None;
    }
    match bin.0.name() {
        "Max" => Some((clamp.0.max(value), clamp.1.max(value))),
        "Min" => Some((clamp.0.min(value), clamp.1.min(value))),
        _ => None,
    }
}

/// The [`DepthwiseConv2d`] equivalent of a tract `Conv` node, if the node is an f32 NCHW/CHW
/// depthwise convolution this op covers.
fn replacement(model: &TypedModel, node: &TypedNode) -> Option<DepthwiseConv2d> {
    let conv = node.op_as::<Conv>()?;
    let spec = &conv.pool_spec;
    let input = model.outlet_fact(*node.inputs.first()?).ok()?;
    let shape = input.shape.as_concrete()?;
    let channels = spec.input_channels;
    let format_ok = match spec.data_format {
        DataFormat::NCHW => shape.len() == 4,
        DataFormat::CHW => shape.len() == 3,
        _ => false,
    };
    let plain = format_ok
        && conv.q_params.is_none()
        && input.datum_type == f32::datum_type()
        && spec.kernel_shape.len() == 2
        && conv.group == channels
        && spec.output_channels == channels
        && shape[shape.len() - 3] == channels
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
    let (h, w) = (shape[shape.len() - 2], shape[shape.len() - 1]);
    let geometry = Geometry { channels, input: (h, w), kernel: (kh, kw), stride, pad_before, pad_after };
    DepthwiseConv2d::new(geometry, weights, bias, (f32::NEG_INFINITY, f32::INFINITY))
}

/// Replaces every depthwise `Conv` of a decluttered model that [`DepthwiseConv2d`] covers,
/// together with a constant `Max`/`Min` clamp right after it; returns how many convs were
/// replaced.
pub fn replace_depthwise_convs(model: &mut TypedModel) -> TractResult<usize> {
    let mut replaced = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(mut op) = replacement(model, node) else { continue };
        // Fuse up to two clamp steps (ReLU6 is Max(x, 0) then Min(x, 6)).
        let mut last = node;
        for _ in 0..2 {
            let Some(next) = sole_successor(model, last) else { break };
            let Some(clamp) = clamp_step(model, next, last, op.clamp) else { break };
            op.clamp = clamp;
            last = next;
        }
        let (name, input, last) = (node.name.clone(), node.inputs[0], last.id);
        let mut patch = TypedModelPatch::new("rudder-depthwise");
        let tapped = patch.tap_model(model, input)?;
        let wire = patch.wire_node(name, op, &[tapped])?;
        patch.shunt_outside(model, OutletId::new(last, 0), wire[0])?;
        patch.apply(model)?;
        replaced += 1;
    }
    model.compact()?;
    Ok(replaced)
}
