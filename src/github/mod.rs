//! Everything GitHub: the workflow run's context, the OIDC token, workflow commands
//! (outputs, summary, masks, annotations), and later the PR comment and deployments.

pub mod context;
pub mod oidc;
pub mod workflow;
