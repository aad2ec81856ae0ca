//! Lowering: the only module that knows both the platform model and Terraform. One file per
//! model area; each returns the handles later areas need, so cross-area references are typed.
//! Areas never import each other: `ctx` (`Ctx`, the file ids, the platform tag), the handle
//! types (`handles`) and the helpers several areas share (`iam_helpers`, `encrypted`, and `apply`
//! under delivery) sit below them, and this file only wires the areas in order, passing one
//! area's results to the next as data.
//! Two root modules come out: the platform ([`lower`], `out/`) and the bootstrap
//! ([`bootstrap`], `out/bootstrap/`: state bucket, permissions boundary, the two KMS keys, CI
//! identity), which an administrator applies and the CI roles may not change.

mod apply;
mod compute;
mod ctx;
mod database;
mod delivery;
mod encrypted;
mod events;
mod handles;
mod iam;
mod iam_helpers;
mod monitoring;
mod network;
mod outputs;
mod providers;
mod security;
mod storage;

pub use crate::lower::ctx::{
    BACKEND, COMPUTE, DATABASE, DELIVERY, EVENTS, FLEET, IAM, KEYS, MONITORING, NETWORK, OUTPUTS,
    PROVIDERS, SECURITY, STATE, STORAGE, VARIABLES, VERSIONS,
};

use crate::lower::compute::HostDeps;
use crate::lower::ctx::context;
use crate::lower::handles::{Keys, PlatformNames};
use crate::lower::iam::EtlRoleDeps;
use crate::model::Platform;
use crate::tf::{Document, TfError};

/// Translates a validated platform into the bootstrap module: what must exist before the
/// platform's first apply and what the CI roles must never change.
pub fn bootstrap(platform: &Platform) -> Result<Document, TfError> {
    // The boundary and the apply role name exactly what the platform module declares.
    let names = PlatformNames::of(&lower(platform)?);
    let mut doc = Document::default();
    providers::lower_settings(&mut doc, platform)?;
    let ctx = context(&mut doc, platform)?;
    let state = storage::lower_state_bucket(&mut doc, &ctx, STATE)?;
    let keys = Keys {
        platform: storage::lower_key(&mut doc, &ctx)?,
        alarms: monitoring::lower_alarms_key(&mut doc, &ctx, &names)?,
    };
    let boundary = iam::lower_boundary(&mut doc, &ctx, &keys, &names)?;
    let github = delivery::lower_github(&mut doc, &ctx, &keys, names)?;
    outputs::lower_bootstrap(&mut doc, &state, &boundary, github.as_ref())?;
    Ok(doc)
}

/// Translates a validated platform into a Terraform document.
pub fn lower(platform: &Platform) -> Result<Document, TfError> {
    let mut doc = Document::default();
    let vars = providers::lower(&mut doc, platform)?;
    let ctx = context(&mut doc, platform)?;
    let key = storage::platform_key(&mut doc, &ctx)?;
    let net = network::lower(&mut doc, &ctx, &key)?;
    let buckets = storage::lower_buckets(&mut doc, &ctx, &key)?;
    let events = events::lower(&mut doc, &ctx, &buckets, &key)?;
    let groups = security::lower(&mut doc, &ctx, &net, &vars)?;
    let db = database::lower(&mut doc, &ctx, &net, &groups, &key)?;
    let telemetry = monitoring::lower_logs(&mut doc, &ctx, &key)?;
    let runtime = delivery::lower_runtime(&mut doc, &ctx, &key)?;
    let ssm_agent = iam::lower_ssm_agent_policy(&mut doc, &ctx)?;
    let identity = iam::lower_etl_role(
        &mut doc,
        &ctx,
        EtlRoleDeps {
            buckets: &buckets,
            key: &key,
            db: &db,
            telemetry: monitoring::host_statements(&telemetry),
            metrics: monitoring::host_metrics_statement(),
            runtime: &runtime,
            ssm_agent: &ssm_agent,
        },
    )?;
    iam_helpers::inline_policy(
        &mut doc,
        &ctx,
        "etl_host_events",
        &identity.role,
        events::consumer_statements(&events),
    )?;
    let host = compute::lower(
        &mut doc,
        &ctx,
        &HostDeps {
            net: &net,
            groups: &groups,
            key: &key,
            profile: &identity.profile,
            events: &events,
            vars: &vars,
            buckets: &buckets,
            db: &db,
            telemetry: &telemetry,
            runtime: &runtime,
        },
    )?;
    monitoring::lower_alarms(&mut doc, &ctx, &telemetry, &host, &db, &events)?;
    outputs::lower(&mut doc, &ctx, &buckets, &key, &host, &db, &events)?;
    outputs::lower_delivery(&mut doc, &runtime)?;
    Ok(doc)
}
