//! Redmine, where change tickets live: reading a ticket (from its page text or the REST API)
//! into a [`ChangeTicket`], turning that into a runbook skeleton, and posting a run's evidence
//! back to the issue.

pub mod approvals;
pub mod client;
pub mod page;
pub mod post;
pub mod skeleton;
pub mod ticket;

pub use client::Client;
pub use ticket::ChangeTicket;
