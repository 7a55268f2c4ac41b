//! Content hashes: how plans and rollback files name a version of a file.

/// Lowercase hex SHA-256 of some bytes: how plans and rollback files name a version.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}
