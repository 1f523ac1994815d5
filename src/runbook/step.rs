//! Steps: the flat `RawStep` that YAML deserialises into, and the typed `Step` / `Action`
//! that the engine runs. A step names its `kind` and carries that kind's fields beside it.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Scalar, Sp};

/// The kinds of step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Backup,
    Sql,
    Verify,
    Command,
    Manual,
    Validate,
    Http,
    Monitor,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Backup => "backup",
            Kind::Sql => "sql",
            Kind::Verify => "verify",
            Kind::Command => "command",
            Kind::Manual => "manual",
            Kind::Validate => "validate",
            Kind::Http => "http",
            Kind::Monitor => "monitor",
        }
    }

    /// The kind-specific fields this kind accepts beside the common ones.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::Backup => &[],
            Kind::Sql => &["sql", "transaction", "lock_timeout", "statement_timeout", "lock_retries"],
            Kind::Verify => &["schema", "queries", "schema_unchanged_since", "checklist"],
            Kind::Command => &["command", "shell", "env", "workdir", "queries", "read_only", "rehearse"],
            Kind::Manual => &["instructions", "checklist"],
            Kind::Validate => &["tables", "report_queries", "backfill"],
            Kind::Http => &["method", "url", "headers", "body", "expect_status", "expect_json", "read_only", "rehearse"],
            Kind::Monitor => &["interval", "duration", "checks"],
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens when the step fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Stop the run (the default); interactive runs then offer the rollback plan.
    #[default]
    Stop,
    /// Run the rollback plan at once.
    Rollback,
}

/// Where a step runs: on every target (the default), or once for a whole fleet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// On the run's database: in a fleet, once per target.
    #[default]
    Target,
    /// Once for the whole fleet (e.g. "Deploy the application"), after every target has run
    /// the steps before it and before any target runs the steps after it. A single run is a
    /// fleet of one: the step runs in it as any other.
    Fleet,
}

impl Scope {
    /// What `scope: fleet` means, as `validate` and `plan` say it.
    pub const FLEET_NOTE: &'static str =
        "`runbook fleet` runs it once for the whole fleet, after every target has run the steps before it and before any runs the steps after it; a single run runs it itself";
}

/// SQL text: one string (split into statements), a list of statements, or one of those per engine.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum SqlSource {
    Text(String),
    List(Vec<String>),
    PerEngine(PerEngineSql),
}

/// SQL given per engine; `default` is used for an engine that has no entry.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PerEngineSql {
    pub sqlite: Option<String>,
    pub postgres: Option<String>,
    pub mysql: Option<String>,
    pub default: Option<String>,
}

/// Whether a `sql` step runs in one transaction: for every engine, or per engine.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Transaction {
    All(bool),
    PerEngine(PerEngineTransaction),
}

/// `transaction` per engine; an engine without an entry uses `default` (true if absent).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PerEngineTransaction {
    pub sqlite: Option<bool>,
    pub postgres: Option<bool>,
    pub mysql: Option<bool>,
    pub default: Option<bool>,
}

impl<'de> Deserialize<'de> for Transaction {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Transaction;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("true, false, or a map per engine such as {postgres: false}")
            }
            fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Transaction, E> {
                Ok(Transaction::All(b))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Transaction, A::Error> {
                PerEngineTransaction::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Transaction::PerEngine)
            }
        }
        d.deserialize_any(V)
    }
}

impl Transaction {
    pub fn for_engine(&self, engine: crate::db::Engine) -> bool {
        match self {
            Transaction::All(b) => *b,
            Transaction::PerEngine(p) => match engine {
                crate::db::Engine::Sqlite => p.sqlite,
                crate::db::Engine::Postgres => p.postgres,
                crate::db::Engine::Mysql => p.mysql,
            }
            .or(p.default)
            .unwrap_or(true),
        }
    }
}

/// A command: an argument vector run without a shell, or one line for `shell: true`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum CommandLine {
    Argv(Vec<String>),
    Line(String),
}

/// One schema assertion of a `verify` step.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaCheck {
    /// The table (alone: the table itself is checked).
    pub table: Option<String>,
    /// A column of `table`.
    pub column: Option<String>,
    /// An index (optionally on `table`).
    pub index: Option<String>,
    /// A view.
    pub view: Option<String>,
    /// A trigger (optionally on `table`).
    pub trigger: Option<String>,
    /// A function or procedure: `name`, or `name(argument types)` for one overload.
    pub function: Option<String>,
    /// A constraint (optionally on `table`): CHECK, FOREIGN KEY, UNIQUE, PRIMARY KEY, ….
    pub constraint: Option<String>,
    /// Whether the object must exist (default true). With `grantee`: whether the grantee holds
    /// the `privileges` (false: holds none of them).
    pub exists: Option<bool>,
    /// Column type, compared case-insensitively with common aliases (varchar = character
    /// varying); for a constraint, its kind: `check`, `foreign key`, `unique`, `primary key`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// Trigger timing: `BEFORE`, `AFTER` or `INSTEAD OF`.
    pub timing: Option<String>,
    /// Trigger events, all of which must fire it: `[INSERT, UPDATE]`.
    pub events: Option<Vec<String>>,
    /// Text the object's definition must contain (case and spacing ignored), as the engine
    /// renders it: an index's expression or `WHERE` predicate, a function's body, a
    /// constraint's condition, a view's query.
    pub contains: Option<String>,
    /// With `table`, `view` or `function`: a role (PostgreSQL; `PUBLIC` for everyone) or
    /// account (MariaDB/MySQL: `'user'@'host'`, or the user name alone) that holds `privileges`.
    pub grantee: Option<String>,
    /// The privileges `grantee` must hold (with `exists: false`: must not hold), e.g. `[SELECT]`.
    pub privileges: Option<Vec<String>>,
    /// Column nullability.
    pub nullable: Option<bool>,
    /// Index uniqueness.
    pub unique: Option<bool>,
    /// With `table` and `column`: nothing (index, view, trigger, CHECK or FOREIGN KEY
    /// constraint, generated column, policy) may use the column except the objects listed here.
    pub no_dependents_except: Option<Vec<String>>,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Op {
    #[default]
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// A query assertion: the query's first column of its first row, compared with `expect`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryCheck {
    pub name: Option<String>,
    pub sql: Sp<SqlSource>,
    #[serde(default)]
    pub op: Op,
    /// Expected value, required; `expect: null` expects SQL NULL. Numbers compare numerically.
    /// Absent and `null` are told apart so that a forgotten `expect` is an error, not a silent
    /// expectation of NULL.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub expect: Option<Option<Scalar>>,
}

impl QueryCheck {
    /// The expected value: `None` expects SQL NULL.
    pub fn expected(&self) -> Option<&Scalar> {
        self.expect.as_ref().and_then(Option::as_ref)
    }
}

/// A field that is written, possibly as `null`: `Some(None)` for `null`, `None` when absent.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Which schema snapshot a `verify` compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// The snapshot this run took before its first step.
    Start,
    /// The snapshot taken before the change plan: this run's if it ran the plan, otherwise the
    /// latest recorded change-plan run of this runbook against the same target (or `--baseline`).
    Plan,
}

/// A report query of a `validate` step: it must run without error.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    pub name: String,
    pub sql: Sp<SqlSource>,
}

/// An intended change of existing data, declared on a `validate` step.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backfill {
    /// The table written; one of the step's `tables`.
    pub table: String,
    /// The columns the change may write in existing rows.
    pub columns: Vec<String>,
    /// SQL condition naming the rows it may write, true of them after the change (e.g.
    /// `id <= 100`); without it, any existing row.
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub rows: Option<String>,
}

/// An assertion on an HTTP JSON response, by JSON pointer (RFC 6901).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonCheck {
    pub pointer: String,
    /// The value at `pointer` must equal this JSON value.
    pub equals: Option<serde_json::Value>,
    /// Whether `pointer` must resolve (default true when nothing else is asked).
    pub exists: Option<bool>,
    /// The value (as text) must match this regular expression.
    pub matches: Option<String>,
}

/// One check of a `monitor` step: exactly one of `query`, `http` or `log`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorCheck {
    pub name: String,
    /// A query whose scalar result is compared with `max` / `min`.
    pub query: Option<Sp<SqlSource>>,
    /// A URL that must answer with `expect_status` (default 200).
    pub http: Option<String>,
    /// With `http`: request headers, e.g. `Authorization: Bearer ${token}`; values may use
    /// secret variables and are never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    pub expect_status: Option<u16>,
    /// A log file: the number of lines matching `pattern` written since the step began.
    pub log: Option<String>,
    pub pattern: Option<String>,
    /// Fail when the sample is greater than this.
    pub max: Option<f64>,
    /// Fail when the sample is less than this.
    pub min: Option<f64>,
}

/// A step as written in YAML. Which fields are allowed depends on `kind`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// Unique within the runbook; used by `--skip`, the journal and reports.
    pub id: Sp<String>,
    /// The step's name, as in the ticket.
    pub name: Sp<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub kind: Sp<Kind>,
    /// Upper bound on the step's run time, e.g. `30s`, `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Sp<String>>,
    /// `stop` (default) or `rollback`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<OnFailure>,
    /// `target` (default) or `fleet`: once for the whole fleet (`command` and `manual` steps of
    /// the change plan only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Sp<Scope>>,
    /// (change-plan steps) The rollback steps that undo this step, e.g. `[drop-column]`, or
    /// `none` for a point of no return. Without it, `sql` steps are paired with the rollback
    /// `sql` steps that drop what they create (and create what they drop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<Sp<super::undo::UndoSpec>>,
    /// (rollback steps) Run the step only when this holds on the live schema, e.g.
    /// `{column_exists: users.first_name}`; otherwise it is skipped, and the journal says why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Sp<super::when::Condition>>,
    /// (http, command) What the step does in a rehearsal: `run`, `skip`, or an alternate URL
    /// or command. Default: GET/HEAD and `read_only: true` steps run, anything else is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rehearse: Option<Sp<super::rehearse::RehearseSpec>>,
    /// (http, command) The step changes nothing anywhere, so a rehearsal may run it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,

    /// (sql) The statements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<Sp<SqlSource>>,
    /// (sql) Run in one transaction (default true), or per engine: `{postgres: false}`.
    /// `false` is needed for e.g. CREATE INDEX CONCURRENTLY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<Transaction>,
    /// (sql) How long to wait for a lock before giving up and retrying (default 500ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_timeout: Option<Sp<String>>,
    /// (sql) Longest one statement may run (default 5m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_timeout: Option<Sp<String>>,
    /// (sql) How many times a lock timeout is retried with backoff (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_retries: Option<u32>,

    /// (verify) Schema assertions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Vec<SchemaCheck>>,
    /// (verify, command) Query assertions; on a command step they run after the command succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queries: Option<Vec<QueryCheck>>,
    /// (verify) Compare the whole schema with a snapshot: `start` or `plan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_unchanged_since: Option<Baseline>,

    /// (command) The program and its arguments, or one shell line with `shell: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Sp<CommandLine>>,
    /// (command) Run through `sh -c` (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<bool>,
    /// (command) Extra environment variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    /// (command) Working directory (default: the runbook's directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,

    /// (manual) What the operator must do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// (manual, verify) Items the operator confirms one by one (on verify: after the assertions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checklist: Option<Vec<String>>,

    /// (validate) Tables fingerprinted at run start and compared now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<String>>,
    /// (validate) Queries that must still run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_queries: Option<Vec<ReportQuery>>,
    /// (validate) Data changes the change intends, such as a backfill: differences in these
    /// columns of these rows are checked against the declaration instead of failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<Vec<Backfill>>,

    /// (http) Method (default GET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// (http) URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Sp<String>>,
    /// (http) Request headers; values may use secret vars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// (http) Request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// (http) Expected status (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<u16>,
    /// (http) Assertions on the JSON response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_json: Option<Vec<JsonCheck>>,

    /// (monitor) Time between samples (default 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Sp<String>>,
    /// (monitor) How long to watch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Sp<String>>,
    /// (monitor) What to sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<MonitorCheck>>,
}

/// A step ready to run: common fields plus its typed action.
#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub kind: Kind,
    pub timeout: Option<Sp<String>>,
    pub on_failure: OnFailure,
    pub scope: Scope,
    pub action: Action,
    pub pos: super::Pos,
    /// (http, command) What a rehearsal does with the step.
    pub rehearse: Option<super::rehearse::Rehearse>,
    /// (rollback steps) The condition on the live schema under which the step runs.
    pub when: Option<super::when::Condition>,
}

/// What a step does, one variant per kind.
#[derive(Debug, Clone)]
pub enum Action {
    Backup,
    Sql(SqlAction),
    Verify(VerifyAction),
    Command(CommandAction),
    Manual(ManualAction),
    Validate(ValidateAction),
    Http(HttpAction),
    Monitor(MonitorAction),
}

#[derive(Debug, Clone)]
pub struct SqlAction {
    pub sql: Sp<SqlSource>,
    pub transaction: Transaction,
    pub lock_timeout: Option<Sp<String>>,
    pub statement_timeout: Option<Sp<String>>,
    pub lock_retries: u32,
}

#[derive(Debug, Clone, Default)]
pub struct VerifyAction {
    pub schema: Vec<SchemaCheck>,
    pub queries: Vec<QueryCheck>,
    pub unchanged_since: Option<Baseline>,
    pub checklist: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct CommandAction {
    pub command: Sp<CommandLine>,
    pub queries: Vec<QueryCheck>,
    pub shell: bool,
    pub env: BTreeMap<String, String>,
    pub workdir: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ManualAction {
    pub instructions: Option<String>,
    pub checklist: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ValidateAction {
    pub tables: Vec<String>,
    pub report_queries: Vec<ReportQuery>,
    pub backfill: Vec<Backfill>,
}

#[derive(Debug, Clone)]
pub struct HttpAction {
    pub method: String,
    pub url: Sp<String>,
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    pub expect_status: u16,
    pub expect_json: Vec<JsonCheck>,
}

#[derive(Debug, Clone)]
pub struct MonitorAction {
    pub interval: Sp<String>,
    pub duration: Sp<String>,
    pub checks: Vec<MonitorCheck>,
}

/// Defaults for `sql` steps on servers.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_millis(500);
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(300);
pub const DEFAULT_LOCK_RETRIES: u32 = 5;
