//! Whether a secret value changes a statement's shape. A value that lands as one literal (a
//! number, or the inside of a string) leaves the statement's tokens as they were; a value with
//! a quote, a semicolon, a comment or a keyword adds or moves tokens, so what `plan` shows with
//! the value masked is no longer what runs. Such a value is refused unless the runbook marks
//! the variable `sql: true`.

use super::lex::{tokens, Kind};
use crate::db::Engine;
use crate::error::Result;
use crate::load::vars::Vars;

/// What every secret is replaced with to get the statement's intended shape: a number, which
/// lexes as one literal on its own and stays inside a string when quoted.
const STAND_IN: &str = "0";

/// The secret variables in `text` whose values change the shape of the statements it renders
/// to on `engine`, leaving out those marked `sql: true`.
pub fn reshaping_secrets(text: &str, vars: &Vars, engine: Engine) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let secrets = vars.secrets_in(text);
    if secrets.is_empty() {
        return Ok(out);
    }
    let real = vars.render(text)?;
    for name in secrets {
        if vars.is_sql_text(&name) {
            continue;
        }
        let intended = vars.render_with(text, &name, STAND_IN)?;
        if shape(&real, engine) != shape(&intended, engine) {
            out.push(name);
        }
    }
    Ok(out)
}

/// The statement's shape: every token's kind, and the text of punctuation, comments left in
/// (a value that opens a comment hides what follows it). White space does not count. A probe
/// `;` on a line of its own is appended: a value that leaves a quote open swallows it.
fn shape(sql: &str, engine: Engine) -> Vec<(Kind, String)> {
    let probed = format!("{sql}\n;");
    tokens(&probed, engine)
        .into_iter()
        .filter(|t| t.kind != Kind::Space)
        .map(|t| (t.kind, if t.kind == Kind::Punct { t.text(&probed).to_string() } else { String::new() }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(value: &str, sql: bool) -> Vars {
        let doc: crate::runbook::Runbook = serde_json::from_value(serde_json::json!({
            "version": 1, "id": "x", "vars": {"pw": {"secret": true, "sql": sql, "default": value}}, "plan": []
        }))
        .unwrap();
        Vars::resolve(&doc, &[]).unwrap()
    }

    #[test]
    fn a_literal_keeps_the_shape_and_an_injection_does_not() {
        let q = "UPDATE t SET token = '${pw}' WHERE id = ${pw}";
        assert!(reshaping_secrets("UPDATE t SET token = '${pw}'", &vars("s3cr3t value", false), Engine::Postgres).unwrap().is_empty());
        assert!(reshaping_secrets("SELECT ${pw}", &vars("42", false), Engine::Postgres).unwrap().is_empty());
        assert_eq!(reshaping_secrets(q, &vars("x'); DROP TABLE all_users; --", false), Engine::Postgres).unwrap(), vec!["pw"]);
        assert_eq!(reshaping_secrets("SELECT ${pw}", &vars("1 OR 1=1", false), Engine::Postgres).unwrap(), vec!["pw"]);
        assert_eq!(reshaping_secrets("SELECT '${pw}'", &vars("a\\", false), Engine::Mysql).unwrap(), vec!["pw"]);
        assert!(reshaping_secrets("SELECT '${pw}'", &vars("a\\", false), Engine::Postgres).unwrap().is_empty());
        assert!(reshaping_secrets("SELECT ${pw}", &vars("1 OR 1=1", true), Engine::Postgres).unwrap().is_empty(), "sql: true allows it");
    }
}
