//! API Gateway HTTP APIs (apigatewayv2) as a stage's front door: the API with its
//! integration, route and stage, the custom domain name and its API mapping. Every
//! get-or-create is an `upsert_*` deciding on a typed not-found check; updates go out only
//! when what is there differs from what we want (a redeploy sends no write).
//!
//! Quick create (`CreateApi` with `Target`) would make the integration, route and stage in
//! one call, but then they can't be found and corrected one by one on the next deploy; so
//! they are made explicitly.

use std::collections::HashMap;

use aws_sdk_apigatewayv2::Client;
use aws_sdk_apigatewayv2::types::{
    DomainNameConfiguration, EndpointType, IntegrationType, ProtocolType, SecurityPolicy,
};

use super::errors::wrap;
use crate::error::Result;

/// The route and stage that take every request.
pub(crate) const DEFAULT: &str = "$default";
/// Lambda proxy integrations of HTTP APIs speak payload format 2.0 (the same events as a
/// function URL).
pub(crate) const PAYLOAD_FORMAT: &str = "2.0";

/// An HTTP API, as much as we use of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpApi {
    pub id: String,
    pub name: String,
    /// `https://<id>.execute-api.<region>.amazonaws.com` (no trailing slash).
    pub endpoint: String,
    pub tags: HashMap<String, String>,
}

/// A custom domain name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct DomainName {
    pub name: String,
    pub tags: HashMap<String, String>,
    pub certificate_arn: Option<String>,
    pub endpoint_type: Option<String>,
    pub security_policy: Option<String>,
    /// The regional target DNS points at: `d-<id>.execute-api.<region>.amazonaws.com`.
    pub target: Option<String>,
    /// Route 53 zone of `target`, for alias records.
    pub target_zone: Option<String>,
}

impl DomainName {
    /// Whether the configuration is what we create: REGIONAL, TLS 1.2, `certificate_arn`.
    #[must_use]
    pub(crate) fn matches(&self, certificate_arn: &str) -> bool {
        self.certificate_arn.as_deref() == Some(certificate_arn)
            && self.endpoint_type.as_deref() == Some(EndpointType::Regional.as_str())
            && self.security_policy.as_deref() == Some(SecurityPolicy::Tls12.as_str())
    }
}

/// An API mapping of a domain name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mapping {
    pub id: String,
    pub api_id: String,
    pub stage: String,
    /// The base path; empty for the whole domain.
    pub key: String,
}

pub(crate) struct Gateway {
    client: Client,
}

impl Gateway {
    #[must_use]
    pub(crate) fn new(config: &aws_config::SdkConfig) -> Gateway {
        Gateway {
            client: Client::new(config),
        }
    }

    /// The HTTP API whose tags include every pair of `tags` (GetApis lists tags with each
    /// API; there is no server-side filter).
    pub(crate) async fn find_api(&self, tags: &[(&str, &str)]) -> Result<Option<HttpApi>> {
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .get_apis()
                .set_next_token(token.clone())
                .max_results("100")
                .send()
                .await
                .map_err(|e| wrap("front door", "GetApis", "HTTP APIs", e))?;
            for api in page.items() {
                let api_tags = api.tags().cloned().unwrap_or_default();
                let ours = tags
                    .iter()
                    .all(|(k, v)| api_tags.get(*k).map(String::as_str) == Some(*v));
                if ours && api.protocol_type() == Some(&ProtocolType::Http) {
                    return Ok(Some(HttpApi {
                        id: api.api_id().unwrap_or_default().to_string(),
                        name: api.name().unwrap_or_default().to_string(),
                        endpoint: api.api_endpoint().unwrap_or_default().to_string(),
                        tags: api_tags,
                    }));
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(None);
            }
        }
    }

    /// The API with this id, if it exists.
    pub(crate) async fn api(&self, id: &str) -> Result<Option<HttpApi>> {
        match self.client.get_api().api_id(id).send().await {
            Ok(api) => Ok(Some(HttpApi {
                id: api.api_id().unwrap_or(id).to_string(),
                name: api.name().unwrap_or_default().to_string(),
                endpoint: api.api_endpoint().unwrap_or_default().to_string(),
                tags: api.tags().cloned().unwrap_or_default(),
            })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(wrap("front door", "GetApi", id, e)),
        }
    }

    pub(crate) async fn create_api(&self, name: &str, tags: &[(&str, &str)]) -> Result<HttpApi> {
        let mut req = self
            .client
            .create_api()
            .name(name)
            .protocol_type(ProtocolType::Http)
            .description("managed by deploy-action");
        for (k, v) in tags {
            req = req.tags(*k, *v);
        }
        let api = req
            .send()
            .await
            .map_err(|e| wrap("front door", "CreateApi", name, e))?;
        tracing::info!("created HTTP API {name}");
        Ok(HttpApi {
            id: api.api_id().unwrap_or_default().to_string(),
            name: name.to_string(),
            endpoint: api.api_endpoint().unwrap_or_default().to_string(),
            tags: api.tags().cloned().unwrap_or_default(),
        })
    }

    /// Add tags the API lacks (a `--domain` added later, a changed one).
    pub(crate) async fn tag_api(
        &self,
        api: &HttpApi,
        region: &str,
        tags: &[(&str, &str)],
    ) -> Result<()> {
        let missing: Vec<_> = tags
            .iter()
            .filter(|(k, v)| api.tags.get(*k).map(String::as_str) != Some(*v))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let arn = format!("arn:aws:apigateway:{region}::/apis/{}", api.id);
        let mut req = self.client.tag_resource().resource_arn(&arn);
        for (k, v) in missing {
            req = req.tags(*k, *v);
        }
        req.send()
            .await
            .map_err(|e| wrap("front door", "TagResource", arn, e))?;
        Ok(())
    }

    /// One `AWS_PROXY` integration to `function_arn` with payload format 2.0; returns its id.
    pub(crate) async fn upsert_integration(
        &self,
        api_id: &str,
        function_arn: &str,
    ) -> Result<String> {
        let existing = self
            .client
            .get_integrations()
            .api_id(api_id)
            .send()
            .await
            .map_err(|e| wrap("front door", "GetIntegrations", api_id, e))?;
        let proxy = existing
            .items()
            .iter()
            .find(|i| i.integration_type() == Some(&IntegrationType::AwsProxy));
        if let Some(i) = proxy {
            let id = i.integration_id().unwrap_or_default().to_string();
            if i.integration_uri() == Some(function_arn)
                && i.payload_format_version() == Some(PAYLOAD_FORMAT)
            {
                return Ok(id);
            }
            self.client
                .update_integration()
                .api_id(api_id)
                .integration_id(&id)
                .integration_type(IntegrationType::AwsProxy)
                .integration_uri(function_arn)
                .payload_format_version(PAYLOAD_FORMAT)
                .send()
                .await
                .map_err(|e| wrap("front door", "UpdateIntegration", api_id, e))?;
            tracing::info!("HTTP API {api_id}: integration now targets {function_arn}");
            return Ok(id);
        }
        let out = self
            .client
            .create_integration()
            .api_id(api_id)
            .integration_type(IntegrationType::AwsProxy)
            .integration_uri(function_arn)
            .payload_format_version(PAYLOAD_FORMAT)
            .send()
            .await
            .map_err(|e| wrap("front door", "CreateIntegration", api_id, e))?;
        Ok(out.integration_id().unwrap_or_default().to_string())
    }

    /// The `$default` route, sending everything to the integration.
    pub(crate) async fn upsert_route(&self, api_id: &str, integration_id: &str) -> Result<()> {
        let target = format!("integrations/{integration_id}");
        let routes = self
            .client
            .get_routes()
            .api_id(api_id)
            .send()
            .await
            .map_err(|e| wrap("front door", "GetRoutes", api_id, e))?;
        match routes
            .items()
            .iter()
            .find(|r| r.route_key() == Some(DEFAULT))
        {
            Some(r) if r.target() == Some(target.as_str()) => Ok(()),
            Some(r) => {
                self.client
                    .update_route()
                    .api_id(api_id)
                    .route_id(r.route_id().unwrap_or_default())
                    .target(&target)
                    .send()
                    .await
                    .map_err(|e| wrap("front door", "UpdateRoute", api_id, e))?;
                Ok(())
            }
            None => {
                self.client
                    .create_route()
                    .api_id(api_id)
                    .route_key(DEFAULT)
                    .target(&target)
                    .send()
                    .await
                    .map_err(|e| wrap("front door", "CreateRoute", api_id, e))?;
                Ok(())
            }
        }
    }

    /// The `$default` stage with automatic deployment (no CreateDeployment per change).
    pub(crate) async fn upsert_stage(&self, api_id: &str) -> Result<()> {
        match self
            .client
            .get_stage()
            .api_id(api_id)
            .stage_name(DEFAULT)
            .send()
            .await
        {
            Ok(s) if s.auto_deploy() == Some(true) => Ok(()),
            Ok(_) => {
                self.client
                    .update_stage()
                    .api_id(api_id)
                    .stage_name(DEFAULT)
                    .auto_deploy(true)
                    .send()
                    .await
                    .map_err(|e| wrap("front door", "UpdateStage", api_id, e))?;
                Ok(())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_not_found_exception()) =>
            {
                self.client
                    .create_stage()
                    .api_id(api_id)
                    .stage_name(DEFAULT)
                    .auto_deploy(true)
                    .send()
                    .await
                    .map_err(|e| wrap("front door", "CreateStage", api_id, e))?;
                Ok(())
            }
            Err(e) => Err(wrap("front door", "GetStage", api_id, e)),
        }
    }

    pub(crate) async fn delete_api(&self, api_id: &str) -> Result<bool> {
        match self.client.delete_api().api_id(api_id).send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(wrap("teardown", "DeleteApi", api_id, e)),
        }
    }

    /// The custom domain name, if it exists (in this account and region).
    pub(crate) async fn domain(&self, name: &str) -> Result<Option<DomainName>> {
        match self.client.get_domain_name().domain_name(name).send().await {
            Ok(d) => Ok(Some(domain_from(
                d.domain_name().unwrap_or(name),
                d.tags(),
                d.domain_name_configurations(),
            ))),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(wrap("domain", "GetDomainName", name, e)),
        }
    }

    /// Domain names whose tags include every pair of `tags`.
    pub(crate) async fn find_domains(&self, tags: &[(&str, &str)]) -> Result<Vec<DomainName>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .get_domain_names()
                .set_next_token(token.clone())
                .max_results("100")
                .send()
                .await
                .map_err(|e| wrap("domain", "GetDomainNames", "domain names", e))?;
            for d in page.items() {
                let found = domain_from(
                    d.domain_name().unwrap_or_default(),
                    d.tags(),
                    d.domain_name_configurations(),
                );
                if tags
                    .iter()
                    .all(|(k, v)| found.tags.get(*k).map(String::as_str) == Some(*v))
                {
                    out.push(found);
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Create the domain name: REGIONAL endpoint, TLS 1.2, the certificate.
    pub(crate) async fn create_domain(
        &self,
        name: &str,
        certificate_arn: &str,
        tags: &[(&str, &str)],
    ) -> Result<DomainName> {
        let mut req = self
            .client
            .create_domain_name()
            .domain_name(name)
            .domain_name_configurations(configuration(certificate_arn));
        for (k, v) in tags {
            req = req.tags(*k, *v);
        }
        let d = req
            .send()
            .await
            .map_err(|e| wrap("domain", "CreateDomainName", name, e))?;
        tracing::info!("created domain name {name}");
        Ok(domain_from(
            d.domain_name().unwrap_or(name),
            d.tags(),
            d.domain_name_configurations(),
        ))
    }

    /// Bring the domain name's configuration back to ours (certificate, endpoint, TLS).
    pub(crate) async fn update_domain(
        &self,
        name: &str,
        certificate_arn: &str,
    ) -> Result<DomainName> {
        let d = self
            .client
            .update_domain_name()
            .domain_name(name)
            .domain_name_configurations(configuration(certificate_arn))
            .send()
            .await
            .map_err(|e| wrap("domain", "UpdateDomainName", name, e))?;
        tracing::info!("domain name {name}: configuration corrected");
        Ok(domain_from(
            d.domain_name().unwrap_or(name),
            d.tags(),
            d.domain_name_configurations(),
        ))
    }

    pub(crate) async fn delete_domain(&self, name: &str) -> Result<bool> {
        match self
            .client
            .delete_domain_name()
            .domain_name(name)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(wrap("teardown", "DeleteDomainName", name, e)),
        }
    }

    /// The API mappings of a domain name (none when the domain name does not exist).
    pub(crate) async fn mappings(&self, domain: &str) -> Result<Vec<Mapping>> {
        match self
            .client
            .get_api_mappings()
            .domain_name(domain)
            .max_results("100")
            .send()
            .await
        {
            Ok(out) => Ok(out
                .items()
                .iter()
                .map(|m| Mapping {
                    id: m.api_mapping_id().unwrap_or_default().to_string(),
                    api_id: m.api_id().unwrap_or_default().to_string(),
                    stage: m.stage().unwrap_or_default().to_string(),
                    key: m.api_mapping_key().unwrap_or_default().to_string(),
                })
                .collect()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_not_found_exception()) =>
            {
                Ok(Vec::new())
            }
            Err(e) => Err(wrap("domain", "GetApiMappings", domain, e)),
        }
    }

    /// Map the whole domain (empty key) to the API's `$default` stage.
    pub(crate) async fn upsert_mapping(
        &self,
        domain: &str,
        api_id: &str,
        existing: &[Mapping],
    ) -> Result<()> {
        match existing.iter().find(|m| m.key.is_empty()) {
            Some(m) if m.api_id == api_id && m.stage == DEFAULT => Ok(()),
            Some(m) => {
                self.client
                    .update_api_mapping()
                    .domain_name(domain)
                    .api_mapping_id(&m.id)
                    .api_id(api_id)
                    .stage(DEFAULT)
                    .send()
                    .await
                    .map_err(|e| wrap("domain", "UpdateApiMapping", domain, e))?;
                tracing::info!("domain name {domain}: mapping now points at HTTP API {api_id}");
                Ok(())
            }
            None => {
                self.client
                    .create_api_mapping()
                    .domain_name(domain)
                    .api_id(api_id)
                    .stage(DEFAULT)
                    .send()
                    .await
                    .map_err(|e| wrap("domain", "CreateApiMapping", domain, e))?;
                Ok(())
            }
        }
    }

    pub(crate) async fn delete_mapping(&self, domain: &str, mapping_id: &str) -> Result<()> {
        match self
            .client
            .delete_api_mapping()
            .domain_name(domain)
            .api_mapping_id(mapping_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(wrap("teardown", "DeleteApiMapping", domain, e)),
        }
    }
}

fn configuration(certificate_arn: &str) -> DomainNameConfiguration {
    DomainNameConfiguration::builder()
        .certificate_arn(certificate_arn)
        .endpoint_type(EndpointType::Regional)
        .security_policy(SecurityPolicy::Tls12)
        .build()
}

fn domain_from(
    name: &str,
    tags: Option<&HashMap<String, String>>,
    configs: &[DomainNameConfiguration],
) -> DomainName {
    let c = configs.first();
    DomainName {
        name: name.to_string(),
        tags: tags.cloned().unwrap_or_default(),
        certificate_arn: c.and_then(|c| c.certificate_arn()).map(str::to_string),
        endpoint_type: c
            .and_then(|c| c.endpoint_type())
            .map(|t| t.as_str().to_string()),
        security_policy: c
            .and_then(|c| c.security_policy())
            .map(|p| p.as_str().to_string()),
        target: c
            .and_then(|c| c.api_gateway_domain_name())
            .map(str::to_string),
        target_zone: c.and_then(|c| c.hosted_zone_id()).map(str::to_string),
    }
}
