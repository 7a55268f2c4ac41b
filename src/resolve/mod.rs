//! Resolve stage: from parsed backends to the concrete states each one governs
//! (bucket, region, table, keys per workspace, endpoints, credentials), evaluating
//! Terragrunt and HCL expressions offline. Pure; what it cannot evaluate it marks
//! unknown, and the check treats unknown as locked.

pub mod eval;
