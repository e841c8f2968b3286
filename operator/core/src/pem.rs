//! A small, strict PEM (RFC 7468) reader.
//!
//! We parse PEM ourselves so that every failure names the block and line that
//! is wrong: trust anchors are hand-edited in Git, and "invalid PEM" alone
//! sends an operator hunting.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// One decoded `-----BEGIN LABEL-----` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemBlock {
    pub label: String,
    pub der: Vec<u8>,
    /// 1-based line of the BEGIN marker, for error messages.
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    #[error("no PEM block found (expected a line like \"-----BEGIN PUBLIC KEY-----\")")]
    NoBlocks,
    #[error("line {line}: PEM block \"{label}\" has no matching \"-----END {label}-----\" line")]
    Unterminated { label: String, line: usize },
    #[error("line {line}: \"-----END {found}-----\" closes a block that began as \"{label}\"")]
    MismatchedEnd {
        label: String,
        found: String,
        line: usize,
    },
    #[error("line {line}: PEM block \"{label}\" is not valid base64: {detail}")]
    BadBase64 {
        label: String,
        line: usize,
        detail: String,
    },
    #[error("line {line}: PEM block \"{label}\" is empty")]
    Empty { label: String, line: usize },
    #[error("line {line}: malformed PEM boundary {text:?}")]
    BadBoundary { line: usize, text: String },
}

fn boundary<'a>(line: &'a str, kind: &str) -> Option<&'a str> {
    line.strip_prefix("-----")?
        .strip_prefix(kind)?
        .strip_prefix(' ')?
        .strip_suffix("-----")
}

/// Reads every PEM block in `text`. Text outside blocks (comments, the
/// "explanatory text" RFC 7468 allows) is ignored; headers inside a block
/// (RFC 1421 `Proc-Type:` lines) are refused since no key format we accept uses them.
pub fn parse_pem(text: &str) -> Result<Vec<PemBlock>, PemError> {
    let mut blocks = Vec::new();
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r').trim()));
    while let Some((line_no, line)) = lines.next() {
        if !line.starts_with("-----BEGIN") {
            if line.starts_with("-----END") {
                return Err(PemError::BadBoundary {
                    line: line_no,
                    text: line.to_string(),
                });
            }
            continue;
        }
        let label = boundary(line, "BEGIN")
            .ok_or_else(|| PemError::BadBoundary {
                line: line_no,
                text: line.to_string(),
            })?
            .to_string();
        let mut body = String::new();
        let mut closed = false;
        for (end_no, inner) in lines.by_ref() {
            if inner.starts_with("-----") {
                let found = boundary(inner, "END").ok_or_else(|| PemError::BadBoundary {
                    line: end_no,
                    text: inner.to_string(),
                })?;
                if found != label {
                    return Err(PemError::MismatchedEnd {
                        label,
                        found: found.to_string(),
                        line: end_no,
                    });
                }
                closed = true;
                break;
            }
            body.push_str(inner);
        }
        if !closed {
            return Err(PemError::Unterminated {
                label,
                line: line_no,
            });
        }
        let der = STANDARD
            .decode(body.as_bytes())
            .map_err(|e| PemError::BadBase64 {
                label: label.clone(),
                line: line_no,
                detail: e.to_string(),
            })?;
        if der.is_empty() {
            return Err(PemError::Empty {
                label,
                line: line_no,
            });
        }
        blocks.push(PemBlock {
            label,
            der,
            line: line_no,
        });
    }
    if blocks.is_empty() {
        return Err(PemError::NoBlocks);
    }
    Ok(blocks)
}

/// Encodes DER as a PEM block with 64-character lines.
pub fn to_pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_ignores_explanatory_text() {
        let pem = format!(
            "issuer: test\n{}{}",
            to_pem("PUBLIC KEY", &[1; 100]),
            to_pem("CERTIFICATE", b"x")
        );
        let blocks = parse_pem(&pem).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].label, "PUBLIC KEY");
        assert_eq!(blocks[0].der, vec![1; 100]);
        assert_eq!(blocks[0].line, 2);
        assert_eq!(blocks[1].der, b"x");
    }

    #[test]
    fn crlf_line_endings_are_accepted() {
        let pem = to_pem("PUBLIC KEY", &[7; 80]).replace('\n', "\r\n");
        assert_eq!(parse_pem(&pem).unwrap()[0].der, vec![7; 80]);
    }

    #[test]
    fn reports_each_malformation() {
        assert_eq!(parse_pem("hello"), Err(PemError::NoBlocks));
        assert!(matches!(
            parse_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n"),
            Err(PemError::Unterminated { line: 1, .. })
        ));
        assert!(matches!(
            parse_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END CERTIFICATE-----\n"),
            Err(PemError::MismatchedEnd { line: 3, .. })
        ));
        assert!(matches!(
            parse_pem("-----BEGIN PUBLIC KEY-----\nA*AA\n-----END PUBLIC KEY-----\n"),
            Err(PemError::BadBase64 { .. })
        ));
        assert!(matches!(
            parse_pem("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"),
            Err(PemError::Empty { .. })
        ));
        assert!(matches!(
            parse_pem("-----BEGINPUBLIC KEY-----\n"),
            Err(PemError::BadBoundary { .. })
        ));
        assert!(matches!(
            parse_pem("-----END PUBLIC KEY-----\n"),
            Err(PemError::BadBoundary { .. })
        ));
    }
}
