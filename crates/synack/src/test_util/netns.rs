//! Network namespaces with a TUN link to a synack runtime, for tests,
//! demos and benchmarks. Everything created is removed on drop, also when a
//! test fails: child processes started through [`Netns::spawn`] are killed
//! by PID, then the namespace is deleted (which deletes its devices).
//!
//! Needs CAP_NET_ADMIN and CAP_SYS_ADMIN (root), and the `ip` command.

use crate::device::{TunDevice, TunOptions};
use std::io;
use std::net::{IpAddr, Ipv4Addr};
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
        enter(&self.path())
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
        self.tun_with(
            ifname,
            TunOptions::default(),
            mtu,
            &[(IpAddr::V4(kernel_addr), prefix)],
        )
    }

    /// [`Netns::tun`] opened as `opts` say, the kernel's side with every
    /// address of `addrs` (address, prefix length). IPv6 addresses skip
    /// duplicate address detection (`nodad`), so they are usable at once;
    /// without one, IPv6 is off on the device (no router solicitations).
    pub fn tun_with(
        &self,
        ifname: &str,
        opts: TunOptions,
        mtu: u16,
        addrs: &[(IpAddr, u8)],
    ) -> io::Result<TunDevice> {
        let dev = TunDevice::open_in_netns_with(ifname, &self.path(), opts)?.with_mtu(mtu);
        let name = dev.name().to_owned();
        if !addrs.iter().any(|(a, _)| a.is_ipv6()) {
            let _ = self.run(
                "sysctl",
                &["-qw", &format!("net.ipv6.conf.{name}.disable_ipv6=1")],
            );
        }
        self.ip(&["link", "set", "dev", &name, "mtu", &mtu.to_string()])?;
        for (a, prefix) in addrs {
            let cidr = format!("{a}/{prefix}");
            let mut args = vec!["addr", "add", cidr.as_str(), "dev", name.as_str()];
            if a.is_ipv6() {
                args.push("nodad");
            }
            self.ip(&args)?;
        }
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

/// Move the calling thread into the network namespace of the file `path`.
pub fn enter(path: &std::path::Path) -> io::Result<()> {
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

/// Set in a process that [`rerun_in_user_namespace`] started.
const IN_USER_NAMESPACE: &str = "SYNACK_IN_USER_NAMESPACE";

/// The shell line `unshare` runs: a private `/run`, so that `ip netns`
/// can make its files, then the program again.
const RERUN: &str = "mount -t tmpfs synack /run && exec \"$0\" \"$@\"";

/// Whether an unprivileged user + network + mount namespace can be made
/// here (`unshare -Urnm` works), and this process is not already in one
/// that synack made.
pub fn user_namespace_available() -> bool {
    if std::env::var_os(IN_USER_NAMESPACE).is_some() || !have("unshare") {
        return false;
    }
    Command::new("unshare")
        .args(["-Urnm", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Run this program again with `args` inside a fresh user + network +
/// mount namespace in which it is root (`unshare -Urnm`, a private
/// `/run`): the way to make namespaces and TUN devices without root where
/// the kernel allows unprivileged user namespaces. Its exit status; `None`
/// when no such namespace can be made here.
pub fn rerun_in_user_namespace(
    args: &[std::ffi::OsString],
) -> Option<io::Result<std::process::ExitStatus>> {
    if !user_namespace_available() {
        return None;
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return Some(Err(e)),
    };
    Some(
        Command::new("unshare")
            .args(["-Urnm", "--propagation", "private", "sh", "-c", RERUN])
            .arg(exe)
            .args(args)
            .env(IN_USER_NAMESPACE, "1")
            .status(),
    )
}

/// For a test that cannot set up because it is not root: run the test
/// again, alone, inside an unprivileged user + network namespace. `true`
/// when it ran there and passed (it panics when it failed there); `false`
/// when this is root or no such namespace can be made, and the caller goes
/// on to [`cannot_set_up`].
#[track_caller]
pub fn rerun_test_in_user_namespace() -> bool {
    if crate::sys::euid() == 0 {
        return false;
    }
    let thread = std::thread::current();
    let Some(test) = thread.name().filter(|n| *n != "main") else {
        return false;
    };
    let args: Vec<std::ffi::OsString> = [test, "--exact", "--nocapture", "--test-threads=1"]
        .iter()
        .map(Into::into)
        .collect();
    match rerun_in_user_namespace(&args) {
        None => false,
        Some(Ok(status)) if status.success() => {
            eprintln!(
                "note: {test}: not root, so it ran inside an unprivileged user + network namespace"
            );
            true
        }
        Some(r) => panic!("{test} inside an unprivileged user + network namespace: {r:?}"),
    }
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
