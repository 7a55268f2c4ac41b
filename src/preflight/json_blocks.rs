//! `required_version` in Terraform's JSON syntax (`.tf.json`, `.tofu.json`):
//! `{"terraform": {"required_version": "..."}}`, where `terraform` may also be
//! an array of objects. Spans from jsonc-parser, so a bump is a byte splice.
//! The scan reads the constraints from its own parse of each file; this is
//! for the bump, and the reading itself lives in the parse stage.

use crate::parse::Body;
use crate::source::Source;

/// The `required_version` member of every `terraform` object, each as a
/// one-setting JSON body (what the bump renders against).
pub fn terraform_blocks(source: &Source) -> Vec<Body> {
    crate::parse::lenient_required_version_blocks(source)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Value;

    #[test]
    fn finds_required_version_in_objects_and_arrays() {
        let text =
            "{\n  \"terraform\": [{\"required_version\": \">= 1.5\"}, {\"backend\": {}}]\n}\n";
        let source = Source::new(text.to_string());
        let blocks = terraform_blocks(&source);
        let s = blocks[0].get("required_version").unwrap();
        assert_eq!(s.value, Value::String(">= 1.5".into()));
        assert_eq!(&text[s.value_span.clone()], "\">= 1.5\"");
        assert!(blocks[1].get("required_version").is_none());
    }
}
