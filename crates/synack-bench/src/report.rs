//! Medians, the side-by-side table and its JSON form.

use std::fmt::Write as _;

/// Repeated measurements of one figure.
#[derive(Debug, Clone, Default)]
pub(crate) struct Samples(pub(crate) Vec<f64>);

impl Samples {
    /// The median (mean of the middle two for an even count).
    pub(crate) fn median(&self) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    /// Spread of the samples around the median: (max - min) / median.
    pub(crate) fn spread(&self) -> f64 {
        let min = self.0.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.0.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if self.0.len() < 2 {
            0.0
        } else {
            (max - min) / self.median()
        }
    }
}

/// Everything a run produces: the rows of the table, and the correctness
/// conditions that failed (each makes the run exit non-zero, after the table).
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// The figures, one row each.
    pub(crate) rows: Vec<Row>,
    /// Correctness conditions that failed, each said in a sentence.
    pub(crate) failures: Vec<String>,
    /// Further tables, printed after the main one.
    pub(crate) sections: Vec<String>,
    /// Further JSON members: a key and its (already rendered) value.
    pub(crate) json: Vec<(String, String)>,
}

impl Report {
    /// Record that a correctness condition failed (the run goes on, and exits non-zero).
    pub(crate) fn fail(&mut self, what: String) {
        self.failures.push(what);
    }
}

/// Whether bigger or smaller is better, for the goal check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Better {
    /// Higher is better (rates).
    Higher,
    /// Lower is better (bytes).
    Lower,
}

/// One line of the table: a synack figure beside a peer's.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// Short machine name, e.g. `bulk_mtu1500_vs_smoltcp`.
    pub(crate) key: String,
    /// What is measured.
    pub(crate) what: String,
    /// Unit of both figures.
    pub(crate) unit: String,
    /// synack's samples.
    pub(crate) synack: Samples,
    /// Who synack is compared with.
    pub(crate) peer: String,
    /// The peer's samples (empty when there is no peer figure).
    pub(crate) peer_samples: Samples,
    /// The goal, for synack / peer or for the synack figure itself (see `goal_on_ratio`).
    pub(crate) goal: Option<f64>,
    /// Whether the goal is about the ratio (else about synack's own figure).
    pub(crate) goal_on_ratio: bool,
    /// Direction of the goal.
    pub(crate) better: Better,
    /// A remark printed under the table.
    pub(crate) note: Option<String>,
}

impl Row {
    /// synack / peer with medians, or `None` without a peer figure.
    pub(crate) fn ratio(&self) -> Option<f64> {
        (!self.peer_samples.0.is_empty()).then(|| self.synack.median() / self.peer_samples.median())
    }

    /// The figure the goal is about: the ratio or synack's median.
    fn judged(&self) -> f64 {
        if self.goal_on_ratio {
            self.ratio().unwrap_or(f64::NAN)
        } else {
            self.synack.median()
        }
    }

    /// Whether the goal is met (`None` without a goal).
    pub(crate) fn met(&self) -> Option<bool> {
        let x = self.judged();
        self.goal
            .filter(|_| x.is_finite())
            .map(|g| match self.better {
                Better::Higher => x >= g,
                Better::Lower => x <= g,
            })
    }
}

/// A number in a few significant digits (k and M for thousands and millions).
pub(crate) fn num(x: f64) -> String {
    if !x.is_finite() {
        "-".into()
    } else if x.abs() >= 1e6 {
        format!("{:.3}M", x / 1e6)
    } else if x.abs() >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x == 0.0 || x.abs() >= 0.01 {
        format!("{x:.2}")
    } else {
        format!("{x:.1e}")
    }
}

/// The median with half the spread, or `-` without samples.
pub(crate) fn with_spread(s: &Samples) -> String {
    if s.0.is_empty() {
        "-".into()
    } else if s.0.len() < 2 {
        num(s.median())
    } else {
        format!("{} ±{:.0}%", num(s.median()), s.spread() * 50.0)
    }
}

/// The table, one row per figure.
pub(crate) fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let head = [
        "figure",
        "unit",
        "synack",
        "peer",
        "peer figure",
        "synack/peer",
        "goal",
        "met",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            let goal = match (r.goal, r.better, r.goal_on_ratio) {
                (None, _, _) => "-".into(),
                (Some(g), Better::Higher, true) => format!(">= {g}x"),
                (Some(g), Better::Lower, true) => format!("<= {g}x"),
                (Some(g), Better::Higher, false) => format!(">= {}", num(g)),
                (Some(g), Better::Lower, false) => format!("<= {}", num(g)),
            };
            [
                r.what.clone(),
                r.unit.clone(),
                with_spread(&r.synack),
                r.peer.clone(),
                with_spread(&r.peer_samples),
                r.ratio().map_or("-".into(), |x| {
                    if x != 0.0 && x.abs() < 0.001 {
                        format!("{x:.1e}")
                    } else {
                        format!("{x:.3}")
                    }
                }),
                goal,
                match r.met() {
                    None => "-".into(),
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                },
            ]
        })
        .collect();
    let mut width = head.map(str::len);
    for c in &cells {
        for (w, s) in width.iter_mut().zip(c.iter()) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |out: &mut String, c: &[String]| {
        for (i, (s, w)) in c.iter().zip(width.iter()).enumerate() {
            let pad = w - s.chars().count();
            if i < 2 || i == 3 {
                let _ = write!(out, "{s}{}  ", " ".repeat(pad));
            } else {
                let _ = write!(out, "{}{s}  ", " ".repeat(pad));
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    };
    line(&mut out, &head.map(String::from));
    let total: usize = width.iter().sum::<usize>() + 2 * (width.len() - 1);
    out.push_str(&"-".repeat(total));
    out.push('\n');
    for c in &cells {
        line(&mut out, c);
    }
    let notes: Vec<&String> = rows.iter().filter_map(|r| r.note.as_ref()).collect();
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            let _ = writeln!(out, "  * {n}");
        }
    }
    out
}

/// A JSON string literal.
pub(crate) fn jstr(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A JSON number (non-finite numbers become `null`).
pub(crate) fn jnum(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "null".into()
    }
}

/// Samples as a JSON object: median, spread and every run.
pub(crate) fn jsamples(s: &Samples) -> String {
    let runs: Vec<String> = s.0.iter().map(|x| jnum(*x)).collect();
    format!(
        "{{\"median\":{},\"spread\":{},\"runs\":[{}]}}",
        jnum(s.median()),
        jnum(s.spread()),
        runs.join(",")
    )
}

/// The failed correctness conditions as a JSON array of strings.
pub(crate) fn json_strings(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| jstr(s)).collect();
    format!("[{}]", items.join(", "))
}

/// The rows as a JSON array.
pub(crate) fn json_rows(rows: &[Row]) -> String {
    let items: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"key\":{},\"what\":{},\"unit\":{},\"synack\":{},\"peer\":{},\"peer_figure\":{},\"ratio\":{},\"goal\":{},\"better\":{},\"met\":{},\"note\":{}}}",
                jstr(&r.key),
                jstr(&r.what),
                jstr(&r.unit),
                jsamples(&r.synack),
                jstr(&r.peer),
                if r.peer_samples.0.is_empty() { "null".into() } else { jsamples(&r.peer_samples) },
                r.ratio().map_or("null".into(), jnum),
                r.goal.map_or("null".into(), jnum),
                jstr(match r.better {
                    Better::Higher => "higher",
                    Better::Lower => "lower",
                }),
                r.met().map_or("null".into(), |m| m.to_string()),
                r.note.as_deref().map_or("null".into(), jstr),
            )
        })
        .collect();
    format!("[\n    {}\n  ]", items.join(",\n    "))
}
