//! Runs packetdrill scripts against synack:
//! `synack-drill [--mode strict|semantic] [--json] [--jobs N] PATH...`.

fn main() {
    std::process::exit(synack_drill::run_cli(std::env::args().skip(1)));
}
