//! `policy`: the least-privilege IAM policy of the deploy role, and the trust policy that
//! lets GitHub Actions assume it through OIDC (docs/contract.md, "Commands").
//!
//! The permissions are derived from [`OPERATIONS`], the list of every AWS operation the tool
//! calls, with the IAM actions each one needs and on what. A unit test scans the source for
//! SDK calls and fails when the list and the code disagree; the integration tests record the
//! operations of real runs and check that the policy allows each of them and nothing more.
//!
//! Resources: Lambda actions on the app's functions `function:<app>-*` and their versions and
//! aliases (`:*`); `tag:GetResources` and `lambda:GetAccountSettings` on `*` (IAM can't scope
//! them; only `status` without `--stage` uses them); the artifact objects `<bucket>/<prefix>/<app>/*.zip`; `iam:PassRole`
//! on the execution role only, and only towards Lambda. `--operate` adds what `logs`, `cost` and
//! `gc` need beyond that (see [`operate_statements`]).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::PolicyArgs;
use crate::config;
use crate::error::{Error, Result};
use crate::github::context::GitHubContext;
use crate::naming;

/// What an IAM action is granted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum On {
    /// A stage function, its versions and aliases: `function:<app>-*` and `function:<app>-*:*`.
    Function,
    /// Every resource: only for actions IAM can't scope.
    Any,
    /// The app's artifacts in the bucket.
    Artifact,
    /// The execution role, passed to Lambda.
    ExecutionRole,
    /// The stage functions' log groups, `/aws/lambda/<app>-*`.
    LogGroup,
    /// The account's log groups: DescribeLogGroups is scoped no finer.
    LogGroups,
    /// The SSM parameters and Secrets Manager secrets `--env` refers to, exactly.
    Secret,
    /// The stage functions' EventBridge rules, `rule/<app>-*` (schedules, keep-warm).
    Rule,
    /// `--domain` only: the region's HTTP APIs and the domain's name and mappings.
    Api,
    /// `--domain` only: ACM certificates of the region.
    Certificate,
    /// `--domain` only: the hosted zone of the domain.
    Zone,
    /// `--domain` only: calls IAM can't scope (listing zones and certificates, requesting one).
    DomainAny,
    /// `--operate` only: reading the stage functions' log groups (`logs`).
    OperateLogGroup,
    /// `--operate` only: CloudWatch metrics, which IAM can't scope (`cost`).
    OperateMetrics,
    /// `--operate` only: listing the bucket under the app's prefix (`cost`, `gc`).
    OperateListArtifacts,
    /// `--operate` only: deleting the app's artifacts (`gc`).
    OperateArtifact,
}

/// One AWS API operation the tool calls, and the IAM actions it needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Operation {
    /// The service and API operation name: what a reader of the table looks for, and what the
    /// test that keeps this table in step with the SDK calls in the code compares.
    #[allow(
        dead_code,
        reason = "names the row; the policy itself is built from `needs`"
    )]
    pub service: &'static str,
    #[cfg_attr(not(test), allow(dead_code, reason = "read by the in-step test"))]
    pub name: &'static str,
    /// IAM actions it needs (empty: governed by the trust policy, not by permissions).
    pub needs: &'static [(&'static str, On)],
}

const fn op(
    service: &'static str,
    name: &'static str,
    needs: &'static [(&'static str, On)],
) -> Operation {
    Operation {
        service,
        name,
        needs,
    }
}

/// Every AWS operation deploy-action calls (kept in step with the code by a unit test).
pub(crate) const OPERATIONS: &[Operation] = &[
    // `logs` (granted with `--operate`): the history, and Live Tail with `--follow`.
    op(
        "logs",
        "FilterLogEvents",
        &[("logs:FilterLogEvents", On::OperateLogGroup)],
    ),
    op(
        "logs",
        "StartLiveTail",
        &[("logs:StartLiveTail", On::OperateLogGroup)],
    ),
    // The account id for Live Tail's log group ARN: "No permissions are required to perform
    // this operation" (STS API Reference, GetCallerIdentity).
    op("sts", "GetCallerIdentity", &[]),
    // `cost` (granted with `--operate`).
    op(
        "cloudwatch",
        "GetMetricData",
        &[("cloudwatch:GetMetricData", On::OperateMetrics)],
    ),
    // `cost` and `gc` (granted with `--operate`): the app's artifacts, and deleting unused ones.
    op(
        "s3",
        "ListObjectsV2",
        &[("s3:ListBucket", On::OperateListArtifacts)],
    ),
    op(
        "s3",
        "DeleteObject",
        &[("s3:DeleteObject", On::OperateArtifact)],
    ),
    // GetFunction returns the function's tags, which IAM guards with lambda:ListTags.
    op(
        "lambda",
        "GetFunction",
        &[
            ("lambda:GetFunction", On::Function),
            ("lambda:ListTags", On::Function),
        ],
    ),
    op(
        "lambda",
        "GetFunctionConfiguration",
        &[("lambda:GetFunctionConfiguration", On::Function)],
    ),
    op("lambda", "GetAlias", &[("lambda:GetAlias", On::Function)]),
    op(
        "lambda",
        "ListAliases",
        &[("lambda:ListAliases", On::Function)],
    ),
    op(
        "lambda",
        "ListVersionsByFunction",
        &[("lambda:ListVersionsByFunction", On::Function)],
    ),
    // Tags on create need lambda:TagResource; the role is passed to Lambda; Lambda reads
    // the code from S3 with the caller's permissions.
    op(
        "lambda",
        "CreateFunction",
        &[
            ("lambda:CreateFunction", On::Function),
            ("lambda:TagResource", On::Function),
            ("iam:PassRole", On::ExecutionRole),
            ("s3:GetObject", On::Artifact),
        ],
    ),
    op(
        "lambda",
        "UpdateFunctionConfiguration",
        &[
            ("lambda:UpdateFunctionConfiguration", On::Function),
            ("iam:PassRole", On::ExecutionRole),
        ],
    ),
    op(
        "lambda",
        "UpdateFunctionCode",
        &[
            ("lambda:UpdateFunctionCode", On::Function),
            ("s3:GetObject", On::Artifact),
        ],
    ),
    op(
        "lambda",
        "PublishVersion",
        &[("lambda:PublishVersion", On::Function)],
    ),
    op(
        "lambda",
        "CreateAlias",
        &[("lambda:CreateAlias", On::Function)],
    ),
    op(
        "lambda",
        "UpdateAlias",
        &[("lambda:UpdateAlias", On::Function)],
    ),
    op(
        "lambda",
        "GetFunctionUrlConfig",
        &[("lambda:GetFunctionUrlConfig", On::Function)],
    ),
    op(
        "lambda",
        "CreateFunctionUrlConfig",
        &[("lambda:CreateFunctionUrlConfig", On::Function)],
    ),
    op(
        "lambda",
        "UpdateFunctionUrlConfig",
        &[("lambda:UpdateFunctionUrlConfig", On::Function)],
    ),
    op(
        "lambda",
        "DeleteFunctionUrlConfig",
        &[("lambda:DeleteFunctionUrlConfig", On::Function)],
    ),
    op("lambda", "GetPolicy", &[("lambda:GetPolicy", On::Function)]),
    op(
        "lambda",
        "AddPermission",
        &[("lambda:AddPermission", On::Function)],
    ),
    op(
        "lambda",
        "RemovePermission",
        &[("lambda:RemovePermission", On::Function)],
    ),
    op(
        "lambda",
        "DeleteFunction",
        &[("lambda:DeleteFunction", On::Function)],
    ),
    op(
        "lambda",
        "Invoke",
        &[("lambda:InvokeFunction", On::Function)],
    ),
    op(
        "lambda",
        "TagResource",
        &[("lambda:TagResource", On::Function)],
    ),
    // `status` finds an app's stages by tag (issue #19), and shows the account's code storage.
    op("tagging", "GetResources", &[("tag:GetResources", On::Any)]),
    op(
        "lambda",
        "GetAccountSettings",
        &[("lambda:GetAccountSettings", On::Any)],
    ),
    // Reserved concurrency (production settings).
    op(
        "lambda",
        "GetFunctionConcurrency",
        &[("lambda:GetFunctionConcurrency", On::Function)],
    ),
    op(
        "lambda",
        "PutFunctionConcurrency",
        &[("lambda:PutFunctionConcurrency", On::Function)],
    ),
    op(
        "lambda",
        "DeleteFunctionConcurrency",
        &[("lambda:DeleteFunctionConcurrency", On::Function)],
    ),
    // The function's log group with its retention. Tags on create need logs:TagResource
    // (and the older logs:TagLogGroup).
    op(
        "logs",
        "DescribeLogGroups",
        &[("logs:DescribeLogGroups", On::LogGroups)],
    ),
    op(
        "logs",
        "CreateLogGroup",
        &[
            ("logs:CreateLogGroup", On::LogGroup),
            ("logs:TagResource", On::LogGroup),
            ("logs:TagLogGroup", On::LogGroup),
        ],
    ),
    op(
        "logs",
        "PutRetentionPolicy",
        &[("logs:PutRetentionPolicy", On::LogGroup)],
    ),
    op(
        "logs",
        "DeleteLogGroup",
        &[("logs:DeleteLogGroup", On::LogGroup)],
    ),
    op(
        "lambda",
        "UntagResource",
        &[("lambda:UntagResource", On::Function)],
    ),
    // Schedules and keep-warm: one EventBridge rule each, tagged on create.
    op(
        "events",
        "DescribeRule",
        &[("events:DescribeRule", On::Rule)],
    ),
    op(
        "events",
        "PutRule",
        &[
            ("events:PutRule", On::Rule),
            ("events:TagResource", On::Rule),
        ],
    ),
    op(
        "events",
        "ListTargetsByRule",
        &[("events:ListTargetsByRule", On::Rule)],
    ),
    op("events", "PutTargets", &[("events:PutTargets", On::Rule)]),
    op(
        "events",
        "RemoveTargets",
        &[("events:RemoveTargets", On::Rule)],
    ),
    op("events", "DeleteRule", &[("events:DeleteRule", On::Rule)]),
    // Secrets of `--env`, read at deploy time.
    op("ssm", "GetParameters", &[("ssm:GetParameters", On::Secret)]),
    op(
        "secretsmanager",
        "GetSecretValue",
        &[("secretsmanager:GetSecretValue", On::Secret)],
    ),
    // The front door (`--domain`, `--front-door http-api`): API Gateway authorises its
    // management API by HTTP verb on resource paths.
    op("apigateway", "GetApis", &[("apigateway:GET", On::Api)]),
    op("apigateway", "GetApi", &[("apigateway:GET", On::Api)]),
    op("apigateway", "CreateApi", &[("apigateway:POST", On::Api)]),
    op("apigateway", "TagResource", &[("apigateway:POST", On::Api)]),
    op(
        "apigateway",
        "GetIntegrations",
        &[("apigateway:GET", On::Api)],
    ),
    op(
        "apigateway",
        "CreateIntegration",
        &[("apigateway:POST", On::Api)],
    ),
    op(
        "apigateway",
        "UpdateIntegration",
        &[("apigateway:PATCH", On::Api)],
    ),
    op("apigateway", "GetRoutes", &[("apigateway:GET", On::Api)]),
    op("apigateway", "CreateRoute", &[("apigateway:POST", On::Api)]),
    op(
        "apigateway",
        "UpdateRoute",
        &[("apigateway:PATCH", On::Api)],
    ),
    op("apigateway", "GetStage", &[("apigateway:GET", On::Api)]),
    op("apigateway", "CreateStage", &[("apigateway:POST", On::Api)]),
    op(
        "apigateway",
        "UpdateStage",
        &[("apigateway:PATCH", On::Api)],
    ),
    op("apigateway", "DeleteApi", &[("apigateway:DELETE", On::Api)]),
    op(
        "apigateway",
        "GetDomainName",
        &[("apigateway:GET", On::Api)],
    ),
    op(
        "apigateway",
        "GetDomainNames",
        &[("apigateway:GET", On::Api)],
    ),
    op(
        "apigateway",
        "CreateDomainName",
        &[("apigateway:POST", On::Api)],
    ),
    op(
        "apigateway",
        "UpdateDomainName",
        &[("apigateway:PATCH", On::Api)],
    ),
    op(
        "apigateway",
        "DeleteDomainName",
        &[("apigateway:DELETE", On::Api)],
    ),
    op(
        "apigateway",
        "GetApiMappings",
        &[("apigateway:GET", On::Api)],
    ),
    op(
        "apigateway",
        "CreateApiMapping",
        &[("apigateway:POST", On::Api)],
    ),
    op(
        "apigateway",
        "UpdateApiMapping",
        &[("apigateway:PATCH", On::Api)],
    ),
    op(
        "apigateway",
        "DeleteApiMapping",
        &[("apigateway:DELETE", On::Api)],
    ),
    op(
        "acm",
        "DescribeCertificate",
        &[("acm:DescribeCertificate", On::Certificate)],
    ),
    op(
        "acm",
        "ListCertificates",
        &[("acm:ListCertificates", On::DomainAny)],
    ),
    // Tags on request need acm:AddTagsToCertificate.
    op(
        "acm",
        "RequestCertificate",
        &[
            ("acm:RequestCertificate", On::DomainAny),
            ("acm:AddTagsToCertificate", On::DomainAny),
        ],
    ),
    op(
        "route53",
        "ListHostedZones",
        &[("route53:ListHostedZones", On::DomainAny)],
    ),
    op(
        "route53",
        "GetHostedZone",
        &[("route53:GetHostedZone", On::Zone)],
    ),
    op(
        "route53",
        "ListResourceRecordSets",
        &[("route53:ListResourceRecordSets", On::Zone)],
    ),
    op(
        "route53",
        "ChangeResourceRecordSets",
        &[("route53:ChangeResourceRecordSets", On::Zone)],
    ),
    op("s3", "HeadObject", &[("s3:GetObject", On::Artifact)]),
    // Only when a HeadObject answers 301 without the region header: S3 answers HeadBucket
    // with `x-amz-bucket-region` even when it denies it (403), which is all we read.
    op("s3", "HeadBucket", &[]),
    op("s3", "PutObject", &[("s3:PutObject", On::Artifact)]),
    // Artifacts over 16 MiB go up in parts (aws/s3_multipart.rs). Creating, sending and
    // completing parts is s3:PutObject; aborting a failed upload is its own action (S3 user
    // guide, "Multipart upload API and permissions").
    op(
        "s3",
        "CreateMultipartUpload",
        &[("s3:PutObject", On::Artifact)],
    ),
    op("s3", "UploadPart", &[("s3:PutObject", On::Artifact)]),
    op(
        "s3",
        "CompleteMultipartUpload",
        &[("s3:PutObject", On::Artifact)],
    ),
    op(
        "s3",
        "AbortMultipartUpload",
        &[("s3:AbortMultipartUpload", On::Artifact)],
    ),
    // Unsigned: allowed by the role's trust policy, not by its permissions.
    op("sts", "AssumeRoleWithWebIdentity", &[]),
];

/// The checked inputs of `policy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PolicyInput {
    pub app: String,
    pub bucket: String,
    pub prefix: String,
    pub owner: String,
    pub repo: String,
    /// Numeric owner and repository ids: GitHub's immutable `sub` form.
    pub ids: Option<(u64, u64)>,
    pub execution_role: Option<String>,
    pub region: Option<String>,
    pub account: String,
    pub partition: String,
    pub branch: Option<String>,
    pub environment: Option<String>,
    pub pull_request: bool,
    /// `--domain`: add what a custom domain needs (template placeholders become `*`).
    pub domain: Option<String>,
    pub hosted_zone_id: Option<String>,
    /// The bucket's SSE-KMS key (`--kms-key`); it also decrypts the `--env` secrets
    /// encrypted with it.
    pub kms_key: Option<String>,
    /// `ssm:` / `secretsmanager:` references of `--env`: read access to exactly these.
    pub secrets: Vec<crate::production::secrets::SecretRef>,
    /// The function runs in a VPC: Lambda checks its subnets and groups with our permissions.
    pub vpc: bool,
    /// `--invoke`: grant `lambda:InvokeFunction` (invoke, --release-command, smoke checks).
    pub invoke: bool,
    /// `--operate`: grant what `logs`, `cost` and `gc` need (see [`operate_statements`]).
    pub operate: bool,
}

/// The action only `--invoke` grants: running code in the app's functions is more than
/// deploying them (`invoke --python` is a shell in the function, with its role).
pub(crate) const INVOKE_ACTION: &str = "lambda:InvokeFunction";

/// The report of `policy`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PolicyReport {
    pub role_name: String,
    /// The deploy role's permissions (`policy.json`).
    pub permissions: Value,
    /// Who may assume it (`trust.json`).
    pub trust: Value,
    /// The AWS CLI commands that create the role from the two files.
    pub commands: Vec<String>,
    pub notes: Vec<String>,
}

/// Check the flags (exit 2 before anything else).
pub(crate) fn resolve(args: &PolicyArgs, github: &GitHubContext) -> Result<PolicyInput> {
    let app = args.app.clone().ok_or_else(|| {
        Error::missing(
            "--app",
            "no app name given",
            "pass --app NAME: the role may manage the functions <app>-*",
        )
    })?;
    naming::validate_app(&app)?;
    let store = config::resolve_store(&crate::cli::StoreArgs {
        s3_bucket: args.s3_bucket.clone(),
        s3_prefix: args.s3_prefix.clone(),
    })?;
    let full = args
        .repo
        .clone()
        .or_else(|| github.repository.clone())
        .ok_or_else(|| {
            Error::missing(
                "--repo",
                "no repository given",
                "pass --repo OWNER/REPO: the repository whose workflows may assume the role",
            )
        })?;
    let (owner, repo) = split_repo(&full)?;
    let ids = match (args.owner_id, args.repo_id) {
        (Some(o), Some(r)) => Some((o, r)),
        (None, None) => {
            // Inside Actions the payload has them, but only for the repository we run in.
            let same = github
                .repository
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(&full));
            match (same, github.owner_id, github.repository_id) {
                (true, Some(o), Some(r)) => Some((o, r)),
                _ => None,
            }
        }
        _ => {
            return Err(Error::invalid(
                if args.owner_id.is_none() {
                    "--owner-id"
                } else {
                    "--repo-id"
                },
                "--owner-id and --repo-id go together",
                "pass both numeric ids (GitHub API: `owner.id` and `id` of the repository), or neither",
            ));
        }
    };
    if let Some(role) = &args.execution_role {
        config::validate_role_arn("--execution-role", role)?;
    }
    if let Some(region) = &args.region {
        config::validate_region(region)?;
    }
    let role_account = args
        .execution_role
        .as_deref()
        .and_then(|r| r.split(':').nth(4))
        .map(str::to_string);
    let account = match (&args.account, role_account) {
        (Some(a), _) if a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()) => {
            return Err(Error::invalid(
                "--account",
                format!("{a:?} is not an AWS account id"),
                "pass the 12-digit account id, e.g. --account 123456789012",
            ));
        }
        (Some(a), Some(r)) if a != &r => {
            return Err(Error::invalid(
                "--account",
                format!("--account {a} differs from the execution role's account {r}"),
                "Lambda takes execution roles from its own account: fix one of the two",
            ));
        }
        (Some(a), _) => a.clone(),
        (None, Some(r)) => r,
        (None, None) => {
            return Err(Error::missing(
                "--account",
                "no AWS account given: the trust policy names the account's GitHub OIDC provider",
                "pass --account 123456789012, or --execution-role (its account is used)",
            ));
        }
    };
    let partition = args
        .execution_role
        .as_deref()
        .and_then(|r| r.split(':').nth(1))
        .map(str::to_string)
        .unwrap_or_else(|| partition_of(args.region.as_deref()).to_string());
    let branch = match &args.branch {
        Some(b) => {
            let b = b.strip_prefix("refs/heads/").unwrap_or(b);
            check_condition_value("--branch", b)?;
            Some(b.to_string())
        }
        None => None,
    };
    if let Some(env) = &args.environment {
        check_condition_value("--environment", env)?;
    }
    if let Some(key) = &args.kms_key {
        validate_kms_key(key)?;
    }
    let mut env = config::parse_env(&args.env)?;
    let secrets: Vec<_> = crate::production::secrets::split_references(&mut env)?
        .into_values()
        .collect();
    Ok(PolicyInput {
        app,
        bucket: store.bucket,
        prefix: store.prefix,
        owner,
        repo,
        ids,
        execution_role: args.execution_role.clone(),
        region: args.region.clone(),
        account,
        partition,
        branch,
        environment: args.environment.clone(),
        pull_request: args.pull_request,
        domain: policy_domain(args.domain.as_deref())?,
        hosted_zone_id: args
            .hosted_zone_id
            .as_deref()
            .map(|z| z.trim_start_matches("/hostedzone/").to_string()),
        kms_key: args.kms_key.clone(),
        secrets,
        vpc: args.vpc_subnets.iter().any(|s| !s.trim().is_empty()),
        invoke: args.invoke,
        operate: args.operate,
    })
}

/// The `--domain` of `policy`: a name or a template, placeholders turned into `*`.
fn policy_domain(domain: Option<&str>) -> Result<Option<String>> {
    let Some(d) = domain.filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    // Check the template as a deploy would (unknown placeholders, hostname rules), with a
    // stand-in for each placeholder; the policy then matches any stage with `*`.
    let sample = crate::domain::fill_template(d, "x", Some(1))?;
    crate::domain::validate_hostname(&sample, d)?;
    Ok(Some(d.replace("{stage}", "*").replace("{pr}", "*")))
}

/// The statements a custom domain needs, scoped to the region's APIs, the domain's names and
/// the zone's records.
fn domain_statements(input: &PolicyInput, domain: &str) -> Vec<Value> {
    let p = &input.partition;
    let region = input.region.as_deref().unwrap_or("*");
    let gw = |path: &str| format!("arn:{p}:apigateway:{region}::{path}");
    let parent = domain.split_once('.').map_or(domain, |(_, rest)| rest);
    let zone = format!(
        "arn:{p}:route53:::hostedzone/{}",
        input.hosted_zone_id.as_deref().unwrap_or("*")
    );
    vec![
        json!({
            "Sid": "DeployActionHttpApis",
            "Effect": "Allow",
            "Action": actions(On::Api),
            "Resource": [
                gw("/apis"), gw("/apis/*"), gw("/tags/*"), gw("/domainnames"),
                gw(&format!("/domainnames/{domain}")), gw(&format!("/domainnames/{domain}/*")),
            ],
        }),
        json!({
            "Sid": "DeployActionCertificates",
            "Effect": "Allow",
            "Action": actions(On::Certificate),
            "Resource": format!("arn:{p}:acm:{region}:{}:certificate/*", input.account),
        }),
        json!({
            "Sid": "DeployActionDomainLookups",
            "Effect": "Allow",
            "Action": actions(On::DomainAny),
            "Resource": "*",
        }),
        json!({
            "Sid": "DeployActionDnsRecords",
            "Effect": "Allow",
            "Action": actions(On::Zone),
            "Resource": zone,
            // Only the domain's own records and certificate validation records.
            "Condition": {"ForAllValues:StringLike": {
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                    domain, format!("_*.{domain}"), format!("_*.{parent}"),
                ],
            }},
        }),
    ]
}

/// A KMS key ARN (`arn:<partition>:kms:<region>:<account>:key/<id>`): IAM grants key use on
/// the key's ARN, not on an alias.
fn validate_kms_key(key: &str) -> Result<()> {
    let parts: Vec<&str> = key.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "kms"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].strip_prefix("key/").is_some_and(|id| {
            !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "--kms-key",
            format!("{key:?} is not a KMS key ARN"),
            "pass the key's ARN, e.g. arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (aws s3api get-bucket-encryption --bucket BUCKET shows it)",
        ))
    }
}

fn partition_of(region: Option<&str>) -> &'static str {
    match region {
        Some(r) if r.starts_with("cn-") => "aws-cn",
        Some(r) if r.starts_with("us-gov-") => "aws-us-gov",
        _ => "aws",
    }
}

/// `OWNER/REPO`, as GitHub allows them, and never a pattern: the trust policy must not
/// widen to other owners or repositories (docs/contract.md, "Commands").
fn split_repo(full: &str) -> Result<(String, String)> {
    let help = "pass the repository as OWNER/REPO, e.g. --repo octocat/hello-world (no wildcards)";
    let Some((owner, repo)) = full.split_once('/') else {
        return Err(Error::invalid(
            "--repo",
            format!("{full:?} is not OWNER/REPO"),
            help,
        ));
    };
    let owner_ok = !owner.is_empty()
        && owner.len() <= 39
        && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !owner.starts_with('-');
    let repo_ok = !repo.is_empty()
        && repo.len() <= 100
        && repo
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && repo != "."
        && repo != "..";
    if owner_ok && repo_ok {
        Ok((owner.to_string(), repo.to_string()))
    } else {
        Err(Error::invalid(
            "--repo",
            format!("{full:?} is not a GitHub OWNER/REPO"),
            help,
        ))
    }
}

fn check_condition_value(flag: &'static str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 255
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            flag,
            format!("{value:?} can't be matched in a trust policy"),
            "pass the name as GitHub shows it, e.g. --branch main or --environment production",
        ))
    }
}

impl PolicyInput {
    fn function_arns(&self) -> Vec<String> {
        let base = format!(
            "arn:{}:lambda:{}:{}:function:{}-*",
            self.partition,
            self.region.as_deref().unwrap_or("*"),
            self.account,
            self.app
        );
        vec![base.clone(), format!("{base}:*")]
    }

    fn artifact_arn(&self) -> String {
        format!(
            "arn:{}:s3:::{}/{}",
            self.partition,
            self.bucket,
            naming::artifact_key(&self.prefix, &self.app, "*")
        )
    }

    fn log_group_arns(&self) -> Vec<String> {
        let base = format!(
            "arn:{}:logs:{}:{}:log-group:/aws/lambda/{}-*",
            self.partition,
            self.region.as_deref().unwrap_or("*"),
            self.account,
            self.app
        );
        vec![base.clone(), format!("{base}:*")]
    }

    fn rule_arn(&self) -> String {
        format!(
            "arn:{}:events:{}:{}:rule/{}-*",
            self.partition,
            self.region.as_deref().unwrap_or("*"),
            self.account,
            self.app
        )
    }

    fn log_groups_arn(&self) -> String {
        format!(
            "arn:{}:logs:{}:{}:log-group:*",
            self.partition,
            self.region.as_deref().unwrap_or("*"),
            self.account
        )
    }

    /// The exact parameters and secrets `--env` refers to. A secret named (not an ARN) gets
    /// Secrets Manager's random six-character suffix as `-??????`, as AWS documents it.
    fn secret_arns(&self) -> (Vec<String>, Vec<String>) {
        use crate::production::secrets::SecretRef;
        let region = self.region.as_deref().unwrap_or("*");
        let mut parameters = BTreeSet::new();
        let mut secrets = BTreeSet::new();
        for r in &self.secrets {
            match r {
                SecretRef::Ssm { name } if name.starts_with("arn:") => {
                    parameters.insert(name.clone());
                }
                SecretRef::Ssm { name } => {
                    let slash = if name.starts_with('/') { "" } else { "/" };
                    parameters.insert(format!(
                        "arn:{}:ssm:{region}:{}:parameter{slash}{name}",
                        self.partition, self.account
                    ));
                }
                SecretRef::SecretsManager { id, .. } if id.starts_with("arn:") => {
                    secrets.insert(id.clone());
                }
                SecretRef::SecretsManager { id, .. } => {
                    secrets.insert(format!(
                        "arn:{}:secretsmanager:{region}:{}:secret:{id}-??????",
                        self.partition, self.account
                    ));
                }
            }
        }
        (
            parameters.into_iter().collect(),
            secrets.into_iter().collect(),
        )
    }

    /// The role's name in the set-up commands.
    #[must_use]
    pub(crate) fn role_name(&self) -> String {
        format!("deploy-action-{}", self.app)
    }

    /// The `sub` claims GitHub issues to the workflows allowed to deploy.
    #[must_use]
    pub(crate) fn subjects(&self) -> Vec<String> {
        let prefix = match self.ids {
            Some((owner_id, repo_id)) => {
                format!("repo:{}@{owner_id}/{}@{repo_id}", self.owner, self.repo)
            }
            None => format!("repo:{}/{}", self.owner, self.repo),
        };
        let mut subjects = Vec::new();
        if let Some(b) = &self.branch {
            subjects.push(format!("{prefix}:ref:refs/heads/{b}"));
        }
        if let Some(e) = &self.environment {
            subjects.push(format!("{prefix}:environment:{e}"));
        }
        if self.pull_request {
            subjects.push(format!("{prefix}:pull_request"));
        }
        if subjects.is_empty() {
            // Any ref, environment or event of this one repository.
            subjects.push(format!("{prefix}:*"));
        }
        subjects
    }
}

/// The IAM actions the tool needs on `on`, sorted.
#[must_use]
pub(crate) fn actions(on: On) -> Vec<&'static str> {
    let set: BTreeSet<&'static str> = OPERATIONS
        .iter()
        .flat_map(|o| o.needs.iter())
        .filter(|(_, o)| *o == on)
        .map(|(a, _)| *a)
        .collect();
    set.into_iter().collect()
}

fn one_or_many(items: &[String]) -> Value {
    match items {
        [one] => json!(one),
        many => json!(many),
    }
}

/// The tag that names a function's app (see `aws::lambda::TAG_APP`).
const APP_TAG: &str = "deploy-action:app";

/// Function actions that only read: allowed on `<app>-*` without a tag condition, so that a
/// run can read the tags of a function whose name collides with another app's and say so.
fn is_read(action: &str) -> bool {
    let name = action.split_once(':').map_or(action, |(_, n)| n);
    name.starts_with("Get") || name.starts_with("List")
}

/// Function actions that create a function or set its tags: a tag condition on the request,
/// not (only) on the resource.
fn is_tagging(action: &str) -> bool {
    matches!(action, "lambda:CreateFunction" | "lambda:TagResource")
}

/// The function statements. `function:<app>-*` alone also matches another app named
/// `<app>-<x>` (app `hello` matches `hello-world-main`), so every action that changes or
/// deletes a function also needs the function's `deploy-action:app` tag to be this app
/// (`aws:ResourceTag`, which Lambda evaluates for every action on a function, its versions
/// and aliases: Lambda developer guide, "Using attribute-based access control in Lambda",
/// and the Service Authorization Reference for Lambda, resource type `function`).
/// CreateFunction has no resource tags yet: it must carry the tag in the request
/// (`aws:RequestTag`), with only deploy-action's tag keys (`aws:TagKeys`). TagResource (on
/// create, and `--adopt`) is allowed on functions that are ours, or that no app claims yet,
/// and never writes another app's name.
fn function_statements(input: &PolicyInput) -> Vec<Value> {
    // Invoking runs code in the function: only when asked (`--invoke`).
    let all: Vec<&str> = actions(On::Function)
        .into_iter()
        .filter(|a| input.invoke || *a != INVOKE_ACTION)
        .collect();
    let reads: Vec<&str> = all.iter().copied().filter(|a| is_read(a)).collect();
    let writes: Vec<&str> = all
        .iter()
        .copied()
        .filter(|a| !is_read(a) && !is_tagging(a))
        .collect();
    let ours = json!({format!("aws:ResourceTag/{APP_TAG}"): input.app});
    let tags_ours = json!({format!("aws:RequestTag/{APP_TAG}"): input.app});
    let only_our_keys = json!({"aws:TagKeys": "deploy-action:*"});
    let mut out = vec![json!({
        "Sid": "DeployActionReadFunctions",
        "Effect": "Allow",
        "Action": reads,
        "Resource": input.function_arns(),
    })];
    if !writes.is_empty() {
        out.push(json!({
            "Sid": "DeployActionChangeOwnFunctions",
            "Effect": "Allow",
            "Action": writes,
            "Resource": input.function_arns(),
            "Condition": {"StringEquals": ours},
        }));
    }
    if all.contains(&"lambda:CreateFunction") {
        out.push(json!({
            "Sid": "DeployActionCreateFunctions",
            "Effect": "Allow",
            "Action": "lambda:CreateFunction",
            "Resource": input.function_arns()[0],
            "Condition": {
                "StringEquals": tags_ours,
                "ForAllValues:StringLike": only_our_keys,
            },
        }));
    }
    if all.contains(&"lambda:TagResource") {
        out.push(json!({
            "Sid": "DeployActionTagOwnFunctions",
            "Effect": "Allow",
            "Action": "lambda:TagResource",
            "Resource": input.function_arns()[0],
            "Condition": {
                "StringEquals": ours,
                "ForAllValues:StringLike": only_our_keys,
            },
        }));
        out.push(json!({
            "Sid": "DeployActionTagUnclaimedFunctions",
            "Effect": "Allow",
            "Action": "lambda:TagResource",
            "Resource": input.function_arns()[0],
            "Condition": {
                "Null": {format!("aws:ResourceTag/{APP_TAG}"): "true"},
                "StringEquals": tags_ours,
                "ForAllValues:StringLike": only_our_keys,
            },
        }));
    }
    out
}

/// The deploy role's permissions.
#[must_use]
pub(crate) fn permissions(input: &PolicyInput) -> Value {
    let mut statements = function_statements(input);
    statements.extend([
        json!({
            "Sid": "DeployActionListStages",
            "Effect": "Allow",
            "Action": one_or_many(&actions(On::Any).iter().map(ToString::to_string).collect::<Vec<_>>()),
            "Resource": "*",
        }),
        json!({
            "Sid": "DeployActionArtifacts",
            "Effect": "Allow",
            "Action": actions(On::Artifact),
            "Resource": input.artifact_arn(),
        }),
    ]);
    if let Some(domain) = &input.domain {
        statements.extend(domain_statements(input, domain));
    }
    if let Some(key) = &input.kms_key {
        // SSE-KMS: PutObject makes a data key under the bucket's key (kms:GenerateDataKey);
        // reading the object back, by us or by Lambda copying the code with our permissions,
        // decrypts it (kms:Decrypt). S3 user guide, "Using server-side encryption with AWS
        // KMS keys": permissions; Lambda API reference, CreateFunction/UpdateFunctionCode
        // take the code from S3 with the caller's credentials.
        statements.push(json!({
            "Sid": "DeployActionArtifactKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key,
        }));
    }
    if let Some(role) = &input.execution_role {
        statements.push(json!({
            "Sid": "DeployActionPassExecutionRole",
            "Effect": "Allow",
            "Action": one_or_many(&actions(On::ExecutionRole).iter().map(ToString::to_string).collect::<Vec<_>>()),
            "Resource": role,
            "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        }));
    }
    statements.push(json!({
        "Sid": "DeployActionLogGroups",
        "Effect": "Allow",
        "Action": actions(On::LogGroup),
        "Resource": input.log_group_arns(),
    }));
    statements.push(json!({
        "Sid": "DeployActionDescribeLogGroups",
        "Effect": "Allow",
        "Action": one_or_many(&actions(On::LogGroups).iter().map(ToString::to_string).collect::<Vec<_>>()),
        "Resource": input.log_groups_arn(),
    }));
    statements.push(json!({
        "Sid": "DeployActionSchedules",
        "Effect": "Allow",
        "Action": actions(On::Rule),
        "Resource": input.rule_arn(),
    }));
    let (parameters, secrets) = input.secret_arns();
    if !parameters.is_empty() {
        statements.push(json!({
            "Sid": "DeployActionParameters",
            "Effect": "Allow",
            "Action": "ssm:GetParameters",
            "Resource": one_or_many(&parameters),
        }));
    }
    if !secrets.is_empty() {
        statements.push(json!({
            "Sid": "DeployActionSecrets",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": one_or_many(&secrets),
        }));
    }
    if input.operate {
        statements.extend(operate_statements(input));
    }
    // Secrets encrypted with a customer key: `--kms-key`'s statement grants kms:Decrypt on it.
    if input.vpc {
        statements.push(json!({
            "Sid": "DeployActionVpc",
            "Effect": "Allow",
            "Action": ["ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"],
            "Resource": "*",
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// What `logs`, `cost` and `gc` need beyond the deploy's statements (`--operate`), each scoped
/// as far as IAM allows (Service Authorization Reference,
/// https://docs.aws.amazon.com/service-authorization/latest/reference/):
/// - `logs:FilterLogEvents` and `logs:StartLiveTail` on the stage functions' log groups: both
///   take the `log-group` resource type (list_amazoncloudwatchlogs.html). DescribeLogGroups
///   (cost's stored bytes) is already the deploy's, on the account's log groups, the finest
///   IAM scopes it.
/// - `cloudwatch:GetMetricData` on `*`: the action has no resource types
///   (list_amazoncloudwatch.html), so no ARN can narrow it; it only reads metrics.
/// - `s3:ListBucket` on the bucket, only for listings under `<prefix>/<app>/`: the `s3:prefix`
///   condition key (list_amazons3.html; S3 user guide, "Limit the list to a folder").
/// - `s3:DeleteObject` on the app's artifacts `<prefix>/<app>/*.zip` only.
/// - `apigateway:GET` on the region's `/apis`: cost's GetApis, to find the HTTP API of a stage
///   with one (list_amazonapigatewaymanagementv2.html: resource type `Apis`).
///
/// `tag:GetResources` and `lambda:GetAccountSettings` (finding stages) are the deploy's
/// DeployActionListStages already; `gc`'s teardown uses the deploy's function statements.
fn operate_statements(input: &PolicyInput) -> Vec<Value> {
    let app_prefix = naming::artifact_key(&input.prefix, &input.app, "x");
    let app_prefix = app_prefix.trim_end_matches("x.zip");
    let region = input.region.as_deref().unwrap_or("*");
    vec![
        json!({
            "Sid": "DeployActionOperateLogs",
            "Effect": "Allow",
            "Action": actions(On::OperateLogGroup),
            "Resource": input.log_group_arns(),
        }),
        json!({
            "Sid": "DeployActionOperateMetrics",
            "Effect": "Allow",
            "Action": one_or_many(&actions(On::OperateMetrics).iter().map(ToString::to_string).collect::<Vec<_>>()),
            "Resource": "*",
        }),
        json!({
            "Sid": "DeployActionOperateListArtifacts",
            "Effect": "Allow",
            "Action": one_or_many(&actions(On::OperateListArtifacts).iter().map(ToString::to_string).collect::<Vec<_>>()),
            "Resource": format!("arn:{}:s3:::{}", input.partition, input.bucket),
            "Condition": {"StringLike": {"s3:prefix": [app_prefix, format!("{app_prefix}*")]}},
        }),
        json!({
            "Sid": "DeployActionOperateDeleteArtifacts",
            "Effect": "Allow",
            "Action": one_or_many(&actions(On::OperateArtifact).iter().map(ToString::to_string).collect::<Vec<_>>()),
            "Resource": input.artifact_arn(),
        }),
        json!({
            "Sid": "DeployActionOperateFindApis",
            "Effect": "Allow",
            "Action": "apigateway:GET",
            "Resource": format!("arn:{}:apigateway:{region}::/apis", input.partition),
        }),
    ]
}

/// Whether a trust-policy value is a pattern (then it needs `StringLike`).
fn is_pattern(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// The trust policy: GitHub's OIDC provider, audience `sts.amazonaws.com`, the subjects.
#[must_use]
pub(crate) fn trust(input: &PolicyInput) -> Value {
    const ISSUER: &str = "token.actions.githubusercontent.com";
    let subjects = input.subjects();
    let aud = json!({format!("{ISSUER}:aud"): "sts.amazonaws.com"});
    let sub_key = format!("{ISSUER}:sub");
    let condition = if subjects.iter().any(|s| is_pattern(s)) {
        json!({"StringEquals": aud, "StringLike": {sub_key: one_or_many(&subjects)}})
    } else {
        let mut equals = aud;
        equals[sub_key] = one_or_many(&subjects);
        json!({"StringEquals": equals})
    };
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "GitHubActionsDeploy",
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:{}:iam::{}:oidc-provider/{ISSUER}", input.partition, input.account)},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition,
        }],
    })
}

/// Both documents, the set-up commands and what to know about them.
#[must_use]
pub(crate) fn report(input: &PolicyInput) -> PolicyReport {
    let role = input.role_name();
    let commands = vec![
        format!(
            "aws iam create-role --role-name {role} --assume-role-policy-document file://trust.json"
        ),
        format!(
            "aws iam put-role-policy --role-name {role} --policy-name {role} --policy-document file://policy.json"
        ),
    ];
    let mut notes = Vec::new();
    match input.ids {
        Some(_) => notes.push(
            "trust: the `sub` uses GitHub's immutable form with numeric ids (repo:OWNER@ID/REPO@ID:...), which renames can't hijack; repositories created or renamed from 2026-07-15 get it, older ones after an admin opts in".to_string(),
        ),
        None => notes.push(
            "trust: the `sub` uses the name form (repo:OWNER/REPO:...), which older repositories get; repositories created or renamed from 2026-07-15 (or opted in) get the immutable form: pass --owner-id and --repo-id (inside Actions they are read from the event)".to_string(),
        ),
    }
    if input.branch.is_none() && input.environment.is_none() && !input.pull_request {
        notes.push(
            "trust: any branch, tag, environment or pull request of the repository may assume the role; narrow it with --branch, --environment or --pull-request".into(),
        );
    }
    if input.environment.is_some() {
        notes.push(
            "trust: a job that uses an environment gets `environment:NAME` as its subject instead of its ref".into(),
        );
    }
    notes.push(
        "the OIDC provider token.actions.githubusercontent.com (audience sts.amazonaws.com) must exist in the account: aws iam create-open-id-connect-provider --url https://token.actions.githubusercontent.com --client-id-list sts.amazonaws.com".into(),
    );
    notes.push(format!(
        "tag:GetResources and lambda:GetAccountSettings can't be scoped to functions; `status`, `gc` and `cost` use them to find the app's stages (drop DeployActionListStages if you don't need that). `function:{}-*` also matches another app whose name starts with `{}-`",
        input.app, input.app
    ));
    if input.operate {
        notes.push(
            "--operate: `logs` reads the app's log groups (FilterLogEvents, and StartLiveTail for --follow; Live Tail is billed per session minute), `cost` reads metrics (cloudwatch:GetMetricData, which IAM can't scope: it reads only), `gc` lists the bucket under the app's prefix only and deletes only the app's artifacts; consider a separate role for them".into(),
        );
    } else {
        notes.push(
            "`logs`, `cost` and `gc` need more (log events, metrics, listing and deleting artifacts): pass --operate".into(),
        );
    }
    if input.execution_role.is_none() {
        notes.push(
            "no --execution-role: the role can't pass one to Lambda, so it can update existing functions but not create new stages".into(),
        );
    }
    notes.push(
        "no s3:ListBucket: S3 then answers a HEAD of a missing artifact with 403, which deploy-action treats as missing".into(),
    );
    notes.push(format!(
        "functions: changes and deletes need the function's tag deploy-action:app={app} (aws:ResourceTag), new functions must carry it (aws:RequestTag), and TagResource never claims another app's function, so this role can't touch another app's functions even where their names match function:{app}-*; reads stay untagged so that a name collision is reported, not hidden",
        app = input.app
    ));
    match &input.kms_key {
        Some(key) => notes.push(format!(
            "SSE-KMS: DeployActionArtifactKey lets the role write artifacts under {key} (kms:GenerateDataKey) and read them (kms:Decrypt). Lambda copies the code from S3 with the deploy role's own permissions when it creates or updates the function, so the deploy role needs kms:Decrypt and the execution role needs nothing for the code; the key's policy must allow this role too (a key policy that names only other principals denies it)"
        )),
        None => notes.push(
            "if the bucket encrypts with SSE-KMS under a customer managed key, pass --kms-key ARN: the role then needs kms:GenerateDataKey and kms:Decrypt on it (Lambda reads the code with the deploy role's permissions, not the execution role's)".into(),
        ),
    }
    PolicyReport {
        role_name: role,
        permissions: permissions(input),
        trust: trust(input),
        commands,
        notes,
    }
}

impl PolicyReport {
    /// Text for humans: both documents, ready to save, and the commands.
    #[must_use]
    pub(crate) fn text(&self) -> String {
        let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# policy.json: the permissions of the deploy role\n{}\n",
            pretty(&self.permissions)
        );
        let _ = writeln!(
            out,
            "# trust.json: who may assume it (GitHub Actions through OIDC)\n{}\n",
            pretty(&self.trust)
        );
        let _ = writeln!(out, "# create the role:");
        for c in &self.commands {
            let _ = writeln!(out, "{c}");
        }
        let _ = writeln!(out, "\n# notes:");
        for n in &self.notes {
            let _ = writeln!(out, "- {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> PolicyInput {
        PolicyInput {
            app: "hello".into(),
            bucket: "artifacts".into(),
            prefix: "deploy-action".into(),
            owner: "octo-org".into(),
            repo: "octo-repo".into(),
            ids: None,
            execution_role: Some("arn:aws:iam::123456789012:role/lambda-exec".into()),
            region: Some("us-east-1".into()),
            account: "123456789012".into(),
            partition: "aws".into(),
            branch: Some("main".into()),
            environment: None,
            pull_request: false,
            domain: None,
            hosted_zone_id: None,
            kms_key: None,
            secrets: Vec::new(),
            vpc: false,
            invoke: true,
            operate: false,
        }
    }

    #[test]
    fn a_domain_adds_scoped_front_door_statements_only_when_asked() {
        let plain = permissions(&input());
        assert!(!plain.to_string().contains("apigateway"), "{plain}");
        let mut with = input();
        with.domain = policy_domain(Some("{stage}.preview.example.com")).unwrap();
        assert_eq!(with.domain.as_deref(), Some("*.preview.example.com"));
        with.hosted_zone_id = Some("Z0123456789".into());
        let p = permissions(&with).to_string();
        for want in [
            "apigateway:POST",
            "arn:aws:apigateway:us-east-1::/domainnames/*.preview.example.com",
            "acm:RequestCertificate",
            "arn:aws:route53:::hostedzone/Z0123456789",
            "route53:ChangeResourceRecordSets",
            "_*.preview.example.com",
        ] {
            assert!(p.contains(want), "{want} missing from {p}");
        }
        assert!(policy_domain(Some("Bad_Name.example.com")).is_err());
    }

    fn args(extra: &[&str]) -> PolicyArgs {
        use clap::Parser;
        let mut argv = vec![
            "deploy-action",
            "policy",
            "--app",
            "hello",
            "--s3-bucket",
            "artifacts",
        ];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Policy(a) => a,
            _ => unreachable!(),
        }
    }

    fn snake_to_pascal(s: &str) -> String {
        s.split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// The operation list is the code's: every SDK call in the source is listed, and every
    /// listed operation is called somewhere.
    #[test]
    fn operations_match_the_sdk_calls_in_the_source() {
        // Every source file, so that a new module's calls are caught too.
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let sources: Vec<String> = walkdir::WalkDir::new(&src)
            .into_iter()
            .filter_map(std::result::Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect();
        assert!(
            sources.len() > 10,
            "read the sources under {}",
            src.display()
        );
        // `<client>.<operation>()` with the client named as in this code base.
        let call =
            regex::Regex::new(r"\b(?:client|s3|sts|lambda)\s*\.\s*([a-z][a-z0-9_]*)\(\)").unwrap();
        let not_operations = ["config", "clone"];
        let mut called = BTreeSet::new();
        for text in &sources {
            // Test modules call the SDK too (to inspect); only the product's calls count.
            let product = text.split("#[cfg(test)]").next().unwrap_or(text);
            for c in call.captures_iter(product) {
                if !not_operations.contains(&&c[1]) {
                    called.insert(snake_to_pascal(&c[1]));
                }
            }
        }
        let listed: BTreeSet<String> = OPERATIONS.iter().map(|o| o.name.to_string()).collect();
        let unlisted: Vec<_> = called.difference(&listed).collect();
        let uncalled: Vec<_> = listed.difference(&called).collect();
        assert!(
            unlisted.is_empty(),
            "called but missing from OPERATIONS (add them with their IAM actions): {unlisted:?}"
        );
        assert!(
            uncalled.is_empty(),
            "listed in OPERATIONS but never called (remove them): {uncalled:?}"
        );
    }

    #[test]
    fn nothing_but_the_stage_listing_is_granted_on_everything() {
        let any = vec!["lambda:GetAccountSettings", "tag:GetResources"];
        assert_eq!(actions(On::Any), any);
        let p = permissions(&input());
        for s in p["Statement"].as_array().unwrap() {
            if s["Resource"] == "*" {
                assert_eq!(s["Action"], json!(any), "{s}");
            }
        }
    }

    #[test]
    fn operate_grants_logs_metrics_and_artifact_cleanup_scoped() {
        let plain = permissions(&input()).to_string();
        for absent in [
            "logs:FilterLogEvents",
            "cloudwatch:GetMetricData",
            "s3:DeleteObject",
        ] {
            assert!(
                !plain.contains(absent),
                "{absent} without --operate: {plain}"
            );
        }
        let mut with = input();
        with.operate = true;
        let p = permissions(&with);
        let logs = statement(&p, "DeployActionOperateLogs");
        assert_eq!(
            logs["Action"],
            json!(["logs:FilterLogEvents", "logs:StartLiveTail"])
        );
        assert_eq!(
            logs["Resource"][0],
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/hello-*"
        );
        let metrics = statement(&p, "DeployActionOperateMetrics");
        assert_eq!(metrics["Action"], "cloudwatch:GetMetricData");
        assert_eq!(metrics["Resource"], "*");
        let list = statement(&p, "DeployActionOperateListArtifacts");
        assert_eq!(list["Action"], "s3:ListBucket");
        assert_eq!(list["Resource"], "arn:aws:s3:::artifacts");
        assert_eq!(
            list["Condition"]["StringLike"]["s3:prefix"],
            json!(["deploy-action/hello/", "deploy-action/hello/*"])
        );
        let delete = statement(&p, "DeployActionOperateDeleteArtifacts");
        assert_eq!(delete["Action"], "s3:DeleteObject");
        assert_eq!(
            delete["Resource"],
            "arn:aws:s3:::artifacts/deploy-action/hello/*.zip"
        );
        assert_eq!(
            statement(&p, "DeployActionOperateFindApis")["Resource"],
            "arn:aws:apigateway:us-east-1::/apis"
        );
        // On everything: only the stage listing and the metrics (no resource types).
        for s in p["Statement"].as_array().unwrap() {
            if s["Resource"] == "*" {
                assert!(
                    s["Sid"] == "DeployActionListStages"
                        || s["Sid"] == "DeployActionOperateMetrics",
                    "{s}"
                );
            }
        }
        let notes = report(&with).notes.join("\n");
        assert!(notes.contains("--operate:"), "{notes}");
        assert!(report(&input()).notes.join("\n").contains("pass --operate"));
    }

    fn statement<'a>(p: &'a Value, sid: &str) -> &'a Value {
        p["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no statement {sid} in {p}"))
    }

    #[test]
    fn resources_are_scoped() {
        let p = permissions(&input());
        assert_eq!(
            statement(&p, "DeployActionReadFunctions")["Resource"],
            json!([
                "arn:aws:lambda:us-east-1:123456789012:function:hello-*",
                "arn:aws:lambda:us-east-1:123456789012:function:hello-*:*"
            ])
        );
        let artifacts = statement(&p, "DeployActionArtifacts");
        assert_eq!(
            artifacts["Resource"],
            "arn:aws:s3:::artifacts/deploy-action/hello/*.zip"
        );
        assert_eq!(
            artifacts["Action"],
            json!(["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"])
        );
        let pass = statement(&p, "DeployActionPassExecutionRole");
        assert_eq!(pass["Action"], "iam:PassRole");
        assert_eq!(
            pass["Condition"]["StringEquals"]["iam:PassedToService"],
            "lambda.amazonaws.com"
        );
        let mut no_role = input();
        no_role.execution_role = None;
        no_role.region = None;
        let p = permissions(&no_role);
        assert!(
            p["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["Sid"] != "DeployActionPassExecutionRole")
        );
        assert_eq!(
            statement(&p, "DeployActionReadFunctions")["Resource"][0],
            "arn:aws:lambda:*:123456789012:function:hello-*"
        );
    }

    /// `--env` references get read access to exactly those names.
    #[test]
    fn secrets_are_granted_exactly() {
        let p = args(&[
            "--repo",
            "octo-org/octo-repo",
            "--account",
            "123456789012",
            "--region",
            "eu-west-1",
            "--env",
            "DB=ssm:/hello/db",
            "--env",
            "API=secretsmanager:hello/api#token",
            "--env",
            "PLAIN=x",
            "--kms-key",
            "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ]);
        let input = resolve(&p, &GitHubContext::default()).unwrap();
        let doc = permissions(&input);
        let by_sid = |sid: &str| {
            doc["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["Sid"] == sid)
                .cloned()
                .unwrap_or_else(|| panic!("no {sid}: {doc}"))
        };
        assert_eq!(
            by_sid("DeployActionParameters")["Resource"],
            "arn:aws:ssm:eu-west-1:123456789012:parameter/hello/db"
        );
        assert_eq!(
            by_sid("DeployActionSecrets")["Resource"],
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hello/api-??????"
        );
        let bad = args(&[
            "--repo",
            "octo-org/octo-repo",
            "--account",
            "123456789012",
            "--env",
            "DB=vault:x",
        ]);
        assert_eq!(
            resolve(&bad, &GitHubContext::default()).unwrap_err().code(),
            2
        );
    }

    /// Changes and deletes need the app's tag on the function; reads don't; creating needs it
    /// in the request; every function action lands in exactly one statement.
    #[test]
    fn function_writes_are_scoped_by_the_app_tag() {
        let p = permissions(&input());
        let reads = strings(&statement(&p, "DeployActionReadFunctions")["Action"]);
        let own = statement(&p, "DeployActionChangeOwnFunctions");
        let writes = strings(&own["Action"]);
        assert!(reads.iter().all(|a| is_read(a)), "{reads:?}");
        assert!(reads.contains(&"lambda:GetFunction".to_string()));
        for a in [
            "lambda:DeleteFunction",
            "lambda:UpdateFunctionCode",
            "lambda:UpdateAlias",
        ] {
            assert!(writes.contains(&a.to_string()), "{a} in {writes:?}");
        }
        assert_eq!(
            own["Condition"],
            json!({"StringEquals": {"aws:ResourceTag/deploy-action:app": "hello"}})
        );
        let create = statement(&p, "DeployActionCreateFunctions");
        assert_eq!(
            create["Condition"]["StringEquals"]["aws:RequestTag/deploy-action:app"],
            "hello"
        );
        assert_eq!(
            create["Condition"]["ForAllValues:StringLike"]["aws:TagKeys"],
            "deploy-action:*"
        );
        let unclaimed = statement(&p, "DeployActionTagUnclaimedFunctions");
        assert_eq!(
            unclaimed["Condition"]["Null"]["aws:ResourceTag/deploy-action:app"],
            "true"
        );
        let mut granted: Vec<String> = p["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| {
                strings(&s["Resource"])
                    .iter()
                    .any(|r| r.contains(":function:"))
            })
            .flat_map(|s| strings(&s["Action"]))
            .collect();
        granted.sort();
        granted.dedup();
        assert_eq!(granted, actions(On::Function));
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

    #[test]
    fn a_kms_key_is_an_arn_of_a_key() {
        assert!(validate_kms_key("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab").is_ok());
        for bad in [
            "alias/x",
            "arn:aws:kms:us-east-1:123456789012:alias/x",
            "arn:aws:kms:us-east-1:1234:key/x",
            "arn:aws:s3:us-east-1:123456789012:key/x",
            "arn:aws:kms:us-east-1:123456789012:key/",
        ] {
            assert!(validate_kms_key(bad).is_err(), "{bad}");
        }
        let mut with_key = input();
        with_key.kms_key = Some("arn:aws:kms:us-east-1:123456789012:key/k".into());
        let p = permissions(&with_key);
        let kms = statement(&p, "DeployActionArtifactKey");
        assert_eq!(kms["Action"], json!(["kms:Decrypt", "kms:GenerateDataKey"]));
        assert_eq!(kms["Resource"], "arn:aws:kms:us-east-1:123456789012:key/k");
    }

    #[test]
    fn trust_names_the_repository_exactly() {
        let t = trust(&input());
        let c = &t["Statement"][0]["Condition"];
        assert_eq!(
            c["StringEquals"]["token.actions.githubusercontent.com:aud"],
            "sts.amazonaws.com"
        );
        assert_eq!(
            c["StringEquals"]["token.actions.githubusercontent.com:sub"],
            "repo:octo-org/octo-repo:ref:refs/heads/main"
        );
        assert!(c.get("StringLike").is_none());
        assert_eq!(
            t["Statement"][0]["Principal"]["Federated"],
            "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
        );
    }

    #[test]
    fn immutable_subjects_carry_the_ids() {
        let mut i = input();
        i.ids = Some((123_456, 456_789));
        i.environment = Some("production".into());
        i.pull_request = true;
        assert_eq!(
            i.subjects(),
            vec![
                "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main",
                "repo:octo-org@123456/octo-repo@456789:environment:production",
                "repo:octo-org@123456/octo-repo@456789:pull_request",
            ]
        );
    }

    #[test]
    fn without_a_ref_filter_only_the_tail_is_a_pattern() {
        let mut i = input();
        i.branch = None;
        let t = trust(&i);
        let c = &t["Statement"][0]["Condition"];
        assert_eq!(
            c["StringLike"]["token.actions.githubusercontent.com:sub"],
            "repo:octo-org/octo-repo:*"
        );
        assert_eq!(
            c["StringEquals"]["token.actions.githubusercontent.com:aud"],
            "sts.amazonaws.com"
        );
        assert!(report(&i).notes.iter().any(|n| n.contains("any branch")));
    }

    #[test]
    fn flags_are_checked() {
        let gh = GitHubContext::default();
        let ok = resolve(
            &args(&[
                "--repo",
                "o/r",
                "--execution-role",
                "arn:aws:iam::123456789012:role/x",
            ]),
            &gh,
        )
        .unwrap();
        assert_eq!(ok.account, "123456789012");
        assert_eq!(ok.partition, "aws");
        for (extra, flag) in [
            (vec!["--repo", "o/*", "--account", "123456789012"], "--repo"),
            (vec!["--repo", "*/r", "--account", "123456789012"], "--repo"),
            (
                vec!["--repo", "just-a-name", "--account", "123456789012"],
                "--repo",
            ),
            (vec!["--repo", "o/r"], "--account"),
            (vec!["--repo", "o/r", "--account", "12"], "--account"),
            (
                vec![
                    "--repo",
                    "o/r",
                    "--account",
                    "123456789012",
                    "--execution-role",
                    "arn:aws:iam::210987654321:role/x",
                ],
                "--account",
            ),
            (
                vec![
                    "--repo",
                    "o/r",
                    "--account",
                    "123456789012",
                    "--owner-id",
                    "1",
                ],
                "--repo-id",
            ),
            (
                vec![
                    "--repo",
                    "o/r",
                    "--account",
                    "123456789012",
                    "--branch",
                    "a b",
                ],
                "--branch",
            ),
            (vec!["--account", "123456789012"], "--repo"),
        ] {
            let err = resolve(&args(&extra), &gh).unwrap_err();
            assert_eq!(err.code(), 2, "{extra:?}");
            assert!(err.to_string().contains(flag), "{extra:?}: {err}");
        }
    }

    #[test]
    fn ids_come_from_the_event_for_the_same_repository_only() {
        let gh = GitHubContext {
            repository: Some("Octo-Org/octo-repo".into()),
            owner_id: Some(11),
            repository_id: Some(22),
            ..GitHubContext::default()
        };
        let same = resolve(&args(&["--account", "123456789012"]), &gh).unwrap();
        assert_eq!(
            (same.owner.as_str(), same.ids),
            ("Octo-Org", Some((11, 22)))
        );
        let other = resolve(
            &args(&["--repo", "other/repo", "--account", "123456789012"]),
            &gh,
        )
        .unwrap();
        assert_eq!(other.ids, None);
    }

    #[test]
    fn branch_refs_are_normalised() {
        let gh = GitHubContext::default();
        let i = resolve(
            &args(&[
                "--repo",
                "o/r",
                "--account",
                "123456789012",
                "--branch",
                "refs/heads/release/1.x",
            ]),
            &gh,
        )
        .unwrap();
        assert_eq!(i.subjects(), vec!["repo:o/r:ref:refs/heads/release/1.x"]);
    }

    #[test]
    fn the_text_has_both_documents_and_the_two_commands() {
        let r = report(&input());
        let text = r.text();
        assert!(text.contains("# policy.json"));
        assert!(text.contains("# trust.json"));
        assert!(text.contains(
            "aws iam create-role --role-name deploy-action-hello --assume-role-policy-document file://trust.json"
        ));
        assert!(text.contains(
            "aws iam put-role-policy --role-name deploy-action-hello --policy-name deploy-action-hello --policy-document file://policy.json"
        ));
    }
}
