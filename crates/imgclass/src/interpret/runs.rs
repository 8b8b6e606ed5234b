//! Several training runs side by side — a sweep's run folders (one per learning rate, seed,
//! architecture…), as a table: what each run set differently (the config fields whose values
//! differ between the runs), its best epoch's validation metrics, its test metrics, its time;
//! best first by the task's headline metric. Runs still training, or killed, are listed from
//! their epoch rows. The page (`report.html` of the sweep) adds every run's validation loss
//! and headline metric, epoch by epoch, on one chart each.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::report::STYLE;
use super::task_tables::esc;
use crate::error::{Error, IoContext, Result};
use crate::metrics::EvalReport;
use crate::plot::chart::{Chart, Series, Style, TAB10, XAxis};
use crate::train::{EpochMetrics, RunDir};
use crate::util::fs::atomic_write;

/// One run's line of the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    /// The run folder.
    pub run: PathBuf,
    /// How it ended (`completed`, `early_stopped`, `interrupted`…), or `unfinished` when it
    /// has no report yet (still training, or killed).
    pub state: String,
    /// Epochs run.
    pub epochs: usize,
    /// The epoch whose model was kept (the best validation loss).
    pub best_epoch: Option<usize>,
    /// Its validation loss.
    pub valid_loss: Option<f64>,
    /// Its validation metrics by name.
    pub valid: Vec<(String, f64)>,
    /// The test split's metrics by name (when the run held out a test split).
    pub test: Vec<(String, f64)>,
    /// Training time in seconds (the epochs' wall time for an unfinished run).
    pub seconds: f64,
    /// The run's value of each of [`RunTable::varied`] (`null` when it has none).
    pub settings: Vec<Value>,
    /// The epoch rows (`metrics.json`), for the page's curves.
    #[serde(skip)]
    history: Vec<EpochMetrics>,
}

/// Runs compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunTable {
    /// The config fields (dotted paths, as in `config.json`'s `train`) whose values differ
    /// between the runs.
    pub varied: Vec<String>,
    /// The headline metric the rows are ranked by (`accuracy`, `accuracy_multi`, `mae`…).
    pub metric: String,
    /// Whether a higher value of `metric` is better.
    pub higher_is_better: bool,
    /// The runs, best first; runs without the metric last.
    pub rows: Vec<RunRow>,
}

/// Whether `path` is a run folder that has ended an epoch: it has the config and the epoch
/// rows training writes.
pub fn is_run(path: &Path) -> bool {
    RunDir::open(path).is_ok_and(|r| r.has_history())
}

/// The run folders `paths` name: each path that is a run, and the runs directly inside each
/// one that is not (a sweep's folder), sorted by name.
pub fn find_runs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut runs = Vec::new();
    for path in paths {
        if is_run(path) {
            runs.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path).at(path)?;
        let mut inside: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).filter(|p| is_run(p)).collect();
        if inside.is_empty() {
            return Err(Error::BadDataset {
                path: path.clone(),
                message: "not a run folder (no config.json and metrics.json) and holds none; give training runs' \
                          folders (train's --out) or a folder of them"
                    .into(),
            });
        }
        inside.sort();
        runs.extend(inside);
    }
    Ok(runs)
}

/// Whether a lower value of the metric `name` is better.
fn lower_is_better(name: &str) -> bool {
    ["error_rate", "mae", "rmse", "loss"].contains(&name)
}

/// Reads the runs and ranks them.
pub fn compare_runs(runs: &[PathBuf]) -> Result<RunTable> {
    let dirs: Vec<RunDir> = runs.iter().map(|r| RunDir::open(r)).collect::<Result<_>>()?;
    let configs: Vec<BTreeMap<String, Value>> = dirs
        .iter()
        .map(|d| Ok(flatten(&serde_json::to_value(d.read_config()?).unwrap_or_default())))
        .collect::<Result<_>>()?;
    let mut keys: Vec<&String> = configs.iter().flat_map(BTreeMap::keys).collect();
    keys.sort();
    keys.dedup();
    let varied: Vec<String> =
        keys.into_iter().filter(|k| configs.iter().any(|c| c.get(*k) != configs[0].get(*k))).cloned().collect();
    let mut rows = Vec::with_capacity(runs.len());
    for (dir, config) in dirs.iter().zip(&configs) {
        let settings = varied.iter().map(|k| config.get(k).cloned().unwrap_or(Value::Null)).collect();
        rows.push(read_row(dir, settings)?);
    }
    let metric = rows.iter().find_map(|r| r.valid.first()).map_or("loss".to_string(), |(name, _)| name.clone());
    let higher_is_better = !lower_is_better(&metric);
    let key = |r: &RunRow| {
        let v = r.valid.iter().find(|(n, _)| *n == metric).map(|(_, v)| *v);
        v.filter(|v| v.is_finite()).map(|v| if higher_is_better { -v } else { v })
    };
    rows.sort_by(|a, b| match (key(a), key(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (x, y) => y.is_some().cmp(&x.is_some()),
    });
    Ok(RunTable { varied, metric, higher_is_better, rows })
}

/// A run's line, from its report, or from its epoch rows when it has none yet.
fn read_row(dir: &RunDir, settings: Vec<Value>) -> Result<RunRow> {
    let history = dir.read_history()?;
    let report = dir.read_report()?;
    let best_epoch = match &report {
        Some(r) => r["best_epoch"].as_u64().map(|e| e as usize),
        None => history
            .iter()
            .filter(|m| m.valid_loss.is_finite())
            .min_by(|a, b| a.valid_loss.total_cmp(&b.valid_loss))
            .map(|m| m.epoch),
    };
    let best = best_epoch.and_then(|e| history.iter().rev().find(|m| m.epoch == e));
    let test = report
        .as_ref()
        .and_then(|r| serde_json::from_value::<EvalReport>(r["test_metrics"].clone()).ok())
        .map_or(Vec::new(), |m| m.metrics().into_iter().map(|(n, v)| (n.to_string(), v)).collect());
    let state = report.as_ref().and_then(|r| r["ending"].as_str()).unwrap_or("unfinished").to_string();
    let seconds =
        report.as_ref().and_then(|r| r["seconds"].as_f64()).unwrap_or_else(|| history.iter().map(|m| m.seconds).sum());
    Ok(RunRow {
        run: dir.path().to_path_buf(),
        state,
        epochs: history.iter().map(|m| m.epoch).max().unwrap_or(0),
        best_epoch,
        valid_loss: best.map(|m| m.valid_loss),
        valid: best.map_or(Vec::new(), EpochMetrics::named_metrics),
        test,
        seconds,
        settings,
        history,
    })
}

/// Validation loss and `metric` by epoch (an epoch that was resumed: its last row).
fn curves(history: &[EpochMetrics], metric: &str) -> Vec<(usize, f64, Option<f64>)> {
    let mut by_epoch = BTreeMap::new();
    for m in history {
        let value = m.named_metrics().into_iter().find(|(n, _)| n == metric).map(|(_, v)| v);
        by_epoch.insert(m.epoch, (m.valid_loss, value));
    }
    by_epoch.into_iter().map(|(e, (l, v))| (e, l, v)).collect()
}

/// `value`'s leaves by dotted path (`optimizer.lr`); arrays are leaves.
fn flatten(value: &Value) -> BTreeMap<String, Value> {
    fn walk(v: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(map) => {
                for (k, x) in map {
                    walk(x, &if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, out);
                }
            }
            leaf => {
                out.insert(prefix.to_string(), leaf.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(value, "", &mut out);
    out
}

impl RunTable {
    /// The table's header and cells, formatted (text and HTML alike): run, the varied
    /// settings, state, epochs, best epoch, validation loss and metrics, test metrics, time.
    pub fn cells(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let valid_names = names(self.rows.iter().map(|r| &r.valid));
        let test_names = names(self.rows.iter().map(|r| &r.test));
        let mut header = vec!["run".to_string()];
        header.extend(self.varied.iter().cloned());
        header.extend(["state", "epochs", "best", "valid loss"].map(String::from));
        header.extend(valid_names.iter().map(|n| format!("valid {n}")));
        header.extend(test_names.iter().map(|n| format!("test {n}")));
        header.push("time".into());
        let f4 = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.4}"));
        let find = |list: &[(String, f64)], name: &str| list.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        let rows = self
            .rows
            .iter()
            .map(|r| {
                let mut cells =
                    vec![r.run.file_name().map_or(r.run.display().to_string(), |n| n.to_string_lossy().into())];
                cells.extend(r.settings.iter().map(setting));
                cells.extend([
                    r.state.clone(),
                    r.epochs.to_string(),
                    r.best_epoch.map_or("—".into(), |e| e.to_string()),
                ]);
                cells.push(f4(r.valid_loss));
                cells.extend(valid_names.iter().map(|n| f4(find(&r.valid, n))));
                cells.extend(test_names.iter().map(|n| f4(find(&r.test, n))));
                cells.push(format!("{:.1} s", r.seconds));
                cells
            })
            .collect();
        (header, rows)
    }

    /// The table as aligned text.
    pub fn text(&self) -> String {
        let (header, rows) = self.cells();
        let width =
            |i: usize| rows.iter().map(|r| r[i].chars().count()).chain([header[i].chars().count()]).max().unwrap_or(0);
        let widths: Vec<usize> = (0..header.len()).map(width).collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            padded.join("  ").trim_end().to_string()
        };
        let mut out = line(&header);
        for r in &rows {
            out.push('\n');
            out += &line(r);
        }
        out
    }

    /// Writes the page: the table, and each run's validation loss and headline metric by
    /// epoch. Returns nothing but errors.
    pub fn write_html(&self, path: &Path) -> Result<()> {
        let (header, rows) = self.cells();
        let mut h = String::new();
        let title = format!("imgclass runs: {} compared", self.rows.len());
        let _ = write!(
            h,
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>{STYLE}</head><body><h1>{title}</h1>"
        );
        let better = if self.higher_is_better { "highest" } else { "lowest" };
        let _ = write!(
            h,
            "<p>Best first: the {better} validation {} at each run's best epoch.</p><div style=overflow-x:auto><table \
             style=white-space:nowrap><tr>",
            esc(&self.metric)
        );
        for c in &header {
            let _ = write!(h, "<th>{}", esc(c));
        }
        for r in &rows {
            h += "<tr>";
            for c in r {
                let _ = write!(h, "<td>{}", esc(c));
            }
        }
        h += "</table></div><div class=row>";
        h += &self.chart("Validation loss", "valid loss", |c| Some(c.1)).svg().at(path)?;
        let metric = format!("valid {}", self.metric);
        h += &self.chart(&metric, &metric, |c| c.2).svg().at(path)?;
        h += "</div></body></html>\n";
        atomic_write(path, h.as_bytes())
    }

    fn chart(&self, title: &str, caption: &str, y: impl Fn(&(usize, f64, Option<f64>)) -> Option<f64>) -> Chart {
        let epochs = self.rows.iter().map(|r| r.epochs).max().unwrap_or(1).max(1);
        let series = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| Series {
                name: r.run.file_name().map_or(String::new(), |n| n.to_string_lossy().into()),
                points: curves(&r.history, &self.metric).iter().filter_map(|c| Some((c.0 as f64, y(c)?))).collect(),
                color: TAB10[i % TAB10.len()],
                style: Style::LineDots,
            })
            .collect();
        Chart {
            title: title.into(),
            x_caption: "epoch".into(),
            y_caption: caption.into(),
            x_axis: XAxis::Epochs(epochs),
            series,
            mark: None,
            y_ticks: None,
        }
    }
}

/// A config value as a cell: a string as it is, nothing as a dash, others as JSON.
fn setting(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// Metric names in the order the runs first give them.
fn names<'a>(lists: impl Iterator<Item = &'a Vec<(String, f64)>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (n, _) in lists.flatten() {
        if !out.contains(n) {
            out.push(n.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A run folder with `config` as its train config and one epoch row per `(valid_loss,
    /// metrics)`; a report naming `best` when given.
    fn run(dir: &Path, name: &str, config: Value, epochs: &[(f64, Value)], best: Option<usize>) -> PathBuf {
        let run = dir.join(name);
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(
            run.join("config.json"),
            json!({ "train": config, "preprocess": { "mean": [0.5] } }).to_string(),
        )
        .unwrap();
        let rows: Vec<Value> = epochs
            .iter()
            .enumerate()
            .map(|(i, (loss, metrics))| {
                json!({ "epoch": i + 1, "train_loss": 1.0, "valid_loss": loss, "accuracy": 0.0, "error_rate": 1.0,
                        "metrics": metrics, "seconds": 2.0, "lr": 0.1 })
            })
            .collect();
        std::fs::write(run.join("metrics.json"), Value::from(rows).to_string()).unwrap();
        if let Some(best) = best {
            let report = json!({ "best_epoch": best, "ending": "completed", "seconds": 5.0, "test_metrics": null });
            std::fs::write(run.join("report.json"), report.to_string()).unwrap();
        }
        run
    }

    fn accuracy(a: f64) -> Value {
        json!([["accuracy", a], ["error_rate", 1.0 - a]])
    }

    #[test]
    fn runs_are_ranked_best_first_with_the_settings_that_differ_and_unfinished_runs_from_their_epochs() {
        let t = tempfile::tempdir().unwrap();
        let config =
            |lr: f64| json!({ "optimizer": { "lr": lr, "kind": "adamw" }, "seed": 1, "data": { "path": "d" } });
        run(t.path(), "a", config(0.1), &[(0.5, accuracy(0.7)), (0.4, accuracy(0.8))], Some(2));
        run(t.path(), "b", config(0.01), &[(0.3, accuracy(0.9)), (0.35, accuracy(0.91))], Some(1));
        // Still training: its best epoch is its lowest validation loss so far.
        run(t.path(), "c", config(0.001), &[(0.6, accuracy(0.5)), (0.45, accuracy(0.85)), (0.5, accuracy(0.86))], None);
        std::fs::create_dir(t.path().join("not-a-run")).unwrap();
        let runs = find_runs(&[t.path().to_path_buf()]).unwrap();
        assert_eq!(runs.len(), 3);
        let table = compare_runs(&runs).unwrap();
        assert_eq!(table.varied, ["optimizer.lr"]);
        assert_eq!((table.metric.as_str(), table.higher_is_better), ("accuracy", true));
        let order: Vec<(String, String, Option<usize>)> = table
            .rows
            .iter()
            .map(|r| (r.run.file_name().unwrap().to_string_lossy().into(), r.state.clone(), r.best_epoch))
            .collect();
        let o = |n: &str, s: &str, b: usize| (n.to_string(), s.to_string(), Some(b));
        assert_eq!(order, [o("b", "completed", 1), o("c", "unfinished", 2), o("a", "completed", 2)]);
        assert_eq!(table.rows[1].seconds, 6.0, "an unfinished run's time is its epochs'");
        let text = table.text();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("run  optimizer.lr  state") && lines[0].contains("valid accuracy"), "{text}");
        assert!(lines[1].starts_with("b    0.01") && lines[1].contains("0.9000"), "{text}");

        let page = t.path().join("report.html");
        table.write_html(&page).unwrap();
        let html = std::fs::read_to_string(&page).unwrap();
        assert_eq!(html.matches("<svg").count(), 2, "the loss and the metric by epoch");
        assert!(html.contains("<td>optimizer.lr") || html.contains("<th>optimizer.lr"), "{html}");
    }

    #[test]
    fn errors_rank_lowest_first_and_a_folder_without_runs_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let mae = |v: f64| json!([["mae", v], ["rmse", v], ["r2", 0.5]]);
        let a = run(t.path(), "a", json!({ "seed": 1 }), &[(0.5, mae(3.0))], Some(1));
        let b = run(t.path(), "b", json!({ "seed": 2 }), &[(0.5, mae(2.0))], Some(1));
        let table = compare_runs(&[a, b.clone()]).unwrap();
        assert_eq!((table.metric.as_str(), table.higher_is_better), ("mae", false));
        assert_eq!(table.rows[0].run, b);

        let empty = t.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let e = find_runs(&[empty]).unwrap_err().to_string();
        assert!(e.contains("empty: not a run folder"), "{e}");
        assert!(find_runs(&[t.path().join("missing")]).unwrap_err().to_string().contains("missing"));
    }
}
