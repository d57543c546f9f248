//! Matching: which components of which releases an advisory affects, and why.
//! `identity` maps purls to advisory namespaces, `cpe` evaluates NVD configurations.

pub mod cpe;
pub mod identity;
