//! Shrinking a failing fault sequence by delta debugging (Zeller's ddmin):
//! drop chunks of steps, then single steps; move each step earlier (shorter
//! delay) or later (after its successor); simplify each step's arguments.
//! A change is kept only when the run still fails the same property.

use super::fault::{DELAYS_S, Fault};
use crate::sim::SimCommand;

/// Runs and outcome of a shrink.
#[derive(Debug, Clone)]
pub struct Shrunk {
    pub faults: Vec<Fault>,
    /// Runs spent (each candidate is one run).
    pub runs: u32,
}

/// The shrinker: `fails` runs a candidate and says whether it still fails
/// the same way; `simpler` lists simpler commands for a fault; at most
/// `budget` candidates are run.
pub struct Shrinker<'a> {
    pub fails: &'a mut dyn FnMut(&[Fault]) -> bool,
    pub simpler: &'a dyn Fn(&Fault) -> Vec<SimCommand>,
    pub budget: u32,
    runs: u32,
}

impl<'a> Shrinker<'a> {
    /// A shrinker with a run budget.
    pub fn new(
        fails: &'a mut dyn FnMut(&[Fault]) -> bool,
        simpler: &'a dyn Fn(&Fault) -> Vec<SimCommand>,
        budget: u32,
    ) -> Self {
        Shrinker {
            fails,
            simpler,
            budget,
            runs: 0,
        }
    }

    fn try_(&mut self, c: &[Fault]) -> bool {
        if self.runs >= self.budget {
            return false;
        }
        self.runs += 1;
        (self.fails)(c)
    }

    /// Shrinks `faults` (which fail) until no pass changes anything.
    pub fn shrink(mut self, faults: Vec<Fault>) -> Shrunk {
        let mut cur = faults;
        loop {
            let before = cur.clone();
            cur = self.drop_steps(cur);
            cur = self.move_steps(cur);
            cur = self.simplify(cur);
            if cur == before || self.runs >= self.budget {
                break;
            }
        }
        Shrunk {
            faults: cur,
            runs: self.runs,
        }
    }

    /// ddmin: remove one of `n` chunks at a time, refining down to single
    /// steps.
    fn drop_steps(&mut self, mut cur: Vec<Fault>) -> Vec<Fault> {
        let mut n = 2usize;
        while !cur.is_empty() {
            let len = cur.len();
            let chunk = len.div_ceil(n);
            let mut reduced = false;
            for start in (0..len).step_by(chunk.max(1)) {
                let mut cand = cur.clone();
                cand.drain(start..(start + chunk).min(len));
                if self.try_(&cand) {
                    cur = cand;
                    n = n.saturating_sub(1).max(2);
                    reduced = true;
                    break;
                }
            }
            if !reduced {
                if n >= len {
                    break;
                }
                n = (n * 2).min(len);
            }
        }
        cur
    }

    /// Each step earlier (a shorter delay, shortest first), then later
    /// (swapped with the step after it).
    fn move_steps(&mut self, mut cur: Vec<Fault>) -> Vec<Fault> {
        for i in 0..cur.len() {
            for &d in DELAYS_S.iter().filter(|&&d| d < cur[i].after_s) {
                let mut cand = cur.clone();
                cand[i].after_s = d;
                if self.try_(&cand) {
                    cur = cand;
                    break;
                }
            }
        }
        for i in 0..cur.len().saturating_sub(1) {
            let mut cand = cur.clone();
            let (a, b) = (cand[i].cmd.clone(), cand[i + 1].cmd.clone());
            if a == b {
                continue;
            }
            cand[i].cmd = b;
            cand[i + 1].cmd = a;
            if self.try_(&cand) {
                cur = cand;
            }
        }
        cur
    }

    /// Each step's arguments, simplest variant first.
    fn simplify(&mut self, mut cur: Vec<Fault>) -> Vec<Fault> {
        for i in 0..cur.len() {
            for cmd in (self.simpler)(&cur[i]) {
                let mut cand = cur.clone();
                cand[i].cmd = cmd;
                if self.try_(&cand) {
                    cur = cand;
                    break;
                }
            }
        }
        cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(after_s: f64, pod: &str) -> Fault {
        Fault {
            after_s,
            cmd: SimCommand::DeletePod { pod: pod.into() },
        }
    }
    fn pods(f: &[Fault]) -> Vec<String> {
        f.iter()
            .map(|f| match &f.cmd {
                SimCommand::DeletePod { pod } => pod.clone(),
                _ => String::new(),
            })
            .collect()
    }

    #[test]
    fn delta_debugging_keeps_only_the_steps_the_failure_needs() {
        // Fails when "x" comes before "y", whatever else happens.
        let mut fails = |f: &[Fault]| {
            let p = pods(f);
            let x = p.iter().position(|s| s == "x");
            let y = p.iter().position(|s| s == "y");
            matches!((x, y), (Some(a), Some(b)) if a < b)
        };
        let none = |_: &Fault| -> Vec<SimCommand> { Vec::new() };
        let names = ["a", "b", "x", "c", "d", "e", "y", "f", "g", "h"];
        let faults: Vec<Fault> = names.iter().map(|n| fault(400.0, n)).collect();
        let s = Shrinker::new(&mut fails, &none, 1000).shrink(faults);
        assert_eq!(pods(&s.faults), ["x", "y"]);
        assert!(
            s.faults.iter().all(|f| f.after_s == DELAYS_S[0]),
            "delays move as early as the failure allows"
        );
    }

    #[test]
    fn shrinking_simplifies_arguments_and_stops_at_the_budget() {
        let mut fails = |f: &[Fault]| !f.is_empty();
        let simpler = |f: &Fault| match &f.cmd {
            SimCommand::DeletePod { pod } if pod != "p-0" => {
                vec![SimCommand::DeletePod { pod: "p-0".into() }]
            }
            _ => Vec::new(),
        };
        let s = Shrinker::new(&mut fails, &simpler, 1000).shrink(vec![fault(2.0, "p-3")]);
        assert_eq!(pods(&s.faults), ["p-0"]);
        let mut count = 0;
        let mut fails = |_: &[Fault]| {
            count += 1;
            true
        };
        let s = Shrinker::new(&mut fails, &simpler, 3)
            .shrink((0..20).map(|i| fault(400.0, &format!("p-{i}"))).collect());
        assert_eq!(s.runs, 3);
    }
}
