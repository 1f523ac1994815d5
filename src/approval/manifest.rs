//! The change manifest: a canonical JSON document of exactly what a run will do (runbook,
//! target, variables, skips, every statement, command and URL for that engine) plus the
//! target's schema when it was approved. An approval is a signature over its exact bytes, so
//! the run can rebuild the same document and name the first field that differs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::db::{Engine, Schema, Target};
use crate::error::{Error, Result};
use crate::load::vars::{Vars, MASK};
use crate::runbook::{Loaded, PlanKind};

/// Identifies the document type and its version; a new version is a new string.
pub const FORMAT: &str = "runbook-approval/1";

/// What an approval approves: either a change before it runs, or (`retro`) a run that
/// already happened under `--emergency`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    /// `change` or `retro`.
    pub kind: String,
    /// What will run; compared field by field with what the run would do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
    /// The target's schema when the change was approved, and its sha256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Schema>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_fingerprint: Option<String>,
    /// The seal of the rehearsal that proved this change, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rehearsal: Option<Sealed>,
    /// For `retro`: the run being approved after the fact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RetroRun>,
    pub approver: Approver,
    pub approved_at: String,
    pub expires: String,
}

/// Exactly what a run of one plan will do.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Change {
    pub runbook_id: String,
    pub runbook_sha256: String,
    pub ticket: Option<String>,
    pub plan: PlanKind,
    pub target: TargetIdentity,
    /// Resolved values of the runbook's variables; secrets masked.
    pub vars: BTreeMap<String, String>,
    pub skips: Vec<Skip>,
    /// Every step that may run (for `plan`, the rollback plan's too: a failure runs it), with
    /// variables filled in and SQL chosen for the target's engine.
    pub steps: Vec<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TargetIdentity {
    pub engine: String,
    pub host: String,
    pub database: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Skip {
    pub id: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Sealed {
    pub run_id: String,
    pub seal: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RetroRun {
    pub run_id: String,
    pub runbook_sha256: String,
    /// The journal's final seal when the retro-approval was signed.
    pub seal: String,
    /// sha256 of the change manifest the emergency run recorded in its journal.
    pub change_sha256: String,
    pub emergency: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Approver {
    /// The name the allowed_signers file lists the key under.
    pub principal: String,
    pub key_fingerprint: String,
}

/// The target without credentials.
pub fn target_identity(target: &Target) -> TargetIdentity {
    if target.engine == Engine::Sqlite {
        let p = target.path.clone().unwrap_or_default();
        let canon = std::fs::canonicalize(&p).unwrap_or(p);
        return TargetIdentity { engine: target.engine.to_string(), host: String::new(), database: canon.display().to_string() };
    }
    match url::Url::parse(&target.url) {
        Ok(u) => TargetIdentity {
            engine: target.engine.to_string(),
            host: format!(
                "{}:{}",
                u.host_str().unwrap_or(""),
                u.port().unwrap_or(if target.engine == Engine::Postgres { 5432 } else { 3306 })
            ),
            database: u.path().trim_start_matches('/').to_string(),
        },
        Err(_) => TargetIdentity { engine: target.engine.to_string(), host: target.display(), database: String::new() },
    }
}

/// What running `plan` of `loaded` on `target` with `vars` and `skips` will do.
pub fn change(loaded: &Loaded, target: &Target, vars: &Vars, plan: PlanKind, skips: &[(String, Option<String>)]) -> Change {
    let redactor = crate::exec::redactor(vars, target);
    let mut raws: Vec<&crate::runbook::RawStep> = match plan {
        PlanKind::Plan => loaded.doc.plan.iter().collect(),
        PlanKind::Rollback => loaded.doc.rollback.iter().collect(),
    };
    if plan == PlanKind::Plan {
        raws.extend(loaded.doc.rollback.iter());
    }
    let steps = raws
        .into_iter()
        .map(|raw| {
            let mut v = serde_json::to_value(raw).unwrap_or(Value::Null);
            resolve(&mut v, target.engine, &|s: &str| redactor.text(&vars.render(s).unwrap_or_else(|_| s.to_string())));
            v
        })
        .collect();
    let vars_shown = loaded
        .doc
        .vars
        .keys()
        .filter_map(|k| vars.get(k).map(|v| (k.clone(), if vars.is_secret(k) { MASK.to_string() } else { redactor.text(v) })))
        .collect();
    Change {
        runbook_id: loaded.doc.id.value.clone(),
        runbook_sha256: loaded.sha256.clone(),
        ticket: loaded.doc.ticket.as_ref().and_then(|t| t.id.as_ref()).map(|s| s.0.clone()),
        plan,
        target: target_identity(target),
        vars: vars_shown,
        skips: skips.iter().map(|(id, reason)| Skip { id: id.clone(), reason: reason.clone() }).collect(),
        steps,
    }
}

/// Fill in variables in every string, drop empty fields, and keep only the target engine's
/// variant of per-engine values (`{sqlite: …, postgres: …, default: …}`).
fn resolve(v: &mut Value, engine: Engine, render: &dyn Fn(&str) -> String) {
    const ENGINES: [&str; 4] = ["sqlite", "postgres", "mysql", "default"];
    match v {
        Value::String(s) => *s = render(s),
        Value::Array(items) => items.iter_mut().for_each(|i| resolve(i, engine, render)),
        Value::Object(map) => {
            if !map.is_empty() && map.keys().all(|k| ENGINES.contains(&k.as_str())) {
                let key = match engine {
                    Engine::Sqlite => "sqlite",
                    Engine::Postgres => "postgres",
                    _ => "mysql",
                };
                let mut chosen = map.get(key).filter(|x| !x.is_null()).or_else(|| map.get("default")).cloned().unwrap_or(Value::Null);
                resolve(&mut chosen, engine, render);
                *v = chosen;
                return;
            }
            map.retain(|_, x| !x.is_null());
            map.values_mut().for_each(|x| resolve(x, engine, render));
        }
        _ => {}
    }
}

/// Keys sorted at every level, no insignificant whitespace, one final newline: the same
/// document always has the same bytes.
pub fn canonical(value: &impl Serialize) -> Result<String> {
    let v = serde_json::to_value(value).map_err(|e| Error::failed(format!("manifest encoding: {e}")))?;
    let mut out = sorted(v).to_string();
    out.push('\n');
    Ok(out)
}

fn sorted(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut pairs: Vec<(String, Value)> = map.into_iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(pairs.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// sha256 of the schema's canonical JSON.
pub fn schema_fingerprint(schema: &Schema) -> String {
    canonical(schema).map(|s| sha256(s.as_bytes())).unwrap_or_default()
}

/// The first place where `approved` and `now` differ, as a field path with both values.
pub fn first_difference(approved: &Change, now: &Change) -> Option<String> {
    let a = sorted(serde_json::to_value(approved).ok()?);
    let b = sorted(serde_json::to_value(now).ok()?);
    // What runs first, so that a changed statement is named as such and not only as a new
    // runbook hash; the hash last, for changes that alter nothing that runs (comments).
    const ORDER: [&str; 8] = ["target", "plan", "steps", "vars", "skips", "runbook_id", "ticket", "runbook_sha256"];
    ORDER
        .iter()
        .find_map(|k| diff_at(k, a.get(*k).unwrap_or(&Value::Null), b.get(*k).unwrap_or(&Value::Null)))
        .or_else(|| diff_at("", &a, &b))
}

fn diff_at(path: &str, a: &Value, b: &Value) -> Option<String> {
    if a == b {
        return None;
    }
    let join = |k: &str| if path.is_empty() { k.to_string() } else { format!("{path}.{k}") };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| diff_at(&join(k), x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null)))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (p, q))| diff_at(&format!("{path}[{i}]"), p, q))
        }
        (Value::Array(x), Value::Array(y)) => Some(format!("{path}: approved {} item(s), this run has {}", x.len(), y.len())),
        _ => Some(format!("{path}: approved {}, this run has {}", short(a), short(b))),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 200 {
        format!("{}…", s.chars().take(200).collect::<String>())
    } else {
        s
    }
}
