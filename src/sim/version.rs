//! The Kubernetes release the simulated cluster runs and its feature gates:
//! the version-dependent rules (the StatefulSet update path, the node
//! monitor grace period) read them from the `ClusterVersion` resource.
//!
//! Stages and defaults per release are taken from the upstream feature-gate
//! reference (kubernetes/website
//! content/en/docs/reference/command-line-tools-reference/feature-gates/*.md),
//! see docs/semantics.md §9.

use bevy::prelude::*;
use std::collections::BTreeMap;
use std::fmt;

/// A Kubernetes release, `MAJOR.MINOR.PATCH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KubeVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        KubeVersion {
            major,
            minor,
            patch,
        }
    }

    /// Parses `"1.34"` or `"1.35.4"` (a leading `v` is allowed). A version
    /// without a patch number means its `.0` release, as the feature-gate
    /// reference's `fromVersion: "1.35"` does.
    pub fn parse(s: &str) -> Result<KubeVersion, String> {
        let t = s.trim();
        let t = t.strip_prefix('v').unwrap_or(t);
        let parts: Vec<&str> = t.split('.').collect();
        let bad = || {
            format!(
                "kubernetes_version {s:?} is not a version: expected \"MAJOR.MINOR\" or \"MAJOR.MINOR.PATCH\", e.g. \"1.34\" or \"1.35.4\""
            )
        };
        if !(2..=3).contains(&parts.len()) {
            return Err(bad());
        }
        let num = |p: &str| -> Result<u32, String> {
            if p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        let v = KubeVersion::new(
            num(parts[0])?,
            num(parts[1])?,
            parts.get(2).map_or(Ok(0), |p| num(p))?,
        );
        if v < OLDEST || v.minor_release() > NEWEST.minor_release() {
            return Err(format!(
                "Kubernetes {v} is not supported: the simulator models {} to {} (give one of 1.{}…1.{}, optionally with a patch number)",
                OLDEST.minor_release(),
                NEWEST.minor_release(),
                OLDEST.minor,
                NEWEST.minor
            ));
        }
        Ok(v)
    }

    /// `1.35` for 1.35.4.
    pub fn minor_release(self) -> KubeVersion {
        KubeVersion::new(self.major, self.minor, 0)
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The oldest release modelled.
pub const OLDEST: KubeVersion = KubeVersion::new(1, 31, 0);
/// The newest release whose feature gates are documented upstream; the
/// default when a scenario names none.
pub const NEWEST: KubeVersion = KubeVersion::new(1, 37, 0);

/// A feature gate's maturity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Alpha,
    Beta,
    Stable,
}

impl Stage {
    pub const fn name(self) -> &'static str {
        match self {
            Stage::Alpha => "alpha",
            Stage::Beta => "beta",
            Stage::Stable => "GA",
        }
    }
}

/// One row of a gate's `stages:` list in the feature-gate reference.
#[derive(Debug, Clone, Copy)]
struct GateStage {
    stage: Stage,
    default: bool,
    from: KubeVersion,
    /// Inclusive; a minor version without patch covers all its patches.
    to: Option<KubeVersion>,
}

/// The feature gates whose behaviour the simulator models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FeatureGate {
    /// `maxUnavailable` in a StatefulSet's RollingUpdate, and the budget
    /// update path (stateful_set_control.go
    /// `updateStatefulSetAfterInvariantEstablished`).
    MaxUnavailableStatefulSet,
    /// The kubelet checks that a pod may use an image already on the node
    /// (image_manager.go `EnsureImageExists`); with no pull secrets in the
    /// simulator it changes only the Pulled message: "… already present on
    /// machine and can be accessed by the pod".
    KubeletEnsureSecretPulledImages,
}

impl FeatureGate {
    pub const ALL: &'static [FeatureGate] = &[
        FeatureGate::MaxUnavailableStatefulSet,
        FeatureGate::KubeletEnsureSecretPulledImages,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            FeatureGate::MaxUnavailableStatefulSet => "MaxUnavailableStatefulSet",
            FeatureGate::KubeletEnsureSecretPulledImages => "KubeletEnsureSecretPulledImages",
        }
    }

    pub fn parse(s: &str) -> Option<FeatureGate> {
        Self::ALL.iter().copied().find(|g| g.name() == s)
    }

    /// The stages from the feature-gate reference pages
    /// (feature-gates/MaxUnavailableStatefulSet.md): alpha off 1.24–1.34,
    /// beta on 1.35.0–1.35.3, beta off 1.35.4–1.36 (kubernetes#137904,
    /// the #137409 regression), beta on from 1.37 (kubernetes#139466).
    /// (feature-gates/KubeletEnsureSecretPulledImages.md): alpha off
    /// 1.33–1.34, beta on from 1.35.
    fn stages(self) -> &'static [GateStage] {
        match self {
            FeatureGate::MaxUnavailableStatefulSet => {
                const S: &[GateStage] = &[
                    GateStage {
                        stage: Stage::Alpha,
                        default: false,
                        from: KubeVersion::new(1, 24, 0),
                        to: Some(KubeVersion::new(1, 34, u32::MAX)),
                    },
                    GateStage {
                        stage: Stage::Beta,
                        default: true,
                        from: KubeVersion::new(1, 35, 0),
                        to: Some(KubeVersion::new(1, 35, 3)),
                    },
                    GateStage {
                        stage: Stage::Beta,
                        default: false,
                        from: KubeVersion::new(1, 35, 4),
                        to: Some(KubeVersion::new(1, 36, u32::MAX)),
                    },
                    GateStage {
                        stage: Stage::Beta,
                        default: true,
                        from: KubeVersion::new(1, 37, 0),
                        to: None,
                    },
                ];
                S
            }
            FeatureGate::KubeletEnsureSecretPulledImages => {
                const S: &[GateStage] = &[
                    GateStage {
                        stage: Stage::Alpha,
                        default: false,
                        from: KubeVersion::new(1, 33, 0),
                        to: Some(KubeVersion::new(1, 34, u32::MAX)),
                    },
                    GateStage {
                        stage: Stage::Beta,
                        default: true,
                        from: KubeVersion::new(1, 35, 0),
                        to: None,
                    },
                ];
                S
            }
        }
    }

    /// The gate's stage and default in `v`, None if it does not exist there.
    pub fn in_version(self, v: KubeVersion) -> Option<(Stage, bool)> {
        self.stages()
            .iter()
            .find(|s| s.from <= v && s.to.is_none_or(|to| v <= to))
            .map(|s| (s.stage, s.default))
    }
}

/// How a StatefulSet's RollingUpdate picks the pods to delete, which depends
/// on the release and the MaxUnavailableStatefulSet gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdatePath {
    /// Gate off: one pod at a time from the highest ordinal down to the
    /// partition; maxUnavailable has no effect (the loop at the end of
    /// `updateStatefulSet`).
    Legacy,
    /// Gate on, 1.35–1.36: the maxUnavailable budget counts every
    /// unavailable pod, old broken ones included (kubernetes#137409).
    BudgetCountingOldPods,
    /// Gate on, 1.37 on: under Parallel, unavailable pods of the old
    /// revision are replaced first and do not block the budget
    /// (kubernetes#137666).
    #[default]
    Budget,
}

/// The release the cluster runs and its feature gates, resolved.
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct ClusterVersion {
    pub version: KubeVersion,
    /// Whether the scenario named the version (false: the default).
    pub pinned: bool,
    /// Every modelled gate, resolved: the scenario's value or the default.
    pub gates: BTreeMap<FeatureGate, bool>,
    /// Gates the scenario set explicitly.
    pub overridden: Vec<FeatureGate>,
}

impl Default for ClusterVersion {
    fn default() -> Self {
        ClusterVersion::with_defaults(NEWEST, false)
    }
}

/// What is wrong with a scenario's `kubernetes_version` / `feature_gates`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionError {
    Version(String),
    /// The gate's name as written, and why.
    Gate(String, String),
}

impl ClusterVersion {
    /// Resolves a scenario's version (None: the newest) and gate settings:
    /// each gate takes the scenario's value or the release's default. An
    /// unknown gate, a gate that does not exist in that release, or a GA
    /// gate set against its locked value is an error, as kube-controller-
    /// manager's `--feature-gates` refuses them.
    pub fn resolve(
        version: Option<&str>,
        gates: &BTreeMap<String, bool>,
    ) -> Result<ClusterVersion, VersionError> {
        let v = match version {
            Some(s) => KubeVersion::parse(s).map_err(VersionError::Version)?,
            None => NEWEST,
        };
        let mut out = ClusterVersion::with_defaults(v, version.is_some());
        for (name, &on) in gates {
            let Some(g) = FeatureGate::parse(name) else {
                let known: Vec<&str> = FeatureGate::ALL.iter().map(|g| g.name()).collect();
                return Err(VersionError::Gate(
                    name.clone(),
                    format!(
                        "unknown feature gate {name:?}: the simulator models {}",
                        known.join(", ")
                    ),
                ));
            };
            match g.in_version(v) {
                None => {
                    return Err(VersionError::Gate(
                        name.clone(),
                        format!("feature gate {name} does not exist in Kubernetes {v}"),
                    ));
                }
                Some((Stage::Stable, locked)) if on != locked => {
                    return Err(VersionError::Gate(
                        name.clone(),
                        format!(
                            "feature gate {name} is GA in Kubernetes {v} and locked to {locked}"
                        ),
                    ));
                }
                Some(_) => {}
            }
            out.gates.insert(g, on);
            out.overridden.push(g);
        }
        Ok(out)
    }

    /// Release `v` with every gate at its default.
    fn with_defaults(v: KubeVersion, pinned: bool) -> ClusterVersion {
        let gates = FeatureGate::ALL
            .iter()
            .filter_map(|&g| g.in_version(v).map(|(_, default)| (g, default)))
            .collect();
        ClusterVersion {
            version: v,
            pinned,
            gates,
            overridden: Vec::new(),
        }
    }

    /// Whether `gate` is on.
    pub fn enabled(&self, gate: FeatureGate) -> bool {
        self.gates.get(&gate).copied().unwrap_or(false)
    }

    /// kube-controller-manager's `--node-monitor-grace-period` default:
    /// 40 s up to 1.31, 50 s from 1.32 (kubernetes#126287).
    pub fn node_monitor_grace_ms(&self) -> u64 {
        if self.version.minor_release() <= KubeVersion::new(1, 31, 0) {
            40_000
        } else {
            50_000
        }
    }

    /// The StatefulSet RollingUpdate path of this release and gates.
    pub fn update_path(&self) -> UpdatePath {
        if !self.enabled(FeatureGate::MaxUnavailableStatefulSet) {
            UpdatePath::Legacy
        } else if self.version < KubeVersion::new(1, 37, 0) {
            UpdatePath::BudgetCountingOldPods
        } else {
            UpdatePath::Budget
        }
    }

    /// dropStatefulSetDisabledFields (pkg/registry/apps/statefulset/
    /// strategy.go): with MaxUnavailableStatefulSet off the API server
    /// drops `maxUnavailable` from a StatefulSet it stores. Resets it to the
    /// default and says why, when the spec asked for something else.
    pub fn drop_disabled_fields(
        &self,
        spec: &mut crate::sim::model::StatefulSetSpec,
    ) -> Option<String> {
        use crate::sim::model::{IntOrPercent, UpdateStrategy};
        let UpdateStrategy::RollingUpdate {
            max_unavailable, ..
        } = &mut spec.update_strategy
        else {
            return None;
        };
        if self.enabled(FeatureGate::MaxUnavailableStatefulSet)
            || *max_unavailable == IntOrPercent::default()
        {
            return None;
        }
        let asked = std::mem::take(max_unavailable);
        Some(self.max_unavailable_dropped(&asked))
    }

    /// Why a StatefulSet's `maxUnavailable` `asked` has no effect.
    pub fn max_unavailable_dropped(&self, asked: &crate::sim::model::IntOrPercent) -> String {
        format!(
            "the API server drops spec.updateStrategy.rollingUpdate.maxUnavailable ({}): the MaxUnavailableStatefulSet feature gate is {} in Kubernetes {}, so updates go one pod at a time",
            asked.describe(),
            self.gate_words(FeatureGate::MaxUnavailableStatefulSet),
            self.version
        )
    }

    /// How a gate got its value, in words: "on (beta, default in 1.37.0)".
    pub fn gate_words(&self, gate: FeatureGate) -> String {
        let on = self.enabled(gate);
        let state = if on { "on" } else { "off" };
        let Some((stage, default)) = self.version_stage(gate) else {
            return format!("{state} (not in Kubernetes {})", self.version);
        };
        if self.overridden.contains(&gate) {
            format!(
                "{state} (set by the scenario; {} and default {} in {})",
                stage.name(),
                if default { "on" } else { "off" },
                self.version
            )
        } else {
            format!("{state} ({}, default in {})", stage.name(), self.version)
        }
    }

    fn version_stage(&self, gate: FeatureGate) -> Option<(Stage, bool)> {
        gate.in_version(self.version)
    }

    /// One line for summaries and the window title: "Kubernetes 1.37.0".
    pub fn title(&self) -> String {
        format!("Kubernetes {}", self.version)
    }

    /// "Kubernetes 1.37.0 (default); MaxUnavailableStatefulSet on (beta, default in 1.37.0)".
    pub fn describe(&self) -> String {
        let gates: Vec<String> = self
            .gates
            .keys()
            .map(|&g| format!("{} {}", g.name(), self.gate_words(g)))
            .collect();
        format!(
            "{}{}; feature gates: {}",
            self.title(),
            if self.pinned { "" } else { " (default)" },
            gates.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gates(pairs: &[(&str, bool)]) -> BTreeMap<String, bool> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn a_version_is_major_minor_with_an_optional_patch() {
        assert_eq!(
            KubeVersion::parse("1.34").unwrap(),
            KubeVersion::new(1, 34, 0)
        );
        assert_eq!(
            KubeVersion::parse("v1.35.4").unwrap(),
            KubeVersion::new(1, 35, 4)
        );
        for bad in ["1", "1.34.0.1", "one.two", "1.-3", "", "1..2"] {
            assert!(KubeVersion::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_releases_1_31_to_the_newest_documented_are_supported() {
        assert!(
            KubeVersion::parse("1.30")
                .unwrap_err()
                .contains("not supported")
        );
        assert!(
            KubeVersion::parse("1.38")
                .unwrap_err()
                .contains("1.31.0 to 1.37.0")
        );
        assert!(KubeVersion::parse("1.37.9").is_ok());
        assert!(KubeVersion::parse("2.0").is_err());
    }

    #[test]
    fn max_unavailable_statefulset_defaults_follow_the_feature_gate_reference() {
        let on = |v: &str| {
            ClusterVersion::resolve(Some(v), &BTreeMap::new())
                .unwrap()
                .enabled(FeatureGate::MaxUnavailableStatefulSet)
        };
        assert!(!on("1.31") && !on("1.34.9"));
        assert!(on("1.35") && on("1.35.3"));
        assert!(!on("1.35.4") && !on("1.36"));
        assert!(on("1.37"));
        assert!(ClusterVersion::default().enabled(FeatureGate::MaxUnavailableStatefulSet));
    }

    #[test]
    fn feature_gates_override_the_version_defaults() {
        let v =
            ClusterVersion::resolve(Some("1.34"), &gates(&[("MaxUnavailableStatefulSet", true)]))
                .unwrap();
        assert!(v.enabled(FeatureGate::MaxUnavailableStatefulSet));
        assert_eq!(v.update_path(), UpdatePath::BudgetCountingOldPods);
        assert!(v.describe().contains("set by the scenario"));
        let v = ClusterVersion::resolve(
            Some("1.37"),
            &gates(&[("MaxUnavailableStatefulSet", false)]),
        )
        .unwrap();
        assert_eq!(v.update_path(), UpdatePath::Legacy);
    }

    #[test]
    fn an_unknown_feature_gate_is_an_error() {
        let e = ClusterVersion::resolve(None, &gates(&[("MaxUnavailableStatefulSets", true)]))
            .unwrap_err();
        assert!(
            matches!(&e, VersionError::Gate(n, m) if n == "MaxUnavailableStatefulSets" && m.contains("unknown feature gate"))
        );
    }

    #[test]
    fn the_update_path_follows_the_release_and_the_gate() {
        let path = |v: &str| {
            ClusterVersion::resolve(Some(v), &BTreeMap::new())
                .unwrap()
                .update_path()
        };
        assert_eq!(path("1.34"), UpdatePath::Legacy);
        assert_eq!(path("1.35.0"), UpdatePath::BudgetCountingOldPods);
        assert_eq!(path("1.35.4"), UpdatePath::Legacy);
        assert_eq!(path("1.37"), UpdatePath::Budget);
    }

    #[test]
    fn node_monitor_grace_period_is_40s_up_to_1_31_and_50s_from_1_32() {
        let grace = |v: &str| {
            ClusterVersion::resolve(Some(v), &BTreeMap::new())
                .unwrap()
                .node_monitor_grace_ms()
        };
        assert_eq!(grace("1.31.9"), 40_000);
        assert_eq!(grace("1.32"), 50_000);
        assert_eq!(grace("1.37"), 50_000);
    }

    #[test]
    fn kubelet_ensure_secret_pulled_images_is_alpha_off_in_1_33_and_beta_on_from_1_35() {
        let on = |v: &str| {
            ClusterVersion::resolve(Some(v), &BTreeMap::new())
                .unwrap()
                .enabled(FeatureGate::KubeletEnsureSecretPulledImages)
        };
        let gate = FeatureGate::KubeletEnsureSecretPulledImages;
        assert_eq!(gate.in_version(KubeVersion::new(1, 32, 0)), None);
        assert!(!on("1.32"), "the gate does not exist before 1.33");
        assert!(!on("1.34"));
        assert!(on("1.35"));
        assert!(on("1.37"));
    }
}
