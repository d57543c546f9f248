//! FIRST EPSS daily score files (`epss_scores-YYYY-MM-DD.csv.gz`), gzip or plain, in all three
//! layouts FIRST has published: `cve,epss` (v1, 2021); `cve,epss,percentile` (from 2021-09); and
//! the same preceded by a `#model_version:...,score_date:...` comment line (from 2022).
//! Columns are found by header name. Every row must be a `CVE-` id with probabilities in 0..=1;
//! a bad row refuses the file (with its line number) rather than yield a partial day.

use super::osv::ParseError;
use super::EpssScore;
use crate::feeds::archive::{gunzip_capped, is_gzip};

/// Largest inflated EPSS file accepted; a real daily file is some 10 MB.
pub const MAX_INFLATED_BYTES: u64 = 256 * 1024 * 1024;

/// Parses one EPSS file; `score_date` comes from the header comment when the file has one.
pub fn parse_csv(bytes: &[u8]) -> Result<Vec<EpssScore>, ParseError> {
    parse_csv_named(bytes, None)
}

/// Like [`parse_csv`], taking the score date from a file name such as
/// `epss_scores-2021-04-14.csv.gz` when the file itself does not state it (the older layouts).
pub fn parse_csv_named(
    bytes: &[u8],
    file_name: Option<&str>,
) -> Result<Vec<EpssScore>, ParseError> {
    let inflated;
    let bytes = if is_gzip(bytes) {
        inflated = gunzip_capped(bytes, MAX_INFLATED_BYTES)?;
        &inflated[..]
    } else {
        bytes
    };
    let text = std::str::from_utf8(bytes).map_err(|e| ParseError::Csv {
        line: 0,
        reason: format!("not UTF-8: {e}"),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);

    let mut model_version = None;
    let mut score_date = None;
    let mut columns: Option<Columns> = None;
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            for field in comment.split(',') {
                match field.split_once(':') {
                    Some(("model_version", v)) => model_version = Some(v.trim().to_owned()),
                    Some(("score_date", v)) => {
                        score_date = Some(date_part(v).ok_or_else(|| ParseError::Csv {
                            line: line_no,
                            reason: format!("bad score_date {v:?}"),
                        })?)
                    }
                    _ => {}
                }
            }
            continue;
        }
        let Some(cols) = &columns else {
            columns = Some(Columns::from_header(line, line_no)?);
            continue;
        };
        out.push(cols.row(line, line_no)?);
    }
    if columns.is_none() {
        return Err(ParseError::Csv {
            line: 0,
            reason: "no header line".into(),
        });
    }
    let score_date = score_date.or_else(|| file_name.and_then(date_from_file_name));
    for s in &mut out {
        s.score_date.clone_from(&score_date);
        s.model_version.clone_from(&model_version);
    }
    Ok(out)
}

struct Columns {
    cve: usize,
    epss: usize,
    percentile: Option<usize>,
}

impl Columns {
    fn from_header(line: &str, line_no: usize) -> Result<Self, ParseError> {
        let names: Vec<&str> = line.split(',').map(str::trim).collect();
        let find = |n: &str| names.iter().position(|c| c.eq_ignore_ascii_case(n));
        match (find("cve"), find("epss")) {
            (Some(cve), Some(epss)) => Ok(Columns {
                cve,
                epss,
                percentile: find("percentile"),
            }),
            _ => Err(ParseError::Csv {
                line: line_no,
                reason: format!("header {line:?} lacks cve and epss columns"),
            }),
        }
    }

    fn row(&self, line: &str, line_no: usize) -> Result<EpssScore, ParseError> {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let err = |reason: String| ParseError::Csv {
            line: line_no,
            reason,
        };
        let field = |i: usize| {
            fields
                .get(i)
                .copied()
                .ok_or_else(|| err(format!("missing column {}", i + 1)))
        };
        let probability = |i: usize| -> Result<f64, ParseError> {
            let raw = field(i)?;
            match raw.parse::<f64>() {
                Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
                _ => Err(err(format!("{raw:?} is not a probability"))),
            }
        };
        let cve_id = field(self.cve)?;
        if !cve_id.starts_with("CVE-") {
            return Err(err(format!("{cve_id:?} is not a CVE id")));
        }
        Ok(EpssScore {
            cve_id: cve_id.to_owned(),
            epss: probability(self.epss)?,
            percentile: self.percentile.map(probability).transpose()?,
            score_date: None,
            model_version: None,
        })
    }
}

/// `YYYY-MM-DD` from the start of a date or timestamp such as `2023-03-07T00:00:00+0000`.
fn date_part(value: &str) -> Option<String> {
    let d = value.trim().get(..10)?;
    chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
        .ok()
        .map(|_| d.to_owned())
}

fn date_from_file_name(name: &str) -> Option<String> {
    let base = name.rsplit('/').next()?;
    let rest = base.strip_prefix("epss_scores-")?;
    date_part(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn corpus() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
    }

    /// Rows of the plain text, parsed independently with the simplest possible reading.
    fn raw_rows(text: &str) -> Vec<Vec<String>> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("cve,"))
            .map(|l| l.split(',').map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn all_corpus_samples_parse() {
        let mut seen = 0;
        for f in std::fs::read_dir(corpus().join("epss")).unwrap() {
            let path = f.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !(name.ends_with(".csv") || name.ends_with(".csv.gz")) {
                continue;
            }
            seen += 1;
            let bytes = std::fs::read(&path).unwrap();
            let scores = parse_csv_named(&bytes, Some(&name)).unwrap();
            let text = if is_gzip(&bytes) {
                let mut s = String::new();
                std::io::Read::read_to_string(
                    &mut flate2::read::GzDecoder::new(&bytes[..]),
                    &mut s,
                )
                .unwrap();
                s
            } else {
                String::from_utf8(bytes.clone()).unwrap()
            };
            let rows = raw_rows(&text);
            assert_eq!(scores.len(), rows.len(), "{name}");
            assert!(!scores.is_empty());
            let header_has_percentile = text.lines().any(|l| l == "cve,epss,percentile");
            for (s, r) in scores.iter().zip(&rows) {
                assert_eq!(s.cve_id, r[0]);
                assert_eq!(s.epss, r[1].parse::<f64>().unwrap());
                assert_eq!(s.percentile, r.get(2).map(|p| p.parse::<f64>().unwrap()));
                assert_eq!(s.percentile.is_some(), header_has_percentile);
                // The date is from the comment line or, for the old layouts, the file name.
                let want_date = match text.lines().next().unwrap().split_once("score_date:") {
                    Some((_, d)) => Some(d[..10].to_owned()),
                    None => name
                        .strip_prefix("epss_scores-")
                        .map(|d| d[..10].to_owned()),
                };
                assert_eq!(s.score_date, want_date, "{name}");
                assert_eq!(
                    s.model_version.is_some(),
                    text.starts_with("#model_version:")
                );
            }
        }
        assert_eq!(seen, 5);
    }

    #[test]
    fn three_layouts_without_file_name() {
        let v1 = parse_csv(b"cve,epss\nCVE-2020-5902,0.65117\n").unwrap();
        assert_eq!(
            (v1[0].percentile, v1[0].score_date.as_deref()),
            (None, None)
        );
        let v2 = parse_csv(b"cve,epss,percentile\r\nCVE-2020-5902,0.5,0.99\r\n").unwrap();
        assert_eq!(v2[0].percentile, Some(0.99));
        let v3 = parse_csv(
            b"#model_version:v2023.03.01,score_date:2023-03-07T00:00:00+0000\ncve,epss,percentile\nCVE-1999-0001,0.00383,0.73075\n",
        )
        .unwrap();
        assert_eq!(v3[0].score_date.as_deref(), Some("2023-03-07"));
        assert_eq!(v3[0].model_version.as_deref(), Some("v2023.03.01"));
    }

    #[test]
    fn bad_rows_are_refused_with_line_numbers() {
        for (input, line) in [
            (&b"cve,epss\nCVE-1,0.5\nCVE-2,1.5\n"[..], 3),
            (b"cve,epss\nCVE-1,abc\n", 2),
            (b"cve,epss\nGHSA-x,0.1\n", 2),
            (b"cve,epss,percentile\nCVE-1,0.1\n", 2),
            (b"nope,nothing\n", 1),
        ] {
            match parse_csv(input) {
                Err(ParseError::Csv { line: l, .. }) => assert_eq!(l, line),
                other => panic!("{other:?}"),
            }
        }
        assert!(parse_csv(b"").is_err());
        assert!(parse_csv(b"\x1f\x8b\x08\x00broken").is_err());
    }
}
