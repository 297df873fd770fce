//! TCP Fast Open (RFC 7413): a first connection earns a cookie, a second
//! sends its request on the SYN and has the response a round trip sooner;
//! and a cookie the server no longer accepts, from which the client falls
//! back to a normal handshake.

use super::{at, LIMIT, REQUEST, RESPONSE, THINK};
use crate::peer::{Action, Peer, Record, Role, Trigger};
use crate::world::{server_addr, stack_config, World, CLIENT_IP, PORT, SERVER_IP};
use crate::{Options, Outcome, ScenarioError};
use std::cell::RefCell;
use std::net::IpAddr;
use std::rc::Rc;
use synack_proto::fastopen::make_cookie;
use synack_proto::{
    Duration, FastOpenConfig, FastOpenKey, FastOpenMiss, FastOpenStatus, Instant, SegmentSummary,
    State,
};

/// The listener's Fast Open queue.
const QUEUE: usize = 4;
/// When the second connection opens (the first is long done by then).
const SECOND: Duration = Duration::from_millis(500);

type Shared = Rc<RefCell<Record>>;

/// Both stacks do Fast Open, the server's listener with a queue.
fn fast_open_world(o: &Options) -> Result<World, ScenarioError> {
    let mut w = World::new(o)?;
    let cfg = FastOpenConfig {
        client: true,
        server: true,
        ..FastOpenConfig::default()
    };
    for h in [w.client, w.server] {
        w.sim.with_node(h, |_, st| st.set_fast_open_config(cfg))?;
    }
    let l = w.listen(None)?;
    w.sim
        .with_node(w.server, |_, st| st.set_listener_fast_open(l, QUEUE))?
        .map_err(|error| ScenarioError::Stack {
            call: "set_listener_fast_open",
            error,
        })?;
    Ok(w)
}

/// One request and its response from `start` on: the client opens with
/// Fast Open and closes once it has the response, the server answers as
/// soon as it has read the request and closes at the client's FIN.
fn exchange(w: &mut World, start: Instant) -> (Shared, Shared) {
    let role = Role::FastOpen {
        remote: server_addr(PORT),
        cfg: Box::new(stack_config(&w.opts).conn),
    };
    let cp = Peer::new(role)
        .starting_at(start)
        .send_on(Trigger::Established, REQUEST.to_vec())
        .then(
            Trigger::Received(RESPONSE.len()),
            Duration::ZERO,
            Action::Close,
        );
    let l = w.listeners[0].1;
    let sp = Peer::new(Role::Accept(l))
        .send_on(Trigger::Received(REQUEST.len()), RESPONSE.to_vec())
        .then(Trigger::Eof, THINK, Action::Close);
    let (cr, sr) = (cp.record(), sp.record());
    w.set_app(w.client, cp);
    w.set_app(w.server, sp);
    (cr, sr)
}

/// The client's SYNs and the server's SYN,ACKs, in the order sent.
fn syns(w: &World) -> (Vec<SegmentSummary>, Vec<SegmentSummary>) {
    let of = |h| {
        w.sent(h)
            .into_iter()
            .filter(|s| s.1.flags.syn())
            .map(|s| s.1)
            .collect::<Vec<_>>()
    };
    (of(w.client), of(w.server))
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_micros() as f64 / 1000.0)
}

/// From the connect call to the response's first byte.
fn wait(r: &Shared, start: Instant) -> Option<Duration> {
    r.borrow().first_byte.map(|t| t.saturating_since(start))
}

pub(super) fn fast_open(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = fast_open_world(o)?;
    let (c1, s1) = exchange(&mut w, at(Duration::ZERO));
    w.run(SECOND)?;
    let (c2, s2) = exchange(&mut w, at(SECOND));
    w.run(LIMIT)?;
    let (syn, syn_ack) = syns(&w);
    let first = syn.first().filter(|s| s.src.port() != 0);
    let second = syn.iter().find(|s| first.is_some_and(|f| s.src != f.src));
    // RFC 7413 4.1.1: no cookie yet, so the first SYN asks for one.
    w.check_path(
        first.is_some_and(|s| {
            s.len == 0 && s.options.fast_open.is_some_and(|f| f.cookie.is_request())
        }),
        "first connection: the SYN carries an empty Fast Open option (a cookie request) and no data",
    );
    let cookie = syn_ack
        .first()
        .and_then(|s| s.options.fast_open)
        .filter(|f| !f.cookie.is_request());
    let cached = w.sim.node(w.client).fast_open_cookie(IpAddr::V4(SERVER_IP));
    w.check(
        cookie.is_some() && cached == cookie.map(|c| c.cookie),
        "the server's SYN,ACK offers a cookie; the client keeps it for the server's address",
    );
    // RFC 7413 4.2.1: the next SYN carries the cookie and the data.
    w.check_path(
        second.is_some_and(|s| {
            s.options.fast_open.map(|f| f.cookie) == cookie.map(|c| c.cookie)
                && s.len == REQUEST.len() as u32
        }),
        format!(
            "second connection: the SYN carries that cookie and the whole {}-byte request",
            REQUEST.len()
        ),
    );
    // RFC 7413 4.2.2: a valid cookie: the data goes to the application at
    // once, before the handshake completes.
    let fast_read = w
        .went_after(w.server, State::SynReceived, State::Established, at(SECOND))
        .zip(s2.borrow().first_byte)
        .is_some_and(|(est, read)| read < est);
    w.check_path(
        fast_read,
        "the server's application reads the second request in SYN_RCVD, before the handshake's ACK, and answers at once",
    );
    let rtt = w.opts.delay + w.opts.delay;
    let (t1, t2) = (wait(&c1, at(Duration::ZERO)), wait(&c2, at(SECOND)));
    w.check_path(
        t1.is_some_and(|t| t >= rtt + rtt),
        format!(
            "first connection: the response's first byte after {} ms, two round trips (handshake, then request)",
            t1.map_or("-".into(), ms)
        ),
    );
    w.check_path(
        t2.is_some_and(|t| t < rtt + rtt),
        format!(
            "second connection: the response's first byte after {} ms, one round trip: {} ms saved",
            t2.map_or("-".into(), ms),
            t1.zip(t2)
                .map_or("-".into(), |(a, b)| ms(a.saturating_sub(b)))
        ),
    );
    w.check(
        c1.borrow().fast_open == FastOpenStatus::NotUsed(FastOpenMiss::CookieRequested)
            && c2.borrow().fast_open == FastOpenStatus::Used
            && s2.borrow().fast_open == FastOpenStatus::Used,
        "status: first client connection 'cookie requested', second 'used' on both sides",
    );
    let (c1, s1, c2, s2) = (c1.borrow(), s1.borrow(), c2.borrow(), s2.borrow());
    for (who, wrote, r) in [
        ("server (first)", REQUEST, &*s1),
        ("client (first)", RESPONSE, &*c1),
        ("server (second)", REQUEST, &*s2),
        ("client (second)", RESPONSE, &*c2),
    ] {
        w.check_bytes(who, wrote, r);
    }
    w.finish()
}

/// The client holds a cookie the server made with a key it has since
/// replaced twice (RFC 7413 4.1.2: the server rotates its secret): the SYN
/// carries the request and the stale cookie, the server refuses the data
/// and offers a fresh cookie, the client sends the request again after the
/// handshake.
pub(super) fn fast_open_rejected(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = fast_open_world(o)?;
    let old = make_cookie(
        &FastOpenKey(*b"old  server key!"),
        IpAddr::V4(CLIENT_IP),
        IpAddr::V4(SERVER_IP),
    );
    w.sim.with_node(w.client, |_, st| {
        st.set_fast_open_cookie(IpAddr::V4(SERVER_IP), old)
    })?;
    let (c, s) = exchange(&mut w, at(Duration::ZERO));
    w.run(LIMIT)?;
    let (syn, syn_ack) = syns(&w);
    w.check_path(
        syn.first().is_some_and(|x| {
            x.options.fast_open.map(|f| f.cookie) == old && x.len == REQUEST.len() as u32
        }),
        "the SYN carries the stale cookie and the whole request",
    );
    let fresh = syn_ack.first().and_then(|x| x.options.fast_open);
    w.check_path(
        syn_ack
            .first()
            .zip(syn.first())
            .is_some_and(|(a, s)| a.ack == s.seq + 1)
            && fresh.is_some_and(|f| Some(f.cookie) != old && !f.cookie.is_request()),
        "the server's SYN,ACK acknowledges the SYN but not its data, and offers a fresh cookie",
    );
    let data_again = w
        .sent(w.client)
        .into_iter()
        .any(|x| !x.1.flags.syn() && x.1.len == REQUEST.len() as u32);
    w.check_path(
        data_again,
        "the client sends the request again after the handshake (a normal connection from there on)",
    );
    let cached = w.sim.node(w.client).fast_open_cookie(IpAddr::V4(SERVER_IP));
    w.check(
        cached.is_some() && cached == fresh.map(|f| f.cookie),
        "the client replaces its cookie with the fresh one, for its next connection",
    );
    w.check(
        c.borrow().fast_open == FastOpenStatus::NotUsed(FastOpenMiss::DataNotAcked)
            && s.borrow().fast_open == FastOpenStatus::NotUsed(FastOpenMiss::InvalidCookie),
        "status: client 'data not acknowledged', server 'invalid cookie'",
    );
    let (c, s) = (c.borrow(), s.borrow());
    w.check_bytes("server", REQUEST, &s);
    w.check_bytes("client", RESPONSE, &c);
    w.finish()
}
