use super::*;

/// Direct convolution, the definition: zero outside the input, then bias, then clamp.
fn reference(g: &Geometry, input: &[f32], weights: &[f32], bias: &[f32], clamp: (f32, f32)) -> Vec<f32> {
    let (h, w) = g.input;
    let (kh, kw) = g.kernel;
    let oh = (h + g.pad_before.0 + g.pad_after.0 - kh) / g.stride.0 + 1;
    let ow = (w + g.pad_before.1 + g.pad_after.1 - kw) / g.stride.1 + 1;
    let n = input.len() / (g.channels * h * w);
    let mut out = Vec::new();
    for i in 0..n * g.channels {
        let c = i % g.channels;
        for oy in 0..oh {
            for ox in 0..ow {
                let mut sum = 0.0f64;
                for ky in 0..kh {
                    for kx in 0..kw {
                        let y = (oy * g.stride.0 + ky) as isize - g.pad_before.0 as isize;
                        let x = (ox * g.stride.1 + kx) as isize - g.pad_before.1 as isize;
                        if y >= 0 && x >= 0 && (y as usize) < h && (x as usize) < w {
                            sum += f64::from(weights[c * kh * kw + ky * kw + kx])
                                * f64::from(input[i * h * w + y as usize * w + x as usize]);
                        }
                    }
                }
                out.push(((sum + f64::from(bias[c])) as f32).max(clamp.0).min(clamp.1));
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

type Case = (usize, (usize, usize), (usize, usize), (usize, usize), (usize, usize), (usize, usize));

fn check(cases: &[Case], batch: usize, clamp: (f32, f32)) {
    for (i, &(channels, input, kernel, stride, pad_before, pad_after)) in cases.iter().enumerate() {
        let g = Geometry { channels, input, kernel, stride, pad_before, pad_after };
        let seed = i as u32 * 7 + batch as u32;
        let weights = pseudo_random(channels * kernel.0 * kernel.1, 7 + seed);
        let bias = pseudo_random(channels, 99 + seed);
        let x: Vec<f32> = pseudo_random(batch * channels * input.0 * input.1, 1234 + seed)
            .iter()
            .map(|v| v * 4.0)
            .collect();
        let op = DepthwiseConv2d::new(g, weights.clone(), bias.clone(), clamp).expect("valid");
        let (oh, ow) = op.output();
        // NaN-filled: every output must be written.
        let mut got = vec![f32::NAN; batch * channels * oh * ow];
        let mut scratch = Scratch::default();
        op.run(&x, &mut got, &mut scratch);
        let want = reference(&g, &x, &weights, &bias, clamp);
        assert_eq!(got.len(), want.len(), "case {i}");
        for (j, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "case {i} {g:?} value {j}: {a} vs {b}");
        }
        // The scratch is reused across evaluations (padding zeroed again).
        let mut again = vec![f32::NAN; got.len()];
        op.run(&x, &mut again, &mut scratch);
        assert_eq!(got, again, "case {i}: second run differs");
        // The portable path (CPUs without AVX2 + FMA) gives the same values.
        let mut scalar = vec![f32::NAN; got.len()];
        pulp::WithSimd::with_simd(
            kernel::Convolve {
                layout: &op.layout,
                weights: &op.weights,
                bias: &op.bias,
                clamp,
                input: &x,
                output: &mut scalar,
                scratch: &mut Scratch::default(),
            },
            pulp::Scalar::new(),
        );
        for (j, (a, b)) in scalar.iter().zip(&want).enumerate() {
            assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "case {i} scalar value {j}: {a} vs {b}");
        }
    }
}

/// Every depthwise layer of EfficientNet-Lite0 at 224x224 (channels cut down: channels do not
/// interact), as tract declutters them: (channels, input, kernel, stride, pad before, pad after).
const LITE0: [Case; 9] = [
    (4, (112, 112), (3, 3), (1, 1), (1, 1), (1, 1)),
    (3, (112, 112), (3, 3), (2, 2), (0, 0), (1, 1)),
    (3, (56, 56), (3, 3), (1, 1), (1, 1), (1, 1)),
    (3, (56, 56), (5, 5), (2, 2), (1, 1), (2, 2)),
    (3, (28, 28), (5, 5), (1, 1), (2, 2), (2, 2)),
    (3, (28, 28), (3, 3), (2, 2), (0, 0), (1, 1)),
    (5, (14, 14), (3, 3), (1, 1), (1, 1), (1, 1)),
    (5, (14, 14), (5, 5), (1, 1), (2, 2), (2, 2)),
    (5, (14, 14), (5, 5), (2, 2), (1, 1), (2, 2)),
];

const LITE0_LATE: [Case; 2] =
    [(7, (7, 7), (5, 5), (1, 1), (2, 2), (2, 2)), (7, (7, 7), (3, 3), (1, 1), (1, 1), (1, 1))];

/// Odd shapes: widths that are not multiples of 8, 1x1 planes, no padding, asymmetric kernels,
/// strides and padding, stride 3, kernels as large as the padded input.
const ODD: [Case; 14] = [
    (3, (1, 1), (3, 3), (1, 1), (1, 1), (1, 1)),
    (2, (1, 1), (1, 1), (1, 1), (0, 0), (0, 0)),
    (2, (1, 1), (5, 5), (2, 2), (2, 2), (2, 2)),
    (3, (12, 13), (3, 3), (1, 1), (1, 1), (1, 1)),
    (2, (7, 7), (5, 5), (1, 1), (2, 2), (2, 2)),
    (5, (29, 31), (5, 5), (2, 2), (1, 1), (2, 2)),
    (2, (9, 6), (3, 5), (1, 2), (1, 2), (0, 1)),
    (3, (8, 8), (3, 3), (2, 1), (0, 0), (0, 0)),
    (2, (15, 17), (3, 3), (2, 2), (1, 1), (1, 1)),
    (2, (11, 10), (3, 3), (3, 3), (1, 0), (2, 1)),
    (2, (3, 3), (3, 3), (1, 1), (0, 0), (0, 0)),
    (1, (5, 9), (1, 1), (1, 1), (0, 0), (0, 0)),
    (2, (40, 3), (5, 3), (1, 1), (2, 1), (2, 1)),
    (2, (2, 37), (1, 7), (1, 2), (0, 3), (0, 3)),
];

#[test]
fn matches_a_direct_convolution_for_efficientnet_lite0_layers() {
    check(&LITE0, 1, (f32::NEG_INFINITY, f32::INFINITY));
    check(&LITE0_LATE, 1, (f32::NEG_INFINITY, f32::INFINITY));
}

#[test]
fn matches_a_direct_convolution_with_relu6_fused() {
    check(&LITE0, 1, (0.0, 6.0));
    check(&LITE0_LATE, 2, (0.0, 6.0));
    check(&ODD, 1, (0.0, 6.0));
}

#[test]
fn matches_a_direct_convolution_for_odd_shapes_and_batches() {
    check(&ODD, 1, (f32::NEG_INFINITY, f32::INFINITY));
    check(&ODD, 3, (-0.5, 0.5));
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
    let open = (f32::NEG_INFINITY, f32::INFINITY);
    assert!(DepthwiseConv2d::new(g, vec![0.0; 50], vec![0.0; 2], open).is_none());
    let fits = Geometry { kernel: (3, 3), ..g };
    assert!(DepthwiseConv2d::new(fits, vec![0.0; 17], vec![0.0; 2], open).is_none());
    assert!(DepthwiseConv2d::new(fits, vec![0.0; 18], vec![0.0; 2], (1.0, 0.0)).is_none());
    assert!(
        DepthwiseConv2d::new(Geometry { stride: (0, 1), ..fits }, vec![0.0; 18], vec![0.0; 2], open)
            .is_none()
    );
    assert!(DepthwiseConv2d::new(fits, vec![0.0; 18], vec![0.0; 2], open).is_some());
}

/// A one-layer ONNX-like model (depthwise conv + ReLU6 as tract declutters it) gives the same
/// result with the op swapped in as with tract's own, and the clamp is fused away.
#[test]
fn replaces_a_depthwise_conv_and_fuses_relu6_in_a_tract_model() -> TractResult<()> {
    use tract_onnx::tract_core::ops::cnn::PoolSpec;
    use tract_onnx::tract_core::ops::math::{max, min};

    let (channels, h, w) = (6, 14, 14);
    let build = |format: DataFormat| -> TractResult<TypedModel> {
        let mut model = TypedModel::default();
        let shape: TVec<usize> =
            if format == DataFormat::NCHW { tvec!(1, channels, h, w) } else { tvec!(channels, h, w) };
        let source = model.add_source("input", f32::fact(&shape))?;
        let kernel = model.add_const(
            "kernel",
            tensor1(&pseudo_random(channels * 25, 3)).into_shape(&[channels, 1, 5, 5])?,
        )?;
        let bias = model.add_const("bias", tensor1(&pseudo_random(channels, 5)))?;
        let pool_spec = PoolSpec {
            data_format: format,
            kernel_shape: tvec!(5, 5),
            padding: PaddingSpec::Explicit(tvec!(1, 1), tvec!(2, 2)),
            dilations: None,
            strides: Some(tvec!(2, 2)),
            input_channels: channels,
            output_channels: channels,
        };
        let conv = Conv { pool_spec, kernel_fmt: KernelFormat::OIHW, group: channels, q_params: None };
        let wire = model.wire_node("conv", conv, &[source, kernel, bias])?;
        let bound_shape = vec![1; shape.len()];
        let zero = model.add_const("zero", tensor0(0f32).into_shape(&bound_shape)?)?;
        let six = model.add_const("six", tensor0(6f32).into_shape(&bound_shape)?)?;
        let wire = model.wire_node("relu6.min", max(), &[wire[0], zero])?;
        let wire = model.wire_node("relu6.max", min(), &[wire[0], six])?;
        model.select_output_outlets(&wire)?;
        Ok(model)
    };
    for format in [DataFormat::NCHW, DataFormat::CHW] {
        let tract_model = build(format)?;
        let mut ours = build(format)?;
        assert_eq!(replace_depthwise_convs(&mut ours)?, 1);
        let names: Vec<String> =
            ours.eval_order()?.iter().map(|id| ours.node(*id).op().name().to_string()).collect();
        assert!(names.iter().any(|n| n == "RudderDepthwise"), "{names:?}");
        assert!(!names.iter().any(|n| n == "Max" || n == "Min" || n == "Conv"), "{names:?}");
        let shape = tract_model.input_fact(0)?.shape.as_concrete().expect("concrete").to_vec();
        let x = Tensor::from_shape(
            &shape,
            &pseudo_random(shape.iter().product(), 11).iter().map(|v| v * 8.0).collect::<Vec<_>>(),
        )?;
        let want = tract_model.into_optimized()?.into_runnable()?.run(tvec!(x.clone().into()))?;
        let got = ours.into_optimized()?.into_runnable()?.run(tvec!(x.into()))?;
        assert_eq!(want[0].shape(), got[0].shape());
        let (want, got) = (want[0].try_as_plain_ram()?, got[0].try_as_plain_ram()?);
        let (want, got) = (want.as_slice::<f32>()?, got.as_slice::<f32>()?);
        assert!(want.contains(&0.0) && want.contains(&6.0), "clamp exercised");
        for (a, b) in got.iter().zip(want) {
            assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "{format:?}: {a} vs {b}");
        }
    }
    Ok(())
}
