//! `nstat`: Linux's SNMP counters since the last `nstat`, mapped onto
//! synack's stack-wide counters. `nstat` alone takes a new baseline;
//! `nstat | grep NAME` succeeds when the counter grew since (nstat prints
//! only counters that did), and fails the script otherwise.

use synack_proto::{DropReason, StackStats};

use super::shell::Pipeline;
use super::{fail, not_run, Res, Runner};

/// A Linux counter's value in synack's counters, if synack keeps it.
fn counter(name: &str, s: &StackStats) -> Option<u64> {
    let drops = |r: DropReason| s.drops.get(&r).copied().unwrap_or(0);
    Some(match name {
        // ICMP errors quoting a sequence number outside SND.UNA..SND.MAX
        // (RFC 5927 4.1), which synack drops and counts.
        "TcpExtOutOfWindowIcmps" => drops(DropReason::IcmpSeqOutOfWindow),
        "TcpOutRsts" => s.resets_sent,
        "TcpActiveOpens" => s.active_opens,
        "TcpPassiveOpens" => s.passive_opens,
        _ => return None,
    })
}

impl Runner<'_> {
    /// `nstat [> FILE]` or `nstat | grep NAME [> FILE]`.
    pub(super) fn nstat(&mut self, line: u32, p: &Pipeline, shown: &str) -> Res<()> {
        let now = match self.stack.as_ref().map(|s| s.stats()) {
            Some(Some(s)) => s,
            Some(None) => return not_run("nstat (the stack keeps no counters)"),
            None => StackStats::default(),
        };
        let first = p.first().map(|c| c.words.len()).unwrap_or(0);
        if first != 1 {
            return not_run(format!("command `{shown}`"));
        }
        let since = self.nstat_base.replace(now.clone()).unwrap_or_default();
        let Some(grep) = p.get(1) else {
            return Ok(());
        };
        let words: Vec<&str> = grep.words.iter().map(String::as_str).collect();
        let (["grep", name], 2) = (words.as_slice(), p.len()) else {
            return not_run(format!("command `{shown}`"));
        };
        let (Some(a), Some(b)) = (counter(name, &now), counter(name, &since)) else {
            return not_run(format!("nstat counter {name}"));
        };
        if a <= b {
            return fail(
                line,
                format!("`{shown}` to find {name} counted"),
                format!("{name} did not grow ({a})"),
            );
        }
        Ok(())
    }
}
