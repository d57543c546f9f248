//! Exact version ordering per OSV ecosystem, pure and free of I/O. Each ecosystem is mapped to the
//! [`Scheme`] its own package manager uses; a version string is parsed once into a [`Version`]
//! whose comparison allocates nothing, so the matcher can run millions of range checks a second.
//! A string that is not a valid version of its scheme is an error, never a guess, and an ecosystem
//! whose versions have no defined order (OSS-Fuzz, Linux, Android, ...) is reported as such.
//!
//! OSV's `introduced: "0"` ("from the beginning") is not a version of most schemes: the range
//! layer must test [`is_zero_introduced`] before parsing an `introduced` value.

mod apk;
mod composer;
mod generic;
mod maven;
mod nuget;
mod num;
mod numeric;
mod pubdev;
mod rpm;
mod rubygems;
mod semantic;

use std::cmp::Ordering;
use std::fmt;

/// A version-ordering algorithm. Several ecosystems share one scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// Strict SemVer 2.0 (Cargo's `semver` grammar): crates.io, Hex.
    Semver,
    /// SemVer 2.0 precedence behind a lenient front end (leading `v`/`=`, one to three numeric
    /// parts, leading zeros, a prerelease glued to the patch number): npm's loose mode, Bitnami,
    /// Julia, SwiftURL.
    SemverLoose,
    /// Go modules: optional leading `v`, pseudo-versions are prereleases, `+incompatible` ignored.
    Go,
    /// PEP 440 (PyPI), via `pep440_rs`.
    Pep440,
    /// Maven's `ComparableVersion`.
    Maven,
    /// NuGet.Versioning's `NuGetVersion` with the default comparer.
    NuGet,
    /// RubyGems' `Gem::Version`.
    RubyGems,
    /// Composer's `VersionParser::normalize` plus PHP's `version_compare` (Packagist).
    Composer,
    /// Dart's `pub_semver` (Pub).
    Pub,
    /// Cabal/PVP dotted naturals (Hackage, GHC).
    Hackage,
    /// R's `package_version` (CRAN, Bioconductor).
    Cran,
    /// dpkg (Debian, Ubuntu), via `debversion`.
    Dpkg,
    /// rpmvercmp over epoch:version-release (Red Hat family, SUSE, Mageia, ...), via `rpm-version`.
    Rpm,
    /// apk-tools (Alpine, Wolfi, Chainguard, ...).
    Apk,
    /// A conservative dotted numeric/alpha comparator for sources with no ecosystem, such as NVD
    /// CPE version bounds. Never chosen by [`scheme_for`].
    Generic,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Semver => "semver",
            Scheme::SemverLoose => "semver-loose",
            Scheme::Go => "go",
            Scheme::Pep440 => "pep440",
            Scheme::Maven => "maven",
            Scheme::NuGet => "nuget",
            Scheme::RubyGems => "rubygems",
            Scheme::Composer => "composer",
            Scheme::Pub => "pub",
            Scheme::Hackage => "hackage",
            Scheme::Cran => "cran",
            Scheme::Dpkg => "dpkg",
            Scheme::Rpm => "rpm",
            Scheme::Apk => "apk",
            Scheme::Generic => "generic",
        }
    }

    /// Schemes whose parsed forms are mutually comparable share a family (strict and loose
    /// SemVer order alike; only their parsers differ).
    fn family(self) -> Scheme {
        match self {
            Scheme::SemverLoose => Scheme::Semver,
            s => s,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// OSV ecosystems whose version strings have no order OSV defines (commit- or tag-based, or
/// kernel-specific); ranges there are GIT ranges or enumerated `versions` only.
const UNORDERED_ECOSYSTEMS: &[&str] = &[
    "OSS-Fuzz",
    "Linux",
    "Android",
    "GIT",
    "GitHub Actions",
    "ConanCenter",
    "opam",
    "VSCode",
    "Root",
    "Echo",
    "CleanStart",
    "Docker Hardened Images",
];

/// What an OSV ecosystem string says about ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcosystemKind {
    Ordered(Scheme),
    /// A known ecosystem whose versions cannot be ordered.
    Unordered,
    Unknown,
}

/// Classify an OSV ecosystem string. The part after the first `:` (a distro release, a Maven
/// repository URL) never changes the scheme.
pub fn ecosystem_kind(ecosystem: &str) -> EcosystemKind {
    let base = ecosystem.split_once(':').map_or(ecosystem, |(b, _)| b);
    let scheme = match base {
        "crates.io" | "Hex" => Scheme::Semver,
        "npm" | "Bitnami" | "Julia" | "SwiftURL" => Scheme::SemverLoose,
        "Go" | "Kubernetes" => Scheme::Go,
        "PyPI" => Scheme::Pep440,
        "Maven" => Scheme::Maven,
        "NuGet" => Scheme::NuGet,
        "RubyGems" => Scheme::RubyGems,
        "Packagist" => Scheme::Composer,
        "Pub" => Scheme::Pub,
        "Hackage" | "GHC" => Scheme::Hackage,
        "CRAN" | "Bioconductor" => Scheme::Cran,
        "Debian" | "Ubuntu" => Scheme::Dpkg,
        "Red Hat" | "AlmaLinux" | "Rocky Linux" | "openSUSE" | "SUSE" | "Mageia" | "openEuler"
        | "Photon OS" | "Azure Linux" => Scheme::Rpm,
        "Alpine"
        | "Wolfi"
        | "Chainguard"
        | "MinimOS"
        | "Alpaquita"
        | "BellSoft"
        | "BellSoft Hardened Containers" => Scheme::Apk,
        b if UNORDERED_ECOSYSTEMS.contains(&b) => return EcosystemKind::Unordered,
        _ => return EcosystemKind::Unknown,
    };
    EcosystemKind::Ordered(scheme)
}

/// The scheme of an OSV ecosystem; `None` for ecosystems whose versions cannot be ordered and for
/// unknown ecosystems (see [`ecosystem_kind`] to tell them apart).
pub fn scheme_for(ecosystem: &str) -> Option<Scheme> {
    match ecosystem_kind(ecosystem) {
        EcosystemKind::Ordered(s) => Some(s),
        EcosystemKind::Unordered | EcosystemKind::Unknown => None,
    }
}

/// OSV's `introduced: "0"`: the range starts before the first version. The range layer handles
/// it; it is not parsed as a version.
pub fn is_zero_introduced(s: &str) -> bool {
    s == "0"
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("unknown ecosystem {0:?}")]
    UnknownEcosystem(String),
    #[error("ecosystem {0:?} has no version ordering")]
    UnorderedEcosystem(String),
    #[error("{version:?} is not a valid {scheme} version: {reason}")]
    Unparsable {
        scheme: Scheme,
        version: String,
        reason: String,
    },
    #[error("a {0} version cannot be compared with a {1} version")]
    SchemeMismatch(Scheme, Scheme),
}

/// The scheme-specific parsed form; compared without allocating.
#[derive(Debug, Clone)]
enum Key {
    Semver(semantic::SemverKey),
    Pep440(pep440_rs::Version),
    Maven(maven::MavenVersion),
    NuGet(nuget::NuGetVersion),
    RubyGems(rubygems::GemVersion),
    Composer(composer::ComposerVersion),
    Pub(pubdev::PubVersion),
    Numeric(numeric::NumericVersion),
    Dpkg(debversion::Version),
    Rpm(rpm::RpmVersion),
    Apk(apk::ApkVersion),
    Generic(generic::GenericVersion),
}

impl Key {
    fn cmp_same(&self, other: &Key) -> Option<Ordering> {
        Some(match (self, other) {
            (Key::Semver(a), Key::Semver(b)) => a.cmp(b),
            (Key::Pep440(a), Key::Pep440(b)) => a.cmp(b),
            (Key::Maven(a), Key::Maven(b)) => a.cmp(b),
            (Key::NuGet(a), Key::NuGet(b)) => a.cmp(b),
            (Key::RubyGems(a), Key::RubyGems(b)) => a.cmp(b),
            (Key::Composer(a), Key::Composer(b)) => a.cmp(b),
            (Key::Pub(a), Key::Pub(b)) => a.cmp(b),
            (Key::Numeric(a), Key::Numeric(b)) => a.cmp(b),
            (Key::Dpkg(a), Key::Dpkg(b)) => a.cmp(b),
            (Key::Rpm(a), Key::Rpm(b)) => a.cmp(b),
            (Key::Apk(a), Key::Apk(b)) => a.cmp(b),
            (Key::Generic(a), Key::Generic(b)) => a.cmp(b),
            _ => return None,
        })
    }
}

/// A version parsed under one scheme. Ordering is meaningful only within one scheme family; `Ord`
/// orders different families by scheme so that sorting never panics, and equality is the
/// scheme's own (`1.0.0+a == 1.0.0+b` under SemVer), not string equality.
#[derive(Debug, Clone)]
pub struct Version {
    raw: Box<str>,
    scheme: Scheme,
    key: Key,
}

impl Version {
    pub fn parse(scheme: Scheme, s: &str) -> Result<Version, VersionError> {
        let fail = |reason: String| VersionError::Unparsable {
            scheme,
            version: s.to_string(),
            reason,
        };
        let key = match scheme {
            Scheme::Semver => Key::Semver(semantic::parse_strict(s).map_err(fail)?),
            Scheme::SemverLoose => Key::Semver(semantic::parse_loose(s).map_err(fail)?),
            Scheme::Go => Key::Semver(semantic::parse_go(s).map_err(fail)?),
            Scheme::Pep440 => Key::Pep440(
                s.parse::<pep440_rs::Version>()
                    .map_err(|e| fail(e.to_string()))?,
            ),
            Scheme::Maven => Key::Maven(maven::MavenVersion::parse(s).map_err(fail)?),
            Scheme::NuGet => Key::NuGet(nuget::NuGetVersion::parse(s).map_err(fail)?),
            Scheme::RubyGems => Key::RubyGems(rubygems::GemVersion::parse(s).map_err(fail)?),
            Scheme::Composer => Key::Composer(composer::ComposerVersion::parse(s).map_err(fail)?),
            Scheme::Pub => Key::Pub(pubdev::PubVersion::parse(s).map_err(fail)?),
            Scheme::Hackage => Key::Numeric(numeric::NumericVersion::hackage(s).map_err(fail)?),
            Scheme::Cran => Key::Numeric(numeric::NumericVersion::cran(s).map_err(fail)?),
            Scheme::Dpkg => Key::Dpkg(parse_dpkg(s).map_err(fail)?),
            Scheme::Rpm => Key::Rpm(rpm::RpmVersion::parse(s).map_err(fail)?),
            Scheme::Apk => Key::Apk(apk::ApkVersion::parse(s).map_err(fail)?),
            Scheme::Generic => Key::Generic(generic::GenericVersion::parse(s).map_err(fail)?),
        };
        Ok(Version {
            raw: s.into(),
            scheme,
            key,
        })
    }

    /// Parse a version of an OSV ecosystem.
    pub fn parse_in(ecosystem: &str, s: &str) -> Result<Version, VersionError> {
        Version::parse(require_scheme(ecosystem)?, s)
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The string as given to [`Version::parse`].
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The scheme's own ordering; `None` across scheme families.
    pub fn cmp_parsed(&self, other: &Version) -> Option<Ordering> {
        if self.scheme.family() != other.scheme.family() {
            return None;
        }
        self.key.cmp_same(&other.key)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_parsed(other)
            .unwrap_or_else(|| self.scheme.family().cmp(&other.scheme.family()))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

fn require_scheme(ecosystem: &str) -> Result<Scheme, VersionError> {
    match ecosystem_kind(ecosystem) {
        EcosystemKind::Ordered(s) => Ok(s),
        EcosystemKind::Unordered => Err(VersionError::UnorderedEcosystem(ecosystem.to_string())),
        EcosystemKind::Unknown => Err(VersionError::UnknownEcosystem(ecosystem.to_string())),
    }
}

fn parse_dpkg(s: &str) -> Result<debversion::Version, String> {
    // dpkg refuses empty versions and embedded whitespace; debversion's regex already refuses
    // anything outside [A-Za-z0-9.+:~-].
    if s.is_empty() {
        return Err("empty version".into());
    }
    s.parse::<debversion::Version>().map_err(|e| e.to_string())
}

/// Compare two version strings of an OSV ecosystem.
pub fn compare(ecosystem: &str, a: &str, b: &str) -> Result<Ordering, VersionError> {
    let scheme = require_scheme(ecosystem)?;
    let va = Version::parse(scheme, a)?;
    let vb = Version::parse(scheme, b)?;
    va.cmp_parsed(&vb)
        .ok_or(VersionError::SchemeMismatch(va.scheme, vb.scheme))
}

/// One line of `soupwatch versions compare -`: `"A B"` gives `<`, `=` or `>`, anything wrong
/// gives `! <reason>`.
pub fn compare_line(ecosystem: &str, line: &str) -> String {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [a, b] = fields.as_slice() else {
        return format!(
            "! expected 2 whitespace-separated versions, got {}",
            fields.len()
        );
    };
    match compare(ecosystem, a, b) {
        Ok(Ordering::Less) => "<".to_string(),
        Ok(Ordering::Equal) => "=".to_string(),
        Ok(Ordering::Greater) => ">".to_string(),
        Err(e) => format!("! {e}"),
    }
}

#[cfg(test)]
mod tests;
