//! Durations as written on command lines and in specs: `90s`, `30m`, `72h`,
//! `7d`, or combinations such as `1h30m`.

use jiff::SignedDuration;

pub fn parse_duration(text: &str) -> Result<SignedDuration, String> {
    let err = || {
        format!(
            "invalid duration {text:?}: use a number with a unit s, m, h or d, e.g. 90s, 30m, 72h, 7d, 1h30m"
        )
    };
    if text.is_empty() {
        return Err(err());
    }
    let mut total: i64 = 0;
    let mut number: Option<i64> = None;
    for c in text.chars() {
        match c {
            '0'..='9' => {
                let digit = i64::from(c as u8 - b'0');
                number = Some(
                    number
                        .unwrap_or(0)
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(digit))
                        .ok_or_else(err)?,
                );
            }
            's' | 'm' | 'h' | 'd' => {
                let n = number.take().ok_or_else(err)?;
                let unit = match c {
                    's' => 1,
                    'm' => 60,
                    'h' => 3600,
                    _ => 86_400,
                };
                total = n
                    .checked_mul(unit)
                    .and_then(|v| total.checked_add(v))
                    .ok_or_else(err)?;
            }
            _ => return Err(err()),
        }
    }
    if number.is_some() {
        return Err(err());
    }
    Ok(SignedDuration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse_duration("90s").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("30m").unwrap().as_secs(), 1800);
        assert_eq!(parse_duration("72h").unwrap().as_secs(), 259_200);
        assert_eq!(parse_duration("7d").unwrap().as_secs(), 604_800);
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
    }

    #[test]
    fn refuses_malformed_durations() {
        for bad in [
            "",
            "10",
            "h",
            "1x",
            "-5m",
            "1.5h",
            "99999999999999999999d",
            "1h 30m",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
