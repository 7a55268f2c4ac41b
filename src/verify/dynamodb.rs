//! DynamoDB: every active lock and digest item of a table, in one paginated Scan.

use super::TableFacts;
use super::clients::{ClientSettings, Context};
use super::lockinfo::LockInfo;
use aws_sdk_dynamodb::types::AttributeValue;

/// Reads a lock table once: lock items (with `Info`) and digest items (`Digest`).
pub async fn scan_locks(
    ctx: &Context,
    settings: &ClientSettings,
    table: &str,
) -> Result<TableFacts, String> {
    let clients = ctx.clients(settings).await;
    let mut facts = TableFacts::default();
    let mut start = None;
    loop {
        let (filter, projection) = if ctx.options.read_digests {
            (
                "attribute_exists(#info) OR attribute_exists(#digest)",
                "#id, #info, #digest",
            )
        } else {
            ("attribute_exists(#info)", "#id, #info")
        };
        let mut request = clients
            .dynamodb
            .scan()
            .table_name(table)
            .filter_expression(filter)
            .projection_expression(projection)
            .expression_attribute_names("#id", "LockID")
            .expression_attribute_names("#info", "Info");
        if ctx.options.read_digests {
            request = request.expression_attribute_names("#digest", "Digest");
        }
        let request = request
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send();
        let page = ctx
            .call(request)
            .await
            .map_err(|e| format!("cannot scan lock table {table}: {e}"))?;
        for item in page.items() {
            let Some(AttributeValue::S(id)) = item.get("LockID") else {
                continue;
            };
            if let Some(AttributeValue::S(info)) = item.get("Info") {
                facts.locks.insert(id.clone(), LockInfo::parse(info));
            }
            if let Some(digest) = item.get("Digest") {
                let value = digest.as_s().cloned().unwrap_or_default();
                facts.digests.insert(id.clone(), value);
            }
        }
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => break,
        }
    }
    Ok(facts)
}
