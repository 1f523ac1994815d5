//! The schema snapshot of a MariaDB/MySQL target: what `mariadb-dump --no-data --routines
//! --triggers --events` shows for the current database, read from `information_schema`.
//!
//! MariaDB names objects per table (every primary key is `PRIMARY`, index names repeat across
//! tables), so constraints are named `name on table`, and indexes as in the column model: by
//! name, or `table.name` for `PRIMARY` and for a name another table's index already has. Grants are those recorded
//! for this database, its tables, columns and routines; reading routine grants needs SELECT on
//! `mysql.procs_priv`, and without it they are left out rather than failing the snapshot.

use std::collections::BTreeMap;

use sqlx::mysql::MySqlConnection;

use super::objects::{self, Objects, USES};
use super::{Column, Index, Schema, Table, Trigger};
use crate::db::mysql::text_rows;
use crate::db::Engine;
use crate::error::Result;

fn cell(r: &[Option<String>], i: usize) -> Option<String> {
    r.get(i).cloned().flatten()
}

fn text(r: &[Option<String>], i: usize) -> String {
    cell(r, i).unwrap_or_default()
}

pub async fn snapshot(conn: &mut MySqlConnection, mariadb: bool) -> Result<Schema> {
    let mut s = Schema::default();
    let cols = text_rows(
        conn,
        "SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE, c.COLUMN_DEFAULT, \
                c.COLUMN_COMMENT, c.EXTRA, c.GENERATION_EXPRESSION, c.COLLATION_NAME \
         FROM information_schema.COLUMNS c \
         JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME \
         WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' \
         ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION",
    )
    .await?;
    let mut o = Objects::new();
    let mut generated = Vec::new();
    for r in cols {
        let nullable = r[3].as_deref() == Some("YES");
        // MariaDB reports "no default" on a nullable column as the expression NULL.
        let default = cell(&r, 4).filter(|d| !(d == "NULL" && mariadb));
        let (table, col) = (text(&r, 0), text(&r, 1));
        s.tables.entry(table.clone()).or_insert_with(Table::default).columns.push(Column {
            name: col.clone(),
            type_: text(&r, 2),
            nullable,
            default,
        });
        objects::set(&mut o, "table", &table, &format!("column {col} comment"), cell(&r, 5));
        objects::set(&mut o, "table", &table, &format!("column {col} extra"), cell(&r, 6));
        objects::set(&mut o, "table", &table, &format!("column {col} collation"), cell(&r, 8));
        if let Some(expr) = cell(&r, 7).filter(|e| !e.is_empty()) {
            generated.push((table, col, expr));
        }
    }
    for (table, col, expr) in generated {
        let name = format!("{table}.{col}");
        let cols: Vec<String> = s.table(&table).map(|t| t.columns.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
        let uses = objects::mentioned(&expr, &table, &cols, Engine::Mysql);
        objects::set(&mut o, "generated column", &name, "expression", Some(expr));
        objects::set(&mut o, "generated column", &name, USES, Some(uses.join(", ")));
    }
    indexes(conn, &mut s, &mut o).await?;
    for r in text_rows(
        conn,
        "SELECT TABLE_NAME, VIEW_DEFINITION, CHECK_OPTION, DEFINER, SECURITY_TYPE FROM information_schema.VIEWS \
         WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1",
    )
    .await?
    {
        let name = text(&r, 0);
        s.views.insert(name.clone(), text(&r, 1));
        for (i, aspect) in [(1, objects::DEFINITION), (2, "check option"), (3, "definer"), (4, "security")] {
            objects::set(&mut o, "view", &name, aspect, cell(&r, i));
        }
    }
    for r in text_rows(
        conn,
        "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT, ACTION_ORIENTATION, \
                ACTION_ORDER, DEFINER, SQL_MODE \
         FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY 1",
    )
    .await?
    {
        s.triggers.insert(text(&r, 0), Trigger { table: text(&r, 1) });
        let name = format!("{} on {}", text(&r, 0), text(&r, 1));
        for (i, aspect) in [(2, "timing"), (3, "events"), (4, "body"), (5, "level"), (6, "order"), (7, "definer"), (8, "sql mode")] {
            objects::set(&mut o, "trigger", &name, aspect, cell(&r, i));
        }
    }
    tables(conn, &mut o).await?;
    constraints(conn, &s, mariadb, &mut o).await?;
    let routines = routines(conn, &mut o).await?;
    events(conn, &mut o).await?;
    grants(conn, &s, &routines, &mut o).await?;
    s.objects = Some(o);
    s.index_uses(Engine::Mysql);
    Ok(s)
}

/// Indexes: the column lists for assertions, and the whole definition (prefix lengths, order,
/// index type, comment) as an object.
async fn indexes(conn: &mut MySqlConnection, s: &mut Schema, o: &mut Objects) -> Result<()> {
    let stats = text_rows(
        conn,
        "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, COLLATION, INDEX_TYPE, INDEX_COMMENT \
         FROM information_schema.STATISTICS \
         WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
    )
    .await?;
    // Index names are unique per table only; PRIMARY is on every table. Those get the table's name.
    let mut keys: Vec<((String, String), String)> = Vec::new();
    let mut defs: BTreeMap<String, (String, Vec<String>, String, Option<String>)> = BTreeMap::new();
    for r in stats {
        let table = text(&r, 0);
        let name = text(&r, 1);
        let column = cell(&r, 3).unwrap_or_else(|| "<expr>".into());
        let key = match keys.iter().find(|(k, _)| k.0 == table && k.1 == name) {
            Some((_, key)) => key.clone(),
            None => {
                let key = if name == "PRIMARY" || s.indexes.contains_key(&name) { format!("{table}.{name}") } else { name.clone() };
                keys.push(((table.clone(), name.clone()), key.clone()));
                key
            }
        };
        let unique = r[2].as_deref() == Some("0");
        s.indexes
            .entry(key.clone())
            .or_insert_with(|| Index { table: table.clone(), columns: Vec::new(), unique })
            .columns
            .push(column.clone());
        let mut part = column;
        if let Some(n) = cell(&r, 4) {
            part.push_str(&format!("({n})"));
        }
        if cell(&r, 5).as_deref() == Some("D") {
            part.push_str(" DESC");
        }
        let head = format!("{}INDEX {name} ON {table} USING {}", if unique { "UNIQUE " } else { "" }, text(&r, 6));
        let d = defs.entry(key).or_insert_with(|| (head, Vec::new(), table.clone(), cell(&r, 7)));
        d.1.push(part);
    }
    for (name, (head, parts, table, comment)) in defs {
        objects::set(o, "index", &name, "table", Some(table));
        objects::set(o, "index", &name, objects::DEFINITION, Some(format!("{head} ({})", parts.join(", "))));
        objects::set(o, "index", &name, "comment", comment);
    }
    Ok(())
}

/// Table-level aspects: storage engine, collation, options and comment; sequences.
async fn tables(conn: &mut MySqlConnection, o: &mut Objects) -> Result<()> {
    for r in text_rows(
        conn,
        "SELECT TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION, CREATE_OPTIONS, TABLE_COMMENT FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE <> 'VIEW'",
    )
    .await?
    {
        let kind = if text(&r, 1) == "SEQUENCE" { "sequence" } else { "table" };
        let name = text(&r, 0);
        objects::entry(o, kind, &name);
        for (i, aspect) in [(2, "engine"), (3, "collation"), (4, "options"), (5, "comment")] {
            objects::set(o, kind, &name, aspect, cell(&r, i));
        }
    }
    Ok(())
}

/// PRIMARY KEY, UNIQUE, FOREIGN KEY and CHECK constraints, each with a definition assembled
/// from the catalog in one fixed shape.
async fn constraints(conn: &mut MySqlConnection, s: &Schema, mariadb: bool, o: &mut Objects) -> Result<()> {
    // (table, constraint) → (columns, referenced table, referenced columns)
    type Key = (Vec<String>, Option<String>, Vec<String>);
    let mut keys: BTreeMap<(String, String), Key> = BTreeMap::new();
    for r in text_rows(
        conn,
        "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME \
         FROM information_schema.KEY_COLUMN_USAGE WHERE CONSTRAINT_SCHEMA = DATABASE() \
         ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
    )
    .await?
    {
        let k = keys.entry((text(&r, 0), text(&r, 1))).or_default();
        k.0.push(text(&r, 2));
        if let Some(t) = cell(&r, 3) {
            k.1 = Some(t);
            k.2.push(text(&r, 4));
        }
    }
    let mut rules: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    for r in text_rows(
        conn,
        "SELECT TABLE_NAME, CONSTRAINT_NAME, UPDATE_RULE, DELETE_RULE FROM information_schema.REFERENTIAL_CONSTRAINTS \
         WHERE CONSTRAINT_SCHEMA = DATABASE()",
    )
    .await?
    {
        rules.insert((text(&r, 0), text(&r, 1)), (text(&r, 2), text(&r, 3)));
    }
    let checks_sql = if mariadb {
        "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()"
    } else {
        "SELECT tc.TABLE_NAME, cc.CONSTRAINT_NAME, cc.CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS cc \
         JOIN information_schema.TABLE_CONSTRAINTS tc ON tc.CONSTRAINT_SCHEMA = cc.CONSTRAINT_SCHEMA \
           AND tc.CONSTRAINT_NAME = cc.CONSTRAINT_NAME AND tc.CONSTRAINT_TYPE = 'CHECK' \
         WHERE cc.CONSTRAINT_SCHEMA = DATABASE()"
    };
    let mut checks: BTreeMap<(String, String), String> = BTreeMap::new();
    for r in text_rows(conn, checks_sql).await? {
        checks.insert((text(&r, 0), text(&r, 1)), text(&r, 2));
    }
    for r in text_rows(
        conn,
        "SELECT TABLE_NAME, CONSTRAINT_NAME, CONSTRAINT_TYPE FROM information_schema.TABLE_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()",
    )
    .await?
    {
        let (table, cname) = (text(&r, 0), text(&r, 1));
        let name = format!("{cname} on {table}");
        let ctype = text(&r, 2);
        let key = (table.clone(), cname.clone());
        let cols = keys.get(&key).map(|k| k.0.join(", ")).unwrap_or_default();
        let (kind, def, uses) = match ctype.as_str() {
            "PRIMARY KEY" => ("primary key", format!("PRIMARY KEY ({cols})"), None),
            "UNIQUE" => ("unique", format!("UNIQUE ({cols})"), None),
            "FOREIGN KEY" => {
                let (_, parent, pcols) = keys.get(&key).cloned().unwrap_or_default();
                let parent = parent.unwrap_or_default();
                let (upd, del) = rules.get(&key).cloned().unwrap_or_default();
                let mut uses: Vec<String> = keys.get(&key).map(|k| k.0.iter().map(|c| format!("{table}.{c}")).collect()).unwrap_or_default();
                uses.extend(pcols.iter().map(|c| format!("{parent}.{c}")));
                (
                    "foreign key",
                    format!("FOREIGN KEY ({cols}) REFERENCES {parent} ({}) ON UPDATE {upd} ON DELETE {del}", pcols.join(", ")),
                    Some(uses),
                )
            }
            "CHECK" => {
                let clause = checks.get(&key).cloned().unwrap_or_default();
                let tcols: Vec<String> = s.table(&table).map(|t| t.columns.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
                let uses = objects::mentioned(&clause, &table, &tcols, Engine::Mysql);
                ("check", format!("CHECK ({clause})"), Some(uses))
            }
            other => (other, String::new(), None),
        };
        objects::set(o, "constraint", &name, "type", Some(kind.to_string()));
        objects::set(o, "constraint", &name, objects::DEFINITION, Some(def));
        if let Some(u) = uses {
            objects::set(o, "constraint", &name, USES, Some(u.join(", ")));
        }
    }
    Ok(())
}

/// Stored functions and procedures, named with their parameter lists; returns bare name →
/// object name for the routine grants.
async fn routines(conn: &mut MySqlConnection, o: &mut Objects) -> Result<BTreeMap<(String, String), String>> {
    let mut params: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for r in text_rows(
        conn,
        "SELECT SPECIFIC_NAME, ROUTINE_TYPE, PARAMETER_MODE, PARAMETER_NAME, DTD_IDENTIFIER FROM information_schema.PARAMETERS \
         WHERE SPECIFIC_SCHEMA = DATABASE() AND ORDINAL_POSITION > 0 ORDER BY SPECIFIC_NAME, ORDINAL_POSITION",
    )
    .await?
    {
        // A function's parameters are all IN; only a procedure's mode says anything.
        let mode = cell(&r, 2).filter(|_| text(&r, 1) == "PROCEDURE").map(|m| format!("{m} ")).unwrap_or_default();
        params.entry((text(&r, 0), text(&r, 1))).or_default().push(format!("{mode}{} {}", text(&r, 3), text(&r, 4)));
    }
    let mut names = BTreeMap::new();
    for r in text_rows(
        conn,
        "SELECT ROUTINE_TYPE, ROUTINE_NAME, ROUTINE_DEFINITION, DTD_IDENTIFIER, IS_DETERMINISTIC, SQL_DATA_ACCESS, SECURITY_TYPE, \
                DEFINER, ROUTINE_COMMENT, SQL_MODE \
         FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()",
    )
    .await?
    {
        let (rtype, bare) = (text(&r, 0), text(&r, 1));
        let kind = if rtype == "PROCEDURE" { "procedure" } else { "function" };
        let args = params.get(&(bare.clone(), rtype.clone())).map(|p| p.join(", ")).unwrap_or_default();
        let name = format!("{bare}({args})");
        names.insert((bare.to_ascii_lowercase(), rtype), name.clone());
        objects::entry(o, kind, &name);
        for (i, aspect) in [
            (2, "body"),
            (3, "returns"),
            (4, "deterministic"),
            (5, "data access"),
            (6, "security"),
            (7, "definer"),
            (8, "comment"),
            (9, "sql mode"),
        ] {
            objects::set(o, kind, &name, aspect, cell(&r, i));
        }
    }
    Ok(names)
}

async fn events(conn: &mut MySqlConnection, o: &mut Objects) -> Result<()> {
    for r in text_rows(
        conn,
        "SELECT EVENT_NAME, EVENT_DEFINITION, EVENT_TYPE, EXECUTE_AT, \
                CASE WHEN INTERVAL_VALUE IS NOT NULL THEN CONCAT(INTERVAL_VALUE, ' ', INTERVAL_FIELD) END, \
                STARTS, ENDS, STATUS, ON_COMPLETION, DEFINER, EVENT_COMMENT \
         FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()",
    )
    .await?
    {
        let name = text(&r, 0);
        objects::entry(o, "event", &name);
        for (i, aspect) in [
            (1, "body"),
            (2, "type"),
            (3, "at"),
            (4, "every"),
            (5, "starts"),
            (6, "ends"),
            (7, "status"),
            (8, "on completion"),
            (9, "definer"),
            (10, "comment"),
        ] {
            objects::set(o, "event", &name, aspect, cell(&r, i));
        }
    }
    Ok(())
}

/// Grants on this database, its tables and views, their columns, and its routines.
async fn grants(conn: &mut MySqlConnection, s: &Schema, routines: &BTreeMap<(String, String), String>, o: &mut Objects) -> Result<()> {
    let grant = |grantee: &str, privilege: &str, grantable: &str| {
        format!("{grantee} {privilege}{}", if grantable == "YES" { " WITH GRANT OPTION" } else { "" })
    };
    for r in text_rows(
        conn,
        "SELECT TABLE_SCHEMA, GRANTEE, PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.SCHEMA_PRIVILEGES WHERE TABLE_SCHEMA = DATABASE()",
    )
    .await?
    {
        objects::push(o, "database", &text(&r, 0), "grants", grant(&text(&r, 1), &text(&r, 2), &text(&r, 3)));
    }
    for r in text_rows(
        conn,
        "SELECT TABLE_NAME, GRANTEE, PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.TABLE_PRIVILEGES WHERE TABLE_SCHEMA = DATABASE()",
    )
    .await?
    {
        let table = text(&r, 0);
        let kind = if s.view(&table).is_some() { "view" } else { "table" };
        objects::push(o, kind, &table, "grants", grant(&text(&r, 1), &text(&r, 2), &text(&r, 3)));
    }
    for r in text_rows(
        conn,
        "SELECT TABLE_NAME, COLUMN_NAME, GRANTEE, PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.COLUMN_PRIVILEGES \
         WHERE TABLE_SCHEMA = DATABASE()",
    )
    .await?
    {
        let table = text(&r, 0);
        let kind = if s.view(&table).is_some() { "view" } else { "table" };
        let aspect = format!("column {} grants", text(&r, 1));
        objects::push(o, kind, &table, &aspect, grant(&text(&r, 2), &text(&r, 3), &text(&r, 4)));
    }
    // Routine grants live only in mysql.procs_priv; a user who cannot read it sees none.
    if let Ok(rows) = text_rows(
        conn,
        "SELECT Routine_name, Routine_type, CONCAT('''', User, '''@''', Host, ''''), Proc_priv FROM mysql.procs_priv WHERE Db = DATABASE()",
    )
    .await
    {
        for r in rows {
            let rtype = text(&r, 1);
            let Some(name) = routines.get(&(text(&r, 0).to_ascii_lowercase(), rtype.clone())) else { continue };
            let kind = if rtype == "PROCEDURE" { "procedure" } else { "function" };
            for p in text(&r, 3).split(',').filter(|p| !p.is_empty()) {
                objects::push(o, kind, name, "grants", format!("{} {}", text(&r, 2), p.to_ascii_uppercase()));
            }
        }
    }
    Ok(())
}
