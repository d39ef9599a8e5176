//! `deploy-action serve`: the real binary serving real bundles on loopback, driven with real
//! HTTP requests. Python handlers run through awslambdaric and through the built-in loop; a
//! `sh` + curl `bootstrap` stands in for a custom runtime at the protocol level; the Rust
//! fixture runs natively and, built for arm64, under qemu-user; an arm64 Python bundle runs in
//! the emulated CPython 3.13 of the aarch64 root; and the zip that went live in moto is the zip
//! that is served.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use crate::support::{World, fixture};

/// A handler with the routes of the fixtures (/, /echo, /bin, /cookie, 404, /raise,
/// /sleep?s=N) plus /crash, /pid and /arch for what a test must see from inside.
const APP_PY: &str = r#"
import base64, json, os, platform, sys, time

def handler(event, context):
    path = event["rawPath"]
    print("handling %s in %s" % (path, context.aws_request_id))
    if path == "/":
        return {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "Hello World"}
    if path == "/echo":
        out = dict(event)
        out["env"] = {k: os.environ.get(k) for k in (
            "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "AWS_REGION", "LAMBDA_TASK_ROOT", "_HANDLER", "TZ", "GREETING")}
        out["remaining_ms"] = context.get_remaining_time_in_millis()
        out["arn"] = context.invoked_function_arn
        return {"statusCode": 200, "headers": {"content-type": "application/json", "x-echo": "yes"},
                "body": json.dumps(out)}
    if path == "/bin":
        return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}
    if path == "/cookie":
        return {"statusCode": 200, "headers": {"content-type": "text/plain"},
                "cookies": ["session=hello; Path=/; HttpOnly", "theme=dark"], "body": "cookie set"}
    if path == "/raise":
        raise ValueError("boom from the handler")
    if path == "/sleep":
        time.sleep(float((event.get("queryStringParameters") or {}).get("s", "1")))
        return {"statusCode": 200, "body": "slept"}
    if path == "/crash":
        os._exit(3)
    if path == "/pid":
        return {"statusCode": 200, "body": str(os.getpid())}
    if path == "/arch":
        return {"statusCode": 200, "body": "%s %d.%d" % ((platform.machine(),) + sys.version_info[:2])}
    if path == "/plain":
        return {"message": "not an HTTP response"}
    return {"statusCode": 404, "headers": {"content-type": "text/plain"}, "body": "not found"}
"#;

/// A custom runtime in `sh` and curl: enough of the Runtime API protocol to prove serve speaks
/// it (next with its headers, response, error, exiting mid-invocation), without a compiler.
const BOOTSTRAP_SH: &str = r#"#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
header() { grep -i "^$1:" "$headers" | head -n1 | cut -d: -f2- | tr -d ' \r'; }
headers="$(mktemp)"; event="$(mktemp)"; reply="$(mktemp)"
echo "bootstrap starting, pid $$"
while true; do
  curl -sS -D "$headers" -o "$event" "$api/invocation/next" || exit 1
  id="$(header lambda-runtime-aws-request-id)"
  path="$(sed -n 's/.*"rawPath":"\([^"]*\)".*/\1/p' "$event")"
  echo "bootstrap handling $path"
  case "$path" in
    /exit) exit 7 ;;
    /error)
      curl -sS -o /dev/null -X POST -H 'Lambda-Runtime-Function-Error-Type: Unhandled' \
        -d '{"errorMessage":"shell says no","errorType":"ShellError"}' "$api/invocation/$id/error"
      continue ;;
    /sleep) sleep 30 ;;
  esac
  start="$(date +%s%N)"
  [ "$path" = /slow ] && sleep 1
  {
    echo "id=$id"
    echo "deadline=$(header lambda-runtime-deadline-ms)"
    echo "arn=$(header lambda-runtime-invoked-function-arn)"
    echo "trace=$(header lambda-runtime-trace-id)"
    echo "name=$AWS_LAMBDA_FUNCTION_NAME"
    echo "version=$AWS_LAMBDA_FUNCTION_VERSION"
    echo "memory=$AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
    echo "handler=$_HANDLER"
    echo "tz=$TZ"
    echo "task_root=$LAMBDA_TASK_ROOT"
    echo "greeting=$GREETING"
    echo "pid=$$"
    echo "start=$start"
    echo "end=$(date +%s%N)"
    echo "event=$(base64 -w0 "$event")"
  } > "$reply"
  body="$(base64 -w0 "$reply")"
  curl -sS -o /dev/null -X POST \
    -d "{\"statusCode\":200,\"headers\":{\"content-type\":\"text/plain\"},\"body\":\"$body\",\"isBase64Encoded\":true}" \
    "$api/invocation/$id/response"
done
"#;

/// A running `deploy-action serve`, its stderr collected; killed on drop.
pub struct Served {
    child: Child,
    pub url: String,
    log: Arc<Mutex<String>>,
    pub http: reqwest::blocking::Client,
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

impl Served {
    /// Wait for the `Serving ... on http://127.0.0.1:PORT` line of a spawned serve.
    fn start(mut child: Child) -> Served {
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                // Into the log first: a test reads it as soon as it has the URL.
                {
                    let mut log = sink.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
                if let Some(at) = line.find(" on http://127.0.0.1:")
                    && line.starts_with("Serving ")
                {
                    let _ = tx.send(line[at + 4..].trim().to_string());
                }
            }
        });
        // A first run may build the fixture or install awslambdaric into its venv.
        let url = match rx.recv_timeout(Duration::from_secs(900)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "serve did not start ({status:?}); stderr:\n{}",
                    log.lock().unwrap()
                );
            }
        };
        Served {
            child,
            url,
            log,
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(300))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub fn request(&self, req: reqwest::blocking::RequestBuilder) -> Reply {
        let resp = req
            .send()
            .unwrap_or_else(|e| panic!("request to serve failed: {e}\nstderr:\n{}", self.log()));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().unwrap().to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request(self.http.get(format!("{}{path}", self.url)))
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Wait until the log has `needle` (function output is copied asynchronously).
    #[track_caller]
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "the log never showed {needle:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM: serve stops its worker and exits 0; returns stdout.
    pub fn stop(mut self) -> String {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: signalling the child we spawned.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not stop on SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "serve exited {status}:\n{}", self.log());
        let mut out = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            stdout.read_to_string(&mut out).unwrap();
        }
        out
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `deploy-action serve ARGS` (with `--port 0` unless ARGS has a port) in a sealed environment
/// (no AWS or GitHub variables).
fn serve_command(cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deploy-action"));
    cmd.arg("serve").args(args).env_clear();
    if !args.contains(&"--port") {
        cmd.args(["--port", "0"]);
    }
    cmd.envs(crate::support::host_env());
    cmd.current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

pub fn serve(cwd: &Path, args: &[&str]) -> Served {
    Served::start(
        serve_command(cwd, args)
            .spawn()
            .expect("spawn deploy-action serve"),
    )
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "x86_64",
    }
}

/// The Python version of this machine's `python3` (the runtime the host-arch bundles declare).
fn host_python_runtime() -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys; print('python%d.%d' % sys.version_info[:2])",
        ])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn python_bundle(dir: &Path) -> PathBuf {
    let bundle = dir.join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::write(bundle.join("app.py"), APP_PY).unwrap();
    bundle
}

/// The label serve gives a request's log lines.
fn label(request_id: &str) -> String {
    format!("[req {}]", &request_id[..8])
}

/// GET with a query string, POST with a JSON body, binary in both directions, cookies both
/// ways, a response that is not an HTTP result, and a 404. `timeout_s` is serve's --timeout.
fn exercise_http_round_trips(served: &Served, timeout_s: i64) {
    let hello = served.get("/");
    assert_eq!(hello.status, 200);
    assert_eq!(hello.text(), "Hello World");
    assert_eq!(hello.headers["content-type"], "text/plain");

    let get = served.request(
        served
            .http
            .get(format!(
                "{}/echo?name=Ada%20L&tag=a&tag=b&empty=",
                served.url
            ))
            .header("X-Custom", "one")
            .header("Accept", "text/html")
            .header("Accept", "application/json")
            .header("Cookie", "a=1; b=two"),
    );
    assert_eq!(get.status, 200, "{}", get.text());
    assert_eq!(get.headers["x-echo"], "yes");
    let event = get.json();
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "$default");
    assert_eq!(event["rawPath"], "/echo");
    assert_eq!(event["rawQueryString"], "name=Ada%20L&tag=a&tag=b&empty=");
    assert_eq!(event["queryStringParameters"]["name"], "Ada L");
    assert_eq!(event["queryStringParameters"]["tag"], "a,b");
    assert_eq!(event["queryStringParameters"]["empty"], "");
    assert_eq!(event["headers"]["x-custom"], "one");
    assert_eq!(event["headers"]["accept"], "text/html,application/json");
    assert!(event["headers"].get("cookie").is_none(), "{event}");
    assert_eq!(event["cookies"], serde_json::json!(["a=1", "b=two"]));
    assert_eq!(event["isBase64Encoded"], false);
    assert!(
        event.get("body").is_none() || event["body"].is_null(),
        "{event}"
    );
    let ctx = &event["requestContext"];
    assert_eq!(ctx["accountId"], "anonymous");
    assert_eq!(ctx["stage"], "$default");
    assert_eq!(ctx["http"]["method"], "GET");
    assert_eq!(ctx["http"]["path"], "/echo");
    assert_eq!(ctx["http"]["sourceIp"], "127.0.0.1");
    assert!(ctx["timeEpoch"].as_i64().unwrap() > 1_700_000_000_000);
    let request_id = ctx["requestId"].as_str().unwrap().to_string();
    // The function's own view of its invocation and environment.
    assert_eq!(event["env"]["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(event["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(event["env"]["_HANDLER"], "app.handler");
    assert_eq!(event["env"]["TZ"], ":UTC");
    assert_eq!(event["env"]["GREETING"], "hello from --env");
    let remaining = event["remaining_ms"].as_i64().unwrap();
    assert!(
        (1..=timeout_s * 1000).contains(&remaining),
        "remaining {remaining} ms of {timeout_s} s"
    );
    assert!(
        event["arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:lambda:")
    );
    // Its print lands in serve's log under the request id.
    served.wait_for_log(&format!(
        "{} handling /echo in {request_id}",
        label(&request_id)
    ));

    let post = served.request(
        served
            .http
            .post(format!("{}/echo", served.url))
            .header("content-type", "application/json")
            .body(r#"{"hello":"world","n":[1,2]}"#),
    );
    let event = post.json();
    assert_eq!(event["requestContext"]["http"]["method"], "POST");
    assert_eq!(event["body"], r#"{"hello":"world","n":[1,2]}"#);
    assert_eq!(event["isBase64Encoded"], false);

    let upload: Vec<u8> = (0..=255u8).rev().collect();
    let post = served.request(
        served
            .http
            .post(format!("{}/echo", served.url))
            .header("content-type", "application/octet-stream")
            .body(upload.clone()),
    );
    let event = post.json();
    assert_eq!(event["isBase64Encoded"], true);
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(event["body"].as_str().unwrap())
        .unwrap();
    assert_eq!(decoded, upload);

    let bin = served.get("/bin");
    assert_eq!(bin.status, 200);
    assert_eq!(bin.headers["content-type"], "application/octet-stream");
    assert_eq!(bin.body, (0..=255u8).collect::<Vec<_>>());

    let cookie = served.get("/cookie");
    let set: Vec<&str> = cookie
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(set, ["session=hello; Path=/; HttpOnly", "theme=dark"]);

    let plain = served.get("/plain");
    assert_eq!(plain.status, 200);
    assert_eq!(plain.headers["content-type"], "application/json");
    assert_eq!(
        plain.json(),
        serde_json::json!({"message": "not an HTTP response"})
    );

    let missing = served.get("/no/such/route");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.text(), "not found");
}

/// A raise is a 502 and the worker stays; a timeout and a crash are 502s and a fresh worker
/// answers the next request.
fn exercise_failures(served: &Served) {
    let pid = served.get("/pid").text();

    let raised = served.get("/raise");
    assert_eq!(raised.status, 502);
    served.wait_for_log("ValueError: boom from the handler");
    assert_eq!(served.get("/pid").text(), pid, "an error keeps the worker");

    let started = Instant::now();
    let slow = served.get("/sleep?s=30");
    assert_eq!(slow.status, 502);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the timeout cut it short"
    );
    served.wait_for_log("Task timed out after 2.00 seconds");
    let after_timeout = served.get("/pid").text();
    assert_ne!(after_timeout, pid, "a timeout replaces the worker");
    assert_eq!(served.get("/").text(), "Hello World");

    let crashed = served.get("/crash");
    assert_eq!(crashed.status, 502);
    served.wait_for_log("Runtime exited with error: exit status 3");
    let after_crash = served.get("/pid").text();
    assert_ne!(after_crash, after_timeout, "a crash replaces the worker");
    assert_eq!(served.get("/").text(), "Hello World");
}

fn python_host_args<'a>(bundle: &'a str, runtime: &'a str, interface: &'a str) -> Vec<&'a str> {
    vec![
        "--artifact",
        bundle,
        "--runtime",
        runtime,
        "--handler",
        "app.handler",
        "--architecture",
        host_arch(),
        "--runtime-interface",
        interface,
        "--timeout",
        "2",
        "--memory",
        "256",
        "--env",
        "GREETING=hello from --env",
    ]
}

#[test]
fn python_bundle_runs_through_awslambdaric() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = python_bundle(dir.path());
    let runtime = host_python_runtime();
    let served = serve(
        dir.path(),
        &python_host_args(bundle.to_str().unwrap(), &runtime, "awslambdaric"),
    );
    assert!(served.log().contains("awslambdaric"), "{}", served.log());
    exercise_http_round_trips(&served, 2);
    exercise_failures(&served);
    let stdout = served.stop();
    assert!(stdout.contains("served"), "{stdout}");
}

#[test]
fn python_bundle_runs_through_the_builtin_loop() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = python_bundle(dir.path());
    let runtime = host_python_runtime();
    let served = serve(
        dir.path(),
        &python_host_args(bundle.to_str().unwrap(), &runtime, "builtin"),
    );
    assert!(
        served.log().contains("built-in runtime loop"),
        "{}",
        served.log()
    );
    exercise_http_round_trips(&served, 2);
    exercise_failures(&served);
    served.stop();
}

#[test]
fn an_import_error_is_a_502_with_the_reason_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("broken");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::write(bundle.join("app.py"), "import no_such_module\n").unwrap();
    let runtime = host_python_runtime();
    let served = serve(
        dir.path(),
        &[
            "--artifact",
            bundle.to_str().unwrap(),
            "--runtime",
            &runtime,
            "--handler",
            "app.handler",
            "--architecture",
            host_arch(),
            "--runtime-interface",
            "builtin",
        ],
    );
    let first = served.get("/");
    assert_eq!(first.status, 502);
    let log = served.wait_for_log("Runtime.ImportModuleError");
    assert!(log.contains("no_such_module"), "{log}");
    // Still broken, still answered (a fresh worker each time), never hung.
    assert_eq!(served.get("/").status, 502);
    served.stop();
}

fn parse_lines(text: &str) -> std::collections::HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn custom_runtime_bootstrap_speaks_the_runtime_api() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("custom");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::write(bundle.join("bootstrap"), BOOTSTRAP_SH).unwrap();
    let served = serve(
        dir.path(),
        &[
            "--artifact",
            bundle.to_str().unwrap(),
            "--timeout",
            "3",
            "--memory",
            "1024",
            "--env",
            "GREETING=hi",
        ],
    );
    assert!(
        served.log().contains("(provided.al2023, "),
        "{}",
        served.log()
    );

    let reply = served.request(
        served
            .http
            .post(format!("{}/hello/world?x=1", served.url))
            .header("content-type", "text/plain")
            .body("plain text body"),
    );
    assert_eq!(reply.status, 200, "{}", served.log());
    let fields = parse_lines(&reply.text());
    let event: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(&fields["event"])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(event["rawPath"], "/hello/world");
    assert_eq!(event["rawQueryString"], "x=1");
    assert_eq!(event["body"], "plain text body");
    // The Runtime API's headers: the same request id as the event, a deadline --timeout
    // ahead, the function ARN and a trace header.
    assert_eq!(
        fields["id"],
        event["requestContext"]["requestId"].as_str().unwrap()
    );
    let deadline: i64 = fields["deadline"].parse().unwrap();
    let epoch = event["requestContext"]["timeEpoch"].as_i64().unwrap();
    assert!(
        (epoch + 2_000..=epoch + 4_000).contains(&deadline),
        "{deadline} vs {epoch}"
    );
    assert!(
        fields["arn"].starts_with("arn:aws:lambda:"),
        "{}",
        fields["arn"]
    );
    assert!(fields["arn"].contains(":function:"), "{}", fields["arn"]);
    assert!(
        fields["trace"].starts_with("Root=1-"),
        "{}",
        fields["trace"]
    );
    assert_eq!(fields["version"], "$LATEST");
    assert_eq!(fields["memory"], "1024");
    assert_eq!(fields["handler"], "bootstrap");
    assert_eq!(fields["tz"], ":UTC");
    assert_eq!(fields["greeting"], "hi");
    assert!(Path::new(&fields["task_root"]).join("bootstrap").is_file());
    served.wait_for_log(&format!(
        "{} bootstrap handling /hello/world",
        label(&fields["id"])
    ));
    let pid = fields["pid"].clone();

    // A reported error: 502, its type and message in the log, the same process afterwards.
    assert_eq!(served.get("/error").status, 502);
    served.wait_for_log("ShellError: shell says no");
    assert_eq!(parse_lines(&served.get("/").text())["pid"], pid);

    // One invocation at a time: three concurrent one-second requests run one after another.
    let url = served.url.clone();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                reqwest::blocking::Client::new()
                    .get(format!("{url}/slow"))
                    .timeout(Duration::from_secs(60))
                    .send()
                    .unwrap()
                    .text()
                    .unwrap()
            })
        })
        .collect();
    let mut spans: Vec<(u128, u128)> = handles
        .into_iter()
        .map(|h| {
            let f = parse_lines(&h.join().unwrap());
            (f["start"].parse().unwrap(), f["end"].parse().unwrap())
        })
        .collect();
    spans.sort_unstable();
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "invocations overlapped: {spans:?}");
    }

    // A process that exits mid-invocation: 502, and a fresh process answers next.
    assert_eq!(served.get("/exit").status, 502);
    served.wait_for_log("Runtime exited with error: exit status 7");
    let fresh = parse_lines(&served.get("/").text());
    assert_ne!(fresh["pid"], pid);

    // A timeout kills the whole process group (the script's `sleep 30` too).
    let started = Instant::now();
    assert_eq!(served.get("/sleep").status, 502);
    assert!(started.elapsed() < Duration::from_secs(15));
    served.wait_for_log("Task timed out after 3.00 seconds");
    assert_eq!(served.get("/").status, 200);
    served.stop();
}

#[test]
fn bad_input_is_refused_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = python_bundle(dir.path());
    let bundle = bundle.to_str().unwrap();
    for (args, needle) in [
        (
            vec![
                "--artifact",
                bundle,
                "--handler",
                "app.handler",
                "--timeout",
                "0",
            ],
            "--timeout",
        ),
        (
            vec![
                "--artifact",
                bundle,
                "--handler",
                "app.handler",
                "--env",
                "AWS_REGION=x",
            ],
            "reserved",
        ),
        (vec!["--artifact", "missing.zip"], "does not exist"),
        (
            vec!["--artifact", bundle, "--runtime", "provided.al2023"],
            "no bootstrap",
        ),
    ] {
        let out = serve_command(dir.path(), &args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    // A port in use is named, with the way out.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = serve_command(
        dir.path(),
        &[
            "--artifact",
            bundle,
            "--handler",
            "app.handler",
            "--runtime-interface",
            "builtin",
            "--architecture",
            host_arch(),
            "--runtime",
            &host_python_runtime(),
            "--port",
            &port,
        ],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("already in use") && stderr.contains("--port 0"),
        "{stderr}"
    );
}

#[test]
fn arm64_python_bundle_runs_in_the_emulated_cpython() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = python_bundle(dir.path());
    let served = serve(
        dir.path(),
        &[
            "--artifact",
            bundle.to_str().unwrap(),
            "--runtime",
            "python3.13",
            "--handler",
            "app.handler",
            "--architecture",
            "arm64",
            "--timeout",
            "20",
            "--memory",
            "256",
            "--env",
            "GREETING=hello from --env",
        ],
    );
    assert!(
        served.log().contains("arm64 via qemu-aarch64"),
        "{}",
        served.log()
    );
    assert_eq!(served.get("/arch").text(), "aarch64 3.13");
    exercise_http_round_trips(&served, 20);
    assert_eq!(served.get("/raise").status, 502);
    served.wait_for_log("ValueError: boom from the handler");
    assert_eq!(served.get("/").text(), "Hello World");
    served.stop();
}

#[test]
fn an_emulated_bundle_without_emulator_says_how_to_get_one() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = python_bundle(dir.path());
    let foreign = if host_arch() == "x86_64" {
        "arm64"
    } else {
        "x86_64"
    };
    // A PATH without qemu (nor anything else).
    let empty = dir.path().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let out = serve_command(
        dir.path(),
        &[
            "--artifact",
            bundle.to_str().unwrap(),
            "--handler",
            "app.handler",
            "--architecture",
            foreign,
        ],
    )
    .env("PATH", &empty)
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("qemu-user"), "{stderr}");
    assert!(
        stderr.contains("apt-get install qemu-user-static"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("--architecture {}", host_arch())),
        "{stderr}"
    );
}

/// The Rust fixture, built by serve itself (`--source`), natively and for arm64 under
/// qemu-user.
#[test]
fn rust_fixture_is_built_and_served_natively_and_under_qemu() {
    let _turn = crate::support::rust_fixture_turn();
    let dir = tempfile::tempdir().unwrap();
    let source = fixture("rust-hello");
    for arch in [host_arch(), "arm64"] {
        let served = Served::start(
            serve_command(
                dir.path(),
                &["--source", source.to_str().unwrap(), "--architecture", arch],
            )
            .spawn()
            .unwrap(),
        );
        let emulated = arch != host_arch();
        assert_eq!(
            served.log().contains("via qemu-aarch64"),
            emulated,
            "{}",
            served.log()
        );
        let hello = served.get("/");
        assert_eq!(hello.status, 200, "{}", served.log());
        assert_eq!(hello.text(), "Hello World");
        let echo = served.request(
            served
                .http
                .post(format!("{}/echo?q=1&q=2", served.url))
                .header("content-type", "application/json")
                .header("cookie", "a=1")
                .body(r#"{"k":"v"}"#),
        );
        let echo = echo.json();
        assert_eq!(echo["method"], "POST");
        assert_eq!(echo["path"], "/echo");
        assert_eq!(echo["raw_query"], "q=1&q=2");
        assert_eq!(echo["body"], r#"{"k":"v"}"#);
        assert_eq!(echo["cookies"], serde_json::json!(["a=1"]));
        assert_eq!(served.get("/bin").body, (0..=255u8).collect::<Vec<_>>());
        let cookie = served.get("/cookie");
        assert_eq!(
            cookie.headers["set-cookie"],
            "session=hello; Path=/; HttpOnly"
        );
        assert_eq!(served.get("/nope").status, 404);
        served.stop();
    }
}

/// The fixture apps of the Python packager, served from source for the host architecture.
fn serve_fixture_app(name: &str) {
    let source = fixture(name);
    assert!(source.is_dir(), "fixtures/{name} is missing");
    let dir = tempfile::tempdir().unwrap();
    let served = serve(
        dir.path(),
        &[
            "--source",
            source.to_str().unwrap(),
            "--architecture",
            host_arch(),
            "--timeout",
            "3",
        ],
    );
    let hello = served.get("/");
    assert_eq!(hello.status, 200, "{}", served.log());
    assert_eq!(hello.text(), "Hello World");
    let echo = served.get("/echo?x=1");
    assert_eq!(echo.status, 200, "{}", echo.text());
    assert!(echo.text().contains("x"), "{}", echo.text());
    assert_eq!(served.get("/bin").body, (0..=255u8).collect::<Vec<_>>());
    assert!(served.get("/cookie").headers.contains_key("set-cookie"));
    assert_eq!(served.get("/nope").status, 404);
    let raised = served.get("/raise");
    assert!(raised.status >= 500, "{}", raised.status);
    assert_eq!(served.get("/sleep?s=10").status, 502);
    served.wait_for_log("Task timed out after 3.00 seconds");
    assert_eq!(served.get("/").text(), "Hello World");
    served.stop();
}

#[test]
fn flask_fixture_is_served() {
    serve_fixture_app("flask-hello");
}

#[test]
fn fastapi_fixture_is_served() {
    serve_fixture_app("fastapi-hello");
}

#[test]
fn sanic_fixture_is_served() {
    serve_fixture_app("sanic-hello");
}

/// Issue 10's acceptance: the Flask fixture built for arm64 (manylinux aarch64 wheels) answers
/// through qemu-user, its native extension (MarkupSafe's) loaded by the emulated CPython.
#[test]
fn flask_fixture_for_arm64_is_served_under_qemu() {
    let source = fixture("flask-hello");
    assert!(source.is_dir(), "fixtures/flask-hello is missing");
    let dir = tempfile::tempdir().unwrap();
    let served = serve(
        dir.path(),
        &[
            "--source",
            source.to_str().unwrap(),
            "--architecture",
            "arm64",
        ],
    );
    assert!(
        served.log().contains("arm64 via qemu-aarch64"),
        "{}",
        served.log()
    );
    let hello = served.get("/");
    assert_eq!(hello.status, 200, "{}", served.log());
    assert_eq!(hello.text(), "Hello World");
    assert_eq!(served.get("/bin").body, (0..=255u8).collect::<Vec<_>>());
    served.stop();
}

/// The bytes that went live are the bytes served: deploy an arm64 Python bundle to moto,
/// download the zip behind `live` from moto's S3 (found by its CodeSha256), and serve that
/// zip under qemu-user.
#[test]
fn the_live_artifact_downloaded_from_s3_is_served() {
    let world = World::new();
    let app = python_bundle(world.dir());
    let report = world
        .cmd(&[
            "deploy",
            "--app",
            "hello",
            "--stage",
            "main",
            "--artifact",
            app.to_str().unwrap(),
            "--runtime",
            "python3.13",
            "--handler",
            "app.handler",
            "--architecture",
            "arm64",
            "--s3-bucket",
            World::bucket(),
            "--execution-role",
            &World::exec_role(),
            "--output",
            "json",
        ])
        .run()
        .success()
        .json();
    let live = world.alias_version("hello-main").expect("live alias");
    let config = world.config("hello-main", Some(&live));
    let code_sha256 = config.code_sha256().expect("CodeSha256").to_string();
    assert_eq!(report["code_sha256"], code_sha256.as_str());
    let hex_digest = hex::encode(
        base64::engine::general_purpose::STANDARD
            .decode(&code_sha256)
            .unwrap(),
    );
    let key = deploy_action::naming::artifact_key("deploy-action", "hello", &hex_digest);
    let bytes = world.s3_get(&key);
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&bytes);
    assert_eq!(hex::encode(digest), hex_digest, "S3 holds the live code");
    let zip = world.dir().join("live.zip");
    std::fs::write(&zip, &bytes).unwrap();

    let served = Served::start(
        world
            .cmd(&[
                "serve",
                "--artifact",
                zip.to_str().unwrap(),
                "--runtime",
                "python3.13",
                "--handler",
                "app.handler",
                "--architecture",
                "arm64",
                "--port",
                "0",
            ])
            .spawn(),
    );
    // serve unpacked exactly that zip.
    assert!(
        served.log().contains(&format!("sha256 {hex_digest}")),
        "{}",
        served.log()
    );
    let hello = served.get("/");
    assert_eq!(hello.status, 200, "{}", served.log());
    assert_eq!(hello.text(), "Hello World");
    assert_eq!(served.get("/arch").text(), "aarch64 3.13");
    served.stop();
}

/// `--front-door http-api`: the events an API Gateway HTTP API sends (payload 2.0 through
/// `$default`: same shape, the API's id and the account), and its 500 for a failed invocation.
#[test]
fn http_api_front_door_sends_http_api_events() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = python_bundle(dir.path());
    let runtime = host_python_runtime();
    let mut args = python_host_args(bundle.to_str().unwrap(), &runtime, "builtin");
    args.extend_from_slice(&["--front-door", "http-api"]);
    let served = serve(dir.path(), &args);
    let echo = served.request(
        served
            .http
            .post(format!("{}/echo?a=1", served.url))
            .header("content-type", "application/octet-stream")
            .header("Cookie", "a=1; b=two")
            .body(vec![0u8, 1, 2]),
    );
    assert_eq!(echo.status, 200, "{}", echo.text());
    let event = echo.json();
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "$default");
    assert_eq!(event["requestContext"]["routeKey"], "$default");
    assert_eq!(event["requestContext"]["stage"], "$default");
    assert_eq!(event["requestContext"]["apiId"], "localhttp0");
    assert_eq!(event["requestContext"]["accountId"], "123456789012");
    assert_eq!(event["cookies"], serde_json::json!(["a=1", "b=two"]));
    assert_eq!(event["isBase64Encoded"], true);
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(event["body"].as_str().unwrap())
            .unwrap(),
        [0u8, 1, 2]
    );
    let raised = served.get("/raise");
    assert_eq!(raised.status, 500);
    assert_eq!(raised.text(), r#"{"message":"Internal Server Error"}"#);
    served.stop();
}
