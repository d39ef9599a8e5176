//! Secrets in the environment: `--env NAME=ssm:/path` (a SecureString is decrypted) and
//! `--env NAME=secretsmanager:ID[#json-key]`, resolved at deploy time with the deploy role's
//! credentials. Every value is masked (`::add-mask::`) the moment it arrives, before anything
//! else could print it; logs, the plan, the report and the PR comment only ever show the
//! reference (`NAME=ssm:/path`). The resolved values go into the function's environment, so
//! a changed secret is a configuration change like any other: a new version.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::aws::Aws;
use crate::aws::errors::{is_code, is_not_found, wrap};
use crate::config::DeployConfig;
use crate::error::{Error, Result};
use crate::github::workflow;

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(tag = "store", rename_all = "snake_case")]
pub(crate) enum SecretRef {
    /// An SSM parameter (name or ARN); SecureStrings are decrypted.
    Ssm { name: String },
    /// A Secrets Manager secret (name or ARN), optionally one key of its JSON.
    SecretsManager { id: String, key: Option<String> },
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::Ssm { name } => write!(f, "ssm:{name}"),
            SecretRef::SecretsManager { id, key: None } => write!(f, "secretsmanager:{id}"),
            SecretRef::SecretsManager { id, key: Some(k) } => {
                write!(f, "secretsmanager:{id}#{k}")
            }
        }
    }
}

/// Secret stores people reach for that we don't read: a value starting with one of these
/// is a mistake, not a literal (a plain value such as `postgres://...` is left alone).
const UNSUPPORTED_STORES: &[&str] = &[
    "vault",
    "op",
    "doppler",
    "sops",
    "kms",
    "gcp-secretmanager",
    "gsm",
    "azure-keyvault",
    "akv",
    "secretmanager",
    "secrets-manager",
    "secretsmgr",
    "parameter-store",
    "parameterstore",
    "ssm-parameter",
];

/// Move the `ssm:` / `secretsmanager:` entries of `env` into their own map (checked
/// references); plain values stay. Malformed references and unknown stores exit 2.
pub(crate) fn split_references(
    env: &mut BTreeMap<String, String>,
) -> Result<BTreeMap<String, SecretRef>> {
    let mut refs = BTreeMap::new();
    for (name, value) in env.iter() {
        if let Some(r) = parse_reference(name, value)? {
            refs.insert(name.clone(), r);
        }
    }
    for name in refs.keys() {
        env.remove(name);
    }
    Ok(refs)
}

/// `Some` when `value` is a secret reference; `None` for a plain value.
pub(crate) fn parse_reference(name: &str, value: &str) -> Result<Option<SecretRef>> {
    let Some((scheme, rest)) = value.split_once(':') else {
        return Ok(None);
    };
    match scheme {
        "ssm" => {
            let ok = !rest.is_empty()
                && rest.len() <= 2048
                && (rest.starts_with("arn:")
                    || rest
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c)))
                && !rest.ends_with('/');
            if !ok {
                return Err(Error::invalid(
                    "--env",
                    format!("{name}={scheme}:{rest} does not name an SSM parameter"),
                    "use --env NAME=ssm:/path/to/parameter (letters, digits, _ . - /), or an SSM parameter ARN",
                ));
            }
            Ok(Some(SecretRef::Ssm {
                name: rest.to_string(),
            }))
        }
        "secretsmanager" => {
            let (id, key) = match rest.split_once('#') {
                Some((id, key)) => (id, Some(key)),
                None => (rest, None),
            };
            let id_ok = !id.is_empty()
                && id.len() <= 2048
                && (id.starts_with("arn:")
                    || id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)));
            if !id_ok || key.is_some_and(str::is_empty) {
                return Err(Error::invalid(
                    "--env",
                    format!("{name}={value} does not name a Secrets Manager secret"),
                    "use --env NAME=secretsmanager:NAME_OR_ARN, or NAME=secretsmanager:NAME_OR_ARN#json-key for one key of a JSON secret",
                ));
            }
            Ok(Some(SecretRef::SecretsManager {
                id: id.to_string(),
                key: key.map(str::to_string),
            }))
        }
        s if UNSUPPORTED_STORES.contains(&s.to_ascii_lowercase().as_str()) => Err(Error::invalid(
            "--env",
            format!("{name} refers to the secret store {s:?}, which deploy-action can't read"),
            "use NAME=ssm:/path (SSM Parameter Store) or NAME=secretsmanager:ID[#key] (Secrets Manager)",
        )),
        _ => Ok(None),
    }
}

/// The references as the plan shows them: `NAME=ssm:/path`.
#[must_use]
pub(crate) fn shown(secrets: &BTreeMap<String, SecretRef>) -> Vec<String> {
    secrets.iter().map(|(k, r)| format!("{k}={r}")).collect()
}

/// `cfg` with every secret resolved into the function's environment (masked first). Reads
/// only; a parameter or secret that isn't there fails the deploy (exit 1) naming it, before
/// anything was written.
pub(crate) async fn resolve<'a>(aws: &Aws, cfg: &'a DeployConfig) -> Result<Cow<'a, DeployConfig>> {
    if cfg.function.secrets.is_empty() {
        return Ok(Cow::Borrowed(cfg));
    }
    let values = fetch(aws, &cfg.function.secrets).await?;
    let mut resolved = cfg.clone();
    resolved.function.env.extend(values);
    tracing::info!(
        "resolved {} secret(s) into the environment: {}",
        cfg.function.secrets.len(),
        cfg.function
            .secrets
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(Cow::Owned(resolved))
}

/// Read every referenced value: SSM parameters ten per GetParameters call (its limit),
/// Secrets Manager secrets one by one (each read once, however many keys are used).
pub(crate) async fn fetch(
    aws: &Aws,
    secrets: &BTreeMap<String, SecretRef>,
) -> Result<BTreeMap<String, String>> {
    let mut ssm_names: Vec<&str> = Vec::new();
    let mut secret_ids: Vec<&str> = Vec::new();
    for r in secrets.values() {
        match r {
            SecretRef::Ssm { name } => ssm_names.push(name),
            SecretRef::SecretsManager { id, .. } => secret_ids.push(id),
        }
    }
    ssm_names.sort_unstable();
    ssm_names.dedup();
    secret_ids.sort_unstable();
    secret_ids.dedup();
    let (parameters, secret_strings) = tokio::try_join!(
        ssm_parameters(aws, &ssm_names),
        secret_values(aws, &secret_ids)
    )?;
    let mut out = BTreeMap::new();
    for (var, r) in secrets {
        let value = match r {
            SecretRef::Ssm { name } => parameters.get(name.as_str()).cloned(),
            SecretRef::SecretsManager { id, key: None } => secret_strings.get(id.as_str()).cloned(),
            SecretRef::SecretsManager { id, key: Some(key) } => {
                let whole = secret_strings.get(id.as_str()).cloned().unwrap_or_default();
                Some(json_key(var, r, &whole, key)?)
            }
        }
        .ok_or_else(|| not_found(var, r, "it was not returned"))?;
        workflow::mask(&value);
        out.insert(var.clone(), value);
    }
    Ok(out)
}

fn not_found(var: &str, r: &SecretRef, why: &str) -> Error {
    Error::SecretNotFound {
        reference: format!("{var}={r}"),
        message: why.to_string(),
    }
}

/// One key of a JSON secret; strings as they are, other JSON values as JSON.
fn json_key(var: &str, r: &SecretRef, whole: &str, key: &str) -> Result<String> {
    let doc: serde_json::Value = serde_json::from_str(whole)
        .map_err(|_| not_found(var, r, "the secret is not a JSON object, so it has no keys"))?;
    match doc.get(key) {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(other) => Ok(other.to_string()),
        None => Err(not_found(
            var,
            r,
            &format!("the secret's JSON has no key {key:?}"),
        )),
    }
}

async fn ssm_parameters(aws: &Aws, names: &[&str]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if names.is_empty() {
        return Ok(out);
    }
    let client = aws_sdk_ssm::Client::new(&aws.config);
    for chunk in names.chunks(10) {
        let answer = client
            .get_parameters()
            .set_names(Some(chunk.iter().map(|s| (*s).to_string()).collect()))
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| wrap("secrets", "GetParameters", chunk.join(", "), e))?;
        for p in answer.parameters() {
            if let Some(value) = p.value() {
                // Mask at once: nothing below may print it unmasked.
                workflow::mask(value);
                // Asked by ARN, answered by name: keep both.
                if let Some(arn) = p.arn() {
                    out.insert(arn.to_string(), value.to_string());
                }
                if let Some(name) = p.name() {
                    out.insert(name.to_string(), value.to_string());
                }
            }
        }
        if let Some(missing) = answer.invalid_parameters().first() {
            return Err(Error::SecretNotFound {
                reference: format!("ssm:{missing}"),
                message: "SSM has no such parameter in this account and region".into(),
            });
        }
    }
    Ok(out)
}

async fn secret_values(aws: &Aws, ids: &[&str]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let client = aws_sdk_secretsmanager::Client::new(&aws.config);
    for id in ids {
        match client.get_secret_value().secret_id(*id).send().await {
            Ok(answer) => {
                let Some(value) = answer.secret_string() else {
                    return Err(Error::SecretNotFound {
                        reference: format!("secretsmanager:{id}"),
                        message: "the secret holds binary data, not a string".into(),
                    });
                };
                workflow::mask(value);
                out.insert((*id).to_string(), value.to_string());
            }
            Err(e) if is_not_found(&e) || is_code(&e, "InvalidRequestException") => {
                // InvalidRequestException: the secret is scheduled for deletion.
                return Err(Error::SecretNotFound {
                    reference: format!("secretsmanager:{id}"),
                    message: "Secrets Manager has no such secret (or it is marked for deletion) in this account and region".into(),
                });
            }
            Err(e) => return Err(wrap("secrets", "GetSecretValue", *id, e)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_parsed_and_plain_values_left_alone() {
        assert_eq!(
            parse_reference("A", "ssm:/app/db").unwrap(),
            Some(SecretRef::Ssm {
                name: "/app/db".into()
            })
        );
        assert_eq!(
            parse_reference("A", "secretsmanager:prod/db#password").unwrap(),
            Some(SecretRef::SecretsManager {
                id: "prod/db".into(),
                key: Some("password".into())
            })
        );
        for plain in ["postgres://u@h/db", "hello", "a:b", "http://x", ""] {
            assert_eq!(parse_reference("A", plain).unwrap(), None, "{plain}");
        }
        for bad in [
            "ssm:",
            "ssm:/a b",
            "ssm:/dir/",
            "secretsmanager:",
            "secretsmanager:x#",
            "vault:secret/db",
            "Vault:x",
        ] {
            let e = parse_reference("A", bad).unwrap_err();
            assert_eq!(e.code(), 2, "{bad}");
        }
    }

    #[test]
    fn references_are_shown_never_values() {
        let mut env: BTreeMap<String, String> = [
            ("DB".to_string(), "ssm:/app/db".to_string()),
            ("PLAIN".to_string(), "x".to_string()),
        ]
        .into();
        let refs = split_references(&mut env).unwrap();
        assert_eq!(env.len(), 1);
        assert_eq!(shown(&refs), vec!["DB=ssm:/app/db".to_string()]);
    }
}
