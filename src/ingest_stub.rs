//! temporary stub until the ingest module lands
use crate::model::*;
pub struct IngestOptions { pub strict: bool }
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("malformed: {message}")] Malformed { message: String },
    #[error("unsupported: {message}")] UnsupportedFormat { message: String },
    #[error("invalid")] Invalid { issues: Vec<ValidationIssue> },
}
impl IngestError { pub fn code(&self) -> &'static str { "malformed" } pub fn status(&self) -> u16 { 400 } }
pub fn parse(bytes: &[u8], _ct: Option<&str>, _o: &IngestOptions) -> Result<ParsedSbom, IngestError> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| IngestError::Malformed{message: e.to_string()})?;
    Ok(ParsedSbom { format: SbomFormat::CyclonedxJson, spec_version: v["specVersion"].as_str().unwrap_or("?").into(), subject: vec![], components: vec![], authors: vec![], timestamp: None, ntia: NtiaReport::default(), warnings: vec![] })
}
