//! "Did you mean …?": the allowed word nearest to a misspelt one, by edit distance, for
//! field names, step kinds and step ids.

/// The candidate closest to `word`, if one is close enough to be a likely typo: at most one
/// edit for short words, up to a third of the word's length for longer ones.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (strsim::osa_distance(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn typos_find_their_word_and_strangers_find_none() {
        let kinds = ["backup", "sql", "verify", "command", "manual", "validate", "http", "monitor"];
        assert_eq!(closest("knd", ["id", "name", "kind", "sql"]), Some("kind"));
        assert_eq!(closest("comand", kinds), Some("command"));
        assert_eq!(closest("mointor", kinds), Some("monitor"));
        assert_eq!(closest("deploy", kinds), None);
        assert_eq!(closest("drop-colum", ["drop-column", "check"]), Some("drop-column"));
    }
}
