//! Route 53: the hosted zone of a name, and the alias records that point the name at an API
//! Gateway domain. Writes are UPSERTs (idempotent by nature); deletes send the record set
//! exactly as listed, which Route 53 requires.

use aws_sdk_route53::Client;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};

use super::errors::wrap;
use crate::error::{Error, Result};

/// A public hosted zone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Zone {
    /// The bare id (`Z0123...`), without `/hostedzone/`.
    pub id: String,
    /// The zone's name without the final dot.
    pub name: String,
}

/// `name` without a final dot, lowercase (Route 53 answers with the dot).
#[must_use]
pub(crate) fn bare(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn bare_id(id: &str) -> String {
    id.trim_start_matches("/hostedzone/").to_string()
}

/// The zone among `zones` whose name is the longest suffix of `host` (a delegated
/// `preview.example.com` wins over `example.com`).
#[must_use]
pub(crate) fn longest_suffix<'a>(zones: &'a [Zone], host: &str) -> Option<&'a Zone> {
    let host = bare(host);
    zones
        .iter()
        .filter(|z| host == z.name || host.ends_with(&format!(".{}", z.name)))
        .max_by_key(|z| z.name.len())
}

pub(crate) struct Route53 {
    client: Client,
}

impl Route53 {
    #[must_use]
    pub(crate) fn new(config: &aws_config::SdkConfig) -> Route53 {
        Route53 {
            client: Client::new(config),
        }
    }

    /// The zone with this id, if it exists.
    pub(crate) async fn zone(&self, id: &str) -> Result<Option<Zone>> {
        match self.client.get_hosted_zone().id(bare_id(id)).send().await {
            Ok(out) => Ok(out.hosted_zone().map(|z| Zone {
                id: bare_id(z.id()),
                name: bare(z.name()),
            })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_hosted_zone()) =>
            {
                Ok(None)
            }
            Err(e) => Err(wrap("dns", "GetHostedZone", id, e)),
        }
    }

    /// Every public hosted zone of the account (private zones don't answer the internet).
    pub(crate) async fn public_zones(&self) -> Result<Vec<Zone>> {
        let mut out = Vec::new();
        let mut pages = self.client.list_hosted_zones().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| wrap("dns", "ListHostedZones", "hosted zones", e))?;
            out.extend(
                page.hosted_zones()
                    .iter()
                    .filter(|z| !z.config().is_some_and(|c| c.private_zone()))
                    .map(|z| Zone {
                        id: bare_id(z.id()),
                        name: bare(z.name()),
                    }),
            );
        }
        Ok(out)
    }

    /// The record sets named exactly `name` (any type).
    pub(crate) async fn records(
        &self,
        zone_id: &str,
        name: &str,
    ) -> Result<Vec<ResourceRecordSet>> {
        let out = self
            .client
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .start_record_name(name)
            .max_items(10)
            .send()
            .await
            .map_err(|e| wrap("dns", "ListResourceRecordSets", name, e))?;
        let want = bare(name);
        Ok(out
            .resource_record_sets()
            .iter()
            .filter(|r| bare(r.name()) == want)
            .cloned()
            .collect())
    }

    /// Send one change batch.
    pub(crate) async fn change(
        &self,
        zone_id: &str,
        what: &str,
        changes: Vec<Change>,
    ) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        self.client
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(
                ChangeBatch::builder()
                    .comment(format!("deploy-action: {what}"))
                    .set_changes(Some(changes))
                    .build()
                    .map_err(|e| Error::Internal(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| wrap("dns", "ChangeResourceRecordSets", what.to_string(), e))?;
        Ok(())
    }
}

/// Whether `r` is an alias record to `target` (case and final dot ignored).
#[must_use]
pub(crate) fn aliases_to(r: &ResourceRecordSet, target: &str, target_zone: &str) -> bool {
    r.alias_target()
        .is_some_and(|a| bare(a.dns_name()) == bare(target) && a.hosted_zone_id() == target_zone)
}

/// UPSERT of an alias record `name` (`A` or `AAAA`) to an API Gateway regional domain.
pub(crate) fn upsert_alias(
    name: &str,
    kind: RrType,
    target: &str,
    target_zone: &str,
) -> Result<Change> {
    let set = ResourceRecordSet::builder()
        .name(name)
        .r#type(kind)
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id(target_zone)
                .dns_name(target)
                .evaluate_target_health(false)
                .build()
                .map_err(|e| Error::Internal(e.to_string()))?,
        )
        .build()
        .map_err(|e| Error::Internal(e.to_string()))?;
    Change::builder()
        .action(ChangeAction::Upsert)
        .resource_record_set(set)
        .build()
        .map_err(|e| Error::Internal(e.to_string()))
}

/// UPSERT of a CNAME (certificate validation records).
pub(crate) fn upsert_cname(name: &str, value: &str) -> Result<Change> {
    let set = ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::Cname)
        .ttl(300)
        .resource_records(
            ResourceRecord::builder()
                .value(value)
                .build()
                .map_err(|e| Error::Internal(e.to_string()))?,
        )
        .build()
        .map_err(|e| Error::Internal(e.to_string()))?;
    Change::builder()
        .action(ChangeAction::Upsert)
        .resource_record_set(set)
        .build()
        .map_err(|e| Error::Internal(e.to_string()))
}

/// DELETE of a record set exactly as it was listed.
pub(crate) fn delete(set: ResourceRecordSet) -> Result<Change> {
    Change::builder()
        .action(ChangeAction::Delete)
        .resource_record_set(set)
        .build()
        .map_err(|e| Error::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_suffix_wins() {
        let zones = vec![
            Zone {
                id: "Z1".into(),
                name: "example.com".into(),
            },
            Zone {
                id: "Z2".into(),
                name: "preview.example.com".into(),
            },
            Zone {
                id: "Z3".into(),
                name: "ample.com".into(),
            },
        ];
        assert_eq!(
            longest_suffix(&zones, "pr-1.preview.example.com").map(|z| z.id.as_str()),
            Some("Z2")
        );
        assert_eq!(
            longest_suffix(&zones, "app.example.com.").map(|z| z.id.as_str()),
            Some("Z1")
        );
        assert_eq!(
            longest_suffix(&zones, "example.com").map(|z| z.id.as_str()),
            Some("Z1")
        );
        assert!(longest_suffix(&zones, "example.org").is_none());
    }
}
