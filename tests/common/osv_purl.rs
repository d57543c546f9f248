//! The purl an SBOM producer would write for an OSV package version: the inverse of
//! `matching::identity`, for building real components from real advisories. Shared by the
//! matching tests and the matching benchmark (`#[path]`-included there).

/// Percent-encodes a purl segment (everything but unreserved characters).
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The purl an SBOM producer would write for this OSV package at this OSV version; None for
/// ecosystems no purl type maps to. `record_purl` is the record's own `package.purl`, whose
/// qualifiers some types require (Julia's `uuid`).
pub fn purl_for(
    ecosystem: &str,
    name: &str,
    version: &str,
    record_purl: Option<&str>,
) -> Option<String> {
    let base = ecosystem.split(':').next().unwrap_or(ecosystem);
    Some(match base {
        "PyPI" => format!("pkg:pypi/{}@{}", enc(name), enc(version)),
        "crates.io" => format!("pkg:cargo/{}@{}", enc(name), enc(version)),
        "Bitnami" => format!("pkg:bitnami/{}@{}", enc(name), enc(version)),
        "Julia" => {
            let uuid = record_purl?.split_once("uuid=")?.1.split('&').next()?;
            format!("pkg:julia/{}@{}?uuid={uuid}", enc(name), enc(version))
        }
        "Hackage" => format!("pkg:hackage/{}@{}", enc(name), enc(version)),
        "CRAN" => format!("pkg:cran/{}@{}", enc(name), enc(version)),
        "NuGet" => format!("pkg:nuget/{}@{}", enc(name), enc(version)),
        "RubyGems" => format!("pkg:gem/{}@{}", enc(name), enc(version)),
        "OSS-Fuzz" => format!("pkg:generic/{}@{}", enc(name), enc(version)),
        "Packagist" => {
            let (vendor, n) = name.split_once('/')?;
            format!("pkg:composer/{}/{}@{}", enc(vendor), enc(n), enc(version))
        }
        "Maven" => {
            let (g, a) = name.split_once(':')?;
            if a.contains(':') {
                return None;
            }
            format!("pkg:maven/{}/{}@{}", enc(g), enc(a), enc(version))
        }
        // SBOMs write Go versions with their `v`.
        "Go" => {
            let segs: Vec<String> = name.split('/').map(enc).collect();
            format!("pkg:golang/{}@v{}", segs.join("/"), enc(version))
        }
        "AlmaLinux" => {
            let major = ecosystem.split(':').nth(1)?;
            let (epoch, v) = match version.split_once(':') {
                Some((e, v)) => (Some(e), v),
                None => (None, version),
            };
            let mut p = format!(
                "pkg:rpm/almalinux/{}@{}?distro=almalinux-{major}",
                enc(name),
                enc(v)
            );
            if let Some(e) = epoch {
                p.push_str(&format!("&epoch={e}"));
            }
            p
        }
        _ => return None,
    })
}
