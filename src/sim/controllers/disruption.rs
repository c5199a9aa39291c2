//! PodDisruptionBudgets and the eviction API, and `kubectl drain`.
//!
//! A budget's status is computed as the disruption controller does
//! (pkg/controller/disruption/disruption.go: getExpectedPodCount,
//! countHealthyPods, updatePdbStatus); an eviction is allowed or refused as
//! the API server's eviction subresource decides
//! (pkg/registry/core/pod/storage/eviction.go: EvictionREST.Create,
//! canIgnorePDB, checkAndDecrement); a drain cordons the node and evicts
//! each of its pods, retrying a refused eviction every 5 s until the pod is
//! gone (staging/src/k8s.io/kubectl/pkg/drain/drain.go: evictPods).

use crate::sim::SimSystems;
use crate::sim::event::{EventKind, SimEvent};
use crate::sim::model::*;
use crate::sim::ops::Cluster;
use bevy::prelude::*;

/// How long kubectl drain waits before retrying a refused eviction.
pub const DRAIN_RETRY_MS: u64 = 5_000;

/// The upstream refusal (HTTP 429) when a budget allows no disruption.
pub const BUDGET_VIOLATION: &str =
    "Cannot evict pod as it would violate the pod's disruption budget.";

/// The upstream refusal (HTTP 500) when two budgets cover one pod.
pub const TWO_BUDGETS: &str = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.";

/// The PodDisruptionBudgets of the cluster.
#[derive(Resource, Debug, Clone, Default)]
pub struct DisruptionBudgets(pub Vec<DisruptionBudgetSpec>);

/// Drains in progress, by node name.
#[derive(Resource, Debug, Clone, Default)]
pub struct Drains(pub Vec<Drain>);

/// One `kubectl drain NODE`: the pods it must see gone.
#[derive(Debug, Clone, PartialEq)]
pub struct Drain {
    pub node: String,
    pub pods: Vec<DrainPod>,
}

/// A pod a drain evicts: by name and uid (a replacement with the same name
/// is a different pod, as kubectl's waitForDelete checks).
#[derive(Debug, Clone, PartialEq)]
pub struct DrainPod {
    pub name: String,
    pub uid: String,
    /// The next eviction attempt; None once evicted.
    pub next_try_ms: Option<u64>,
    /// The last refusal logged (logged again only when it changes).
    pub refused: Option<String>,
}

/// A budget's status block (policy/v1 PodDisruptionBudgetStatus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BudgetStatus {
    pub expected_pods: u32,
    pub desired_healthy: u32,
    pub current_healthy: u32,
    pub disruptions_allowed: u32,
}

/// A pod as a budget counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodFacts {
    pub ready: bool,
    pub terminating: bool,
    /// Pending, Succeeded or Failed: an eviction ignores budgets.
    pub not_running: bool,
}

impl PodFacts {
    pub fn of(st: &PodStatus) -> Self {
        PodFacts {
            ready: st.ready,
            terminating: st.terminating(),
            not_running: matches!(
                st.phase,
                PodPhase::Pending
                    | PodPhase::ContainerCreating
                    | PodPhase::Succeeded
                    | PodPhase::Failed
            ),
        }
    }
}

/// The budget's status (getExpectedPodCount, countHealthyPods,
/// updatePdbStatus): `scale` is the workload's spec.replicas, `pods` its
/// pods. maxUnavailable and a percentage minAvailable count against the
/// scale (rounding up); an integer minAvailable against the pods that
/// exist. A pod is healthy when Ready and not being deleted.
pub fn budget_status(spec: &DisruptionBudgetSpec, scale: u32, pods: &[PodFacts]) -> BudgetStatus {
    let (expected, desired) = match (&spec.max_unavailable, &spec.min_available) {
        (Some(max), _) => (scale, scale.saturating_sub(max.scaled(scale, true))),
        (None, Some(IntOrPercent::Int(n))) => (pods.len() as u32, *n),
        (None, Some(p)) => (scale, p.scaled(scale, true)),
        (None, None) => (pods.len() as u32, 0),
    };
    let healthy = pods.iter().filter(|p| p.ready && !p.terminating).count() as u32;
    let allowed = if expected == 0 {
        0
    } else {
        healthy.saturating_sub(desired)
    };
    BudgetStatus {
        expected_pods: expected,
        desired_healthy: desired,
        current_healthy: healthy,
        disruptions_allowed: allowed,
    }
}

/// What the eviction API answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eviction {
    /// The pod is deleted gracefully; the sentence says why it was allowed.
    Allowed(String),
    /// 429 TooManyRequests: retry later. The message is upstream's, with its cause.
    TooManyRequests(String),
    /// 500: the pod cannot be evicted at all.
    Refused(String),
}

/// Decides an eviction (EvictionREST.Create): a pod that is not running or
/// already terminating ignores budgets (canIgnorePDB); no budget, it goes;
/// two budgets, refused; an unready pod goes under AlwaysAllow, or under
/// IfHealthyBudget while the budget is healthy; otherwise a disruption must
/// be allowed (checkAndDecrement).
pub fn decide_eviction(
    pod: PodFacts,
    budgets: &[(&DisruptionBudgetSpec, BudgetStatus)],
) -> Eviction {
    if pod.not_running || pod.terminating {
        return Eviction::Allowed("the pod is not running, so no budget applies".into());
    }
    let (spec, st) = match budgets {
        [] => return Eviction::Allowed("no PodDisruptionBudget covers it".into()),
        [one] => one,
        _ => return Eviction::Refused(TWO_BUDGETS.into()),
    };
    if !pod.ready {
        if spec.unhealthy_pod_eviction_policy == UnhealthyPodEvictionPolicy::AlwaysAllow {
            return Eviction::Allowed(format!(
                "it is not Ready and {} has unhealthyPodEvictionPolicy AlwaysAllow",
                spec.name
            ));
        }
        if st.current_healthy >= st.desired_healthy && st.desired_healthy > 0 {
            return Eviction::Allowed(format!(
                "it is not Ready and {} is healthy ({} healthy, {} needed): IfHealthyBudget",
                spec.name, st.current_healthy, st.desired_healthy
            ));
        }
    }
    if st.disruptions_allowed == 0 {
        return Eviction::TooManyRequests(format!(
            "{BUDGET_VIOLATION} The disruption budget {} needs {} healthy pods and has {} currently",
            spec.name, st.desired_healthy, st.current_healthy
        ));
    }
    Eviction::Allowed(format!(
        "{} allows {} disruption{} ({} healthy, {} needed)",
        spec.name,
        st.disruptions_allowed,
        if st.disruptions_allowed == 1 { "" } else { "s" },
        st.current_healthy,
        st.desired_healthy
    ))
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<DisruptionBudgets>()
        .init_resource::<Drains>()
        .add_systems(
            crate::sim::SimSchedule,
            run_drains
                .in_set(SimSystems::Controllers)
                .before(super::statefulset::StatefulSets),
        );
}

/// The scale of each workload, by name.
fn scales(sets: &Query<&StatefulSet>, deps: &Query<&Deployment>) -> Vec<(String, u32)> {
    let mut v: Vec<(String, u32)> = sets
        .iter()
        .map(|s| (s.spec.name.clone(), s.spec.replicas))
        .chain(deps.iter().map(|d| (d.spec.name.clone(), d.spec.replicas)))
        .collect();
    v.sort();
    v
}

/// Every budget covering pods of `owner`, with its status now.
pub fn budgets_of<'b>(
    budgets: &'b [DisruptionBudgetSpec],
    owner: &str,
    scale: u32,
    pods: &[PodFacts],
) -> Vec<(&'b DisruptionBudgetSpec, BudgetStatus)> {
    budgets
        .iter()
        .filter(|b| b.set == owner)
        .map(|b| (b, budget_status(b, scale, pods)))
        .collect()
}

/// Each drain, each pass: pods gone are done; pods due are evicted (or
/// refused, and retried in 5 s); a drain with nothing left is over.
pub(super) fn run_drains(
    mut cluster: Cluster,
    mut drains: ResMut<Drains>,
    budgets: Res<DisruptionBudgets>,
    sets: Query<&StatefulSet>,
    deps: Query<&Deployment>,
    mut pods: Query<(&Pod, &mut PodStatus)>,
) {
    if drains.0.is_empty() {
        return;
    }
    let scales = scales(&sets, &deps);
    let now = cluster.now();
    let mut finished = Vec::new();
    for (i, drain) in drains.0.iter_mut().enumerate() {
        drain.pods.retain(|dp| {
            cluster
                .index
                .pods
                .get(&dp.name)
                .and_then(|&e| pods.get(e).ok())
                .is_some_and(|(p, _)| p.uid == dp.uid)
        });
        for dp in drain.pods.iter_mut() {
            let Some(due) = dp.next_try_ms else { continue };
            if now < due {
                cluster.wake_at(due);
                continue;
            }
            let Some(&e) = cluster.index.pods.get(&dp.name) else {
                continue;
            };
            let owner = pods
                .get(e)
                .map(|(p, _)| p.owner.name.clone())
                .unwrap_or_default();
            let facts: Vec<PodFacts> = pods
                .iter()
                .filter(|(p, _)| p.owner.name == owner)
                .map(|(_, s)| PodFacts::of(s))
                .collect();
            let scale = scales
                .iter()
                .find(|(n, _)| *n == owner)
                .map_or(0, |(_, s)| *s);
            let covering = budgets_of(&budgets.0, &owner, scale, &facts);
            let Ok((p, mut st)) = pods.get_mut(e) else {
                continue;
            };
            cluster.journal.pods.note(e);
            match decide_eviction(PodFacts::of(&st), &covering) {
                Eviction::Allowed(why) => {
                    dp.next_try_ms = None;
                    cluster.request_deletion(
                        p,
                        &mut st,
                        format!(
                            "evicted (kubectl drain {}, eviction API): {why}",
                            drain.node
                        ),
                    );
                }
                Eviction::TooManyRequests(msg) => {
                    dp.next_try_ms = Some(now + DRAIN_RETRY_MS);
                    cluster.wake_at(now + DRAIN_RETRY_MS);
                    refuse(
                        &mut cluster,
                        dp,
                        &drain.node,
                        format!("{msg} (kubectl drain retries after 5s)"),
                    );
                }
                Eviction::Refused(msg) => {
                    // kubectl drain gives up on this pod: the drain cannot finish.
                    dp.next_try_ms = None;
                    refuse(&mut cluster, dp, &drain.node, msg);
                }
            }
        }
        if drain.pods.is_empty() {
            finished.push(i);
        }
    }
    for i in finished.into_iter().rev() {
        let d = drains.0.remove(i);
        cluster.emit(
            SimEvent::new(
                EventKind::NodeDrained,
                format!("node/{}", d.node),
                format!(
                    "every pod {} had to evict is gone (kubectl drain finished)",
                    d.node
                ),
            )
            .node(d.node),
        );
    }
}

/// Logs a refused eviction, unless the same refusal was just logged.
fn refuse(cluster: &mut Cluster, dp: &mut DrainPod, node: &str, msg: String) {
    if dp.refused.as_deref() == Some(msg.as_str()) {
        return;
    }
    dp.refused = Some(msg.clone());
    cluster.emit(
        SimEvent::new(EventKind::EvictionBlocked, format!("pod/{}", dp.name), msg)
            .node(node.to_string()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdb(min: Option<IntOrPercent>, max: Option<IntOrPercent>) -> DisruptionBudgetSpec {
        DisruptionBudgetSpec {
            name: "web-pdb".into(),
            set: "web".into(),
            min_available: min,
            max_unavailable: max,
            unhealthy_pod_eviction_policy: UnhealthyPodEvictionPolicy::IfHealthyBudget,
        }
    }
    const READY: PodFacts = PodFacts {
        ready: true,
        terminating: false,
        not_running: false,
    };
    const UNREADY: PodFacts = PodFacts {
        ready: false,
        terminating: false,
        not_running: false,
    };

    #[test]
    fn disruptions_allowed_is_healthy_pods_minus_desired_healthy() {
        let b = pdb(Some(IntOrPercent::Int(2)), None);
        let st = budget_status(&b, 3, &[READY, READY, READY]);
        assert_eq!(
            (
                st.desired_healthy,
                st.current_healthy,
                st.disruptions_allowed
            ),
            (2, 3, 1)
        );
        let st = budget_status(&b, 3, &[READY, READY, UNREADY]);
        assert_eq!(st.disruptions_allowed, 0);
    }

    #[test]
    fn max_unavailable_counts_against_the_workload_scale_rounding_up() {
        let b = pdb(None, Some(IntOrPercent::Percent("50%".into())));
        // 50% of 3 rounds up to 2 unavailable: 1 must stay healthy.
        let st = budget_status(&b, 3, &[READY, READY, READY]);
        assert_eq!(
            (st.expected_pods, st.desired_healthy, st.disruptions_allowed),
            (3, 1, 2)
        );
        let b = pdb(Some(IntOrPercent::Percent("50%".into())), None);
        assert_eq!(budget_status(&b, 3, &[READY; 3]).desired_healthy, 2);
    }

    #[test]
    fn terminating_pods_are_not_healthy() {
        let b = pdb(None, Some(IntOrPercent::Int(1)));
        let going = PodFacts {
            terminating: true,
            ..READY
        };
        assert_eq!(
            budget_status(&b, 3, &[READY, READY, going]).disruptions_allowed,
            0
        );
    }

    #[test]
    fn eviction_blocked_when_the_budget_allows_no_disruption() {
        let b = pdb(Some(IntOrPercent::Int(2)), None);
        let st = budget_status(&b, 3, &[READY, READY, UNREADY]);
        match decide_eviction(READY, &[(&b, st)]) {
            Eviction::TooManyRequests(m) => {
                assert!(m.starts_with(BUDGET_VIOLATION), "{m}");
                assert!(
                    m.ends_with("needs 2 healthy pods and has 2 currently"),
                    "{m}"
                );
            }
            other => panic!("{other:?}"),
        }
        let st = budget_status(&b, 3, &[READY; 3]);
        assert!(matches!(
            decide_eviction(READY, &[(&b, st)]),
            Eviction::Allowed(_)
        ));
    }

    #[test]
    fn eviction_ignores_budgets_for_pods_not_running_or_terminating() {
        let b = pdb(Some(IntOrPercent::Int(5)), None);
        let st = budget_status(&b, 3, &[READY; 3]);
        let pending = PodFacts {
            not_running: true,
            ready: false,
            terminating: false,
        };
        assert!(matches!(
            decide_eviction(pending, &[(&b, st)]),
            Eviction::Allowed(_)
        ));
        assert!(matches!(decide_eviction(READY, &[]), Eviction::Allowed(_)));
        assert_eq!(
            decide_eviction(READY, &[(&b, st), (&b, st)]),
            Eviction::Refused(TWO_BUDGETS.into())
        );
    }

    #[test]
    fn unhealthy_pod_eviction_policy_decides_for_unready_pods() {
        let mut b = pdb(Some(IntOrPercent::Int(2)), None);
        // Budget healthy (3 ready of 2 needed): an unready 4th may go.
        let healthy = budget_status(&b, 4, &[READY, READY, READY, UNREADY]);
        assert!(matches!(
            decide_eviction(UNREADY, &[(&b, healthy)]),
            Eviction::Allowed(_)
        ));
        // Budget unhealthy (1 ready of 2 needed): IfHealthyBudget refuses…
        let sick = budget_status(&b, 3, &[READY, UNREADY, UNREADY]);
        assert!(matches!(
            decide_eviction(UNREADY, &[(&b, sick)]),
            Eviction::TooManyRequests(_)
        ));
        // …AlwaysAllow lets the unready pod go.
        b.unhealthy_pod_eviction_policy = UnhealthyPodEvictionPolicy::AlwaysAllow;
        assert!(matches!(
            decide_eviction(UNREADY, &[(&b, sick)]),
            Eviction::Allowed(_)
        ));
    }
}
