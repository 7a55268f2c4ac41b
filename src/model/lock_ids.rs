//! The names Terraform's S3 backend gives a state's locks: the DynamoDB lock item
//! `<bucket>/<state key>`, the digest item `<bucket>/<state key>-md5` and the S3
//! lockfile `<state key>.tflock`. Naming only; reading or writing them is the
//! `aws` core's callers' (verify, remote).

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

/// The S3 object key of a state's lockfile (`use_lockfile = true`).
pub fn lockfile_key(state_key: &str) -> String {
    format!("{state_key}{LOCKFILE_SUFFIX}")
}

/// What a lockfile's object key adds to the state's.
pub const LOCKFILE_SUFFIX: &str = ".tflock";

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
        assert_eq!(
            lockfile_key("env:/dev/app/terraform.tfstate"),
            "env:/dev/app/terraform.tfstate.tflock"
        );
    }
}
