//! Two queues, two stacks: a TUN device opened with `IFF_MULTI_QUEUE` and a
//! runtime with `queues: 2`. Many connections both ways, every byte echoed
//! and compared, proof that both stacks carried flows of both kinds; and
//! segments read on the wrong queue handed to the stack that owns them.

use super::*;
use synack::TunOptions;

/// A lab whose runtime drives two queues of one TUN device.
fn lab_two_queues() -> Option<Lab> {
    lab_two_queues_on(|dev| dev)
}

/// [`lab_two_queues`], the runtime reading and writing the first queue
/// through what `wrap` makes of it (which opens the second).
fn lab_two_queues_on<D: Device>(wrap: impl FnOnce(TunDevice) -> D) -> Option<Lab> {
    if !can_set_up(&TOOLS) {
        return None;
    }
    let ns = Netns::create_unique().expect("create namespace");
    let opts = TunOptions {
        multi_queue: true,
        ..TunOptions::default()
    };
    let dev = ns
        .tun_with(&unique_name("skt"), opts, 1500, &[(IpAddr::V4(K), 24)])
        .expect("multi-queue TUN device in the namespace");
    let dev_name = dev.name().to_owned();
    let mut cfg = RuntimeConfig::new(vec![IpAddr::V4(S)]);
    cfg.queues = 2;
    let rt = Runtime::new(wrap(dev), cfg).expect("runtime on two queues");
    assert_eq!(rt.queues(), 2);

    Some(Lab {
        rt,
        dev: dev_name,
        ns,
    })
}

/// N kernel clients at once, each sending its own pattern (sizes differ)
/// and checking the echo byte for byte; prints how many matched.
const PY_MANY_CLIENTS: &str = r#"
import asyncio, sys
N = int(sys.argv[2])
def msg(i):
    return bytes((i * 7 + k * 13) % 251 for k in range(500 + i * 211))
async def one(i):
    r, w = await asyncio.wait_for(asyncio.open_connection('10.77.0.2', int(sys.argv[1])), 20)
    m = msg(i)
    w.write(m); await w.drain(); w.write_eof()
    data = await asyncio.wait_for(r.read(), 20)
    w.close()
    return data == m
async def main():
    res = await asyncio.gather(*[one(i) for i in range(N)], return_exceptions=True)
    print(sum(1 for x in res if x is True), [repr(x) for x in res if x is not True][:3])
asyncio.run(main())
"#;

/// A kernel echo server with a backlog for many clients at once, a thread
/// per connection.
const PY_ECHO_BACKLOG: &str = r#"
import socket, sys, threading
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2]))); l.listen(512)
def h(c):
    while True:
        b = c.recv(65536)
        if not b:
            break
        c.sendall(b)
    c.close()
while True:
    c, _ = l.accept()
    threading.Thread(target=h, args=(c,), daemon=True).start()
"#;

/// A tokio echo server on synack (one listener per stack, accepting from any).
fn tokio_echo(rt: &Runtime, port: u16) -> std::thread::JoinHandle<()> {
    let l = block_on(synack::tokio::TcpListener::bind(rt, sa(S, port))).expect("bind");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio");
        rt.block_on(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16384];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
    })
}

#[test]
fn two_queues_carry_many_connections_both_ways() {
    let Some(mut lab) = lab_two_queues() else {
        return;
    };
    // Kernel -> synack: blocking and tokio listeners, 150 clients each.
    echo_server(&lab.rt, 7);
    let server = tokio_echo(&lab.rt, 8);
    for port in ["7", "8"] {
        let out = lab.py(PY_MANY_CLIENTS, &[port, "150"], 60);
        assert!(
            out.starts_with("150 "),
            "port {port}: not all echoed: {out}"
        );
    }
    // synack -> kernel: 64 connections, 64 KiB each way, each its own bytes.
    lab.py_bg(PY_ECHO_BACKLOG, &["10.77.0.1", "9007"], false);
    lab.wait_listen(9007);
    std::thread::scope(|sc| {
        let rt = &lab.rt;
        let clients: Vec<_> = (0..64u64)
            .map(|i| {
                sc.spawn(move || {
                    let c = TcpStream::connect_timeout(rt, &sa(K, 9007), Duration::from_secs(20))
                        .expect("connect");
                    let data = pattern(64 << 10, 1000 + i);
                    let mut back = Vec::new();
                    std::thread::scope(|w| {
                        w.spawn(|| {
                            (&c).write_all(&data).expect("write");
                            c.shutdown(Shutdown::Write).expect("shutdown");
                        });
                        (&c).read_to_end(&mut back).expect("read");
                    });
                    assert!(back == data, "connection {i}: the echo differs");
                })
            })
            .collect();
        for c in clients {
            c.join().expect("client");
        }
    });
    let per = lab.rt.stack_stats();
    eprintln!(
        "per stack (passive, active opens): {:?}; packets handed to another stack: {}",
        per.iter()
            .map(|s| (s.passive_opens, s.active_opens))
            .collect::<Vec<_>>(),
        lab.rt.handed_over()
    );
    assert_eq!(per.len(), 2);
    for (k, s) in per.iter().enumerate() {
        // The kernel's flow hash spread 300 passive opens over both queues;
        // the runtime opened every other connection on each stack.
        assert!(s.passive_opens > 0, "stack {k} accepted nothing: {s:?}");
        assert_eq!(s.active_opens, 32, "stack {k}: {s:?}");
        // Not `resets_sent == 0`: about one run in ten, one segment of a
        // kernel client reaches a listener that has no connection for it
        // (a bad cookie) and is answered with a reset, after every echo
        // was complete.
    }
    assert_eq!(per.iter().map(|s| s.passive_opens).sum::<u64>(), 300);
    drop(lab);
    server.join().expect("tokio server");
}

/// One queue of a two-queue device that writes to its own queue but reads
/// from the other: every segment the kernel sends reaches the driver of the
/// wrong stack, as after the kernel's flow table forgot an idle flow and
/// its hash chose the other queue.
struct Crossed {
    send: Arc<dyn Device>,
    recv: Arc<dyn Device>,
    /// The other queue, until the runtime opens it.
    other: Mutex<Option<Box<dyn Device>>>,
}

impl Crossed {
    fn new(q0: TunDevice) -> Crossed {
        let q1: Arc<dyn Device> = Arc::from(q0.open_queue().expect("second queue"));
        let q0: Arc<dyn Device> = Arc::new(q0);
        let other = Crossed {
            send: Arc::clone(&q1),
            recv: Arc::clone(&q0),
            other: Mutex::new(None),
        };
        Crossed {
            send: q0,
            recv: q1,
            other: Mutex::new(Some(Box::new(other))),
        }
    }
}

impl Device for Crossed {
    fn fd(&self) -> std::os::fd::RawFd {
        self.recv.fd()
    }
    fn recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.recv.recv(buf)
    }
    fn recv_checked(&self, buf: &mut [u8]) -> std::io::Result<synack::Received> {
        self.recv.recv_checked(buf)
    }
    fn send(&self, packet: &[u8]) -> std::io::Result<()> {
        self.send.send(packet)
    }
    fn send_burst(&self, packet: &[u8], b: &synack::proto::Burst) -> std::io::Result<()> {
        self.send.send_burst(packet, b)
    }
    fn caps(&self) -> synack::proto::DeviceCaps {
        self.send.caps()
    }
    fn mtu(&self) -> u16 {
        self.send.mtu()
    }
    fn open_queue(&self) -> std::io::Result<Box<dyn Device>> {
        self.other
            .lock()
            .expect("other queue")
            .take()
            .ok_or_else(|| std::io::Error::other("two queues only"))
    }
}

#[test]
fn segments_on_the_wrong_queue_reach_the_stack_that_owns_their_port() {
    let Some(mut lab) = lab_two_queues_on(Crossed::new) else {
        return;
    };
    assert_eq!(lab.rt.queues(), 2);
    lab.py_bg(PY_ECHO_BACKLOG, &["10.77.0.1", "9008"], false);
    lab.wait_listen(9008);
    for i in 0..8u64 {
        let c = TcpStream::connect_timeout(&lab.rt, &sa(K, 9008), Duration::from_secs(10))
            .expect("connect");
        let data = pattern(256 << 10, 77 + i);
        let mut back = Vec::new();
        std::thread::scope(|w| {
            w.spawn(|| {
                (&c).write_all(&data).expect("write");
                c.shutdown(Shutdown::Write).expect("shutdown");
            });
            (&c).read_to_end(&mut back).expect("read");
        });
        assert!(back == data, "connection {i}: the echo differs");
    }
    // Every segment of the kernel's came in on the other stack's queue.
    assert!(
        lab.rt.handed_over() > 8 * 2 * 10,
        "{}",
        lab.rt.handed_over()
    );
    for (k, s) in lab.rt.stack_stats().iter().enumerate() {
        assert_eq!(s.active_opens, 4, "stack {k}: {s:?}");
        assert_eq!(s.resets_sent, 0, "stack {k}: {s:?}");
    }
}
