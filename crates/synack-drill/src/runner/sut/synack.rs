//! synack's [`Stack`] as the stack under test: every call maps one to one.

use std::net::{IpAddr, SocketAddr};

use synack_proto::{
    BindId, ConnConfig, ConnError, ConnId, ConnStatus, Duration, Error, FourTuple, Instant,
    Keepalive, ListenerId, Shutdown, Stack, StackConfig, State,
};

use super::StackUnderTest;

/// A deterministic synack stack at one local address.
pub(super) struct Synack(Stack);

impl Synack {
    pub(super) fn new(cfg: StackConfig, local: IpAddr, seed: u64) -> Synack {
        let mut s = Stack::new_deterministic(cfg, seed);
        s.add_address(local);
        Synack(s)
    }
}

impl StackUnderTest for Synack {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.0.handle_packet(now, packet);
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool {
        self.0.poll_transmit(now, buf)
    }
    fn drain_events(&mut self) {
        while self.0.poll_event().is_some() {}
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.0.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.0.handle_timeout(now);
    }
    fn set_conn_config(&mut self, cfg: ConnConfig) {
        self.0.set_conn_config(cfg);
    }
    fn bind(&mut self, local: SocketAddr, cfg: ConnConfig) -> Result<BindId, Error> {
        self.0.bind(local, cfg)
    }
    fn unbind(&mut self, b: BindId) -> Result<(), Error> {
        self.0.unbind(b)
    }
    fn listen(
        &mut self,
        local: SocketAddr,
        backlog: usize,
        cfg: ConnConfig,
    ) -> Result<ListenerId, Error> {
        self.0.listen_with(local, backlog, backlog, cfg)
    }
    fn set_fast_open_config(&mut self, cfg: synack_proto::FastOpenConfig) {
        self.0.set_fast_open_config(cfg);
    }
    fn set_listener_fast_open(&mut self, l: ListenerId, queue: usize) -> Result<(), Error> {
        self.0.set_listener_fast_open(l, queue)
    }
    fn set_listener_fast_open_keys(
        &mut self,
        l: ListenerId,
        keys: Option<synack_proto::FastOpenKeys>,
    ) -> Result<(), Error> {
        self.0.set_listener_fast_open_keys(l, keys)
    }
    fn connect_fast_open(
        &mut self,
        now: Instant,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        cfg: ConnConfig,
        data: Option<&[u8]>,
    ) -> Result<(ConnId, usize), Error> {
        self.0.connect_fast_open(now, local, remote, cfg, data)
    }
    fn fast_open_deferred(&self, id: ConnId) -> bool {
        self.0.fast_open_deferred(id)
    }
    fn clear_fast_open_cookies(&mut self) {
        self.0.clear_fast_open_cookies();
    }
    fn set_listener_config(&mut self, l: ListenerId, cfg: ConnConfig) -> Result<(), Error> {
        self.0.set_listener_config(l, cfg)
    }
    fn accept(&mut self, l: ListenerId) -> Result<ConnId, Error> {
        self.0.accept(l)
    }
    fn close_listener(&mut self, now: Instant, l: ListenerId) -> Result<(), Error> {
        self.0.close_listener(now, l)
    }
    fn connect(
        &mut self,
        now: Instant,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        cfg: ConnConfig,
    ) -> Result<ConnId, Error> {
        self.0.connect_with(now, local, remote, cfg)
    }
    fn tuple(&self, id: ConnId) -> Result<FourTuple, Error> {
        self.0.tuple(id)
    }
    fn state(&self, id: ConnId) -> Result<State, Error> {
        self.0.state(id)
    }
    fn conn_error(&self, id: ConnId) -> Result<Option<ConnError>, Error> {
        self.0.conn_error(id)
    }
    fn recv_ready(&self, id: ConnId) -> Result<usize, Error> {
        self.0.recv_ready(id)
    }
    fn recv(
        &mut self,
        now: Instant,
        id: ConnId,
        buf: &mut [u8],
        peek: bool,
    ) -> Result<usize, Error> {
        if peek {
            self.0.peek(now, id, buf)
        } else {
            self.0.recv(now, id, buf)
        }
    }
    fn send_room(&self, id: ConnId) -> Result<usize, Error> {
        self.0.send_room(id)
    }
    fn send(&mut self, now: Instant, id: ConnId, data: &[u8]) -> Result<usize, Error> {
        self.0.send(now, id, data)
    }
    fn close(&mut self, now: Instant, id: ConnId) -> Result<(), Error> {
        self.0.close(now, id)
    }
    fn abort(&mut self, now: Instant, id: ConnId) -> Result<(), Error> {
        self.0.abort(now, id)
    }
    fn shutdown(&mut self, now: Instant, id: ConnId, how: Shutdown) -> Result<(), Error> {
        self.0.shutdown(now, id, how)
    }
    fn set_send_buffer(&mut self, id: ConnId, bytes: usize) -> Result<(), Error> {
        self.0.set_send_buffer(id, bytes)
    }
    fn set_nodelay(&mut self, id: ConnId, nodelay: bool) -> Result<(), Error> {
        self.0.set_nodelay(id, nodelay)
    }
    fn set_notsent_lowat(&mut self, id: ConnId, mark: Option<u32>) -> Result<(), Error> {
        self.0.set_notsent_lowat(id, mark)
    }
    fn set_cork(&mut self, id: ConnId, cork: bool) -> Result<(), Error> {
        self.0.set_cork(id, cork)
    }
    fn push(&mut self, id: ConnId) -> Result<(), Error> {
        self.0.push(id)
    }
    fn send_record(&mut self, now: Instant, id: ConnId, data: &[u8]) -> Result<usize, Error> {
        self.0.send_record(now, id, data)
    }
    fn set_establish_timeout(
        &mut self,
        now: Instant,
        id: ConnId,
        timeout: Option<Duration>,
    ) -> Result<(), Error> {
        self.0.set_establish_timeout(now, id, timeout)
    }
    fn set_syn_retries(&mut self, id: ConnId, retries: u32) -> Result<(), Error> {
        self.0.set_syn_retries(id, retries)
    }
    fn set_user_timeout(&mut self, id: ConnId, timeout: Option<Duration>) -> Result<(), Error> {
        self.0.set_user_timeout(id, timeout)
    }
    fn set_ip_options(&mut self, id: ConnId, ttl: Option<u8>, dscp: u8) -> Result<(), Error> {
        self.0.set_ip_options(id, ttl, dscp)
    }
    fn set_keepalive(
        &mut self,
        now: Instant,
        id: ConnId,
        k: Option<Keepalive>,
    ) -> Result<(), Error> {
        self.0.set_keepalive(now, id, k)
    }
    fn status(&self, id: ConnId) -> Option<ConnStatus> {
        self.0.status(id).ok()
    }
    fn closed_status(&self, id: ConnId) -> Option<ConnStatus> {
        self.0
            .connections()
            .into_iter()
            .find(|(cid, _)| *cid == Some(id))
            .map(|(_, s)| s)
    }
    fn conns(&self) -> Vec<(State, FourTuple)> {
        self.0
            .connections()
            .into_iter()
            .map(|(_, s)| (s.state, s.tuple))
            .collect()
    }
    fn missing(&self) -> Option<String> {
        None
    }
    fn readiness(&self, id: ConnId) -> Option<synack_proto::Readiness> {
        self.0.readiness(id).ok()
    }
    fn stats(&self) -> Option<synack_proto::StackStats> {
        Some(self.0.stats())
    }
}
