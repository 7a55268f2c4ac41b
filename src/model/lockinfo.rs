//! Terraform's LockInfo, as stored in a DynamoDB lock item's `Info` and in the
//! body of an S3 `.tflock` object.

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// Who holds a lock and why, as far as the lock says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(rename = "Operation", default)]
    pub operation: String,
    #[serde(rename = "Info", default)]
    pub info: String,
    #[serde(rename = "Who", default)]
    pub who: String,
    #[serde(rename = "Version", default)]
    pub version: String,
    #[serde(rename = "Created", default)]
    pub created: String,
    #[serde(rename = "Path", default)]
    pub path: String,
}

/// Locks older than this are probably stale: the output suggests force-unlock.
pub const STALE_AFTER: Duration = Duration::from_secs(60 * 60);

impl LockInfo {
    /// Parses the JSON; a body that is not LockInfo is still a held lock, so the
    /// raw text is kept in `info` rather than dropped.
    pub fn parse(text: &str) -> LockInfo {
        serde_json::from_str(text).unwrap_or_else(|_| LockInfo {
            info: text.chars().take(200).collect(),
            ..LockInfo::default()
        })
    }

    /// How long ago the lock was taken, when `Created` can be read.
    pub fn age(&self, now: SystemTime) -> Option<Duration> {
        let created = humantime::parse_rfc3339_weak(self.created.trim_end_matches('Z'))
            .or_else(|_| humantime::parse_rfc3339(&self.created))
            .ok()?;
        now.duration_since(created).ok()
    }

    /// "held by alice@host since 2026-11-27T10:11:12Z (3h 2m ago) for OperationTypeApply, lock ID 1234"
    pub fn describe(&self, now: SystemTime) -> String {
        let who = if self.who.is_empty() {
            "unknown"
        } else {
            &self.who
        };
        let mut text = format!("held by {who}");
        if !self.created.is_empty() {
            text.push_str(&format!(" since {}", self.created));
            if let Some(age) = self.age(now) {
                text.push_str(&format!(" ({} ago)", short_duration(age)));
            }
        }
        if !self.operation.is_empty() {
            text.push_str(&format!(" for {}", self.operation));
        }
        if !self.id.is_empty() {
            text.push_str(&format!(", lock ID {}", self.id));
        }
        text
    }

    pub fn is_stale(&self, now: SystemTime) -> bool {
        self.age(now).is_some_and(|age| age > STALE_AFTER)
    }
}

/// "3h 2m", "45s", "2d 4h".
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, minutes, seconds) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else if minutes > 0 {
        format!("{minutes}m {seconds}s")
    } else {
        format!("{seconds}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_terraform_lock_info_and_ages_it() {
        let info = LockInfo::parse(
            r#"{"ID":"a1","Operation":"OperationTypeApply","Info":"","Who":"alice@host","Version":"1.9.8","Created":"2026-11-27T10:11:12.123456Z","Path":"b/k"}"#,
        );
        assert_eq!(info.who, "alice@host");
        let now = humantime::parse_rfc3339("2026-11-27T13:11:12Z").unwrap();
        assert_eq!(info.age(now).map(|d| d.as_secs() / 60), Some(179));
        assert!(info.is_stale(now));
        assert!(info.describe(now).contains("held by alice@host since 2026-11-27T10:11:12.123456Z (2h 59m ago) for OperationTypeApply, lock ID a1"));
    }

    #[test]
    fn keeps_a_body_that_is_not_json() {
        assert_eq!(LockInfo::parse("garbage").info, "garbage");
    }
}
