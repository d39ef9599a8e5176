//! `cost --app A [--stage S] [--days 30]`: what each stage cost, from CloudWatch metrics
//! (Invocations and Duration per function, IncomingBytes per log group: all stages in one
//! GetMetricData per 500 queries) and each function's memory and architecture; and what an
//! always-on Fargate task would cost instead, with the request rate where it gets cheaper.
//!
//! Prices are a built-in us-east-1 table ([`Prices::builtin`], with the date it was taken and
//! the page each number is from); `--prices FILE` (JSON or TOML, same keys) overrides any of
//! them. The free tier (1M requests and 400,000 GB-s of Lambda, 5 GB of CloudWatch Logs per
//! month) belongs to the whole account, so it is shown apart from the stages' costs as the most
//! it could take off. A stage whose front door is an HTTP API (`--front-door http-api`; its
//! function is tagged `deploy-action:front-door`) also pays API Gateway per request: its API
//! (found by our app and stage tags in GetApis) has its `Count` in the same GetMetricData. The
//! HTTP API free tier only applies in an account's first 12 months, so it is shown apart again.
//!
//! Not in the deploy step summary: the figure needs CloudWatch reads, and a no-op deploy must
//! stay at its request count (README "Cost").

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use serde::Serialize;

use crate::aws::Aws;
use crate::aws::errors::{is_not_found, wrap};
use crate::cli::CostArgs;
use crate::error::{Error, Result};
use crate::github::context::GitHubContext;
use crate::ops::fleet::{self, Gate, StageRef};
use crate::ops::logs::log_group;
use crate::output::Report;

/// GetMetricData takes at most 500 queries per request.
pub(crate) const QUERIES_PER_REQUEST: usize = 500;
const GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Prices in USD. Field names are the keys of `--prices`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Prices {
    /// When the built-in numbers were taken, and the region they are for.
    pub taken: String,
    pub region: String,
    /// <https://aws.amazon.com/lambda/pricing/>: Arm, first 7.5 billion GB-s per month.
    pub lambda_arm64_gb_second: f64,
    /// Same page: x86, first 6 billion GB-s per month.
    pub lambda_x86_64_gb_second: f64,
    /// Same page: $0.20 per 1M requests.
    pub lambda_request: f64,
    /// Same page, free tier: 1M requests and 400,000 GB-s per month, account-wide.
    pub lambda_free_requests: f64,
    pub lambda_free_gb_seconds: f64,
    /// <https://aws.amazon.com/api-gateway/pricing/> (taken 2026-12-03): HTTP APIs, us-east-1,
    /// $1.00 per million requests for the first 300 million a month.
    pub http_api_request: f64,
    /// Same page, free tier: "one million API calls received for HTTP APIs ... per month for
    /// up to 12 months" (new accounts only).
    pub http_api_free_requests: f64,
    /// <https://aws.amazon.com/cloudwatch/pricing/>: Logs, standard class: collect (ingest)
    /// $0.50 per GB, store $0.03 per GB-month; free tier 5 GB per month.
    pub logs_ingestion_gb: f64,
    pub logs_storage_gb_month: f64,
    pub logs_free_gb: f64,
    /// <https://aws.amazon.com/s3/pricing/>: S3 Standard, first 50 TB, $0.023 per GB-month.
    pub s3_gb_month: f64,
    /// <https://aws.amazon.com/fargate/pricing/>: Linux/ARM, per vCPU-hour and per GB-hour
    /// (the page renders its table with JavaScript; the figures were checked against
    /// vantage.sh's us-east-1 table: $0.03238 and $0.00356).
    pub fargate_arm64_vcpu_hour: f64,
    pub fargate_arm64_gb_hour: f64,
    /// <https://aws.amazon.com/elasticloadbalancing/pricing/>: Application Load Balancer,
    /// $0.0225 per hour and $0.008 per LCU-hour.
    pub alb_hour: f64,
    pub alb_lcu_hour: f64,
}

impl Prices {
    #[must_use]
    pub(crate) fn builtin() -> Prices {
        Prices {
            taken: "2026-12-03".into(),
            region: "us-east-1".into(),
            lambda_arm64_gb_second: 0.000_013_333_4,
            lambda_x86_64_gb_second: 0.000_016_666_7,
            lambda_request: 0.20 / 1e6,
            lambda_free_requests: 1e6,
            lambda_free_gb_seconds: 400_000.0,
            http_api_request: 1.00 / 1e6,
            http_api_free_requests: 1e6,
            logs_ingestion_gb: 0.50,
            logs_storage_gb_month: 0.03,
            logs_free_gb: 5.0,
            s3_gb_month: 0.023,
            fargate_arm64_vcpu_hour: 0.032_38,
            fargate_arm64_gb_hour: 0.003_56,
            alb_hour: 0.0225,
            alb_lcu_hour: 0.008,
        }
    }

    fn set(&mut self, key: &str, v: f64) -> bool {
        let slot = match key {
            "lambda_arm64_gb_second" => &mut self.lambda_arm64_gb_second,
            "lambda_x86_64_gb_second" => &mut self.lambda_x86_64_gb_second,
            "lambda_request" => &mut self.lambda_request,
            "lambda_free_requests" => &mut self.lambda_free_requests,
            "lambda_free_gb_seconds" => &mut self.lambda_free_gb_seconds,
            "http_api_request" => &mut self.http_api_request,
            "http_api_free_requests" => &mut self.http_api_free_requests,
            "logs_ingestion_gb" => &mut self.logs_ingestion_gb,
            "logs_storage_gb_month" => &mut self.logs_storage_gb_month,
            "logs_free_gb" => &mut self.logs_free_gb,
            "s3_gb_month" => &mut self.s3_gb_month,
            "fargate_arm64_vcpu_hour" => &mut self.fargate_arm64_vcpu_hour,
            "fargate_arm64_gb_hour" => &mut self.fargate_arm64_gb_hour,
            "alb_hour" => &mut self.alb_hour,
            "alb_lcu_hour" => &mut self.alb_lcu_hour,
            _ => return false,
        };
        *slot = v;
        true
    }

    /// The built-in table with the keys of a JSON or TOML file applied.
    pub(crate) fn from_file(path: &Path) -> Result<Prices> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("can't read --prices {}", path.display()), e))?;
        let bad = |m: String| {
            Error::invalid(
                "--prices",
                m,
                "a JSON object or TOML table of numbers, keys as in `deploy-action cost --output json` `prices`",
            )
        };
        let mut pairs: Vec<(String, Option<f64>)> = Vec::new();
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&text)
        {
            pairs.extend(map.into_iter().map(|(k, v)| (k, v.as_f64())));
        } else {
            let doc: toml_edit::DocumentMut = text
                .parse()
                .map_err(|e| bad(format!("{}: neither JSON nor TOML: {e}", path.display())))?;
            for (k, item) in doc.iter() {
                let v = item
                    .as_float()
                    .or_else(|| item.as_integer().map(|i| i as f64));
                pairs.push((k.to_string(), v));
            }
        }
        let mut prices = Prices::builtin();
        prices.taken = format!("{} (overridden by {})", prices.taken, path.display());
        for (k, v) in pairs {
            if k == "taken" || k == "region" {
                continue;
            }
            let Some(v) = v.filter(|v| v.is_finite() && *v >= 0.0) else {
                return Err(bad(format!("{k} is not a number >= 0")));
            };
            if !prices.set(&k, v) {
                return Err(bad(format!("unknown price {k:?}")));
            }
        }
        Ok(prices)
    }
}

/// What one stage used over the period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub(crate) struct Usage {
    pub requests: f64,
    /// Sum of Duration (ms).
    pub duration_ms: f64,
    pub memory_mb: f64,
    pub arm64: bool,
    pub log_ingested_bytes: f64,
    pub log_stored_bytes: f64,
    /// The front door is an HTTP API (then `http_api_requests` is its `Count`).
    pub http_api: bool,
    pub http_api_requests: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct StageCost {
    pub stage: String,
    pub function_name: String,
    pub memory_mb: f64,
    pub architecture: String,
    pub requests: f64,
    pub gb_seconds: f64,
    pub avg_duration_ms: Option<f64>,
    pub requests_per_second: f64,
    pub lambda_compute: f64,
    pub lambda_requests: f64,
    pub logs_ingested_bytes: f64,
    pub logs_ingestion: f64,
    pub logs_stored_bytes: f64,
    pub logs_storage: f64,
    /// `url` (function URL, no charge) or `http-api`.
    pub front_door: String,
    /// Requests the stage's HTTP API received (AWS/ApiGateway `Count`), and their price.
    pub http_api_requests: f64,
    pub http_api: f64,
    pub total: f64,
    /// Request rate above which the Fargate task is cheaper than this stage on Lambda.
    pub fargate_breakeven_rps: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Fargate {
    pub cpu: f64,
    pub memory_gb: f64,
    pub alb: bool,
    /// An always-on task for the period.
    pub cost: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct CostReport {
    pub app: String,
    pub days: u32,
    pub stages: Vec<StageCost>,
    pub s3_artifact_bytes: Option<f64>,
    pub s3_storage: f64,
    /// The stages plus S3, before the free tier.
    pub total: f64,
    /// The most the account's free tier could take off (it is shared by every function).
    pub free_tier: f64,
    pub total_after_free_tier: f64,
    /// The most the HTTP API free tier could take off: only in an account's first 12 months,
    /// so not in `free_tier`.
    pub http_api_free_tier: f64,
    pub fargate: Fargate,
    pub prices: Prices,
    pub notes: Vec<String>,
}

/// The cost of one stage over `days`.
#[must_use]
pub(crate) fn stage_cost(
    stage: &StageRef,
    u: &Usage,
    days: u32,
    p: &Prices,
    fargate: &Fargate,
) -> StageCost {
    let period_s = f64::from(days) * 86_400.0;
    let gb = u.memory_mb / 1024.0;
    let gb_seconds = u.duration_ms / 1000.0 * gb;
    let gb_s_price = if u.arm64 {
        p.lambda_arm64_gb_second
    } else {
        p.lambda_x86_64_gb_second
    };
    let lambda_compute = gb_seconds * gb_s_price;
    let lambda_requests = u.requests * p.lambda_request;
    let logs_ingestion = u.log_ingested_bytes / GB * p.logs_ingestion_gb;
    let logs_storage = u.log_stored_bytes / GB * p.logs_storage_gb_month * f64::from(days) / 30.0;
    let http_api = if u.http_api {
        u.http_api_requests * p.http_api_request
    } else {
        0.0
    };
    let avg = (u.requests > 0.0).then(|| u.duration_ms / u.requests);
    // Per request on Lambda: the request price and its GB-seconds (100 ms when there was no
    // traffic to measure), plus its share of the log bytes, plus the HTTP API's price when
    // that is the front door.
    let per_request = p.lambda_request
        + if u.http_api { p.http_api_request } else { 0.0 }
        + avg.unwrap_or(100.0) / 1000.0 * gb * gb_s_price
        + if u.requests > 0.0 {
            logs_ingestion / u.requests
        } else {
            0.0
        };
    let fargate_per_second = fargate.cost / period_s;
    StageCost {
        stage: stage.stage.clone(),
        function_name: stage.function_name.clone(),
        memory_mb: u.memory_mb,
        architecture: if u.arm64 { "arm64" } else { "x86_64" }.into(),
        requests: u.requests,
        gb_seconds,
        avg_duration_ms: avg,
        requests_per_second: u.requests / period_s,
        lambda_compute,
        lambda_requests,
        logs_ingested_bytes: u.log_ingested_bytes,
        logs_ingestion,
        logs_stored_bytes: u.log_stored_bytes,
        logs_storage,
        front_door: if u.http_api { "http-api" } else { "url" }.into(),
        http_api_requests: u.http_api_requests,
        http_api,
        total: lambda_compute + lambda_requests + logs_ingestion + logs_storage + http_api,
        fargate_breakeven_rps: (per_request > 0.0).then(|| fargate_per_second / per_request),
    }
}

/// The most the HTTP API free tier (1M calls a month, first 12 months only) could take off.
#[must_use]
pub(crate) fn http_api_free_tier(stages: &[StageCost], days: u32, p: &Prices) -> f64 {
    let requests: f64 = stages.iter().map(|s| s.http_api_requests).sum();
    requests.min(p.http_api_free_requests * f64::from(days) / 30.0) * p.http_api_request
}

/// An always-on Fargate arm64 task (and optionally an ALB with one LCU) over `days`.
#[must_use]
pub(crate) fn fargate_cost(cpu: f64, memory_gb: f64, alb: bool, days: u32, p: &Prices) -> Fargate {
    let hours = f64::from(days) * 24.0;
    let mut hourly = cpu * p.fargate_arm64_vcpu_hour + memory_gb * p.fargate_arm64_gb_hour;
    if alb {
        hourly += p.alb_hour + p.alb_lcu_hour;
    }
    Fargate {
        cpu,
        memory_gb,
        alb,
        cost: hourly * hours,
    }
}

/// The free tier's most: Lambda requests and GB-s, and log GBs, over the period (the monthly
/// allowance scaled to `days`).
#[must_use]
pub(crate) fn free_tier(stages: &[StageCost], days: u32, p: &Prices) -> f64 {
    let scale = f64::from(days) / 30.0;
    let requests: f64 = stages.iter().map(|s| s.requests).sum();
    let req_credit = requests.min(p.lambda_free_requests * scale) * p.lambda_request;
    // GB-s credit at each stage's own price, in order, until the allowance is used.
    let mut left = p.lambda_free_gb_seconds * scale;
    let mut gbs_credit = 0.0;
    for s in stages {
        let take = s.gb_seconds.min(left);
        if s.gb_seconds > 0.0 {
            gbs_credit += take * s.lambda_compute / s.gb_seconds;
        }
        left -= take;
    }
    let log_bytes: f64 = stages.iter().map(|s| s.logs_ingested_bytes).sum();
    let log_credit = (log_bytes / GB).min(p.logs_free_gb * scale) * p.logs_ingestion_gb;
    req_credit + gbs_credit + log_credit
}

pub(crate) async fn command(args: &CostArgs) -> Result<Report> {
    let github = GitHubContext::from_env()?;
    let target = fleet::app_target(&args.target, &github, "cost adds up the stages of one app")?;
    if !(1..=455).contains(&args.days) {
        return Err(Error::invalid(
            "--days",
            format!("{} is out of range", args.days),
            "CloudWatch keeps hourly-or-coarser metrics for 455 days: pass 1-455",
        ));
    }
    if !(args.fargate_cpu > 0.0 && args.fargate_memory > 0.0) {
        return Err(Error::invalid(
            "--fargate-cpu/--fargate-memory",
            "must be more than 0".to_string(),
            "Fargate sizes: 0.25, 0.5, 1, 2, 4, 8, 16 vCPU; 0.5-120 GB",
        ));
    }
    let prices = match &args.prices {
        Some(p) => Prices::from_file(p)?,
        None => Prices::builtin(),
    };
    let store = match &args.store.s3_bucket {
        Some(_) => Some(crate::config::resolve_store(&args.store)?),
        None => None,
    };
    let aws = crate::aws::connect(&target.aws).await?;
    let mut refs = fleet::stages(&aws, &target.app).await?;
    if let Some(stage) = &args.target.stage {
        refs.retain(|r| &r.stage == stage);
    }
    let usage = read_usage(&aws, &refs, args.days).await?;
    let mut notes = vec![
        "not in the deploy step summary: it would add CloudWatch reads to every deploy, no-op ones included".to_string(),
    ];
    // Like with like: a stage behind an HTTP API compares with a task behind a load balancer.
    let any_http_api = usage.iter().any(|u| u.http_api);
    if any_http_api && !args.fargate_alb {
        notes.push(
            "Fargate includes an ALB: a stage here has an HTTP API front door, and an ALB is Fargate's equivalent"
                .into(),
        );
    }
    if any_http_api {
        notes.push(
            "HTTP API free tier (1M calls a month) applies only in an account's first 12 months: shown apart, not in the free tier".into(),
        );
    }
    let fargate = fargate_cost(
        args.fargate_cpu,
        args.fargate_memory,
        args.fargate_alb || any_http_api,
        args.days,
        &prices,
    );
    if aws.region != prices.region && args.prices.is_none() {
        notes.push(format!(
            "prices are {}'s; {} may differ (pass --prices)",
            prices.region, aws.region
        ));
    }
    let stages: Vec<StageCost> = refs
        .iter()
        .zip(&usage)
        .map(|(r, u)| stage_cost(r, u, args.days, &prices, &fargate))
        .collect();
    let s3_artifact_bytes = match &store {
        Some(store) => Some(artifact_bytes(&aws, store, &target.app).await?),
        None => {
            notes.push("no --s3-bucket: artifact storage not counted".into());
            None
        }
    };
    let s3_storage =
        s3_artifact_bytes.unwrap_or(0.0) / GB * prices.s3_gb_month * f64::from(args.days) / 30.0;
    let total = stages.iter().map(|s| s.total).sum::<f64>() + s3_storage;
    let free = free_tier(&stages, args.days, &prices).min(total);
    let http_api_free = http_api_free_tier(&stages, args.days, &prices);
    let report = CostReport {
        app: target.app.clone(),
        days: args.days,
        stages,
        s3_artifact_bytes,
        s3_storage,
        total,
        free_tier: free,
        total_after_free_tier: total - free,
        http_api_free_tier: http_api_free,
        fargate,
        prices,
        notes,
    };
    let value = serde_json::to_value(&report).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Report::Json {
        value,
        text: report.text(),
    })
}

/// Memory and architecture (GetFunctionConfiguration, gated), metrics (batched GetMetricData)
/// and stored log bytes (DescribeLogGroups by the app's prefix) of every stage.
async fn read_usage(aws: &Aws, refs: &[StageRef], days: u32) -> Result<Vec<Usage>> {
    let lambda = fleet::gated_lambda(aws);
    let gate = Arc::new(Gate::default());
    let mut set = tokio::task::JoinSet::new();
    for (i, r) in refs.iter().enumerate() {
        let lambda = lambda.clone();
        let gate = gate.clone();
        let name = r.function_name.clone();
        set.spawn(async move {
            let out = gate
                .run(|| {
                    lambda
                        .get_function_configuration()
                        .function_name(&name)
                        .send()
                })
                .await;
            (i, name, out)
        });
    }
    let mut usage = vec![Usage::default(); refs.len()];
    while let Some(joined) = set.join_next().await {
        let (i, name, out) = joined.map_err(|e| Error::Internal(format!("stage read: {e}")))?;
        match out {
            Ok(c) => {
                usage[i].memory_mb = f64::from(c.memory_size().unwrap_or(128));
                usage[i].arm64 = c.architectures().iter().any(|a| a.as_str() == "arm64");
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(wrap("cost", "GetFunctionConfiguration", name, e)),
        }
    }
    let api_ids = http_api_ids(aws, refs).await?;
    let metrics = metric_sums(aws, refs, &api_ids, days).await?;
    for (i, u) in usage.iter_mut().enumerate() {
        u.requests = metrics.get(&format!("i{i}")).copied().unwrap_or(0.0);
        u.duration_ms = metrics.get(&format!("d{i}")).copied().unwrap_or(0.0);
        u.log_ingested_bytes = metrics.get(&format!("b{i}")).copied().unwrap_or(0.0);
        u.http_api = api_ids[i].is_some();
        u.http_api_requests = metrics.get(&format!("a{i}")).copied().unwrap_or(0.0);
    }
    let stored = stored_log_bytes(aws, refs).await?;
    for (u, r) in usage.iter_mut().zip(refs) {
        u.log_stored_bytes = stored
            .get(&log_group(&r.function_name))
            .copied()
            .unwrap_or(0.0);
    }
    Ok(usage)
}

/// The HTTP API of each stage whose function says it has one (tag `deploy-action:front-door`,
/// set by a deploy with `--front-door http-api`): one GetApis listing (100 per page; it returns
/// each API's tags and has no tag filter) matched on our app and stage tags, and only when some
/// stage has the tag, so apps without HTTP APIs make no API Gateway call.
async fn http_api_ids(aws: &Aws, refs: &[StageRef]) -> Result<Vec<Option<String>>> {
    let mut ids = vec![None; refs.len()];
    if !refs
        .iter()
        .any(|r| r.tags.contains_key(crate::domain::TAG_FRONT_DOOR))
    {
        return Ok(ids);
    }
    let client = aws_sdk_apigatewayv2::Client::new(&aws.config);
    let mut token: Option<String> = None;
    loop {
        let page = client
            .get_apis()
            .max_results("100")
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| wrap("cost", "GetApis", "HTTP APIs", e))?;
        for api in page.items() {
            let (Some(tags), Some(id)) = (api.tags(), api.api_id()) else {
                continue;
            };
            for (i, r) in refs.iter().enumerate() {
                let ours = r.tags.contains_key(crate::domain::TAG_FRONT_DOOR)
                    && tags.get(crate::aws::lambda::TAG_APP)
                        == r.tags.get(crate::aws::lambda::TAG_APP)
                    && tags.get(crate::aws::lambda::TAG_STAGE).map(String::as_str)
                        == Some(r.stage.as_str());
                if ours {
                    ids[i] = Some(id.to_string());
                }
            }
        }
        token = page
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            return Ok(ids);
        }
    }
}

/// The queries of every stage (`i<n>` Invocations, `d<n>` Duration, `b<n>` IncomingBytes, and
/// `a<n>` its HTTP API's Count: "The total number API requests in a given period", dimension
/// `ApiId`, "Monitor CloudWatch metrics for HTTP APIs in API Gateway",
/// https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html), one
/// period of the whole window each, `QUERIES_PER_REQUEST` per GetMetricData.
async fn metric_sums(
    aws: &Aws,
    refs: &[StageRef],
    api_ids: &[Option<String>],
    days: u32,
) -> Result<BTreeMap<String, f64>> {
    let client = aws_sdk_cloudwatch::Client::new(&aws.config);
    let period = i32::try_from(u64::from(days) * 86_400).unwrap_or(i32::MAX);
    let end = std::time::SystemTime::now();
    let start = end - std::time::Duration::from_secs(u64::from(days) * 86_400);
    let query = |id: String, namespace: &str, metric: &str, dim: &str, value: &str| {
        MetricDataQuery::builder()
            .id(id)
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        Metric::builder()
                            .namespace(namespace)
                            .metric_name(metric)
                            .dimensions(Dimension::builder().name(dim).value(value).build())
                            .build(),
                    )
                    .period(period)
                    .stat("Sum")
                    .build(),
            )
            .return_data(true)
            .build()
    };
    let mut queries = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        let f = r.function_name.as_str();
        queries.push(query(
            format!("i{i}"),
            "AWS/Lambda",
            "Invocations",
            "FunctionName",
            f,
        ));
        queries.push(query(
            format!("d{i}"),
            "AWS/Lambda",
            "Duration",
            "FunctionName",
            f,
        ));
        queries.push(query(
            format!("b{i}"),
            "AWS/Logs",
            "IncomingBytes",
            "LogGroupName",
            &log_group(f),
        ));
        if let Some(api) = &api_ids[i] {
            queries.push(query(
                format!("a{i}"),
                "AWS/ApiGateway",
                "Count",
                "ApiId",
                api,
            ));
        }
    }
    let mut sums = BTreeMap::new();
    for chunk in queries.chunks(QUERIES_PER_REQUEST) {
        let mut token: Option<String> = None;
        loop {
            let out = client
                .get_metric_data()
                .set_metric_data_queries(Some(chunk.to_vec()))
                .start_time(start.into())
                .end_time(end.into())
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| wrap("cost", "GetMetricData", "metrics", e))?;
            for r in out.metric_data_results() {
                if let Some(id) = r.id() {
                    *sums.entry(id.to_string()).or_insert(0.0) += r.values().iter().sum::<f64>();
                }
            }
            token = out
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    Ok(sums)
}

/// `storedBytes` of the app's log groups: DescribeLogGroups by the common name prefix.
async fn stored_log_bytes(aws: &Aws, refs: &[StageRef]) -> Result<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    if refs.is_empty() {
        return Ok(out);
    }
    let client = aws_sdk_cloudwatchlogs::Client::new(&aws.config);
    let names: Vec<String> = refs.iter().map(|r| log_group(&r.function_name)).collect();
    let prefix = common_prefix(&names);
    let mut token: Option<String> = None;
    loop {
        let page = client
            .describe_log_groups()
            .log_group_name_prefix(&prefix)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| wrap("cost", "DescribeLogGroups", &prefix, e))?;
        for g in page.log_groups() {
            if let (Some(name), Some(bytes)) = (g.log_group_name(), g.stored_bytes()) {
                out.insert(name.to_string(), bytes as f64);
            }
        }
        token = page
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

fn common_prefix(names: &[String]) -> String {
    let first = names.first().map_or("", String::as_str);
    let mut len = first.len();
    for n in names {
        len = len.min(
            first
                .bytes()
                .zip(n.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    while !first.is_char_boundary(len) {
        len -= 1;
    }
    first[..len].to_string()
}

async fn artifact_bytes(aws: &Aws, store: &crate::config::Store, app: &str) -> Result<f64> {
    let probe = crate::naming::artifact_key(&store.prefix, app, "x");
    let prefix = probe.trim_end_matches("x.zip").to_string();
    let mut total = 0.0;
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .s3
            .list_objects_v2()
            .bucket(&store.bucket)
            .prefix(&prefix)
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| wrap("cost", "ListObjectsV2", &prefix, e))?;
        total += page
            .contents()
            .iter()
            .map(|o| o.size().unwrap_or(0) as f64)
            .sum::<f64>();
        token = page
            .next_continuation_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            return Ok(total);
        }
    }
}

fn usd(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.01 {
        format!("${v:.4}")
    } else {
        format!("${v:.2}")
    }
}

impl CostReport {
    #[must_use]
    pub(crate) fn text(&self) -> String {
        let mut out = format!("{}: cost of the last {} days\n", self.app, self.days);
        if self.stages.is_empty() {
            let _ = writeln!(out, "no stages found");
        }
        let _ = writeln!(
            out,
            "{:<20} {:>10} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "STAGE", "REQUESTS", "GB-S", "COMPUTE", "REQUESTS$", "HTTP API", "LOGS", "TOTAL"
        );
        for s in &self.stages {
            let http_api = if s.front_door == "http-api" {
                usd(s.http_api)
            } else {
                "-".to_string()
            };
            let _ = writeln!(
                out,
                "{:<20} {:>10.0} {:>12.1} {:>10} {:>10} {:>10} {:>10} {:>10}",
                s.stage,
                s.requests,
                s.gb_seconds,
                usd(s.lambda_compute),
                usd(s.lambda_requests),
                http_api,
                usd(s.logs_ingestion + s.logs_storage),
                usd(s.total)
            );
        }
        if let Some(b) = self.s3_artifact_bytes {
            let _ = writeln!(
                out,
                "S3 artifacts: {} → {}",
                fleet::human_bytes(b as i64),
                usd(self.s3_storage)
            );
        }
        let _ = writeln!(
            out,
            "total {}; free tier (account-wide, at most) −{}; after it {}",
            usd(self.total),
            usd(self.free_tier),
            usd(self.total_after_free_tier)
        );
        if self.http_api_free_tier > 0.0 {
            let _ = writeln!(
                out,
                "HTTP API free tier (first 12 months of an account only) −{} more",
                usd(self.http_api_free_tier)
            );
        }
        let _ = writeln!(
            out,
            "Fargate arm64 {} vCPU / {} GB{} always on: {} for these {} days",
            self.fargate.cpu,
            self.fargate.memory_gb,
            if self.fargate.alb { " + ALB" } else { "" },
            usd(self.fargate.cost),
            self.days
        );
        if let Some(busiest) = self
            .stages
            .iter()
            .max_by(|a, b| a.requests.total_cmp(&b.requests))
            && let Some(be) = busiest.fargate_breakeven_rps
        {
            let _ = writeln!(
                out,
                "{}: Fargate is cheaper above {} requests/s; you are at {}",
                busiest.stage,
                rate(be),
                rate(busiest.requests_per_second)
            );
        }
        let _ = writeln!(out, "prices: {} {}", self.prices.region, self.prices.taken);
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        out
    }
}

fn rate(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}")
    } else if r >= 0.1 {
        format!("{r:.1}")
    } else {
        format!("{r:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage() -> StageRef {
        StageRef {
            stage: "main".into(),
            function_name: "hello-main".into(),
            arn: String::new(),
            tags: std::collections::HashMap::new(),
        }
    }

    #[test]
    fn hand_computed_stage_and_breakeven() {
        let p = Prices::builtin();
        // 2,000,000 requests of 120 ms at 512 MB arm64 in 30 days, 1 GB of logs ingested.
        let u = Usage {
            requests: 2e6,
            duration_ms: 2e6 * 120.0,
            memory_mb: 512.0,
            arm64: true,
            log_ingested_bytes: GB,
            log_stored_bytes: 0.0,
            http_api: false,
            http_api_requests: 0.0,
        };
        let f = fargate_cost(0.25, 0.5, false, 30, &p);
        // (0.25 × 0.03238 + 0.5 × 0.00356) × 720 h = 0.009875 × 720 = 7.11
        assert!((f.cost - 7.11).abs() < 1e-9, "{}", f.cost);
        let s = stage_cost(&stage(), &u, 30, &p, &f);
        // 240,000 s × 0.5 GB = 120,000 GB-s × 0.0000133334 = 1.600008
        assert!((s.gb_seconds - 120_000.0).abs() < 1e-6);
        assert!((s.lambda_compute - 1.600_008).abs() < 1e-9);
        assert!((s.lambda_requests - 0.4).abs() < 1e-12);
        assert!((s.logs_ingestion - 0.5).abs() < 1e-12);
        assert!((s.total - 2.500_008).abs() < 1e-9);
        // Per request: 0.0000002 + 0.12 × 0.5 × 0.0000133334 + 0.5/2e6 = 0.000001250004
        // Fargate per second: 7.11 / 2,592,000 → break-even 2.1944 requests/s.
        let per_request = 0.000_000_2 + 0.06 * 0.000_013_333_4 + 0.000_000_25;
        let want = 7.11 / 2_592_000.0 / per_request;
        assert!((s.fargate_breakeven_rps.unwrap() - want).abs() < 1e-9);
        assert!((want - 2.1944).abs() < 1e-3, "{want}");
        assert!((s.requests_per_second - 2e6 / 2_592_000.0).abs() < 1e-12);
    }

    #[test]
    fn free_tier_takes_at_most_its_allowance() {
        let p = Prices::builtin();
        let f = fargate_cost(0.25, 0.5, false, 30, &p);
        let u = Usage {
            requests: 2e6,
            duration_ms: 2e6 * 120.0,
            memory_mb: 512.0,
            arm64: true,
            log_ingested_bytes: GB,
            log_stored_bytes: 0.0,
            http_api: false,
            http_api_requests: 0.0,
        };
        let s = stage_cost(&stage(), &u, 30, &p, &f);
        // 1M requests ($0.20) + all 120,000 GB-s ($1.600008) + 1 GB of logs ($0.50).
        let credit = free_tier(&[s], 30, &p);
        assert!((credit - 2.300_008).abs() < 1e-9, "{credit}");
    }

    #[test]
    fn an_http_api_front_door_adds_its_requests() {
        let p = Prices::builtin();
        let f = fargate_cost(0.25, 0.5, true, 30, &p);
        // The same 2M requests as above, all through the stage's HTTP API.
        let u = Usage {
            requests: 2e6,
            duration_ms: 2e6 * 120.0,
            memory_mb: 512.0,
            arm64: true,
            log_ingested_bytes: GB,
            log_stored_bytes: 0.0,
            http_api: true,
            http_api_requests: 2e6,
        };
        let s = stage_cost(&stage(), &u, 30, &p, &f);
        // 2M × $1.00 / 1M = $2.00, on top of the $2.500008 above.
        assert!((s.http_api - 2.0).abs() < 1e-12);
        assert!((s.total - 4.500_008).abs() < 1e-9);
        assert_eq!(s.front_door, "http-api");
        // Fargate with an ALB: (0.009875 + 0.0225 + 0.008) × 720 = 29.07; per request
        // 0.000001250004 + 0.000001 = 0.000002250004 → break-even 29.07 / 2,592,000 / that.
        assert!((f.cost - 29.07).abs() < 1e-9, "{}", f.cost);
        let per_request = 0.000_000_2 + 0.06 * 0.000_013_333_4 + 0.000_000_25 + 0.000_001;
        let want = 29.07 / 2_592_000.0 / per_request;
        assert!((s.fargate_breakeven_rps.unwrap() - want).abs() < 1e-9);
        // Its free tier: 1M of the 2M calls ($1.00), and only that much.
        assert!((http_api_free_tier(&[s], 30, &p) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn alb_adds_its_hours() {
        let p = Prices::builtin();
        let with = fargate_cost(0.25, 0.5, true, 30, &p);
        let without = fargate_cost(0.25, 0.5, false, 30, &p);
        assert!((with.cost - without.cost - (0.0225 + 0.008) * 720.0).abs() < 1e-9);
    }

    #[test]
    fn price_files_override_keys() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("p.json");
        std::fs::write(&json, r#"{"lambda_request": 0.0000004}"#).unwrap();
        assert!((Prices::from_file(&json).unwrap().lambda_request - 4e-7).abs() < 1e-15);
        let toml = dir.path().join("p.toml");
        std::fs::write(&toml, "s3_gb_month = 0.025\nalb_hour = 1\n").unwrap();
        let p = Prices::from_file(&toml).unwrap();
        assert!((p.s3_gb_month - 0.025).abs() < 1e-12);
        assert!((p.alb_hour - 1.0).abs() < 1e-12);
        std::fs::write(&toml, "nope = 1\n").unwrap();
        assert!(Prices::from_file(&toml).is_err());
    }
}
