//! `imgclass report`: one run's report.html rewritten, or several runs compared.

use std::process::ExitCode;

use anyhow::Result;
use imgclass::interpret::runs::is_run;
use imgclass::interpret::{compare_runs, find_runs};

use crate::args::ReportArgs;

pub fn run(a: ReportArgs) -> Result<ExitCode> {
    if let [one] = a.runs.as_slice()
        && is_run(one)
    {
        let run = imgclass::train::RunDir::open(one)?;
        let bundle = imgclass::bundle::Bundle::load(&run.model_path(), &imgclass::default_device())?;
        println!("{}", imgclass::interpret::write_report(&run, &bundle)?.display());
        return Ok(ExitCode::SUCCESS);
    }
    let runs = find_runs(&a.runs)?;
    let table = compare_runs(&runs)?;
    let page = a.html.clone().or_else(|| match a.runs.as_slice() {
        [sweep] => Some(sweep.join("report.html")),
        _ => None,
    });
    if let Some(page) = &page {
        table.write_html(page)?;
    }
    if a.json {
        let mut v = serde_json::to_value(&table)?;
        v["page"] = serde_json::json!(page);
        println!("{v}");
    } else {
        println!("{}", table.text());
        if let Some(page) = page {
            println!("page: {}", page.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
