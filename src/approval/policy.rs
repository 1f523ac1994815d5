//! `approvals:` in a runbook: how many signed approvals a run needs, optionally by the ticket's
//! risk level.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::runbook::Ticket;

/// How many approvals from distinct principals `run` and `rollback` need.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Approvals needed when the ticket's risk level has no entry in `by_risk`.
    #[serde(default)]
    pub required: u32,
    /// Approvals needed per ticket risk level (`ticket.risk`), e.g. `High: 2`; matched without
    /// regard to case.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_risk: BTreeMap<String, u32>,
}

impl Policy {
    /// The number of approvals needed for this ticket, and why.
    pub fn required_for(&self, ticket: Option<&Ticket>) -> (u32, String) {
        let risk = ticket.and_then(|t| t.risk.as_ref()).map(|r| r.0.trim().to_string());
        if let Some(risk) = &risk {
            if let Some((level, n)) = self.by_risk.iter().find(|(k, _)| k.eq_ignore_ascii_case(risk)) {
                return (*n, format!("approvals.by_risk.{level} (the ticket's risk is {risk})"));
            }
        }
        (self.required, "approvals.required".into())
    }
}
