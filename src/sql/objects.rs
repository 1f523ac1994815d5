//! Which schema objects a statement creates or drops, with its `IF EXISTS`, `IF NOT EXISTS`
//! and `OR REPLACE` guards.
//!
//! Two features read DDL this way: the default pairing of change steps with the rollback steps
//! that undo them (`ADD COLUMN x` ↔ `DROP COLUMN x`), and `plan`'s simulation of a run, in
//! which a table created by an earlier statement is known to the prechecks of later ones. Like
//! the rest of this module it recognises the common shapes and ignores everything else; a
//! statement it does not understand changes no object.

/// A schema object, named without quotes or schema prefix, in lower case (unquoted names are
/// case-insensitive on every engine, and change tickets rarely quote).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Object {
    Table(String),
    Column {
        table: String,
        column: String,
    },
    Index(String),
    Constraint(String),
    View(String),
    Trigger(String),
    Function(String),
    Sequence(String),
    /// Anything else created or dropped by name: a type, a schema, an extension, an event…
    Other {
        what: String,
        name: String,
    },
}

impl Object {
    /// Every name the object is known by (a column's table too).
    pub fn names(&self) -> Vec<&str> {
        match self {
            Object::Column { table, column } => vec![table, column],
            Object::Table(n)
            | Object::Index(n)
            | Object::Constraint(n)
            | Object::View(n)
            | Object::Trigger(n)
            | Object::Function(n)
            | Object::Sequence(n)
            | Object::Other { name: n, .. } => vec![n],
        }
    }
}

impl std::fmt::Display for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Object::Table(n) => write!(f, "table {n}"),
            Object::Column { table, column } => write!(f, "column {table}.{column}"),
            Object::Index(n) => write!(f, "index {n}"),
            Object::Constraint(n) => write!(f, "constraint {n}"),
            Object::View(n) => write!(f, "view {n}"),
            Object::Trigger(n) => write!(f, "trigger {n}"),
            Object::Function(n) => write!(f, "function {n}"),
            Object::Sequence(n) => write!(f, "sequence {n}"),
            Object::Other { what, name } => write!(f, "{} {name}", what.to_ascii_lowercase()),
        }
    }
}

/// Whether a statement brings an object into being or removes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Create,
    Drop,
}

/// One object a statement creates or drops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub verb: Verb,
    pub object: Object,
    /// `IF NOT EXISTS` / `OR REPLACE` on a create, `IF EXISTS` on a drop: the statement does
    /// not fail when the object is already there (or already gone).
    pub guarded: bool,
    /// For an index: the table it is built on, when the statement names it.
    pub on_table: Option<String>,
}

impl Change {
    fn new(verb: Verb, object: Object, guarded: bool) -> Self {
        Change { verb, object, guarded, on_table: None }
    }
}

/// A token of a statement: a word or identifier (quotes removed, lower-cased unless quoted),
/// or a single punctuation character. String literals become one opaque token.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Punct(char),
    Literal,
}

impl Tok {
    fn is(&self, kw: &str) -> bool {
        matches!(self, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }
    fn name(&self) -> Option<String> {
        match self {
            Tok::Word(w) => Some(w.to_ascii_lowercase()),
            Tok::Quoted(q) => Some(q.to_ascii_lowercase()),
            _ => None,
        }
    }
}

fn tokens(stmt: &str) -> Vec<Tok> {
    // Read through the shared lexer (SQLite's rules: the common core), so comments and quotes
    // mean here what they mean to the splitter and the guard.
    use super::lex::Kind;
    let out: Vec<Tok> = super::lex::tokens(stmt, crate::db::Engine::Sqlite)
        .into_iter()
        .filter_map(|t| {
            let text = t.text(stmt);
            match t.kind {
                Kind::Word | Kind::Number => Some(Tok::Word(text.to_string())),
                Kind::QuotedIdent => Some(Tok::Quoted(super::words::unquote(text))),
                Kind::Str => Some(Tok::Literal),
                Kind::Punct => text.chars().next().map(Tok::Punct),
                Kind::Comment | Kind::ExecutableComment | Kind::Space => None,
            }
        })
        .collect();
    // `schema.name` becomes `name`: objects are compared without their schema.
    let mut merged: Vec<Tok> = Vec::with_capacity(out.len());
    let mut k = 0;
    while k < out.len() {
        if out[k] == Tok::Punct('.') && !merged.is_empty() && k + 1 < out.len() && out[k + 1].name().is_some() {
            merged.pop();
            merged.push(out[k + 1].clone());
            k += 2;
            continue;
        }
        merged.push(out[k].clone());
        k += 1;
    }
    merged
}

/// A cursor over tokens with the few look-ahead helpers the grammar below needs.
struct Cur<'a> {
    t: &'a [Tok],
    i: usize,
}

impl Cur<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn eat(&mut self, kw: &str) -> bool {
        if self.peek().is_some_and(|t| t.is(kw)) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn eat_seq(&mut self, kws: &[&str]) -> bool {
        let ok = kws.iter().enumerate().all(|(k, kw)| self.t.get(self.i + k).is_some_and(|t| t.is(kw)));
        if ok {
            self.i += kws.len();
        }
        ok
    }
    fn name(&mut self) -> Option<String> {
        let n = self.peek()?.name()?;
        self.i += 1;
        Some(n)
    }
}

/// Every object `stmt` creates or drops, in statement order.
pub fn changes(stmt: &str) -> Vec<Change> {
    let t = tokens(stmt);
    let mut c = Cur { t: &t, i: 0 };
    if c.eat("CREATE") {
        create(&mut c)
    } else if c.eat("DROP") {
        drop(&mut c)
    } else if c.eat("ALTER") && c.eat("TABLE") {
        alter_table(&mut c)
    } else if c.eat_seq(&["RENAME", "TABLE"]) {
        let mut out = Vec::new();
        while let Some(from) = c.name() {
            if !c.eat("TO") {
                break;
            }
            let Some(to) = c.name() else { break };
            out.push(Change::new(Verb::Drop, Object::Table(from), false));
            out.push(Change::new(Verb::Create, Object::Table(to), false));
            if c.peek() != Some(&Tok::Punct(',')) {
                break;
            }
            c.i += 1;
        }
        out
    } else {
        Vec::new()
    }
}

/// `CREATE [OR REPLACE] [modifiers] <kind> [CONCURRENTLY] [IF NOT EXISTS] name …`
fn create(c: &mut Cur) -> Vec<Change> {
    let mut guarded = c.eat_seq(&["OR", "REPLACE"]);
    // Modifiers and MySQL's `DEFINER = user@host`, `ALGORITHM = …`, `SQL SECURITY …` stand
    // before the kind; skip a bounded number of tokens to find it.
    let kinds =
        ["TABLE", "INDEX", "VIEW", "TRIGGER", "FUNCTION", "PROCEDURE", "SEQUENCE", "TYPE", "SCHEMA", "EXTENSION", "EVENT", "DOMAIN"];
    let mut materialized = false;
    let mut kind = None;
    for _ in 0..12 {
        match c.peek() {
            Some(t) if kinds.iter().any(|k| t.is(k)) => {
                kind = t.name();
                c.i += 1;
                break;
            }
            Some(t) => {
                materialized |= t.is("MATERIALIZED");
                c.i += 1;
            }
            None => return Vec::new(),
        }
    }
    let Some(kind) = kind else { return Vec::new() };
    c.eat("CONCURRENTLY");
    guarded |= c.eat_seq(&["IF", "NOT", "EXISTS"]);
    match kind.as_str() {
        "index" => {
            // PostgreSQL may leave an index unnamed: `CREATE INDEX ON t (a)`.
            let name = if c.peek().is_some_and(|t| t.is("ON")) { None } else { c.name() };
            c.eat("ON");
            c.eat("ONLY");
            let table = c.name();
            match name {
                Some(n) => vec![Change { on_table: table, ..Change::new(Verb::Create, Object::Index(n), guarded) }],
                None => Vec::new(),
            }
        }
        "table" => {
            let Some(table) = c.name() else { return Vec::new() };
            let mut out = vec![Change::new(Verb::Create, Object::Table(table.clone()), guarded)];
            if c.peek() == Some(&Tok::Punct('(')) {
                c.i += 1;
                for item in top_level_items(c) {
                    out.extend(table_element(&table, item, guarded));
                }
            }
            out
        }
        other => {
            let Some(name) = c.name() else { return Vec::new() };
            vec![Change::new(Verb::Create, object_of(other, name, materialized), guarded)]
        }
    }
}

fn object_of(kind: &str, name: String, _materialized: bool) -> Object {
    match kind {
        "table" => Object::Table(name),
        "index" => Object::Index(name),
        "view" => Object::View(name),
        "trigger" => Object::Trigger(name),
        "function" | "procedure" => Object::Function(name),
        "sequence" => Object::Sequence(name),
        other => Object::Other { what: other.to_ascii_uppercase(), name },
    }
}

/// The comma-separated items inside the parenthesis just opened, up to its close.
fn top_level_items<'a>(c: &mut Cur<'a>) -> Vec<&'a [Tok]> {
    let mut items = Vec::new();
    let mut depth = 0;
    let mut start = c.i;
    while let Some(t) = c.t.get(c.i) {
        match t {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') if depth == 0 => {
                items.push(&c.t[start..c.i]);
                c.i += 1;
                return items;
            }
            Tok::Punct(')') => depth -= 1,
            Tok::Punct(',') if depth == 0 => {
                items.push(&c.t[start..c.i]);
                start = c.i + 1;
            }
            _ => {}
        }
        c.i += 1;
    }
    items.push(&c.t[start..]);
    items
}

/// A column or a named constraint or index of a `CREATE TABLE` list.
fn table_element(table: &str, item: &[Tok], guarded: bool) -> Vec<Change> {
    let Some(first) = item.first() else { return Vec::new() };
    let named = |i: usize| item.get(i).and_then(Tok::name);
    if first.is("CONSTRAINT") {
        return named(1).map(|n| Change::new(Verb::Create, Object::Constraint(n), guarded)).into_iter().collect();
    }
    if ["PRIMARY", "FOREIGN", "CHECK", "EXCLUDE", "LIKE"].iter().any(|k| first.is(k)) {
        return Vec::new();
    }
    if ["UNIQUE", "INDEX", "KEY", "FULLTEXT", "SPATIAL"].iter().any(|k| first.is(k)) {
        // MySQL: `UNIQUE KEY name (cols)`, `INDEX name (cols)`.
        let mut k = 1;
        while item.get(k).is_some_and(|t| t.is("KEY") || t.is("INDEX")) {
            k += 1;
        }
        return match (item.get(k), named(k)) {
            (Some(Tok::Word(_) | Tok::Quoted(_)), Some(n)) => {
                vec![Change { on_table: Some(table.to_string()), ..Change::new(Verb::Create, Object::Index(n), guarded) }]
            }
            _ => Vec::new(),
        };
    }
    named(0).map(|column| Change::new(Verb::Create, Object::Column { table: table.to_string(), column }, guarded)).into_iter().collect()
}

/// `DROP [MATERIALIZED] <kind> [CONCURRENTLY] [IF EXISTS] name[, name…] [ON table]`
fn drop(c: &mut Cur) -> Vec<Change> {
    let materialized = c.eat("MATERIALIZED");
    c.eat("TEMPORARY");
    let Some(kind) = c.name() else { return Vec::new() };
    c.eat("CONCURRENTLY");
    let guarded = c.eat_seq(&["IF", "EXISTS"]);
    let mut out = Vec::new();
    while let Some(name) = c.name() {
        out.push(Change::new(Verb::Drop, object_of(&kind, name, materialized), guarded));
        // A routine's argument list: `DROP FUNCTION f(integer)`.
        if c.peek() == Some(&Tok::Punct('(')) {
            c.i += 1;
            top_level_items(c);
        }
        if c.peek() != Some(&Tok::Punct(',')) {
            break;
        }
        c.i += 1;
    }
    if kind == "index" && c.eat("ON") {
        let table = c.name();
        for ch in &mut out {
            ch.on_table = table.clone();
        }
    }
    out
}

/// `ALTER TABLE [IF EXISTS] [ONLY] t clause, clause…`
fn alter_table(c: &mut Cur) -> Vec<Change> {
    c.eat_seq(&["IF", "EXISTS"]);
    c.eat("ONLY");
    let Some(table) = c.name() else { return Vec::new() };
    let mut items = Vec::new();
    let mut depth = 0;
    let mut start = c.i;
    for (k, t) in c.t.iter().enumerate().skip(c.i) {
        match t {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => depth -= 1,
            Tok::Punct(',') if depth == 0 => {
                items.push(&c.t[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    items.push(&c.t[start..]);
    items.into_iter().flat_map(|item| alter_clause(&table, item)).collect()
}

fn alter_clause(table: &str, item: &[Tok]) -> Vec<Change> {
    let mut c = Cur { t: item, i: 0 };
    let col = |column: String| Object::Column { table: table.to_string(), column };
    let index =
        |verb, name: String, guarded| Change { on_table: Some(table.to_string()), ..Change::new(verb, Object::Index(name), guarded) };
    if c.eat("ADD") {
        if c.eat("CONSTRAINT") {
            let guarded = c.eat_seq(&["IF", "NOT", "EXISTS"]);
            return c.name().map(|n| Change::new(Verb::Create, Object::Constraint(n), guarded)).into_iter().collect();
        }
        if ["PRIMARY", "FOREIGN", "CHECK"].iter().any(|k| c.peek().is_some_and(|t| t.is(k))) {
            return Vec::new();
        }
        if ["UNIQUE", "INDEX", "KEY", "FULLTEXT", "SPATIAL"].iter().any(|k| c.peek().is_some_and(|t| t.is(k))) {
            c.i += 1;
            while c.eat("INDEX") || c.eat("KEY") {}
            let guarded = c.eat_seq(&["IF", "NOT", "EXISTS"]);
            return match c.peek() {
                Some(Tok::Word(_) | Tok::Quoted(_)) => c.name().map(|n| index(Verb::Create, n, guarded)).into_iter().collect(),
                _ => Vec::new(),
            };
        }
        c.eat("COLUMN");
        let guarded = c.eat_seq(&["IF", "NOT", "EXISTS"]);
        return c.name().map(|n| Change::new(Verb::Create, col(n), guarded)).into_iter().collect();
    }
    if c.eat("DROP") {
        if c.eat("CONSTRAINT") || c.eat("CHECK") || c.eat_seq(&["FOREIGN", "KEY"]) {
            let guarded = c.eat_seq(&["IF", "EXISTS"]);
            return c.name().map(|n| Change::new(Verb::Drop, Object::Constraint(n), guarded)).into_iter().collect();
        }
        if c.eat("PRIMARY") {
            return Vec::new();
        }
        if c.eat("INDEX") || c.eat("KEY") {
            let guarded = c.eat_seq(&["IF", "EXISTS"]);
            return c.name().map(|n| index(Verb::Drop, n, guarded)).into_iter().collect();
        }
        c.eat("COLUMN");
        let guarded = c.eat_seq(&["IF", "EXISTS"]);
        return c.name().map(|n| Change::new(Verb::Drop, col(n), guarded)).into_iter().collect();
    }
    if c.eat("RENAME") {
        if c.eat("COLUMN") {
            return match (c.name(), c.eat("TO"), c.name()) {
                (Some(from), true, Some(to)) => vec![Change::new(Verb::Drop, col(from), false), Change::new(Verb::Create, col(to), false)],
                _ => Vec::new(),
            };
        }
        if c.eat("INDEX") || c.eat("KEY") {
            return match (c.name(), c.eat("TO"), c.name()) {
                (Some(from), true, Some(to)) => vec![index(Verb::Drop, from, false), index(Verb::Create, to, false)],
                _ => Vec::new(),
            };
        }
        c.eat("TO");
        c.eat("AS");
        return match c.name() {
            Some(to) => {
                vec![Change::new(Verb::Drop, Object::Table(table.to_string()), false), Change::new(Verb::Create, Object::Table(to), false)]
            }
            None => Vec::new(),
        };
    }
    if c.eat("CHANGE") {
        // MySQL: `CHANGE [COLUMN] old new definition` renames when the names differ.
        c.eat("COLUMN");
        if let (Some(from), Some(to)) = (c.name(), c.name()) {
            if from != to {
                return vec![Change::new(Verb::Drop, col(from), false), Change::new(Verb::Create, col(to), false)];
            }
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objs(stmt: &str) -> Vec<(Verb, String, bool)> {
        changes(stmt).into_iter().map(|c| (c.verb, c.object.to_string(), c.guarded)).collect()
    }

    #[test]
    fn columns_indexes_and_tables() {
        use Verb::*;
        assert_eq!(
            objs("ALTER TABLE all_users ADD COLUMN pcc_user_uuid VARCHAR(36) NULL, ALGORITHM=INPLACE, LOCK=NONE"),
            vec![(Create, "column all_users.pcc_user_uuid".into(), false)]
        );
        assert_eq!(objs("alter table \"public\".\"T\" drop column if exists c"), vec![(Drop, "column t.c".into(), true)]);
        assert_eq!(
            objs("ALTER TABLE t DROP INDEX ux, DROP COLUMN c"),
            vec![(Drop, "index ux".into(), false), (Drop, "column t.c".into(), false)]
        );
        assert_eq!(objs("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ux ON t (a)"), vec![(Create, "index ux".into(), true)]);
        assert_eq!(changes("CREATE INDEX ix ON orders (a)")[0].on_table.as_deref(), Some("orders"));
        assert_eq!(objs("DROP INDEX IF EXISTS ux"), vec![(Drop, "index ux".into(), true)]);
        assert_eq!(objs("DROP INDEX ux ON t")[0], (Drop, "index ux".into(), false));
        assert_eq!(
            objs("CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, note VARCHAR(20) DEFAULT 'a,b', CONSTRAINT ck CHECK (id > 0), UNIQUE KEY uk (note))"),
            vec![
                (Create, "table audit".into(), true),
                (Create, "column audit.id".into(), true),
                (Create, "column audit.note".into(), true),
                (Create, "constraint ck".into(), true),
                (Create, "index uk".into(), true),
            ]
        );
        assert_eq!(objs("DROP TABLE a, b"), vec![(Drop, "table a".into(), false), (Drop, "table b".into(), false)]);
    }

    #[test]
    fn routines_views_triggers_and_guards() {
        use Verb::*;
        assert_eq!(objs("CREATE OR REPLACE VIEW v AS SELECT 1"), vec![(Create, "view v".into(), true)]);
        assert_eq!(
            objs("CREATE DEFINER=`root`@`localhost` TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1"),
            vec![(Create, "trigger trg".into(), false)]
        );
        assert_eq!(
            objs("CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql"),
            vec![(Create, "function f".into(), false)]
        );
        assert_eq!(objs("DROP FUNCTION IF EXISTS f(integer)"), vec![(Drop, "function f".into(), true)]);
        assert_eq!(objs("CREATE MATERIALIZED VIEW mv AS SELECT 1"), vec![(Create, "view mv".into(), false)]);
        assert_eq!(
            objs("ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u (id)"),
            vec![(Create, "constraint fk".into(), false)]
        );
        assert_eq!(objs("ALTER TABLE t DROP CONSTRAINT IF EXISTS fk"), vec![(Drop, "constraint fk".into(), true)]);
        assert_eq!(objs("ALTER TABLE t ADD PRIMARY KEY (a)"), vec![]);
        assert_eq!(objs("UPDATE t SET a = 1"), vec![]);
        assert_eq!(objs("SELECT 'CREATE TABLE x (a int)'"), vec![]);
    }
}
