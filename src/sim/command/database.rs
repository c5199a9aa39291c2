//! Verbs on the replicated database: clients write rows now, or at a rate.

use super::Ctx;
use crate::sim::validate;

/// Clients write `rows` rows to the primary now.
pub(super) fn write(cx: &mut Ctx, set: Option<&str>, rows: u64) -> Result<(), String> {
    validate::write_rows(rows)?;
    crate::sim::database::command_write(cx.world, set, rows)
}

/// Clients write continuously at `per_second` rows per second.
pub(super) fn set_rate(cx: &mut Ctx, set: Option<&str>, per_second: f64) -> Result<(), String> {
    validate::write_rate(per_second)?;
    crate::sim::database::command_rate(cx.world, set, per_second)
}
