//! The left panel's workloads (their status, why they wait, their DNS names
//! and their controls; the lesson above them is `lesson.rs`) and the
//! actions on the selected object. Every action is a `SimCommand`.

use super::UiState;
use crate::gui::host::SimHost;
use crate::sim::SimCommand;
use crate::sim::model::IntOrPercent;
use crate::view::Selection;
use crate::view::scene::Scene;
use bevy_egui::egui;

/// A StatefulSet's or Deployment's status lines in the workloads panel:
/// counts, image, why it waits, its database's writes.
pub fn set_lines(s: &crate::view::scene::SetView) -> Vec<String> {
    let mut out = vec![
        format!(
            "replicas {}  ready {}  current {}  updated {}",
            s.replicas, s.ready, s.current, s.updated
        ),
        format!("image {}", s.image),
    ];
    if let Some(b) = &s.blocked {
        out.push(format!("waiting: {b}"));
    }
    if let Some((w, f, rate)) = s.writes {
        out.push(format!("writes: {w} ok, {f} failed, {rate}/s"));
    }
    out
}

/// A pod's line among its set's DNS records: its name and the address it
/// resolves to (its pod IP, on its node) while the headless service lists it
/// (Running and Ready), "(no address)" when it does not.
pub fn dns_line(p: &crate::view::scene::PodView, s: &crate::view::scene::SetView) -> String {
    match (&p.dns, &p.ip) {
        (Some(d), Some(ip)) => format!("{d} → {ip} ({})", p.node.as_deref().unwrap_or("?")),
        _ => format!("{}.{}… (no address)", p.name, s.service),
    }
}

pub fn workloads_panel(
    ui: &mut egui::Ui,
    host: &mut SimHost,
    scene: &Scene,
    st: &mut UiState,
    sel: &mut Selection,
) {
    ui.heading("Workloads");
    for s in &scene.sets {
        let kind = if s.deployment {
            "Deployment"
        } else {
            "StatefulSet"
        };
        egui::CollapsingHeader::new(egui::RichText::new(format!("{kind} {}", s.name)).strong())
            .id_salt(&s.name)
            .default_open(true)
            .show(ui, |ui| {
                for line in set_lines(s) {
                    if line.starts_with("waiting: ") {
                        ui.label(
                            egui::RichText::new(line)
                                .color(super::theme::c32(super::theme::of(ui.ctx()).warn)),
                        );
                    } else if line.starts_with("image ") {
                        ui.label(egui::RichText::new(line).monospace());
                    } else {
                        ui.label(line);
                    }
                }
                ui.horizontal(|ui| {
                    if ui.button("−1").on_hover_text("scale down").clicked() && s.replicas > 0 {
                        host.send(SimCommand::Scale {
                            set: s.name.clone(),
                            replicas: s.replicas - 1,
                        });
                    }
                    if ui.button("+1").on_hover_text("scale up").clicked() {
                        host.send(SimCommand::Scale {
                            set: s.name.clone(),
                            replicas: s.replicas + 1,
                        });
                    }
                    ui.label("replicas");
                });
                ui.horizontal(|ui| {
                    ui.add(
                        egui::TextEdit::singleline(&mut st.image)
                            .hint_text("new image")
                            .desired_width(140.0),
                    );
                    if ui.button("Set image").clicked() && !st.image.trim().is_empty() {
                        host.send(SimCommand::SetImage {
                            set: s.name.clone(),
                            image: st.image.trim().to_string(),
                        });
                    }
                });
                if !s.deployment {
                    let partition = partition_of(host, &s.name);
                    ui.horizontal(|ui| {
                        ui.label(format!("partition {partition}"));
                        if ui.small_button("−").clicked() && partition > 0 {
                            host.send(SimCommand::SetPartition {
                                set: s.name.clone(),
                                partition: partition - 1,
                            });
                        }
                        if ui.small_button("+").clicked() {
                            host.send(SimCommand::SetPartition {
                                set: s.name.clone(),
                                partition: partition + 1,
                            });
                        }
                        ui.label("maxUnavailable");
                        for v in [1u32, 2, 3] {
                            if ui.small_button(v.to_string()).clicked() {
                                host.send(SimCommand::SetMaxUnavailable {
                                    set: s.name.clone(),
                                    value: IntOrPercent::Int(v),
                                });
                            }
                        }
                    });
                    if let Some((_, _, rate)) = s.writes {
                        ui.horizontal(|ui| {
                            ui.label("write rate");
                            for r in [0.0, 5.0, 50.0] {
                                if ui.selectable_label(rate == r, format!("{r}/s")).clicked() {
                                    host.send(SimCommand::SetWriteRate {
                                        per_second: r,
                                        set: Some(s.name.clone()),
                                    });
                                }
                            }
                            if ui.button("write 100").clicked() {
                                host.send(SimCommand::Write {
                                    rows: 100,
                                    set: Some(s.name.clone()),
                                });
                            }
                        });
                    }
                    // The headless service's records: only Ready pods resolve.
                    ui.label(
                        egui::RichText::new(format!("DNS (headless service {}):", s.service))
                            .small(),
                    );
                    for p in scene.pods.iter().filter(|p| p.owner == s.name && !p.stray) {
                        let th = super::theme::of(ui.ctx());
                        let colour = super::theme::c32(if p.dns.is_some() {
                            th.good
                        } else {
                            th.text_dim
                        });
                        let text = dns_line(p, s);
                        if ui
                            .selectable_label(
                                false,
                                egui::RichText::new(text).monospace().small().color(colour),
                            )
                            .clicked()
                        {
                            sel.0 = Some(p.key.clone());
                        }
                    }
                }
            });
    }
    ui.separator();
    if ui.button("Add a node").clicked() {
        let n = scene.nodes.len() + 1;
        let mut name = format!("node-{n}");
        let mut i = n;
        while scene.node(&name).is_some() {
            i += 1;
            name = format!("node-{i}");
        }
        let zone = scene
            .nodes
            .first()
            .map_or("zone-1".to_string(), |n| n.zone.clone());
        host.send(SimCommand::AddNode {
            name,
            zone,
            cpu_millis: None,
            memory_mib: None,
        });
    }
    if let Some(e) = &host.last_error {
        ui.label(
            egui::RichText::new(format!("refused: {e}"))
                .color(super::theme::c32(super::theme::of(ui.ctx()).bad)),
        );
    }
}

fn partition_of(host: &mut SimHost, set: &str) -> u32 {
    let mut q = host.world.query::<&crate::sim::model::StatefulSet>();
    q.iter(&host.world)
        .find(|s| s.spec.name == set)
        .map_or(0, |s| match s.spec.update_strategy {
            crate::sim::model::UpdateStrategy::RollingUpdate { partition, .. } => partition,
            _ => 0,
        })
}

/// Buttons for what can be done to the selected object.
pub fn selection_actions(ui: &mut egui::Ui, host: &mut SimHost, key: &str, scene: &Scene) {
    ui.horizontal_wrapped(|ui| {
        if let Some(k) = key.strip_prefix("pod/") {
            let Some(p) = scene.pods.iter().find(|p| p.key == key || p.name == k) else {
                return;
            };
            let pod = p.name.clone();
            if ui
                .button("Delete")
                .on_hover_text("kubectl delete pod (graceful)")
                .clicked()
            {
                host.send(SimCommand::DeletePod { pod: pod.clone() });
            }
            if ui
                .button("Force delete")
                .on_hover_text("kubectl delete pod --force --grace-period=0")
                .clicked()
            {
                host.send(SimCommand::ForceDeletePod { pod: pod.clone() });
            }
            if ui
                .button("Crash")
                .on_hover_text("the container exits; the kubelet restarts it in place")
                .clicked()
            {
                host.send(SimCommand::CrashPod {
                    pod: pod.clone(),
                    times: 1,
                });
            }
            if ui
                .button("Crash loop")
                .on_hover_text("the container crashes 5 times in a row: CrashLoopBackOff")
                .clicked()
            {
                host.send(SimCommand::CrashPod {
                    pod: pod.clone(),
                    times: 5,
                });
            }
            if ui
                .button("Kubelet evict")
                .on_hover_text("node-pressure eviction: phase Failed, reason Evicted")
                .clicked()
            {
                host.send(SimCommand::KubeletEvict { pod: pod.clone() });
            }
            if ui.button("Break readiness").clicked() {
                host.send(SimCommand::BreakReadiness { pod: pod.clone() });
            }
            if ui.button("Restore readiness").clicked() {
                host.send(SimCommand::RestoreReadiness { pod: pod.clone() });
            }
            if p.node.is_some() && ui.button("Fail its node").clicked() {
                host.send(SimCommand::FailNode {
                    node: None,
                    of: Some(pod),
                });
            }
        } else if let Some(n) = key.strip_prefix("node/") {
            let node = Some(n.to_string());
            let cordoned = scene.node(n).is_some_and(|n| n.cordoned);
            if ui.button("Fail (machine dies)").clicked() {
                host.send(SimCommand::FailNode {
                    node: node.clone(),
                    of: None,
                });
            }
            if ui
                .button("Partition")
                .on_hover_text("cut off from the control plane; keeps running")
                .clicked()
            {
                host.send(SimCommand::PartitionNode {
                    node: node.clone(),
                    of: None,
                });
            }
            if ui.button("Recover").clicked() {
                host.send(SimCommand::RecoverNode {
                    node: node.clone(),
                    of: None,
                });
            }
            if ui.button("Delete node").clicked() {
                host.send(SimCommand::DeleteNode {
                    node: node.clone(),
                    of: None,
                });
            }
            if ui.button("Taint out-of-service").clicked() {
                host.send(SimCommand::TaintOutOfService {
                    node: node.clone(),
                    of: None,
                });
            }
            if cordoned {
                if ui.button("Uncordon").clicked() {
                    host.send(SimCommand::UncordonNode {
                        node: node.clone(),
                        of: None,
                    });
                }
            } else if ui.button("Cordon").clicked() {
                host.send(SimCommand::CordonNode {
                    node: node.clone(),
                    of: None,
                });
            }
        } else if let Some(v) = key.strip_prefix("pv/") {
            if let Some(vol) = scene.volumes.iter().find(|x| x.name == v)
                && vol.claim_exists
                && ui.button("Delete its claim").clicked()
            {
                host.send(SimCommand::DeleteClaim {
                    claim: vol.claim.clone(),
                });
            }
        } else if key.starts_with("proc/") {
            ui.label("Recover its node to let the kubelet stop this process.");
        }
    });
}
