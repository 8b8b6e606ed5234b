//! An ONNX graph under construction: the layers of imgclass's networks as ONNX operators, on
//! the protobuf types of `onnx-ir` (no hand-written bytes). Each value it hands out knows its
//! per-image shape, so padding "same" and adaptive pooling are resolved to fixed numbers, as
//! the network computes them for the bundle's input size.
//!
//! Batch norm never appears: [`Graph::conv`] folds it into the convolution's weights and bias
//! (w·γ/√(σ²+ε), β + (b − μ)·γ/√(σ²+ε)), computed in f64 from the layer's running statistics.

use burn::module::RunningState;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Linear, PaddingConfig2d};
use burn::prelude::*;
use onnx_ir::{AttributeProto, AttributeType, GraphProto, NodeProto, TensorProto, TypeProto, ValueInfoProto};

use crate::models::Activation;

/// ONNX's element type number for 32-bit floats (`TensorProto.DataType.FLOAT`).
const FLOAT: i32 = 1;
/// ONNX's element type number for 64-bit integers (`TensorProto.DataType.INT64`).
const INT64: i32 = 7;

/// A value of the graph: its name and its shape without the batch dimension.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Value {
    pub(crate) name: String,
    pub(crate) shape: Vec<usize>,
}

impl Value {
    /// The `[channels, height, width]` of an image-shaped value.
    fn chw(&self) -> [usize; 3] {
        match self.shape[..] {
            [c, h, w] => [c, h, w],
            _ => unreachable!("an image-shaped value, not {:?}", self.shape),
        }
    }
}

/// The nodes and weights of a graph being built.
#[derive(Default)]
pub(crate) struct Graph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    names: usize,
}

fn attr(name: &str) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.into();
    a
}

fn ints(name: &str, v: &[usize]) -> AttributeProto {
    let mut a = attr(name);
    a.type_ = AttributeType::INTS.into();
    a.ints = v.iter().map(|&x| x as i64).collect();
    a
}

fn int(name: &str, v: i64) -> AttributeProto {
    let mut a = attr(name);
    a.type_ = AttributeType::INT.into();
    a.i = v;
    a
}

fn float(name: &str, v: f32) -> AttributeProto {
    let mut a = attr(name);
    a.type_ = AttributeType::FLOAT.into();
    a.f = v;
    a
}

/// A tensor's values as f32 (weights are stored in f32 whatever the device computed in).
pub(crate) fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 values after convert")
}

fn stat(s: &RunningState<Tensor<1>>) -> Vec<f32> {
    values(s.value())
}

/// `(top, left, bottom, right)` padding of a convolution or pooling on an `h × w` input.
fn pads(padding: &PaddingConfig2d, [h, w]: [usize; 2], kernel: [usize; 2], stride: [usize; 2]) -> [usize; 4] {
    // Burn's "same": the output is ⌈n / stride⌉, the extra pixel of an odd total at the end.
    let same = |n: usize, k: usize, s: usize| {
        let total = ((n.div_ceil(s).max(1) - 1) * s + k).saturating_sub(n);
        (total / 2, total - total / 2)
    };
    match *padding {
        PaddingConfig2d::Valid => [0; 4],
        PaddingConfig2d::Same => {
            let ((t, b), (l, r)) = (same(h, kernel[0], stride[0]), same(w, kernel[1], stride[1]));
            [t, l, b, r]
        }
        PaddingConfig2d::Explicit(t, l, b, r) => [t, l, b, r],
    }
}

/// The output size of a window of `k` with `stride` over `n` padded by `p` pixels in all.
fn out_size(n: usize, p: usize, k: usize, stride: usize) -> usize {
    (n + p).saturating_sub(k) / stride + 1
}

impl Graph {
    fn fresh(&mut self, hint: &str) -> String {
        self.names += 1;
        format!("{hint}_{}", self.names)
    }

    /// Adds an initializer of ONNX element type `data_type` and returns its name.
    fn initializer(&mut self, hint: &str, data_type: i32, dims: &[usize], raw: Vec<u8>) -> String {
        let mut t = TensorProto::new();
        t.name = self.fresh(hint);
        t.data_type = data_type;
        t.dims = dims.iter().map(|&d| d as i64).collect();
        t.raw_data = raw.into();
        let name = t.name.clone();
        self.initializers.push(t);
        name
    }

    /// Adds a weight (or constant) of `dims` and returns its name.
    pub(crate) fn weight(&mut self, hint: &str, dims: &[usize], data: &[f32]) -> String {
        debug_assert_eq!(dims.iter().product::<usize>(), data.len(), "{hint}");
        self.initializer(hint, FLOAT, dims, data.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    fn int64s(&mut self, hint: &str, data: &[i64]) -> String {
        self.initializer(hint, INT64, &[data.len()], data.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    /// Adds a node of `op` on `inputs` whose one output has `shape`, named `output` or fresh.
    pub(crate) fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        attributes: Vec<AttributeProto>,
        shape: Vec<usize>,
        output: Option<&str>,
    ) -> Value {
        let name = output.map_or_else(|| self.fresh(&op.to_lowercase()), str::to_string);
        let mut n = NodeProto::new();
        n.name = format!("{op}_{}", self.nodes.len());
        n.op_type = op.into();
        n.input = inputs.iter().map(|s| s.to_string()).collect();
        n.output = vec![name.clone()];
        n.attribute = attributes;
        self.nodes.push(n);
        Value { name, shape }
    }

    /// A convolution, with the batch norm that follows it folded in.
    pub(crate) fn conv(&mut self, x: &Value, conv: &Conv2d, bn: Option<&BatchNorm>) -> Value {
        let [_, h, w] = x.chw();
        let weight = conv.weight.val();
        let [cout, cin_g, kh, kw] = weight.dims();
        let mut wv: Vec<f64> = values(weight).into_iter().map(f64::from).collect();
        let mut bias: Vec<f64> =
            conv.bias.as_ref().map_or(vec![0.0; cout], |b| values(b.val()).into_iter().map(f64::from).collect());
        if let Some(bn) = bn {
            let (gamma, beta) = (values(bn.gamma.val()), values(bn.beta.val()));
            let (mean, var) = (stat(&bn.running_mean), stat(&bn.running_var));
            let per = cin_g * kh * kw;
            for o in 0..cout {
                let s = f64::from(gamma[o]) / (f64::from(var[o]) + bn.epsilon).sqrt();
                wv[o * per..(o + 1) * per].iter_mut().for_each(|v| *v *= s);
                bias[o] = f64::from(beta[o]) + (bias[o] - f64::from(mean[o])) * s;
            }
        }
        let to32 = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
        let wn = self.weight("conv_w", &[cout, cin_g, kh, kw], &to32(wv));
        let bn_name = self.weight("conv_b", &[cout], &to32(bias));
        let p = pads(&conv.padding, [h, w], [kh, kw], conv.stride);
        let [dh, dw] = conv.dilation;
        let shape = vec![
            cout,
            out_size(h, p[0] + p[2], dh * (kh - 1) + 1, conv.stride[0]),
            out_size(w, p[1] + p[3], dw * (kw - 1) + 1, conv.stride[1]),
        ];
        let attrs = vec![
            ints("kernel_shape", &[kh, kw]),
            ints("strides", &conv.stride),
            ints("pads", &p),
            ints("dilations", &conv.dilation),
            int("group", conv.groups as i64),
        ];
        self.node("Conv", &[&x.name, &wn, &bn_name], attrs, shape, None)
    }

    /// A dense layer on `[batch, features]` (Burn's weight is `[in, out]`, ONNX Gemm's B).
    pub(crate) fn linear(&mut self, x: &Value, layer: &Linear, output: Option<&str>) -> Value {
        let weight = layer.weight.val();
        let [din, dout] = weight.dims();
        let w = self.weight("fc_w", &[din, dout], &values(weight));
        let b = layer.bias.as_ref().map_or_else(|| vec![0.0; dout], |b| values(b.val()));
        let b = self.weight("fc_b", &[dout], &b);
        self.node("Gemm", &[&x.name, &w, &b], vec![], vec![dout], output)
    }

    /// The network's non-linearity.
    pub(crate) fn activation(&mut self, x: &Value, a: Activation) -> Value {
        let s = x.shape.clone();
        match a {
            Activation::Relu => self.node("Relu", &[&x.name], vec![], s, None),
            Activation::LeakyRelu => self.node("LeakyRelu", &[&x.name], vec![float("alpha", 0.01)], s, None),
            Activation::Elu => self.node("Elu", &[&x.name], vec![float("alpha", 1.0)], s, None),
            Activation::Sigmoid => self.node("Sigmoid", &[&x.name], vec![], s, None),
            Activation::Tanh => self.node("Tanh", &[&x.name], vec![], s, None),
        }
    }

    /// min(max(x, 0), 6).
    pub(crate) fn relu6(&mut self, x: &Value) -> Value {
        let (lo, hi) = (self.weight("zero", &[], &[0.0]), self.weight("six", &[], &[6.0]));
        self.node("Clip", &[&x.name, &lo, &hi], vec![], x.shape.clone(), None)
    }

    /// A binary elementwise operator (`Add`, `Sub`, `Mul`, `Div`) on values or constants.
    pub(crate) fn binary(&mut self, op: &str, a: &Value, b: &str, output: Option<&str>) -> Value {
        self.node(op, &[&a.name, b], vec![], a.shape.clone(), output)
    }

    /// A unary operator that keeps the shape (`Relu`, `Sigmoid`, `Exp`, `Softmax` on axis 1).
    pub(crate) fn unary(&mut self, op: &str, x: &Value, output: Option<&str>) -> Value {
        let attrs = if op == "Softmax" { vec![int("axis", 1)] } else { vec![] };
        self.node(op, &[&x.name], attrs, x.shape.clone(), output)
    }

    /// Max (`MaxPool`) or average (`AveragePool`) pooling, windows of `kernel` every `stride`.
    pub(crate) fn pool(
        &mut self,
        op: &str,
        x: &Value,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: &PaddingConfig2d,
    ) -> Value {
        let [c, h, w] = x.chw();
        let p = pads(padding, [h, w], kernel, stride);
        let shape =
            vec![c, out_size(h, p[0] + p[2], kernel[0], stride[0]), out_size(w, p[1] + p[3], kernel[1], stride[1])];
        let attrs = vec![ints("kernel_shape", &kernel), ints("strides", &stride), ints("pads", &p)];
        self.node(op, &[&x.name], attrs, shape, None)
    }

    /// Adaptive average pooling to `[oh, ow]` (PyTorch's bins: ⌊i·n/o⌋ to ⌈(i+1)·n/o⌉):
    /// `GlobalAveragePool` to one pixel, `AveragePool` where the bins tile the input, otherwise
    /// a product with the matrix of the bins' weights.
    pub(crate) fn adaptive_avg_pool(&mut self, x: &Value, [oh, ow]: [usize; 2]) -> Value {
        let [c, h, w] = x.chw();
        if [oh, ow] == [1, 1] {
            return self.node("GlobalAveragePool", &[&x.name], vec![], vec![c, 1, 1], None);
        }
        if h.is_multiple_of(oh) && w.is_multiple_of(ow) {
            let k = [h / oh, w / ow];
            return self.pool("AveragePool", x, k, k, &PaddingConfig2d::Valid);
        }
        let bins = |n: usize, o: usize| (0..o).map(move |i| (i * n / o, ((i + 1) * n).div_ceil(o)));
        let mut m = vec![0f32; h * w * oh * ow];
        for (i, (h0, h1)) in bins(h, oh).enumerate() {
            for (j, (w0, w1)) in bins(w, ow).enumerate() {
                let share = 1.0 / ((h1 - h0) * (w1 - w0)) as f32;
                for y in h0..h1 {
                    for xx in w0..w1 {
                        m[(y * w + xx) * oh * ow + i * ow + j] = share;
                    }
                }
            }
        }
        let flat = self.reshape(x, &[c, h * w]);
        let m = self.weight("pool_bins", &[h * w, oh * ow], &m);
        let pooled = self.node("MatMul", &[&flat.name, &m], vec![], vec![c, oh * ow], None);
        self.reshape(&pooled, &[c, oh, ow])
    }

    /// The value reshaped to `[batch, shape…]`, the batch kept as it is.
    fn reshape(&mut self, x: &Value, shape: &[usize]) -> Value {
        let dims: Vec<i64> = std::iter::once(0).chain(shape.iter().map(|&d| d as i64)).collect();
        let s = self.int64s("shape", &dims);
        self.node("Reshape", &[&x.name, &s], vec![], shape.to_vec(), None)
    }

    /// `[batch, c, h, w]` → `[batch, c·h·w]`, row-major as Burn's `flatten(1, 3)`.
    pub(crate) fn flatten(&mut self, x: &Value) -> Value {
        let n = x.shape.iter().product();
        self.node("Flatten", &[&x.name], vec![int("axis", 1)], vec![n], None)
    }

    /// The finished graph: `input` in, `outputs` out, with a symbolic batch dimension.
    pub(crate) fn finish(self, name: &str, input: &Value, outputs: &[&Value]) -> GraphProto {
        let mut g = GraphProto::new();
        g.name = name.into();
        g.node = self.nodes;
        g.initializer = self.initializers;
        g.input.push(value_info(input));
        g.output = outputs.iter().map(|v| value_info(v)).collect();
        g
    }
}

/// A float value's declaration, `[batch, shape…]` with `batch` symbolic.
fn value_info(v: &Value) -> ValueInfoProto {
    let mut vi = ValueInfoProto::new();
    vi.name = v.name.clone();
    let mut ty = TypeProto::new();
    let tt = ty.mut_tensor_type();
    tt.elem_type = FLOAT;
    let shape = tt.shape.mut_or_insert_default();
    shape.dim.push(Default::default());
    if let Some(d) = shape.dim.last_mut() {
        d.set_dim_param("batch".into());
    }
    for &n in &v.shape {
        shape.dim.push(Default::default());
        if let Some(d) = shape.dim.last_mut() {
            d.set_dim_value(n as i64);
        }
    }
    vi.type_ = Some(ty).into();
    vi
}

/// A fresh image-shaped graph input named `name`.
pub(crate) fn input(name: &str, chw: [usize; 3]) -> Value {
    Value { name: name.into(), shape: chw.to_vec() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_puts_the_odd_pixel_at_the_end_as_burn_does() {
        assert_eq!(pads(&PaddingConfig2d::Same, [9, 9], [3, 3], [2, 2]), [1, 1, 1, 1]);
        assert_eq!(pads(&PaddingConfig2d::Same, [8, 8], [3, 3], [2, 2]), [0, 0, 1, 1]);
        assert_eq!(pads(&PaddingConfig2d::Explicit(0, 0, 1, 1), [8, 8], [3, 3], [2, 2]), [0, 0, 1, 1]);
        assert_eq!(out_size(8, 1, 3, 2), 4);
    }
}
