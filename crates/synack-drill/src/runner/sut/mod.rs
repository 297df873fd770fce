//! The stack under test: the calls the runner makes on a TCP stack (socket
//! calls, injecting a packet, polling what it transmits, advancing its clock,
//! its status for `TCP_INFO`), so the same script can drive synack or another
//! user-space stack. The vocabulary is synack's (handles, errors, states);
//! another stack's backend maps its own onto them and names any call it has
//! no API for in [`StackUnderTest::missing`], which turns the run into
//! "not run".

use std::net::{IpAddr, SocketAddr};

use synack_proto::{
    BindId, ConnConfig, ConnError, ConnId, ConnStatus, Duration, Error, FourTuple, Instant,
    Keepalive, ListenerId, Shutdown, StackConfig, State,
};

#[cfg(feature = "smoltcp")]
mod smol;
#[cfg(feature = "smoltcp")]
mod smol_dev;
mod synack;

/// Which TCP stack a script runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, PartialOrd, Ord)]
pub enum StackKind {
    /// synack's sans-IO core.
    #[default]
    Synack,
    /// smoltcp 0.14: its interface, sockets and clock (needs the `smoltcp`
    /// cargo feature).
    Smoltcp,
}

impl StackKind {
    /// The stack's name as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            StackKind::Synack => "synack",
            StackKind::Smoltcp => "smoltcp",
        }
    }

    /// The stack named `name` (`synack`, `smoltcp`).
    pub fn from_name(name: &str) -> Option<StackKind> {
        match name {
            "synack" => Some(StackKind::Synack),
            "smoltcp" => Some(StackKind::Smoltcp),
            _ => None,
        }
    }

    /// Whether this build can run scripts against the stack.
    pub fn available(self) -> bool {
        match self {
            StackKind::Synack => true,
            StackKind::Smoltcp => cfg!(feature = "smoltcp"),
        }
    }
}

/// A stack at the script's local address, with the script's settings. The
/// runner refuses a kind this build lacks before it gets here
/// ([`StackKind::available`]).
pub(super) fn make(
    kind: StackKind,
    cfg: StackConfig,
    local: IpAddr,
    seed: u64,
) -> Box<dyn StackUnderTest> {
    match kind {
        #[cfg(feature = "smoltcp")]
        StackKind::Smoltcp => Box::new(smol::Smoltcp::new(cfg, local, seed)),
        _ => Box::new(synack::Synack::new(cfg, local, seed)),
    }
}

/// One TCP stack driven by the runner on its virtual clock. Errors are
/// synack's [`Error`]; a call the stack has no API for returns an error and
/// is named by [`StackUnderTest::missing`].
pub(super) trait StackUnderTest {
    /// An IP packet from the network (the script's `<` lines).
    fn handle_packet(&mut self, now: Instant, packet: &[u8]);
    /// The next packet the stack sends, into `buf`; `false` when none.
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool;
    /// Discards the stack's pending application events.
    fn drain_events(&mut self);
    /// When the stack next needs [`StackUnderTest::handle_timeout`].
    fn poll_timeout(&self) -> Option<Instant>;
    /// Fires the timers due at `now`.
    fn handle_timeout(&mut self, now: Instant);
    /// New connection defaults (a sysctl changed).
    fn set_conn_config(&mut self, cfg: ConnConfig);

    /// Binds a socket to `local` without listening or connecting.
    fn bind(&mut self, local: SocketAddr, cfg: ConnConfig) -> Result<BindId, Error>;
    /// Releases a binding.
    fn unbind(&mut self, b: BindId) -> Result<(), Error>;
    /// Listens on `local` with `backlog` for both queues.
    fn listen(
        &mut self,
        local: SocketAddr,
        backlog: usize,
        cfg: ConnConfig,
    ) -> Result<ListenerId, Error>;
    /// Fast Open settings (the `tcp_fastopen` sysctl).
    fn set_fast_open_config(&mut self, cfg: synack_proto::FastOpenConfig);
    /// A listener's Fast Open queue (TCP_FASTOPEN; 0 off).
    fn set_listener_fast_open(&mut self, l: ListenerId, queue: usize) -> Result<(), Error>;
    /// A listener's Fast Open keys (`None`: the stack's).
    fn set_listener_fast_open_keys(
        &mut self,
        l: ListenerId,
        keys: Option<synack_proto::FastOpenKeys>,
    ) -> Result<(), Error>;
    /// Opens a Fast Open connection (RFC 7413): with `data` (MSG_FASTOPEN)
    /// the SYN carries what fits if a cookie is cached, and the count taken
    /// is returned; with `None` (TCP_FASTOPEN_CONNECT) the SYN waits for
    /// the first send when a cookie is cached.
    fn connect_fast_open(
        &mut self,
        now: Instant,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        cfg: ConnConfig,
        data: Option<&[u8]>,
    ) -> Result<(ConnId, usize), Error>;
    /// Whether a Fast Open connect's SYN still waits for its first send.
    fn fast_open_deferred(&self, id: ConnId) -> bool;
    /// Forgets every cached Fast Open cookie (`ip tcp_metrics flush`).
    fn clear_fast_open_cookies(&mut self);
    /// Settings for the connections a listener accepts from now on.
    fn set_listener_config(&mut self, l: ListenerId, cfg: ConnConfig) -> Result<(), Error>;
    /// The next established connection of a listener.
    fn accept(&mut self, l: ListenerId) -> Result<ConnId, Error>;
    /// Closes a listener.
    fn close_listener(&mut self, now: Instant, l: ListenerId) -> Result<(), Error>;
    /// Opens a connection to `remote`, from `local` if bound.
    fn connect(
        &mut self,
        now: Instant,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        cfg: ConnConfig,
    ) -> Result<ConnId, Error>;

    /// A connection's addresses.
    fn tuple(&self, id: ConnId) -> Result<FourTuple, Error>;
    /// A connection's state.
    fn state(&self, id: ConnId) -> Result<State, Error>;
    /// The error that ended a connection, if one did.
    fn conn_error(&self, id: ConnId) -> Result<Option<ConnError>, Error>;
    /// Bytes ready to be read.
    fn recv_ready(&self, id: ConnId) -> Result<usize, Error>;
    /// Reads (or with `peek`, copies without consuming) into `buf`.
    fn recv(
        &mut self,
        now: Instant,
        id: ConnId,
        buf: &mut [u8],
        peek: bool,
    ) -> Result<usize, Error>;
    /// Bytes the send buffer takes now.
    fn send_room(&self, id: ConnId) -> Result<usize, Error>;
    /// Queues `data`; the count taken.
    fn send(&mut self, now: Instant, id: ConnId, data: &[u8]) -> Result<usize, Error>;
    /// Closes a connection (a FIN after the queued data).
    fn close(&mut self, now: Instant, id: ConnId) -> Result<(), Error>;
    /// Aborts a connection (a RST).
    fn abort(&mut self, now: Instant, id: ConnId) -> Result<(), Error>;
    /// Shuts one or both halves down.
    fn shutdown(&mut self, now: Instant, id: ConnId, how: Shutdown) -> Result<(), Error>;

    /// `SO_SNDBUF` on a connection.
    fn set_send_buffer(&mut self, id: ConnId, bytes: usize) -> Result<(), Error>;
    /// `TCP_NODELAY` on a connection.
    fn set_nodelay(&mut self, id: ConnId, nodelay: bool) -> Result<(), Error>;
    /// `TCP_NOTSENT_LOWAT` on a connection: the most unsent octets it holds
    /// (`None`: the send buffer alone limits).
    fn set_notsent_lowat(&mut self, id: ConnId, mark: Option<u32>) -> Result<(), Error> {
        let _ = (id, mark);
        Err(Error::InvalidArgument)
    }
    /// `TCP_CORK` (and `MSG_MORE`) on a connection.
    fn set_cork(&mut self, id: ConnId, cork: bool) -> Result<(), Error>;
    /// Send what waits behind the cork and Nagle now (`TCP_NODELAY` set).
    fn push(&mut self, id: ConnId) -> Result<(), Error>;
    /// A send with `MSG_EOR`: its end is a record end.
    fn send_record(&mut self, now: Instant, id: ConnId, data: &[u8]) -> Result<usize, Error>;
    /// `TCP_KEEPINIT` on a connection.
    fn set_establish_timeout(
        &mut self,
        now: Instant,
        id: ConnId,
        timeout: Option<Duration>,
    ) -> Result<(), Error>;
    /// `TCP_SYNCNT` on a connection.
    fn set_syn_retries(&mut self, id: ConnId, retries: u32) -> Result<(), Error>;
    /// `TCP_USER_TIMEOUT` on a connection.
    fn set_user_timeout(&mut self, id: ConnId, timeout: Option<Duration>) -> Result<(), Error>;
    /// `IP_TTL` and `IP_TOS` on a connection.
    fn set_ip_options(&mut self, id: ConnId, ttl: Option<u8>, dscp: u8) -> Result<(), Error>;
    /// Keepalive on a connection (`None`: off).
    fn set_keepalive(
        &mut self,
        now: Instant,
        id: ConnId,
        k: Option<Keepalive>,
    ) -> Result<(), Error>;

    /// A connection's `TCP_INFO`-like status.
    fn status(&self, id: ConnId) -> Option<ConnStatus>;
    /// The status of a connection the application closed, while the stack
    /// still holds it.
    fn closed_status(&self, id: ConnId) -> Option<ConnStatus>;
    /// Every connection the stack holds, accepted or not: state and
    /// addresses.
    fn conns(&self) -> Vec<(State, FourTuple)>;
    /// The first call this stack had no API for, once one was made: what
    /// it lacks (e.g. `TCP_CORK`).
    fn missing(&self) -> Option<String>;
    /// What a connection can do now (level-triggered: `poll`), if the stack
    /// says.
    fn readiness(&self, id: ConnId) -> Option<synack_proto::Readiness> {
        let _ = id;
        None
    }
    /// The stack-wide counters (`nstat`), if the stack keeps synack's.
    fn stats(&self) -> Option<synack_proto::StackStats> {
        None
    }
}
