//! A change ticket as read from Redmine, whatever the source: its metadata, its description and
//! the sections that carry the plans ("Change Plan", "Rollback Plan").

use serde_json::Value;

/// What `import` needs to know about a ticket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeTicket {
    pub id: Option<String>,
    pub url: Option<String>,
    pub tracker: Option<String>,
    pub subject: Option<String>,
    pub owner: Option<String>,
    pub status: Option<String>,
    pub priority: Option<String>,
    pub start_date: Option<String>,
    pub due_date: Option<String>,
    pub estimate: Option<String>,
    pub system: Option<String>,
    pub change_type: Option<String>,
    pub risk: Option<String>,
    pub impact: Option<String>,
    pub description: String,
    pub reason: String,
    pub change_plan: String,
    pub rollback_plan: String,
}

/// Section titles a ticket's text is split on (compared without case, `#`, `h2.` or a colon).
pub const SECTIONS: &[&str] = &["description", "reason for change", "change plan", "rollback plan"];

/// The title of a section heading line, if `line` is one of `known`.
pub fn heading<'a>(line: &str, known: &[&'a str]) -> Option<&'a str> {
    let mut t = line.trim();
    t = t.trim_start_matches('#').trim();
    if let Some(rest) =
        t.strip_prefix(|c: char| c == 'h').and_then(|r| r.strip_prefix(|c: char| c.is_ascii_digit())).and_then(|r| r.strip_prefix(". "))
    {
        t = rest.trim();
    }
    let t = t.trim_matches('*').trim_end_matches(':').trim().to_lowercase();
    known.iter().copied().find(|k| *k == t)
}

/// Split text on the known section headings: (title, body) pairs, with `None` for text that
/// comes before the first heading.
pub fn sections<'a>(text: &str, known: &[&'a str]) -> Vec<(Option<&'a str>, String)> {
    let mut out: Vec<(Option<&'a str>, String)> = vec![(None, String::new())];
    for line in text.lines() {
        if let Some(h) = heading(line, known) {
            out.push((Some(h), String::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    out.into_iter().map(|(h, b)| (h, b.trim().to_string())).filter(|(h, b)| h.is_some() || !b.is_empty()).collect()
}

/// One numbered item of a plan: its text, continuation lines included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanItem {
    pub number: u32,
    pub text: String,
}

/// The numbered items of a plan (`1. …`, `2) …`); text before the first item is its title.
pub fn numbered_items(plan: &str) -> Vec<PlanItem> {
    let re = regex::Regex::new(r"^\s*(?:[*-]\s*)?(\d{1,3})[.)]\s+(.*)$").expect("static regex");
    let mut items: Vec<PlanItem> = Vec::new();
    for line in plan.lines() {
        if let Some(c) = re.captures(line) {
            items.push(PlanItem { number: c[1].parse().unwrap_or(0), text: c[2].trim().to_string() });
        } else if let Some(last) = items.last_mut() {
            let l = line.trim_end();
            if !l.trim().is_empty() {
                last.text.push('\n');
                last.text.push_str(l.trim_start_matches("    ").trim_start_matches('\t'));
            }
        }
    }
    items
}

impl ChangeTicket {
    /// Read an issue as the REST API returns it (`GET /issues/N.json`). The plans come from
    /// custom fields named like the sections, else from the description's sections.
    pub fn from_rest(issue: &Value, web_url: Option<String>) -> ChangeTicket {
        let s = |p: &str| {
            issue.pointer(p).and_then(|v| match v {
                Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
        };
        let mut t = ChangeTicket {
            id: s("/id"),
            url: web_url,
            tracker: s("/tracker/name"),
            subject: s("/subject"),
            owner: s("/author/name"),
            status: s("/status/name"),
            priority: s("/priority/name"),
            start_date: s("/start_date"),
            due_date: s("/due_date"),
            estimate: issue.pointer("/estimated_hours").and_then(Value::as_f64).map(hours),
            ..ChangeTicket::default()
        };
        for f in issue.get("custom_fields").and_then(Value::as_array).into_iter().flatten() {
            let name = f.get("name").and_then(Value::as_str).unwrap_or_default().trim().to_lowercase();
            let value = match f.get("value") {
                Some(Value::String(v)) => v.trim().to_string(),
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "),
                _ => String::new(),
            };
            if value.is_empty() {
                continue;
            }
            match name.as_str() {
                "change type" => t.change_type = Some(value),
                "system" => t.system = Some(value),
                "risk level" | "risk" => t.risk = Some(value),
                "impact" => t.impact = Some(value),
                "reason for change" => t.reason = value,
                "change plan" => t.change_plan = value,
                "rollback plan" => t.rollback_plan = value,
                _ => {}
            }
        }
        let description = s("/description").unwrap_or_default().replace("\r\n", "\n");
        t.absorb_description(&description);
        t
    }

    /// Take the description, and any plan the custom fields did not give, from description text.
    pub fn absorb_description(&mut self, text: &str) {
        for (title, body) in sections(text, SECTIONS) {
            match title {
                None | Some("description") => {
                    if !self.description.is_empty() && !body.is_empty() {
                        self.description.push_str("\n\n");
                    }
                    self.description.push_str(&body);
                }
                Some("reason for change") if self.reason.is_empty() => self.reason = body,
                Some("change plan") if self.change_plan.is_empty() => self.change_plan = body,
                Some("rollback plan") if self.rollback_plan.is_empty() => self.rollback_plan = body,
                _ => {}
            }
        }
    }
}

/// Redmine's estimated hours as the page shows them: 1.0 → "1:00 h".
fn hours(h: f64) -> String {
    let total = (h * 60.0).round() as i64;
    format!("{}:{:02} h", total / 60, total % 60)
}
