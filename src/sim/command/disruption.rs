//! Verbs of the eviction API: evict one pod (honouring its
//! PodDisruptionBudget), and drain a node (cordon it, then evict each of its
//! pods until all are gone; the drain itself runs in
//! controllers/disruption.rs).

use super::Ctx;
use crate::sim::controllers::disruption::{
    DisruptionBudgets, Drain, DrainPod, Drains, Eviction, PodFacts, budgets_of, decide_eviction,
};
use crate::sim::model::*;

/// `kubectl drain NODE`: cordon it and start evicting its pods.
pub(super) fn drain(
    cx: &mut Ctx,
    node: &Option<String>,
    of: &Option<String>,
) -> Result<(), String> {
    let (name, ne) = cx.node(node, of)?;
    if cx
        .world
        .resource::<Drains>()
        .0
        .iter()
        .any(|d| d.node == name)
    {
        return Err(format!("{name} is already being drained"));
    }
    let cordoned = cx.world.get::<NodeState>(ne).is_some_and(|s| s.cordoned);
    if !cordoned {
        super::node::set_cordoned(cx, &Some(name.clone()), &None, true)?;
    }
    let mut pods: Vec<DrainPod> = cx
        .world
        .get::<NodePods>(ne)
        .map(|p| p.entities().to_vec())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| cx.world.get::<Pod>(e))
        .map(|p| DrainPod {
            name: p.name.clone(),
            uid: p.uid.clone(),
            next_try_ms: Some(cx.now),
            refused: None,
        })
        .collect();
    pods.sort_by(|a, b| a.name.cmp(&b.name));
    cx.world
        .resource_mut::<Drains>()
        .0
        .push(Drain { node: name, pods });
    cx.touch();
    Ok(())
}

/// The eviction API on one pod: deleted gracefully if its budget allows,
/// else refused with upstream's message.
pub(super) fn evict(cx: &mut Ctx, pod: &str) -> Result<(), String> {
    let e = cx.pod(pod)?;
    let owner = cx
        .world
        .get::<Pod>(e)
        .ok_or("pod is gone")?
        .owner
        .name
        .clone();
    let mut q = cx.world.query::<(&Pod, &PodStatus)>();
    let facts: Vec<PodFacts> = q
        .iter(cx.world)
        .filter(|(p, _)| p.owner.name == owner)
        .map(|(_, s)| PodFacts::of(s))
        .collect();
    let scale = workload_scale(cx, &owner);
    let budgets = cx.world.resource::<DisruptionBudgets>().0.clone();
    let covering = budgets_of(&budgets, &owner, scale, &facts);
    let me = PodFacts::of(cx.world.get::<PodStatus>(e).ok_or("pod is gone")?);
    match decide_eviction(me, &covering) {
        Eviction::Allowed(why) => cx.with_cluster(|cluster, pods| {
            if let Ok((p, mut st)) = pods.get_mut(e) {
                cluster.journal.pods.note(e);
                cluster.request_deletion(p, &mut st, format!("evicted (eviction API): {why}"));
            }
        }),
        Eviction::TooManyRequests(m) | Eviction::Refused(m) => Err(m),
    }
}

/// spec.replicas of the StatefulSet or Deployment named `name` (0 if none).
fn workload_scale(cx: &Ctx, name: &str) -> u32 {
    let idx = cx.index();
    if let Some(s) = idx
        .sets
        .get(name)
        .and_then(|&e| cx.world.get::<StatefulSet>(e))
    {
        return s.spec.replicas;
    }
    idx.deployments
        .get(name)
        .and_then(|&e| cx.world.get::<Deployment>(e))
        .map_or(0, |d| d.spec.replicas)
}
