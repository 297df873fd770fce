//! Many connections at once, and tokio and hyper on synack.

use super::*;

// ----- (7) many connections -------------------------------------------------------

#[test]
fn thousand_concurrent_kernel_clients_all_served() {
    let Some(lab) = lab() else { return };
    let opts = synack::ListenOptions {
        backlog: 2048,
        ..synack::ListenOptions::default()
    };
    let l = block_on(synack::tokio::TcpListener::bind_with(
        &lab.rt,
        sa(S, 7),
        opts,
    ))
    .expect("bind");
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio");
        rt.block_on(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
    });
    let py = r#"
import asyncio, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
N = int(sys.argv[1])
async def one(i):
    r, w = await asyncio.wait_for(asyncio.open_connection('10.77.0.2', 7), 60)
    msg = ('connection %d ' % i).encode() * 8
    w.write(msg); await w.drain(); w.write_eof()
    data = await asyncio.wait_for(r.read(), 60)
    w.close()
    return data == msg
async def main():
    res = await asyncio.gather(*[one(i) for i in range(N)], return_exceptions=True)
    ok = sum(1 for x in res if x is True)
    print(ok, [repr(x) for x in res if x is not True][:3])
asyncio.run(main())
"#;
    let t = Instant::now();
    let out = lab.py(py, &["1000"], 120);
    assert!(out.starts_with("1000 "), "not all served: {out}");
    eprintln!("1000 concurrent connections served in {:?}", t.elapsed());
    drop(lab);
    server.join().expect("server");
}

// ----- tokio and hyper -------------------------------------------------------------

#[test]
fn curl_fetches_from_hyper_on_synack() {
    use http_body_util::Full;
    use hyper::body::Bytes;
    let Some(lab) = lab() else { return };
    let l = block_on(synack::tokio::TcpListener::bind(&lab.rt, sa(S, 8080))).expect("bind");
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio");
        rt.block_on(async move {
            for _ in 0..3 {
                let (s, _) = l.accept().await.expect("accept");
                let svc = hyper::service::service_fn(
                    |req: hyper::Request<hyper::body::Incoming>| async move {
                        let body = format!("hyper on synack: {}\n", req.uri().path());
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from(body),
                        )))
                    },
                );
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                    .await
                    .expect("serve");
            }
        });
    });
    for i in 0..3 {
        let url = format!("http://10.77.0.2:8080/page{i}");
        let out = lab
            .ns
            .run("curl", &["-sS", "--max-time", "10", &url])
            .expect("curl");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("hyper on synack: /page{i}\n")
        );
    }
    server.join().expect("server");
}
