//! Lock tables as a whole, for `tflock status`: which Terraform lock tables exist
//! in a region, and how many active locks and digest items each holds.

use super::dynamodb;
use crate::aws::{ClientSettings, Context, Options, RequestCounter};
use aws_sdk_dynamodb::types::{KeyType, ScalarAttributeType};
use serde::Serialize;
use std::sync::Arc;

/// What one lock table holds.
#[derive(Debug, Clone, Serialize)]
pub struct TableSummary {
    pub active_locks: usize,
    pub digest_items: usize,
    /// LockIDs of the active locks.
    pub locks: Vec<String>,
    /// LockIDs of the digest items (`<bucket>/<state key>-md5`).
    pub digests: Vec<String>,
}

/// Tables whose key schema is Terraform's (hash key `LockID` of type S), found
/// with ListTables and DescribeTable in the regions of the given clients.
pub async fn find_lock_tables(
    clients: Vec<ClientSettings>,
    options: &Options,
    counter: Arc<RequestCounter>,
) -> Vec<(ClientSettings, Result<Vec<String>, String>)> {
    let ctx = Context::new(options.clone(), counter);
    let jobs = clients.into_iter().map(|settings| {
        let ctx = ctx.clone();
        async move {
            let found = lock_tables_in(&ctx, &settings).await;
            (settings, found)
        }
    });
    let mut found = ctx.run_all(jobs).await;
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

async fn lock_tables_in(ctx: &Context, settings: &ClientSettings) -> Result<Vec<String>, String> {
    let clients = ctx.clients(settings).await;
    let mut names = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page = ctx
            .call(
                clients
                    .dynamodb
                    .list_tables()
                    .set_exclusive_start_table_name(start.take())
                    .send(),
            )
            .await
            .map_err(|e| format!("cannot list tables: {e}"))?;
        names.extend(page.table_names().iter().cloned());
        match page.last_evaluated_table_name() {
            Some(last) => start = Some(last.to_string()),
            None => break,
        }
    }
    let mut lock_tables = Vec::new();
    for name in names {
        // A table deleted since the listing is simply not a lock table any more.
        let Ok(described) = ctx
            .call(clients.dynamodb.describe_table().table_name(&name).send())
            .await
        else {
            continue;
        };
        let Some(table) = described.table() else {
            continue;
        };
        let hash_is_lock_id = table
            .key_schema()
            .iter()
            .any(|k| k.key_type() == &KeyType::Hash && k.attribute_name() == "LockID");
        let is_string = table.attribute_definitions().iter().any(|a| {
            a.attribute_name() == "LockID" && a.attribute_type() == &ScalarAttributeType::S
        });
        if hash_is_lock_id && is_string && table.key_schema().len() == 1 {
            lock_tables.push(name);
        }
    }
    Ok(lock_tables)
}

/// A table (by its client and name) with what its scan found.
pub type TableResult = ((ClientSettings, String), Result<TableSummary, String>);

/// Active locks and digest items of each table (one paginated Scan per table).
pub async fn summarize(
    tables: Vec<(ClientSettings, String)>,
    options: &Options,
    counter: Arc<RequestCounter>,
) -> Vec<TableResult> {
    let ctx = Context::new(options.clone(), counter);
    let jobs = tables.into_iter().map(|(settings, table)| {
        let ctx = ctx.clone();
        async move {
            let facts = dynamodb::scan_locks(&ctx, &settings, &table).await;
            let summary = facts.map(|f| TableSummary {
                active_locks: f.locks.len(),
                digest_items: f.digests.len(),
                locks: f.locks.keys().cloned().collect(),
                digests: f.digests.keys().cloned().collect(),
            });
            ((settings, table), summary)
        }
    });
    let mut results = ctx.run_all(jobs).await;
    results.sort_by(|a, b| a.0.cmp(&b.0));
    results
}
