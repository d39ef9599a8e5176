//! SnapStart on published versions. Lambda snapshots the initialised function when a version
//! is published; the version stays Pending until the snapshot is ready, and `live` only moves
//! to it then. Our `live` alias is exactly what SnapStart needs: it never applies to $LATEST.
//!
//! AWS "Improving startup performance with Lambda SnapStart"
//! (docs.aws.amazon.com/lambda/latest/dg/snapstart.html): managed runtimes Java 11+,
//! Python 3.12+ and .NET 8+ only (no OS-only `provided.*` runtimes, no container images); no
//! provisioned concurrency, no EFS, no ephemeral storage above 512 MB.

use std::time::{Duration, Instant};

use aws_sdk_lambda::types::State;

use crate::aws::Aws;
use crate::aws::errors::wrap;
use crate::config::Architecture;
use crate::error::{Error, Result};

/// The runtimes deploy-action deploys that SnapStart supports.
const SUPPORTED: &[&str] = &["python3.12", "python3.13", "python3.14"];

/// Refuse SnapStart where Lambda would (exit 2, before any request).
pub(crate) fn check(
    runtime: &str,
    _architecture: Architecture,
    ephemeral_storage: i32,
) -> Result<()> {
    if !SUPPORTED.contains(&runtime) {
        return Err(Error::invalid(
            "--snapstart",
            format!("SnapStart doesn't support the runtime {runtime}"),
            "SnapStart works with python3.12 and later (not with provided.* runtimes); drop --snapstart or change --runtime",
        ));
    }
    if ephemeral_storage > 512 {
        return Err(Error::invalid(
            "--snapstart",
            format!(
                "SnapStart doesn't support ephemeral storage above 512 MB ({ephemeral_storage} MB)"
            ),
            "drop --snapstart or --ephemeral-storage",
        ));
    }
    Ok(())
}

/// Wait until a version published with SnapStart is ready (Lambda keeps it Pending while it
/// takes the snapshot; invoking it before then fails). A Failed version fails the deploy,
/// and `live` stays where it was.
pub(crate) async fn wait_ready(aws: &Aws, function: &str, version: &str) -> Result<()> {
    let started = Instant::now();
    let budget = Duration::from_secs(
        std::env::var("DEPLOY_ACTION_TEST_BUSY_BUDGET_S")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(900),
    );
    let mut next_progress = started + Duration::from_secs(30);
    let mut delay = Duration::from_millis(200);
    let mut said = false;
    loop {
        let c = aws
            .lambda
            .get_function_configuration()
            .function_name(function)
            .qualifier(version)
            .send()
            .await
            .map_err(|e| {
                wrap(
                    "snapstart",
                    "GetFunctionConfiguration",
                    format!("{function}:{version}"),
                    e,
                )
            })?;
        match c.state() {
            Some(State::Pending) => {}
            Some(State::Failed) => {
                return Err(Error::NotReady {
                    step: "snapstart",
                    function: function.to_string(),
                    message: format!(
                        "version {version}: the SnapStart snapshot failed: {}",
                        c.state_reason().unwrap_or("no reason given")
                    ),
                    help: Some(
                        "the function's initialisation failed while Lambda took the snapshot: check its logs; live was not moved".into(),
                    ),
                });
            }
            _ => {
                if said {
                    tracing::info!(
                        "version {version} is ready (SnapStart, {} s)",
                        started.elapsed().as_secs()
                    );
                }
                return Ok(());
            }
        }
        if !said {
            tracing::info!(
                "version {version}: Lambda takes the SnapStart snapshot (usually a minute or two); live moves once it is ready"
            );
            said = true;
        }
        if Instant::now() >= next_progress {
            next_progress += Duration::from_secs(30);
            tracing::info!(
                "version {version}: still optimizing ({} s)",
                started.elapsed().as_secs()
            );
        }
        if started.elapsed() > budget {
            return Err(Error::NotReady {
                step: "snapstart",
                function: function.to_string(),
                message: format!("version {version} is still Pending after {budget:?}"),
                help: Some(
                    "run the deploy again later: it reuses the version; live was not moved".into(),
                ),
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
