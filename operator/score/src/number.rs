//! The only numbers the engine knows: CVSS base scores in integer tenths and
//! non-negative integers. No floating point value is ever part of a score or a
//! proof node, so every implementation computes the same bytes.

use std::fmt;

use serde_json::Value;

use crate::error::Reason;
use crate::json::{Path, Reader, Result};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("is not a plain decimal number")]
    NotDecimal,
    #[error("has more than one decimal place")]
    TooManyDecimals,
    #[error("has a leading zero")]
    LeadingZero,
    #[error("is outside 0.0 to 10.0")]
    CvssOutOfRange,
    #[error("is negative")]
    Negative,
    #[error("is larger than {max}")]
    TooLarge { max: u64 },
    #[error("is not a whole number")]
    NotInteger,
    #[error("is a CVSS vector, not a base score (give the base score, e.g. \"7.5\")")]
    Vector,
}

/// A CVSS base score, 0.0 to 10.0, as an integer number of tenths (7.2 is 72).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cvss(u8);

/// The CVSS v3/v4 qualitative severity rating of a base score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Band {
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl Band {
    pub const ALL: [Band; 5] = [
        Band::None,
        Band::Low,
        Band::Medium,
        Band::High,
        Band::Critical,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Band::None => "none",
            Band::Low => "low",
            Band::Medium => "medium",
            Band::High => "high",
            Band::Critical => "critical",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The lowest base score in the band: what a severity known only by its
    /// band counts as (score version 2).
    pub fn lowest(self) -> Cvss {
        Cvss(match self {
            Band::None => 0,
            Band::Low => 1,
            Band::Medium => 40,
            Band::High => 70,
            Band::Critical => 90,
        })
    }
}

impl Cvss {
    pub const MAX_TENTHS: u8 = 100;
    pub const ZERO: Cvss = Cvss(0);

    pub fn from_tenths(tenths: u8) -> Option<Self> {
        (tenths <= Self::MAX_TENTHS).then_some(Self(tenths))
    }

    pub fn tenths(self) -> u8 {
        self.0
    }

    /// Parses `D`, `DD`, `D.D` or `DD.D` between 0 and 10, without leading zeros
    /// (`07.5` is refused) and with at most one decimal place (`7.25` is refused,
    /// never rounded).
    pub fn parse(text: &str) -> std::result::Result<Self, NumberError> {
        if text.starts_with("CVSS:") || text.contains('/') {
            return Err(NumberError::Vector);
        }
        let (whole, tenth) = split_decimal(text)?;
        let tenth = match tenth {
            None => 0,
            Some(digits) if digits.len() == 1 => digits.as_bytes()[0] - b'0',
            Some(_) => return Err(NumberError::TooManyDecimals),
        };
        if whole.len() > 2 {
            return Err(NumberError::CvssOutOfRange);
        }
        let whole: u16 = whole.parse().map_err(|_| NumberError::NotDecimal)?;
        u8::try_from(whole * 10 + u16::from(tenth))
            .ok()
            .and_then(Self::from_tenths)
            .ok_or(NumberError::CvssOutOfRange)
    }

    /// The severity band of the CVSS v3.x qualitative rating scale.
    pub fn band(self) -> Band {
        match self.0 {
            0 => Band::None,
            1..=39 => Band::Low,
            40..=69 => Band::Medium,
            70..=89 => Band::High,
            _ => Band::Critical,
        }
    }
}

impl fmt::Display for Cvss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0 / 10, self.0 % 10)
    }
}

/// Splits `[-]digits[.digits]` into its whole and fractional digits.
fn split_decimal(text: &str) -> std::result::Result<(&str, Option<&str>), NumberError> {
    if text.starts_with('-') {
        return Err(NumberError::CvssOutOfRange);
    }
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !fraction.is_none_or(all_digits) {
        return Err(NumberError::NotDecimal);
    }
    if whole.len() > 1 && whole.starts_with('0') {
        return Err(NumberError::LeadingZero);
    }
    Ok((whole, fraction))
}

/// Reads a CVSS base score given as a JSON number (`7.2`) or a string (`"7.2"`).
pub(crate) fn read_cvss(reader: &Reader, value: &Value, at: &Path) -> Result<Cvss> {
    let (text, quoted) = reader.decimal_text(value, at, true)?;
    Cvss::parse(&text).map_err(|error| {
        reader.fail(
            at,
            Reason::Cvss {
                text: shown(&text, quoted),
                error,
            },
        )
    })
}

/// Reads a JSON number that must be a whole number in `0..=max`.
pub(crate) fn read_integer(reader: &Reader, value: &Value, at: &Path, max: u64) -> Result<u64> {
    let (text, _) = reader.decimal_text(value, at, false)?;
    let fail = |error| {
        reader.fail(
            at,
            Reason::Integer {
                text: text.clone(),
                error,
            },
        )
    };
    if text.starts_with('-') {
        return Err(fail(NumberError::Negative));
    }
    if text.contains('.') || text.contains("e-") {
        return Err(fail(NumberError::NotInteger));
    }
    // Canonical numbers above 10^21 have an exponent: they are too large too.
    match text.parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(fail(NumberError::TooLarge { max })),
    }
}

fn shown(text: &str, quoted: bool) -> String {
    if quoted {
        format!("{text:?}")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss_from_decimal_text() {
        for (text, tenths) in [
            ("0", 0),
            ("0.0", 0),
            ("0.1", 1),
            ("7", 70),
            ("7.2", 72),
            ("9.9", 99),
            ("10", 100),
            ("10.0", 100),
        ] {
            assert_eq!(Cvss::parse(text).map(Cvss::tenths), Ok(tenths), "{text}");
        }
    }

    #[test]
    fn cvss_refusals() {
        use NumberError::*;
        let range = CvssOutOfRange;
        for (text, error) in [
            ("7.25", TooManyDecimals),
            ("7.20", TooManyDecimals),
            ("10.1", range.clone()),
            ("11", range.clone()),
            ("100", range.clone()),
            ("-1", range.clone()),
            ("07.5", LeadingZero),
            ("", NotDecimal),
            (".5", NotDecimal),
            ("7.", NotDecimal),
            ("7,5", NotDecimal),
            ("1e1", NotDecimal),
            (" 7.5", NotDecimal),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Vector),
        ] {
            assert_eq!(Cvss::parse(text), Err(error), "{text:?}");
        }
    }

    #[test]
    fn bands_follow_the_cvss_rating_scale() {
        let band = |t| Cvss::from_tenths(t).unwrap().band();
        assert_eq!(band(0), Band::None);
        assert_eq!(band(1), Band::Low);
        assert_eq!(band(39), Band::Low);
        assert_eq!(band(40), Band::Medium);
        assert_eq!(band(69), Band::Medium);
        assert_eq!(band(70), Band::High);
        assert_eq!(band(89), Band::High);
        assert_eq!(band(90), Band::Critical);
        assert_eq!(band(100), Band::Critical);
    }
}
