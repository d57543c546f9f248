//! Matching: which components of which releases an advisory affects, and why.
//! `identity` maps purls to advisory namespaces, `cpe` evaluates NVD configurations.

pub mod alias;
pub mod cpe;
pub mod engine;
pub mod findings;
pub mod identity;
pub mod range;
pub mod scan;
pub mod service;
