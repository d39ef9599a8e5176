//! The production front door: an API Gateway HTTP API per stage in front of the `live`
//! alias, and optionally a custom domain (`--domain`) with its certificate, API mapping and
//! DNS records.
//!
//! - `resolve` (config time, no network): the flags, the `{stage}`/`{pr}` template, and
//!   the hostname rules. Errors here exit 2 before any AWS call.
//! - `plan` (reads only, before the function is touched): the stage's API, the certificate,
//!   the hosted zone, the domain name and its mappings. A certificate that doesn't fit or a
//!   domain mapped to someone else's API exits 2 with nothing changed.
//! - `sync` (after `live` and its URL): create or correct what the plan found missing or
//!   drifted. The API points at the alias, so rollback and promote never touch it.
//! - `teardown`: what the stage owns (found by tags), never a certificate or a hosted zone.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_acm::types::CertificateStatus;
use aws_sdk_route53::types::RrType;
use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::aws::Aws;
use crate::aws::acm::{Acm, Certificate};
use crate::aws::apigateway::{DomainName, Gateway, HttpApi, Mapping};
use crate::aws::lambda::{Function, TAG_APP, TAG_STAGE};
use crate::aws::route53::{self, Route53, Zone};
use crate::config::DeployConfig;
use crate::error::{Error, Result};
use crate::github::workflow;
use crate::naming::LIVE_ALIAS;
use crate::output::DeployReport;

/// Tag on the HTTP API naming the custom domain it serves (teardown reads it).
pub(crate) const TAG_DOMAIN: &str = "deploy-action:domain";
/// Tag on the function of a stage with an HTTP API: teardown, rollback and promote look for
/// the API only then, so stages without one (and deploy roles without API Gateway
/// permissions) never see an API Gateway call.
pub(crate) const TAG_FRONT_DOOR: &str = "deploy-action:front-door";
/// Statement id of the permission that lets the stage's API invoke `live`.
pub(crate) const SID_HTTP_API: &str = "deploy-action-http-api";

/// What HTTP APIs cost, for the step summary: $1.00 per million requests for the first 300
/// million a month (https://aws.amazon.com/api-gateway/pricing/, HTTP APIs, US East).
pub(crate) const HTTP_API_PRICE: &str = "$1.00 per million requests (first 300 million a month)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FrontDoorArg {
    // The function URL on `live` (free).
    Url,
    // An API Gateway HTTP API in front of `live` (needed for a custom domain).
    HttpApi,
}

/// Flags of the front door (flattened into `deploy`).
#[derive(Debug, Clone, Default, Args)]
pub struct DomainArgs {
    /// Serve the stage at https://NAME/ through an HTTP API; `{stage}` and `{pr}` are filled in.
    #[arg(long, env = "DEPLOY_DOMAIN")]
    pub domain: Option<String>,
    /// What serves the stage: the function URL, or an HTTP API (default: url; http-api with --domain).
    #[arg(long, env = "DEPLOY_FRONT_DOOR", value_enum)]
    pub front_door: Option<FrontDoorArg>,
    /// The ACM certificate for --domain (default: an ISSUED one in the region that covers it).
    #[arg(long, env = "DEPLOY_CERTIFICATE_ARN")]
    pub certificate_arn: Option<String>,
    /// Request a DNS-validated certificate when none covers --domain, and wait for it.
    #[arg(long, env = "DEPLOY_CREATE_CERTIFICATE")]
    pub create_certificate: bool,
    /// The Route 53 hosted zone for --domain (default: the longest suffix match).
    #[arg(long, env = "DEPLOY_HOSTED_ZONE_ID")]
    pub hosted_zone_id: Option<String>,
}

/// The front door as validated config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub(crate) struct FrontDoor {
    pub http_api: bool,
    pub domain: Option<DomainSettings>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DomainSettings {
    /// The hostname, template filled in.
    pub name: String,
    /// The template it came from, when it had placeholders.
    pub template: Option<String>,
    pub certificate_arn: Option<String>,
    pub create_certificate: bool,
    pub hosted_zone_id: Option<String>,
}

impl DomainSettings {
    /// The name to request a certificate for: with a template whose first label is a
    /// placeholder (`{stage}.preview.example.com`), the wildcard `*.preview.example.com`,
    /// so every preview shares one certificate.
    #[must_use]
    pub(crate) fn certificate_name(&self) -> String {
        match &self.template {
            Some(t) if t.split('.').next().is_some_and(|l| l.contains('{')) => {
                let rest = self.name.split_once('.').map_or("", |(_, r)| r);
                format!("*.{rest}")
            }
            _ => self.name.clone(),
        }
    }
}

/// Validate the front-door flags and fill in the domain template (no network).
pub(crate) fn resolve(
    args: &DomainArgs,
    stage: &str,
    pr: Option<u64>,
    region: Option<&str>,
) -> Result<FrontDoor> {
    let Some(raw) = args.domain.as_deref().filter(|d| !d.is_empty()) else {
        for (given, flag) in [
            (args.certificate_arn.is_some(), "--certificate-arn"),
            (args.create_certificate, "--create-certificate"),
            (args.hosted_zone_id.is_some(), "--hosted-zone-id"),
        ] {
            if given {
                return Err(Error::invalid(
                    flag,
                    format!("{flag} only applies to a custom domain"),
                    "add --domain NAME (input `domain`), or drop it",
                ));
            }
        }
        return Ok(FrontDoor {
            http_api: args.front_door == Some(FrontDoorArg::HttpApi),
            domain: None,
        });
    };
    if args.front_door == Some(FrontDoorArg::Url) {
        return Err(Error::invalid(
            "--front-door",
            "a function URL can't have a custom domain: --domain needs --front-door http-api",
            "drop --front-door url (--domain implies http-api), or drop --domain",
        ));
    }
    let name = fill_template(raw, stage, pr)?;
    validate_hostname(&name, raw)?;
    if let Some(arn) = &args.certificate_arn {
        validate_certificate_arn(arn, region)?;
    }
    let hosted_zone_id = match &args.hosted_zone_id {
        Some(id) => {
            let id = id.trim_start_matches("/hostedzone/").to_string();
            let ok = (1..=32).contains(&id.len())
                && id
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
            if !ok {
                return Err(Error::invalid(
                    "--hosted-zone-id",
                    format!("{id:?} is not a Route 53 hosted zone id"),
                    "use the id Route 53 shows, e.g. Z0123456789ABCDEFGHIJ",
                ));
            }
            Some(id)
        }
        None => None,
    };
    Ok(FrontDoor {
        http_api: true,
        domain: Some(DomainSettings {
            template: (raw != name).then(|| raw.to_string()),
            name,
            certificate_arn: args.certificate_arn.clone(),
            create_certificate: args.create_certificate,
            hosted_zone_id,
        }),
    })
}

/// `{stage}` → the stage, `{pr}` → the pull request number; any other `{...}` is an error.
pub(crate) fn fill_template(template: &str, stage: &str, pr: Option<u64>) -> Result<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            return Err(Error::invalid(
                "--domain",
                format!("{template:?} has an unclosed `{{`"),
                "placeholders are {stage} and {pr}, e.g. '{stage}.preview.example.com'",
            ));
        };
        match &after[..end] {
            "stage" => out.push_str(stage),
            "pr" => match pr {
                Some(n) => out.push_str(&n.to_string()),
                None => {
                    return Err(Error::invalid(
                        "--domain",
                        format!("{template:?} uses {{pr}}, but this run is not for a pull request"),
                        "use {stage} (pr-42 on a pull request, the branch name on a push), or run on pull_request events",
                    ));
                }
            },
            other => {
                return Err(Error::invalid(
                    "--domain",
                    format!("{template:?} has an unknown placeholder {{{other}}}"),
                    "placeholders are {stage} and {pr}, e.g. '{stage}.preview.example.com'",
                ));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A DNS hostname a certificate can cover: lowercase letters, digits and `-` in labels of
/// 1-63 characters that don't start or end with `-`, at least two labels, at most 253
/// characters, a top-level label that is not all digits.
pub(crate) fn validate_hostname(name: &str, given: &str) -> Result<()> {
    let from = if name == given {
        String::new()
    } else {
        format!(" (from {given:?})")
    };
    let fail = |why: String| {
        Err(Error::invalid(
            "--domain",
            format!("{name:?}{from} is not a valid hostname: {why}"),
            "use a lowercase name such as app.example.com or '{stage}.preview.example.com' (labels of letters, digits and `-`, at most 63 characters each)",
        ))
    };
    if name.is_empty() {
        return fail("it is empty".into());
    }
    if name.len() > 253 {
        return fail(format!("{} characters, the limit is 253", name.len()));
    }
    if name.contains("://") || name.contains('/') {
        return fail("give the name only, without https:// or a path".into());
    }
    if name.starts_with("*.") {
        return fail("a wildcard can't be served; name one host".into());
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return fail("it needs at least two labels, like app.example.com".into());
    }
    for label in &labels {
        if label.is_empty() {
            return fail("it has an empty label (two dots, or a dot at an end)".into());
        }
        if label.len() > 63 {
            return fail(format!(
                "the label {label:?} has {} characters, the limit is 63",
                label.len()
            ));
        }
        if let Some(c) = label.chars().find(char::is_ascii_uppercase) {
            return fail(format!(
                "{c:?} is uppercase; use {:?}",
                name.to_ascii_lowercase()
            ));
        }
        if label.contains('_') {
            return fail(format!(
                "the label {label:?} has an underscore, which hostnames can't hold"
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return fail(format!("{c:?} can't be in a hostname"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return fail(format!("the label {label:?} starts or ends with `-`"));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return fail("the last label is all digits".into());
    }
    Ok(())
}

fn validate_certificate_arn(arn: &str, region: Option<&str>) -> Result<()> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "acm"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[5].starts_with("certificate/");
    if !ok {
        return Err(Error::invalid(
            "--certificate-arn",
            format!("{arn:?} is not an ACM certificate ARN"),
            "use the form arn:aws:acm:<region>:<account>:certificate/<id>",
        ));
    }
    if let Some(region) = region {
        check_certificate_region(arn, region)?;
    }
    Ok(())
}

fn check_certificate_region(arn: &str, region: &str) -> Result<()> {
    let cert_region = arn.split(':').nth(3).unwrap_or_default();
    if cert_region == region {
        return Ok(());
    }
    Err(Error::invalid(
        "--certificate-arn",
        format!(
            "the certificate is in {cert_region}, but the stage's API is in {region}: a regional custom domain needs a certificate in its own region"
        ),
        format!(
            "request or import the certificate in {region} (ACM console, region {region}), or pass --create-certificate"
        ),
    ))
}

// ---------------------------------------------------------------------------------------
// Plan: reads only.
// ---------------------------------------------------------------------------------------

/// What the front door needs, worked out before any write.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct FrontDoorPlan {
    pub http_api: bool,
    /// The stage's API, when it exists already.
    pub api_id: Option<String>,
    pub domain: Option<DomainPlan>,
    #[serde(skip)]
    api: Option<HttpApi>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct DomainPlan {
    pub name: String,
    pub certificate: CertificatePlan,
    /// The hosted zone, or none: the record is printed for manual creation.
    pub zone: Option<Zone>,
    /// Whether the domain name exists already, and whether it is the stage's own.
    pub exists: bool,
    pub owned: bool,
    #[serde(skip)]
    existing: Option<DomainName>,
    #[serde(skip)]
    mappings: Vec<Mapping>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub(crate) enum CertificatePlan {
    /// An ISSUED certificate that covers the name.
    Use { arn: String },
    /// A certificate we requested before that is still being validated: finish it.
    Finish { arn: String },
    /// Request one for `name` (maybe a wildcard).
    Request { name: String },
}

fn stage_tags<'a>(app: &'a str, stage: &'a str) -> [(&'static str, &'a str); 2] {
    [(TAG_APP, app), (TAG_STAGE, stage)]
}

/// Look at what is there and check it fits; change nothing.
pub(crate) async fn plan(aws: &Aws, cfg: &DeployConfig) -> Result<FrontDoorPlan> {
    let fd = &cfg.front_door;
    if !fd.http_api {
        return Ok(FrontDoorPlan::default());
    }
    let gateway = Gateway::new(&aws.config);
    let api = gateway.find_api(&stage_tags(&cfg.app, &cfg.stage)).await?;
    let domain = match &fd.domain {
        Some(d) => Some(plan_domain(aws, cfg, d, &gateway, api.as_ref()).await?),
        None => None,
    };
    Ok(FrontDoorPlan {
        http_api: true,
        api_id: api.as_ref().map(|a| a.id.clone()),
        domain,
        api,
    })
}

async fn plan_domain(
    aws: &Aws,
    cfg: &DeployConfig,
    d: &DomainSettings,
    gateway: &Gateway,
    api: Option<&HttpApi>,
) -> Result<DomainPlan> {
    let acm = Acm::new(&aws.config);
    let r53 = Route53::new(&aws.config);
    let (existing, mappings, zone) = tokio::try_join!(
        gateway.domain(&d.name),
        gateway.mappings(&d.name),
        find_zone(&r53, d),
    )?;
    let ours = stage_tags(&cfg.app, &cfg.stage);
    let owned = existing.as_ref().is_none_or(|e| {
        ours.iter()
            .all(|(k, v)| e.tags.get(*k).map(String::as_str) == Some(*v))
    });
    // A mapping of the whole domain to an API that isn't the stage's is someone else's
    // traffic: refuse rather than take it over.
    for m in mappings.iter().filter(|m| m.key.is_empty()) {
        if api.is_some_and(|a| a.id == m.api_id) {
            continue;
        }
        let other = gateway.api(&m.api_id).await?;
        let stale = other.as_ref().is_none_or(|o| {
            ours.iter()
                .all(|(k, v)| o.tags.get(*k).map(String::as_str) == Some(*v))
        });
        if !stale {
            let who = other.map_or_else(String::new, |o| {
                match (o.tags.get(TAG_APP), o.tags.get(TAG_STAGE)) {
                    (Some(a), Some(s)) => format!(" (app {a}, stage {s})"),
                    _ => " (not managed by deploy-action)".into(),
                }
            });
            return Err(Error::invalid(
                "--domain",
                format!(
                    "{} is already mapped to HTTP API {}{who}, which isn't this stage's",
                    d.name, m.api_id
                ),
                "choose another --domain, or remove that API mapping first (API Gateway console → Custom domain names)",
            ));
        }
    }
    let certificate = plan_certificate(&acm, aws, d, existing.as_ref(), zone.as_ref()).await?;
    Ok(DomainPlan {
        name: d.name.clone(),
        certificate,
        zone,
        exists: existing.is_some(),
        owned,
        existing,
        mappings,
    })
}

async fn find_zone(r53: &Route53, d: &DomainSettings) -> Result<Option<Zone>> {
    match &d.hosted_zone_id {
        Some(id) => {
            let Some(zone) = r53.zone(id).await? else {
                return Err(Error::invalid(
                    "--hosted-zone-id",
                    format!("hosted zone {id} does not exist in this account"),
                    "check the id in the Route 53 console, or drop --hosted-zone-id to find the zone by name",
                ));
            };
            if route53::longest_suffix(std::slice::from_ref(&zone), &d.name).is_none() {
                return Err(Error::invalid(
                    "--hosted-zone-id",
                    format!(
                        "hosted zone {id} is {}, which can't hold {}",
                        zone.name, d.name
                    ),
                    "pass the zone of the domain's parent, or drop --hosted-zone-id",
                ));
            }
            Ok(Some(zone))
        }
        None => {
            let zones = r53.public_zones().await?;
            Ok(route53::longest_suffix(&zones, &d.name).cloned())
        }
    }
}

async fn plan_certificate(
    acm: &Acm,
    aws: &Aws,
    d: &DomainSettings,
    existing: Option<&DomainName>,
    zone: Option<&Zone>,
) -> Result<CertificatePlan> {
    if let Some(arn) = &d.certificate_arn {
        check_certificate_region(arn, &aws.region)?;
        let Some(cert) = acm.describe(arn).await? else {
            return Err(Error::invalid(
                "--certificate-arn",
                format!("certificate {arn} does not exist in this account"),
                "check the ARN (ACM console), or drop --certificate-arn to find one that covers the domain",
            ));
        };
        return check_certificate(&cert, &d.name)
            .map(|()| CertificatePlan::Use { arn: arn.clone() });
    }
    // The domain name's own certificate, when it still fits: no search on a redeploy.
    if let Some(arn) = existing.and_then(|e| e.certificate_arn.as_deref())
        && let Some(cert) = acm.describe(arn).await?
        && cert.issued()
        && cert.covers(&d.name)
    {
        return Ok(CertificatePlan::Use {
            arn: cert.arn.clone(),
        });
    }
    let statuses: &[CertificateStatus] = if d.create_certificate {
        &[
            CertificateStatus::Issued,
            CertificateStatus::PendingValidation,
        ]
    } else {
        &[CertificateStatus::Issued]
    };
    let found = acm.covering(&d.name, statuses).await?;
    // An exact name before a wildcard; issued before pending.
    let best = found
        .iter()
        .filter(|c| c.issued())
        .min_by_key(|c| !c.names.iter().any(|n| route53::bare(n) == d.name));
    if let Some(c) = best {
        tracing::info!("certificate {} covers {}", c.arn, d.name);
        return Ok(CertificatePlan::Use { arn: c.arn.clone() });
    }
    if d.create_certificate {
        if zone.is_none() {
            return Err(Error::invalid(
                "--create-certificate",
                format!(
                    "no Route 53 hosted zone holds {}, so the certificate's validation record can't be written",
                    d.name
                ),
                "create the hosted zone (or pass --hosted-zone-id), or request the certificate yourself and pass --certificate-arn",
            ));
        }
        if let Some(c) = found.iter().find(|c| c.kind == "AMAZON_ISSUED") {
            return Ok(CertificatePlan::Finish { arn: c.arn.clone() });
        }
        return Ok(CertificatePlan::Request {
            name: d.certificate_name(),
        });
    }
    Err(Error::invalid(
        "--domain",
        format!(
            "no ISSUED ACM certificate in {} covers {}",
            aws.region, d.name
        ),
        format!(
            "request one in {} for {} (ACM, DNS validation), pass --certificate-arn ARN, or pass --create-certificate",
            aws.region,
            d.certificate_name()
        ),
    ))
}

fn check_certificate(cert: &Certificate, name: &str) -> Result<()> {
    if !cert.covers(name) {
        return Err(Error::invalid(
            "--certificate-arn",
            format!(
                "certificate {} is for {}, which doesn't cover {name}",
                cert.arn,
                cert.names.join(", ")
            ),
            "pass a certificate whose name or alternative names include the domain (a wildcard covers one label), or drop --certificate-arn",
        ));
    }
    if !cert.issued() {
        return Err(Error::invalid(
            "--certificate-arn",
            format!("certificate {} is {}, not ISSUED", cert.arn, cert.status),
            "finish its validation (ACM console shows the DNS record to create) or pass another certificate",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Sync: after `live` and its URL.
// ---------------------------------------------------------------------------------------

/// Bring the front door to the plan, and fill the report's front-door fields.
pub(crate) async fn sync(
    aws: &Aws,
    cfg: &DeployConfig,
    plan: &FrontDoorPlan,
    report: &mut DeployReport,
) -> Result<()> {
    report.front_door.function_url = report.url.clone();
    if !plan.http_api {
        return Ok(());
    }
    let _group = Group::start("front door");
    let alias_arn = report.function_arn.clone();
    let (region, account) = arn_region_account(&alias_arn, &aws.region);
    let gateway = Gateway::new(&aws.config);
    let mut tags: Vec<(&str, &str)> = stage_tags(&cfg.app, &cfg.stage).to_vec();
    if let Some(d) = &cfg.front_door.domain {
        tags.push((TAG_DOMAIN, d.name.as_str()));
    }
    let api = match &plan.api {
        Some(api) => {
            gateway.tag_api(api, &region, &tags).await?;
            api.clone()
        }
        None => gateway.create_api(&cfg.function_name, &tags).await?,
    };
    let integration = gateway.upsert_integration(&api.id, &alias_arn).await?;
    gateway.upsert_route(&api.id, &integration).await?;
    gateway.upsert_stage(&api.id).await?;
    let source_arn = format!("arn:aws:execute-api:{region}:{account}:{}/*", api.id);
    allow_api(aws, &cfg.function_name, &source_arn).await?;
    mark_function(aws, &cfg.function_name).await?;
    report.front_door.api_endpoint = Some(api.endpoint.clone());
    report.url = Some(format!("{}/", api.endpoint.trim_end_matches('/')));

    let Some(dp) = &plan.domain else {
        return Ok(());
    };
    let cert_arn = match &dp.certificate {
        CertificatePlan::Use { arn } => arn.clone(),
        CertificatePlan::Finish { arn } => {
            issue_certificate(aws, arn, dp.zone.as_ref()).await?;
            arn.clone()
        }
        CertificatePlan::Request { name } => {
            let acm = Acm::new(&aws.config);
            let arn = acm.request(name, &stage_tags(&cfg.app, &cfg.stage)).await?;
            tracing::info!("requested certificate {arn} for {name} (DNS validation)");
            issue_certificate(aws, &arn, dp.zone.as_ref()).await?;
            arn
        }
    };
    let domain = match &dp.existing {
        None => {
            gateway
                .create_domain(&dp.name, &cert_arn, &stage_tags(&cfg.app, &cfg.stage))
                .await?
        }
        Some(e) if dp.owned && !e.matches(&cert_arn) => {
            gateway.update_domain(&dp.name, &cert_arn).await?
        }
        Some(e) => e.clone(),
    };
    gateway
        .upsert_mapping(&dp.name, &api.id, &dp.mappings)
        .await?;
    let (Some(target), Some(target_zone)) = (domain.target.clone(), domain.target_zone.clone())
    else {
        return Err(Error::Internal(format!(
            "API Gateway did not say where {} points (no ApiGatewayDomainName/HostedZoneId)",
            dp.name
        )));
    };
    report.url = Some(format!("https://{}/", dp.name));
    report.front_door.domain = Some(dp.name.clone());
    match &dp.zone {
        Some(zone) => {
            let r53 = Route53::new(&aws.config);
            let records = r53.records(&zone.id, &dp.name).await?;
            let mut changes = Vec::new();
            for kind in [RrType::A, RrType::Aaaa] {
                let ok = records
                    .iter()
                    .any(|r| *r.r#type() == kind && route53::aliases_to(r, &target, &target_zone));
                if !ok {
                    changes.push(route53::upsert_alias(
                        &dp.name,
                        kind,
                        &target,
                        &target_zone,
                    )?);
                }
            }
            if !changes.is_empty() {
                r53.change(&zone.id, &dp.name, changes).await?;
                tracing::info!("DNS: {} → {target} (zone {})", dp.name, zone.name);
            }
            report.front_door.dns = Some("route53".into());
        }
        None => {
            let record = format!("{}. CNAME {target}.", dp.name);
            workflow::notice(&format!(
                "no Route 53 hosted zone holds {}: create this DNS record at your DNS provider: {record} (or, in Route 53, alias A and AAAA records to {target} in zone {target_zone})",
                dp.name
            ));
            report.front_door.dns = Some("manual".into());
            report.front_door.manual_record = Some(record);
        }
    }
    Ok(())
}

/// Wait until ACM issues the certificate, writing its validation record into the zone.
async fn issue_certificate(aws: &Aws, arn: &str, zone: Option<&Zone>) -> Result<()> {
    let acm = Acm::new(&aws.config);
    let r53 = Route53::new(&aws.config);
    let budget = certificate_budget();
    let deadline = Instant::now() + budget;
    let poll = (budget / 20).clamp(Duration::from_millis(100), Duration::from_secs(10));
    let mut written = false;
    let mut last_log = Instant::now();
    loop {
        let Some(cert) = acm.describe(arn).await? else {
            return Err(Error::Internal(format!("certificate {arn} disappeared")));
        };
        if cert.issued() {
            tracing::info!("certificate {arn} is ISSUED");
            return Ok(());
        }
        if cert.status != CertificateStatus::PendingValidation.as_str() {
            return Err(Error::NotReady {
                step: "certificate",
                function: arn.to_string(),
                message: format!("is {}, so ACM won't issue it", cert.status),
                help: Some(
                    "see the ACM console for the reason; delete it and deploy again with --create-certificate, or pass --certificate-arn"
                        .into(),
                ),
            });
        }
        // ACM fills in the validation record a few seconds after the request.
        if !written && !cert.validation.is_empty() {
            if let Some(zone) = zone {
                let changes = cert
                    .validation
                    .iter()
                    .filter(|(_, kind, _)| kind == "CNAME")
                    .map(|(name, _, value)| route53::upsert_cname(name, value))
                    .collect::<Result<Vec<_>>>()?;
                r53.change(&zone.id, "certificate validation", changes)
                    .await?;
                tracing::info!(
                    "wrote the validation record of {arn} into zone {}",
                    zone.name
                );
            }
            written = true;
        }
        if Instant::now() >= deadline {
            let records = cert
                .validation
                .iter()
                .map(|(n, k, v)| format!("{n} {k} {v}"))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Error::NotReady {
                step: "certificate",
                function: arn.to_string(),
                message: format!(
                    "is still PENDING_VALIDATION after {}s (validation record: {records})",
                    budget.as_secs()
                ),
                help: Some(
                    "DNS validation usually takes a few minutes; check that the record resolves (dig CNAME <name>), then run the deploy again: it picks up the same certificate"
                        .into(),
                ),
            });
        }
        if last_log.elapsed() >= Duration::from_secs(30) {
            tracing::info!("waiting for ACM to issue {arn} (DNS validation)");
            last_log = Instant::now();
        }
        tokio::time::sleep(poll).await;
    }
}

/// How long to wait for ACM (DNS validation takes minutes); tests shorten it.
fn certificate_budget() -> Duration {
    std::env::var("DEPLOY_ACTION_TEST_CERT_WAIT_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(900), Duration::from_secs)
}

/// Let the stage's API (and only it) invoke `live`: one statement, replaced when it drifted.
async fn allow_api(aws: &Aws, function: &str, source_arn: &str) -> Result<()> {
    use crate::aws::errors::{is_conflict, is_not_found, wrap};
    let resource = format!("{function}:{LIVE_ALIAS}");
    let current = match aws
        .lambda
        .get_policy()
        .function_name(function)
        .qualifier(LIVE_ALIAS)
        .send()
        .await
    {
        Ok(p) => serde_json::from_str::<serde_json::Value>(p.policy().unwrap_or("{}"))
            .unwrap_or_default(),
        Err(e) if is_not_found(&e) => serde_json::Value::Null,
        Err(e) => return Err(wrap("front door", "GetPolicy", resource, e)),
    };
    let statement = current
        .get("Statement")
        .and_then(|s| s.as_array())
        .and_then(|s| {
            s.iter()
                .find(|st| st.get("Sid").and_then(|v| v.as_str()) == Some(SID_HTTP_API))
        });
    if let Some(st) = statement {
        if st.to_string().contains(source_arn) {
            return Ok(());
        }
        match aws
            .lambda
            .remove_permission()
            .function_name(function)
            .qualifier(LIVE_ALIAS)
            .statement_id(SID_HTTP_API)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(wrap("front door", "RemovePermission", resource, e)),
        }
    }
    match aws
        .lambda
        .add_permission()
        .function_name(function)
        .qualifier(LIVE_ALIAS)
        .statement_id(SID_HTTP_API)
        .action("lambda:InvokeFunction")
        .principal("apigateway.amazonaws.com")
        .source_arn(source_arn)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_conflict(&e) => Ok(()),
        Err(e) => Err(wrap("front door", "AddPermission", resource, e)),
    }
}

/// Tag the function as having an HTTP API (once: a redeploy finds the tag and writes nothing).
async fn mark_function(aws: &Aws, name: &str) -> Result<()> {
    let function = Function::new(&aws.lambda, name);
    if let Some((config, tags)) = function.get(None).await?
        && !tags.contains_key(TAG_FRONT_DOOR)
    {
        function
            .tag(&unqualified(&config.arn), &[(TAG_FRONT_DOOR, "http-api")])
            .await?;
    }
    Ok(())
}

/// Whether the stage's function says it has an HTTP API (false when it is gone).
async fn has_front_door(aws: &Aws, name: &str) -> Result<bool> {
    Ok(Function::new(&aws.lambda, name)
        .get(None)
        .await?
        .is_some_and(|(_, tags)| tags.contains_key(TAG_FRONT_DOOR)))
}

/// `arn:...:function:NAME` of `arn:...:function:NAME[:QUALIFIER]`.
fn unqualified(arn: &str) -> String {
    arn.split(':').take(7).collect::<Vec<_>>().join(":")
}

/// Region and account of an ARN (`arn:aws:lambda:<region>:<account>:...`).
fn arn_region_account(arn: &str, fallback_region: &str) -> (String, String) {
    let parts: Vec<&str> = arn.split(':').collect();
    let region = parts
        .get(3)
        .filter(|r| !r.is_empty())
        .map_or_else(|| fallback_region.to_string(), |r| (*r).to_string());
    let account = parts
        .get(4)
        .filter(|a| !a.is_empty())
        .map_or_else(|| "*".to_string(), |a| (*a).to_string());
    (region, account)
}

/// A log group in Actions for the front-door steps.
struct Group;

impl Group {
    fn start(name: &str) -> Group {
        workflow::group(name);
        tracing::info!("{name}");
        Group
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        workflow::end_group();
    }
}

// ---------------------------------------------------------------------------------------
// Reports of commands that don't change the front door, and teardown.
// ---------------------------------------------------------------------------------------

/// Fill the front-door fields of a rollback's (or promote's) report from what the stage has:
/// its API and the domain it serves (reads only).
pub(crate) async fn attach(
    aws: &Aws,
    app: &str,
    stage: &str,
    report: &mut DeployReport,
) -> Result<()> {
    report.front_door.function_url = report.url.clone();
    if !has_front_door(aws, &report.function_name).await? {
        return Ok(());
    }
    let gateway = Gateway::new(&aws.config);
    let Some(api) = gateway.find_api(&stage_tags(app, stage)).await? else {
        return Ok(());
    };
    report.front_door.api_endpoint = Some(api.endpoint.clone());
    report.url = Some(format!("{}/", api.endpoint.trim_end_matches('/')));
    if let Some(domain) = api.tags.get(TAG_DOMAIN) {
        report.front_door.domain = Some(domain.clone());
        report.url = Some(format!("https://{domain}/"));
    }
    Ok(())
}

/// For reports that no front-door step touched: the function URL is the raw URL.
pub(crate) fn finish_report(report: &mut DeployReport) {
    let fd = &report.front_door;
    if fd.function_url.is_none() && fd.api_endpoint.is_none() && fd.domain.is_none() {
        report.front_door.function_url.clone_from(&report.url);
    }
}

/// What teardown removed of the front door.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Removed {
    pub api: Option<String>,
    pub domains: Vec<String>,
}

/// Remove what the stage owns, when its function's tags say it has a front door (the caller
/// has checked that the function is the stage's): DNS records of its domain names, their
/// mappings, the domain names, the API. Domain names that aren't the stage's keep everything
/// but the mapping to the stage's API; certificates and hosted zones are never deleted.
pub(crate) async fn teardown(
    aws: &Aws,
    app: &str,
    stage: &str,
    function_tags: &HashMap<String, String>,
) -> Result<Removed> {
    if !function_tags.contains_key(TAG_FRONT_DOOR) {
        return Ok(Removed::default());
    }
    let gateway = Gateway::new(&aws.config);
    let tags = stage_tags(app, stage);
    let (api, mut owned) = tokio::try_join!(gateway.find_api(&tags), gateway.find_domains(&tags))?;
    let mut removed = Removed::default();
    // A domain the API serves but doesn't own: only the mapping goes.
    if let Some(api) = &api
        && let Some(name) = api.tags.get(TAG_DOMAIN)
        && !owned.iter().any(|d| &d.name == name)
        && let Some(other) = gateway.domain(name).await?
    {
        for m in gateway.mappings(&other.name).await? {
            if m.api_id == api.id {
                gateway.delete_mapping(&other.name, &m.id).await?;
            }
        }
    }
    let r53 = Route53::new(&aws.config);
    let zones = if owned.is_empty() {
        Vec::new()
    } else {
        r53.public_zones().await?
    };
    for d in owned.drain(..) {
        if let (Some(zone), Some(target), Some(target_zone)) = (
            route53::longest_suffix(&zones, &d.name),
            d.target.as_deref(),
            d.target_zone.as_deref(),
        ) {
            let records = r53.records(&zone.id, &d.name).await?;
            let changes = records
                .into_iter()
                .filter(|r| {
                    matches!(r.r#type(), RrType::A | RrType::Aaaa)
                        && route53::aliases_to(r, target, target_zone)
                })
                .map(route53::delete)
                .collect::<Result<Vec<_>>>()?;
            if !changes.is_empty() {
                r53.change(&zone.id, &d.name, changes).await?;
                tracing::info!("deleted the DNS records of {}", d.name);
            }
        }
        for m in gateway.mappings(&d.name).await? {
            gateway.delete_mapping(&d.name, &m.id).await?;
        }
        if gateway.delete_domain(&d.name).await? {
            tracing::info!("deleted domain name {}", d.name);
        }
        removed.domains.push(d.name);
    }
    if let Some(api) = api {
        if gateway.delete_api(&api.id).await? {
            tracing::info!("deleted HTTP API {} ({})", api.name, api.id);
        }
        removed.api = Some(api.id);
    }
    Ok(removed)
}

/// The step-summary lines about the front door and its cost.
#[must_use]
pub(crate) fn summary_lines(report: &DeployReport) -> String {
    let fd = &report.front_door;
    let mut md = String::new();
    if fd.api_endpoint.is_some() {
        md.push_str(&format!(
            "Front door: API Gateway HTTP API, {HTTP_API_PRICE}, on top of Lambda; a function URL costs nothing extra.\n"
        ));
    } else if fd.function_url.is_some() {
        md.push_str(
            "Front door: the function URL, which costs nothing beyond Lambda (an HTTP API for a custom domain costs $1.00 per million requests).\n",
        );
    }
    if let Some(record) = &fd.manual_record {
        md.push_str(&format!(
            "\n> [!IMPORTANT]\n> No Route 53 hosted zone holds this domain: create this record at your DNS provider:\n>\n> ```\n> {record}\n> ```\n"
        ));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(domain: &str) -> DomainArgs {
        DomainArgs {
            domain: Some(domain.into()),
            ..DomainArgs::default()
        }
    }

    #[test]
    fn templates_fill_stage_and_pr() {
        let fd = resolve(
            &args("{stage}.preview.example.com"),
            "pr-42",
            Some(42),
            None,
        )
        .unwrap();
        let d = fd.domain.unwrap();
        assert!(fd.http_api);
        assert_eq!(d.name, "pr-42.preview.example.com");
        assert_eq!(d.certificate_name(), "*.preview.example.com");
        let fd = resolve(&args("pr{pr}.example.com"), "pr-7", Some(7), None).unwrap();
        assert_eq!(fd.domain.unwrap().name, "pr7.example.com");
        assert!(resolve(&args("{pr}.example.com"), "main", None, None).is_err());
        assert!(resolve(&args("{branch}.example.com"), "main", None, None).is_err());
        let fixed = resolve(&args("app.example.com"), "main", None, None).unwrap();
        assert_eq!(fixed.domain.unwrap().certificate_name(), "app.example.com");
    }

    #[test]
    fn bad_hostnames_are_refused() {
        for bad in [
            "App.example.com",
            "my_app.example.com",
            "example",
            "a..example.com",
            "-a.example.com",
            "https://app.example.com",
            "*.example.com",
            "app.example.123",
        ] {
            let e = resolve(&args(bad), "main", None, None).unwrap_err();
            assert_eq!(e.code(), 2, "{bad}");
        }
        let long = format!("{}.example.com", "a".repeat(64));
        assert!(resolve(&args(&long), "main", None, None).is_err());
        // A template that yields an invalid name: the stage is too long for one label.
        let stage = "s".repeat(60);
        let e = resolve(&args("{stage}-preview.example.com"), &stage, None, None).unwrap_err();
        assert!(e.to_string().contains("limit is 63"), "{e}");
        let e = resolve(&args("{stage}.example.com"), "Feature_X", None, None).unwrap_err();
        assert!(e.to_string().contains("from"), "{e}");
    }

    #[test]
    fn flags_that_need_a_domain_or_http_api() {
        let mut a = args("app.example.com");
        a.front_door = Some(FrontDoorArg::Url);
        assert!(resolve(&a, "main", None, None).is_err());
        let no_domain = DomainArgs {
            create_certificate: true,
            ..DomainArgs::default()
        };
        assert!(resolve(&no_domain, "main", None, None).is_err());
        let http = DomainArgs {
            front_door: Some(FrontDoorArg::HttpApi),
            ..DomainArgs::default()
        };
        assert!(resolve(&http, "main", None, None).unwrap().http_api);
        assert!(
            !resolve(&DomainArgs::default(), "main", None, None)
                .unwrap()
                .http_api
        );
    }

    #[test]
    fn certificate_arns_and_regions() {
        let mut a = args("app.example.com");
        a.certificate_arn = Some("arn:aws:acm:eu-west-1:123456789012:certificate/abc".into());
        assert!(resolve(&a, "main", None, Some("eu-west-1")).is_ok());
        let e = resolve(&a, "main", None, Some("us-east-1")).unwrap_err();
        assert!(e.to_string().contains("eu-west-1"), "{e}");
        a.certificate_arn = Some("not-an-arn".into());
        assert!(resolve(&a, "main", None, None).is_err());
    }
}
