//! The generated IAM policy is sufficient and tight: every AWS operation that real runs make
//! (deploys, a canary, a rollback, a promote, a status, a teardown, an OIDC sign-in),
//! recorded by the fault proxy, is allowed by it, and it allows no action those runs did
//! not need. The trust policy admits the OIDC token the runs used and nothing broader.
//!
//! The evaluator is small and independent of the product's code: IAM action and resource
//! matching with `*`/`?` wildcards, Allow statements only, and the conditions the policy
//! uses: `iam:PassedToService`, `aws:ResourceTag/...` (the function's tags),
//! `aws:RequestTag/...` and `aws:TagKeys` (the tags a request sets), with `StringEquals`,
//! `StringLike`, `Null` and the `ForAllValues:` set operator. What each operation needs besides its
//! own action follows AWS's documentation: GetFunction of a tagged function also needs
//! lambda:ListTags, CreateFunction with tags lambda:TagResource, passing a role
//! iam:PassRole, and Lambda reads code from S3 with the caller's s3:GetObject.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::ops::{deploy, strict_world};
use crate::support::{ACCOUNT, BUCKET, REGION, World};

const DEPLOY_ROLE: &str = "arn:aws:iam::123456789012:role/deploy-action-hello";
const OIDC_REQUEST: &str = "oidc-request-token-for-policy-tests-SECRET";

/// A fake GitHub that mints ID tokens with GitHub's claims (`sub`, `aud`, ...), unlike the
/// harness's, which hands out one fixed token: the trust policy is checked against the
/// claims of the token a run really used.
struct TokenMinter {
    child: std::process::Child,
    port: u16,
}

impl TokenMinter {
    fn start(world: &World) -> TokenMinter {
        use std::io::BufRead as _;
        let python =
            std::env::var("DEPLOY_ACTION_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let log = std::fs::File::create(world.dir().join("minter.log")).unwrap();
        let mut child = std::process::Command::new(python)
            .arg(crate::support::root().join("tests/support/fake_github.py"))
            .args([
                "--port",
                "0",
                "--token",
                "unused-github-token",
                "--oidc-request-token",
                OIDC_REQUEST,
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().strip_prefix("PORT ").unwrap().parse().unwrap();
        TokenMinter { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn claims(&self, claims: Value) {
        let resp = reqwest::blocking::Client::new()
            .post(format!("{}/__fake/config", self.url()))
            .json(&json!({"oidc_claims": claims}))
            .send()
            .unwrap();
        assert!(resp.status().is_success());
    }

    /// The tokens handed out, oldest first.
    fn tokens(&self) -> Vec<Value> {
        let state: Value = reqwest::blocking::get(format!("{}/__fake/state", self.url()))
            .unwrap()
            .json()
            .unwrap();
        state["oidc_requests"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Let `cmd` sign in with a token from here.
    fn sign_in(&self, cmd: crate::support::Cmd) -> crate::support::Cmd {
        cmd.env(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{}/_apis/oidc/token?api-version=2.0", self.url()),
        )
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", OIDC_REQUEST)
    }
}

impl Drop for TokenMinter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The token must not appear in what a run printed (but in `::add-mask::`, which the
/// runner consumes).
#[track_caller]
fn assert_no_token(out: &crate::support::RunResult, token: &str) {
    let shown = out.all_output();
    assert!(
        !shown
            .lines()
            .filter(|l| !l.starts_with("::add-mask::"))
            .any(|l| l.contains(token)),
        "the ID token leaked into the output:\n{shown}"
    );
}

/// `*` and `?` wildcards, as IAM matches actions (case-insensitively) and resources.
fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if ignore_case {
        (
            pattern.to_lowercase().chars().collect(),
            text.to_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    // Classic two-pointer wildcard match with backtracking to the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// One permission a request needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Need {
    action: String,
    resource: String,
    /// `iam:PassedToService` for iam:PassRole.
    passed_to: Option<String>,
    /// The tags of the function acted on (`aws:ResourceTag`), when it has any.
    resource_tags: BTreeMap<String, String>,
    /// The tags the request sets (`aws:RequestTag`, `aws:TagKeys`).
    request_tags: BTreeMap<String, String>,
    /// `s3:prefix` of a bucket listing.
    s3_prefix: Option<String>,
    /// The operation that needed it (for messages).
    why: String,
}

/// Whether the identity policy allows `need`.
fn allows(policy: &Value, need: &Need) -> bool {
    policy["Statement"].as_array().unwrap().iter().any(|st| {
        st["Effect"] == "Allow"
            && strings(&st["Action"])
                .iter()
                .any(|a| glob(a, &need.action, true))
            && strings(&st["Resource"])
                .iter()
                .any(|r| glob(r, &need.resource, false))
            && conditions_hold(&st["Condition"], need)
    })
}

/// The values of a condition key in the request context (none: the key is absent).
fn context_values(key: &str, need: &Need) -> Vec<String> {
    if key == "iam:PassedToService" {
        return need.passed_to.iter().cloned().collect();
    }
    if let Some(tag) = key.strip_prefix("aws:ResourceTag/") {
        return need.resource_tags.get(tag).cloned().into_iter().collect();
    }
    if let Some(tag) = key.strip_prefix("aws:RequestTag/") {
        return need.request_tags.get(tag).cloned().into_iter().collect();
    }
    if key == "aws:TagKeys" {
        return need.request_tags.keys().cloned().collect();
    }
    if key == "s3:prefix" {
        return need.s3_prefix.iter().cloned().collect();
    }
    panic!("unexpected condition key {key}")
}

fn conditions_hold(condition: &Value, need: &Need) -> bool {
    let Some(ops) = condition.as_object() else {
        return true;
    };
    ops.iter().all(|(op, keys)| {
        keys.as_object().unwrap().iter().all(|(key, want)| {
            let got = context_values(key, need);
            let values = strings(want);
            let matches = |op: &str, g: &String| match op {
                "StringEquals" => values.iter().any(|v| v == g),
                "StringLike" => values.iter().any(|v| glob(v, g, false)),
                other => panic!("unexpected condition operator {other}"),
            };
            match op.split_once(':') {
                // Every value in the request matches (true for none, as in IAM).
                Some(("ForAllValues", inner)) => got.iter().all(|g| matches(inner, g)),
                Some(("ForAnyValue", inner)) => got.iter().any(|g| matches(inner, g)),
                _ if op == "Null" => {
                    let absent = got.is_empty();
                    values.iter().any(|v| (v == "true") == absent)
                }
                // A single-valued key: a missing key fails the condition (IAM).
                _ => got.first().is_some_and(|g| matches(op, g)),
            }
        })
    })
}

fn function_arn(name: &str, qualifier: Option<&str>) -> String {
    let base = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}");
    match qualifier {
        Some(q) if q != "$LATEST" => format!("{base}:{q}"),
        _ => base,
    }
}

fn tag_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// What one logged request needs from the deploy role's permissions. `tags` are the tags of
/// the functions the runs touched (all made by the runs, so all the app's).
fn needs(entry: &Value, tags: &BTreeMap<String, String>) -> Vec<Need> {
    let op = entry["operation"].as_str().unwrap_or_default();
    let action = entry["iam_action"].as_str().unwrap_or_default().to_string();
    let req = &entry["request"];
    // CreateFunction acts on a function that has no tags yet and sets them.
    let (resource_tags, request_tags) = match op {
        "lambda:CreateFunction" => (BTreeMap::new(), tag_map(&req["Tags"])),
        "lambda:TagResource" => (tags.clone(), tag_map(&req["Tags"])),
        _ => (tags.clone(), BTreeMap::new()),
    };
    let mut out = Vec::new();
    let mut need = |action: &str, resource: String, passed_to: Option<&str>| {
        out.push(Need {
            action: action.to_string(),
            resource,
            passed_to: passed_to.map(String::from),
            resource_tags: resource_tags.clone(),
            request_tags: request_tags.clone(),
            s3_prefix: entry["query"]["prefix"].as_str().map(String::from),
            why: op.to_string(),
        });
    };
    match entry["service"].as_str() {
        Some("lambda") => {
            let function = entry["function"].as_str().unwrap_or_default();
            let qualifier = entry["qualifier"].as_str();
            if op == "lambda:ListFunctions" || op == "lambda:GetAccountSettings" {
                need(&action, "*".into(), None);
                return out;
            }
            need(&action, function_arn(function, qualifier), None);
            if op == "lambda:GetFunction" {
                need("lambda:ListTags", function_arn(function, None), None);
            }
            if op == "lambda:CreateFunction"
                && req["Tags"].as_object().is_some_and(|t| !t.is_empty())
            {
                need("lambda:TagResource", function_arn(function, None), None);
            }
            if let Some(role) = req["Role"].as_str() {
                need(
                    "iam:PassRole",
                    role.to_string(),
                    Some("lambda.amazonaws.com"),
                );
            }
            let code = if op == "lambda:CreateFunction" {
                &req["Code"]
            } else {
                req
            };
            if let (Some(b), Some(k)) = (code["S3Bucket"].as_str(), code["S3Key"].as_str()) {
                need("s3:GetObject", format!("arn:aws:s3:::{b}/{k}"), None);
            }
        }
        // HeadBucket is read for its region header, which S3 sends even when it denies it.
        Some("s3") if op == "s3:HeadBucket" => {}
        Some("s3") => {
            let resource = entry["resource"].as_str().unwrap_or_default();
            need(&action, format!("arn:aws:s3:::{resource}"), None);
        }
        // The function's log group (production settings): by name; DescribeLogGroups is
        // scoped to the account's groups.
        Some("logs") => {
            let params = &entry["params"];
            match params["logGroupName"].as_str() {
                Some(group) => {
                    let arn = format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}");
                    need(&action, arn.clone(), None);
                    if op == "logs:CreateLogGroup"
                        && params["tags"].as_object().is_some_and(|t| !t.is_empty())
                    {
                        need("logs:TagResource", arn.clone(), None);
                        need("logs:TagLogGroup", arn, None);
                    }
                }
                None => need(
                    &action,
                    format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*"),
                    None,
                ),
            }
        }
        // Schedules: EventBridge rules by name; tags on create.
        Some("events") => {
            let params = &entry["params"];
            let rule = params["Name"]
                .as_str()
                .or(params["Rule"].as_str())
                .unwrap_or_default();
            let arn = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}");
            need(&action, arn.clone(), None);
            if op == "events:PutRule" && params["Tags"].as_array().is_some_and(|t| !t.is_empty()) {
                need("events:TagResource", arn, None);
            }
        }
        // `cost` reads CloudWatch metrics (GetMetricData has no resource types).
        Some("monitoring") => {
            assert_eq!(op, "monitoring:GetMetricData", "{entry}");
            need("cloudwatch:GetMetricData", "*".into(), None);
        }
        // `status` lists the app's stages by tag (IAM can't scope GetResources).
        Some("tagging") => {
            assert_eq!(op, "tagging:GetResources", "{entry}");
            need("tag:GetResources", "*".into(), None);
        }
        // AssumeRoleWithWebIdentity is unsigned: the trust policy decides (checked apart).
        Some("sts") => assert_eq!(op, "sts:AssumeRoleWithWebIdentity", "{entry}"),
        other => panic!("unexpected service {other:?}: {entry}"),
    }
    out
}

/// The claims of a JWT (unverified: the fake signs nothing).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Whether the trust policy lets a web identity with these claims assume the role.
fn trusts(trust: &Value, claims: &Value) -> bool {
    trust["Statement"].as_array().unwrap().iter().any(|st| {
        st["Effect"] == "Allow"
            && st["Action"] == "sts:AssumeRoleWithWebIdentity"
            && st["Principal"]["Federated"]
                == format!(
                    "arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
                )
            && st["Condition"]
                .as_object()
                .unwrap()
                .iter()
                .all(|(op, keys)| {
                    keys.as_object().unwrap().iter().all(|(key, want)| {
                        let claim = key
                            .strip_prefix("token.actions.githubusercontent.com:")
                            .expect("GitHub's claims only");
                        let got = claims[claim].as_str().unwrap_or_default();
                        let values = strings(want);
                        match op.as_str() {
                            "StringEquals" => values.iter().any(|v| v == got),
                            "StringLike" => values.iter().any(|v| glob(v, got, false)),
                            other => panic!("unexpected operator {other}"),
                        }
                    })
                })
    })
}

fn policy_json(world: &World, extra: &[&str]) -> Value {
    let role = World::exec_role();
    let mut args = vec![
        "policy",
        "--app",
        "hello",
        "--s3-bucket",
        BUCKET,
        "--repo",
        "octo-org/octo-repo",
        "--execution-role",
        &role,
        "--region",
        REGION,
        "--branch",
        "main",
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    world.cmd(&args).run().success().json()
}

fn push_payload(world: &World, ids: bool) -> std::path::PathBuf {
    let mut repository = json!({"full_name": "octo-org/octo-repo", "name": "octo-repo",
                                "owner": {"login": "octo-org"}});
    if ids {
        repository["id"] = json!(456_789);
        repository["owner"]["id"] = json!(123_456);
    }
    let payload = json!({
        "ref": "refs/heads/main",
        "before": "0000000000000000000000000000000000000000",
        "after": "0123456789abcdef0123456789abcdef01234567",
        "deleted": false,
        "repository": repository,
    });
    let path = world
        .dir()
        .join(if ids { "push-ids.json" } else { "push.json" });
    std::fs::write(&path, payload.to_string()).unwrap();
    path
}

#[test]
fn the_evaluator_matches_like_iam() {
    assert!(glob("lambda:*", "lambda:GetFunction", true));
    assert!(glob("Lambda:getfunction", "lambda:GetFunction", true));
    assert!(glob(
        "arn:aws:lambda:*:1:function:hello-*",
        "arn:aws:lambda:us-east-1:1:function:hello-main:live",
        false
    ));
    assert!(!glob(
        "arn:aws:lambda:*:1:function:hello-*",
        "arn:aws:lambda:us-east-1:1:function:other-main",
        false
    ));
    assert!(!glob(
        "arn:aws:s3:::b/p/hello/*.zip",
        "arn:aws:s3:::b/p/other/x.zip",
        false
    ));
    assert!(glob("a?c", "abc", false) && !glob("a?c", "ac", false));
    let policy = json!({"Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:r",
        "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}]});
    let pass = |to: Option<&str>| Need {
        action: "iam:PassRole".into(),
        resource: "arn:r".into(),
        passed_to: to.map(String::from),
        resource_tags: BTreeMap::new(),
        request_tags: BTreeMap::new(),
        s3_prefix: None,
        why: String::new(),
    };
    assert!(allows(&policy, &pass(Some("lambda.amazonaws.com"))));
    assert!(!allows(&policy, &pass(Some("ec2.amazonaws.com"))));
    assert!(!allows(&policy, &pass(None)));
}

/// Deploys (create, code + configuration update, URL auth changes, URL removal and
/// re-creation, pruning), a canary, a rollback, a promote to a new stage, status, a
/// teardown, and an OIDC sign-in, all through the proxy. Then: everything they did is
/// allowed, and the policy allows nothing they didn't do.
#[test]
fn the_policy_allows_every_recorded_operation_and_nothing_else() {
    let world = strict_world();
    let minter = TokenMinter::start(&world);
    let role = World::exec_role();
    let v1 = world.python_app("v1", "one");
    let v2 = world.python_app("v2", "two");
    let v3 = world.python_app("v3", "three");

    // 1. Create, signed in through GitHub OIDC (AssumeRoleWithWebIdentity).
    let push = push_payload(&world, false);
    let signed_in = minter
        .sign_in(
            world
                .cmd(&[
                    "deploy",
                    "--app",
                    "hello",
                    "--stage",
                    "main",
                    "--artifact",
                    v1.to_str().unwrap(),
                    "--handler",
                    "app.handler",
                    "--s3-bucket",
                    BUCKET,
                    "--execution-role",
                    &role,
                    "--role-to-assume",
                    DEPLOY_ROLE,
                    "--comment",
                    "never",
                ])
                .github_event("push", &push, 100),
        )
        .run()
        .success();
    // 2. New code and configuration drift, with reserved concurrency, a schedule and SnapStart
    // (which reads provisioned concurrency first; all dropped in 3).
    deploy(
        &world,
        "main",
        &v2,
        &[
            "--memory",
            "1024",
            "--reserved-concurrency",
            "2",
            "--schedule",
            "nightly=rate(1 day)=app:handler",
            "--snapstart",
        ],
        101,
    );
    // 3-5. URL auth type changed, URL removed, URL and permissions re-created.
    deploy(
        &world,
        "main",
        &v2,
        &["--memory", "1024", "--function-url", "iam"],
        102,
    );
    deploy(
        &world,
        "main",
        &v2,
        &["--memory", "1024", "--function-url", "none"],
        103,
    );
    deploy(&world, "main", &v2, &["--memory", "1024"], 104);
    // 6. A canary with a smoke check, pruning old versions.
    deploy(
        &world,
        "main",
        &v3,
        &[
            "--memory",
            "1024",
            "--canary",
            "10",
            "--canary-minutes",
            "0",
            "--keep-versions",
            "2",
        ],
        105,
    );
    // 7. Rollback.
    world
        .cmd(&["rollback", "--app", "hello", "--stage", "main"])
        .run()
        .success();
    // 8. Promote a preview to a new stage.
    deploy(&world, "pr-7", &v1, &[], 106);
    world
        .cmd(&[
            "promote",
            "--app",
            "hello",
            "--from",
            "pr-7",
            "--to",
            "staging",
            "--s3-bucket",
            BUCKET,
            "--execution-role",
            &role,
        ])
        .run()
        .success();
    // 9. Status of every stage.
    world.cmd(&["status", "--app", "hello"]).run().success();
    // 10. Teardown.
    world
        .cmd(&["teardown", "--app", "hello", "--stage", "pr-7"])
        .run()
        .success();

    let log = world.proxy().log();
    assert!(
        log.iter()
            .all(|e| e["status"].as_u64().is_some_and(|s| s < 500)),
        "no server errors"
    );
    let ours = BTreeMap::from([("deploy-action:app".to_string(), "hello".to_string())]);
    let required: Vec<Need> = log.iter().flat_map(|e| needs(e, &ours)).collect();

    // The canary's smoke check invokes the function: that needs --invoke.
    let report = policy_json(&world, &["--invoke"]);
    let permissions = &report["permissions"];

    // Sufficient.
    let denied: BTreeSet<String> = required
        .iter()
        .filter(|n| !allows(permissions, n))
        .map(|n| format!("{} on {} (for {})", n.action, n.resource, n.why))
        .collect();
    assert!(
        denied.is_empty(),
        "the policy denies what the runs did:\n{denied:#?}\npolicy: {permissions:#}"
    );

    // Tight: every action it grants was needed, and none is a wildcard.
    let used: BTreeSet<String> = required.iter().map(|n| n.action.clone()).collect();
    let granted: BTreeSet<String> = permissions["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| strings(&s["Action"]))
        .collect();
    assert!(
        granted.iter().all(|a| !a.contains('*') && !a.contains('?')),
        "{granted:?}"
    );
    // Only a failed multipart upload of a big artifact aborts it (multipart.rs records that);
    // the runs here upload small artifacts that succeed.
    let failure_only = ["s3:AbortMultipartUpload".to_string()];
    let unused: Vec<&String> = granted
        .difference(&used)
        .filter(|a| !failure_only.contains(a))
        .collect();
    assert!(
        unused.is_empty(),
        "granted but never used by the recorded runs: {unused:?}"
    );

    // Nothing on `*` but the stage listing; S3 only on the app's artifacts.
    for st in permissions["Statement"].as_array().unwrap() {
        let resources = strings(&st["Resource"]);
        let actions = strings(&st["Action"]);
        if resources.iter().any(|r| r == "*") {
            assert_eq!(
                actions,
                vec!["lambda:GetAccountSettings", "tag:GetResources"],
                "{st}"
            );
        }
        if actions.iter().any(|a| a.starts_with("s3:")) {
            assert_eq!(
                resources,
                vec!["arn:aws:s3:::artifacts/deploy-action/hello/*.zip"],
                "{st}"
            );
        }
        if actions
            .iter()
            .any(|a| a.starts_with("lambda:") && a != "lambda:GetAccountSettings")
        {
            assert!(
                resources.iter().all(|r| r.contains(":function:hello-")),
                "{st}"
            );
        }
    }
    // Other apps' functions and artifacts are out of reach.
    for (action, resource) in [
        (
            "lambda:UpdateFunctionCode",
            function_arn("other-main", None),
        ),
        (
            "lambda:DeleteFunction",
            function_arn("other-main", Some("live")),
        ),
        (
            "s3:PutObject",
            "arn:aws:s3:::artifacts/deploy-action/other/x.zip".to_string(),
        ),
        (
            "s3:GetObject",
            "arn:aws:s3:::other-bucket/deploy-action/hello/x.zip".to_string(),
        ),
        (
            "iam:PassRole",
            "arn:aws:iam::123456789012:role/admin".to_string(),
        ),
        ("lambda:GetFunction", "*".to_string()),
    ] {
        let need = Need {
            action: action.into(),
            resource: resource.clone(),
            passed_to: Some("lambda.amazonaws.com".into()),
            resource_tags: ours.clone(),
            request_tags: BTreeMap::new(),
            s3_prefix: None,
            why: "probe".into(),
        };
        assert!(
            !allows(permissions, &need),
            "{action} on {resource} must be denied"
        );
    }

    // The trust policy admitted the token that was used, for this role.
    let sts: Vec<&Value> = log
        .iter()
        .filter(|e| e["operation"] == "sts:AssumeRoleWithWebIdentity")
        .collect();
    assert_eq!(sts.len(), 1, "one OIDC sign-in");
    assert_eq!(sts[0]["params"]["RoleArn"], DEPLOY_ROLE);
    let oidc = minter.tokens();
    assert_eq!(oidc.len(), 1);
    let token = oidc[0]["token"].as_str().unwrap();
    assert_no_token(&signed_in, token);
    assert_eq!(
        sts[0]["params"]["WebIdentityToken_sha256"],
        oidc[0]["token_sha256"]
    );
    let used_claims = claims(token);
    assert!(
        trusts(&report["trust"], &used_claims),
        "{} vs {used_claims}",
        report["trust"]
    );
    for (claim, value) in [
        ("sub", "repo:octo-org/other-repo:ref:refs/heads/main"),
        ("sub", "repo:octo-org/octo-repo:ref:refs/heads/dev"),
        ("sub", "repo:octo-org/octo-repo:pull_request"),
        ("sub", "repo:evil/octo-repo:ref:refs/heads/main"),
        ("aud", "https://github.com/octo-org"),
    ] {
        let mut other = used_claims.clone();
        other[claim] = json!(value);
        assert!(
            !trusts(&report["trust"], &other),
            "{claim}={value} must not be trusted"
        );
    }
}

/// Inside Actions, `policy` reads the numeric ids from the event and writes GitHub's
/// immutable subject, which matches the token GitHub issues to such a repository.
#[test]
fn the_immutable_subject_comes_from_the_event_and_matches_the_token() {
    let world = strict_world();
    let minter = TokenMinter::start(&world);
    minter.claims(json!({"sub": "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main"}));
    let push = push_payload(&world, true);
    let role = World::exec_role();
    let report = world
        .cmd(&[
            "policy",
            "--app",
            "hello",
            "--s3-bucket",
            BUCKET,
            "--execution-role",
            &role,
            "--branch",
            "main",
            "--output",
            "json",
        ])
        .github_event("push", &push, 7)
        .run()
        .success()
        .json();
    let sub = &report["trust"]["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"];
    assert_eq!(
        sub,
        "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main"
    );

    // A real sign-in with that token.
    let signed_in = minter
        .sign_in(
            world
                .cmd(&["status", "--app", "hello", "--role-to-assume", DEPLOY_ROLE])
                .github_event("push", &push, 8),
        )
        .run()
        .success();
    let token = minter.tokens()[0]["token"].as_str().unwrap().to_string();
    assert_no_token(&signed_in, &token);
    assert!(trusts(&report["trust"], &claims(&token)));
    // The name form would not match it.
    let name_form = policy_json(&world, &[]);
    assert!(!trusts(&name_form["trust"], &claims(&token)));
    assert!(
        name_form["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("--owner-id")),
        "{name_form}"
    );
}

#[test]
fn the_policy_output_is_stable() {
    let world = World::new();
    let report = policy_json(
        &world,
        &[
            "--invoke",
            "--pull-request",
            "--owner-id",
            "123456",
            "--repo-id",
            "456789",
        ],
    );
    insta::assert_json_snapshot!("policy_json", report);
    // `--operate`: what `logs`, `cost` and `gc` need, scoped as far as IAM allows.
    let operate = policy_json(
        &world,
        &["--operate", "--owner-id", "123456", "--repo-id", "456789"],
    );
    insta::assert_json_snapshot!("policy_operate_permissions", operate["permissions"]);
    let text = world
        .cmd(&[
            "policy",
            "--app",
            "hello",
            "--s3-bucket",
            BUCKET,
            "--repo",
            "octo-org/octo-repo",
            "--account",
            ACCOUNT,
        ])
        .run()
        .success()
        .stdout;
    let commands: Vec<&str> = text.lines().filter(|l| l.starts_with("aws iam ")).collect();
    assert_eq!(
        commands,
        vec![
            "aws iam create-role --role-name deploy-action-hello --assume-role-policy-document file://trust.json",
            "aws iam put-role-policy --role-name deploy-action-hello --policy-name deploy-action-hello --policy-document file://policy.json",
        ]
    );
    // The two documents in the text are the JSON ones.
    assert!(text.contains("\"tag:GetResources\""), "{text}");
    assert!(
        !text.contains("iam:PassRole"),
        "no execution role, no PassRole: {text}"
    );

    // Bad input: exit 2 before anything else.
    for (args, needle) in [
        (
            vec![
                "policy",
                "--app",
                "hello",
                "--s3-bucket",
                BUCKET,
                "--repo",
                "octo-org/*",
                "--account",
                ACCOUNT,
            ],
            "--repo",
        ),
        (
            vec![
                "policy",
                "--app",
                "hello",
                "--s3-bucket",
                BUCKET,
                "--repo",
                "octo-org/octo-repo",
            ],
            "--account",
        ),
        (
            vec![
                "policy",
                "--s3-bucket",
                BUCKET,
                "--repo",
                "octo-org/octo-repo",
                "--account",
                ACCOUNT,
            ],
            "--app",
        ),
    ] {
        let out = world.cmd(&args).run().failure(2);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    }
}

/// `function:hello-*` also names app `hello-world`'s functions (`hello-world-main`): the
/// tag conditions keep a role for `hello` from changing, deleting or claiming them, while
/// it still reads them (to report the collision), adopts untagged functions, and creates
/// only functions tagged as its own.
#[test]
fn a_role_for_one_app_cannot_change_another_apps_functions_by_name() {
    let world = World::new();
    let permissions = policy_json(&world, &["--invoke"])["permissions"].clone();
    let tags = |app: Option<&str>| -> BTreeMap<String, String> {
        app.map(|a| {
            BTreeMap::from([
                ("deploy-action:app".to_string(), a.to_string()),
                ("deploy-action:stage".to_string(), "main".to_string()),
            ])
        })
        .unwrap_or_default()
    };
    let check = |action: &str,
                 function: &str,
                 qualifier: Option<&str>,
                 on: Option<&str>,
                 sets: Option<&str>| {
        allows(
            &permissions,
            &Need {
                action: action.into(),
                resource: function_arn(function, qualifier),
                passed_to: None,
                resource_tags: tags(on),
                request_tags: tags(sets),
                s3_prefix: None,
                why: "probe".into(),
            },
        )
    };
    let theirs = Some("hello-world");
    for (action, qualifier) in [
        ("lambda:DeleteFunction", None),
        ("lambda:UpdateFunctionCode", None),
        ("lambda:UpdateFunctionConfiguration", None),
        ("lambda:PublishVersion", None),
        ("lambda:UpdateAlias", Some("live")),
        ("lambda:AddPermission", Some("live")),
        ("lambda:DeleteFunctionUrlConfig", Some("live")),
        ("lambda:InvokeFunction", Some("live")),
    ] {
        assert!(
            !check(action, "hello-world-main", qualifier, theirs, None),
            "{action} on app hello-world's function must be denied"
        );
        assert!(
            check(action, "hello-main", qualifier, Some("hello"), None),
            "{action} on our own function must be allowed"
        );
    }
    // Reading theirs is fine: that is how the collision is found and reported.
    assert!(check(
        "lambda:GetFunction",
        "hello-world-main",
        None,
        theirs,
        None
    ));
    assert!(check(
        "lambda:ListTags",
        "hello-world-main",
        None,
        theirs,
        None
    ));
    // Claiming theirs is not; adopting an untagged one is, but only as ours.
    assert!(!check(
        "lambda:TagResource",
        "hello-world-main",
        None,
        theirs,
        Some("hello")
    ));
    assert!(check(
        "lambda:TagResource",
        "hello-legacy",
        None,
        None,
        Some("hello")
    ));
    assert!(!check(
        "lambda:TagResource",
        "hello-legacy",
        None,
        None,
        Some("other")
    ));
    // Creating: only with our tag, and only deploy-action's tag keys.
    assert!(check(
        "lambda:CreateFunction",
        "hello-new",
        None,
        None,
        Some("hello")
    ));
    assert!(!check(
        "lambda:CreateFunction",
        "hello-new",
        None,
        None,
        Some("hello-world")
    ));
    assert!(!check(
        "lambda:CreateFunction",
        "hello-new",
        None,
        None,
        None
    ));
    let mut extra = tags(Some("hello"));
    extra.insert("owner".into(), "me".into());
    assert!(!allows(
        &permissions,
        &Need {
            action: "lambda:CreateFunction".into(),
            resource: function_arn("hello-new", None),
            passed_to: None,
            resource_tags: BTreeMap::new(),
            request_tags: extra,
            s3_prefix: None,
            why: "probe".into(),
        }
    ));
}

/// `--kms-key`: the role may make data keys and decrypt under the bucket's key, and only that
/// key; the notes say who needs what (Lambda reads the code with the deploy role's rights).
#[test]
fn a_kms_key_adds_the_key_actions_on_that_key_only() {
    let world = World::new();
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let report = policy_json(&world, &["--kms-key", key]);
    let statements = report["permissions"]["Statement"].as_array().unwrap();
    let kms: Vec<&Value> = statements
        .iter()
        .filter(|s| strings(&s["Action"]).iter().any(|a| a.starts_with("kms:")))
        .collect();
    assert_eq!(kms.len(), 1, "{statements:?}");
    assert_eq!(
        strings(&kms[0]["Action"]),
        vec!["kms:Decrypt", "kms:GenerateDataKey"]
    );
    assert_eq!(kms[0]["Resource"], key);
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("with the deploy role's own permissions"),
        "{notes}"
    );
    // Without the flag: no KMS action, and a note on when to pass it.
    let plain = policy_json(&world, &[]);
    assert!(!plain["permissions"].to_string().contains("kms:"));
    assert!(plain["notes"].to_string().contains("--kms-key"));
    // An alias or a malformed ARN is bad input.
    for bad in [
        "alias/artifacts",
        "arn:aws:kms:us-east-1:123456789012:alias/artifacts",
    ] {
        let out = world
            .cmd(&[
                "policy",
                "--app",
                "hello",
                "--s3-bucket",
                BUCKET,
                "--repo",
                "octo-org/octo-repo",
                "--account",
                ACCOUNT,
                "--kms-key",
                bad,
            ])
            .run()
            .failure(2);
        assert!(out.stderr.contains("--kms-key"), "{}", out.stderr);
    }
}

/// `logs`, `cost` and `gc` with the `--operate` policy: every request they make is allowed.
#[test]
fn the_operate_policy_allows_what_logs_cost_and_gc_do() {
    let world = World::new();
    let app = world.python_app("v1", "one");
    deploy(&world, "main", &app, &[], 1);
    let config = world.observer_config();
    // A log event of the stage, and an artifact of the app that no version uses.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let group = "/aws/lambda/hello-main";
    let _ = world.block_on(logs.create_log_group().log_group_name(group).send());
    let _ = world.block_on(
        logs.create_log_stream()
            .log_group_name(group)
            .log_stream_name("s")
            .send(),
    );
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    world
        .block_on(
            logs.put_log_events()
                .log_group_name(group)
                .log_stream_name("s")
                .log_events(
                    aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                        .timestamp(now - 1000)
                        .message("hello")
                        .build()
                        .unwrap(),
                )
                .send(),
        )
        .expect("put log events");
    let unused = format!("deploy-action/hello/{}.zip", "ab".repeat(32));
    world
        .block_on(
            world
                .s3_client()
                .put_object()
                .bucket(BUCKET)
                .key(&unused)
                .body(b"old".to_vec().into())
                .send(),
        )
        .expect("put object");
    world.proxy().clear_log();
    let printed = world
        .cmd(&["logs", "--app", "hello", "--stage", "main"])
        .run()
        .success();
    assert!(printed.stdout.contains("hello"), "{}", printed.stdout);
    world
        .cmd(&["cost", "--app", "hello", "--s3-bucket", BUCKET])
        .run()
        .success();
    let gc = world
        .cmd(&[
            "gc",
            "--app",
            "hello",
            "--s3-bucket",
            BUCKET,
            "--output",
            "json",
        ])
        .env_remove("GITHUB_TOKEN")
        .env("DEPLOY_ACTION_TEST_ARTIFACT_GRACE_S", "0")
        .run()
        .success();
    assert!(gc.stdout.contains(&unused), "{}", gc.stdout);
    let log = world.proxy().log();
    let ops: BTreeSet<&str> = log.iter().filter_map(|e| e["operation"].as_str()).collect();
    for want in [
        "logs:FilterLogEvents",
        "monitoring:GetMetricData",
        "s3:ListObjectsV2",
        "s3:DeleteObject",
        "tagging:GetResources",
    ] {
        assert!(ops.contains(want), "{want} not made: {ops:?}");
    }
    let tags: BTreeMap<String, String> = [
        ("deploy-action:app".to_string(), "hello".to_string()),
        ("deploy-action:stage".to_string(), "main".to_string()),
    ]
    .into();
    let with = policy_json(&world, &["--operate"])["permissions"].clone();
    let without = policy_json(&world, &[])["permissions"].clone();
    let mut refused_without = BTreeSet::new();
    for entry in &log {
        for need in needs(entry, &tags) {
            assert!(allows(&with, &need), "--operate does not allow {need:?}");
            if !allows(&without, &need) {
                refused_without.insert(need.action.clone());
            }
        }
    }
    // Without --operate the role can do none of the new reads and deletes.
    assert_eq!(
        refused_without,
        [
            "cloudwatch:GetMetricData",
            "logs:FilterLogEvents",
            "s3:DeleteObject",
            "s3:ListBucket"
        ]
        .into_iter()
        .map(String::from)
        .collect::<BTreeSet<_>>()
    );
}
