//! Fleets: one runbook across many databases, in waves, with one piece of evidence.
//!
//! Every target runs as an ordinary run of the same binary (a child process) in its own run
//! folder under the fleet folder, so `resume`, `report` and `audit verify` work on it unchanged
//! and one target's crash cannot take the others with it. The fleet itself keeps only its own
//! hash-chained record (`fleet.jsonl`) and a Merkle root over the targets' journal seals.

pub mod bake;
pub mod collect;
pub mod journal;
pub mod merkle;
pub mod orchestrate;
pub mod post;
pub mod report;
pub mod state;
pub mod step;
pub mod targets;
pub mod verify;
pub mod waves;

/// The fleet record in a fleet folder.
pub const FILE_NAME: &str = "fleet.jsonl";

/// Whether `dir` is a fleet folder rather than a run folder.
pub fn is_fleet_dir(dir: &std::path::Path) -> bool {
    dir.join(FILE_NAME).is_file()
}
