//! `imgclass predict MODEL IMAGE|FOLDER...`: top-k classes per image as text, JSON or CSV.

use std::process::ExitCode;

use anyhow::{Result, bail};
use imgclass::export::Bundle;

use crate::args::PredictArgs;
use crate::train::report_skipped;

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

pub fn run(a: PredictArgs) -> Result<ExitCode> {
    let bundle = Bundle::load(&a.model, &imgclass::default_device())?;
    let out = bundle.predict_paths(&a.inputs, a.top_k)?;
    report_skipped(&out.skipped);
    if out.predictions.is_empty() && !out.skipped.is_empty() {
        bail!("no readable image among the inputs");
    }
    if a.json {
        println!("{}", serde_json::to_string(&out)?);
    } else if a.csv {
        let k = a.top_k.max(1).min(bundle.meta.labels.len());
        let mut header = vec!["file".to_string()];
        for i in 1..=k {
            header.push(format!("label_{i}"));
            header.push(format!("probability_{i}"));
        }
        println!("{}", header.join(","));
        for p in &out.predictions {
            let mut row = vec![csv_field(&p.file)];
            for t in &p.top {
                row.push(csv_field(&t.label));
                row.push(format!("{:.6}", t.probability));
            }
            println!("{}", row.join(","));
        }
    } else {
        for p in &out.predictions {
            let tops: Vec<String> = p.top.iter().map(|t| format!("{} ({:.1}%)", t.label, 100.0 * t.probability)).collect();
            println!("{}: {}", p.file, tops.join(", "));
        }
    }
    Ok(if out.skipped.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) })
}
