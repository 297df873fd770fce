//! Shell commands in backticks: sysctls (`sysctl`, `set_sysctls.py`), the
//! Linux suite's `defaults.sh`, and `sockstat` counts of connections.

use synack_proto::{EcnMode, State};

use super::{fail, not_run, Res, Runner};

impl Runner<'_> {
    pub(super) fn command(&mut self, line: u32, text: &str) -> Res<()> {
        for part in text.split(['\n', ';']).flat_map(|p| p.split("&&")) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            self.one_command(line, part)?;
        }
        Ok(())
    }

    fn one_command(&mut self, line: u32, cmd: &str) -> Res<()> {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let first = words.first().copied().unwrap_or("");
        if first.ends_with("common/defaults.sh") {
            // Linux's production defaults that matter to synack.
            // defaults.sh turns ECN off (tcp_ecn=0); retransmitted SYNs would drop
            // ECE and CWR (tcp_ecn_fallback=1).
            self.set_conn(|c| {
                c.timestamps = true;
                c.sack = true;
                c.window_scaling = true;
                c.ecn = EcnMode::Off;
                c.ecn_syn_retries = 0;
            });
            return Ok(());
        }
        if first.starts_with("/tmp/sysctl_restore") {
            return Ok(());
        }
        if first == "sysctl" {
            for w in &words[1..] {
                if w.starts_with('-') {
                    continue;
                }
                let Some((k, v)) = w.split_once('=') else {
                    return not_run(format!("command `{cmd}`"));
                };
                self.sysctl(k, v.trim_matches('"'))?;
            }
            return Ok(());
        }
        if first.ends_with("set_sysctls.py") {
            for w in &words[1..] {
                let Some((k, v)) = w.split_once('=') else {
                    return not_run(format!("command `{cmd}`"));
                };
                let key = k.trim_start_matches("/proc/sys/").replace('/', ".");
                self.sysctl(&key, v.trim_matches('"'))?;
            }
            return Ok(());
        }
        if first == "sockstat" {
            return self.sockstat(line, cmd);
        }
        if first == "ip" && words.get(1) == Some(&"tcp_metrics") {
            return Ok(());
        }
        not_run(format!("command `{cmd}`"))
    }

    /// `sockstat ... | grep -c STATE | grep N`: counts connections in a state.
    fn sockstat(&mut self, line: u32, cmd: &str) -> Res<()> {
        let stages: Vec<Vec<&str>> = cmd
            .split('|')
            .map(|s| s.split_whitespace().collect())
            .collect();
        let mut port: Option<u16> = None;
        if let Some(first) = stages.first() {
            if let Some(i) = first.iter().position(|w| *w == "-p") {
                port = first.get(i + 1).and_then(|p| p.parse().ok());
            }
        }
        let mut state_name: Option<&str> = None;
        let mut count: Option<usize> = None;
        for st in &stages[1..] {
            match st.as_slice() {
                ["grep", "packetdril"] => {}
                ["grep", "-c", s] => state_name = Some(s),
                ["grep", n] if state_name.is_some() => count = n.parse().ok(),
                _ => return not_run(format!("command `{cmd}`")),
            }
        }
        let (Some(name), Some(n)) = (state_name, count) else {
            return not_run(format!("command `{cmd}`"));
        };
        let Some(state) = State::from_name(name) else {
            return not_run(format!("sockstat state {name}"));
        };
        let actual = self.stack.as_ref().map_or(0, |s| {
            s.connections()
                .iter()
                .filter(|(_, st)| st.state == state)
                .filter(|(_, st)| port.is_none() || port == Some(st.tuple.local.port()))
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
