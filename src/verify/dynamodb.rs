//! DynamoDB: every active lock and digest item of a table, in one paginated Scan.

use super::facts::TableFacts;
use super::lockinfo::LockInfo;
use crate::aws::{ClientSettings, Context};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// Reads a lock table once: lock items and digest items (`Digest`).
pub async fn scan_locks(
    ctx: &Context,
    settings: &ClientSettings,
    table: &str,
) -> Result<TableFacts, String> {
    let clients = ctx.clients(settings).await;
    let mut facts = TableFacts::default();
    let mut start = None;
    loop {
        // No filter on `Info`: an item with a LockID and neither `Info` nor
        // `Digest` is a lock whose holder we cannot read, and unknown is locked.
        let mut request = clients
            .dynamodb
            .scan()
            .table_name(table)
            .projection_expression("#id, #info, #digest")
            .expression_attribute_names("#id", "LockID")
            .expression_attribute_names("#info", "Info")
            .expression_attribute_names("#digest", "Digest");
        if !ctx.options.read_digests {
            request = request.filter_expression("attribute_not_exists(#digest)");
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
            match classify(item) {
                Some(Item::Lock(id, info)) => {
                    facts.locks.insert(id, info);
                }
                Some(Item::Digest(id, value)) if ctx.options.read_digests => {
                    facts.digests.insert(id, value);
                }
                _ => {}
            }
        }
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => break,
        }
    }
    Ok(facts)
}

/// One item of a lock table, as Terraform writes them.
#[derive(Debug, PartialEq)]
enum Item {
    /// `LockID` with `Info` (LockInfo JSON), or with neither `Info` nor `Digest`:
    /// a lock whose holder cannot be read still holds the state.
    Lock(String, LockInfo),
    /// `<bucket>/<key>-md5` with `Digest`.
    Digest(String, String),
}

/// What an item is; None without a string `LockID` (not a Terraform item).
fn classify(item: &HashMap<String, AttributeValue>) -> Option<Item> {
    let Some(AttributeValue::S(id)) = item.get("LockID") else {
        return None;
    };
    match (item.get("Info"), item.get("Digest")) {
        (Some(AttributeValue::S(info)), _) => Some(Item::Lock(id.clone(), LockInfo::parse(info))),
        (None, Some(digest)) => Some(Item::Digest(
            id.clone(),
            digest.as_s().cloned().unwrap_or_default(),
        )),
        (info, _) => Some(Item::Lock(
            id.clone(),
            LockInfo {
                info: match info {
                    Some(_) => "lock item whose Info is not a string".into(),
                    None => "lock item without Info".into(),
                },
                ..LockInfo::default()
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(attrs: &[(&str, &str)]) -> HashMap<String, AttributeValue> {
        attrs
            .iter()
            .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
            .collect()
    }

    #[test]
    fn an_item_without_info_is_a_held_lock() {
        let Some(Item::Lock(id, info)) = classify(&item(&[("LockID", "b/k")])) else {
            panic!("not a lock");
        };
        assert_eq!(id, "b/k");
        assert_eq!(info.info, "lock item without Info");
        let mut odd = item(&[("LockID", "b/k")]);
        odd.insert("Info".into(), AttributeValue::N("1".into()));
        assert!(matches!(classify(&odd), Some(Item::Lock(..))));
    }

    #[test]
    fn info_and_digest_items_are_told_apart() {
        let lock = classify(&item(&[("LockID", "b/k"), ("Info", "{\"Who\":\"a@h\"}")]));
        assert!(matches!(lock, Some(Item::Lock(_, ref i)) if i.who == "a@h"));
        assert_eq!(
            classify(&item(&[("LockID", "b/k-md5"), ("Digest", "abc")])),
            Some(Item::Digest("b/k-md5".into(), "abc".into()))
        );
        assert_eq!(classify(&item(&[("Info", "x")])), None);
    }
}
