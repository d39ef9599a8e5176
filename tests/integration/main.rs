//! Integration tests: the real binary against moto, the fault proxy and the fake GitHub
//! server. One test binary (`autotests = false`), one module per area.

// Test modules share helpers through `pub` items of a private module.
#![allow(unreachable_pub)]

mod support;

mod act;
mod action;
mod deploy;
mod docs;
mod domains;
mod github;
mod import;
mod invoke;
mod multipart;
mod ops;
mod policy;
mod prodfn;
mod python;
mod real_aws;
mod reliability;
mod rust;
mod safety;
mod scale;
mod serve;
mod settings;
mod snapshots;
mod update_window;
