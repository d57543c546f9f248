//! Package identity from a purl: maps a component's Package URL onto the OSV namespace
//! (ecosystem string + package name) exactly as OSV names packages, so a component and an
//! advisory meet only when they name the same package. The rules follow the OSV schema's
//! ecosystem list and osv.dev's `purl_helpers.py`; anything that cannot be mapped without
//! guessing is an [`IdentityError`] saying why, which the caller reports as "unmatchable".
//! Pure: no I/O.

use packageurl::PackageUrl;
use std::str::FromStr;

/// Where an advisory lives: an OSV ecosystem string and the package name inside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageKey {
    /// OSV ecosystem, release-scoped for distributions: `PyPI`, `Debian:12`, `Alpine:v3.19`.
    pub ecosystem: String,
    /// OSV package name, already passed through [`normalize_name`].
    pub name: String,
}

/// What a purl says about a component, in OSV terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurlIdentity {
    pub key: PackageKey,
    /// The version as the ecosystem's version rules expect it (Go's `v` dropped, RPM epoch
    /// folded in from the `epoch` qualifier).
    pub version: Option<String>,
    /// A full commit hash, only when the purl states one unambiguously (`vcs_url` ending in
    /// `@<40 or 64 hex>`); abbreviated hashes such as Go pseudo-version suffixes are not used.
    pub commit: Option<String>,
    /// How the mapping read anything less than explicit (e.g. a binary package name used as
    /// the source package name); shown as evidence next to findings.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("invalid purl {purl:?}: {reason}")]
    BadPurl { purl: String, reason: String },
    #[error("purl type {ty:?} has no OSV ecosystem: {reason}")]
    UnsupportedType { ty: String, reason: String },
    #[error("{purl:?}: distribution packages are scoped to a release, but the purl has no usable `distro` qualifier")]
    MissingDistro { purl: String },
    #[error("{purl:?}: {reason}")]
    UnsupportedDistro { purl: String, reason: String },
}

/// The ecosystem without its release suffix: `Debian:12` -> `Debian`, `Red Hat:x:y` -> `Red Hat`.
pub fn ecosystem_base(ecosystem: &str) -> &str {
    ecosystem.split(':').next().unwrap_or(ecosystem)
}

/// The normalisation applied to both component and advisory package names so equal packages
/// compare equal. Only where the ecosystem itself treats the variants as one package:
/// PyPI (PEP 503), crates.io (case and `-`/`_` are one name for uniqueness), NuGet (ids are
/// case-insensitive), npm/Packagist/Hex/Pub (lower-case by registry rule, and the purl spec
/// lower-cases npm names), Debian/Ubuntu (lower-case by policy). Everything else is
/// case-sensitive and kept as is (Go module paths, Maven, RubyGems, Hackage, CRAN, Julia...).
pub fn normalize_name(ecosystem: &str, name: &str) -> String {
    match ecosystem_base(ecosystem) {
        "PyPI" => pep503(name),
        "crates.io" => name.to_ascii_lowercase().replace('_', "-"),
        "npm" | "NuGet" | "Packagist" | "Hex" | "Pub" | "Debian" | "Ubuntu" => name.to_lowercase(),
        _ => name.to_string(),
    }
}

/// PEP 503: lower-case, and every run of `-`, `_`, `.` becomes one `-`.
fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

/// Parses `purl` and maps it to its OSV identity.
pub fn from_purl(purl: &str) -> Result<PurlIdentity, IdentityError> {
    from_purl_with_distro(purl, None)
}

/// As [`from_purl`], but a distribution package whose purl has no `distro` qualifier takes
/// `release_distro` instead (same forms: `debian-12`, `bookworm`, `alpine-3.19.1`): what the
/// same SBOM states elsewhere, e.g. its `operating-system` component. The purl's own qualifier
/// always wins, and using the fallback is recorded in `notes`.
pub fn from_purl_with_distro(
    purl: &str,
    release_distro: Option<&str>,
) -> Result<PurlIdentity, IdentityError> {
    let bad = |reason: String| IdentityError::BadPurl {
        purl: purl.to_string(),
        reason,
    };
    let parsed = PackageUrl::from_str(purl).map_err(|e| bad(e.to_string()))?;
    // The crate lower-cases names and namespaces for some types (npm, golang, ...) following
    // the purl spec's canonical form; OSV names keep their case (Go module paths are
    // case-sensitive), so take the spelling from the string itself.
    let raw = raw_names(purl).ok_or_else(|| bad("cannot locate name".into()))?;
    // The purl spec drops `.`/`..` segments, but a relative path (`pkg:golang/./api`, a local
    // replace module) names no registry package; dropping them would name a different one.
    if raw.relative {
        return Err(bad("namespace is a relative path".into()));
    }
    if !raw.name.eq_ignore_ascii_case(parsed.name()) && parsed.ty() != "pypi" {
        return Err(bad("name does not survive parsing".into()));
    }
    let q = |k: &str| {
        parsed
            .qualifiers()
            .get(k)
            .map(|v| v.to_string())
            .filter(|v| !v.is_empty())
    };
    let mut notes = Vec::new();
    let distro = match (q("distro"), release_distro) {
        (Some(d), _) => Some(d),
        (None, Some(d)) if !d.trim().is_empty() => {
            notes.push(format!(
                "purl has no `distro`; release-level distro {d:?} used"
            ));
            Some(d.to_string())
        }
        (None, _) => None,
    };
    let mut version = parsed.version().map(str::to_string);
    let ns = raw.namespace.as_deref();
    let name = raw.name.as_str();
    let plain = |eco: &str, name: &str| Ok((eco.to_string(), name.to_string()));
    let no_ns = |eco: &str| -> Result<(String, String), IdentityError> {
        match ns {
            None => plain(eco, name),
            Some(_) => Err(bad(format!("{eco} packages have no namespace"))),
        }
    };

    let (ecosystem, pkg_name) = match parsed.ty() {
        "pypi" => no_ns("PyPI"),
        "cargo" => no_ns("crates.io"),
        "gem" => no_ns("RubyGems"),
        "nuget" => no_ns("NuGet"),
        "pub" => no_ns("Pub"),
        "cran" => no_ns("CRAN"),
        "hackage" => no_ns("Hackage"),
        "bitnami" => no_ns("Bitnami"),
        "julia" => no_ns("Julia"),
        "conan" => no_ns("ConanCenter"),
        // osv.dev's own reverse mapping: OSS-Fuzz records carry `pkg:generic/<project>`.
        "generic" => no_ns("OSS-Fuzz"),
        "maven" => match ns {
            Some(group) => plain("Maven", &format!("{group}:{name}")),
            None => Err(bad("maven purl without a groupId namespace".into())),
        },
        "npm" => match ns {
            None => plain("npm", name),
            Some(scope) if scope.starts_with('@') && !scope.contains('/') => {
                plain("npm", &format!("{scope}/{name}"))
            }
            Some(scope) => Err(bad(format!("npm namespace {scope:?} is not an @scope"))),
        },
        "composer" => match ns {
            Some(vendor) => plain("Packagist", &format!("{vendor}/{name}")),
            None => Err(bad("composer purl without a vendor namespace".into())),
        },
        "hex" => match ns {
            Some(org) => plain("Hex", &format!("{org}/{name}")),
            None => plain("Hex", name),
        },
        "swift" => match ns {
            Some(host) => plain("SwiftURL", &format!("{host}/{name}")),
            None => Err(bad("swift purl without a source host namespace".into())),
        },
        "golang" => {
            let mut module = name.to_string();
            // Some producers percent-encode the version separator (`go%40v1.2.3`). A Go
            // module path element cannot contain `@`, so this reading is unambiguous.
            if version.is_none() {
                if let Some((m, v)) = name.split_once('@') {
                    notes.push(format!(
                        "version separator was percent-encoded; read {name:?} as module {m:?} version {v:?}"
                    ));
                    version = Some(v.to_string());
                    module = m.to_string();
                }
            }
            if module.contains('@') {
                return Err(bad("Go module path contains '@'".into()));
            }
            version = version.map(|v| go_version(&module, &v));
            match ns {
                Some(ns) => plain("Go", &format!("{ns}/{module}")),
                None => plain("Go", &module),
            }
        }
        "deb" => {
            let distro = distro_release(purl, ns, &distro)?;
            let source = os_source_name(name, q("upstream"), &mut notes);
            Ok((distro, source))
        }
        "apk" | "alpine" => {
            // `pkg:alpine/...` is the type older syft releases emitted for Alpine packages.
            let ns = if parsed.ty() == "alpine" {
                match ns {
                    None => Some("alpine"),
                    Some(_) => return Err(bad("legacy alpine purl with a namespace".into())),
                }
            } else {
                ns
            };
            let eco = match ns {
                Some("chainguard") => "Chainguard".to_string(),
                Some("wolfi") => "Wolfi".to_string(),
                _ => distro_release(purl, ns, &distro)?,
            };
            let source = os_source_name(name, q("upstream"), &mut notes);
            Ok((eco, source))
        }
        "rpm" => {
            let eco = distro_release(purl, ns, &distro)?;
            // AlmaLinux, Rocky and Red Hat publish binary RPM names; SUSE/openSUSE the source RPM.
            let pkg = if eco.starts_with("openSUSE:") {
                match q("upstream").as_deref().and_then(srpm_name) {
                    Some(src) => src.to_string(),
                    None => {
                        notes.push(format!(
                            "no source RPM in the purl; binary name {name:?} used as the source package name"
                        ));
                        name.to_string()
                    }
                }
            } else {
                name.to_string()
            };
            if let (Some(epoch), Some(v)) = (q("epoch"), version.as_deref()) {
                if !v.contains(':') {
                    version = Some(format!("{epoch}:{v}"));
                }
            }
            Ok((eco, pkg))
        }
        "github" => Err(IdentityError::UnsupportedType {
            ty: "github".into(),
            reason: "names a repository, not a package; OSV matches repositories only through GIT commit ranges".into(),
        }),
        other => Err(IdentityError::UnsupportedType {
            ty: other.to_string(),
            reason: "no OSV ecosystem publishes this package type".into(),
        }),
    }?;

    let commit = q("vcs_url").and_then(|u| commit_of_vcs_url(&u));
    Ok(PurlIdentity {
        key: PackageKey {
            name: normalize_name(&ecosystem, &pkg_name),
            ecosystem,
        },
        version,
        commit,
        notes,
    })
}

/// OSV Go versions are bare semver (`1.2.3`); purls carry `v1.2.3`, and `stdlib` `go1.21.0`.
fn go_version(module: &str, v: &str) -> String {
    let digit_after = |p: &str| {
        v.strip_prefix(p)
            .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
    };
    if let Some(r) = digit_after("v") {
        return r.to_string();
    }
    if module == "stdlib" || module == "toolchain" {
        if let Some(r) = digit_after("go") {
            return r.to_string();
        }
    }
    v.to_string()
}

/// Debian, Ubuntu and Alpine advisories name the source package; syft and trivy put it in the
/// `upstream` qualifier (`openssl` or `util-linux@2.36.1-8`).
fn os_source_name(binary: &str, upstream: Option<String>, notes: &mut Vec<String>) -> String {
    match upstream
        .as_deref()
        .map(|u| u.split('@').next().unwrap_or(u).trim())
        .filter(|u| !u.is_empty())
    {
        Some(src) => {
            if src != binary {
                notes.push(format!(
                    "source package {src:?} taken from the purl's `upstream` qualifier (binary {binary:?})"
                ));
            }
            src.to_string()
        }
        None => {
            notes.push(format!(
                "no `upstream` qualifier; binary name {binary:?} used as the source package name"
            ));
            binary.to_string()
        }
    }
}

/// `openssl-3.0.7-27.el9.src.rpm` -> `openssl` (name-version-release.arch.rpm).
fn srpm_name(srpm: &str) -> Option<&str> {
    let stem = srpm
        .strip_suffix(".src.rpm")
        .or_else(|| srpm.strip_suffix(".nosrc.rpm"))?;
    let (rest, _release) = stem.rsplit_once('-')?;
    let (name, _version) = rest.rsplit_once('-')?;
    (!name.is_empty()).then_some(name)
}

/// `git+https://host/repo.git@<sha>` -> the full hex commit, if that is what follows `@`.
fn commit_of_vcs_url(url: &str) -> Option<String> {
    let (_, tail) = url.rsplit_once('@')?;
    let tail = tail.split('#').next().unwrap_or(tail);
    let is_full = matches!(tail.len(), 40 | 64) && tail.chars().all(|c| c.is_ascii_hexdigit());
    is_full.then(|| tail.to_ascii_lowercase())
}

const DEBIAN_CODENAMES: &[(&str, &str)] = &[
    ("wheezy", "7"),
    ("jessie", "8"),
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
    ("duke", "15"),
];

const UBUNTU_CODENAMES: &[(&str, &str)] = &[
    ("trusty", "14.04"),
    ("xenial", "16.04"),
    ("bionic", "18.04"),
    ("focal", "20.04"),
    ("groovy", "20.10"),
    ("hirsute", "21.04"),
    ("impish", "21.10"),
    ("jammy", "22.04"),
    ("kinetic", "22.10"),
    ("lunar", "23.04"),
    ("mantic", "23.10"),
    ("noble", "24.04"),
    ("oracular", "24.10"),
    ("plucky", "25.04"),
    ("questing", "25.10"),
];

/// The release-scoped OSV ecosystem of a distribution package from its namespace and `distro`
/// qualifier (`debian-12`, `bookworm`, `12.5`, `ubuntu-22.04`, `jammy`, `alpine-3.19.1`, ...).
fn distro_release(
    purl: &str,
    namespace: Option<&str>,
    distro: &Option<String>,
) -> Result<String, IdentityError> {
    let unsupported = |reason: String| IdentityError::UnsupportedDistro {
        purl: purl.to_string(),
        reason,
    };
    let ns = namespace
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| unsupported("distribution package without a vendor namespace".into()))?;
    let (base, prefixes): (&str, &[&str]) = match ns.as_str() {
        "debian" => ("Debian", &["debian"]),
        "ubuntu" => ("Ubuntu", &["ubuntu"]),
        "alpine" => ("Alpine", &["alpine"]),
        "almalinux" => ("AlmaLinux", &["almalinux", "alma"]),
        "rocky" | "rocky-linux" => ("Rocky Linux", &["rocky-linux", "rockylinux", "rocky"]),
        "mageia" => ("Mageia", &["mageia"]),
        "opensuse" => ("openSUSE", &["opensuse"]),
        "redhat" | "rhel" => {
            return Err(unsupported(
                "OSV's Red Hat ecosystem is scoped by product-stream CPE (e.g. `Red Hat:enterprise_linux:9::appstream`), which a purl does not carry".into(),
            ))
        }
        "suse" | "sles" => {
            return Err(unsupported(
                "OSV's SUSE ecosystem is scoped by product module (e.g. `SUSE:Linux Enterprise Module for Basesystem 15 SP5`), which a purl does not carry".into(),
            ))
        }
        other => return Err(unsupported(format!("no OSV ecosystem for distribution {other:?}"))),
    };
    let raw = distro.as_deref().map(|d| d.trim().to_ascii_lowercase());
    let Some(raw) = raw.filter(|d| !d.is_empty()) else {
        return Err(IdentityError::MissingDistro {
            purl: purl.to_string(),
        });
    };
    // Drop a vendor prefix (`debian-`, `alpine-`, `opensuse-`); a different vendor is a conflict.
    let mut rest = raw.as_str();
    for p in prefixes {
        if let Some(r) = rest.strip_prefix(p) {
            rest = r.trim_start_matches(['-', '.', ':', ' ']);
            break;
        }
    }
    let numeric: Vec<&str> = rest.split('.').collect();
    let all_digits = |s: &&str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let is_numeric = numeric.iter().all(all_digits);
    let conflict = || unsupported(format!("distro {raw:?} does not name a {base} release"));
    match base {
        "Debian" => {
            let major = if is_numeric {
                numeric.first().copied()
            } else {
                DEBIAN_CODENAMES
                    .iter()
                    .find(|(c, _)| *c == rest)
                    .map(|(_, v)| *v)
            };
            major.map(|m| format!("Debian:{m}")).ok_or_else(conflict)
        }
        "Ubuntu" => {
            let release = if is_numeric && numeric.len() >= 2 {
                numeric.get(..2).map(|p| p.join("."))
            } else {
                UBUNTU_CODENAMES
                    .iter()
                    .find(|(c, _)| *c == rest)
                    .map(|(_, v)| v.to_string())
            };
            let release = release.ok_or_else(conflict)?;
            // LTS releases are the April releases of even years (6.06 predates OSV data).
            let lts = match release.split_once('.') {
                Some((yy, mm)) => mm == "04" && yy.parse::<u32>().is_ok_and(|y| y % 2 == 0),
                None => false,
            };
            Ok(if lts {
                format!("Ubuntu:{release}:LTS")
            } else {
                format!("Ubuntu:{release}")
            })
        }
        "Alpine" => match (is_numeric, numeric.as_slice()) {
            (true, [major, minor, ..]) => Ok(format!("Alpine:v{major}.{minor}")),
            _ => Err(conflict()),
        },
        "openSUSE" => {
            if rest.starts_with("tumbleweed") {
                return Ok("openSUSE:Tumbleweed".into());
            }
            let v = rest
                .strip_prefix("leap")
                .map(|r| r.trim_start_matches(['-', '.', ' ']));
            match v {
                Some(v) if v.split('.').all(|s| all_digits(&s)) && v.contains('.') => {
                    Ok(format!("openSUSE:Leap {v}"))
                }
                _ => Err(conflict()),
            }
        }
        // AlmaLinux, Rocky Linux, Mageia: the major release number.
        _ => match (is_numeric, numeric.first()) {
            (true, Some(major)) => Ok(format!("{base}:{major}")),
            _ => Err(conflict()),
        },
    }
}

/// Namespace and name as spelled in the purl (percent-decoded), following the purl spec's
/// parsing order: scheme, `#subpath`, `?qualifiers`, `@version`, type, name, namespace.
struct RawNames {
    namespace: Option<String>,
    name: String,
    relative: bool,
}

fn raw_names(purl: &str) -> Option<RawNames> {
    let rest = purl.strip_prefix("pkg:")?.trim_start_matches('/');
    let rest = rest.rsplit_once('#').map_or(rest, |(a, _)| a);
    let rest = rest.rsplit_once('?').map_or(rest, |(a, _)| a);
    let rest = match rest.rsplit_once('@') {
        Some((a, v)) if !v.contains('/') => a,
        _ => rest,
    };
    let (_ty, rest) = rest.split_once('/')?;
    let rest = rest.trim_matches('/');
    let (ns, name) = match rest.rsplit_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, rest),
    };
    let name = percent_decode(name)?;
    let relative = ns.is_some_and(|ns| ns.split('/').any(|c| c == "." || c == ".."));
    let namespace = match ns {
        Some(ns) => {
            let parts: Option<Vec<String>> = ns
                .split('/')
                .filter(|c| !c.is_empty() && *c != "." && *c != "..")
                .map(percent_decode)
                .collect();
            Some(parts?.join("/")).filter(|s| !s.is_empty())
        }
        None => None,
    };
    Some(RawNames {
        namespace,
        name,
        relative,
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    fn corpus() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
    }

    fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                json_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }

    fn collect_purls(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::String(p)) = m.get("purl") {
                    out.push(p.clone());
                }
                let is_purl_ref = m
                    .get("referenceType")
                    .and_then(|t| t.as_str())
                    .is_some_and(|t| t == "purl");
                if let (true, Some(serde_json::Value::String(p))) =
                    (is_purl_ref, m.get("referenceLocator"))
                {
                    out.push(p.clone());
                }
                m.values().for_each(|x| collect_purls(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| collect_purls(x, out)),
            _ => {}
        }
    }

    fn key(purl: &str) -> (String, String) {
        let id = from_purl(purl).unwrap();
        (id.key.ecosystem, id.key.name)
    }

    #[test]
    fn every_sbom_purl_maps_or_says_why() {
        let mut files = Vec::new();
        json_files(&corpus().join("sbom"), &mut files);
        assert!(files.len() > 100, "corpus SBOMs not found");
        let mut purls = Vec::new();
        for f in files {
            let Ok(text) = std::fs::read_to_string(&f) else {
                continue;
            };
            // One real-world SBOM is malformed JSON; ingestion reports it, not us.
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                collect_purls(&v, &mut purls);
            }
        }
        purls.sort();
        purls.dedup();
        assert!(purls.len() > 2000, "only {} purls", purls.len());

        let mut table: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for p in &purls {
            let ty = p
                .strip_prefix("pkg:")
                .and_then(|r| r.split('/').next())
                .unwrap_or("(not a purl)")
                .to_string();
            let row = table.entry(ty.clone()).or_default();
            match from_purl(p) {
                Ok(id) => {
                    row.0 += 1;
                    assert!(
                        !id.key.name.is_empty() && !id.key.ecosystem.is_empty(),
                        "{p}"
                    );
                    // Both sides meet through normalize_name: it must be idempotent.
                    assert_eq!(normalize_name(&id.key.ecosystem, &id.key.name), id.key.name);
                }
                Err(e) => {
                    row.1 += 1;
                    let msg = e.to_string();
                    assert!(
                        msg.contains(p.as_str()) || msg.contains(&format!("{ty:?}")),
                        "{msg}"
                    );
                    errors.entry(ty).or_default().push(msg);
                }
            }
        }
        println!("{:<12} {:>7} {:>9}", "purl type", "mapped", "unmapped");
        for (ty, (ok, bad)) in &table {
            println!("{ty:<12} {ok:>7} {bad:>9}");
        }
        for (ty, errs) in &errors {
            println!("-- {ty}: {} unmapped, e.g. {}", errs.len(), errs[0]);
        }
        // Every registry type seen in the corpus is one OSV knows: all of them must map,
        // except the few purls that are malformed upstream (a local `./api` Go module).
        for ty in ["maven", "pypi", "nuget", "composer", "cargo", "apk"] {
            let (ok, bad) = table.get(ty).copied().unwrap_or_default();
            assert!(
                ok > 0 && bad == 0,
                "{ty}: {ok} mapped, {bad} not: {:?}",
                errors.get(ty)
            );
        }
        // `pkg:npm/acme/component` (a CycloneDX spec example) has an unscoped npm namespace.
        assert_eq!(errors.get("npm").map(Vec::len), Some(1));
        // Container SBOMs from the `bom` tool omit `distro`: unmatchable, never guessed.
        for ty in ["deb", "alpine"] {
            let errs = errors.get(ty).cloned().unwrap_or_default();
            assert!(
                errs.iter().all(|e| e.contains("no usable `distro`")),
                "{errs:?}"
            );
            assert!(table.get(ty).is_some_and(|(ok, _)| *ok > 60), "{ty}");
        }
        let go_errors = errors.get("golang").cloned().unwrap_or_default();
        assert!(
            go_errors.len() == 1 && go_errors[0].contains("./api"),
            "{go_errors:?}"
        );
        assert!(errors
            .get("oci")
            .is_some_and(|e| e.iter().all(|m| m.contains("oci"))));
    }

    #[test]
    fn osv_record_purls_map_to_their_own_package() {
        let mut files = Vec::new();
        json_files(&corpus().join("osv"), &mut files);
        assert!(files.len() > 4000);
        let mut checked: BTreeMap<String, usize> = BTreeMap::new();
        for f in files {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            for a in v["affected"].as_array().into_iter().flatten() {
                let pkg = &a["package"];
                let Some(purl) = pkg["purl"].as_str() else {
                    continue;
                };
                let eco = pkg["ecosystem"].as_str().unwrap();
                let name = pkg["name"].as_str().unwrap();
                let id = from_purl(purl).unwrap_or_else(|e| panic!("{f:?}: {e}"));
                assert_eq!(
                    ecosystem_base(&id.key.ecosystem),
                    ecosystem_base(eco),
                    "{purl}"
                );
                assert_eq!(id.key.name, normalize_name(eco, name), "{f:?} {purl}");
                *checked.entry(ecosystem_base(eco).to_string()).or_default() += 1;
            }
        }
        println!("{checked:?}");
        for eco in [
            "Maven",
            "PyPI",
            "crates.io",
            "Go",
            "Julia",
            "Bitnami",
            "OSS-Fuzz",
        ] {
            assert!(
                checked.get(eco).is_some_and(|n| *n > 0),
                "{eco} not covered"
            );
        }
    }

    #[test]
    fn purl_spec_edge_cases() {
        // Scoped npm with the `@` percent-encoded, as the purl spec requires.
        let id = from_purl("pkg:npm/%40angular/animation@12.3.1").unwrap();
        assert_eq!(
            (id.key.ecosystem.as_str(), id.key.name.as_str()),
            ("npm", "@angular/animation")
        );
        assert_eq!(id.version.as_deref(), Some("12.3.1"));
        assert_eq!(key("pkg:npm/foobar@12.3.1").1, "foobar");
        // Maven: namespace is the groupId.
        assert_eq!(
            key("pkg:maven/org.apache.commons/io@1.3.4"),
            ("Maven".into(), "org.apache.commons:io".into())
        );
        assert!(from_purl("pkg:maven/io@1.3.4").is_err());
        // PyPI: underscores and case fold per PEP 503.
        assert_eq!(
            key("pkg:pypi/Django_package@1.11.1.dev1"),
            ("PyPI".into(), "django-package".into())
        );
        assert_eq!(normalize_name("PyPI", "Foo__Bar..baz-_.Q"), "foo-bar-baz-q");
        // Go: module path case kept, `v` dropped from the version, subpath ignored.
        let id = from_purl("pkg:golang/github.com/Masterminds/semver/v3@v3.0.3").unwrap();
        assert_eq!(id.key.name, "github.com/Masterminds/semver/v3");
        assert_eq!(id.version.as_deref(), Some("3.0.3"));
        assert_eq!(
            key("pkg:golang/google.golang.org/genproto#googleapis/api/annotations").1,
            "google.golang.org/genproto"
        );
        assert_eq!(
            from_purl("pkg:golang/stdlib@go1.21.4")
                .unwrap()
                .version
                .as_deref(),
            Some("1.21.4")
        );
        let id = from_purl("pkg:golang/cloud.google.com/go%40v0.100.2").unwrap();
        assert_eq!(
            (id.key.name.as_str(), id.version.as_deref()),
            ("cloud.google.com/go", Some("0.100.2"))
        );
        assert!(!id.notes.is_empty());
        // Debian: `%2B` in the version decodes to `+`; source package from `upstream`.
        let id = from_purl(
            "pkg:deb/debian/bsdutils@1:2.36.1-8%2Bdeb11u1?arch=amd64&upstream=util-linux%402.36.1-8%2Bdeb11u1&distro=debian-11",
        )
        .unwrap();
        assert_eq!(
            (id.key.ecosystem.as_str(), id.key.name.as_str()),
            ("Debian:11", "util-linux")
        );
        assert_eq!(id.version.as_deref(), Some("1:2.36.1-8+deb11u1"));
        // NuGet ids are case-insensitive; crates.io folds case and `-`/`_`.
        assert_eq!(key("pkg:nuget/Newtonsoft.Json@13.0.1").1, "newtonsoft.json");
        assert_eq!(
            key("pkg:cargo/pretty_env_logger@0.4.0"),
            ("crates.io".into(), "pretty-env-logger".into())
        );
        assert_eq!(
            key("pkg:composer/laravel/framework@5.5.0").1,
            "laravel/framework"
        );
        assert_eq!(
            key("pkg:swift/github.com/apple/swift-nio-http2@1.19.1").1,
            "github.com/apple/swift-nio-http2"
        );
        assert_eq!(key("pkg:gem/ruby-advisory-db-check@0.12.4").0, "RubyGems");
    }

    #[test]
    fn distribution_releases() {
        let cases = [
            (
                "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
                "Debian:12",
            ),
            (
                "pkg:deb/debian/openssl@3.0.11-1~deb12u2?distro=bookworm",
                "Debian:12",
            ),
            (
                "pkg:deb/debian/openssl@3.0.11-1~deb12u2?distro=12.5",
                "Debian:12",
            ),
            (
                "pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie",
                "Debian:8",
            ),
            (
                "pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1.10?distro=ubuntu-22.04",
                "Ubuntu:22.04:LTS",
            ),
            (
                "pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1.10?distro=jammy",
                "Ubuntu:22.04:LTS",
            ),
            (
                "pkg:deb/ubuntu/openssl@3.0.10-1ubuntu2?distro=ubuntu-23.10",
                "Ubuntu:23.10",
            ),
            (
                "pkg:apk/alpine/openssl@3.1.4-r5?arch=x86_64&distro=alpine-3.19.1",
                "Alpine:v3.19",
            ),
            (
                "pkg:apk/alpine/openssl@3.1.4-r5?distro=3.19.1",
                "Alpine:v3.19",
            ),
            (
                "pkg:rpm/almalinux/openssl@3.0.7-27.el9?distro=almalinux-9",
                "AlmaLinux:9",
            ),
            (
                "pkg:rpm/rocky/openssl@3.0.7-27.el9?distro=rocky-9.3",
                "Rocky Linux:9",
            ),
            (
                "pkg:rpm/opensuse/openssl-3@3.0.8-1.1?distro=opensuse-leap-15.5",
                "openSUSE:Leap 15.5",
            ),
        ];
        for (purl, eco) in cases {
            assert_eq!(from_purl(purl).unwrap().key.ecosystem, eco, "{purl}");
        }
        // RPM epoch folds into the version; AlmaLinux names binary RPMs, as its records do.
        let id = from_purl(
            "pkg:rpm/almalinux/openssl-libs@3.0.7-27.el9?arch=x86_64&epoch=1&upstream=openssl-3.0.7-27.el9.src.rpm&distro=almalinux-9.4",
        )
        .unwrap();
        assert_eq!(id.key.name, "openssl-libs");
        assert_eq!(id.version.as_deref(), Some("1:3.0.7-27.el9"));
        assert_eq!(srpm_name("openssl-3.0.7-27.el9.src.rpm"), Some("openssl"));
        // Alpine/Debian without `upstream`: binary name used, and the note says so.
        let id = from_purl("pkg:apk/alpine/libcrypto3@3.1.4-r5?distro=alpine-3.19.1").unwrap();
        assert_eq!(id.key.name, "libcrypto3");
        assert!(id.notes.iter().any(|n| n.contains("upstream")));

        let with_release =
            from_purl_with_distro("pkg:deb/debian/adduser@3.118?arch=all", Some("debian-11"));
        let with_release = with_release.unwrap();
        assert_eq!(with_release.key.ecosystem, "Debian:11");
        assert!(with_release
            .notes
            .iter()
            .any(|n| n.contains("release-level")));
        let own_wins =
            from_purl_with_distro("pkg:deb/debian/a@1?distro=debian-12", Some("debian-11"));
        assert_eq!(own_wins.unwrap().key.ecosystem, "Debian:12");
        let missing = from_purl("pkg:deb/debian/openssl@3.0.11-1").unwrap_err();
        assert!(
            matches!(missing, IdentityError::MissingDistro { .. }),
            "{missing}"
        );
        assert!(matches!(
            from_purl("pkg:apk/alpine/openssl@3.1.4-r5?arch=x86_64").unwrap_err(),
            IdentityError::MissingDistro { .. }
        ));
        for purl in [
            "pkg:rpm/redhat/openssl@3.0.7-27.el9?arch=x86_64&distro=rhel-9.4",
            "pkg:deb/debian/openssl@3.0.11-1?distro=ubuntu-22.04",
            "pkg:deb/debian/openssl@3.0.11-1?distro=sid",
            "pkg:deb/raspbian/openssl@3.0.11-1?distro=12",
        ] {
            let e = from_purl(purl).unwrap_err();
            assert!(
                matches!(e, IdentityError::UnsupportedDistro { .. }),
                "{purl}: {e}"
            );
        }
    }

    #[test]
    fn commits_only_when_full() {
        let p = "pkg:npm/foo@1.0.0?vcs_url=git%2Bhttps://github.com/o/foo.git%40a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
        assert_eq!(
            from_purl(p).unwrap().commit.as_deref(),
            Some("a1b2c3d4e5f60718293a4b5c6d7e8f9012345678")
        );
        let short = "pkg:npm/foo@1.0.0?vcs_url=git%2Bhttps://github.com/o/foo.git%40a1b2c3d";
        assert_eq!(from_purl(short).unwrap().commit, None);
        assert_eq!(
            from_purl("pkg:golang/github.com/a/b@v0.0.0-20190718012654-fb15b899a751")
                .unwrap()
                .commit,
            None
        );
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        for bad in [
            "",
            "pkg:",
            "pkg:golang/./api@v1.0.0",
            "pkg:golang/a/../b@v1",
            "pkg:npm/",
            "npm/foo@1",
            "pkg:npm/%zz@1",
            "pkg:/@",
            "pkg:maven/@/@",
        ] {
            assert!(from_purl(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            from_purl(
                "pkg:oci/debian@sha256%3A244fd47e07d10?repository_url=docker.io/library/debian"
            )
            .unwrap_err(),
            IdentityError::UnsupportedType { .. }
        ));
        // Every prefix of real purls: Ok or Err, no panic.
        let samples = [
            "pkg:deb/debian/bsdutils@1:2.36.1-8+deb11u1?arch=amd64&upstream=util-linux%402.36.1-8+deb11u1&distro=debian-11",
            "pkg:npm/%40babel/code-frame@7.18.6#packages/babel-code-frame",
            "pkg:rpm/almalinux/openssl-libs@3.0.7-27.el9?arch=x86_64&epoch=1&distro=almalinux-9.4",
        ];
        for s in samples {
            for (i, _) in s.char_indices() {
                let _ = from_purl(&s[..i]);
            }
        }
    }
}
