//! Divergence: a volume holding rows with the same numbers written through two
//! servers (two processes of one identity: split brain) is reported, once.

use super::{Databases, VolumeData};
use crate::sim::event::{EventKind, SimEvent};
use crate::sim::ops::Cluster;
use bevy::prelude::*;
use std::collections::BTreeMap;

/// Reports each volume that diverged since the last pass, in volume-name order.
pub(super) fn report(cluster: &mut Cluster, dbs: &Databases, data: &mut Query<&mut VolumeData>) {
    let mut found = Vec::new();
    for (vname, &ve) in cluster.index.volumes.sorted() {
        let Ok(mut d) = data.get_mut(ve) else {
            continue;
        };
        if d.diverged {
            continue;
        }
        let Some(by_writer) = conflicting_writers(&d) else {
            continue;
        };
        d.diverged = true;
        let parts: Vec<String> = by_writer
            .iter()
            .map(|(w, n)| format!("{n} rows through {}", dbs.writer_label(*w)))
            .collect();
        found.push(
            SimEvent::new(
                EventKind::DataDiverged,
                format!("pv/{vname}"),
                format!(
                    "two servers with one identity wrote conflicting rows with the same numbers: {}",
                    parts.join(", ")
                ),
            )
            .volume(vname.clone()),
        );
    }
    for ev in found {
        cluster.emit(ev);
    }
}

/// Rows per writer on a volume where two writers wrote rows with the same
/// numbers; None while the volume holds one consistent history.
pub(super) fn conflicting_writers(d: &VolumeData) -> Option<BTreeMap<u32, u64>> {
    let overlapping = d.ranges.iter().enumerate().any(|(i, a)| {
        d.ranges[i + 1..]
            .iter()
            .any(|b| a.writer != b.writer && a.from <= b.to && b.from <= a.to)
    });
    if !overlapping {
        return None;
    }
    let mut by_writer: BTreeMap<u32, u64> = BTreeMap::new();
    for r in &d.ranges {
        *by_writer.entry(r.writer).or_default() += r.len();
    }
    Some(by_writer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_with_the_same_numbers_from_two_writers_diverge() {
        let mut d = VolumeData::default();
        d.append(0, 1, 10);
        d.append(1, 11, 15);
        assert_eq!(
            conflicting_writers(&d),
            None,
            "one history, two writers in turn"
        );
        d.append(0, 12, 13);
        assert_eq!(
            conflicting_writers(&d),
            Some(BTreeMap::from([(0, 12), (1, 5)]))
        );
    }
}
