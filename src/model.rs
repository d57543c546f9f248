//! The vocabulary every room shares: products, releases, SBOM formats and the normalised component
//! model that ingestion produces and matching consumes. Plain data, no I/O.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a name was refused; shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NameError(pub String);

macro_rules! path_name {
    ($(#[$doc:meta])* $ty:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $ty(String);

        impl $ty {
            /// Names are path segments and store keys: 1-128 of `A-Z a-z 0-9 . _ - + ~`, not `.`/`..`.
            pub fn parse(s: &str) -> Result<Self, NameError> {
                let ok_char = |c: char| c.is_ascii_alphanumeric() || "._-+~".contains(c);
                if s.is_empty() || s.len() > 128 || s == "." || s == ".." || !s.chars().all(ok_char) {
                    return Err(NameError(format!(
                        "invalid {} name {:?}: use 1-128 characters of A-Z a-z 0-9 . _ - + ~",
                        $what, s
                    )));
                }
                Ok(Self(s.to_string()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $ty {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, NameError> {
                Self::parse(&s)
            }
        }
        impl From<$ty> for String {
            fn from(n: $ty) -> String {
                n.0
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

path_name!(
    /// A device product line, e.g. `infusion-pump`.
    ProductName,
    "product"
);
path_name!(
    /// A released version of a product's software, e.g. `4.2.1`.
    ReleaseName,
    "release"
);

/// The SBOM serialisations soupwatch accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SbomFormat {
    CyclonedxJson,
    CyclonedxXml,
    SpdxJson,
    SpdxTagValue,
}

impl SbomFormat {
    /// The media type the original bytes are served back with.
    pub fn content_type(self) -> &'static str {
        match self {
            SbomFormat::CyclonedxJson => "application/vnd.cyclonedx+json",
            SbomFormat::CyclonedxXml => "application/vnd.cyclonedx+xml",
            SbomFormat::SpdxJson => "application/spdx+json",
            SbomFormat::SpdxTagValue => "text/spdx",
        }
    }
}

/// A checksum as the SBOM states it (algorithm spelled as in the source, value lower-case hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hash {
    pub alg: String,
    pub value: String,
}

/// One third-party item of a release, normalised from CycloneDX or SPDX.
/// Every field is optional except the name because real SBOMs omit everything else.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// The source document's own reference (CycloneDX `bom-ref`, SPDX `SPDXID`), so findings and
    /// VEX statements can point back into the document the manufacturer released.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bom_ref: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// CycloneDX `group` (Maven groupId, npm scope) when the document gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Package URL: the primary key into advisory namespaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// CPE 2.3 formatted string: the key into NVD for C libraries, OS parts and firmware.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpe: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<Hash>,
    /// SPDX ids or expressions, or free-text names when the document has nothing better.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
    /// CycloneDX scope (`required`, `optional`, `excluded`); SPDX has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// CycloneDX `type` or SPDX `primaryPackagePurpose`, lower-case (`library`, `operating-system`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Source-document references of the components this one depends on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// A problem found while validating a document against its format's schema or spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationIssue {
    /// Where: a JSON pointer (`/components/3/purl`), `line N` for tag-value, or an XML path.
    pub path: String,
    pub message: String,
}

/// The NTIA "minimum elements" check of one document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NtiaReport {
    pub author_present: bool,
    pub timestamp_present: bool,
    pub dependencies_present: bool,
    /// Components (by `bom_ref`, else name) lacking a supplier name.
    pub missing_supplier: Vec<String>,
    pub missing_version: Vec<String>,
    /// Lacking every unique identifier (purl, CPE, SWID/hash-free ids are not enough).
    pub missing_unique_id: Vec<String>,
    /// True when every element above is present for every component.
    pub conformant: bool,
}

/// What ingestion makes of one SBOM document: pure data, not yet stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParsedSbom {
    pub format: SbomFormat,
    /// `1.5`, `2.3`, ... as the document declares it.
    pub spec_version: String,
    /// What the document is about (CycloneDX `metadata.component`, SPDX DESCRIBES targets):
    /// the device software itself, never matched as a third-party component.
    pub subject: Vec<Component>,
    /// Every other component, nested CycloneDX components flattened.
    pub components: Vec<Component>,
    pub authors: Vec<String>,
    pub timestamp: Option<String>,
    pub ntia: NtiaReport,
    /// Validation problems accepted because `ingest.strict = false`.
    pub warnings: Vec<ValidationIssue>,
}
