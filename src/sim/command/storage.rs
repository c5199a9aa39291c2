//! Verbs on storage: delete a claim, expand a claim.

use super::Ctx;
use crate::sim::event::{EventKind, SimEvent};
use crate::sim::k8s_event::K8sRecord;
use crate::sim::model::*;

/// `kubectl delete pvc`: the claim is marked; volume binding finishes it once
/// no pod uses it.
pub(super) fn delete_claim(cx: &mut Ctx, claim: &str) -> Result<(), String> {
    let e = *cx
        .index()
        .claims
        .get(claim)
        .ok_or(format!("no claim named {claim}"))?;
    cx.world
        .resource_mut::<crate::sim::model::journal::Journal>()
        .claims
        .note(e);
    let mut cs = cx.world.get_mut::<ClaimStatus>(e).ok_or("claim is gone")?;
    if cs.deleting.is_some() {
        return Err(format!("{claim} is being deleted already"));
    }
    cs.deleting = Some(DeletionCause::User);
    cs.deleting_reason = Some("deleted by the user (kubectl delete pvc)".into());
    cx.touch();
    Ok(())
}

/// `kubectl patch pvc NAME -p '{"spec":{"resources":{"requests":{"storage":…}}}}'`:
/// the claim's request grows to `size_gib`, and the external resizer starts
/// expanding its volume (docs/semantics.md §4.7 claim-expansion). Refused as
/// the API server refuses it: a smaller size by validation
/// (`ValidatePersistentVolumeClaimUpdate`), an unbound claim or a class
/// without allowVolumeExpansion by the PersistentVolumeClaimResize admission
/// plugin. The error is kubectl's text.
pub(super) fn expand_claim(cx: &mut Ctx, claim: &str, size_gib: u32) -> Result<(), String> {
    crate::sim::validate::claim_size(size_gib)?;
    let e = *cx
        .index()
        .claims
        .get(claim)
        .ok_or(format!("no claim named {claim}"))?;
    let c = cx.world.get::<Claim>(e).cloned().ok_or("claim is gone")?;
    let cs = cx
        .world
        .get::<ClaimStatus>(e)
        .cloned()
        .ok_or("claim is gone")?;
    let allows = cx
        .index()
        .classes
        .get(&c.class)
        .is_some_and(|sc| sc.allow_volume_expansion);
    let recover = recover_volume_expansion_failure(cx);
    match expansion_check(&c, &cs, size_gib, allows, recover)? {
        Expansion::Unchanged => return Ok(()),
        Expansion::Grow => {}
    }
    let from_gib = cs.capacity_gib(c.size_gib);
    let volume = cs.volume.clone().unwrap_or_default();
    if let Some(mut claim_obj) = cx.world.get_mut::<Claim>(e) {
        claim_obj.size_gib = size_gib;
    }
    cx.world
        .resource_mut::<crate::sim::model::journal::Journal>()
        .claims
        .note(e);
    let until_ms = cx.now + RESIZE_CONTROLLER_MS;
    if let Some(mut st) = cx.world.get_mut::<ClaimStatus>(e) {
        st.resize = Some(ClaimResize {
            from_gib,
            stage: ResizeStage::Controller { until_ms },
        });
    }
    let mut resizes = cx.world.get_resource_or_init::<ClaimResizes>();
    if !resizes.0.contains(&e) {
        resizes.0.push(e);
    }
    cx.world
        .resource_mut::<crate::sim::SimClock>()
        .wake
        .at(until_ms);
    cx.emit(
        SimEvent::new(
            EventKind::ClaimResizing,
            format!("pvc/{claim}"),
            format!(
                "spec.resources.requests.storage {}Gi → {size_gib}Gi: the external resizer expands volume {volume} (ControllerExpandVolume); status.capacity stays {from_gib}Gi until the file system is grown",
                c.size_gib
            ),
        )
        .volume(volume.clone())
        .k8s(K8sRecord::normal(
            "Resizing",
            format!("persistentvolumeclaim/{claim}"),
            format!("External resizer is resizing volume {volume}"),
        )),
    );
    Ok(())
}

/// RecoverVolumeExpansionFailure (beta, on by default from 1.32, GA in
/// 1.34: feature-gates/RecoverVolumeExpansionFailure.md) changes what a
/// smaller request is checked against.
fn recover_volume_expansion_failure(cx: &Ctx) -> bool {
    use crate::sim::version::{ClusterVersion, KubeVersion};
    cx.world
        .resource::<ClusterVersion>()
        .version
        .minor_release()
        >= KubeVersion::new(1, 32, 0)
}

/// What a request of `size_gib` does to claim `c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expansion {
    Unchanged,
    Grow,
}

/// The API server's checks of a new storage request, in its order:
/// validation refuses a smaller one (less than status.capacity with
/// RecoverVolumeExpansionFailure, less than the previous request without);
/// the PersistentVolumeClaimResize admission plugin refuses to grow a claim
/// that is not bound or whose class does not allow volume expansion.
pub fn expansion_check(
    c: &Claim,
    cs: &ClaimStatus,
    size_gib: u32,
    class_allows: bool,
    recover: bool,
) -> Result<Expansion, String> {
    let name = &c.name;
    let invalid = |why: &str| {
        format!(
            "The PersistentVolumeClaim \"{name}\" is invalid: spec.resources.requests.storage: Forbidden: {why}"
        )
    };
    if size_gib == c.size_gib {
        return Ok(Expansion::Unchanged);
    }
    if size_gib < c.size_gib {
        return Err(match recover {
            true if size_gib < cs.capacity_gib(c.size_gib) => {
                invalid("field can not be less than status.capacity")
            }
            true => format!(
                "error: the simulator does not model recovering from a failed expansion: {name} may not shrink back to {size_gib}Gi while its expansion is under way"
            ),
            false => invalid("field can not be less than previous value"),
        });
    }
    let forbidden = |why: &str| {
        format!(
            "Error from server (Forbidden): persistentvolumeclaims \"{name}\" is forbidden: {why}"
        )
    };
    if cs.volume.is_none() {
        return Err(forbidden(
            "Only bound persistent volume claims can be expanded",
        ));
    }
    if !class_allows {
        return Err(forbidden(
            "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize",
        ));
    }
    Ok(Expansion::Grow)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(size_gib: u32) -> Claim {
        Claim {
            name: "www-web-0".into(),
            set: Some("web".into()),
            ordinal: Some(0),
            template: "www".into(),
            class: "standard".into(),
            size_gib,
            created_ms: 0,
        }
    }

    fn bound() -> ClaimStatus {
        ClaimStatus {
            volume: Some("pv-1".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_claim_grows_only_when_bound_and_its_class_allows_volume_expansion() {
        assert_eq!(
            expansion_check(&claim(10), &bound(), 20, true, true),
            Ok(Expansion::Grow)
        );
        let no_class = expansion_check(&claim(10), &bound(), 20, false, true).unwrap_err();
        assert_eq!(
            no_class,
            "Error from server (Forbidden): persistentvolumeclaims \"www-web-0\" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"
        );
        let unbound =
            expansion_check(&claim(10), &ClaimStatus::default(), 20, true, true).unwrap_err();
        assert!(unbound.ends_with("Only bound persistent volume claims can be expanded"));
        assert_eq!(
            expansion_check(&claim(10), &bound(), 10, false, true),
            Ok(Expansion::Unchanged)
        );
    }

    #[test]
    fn a_claim_cannot_shrink_below_its_capacity_or_before_1_32_its_previous_request() {
        let now = expansion_check(&claim(10), &bound(), 5, true, true).unwrap_err();
        assert_eq!(
            now,
            "The PersistentVolumeClaim \"www-web-0\" is invalid: spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"
        );
        let old = expansion_check(&claim(10), &bound(), 5, true, false).unwrap_err();
        assert!(
            old.ends_with("field can not be less than previous value"),
            "{old}"
        );
    }
}
