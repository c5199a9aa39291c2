//! The branches of a what-if exploration: each is a tape (the scenario's
//! inputs from outside, see scenario/tape.rs) with the branch it forked
//! from. Acting at a past instant forks a new branch and keeps the old
//! future; acting as the branch did before re-runs it without forking.

use crate::scenario::tape::Entry;

/// One line of exploration.
#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    pub id: u32,
    pub name: String,
    pub parent: Option<u32>,
    /// The instant it left its parent, and the action that made it.
    pub fork_ms: u64,
    pub forked_by: String,
    pub tape: Vec<Entry>,
    /// The furthest instant it has been played to.
    pub reached_ms: u64,
}

/// What recording an input did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The branch did exactly this next: its future runs on unchanged.
    Replayed,
    /// At the branch's newest instant: appended.
    Appended,
    /// At a past instant: a new branch (or the existing one that did it).
    Forked,
}

/// Every branch, and which one is shown.
#[derive(Debug, Clone)]
pub struct Branches {
    pub list: Vec<Branch>,
    /// Index into `list` of the branch shown.
    pub current: usize,
    next_id: u32,
}

impl Default for Branches {
    fn default() -> Self {
        Branches {
            list: vec![Branch {
                id: 0,
                name: "main".into(),
                parent: None,
                fork_ms: 0,
                forked_by: String::new(),
                tape: Vec::new(),
                reached_ms: 0,
            }],
            current: 0,
            next_id: 1,
        }
    }
}

impl Branches {
    pub fn current(&self) -> &Branch {
        &self.list[self.current]
    }

    pub fn index_of(&self, id: u32) -> Option<usize> {
        self.list.iter().position(|b| b.id == id)
    }

    /// The current branch has been played to `now`.
    pub fn reached(&mut self, now: u64) {
        let b = &mut self.list[self.current];
        b.reached_ms = b.reached_ms.max(now);
    }

    /// Records `entry` on the current branch, whose first `*next` entries
    /// have been given to the world shown.
    pub fn record(&mut self, entry: Entry, next: &mut usize) -> Recorded {
        let cur = &mut self.list[self.current];
        if cur.tape.get(*next) == Some(&entry) {
            *next += 1;
            return Recorded::Replayed;
        }
        let in_the_past = *next < cur.tape.len() || entry.t_ms < cur.reached_ms;
        if !in_the_past {
            cur.tape.push(entry);
            *next += 1;
            return Recorded::Appended;
        }
        let mut tape = cur.tape[..*next].to_vec();
        tape.push(entry.clone());
        let parent = cur.id;
        *next = tape.len();
        // Doing again what an existing branch did there goes to that branch.
        if let Some(i) = self
            .list
            .iter()
            .position(|b| b.parent == Some(parent) && b.tape.starts_with(&tape))
        {
            self.current = i;
            return Recorded::Forked;
        }
        self.list.push(Branch {
            id: self.next_id,
            name: entry.describe(),
            parent: Some(parent),
            fork_ms: entry.t_ms,
            forked_by: entry.describe(),
            tape,
            reached_ms: entry.t_ms,
        });
        self.next_id += 1;
        self.current = self.list.len() - 1;
        Recorded::Forked
    }

    /// Deletes a branch (never main); its children hang from its parent.
    /// Returns the index of the branch to show if it was the current one.
    pub fn delete(&mut self, id: u32) -> Result<Option<usize>, String> {
        let i = self.index_of(id).ok_or("no such branch")?;
        let Some(parent) = self.list[i].parent else {
            return Err("main cannot be deleted".into());
        };
        let was_current = i == self.current;
        let current_id = self.current().id;
        for b in &mut self.list {
            if b.parent == Some(id) {
                b.parent = Some(parent);
            }
        }
        self.list.remove(i);
        let show = if was_current { parent } else { current_id };
        self.current = self.index_of(show).unwrap_or(0);
        Ok(was_current.then_some(self.current))
    }

    /// The branches as a tree, depth first, each with its depth.
    pub fn tree(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        self.walk(None, 0, &mut out);
        out
    }

    fn walk(&self, parent: Option<u32>, depth: usize, out: &mut Vec<(usize, usize)>) {
        for (i, b) in self.list.iter().enumerate() {
            if b.parent == parent {
                out.push((i, depth));
                self.walk(Some(b.id), depth + 1, out);
            }
        }
    }

    /// The forks to mark on the current branch's timeline: where it left
    /// its parent and where others left it, (instant, branch name).
    pub fn fork_marks(&self) -> Vec<(u64, String)> {
        let cur = self.current();
        let mut marks: Vec<(u64, String)> = self
            .list
            .iter()
            .filter(|b| b.parent == Some(cur.id))
            .map(|b| (b.fork_ms, b.name.clone()))
            .collect();
        if cur.parent.is_some() {
            marks.push((cur.fork_ms, cur.name.clone()));
        }
        marks.sort();
        marks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::tape::Input;
    use crate::sim::SimCommand;

    fn act(t_ms: u64, pod: &str) -> Entry {
        Entry {
            t_ms,
            input: Input::Command(SimCommand::ForceDeletePod { pod: pod.into() }),
            cursor: 0,
            armed_ms: 0,
        }
    }

    #[test]
    fn acting_at_a_past_instant_forks_and_keeps_the_old_future() {
        let mut b = Branches::default();
        let mut next = 0;
        b.reached(600_000);
        // Rewound to 400 s on main (which went on to 600 s): a fork.
        assert_eq!(b.record(act(400_000, "web-1"), &mut next), Recorded::Forked);
        assert_eq!(b.list.len(), 2);
        assert_eq!(b.current().parent, Some(0));
        assert_eq!(b.list[0].tape.len(), 0, "main keeps its future");
        // At the new branch's newest instant: appended, no fork.
        b.reached(450_000);
        assert_eq!(
            b.record(act(450_000, "web-2"), &mut next),
            Recorded::Appended
        );
        assert_eq!(b.current().tape.len(), 2);
        assert_eq!(b.fork_marks(), vec![(400_000, b.current().name.clone())]);
    }

    #[test]
    fn doing_what_the_branch_did_re_runs_it_without_forking() {
        let mut b = Branches::default();
        let mut next = 0;
        b.record(act(400_000, "web-1"), &mut next);
        b.reached(600_000);
        // Rewound to before it: the same action at the same instant.
        let mut next = 0;
        assert_eq!(
            b.record(act(400_000, "web-1"), &mut next),
            Recorded::Replayed
        );
        assert_eq!((b.list.len(), next), (1, 1));
        // A different one there forks; doing it again returns to that fork.
        let mut next = 0;
        assert_eq!(b.record(act(400_000, "web-2"), &mut next), Recorded::Forked);
        b.current = 0;
        let mut next = 0;
        b.record(act(400_000, "web-2"), &mut next);
        assert_eq!((b.list.len(), b.current), (2, 1));
    }

    #[test]
    fn deleting_a_branch_keeps_its_children_and_never_main() {
        let mut b = Branches::default();
        b.reached(600_000);
        let mut next = 0;
        b.record(act(100_000, "web-1"), &mut next); // id 1 from main
        b.reached(600_000);
        let mut next = 0;
        b.record(act(50_000, "web-2"), &mut next); // id 2 from 1
        assert!(b.delete(0).is_err());
        assert_eq!(b.delete(1), Ok(None));
        assert_eq!(b.current().id, 2);
        assert_eq!(b.current().parent, Some(0));
        assert_eq!(b.tree(), vec![(0, 0), (1, 1)]);
        assert_eq!(b.delete(2), Ok(Some(0)));
    }
}
