//! smoltcp 0.14 over a TUN device (its `TunTapInterface`), the peer of
//! `synack tun bench`: the same MTU, the same socket buffers, serving a
//! sink and a source the way synack's side of the bench does.

use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{wait as phy_wait, Medium, TunTapInterface};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use synack::test_util::netns::{self, Netns};

/// The sink's port: it reads everything until the peer closes.
pub(super) const SINK_PORT: u16 = 5201;
/// The source's port: it sends `size` bytes, then closes.
pub(super) const SOURCE_PORT: u16 = 5202;

/// Open a TUN device `ifname` in `ns` for smoltcp at `addr`/24 and serve
/// one sink and one source connection (`size` bytes) until `stop`.
pub(super) fn serve(
    ns: &Netns,
    ifname: &str,
    addr: [u8; 4],
    buffer: usize,
    size: usize,
    stop: Arc<AtomicBool>,
) -> io::Result<JoinHandle<io::Result<()>>> {
    let name = ifname.to_owned();
    let path = ns.path();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        // smoltcp's device is not Send: this thread opens it inside the
        // namespace and serves it.
        let opened = netns::enter(&path).and_then(|()| TunTapInterface::new(&name, Medium::Ip));
        let dev = match opened {
            Ok(d) => {
                let _ = ready_tx.send(Ok(()));
                d
            }
            Err(e) => {
                let _ = ready_tx.send(Err(io::Error::new(e.kind(), e.to_string())));
                return Err(e);
            }
        };
        run(dev, addr, buffer, size, &stop)
    });
    ready_rx
        .recv()
        .map_err(|_| io::Error::other("smoltcp thread ended early"))??;
    Ok(h)
}

fn run(
    mut dev: TunTapInterface,
    addr: [u8; 4],
    buffer: usize,
    size: usize,
    stop: &AtomicBool,
) -> io::Result<()> {
    let fd = dev.as_raw_fd();
    let start = std::time::Instant::now();
    let now = || Instant::from_micros(start.elapsed().as_micros() as i64);
    let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut dev, now());
    iface.update_ip_addrs(|a| {
        let [w, x, y, z] = addr;
        let _ = a.push(IpCidr::new(IpAddress::v4(w, x, y, z), 24));
    });
    let mut sockets = SocketSet::new(Vec::new());
    let sock = |port: u16| -> io::Result<tcp::Socket<'static>> {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0u8; buffer]),
            tcp::SocketBuffer::new(vec![0u8; buffer]),
        );
        s.listen(port)
            .map_err(|e| io::Error::other(format!("smoltcp listen: {e}")))?;
        Ok(s)
    };
    let sink = sockets.add(sock(SINK_PORT)?);
    let source = sockets.add(sock(SOURCE_PORT)?);
    let chunk = vec![0xa5u8; 65536];
    let mut left = size;
    while !stop.load(Ordering::Relaxed) {
        iface.poll(now(), &mut dev, &mut sockets);
        let s = sockets.get_mut::<tcp::Socket>(sink);
        while s.can_recv() {
            if s.recv(|b| (b.len(), ())).is_err() {
                break;
            }
        }
        if !s.may_recv() && s.state() == tcp::State::CloseWait {
            s.close();
        }
        let s = sockets.get_mut::<tcp::Socket>(source);
        if s.may_send() && left > 0 {
            if let Ok(n) = s.send_slice(&chunk[..left.min(chunk.len())]) {
                left -= n;
            }
            if left == 0 {
                s.close();
            }
        }
        let delay = iface.poll_delay(now(), &sockets);
        phy_wait(fd, delay)?;
    }
    Ok(())
}
