//! The `synack-tun` command, as a library function the main CLI can call.

/// Run the command with `args` (without the program name); returns the exit code.
pub fn tun_main(args: &[String]) -> i32 {
    let _ = args;
    eprintln!("synack-tun: not yet implemented");
    2
}
