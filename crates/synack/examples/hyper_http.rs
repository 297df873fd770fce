//! An HTTP/1.1 server written with hyper, running on synack over TUN.
//!
//! ```text
//! sudo cargo run --release -p synack --example hyper_http -- [--netns NAME] [--requests N]
//! ```
//!
//! Without `--netns`, the example creates a namespace of its own with a TUN
//! device (kernel side 10.77.0.1/24, synack 10.77.0.2), serves on
//! 10.77.0.2:80, fetches the page once with `curl` from inside the
//! namespace, prints it and removes everything. With `--netns NAME` it opens
//! the TUN device in that namespace and serves `--requests` requests
//! (default: forever).

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use synack::test_util::netns::{self, unique_name, Netns};
use synack::{Runtime, RuntimeConfig, TunDevice};

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("hello from hyper on synack\npath: {}\n", req.uri().path());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let requests: Option<usize> = arg("--requests").map(|s| s.parse()).transpose()?;
    if let Some(why) = netns::missing_privileges() {
        eprintln!("hyper_http: {why}");
        std::process::exit(1);
    }
    let own;
    let (ns_path, ns_name) = match arg("--netns") {
        Some(n) => (std::path::PathBuf::from("/run/netns").join(&n), n),
        None => {
            own = Netns::create_unique()?;
            (own.path(), own.name().to_owned())
        }
    };
    let kernel = Ipv4Addr::new(10, 77, 0, 1);
    let ifname = unique_name("skh");
    let dev = TunDevice::open_in_netns(&ifname, &ns_path)?;
    let ipn = |a: &[&str]| {
        let mut v = vec!["-n", ns_name.as_str()];
        v.extend_from_slice(a);
        netns::ip(&v)
    };
    ipn(&["addr", "add", &format!("{kernel}/24"), "dev", &ifname])?;
    ipn(&["link", "set", "dev", &ifname, "up"])?;
    let rt = Runtime::new(
        dev,
        RuntimeConfig::new(vec![IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2))]),
    )?;
    let addr = SocketAddr::from(([10, 77, 0, 2], 80));
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?;
    let listener = tokio_rt.block_on(synack::tokio::TcpListener::bind(&rt, addr))?;
    println!("hyper serving on http://{addr}/ (namespace {ns_name})");
    let fetch_once = arg("--netns").is_none();
    let limit = if fetch_once { Some(1) } else { requests };
    let server = tokio_rt.spawn(async move {
        let mut served = 0usize;
        while limit.is_none_or(|l| served < l) {
            let Ok((stream, _)) = listener.accept().await else {
                break;
            };
            served += 1;
            let conn =
                http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(hello));
            let handle = tokio::spawn(conn);
            if limit.is_some_and(|l| served >= l) {
                let _ = handle.await;
            }
        }
    });
    if fetch_once {
        let out = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns_name,
                "curl",
                "-sS",
                "-i",
                "--max-time",
                "10",
                "http://10.77.0.2/from-curl",
            ])
            .output()?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    }
    tokio_rt.block_on(server)?;
    drop(rt);
    Ok(())
}
