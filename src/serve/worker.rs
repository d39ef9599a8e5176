//! The function's process and the queue in front of it.
//!
//! One worker process runs at a time and takes one invocation at a time, as a Lambda execution
//! environment does; requests wait in a FIFO queue. The [`Dispatcher`] owns the worker: it
//! starts it (eagerly, so the cold start happens before the first request), hands each
//! invocation to its Runtime API, and waits for the result, the process's exit, or the
//! deadline. A crash or a timeout answers 502, kills the process (its whole process group) and
//! starts a fresh one, as Lambda replaces a sandbox; an error the runtime reports answers 502
//! and keeps the worker, as Lambda does.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until};

use super::runtime_api::{ApiEvent, Delivery, FunctionError, RuntimeApi};

/// How to start the function's process (without `AWS_LAMBDA_RUNTIME_API`, which is per worker).
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(String, OsString)>,
    pub cwd: PathBuf,
    /// How long a worker may take to ask for an invocation (its init, for a fresh one).
    pub init_timeout: Duration,
}

/// What every invocation shares.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub timeout: Duration,
    pub function_arn: String,
}

/// One request waiting for the function.
#[derive(Debug)]
pub(crate) struct Invocation {
    pub id: String,
    pub trace_id: String,
    pub event: Bytes,
    pub reply: oneshot::Sender<Outcome>,
}

/// How an invocation ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The runtime posted a result.
    Response { body: Bytes, streaming: bool },
    /// No result: the client gets a 502; `reason` was logged.
    Failed { reason: String },
}

/// A running function process with its own Runtime API.
struct Worker {
    child: Child,
    pid: Option<u32>,
    api: RuntimeApi,
}

impl Worker {
    async fn start(launch: &Launch, limits: &Limits) -> std::io::Result<Worker> {
        let label = Arc::new(Mutex::new("init".to_string()));
        let api =
            RuntimeApi::start(limits.timeout, limits.function_arn.clone(), label.clone()).await?;
        let mut cmd = Command::new(&launch.program);
        cmd.args(&launch.args)
            .env_clear()
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .current_dir(&launch.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Its own process group: a kill reaches whatever the function started, and a Ctrl-C
        // in the terminal reaches only us (we stop the worker ourselves).
        #[cfg(unix)]
        cmd.process_group(0);
        #[cfg(target_os = "linux")]
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            // If serve dies without cleaning up (SIGKILL), the worker goes with it.
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        pump(child.stdout.take(), label.clone());
        pump(child.stderr.take(), label);
        Ok(Worker {
            pid: child.id(),
            child,
            api,
        })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // `kill_on_drop` reaches the process; this reaches its children too.
        #[cfg(unix)]
        if let Some(pid) = self.pid.and_then(|p| libc::pid_t::try_from(p).ok()) {
            // SAFETY: a plain syscall on the process group we created for the worker.
            unsafe {
                libc::killpg(pid, libc::SIGKILL);
            }
        }
        let _ = self.child.start_kill();
    }
}

/// How long a line without its newline waits for the rest before it is shown anyway.
const PARTIAL_LINE_WAIT: Duration = Duration::from_millis(100);

/// Copy a worker's output to our stderr line by line, labelled with the invocation it belongs
/// to (`[req 1a2b3c4d] ...`), or `[init]` before its first one. A line takes the label current
/// when its first bytes were read, so a record written without a final newline (as
/// awslambdaric writes a logged traceback) stays with its invocation even if its end is only
/// seen later.
fn pump<R: AsyncRead + Unpin + Send + 'static>(reader: Option<R>, label: Arc<Mutex<String>>) {
    let Some(mut reader) = reader else {
        return;
    };
    let current = move || label.lock().map(|l| l.clone()).unwrap_or_default();
    tokio::spawn(async move {
        let mut chunk = vec![0u8; 16 * 1024];
        let mut pending: Vec<u8> = Vec::new();
        let mut pending_label = String::new();
        loop {
            let read = if pending.is_empty() {
                Some(reader.read(&mut chunk).await)
            } else {
                // `read` is cancel-safe: a timeout loses no bytes.
                tokio::time::timeout(PARTIAL_LINE_WAIT, reader.read(&mut chunk))
                    .await
                    .ok()
            };
            match read {
                None => {
                    emit(&pending_label, &pending);
                    pending.clear();
                }
                Some(Ok(0) | Err(_)) => {
                    if !pending.is_empty() {
                        emit(&pending_label, &pending);
                    }
                    break;
                }
                Some(Ok(n)) => {
                    let now = current();
                    if pending.is_empty() {
                        pending_label.clone_from(&now);
                    }
                    pending.extend_from_slice(&chunk[..n]);
                    while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = pending.drain(..=end).collect();
                        emit(&pending_label, &line);
                        pending_label.clone_from(&now);
                    }
                }
            }
        }
    });
}

/// Print one line of function output. Lambda's runtimes separate the lines of one record with
/// `\r` (one CloudWatch event); a terminal wants them as lines.
fn emit(label: &str, line: &[u8]) {
    let text = String::from_utf8_lossy(line);
    for part in text.trim_end_matches(['\n', '\r']).split('\r') {
        eprintln!("[{label}] {part}");
    }
}

/// Exit statuses as Lambda's logs put them (`exit status 1`, `signal: killed`).
fn describe_exit(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(s) => {
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                if let Some(sig) = s.signal() {
                    return format!("signal {sig}");
                }
            }
            match s.code() {
                Some(code) => format!("exit status {code}"),
                None => s.to_string(),
            }
        }
        Err(e) => format!("unknown status ({e})"),
    }
}

/// An init error as the runtime reported it (runtimes log their own traceback; this is the
/// summary serve received).
fn log_init_error(label: &str, error: &FunctionError) {
    eprintln!(
        "[{label}] init error: {}: {}",
        error.error_type, error.message
    );
}

/// What a worker did while no invocation was in flight.
enum Idle {
    Exited(std::io::Result<ExitStatus>),
    Api(Option<ApiEvent>),
}

/// Owns the worker and runs queued invocations one at a time.
pub(crate) struct Dispatcher {
    launch: Launch,
    limits: Limits,
    worker: Option<Worker>,
}

impl Dispatcher {
    #[must_use]
    pub(crate) fn new(launch: Launch, limits: Limits) -> Dispatcher {
        Dispatcher {
            launch,
            limits,
            worker: None,
        }
    }

    /// Start the first worker now. An error here (the program can't be executed) is the
    /// caller's to report; later start failures answer 502.
    pub(crate) async fn start(&mut self) -> std::io::Result<()> {
        self.worker = Some(Worker::start(&self.launch, &self.limits).await?);
        Ok(())
    }

    /// Serve `queue` until it closes. Dropping this future (abort) kills the worker.
    pub(crate) async fn run(mut self, mut queue: mpsc::Receiver<Invocation>) {
        loop {
            tokio::select! {
                invocation = queue.recv() => match invocation {
                    Some(inv) => self.invoke(inv).await,
                    None => break,
                },
                idle = idle_event(&mut self.worker) => self.on_idle(idle),
            }
        }
        self.worker = None;
    }

    fn on_idle(&mut self, idle: Idle) {
        match idle {
            Idle::Exited(status) => {
                eprintln!(
                    "[init] Runtime exited with error: {}; a fresh worker starts with the next request",
                    describe_exit(status)
                );
                self.worker = None;
            }
            Idle::Api(Some(ApiEvent::InitError { error })) => log_init_error("init", &error),
            Idle::Api(Some(other)) => tracing::debug!("ignoring {other:?} from an idle worker"),
            Idle::Api(None) => self.worker = None,
        }
    }

    async fn invoke(&mut self, inv: Invocation) {
        let label = super::log_label(&inv.id);
        match self.run_invocation(&inv, &label).await {
            Ok(outcome) => {
                let _ = inv.reply.send(outcome);
            }
            Err(failure) => {
                eprintln!("[{label}] {}", failure.reason);
                if failure.replace_worker {
                    // As Lambda does: the sandbox is gone; the next request gets a fresh one.
                    self.worker = None;
                    if failure.restart_now
                        && let Err(e) = self.start().await
                    {
                        eprintln!("[init] can't start a fresh worker: {e}");
                    }
                }
                let _ = inv.reply.send(Outcome::Failed {
                    reason: failure.reason,
                });
            }
        }
    }

    async fn run_invocation(&mut self, inv: &Invocation, label: &str) -> Result<Outcome, Failure> {
        if self.worker.is_none() {
            self.start().await.map_err(|e| Failure {
                reason: format!("can't start the function: {e}"),
                replace_worker: true,
                restart_now: false,
            })?;
        }
        let worker = self.worker.as_mut().expect("started above");
        let delivery = Delivery {
            id: inv.id.clone(),
            event: inv.event.clone(),
            trace_id: inv.trace_id.clone(),
        };
        if worker.api.deliver.send(delivery).await.is_err() {
            return Err(Failure::lost("the Runtime API stopped"));
        }

        // Until the runtime takes it: a fresh worker is still in its init.
        let pickup = Instant::now() + self.launch.init_timeout;
        loop {
            tokio::select! {
                // A result that arrived just before the process exited still counts.
                biased;
                event = worker.api.events.recv() => match event {
                    Some(ApiEvent::Picked { id }) if id == inv.id => break,
                    Some(ApiEvent::InitError { error }) => {
                        log_init_error(label, &error);
                        return Err(Failure::init(format!(
                            "the function failed to initialize: {}: {}",
                            error.error_type, error.message
                        )));
                    }
                    Some(other) => tracing::debug!("ignoring {other:?}"),
                    None => return Err(Failure::lost("the Runtime API stopped")),
                },
                status = worker.child.wait() => {
                    return Err(Failure::init(format!(
                        "Runtime exited with error: {} (before taking the invocation)",
                        describe_exit(status)
                    )));
                }
                () = sleep_until(pickup) => {
                    return Err(Failure::init(format!(
                        "the function did not ask for an invocation within {} s of being ready for one; its process was killed",
                        self.launch.init_timeout.as_secs()
                    )));
                }
            }
        }

        let deadline = Instant::now() + self.limits.timeout;
        loop {
            tokio::select! {
                // A result that arrived just before the process exited still counts.
                biased;
                event = worker.api.events.recv() => match event {
                    Some(ApiEvent::Response { id, body, streaming }) if id == inv.id => {
                        return Ok(Outcome::Response { body, streaming });
                    }
                    Some(ApiEvent::Error { id, error }) if id == inv.id => {
                        return Err(Failure {
                            reason: format!("the function returned an error: {}: {}", error.error_type, error.message),
                            replace_worker: false,
                            restart_now: false,
                        });
                    }
                    Some(ApiEvent::TooLarge { id, size }) if id == inv.id => {
                        return Err(Failure {
                            reason: format!(
                                "the response is {size} bytes; Lambda allows {} (the function got a 413)",
                                super::runtime_api::MAX_RESPONSE
                            ),
                            replace_worker: false,
                            restart_now: false,
                        });
                    }
                    Some(other) => tracing::debug!("ignoring {other:?}"),
                    None => return Err(Failure::lost("the Runtime API stopped")),
                },
                status = worker.child.wait() => {
                    return Err(Failure::crash(format!(
                        "Runtime exited with error: {}",
                        describe_exit(status)
                    )));
                }
                () = sleep_until(deadline) => {
                    return Err(Failure::crash(format!(
                        "Task timed out after {:.2} seconds",
                        self.limits.timeout.as_secs_f64()
                    )));
                }
            }
        }
    }
}

/// Why an invocation got no result, and what it means for the worker.
struct Failure {
    reason: String,
    /// The worker is dead or stuck: drop (kill) it.
    replace_worker: bool,
    /// Start its successor right away (after a crash or timeout mid-invocation; not after a
    /// failed init, which would only fail again).
    restart_now: bool,
}

impl Failure {
    fn crash(reason: String) -> Failure {
        Failure {
            reason,
            replace_worker: true,
            restart_now: true,
        }
    }

    fn init(reason: String) -> Failure {
        Failure {
            reason,
            replace_worker: true,
            restart_now: false,
        }
    }

    fn lost(reason: &str) -> Failure {
        Failure::crash(reason.to_string())
    }
}

async fn idle_event(worker: &mut Option<Worker>) -> Idle {
    match worker {
        None => std::future::pending().await,
        Some(w) => tokio::select! {
            // An init error is reported before the process exits: log it first.
            biased;
            event = w.api.events.recv() => Idle::Api(event),
            status = w.child.wait() => Idle::Exited(status),
        },
    }
}
