//! The states a backend governs, as resolve hands them to verify. The types
//! live in the model (`model::resolution`); this path keeps its callers.

pub use crate::model::resolution::{ClientSettings, Target, workspaces_prefix};
