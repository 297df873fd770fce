//! Network namespaces with a TUN link to a synack runtime, for tests,
//! demos and benchmarks. Everything created is removed on drop, also when a
//! test fails: child processes started through [`Netns::spawn`] are killed
//! by PID, then the namespace is deleted (which deletes its devices).
//!
//! Needs CAP_NET_ADMIN and CAP_SYS_ADMIN (root), and the `ip` command.

use crate::device::TunDevice;
use std::io;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique to this process and call: `{prefix}{pid}x{n}`, at most 15 bytes
/// when `prefix` has at most 3.
pub fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}x{n}", std::process::id())
}

/// A network namespace that exists as long as this value.
#[derive(Debug)]
pub struct Netns {
    name: String,
    children: Vec<Child>,
}

/// Run a command; an error (with its stderr) unless it exits 0.
pub fn run(cmd: &mut Command) -> io::Result<Output> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| {
        io::Error::new(e.kind(), format!("cannot run {:?}: {e}", cmd.get_program()))
    })?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{:?} {:?} failed ({}): {}",
            cmd.get_program(),
            cmd.get_args().collect::<Vec<_>>(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out)
}

/// `ip ARGS...`, checked.
pub fn ip(args: &[&str]) -> io::Result<Output> {
    run(Command::new("ip").args(args))
}

impl Netns {
    /// Create the namespace `name` with its loopback up.
    pub fn create(name: &str) -> io::Result<Netns> {
        ip(&["netns", "add", name])?;
        let ns = Netns {
            name: name.to_owned(),
            children: Vec::new(),
        };
        ip(&["-n", name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Create a namespace with a unique name (`snk{pid}x{n}`).
    pub fn create_unique() -> io::Result<Netns> {
        Netns::create(&unique_name("snk"))
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace file, for `setns`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// Move the calling thread into the namespace: sockets it opens from now
    /// on (and threads it starts) are the namespace's. Other threads stay put.
    pub fn enter(&self) -> io::Result<()> {
        enter_path(&self.path())
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Run `program ARGS...` inside the namespace, checked.
    pub fn run(&self, program: &str, args: &[&str]) -> io::Result<Output> {
        run(self.command(program).args(args))
    }

    /// `ip -n NS ARGS...`, checked.
    pub fn ip(&self, args: &[&str]) -> io::Result<Output> {
        let mut v = vec!["-n", self.name.as_str()];
        v.extend_from_slice(args);
        ip(&v)
    }

    /// Start a process; it is killed (by PID) when the namespace is dropped.
    /// Returns its index for [`Netns::child`] and [`Netns::kill`].
    pub fn spawn(&mut self, cmd: &mut Command) -> io::Result<usize> {
        let child = cmd.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot start {:?}: {e}", cmd.get_program()),
            )
        })?;
        self.children.push(child);
        Ok(self.children.len() - 1)
    }

    /// The child started as `index`.
    pub fn child(&mut self, index: usize) -> Option<&mut Child> {
        self.children.get_mut(index)
    }

    /// Kill a child by PID and reap it.
    pub fn kill(&mut self, index: usize) {
        if let Some(c) = self.children.get_mut(index) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Open a TUN device inside the namespace and give the kernel's side of
    /// it `kernel_addr/prefix`, MTU `mtu`, link up. The synack stack on the
    /// device then uses another address of that prefix.
    pub fn tun(
        &self,
        ifname: &str,
        kernel_addr: Ipv4Addr,
        prefix: u8,
        mtu: u16,
    ) -> io::Result<TunDevice> {
        let dev = TunDevice::open_in_netns(ifname, &self.path())?.with_mtu(mtu);
        let name = dev.name().to_owned();
        // IPv6 router solicitations would only be noise for an IPv4 stack.
        let _ = self.run(
            "sysctl",
            &["-qw", &format!("net.ipv6.conf.{name}.disable_ipv6=1")],
        );
        self.ip(&["link", "set", "dev", &name, "mtu", &mtu.to_string()])?;
        self.ip(&[
            "addr",
            "add",
            &format!("{kernel_addr}/{prefix}"),
            "dev",
            &name,
        ])?;
        self.ip(&["link", "set", "dev", &name, "up"])?;
        Ok(dev)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Move the calling thread into the namespace whose file is `path` (as
/// [`Netns::enter`], for a thread that holds only the path).
pub fn enter_path(path: &std::path::Path) -> io::Result<()> {
    crate::sys::enter_netns(&std::fs::File::open(path)?)
}

/// Why namespaces cannot be made here, if they cannot: `None` when running
/// as root with `ip` and `/dev/net/tun` present.
pub fn missing_privileges() -> Option<String> {
    if crate::sys::euid() != 0 {
        return Some(
            "not running as root: creating network namespaces and TUN devices needs CAP_NET_ADMIN and CAP_SYS_ADMIN \
             (run as root, or inside `unshare -Urn` with /run/netns writable)"
                .into(),
        );
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some(
            "/dev/net/tun is missing (load the tun module or give the container the device)".into(),
        );
    }
    None
}

/// Whether this is a CI run: the `CI` variable is set (to anything).
pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// Why a test against the kernel cannot set up here, if it cannot: what
/// [`missing_privileges`] says, or the first of `tools` not on PATH.
pub fn cannot_run(tools: &[&str]) -> Option<String> {
    if let Some(why) = missing_privileges() {
        return Some(why);
    }
    tools
        .iter()
        .find(|t| !have(t))
        .map(|t| format!("`{t}` is not on PATH (.ci/run installs what the tests need)"))
}

/// For a test that cannot set up for the reason `why`. Under CI it FAILS
/// with the reason, since a CI run that skips its tests against the kernel
/// proves nothing about them. Elsewhere it prints a loud
/// `SKIPPED: <test>: <why>` line on stderr and returns; the caller then
/// returns without testing anything.
#[track_caller]
pub fn cannot_set_up(why: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    if under_ci() {
        panic!("{test} cannot set up, and CI is set, so it fails instead of skipping: {why}");
    }
    eprintln!("\n**********\nSKIPPED: {test}: {why}\n**********\n");
}

/// Whether `program` can be found on PATH.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}
