//! Wave planning: `--waves 1,25%,100%` is cumulative (the canary, then up to a quarter of the
//! fleet, then all of it), and `--max-failures N|P%` is the failure budget.

use crate::error::{Error, Result};

/// A point of the cumulative wave plan, or a failure budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    Count(usize),
    Percent(u32),
}

impl Size {
    pub fn parse(s: &str, what: &str) -> Result<Size> {
        let s = s.trim();
        let bad = || Error::usage(format!("{what} `{s}`: write a number of targets (3) or a share of the fleet (25%)"));
        match s.strip_suffix('%') {
            Some(p) => match p.trim().parse::<u32>() {
                Ok(p) if p <= 100 => Ok(Size::Percent(p)),
                _ => Err(bad()),
            },
            None => s.parse::<usize>().map(Size::Count).map_err(|_| bad()),
        }
    }

    /// How many of `n` targets this is; a share is rounded up for waves.
    fn of(self, n: usize, round_up: bool) -> usize {
        match self {
            Size::Count(c) => c.min(n),
            Size::Percent(p) => {
                let x = n * p as usize;
                if round_up {
                    x.div_ceil(100)
                } else {
                    x / 100
                }
            }
        }
    }

    pub fn label(self) -> String {
        match self {
            Size::Count(c) => c.to_string(),
            Size::Percent(p) => format!("{p}%"),
        }
    }
}

/// `--waves` as written.
pub fn parse_waves(s: &str) -> Result<Vec<Size>> {
    let sizes = s.split(',').map(|p| Size::parse(p, "--waves")).collect::<Result<Vec<_>>>()?;
    if sizes.is_empty() {
        return Err(Error::usage("--waves: give at least one wave, such as 1,25%,100%"));
    }
    Ok(sizes)
}

/// Split `n` targets (in file order) into waves: each point is the running total, waves that
/// add nobody are dropped, and the last wave always takes the rest of the fleet.
pub fn plan(n: usize, sizes: &[Size]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut done = 0;
    for s in sizes {
        let upto = s.of(n, true).max(done).min(n);
        if upto > done {
            out.push(done..upto);
            done = upto;
        }
    }
    if done < n {
        out.push(done..n);
    }
    out
}

/// How many failed targets the fleet tolerates before it starts no new target.
pub fn budget(n: usize, max_failures: Size) -> usize {
    max_failures.of(n, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waves_are_cumulative() {
        let w = parse_waves("1,25%,100%").unwrap();
        assert_eq!(plan(12, &w), vec![0..1, 1..3, 3..12]);
        assert_eq!(plan(1, &w), vec![0..1]);
        assert_eq!(plan(5, &parse_waves("2").unwrap()), vec![0..2, 2..5]);
        assert_eq!(plan(4, &parse_waves("50%,1,100%").unwrap()), vec![0..2, 2..4]);
        assert!(parse_waves("1,x").is_err());
        assert!(parse_waves("101%").is_err());
    }

    #[test]
    fn budgets_round_down() {
        assert_eq!(budget(12, Size::parse("10%", "").unwrap()), 1);
        assert_eq!(budget(12, Size::Count(0)), 0);
        assert_eq!(budget(3, Size::Count(5)), 3);
    }
}
