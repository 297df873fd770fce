//! RFC 9293's state diagram as `synack_proto::rules` gives it: every arc
//! of the diagram, the inputs that change nothing, and `explains`.

use synack_proto::rules::{explains, next, Input, Segment};
use synack_proto::wire::TcpFlags;
use synack_proto::{Cause, State};

const SYN: u8 = TcpFlags::SYN.0;
const ACK: u8 = TcpFlags::ACK.0;
const FIN: u8 = TcpFlags::FIN.0;
const RST: u8 = TcpFlags::RST.0;

fn rx(bits: u8, acks_syn: bool, acks_fin: bool) -> Input {
    Input::Received(Segment {
        flags: TcpFlags(bits),
        acks_syn,
        acks_fin,
    })
}

fn tx(bits: u8) -> Input {
    Input::Sent(Segment::new(TcpFlags(bits)))
}

/// The states `input` leads through from `s`.
fn path(s: State, input: Input) -> Vec<State> {
    next(s, input).iter().map(|t| t.to).collect()
}

#[test]
fn the_diagram() {
    use State::*;
    let arcs: Vec<(State, Input, Vec<State>)> = vec![
        (Closed, Input::Connect, vec![SynSent]),
        (Closed, tx(SYN), vec![SynSent]),
        (Closed, Input::Listen, vec![Listen]),
        (Listen, rx(SYN, false, false), vec![SynReceived]),
        (Listen, tx(SYN | ACK), vec![SynReceived]),
        (SynSent, rx(SYN | ACK, true, false), vec![Established]),
        (SynSent, rx(SYN, false, false), vec![SynReceived]),
        (SynSent, rx(RST | ACK, true, false), vec![Closed]),
        (SynReceived, rx(ACK, true, false), vec![Established]),
        (SynReceived, rx(SYN | ACK, true, false), vec![Established]),
        (
            SynReceived,
            rx(ACK | FIN, true, false),
            vec![Established, CloseWait],
        ),
        (SynReceived, rx(RST, false, false), vec![Closed]),
        (
            SynSent,
            rx(SYN | ACK | FIN, true, false),
            vec![Established, CloseWait],
        ),
        (Established, tx(FIN | ACK), vec![FinWait1]),
        (Established, rx(FIN | ACK, false, false), vec![CloseWait]),
        (FinWait1, rx(ACK, false, true), vec![FinWait2]),
        (FinWait1, rx(FIN | ACK, false, false), vec![Closing]),
        (FinWait1, rx(FIN | ACK, false, true), vec![TimeWait]),
        (FinWait2, rx(FIN | ACK, false, false), vec![TimeWait]),
        (CloseWait, tx(FIN | ACK), vec![LastAck]),
        (Closing, rx(ACK, false, true), vec![TimeWait]),
        (LastAck, rx(ACK, false, true), vec![Closed]),
        (
            TimeWait,
            Input::Timeout(Cause::TimeWaitExpired),
            vec![Closed],
        ),
        (Established, tx(RST), vec![Closed]),
        (Established, rx(RST, false, false), vec![Closed]),
        (CloseWait, Input::Abort, vec![Closed]),
        (
            Established,
            Input::Timeout(Cause::RetransmitLimit),
            vec![Closed],
        ),
    ];
    for (s, input, want) in arcs {
        assert_eq!(path(s, input), want, "{s} with {input:?}");
    }
}

#[test]
fn inputs_that_change_nothing() {
    use State::*;
    let still: Vec<(State, Input)> = vec![
        (Established, rx(ACK, false, false)),
        (SynSent, tx(SYN)),
        (SynSent, rx(ACK, false, false)),
        (SynSent, rx(RST, false, false)),
        (SynSent, rx(SYN | ACK, false, false)),
        (Established, rx(SYN, false, false)),
        (Established, rx(FIN, false, false)),
        (CloseWait, rx(FIN | ACK, false, false)),
        (TimeWait, rx(FIN | ACK, false, true)),
        (FinWait2, rx(ACK, false, true)),
        (Listen, rx(ACK, false, false)),
        (Listen, rx(RST, false, false)),
        (Closed, rx(SYN, false, false)),
        (Closed, Input::Abort),
        (Established, Input::Timeout(Cause::TimeWaitExpired)),
    ];
    for (s, input) in still {
        assert!(next(s, input).is_empty(), "{s} with {input:?}");
    }
}

#[test]
fn every_transition_cites_its_rule() {
    for s in State::ALL {
        for bits in 0..=0x1fu8 {
            for (a, f) in [(false, false), (true, false), (false, true), (true, true)] {
                for t in next(s, rx(bits, a, f)).iter() {
                    assert!(t.rule.starts_with("RFC "), "{t:?}");
                    assert!(explains(t.from, t.to, t.cause).is_some(), "{t:?}");
                }
            }
        }
    }
    assert!(explains(State::Established, State::Closed, Cause::RecvRst).is_some());
    assert!(explains(State::Established, State::TimeWait, Cause::RecvFin).is_none());
    assert!(explains(State::Listen, State::Established, Cause::SynCookie).is_some());
}
