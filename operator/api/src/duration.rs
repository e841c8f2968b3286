//! Durations as written in specs: one or more `<number><unit>` groups with units `ms`, `s`, `m`,
//! `h` and `d` (a day is 24 hours), e.g. `500ms`, `90s`, `30m`, `24h`, `7d`, `1h30m`. The schema
//! pattern is [`DURATION_PATTERN`](crate::common::DURATION_PATTERN); this is the parser that
//! gives such a string its value.

use jiff::SignedDuration;

/// Parses a spec duration; `Err` carries a message naming the accepted forms.
pub fn parse(text: &str) -> Result<SignedDuration, String> {
    let err = || {
        format!(
            "invalid duration {text:?}: use numbers with units ms, s, m, h or d, e.g. 90s, 30m, 24h, 7d, 1h30m"
        )
    };
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return Err(err());
    }
    let mut total_ms: i64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(err());
        }
        let n: i64 = text[start..i].parse().map_err(|_| err())?;
        let unit_ms: i64 = match (bytes.get(i), bytes.get(i + 1)) {
            (Some(b'm'), Some(b's')) => {
                i += 2;
                1
            }
            (Some(b's'), _) => {
                i += 1;
                1_000
            }
            (Some(b'm'), _) => {
                i += 1;
                60_000
            }
            (Some(b'h'), _) => {
                i += 1;
                3_600_000
            }
            (Some(b'd'), _) => {
                i += 1;
                86_400_000
            }
            _ => return Err(err()),
        };
        total_ms = n
            .checked_mul(unit_ms)
            .and_then(|v| total_ms.checked_add(v))
            .ok_or_else(err)?;
    }
    Ok(SignedDuration::from_millis(total_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        let ms = |t: &str| parse(t).unwrap().as_millis();
        assert_eq!(ms("500ms"), 500);
        assert_eq!(ms("90s"), 90_000);
        assert_eq!(ms("30m"), 1_800_000);
        assert_eq!(ms("24h"), 86_400_000);
        assert_eq!(ms("7d"), 604_800_000);
        assert_eq!(ms("1h30m"), 5_400_000);
        assert_eq!(ms("1m1ms"), 60_001);
        assert_eq!(ms("720h"), 2_592_000_000);
    }

    #[test]
    fn refuses_what_the_pattern_refuses() {
        for bad in [
            "",
            "10",
            "h",
            "1x",
            "-5m",
            "1.5h",
            "1h 30m",
            " 1h",
            "1H",
            "ms",
            "1msm",
            "99999999999999999999d",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
