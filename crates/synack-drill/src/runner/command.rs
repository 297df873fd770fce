//! Shell commands in backticks, read by `shell`: sysctls (`sysctl`,
//! `set_sysctls.py`, `echo V > /proc/sys/...`), the corpus's helper files
//! (`../common/defaults.sh`, read and applied line by line as the Linux
//! harness runs it), device and queue commands that leave synack's
//! behaviour alone, and `sockstat` counts of connections.

use std::path::{Path, PathBuf};

use synack_proto::State;

use super::shell::{self, Pipeline, Simple};
use super::{fail, not_run, Res, Runner};

/// How deep helper files may call helper files.
const MAX_HELPER_DEPTH: u32 = 4;
/// The largest helper file read.
const MAX_HELPER_BYTES: u64 = 64 * 1024;

impl Runner<'_> {
    pub(super) fn command(&mut self, line: u32, text: &str) -> Res<()> {
        self.commands(line, text, 0)
    }

    fn commands(&mut self, line: u32, text: &str, depth: u32) -> Res<()> {
        let pipelines = shell::parse(text).or_else(|e| not_run(format!("command: {e}")))?;
        let after_or = |i: usize| {
            pipelines
                .get(i)
                .and_then(|p| p.first())
                .is_some_and(|c| c.unless_ok)
        };
        let mut i = 0;
        while let Some(p) = pipelines.get(i) {
            i += 1;
            match self.pipeline(line, p, depth) {
                // `A || B`: B runs only if A failed.
                Ok(()) => {
                    while after_or(i) {
                        i += 1;
                    }
                }
                Err(_) if after_or(i) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn pipeline(&mut self, line: u32, p: &Pipeline, depth: u32) -> Res<()> {
        let Some(first) = p.first() else {
            return Ok(());
        };
        let words: Vec<&str> = first.words.iter().map(String::as_str).collect();
        let name = words.first().copied().unwrap_or("");
        if name == "sockstat" {
            return self.sockstat(line, p);
        }
        if name == "nstat" {
            return self.nstat(line, p, &shown(p));
        }
        if p.len() > 1 {
            return not_run(format!("command `{}`", shown(p)));
        }
        if name.starts_with("/tmp/sysctl_restore") {
            // Every run starts from fresh settings: nothing to restore.
            return Ok(());
        }
        if name.ends_with(".sh") {
            return self.helper(line, name, depth);
        }
        match name {
            "sysctl" => {
                for w in &words[1..] {
                    if w.starts_with('-') {
                        continue;
                    }
                    let Some((k, v)) = w.split_once('=') else {
                        return not_run(format!("command `{}`", shown(p)));
                    };
                    self.sysctl(k, v)?;
                }
                Ok(())
            }
            n if n.ends_with("set_sysctls.py") => {
                // The corpus's helper: each argument is `/proc/sys/a/b=v`.
                for w in &words[1..] {
                    let Some((k, v)) = w.split_once('=') else {
                        return not_run(format!("command `{}`", shown(p)));
                    };
                    self.proc_sys(k, v, p)?;
                }
                Ok(())
            }
            "echo" if first.stdout_to.is_some() => {
                let target = first.stdout_to.as_deref().unwrap_or("");
                self.proc_sys(target, &words[1..].join(" "), p)
            }
            // Linux keeps the Fast Open cookies it caches per destination in
            // its TCP metrics: `ip tcp_metrics flush` forgets them.
            "ip" if words.get(1) == Some(&"tcp_metrics") => {
                if words.get(2) == Some(&"flush") {
                    if let Some(st) = self.stack.as_mut() {
                        st.clear_fast_open_cookies();
                    }
                }
                Ok(())
            }
            "tc" => self.qdisc(&words, p),
            "/bin/rm" | "rm" | "/bin/dd" | "dd" => not_run(
                "a file on the host (rm, dd) for sendfile: synack's sockets send from the application's memory",
            ),
            "ethtool" => segmentation_offload(&words, p),
            _ => not_run(format!("command `{}`", shown(p))),
        }
    }

    /// A sysctl written through its `/proc/sys/` file.
    fn proc_sys(&mut self, file: &str, value: &str, p: &Pipeline) -> Res<()> {
        if file == "/sys/module/tcp_cubic/parameters/hystart_detect" {
            // Linux's HyStart: 1 the ACK train, 2 the delay increase, 3 both;
            // either leaves slow start at once. synack's CUBIC runs HyStart++
            // (RFC 9406: the delay increase only, then a conservative slow
            // start) and has no setting for Linux's heuristics.
            return match value.trim() {
                "0" => not_run("HyStart off (hystart_detect=0): synack's CUBIC always runs HyStart++ (RFC 9406)"),
                v => not_run(format!(
                    "Linux's HyStart (hystart_detect={v}: ACK train 1, delay 2) leaving slow start at once; \
                     synack runs HyStart++ (RFC 9406), delay-based with a conservative slow start"
                )),
            };
        }
        let Some(key) = file.strip_prefix("/proc/sys/") else {
            return not_run(format!("command `{}`", shown(p)));
        };
        self.sysctl(&key.replace('/', "."), value)
    }

    /// A helper file the script runs (`../common/defaults.sh`), found from
    /// the script's folder as the harness's working directory, and applied
    /// command by command.
    fn helper(&mut self, line: u32, file: &str, depth: u32) -> Res<()> {
        if depth >= MAX_HELPER_DEPTH {
            return not_run(format!("helper `{file}` nested too deep"));
        }
        let dir = Path::new(&self.script.name)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let Some(text) = read_helper(&dir.join(file)) else {
            return not_run(format!("helper file `{file}` not found"));
        };
        self.commands(line, &text, depth + 1)
    }

    /// `tc qdisc`: a FIFO queue is what the runner's link is; a queue that
    /// drops everything (`limit 0`) or paces (`fq`) is not modelled.
    fn qdisc(&mut self, words: &[&str], p: &Pipeline) -> Res<()> {
        match words {
            ["tc", "qdisc", "delete" | "del", ..] => Ok(()),
            ["tc", "qdisc", "add" | "replace", .., "root", "pfifo"] => Ok(()),
            ["tc", "qdisc", "add" | "replace", .., "pfifo", "limit", "0"] => {
                not_run("a local queue that drops every packet (tc pfifo limit 0)")
            }
            ["tc", "qdisc", "add" | "replace", .., "fq"] => not_run(
                "pacing (tc qdisc fq): Linux's fq spaces each flow's packets at its pacing rate \
                 (twice cwnd/SRTT in slow start); synack sends as the window allows, unpaced",
            ),
            _ => not_run(format!("command `{}`", shown(p))),
        }
    }

    /// `sockstat ... | grep -c STATE | grep N`: counts connections in a state.
    fn sockstat(&mut self, line: u32, p: &Pipeline) -> Res<()> {
        let first = p.first().map(stage).unwrap_or_default();
        let port: Option<u16> = first
            .iter()
            .position(|w| *w == "-p")
            .and_then(|i| first.get(i + 1))
            .and_then(|w| w.parse().ok());
        let mut state_name: Option<String> = None;
        let mut count: Option<usize> = None;
        for st in &p[1..] {
            match stage(st).as_slice() {
                ["grep", "packetdril"] => {}
                ["grep", "-c", s] => state_name = Some((*s).to_string()),
                ["grep", n] if state_name.is_some() => count = n.parse().ok(),
                _ => return not_run(format!("command `{}`", shown(p))),
            }
        }
        let (Some(name), Some(n)) = (state_name, count) else {
            return not_run(format!("command `{}`", shown(p)));
        };
        let Some(state) = State::from_name(&name) else {
            return not_run(format!("sockstat state {name}"));
        };
        let actual = self.stack.as_ref().map_or(0, |s| {
            s.conns()
                .iter()
                .filter(|(st, _)| *st == state)
                .filter(|(_, t)| port.is_none() || port == Some(t.local.port()))
                .count()
        });
        if actual != n {
            return fail(
                line,
                format!("{n} connection(s) in {}", state.name()),
                format!("{actual} connection(s) in {}", state.name()),
            );
        }
        Ok(())
    }
}

/// `ethtool -K DEV tso off gso off`: synack hands the link one segment of at
/// most one MSS at a time, which is what turning offloads off asks for.
fn segmentation_offload(words: &[&str], p: &Pipeline) -> Res<()> {
    match words {
        ["ethtool", "-K", _, rest @ ..]
            if rest.len() % 2 == 0
                && rest
                    .chunks(2)
                    .all(|kv| matches!(kv, ["tso" | "gso" | "gro", "off"])) =>
        {
            Ok(())
        }
        _ => not_run(format!("command `{}`", shown(p))),
    }
}

/// A command's words as string slices.
fn stage(s: &Simple) -> Vec<&str> {
    s.words.iter().map(String::as_str).collect()
}

/// A pipeline as one line, for messages.
fn shown(p: &Pipeline) -> String {
    p.iter()
        .map(|c| match &c.stdout_to {
            Some(f) => format!("{} > {f}", c.words.join(" ")),
            None => c.words.join(" "),
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// A helper file's text. A file holding nothing but a relative path is a
/// symbolic link as a checkout without links stores it: followed.
fn read_helper(path: &Path) -> Option<String> {
    let mut path: PathBuf = path.to_path_buf();
    for _ in 0..MAX_HELPER_DEPTH {
        let len = std::fs::metadata(&path).ok()?.len();
        if len > MAX_HELPER_BYTES {
            return None;
        }
        let text = std::fs::read_to_string(&path).ok()?;
        let t = text.trim();
        if !t.contains(char::is_whitespace) && t.ends_with(".sh") && !t.starts_with('#') {
            path = path.parent()?.join(t);
            continue;
        }
        return Some(text);
    }
    None
}
