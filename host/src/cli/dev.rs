//! `keyhold dev`: the enclave as a child process on a Unix socket in the data directory, and
//! the host in this process. Ctrl-C (or SIGTERM) stops the host, then the enclave.

use std::path::PathBuf;
use std::process::Stdio;

use anyhow::Context;
use keyhold_shared::Address;
use tokio::process::{Child, Command};

use super::DevArgs;
use super::serve::{self, CREDENTIALS_FILE, HostConfig};

/// Held by a running `keyhold dev` in its data directory.
pub const DEV_LOCK_FILE: &str = "dev.lock";

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let data_dir = std::fs::canonicalize(&args.data_dir)?;
    // Before anything in the data directory changes: a second `keyhold dev` on it would bind
    // the first one's enclave socket path (binding replaces a stale socket file) before its
    // store refused it, leaving the first host unable to reach its enclave again.
    let lock = data_dir.join(DEV_LOCK_FILE);
    // Waiting a little lets a restart follow a stop whose process is still ending.
    let _running = crate::lockfile::hold(&lock, std::time::Duration::from_secs(3), || {
        format!(
            "{} is in use by another keyhold dev (it holds {}); stop that one or choose \
             another --data-dir",
            data_dir.display(),
            lock.display()
        )
    })?;
    let socket = data_dir.join("enclave.sock");
    let address = Address::Unix(socket);
    let binary = match args.enclave_bin {
        Some(path) => path,
        None => enclave_binary()?,
    };
    serve::ensure_dev_ca(&data_dir)?;
    let mut child = Command::new(&binary)
        .arg("--listen")
        .arg(address.to_string())
        .arg("--dev-attestation-ca")
        .arg(data_dir.join(serve::DEV_CA_SEED_FILE))
        // The enclave stops when this pipe closes: when this process ends, however it ends
        // (`kill_on_drop` covers only an orderly exit). Never written to.
        .arg("--exit-with-stdin")
        .stdin(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let _parent_alive = child.stdin.take();
    tracing::info!(pid = child.id(), %address, "enclave started");

    let config = HostConfig {
        enclave: address,
        data_dir: data_dir.clone(),
        listen: args.listen,
        dev: true,
        forward_from: None,
        org_rate_limit: args.limits.org_rate_limit,
        database: args.database.clone(),
        // A local stack: its webhook receivers are local too.
        webhooks: crate::webhooks::DeliveryOptions {
            allow_private_networks: true,
            ..args.webhooks.options()
        },
    };
    let result = async {
        let host = serve::start(&config).await?;
        // The enclave has started its worker pool by the time it answered the host.
        #[cfg(target_os = "linux")]
        if let Some(pid) = child.id() {
            lower_worker_priority(pid, args.enclave_worker_nice).await;
        }
        println!("keyhold dev is up at {}", host.base_url);
        println!("credentials: {}", data_dir.join(CREDENTIALS_FILE).display());
        host.run(serve::shutdown_signal()).await
    }
    .await;
    stop(&mut child).await;
    result
}

/// Name prefix of the enclave's signing worker threads (`enclave/src/server.rs`).
#[cfg(target_os = "linux")]
const WORKER_THREAD_PREFIX: &str = "keyhold-worker-";

// Linux keeps 15 bytes of a thread's name: a longer prefix would match no thread.
#[cfg(target_os = "linux")]
const _: () = assert!(WORKER_THREAD_PREFIX.len() <= 15);

/// Gives the enclave's signing workers a lower priority than everything else on the machine.
///
/// With host, enclave and clients on the same two cores, a woken host thread (a socket ready,
/// a group commit done) waited behind two workers each busy with a signature for a whole
/// scheduler slice — 1–5 ms of run-queue wait per slow commit, measured from the writer
/// thread's schedstat. At nice 10 the workers use whatever CPU is left, so throughput stays and
/// the latency tail shrinks (p99 at concurrency 8: 13–14 ms → 9–11 ms in alternating runs).
/// Linux only, through util-linux `renice` (as `stop` uses `kill`); failing that, the workers
/// keep their priority and a warning says so. `--enclave-bin` must be the enclave itself, not a
/// wrapper that starts it as a grandchild.
#[cfg(target_os = "linux")]
async fn lower_worker_priority(pid: u32, nice: u8) {
    if nice == 0 {
        return;
    }
    let workers = worker_threads(pid);
    if workers.is_empty() {
        tracing::warn!(
            pid,
            "no enclave worker threads found to lower the priority of"
        );
        return;
    }
    let status = Command::new("renice")
        // With POSIXLY_CORRECT, util-linux takes `-n` as an increment rather than the value.
        .env_remove("POSIXLY_CORRECT")
        .arg("-n")
        .arg(nice.to_string())
        .arg("-p")
        .args(workers.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .status()
        .await;
    match status {
        Ok(s) if s.success() => {
            tracing::info!(nice, threads = workers.len(), "enclave workers reniced")
        }
        Ok(s) => tracing::warn!(%s, "renice of the enclave workers failed"),
        Err(e) => tracing::warn!(error = %e, "renice of the enclave workers failed"),
    }
}

/// Thread ids of `pid`'s threads whose name starts with [`WORKER_THREAD_PREFIX`].
#[cfg(target_os = "linux")]
fn worker_threads(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut tids: Vec<u32> = tasks
        .filter_map(|task| {
            let task = task.ok()?;
            let name = std::fs::read_to_string(task.path().join("comm")).ok()?;
            name.starts_with(WORKER_THREAD_PREFIX)
                .then(|| task.file_name().to_str()?.parse().ok())?
        })
        .collect();
    tids.sort_unstable();
    tids
}

/// The enclave binary built beside this one.
fn enclave_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let candidate = me.with_file_name("keyhold-enclave");
    anyhow::ensure!(
        candidate.exists(),
        "{} not found; build it with `cargo build` or pass --enclave-bin",
        candidate.display()
    );
    Ok(candidate)
}

/// Asks the enclave to stop (SIGTERM) and waits a little; kills it if it does not.
async fn stop(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await;
    }
    match tokio::time::timeout(std::time::Duration::from_secs(5), child.wait()).await {
        Ok(_) => tracing::info!("enclave stopped"),
        Err(_) => {
            let _ = child.kill().await;
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// A second `keyhold dev` on a data directory in use stops before it touches anything
    /// there (no enclave started on the first one's socket path, no dev CA written).
    #[tokio::test]
    async fn a_second_dev_stack_on_one_data_directory_stops_first() {
        let dir = tempfile::tempdir().unwrap();
        let _first = crate::lockfile::hold(
            &std::fs::canonicalize(dir.path())
                .unwrap()
                .join(DEV_LOCK_FILE),
            std::time::Duration::ZERO,
            String::new,
        )
        .unwrap();
        let args = DevArgs {
            data_dir: dir.path().to_owned(),
            listen: "127.0.0.1:0".parse().unwrap(),
            // Never reached: starting it would fail differently.
            enclave_bin: Some("/nonexistent/keyhold-enclave".into()),
            limits: crate::cli::LimitArgs { org_rate_limit: 0 },
            webhooks: crate::cli::WebhookArgs {
                ca_files: vec![],
                allow_private_networks: false,
                signing_key_file: None,
            },
            database: None,
            enclave_worker_nice: 0,
        };
        let err = run(args).await.unwrap_err().to_string();
        assert!(err.contains("in use by another keyhold dev"), "{err}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from(DEV_LOCK_FILE)]);
    }

    /// Niceness of thread `tid` of this process: field 19 of its `stat` (after the name's `)`).
    fn nice_of(tid: u32) -> i64 {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
        let (_, after_name) = stat.rsplit_once(") ").unwrap();
        after_name.split(' ').nth(16).unwrap().parse().unwrap()
    }

    /// Only the threads named like the enclave's workers are found and reniced; the others
    /// (here the process's main thread) keep their priority.
    #[tokio::test]
    async fn only_worker_threads_are_reniced() {
        let pid = std::process::id();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::Builder::new()
            .name(format!("{WORKER_THREAD_PREFIX}7"))
            .spawn(move || {
                let me = std::fs::read_link("/proc/thread-self").unwrap();
                let tid: u32 = me.file_name().unwrap().to_str().unwrap().parse().unwrap();
                tid_tx.send(tid).unwrap();
                let _ = stop_rx.recv();
            })
            .unwrap();
        let tid = tid_rx.recv().unwrap();
        assert_eq!(worker_threads(pid), vec![tid]);
        let before_others = nice_of(pid);
        // Above whatever the test runs at (an unprivileged process cannot lower it).
        let target = (nice_of(tid) + 3).clamp(1, 19);
        lower_worker_priority(pid, u8::try_from(target).unwrap()).await;
        assert_eq!(nice_of(tid), target);
        assert_eq!(nice_of(pid), before_others);
        stop_tx.send(()).unwrap();
        worker.join().unwrap();
        // A joined thread's /proc entry can outlive the join by a moment.
        let mut tries = 0;
        while !worker_threads(pid).is_empty() {
            assert!(tries < 100, "the worker thread is still listed after 1 s");
            tries += 1;
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
