//! Custom domains (issue 16) against moto + the fault proxy: the HTTP API, domain name,
//! mapping, certificate and Route 53 records of a first deploy; a redeploy that writes
//! nothing; drift put back; previews with a template; teardown (certificate and zone kept);
//! manual DNS; `--create-certificate`; bad input with zero AWS writes; and the Python adapter
//! answering HTTP API events for the Flask, FastAPI and Sanic fixtures.
//!
//! Certificates: moto's RequestCertificate stays PENDING_VALIDATION (the proxy issues it once
//! its validation CNAME is in a zone, as ACM does); an imported self-signed certificate, made
//! here with `cryptography` (a dependency of moto), is ISSUED at once.

use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine;
use serde_json::{Value, json};

use crate::support::{ACCOUNT, BUCKET, REGION, World, fixture, host_env};

fn python() -> String {
    std::env::var("DEPLOY_ACTION_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Set-up straight at moto (not through the proxy, so the proxy's log holds only the
/// binary's requests): hosted zones, imported (ISSUED) certificates, requested (pending) ones,
/// foreign APIs. Prints one JSON object.
const SETUP: &str = r#"
import datetime, json, sys
import boto3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

endpoint, spec = sys.argv[1], json.loads(sys.argv[2])
kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t",
          aws_secret_access_key="t")
out = {"zones": {}, "certs": {}, "pending": {}, "apis": {}}
r53 = boto3.client("route53", **kw)
for name in spec.get("zones", []):
    z = r53.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]
    out["zones"][name] = z["Id"].split("/")[-1]
for names in spec.get("certs", []):
    region = "us-east-1"
    if names[0].startswith("@"):
        region, names = names[0][1:], names[1:]
    acm = boto3.client("acm", **{**kw, "region_name": region})
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    arn = acm.import_certificate(
        Certificate=cert.public_bytes(serialization.Encoding.PEM),
        PrivateKey=key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))["CertificateArn"]
    out["certs"][names[0]] = arn
for name in spec.get("pending", []):
    acm = boto3.client("acm", **kw)
    out["pending"][name] = acm.request_certificate(
        DomainName=name, ValidationMethod="DNS")["CertificateArn"]
gw = boto3.client("apigatewayv2", **kw)
for domain, cert_name in spec.get("foreign", {}).items():
    api = gw.create_api(Name="someone-else", ProtocolType="HTTP")
    gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    gw.create_domain_name(DomainName=domain, DomainNameConfigurations=[{
        "CertificateArn": out["certs"][cert_name], "EndpointType": "REGIONAL",
        "SecurityPolicy": "TLS_1_2"}])
    gw.create_api_mapping(ApiId=api["ApiId"], DomainName=domain, Stage="$default")
    out["apis"][domain] = api["ApiId"]
print(json.dumps(out))
"#;

fn setup(world: &World, spec: &Value) -> Value {
    let out = Command::new(python())
        .args(["-c", SETUP, &world.moto_url(), &spec.to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("python3 with boto3 and cryptography (scripts/install-tools.sh)");
    assert!(
        out.status.success(),
        "set-up failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("set-up JSON")
}

/// SDK clients that look through the proxy with OBSERVER credentials (never logged).
struct Look {
    gw: aws_sdk_apigatewayv2::Client,
    r53: aws_sdk_route53::Client,
    acm: aws_sdk_acm::Client,
    lambda: aws_sdk_lambda::Client,
}

fn look(world: &World) -> Look {
    let config = world.observer_config();
    Look {
        gw: aws_sdk_apigatewayv2::Client::new(&config),
        r53: aws_sdk_route53::Client::new(&config),
        acm: aws_sdk_acm::Client::new(&config),
        lambda: aws_sdk_lambda::Client::new(&config),
    }
}

impl Look {
    /// (api id, name, tags) of every API.
    fn apis(
        &self,
        world: &World,
    ) -> Vec<(String, String, std::collections::HashMap<String, String>)> {
        let out = world.block_on(self.gw.get_apis().send()).unwrap();
        out.items()
            .iter()
            .map(|a| {
                (
                    a.api_id().unwrap().to_string(),
                    a.name().unwrap_or_default().to_string(),
                    a.tags().cloned().unwrap_or_default(),
                )
            })
            .collect()
    }

    fn domains(&self, world: &World) -> Vec<String> {
        let out = world.block_on(self.gw.get_domain_names().send()).unwrap();
        out.items()
            .iter()
            .map(|d| d.domain_name().unwrap().to_string())
            .collect()
    }

    /// (type, alias dns name) of the records named `name` in `zone`.
    fn records(&self, world: &World, zone: &str, name: &str) -> Vec<(String, String)> {
        let out = world
            .block_on(
                self.r53
                    .list_resource_record_sets()
                    .hosted_zone_id(zone)
                    .send(),
            )
            .unwrap();
        out.resource_record_sets()
            .iter()
            .filter(|r| r.name().trim_end_matches('.') == name)
            .map(|r| {
                (
                    r.r#type().as_str().to_string(),
                    r.alias_target()
                        .map(|a| a.dns_name().trim_end_matches('.').to_string())
                        .unwrap_or_default(),
                )
            })
            .collect()
    }
}

fn deploy_cmd(world: &World, artifact: &Path, stage: &str, extra: &[&str]) -> crate::support::Cmd {
    let role = World::exec_role();
    let path = artifact.display().to_string();
    let mut args = vec![
        "deploy",
        "--app",
        "hello",
        "--stage",
        stage,
        "--artifact",
        &path,
        "--handler",
        "app.handler",
        "--runtime",
        "python3.13",
        "--s3-bucket",
        BUCKET,
        "--execution-role",
        &role,
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    world.cmd(&args)
}

fn deploy(world: &World, artifact: &Path, stage: &str, extra: &[&str]) -> Value {
    deploy_cmd(world, artifact, stage, extra)
        .run()
        .success()
        .json()
}

/// Requests that change something: every non-GET of the REST services (API Gateway,
/// Route 53, S3, Lambda), and the writes of the JSON-protocol services (ACM, CloudWatch Logs),
/// where every call is a POST.
fn writes(world: &World) -> Vec<String> {
    world
        .proxy()
        .log()
        .iter()
        .filter_map(|e| {
            let service = e["service"].as_str().unwrap_or_default();
            let method = e["method"].as_str().unwrap_or_default();
            let op = e["operation"].as_str().unwrap_or_default();
            let write = match service {
                "acm" | "logs" => {
                    let name = op.split(':').nth(1).unwrap_or_default();
                    !name.starts_with("Describe") && !name.starts_with("List")
                }
                "sts" => false,
                _ => !matches!(method, "GET" | "HEAD"),
            };
            write.then(|| {
                format!(
                    "{service} {method} {} {op}",
                    e["path"].as_str().unwrap_or("")
                )
            })
        })
        .collect()
}

#[test]
fn a_domain_gets_an_http_api_mapping_and_dns_and_a_redeploy_writes_nothing() {
    let world = World::new();
    let ids = setup(
        &world,
        &json!({"zones": ["example.com"], "certs": [["*.example.com", "example.com"]]}),
    );
    let zone = ids["zones"]["example.com"].as_str().unwrap().to_string();
    let app = world.python_app("app", "Hello World");
    let report = deploy(&world, &app, "main", &["--domain", "app.example.com"]);

    assert_eq!(report["url"], "https://app.example.com/");
    assert_eq!(report["domain"], "app.example.com");
    assert_eq!(report["dns"], "route53");
    let function_url = report["function_url"].as_str().unwrap();
    assert!(function_url.contains(".lambda-url."), "{report}");
    let endpoint = report["api_endpoint"].as_str().unwrap();
    assert!(
        endpoint.starts_with("https://")
            && endpoint.ends_with(".execute-api.us-east-1.amazonaws.com"),
        "{report}"
    );

    let look = look(&world);
    let apis = look.apis(&world);
    assert_eq!(apis.len(), 1, "{apis:?}");
    let (api_id, name, tags) = &apis[0];
    assert_eq!(name, "hello-main");
    assert_eq!(
        tags.get("deploy-action:app").map(String::as_str),
        Some("hello")
    );
    assert_eq!(
        tags.get("deploy-action:stage").map(String::as_str),
        Some("main")
    );
    assert_eq!(
        tags.get("deploy-action:domain").map(String::as_str),
        Some("app.example.com")
    );
    // Explicit integration to the alias (payload 2.0), $default route and auto-deployed stage.
    let integrations = world
        .block_on(look.gw.get_integrations().api_id(api_id).send())
        .unwrap();
    let integration = &integrations.items()[0];
    assert_eq!(integrations.items().len(), 1);
    assert_eq!(
        integration.integration_type().unwrap().as_str(),
        "AWS_PROXY"
    );
    assert_eq!(
        integration.integration_uri(),
        Some(format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:hello-main:live").as_str())
    );
    assert_eq!(integration.payload_format_version(), Some("2.0"));
    let routes = world
        .block_on(look.gw.get_routes().api_id(api_id).send())
        .unwrap();
    assert_eq!(routes.items().len(), 1);
    assert_eq!(routes.items()[0].route_key(), Some("$default"));
    assert_eq!(
        routes.items()[0].target(),
        Some(format!("integrations/{}", integration.integration_id().unwrap()).as_str())
    );
    let stage = world
        .block_on(
            look.gw
                .get_stage()
                .api_id(api_id)
                .stage_name("$default")
                .send(),
        )
        .unwrap();
    assert_eq!(stage.auto_deploy(), Some(true));
    // The permission: apigateway.amazonaws.com, scoped to this API, on `live`.
    let policy = world
        .block_on(
            look.lambda
                .get_policy()
                .function_name("hello-main")
                .qualifier("live")
                .send(),
        )
        .unwrap();
    let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let statement = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "deploy-action-http-api")
        .unwrap_or_else(|| panic!("no API statement: {policy}"))
        .to_string();
    assert!(
        statement.contains("apigateway.amazonaws.com"),
        "{statement}"
    );
    assert!(
        statement.contains(&format!(
            "arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*"
        )),
        "{statement}"
    );
    // The domain name: REGIONAL, TLS 1.2, the covering certificate, mapped to the API.
    let domain = world
        .block_on(
            look.gw
                .get_domain_name()
                .domain_name("app.example.com")
                .send(),
        )
        .unwrap();
    let config = &domain.domain_name_configurations()[0];
    assert_eq!(config.endpoint_type().unwrap().as_str(), "REGIONAL");
    assert_eq!(config.security_policy().unwrap().as_str(), "TLS_1_2");
    assert_eq!(
        config.certificate_arn(),
        ids["certs"]["*.example.com"].as_str()
    );
    let target = config.api_gateway_domain_name().unwrap().to_string();
    let mappings = world
        .block_on(
            look.gw
                .get_api_mappings()
                .domain_name("app.example.com")
                .send(),
        )
        .unwrap();
    assert_eq!(mappings.items().len(), 1);
    assert_eq!(mappings.items()[0].api_id(), Some(api_id.as_str()));
    assert_eq!(mappings.items()[0].stage(), Some("$default"));
    // A and AAAA aliases to the regional target.
    let mut records = look.records(&world, &zone, "app.example.com");
    records.sort();
    assert_eq!(
        records,
        vec![
            ("A".to_string(), target.clone()),
            ("AAAA".to_string(), target.clone())
        ]
    );

    // Redeploy: nothing new, nothing written.
    world.proxy().clear_log();
    let again = deploy(&world, &app, "main", &["--domain", "app.example.com"]);
    assert_eq!(again["changed"], false);
    assert_eq!(again["url"], "https://app.example.com/");
    assert_eq!(again["api_endpoint"], report["api_endpoint"]);
    let written = writes(&world);
    assert!(written.is_empty(), "a redeploy wrote: {written:?}");
    assert_eq!(look.apis(&world).len(), 1);

    // Drift is put back: the integration points elsewhere with payload 1.0, a record is gone.
    world
        .block_on(
            look.gw
                .update_integration()
                .api_id(api_id)
                .integration_id(integration.integration_id().unwrap())
                .integration_uri(format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:other"))
                .payload_format_version("1.0")
                .send(),
        )
        .unwrap();
    world
        .block_on(
            look.r53
                .change_resource_record_sets()
                .hosted_zone_id(&zone)
                .change_batch(
                    aws_sdk_route53::types::ChangeBatch::builder()
                        .changes(
                            aws_sdk_route53::types::Change::builder()
                                .action(aws_sdk_route53::types::ChangeAction::Delete)
                                .resource_record_set(
                                    aws_sdk_route53::types::ResourceRecordSet::builder()
                                        .name("app.example.com")
                                        .r#type(aws_sdk_route53::types::RrType::Aaaa)
                                        .alias_target(
                                            aws_sdk_route53::types::AliasTarget::builder()
                                                .hosted_zone_id(config.hosted_zone_id().unwrap())
                                                .dns_name(&target)
                                                .evaluate_target_health(false)
                                                .build()
                                                .unwrap(),
                                        )
                                        .build()
                                        .unwrap(),
                                )
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .send(),
        )
        .unwrap();
    world.proxy().clear_log();
    deploy(&world, &app, "main", &["--domain", "app.example.com"]);
    let fixed = world
        .block_on(look.gw.get_integrations().api_id(api_id).send())
        .unwrap();
    assert_eq!(
        fixed.items()[0].integration_uri(),
        integration.integration_uri()
    );
    assert_eq!(fixed.items()[0].payload_format_version(), Some("2.0"));
    assert_eq!(look.records(&world, &zone, "app.example.com").len(), 2);
    let written = writes(&world);
    assert!(
        written.iter().all(|w| !w.contains("POST /v2/apis ")),
        "no new API: {written:?}"
    );
}

#[test]
fn previews_get_a_host_each_and_teardown_removes_only_their_own() {
    let mut world = World::new();
    world.start_github();
    let ids = setup(
        &world,
        &json!({"zones": ["example.com"], "certs": [["*.preview.example.com"]]}),
    );
    let zone = ids["zones"]["example.com"].as_str().unwrap().to_string();
    let cert = ids["certs"]["*.preview.example.com"]
        .as_str()
        .unwrap()
        .to_string();
    let app = world.python_app("app", "Hello World");
    let template = "{stage}.preview.example.com";
    let one = deploy(&world, &app, "pr-1", &["--domain", template]);
    let two = deploy(&world, &app, "pr-2", &["--domain", template]);
    assert_eq!(one["url"], "https://pr-1.preview.example.com/");
    assert_eq!(two["url"], "https://pr-2.preview.example.com/");
    assert_ne!(one["api_endpoint"], two["api_endpoint"]);
    let look = look(&world);
    assert_eq!(look.apis(&world).len(), 2);
    let mut domains = look.domains(&world);
    domains.sort();
    assert_eq!(
        domains,
        ["pr-1.preview.example.com", "pr-2.preview.example.com"]
    );
    assert_eq!(
        look.records(&world, &zone, "pr-1.preview.example.com")
            .len(),
        2
    );

    // {pr} from the pull_request event: #2 of the fixture payload.
    let pr = crate::support::event("pull_request.opened.json");
    let payload: Value = serde_json::from_str(&std::fs::read_to_string(&pr).unwrap()).unwrap();
    let number = payload["number"].as_u64().unwrap();
    let by_pr = deploy_cmd(
        &world,
        &app,
        &format!("pr-{number}"),
        &["--domain", "{pr}.preview.example.com"],
    )
    .github_event("pull_request", &pr, 5)
    .run()
    .success()
    .json();
    assert_eq!(
        by_pr["url"],
        format!("https://{number}.preview.example.com/")
    );
    // GitHub hears of the domain: the deployment's environment_url and the PR comment.
    let state = world.github().state();
    let url = format!("https://{number}.preview.example.com/");
    let statuses: Vec<Value> = state["deployments"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|ds| ds.as_array().cloned().unwrap_or_default())
        .flat_map(|d| d["statuses"].as_array().cloned().unwrap_or_default())
        .collect();
    assert!(
        statuses
            .iter()
            .any(|s| s["state"] == "success" && s["environment_url"] == url.as_str()),
        "{statuses:?}"
    );
    let comments = state["comments"].to_string();
    assert!(comments.contains(&format!("<{url}>")), "{comments}");
    assert!(comments.contains("| Function URL |"), "{comments}");

    // Teardown of pr-1: its records, mapping, domain name and API go; pr-2 stays; the
    // certificate and the zone stay.
    world
        .cmd(&[
            "teardown", "--app", "hello", "--stage", "pr-1", "--output", "json",
        ])
        .run()
        .success();
    assert!(!world.exists("hello-pr-1"));
    let apis = look.apis(&world);
    assert!(
        apis.iter().all(|(_, name, _)| name != "hello-pr-1"),
        "{apis:?}"
    );
    assert!(
        apis.iter().any(|(_, name, _)| name == "hello-pr-2"),
        "{apis:?}"
    );
    let domains = look.domains(&world);
    assert!(
        !domains.contains(&"pr-1.preview.example.com".to_string()),
        "{domains:?}"
    );
    assert!(
        domains.contains(&"pr-2.preview.example.com".to_string()),
        "{domains:?}"
    );
    assert!(
        look.records(&world, &zone, "pr-1.preview.example.com")
            .is_empty()
    );
    assert_eq!(
        look.records(&world, &zone, "pr-2.preview.example.com")
            .len(),
        2
    );
    let kept = world
        .block_on(
            look.acm
                .describe_certificate()
                .certificate_arn(&cert)
                .send(),
        )
        .unwrap();
    assert_eq!(
        kept.certificate().unwrap().status().unwrap().as_str(),
        "ISSUED"
    );
    world
        .block_on(look.r53.get_hosted_zone().id(&zone).send())
        .expect("the zone is kept");
    // Teardown again: nothing left to do, still fine.
    world
        .cmd(&["teardown", "--app", "hello", "--stage", "pr-1"])
        .run()
        .success();
}

#[test]
fn without_a_zone_the_record_to_create_is_printed() {
    let world = World::new();
    setup(&world, &json!({"certs": [["app.example.org"]]}));
    let app = world.python_app("app", "Hello World");
    let push = crate::support::event("push.branch.json");
    let result = deploy_cmd(
        &world,
        &app,
        "main",
        &["--domain", "app.example.org", "--function-url", "none"],
    )
    .github_event("push", &push, 7)
    .run()
    .success();
    let report = result.json();
    assert_eq!(report["dns"], "manual");
    assert_eq!(report["function_url"], Value::Null);
    assert_eq!(report["url"], "https://app.example.org/");
    let look = look(&world);
    let domain = world
        .block_on(
            look.gw
                .get_domain_name()
                .domain_name("app.example.org")
                .send(),
        )
        .unwrap();
    let target = domain.domain_name_configurations()[0]
        .api_gateway_domain_name()
        .unwrap()
        .to_string();
    let record = format!("app.example.org. CNAME {target}.");
    assert!(result.stderr.contains(&record), "{}", result.stderr);
    let summary = std::fs::read_to_string(world.dir().join("step_summary.md")).unwrap();
    assert!(summary.contains(&record), "{summary}");
    assert!(summary.contains("$1.00 per million requests"), "{summary}");
    let outputs = std::fs::read_to_string(world.dir().join("github_output")).unwrap();
    assert!(outputs.contains("api-endpoint"), "{outputs}");
    assert!(outputs.contains("function-url"), "{outputs}");
}

#[test]
fn create_certificate_requests_validates_and_waits() {
    let world = World::new();
    let ids = setup(&world, &json!({"zones": ["example.net"]}));
    let zone = ids["zones"]["example.net"].as_str().unwrap().to_string();
    let app = world.python_app("app", "Hello World");
    let report = deploy(
        &world,
        &app,
        "pr-3",
        &[
            "--domain",
            "{stage}.preview.example.net",
            "--create-certificate",
        ],
    );
    assert_eq!(report["url"], "https://pr-3.preview.example.net/");
    let look = look(&world);
    // One wildcard certificate for every preview, validated through the zone.
    let certs = world.block_on(look.acm.list_certificates().send()).unwrap();
    let names: Vec<&str> = certs
        .certificate_summary_list()
        .iter()
        .filter_map(|c| c.domain_name())
        .collect();
    assert_eq!(names, ["*.preview.example.net"]);
    let arn = certs.certificate_summary_list()[0]
        .certificate_arn()
        .unwrap();
    let cert = world
        .block_on(look.acm.describe_certificate().certificate_arn(arn).send())
        .unwrap();
    let cert = cert.certificate().unwrap();
    assert_eq!(cert.status().unwrap().as_str(), "ISSUED");
    let validation = cert.domain_validation_options()[0]
        .resource_record()
        .unwrap()
        .name()
        .trim_end_matches('.')
        .to_string();
    let records = world
        .block_on(
            look.r53
                .list_resource_record_sets()
                .hosted_zone_id(&zone)
                .send(),
        )
        .unwrap();
    assert!(
        records
            .resource_record_sets()
            .iter()
            .any(|r| r.name().trim_end_matches('.') == validation && r.r#type().as_str() == "CNAME"),
        "no validation record {validation}"
    );
    // The next preview reuses the certificate.
    world.proxy().clear_log();
    deploy(
        &world,
        &app,
        "pr-4",
        &[
            "--domain",
            "{stage}.preview.example.net",
            "--create-certificate",
        ],
    );
    let ops = world.proxy().operations();
    assert!(
        !ops.iter().any(|o| o == "acm:RequestCertificate"),
        "{ops:?}"
    );
}

#[test]
fn a_certificate_not_issued_in_time_fails_clearly_and_the_next_run_finishes_it() {
    let world = World::new();
    setup(&world, &json!({"zones": ["example.net"]}));
    let app = world.python_app("app", "Hello World");
    // No time to wait: ACM has not seen the validation record yet when the budget ends.
    let args = ["--domain", "www.example.net", "--create-certificate"];
    let result = deploy_cmd(&world, &app, "main", &args)
        .env("DEPLOY_ACTION_TEST_CERT_WAIT_S", "0")
        .run()
        .failure(1);
    let text = result.all_output();
    assert!(text.contains("PENDING_VALIDATION after 0s"), "{text}");
    assert!(text.contains("run the deploy again"), "{text}");
    // The next run picks up the same certificate (its record is in the zone by now).
    world.proxy().clear_log();
    let report = deploy(&world, &app, "main", &args);
    assert_eq!(report["url"], "https://www.example.net/");
    let ops = world.proxy().operations();
    assert!(
        !ops.iter().any(|o| o == "acm:RequestCertificate"),
        "{ops:?}"
    );
}

/// Each bad input exits 2 and changes nothing in AWS.
#[test]
fn bad_domain_input_exits_2_with_zero_writes() {
    let world = World::new();
    let ids = setup(
        &world,
        &json!({
            "zones": ["example.com"],
            "certs": [["*.example.com"], ["other.org"]],
            "pending": ["pending.example.com"],
            "foreign": {"taken.example.com": "*.example.com"},
        }),
    );
    let other = ids["certs"]["other.org"].as_str().unwrap().to_string();
    let pending = ids["pending"]["pending.example.com"]
        .as_str()
        .unwrap()
        .to_string();
    let europe = other.replace("us-east-1", "eu-west-1");
    let app = world.python_app("app", "Hello World");
    let long_stage = "s".repeat(70);
    let cases: Vec<(Vec<String>, &str, &str)> = vec![
        (
            vec!["--domain".into(), "App.example.com".into()],
            "main",
            "uppercase",
        ),
        (
            vec!["--domain".into(), "my_app.example.com".into()],
            "main",
            "underscore",
        ),
        (
            vec!["--domain".into(), "{stage}-x.example.com".into()],
            long_stage.as_str(),
            "limit is 63",
        ),
        (
            vec![
                "--domain".into(),
                "app.example.com".into(),
                "--front-door".into(),
                "url".into(),
            ],
            "main",
            "--front-door http-api",
        ),
        (
            vec![
                "--domain".into(),
                "app.example.com".into(),
                "--certificate-arn".into(),
                other.clone(),
            ],
            "main",
            "doesn't cover app.example.com",
        ),
        (
            vec![
                "--domain".into(),
                "app.example.com".into(),
                "--certificate-arn".into(),
                europe,
            ],
            "main",
            "is in eu-west-1",
        ),
        (
            vec![
                "--domain".into(),
                "pending.example.com".into(),
                "--certificate-arn".into(),
                pending,
            ],
            "main",
            "not ISSUED",
        ),
        (
            vec!["--domain".into(), "taken.example.com".into()],
            "main",
            "isn't this stage's",
        ),
        (
            vec!["--domain".into(), "app.nowhere.test".into()],
            "main",
            "no ISSUED ACM certificate",
        ),
    ];
    for (extra, stage, expect) in cases {
        world.proxy().clear_log();
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let result = deploy_cmd(&world, &app, stage, &extra).run().failure(2);
        let text = result.all_output();
        assert!(
            text.contains(expect),
            "{extra:?}: expected {expect:?} in\n{text}"
        );
        let written = writes(&world);
        assert!(written.is_empty(), "{extra:?} wrote {written:?}");
        assert!(!world.exists(&format!("hello-{stage}")), "{extra:?}");
    }
}

// --- the Python adapter and HTTP API events ------------------------------------------------

/// An API Gateway HTTP API event (payload 2.0) as it reaches the function through a custom
/// domain: like a function URL's, with the API's id, the account and the custom host.
fn http_api_event(method: &str, path: &str, query: &str, body: Option<&[u8]>) -> String {
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "cookies": ["session=abc123", "theme=dark"],
        "headers": {
            "host": "app.example.com",
            "content-type": "application/octet-stream",
            "x-custom": "yes",
            "x-forwarded-proto": "https",
            "x-forwarded-port": "443",
            "x-forwarded-for": "203.0.113.9",
        },
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "a1b2c3d4e5",
            "domainName": "app.example.com",
            "domainPrefix": "app",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "test",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1_767_225_600_000_u64,
        },
        "isBase64Encoded": false,
    });
    if let Some(body) = body {
        event["body"] = base64::engine::general_purpose::STANDARD
            .encode(body)
            .into();
        event["isBase64Encoded"] = true.into();
    }
    event.to_string()
}

fn body_bytes(response: &Value) -> Vec<u8> {
    let body = response["body"].as_str().unwrap_or_default();
    if response["isBase64Encoded"].as_bool().unwrap_or(false) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    } else {
        body.as_bytes().to_vec()
    }
}

fn host_python_minor() -> String {
    let out = Command::new(python())
        .args(["-c", "import sys; print(sys.version_info[1])"])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Package `name` for this machine, call its handler with HTTP API events, check the answers.
fn adapter_answers_http_api_events(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle.zip");
    let runtime = format!("python3.{}", host_python_minor());
    let status = Command::new(env!("CARGO_BIN_EXE_deploy-action"))
        .args(["package", "--source"])
        .arg(fixture(name))
        .args(["--out"])
        .arg(&out)
        .args(["--architecture", "x86_64", "--runtime", &runtime])
        .env_clear()
        .envs(host_env())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "package {name}");
    let unpacked = dir.path().join("bundle");
    zip::ZipArchive::new(std::fs::File::open(&out).unwrap())
        .unwrap()
        .extract(&unpacked)
        .unwrap();
    let sent: Vec<u8> = (0..=255u8).rev().collect();
    let events = [
        http_api_event("GET", "/", "", None),
        http_api_event("GET", "/bin", "", None),
        http_api_event("GET", "/cookie", "", None),
        http_api_event("POST", "/echo", "a=1&a=2&q=hello%20world", Some(&sent)),
    ];
    let run = Command::new(python())
        .args(["-I", "-S"])
        .arg(crate::support::root().join("tests/support/invoke_handler.py"))
        .arg(&unpacked)
        .args(&events)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{name}: {stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let r: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(r.len(), 4, "{stdout}");
    assert_eq!(r[0]["statusCode"], 200, "{name}: {}", r[0]);
    assert_eq!(body_bytes(&r[0]), b"Hello World", "{name}");
    assert_eq!(r[1]["isBase64Encoded"], true, "{name} /bin");
    assert_eq!(body_bytes(&r[1]), (0..=255u8).collect::<Vec<_>>(), "{name}");
    let cookies = r[2]["cookies"].to_string();
    assert!(
        cookies.contains("session=abc123") && cookies.contains("theme=dark"),
        "{name} /cookie: {}",
        r[2]
    );
    let echo: Value = serde_json::from_slice(&body_bytes(&r[3])).unwrap();
    assert_eq!(echo["method"], "POST", "{name}");
    assert_eq!(echo["path"], "/echo", "{name}");
    assert_eq!(echo["query"]["a"], json!(["1", "2"]), "{name}");
    assert_eq!(echo["query"]["q"], json!(["hello world"]), "{name}");
    assert_eq!(echo["headers"]["x-custom"], "yes", "{name}");
    assert_eq!(echo["cookies"]["session"], "abc123", "{name}");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(echo["body_base64"].as_str().unwrap())
            .unwrap(),
        sent,
        "{name}: the binary request body"
    );
}

#[test]
fn flask_answers_http_api_events() {
    adapter_answers_http_api_events("flask-hello");
}

#[test]
fn fastapi_answers_http_api_events() {
    adapter_answers_http_api_events("fastapi-hello");
}

#[test]
fn sanic_answers_http_api_events() {
    adapter_answers_http_api_events("sanic-hello");
}

/// Rollback moves `live` only: the API points at the alias, so nothing of the front door is
/// written, and the report still names the domain.
#[test]
fn rollback_keeps_the_front_door_and_reports_the_domain() {
    let world = World::new();
    setup(
        &world,
        &json!({"zones": ["example.com"], "certs": [["app.example.com"]]}),
    );
    let v1 = world.python_app("v1", "one");
    let v2 = world.python_app("v2", "two");
    deploy(&world, &v1, "main", &["--domain", "app.example.com"]);
    let second = deploy(&world, &v2, "main", &["--domain", "app.example.com"]);
    assert_eq!(second["version"], "2");
    world.proxy().clear_log();
    let rolled = world
        .cmd(&[
            "rollback", "--app", "hello", "--stage", "main", "--output", "json",
        ])
        .run()
        .success()
        .json();
    assert_eq!(rolled["version"], "1");
    assert_eq!(rolled["url"], "https://app.example.com/");
    assert_eq!(rolled["domain"], "app.example.com");
    assert!(
        rolled["function_url"]
            .as_str()
            .unwrap()
            .contains(".lambda-url.")
    );
    let written: Vec<String> = writes(&world)
        .into_iter()
        .filter(|w| !w.starts_with("lambda ") || !w.contains("/aliases/"))
        .collect();
    // Only the alias (and the rollback mark on the function's tags) change.
    assert!(
        written.iter().all(|w| w.starts_with("lambda ")),
        "front-door writes on rollback: {written:?}"
    );
}
