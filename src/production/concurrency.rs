//! Function-level settings that live outside the versions: reserved concurrency, and the
//! $LATEST description on a deploy that otherwise changes nothing.

use crate::aws::Aws;
use crate::aws::errors::wrap;
use crate::aws::lambda::retry_busy;
use crate::config::DeployConfig;
use crate::error::Result;

/// Reserved concurrency as wanted: put when it differs, delete when it is no longer wanted.
/// `seen` is what the deploy knows already (`None`: read it).
pub(crate) async fn sync(
    aws: &Aws,
    function: &str,
    want: Option<i32>,
    seen: Option<Option<i32>>,
) -> Result<()> {
    let client = &aws.lambda;
    let current = match seen {
        Some(c) => c,
        // GetFunction with a qualifier (the deploy's read of `live`) answers only what
        // belongs to the version; reserved concurrency belongs to the function.
        None => match client
            .get_function_concurrency()
            .function_name(function)
            .send()
            .await
            .map_err(|e| wrap("concurrency", "GetFunctionConcurrency", function, e))
        {
            Ok(c) => c.reserved_concurrent_executions(),
            // A deploy role from an older `policy` can't read it: fine when nothing is asked.
            Err(e) if want.is_none() && super::denied(&e) => {
                crate::github::workflow::warning(&format!(
                    "the deploy role may not read the reserved concurrency of {function}: regenerate its policy with `deploy-action policy` ({e})"
                ));
                return Ok(());
            }
            Err(e) => return Err(e),
        },
    };
    if current == want {
        return Ok(());
    }
    match want {
        Some(n) => {
            client
                .put_function_concurrency()
                .function_name(function)
                .reserved_concurrent_executions(n)
                .send()
                .await
                .map_err(|e| wrap("concurrency", "PutFunctionConcurrency", function, e))?;
            tracing::info!("reserved concurrency of {function}: {n}");
        }
        None => {
            client
                .delete_function_concurrency()
                .function_name(function)
                .send()
                .await
                .map_err(|e| wrap("concurrency", "DeleteFunctionConcurrency", function, e))?;
            tracing::info!("removed the reserved concurrency of {function}");
        }
    }
    Ok(())
}

/// The $LATEST description, when `--description` is given and nothing else changed (a
/// description is not part of a version: no version is published for it).
pub(crate) async fn keep_description(aws: &Aws, cfg: &DeployConfig, want: &str) -> Result<()> {
    let client = &aws.lambda;
    let name = cfg.function_name.as_str();
    let latest = client
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .map_err(|e| wrap("description", "GetFunctionConfiguration", name, e))?;
    if latest.description().unwrap_or_default() == want {
        return Ok(());
    }
    retry_busy(name, || {
        client
            .update_function_configuration()
            .function_name(name)
            .description(want)
            .send()
    })
    .await
    .map_err(|e| wrap("description", "UpdateFunctionConfiguration", name, e))?;
    tracing::info!("description of {name} updated");
    Ok(())
}
