//! The fingerprint as an aggregate function inside SQLite, so that rows are hashed where they
//! are read instead of being copied to the client.
//!
//! Reading every row through the driver costs more than hashing it: the driver runs SQLite on a
//! worker thread and hands results to the async task through a channel, and even in chunks the
//! rows must be rendered into one text, copied and parsed again. `runbook_fingerprint` is
//! registered on every connection `runbook` opens and is called once per row by SQLite itself:
//!
//! ```sql
//! SELECT runbook_fingerprint(lo, hi, width, count, columns, rowid, a, b, …) FROM t
//! ```
//!
//! It computes exactly what the client computed before: the SHA-256 of the row text (the values
//! as SQLite's `quote()` renders them, joined by U+001F), summed modulo 2^128, and per key range
//! and column the sum of [`cell_hash`] of each quoted value seeded with the rowid. So
//! fingerprints taken before this function existed still compare equal. The result is one blob
//! ([`decode`] reads it): row count, the sum, and the cells.
//!
//! The quoting of NULL, integers, text and blobs is written out here ([`quote`]): letting SQLite
//! format each value through `quote()` cost about a quarter of the time. A real is still quoted
//! by SQLite itself (`SELECT quote(?1)` on the same connection), because its text depends on
//! SQLite's own float formatting and parsing.
//!
//! `lo, hi, width, count` are the [`KeyLayout`] (all NULL: one cell, range 0); `columns` is how
//! many values the row has. Tables with more columns than SQLite allows function arguments pass
//! the row text, `quote()`d by SQLite and joined, as one value instead, which is split by
//! reading its quoting (a text holding a NUL is quoted whole there too, see [`quote`]).

use std::ffi::{c_int, c_void};

use libsqlite3_sys as ffi;
use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteConnection;

use super::super::localise::{cell_hash, Cells, KeyLayout};
use super::super::RowHashSum;
use crate::error::{Error, Result};

/// The function's name on the connection.
pub const NAME: &str = "runbook_fingerprint";

/// Arguments before the values: lo, hi, width, count, columns, key.
const FIXED: usize = 6;

/// Columns passed as separate values at most; above, the row text comes as one value. SQLite
/// bundled here allows 127 function arguments.
pub const MAX_SEPARATE: usize = 100;

/// Register the aggregate on `conn` (once per connection; it lives as long as the connection).
pub async fn register(conn: &mut SqliteConnection) -> Result<()> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    let name = c"runbook_fingerprint";
    // SAFETY: `db` is the open connection, held exclusively through `handle` for this call. The
    // name is a NUL-terminated static string; no application data pointer is passed, so there
    // is nothing to destroy, and the callbacks are plain functions with SQLite's signatures.
    // SQLITE_DIRECTONLY keeps the function out of triggers and views of the target database.
    let rc = unsafe {
        ffi::sqlite3_create_function_v2(
            db,
            name.as_ptr(),
            -1,
            ffi::SQLITE_UTF8 | ffi::SQLITE_DIRECTONLY,
            std::ptr::null_mut(),
            None,
            Some(step),
            Some(finish),
            None,
        )
    };
    if rc != ffi::SQLITE_OK {
        return Err(Error::db(format!("cannot register the fingerprint function in SQLite (code {rc})")));
    }
    Ok(())
}

/// What one aggregate call has seen so far. Rows of a table scan come in rowid order, so the
/// current range's sums are kept apart and added to the cells only when the range changes.
struct State {
    layout: Option<KeyLayout>,
    columns: usize,
    sum: RowHashSum,
    cells: Cells,
    range: i64,
    rows: u64,
    sums: Vec<u64>,
    error: Option<String>,
    /// The row text being built, reused from row to row.
    text: Vec<u8>,
    /// `SELECT quote(?1)` on the function's own connection, for reals; prepared on first use.
    real: *mut ffi::sqlite3_stmt,
}

impl Drop for State {
    fn drop(&mut self) {
        // SAFETY: `real` is null or a statement this state prepared and nothing else holds;
        // finalising null is a no-op.
        unsafe { ffi::sqlite3_finalize(self.real) };
    }
}

impl State {
    fn flush(&mut self) {
        if self.rows > 0 {
            self.cells.add(self.range, self.rows, &self.sums);
            self.rows = 0;
            self.sums.iter_mut().for_each(|s| *s = 0);
        }
    }

    /// One row: its key, its whole text and the values (quoted) within it.
    fn add_text<'a>(&mut self, key: i64, text: &[u8], values: impl Iterator<Item = &'a [u8]>) -> std::result::Result<(), String> {
        let range = self.layout.as_ref().map_or(0, |l| l.range_of(key));
        if range != self.range {
            self.flush();
            self.range = range;
        }
        let mut n = 0;
        for (i, v) in values.enumerate() {
            let Some(s) = self.sums.get_mut(i) else { return Err("fingerprint row has more values than columns".into()) };
            *s = s.wrapping_add(cell_hash(key, v));
            n = i + 1;
        }
        if n != self.columns {
            return Err("fingerprint row has fewer values than columns".into());
        }
        self.sum.add_digest(&Sha256::digest(text));
        self.rows += 1;
        Ok(())
    }

    /// One row of separate values: each rendered as `quote()` would, into the reused row text.
    ///
    /// # Safety
    /// `values` must be the arguments of the running callback, and `db` its connection.
    unsafe fn add_values(
        &mut self,
        db: *mut ffi::sqlite3,
        key: i64,
        values: &[*mut ffi::sqlite3_value],
    ) -> std::result::Result<(), String> {
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        let mut ends = Vec::with_capacity(values.len());
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                text.push(0x1f);
            }
            let start = text.len();
            // SAFETY: passed on from the caller.
            unsafe { quote(db, &mut self.real, *v, &mut text)? };
            ends.push((start, text.len()));
        }
        let fields = ends.iter().map(|(a, b)| &text[*a..*b]);
        let result = self.add_text(key, &text, fields);
        self.text = text;
        result
    }

    /// The result blob, little-endian: rows (u64), sum (u128), columns (u32), cells (u32), then
    /// per cell its range (i64), rows (u64) and one sum (u64) per column.
    fn encode(mut self) -> Vec<u8> {
        self.flush();
        let (rows, sum) = self.sum.parts();
        let cells = std::mem::take(&mut self.cells).into_vec();
        let mut out = Vec::with_capacity(32 + cells.len() * (16 + 8 * self.columns));
        out.extend_from_slice(&rows.to_le_bytes());
        out.extend_from_slice(&sum.to_le_bytes());
        out.extend_from_slice(&(self.columns as u32).to_le_bytes());
        out.extend_from_slice(&(cells.len() as u32).to_le_bytes());
        for c in cells {
            out.extend_from_slice(&c.range.to_le_bytes());
            out.extend_from_slice(&c.rows.to_le_bytes());
            for s in c.columns {
                out.extend_from_slice(&s.to_le_bytes());
            }
        }
        out
    }
}

/// Read the function's result back; `None` (no rows) gives an empty sum and no cells.
pub fn decode(blob: Option<&[u8]>, columns: usize) -> Result<(RowHashSum, Cells)> {
    let mut cells = Cells::default();
    let Some(blob) = blob else { return Ok((RowHashSum::default(), cells)) };
    let bad = || Error::db("malformed fingerprint result from SQLite");
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8]> {
        let s = blob.get(at..at + n).ok_or_else(bad)?;
        at += n;
        Ok(s)
    };
    let u64_of = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
    let rows = u64_of(take(8)?);
    let sum = u128::from_le_bytes(take(16)?.try_into().map_err(|_| bad())?);
    let width = u32::from_le_bytes(take(4)?.try_into().map_err(|_| bad())?) as usize;
    let count = u32::from_le_bytes(take(4)?.try_into().map_err(|_| bad())?) as usize;
    if width != columns {
        return Err(bad());
    }
    let mut sums = vec![0u64; width];
    for _ in 0..count {
        let range = u64_of(take(8)?) as i64;
        let n = u64_of(take(8)?);
        for s in sums.iter_mut() {
            *s = u64_of(take(8)?);
        }
        cells.add(range, n, &sums);
    }
    if at != blob.len() {
        return Err(bad());
    }
    Ok((RowHashSum::from_parts(rows, sum), cells))
}

/// The bytes of a text value. SQLite keeps the returned text valid until the value changes,
/// which it does not during one call of the callback.
///
/// # Safety
/// `v` must be a value SQLite passed to the running callback.
unsafe fn text<'a>(v: *mut ffi::sqlite3_value) -> Option<&'a [u8]> {
    // The text pointer first, then its length, as SQLite's documentation orders the two calls.
    let p = ffi::sqlite3_value_text(v);
    let n = ffi::sqlite3_value_bytes(v);
    (!p.is_null() && n >= 0).then(|| std::slice::from_raw_parts(p, n as usize))
}

/// # Safety
/// `v` must be a value SQLite passed to the running callback.
unsafe fn int_or_null(v: *mut ffi::sqlite3_value) -> Option<i64> {
    (ffi::sqlite3_value_type(v) != ffi::SQLITE_NULL).then(|| ffi::sqlite3_value_int64(v))
}

/// Append `v` as SQLite's `quote()` renders it: `NULL`, a decimal integer, a text in single
/// quotes with each quote doubled, a blob as `X'…'` in upper-case hex; a real through `quote()`
/// itself, with `real` caching the statement. One difference: `quote()` reads a text as a C
/// string and ends it at its first NUL byte, so `'a\0good'` and `'a\0EVIL'` would read the
/// same and a change after the NUL would go unseen. A text is kept whole here, NUL included; no
/// text without a NUL changes, nor can one read like a text that has one.
///
/// # Safety
/// `v` must be a value SQLite passed to the running callback, `db` that callback's connection,
/// and `real` null or a statement prepared on `db`.
unsafe fn quote(
    db: *mut ffi::sqlite3,
    real: &mut *mut ffi::sqlite3_stmt,
    v: *mut ffi::sqlite3_value,
    out: &mut Vec<u8>,
) -> std::result::Result<(), String> {
    // SAFETY (whole function): `v` is valid for the callback, see the caller's contract.
    match unsafe { ffi::sqlite3_value_type(v) } {
        ffi::SQLITE_NULL => out.extend_from_slice(b"NULL"),
        ffi::SQLITE_INTEGER => {
            use std::io::Write;
            let _ = write!(out, "{}", unsafe { ffi::sqlite3_value_int64(v) });
        }
        ffi::SQLITE_TEXT => {
            let t = unsafe { text(v) }.ok_or("fingerprint value is not text")?;
            out.push(b'\'');
            if t.contains(&b'\'') {
                for part in t.split(|b| *b == b'\'').enumerate() {
                    if part.0 > 0 {
                        out.extend_from_slice(b"''");
                    }
                    out.extend_from_slice(part.1);
                }
            } else {
                out.extend_from_slice(t);
            }
            out.push(b'\'');
        }
        ffi::SQLITE_BLOB => {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            // The blob pointer first, then its length; an empty blob may give a null pointer.
            let p = unsafe { ffi::sqlite3_value_blob(v) } as *const u8;
            let n = unsafe { ffi::sqlite3_value_bytes(v) }.max(0) as usize;
            let b: &[u8] = if p.is_null() || n == 0 { &[] } else { unsafe { std::slice::from_raw_parts(p, n) } };
            out.extend_from_slice(b"X'");
            for x in b {
                out.push(HEX[(x >> 4) as usize]);
                out.push(HEX[(x & 15) as usize]);
            }
            out.push(b'\'');
        }
        _ => {
            if real.is_null() {
                let sql = c"SELECT quote(?1)";
                // SAFETY: `db` is the connection running this callback; SQLite allows preparing
                // and stepping a read-only statement on it from inside a function.
                let rc = unsafe { ffi::sqlite3_prepare_v2(db, sql.as_ptr(), -1, real, std::ptr::null_mut()) };
                if rc != ffi::SQLITE_OK || real.is_null() {
                    return Err(format!("cannot prepare quote() for a real (code {rc})"));
                }
            }
            let stmt = *real;
            // SAFETY: `stmt` is our prepared statement; the value is copied by the bind, and the
            // column text is read before the statement is reset.
            unsafe {
                ffi::sqlite3_bind_double(stmt, 1, ffi::sqlite3_value_double(v));
                if ffi::sqlite3_step(stmt) != ffi::SQLITE_ROW {
                    ffi::sqlite3_reset(stmt);
                    return Err("quote() of a real returned no row".into());
                }
                let p = ffi::sqlite3_column_text(stmt, 0);
                let n = ffi::sqlite3_column_bytes(stmt, 0).max(0) as usize;
                if !p.is_null() {
                    out.extend_from_slice(std::slice::from_raw_parts(p, n));
                }
                ffi::sqlite3_reset(stmt);
            }
        }
    }
    Ok(())
}

/// xStep: hash one row into the state kept in the aggregate context.
unsafe extern "C" fn step(ctx: *mut ffi::sqlite3_context, argc: c_int, argv: *mut *mut ffi::sqlite3_value) {
    // SAFETY: SQLite passes `argc` valid value pointers in `argv` for the duration of this call.
    let args: &[*mut ffi::sqlite3_value] =
        if argv.is_null() || argc <= 0 { &[] } else { unsafe { std::slice::from_raw_parts(argv, argc as usize) } };
    if args.len() <= FIXED {
        let msg = c"runbook_fingerprint: too few arguments";
        // SAFETY: `ctx` is this call's context; the message is NUL-terminated (-1: read to NUL).
        unsafe { ffi::sqlite3_result_error(ctx, msg.as_ptr(), -1) };
        return;
    }
    // SAFETY: the aggregate context is memory SQLite owns for this aggregate, zeroed on the
    // first call and the same block on every later call; it holds one pointer to our state,
    // created here on the first row and taken back in `finish`, which SQLite always calls once
    // an aggregate has stepped (also when the statement is reset or finalised early).
    let slot = unsafe { ffi::sqlite3_aggregate_context(ctx, std::mem::size_of::<*mut State>() as c_int) } as *mut *mut State;
    if slot.is_null() {
        // SAFETY: `ctx` is this call's context.
        unsafe { ffi::sqlite3_result_error_nomem(ctx) };
        return;
    }
    // SAFETY: `slot` is valid and aligned for a pointer (SQLite's allocations are 8-aligned).
    if unsafe { (*slot).is_null() } {
        // SAFETY: as above, every argument pointer is valid during this call.
        let (lo, hi, width, count, columns) =
            unsafe { (int_or_null(args[0]), int_or_null(args[1]), int_or_null(args[2]), int_or_null(args[3]), int_or_null(args[4])) };
        let layout = match (lo, hi, width, count) {
            (Some(lo), Some(hi), Some(width), Some(count)) if width > 0 => Some(KeyLayout { key: "rowid".into(), lo, hi, width, count }),
            _ => None,
        };
        let columns = columns.unwrap_or(0).max(0) as usize;
        let state = State {
            layout,
            columns,
            sum: RowHashSum::default(),
            cells: Cells::default(),
            range: 0,
            rows: 0,
            sums: vec![0; columns],
            error: None,
            text: Vec::new(),
            real: std::ptr::null_mut(),
        };
        // SAFETY: `slot` is valid; ownership of the box passes to the aggregate context.
        unsafe { *slot = Box::into_raw(Box::new(state)) };
    }
    // SAFETY: the pointer was made by Box::into_raw above and is only used from this
    // aggregate's callbacks, which SQLite never runs concurrently for one context.
    let state = unsafe { &mut **slot };
    if state.error.is_some() {
        return;
    }
    // SAFETY: every argument pointer is valid during this call.
    let key = unsafe { ffi::sqlite3_value_int64(args[5]) };
    let values = &args[FIXED..];
    let result = if state.columns > MAX_SEPARATE {
        // SAFETY: the value is an argument of this call.
        match unsafe { text(values[0]) } {
            Some(row) => state.add_text(key, row, super::split_quoted(row)),
            None => Err("fingerprint row is not text".into()),
        }
    } else {
        // SAFETY: the values are arguments of this call, on the connection of its context.
        unsafe { state.add_values(ffi::sqlite3_context_db_handle(ctx), key, values) }
    };
    if let Err(e) = result {
        state.error = Some(e);
    }
}

/// xFinal: hand the result blob to SQLite and free the state.
unsafe extern "C" fn finish(ctx: *mut ffi::sqlite3_context) {
    // SAFETY: with size 0 SQLite returns the context `step` allocated, or NULL when no row was
    // stepped (then there is no state and the result stays NULL).
    let slot = unsafe { ffi::sqlite3_aggregate_context(ctx, 0) } as *mut *mut State;
    if slot.is_null() || unsafe { (*slot).is_null() } {
        return;
    }
    // SAFETY: the pointer came from Box::into_raw in `step`; it is taken exactly once, here, and
    // the slot cleared so that nothing can use it again.
    let state = unsafe { Box::from_raw(*slot) };
    unsafe { *slot = std::ptr::null_mut() };
    if let Some(e) = &state.error {
        let msg = format!("runbook_fingerprint: {e}");
        // SAFETY: `ctx` is this call's context; SQLite copies the message of the given length.
        unsafe { ffi::sqlite3_result_error(ctx, msg.as_ptr().cast(), msg.len() as c_int) };
        return;
    }
    let blob = state.encode();
    // SAFETY: SQLITE_TRANSIENT makes SQLite copy the bytes before this function returns and
    // frees `blob`.
    unsafe { ffi::sqlite3_result_blob64(ctx, blob.as_ptr() as *const c_void, blob.len() as u64, ffi::SQLITE_TRANSIENT()) };
}
