//! The whole-schema part of a snapshot: every object the engine's own schema dump shows
//! (functions, triggers, constraints, index definitions, grants, comments, …), each as a set of
//! named aspects in the engine's own rendering.
//!
//! Objects are kept as text rather than as a typed model per engine: what matters is that two
//! snapshots compare equal exactly when the dumps would, and that a difference can be named
//! ("trigger t on users: timing BEFORE → AFTER"). A typed model would have to grow with every
//! engine feature; a new aspect here is one more column in a catalog query.

use std::collections::BTreeMap;

use crate::db::Engine;
use crate::sql::lex::{tokens, Kind};

/// Aspect name → its text (the definition, the owner, the grants, a comment, …). An aspect the
/// object does not have (no comment) is absent, not empty.
pub type Aspects = BTreeMap<String, String>;

/// Object kind (`function`, `trigger`, …) → object name → aspects.
pub type Objects = BTreeMap<String, BTreeMap<String, Aspects>>;

/// The aspect every object kind uses for its whole definition. It changes whenever any other
/// aspect it includes changes, so it is named in a diff only when nothing more precise differs.
pub const DEFINITION: &str = "definition";

/// The aspect holding the `table.column` pairs an object reads, comma-separated: what makes it
/// a dependent of those columns for `no_dependents_except`.
pub const USES: &str = "uses";

/// Aspects longer than this (or spanning lines) are reported as "differs" instead of shown.
const SHOWN: usize = 80;

/// Add `kind name` (with no aspects yet) if absent, and return its aspects.
pub fn entry<'a>(objects: &'a mut Objects, kind: &str, name: &str) -> &'a mut Aspects {
    objects.entry(kind.to_string()).or_default().entry(name.to_string()).or_default()
}

/// Set one aspect; `None` (SQL NULL) and empty text leave it absent, so "no comment" is one state.
pub fn set(objects: &mut Objects, kind: &str, name: &str, aspect: &str, value: Option<String>) {
    let a = entry(objects, kind, name);
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        a.insert(aspect.to_string(), v);
    }
}

/// Append `value` to a list aspect (kept sorted and comma-separated, so the order the catalog
/// returns rows in does not matter).
pub fn push(objects: &mut Objects, kind: &str, name: &str, aspect: &str, value: String) {
    let a = entry(objects, kind, name);
    let mut items: Vec<String> = a.get(aspect).map(|v| v.split(", ").map(String::from).collect()).unwrap_or_default();
    if !items.contains(&value) {
        items.push(value);
        items.sort();
    }
    a.insert(aspect.to_string(), items.join(", "));
}

/// The columns of `table` that `expr` mentions, as `table.column`: the words and quoted names
/// of the expression that are column names (case-insensitive). Conservative on purpose: a
/// string literal never counts, a word equal to a column name always does.
pub fn mentioned(expr: &str, table: &str, columns: &[String], engine: Engine) -> Vec<String> {
    let mut out = Vec::new();
    for t in tokens(expr, engine) {
        let word = match t.kind {
            Kind::Word => t.text(expr).to_string(),
            Kind::QuotedIdent => unquote(t.text(expr)),
            _ => continue,
        };
        if let Some(c) = columns.iter().find(|c| c.eq_ignore_ascii_case(&word)) {
            let pair = format!("{table}.{c}");
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
    }
    out
}

/// A quoted name without its quotes: `"a""b"` → `a"b`, `[a]` → `a`.
pub fn unquote(s: &str) -> String {
    let Some(first) = s.chars().next() else { return String::new() };
    let close = if first == '[' { ']' } else { first };
    let inner = s.strip_prefix(first).and_then(|x| x.strip_suffix(close)).unwrap_or(&s[first.len_utf8()..]);
    inner.replace(&format!("{close}{close}"), &close.to_string())
}

/// Differences between two object sets, one line per object or aspect, each naming the object.
pub fn diff(before: &Objects, after: &Objects, out: &mut Vec<String>, skip: impl Fn(&str, &str) -> bool) {
    let empty = BTreeMap::new();
    let kinds: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for kind in kinds {
        let b = before.get(kind).unwrap_or(&empty);
        let a = after.get(kind).unwrap_or(&empty);
        for (name, was) in b {
            if skip(kind, name) {
                continue;
            }
            match a.get(name) {
                None => out.push(format!("- {kind} {name} was dropped")),
                Some(now) => aspects(kind, name, was, now, out),
            }
        }
        for name in a.keys().filter(|n| !b.contains_key(*n) && !skip(kind, n)) {
            out.push(format!("+ {kind} {name} was added"));
        }
    }
}

fn aspects(kind: &str, name: &str, was: &Aspects, now: &Aspects, out: &mut Vec<String>) {
    let keys: std::collections::BTreeSet<&String> = was.keys().chain(now.keys()).collect();
    let changed: Vec<&String> = keys.into_iter().filter(|k| was.get(*k) != now.get(*k)).collect();
    let precise = changed.iter().any(|k| k.as_str() != DEFINITION);
    for k in changed {
        if k == DEFINITION && precise {
            continue;
        }
        let show = |v: &str| shown(v) && !is_code(k);
        let line = match (was.get(k), now.get(k)) {
            (Some(x), Some(y)) if show(x) && show(y) => format!("{k} {x} → {y}"),
            (Some(_), Some(_)) => format!("{k} differs"),
            (None, Some(y)) if show(y) => format!("{k} none → {y}"),
            (None, Some(_)) => format!("{k} was added"),
            (Some(x), None) if show(x) => format!("{k} {x} → none"),
            (Some(_), None) => format!("{k} was removed"),
            (None, None) => continue,
        };
        out.push(format!("~ {kind} {name}: {line}"));
    }
}

fn shown(v: &str) -> bool {
    v.chars().count() <= SHOWN && !v.contains('\n')
}

/// Aspects holding code (a routine's or trigger's body): named as differing, never shown,
/// since a one-line excerpt of code says less than "open both and compare".
fn is_code(aspect: &str) -> bool {
    aspect == "body" || aspect.ends_with(" body")
}

/// Whether an object called `name` is the one a runbook names as `want`: equal ignoring case,
/// or equal once the schema qualification (`public.`), the argument list of a function
/// (`f(integer)`) or the table a trigger or constraint is on (`t on users`) is left off.
pub fn name_matches(name: &str, want: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let w = want.trim().to_ascii_lowercase();
    if n == w {
        return true;
    }
    let unqualified = |s: &str| -> String {
        // Only the part before an argument list or " on " can carry a qualification.
        let cut = s.find(['(', ' ']).unwrap_or(s.len());
        match s[..cut].rfind('.') {
            Some(dot) => s[dot + 1..].to_string(),
            None => s.to_string(),
        }
    };
    let bare = |s: &str| -> String { s.split(['(', ' ']).next().unwrap_or(s).to_string() };
    let n_unq = unqualified(&n);
    let w_unq = unqualified(&w);
    if n_unq == w_unq {
        return true;
    }
    // `want` without arguments or table names the object by its bare name.
    !w_unq.contains(['(', ' ']) && bare(&n_unq) == w_unq
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_with_or_without_schema_arguments_and_table() {
        assert!(name_matches("public.f(integer)", "f"));
        assert!(name_matches("public.f(integer)", "public.f(integer)"));
        assert!(name_matches("public.f(integer)", "f(integer)"));
        assert!(!name_matches("public.f(integer)", "f(text)"));
        assert!(name_matches("t on users", "t"));
        assert!(name_matches("t on users", "T ON users"));
        assert!(!name_matches("t on users", "t on orders"));
        assert!(!name_matches("ft(integer)", "f"));
    }

    #[test]
    fn a_diff_names_the_object_and_the_aspect() {
        let mut a = Objects::new();
        set(&mut a, "trigger", "t on users", "timing", Some("BEFORE".into()));
        set(&mut a, "trigger", "t on users", DEFINITION, Some("CREATE TRIGGER t BEFORE …".into()));
        set(&mut a, "function", "public.f(integer)", "body", Some("begin\n return 1;\nend".into()));
        let mut b = a.clone();
        set(&mut b, "trigger", "t on users", "timing", Some("AFTER".into()));
        set(&mut b, "trigger", "t on users", DEFINITION, Some("CREATE TRIGGER t AFTER …".into()));
        set(&mut b, "function", "public.f(integer)", "body", Some("begin\n return 2;\nend".into()));
        set(&mut b, "function", "public.g()", "body", Some("x".into()));
        let mut out = Vec::new();
        diff(&a, &b, &mut out, |_, _| false);
        assert_eq!(
            out,
            vec![
                "~ function public.f(integer): body differs".to_string(),
                "+ function public.g() was added".to_string(),
                "~ trigger t on users: timing BEFORE → AFTER".to_string(),
            ]
        );
    }

    #[test]
    fn mentioned_columns_are_words_not_substrings_or_strings() {
        let cols = vec!["age".to_string(), "name".to_string()];
        assert_eq!(mentioned("(age > 0 AND 'name' <> '')", "t", &cols, Engine::Postgres), vec!["t.age"]);
        assert!(mentioned("(page > 0)", "t", &cols, Engine::Postgres).is_empty());
        assert_eq!(mentioned("(\"Name\" IS NOT NULL)", "t", &cols, Engine::Sqlite), vec!["t.name"]);
    }
}
