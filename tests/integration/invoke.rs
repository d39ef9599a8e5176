//! `invoke`, `--release-command` and the Django fixture (issue 22).
//!
//! The deployed functions really run: the fault proxy answers Invoke with `invoke_mode: run`
//! (tests/support/invoke_runner.py), which executes the version's own code from moto's S3 in a
//! host CPython, the way `serve` runs an artifact. The bundles are pure Python, so an arm64
//! build runs there too.
//!
//! The boundary that makes `invoke` an ops tool and not a remote shell: a command payload that
//! arrives as an HTTP request (through the function URL, or `serve`'s URL) is answered by the
//! app and never executed. It is checked on the adapter directly and through `serve`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::serve::serve;
use crate::support::{BUCKET, Cmd, World, fixture, root};

/// A WSGI app that echoes the request body, with no dependencies.
const ECHO_APP: &str = r#"
def app(environ, start_response):
    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(size) if size else b""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"app got: " + body]
"#;

fn echo_source(world: &World, name: &str, marker: &str) -> PathBuf {
    world.write_dir(
        name,
        &[
            ("app.py", &format!("# {marker}\n{ECHO_APP}")),
            ("requirements.txt", ""),
        ],
    )
}

/// The command payload the adapter executes: creates `marker` when it runs.
fn python_payload(marker: &Path) -> Value {
    json!({"deploy-action": {"command": "python",
        "code": format!("open({:?}, 'w').write('ran'); print('ran')", marker.display().to_string())}})
}

/// A function URL event (payload 2.0) carrying `body`.
fn url_event(method: &str, path: &str, body: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "abc.lambda-url.us-east-1.on.aws", "content-type": "application/json",
                    "content-length": body.len().to_string(), "x-forwarded-proto": "https"},
        "requestContext": {
            "accountId": "anonymous", "apiId": "abc", "domainName": "abc.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abc",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "r1", "routeKey": "$default", "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 1_767_225_600_000_u64,
        },
        "body": body,
        "isBase64Encoded": false,
    })
}

fn host_runtime() -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys; print('python%d.%d' % sys.version_info[:2])",
        ])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `package` for this machine; the unpacked bundle.
fn host_bundle(world: &World, source: &Path, name: &str) -> PathBuf {
    let zip = world.dir().join(format!("{name}.zip"));
    world
        .cmd(&[
            "package",
            "--source",
            source.to_str().unwrap(),
            "--out",
            zip.to_str().unwrap(),
            "--architecture",
            "x86_64",
            "--runtime",
            &host_runtime(),
        ])
        .run()
        .success();
    let dir = world.dir().join(format!("{name}-bundle"));
    zip::ZipArchive::new(std::fs::File::open(&zip).unwrap())
        .unwrap()
        .extract(&dir)
        .unwrap();
    dir
}

/// The adapter's answers to `events`, one process (tests/support/invoke_handler.py).
fn handler_answers(bundle: &Path, events: &[Value]) -> Vec<Value> {
    let out = Command::new("python3")
        .args(["-I", "-S"])
        .arg(root().join("tests/support/invoke_handler.py"))
        .arg(bundle)
        .args(events.iter().map(Value::to_string))
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_adapter_runs_commands_only_on_direct_invocation() {
    let world = World::new();
    let source = echo_source(&world, "echo", "adapter");
    let bundle = host_bundle(&world, &source, "echo");
    let marker = world.dir().join("ran-by-url");
    let command = python_payload(&marker);

    // Through the function URL the payload is the body of an ordinary request: the app answers.
    let answers = handler_answers(&bundle, &[url_event("POST", "/", &command.to_string())]);
    assert_eq!(answers[0]["statusCode"], 200, "{}", answers[0]);
    assert_eq!(
        answers[0]["body"],
        format!("app got: {command}"),
        "{}",
        answers[0]
    );
    assert!(!marker.exists(), "a URL request ran the command");

    // Directly, it runs: stdout captured, status 0.
    let direct = world.dir().join("ran-directly");
    let answers = handler_answers(&bundle, &[python_payload(&direct)]);
    assert_eq!(answers[0]["deploy-action"]["status"], 0, "{}", answers[0]);
    assert_eq!(answers[0]["deploy-action"]["stdout"], "ran\n");
    assert!(direct.exists());

    // The shapes: a command is exactly one key; HTTP API, function URL and EventBridge
    // events with that key among their own are not commands.
    let check = r#"
import sys
sys.path.insert(0, BUNDLE)
import deploy_action_handler as h
cmd = {"deploy-action": {"command": "python", "code": "print(1)"}}
assert h.is_command(cmd)
for extra in ({"version": "2.0", "rawPath": "/"}, {"requestContext": {"http": {}}},
              {"source": "aws.events", "detail-type": "Scheduled Event"}, {"body": "x"}):
    assert not h.is_command({**cmd, **extra}), extra
assert not h.is_command({"deploy-action": "python"})
assert not h.is_command([cmd])
print("ok")
"#
    .replace("BUNDLE", &format!("{:?}", bundle.display().to_string()));
    let out = Command::new("python3")
        .args(["-I", "-S", "-c", &check])
        .current_dir(&bundle)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The URL of `serve`'s Invoke API, from its log.
fn invoke_url(log: &str) -> String {
    let line = log
        .lines()
        .find(|l| l.starts_with("Invoke API on "))
        .unwrap_or_else(|| panic!("no Invoke API line:\n{log}"));
    line["Invoke API on ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn serve_answers_url_requests_with_the_app_and_invoke_local_runs_commands() {
    let world = World::new();
    let source = echo_source(&world, "echo", "serve");
    let runtime = host_runtime();
    let served = serve(
        world.dir(),
        &[
            "--source",
            source.to_str().unwrap(),
            "--architecture",
            "x86_64",
            "--runtime",
            &runtime,
            "--runtime-interface",
            "builtin",
        ],
    );
    let marker = world.dir().join("ran-by-url");
    let command = python_payload(&marker).to_string();
    let reply = served.request(served.http.post(&served.url).body(command.clone()));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), format!("app got: {command}"));
    assert!(!marker.exists(), "a request to serve's URL ran the command");

    let api = invoke_url(&served.log());
    let run = world
        .cmd(&["invoke", "--local", &api, "--python", "print(40 + 2)"])
        .run()
        .success();
    assert_eq!(run.stdout.trim(), "42");
    // Exit status follows the command's.
    let failed = world
        .cmd(&[
            "invoke",
            "--local",
            &api,
            "--python",
            "import sys; print('bye', file=sys.stderr); sys.exit(3)",
        ])
        .run()
        .failure(3);
    assert!(failed.stderr.contains("bye"), "{}", failed.stderr);
    // Not a Django app: exit 2, nothing ran.
    let not_django = world
        .cmd(&["invoke", "--local", &api, "--manage", "migrate"])
        .run()
        .failure(2);
    assert!(
        not_django.stderr.contains("not a Django app")
            || not_django.stderr.contains("does not run a Django app"),
        "{}",
        not_django.stderr
    );
    // A raw event through the Invoke API is the app's business (a URL-shaped event here).
    let raw = world
        .cmd(&[
            "invoke",
            "--local",
            &api,
            "--event",
            &url_event("POST", "/", "hi").to_string(),
            "--output",
            "json",
        ])
        .run()
        .success()
        .json();
    let result: Value = serde_json::from_str(raw["stdout"].as_str().unwrap()).unwrap();
    assert_eq!(result["body"], "app got: hi", "{raw}");
    assert_eq!(raw["status"], 0);
    served.stop();
}

/// A world whose proxy runs the functions' code.
fn running_world() -> World {
    let world = World::new();
    world.proxy().configure(json!({
        "invoke_mode": "run",
        "enforce_revision_id": true,
        "enforce_code_sha256": true,
    }));
    world
}

fn deploy(world: &World, app: &str, stage: &str, source: &Path, extra: &[&str]) -> Cmd {
    let role = World::exec_role();
    let mut args = vec![
        "deploy",
        "--app",
        app,
        "--stage",
        stage,
        "--source",
        source.to_str().unwrap(),
        "--s3-bucket",
        BUCKET,
        "--execution-role",
        &role,
        "--comment",
        "never",
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    world.cmd(&args)
}

fn invocations(world: &World) -> usize {
    world
        .proxy()
        .log()
        .iter()
        .filter(|e| e["operation"] == "lambda:Invoke")
        .count()
}

#[test]
fn invoke_runs_python_and_events_on_the_deployed_function() {
    let world = running_world();
    let source = echo_source(&world, "echo", "invoke");
    deploy(&world, "echo", "main", &source, &["--timeout", "5"])
        .run()
        .success();

    let out = world
        .cmd(&[
            "invoke",
            "--app",
            "echo",
            "--stage",
            "main",
            "--python",
            "import os; print(os.environ['AWS_LAMBDA_FUNCTION_VERSION'])",
            "--output",
            "json",
        ])
        .run()
        .success()
        .json();
    assert_eq!(out["status"], 0);
    assert_eq!(out["version"], "1");
    assert_eq!(out["stdout"], "1\n");
    assert!(out["duration_ms"].is_u64() && out["stderr"] == "", "{out}");

    // A raw event: the function's result on stdout, the log tail on stderr.
    let raw = world
        .cmd(&[
            "invoke",
            "--app",
            "echo",
            "--stage",
            "main",
            "--event",
            &url_event("POST", "/", "raw").to_string(),
        ])
        .run()
        .success();
    let result: Value = serde_json::from_str(raw.stdout.trim()).unwrap();
    assert_eq!(result["body"], "app got: raw", "{}", raw.stdout);
    assert!(raw.stderr.contains("START RequestId:"), "{}", raw.stderr);

    // A failing command: its status and stderr.
    let failed = world
        .cmd(&[
            "invoke",
            "--app",
            "echo",
            "--stage",
            "main",
            "--python",
            "raise RuntimeError('nope')",
        ])
        .run()
        .failure(1);
    assert!(
        failed.stderr.contains("RuntimeError: nope"),
        "{}",
        failed.stderr
    );

    // The function's timeout: said so, with the flag to change.
    let slow = world
        .cmd(&[
            "invoke",
            "--app",
            "echo",
            "--stage",
            "main",
            "--python",
            "import time; time.sleep(30)",
        ])
        .run()
        .failure(1);
    assert!(
        slow.stderr.contains("5 s function timeout") && slow.stderr.contains("--timeout"),
        "{}",
        slow.stderr
    );

    // The log shows direct Invokes of version 1 only: never through the URL.
    let log = world.proxy().log();
    let invokes: Vec<&Value> = log
        .iter()
        .filter(|e| e["operation"] == "lambda:Invoke")
        .collect();
    assert_eq!(invokes.len(), 4);
    assert!(invokes.iter().all(|e| e["executed_version"] == "1"));
}

#[test]
fn bad_invoke_input_exits_2_and_invokes_nothing() {
    let world = running_world();
    let source = echo_source(&world, "echo", "bad");
    deploy(&world, "echo", "main", &source, &[]).run().success();
    world.proxy().clear_log();

    let base = ["invoke", "--app", "echo", "--stage", "main"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--python", "print(1)", "--manage", "check"],
            "given together",
        ),
        (vec![], "nothing to run"),
        (vec!["--event", "{not json"], "not valid JSON"),
        (vec!["--event", "@/nonexistent/event.json"], "can't read"),
        (vec!["--manage", "migrate 'open"], "unclosed quote"),
        (
            vec!["--python", "print(1)", "--version", "1;2"],
            "--version",
        ),
        (
            vec!["--python", "print(1)", "--version", "9"],
            "no version or alias 9",
        ),
        (
            vec!["--manage", "migrate --noinput"],
            "does not run a Django app",
        ),
    ];
    for (extra, needle) in cases {
        let mut args = base.to_vec();
        args.extend_from_slice(&extra);
        let out = world.cmd(&args).run().failure(2);
        assert!(
            out.all_output().contains(needle),
            "{extra:?}: {}",
            out.stderr
        );
    }
    // A stage that isn't ours, and one that doesn't exist.
    let foreign = world
        .cmd(&[
            "invoke", "--app", "echo", "--stage", "x", "--python", "print(1)",
        ])
        .run()
        .failure(2);
    assert!(
        foreign.stderr.contains("does not exist"),
        "{}",
        foreign.stderr
    );
    // The not-Django check is the function's own answer (one Invoke, nothing run); every
    // other case stopped before Invoke.
    assert_eq!(invocations(&world), 1);
    let writes: Vec<String> = world
        .proxy()
        .operations()
        .into_iter()
        .filter(|o| !o.contains(":Get") && !o.contains(":List") && o != "lambda:Invoke")
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
}

#[test]
fn a_stage_of_another_app_is_refused() {
    let world = running_world();
    let source = echo_source(&world, "echo", "foreign");
    // The function of echo/main, tagged as another app's (as a name clash would find it).
    deploy(&world, "echo", "main", &source, &[]).run().success();
    let arn = world
        .config("echo-main", None)
        .function_arn()
        .unwrap()
        .to_string();
    world
        .block_on(
            world
                .lambda_client()
                .tag_resource()
                .resource(arn)
                .tags("deploy-action:app", "someone-else")
                .send(),
        )
        .unwrap();
    world.proxy().clear_log();
    let out = world
        .cmd(&[
            "invoke", "--app", "echo", "--stage", "main", "--python", "print(1)",
        ])
        .run()
        .failure(2);
    assert!(out.stderr.contains("someone-else"), "{}", out.stderr);
    assert_eq!(invocations(&world), 0);
}

#[test]
fn the_release_command_runs_once_per_version_and_a_failure_keeps_live() {
    let world = running_world();
    let v1 = echo_source(&world, "v1", "one");
    let summary = world.dir().join("step_summary.md");
    let release = [
        "--release-command",
        "python:print('released', __import__('os').environ['AWS_LAMBDA_FUNCTION_VERSION'])",
    ];
    let first = deploy(&world, "rel", "main", &v1, &release).run().success();
    assert!(first.stderr.contains("released 1"), "{}", first.stderr);
    assert_eq!(invocations(&world), 1);
    let tags = world
        .block_on(
            world
                .lambda_client()
                .get_function()
                .function_name("rel-main")
                .send(),
        )
        .unwrap();
    assert_eq!(
        tags.tags()
            .unwrap()
            .get("deploy-action:released")
            .map(String::as_str),
        Some("1")
    );

    // The same deploy again: a no-op, no second run.
    let again = deploy(&world, "rel", "main", &v1, &release)
        .run()
        .success()
        .json();
    assert_eq!(again["changed"], false);
    assert_eq!(invocations(&world), 1);

    // New code whose release command fails: live stays on 1, exit 1, the output is reported.
    let v2 = echo_source(&world, "v2", "two");
    let failed = deploy(
        &world,
        "rel",
        "main",
        &v2,
        &[
            "--release-command",
            "python:import sys; print('migration 7 failed', file=sys.stderr); sys.exit(4)",
        ],
    )
    .env("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())
    .run()
    .failure(1);
    assert!(
        failed.stderr.contains("migration 7 failed"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("release command"),
        "{}",
        failed.stderr
    );
    assert_eq!(world.alias_version("rel-main").as_deref(), Some("1"));
    assert_eq!(invocations(&world), 2);
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.contains("release command failed") && summary.contains("migration 7 failed"),
        "{summary}"
    );
}

#[test]
fn django_fixture_migrates_in_the_release_step_and_answers_invoke_manage() {
    let world = running_world();
    let db = world.dir().join("django.sqlite3");
    let db_env = format!("DJANGO_DB_PATH={}", db.display());
    let out = deploy(
        &world,
        "dj",
        "main",
        &fixture("django-hello"),
        &[
            "--env",
            &db_env,
            "--timeout",
            "60",
            "--release-command",
            "manage migrate --noinput",
        ],
    )
    .run()
    .success();
    assert!(
        out.stderr.contains("Applying notes.0001_initial... OK"),
        "{}",
        out.stderr
    );
    assert!(db.is_file());
    let shown = world
        .cmd(&[
            "invoke",
            "--app",
            "dj",
            "--stage",
            "main",
            "--manage",
            "showmigrations notes",
        ])
        .run()
        .success();
    assert!(
        shown.stdout.contains("[X] 0001_initial"),
        "{}",
        shown.stdout
    );
    // The ORM from --python (the adapter set Django up at import).
    let count = world
        .cmd(&[
            "invoke",
            "--app",
            "dj",
            "--stage",
            "main",
            "--python",
            "from notes.models import Note; Note.objects.create(text='hi'); print(Note.objects.count())",
        ])
        .run()
        .success();
    assert_eq!(count.stdout.trim(), "1");
    // The view, through a function URL event.
    let view = world
        .cmd(&[
            "invoke",
            "--app",
            "dj",
            "--stage",
            "main",
            "--event",
            &url_event("GET", "/", "").to_string(),
        ])
        .run()
        .success();
    let response: Value = serde_json::from_str(view.stdout.trim()).unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, json!({"hello": "django", "notes": 1}));
}

/// Django under `serve`: before the migration the view says the database isn't ready; the
/// migration runs through `invoke --local`; then the view and a static file answer.
fn django_under_serve(extra: &[&str]) {
    // Under qemu on a busy machine, the first import of Django (compiling its bytecode) takes
    // minutes: the function gets Lambda's longest timeout and the client waits as long.
    let patient = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(1800))
        .build()
        .unwrap();
    let world = World::new();
    let db = world.dir().join("django.sqlite3");
    let db_env = format!("DJANGO_DB_PATH={}", db.display());
    let source = fixture("django-hello");
    let mut args = vec![
        "--source",
        source.to_str().unwrap(),
        "--env",
        &db_env,
        "--timeout",
        "900",
    ];
    args.extend_from_slice(extra);
    let served = serve(world.dir(), &args);
    let get = |path: &str| served.request(patient.get(format!("{}{path}", served.url)));
    assert_eq!(get("/").status, 503, "{}", served.log());
    let api = invoke_url(&served.log());
    let migrated = world
        .cmd(&["invoke", "--local", &api, "--manage", "migrate --noinput"])
        .run()
        .success();
    assert!(
        migrated
            .stdout
            .contains("Applying notes.0001_initial... OK"),
        "{}",
        migrated.stdout
    );
    let reply = get("/");
    assert_eq!(reply.status, 200, "{}", served.log());
    assert_eq!(reply.json(), json!({"hello": "django", "notes": 0}));
    let css = get("/static/notes/hello.css");
    assert_eq!(css.status, 200, "{}", served.log());
    assert!(css.text().contains("font-family"));
    served.stop();
}

#[test]
fn django_fixture_serves_on_the_host() {
    let runtime = host_runtime();
    django_under_serve(&[
        "--architecture",
        "x86_64",
        "--runtime",
        &runtime,
        "--runtime-interface",
        "builtin",
    ]);
}

#[test]
fn django_fixture_serves_under_emulated_arm64() {
    django_under_serve(&["--architecture", "arm64"]);
}

#[test]
fn policy_grants_invoke_only_when_asked() {
    let world = World::new();
    let policy = |extra: &[&str]| -> String {
        let mut args = vec![
            "policy",
            "--app",
            "hello",
            "--s3-bucket",
            BUCKET,
            "--repo",
            "octo-org/octo-repo",
            "--account",
            "123456789012",
            "--output",
            "json",
        ];
        args.extend_from_slice(extra);
        world.cmd(&args).run().success().json()["permissions"].to_string()
    };
    assert!(!policy(&[]).contains("lambda:InvokeFunction"));
    assert!(policy(&["--invoke"]).contains("lambda:InvokeFunction"));
}
