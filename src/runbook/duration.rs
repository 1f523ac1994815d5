//! Durations as runbooks write them: `500ms`, `30s`, `5m`, `1h30m`, or a bare number of seconds.

use std::time::Duration;

/// Parse a duration; the error says what forms are accepted.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = t.parse::<f64>() {
        if secs >= 0.0 && secs.is_finite() {
            return Duration::try_from_secs_f64(secs).ok().filter(|d| *d <= MAX).ok_or_else(|| too_long(text));
        }
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let unit_len = rest[num_len..].find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len() - num_len);
        let (num, unit) = (&rest[..num_len], rest[num_len..num_len + unit_len].trim());
        let n: f64 = num.parse().map_err(|_| bad(text))?;
        let secs = match unit {
            "ms" => n / 1000.0,
            "s" | "sec" => n,
            "m" | "min" => n * 60.0,
            "h" => n * 3600.0,
            "d" => n * 86400.0,
            _ => return Err(bad(text)),
        };
        // `from_secs_f64` and `+=` panic past u64::MAX seconds; a runbook may say `1e30`.
        total = Duration::try_from_secs_f64(secs).ok().and_then(|d| total.checked_add(d)).ok_or_else(|| too_long(text))?;
        rest = rest[num_len + unit_len..].trim_start();
    }
    if total > MAX {
        return Err(too_long(text));
    }
    Ok(total)
}

/// The longest duration accepted: 2^31-1 ms, about 24.8 days, where PostgreSQL's and MariaDB's
/// timeouts stop. Nothing in a change window should wait longer.
pub const MAX: Duration = Duration::from_millis(i32::MAX as u64);

fn too_long(text: &str) -> String {
    format!("`{text}` is longer than any duration this tool can wait for (at most 24 days)")
}

fn bad(text: &str) -> String {
    format!("`{text}` is not a duration; write e.g. 500ms, 30s, 5m, 1h30m or a number of seconds")
}

/// Human form for panels and reports: `1.2s`, `3m 05s`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let s = d.as_secs();
        if s < 3600 {
            format!("{}m {:02}s", s / 60, s % 60)
        } else {
            format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_forms() {
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert_eq!(parse("2.5").unwrap(), Duration::from_millis(2500));
    }

    #[test]
    fn rejects_durations_past_what_a_database_timeout_can_hold() {
        assert!(parse("24d").is_ok());
        assert!(parse("25d").unwrap_err().contains("at most 24 days"));
        assert!(parse("1e18").is_err());
    }

    #[test]
    fn rejects_unknown_units() {
        assert!(parse("5 fortnights").is_err());
        assert!(parse("abc").is_err());
        assert!(parse("-3").is_err());
    }
}
