//! soupwatch: post-market vigilance for the third-party software (SOUP) inside released medical
//! devices. See ARCHITECTURE.md for the map; each module's `//!` says what it may touch.

pub mod advisory;
pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod exports;
pub mod feeds;
pub mod ingest;
pub mod matching;
pub mod model;
pub mod notify;
pub mod records;
pub mod releases;
pub mod store;
pub mod tickets;
pub mod triage;
pub mod ui;
pub mod versions;
