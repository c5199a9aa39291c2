//! Verbs on storage: delete a claim.

use super::Ctx;
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
