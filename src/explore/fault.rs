//! The faults a campaign draws from (`--faults`), what they aim at in a
//! scenario (its nodes, sets and claims), and how one run's sequence is drawn
//! from its seed.

use crate::scenario::format::{Scenario, Step};
use crate::sim::SimCommand;
use crate::sim::model::WorkloadSpec;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One kind of fault or operator action, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    Fail,
    Partition,
    Recover,
    ForceDelete,
    DeletePod,
    DeleteNode,
    OutOfService,
    Crash,
    Scale,
    SetImage,
    DeleteClaim,
    BreakReadiness,
    Cordon,
    Write,
}

impl FaultKind {
    /// Every kind, in the order the reports list them.
    pub const ALL: [FaultKind; 14] = [
        FaultKind::Fail,
        FaultKind::Partition,
        FaultKind::Recover,
        FaultKind::ForceDelete,
        FaultKind::DeletePod,
        FaultKind::DeleteNode,
        FaultKind::OutOfService,
        FaultKind::Crash,
        FaultKind::Scale,
        FaultKind::SetImage,
        FaultKind::DeleteClaim,
        FaultKind::BreakReadiness,
        FaultKind::Cordon,
        FaultKind::Write,
    ];

    /// The name used by `--faults`.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Fail => "fail",
            FaultKind::Partition => "partition",
            FaultKind::Recover => "recover",
            FaultKind::ForceDelete => "force-delete",
            FaultKind::DeletePod => "delete-pod",
            FaultKind::DeleteNode => "delete-node",
            FaultKind::OutOfService => "out-of-service",
            FaultKind::Crash => "crash",
            FaultKind::Scale => "scale",
            FaultKind::SetImage => "set-image",
            FaultKind::DeleteClaim => "delete-claim",
            FaultKind::BreakReadiness => "break-readiness",
            FaultKind::Cordon => "cordon",
            FaultKind::Write => "write",
        }
    }

    /// The kind named `s` on the command line.
    pub fn parse(s: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The kind of a command the generator makes (None for heal commands).
    pub fn of(cmd: &SimCommand) -> Option<FaultKind> {
        Some(match cmd {
            SimCommand::FailNode { .. } => FaultKind::Fail,
            SimCommand::PartitionNode { .. } => FaultKind::Partition,
            SimCommand::RecoverNode { .. } => FaultKind::Recover,
            SimCommand::ForceDeletePod { .. } => FaultKind::ForceDelete,
            SimCommand::DeletePod { .. } => FaultKind::DeletePod,
            SimCommand::DeleteNode { .. } => FaultKind::DeleteNode,
            SimCommand::TaintOutOfService { .. } => FaultKind::OutOfService,
            SimCommand::CrashPod { .. } => FaultKind::Crash,
            SimCommand::Scale { .. } => FaultKind::Scale,
            SimCommand::SetImage { .. } => FaultKind::SetImage,
            SimCommand::DeleteClaim { .. } => FaultKind::DeleteClaim,
            SimCommand::BreakReadiness { .. } => FaultKind::BreakReadiness,
            SimCommand::CordonNode { .. } => FaultKind::Cordon,
            SimCommand::Write { .. } => FaultKind::Write,
            _ => return None,
        })
    }

    /// How often the generator picks it, relative to the others: node
    /// failures and their repairs dominate, as in real incidents.
    fn weight(self) -> u32 {
        match self {
            FaultKind::Fail | FaultKind::Partition | FaultKind::Recover => 14,
            FaultKind::ForceDelete | FaultKind::Scale => 10,
            FaultKind::DeletePod | FaultKind::SetImage | FaultKind::OutOfService => 8,
            FaultKind::DeleteNode | FaultKind::Crash | FaultKind::Write => 6,
            FaultKind::DeleteClaim | FaultKind::BreakReadiness | FaultKind::Cordon => 4,
        }
    }

    /// What the fault does, for the notes of a written scenario.
    pub fn explain(self) -> &'static str {
        match self {
            FaultKind::Fail => {
                "the machine dies: its containers stop; the control plane only sees missing heartbeats"
            }
            FaultKind::Partition => {
                "the machine is cut off from the control plane but keeps running its containers and mounted volumes"
            }
            FaultKind::Recover => "the machine is back and connected",
            FaultKind::ForceDelete => {
                "kubectl delete pod --force --grace-period=0: the object goes at once, without the kubelet confirming that the container stopped"
            }
            FaultKind::DeletePod => {
                "kubectl delete pod: graceful deletion, confirmed by the kubelet"
            }
            FaultKind::DeleteNode => {
                "kubectl delete node: pod GC force-deletes its pods 40 s later"
            }
            FaultKind::OutOfService => {
                "the out-of-service taint: pods are evicted, force-deleted while the node is NotReady, and their volumes detached at once"
            }
            FaultKind::Crash => {
                "the container exits with an error: phase Failed, and the controller recreates the pod"
            }
            FaultKind::Scale => "spec.replicas changes",
            FaultKind::SetImage => "the pod template changes: a new revision and a rolling update",
            FaultKind::DeleteClaim => {
                "kubectl delete pvc: the claim goes once no pod uses it, its volume and data with it"
            }
            FaultKind::BreakReadiness => "the readiness probe starts failing",
            FaultKind::Cordon => "the node is cordoned: no new pods go there",
            FaultKind::Write => "clients write rows to the database's primary",
        }
    }
}

/// One fault of a run: a command and how long after the previous step.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub after_s: f64,
    pub cmd: SimCommand,
}

impl Fault {
    /// The kind of fault (every generated command has one).
    pub fn kind(&self) -> Option<FaultKind> {
        FaultKind::of(&self.cmd)
    }
}

/// Delays between faults, seconds: around the kubelet's grace periods, the
/// node monitor's 40 s, the 300 s eviction and the 6-minute force detach.
pub const DELAYS_S: [f64; 7] = [2.0, 10.0, 30.0, 60.0, 120.0, 330.0, 400.0];
/// Rows of a `write` fault.
const WRITE_ROWS: [u64; 4] = [1, 10, 100, 1000];

/// A StatefulSet as the generator aims at it.
#[derive(Debug, Clone)]
pub struct SetTarget {
    pub name: String,
    pub replicas: u32,
    pub start: u32,
    pub claims: Vec<String>,
    pub image: String,
    pub database: bool,
}

/// What a scenario offers to break: its nodes, sets, Deployments (name,
/// replicas) and broken images.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub nodes: Vec<String>,
    /// The declared nodes as written (to add one back after `delete-node`).
    pub node_specs: Vec<crate::sim::model::NodeSpec>,
    pub sets: Vec<SetTarget>,
    pub deployments: Vec<(String, u32)>,
    pub broken_images: Vec<String>,
}

impl Targets {
    /// The targets of a scenario: its declared nodes and workloads.
    pub fn of(s: &Scenario) -> Targets {
        let mut t = Targets {
            nodes: s.cluster.nodes.iter().map(|n| n.name.clone()).collect(),
            node_specs: s.cluster.nodes.clone(),
            broken_images: s.cluster.broken_images.clone(),
            ..Default::default()
        };
        for w in &s.workloads {
            match w {
                WorkloadSpec::StatefulSet(ss) => t.sets.push(SetTarget {
                    name: ss.name.clone(),
                    replicas: ss.replicas,
                    start: ss.ordinals_start,
                    claims: ss.claims.iter().map(|c| c.name.clone()).collect(),
                    image: ss.template.image.clone(),
                    database: ss.database.is_some(),
                }),
                WorkloadSpec::Deployment(d) => t.deployments.push((d.name.clone(), d.replicas)),
            }
        }
        t
    }

    /// Whether a fault of this kind has anything to aim at.
    fn offers(&self, k: FaultKind) -> bool {
        match k {
            FaultKind::Fail
            | FaultKind::Partition
            | FaultKind::Recover
            | FaultKind::DeleteNode
            | FaultKind::OutOfService
            | FaultKind::Cordon => !self.nodes.is_empty(),
            FaultKind::Scale => !self.sets.is_empty() || !self.deployments.is_empty(),
            FaultKind::DeleteClaim => self.sets.iter().any(|s| !s.claims.is_empty()),
            FaultKind::Write => self.sets.iter().any(|s| s.database),
            _ => !self.sets.is_empty(),
        }
    }

    /// The images `set-image` may set on a set: two new ones, and the
    /// cluster's broken ones (the stuck-rollout trap).
    fn images(&self, s: &SetTarget) -> Vec<String> {
        let mut v = vec![
            format!("{}-explore-1", s.image),
            format!("{}-explore-2", s.image),
        ];
        v.extend(self.broken_images.iter().cloned());
        v
    }
}

/// Draws one run's faults from its seed: 1 to `max_faults` faults of the
/// enabled `kinds`, whose delays add up to at most `until_s` (the first
/// fault always comes).
pub fn draw(
    t: &Targets,
    kinds: &[FaultKind],
    max_faults: usize,
    until_s: f64,
    seed: u64,
) -> Vec<Fault> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let usable: Vec<FaultKind> = kinds.iter().copied().filter(|k| t.offers(*k)).collect();
    let total_weight: u32 = usable.iter().map(|k| k.weight()).sum();
    if total_weight == 0 || max_faults == 0 {
        return Vec::new();
    }
    let n = rng.random_range(1..=max_faults);
    let mut out = Vec::with_capacity(n);
    let mut elapsed = 0.0;
    for _ in 0..n {
        let after_s = DELAYS_S[rng.random_range(0..DELAYS_S.len())];
        if !out.is_empty() && elapsed + after_s > until_s {
            break;
        }
        elapsed += after_s;
        let mut pick = rng.random_range(0..total_weight);
        let kind = usable
            .iter()
            .copied()
            .find(|k| {
                let w = k.weight();
                if pick < w {
                    return true;
                }
                pick -= w;
                false
            })
            .unwrap_or(usable[0]);
        out.push(Fault {
            after_s,
            cmd: command(t, kind, &mut rng),
        });
    }
    out
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, v: &'a [T]) -> &'a T {
    &v[rng.random_range(0..v.len())]
}

/// A pod of one of the sets: ordinals within its declared replicas (and
/// one past them, which scale-ups create).
fn pod(t: &Targets, rng: &mut ChaCha8Rng) -> String {
    let s = pick(rng, &t.sets);
    let ord = s.start + rng.random_range(0..s.replicas.max(1));
    format!("{}-{ord}", s.name)
}

fn node(t: &Targets, rng: &mut ChaCha8Rng) -> Option<String> {
    Some(pick(rng, &t.nodes).clone())
}

/// A command of `kind` aimed at something `t` has (`t.offers(kind)`).
fn command(t: &Targets, kind: FaultKind, rng: &mut ChaCha8Rng) -> SimCommand {
    match kind {
        FaultKind::Fail => SimCommand::FailNode {
            node: node(t, rng),
            of: None,
        },
        FaultKind::Partition => SimCommand::PartitionNode {
            node: node(t, rng),
            of: None,
        },
        FaultKind::Recover => SimCommand::RecoverNode {
            node: node(t, rng),
            of: None,
        },
        FaultKind::DeleteNode => SimCommand::DeleteNode {
            node: node(t, rng),
            of: None,
        },
        FaultKind::OutOfService => SimCommand::TaintOutOfService {
            node: node(t, rng),
            of: None,
        },
        FaultKind::Cordon => SimCommand::CordonNode {
            node: node(t, rng),
            of: None,
        },
        FaultKind::ForceDelete => SimCommand::ForceDeletePod { pod: pod(t, rng) },
        FaultKind::DeletePod => SimCommand::DeletePod { pod: pod(t, rng) },
        FaultKind::Crash => SimCommand::CrashPod {
            pod: pod(t, rng),
            times: 1,
        },
        FaultKind::BreakReadiness => SimCommand::BreakReadiness { pod: pod(t, rng) },
        FaultKind::Scale => {
            let n_sets = t.sets.len();
            let i = rng.random_range(0..n_sets + t.deployments.len());
            let (set, orig) = if i < n_sets {
                (t.sets[i].name.clone(), t.sets[i].replicas)
            } else {
                t.deployments[i - n_sets].clone()
            };
            SimCommand::Scale {
                set,
                replicas: rng.random_range(0..=orig + 2),
            }
        }
        FaultKind::SetImage => {
            let s = pick(rng, &t.sets);
            let image = pick(rng, &t.images(s)).clone();
            SimCommand::SetImage {
                set: s.name.clone(),
                image,
            }
        }
        FaultKind::DeleteClaim => {
            let with: Vec<&SetTarget> = t.sets.iter().filter(|s| !s.claims.is_empty()).collect();
            let s = *pick(rng, &with);
            let ord = s.start + rng.random_range(0..s.replicas.max(1));
            SimCommand::DeleteClaim {
                claim: format!("{}-{}-{ord}", pick(rng, &s.claims), s.name),
            }
        }
        FaultKind::Write => {
            let with: Vec<&SetTarget> = t.sets.iter().filter(|s| s.database).collect();
            SimCommand::Write {
                rows: *pick(rng, &WRITE_ROWS),
                set: Some(pick(rng, &with).name.clone()),
            }
        }
    }
}

/// Simpler variants of a fault, simplest first, for shrinking: earlier
/// nodes, lower ordinals, replicas nearer the declared count, the first new
/// image, fewer rows. The delay is shrunk separately.
pub fn simpler(t: &Targets, f: &Fault) -> Vec<SimCommand> {
    let node_idx = |n: &Option<String>| {
        n.as_ref()
            .and_then(|n| t.nodes.iter().position(|x| x == n))
            .unwrap_or(0)
    };
    let earlier_nodes = |n: &Option<String>| -> Vec<Option<String>> {
        t.nodes[..node_idx(n)]
            .iter()
            .map(|x| Some(x.clone()))
            .collect()
    };
    let lower_pods = |pod: &str| -> Vec<String> {
        let Some((set, ord)) = pod.rsplit_once('-') else {
            return Vec::new();
        };
        let (Ok(ord), Some(s)) = (ord.parse::<u32>(), t.sets.iter().find(|s| s.name == set)) else {
            return Vec::new();
        };
        (s.start..ord).map(|o| format!("{set}-{o}")).collect()
    };
    use SimCommand as C;
    match &f.cmd {
        C::FailNode { node, .. } => earlier_nodes(node)
            .into_iter()
            .map(|node| C::FailNode { node, of: None })
            .collect(),
        C::PartitionNode { node, .. } => earlier_nodes(node)
            .into_iter()
            .map(|node| C::PartitionNode { node, of: None })
            .collect(),
        C::RecoverNode { node, .. } => earlier_nodes(node)
            .into_iter()
            .map(|node| C::RecoverNode { node, of: None })
            .collect(),
        C::DeleteNode { node, .. } => earlier_nodes(node)
            .into_iter()
            .map(|node| C::DeleteNode { node, of: None })
            .collect(),
        C::TaintOutOfService { node, .. } => earlier_nodes(node)
            .into_iter()
            .map(|node| C::TaintOutOfService { node, of: None })
            .collect(),
        C::CordonNode { node, .. } => earlier_nodes(node)
            .into_iter()
            .map(|node| C::CordonNode { node, of: None })
            .collect(),
        C::ForceDeletePod { pod } => lower_pods(pod)
            .into_iter()
            .map(|pod| C::ForceDeletePod { pod })
            .collect(),
        C::DeletePod { pod } => lower_pods(pod)
            .into_iter()
            .map(|pod| C::DeletePod { pod })
            .collect(),
        C::CrashPod { pod, times } => lower_pods(pod)
            .into_iter()
            .map(|pod| C::CrashPod { pod, times: *times })
            .collect(),
        C::BreakReadiness { pod } => lower_pods(pod)
            .into_iter()
            .map(|pod| C::BreakReadiness { pod })
            .collect(),
        C::Scale { set, replicas } => {
            let orig = t
                .sets
                .iter()
                .map(|s| (&s.name, s.replicas))
                .chain(t.deployments.iter().map(|(n, r)| (n, *r)))
                .find(|(n, _)| *n == set)
                .map_or(*replicas, |(_, r)| r);
            let mut v: Vec<u32> = if *replicas > orig {
                (orig..*replicas).collect()
            } else {
                (*replicas + 1..=orig).rev().collect()
            };
            v.retain(|r| r != replicas);
            v.into_iter()
                .map(|replicas| C::Scale {
                    set: set.clone(),
                    replicas,
                })
                .collect()
        }
        C::SetImage { set, image } => {
            let Some(s) = t.sets.iter().find(|s| s.name == *set) else {
                return Vec::new();
            };
            let images = t.images(s);
            let at = images.iter().position(|i| i == image).unwrap_or(0);
            images[..at]
                .iter()
                .map(|image| C::SetImage {
                    set: set.clone(),
                    image: image.clone(),
                })
                .collect()
        }
        C::DeleteClaim { claim } => {
            let Some((prefix, ord)) = claim.rsplit_once('-') else {
                return Vec::new();
            };
            let start = t
                .sets
                .iter()
                .find(|s| prefix.ends_with(&format!("-{}", s.name)))
                .map_or(0, |s| s.start);
            let ord: u32 = ord.parse().unwrap_or(start);
            (start..ord)
                .map(|o| C::DeleteClaim {
                    claim: format!("{prefix}-{o}"),
                })
                .collect()
        }
        C::Write { rows, set } => WRITE_ROWS
            .iter()
            .filter(|r| *r < rows)
            .map(|&rows| C::Write {
                rows,
                set: set.clone(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The heal commands after a run's faults: every node a fault took down
/// recovered, every deleted node added back as declared (the machine
/// registers again), every taint and cordon removed, every broken probe
/// restored.
pub fn heal(t: &Targets, faults: &[Fault]) -> Vec<SimCommand> {
    let mut out: Vec<SimCommand> = Vec::new();
    let mut add = |c: SimCommand| {
        if !out.contains(&c) {
            out.push(c);
        }
    };
    for f in faults {
        match &f.cmd {
            SimCommand::FailNode { node, .. } | SimCommand::PartitionNode { node, .. } => {
                add(SimCommand::RecoverNode {
                    node: node.clone(),
                    of: None,
                })
            }
            SimCommand::TaintOutOfService { node, .. } => add(SimCommand::UntaintOutOfService {
                node: node.clone(),
                of: None,
            }),
            SimCommand::DeleteNode { node, .. } => {
                if let Some(n) = t.node_specs.iter().find(|n| Some(&n.name) == node.as_ref()) {
                    add(SimCommand::AddNode {
                        name: n.name.clone(),
                        zone: n.zone.clone(),
                        cpu_millis: Some(n.cpu_millis),
                        memory_mib: Some(n.memory_mib),
                    })
                }
            }
            SimCommand::CordonNode { node, .. } => add(SimCommand::UncordonNode {
                node: node.clone(),
                of: None,
            }),
            SimCommand::BreakReadiness { pod } => {
                add(SimCommand::RestoreReadiness { pod: pod.clone() })
            }
            _ => {}
        }
    }
    out
}

/// A step that sends `cmd` `after_s` after the previous step.
pub fn do_step(after_s: f64, cmd: SimCommand) -> Step {
    Step {
        after: Some(after_s),
        command: Some(cmd),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> Targets {
        Targets {
            nodes: vec!["node-a".into(), "node-b".into(), "node-c".into()],
            node_specs: vec![],
            sets: vec![SetTarget {
                name: "db".into(),
                replicas: 3,
                start: 0,
                claims: vec!["data".into()],
                image: "mysql:8".into(),
                database: true,
            }],
            deployments: vec![],
            broken_images: vec![],
        }
    }

    #[test]
    fn a_run_draws_the_same_faults_from_the_same_seed() {
        let t = targets();
        let a = draw(&t, &FaultKind::ALL, 8, 1800.0, 42);
        assert_eq!(a, draw(&t, &FaultKind::ALL, 8, 1800.0, 42));
        assert_ne!(a, draw(&t, &FaultKind::ALL, 8, 1800.0, 43));
        assert!((1..=8).contains(&a.len()));
    }

    #[test]
    fn only_enabled_fault_kinds_are_drawn_within_the_time_window() {
        let t = targets();
        for seed in 0..200 {
            let f = draw(&t, &[FaultKind::Fail, FaultKind::Recover], 6, 100.0, seed);
            assert!(
                f.iter()
                    .all(|f| matches!(f.kind(), Some(FaultKind::Fail | FaultKind::Recover)))
            );
            let total: f64 = f.iter().skip(1).map(|f| f.after_s).sum::<f64>() + f[0].after_s;
            assert!(f.len() == 1 || total <= 100.0, "seed {seed}: {total}");
        }
    }

    #[test]
    fn healing_recovers_every_node_taken_down_once() {
        let f = |cmd| Fault { after_s: 1.0, cmd };
        let node = |n: &str| Some(n.to_string());
        let faults = [
            f(SimCommand::PartitionNode {
                node: node("node-a"),
                of: None,
            }),
            f(SimCommand::FailNode {
                node: node("node-a"),
                of: None,
            }),
            f(SimCommand::TaintOutOfService {
                node: node("node-b"),
                of: None,
            }),
        ];
        assert_eq!(
            heal(&targets(), &faults),
            [
                SimCommand::RecoverNode {
                    node: node("node-a"),
                    of: None
                },
                SimCommand::UntaintOutOfService {
                    node: node("node-b"),
                    of: None
                },
            ]
        );
    }

    #[test]
    fn simpler_arguments_aim_at_earlier_nodes_and_lower_ordinals() {
        let t = targets();
        let f = |cmd| Fault { after_s: 1.0, cmd };
        assert_eq!(
            simpler(&t, &f(SimCommand::ForceDeletePod { pod: "db-2".into() })),
            [
                SimCommand::ForceDeletePod { pod: "db-0".into() },
                SimCommand::ForceDeletePod { pod: "db-1".into() }
            ]
        );
        assert!(
            simpler(
                &t,
                &f(SimCommand::FailNode {
                    node: Some("node-a".into()),
                    of: None
                })
            )
            .is_empty()
        );
        assert_eq!(
            simpler(
                &t,
                &f(SimCommand::Scale {
                    set: "db".into(),
                    replicas: 0
                })
            )[0],
            SimCommand::Scale {
                set: "db".into(),
                replicas: 3
            }
        );
    }
}
