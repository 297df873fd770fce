//! Runs packetdrill scripts against synack:
//! `synack-drill [--mode strict|semantic] [--json] [--jobs N] [--fail-under RATE] PATH...`
//! (exit status 1 when a script fails; `--help` says more).

fn main() {
    std::process::exit(synack_drill::run_cli(std::env::args().skip(1)));
}
