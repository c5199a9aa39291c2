//! A database's servers: gathering its server processes, finding the server
//! behind the primary's stable name, and giving each new server its role.

use super::{Databases, DbQueries, DbServer, ReplState};
use crate::sim::event::{EventKind, SimEvent};
use crate::sim::model::*;
use crate::sim::ops::{Cluster, describe_state};
use bevy::prelude::*;

/// A server process of the database, as gathered at the start of its pass.
pub(super) struct ServerInfo {
    pub entity: Entity,
    pub pod: String,
    pub uid: String,
    pub ordinal: u32,
    pub node: String,
    pub running: bool,
    /// Its node's machine is up and reaches the control plane.
    pub connected: bool,
    /// Its node is cut off from the control plane but still runs.
    pub partitioned: bool,
    /// The volume it mounted first: its data.
    pub volume: Option<Entity>,
    /// That volume was force-detached from its node under it: the mount is
    /// fenced and its writes fail.
    pub fenced: bool,
}

/// What one database's pass works from, gathered once at its start.
pub(super) struct Pass<'a> {
    pub spec: &'a StatefulSetSpec,
    pub now: u64,
    pub tick: bool,
    /// The servers, sorted by ordinal, node and pod uid.
    pub infos: Vec<ServerInfo>,
    /// The server answering at the primary's stable name (index in `infos`).
    pub endpoint: Option<usize>,
    /// The primary pod's server if it runs and is reachable, Ready or not:
    /// connections already open to it (replication, the clients' pool)
    /// keep working when a readiness blip takes its DNS record away.
    pub alive: Option<usize>,
    /// The primary pod's object, if the API has one (why nothing answers
    /// at its name is worked out from it only for the events that say so).
    pub primary_pod: Option<Entity>,
    /// The primary's pod name: the set's lowest ordinal.
    pub primary_name: String,
}

impl Pass<'_> {
    /// The primary pod's running server, Ready or not.
    pub fn alive(&self) -> Option<&ServerInfo> {
        self.alive.and_then(|i| self.infos.get(i))
    }
    /// Why nothing answers at the primary's name, for the events that say so.
    pub fn endpoint_why(&self, q: &DbQueries) -> String {
        let api = self.primary_pod.and_then(|e| q.pods.get(e).ok());
        why_unreachable(&self.primary_name, api.map(|(_, s)| s), self.now)
    }
    /// `mysql-0.mysql`: the stable name clients and replicas use (made
    /// only for the events that name it).
    pub fn primary_dns(&self) -> String {
        format!("{}.{}", self.primary_name, self.spec.service_name())
    }
    /// The primary's ordinal: `ordinals.start`, not 0.
    pub fn start(&self) -> u32 {
        self.spec.ordinals_start
    }
}

/// Gathers one database's servers and the state of its primary's name, for
/// a pass at `now` (the current instant, or a deferred tick's second).
pub(super) fn gather<'a>(
    cluster: &Cluster,
    q: &DbQueries,
    spec: &'a StatefulSetSpec,
    now: u64,
    tick: bool,
) -> Pass<'a> {
    let primary_name = spec.pod_name(spec.ordinals_start);
    let infos = server_infos(&spec.name, q, &cluster.index);
    let primary_pod = cluster.index.pods.get(&primary_name).copied();
    let api = primary_pod.and_then(|e| q.pods.get(e).ok());
    let serving = api.map(|(p, s)| (p.uid.as_str(), s.serving()));
    let endpoint = primary_endpoint(serving, &infos);
    let alive = primary_endpoint(api.map(|(p, _)| (p.uid.as_str(), true)), &infos);
    Pass {
        spec,
        now,
        tick,
        infos,
        endpoint,
        alive,
        primary_pod,
        primary_name,
    }
}

/// The set's server processes, in a stable order.
fn server_infos(set: &str, q: &DbQueries, index: &Index) -> Vec<ServerInfo> {
    let mut infos: Vec<ServerInfo> = q
        .procs
        .iter()
        .filter(|(_, p, _)| p.owner.kind == OwnerKind::StatefulSet && p.owner.name == set)
        .map(|(e, p, _)| {
            let ns = index.nodes.get(&p.node).and_then(|&n| q.nodes.get(n).ok());
            ServerInfo {
                entity: e,
                pod: p.pod.clone(),
                uid: p.pod_uid.clone(),
                ordinal: p.ordinal.unwrap_or(0),
                node: p.node.clone(),
                running: p.running(),
                connected: ns.is_some_and(|n| n.kubelet_connected()),
                partitioned: ns.is_some_and(|n| n.machine == Machine::Partitioned),
                volume: p
                    .volumes
                    .first()
                    .and_then(|v| index.volumes.get(v).copied()),
                fenced: p.volumes.first().is_some_and(|v| {
                    index
                        .attachment(v, &p.node)
                        .and_then(|a| q.attachments.get(a).ok())
                        .is_some_and(|a| a.forgotten)
                }),
            }
        })
        .collect();
    infos.sort_by(|a, b| (a.ordinal, &a.node, &a.uid).cmp(&(b.ordinal, &b.node, &b.uid)));
    infos
}

/// The server behind the primary's stable name: the primary pod's container,
/// if the API shows the pod Ready and not terminating (`serving` is its uid
/// and that), running on a node that is up. Endpoints follow readiness.
pub(super) fn primary_endpoint(
    serving: Option<(&str, bool)>,
    infos: &[ServerInfo],
) -> Option<usize> {
    let (uid, ready) = serving?;
    if !ready {
        return None;
    }
    infos
        .iter()
        .position(|i| i.uid == uid && i.running && i.connected)
}

/// Why nothing answers at the primary's name, given its pod in the API.
pub(super) fn why_unreachable(primary: &str, api: Option<&PodStatus>, now: u64) -> String {
    match api {
        None => format!("{primary} does not exist, so the name has no address"),
        // The API still lists it Ready (endpoints and DNS keep its IP) but
        // its container or node is gone: connections time out.
        Some(s) if s.ready && !s.terminating() => format!(
            "the name still points at {primary}, shown Ready, but nothing answers there: its container or node is down and the control plane has not noticed yet"
        ),
        Some(s) => format!(
            "{primary} is {}, so the name has no address",
            describe_state(s, now, 0)
        ),
    }
}

/// The role a new server starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Primary,
    /// A volume never initialised: wait for pod N−1, then clone from it.
    CloneFirst,
    /// The volume already holds a data directory: resume replication from
    /// its position.
    Resume,
}

/// The primary is the set's lowest ordinal (`ordinals.start`), whatever it
/// is; a replica clones first unless its volume was ever initialised, even
/// with 0 rows: the tutorial's clone-mysql skips the clone when the data
/// directory exists (`[[ -d /var/lib/mysql/mysql ]] && exit 0`).
pub(super) fn initial_role(ordinal: u32, start: u32, initialized: bool) -> Role {
    if ordinal == start {
        Role::Primary
    } else if !initialized {
        Role::CloneFirst
    } else {
        Role::Resume
    }
}

/// Gives each new server process its role and its server state. New servers
/// are inserted through commands, so they take part from the next pass.
pub(super) fn start_new(
    cluster: &mut Cluster,
    dbs: &mut Databases,
    q: &mut DbQueries,
    pass: &Pass,
) {
    for i in &pass.infos {
        let Ok((_, mut p, server)) = q.procs.get_mut(i.entity) else {
            continue;
        };
        if server.is_some() {
            continue;
        }
        cluster.journal.procs.note(i.entity);
        let (base, initialized) = i
            .volume
            .and_then(|v| q.data.get(v).ok())
            .map_or((0, false), |d| {
                (d.max_seq(), d.initialized || d.max_seq() > 0)
            });
        let writer = dbs.writers.len() as u32;
        dbs.writers.push(format!("{} on {}", i.pod, i.node));
        let role = initial_role(i.ordinal, pass.start(), initialized);
        let state = match role {
            Role::Primary => ReplState::Primary,
            // clone-mysql (init container 1 of 2) runs while the replica
            // clones: the pod stays Pending, Init:1/2. A container restarted
            // in place runs no init containers: it just is not Ready yet.
            Role::CloneFirst if p.init.is_some() => {
                p.init = Some(1);
                ReplState::WaitingForCloneSource
            }
            Role::CloneFirst => {
                p.hold_ready = true;
                ReplState::WaitingForCloneSource
            }
            Role::Resume => {
                cluster.emit(clone_skipped(i, base));
                ReplState::Connecting
            }
        };
        if role != Role::CloneFirst {
            // init-mysql and clone-mysql finish at once: mysqld starts.
            p.init = None;
            if let Some(mut d) = i.volume.and_then(|v| q.data.get_mut(v).ok()) {
                d.initialized = true;
            }
        }
        cluster.commands.entity(i.entity).insert(DbServer {
            set: pass.spec.name.clone(),
            server_id: 100 + i.ordinal,
            primary: role == Role::Primary,
            writer,
            base,
            state,
            position: base,
            last_change_ms: pass.now,
            io_errors: false,
        });
        cluster.touch();
    }
}

fn clone_skipped(i: &ServerInfo, base: u64) -> SimEvent {
    SimEvent::new(
        EventKind::CloneFinished,
        format!("pod/{}", i.pod),
        format!(
            "clone skipped: its volume already holds a MySQL data directory (data up to row {base}); it resumes from there"
        ),
    )
    .node(i.node.clone())
    .detail("skipped")
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A running server of pod `pod` (uid `uid-{pod}`) on a node that is up.
    pub fn server(pod: &str, ordinal: u32) -> ServerInfo {
        ServerInfo {
            entity: Entity::PLACEHOLDER,
            pod: pod.into(),
            uid: format!("uid-{pod}"),
            ordinal,
            node: "node-a".into(),
            running: true,
            connected: true,
            partitioned: false,
            volume: None,
            fenced: false,
        }
    }

    #[test]
    fn primary_is_the_lowest_ordinal_not_ordinal_zero() {
        assert_eq!(initial_role(0, 0, false), Role::Primary);
        assert_eq!(initial_role(1, 1, false), Role::Primary);
        assert_eq!(initial_role(1, 0, false), Role::CloneFirst);
        assert_eq!(initial_role(2, 1, false), Role::CloneFirst);
    }

    #[test]
    fn replica_whose_volume_was_ever_initialised_skips_the_clone_even_with_no_rows() {
        assert_eq!(initial_role(2, 0, false), Role::CloneFirst);
        assert_eq!(
            initial_role(2, 0, true),
            Role::Resume,
            "0 rows, but a data directory"
        );
        assert_eq!(initial_role(0, 0, true), Role::Primary);
    }

    #[test]
    fn primary_name_answers_only_through_a_ready_pods_running_container_on_an_up_node() {
        let infos = vec![server("mysql-1", 1), server("mysql-2", 2)];
        assert_eq!(
            primary_endpoint(Some(("uid-mysql-1", true)), &infos),
            Some(0)
        );
        assert_eq!(
            primary_endpoint(Some(("uid-mysql-1", false)), &infos),
            None,
            "not Ready"
        );
        assert_eq!(primary_endpoint(None, &infos), None, "no pod");
        assert_eq!(
            primary_endpoint(Some(("uid-other", true)), &infos),
            None,
            "a new pod, no container yet"
        );
        let mut down = vec![server("mysql-1", 1)];
        down[0].connected = false;
        assert_eq!(
            primary_endpoint(Some(("uid-mysql-1", true)), &down),
            None,
            "its node is down"
        );
        down[0].connected = true;
        down[0].running = false;
        assert_eq!(
            primary_endpoint(Some(("uid-mysql-1", true)), &down),
            None,
            "its container stopped"
        );
    }

    #[test]
    fn a_ready_primary_whose_node_is_gone_is_explained_as_not_noticed_yet() {
        let ready = PodStatus {
            ready: true,
            phase: PodPhase::Running,
            ..Default::default()
        };
        assert!(why_unreachable("mysql-1", Some(&ready), 0).contains("has not noticed yet"));
        assert_eq!(
            why_unreachable("mysql-1", None, 0),
            "mysql-1 does not exist, so the name has no address"
        );
    }
}
