//! The sender's numbers against time: congestion window and slow-start
//! threshold (RFC 5681), bytes in flight on the left axis in bytes; SRTT and
//! RTO (RFC 6298) on the right axis in milliseconds. Each is drawn as steps:
//! a value holds until the next sample.

use super::axes::Chart;
use super::{standalone, PlotOptions};
use crate::model::{build, Model};
use crate::series::{Sample, Series};
use crate::{HostInfo, Lang, TraceEntry};
use std::fmt::Write as _;

struct Words {
    title: &'static str,
    time: &'static str,
    bytes: &'static str,
    ms: &'static str,
    legend: [&'static str; 5],
}

fn words(lang: Lang) -> Words {
    match lang {
        Lang::En => Words {
            title: "congestion control",
            time: "time (ms)",
            bytes: "bytes",
            ms: "ms",
            legend: ["cwnd", "ssthresh", "in flight", "SRTT (ms)", "RTO (ms)"],
        },
        Lang::Zh => Words {
            title: "拥塞控制",
            time: "时间 (毫秒)",
            bytes: "字节",
            ms: "毫秒",
            legend: ["cwnd", "ssthresh", "在途字节", "SRTT (毫秒)", "RTO (毫秒)"],
        },
    }
}

/// The samples of the connection to plot: the one with the most bytes in
/// flight among the two hosts drawn.
fn samples<'s>(m: &Model, series: &'s Series) -> Vec<&'s Sample> {
    let mut hosts = vec![m.left];
    hosts.extend(m.right);
    match series.busiest(&hosts) {
        Some((h, t)) => series.of(h, t).collect(),
        None => Vec::new(),
    }
}

/// A step line through `(t, v)` points (values absent are skipped).
fn steps(c: &Chart, pts: &[(u64, Option<f64>)], right: bool) -> (String, usize) {
    let mut s = String::new();
    let mut last: Option<f64> = None;
    let mut n = 0;
    for (t, v) in pts {
        let Some(v) = v else {
            continue;
        };
        let y = |v: f64| if right { c.yr(v) } else { c.y(v) };
        let x = c.x(*t);
        if let Some(p) = last {
            let _ = write!(s, "{x:.1},{:.1} ", y(p));
        }
        let _ = write!(s, "{x:.1},{:.1} ", y(*v));
        last = Some(*v);
        n += 1;
    }
    (s.trim_end().to_string(), n)
}

/// The plot as an inline `<svg>` element, or `None` without samples.
pub(crate) fn cwnd_svg(m: &Model, series: &Series, opts: &PlotOptions) -> Option<String> {
    let ss = samples(m, series);
    let first = ss.first()?;
    let w = words(opts.lang);
    let t0 = first.at.micros();
    let t1 = ss.last().map_or(t0 + 1, |s| s.at.micros());
    let bytes = ss
        .iter()
        .map(|s| s.cwnd.max(s.in_flight).max(s.ssthresh.unwrap_or(0)))
        .max()
        .unwrap_or(1);
    let ms = |us: u64| us as f64 / 1000.0;
    let right = ss
        .iter()
        .map(|s| ms(s.rto_us).max(s.srtt_us.map_or(0.0, ms)))
        .fold(0.0, f64::max);
    let c = Chart::new(t0, t1, 0.0, f64::from(bytes) * 1.05, Some(right * 1.05));
    let mut o = String::new();
    let title = format!("{}: {}", w.title, m.name(first.host));
    c.frame(&mut o, "cwnd", &title, [w.time, w.bytes, w.ms]);
    type Pick = fn(&Sample) -> Option<f64>;
    let lines: [(&str, bool, Pick); 5] = [
        ("cwnd", false, |s| Some(f64::from(s.cwnd))),
        ("ssth", false, |s| s.ssthresh.map(f64::from)),
        ("infl", false, |s| Some(f64::from(s.in_flight))),
        ("srtt", true, |s| s.srtt_us.map(|u| u as f64 / 1000.0)),
        ("rto", true, |s| Some(s.rto_us as f64 / 1000.0)),
    ];
    let _ = writeln!(o, r#"<g data-samples="{}">"#, ss.len());
    for (class, right, pick) in lines {
        let pts: Vec<(u64, Option<f64>)> = ss.iter().map(|s| (s.at.micros(), pick(s))).collect();
        let (points, n) = steps(&c, &pts, right);
        let _ = writeln!(
            o,
            r#"<polyline class="{class}" data-n="{n}" points="{points}"/>"#
        );
    }
    o.push_str("</g>\n");
    let l = w.legend;
    c.legend(
        &mut o,
        &[
            ("cwnd", l[0]),
            ("ssth", l[1]),
            ("infl", l[2]),
            ("srtt", l[3]),
            ("rto", l[4]),
        ],
    );
    o.push_str("</svg>\n");
    Some(o)
}

/// The congestion-control plot of a run's busiest sender as a standalone
/// SVG file, or `None` when the series holds no sample of the two hosts
/// drawn.
pub fn render_cwnd(
    entries: &[TraceEntry],
    hosts: &[HostInfo<'_>],
    series: &Series,
    opts: &PlotOptions,
) -> Option<String> {
    let m = build(entries, hosts, opts.absolute);
    cwnd_svg(&m, series, opts).map(standalone)
}
