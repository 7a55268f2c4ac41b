//! The readers a plan found (`terraform_remote_state` with `backend = "s3"`),
//! what it does to them, and which scanned backend writes the state they read.
//! Pure: it reads no file and talks to no AWS.

pub use crate::model::ReaderPlan;
use crate::model::{BackendPlan, Problem, RepoPlan};
use crate::parse::{Reader, Value};
use crate::plan::{Strategy, readers as plan};
use crate::source::Source;

impl ReaderPlan {
    /// Whether the reader matters to a migration: it names DynamoDB settings,
    /// or its config cannot be read, so it might (unknown counts as named).
    pub fn reported(&self) -> bool {
        !self.dynamodb_settings.is_empty() || self.reader.config.is_none()
    }

    fn literal(&self, key: &str) -> Option<&str> {
        match self.reader.value(key) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

/// Plans every reader of one file; a reader whose change cannot be spelled
/// fails the file (`path:line:col: message`), like a backend would.
pub fn plan_readers(
    source: &Source,
    path: &str,
    readers: Vec<Reader>,
    strategy: Strategy,
) -> Result<Vec<ReaderPlan>, Problem> {
    readers
        .into_iter()
        .map(|reader| {
            let edits = plan::plan_reader(source, &reader, strategy).map_err(|e| {
                let (line, column) = source.line_col(e.offset);
                Problem {
                    path: path.to_string(),
                    line,
                    column,
                    message: e.message,
                }
            })?;
            Ok(ReaderPlan {
                path: path.to_string(),
                dynamodb_settings: plan::dynamodb_settings(&reader),
                reader,
                edits,
            })
        })
        .collect()
}

/// The scanned backend that writes the state a reader reads: one whose resolved
/// states (every unit, partial file and init-time key) include the reader's
/// bucket and key. The reader's own workspace, if any, is Terraform's business:
/// the default workspace's key names the producer.
pub fn producer_of<'a>(
    reader: &ReaderPlan,
    backends: &'a [BackendPlan],
) -> Option<&'a BackendPlan> {
    let bucket = reader.literal("bucket")?;
    let key = reader.literal("key")?;
    backends.iter().find(|b| {
        b.resolution
            .targets
            .iter()
            .any(|t| t.bucket.as_deref() == Some(bucket) && t.keys.iter().any(|(_, k)| k == key))
    })
}

/// Every reader the plan reports, in path order.
pub fn reported(repo: &RepoPlan) -> impl Iterator<Item = &ReaderPlan> {
    repo.files
        .iter()
        .flat_map(|f| f.readers.iter())
        .filter(|r| r.reported())
}
