//! The journal of writes: which pods, processes, attachments, claims and
//! volumes had their watched component written, added or removed, in the
//! order it happened. A controller that wants "what changed since my last
//! pass" reads it from its own cursor instead of walking every entity with a
//! `Changed<_>` filter, so a pass costs what changed, not what exists.
//!
//! A trail lists candidates (an entity may appear more than once, or for a
//! write that another write undid); the reader keeps those its `Changed<_>`
//! or `Added<_>` query still matches, which is exactly what walking that
//! query would have yielded. Writes are noted where they happen (the code
//! that takes a `Mut<_>` of a watched component); additions and removals by
//! observers, which see every spawn and despawn. Debug builds compare each
//! reader's answer with the walk (`debug_same`).

use super::{Attachment, ClaimStatus, Pod, PodStatus, Process, Volume, VolumeStatus};
use bevy::ecs::entity::Entity;
use bevy::prelude::{Add, App, On, Remove, ResMut, Resource};

/// One trail: entities in the order they were noted. Old entries are
/// dropped once every reader has passed them (`compact`, once per pass);
/// a reader that fell behind is told so and looks at everything.
#[derive(Debug, Default)]
pub struct Trail {
    /// The absolute position of `log[0]`.
    base: usize,
    /// The length at the last compaction: what the next one drops.
    mark: usize,
    log: Vec<Entity>,
}

impl Trail {
    /// Notes that `e` was written (or added, or removed).
    pub fn note(&mut self, e: Entity) {
        self.log.push(e);
    }

    /// The absolute position after the last entry.
    pub fn end(&self) -> usize {
        self.base + self.log.len()
    }

    /// The entities noted since `cursor` (an absolute position) and moves
    /// `cursor` to the end; None when some of them were already dropped (the
    /// reader must then look at every entity).
    pub fn since(&self, cursor: &mut usize) -> Option<&[Entity]> {
        let from = *cursor;
        *cursor = self.end();
        if from < self.base {
            return None;
        }
        Some(&self.log[(from - self.base).min(self.log.len())..])
    }

    /// Drops the entries noted before the previous compaction. Every system
    /// of the simulation's schedule runs once per pass, so a reader that ran
    /// in the last pass has read past them.
    fn compact(&mut self) {
        let drop = self.mark.saturating_sub(self.base).min(self.log.len());
        self.log.drain(..drop);
        self.base += drop;
        self.mark = self.end();
    }
}

/// The trails, one per watched component (see the module documentation).
#[derive(Resource, Debug, Default)]
pub struct Journal {
    /// `PodStatus` written or added (a new pod's status is added with it).
    pub pods: Trail,
    /// `Process` written or added.
    pub procs: Trail,
    /// `Process` removed (the process exited or was killed).
    pub procs_gone: Trail,
    /// `Attachment` written or added.
    pub atts: Trail,
    /// `Attachment` removed.
    pub atts_gone: Trail,
    /// `ClaimStatus` written, added or removed.
    pub claims: Trail,
    /// `VolumeStatus` written, or a `Volume` added.
    pub volumes: Trail,
}

impl Journal {
    /// How many writes, additions and removals were noted so far, in every
    /// trail: it moves when any watched component changes.
    pub fn noted(&self) -> usize {
        [
            &self.pods,
            &self.procs,
            &self.procs_gone,
            &self.atts,
            &self.atts_gone,
            &self.claims,
            &self.volumes,
        ]
        .iter()
        .map(|t| t.end())
        .sum()
    }
    /// Once per pass, before it runs: see `Trail::compact`.
    pub fn compact(&mut self) {
        for t in [
            &mut self.pods,
            &mut self.procs,
            &mut self.procs_gone,
            &mut self.atts,
            &mut self.atts_gone,
            &mut self.claims,
            &mut self.volumes,
        ] {
            t.compact();
        }
    }
}

/// The entities noted in `trail` since `cursor`, each once, in the order
/// first noted, and moves `cursor` to the end; None when the reader fell
/// behind (it must walk every entity). The reader keeps those its
/// `Changed<_>` or `Added<_>` query matches.
pub fn candidates(trail: &Trail, cursor: &mut usize) -> Option<Vec<Entity>> {
    let noted = trail.since(cursor)?;
    let mut seen = bevy::ecs::entity::EntityHashSet::default();
    Some(noted.iter().copied().filter(|&e| seen.insert(e)).collect())
}

/// In debug builds, checks that the journal's answer is the walk's (as sets:
/// the order of a walk is the storage's, never relied upon).
pub fn debug_same(what: &str, from_journal: &[Entity], walked: impl FnOnce() -> Vec<Entity>) {
    if cfg!(debug_assertions) {
        let mut a = from_journal.to_vec();
        let mut b = walked();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b, "the journal of {what} differs from a walk over them");
    }
}

/// The journal and the observers that note additions and removals.
pub fn plugin(app: &mut App) {
    app.init_resource::<Journal>()
        .add_observer(|ev: On<Add, PodStatus>, mut j: ResMut<Journal>| j.pods.note(ev.entity))
        .add_observer(|ev: On<Add, Pod>, mut j: ResMut<Journal>| j.pods.note(ev.entity))
        .add_observer(|ev: On<Add, Process>, mut j: ResMut<Journal>| j.procs.note(ev.entity))
        .add_observer(|ev: On<Remove, Process>, mut j: ResMut<Journal>| {
            j.procs_gone.note(ev.entity)
        })
        .add_observer(|ev: On<Add, Attachment>, mut j: ResMut<Journal>| j.atts.note(ev.entity))
        .add_observer(|ev: On<Remove, Attachment>, mut j: ResMut<Journal>| {
            j.atts_gone.note(ev.entity)
        })
        .add_observer(|ev: On<Add, ClaimStatus>, mut j: ResMut<Journal>| j.claims.note(ev.entity))
        // A claim that goes leaves the sets of claims kept from the trail.
        .add_observer(|ev: On<Remove, ClaimStatus>, mut j: ResMut<Journal>| {
            j.claims.note(ev.entity)
        })
        .add_observer(|ev: On<Add, VolumeStatus>, mut j: ResMut<Journal>| j.volumes.note(ev.entity))
        .add_observer(|ev: On<Add, Volume>, mut j: ResMut<Journal>| j.volumes.note(ev.entity));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(i: u32) -> Entity {
        Entity::from_raw_u32(i).expect("a valid index")
    }

    #[test]
    fn a_reader_sees_what_was_noted_since_its_last_read() {
        let mut t = Trail::default();
        let mut cursor = 0;
        t.note(e(1));
        t.note(e(2));
        assert_eq!(t.since(&mut cursor), Some(&[e(1), e(2)][..]));
        assert_eq!(t.since(&mut cursor), Some(&[][..]));
        t.note(e(3));
        assert_eq!(t.since(&mut cursor), Some(&[e(3)][..]));
    }

    #[test]
    fn a_reader_that_fell_behind_the_compaction_looks_at_everything() {
        let mut t = Trail::default();
        let (mut fast, mut slow) = (0, 0);
        t.note(e(1));
        t.compact();
        t.note(e(2));
        assert_eq!(t.since(&mut fast), Some(&[e(1), e(2)][..]));
        // Entries noted before the previous compaction go at the next one.
        t.compact();
        t.note(e(3));
        assert_eq!(t.since(&mut fast), Some(&[e(3)][..]));
        assert_eq!(t.since(&mut slow), None, "e(1) was dropped");
        assert_eq!(t.since(&mut slow), Some(&[][..]), "caught up");
    }

    #[test]
    fn candidates_come_once_each_in_the_order_first_noted() {
        let mut t = Trail::default();
        for i in [3, 1, 3, 2, 1] {
            t.note(e(i));
        }
        let mut cursor = 0;
        assert_eq!(candidates(&t, &mut cursor), Some(vec![e(3), e(1), e(2)]));
        assert_eq!(candidates(&t, &mut cursor), Some(vec![]));
    }
}
