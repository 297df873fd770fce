//! The page's own words in each language (the explanations come from the
//! same tables as every other view).

use crate::calls::Call;
use crate::Lang;

/// Headings, controls and field names.
pub(crate) struct PageWords {
    pub(crate) lang: &'static str,
    pub(crate) ladder: &'static str,
    pub(crate) calls: &'static str,
    pub(crate) diagram: &'static str,
    pub(crate) fields: &'static str,
    pub(crate) plots: &'static str,
    pub(crate) first: &'static str,
    pub(crate) prev: &'static str,
    pub(crate) play: &'static str,
    pub(crate) next: &'static str,
    pub(crate) last: &'static str,
    pub(crate) speed: &'static str,
    pub(crate) keys: &'static str,
    pub(crate) no_js: &'static str,
    pub(crate) pick: &'static str,
    pub(crate) no_data: &'static str,
    pub(crate) no_samples: &'static str,
    pub(crate) inferred: &'static str,
    pub(crate) final_state: &'static str,
    /// Field names for the header panel, in the order the page shows them.
    pub(crate) f: [&'static str; 11],
}

pub(crate) fn page_words(lang: Lang) -> &'static PageWords {
    const EN: PageWords = PageWords {
        lang: "en",
        ladder: "Ladder",
        calls: "socket calls",
        diagram: "RFC 9293 state diagram",
        fields: "Segment",
        plots: "Flow and congestion control",
        first: "first event (Home)",
        prev: "previous event (←)",
        play: "play or pause (space)",
        next: "next event (→)",
        last: "last event (End)",
        speed: "speed",
        keys: "keys: space play/pause · ← → step · Home End · + − speed · click a row",
        no_js: "JavaScript is off: the ladder is static; hover an arrow or a state for its explanation.",
        pick: "Step to a segment (or click one) to see its header fields.",
        no_data: "No data was sent in this run: no time-sequence graph.",
        no_samples: "No sender numbers were recorded for this run (a capture has none): no congestion-control plot.",
        inferred: "inferred from the state change: a capture does not show calls",
        final_state: "at the end of the run",
        f: [
            "flags",
            "seq (relative)",
            "seq (absolute)",
            "ack (relative)",
            "ack (absolute)",
            "window (field)",
            "window scale",
            "window (bytes)",
            "payload",
            "options",
            "why sent",
        ],
    };
    const ZH: PageWords = PageWords {
        lang: "zh",
        ladder: "时序图",
        calls: "套接字调用",
        diagram: "RFC 9293 状态图",
        fields: "报文段",
        plots: "流量控制与拥塞控制",
        first: "第一个事件 (Home)",
        prev: "上一个事件 (←)",
        play: "播放或暂停 (空格)",
        next: "下一个事件 (→)",
        last: "最后一个事件 (End)",
        speed: "速度",
        keys: "按键：空格 播放/暂停 · ← → 单步 · Home End · + − 速度 · 点击一行",
        no_js: "JavaScript 已关闭：时序图是静态的；把鼠标停在箭头或状态上可看到解释。",
        pick: "单步到一个报文段（或点击它）即可查看其首部字段。",
        no_data: "本次运行没有发送数据：没有时间-序号图。",
        no_samples: "本次运行没有记录发送方的数值（抓包中没有）：没有拥塞控制图。",
        inferred: "由状态变化推断：抓包看不到调用",
        final_state: "运行结束时",
        f: [
            "标志",
            "序号（相对）",
            "序号（绝对）",
            "确认号（相对）",
            "确认号（绝对）",
            "窗口（字段）",
            "窗口缩放",
            "窗口（字节）",
            "数据长度",
            "选项",
            "发送原因",
        ],
    };
    match lang {
        Lang::En => &EN,
        Lang::Zh => &ZH,
    }
}

/// What a socket call does, in one line.
pub(crate) fn call_text(c: Call, lang: Lang) -> &'static str {
    match (c, lang) {
        (Call::Listen, Lang::En) => "listen(): passive OPEN, the socket waits for SYNs (RFC 9293 3.10.1)",
        (Call::Listen, Lang::Zh) => "listen()：被动打开，套接字等待 SYN（RFC 9293 3.10.1）",
        (Call::Connect, Lang::En) => "connect(): active OPEN, a SYN goes out (RFC 9293 3.10.1)",
        (Call::Connect, Lang::Zh) => "connect()：主动打开，发出 SYN（RFC 9293 3.10.1）",
        (Call::Accept, Lang::En) => "accept(): takes a connection whose handshake completed from the accept queue; no segment is sent",
        (Call::Accept, Lang::Zh) => "accept()：从全连接队列取出一个已完成握手的连接；不发送任何报文段",
        (Call::Send(_), Lang::En) => "send(): copies bytes into the send buffer; TCP sends them as the windows allow (RFC 9293 3.10.2)",
        (Call::Send(_), Lang::Zh) => "send()：把字节复制到发送缓冲区；TCP 在窗口允许时发送（RFC 9293 3.10.2）",
        (Call::Recv(0), Lang::En) => "recv() returned 0: the peer's FIN was read, end of stream (RFC 9293 3.10.3)",
        (Call::Recv(0), Lang::Zh) => "recv() 返回 0：读到了对端的 FIN，数据流结束（RFC 9293 3.10.3）",
        (Call::Recv(_), Lang::En) => "recv(): reads bytes from the receive buffer, which opens the receive window (RFC 9293 3.10.3)",
        (Call::Recv(_), Lang::Zh) => "recv()：从接收缓冲区读出字节，接收窗口随之变大（RFC 9293 3.10.3）",
        (Call::Shutdown, Lang::En) => "shutdown(SHUT_WR): a FIN after the queued data; reading goes on (half-close)",
        (Call::Shutdown, Lang::Zh) => "shutdown(SHUT_WR)：在已排队的数据之后发出 FIN；仍可继续读（半关闭）",
        (Call::Close, Lang::En) => "close(): a FIN after the queued data (RFC 9293 3.10.4)",
        (Call::Close, Lang::Zh) => "close()：在已排队的数据之后发出 FIN（RFC 9293 3.10.4）",
        (Call::Abort, Lang::En) => "abort() (close with SO_LINGER 0): a RST, the connection is gone (RFC 9293 3.10.5)",
        (Call::Abort, Lang::Zh) => "abort()（SO_LINGER 为 0 的 close）：发出 RST，连接立即消失（RFC 9293 3.10.5）",
    }
}
