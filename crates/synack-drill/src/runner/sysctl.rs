//! Sysctls: the FreeBSD and Linux settings scripts change, mapped onto
//! synack's stack and connection settings.

use synack_proto::{ConnConfig, Duration, EcnMode, StackConfig, SynCookies};

use super::{not_run, Res, Runner};

impl Runner<'_> {
    pub(super) fn set_conn(&mut self, f: impl FnOnce(&mut ConnConfig)) {
        f(&mut self.stack_cfg.conn);
        let c = self.stack_cfg.conn;
        if let Some(s) = self.stack.as_mut() {
            s.set_conn_config(c);
        }
    }

    pub(super) fn set_stack(&mut self, what: &str, f: impl FnOnce(&mut StackConfig)) -> Res<()> {
        if self.stack.is_some() {
            return not_run(format!("{what} changed after the stack started"));
        }
        f(&mut self.stack_cfg);
        Ok(())
    }

    pub(super) fn sysctl(&mut self, key: &str, value: &str) -> Res<()> {
        let num = || -> Res<i64> {
            value
                .trim()
                .parse::<i64>()
                .or_else(|_| not_run(format!("sysctl {key}={value}")))
        };
        let unsupported = || not_run(format!("sysctl {key}={value}"));
        let key = key.trim_start_matches("net.ipv4.");
        match key {
            // FreeBSD.
            "net.inet.tcp.rfc1323" => {
                let on = num()? != 0;
                self.set_conn(|c| {
                    c.window_scaling = on;
                    c.timestamps = on;
                });
            }
            "net.inet.tcp.sack.enable" | "tcp_sack" => {
                let on = num()? != 0;
                self.set_conn(|c| c.sack = on);
            }
            "net.inet.tcp.blackhole" => {
                if num()? != 0 {
                    return unsupported();
                }
            }
            "net.inet.tcp.insecure_rst" => {
                let on = num()? != 0;
                self.set_conn(|c| c.rst_challenge = !on);
            }
            "net.inet.tcp.insecure_syn" => {
                let on = num()? != 0;
                self.set_conn(|c| c.syn_challenge = !on);
            }
            // FreeBSD's net.inet.tcp.ecn.enable and Linux's tcp_ecn: 0 off, 1 ask
            // and accept, 2 accept only; 3 and 4 are accurate ECN.
            "net.inet.tcp.ecn.enable" | "tcp_ecn" => {
                let mode = match num()? {
                    0 => EcnMode::Off,
                    1 => EcnMode::Request,
                    2 => EcnMode::Accept,
                    _ => return not_run(format!("accurate ECN (sysctl {key}={value})")),
                };
                self.set_conn(|c| c.ecn = mode);
            }
            "net.inet.tcp.ecn.maxretries" => {
                let v = u32::try_from(num()?.max(0)).unwrap_or(u32::MAX);
                self.set_conn(|c| c.ecn_syn_retries = v);
            }
            "net.inet.tcp.recvspace" => {
                let v = num()?.max(0) as usize;
                self.set_conn(|c| c.recv_buffer = v);
            }
            "net.inet.tcp.sendspace" => {
                let v = num()?.max(0) as usize;
                self.set_conn(|c| c.send_buffer = v);
            }
            "net.inet.tcp.rexmit_initial" => {
                let v = num()?.max(1) as u64;
                self.set_conn(|c| c.initial_rto = Duration::from_millis(v));
            }
            "net.inet.tcp.rexmit_min" => {
                let v = num()?.max(1) as u64;
                self.set_conn(|c| c.min_rto = Duration::from_millis(v));
            }
            "net.inet.tcp.rexmit_slop" => {
                let v = num()?.max(0) as u64;
                self.set_conn(|c| c.rto_slop = Duration::from_millis(v));
            }
            "net.inet.tcp.delacktime" => {
                let v = num()?.max(0) as u64;
                self.set_conn(|c| c.delayed_ack = (v > 0).then(|| Duration::from_millis(v)));
            }
            "net.inet.tcp.keepidle" => {
                self.keep_defaults.idle = Duration::from_millis(num()?.max(0) as u64)
            }
            "net.inet.tcp.keepintvl" => {
                self.keep_defaults.interval = Duration::from_millis(num()?.max(0) as u64)
            }
            "net.inet.tcp.keepcnt" => self.keep_defaults.count = num()?.max(0) as u32,
            "net.inet.tcp.keepinit" => {
                // Milliseconds; 0 stops the timer.
                let v = num()?.max(0) as u64;
                self.set_conn(|c| c.establish_timeout = (v > 0).then(|| Duration::from_millis(v)));
            }
            "net.inet.tcp.syncookies" | "tcp_syncookies" => {
                let mode = match num()? {
                    0 => SynCookies::Off,
                    2 if key == "tcp_syncookies" => SynCookies::Always,
                    _ => SynCookies::WhenFull,
                };
                self.set_stack("syncookies", |s| s.syn_cookies = mode)?;
            }
            "net.inet.tcp.syncookies_only" => {
                if num()? != 0 {
                    self.set_stack("syncookies_only", |s| s.syn_cookies = SynCookies::Always)?;
                }
            }
            // Settings of mechanisms synack does not have, at values that
            // leave the tested behaviour alone.
            "net.inet.tcp.icmp_may_rst" => {
                let on = num()? != 0;
                self.set_conn(|c| c.icmp_may_rst = on);
            }
            "kern.ipc.maxsockbuf"
            | "net.inet.tcp.hostcache.purgenow"
            | "net.inet.tcp.tolerate_missing_ts"
            | "tcp_min_tso_segs"
            | "tcp_fack"
            | "tcp_frto"
            | "tcp_reordering"
            | "tcp_congestion_control"
            | "tcp_slow_start_after_idle"
            | "tcp_recovery" => {}
            // Linux: 3 and 4 enable the tail loss probe (RFC 8985 7), every
            // other value leaves it off (`tcp_schedule_loss_probe`).
            "tcp_early_retrans" => {
                let on = matches!(num()?, 3 | 4);
                self.set_conn(|c| c.tail_loss_probe = on);
            }
            "net.inet.tcp.rexmit_drop_options" => {
                let on = num()? != 0;
                self.set_conn(|c| c.syn_rexmit_drop_options = on);
            }
            "tcp_dsack" => {
                let on = num()? != 0;
                self.set_conn(|c| c.dsack = on);
            }
            "tcp_timestamps" => {
                let on = num()? != 0;
                self.set_conn(|c| c.timestamps = on);
            }
            "tcp_window_scaling" => {
                let on = num()? != 0;
                self.set_conn(|c| c.window_scaling = on);
            }
            "tcp_syn_retries" => {
                let v = num()?.max(0) as u32;
                self.set_conn(|c| c.syn_retries = v);
            }
            "tcp_synack_retries" => {
                let v = num()?.max(0) as u32;
                self.set_conn(|c| c.synack_retries = v);
            }
            "tcp_fin_timeout" => {
                let v = num()?.max(0) as u64;
                self.set_conn(|c| c.fin_wait_2_timeout = Duration::from_secs(v));
            }
            "tcp_rmem" | "tcp_wmem" => {
                let parts: Vec<usize> = value
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect();
                let Some(&def) = parts.get(1) else {
                    return unsupported();
                };
                if key == "tcp_rmem" {
                    self.set_conn(|c| c.recv_buffer = def);
                } else {
                    self.set_conn(|c| c.send_buffer = def);
                }
            }
            _ => return unsupported(),
        }
        Ok(())
    }
}
