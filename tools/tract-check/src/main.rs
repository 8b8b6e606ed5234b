//! `tract-check CASES_DIR`: runs each exported case with tract and prints
//! `NAME max|Δp| D max|Δlogits| L ok` (or `FAIL`), like `check_onnx.py` does for onnxruntime;
//! exits 1 when a probability differs from imgclass's by more than 1e-4 (a regression's or
//! count's value by more than 1e-4 of itself, when beyond 1).

use std::path::Path;

use tract_onnx::prelude::*;

const TOLERANCE: f32 = 1e-4;

fn floats(path: &Path) -> TractResult<Vec<f32>> {
    let bytes = std::fs::read(path)?;
    Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

/// The largest |a − b|, divided by max(1, |b|) when `relative`.
fn max_diff(a: &[f32], b: &[f32], relative: bool) -> f32 {
    let scale = |y: f32| if relative { y.abs().max(1.0) } else { 1.0 };
    a.iter().zip(b).map(|(x, y)| (x - y).abs() / scale(*y)).fold(0.0, f32::max)
}

/// Runs one case; returns the largest differences of the probabilities and the logits.
fn run(dir: &Path, case: &serde_json::Value) -> TractResult<(f32, f32)> {
    let name = case["name"].as_str().unwrap_or_default();
    let shape: Vec<usize> = serde_json::from_value(case["input"].clone())?;
    let file = |part: &str| dir.join(format!("{name}.{part}"));
    // The batch stays symbolic in the file; tract is given this run's batch size.
    let model = tract_onnx::onnx()
        .model_for_path(file("onnx"))?
        .with_input_fact(0, f32::fact(&shape).into())?
        .into_optimized()?
        .into_runnable()?;
    let x = tract_ndarray::ArrayD::from_shape_vec(shape, floats(&file("input.f32"))?)?;
    let out = model.run(tvec!(Tensor::from(x).into_tvalue()))?;
    let got =
        |i: usize| -> TractResult<Vec<f32>> { Ok(out[i].to_plain_array_view::<f32>()?.iter().copied().collect()) };
    let (p, z) = (got(0)?, got(1)?);
    let (want_p, want_z) = (floats(&file("probabilities.f32"))?, floats(&file("logits.f32"))?);
    if p.len() != want_p.len() || z.len() != want_z.len() {
        anyhow::bail!("{name}: {} probabilities, {} expected", p.len(), want_p.len());
    }
    let numbers = matches!(case["task"].as_str(), Some("regression" | "count"));
    Ok((max_diff(&p, &want_p, numbers), max_diff(&z, &want_z, false)))
}

fn main() -> TractResult<()> {
    let dir = std::env::args().nth(1).ok_or_else(|| anyhow::anyhow!("usage: tract-check CASES_DIR"))?;
    let dir = Path::new(&dir);
    let cases: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(dir.join("cases.json"))?)?;
    println!("tract-onnx 0.23.9");
    let mut failed = 0;
    for case in &cases {
        let name = case["name"].as_str().unwrap_or_default();
        match run(dir, case) {
            Ok((dp, dz)) => {
                let ok = dp <= TOLERANCE;
                failed += usize::from(!ok);
                println!("{name} max|Δp| {dp:.2e} max|Δlogits| {dz:.2e} {}", if ok { "ok" } else { "FAIL" });
            }
            Err(e) => {
                failed += 1;
                println!("{name} error: {e:#} FAIL");
            }
        }
    }
    std::process::exit(i32::from(failed > 0));
}
