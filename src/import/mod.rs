//! `deploy-action import <tool>`: write `deploy-action.toml` and a workflow from another
//! tool's settings, so moving to deploy-action is one command (issue 17).

pub(crate) mod zappa;

use crate::error::Result;
use crate::output::Report;

#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub from: ImportFrom,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ImportFrom {
    /// Carry zappa_settings.json (.yml, .yaml, .toml) over: one [stages.<name>] per zappa stage.
    Zappa(zappa::ZappaArgs),
}

pub(crate) fn run(args: &ImportArgs) -> Result<Report> {
    match &args.from {
        ImportFrom::Zappa(a) => zappa::run(a),
    }
}
