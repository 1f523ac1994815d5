//! `manual`: instructions for the operator and a checklist confirmed item by item, with an
//! optional note. Every confirmation records who gave it and how.

use crate::error::{Error, Result};
use crate::exec::Runner;
use crate::journal::Event;
use crate::load::vars::Vars;
use crate::runbook::duration::human;
use crate::runbook::{ManualAction, Step};
use crate::ui::{panel, ItemAnswer};

pub fn describe(a: &ManualAction, vars: &Vars) -> String {
    let mut s = String::new();
    if let Some(i) = &a.instructions {
        s.push_str(vars.mask(i).trim_end());
        s.push('\n');
    }
    for item in &a.checklist {
        s.push_str(&format!("[ ] {}\n", vars.mask(item)));
    }
    s.trim_end().to_string()
}

pub async fn run(r: &mut Runner, step: &Step, a: &ManualAction) -> Result<()> {
    confirm_items(r, step, &a.checklist).await
}

/// Ask the operator to confirm each item, then for an optional note; fails if any item is
/// left unconfirmed.
pub async fn confirm_items(r: &mut Runner, step: &Step, checklist: &[String]) -> Result<()> {
    let mut unconfirmed = Vec::new();
    for item in checklist {
        let item = r.vars.mask(item);
        let asked = std::time::Instant::now();
        let mut waited = false;
        let answer = loop {
            let asked_item = item.clone();
            match r.ask(move |p| p.checklist_item(&asked_item)).await? {
                ItemAnswer::NotYet => {
                    // Still in progress: the prompt comes back, and the wait goes on record.
                    waited = true;
                    panel::info(format!("not yet: {item} (asking again)"));
                }
                done => break done,
            }
        };
        if waited {
            let text = format!("waited {} for: {item}", human(asked.elapsed()));
            r.journal.record(Event::Note { step_id: step.id.clone(), by: r.opts.operator.clone(), text })?;
        }
        let confirmed = answer == ItemAnswer::Yes;
        if confirmed {
            panel::ok(format!("confirmed: {item}"));
        } else {
            panel::fail(format!("not confirmed: {item}"));
            unconfirmed.push(item.clone());
        }
        r.journal.record(Event::ChecklistItem {
            step_id: step.id.clone(),
            item,
            confirmed,
            by: r.opts.operator.clone(),
            how: r.prompter.how().into(),
        })?;
    }
    if let Some(note) = r.ask(|p| p.note("Note for the record (optional)")).await? {
        r.journal.record(Event::Note { step_id: step.id.clone(), by: r.opts.operator.clone(), text: note })?;
    }
    if unconfirmed.is_empty() {
        Ok(())
    } else {
        Err(Error::failed(format!("{} checklist item(s) not confirmed: {}", unconfirmed.len(), unconfirmed.join("; "))))
    }
}
