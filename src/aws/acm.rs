//! ACM certificates for custom domains: find one that covers a name, request one with DNS
//! validation, and read what its validation needs. A regional API's certificate must be in
//! the API's own region (CloudFront's us-east-1 rule does not apply to REGIONAL endpoints).

use aws_sdk_acm::Client;
use aws_sdk_acm::types::{CertificateStatus, KeyAlgorithm, ValidationMethod};

use super::errors::wrap;
use crate::error::Result;

/// What we need of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Certificate {
    pub arn: String,
    /// The primary name and the subject alternative names.
    pub names: Vec<String>,
    /// `ISSUED`, `PENDING_VALIDATION`, ...
    pub status: String,
    /// `AMAZON_ISSUED` or `IMPORTED`.
    pub kind: String,
    /// DNS validation records (name, type, value) ACM asks for.
    pub validation: Vec<(String, String, String)>,
}

impl Certificate {
    #[must_use]
    pub(crate) fn issued(&self) -> bool {
        self.status == CertificateStatus::Issued.as_str()
    }

    #[must_use]
    pub(crate) fn covers(&self, host: &str) -> bool {
        self.names.iter().any(|n| name_covers(n, host))
    }
}

/// Whether a certificate name covers `host`: the same name, or a wildcard `*.rest` and a host
/// of exactly one more label (`*.preview.example.com` covers `pr-1.preview.example.com`, not
/// `preview.example.com` nor `a.b.preview.example.com`).
#[must_use]
pub(crate) fn name_covers(cert_name: &str, host: &str) -> bool {
    let cert_name = cert_name.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if cert_name == host {
        return true;
    }
    match (cert_name.strip_prefix("*."), host.split_once('.')) {
        (Some(rest), Some((label, host_rest))) => !label.is_empty() && rest == host_rest,
        _ => false,
    }
}

pub(crate) struct Acm {
    client: Client,
}

impl Acm {
    #[must_use]
    pub(crate) fn new(config: &aws_config::SdkConfig) -> Acm {
        Acm {
            client: Client::new(config),
        }
    }

    pub(crate) async fn describe(&self, arn: &str) -> Result<Option<Certificate>> {
        match self
            .client
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
        {
            Ok(out) => Ok(out.certificate().map(|c| Certificate {
                arn: c.certificate_arn().unwrap_or(arn).to_string(),
                names: names(c.domain_name(), c.subject_alternative_names()),
                status: c
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                kind: c
                    .r#type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                validation: c
                    .domain_validation_options()
                    .iter()
                    .filter_map(|v| v.resource_record())
                    .map(|r| {
                        (
                            r.name().to_string(),
                            r.r#type().as_str().to_string(),
                            r.value().to_string(),
                        )
                    })
                    .collect(),
            })),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_resource_not_found_exception() || s.is_invalid_arn_exception()
                }) =>
            {
                Ok(None)
            }
            Err(e) => Err(wrap("certificate", "DescribeCertificate", arn, e)),
        }
    }

    /// Certificates in one of `statuses` that cover `host`, each described (ListCertificates
    /// lists at most 100 alternative names per certificate, and some emulators none).
    pub(crate) async fn covering(
        &self,
        host: &str,
        statuses: &[CertificateStatus],
    ) -> Result<Vec<Certificate>> {
        let mut found = Vec::new();
        let mut pages = self
            .client
            .list_certificates()
            .set_certificate_statuses(Some(statuses.to_vec()))
            // Without key types ListCertificates returns RSA_2048 certificates only.
            .includes(
                aws_sdk_acm::types::Filters::builder()
                    .set_key_types(Some(vec![
                        KeyAlgorithm::Rsa2048,
                        KeyAlgorithm::EcPrime256v1,
                        KeyAlgorithm::EcSecp384r1,
                    ]))
                    .build(),
            )
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| wrap("certificate", "ListCertificates", host, e))?;
            for s in page.certificate_summary_list() {
                let Some(arn) = s.certificate_arn() else {
                    continue;
                };
                let listed = names(s.domain_name(), s.subject_alternative_name_summaries());
                let maybe = listed.iter().any(|n| name_covers(n, host))
                    || s.has_additional_subject_alternative_names() == Some(true)
                    || s.subject_alternative_name_summaries().is_empty();
                if !maybe {
                    continue;
                }
                if let Some(c) = self.describe(arn).await?
                    && c.covers(host)
                {
                    found.push(c);
                }
            }
        }
        Ok(found)
    }

    /// Request a DNS-validated certificate for `name`; returns its ARN. The idempotency token
    /// makes a retried request (same name, within an hour) return the same certificate.
    pub(crate) async fn request(&self, name: &str, tags: &[(&str, &str)]) -> Result<String> {
        let token: String = name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(32)
            .collect();
        let out = self
            .client
            .request_certificate()
            .domain_name(name)
            .validation_method(ValidationMethod::Dns)
            .idempotency_token(token)
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| {
                        aws_sdk_acm::types::Tag::builder()
                            .key(*k)
                            .value(*v)
                            .build()
                            .expect("key is set")
                    })
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| wrap("certificate", "RequestCertificate", name, e))?;
        Ok(out.certificate_arn().unwrap_or_default().to_string())
    }
}

fn names(primary: Option<&str>, sans: &[String]) -> Vec<String> {
    let mut out: Vec<String> = primary.into_iter().map(str::to_string).collect();
    for s in sans {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::name_covers;

    #[test]
    fn wildcards_cover_exactly_one_label() {
        assert!(name_covers("app.example.com", "app.example.com"));
        assert!(name_covers("APP.example.com.", "app.example.com"));
        assert!(name_covers(
            "*.preview.example.com",
            "pr-1.preview.example.com"
        ));
        assert!(!name_covers("*.preview.example.com", "preview.example.com"));
        assert!(!name_covers(
            "*.preview.example.com",
            "a.b.preview.example.com"
        ));
        assert!(!name_covers("*.example.com", "pr-1.preview.example.com"));
        assert!(!name_covers("other.example.com", "app.example.com"));
    }
}
