//! Each architecture's inference forward pass written as ONNX operators, layer by layer as
//! its file in [`crate::models`] computes it (dropout is the identity in inference, batch
//! norm is folded into the convolution before it).

use super::graph::{Graph, Value};
use crate::models::{Activation, Cnn, EfficientNetLite, Mlp, Net, ResNet};

/// The logits of `net` on `x`, named `logits`.
pub(crate) fn logits(g: &mut Graph, net: &Net, x: &Value) -> Value {
    match net {
        Net::Mlp(m) => mlp(g, m, x),
        Net::Cnn(m) => cnn(g, m, x),
        Net::ResNet(m) => resnet(g, m, x),
        Net::EfficientNet(m) => efficientnet(g, m, x),
    }
}

const LOGITS: Option<&str> = Some("logits");

fn mlp(g: &mut Graph, m: &Mlp, x: &Value) -> Value {
    let mut x = g.flatten(x);
    for layer in &m.hidden {
        let y = g.linear(&x, layer, None);
        x = g.activation(&y, m.activation);
    }
    g.linear(&x, &m.output, LOGITS)
}

fn cnn(g: &mut Graph, m: &Cnn, x: &Value) -> Value {
    let mut x = x.clone();
    for block in &m.blocks {
        for cb in &block.convs {
            let y = g.conv(&x, &cb.conv, cb.bn.as_ref());
            x = g.activation(&y, m.activation);
        }
        if let Some(p) = &block.max_pool {
            x = g.pool("MaxPool", &x, p.kernel_size, p.stride, &p.padding);
        }
        if let Some(p) = &block.avg_pool {
            x = g.pool("AveragePool", &x, p.kernel_size, p.stride, &p.padding);
        }
    }
    if let Some(p) = &m.grid_pool {
        x = g.adaptive_avg_pool(&x, p.output_size);
    }
    let mut x = g.flatten(&x);
    for layer in &m.hidden {
        let y = g.linear(&x, layer, None);
        x = g.activation(&y, m.activation);
    }
    g.linear(&x, &m.output, LOGITS)
}

fn resnet(g: &mut Graph, m: &ResNet, x: &Value) -> Value {
    let relu = Activation::Relu;
    let y = g.conv(x, &m.conv1, Some(&m.bn1));
    let y = g.activation(&y, relu);
    let p = &m.maxpool;
    let mut x = g.pool("MaxPool", &y, p.kernel_size, p.stride, &p.padding);
    for block in m.layer1.iter().chain(&m.layer2).chain(&m.layer3).chain(&m.layer4) {
        let identity = match &block.downsample {
            Some(d) => g.conv(&x, &d.conv, Some(&d.bn)),
            None => x.clone(),
        };
        let y = g.conv(&x, &block.conv1, Some(&block.bn1));
        let y = g.activation(&y, relu);
        let y = g.conv(&y, &block.conv2, Some(&block.bn2));
        let y = g.binary("Add", &y, &identity.name, None);
        x = g.activation(&y, relu);
    }
    let pooled = g.adaptive_avg_pool(&x, m.avgpool.output_size);
    let flat = g.flatten(&pooled);
    g.linear(&flat, &m.fc, LOGITS)
}

fn efficientnet(g: &mut Graph, m: &EfficientNetLite, x: &Value) -> Value {
    let y = g.conv(x, &m.conv_stem, Some(&m.bn0));
    let mut x = g.relu6(&y);
    for b in &m.blocks {
        let mut y = x.clone();
        if let (Some(c), Some(bn)) = (&b.expand_conv, &b.bn0) {
            let e = g.conv(&y, c, Some(bn));
            y = g.relu6(&e);
        }
        let d = g.conv(&y, &b.depthwise_conv, Some(&b.bn1));
        let d = g.relu6(&d);
        let p = g.conv(&d, &b.project_conv, Some(&b.bn2));
        x = if b.residual { g.binary("Add", &p, &x.name, None) } else { p };
    }
    let y = g.conv(&x, &m.conv_head, Some(&m.bn1));
    let y = g.relu6(&y);
    let pooled = g.adaptive_avg_pool(&y, [1, 1]);
    let flat = g.flatten(&pooled);
    g.linear(&flat, &m.fc, LOGITS)
}
