//! Configuration drift: which of the settings a deploy asks for `$LATEST` (or a version)
//! doesn't have. The plan decides from it whether a deploy is a no-op, and the publish step
//! whether to call UpdateFunctionConfiguration; `aws::lambda` only reads and writes.

use aws_sdk_lambda::types::SnapStartApplyOn;

use crate::aws::lambda::{FunctionConfig, snap_start};
use crate::config::FunctionSettings;
use crate::production::DEFAULT_DESCRIPTION;

impl FunctionConfig {
    /// The configuration fields that differ from `want` (names of the flags).
    #[must_use]
    pub(crate) fn drift(&self, want: &FunctionSettings) -> Vec<&'static str> {
        let mut d = Vec::new();
        if self.runtime.as_deref() != Some(want.runtime.as_str()) {
            d.push("runtime");
        }
        if self.handler.as_deref() != Some(want.handler.as_str()) {
            d.push("handler");
        }
        if self.memory != Some(want.memory) {
            d.push("memory");
        }
        if self.timeout != Some(want.timeout) {
            d.push("timeout");
        }
        if self.env != want.env {
            d.push("env");
        }
        if let Some(role) = &want.execution_role
            && self.role.as_deref() != Some(role.as_str())
        {
            d.push("execution-role");
        }
        let p = &want.production;
        let (subnets, groups) = p
            .vpc
            .as_ref()
            .map(|v| (v.subnets.as_slice(), v.security_groups.as_slice()))
            .unwrap_or_default();
        if self.vpc_subnets != subnets || self.vpc_security_groups != groups {
            d.push("vpc");
        }
        if self.layers != p.layers {
            d.push("layers");
        }
        if self.tracing.as_deref().unwrap_or("PassThrough") != p.tracing.lambda_name() {
            d.push("tracing");
        }
        if self.ephemeral_storage.unwrap_or(512) != p.ephemeral_storage {
            d.push("ephemeral-storage");
        }
        if self.snapstart.as_deref().unwrap_or("None")
            != snap_start(want)
                .apply_on()
                .map_or("None", SnapStartApplyOn::as_str)
        {
            d.push("snapstart");
        }
        // Versions describe their provenance; only $LATEST carries the function's description.
        if self.version == "$LATEST"
            && self.description != p.description.as_deref().unwrap_or(DEFAULT_DESCRIPTION)
        {
            d.push("description");
        }
        d
    }
}
