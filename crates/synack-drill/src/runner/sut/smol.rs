//! smoltcp 0.14 as the stack under test: one [`Interface`] over a queue
//! device at the script's local address, its clock the script's virtual
//! time, one smoltcp socket per script socket.
//!
//! smoltcp has no listen queue: a socket in LISTEN becomes the connection
//! the first SYN opens. A listener here is one listening socket at a time;
//! when its SYN arrives that socket becomes a child waiting for accept and a
//! fresh socket listens in its place, while fewer than the backlog wait.
//! smoltcp does not say why a connection ended, so the backend infers it:
//! closed right after an inbound RST, reset (refused in SYN-SENT); closed
//! by a timer, timed out. A socket the script closed leaves the socket set
//! once it is over (CLOSED with nothing left to send), as a smoltcp
//! application frees it, so a long script holds only what it has open.
//!
//! A call smoltcp has no API for (TCP_INFO, TCP_CORK, SO_SNDBUF once the
//! buffers exist, SHUT_RD, keepalive probe counts, a SYN asking for a Fast
//! Open cookie or bringing data to a Fast Open listener, ...) is
//! recorded and the run reported "not run", naming it.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp::{self, State as SmolState};
use smoltcp::time::{Duration as SmolDuration, Instant as SmolInstant};
use smoltcp::wire::{HardwareAddress, IpCidr, IpListenEndpoint};
use synack_proto::{
    BindId, ConnConfig, ConnError, ConnId, ConnStatus, Duration, Error, FastOpenConfig,
    FastOpenKeys, FourTuple, Instant, Keepalive, ListenerId, Shutdown, StackConfig, State,
};

use super::smol_dev::{self as dev, Queue};
use super::StackUnderTest;

/// Socket buffers are allocated up front: bounded here whatever a script
/// asks (smoltcp itself refuses receive buffers over 1 GiB).
const MAX_BUFFER: usize = 4 << 20;
/// The smallest buffer a socket gets.
const MIN_BUFFER: usize = 1024;
/// Connections waiting for accept on one listener, at most.
const MAX_BACKLOG: usize = 128;
/// How long to wait before polling again when smoltcp asks to be polled
/// "now" right after a poll (nothing it can send yet).
const REPOLL: SmolDuration = SmolDuration::from_millis(1);

/// A connection and what the backend knows about it beyond smoltcp.
struct Conn {
    handle: SocketHandle,
    /// The state at the last look, to see transitions.
    last: SmolState,
    /// Why it ended, if it ended abnormally.
    error: Option<ConnError>,
    /// Opened by connect and not yet synchronized: a reset now is a
    /// refusal (RFC 9293 3.10.7.3, and 3.10.7.4 for SYN-RECEIVED reached
    /// from SYN-SENT).
    opening_active: bool,
    /// The application closed or aborted it.
    app_closed: bool,
}

/// A listener: its one listening socket and the children not yet accepted.
struct Listener {
    local: SocketAddr,
    backlog: usize,
    cfg: ConnConfig,
    listening: Option<SocketHandle>,
    queue: VecDeque<u32>,
}

/// smoltcp driven on the runner's virtual clock.
pub(super) struct Smoltcp {
    /// In a cell: `poll_at` needs the interface mutably, `poll_timeout`
    /// has only `&self`.
    iface: RefCell<Interface>,
    dev: Queue,
    sockets: SocketSet<'static>,
    /// The time of the last poll.
    now: SmolInstant,
    conns: BTreeMap<u32, Conn>,
    listeners: BTreeMap<u32, Listener>,
    binds: BTreeMap<u32, SocketAddr>,
    next_id: u32,
    next_port: u16,
    ports: (u16, u16),
    /// The packet being handled carries a RST.
    rst_in: bool,
    /// A listener was set up as a Fast Open server.
    fast_open_server: bool,
    missing: RefCell<Option<String>>,
}

impl Smoltcp {
    pub(super) fn new(cfg: StackConfig, local: IpAddr, seed: u64) -> Smoltcp {
        let now = SmolInstant::from_micros(0);
        let mut dev = Queue::new(usize::from(cfg.mtu));
        let mut icfg = Config::new(HardwareAddress::Ip);
        icfg.random_seed = seed;
        let mut iface = Interface::new(icfg, &mut dev, now);
        // A zero-length prefix: every address is on the link, so replies
        // need no route.
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(dev::smol_addr(local), 0));
        });
        Smoltcp {
            iface: RefCell::new(iface),
            dev,
            sockets: SocketSet::new(vec![]),
            now,
            conns: BTreeMap::new(),
            listeners: BTreeMap::new(),
            binds: BTreeMap::new(),
            next_id: 0,
            next_port: cfg.ephemeral_ports.0,
            ports: cfg.ephemeral_ports,
            rst_in: false,
            fast_open_server: false,
            missing: RefCell::new(None),
        }
    }

    /// Records the first API smoltcp lacks.
    fn lack(&self, what: &str) {
        let mut m = self.missing.borrow_mut();
        if m.is_none() {
            *m = Some(what.to_string());
        }
    }

    fn id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    fn sock(&self, h: SocketHandle) -> &tcp::Socket<'static> {
        self.sockets.get::<tcp::Socket>(h)
    }

    fn sock_mut(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }

    fn conn(&self, id: ConnId) -> Result<&Conn, Error> {
        self.conns.get(&id.index).ok_or(Error::InvalidHandle)
    }

    fn conn_sock(&self, id: ConnId) -> Result<&tcp::Socket<'static>, Error> {
        Ok(self.sock(self.conn(id)?.handle))
    }

    fn conn_sock_mut(&mut self, id: ConnId) -> Result<&mut tcp::Socket<'static>, Error> {
        let h = self.conn(id)?.handle;
        Ok(self.sock_mut(h))
    }

    /// Polls the interface at `now` and looks at what changed.
    fn poll(&mut self, now: Instant) {
        self.now = self.now.max(dev::smol_instant(now));
        dev::set_ts_clock(self.now);
        self.iface
            .get_mut()
            .poll(self.now, &mut self.dev, &mut self.sockets);
        self.sync();
    }

    /// A smoltcp socket with the buffers and switches of `cfg`; what smoltcp
    /// cannot set is recorded.
    fn new_socket(&self, cfg: &ConnConfig) -> tcp::Socket<'static> {
        if cfg.cork {
            self.lack("TCP_CORK");
        }
        if cfg.keepalive.is_some() {
            self.lack("keepalive idle, interval and probe count (one interval, no limit)");
        }
        if !cfg.sack {
            self.lack("a switch to turn SACK off");
        }
        if !cfg.window_scaling {
            self.lack("a switch to turn window scaling off");
        }
        if cfg.notsent_lowat.is_some() {
            self.lack("TCP_NOTSENT_LOWAT");
        }
        if cfg.mss.is_some() {
            self.lack("TCP_MAXSEG (its MSS follows the MTU)");
        }
        let size = |n: usize| n.clamp(MIN_BUFFER, MAX_BUFFER);
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; size(cfg.recv_buffer)]),
            tcp::SocketBuffer::new(vec![0; size(cfg.send_buffer)]),
        );
        // RFC 5681 congestion control, which these scripts test.
        s.set_congestion_control(tcp::CongestionControl::Reno);
        s.set_nagle_enabled(cfg.nagle);
        s.set_ack_delay(cfg.delayed_ack.map(dev::smol_duration));
        s.set_timeout(cfg.user_timeout.map(dev::smol_duration));
        if cfg.timestamps {
            s.set_tsval_generator(Some(dev::tsval));
        }
        s
    }

    /// A fresh listening socket for listener `l`.
    fn relisten(&mut self, l: u32) {
        let Some(lis) = self.listeners.get(&l) else {
            return;
        };
        if lis.listening.is_some() || lis.queue.len() >= lis.backlog {
            return;
        }
        let (local, cfg) = (lis.local, lis.cfg);
        let mut s = self.new_socket(&cfg);
        let ep = IpListenEndpoint {
            addr: (!local.ip().is_unspecified()).then(|| dev::smol_addr(local.ip())),
            port: local.port(),
        };
        if s.listen(ep).is_err() {
            return;
        }
        let h = self.sockets.add(s);
        if let Some(lis) = self.listeners.get_mut(&l) {
            lis.listening = Some(h);
        }
    }

    /// After a poll: listening sockets that took a SYN become children (and
    /// are replaced), and connections that closed get their cause.
    fn sync(&mut self) {
        let ls: Vec<u32> = self.listeners.keys().copied().collect();
        for l in ls {
            let Some(h) = self.listeners.get(&l).and_then(|x| x.listening) else {
                continue;
            };
            let st = self.sock(h).state();
            if st == SmolState::Listen {
                continue;
            }
            let id = self.id();
            self.conns.insert(
                id,
                Conn {
                    handle: h,
                    last: st,
                    opening_active: false,
                    error: None,
                    app_closed: false,
                },
            );
            if let Some(lis) = self.listeners.get_mut(&l) {
                lis.listening = None;
                lis.queue.push_back(id);
            }
            self.relisten(l);
        }
        let rst = self.rst_in;
        let ids: Vec<u32> = self.conns.keys().copied().collect();
        for id in ids {
            let Some(c) = self.conns.get(&id) else {
                continue;
            };
            let (h, last, app_closed, opening) = (c.handle, c.last, c.app_closed, c.opening_active);
            let mut st = self.sock(h).state();
            // smoltcp sends a socket reset in SYN-RECEIVED back to LISTEN:
            // here the connection is gone.
            if st == SmolState::Listen {
                self.sock_mut(h).abort();
                st = SmolState::Closed;
            }
            let error = (st == SmolState::Closed
                && !app_closed
                && !matches!(
                    last,
                    SmolState::Closed | SmolState::LastAck | SmolState::TimeWait
                ))
            .then_some(match (rst, opening) {
                (true, true) => ConnError::Refused,
                (true, false) => ConnError::Reset,
                (false, _) => ConnError::TimedOut,
            });
            if let Some(c) = self.conns.get_mut(&id) {
                c.last = st;
                c.opening_active &= matches!(st, SmolState::SynSent | SmolState::SynReceived);
                if c.error.is_none() {
                    c.error = error;
                }
            }
        }
        self.reap();
    }

    /// Frees the sockets of connections the application closed once they
    /// are over: CLOSED (TIME-WAIT run out, LAST-ACK answered, reset) with
    /// nothing left to send (an abort's RST goes out while the socket still
    /// names its peer). As a smoltcp application does, so the socket set
    /// holds what the script has open, not everything it ever opened.
    fn reap(&mut self) {
        let sockets = &mut self.sockets;
        self.conns.retain(|_, c| {
            let s = sockets.get::<tcp::Socket>(c.handle);
            let over = s.state() == SmolState::Closed && s.remote_endpoint().is_none();
            if c.app_closed && over {
                sockets.remove(c.handle);
            }
            !(c.app_closed && over)
        });
    }

    /// The listener's children that died before accept leave its queue.
    fn prune(&mut self, l: u32) {
        let Some(lis) = self.listeners.get(&l) else {
            return;
        };
        let live: VecDeque<u32> = lis
            .queue
            .iter()
            .copied()
            .filter(|id| {
                self.conns
                    .get(id)
                    .is_some_and(|c| self.sock(c.handle).state() != SmolState::Closed)
            })
            .collect();
        if let Some(lis) = self.listeners.get_mut(&l) {
            // The children that died before accept: no descriptor names
            // them, so they are freed as closed.
            for id in lis.queue.iter().filter(|id| !live.contains(id)) {
                if let Some(c) = self.conns.get_mut(id) {
                    c.app_closed = true;
                }
            }
            lis.queue = live;
        }
        self.reap();
        self.relisten(l);
    }

    fn port_taken(&self, port: u16) -> bool {
        self.binds.values().any(|a| a.port() == port)
            || self.listeners.values().any(|l| l.local.port() == port)
    }

    fn ephemeral(&mut self) -> u16 {
        let p = self.next_port;
        self.next_port = if p >= self.ports.1 {
            self.ports.0
        } else {
            p + 1
        };
        p
    }

    fn family(&self, addr: IpAddr) -> Result<(), Error> {
        let ours = self.iface.borrow().ip_addrs().first().map(|c| c.address());
        match ours {
            Some(a) if dev::ip_addr(a).is_ipv4() == addr.is_ipv4() => Ok(()),
            _ => Err(Error::AddressFamilyMismatch),
        }
    }

    fn local_ip(&self) -> Option<IpAddr> {
        let ours = self.iface.borrow().ip_addrs().first().map(|c| c.address());
        ours.map(dev::ip_addr)
    }
}

impl StackUnderTest for Smoltcp {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        if let Some(syn) = dev::fast_open_syn(packet) {
            if syn.option || (syn.data && self.fast_open_server) {
                self.lack("TCP Fast Open (a SYN asking for a cookie or bringing data)");
            }
        }
        self.rst_in = dev::is_tcp_rst(packet);
        self.dev.rx.push_back(packet.to_vec());
        self.poll(now);
        self.rst_in = false;
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool {
        if self.dev.tx.is_empty() {
            self.poll(now);
        }
        match self.dev.tx.pop_front() {
            Some(p) => {
                *buf = p;
                true
            }
            None => false,
        }
    }
    fn drain_events(&mut self) {}
    fn poll_timeout(&self) -> Option<Instant> {
        let at = self.iface.borrow_mut().poll_at(self.now, &self.sockets)?;
        // Every settle ends with a poll now: "now" again means smoltcp has
        // something it cannot send yet.
        Some(dev::synack_instant(at.max(self.now + REPOLL)))
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.poll(now);
    }
    fn set_conn_config(&mut self, _cfg: ConnConfig) {}

    fn bind(&mut self, local: SocketAddr, _cfg: ConnConfig) -> Result<BindId, Error> {
        self.family(local.ip())?;
        if local.port() != 0 && self.port_taken(local.port()) {
            return Err(Error::AddrInUse);
        }
        let id = self.id();
        self.binds.insert(id, local);
        Ok(BindId(id))
    }
    fn unbind(&mut self, b: BindId) -> Result<(), Error> {
        self.binds
            .remove(&b.0)
            .map(|_| ())
            .ok_or(Error::InvalidHandle)
    }
    fn listen(
        &mut self,
        local: SocketAddr,
        backlog: usize,
        cfg: ConnConfig,
    ) -> Result<ListenerId, Error> {
        self.family(local.ip())?;
        if self
            .listeners
            .values()
            .any(|l| l.local.port() == local.port())
        {
            return Err(Error::AddrInUse);
        }
        let mut local = local;
        if local.port() == 0 {
            local.set_port(self.ephemeral());
        }
        self.binds.retain(|_, a| *a != local);
        let id = self.id();
        self.listeners.insert(
            id,
            Listener {
                local,
                backlog: backlog.clamp(1, MAX_BACKLOG),
                cfg,
                listening: None,
                queue: VecDeque::new(),
            },
        );
        self.relisten(id);
        Ok(ListenerId(id))
    }
    fn set_fast_open_config(&mut self, _cfg: FastOpenConfig) {}
    // A listener set up for Fast Open serves without it: what smoltcp lacks
    // shows only when a SYN asks for a cookie (see handle_packet).
    fn set_listener_fast_open(&mut self, _l: ListenerId, queue: usize) -> Result<(), Error> {
        self.fast_open_server |= queue > 0;
        Ok(())
    }
    fn set_listener_fast_open_keys(
        &mut self,
        _l: ListenerId,
        _keys: Option<FastOpenKeys>,
    ) -> Result<(), Error> {
        Ok(())
    }
    fn connect_fast_open(
        &mut self,
        now: Instant,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        cfg: ConnConfig,
        _data: Option<&[u8]>,
    ) -> Result<(ConnId, usize), Error> {
        self.lack("TCP Fast Open (MSG_FASTOPEN, TCP_FASTOPEN_CONNECT)");
        self.connect(now, local, remote, cfg).map(|id| (id, 0))
    }
    fn fast_open_deferred(&self, _id: ConnId) -> bool {
        false
    }
    fn clear_fast_open_cookies(&mut self) {}
    fn set_listener_config(&mut self, l: ListenerId, cfg: ConnConfig) -> Result<(), Error> {
        let lis = self.listeners.get_mut(&l.0).ok_or(Error::InvalidHandle)?;
        lis.cfg = cfg;
        if let Some(h) = lis.listening {
            // Buffers stay; the switches smoltcp can change follow.
            let s = self.sock_mut(h);
            s.set_nagle_enabled(cfg.nagle);
            s.set_timeout(cfg.user_timeout.map(dev::smol_duration));
        }
        // What smoltcp cannot change is recorded.
        drop(self.new_socket(&cfg));
        Ok(())
    }
    fn accept(&mut self, l: ListenerId) -> Result<ConnId, Error> {
        self.prune(l.0);
        let lis = self.listeners.get(&l.0).ok_or(Error::InvalidHandle)?;
        let pos = lis.queue.iter().position(|id| {
            self.conns.get(id).is_some_and(|c| {
                !matches!(
                    self.sock(c.handle).state(),
                    SmolState::Listen | SmolState::SynReceived | SmolState::SynSent
                )
            })
        });
        let Some(pos) = pos else {
            return Err(Error::WouldBlock);
        };
        let id = self
            .listeners
            .get_mut(&l.0)
            .and_then(|lis| lis.queue.remove(pos))
            .ok_or(Error::WouldBlock)?;
        self.relisten(l.0);
        Ok(ConnId {
            index: id,
            generation: 0,
        })
    }
    fn close_listener(&mut self, _now: Instant, l: ListenerId) -> Result<(), Error> {
        let lis = self.listeners.remove(&l.0).ok_or(Error::InvalidHandle)?;
        if let Some(h) = lis.listening {
            // A listening socket has no peer: closed, it is over at once.
            self.sockets.remove(h);
        }
        // Connections never accepted are reset, as a closing listener does.
        for id in lis.queue {
            if let Some(c) = self.conns.get_mut(&id) {
                c.app_closed = true;
                let h = c.handle;
                self.sock_mut(h).abort();
            }
        }
        Ok(())
    }
    fn connect(
        &mut self,
        _now: Instant,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        cfg: ConnConfig,
    ) -> Result<ConnId, Error> {
        self.family(remote.ip())?;
        if remote.port() == 0 {
            return Err(Error::InvalidArgument);
        }
        let ip = match local {
            Some(a) if !a.ip().is_unspecified() => a.ip(),
            _ => self.local_ip().ok_or(Error::AddrNotAvailable)?,
        };
        let port = match local {
            Some(a) if a.port() != 0 => a.port(),
            _ => self.ephemeral(),
        };
        if let Some(a) = local {
            self.binds.retain(|_, b| *b != a);
        }
        let mut s = self.new_socket(&cfg);
        let remote_ep = (dev::smol_addr(remote.ip()), remote.port());
        let local_ep = IpListenEndpoint {
            addr: Some(dev::smol_addr(ip)),
            port,
        };
        s.connect(self.iface.get_mut().context(), remote_ep, local_ep)
            .map_err(|_| Error::InvalidArgument)?;
        let handle = self.sockets.add(s);
        let id = self.id();
        self.conns.insert(
            id,
            Conn {
                handle,
                last: SmolState::SynSent,
                opening_active: true,
                error: None,
                app_closed: false,
            },
        );
        Ok(ConnId {
            index: id,
            generation: 0,
        })
    }

    fn tuple(&self, id: ConnId) -> Result<FourTuple, Error> {
        let s = self.conn_sock(id)?;
        match (s.local_endpoint(), s.remote_endpoint()) {
            (Some(l), Some(r)) => Ok(FourTuple {
                local: dev::socket_addr(l),
                remote: dev::socket_addr(r),
            }),
            _ => Err(Error::NotConnected),
        }
    }
    fn state(&self, id: ConnId) -> Result<State, Error> {
        Ok(dev::state(self.conn_sock(id)?.state()))
    }
    fn conn_error(&self, id: ConnId) -> Result<Option<ConnError>, Error> {
        Ok(self.conn(id)?.error)
    }
    fn recv_ready(&self, id: ConnId) -> Result<usize, Error> {
        Ok(self.conn_sock(id)?.recv_queue())
    }
    fn recv(
        &mut self,
        _now: Instant,
        id: ConnId,
        buf: &mut [u8],
        peek: bool,
    ) -> Result<usize, Error> {
        let error = self.conn(id)?.error;
        if buf.is_empty() {
            return Ok(0);
        }
        let s = self.conn_sock_mut(id)?;
        let opening = matches!(s.state(), SmolState::SynSent | SmolState::SynReceived);
        let r = if peek {
            s.peek_slice(buf)
        } else {
            s.recv_slice(buf)
        };
        match (r, error) {
            (Ok(0), Some(e)) | (Err(tcp::RecvError::InvalidState), Some(e)) => {
                Err(Error::Connection(e))
            }
            (Ok(0), None) => Err(Error::WouldBlock),
            (Ok(n), _) => Ok(n),
            (Err(tcp::RecvError::Finished), _) => Ok(0),
            (Err(tcp::RecvError::InvalidState), None) if opening => Err(Error::WouldBlock),
            (Err(tcp::RecvError::InvalidState), None) => Ok(0),
        }
    }
    fn send_room(&self, id: ConnId) -> Result<usize, Error> {
        let s = self.conn_sock(id)?;
        Ok(s.send_capacity() - s.send_queue())
    }
    fn send(&mut self, _now: Instant, id: ConnId, data: &[u8]) -> Result<usize, Error> {
        let c = self.conn(id)?;
        if let Some(e) = c.error {
            return Err(Error::Connection(e));
        }
        let app_closed = c.app_closed;
        let s = self.conn_sock_mut(id)?;
        match s.state() {
            SmolState::SynSent | SmolState::SynReceived => Err(Error::WouldBlock),
            SmolState::Established | SmolState::CloseWait => match s.send_slice(data) {
                Ok(0) if !data.is_empty() => Err(Error::WouldBlock),
                Ok(n) => Ok(n),
                Err(_) => Err(Error::InvalidState),
            },
            SmolState::Listen => Err(Error::NotConnected),
            SmolState::Closed if !app_closed => Err(Error::NotConnected),
            _ => Err(Error::BrokenPipe),
        }
    }
    fn close(&mut self, _now: Instant, id: ConnId) -> Result<(), Error> {
        let c = self.conns.get_mut(&id.index).ok_or(Error::InvalidHandle)?;
        c.app_closed = true;
        let h = c.handle;
        self.sock_mut(h).close();
        // One already over (reset, timed out) is freed now.
        self.reap();
        Ok(())
    }
    fn abort(&mut self, _now: Instant, id: ConnId) -> Result<(), Error> {
        let c = self.conns.get_mut(&id.index).ok_or(Error::InvalidHandle)?;
        c.app_closed = true;
        let h = c.handle;
        self.sock_mut(h).abort();
        Ok(())
    }
    fn shutdown(&mut self, _now: Instant, id: ConnId, how: Shutdown) -> Result<(), Error> {
        if how == Shutdown::Read {
            self.lack("shutdown(SHUT_RD)");
            return Ok(());
        }
        // smoltcp's close is a half close: a FIN after the queued data.
        self.conn_sock_mut(id)?.close();
        Ok(())
    }

    fn set_send_buffer(&mut self, id: ConnId, bytes: usize) -> Result<(), Error> {
        if self.conn_sock(id)?.send_capacity() != bytes {
            self.lack("SO_SNDBUF on a connected socket (buffers are fixed at creation)");
        }
        Ok(())
    }
    fn set_nodelay(&mut self, id: ConnId, nodelay: bool) -> Result<(), Error> {
        self.conn_sock_mut(id)?.set_nagle_enabled(!nodelay);
        Ok(())
    }
    fn set_notsent_lowat(&mut self, id: ConnId, mark: Option<u32>) -> Result<(), Error> {
        self.conn(id)?;
        if mark.is_some() {
            self.lack("TCP_NOTSENT_LOWAT");
        }
        Ok(())
    }
    fn set_cork(&mut self, id: ConnId, cork: bool) -> Result<(), Error> {
        self.conn(id)?;
        if cork {
            self.lack("TCP_CORK");
        }
        Ok(())
    }
    fn push(&mut self, id: ConnId) -> Result<(), Error> {
        // Nagle is off when the runner pushes: smoltcp sends on its next poll.
        self.conn(id).map(|_| ())
    }
    fn send_record(&mut self, now: Instant, id: ConnId, data: &[u8]) -> Result<usize, Error> {
        self.lack("MSG_EOR (record boundaries)");
        self.send(now, id, data)
    }
    fn set_establish_timeout(
        &mut self,
        _now: Instant,
        id: ConnId,
        timeout: Option<Duration>,
    ) -> Result<(), Error> {
        self.conn(id)?;
        if timeout.is_some() {
            self.lack("TCP_KEEPINIT (a connection-establishment timeout)");
        }
        Ok(())
    }
    fn set_syn_retries(&mut self, _id: ConnId, _retries: u32) -> Result<(), Error> {
        self.lack("TCP_SYNCNT (SYN retransmissions)");
        Ok(())
    }
    fn set_user_timeout(&mut self, id: ConnId, timeout: Option<Duration>) -> Result<(), Error> {
        self.conn_sock_mut(id)?
            .set_timeout(timeout.map(dev::smol_duration));
        Ok(())
    }
    fn set_ip_options(&mut self, id: ConnId, ttl: Option<u8>, dscp: u8) -> Result<(), Error> {
        self.conn_sock_mut(id)?.set_hop_limit(ttl);
        if dscp != 0 {
            self.lack("IP_TOS (DSCP on its packets)");
        }
        Ok(())
    }
    fn set_keepalive(
        &mut self,
        _now: Instant,
        id: ConnId,
        k: Option<Keepalive>,
    ) -> Result<(), Error> {
        match k {
            Some(_) => {
                self.lack("keepalive idle, interval and probe count (one interval, no limit)")
            }
            None => self.conn_sock_mut(id)?.set_keep_alive(None),
        }
        Ok(())
    }

    fn status(&self, _id: ConnId) -> Option<ConnStatus> {
        self.lack("TCP_INFO (a connection's status)");
        None
    }
    fn closed_status(&self, id: ConnId) -> Option<ConnStatus> {
        self.status(id)
    }
    fn conns(&self) -> Vec<(State, FourTuple)> {
        self.conns
            .keys()
            .filter_map(|&index| {
                let id = ConnId {
                    index,
                    generation: 0,
                };
                Some((self.state(id).ok()?, self.tuple(id).ok()?))
            })
            .collect()
    }
    fn missing(&self) -> Option<String> {
        self.missing.borrow().clone()
    }
}

#[cfg(test)]
#[path = "smol_tests.rs"]
mod tests;
