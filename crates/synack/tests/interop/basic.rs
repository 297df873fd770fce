//! Kernel client to synack server, and synack client to kernel server.

use super::*;

// ----- (1) kernel client, synack server ---------------------------------------

#[test]
fn curl_fetches_a_page_from_synack() {
    let Some(lab) = lab() else { return };
    let l = TcpListener::bind(&lab.rt, sa(S, 80)).expect("bind");
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        http::serve_conn(&mut s).expect("serve")
    });
    let out = lab
        .ns
        .run(
            "curl",
            &["-sS", "--max-time", "10", "http://10.77.0.2/hello"],
        )
        .expect("curl");
    assert_eq!(out.stdout, http::page("/hello"));
    assert_eq!(server.join().expect("server"), "/hello");
}

#[test]
fn python_client_talks_to_synack_echo() {
    let Some(lab) = lab() else { return };
    echo_server(&lab.rt, 7);
    assert_eq!(
        lab.py(PY_ECHO_CLIENT, &["10.77.0.2", "7", "200000"], 30),
        "ok"
    );
}

// ----- (2) synack client, kernel server ---------------------------------------

#[test]
fn synack_client_to_python_echo_server() {
    let Some(mut lab) = lab() else { return };
    lab.py_bg(PY_ECHO_SERVER, &["10.77.0.1", "9000"], false);
    lab.wait_listen(9000);
    let c = TcpStream::connect_timeout(&lab.rt, &sa(K, 9000), Duration::from_secs(20))
        .expect("connect");
    let data = pattern(500_000, 3);
    let mut back = Vec::new();
    std::thread::scope(|sc| {
        sc.spawn(|| {
            (&c).write_all(&data).expect("write");
            c.shutdown(Shutdown::Write).expect("shutdown");
        });
        (&c).read_to_end(&mut back).expect("read");
    });
    assert_eq!(back, data);
}

#[test]
fn synack_gets_from_python_http_server() {
    let Some(mut lab) = lab() else { return };
    let dir = std::env::temp_dir().join(unique_name("skw"));
    std::fs::create_dir_all(&dir).expect("dir");
    let body = pattern(100_000, 9);
    std::fs::write(dir.join("blob.bin"), &body).expect("file");
    let d = dir.to_string_lossy().into_owned();
    let mut cmd = lab.ns.command("python3");
    cmd.args([
        "-m",
        "http.server",
        "8000",
        "--bind",
        "10.77.0.1",
        "--directory",
        &d,
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .stdin(Stdio::null());
    lab.ns.spawn(&mut cmd).expect("http.server");
    lab.wait_listen(8000);
    let r = http::get(
        &lab.rt,
        "http://10.77.0.1:8000/blob.bin",
        Duration::from_secs(30),
    )
    .expect("get");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(r.body, body);
}
