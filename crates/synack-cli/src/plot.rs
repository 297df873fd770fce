//! `--plot tseq|cwnd FILE.svg`: the time-sequence graph or the
//! congestion-control plot of a run, written as an SVG file.

use crate::output::Rendering;
use std::path::PathBuf;
use synack_scenarios::Outcome;
use synack_trace::{render_plot, PlotKind, PlotOptions};

/// One `--plot KIND FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlotRequest {
    kind: PlotKind,
    path: PathBuf,
}

/// Read the `--plot` values (pairs of kind and file).
pub(crate) fn requests(values: &[String]) -> Result<Vec<PlotRequest>, String> {
    values
        .chunks(2)
        .map(|pair| match pair {
            [kind, path] => {
                let kind = match kind.as_str() {
                    "tseq" => PlotKind::Tseq,
                    "cwnd" => PlotKind::Cwnd,
                    other => {
                        return Err(format!(
                            "invalid --plot kind {other:?}: expected tseq or cwnd, e.g. --plot tseq seq.svg"
                        ))
                    }
                };
                Ok(PlotRequest {
                    kind,
                    path: PathBuf::from(path),
                })
            }
            _ => Err("--plot takes a kind and a file, e.g. --plot cwnd cwnd.svg".into()),
        })
        .collect()
}

/// Write every requested plot; the first failure stops (a plot with
/// nothing to draw is one).
pub(crate) fn write_all(reqs: &[PlotRequest], o: &Outcome, r: &Rendering) -> Result<(), String> {
    let hosts = o.host_infos();
    let opts = PlotOptions {
        absolute: r.absolute,
        lang: r.lang,
    };
    for req in reqs {
        let Some(svg) = render_plot(req.kind, &o.trace, &hosts, &o.series, &opts) else {
            let why = match req.kind {
                PlotKind::Tseq => "no data was sent in this run",
                PlotKind::Cwnd => "no sender numbers were recorded in this run",
            };
            return Err(format!("nothing to plot in {}: {why}", req.path.display()));
        };
        std::fs::write(&req.path, svg)
            .map_err(|e| format!("cannot write plot file {}: {e}", req.path.display()))?;
    }
    Ok(())
}
