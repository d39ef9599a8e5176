//! The one way `live` is written: compare-and-set on the alias's RevisionId. Deploy, canary
//! and rollback each decide what `live` should be from what it is now; this module reads it,
//! asks them, writes with the RevisionId it read, and goes round again when another run wrote
//! first. A write whose answer was lost (a timeout after the request went out) is read back
//! before it counts as failed, so a run never reports a `live` it doesn't know.

use std::collections::HashMap;
use std::time::Duration;

use crate::aws::lambda::{AliasState, AliasWrite, Function};
use crate::error::{Error, Result};
use crate::naming::LIVE_ALIAS;

/// How many times we re-read and rewrite the alias when another run moved it in between.
const ATTEMPTS: u32 = 10;

/// What a caller wants done with `live`, given what it is now.
pub(crate) enum Intent<T> {
    /// Leave it: nothing to do, or not ours to move. `T` says why.
    Stop(T),
    /// Point it at `version` with `description`, giving `routing` their traffic shares.
    Write {
        version: String,
        description: String,
        routing: HashMap<String, f64>,
    },
}

/// What came of it.
pub(crate) enum Outcome<T> {
    Stopped(T),
    /// Written. `previous` is what `live` was just before our write.
    Written {
        arn: String,
        previous: Option<AliasState>,
    },
}

/// Read `live` (or start from `seen`, a read the caller made already), let `decide` choose,
/// and write conditionally; again when the write was refused because `live` moved.
pub(crate) async fn compare_and_set<T>(
    function: &Function<'_>,
    step: &'static str,
    mut seen: Option<Option<AliasState>>,
    mut decide: impl FnMut(Option<&AliasState>) -> Result<Intent<T>>,
) -> Result<Outcome<T>> {
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            // Racing writers drift apart instead of colliding again.
            tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
        }
        let current = match seen.take() {
            Some(alias) => alias,
            None => function.alias(LIVE_ALIAS).await?,
        };
        let (version, description, routing) = match decide(current.as_ref())? {
            Intent::Stop(why) => return Ok(Outcome::Stopped(why)),
            Intent::Write {
                version,
                description,
                routing,
            } => (version, description, routing),
        };
        let written = function
            .put_alias(
                LIVE_ALIAS,
                current.as_ref(),
                &version,
                &description,
                &routing,
            )
            .await;
        match written {
            Ok(AliasWrite::Done(arn)) => {
                return Ok(Outcome::Written {
                    arn,
                    previous: current,
                });
            }
            Ok(AliasWrite::Raced) => tracing::info!("live moved under us; reading it again"),
            Err(e) => {
                return match read_back(function, &e, &version, &description, &routing).await {
                    Some(arn) => Ok(Outcome::Written {
                        arn,
                        previous: current,
                    }),
                    None => Err(e),
                };
            }
        }
    }
    Err(Error::NotReady {
        step,
        function: function.name.to_string(),
        message: "live kept moving under this run".into(),
        help: Some(
            "another deploy of this stage is running: give the workflow a `concurrency:` group per stage"
                .into(),
        ),
    })
}

/// After a failed write that may still have landed (no clear refusal from Lambda): whether
/// `live` now is what we wrote; its ARN if so.
async fn read_back(
    function: &Function<'_>,
    error: &Error,
    version: &str,
    description: &str,
    routing: &HashMap<String, f64>,
) -> Option<String> {
    if matches!(error, Error::Aws { rejected: true, .. }) {
        return None;
    }
    match function.alias(LIVE_ALIAS).await {
        Ok(Some(now))
            if now.version == version
                && now.description == description
                && &now.routing == routing =>
        {
            tracing::info!("the alias write's answer was lost, but live is version {version}");
            Some(now.arn)
        }
        _ => None,
    }
}
