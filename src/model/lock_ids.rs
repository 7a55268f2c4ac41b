//! The DynamoDB item names Terraform's S3 backend uses for a state: the lock item
//! `<bucket>/<state key>` and the digest item `<bucket>/<state key>-md5`. Naming
//! only; reading or writing the items is verify's and remote's.

/// The `LockID` of the lock item a run holds on a state.
pub fn lock_id(bucket: &str, state_key: &str) -> String {
    format!("{bucket}/{state_key}")
}

/// The `LockID` of a state's digest item (MD5 of the state Terraform last wrote).
pub fn digest_id(bucket: &str, state_key: &str) -> String {
    format!("{}{DIGEST_SUFFIX}", lock_id(bucket, state_key))
}

/// What a digest item's `LockID` adds to the lock item's.
pub const DIGEST_SUFFIX: &str = "-md5";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_terraform() {
        assert_eq!(
            lock_id("b", "app/terraform.tfstate"),
            "b/app/terraform.tfstate"
        );
        assert_eq!(
            digest_id("b", "env:/dev/app/terraform.tfstate"),
            "b/env:/dev/app/terraform.tfstate-md5"
        );
    }
}
