//! `synack-tun`: synack over a real TUN device (serve, connect, get, demo, bench).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(synack::cli::tun_main(&args));
}
