//! The words of the checks, the verdict and the errors, in each language.
//!
//! The scenarios write their checks in English; [`check`] gives the Chinese
//! for each known form (numbers and names carried over), and the English
//! text for anything it does not know.

use synack_scenarios::{LinkTally, Outcome, Verdict};
use synack_trace::Lang;

/// The fixed words of the checks section.
pub(crate) struct Words {
    pub(crate) checks: &'static str,
    pub(crate) rules_heading: &'static str,
    pub(crate) story_heading: &'static str,
    pub(crate) rule_story_heading: &'static str,
    pub(crate) path_heading: &'static str,
    pub(crate) same: &'static str,
    pub(crate) differs: &'static str,
    pub(crate) unmet: &'static str,
    pub(crate) note: &'static str,
    pub(crate) error: &'static str,
    pub(crate) misbehaved: &'static str,
}

const EN: Words = Words {
    checks: "checks",
    rules_heading: "RFC rules, on any link",
    story_heading: "the scenario's story",
    rule_story_heading: "the scenario's RFC rules",
    path_heading: "expected on a clean link (with faults, another path may be legal)",
    same: "same",
    differs: "differs",
    unmet: "unmet",
    note: "note",
    error: "error",
    misbehaved: "the stack misbehaved",
};

const ZH: Words = Words {
    checks: "检查",
    rules_heading: "RFC 规则（任何链路上都成立）",
    story_heading: "场景的结局",
    rule_story_heading: "场景的 RFC 规则",
    path_heading: "干净链路上的预期路径（有故障时，其他路径也可能合法）",
    same: "相同",
    differs: "不同",
    unmet: "未达成",
    note: "注意",
    error: "错误",
    misbehaved: "协议栈行为错误",
};

/// The words for `lang`.
pub(crate) fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::Zh => &ZH,
        _ => &EN,
    }
}

/// English forms of the checks and their Chinese; `{}` stands for any text
/// (a number, a host name, a state), carried over in order.
const FORMS: &[(&str, &str)] = &[
    ("RFC 9293 3.3.2: every state change is in the state diagram, from the state before it, with a cause that happened ({} checked)", "RFC 9293 3.3.2：每次状态变化都在状态图中，从前一个状态出发，其原因确实发生（检查了 {} 次）"),
    ("RFC 9293 3.3.2: every state change is in the state diagram, from the state before it, with a cause that happened: broken: {}", "RFC 9293 3.3.2：每次状态变化都应在状态图中：被违反：{}"),
    ("RFC 9293 3.10.8: TIME_WAIT lasts 2*MSL = {} ({} checked)", "RFC 9293 3.10.8：TIME_WAIT 持续 2*MSL = {}（检查了 {} 次）"),
    ("RFC 9293 3.10.8: TIME_WAIT lasts 2*MSL = {}: broken: {}", "RFC 9293 3.10.8：TIME_WAIT 应持续 2*MSL = {}：被违反：{}"),
    ("RFC 6298 5.5: each retransmission timeout doubles the one before, up to the ceiling ({} checked)", "RFC 6298 5.5：每次重传超时是上一次的两倍，直到上限（检查了 {} 次）"),
    ("RFC 6298 5.5: each retransmission timeout doubles the one before, up to the ceiling: broken: {}", "RFC 6298 5.5：每次重传超时应是上一次的两倍：被违反：{}"),
    ("RFC 1122 4.2.3.6: keepalive probes after the idle time, then one per interval, giving up after the count ({} checked)", "RFC 1122 4.2.3.6：空闲时间后发保活探测，之后每个间隔一次，达到次数后放弃（检查了 {} 次）"),
    ("RFC 1122 4.2.3.6: keepalive probes after the idle time, then one per interval, giving up after the count: broken: {}", "RFC 1122 4.2.3.6：保活探测的时间表：被违反：{}"),
    ("RFC 6298 5.1: at the end no connection waits with something unacknowledged and no timer running ({} checked)", "RFC 6298 5.1：结束时没有连接在无定时器运行的情况下等待未确认的数据（检查了 {} 次）"),
    ("RFC 6298 5.1: at the end no connection waits with something unacknowledged and no timer running: broken: {}", "RFC 6298 5.1：结束时不应有连接卡住：被违反：{}"),
    ("the {} read the bytes in the order they were written (but saw end of file after {} of {} bytes)", "{}按写入顺序读到了字节（但在 {} / {} 字节后就读到了文件结束）"),
    ("the {} read the bytes in the order they were written", "{}按写入的顺序读到了字节"),
    ("the {} read all {} bytes ({} read)", "{}读到了全部 {} 字节（读到 {}）"),
    ("{} closed through TIME_WAIT, {} through LAST_ACK", "{}经由 TIME_WAIT 关闭，{}经由 LAST_ACK 关闭"),
    ("{} held TIME_WAIT for 2*MSL = {} s", "{}在 TIME_WAIT 停留了 2*MSL = {} 秒"),
    ("{}: one connection, not two", "{}：一个连接，而不是两个"),
    ("no connection is left on either side", "两端都没有遗留的连接"),
    ("the client closed through TIME_WAIT", "客户端经由 TIME_WAIT 关闭"),
    ("initial sequence numbers are not zero", "初始序列号不为零"),
    ("accept() returned the connection", "accept() 返回了连接"),
    ("the server read EOF after the data", "服务器在数据之后读到了 EOF"),
    ("the client read EOF after the data", "客户端在数据之后读到了 EOF"),
    ("the server read the client's EOF", "服务器读到了客户端的 EOF"),
    ("the client's abort sent RST", "客户端的 abort 发出了 RST"),
    ("the server's next call failed with \"connection reset\" (got {})", "服务器的下一次调用以 \"connection reset\" 失败（实际：{}）"),
    ("the client saw \"connection reset\" (got {})", "客户端看到 \"connection reset\"（实际：{}）"),
    ("connect failed with \"connection refused\" (got {})", "connect 以 \"connection refused\" 失败（实际：{}）"),
    ("the client's connection failed with \"connection timed out\"", "客户端的连接以 \"connection timed out\" 失败"),
    ("the rebooted server answered the unknown connection's segment with RST", "重启后的服务器用 RST 回应未知连接的报文段"),
    ("client: ESTABLISHED -> CLOSED instead of waiting forever", "客户端：ESTABLISHED -> CLOSED，而不是永远等待"),
    ("server: ESTABLISHED -> CLOSED, no TIME_WAIT", "服务器：ESTABLISHED -> CLOSED，没有 TIME_WAIT"),
    ("the handshake completed on both sides", "两端都完成了握手"),
    ("the retransmitted SYN opened the connection", "重传的 SYN 建立了连接"),
    ("no connection was ever handed to the server application", "没有任何连接交给服务器应用"),
    ("the server answered the stale SYN with SYN,ACK ack=90001", "服务器用 SYN,ACK ack=90001 回应了过期的 SYN"),
    ("the real client was served despite the flood", "尽管有洪泛，真实客户端仍得到服务"),
    ("ECN negotiated: SYN with ECE,CWR, SYN,ACK with ECE only (RFC 3168 6.1.1)", "ECN 协商成功：SYN 带 ECE,CWR，SYN,ACK 只带 ECE（RFC 3168 6.1.1）"),
    ("no data was retransmitted: the congestion signal cost no packet", "没有数据被重传：拥塞信号没有损失任何报文"),
    ("the client learnt the path MTU of {} from the router's ICMP error", "客户端从路由器的 ICMP 错误得知路径 MTU 为 {}"),
    ("the server advertised a zero window", "服务器通告了零窗口"),
    ("the client probed the closed window (persist timer)", "客户端探测了关闭的窗口（坚持定时器）"),
    ("the server announced the reopened window once its application read", "服务器的应用读取后，它通告了重新打开的窗口"),
    ("the server sent data after entering CLOSE_WAIT", "服务器在进入 CLOSE_WAIT 后发送了数据"),
    ("server: CLOSE_WAIT -> LAST_ACK at once", "服务器：立即 CLOSE_WAIT -> LAST_ACK"),
    ("the client's FIN has seq = ISN + 1 + 20000: sequence numbers count bytes", "客户端 FIN 的 seq = ISN + 1 + 20000：序列号按字节计数"),
    ("server: LAST_ACK -> CLOSED", "服务器：LAST_ACK -> CLOSED"),
    ("rule {} ({}) never fired: the packet it chose was not ECN-capable, so it was left unmarked (RFC 3168 5 marks only ECT packets)", "规则 {}（{}）从未生效：它选中的报文不支持 ECN，因此未被标记（RFC 3168 5 只标记 ECT 报文）"),
    ("rule {} ({}) never fired: {} packet(s) matched its flags, fewer than it counts to", "规则 {}（{}）从未生效：只有 {} 个报文匹配它的标志，少于它要数到的个数"),
    ("CUBIC's growth: concave from {} s, convex past W_max from {} s (RFC 9438 4.4, 4.5)", "CUBIC 的增长：从 {} 秒起为凹形，从 {} 秒起越过 W_max 转为凸形（RFC 9438 4.4、4.5）"),
    ("after it, every segment carried at most {} bytes", "此后每个报文段最多携带 {} 字节"),
    ("after the answered probe, {} unanswered probes ({} sent in all)", "在得到回应的探测之后，又有 {} 个探测无人回应（共发送 {} 个）"),
    ("client: FIN_WAIT_1 -> TIME_WAIT directly, no FIN_WAIT_2", "客户端：FIN_WAIT_1 -> TIME_WAIT 直接进入，没有经过 FIN_WAIT_2"),
    ("cwnd over time, kB every 0.5 s or more:{}", "cwnd 随时间变化（kB，每 0.5 秒或更久一个值）：{}"),
    ("every window probe repeats the first unacknowledged byte (the window is still zero)", "每个窗口探测都重发第一个未确认的字节（窗口仍为零）"),
    ("exactly three segments: SYN seq=x (MSS option), SYN,ACK seq=y ack=x+1, ACK seq=x+1 ack=y+1", "恰好三个报文段：SYN seq=x（带 MSS 选项），SYN,ACK seq=y ack=x+1，ACK seq=x+1 ack=y+1"),
    ("half-open entries resent SYN,ACKs to addresses that never answer", "半开连接向从不回应的地址重发了 SYN,ACK"),
    ("no data segment had to be retransmitted", "没有数据报文段需要重传"),
    ("recovery ended at {} s with cwnd = ssthresh, the flight brought down by PRR (RFC 9937)", "恢复在 {} 秒结束，cwnd = ssthresh，在途数据由 PRR 降下来（RFC 9937）"),
    ("slow start: cwnd {} octets at {} s, {} when the queue overflowed (RFC 5681 3.1)", "慢启动：{} 字节的 cwnd 在 {} 秒，队列溢出时为 {}（RFC 5681 3.1）"),
    ("the SYN was sent again after the initial RTO ({} s)", "初始 RTO（{} 秒）之后 SYN 被重发"),
    ("the client answered with CWR once, on new data (RFC 3168 6.1.2)", "客户端在新数据上回应了一次 CWR（RFC 3168 6.1.2）"),
    ("the client restarted its 2*MSL timer when it answered", "客户端回应时重启了它的 2*MSL 定时器"),
    ("the client sent its SYN again", "客户端重发了它的 SYN"),
    ("the client was ESTABLISHED long before the server left SYN_RCVD", "客户端早在服务器离开 SYN_RCVD 之前就已 ESTABLISHED"),
    ("the client, in TIME_WAIT, answered with a fresh ACK", "处于 TIME_WAIT 的客户端用一个新的 ACK 作了回应"),
    ("the client, which opened no such connection, answered RST with seq = the SYN,ACK's ack", "客户端没有打开过这样的连接，用 RST 回应，seq = 该 SYN,ACK 的 ack"),
    ("the drops were repaired without waiting for a retransmission timeout", "丢失的报文无需等待重传超时就被修复了"),
    ("the first probe left after {} s idle", "空闲 {} 秒后发出了第一个探测"),
    ("the listener answered with SYN cookies", "监听者用 SYN cookie 作了回应"),
    ("the listener counts one half-open entry removed", "监听者记录了一个被移除的半开连接"),
    ("the loss at {} s: fast recovery, ssthresh = 0.7 x flight = {} octets (RFC 9438 4.6)", "{} 秒时的丢包：快速恢复，ssthresh = 0.7 x 在途数据 = {} 字节（RFC 9438 4.6）"),
    ("the real client's ACK carried a valid cookie", "真实客户端的 ACK 携带了有效的 cookie"),
    ("the request riding on the cookie-validating ACK was accepted at once (no retransmission)", "随验证 cookie 的 ACK 一起到达的请求被立即接受（没有重传）"),
    ("the server answered RST,ACK seq=0 ack=x+1", "服务器回应了 RST,ACK seq=0 ack=x+1"),
    ("the server answered the first probe", "服务器回应了第一个探测"),
    ("the server sent its SYN,ACK again", "服务器重发了它的 SYN,ACK"),
    ("the server stopped echoing ECE once the CWR segment arrived", "收到 CWR 报文段后，服务器停止回显 ECE"),
    ("the server's ACK of the client's FIN and its own FIN travel in one FIN,ACK segment", "服务器对客户端 FIN 的 ACK 和它自己的 FIN 在同一个 FIN,ACK 报文段中传送"),
    ("the server's ACKs carried ECE after the CE-marked segment (RFC 3168 6.1.3)", "收到带 CE 标记的报文段后，服务器的 ACK 携带了 ECE（RFC 3168 6.1.3）"),
    ("the server's half-open entry went away (back to LISTEN)", "服务器的半开连接消失了（回到 LISTEN）"),
    ("the server, in LAST_ACK, resent its FIN after its loss probe timeout", "处于 LAST_ACK 的服务器在丢失探测超时后重发了它的 FIN"),
    ("the server, in SYN_RCVD, resent its SYN,ACK", "处于 SYN_RCVD 的服务器重发了它的 SYN,ACK"),
    ("under attack, the SYN queue was full of half-open entries from many addresses", "受到攻击时，SYN 队列里满是来自许多地址的半开连接"),
];

/// English forms of the error details and their Chinese (`{}` as in
/// [`FORMS`]; a captured text is itself translated, so frames nest).
const ERROR_FORMS: &[(&str, &str)] = &[
    // The specific forms before the general "invalid {}: {}".
    ("invalid --plot kind {}: expected tseq or cwnd, e.g. --plot tseq seq.svg", "无效的 --plot 类型 {}：应为 tseq 或 cwnd，例如 --plot tseq seq.svg"),
    ("unknown scenario {}; valid scenarios: {}", "未知的场景 {}；可用的场景：{}"),
    ("name a scenario; valid scenarios: {}", "请指定一个场景；可用的场景：{}"),
    ("invalid --drop {}: {} (format HOST[>HOST]:N|*:FLAGS[@START-END][+DELAY], e.g. client:2:ACK,!SYN,!FIN)", "无效的 --drop {}：{}（格式 HOST[>HOST]:N|*:FLAGS[@START-END][+DELAY]，例如 client:2:ACK,!SYN,!FIN）"),
    ("invalid {}: {}", "无效的 {}：{}"),
    ("simulation failed: {}", "模拟失败：{}"),
    ("{} is not a probability between 0 and 1", "{} 不是 0 到 1 之间的概率"),
    ("{} is below the minimum of {} bytes", "{} 低于最小值 {} 字节"),
    ("the backlog must be at least 1", "backlog 至少为 1"),
    ("idle and interval must be positive and count at least 1", "空闲时间和间隔必须为正，次数至少为 1"),
    ("the MSL must be positive", "MSL 必须为正"),
    ("empty fault spec", "故障规则为空"),
    ("expected HOST:COUNT:FLAGS (3 fields separated by ':'), found {} field(s)", "应为 HOST:COUNT:FLAGS（3 个以 ':' 分隔的字段），实际 {} 个字段"),
    ("unknown host {}; known hosts: {}", "未知的主机 {}；已知的主机：{}"),
    ("bad count {}: expected '*' or a positive integer", "无效的次数 {}：应为 '*' 或正整数"),
    ("unknown TCP flag {}: expected SYN, ACK, FIN, RST, PSH, URG, ECE or CWR, optionally prefixed by '!'", "未知的 TCP 标志 {}：应为 SYN、ACK、FIN、RST、PSH、URG、ECE 或 CWR，可加前缀 '!'"),
    ("flags {} are both required and excluded", "标志 {} 既被要求又被排除"),
    ("bad time {}: expected digits followed by us, ms or s", "无效的时间 {}：应为数字后跟 us、ms 或 s"),
    ("bad window {}: expected START-END, e.g. 1000-2000ms", "无效的时间窗 {}：应为 START-END，例如 1000-2000ms"),
    ("window {} ends at or before its start", "时间窗 {} 的结束不晚于开始"),
    ("'{}' given more than once", "'{}' 给出了不止一次"),
    ("a rule either delays (+time) or marks (=ce), not both", "一条规则要么延迟（+时间），要么标记（=ce），不能两者兼有"),
    ("unknown mark '={}' (the only mark is '=ce')", "未知的标记 '={}'（唯一的标记是 '=ce'）"),
    ("{} is not in {}", "{} 不在 {} 范围内"),
    ("cannot open {}: {}", "无法打开 {}：{}"),
    ("no connection to draw (see --conn)", "没有可绘制的连接（见 --conn）"),
    ("cannot write the output: {}", "无法写出输出：{}"),
    ("cannot read the capture: {}", "无法读取抓包文件：{}"),
    ("the capture is empty", "抓包文件为空"),
    ("not a pcap or pcapng capture (it starts with {})", "不是 pcap 或 pcapng 抓包文件（开头是 {}）"),
    ("the capture is corrupt at byte {}", "抓包文件在第 {} 字节处损坏"),
    ("a block at byte {} is larger than 16 MiB: the capture is corrupt", "第 {} 字节处的块大于 16 MiB：抓包文件已损坏"),
    ("cannot write pcap file {}: {} (give a file path in a writable directory)", "无法写入 pcap 文件 {}：{}（请给出可写目录中的文件路径）"),
    ("No such file or directory (os error {})", "没有这个文件或目录（系统错误 {}）"),
    ("Permission denied (os error {})", "权限不足（系统错误 {}）"),
    ("Is a directory (os error {})", "是一个目录（系统错误 {}）"),
    ("it is a directory", "它是一个目录"),
    ("no file name", "没有文件名"),
    ("--plot takes a kind and a file, e.g. --plot cwnd cwnd.svg", "--plot 需要一个类型和一个文件，例如 --plot cwnd cwnd.svg"),
    ("nothing to plot in {}: {}", "{} 中没有可绘制的内容：{}"),
    ("no data was sent in this run", "这次运行没有发送数据"),
    ("no sender numbers were recorded in this run", "这次运行没有记录发送方的数值"),
    ("cannot write plot file {}: {}", "无法写入图文件 {}：{}"),
    ("expected a probability between 0 and 1, e.g. 0.05", "应为 0 到 1 之间的概率，例如 0.05"),
    ("expected whole milliseconds from 0 to 3600000, e.g. 10", "应为 0 到 3600000 之间的整数毫秒，例如 10"),
    ("expected seconds greater than 0 and at most 86400, e.g. 30 or 0.5", "应为大于 0 且不超过 86400 的秒数，例如 30 或 0.5"),
    ("expected IDLE,INTERVAL,COUNT: seconds, seconds, probes, e.g. 7200,75,9", "应为 IDLE,INTERVAL,COUNT：秒、秒、探测次数，例如 7200,75,9"),
];

/// Match `text` against `form`, returning the texts standing for each `{}`.
fn captures<'a>(form: &str, text: &'a str) -> Option<Vec<&'a str>> {
    let parts: Vec<&str> = form.split("{}").collect();
    let mut rest = text.strip_prefix(parts[0])?;
    let mut out = Vec::new();
    for (i, lit) in parts.iter().enumerate().skip(1) {
        let last = i == parts.len() - 1;
        let at = if last {
            if lit.is_empty() {
                rest.len()
            } else if rest.ends_with(lit) {
                rest.len() - lit.len()
            } else {
                return None;
            }
        } else if lit.is_empty() {
            return None;
        } else {
            rest.find(lit)?
        };
        out.push(&rest[..at]);
        rest = &rest[at + lit.len()..];
    }
    rest.is_empty().then_some(out)
}

/// The Chinese form `zh` with each `{}` replaced by `each` of the texts
/// its English form captured, in order.
fn fill(zh: &str, caps: Vec<&str>, mut each: impl FnMut(&str) -> String) -> String {
    let mut out = String::new();
    let mut caps = caps.into_iter();
    for (i, lit) in zh.split("{}").enumerate() {
        if i > 0 {
            out.push_str(&each(caps.next().unwrap_or("")));
        }
        out.push_str(lit);
    }
    out
}

/// A check's text in `lang`.
pub(crate) fn check(lang: Lang, text: &str) -> String {
    if lang != Lang::Zh {
        return text.to_string();
    }
    for (en, zh) in FORMS {
        if let Some(caps) = captures(en, text) {
            return fill(zh, caps, |c| {
                match c {
                    "client" => "客户端",
                    "server" => "服务器",
                    other => other,
                }
                .to_string()
            });
        }
    }
    // A host's path through the states: only the host's name changes.
    for (en, zh) in [("client: ", "客户端："), ("server: ", "服务器：")] {
        if let Some(rest) = text.strip_prefix(en) {
            if rest.split(" -> ").all(|st| {
                st.chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_' || c == '1' || c == '2')
            }) {
                return format!("{zh}{rest}");
            }
        }
    }
    text.to_string()
}

/// An error's detail in `lang`: the forms above, applied to the texts they
/// capture in turn (an invalid `--drop` names its spec and why it is wrong).
pub(crate) fn error(lang: Lang, text: &str) -> String {
    if lang != Lang::Zh {
        return text.to_string();
    }
    translate_error(text, 3)
}

fn translate_error(text: &str, depth: u8) -> String {
    if depth == 0 {
        return text.to_string();
    }
    for (en, zh) in ERROR_FORMS {
        if let Some(caps) = captures(en, text) {
            return fill(zh, caps, |c| translate_error(c, depth - 1));
        }
    }
    text.to_string()
}

/// The verdict line of a run.
pub(crate) fn verdict(lang: Lang, o: &Outcome) -> String {
    let zh = lang == Lang::Zh;
    let tally = tally(lang, &o.tally);
    match &o.verdict {
        Verdict::AsExpected if zh => "结论：符合预期（干净链路，教科书路径）".to_string(),
        Verdict::AsExpected => "verdict: as expected (a clean link, the textbook path)".to_string(),
        Verdict::LegalPath { differed: 0 } if zh => {
            format!("结论：没有违反任何 RFC 规则；尽管注入了故障（{tally}），运行仍走了教科书路径")
        }
        Verdict::LegalPath { differed: 0 } => format!(
            "verdict: no RFC rule broken; despite the faults ({tally}) the run took the textbook path"
        ),
        Verdict::LegalPath { differed } if zh => format!(
            "结论：另一条合法路径：没有违反任何 RFC 规则；注入的故障（{tally}）使运行走了 RFC 9293 允许的另一条路径（{differed} 项干净链路预期不同）"
        ),
        Verdict::LegalPath { differed } => format!(
            "verdict: another legal path: no RFC rule broken; the injected faults ({tally}) led the run along another path RFC 9293 allows ({differed} clean-link expectation(s) differ)"
        ),
        Verdict::Incomplete { unmet } if zh => format!(
            "结论：未完成：没有违反任何 RFC 规则，但注入的故障（{tally}）使场景无法完成：{}",
            unmet.iter().map(|u| check(lang, u)).collect::<Vec<_>>().join("；")
        ),
        Verdict::Incomplete { unmet } => format!(
            "verdict: incomplete: no RFC rule broken, but the injected faults ({tally}) kept the scenario from finishing its story: {}",
            unmet.join("; ")
        ),
        Verdict::Violation if zh => "结论：协议栈违反了规则（见上面失败的检查）".to_string(),
        Verdict::Violation => {
            "verdict: the stack broke a rule (see the failed checks above)".to_string()
        }
    }
}

/// What the faults did to the packets, in `lang`.
pub(crate) fn tally(lang: Lang, t: &LinkTally) -> String {
    if lang != Lang::Zh {
        return t.to_string();
    }
    let parts: Vec<String> = [
        (t.lost, "丢失"),
        (t.dropped_by_rule, "被规则丢弃"),
        (t.delayed_by_rule, "被规则延迟"),
        (t.duplicated, "重复"),
        (t.reordered, "乱序"),
        (t.corrupted, "损坏"),
        (t.ce_marked, "被标记 CE"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{what} {n} 个"))
    .collect();
    if parts.is_empty() {
        "没有报文受影响".to_string()
    } else {
        format!("报文{}", parts.join("、"))
    }
}
