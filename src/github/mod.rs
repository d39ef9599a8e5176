//! Everything GitHub: the workflow run's context, the OIDC token, workflow commands
//! (outputs, summary, masks, annotations), the PR comment and deployments.

pub(crate) mod api;
pub(crate) mod comment;
pub(crate) mod context;
pub(crate) mod deployments;
pub(crate) mod oidc;
pub(crate) mod render;
pub(crate) mod report;
pub(crate) mod workflow;
