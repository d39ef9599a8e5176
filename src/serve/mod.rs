//! `deploy-action serve`: run the exact artifact locally behind a function-URL-like endpoint,
//! without Docker (issue 7; arm64 under qemu-user, issue 10).
//!
//! The artifact comes from the same code path as `deploy` (`package::build`: a `--source` is
//! built, an `--artifact` taken as is) and is unzipped into a temporary directory. Then:
//!
//! ```text
//! client ──HTTP──▶ http_front ──event──▶ queue ──▶ Dispatcher ──▶ Runtime API ◀──▶ worker process
//!        ◀──────── response ◀───────────────────── result ◀──── /response, /error
//! ```
//!
//! - `event`: function URL event (payload 2.0) in, HTTP response out.
//! - `runtime_api`: the real Lambda Runtime API, one server per worker process.
//! - `worker`: the process, its logs (labelled with the request id), the FIFO queue, crashes
//!   and timeouts (502 and a fresh worker).
//! - `launch`, `python`: what to run — `bootstrap`, awslambdaric in a cached venv, or
//!   `runtime_loop.py` in the aarch64 root's CPython under qemu-user.

pub(crate) mod event;
pub(crate) mod http_front;
pub(crate) mod invoke_api;
pub(crate) mod launch;
pub(crate) mod python;
pub(crate) mod runtime_api;
pub(crate) mod unpack;
pub(crate) mod worker;

use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::cli::{FunctionArgs, FunctionUrlArg, ServeArgs};
use crate::config::{self, Architecture};
use crate::error::{Error, IoContext, Result};
use crate::output::Report;

/// The pure-Python runtime interface loop (stdlib only), written next to the function.
pub(crate) const RUNTIME_LOOP: &str = include_str!("runtime_loop.py");

/// The function's name inside the worker (`AWS_LAMBDA_FUNCTION_NAME`).
pub(crate) const FUNCTION_NAME: &str = "deploy-action-serve";

/// Requests waiting beyond this many get a 429, as a throttled function URL does.
const QUEUE_LIMIT: usize = 256;

/// Everything decided before serving starts.
struct Prepared {
    /// Holds the unpacked function; removed when serving ends.
    _dir: tempfile::TempDir,
    plan: launch::Plan,
    shown: String,
    runtime: String,
    timeout: Duration,
    function_arn: String,
}

/// Build or take the artifact, unpack it, and serve it until SIGINT/SIGTERM.
pub(crate) async fn run(args: ServeArgs) -> Result<Report> {
    let port = args.port;
    let front_door = args.front_door;
    let prepared = tokio::task::spawn_blocking(move || prepare(&args))
        .await
        .map_err(|e| Error::Internal(format!("serve preparation panicked: {e}")))??;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                Error::invalid(
                    "--port",
                    format!("127.0.0.1:{port} is already in use"),
                    "pick another --port, or --port 0 for a free one",
                )
            } else {
                Error::io(format!("can't listen on 127.0.0.1:{port}"), e)
            }
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("can't read the listening address", e))?;

    let mut dispatcher = worker::Dispatcher::new(
        prepared.plan.launch.clone(),
        worker::Limits {
            timeout: prepared.timeout,
            function_arn: prepared.function_arn.clone(),
        },
    );
    dispatcher.start().await.map_err(|e| {
        Error::io(
            format!("can't start {}", prepared.plan.launch.program.display()),
            e,
        )
    })?;
    let (queue, queue_rx) = mpsc::channel(QUEUE_LIMIT);
    let dispatch = tokio::spawn(dispatcher.run(queue_rx));
    // Direct invocations (`invoke --local`) on their own port, never on the URL's.
    let invoke_listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| Error::io("can't listen for direct invocations", e))?;
    let invoke_url = invoke_listener
        .local_addr()
        .map(|a| format!("http://{a}"))
        .map_err(|e| Error::io("can't read the listening address", e))?;
    let invoke_server = tokio::spawn({
        let app = invoke_api::router(queue.clone());
        async move { axum::serve(invoke_listener, app).await }
    });
    eprintln!(
        "Invoke API on {invoke_url} (deploy-action invoke --local {invoke_url} --python|--manage|--event ...)"
    );
    let state = Arc::new(http_front::FrontState {
        queue,
        port: addr.port(),
        requests: AtomicU64::new(0),
        failures: AtomicU64::new(0),
        front_door,
    });
    let app = http_front::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let mut server = tokio::spawn(async move { axum::serve(listener, app).await });

    let url = format!("http://{addr}");
    eprintln!(
        "Serving {} ({}, {}) on {url}",
        prepared.shown, prepared.runtime, prepared.plan.how
    );

    let outcome = tokio::select! {
        () = shutdown_signal() => Ok(()),
        result = &mut server => match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::io("the HTTP server failed", e)),
            Err(e) => Err(Error::Internal(format!("the HTTP server task failed: {e}"))),
        },
    };
    // Stop taking requests, then stop the worker (dropping the dispatcher kills it).
    server.abort();
    invoke_server.abort();
    dispatch.abort();
    let _ = dispatch.await;
    outcome?;

    let requests = state.requests.load(Ordering::Relaxed);
    let failures = state.failures.load(Ordering::Relaxed);
    eprintln!("stopped: {requests} requests, {failures} answered 502");
    Ok(Report::Json {
        value: serde_json::json!({"url": url, "requests": requests, "failed": failures}),
        text: format!("served {requests} requests on {url} ({failures} answered 502)"),
    })
}

fn prepare(args: &ServeArgs) -> Result<Prepared> {
    let settings = config::resolve_build(&args.build)?;
    // The same checks as a deploy's function settings (memory, timeout, env names).
    let function = config::resolve_function(
        &FunctionArgs {
            memory: args.memory,
            timeout: args.timeout,
            env: args.env.clone(),
            execution_role: None,
            function_url: FunctionUrlArg::None,
            keep_versions: 1,
            production: Box::default(),
        },
        settings.runtime.clone(),
        settings.handler.clone(),
        settings.architecture,
    )?;
    let shown = match &args.build.artifact {
        Some(path) => path.display().to_string(),
        None => args.build.source.display().to_string(),
    };
    let artifact = crate::package::build(&settings, None)?;

    let dir = tempfile::Builder::new()
        .prefix("deploy-action-serve-")
        .tempdir()
        .map_err(|e| Error::io("can't create a temporary directory", e))?;
    let task_root = dir.path().join("task");
    let runtime_dir = dir.path().join("runtime");
    std::fs::create_dir_all(&task_root).at("can't create", &task_root)?;
    std::fs::create_dir_all(&runtime_dir).at("can't create", &runtime_dir)?;
    let files = unpack::unpack(&artifact.path, &task_root)?;
    let loop_path = runtime_dir.join(launch::RUNTIME_LOOP_FILE);
    std::fs::write(&loop_path, RUNTIME_LOOP).at("can't write", &loop_path)?;
    tracing::info!(
        "unpacked {} ({files} files, sha256 {}) into {}",
        artifact.path.display(),
        artifact.sha256_hex,
        task_root.display()
    );

    let region = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "us-east-1".into());
    let timeout = Duration::from_secs(u64::try_from(function.timeout).unwrap_or(30));
    let plan = launch::plan(&launch::Target {
        task_root: &task_root,
        runtime_dir: &runtime_dir,
        runtime: &function.runtime,
        handler: &function.handler,
        architecture: function.architecture,
        host: Architecture::host(),
        arm64_root: args.arm64_root.as_deref(),
        interface: args.runtime_interface,
        function_name: FUNCTION_NAME,
        memory: args.memory,
        timeout,
        region: &region,
        user_env: &function.env,
    })?;
    Ok(Prepared {
        _dir: dir,
        plan,
        shown,
        runtime: function.runtime,
        timeout,
        function_arn: format!("arn:aws:lambda:{region}:000000000000:function:{FUNCTION_NAME}"),
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = async {
            match signal(SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The label of a request's log lines: `req` and the first 8 characters of its id.
#[must_use]
pub(crate) fn log_label(request_id: &str) -> String {
    let short: String = request_id.chars().take(8).collect();
    format!("req {short}")
}

/// 64 random bits (SipHash keyed by the standard library's per-process random keys, over a
/// counter and the clock): enough for request ids on one machine.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// A request id in the UUID v4 form Lambda uses.
#[must_use]
pub(crate) fn new_request_id() -> String {
    let (a, b) = (random_u64(), random_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// An X-Ray trace header (`Root=1-<epoch hex>-<96 random bits>;Sampled=0`).
#[must_use]
pub(crate) fn new_trace_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "Root=1-{secs:08x}-{:08x}{:016x};Sampled=0",
        random_u64() & 0xffff_ffff,
        random_u64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_lambdas() {
        let id = new_request_id();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert_ne!(id, new_request_id());
        assert_eq!(log_label(&id), format!("req {}", parts[0]));
        assert!(new_trace_id().starts_with("Root=1-"));
    }
}
