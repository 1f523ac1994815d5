//! Reading a change ticket from the text of its Redmine issue page (as copied from a browser):
//! "Tracker #N", the subject, "Added by …", "Field:" / value pairs and the text sections.

use super::ticket::{heading, ChangeTicket};

/// Lines that end the ticket's text on the page (the history and the page's own chrome).
const END: &[&str] =
    &["no data to display", "history", "actions", "also available in", "related issues", "associated revisions", "files", "subtasks"];

/// Headings whose text is part of the ticket.
const TEXT: &[&str] = &["description", "reason for change", "change plan", "rollback plan"];

pub fn parse(text: &str) -> ChangeTicket {
    let text = text.replace("\r\n", "\n");
    let lines: Vec<&str> = text.lines().collect();
    let mut t = ChangeTicket::default();
    let title = regex::Regex::new(r"^(.+?)\s+#(\d+)\s*$").expect("static regex");
    let added = regex::Regex::new(r"^Added by (.+?) (?:(?:about|over|almost|less than) )?(?:a|an|\d+) \w+ ago").expect("static regex");

    let mut i = 0;
    // The header: "Tracker #N", then the status class, then the subject.
    while i < lines.len() {
        if let Some(c) = title.captures(lines[i].trim()) {
            t.tracker = Some(c[1].trim().to_string());
            t.id = Some(c[2].to_string());
            i += 1;
            while i < lines.len() {
                let l = lines[i].trim();
                i += 1;
                if l.is_empty() || l.eq_ignore_ascii_case("open") || l.eq_ignore_ascii_case("closed") {
                    continue;
                }
                t.subject = Some(l.to_string());
                break;
            }
            break;
        }
        i += 1;
    }
    if t.id.is_none() {
        i = 0; // not a page with a header: read fields and sections from the start
    }

    // Fields: "Name:" with the value on the next non-empty line, or "Name: value".
    let mut section: Option<&str> = None;
    let mut description = String::new();
    while i < lines.len() {
        let raw = lines[i];
        let l = raw.trim();
        i += 1;
        if let Some(c) = added.captures(l) {
            t.owner = Some(c[1].trim().to_string());
            continue;
        }
        let lower = l.trim_end_matches(':').to_lowercase();
        if END.iter().any(|e| lower == *e) && !l.is_empty() {
            if section.is_some() {
                break;
            }
            continue;
        }
        if let Some(h) = heading(l, TEXT) {
            section = Some(h);
            if h != "description" {
                description.push_str(&format!("\n## {}\n", title_case(h)));
            }
            continue;
        }
        if section.is_some() {
            description.push_str(raw);
            description.push('\n');
            continue;
        }
        if let Some((name, value)) = field(l, &lines, &mut i) {
            let value = value.trim().to_string();
            match name.to_lowercase().as_str() {
                "status" => t.status = Some(value),
                "priority" => t.priority = Some(value),
                "start date" => t.start_date = Some(value),
                "due date" => t.due_date = Some(strip_note(&value)),
                "estimated time" => t.estimate = Some(value),
                "change type" => t.change_type = Some(value),
                "system" => t.system = Some(value),
                "risk level" | "risk" => t.risk = Some(value),
                "impact" => t.impact = Some(value),
                _ => {}
            }
        }
    }
    t.absorb_description(&description);
    t
}

/// A "Name:" line and its value (on the same line or the next non-empty one).
fn field<'a>(l: &'a str, lines: &[&'a str], i: &mut usize) -> Option<(&'a str, String)> {
    let (name, rest) = l.split_once(':')?;
    let name = name.trim();
    if name.is_empty() || name.len() > 40 || name.contains("  ") {
        return None;
    }
    if !rest.trim().is_empty() {
        return Some((name, rest.trim().to_string()));
    }
    while *i < lines.len() && lines[*i].trim().is_empty() {
        *i += 1;
    }
    let value = lines.get(*i)?.trim().to_string();
    *i += 1;
    Some((name, value))
}

/// "11/03/2025 (13 days late)" → "11/03/2025".
fn strip_note(v: &str) -> String {
    match v.find(" (") {
        Some(p) if v.ends_with(')') => v[..p].trim().to_string(),
        _ => v.to_string(),
    }
}

fn title_case(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}
