//! Everything GitHub: the workflow run's context, the OIDC token, workflow commands
//! (outputs, summary, masks, annotations), the PR comment and deployments.

pub mod api;
pub mod comment;
pub mod context;
pub mod deployments;
pub mod oidc;
pub mod render;
pub mod report;
pub mod workflow;
