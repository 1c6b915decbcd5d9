//! The `select_group` mode: the switch, not the controller, picks the backend of each new flow,
//! through an OpenFlow SELECT group (OF1.3.5 §5.6.1) whose buckets each rewrite eth_dst/ipv4_dst to
//! one backend and output towards it. Bucket weights are the backends' weights; ejected, draining and
//! weight-0 backends get no bucket. The switch chooses a bucket per flow (Open vSwitch hashes the
//! 5-tuple by default), so a flow stays on its bucket while the group is unchanged.
//!
//! Changing the buckets re-hashes flows in OVS, so a planned change of the buckets waits for the
//! connections on the old ones to go quiet (a transition, `app::transition`); only a backend's
//! ejection modifies the group at once.

use ofproto::action::Action;
use ofproto::flow::FlowMod;
use ofproto::group::{Bucket, GroupMod, GroupModCommand, GroupType};

use super::pool::{Pool, PoolId};
use super::rules::{
    BackendPort, LbCookie, PROACTIVE_PRIORITY, RuleGeneration, RuleKind, to_backend_actions, vip_match,
};

/// Group ids of the LB: `0x4c` in the top byte, then pool and VIP-port index, well below
/// `OFPG_MAX` (0xffffff00).
pub fn group_id(pool: PoolId, port_index: u8) -> u32 {
    0x4c00_0000 | (u32::from(pool.0) << 8) | u32::from(port_index)
}

/// The buckets for VIP port `vip_port`: one per eligible member, weighted by its weight.
pub fn buckets(pool: &Pool, members: &[BackendPort], vip_port: u16) -> Vec<Bucket> {
    members
        .iter()
        .filter_map(|m| {
            // Weight and health from the pool's live state, not from the (possibly older) member.
            let backend = pool.backend(m.target.id).ok().filter(|b| b.is_eligible())?;
            Some(Bucket::new(backend.weight(), to_backend_actions(&m.target, vip_port, m.out_port)))
        })
        .collect()
}

/// One GROUP_MOD per VIP port (the bucket rewrite depends on the port when a backend listens on
/// another one). `command` is `Add` the first time and `Modify` after a weight or health change;
/// a group with no eligible backend has no buckets, and the switch drops its packets.
pub fn group_mods(pool: &Pool, members: &[BackendPort], command: GroupModCommand) -> Vec<GroupMod> {
    pool.config()
        .ports
        .iter()
        .enumerate()
        .map(|(i, &port)| GroupMod {
            command,
            group_type: GroupType::Select,
            group_id: group_id(pool.id, i as u8),
            buckets: buckets(pool, members, port),
        })
        .collect()
}

/// The forward rules: TCP to VIP:port → that port's group.
pub fn forward_rules(pool: &Pool, generation: RuleGeneration) -> Vec<FlowMod> {
    let cookie = LbCookie::new(pool.id, None, RuleKind::Group).encode();
    pool.config()
        .ports
        .iter()
        .enumerate()
        .map(|(i, &port)| {
            FlowMod::add(generation.mark(vip_match(pool.vip(), port)))
                .priority(PROACTIVE_PRIORITY)
                .cookie(cookie)
                .apply_actions(vec![Action::Group(group_id(pool.id, i as u8))])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use ofproto::PortNo;
    use ofproto::oxm::Oxm;

    use super::*;
    use crate::apps::lb::algorithm::Algorithm;
    use crate::apps::lb::backend::BackendId;
    use crate::apps::lb::breaker::ProbeResult;
    use crate::apps::lb::pool::tests::pool;
    use crate::apps::lb::rules::proactive_reverse_rules;

    fn members(p: &Pool) -> Vec<BackendPort> {
        p.backends()
            .iter()
            .filter_map(|b| p.target(b.id).ok())
            .map(|target| BackendPort { target, out_port: PortNo(u32::from(target.id.0) + 2) })
            .collect()
    }

    #[test]
    fn bucket_weights_follow_weights_and_health() {
        let mut p = pool(Algorithm::SelectGroup, &[1, 2, 3, 4]);
        let m = members(&p);
        let weights = |p: &Pool| -> Vec<u16> { buckets(p, &m, 8000).iter().map(|b| b.weight).collect() };
        assert_eq!(weights(&p), vec![1, 2, 3, 4]);
        p.on_probe(BackendId(1), ProbeResult::Failure, None, Instant::now()).expect("exists");
        assert_eq!(weights(&p), vec![1, 3, 4], "ejected backend has no bucket");
        p.set_draining(BackendId(3), true).expect("exists");
        assert_eq!(weights(&p), vec![1, 3]);
        p.set_weight(BackendId(0), 7).expect("exists");
        assert_eq!(weights(&p), vec![7, 3]);
        let b = &buckets(&p, &m, 8000)[1];
        let target = m[2].target;
        assert_eq!(
            b.actions,
            vec![
                Action::SetField(Oxm::EthDst(target.mac, None)),
                Action::SetField(Oxm::Ipv4Dst(target.ip, None)),
                Action::Output { port: PortNo(4), max_len: 0 },
            ]
        );
        assert_eq!(b.watch_port, PortNo::ANY, "select groups watch nothing");
    }

    #[test]
    fn group_and_forward_rules_per_vip_port_and_reverse_per_backend() {
        let p = pool(Algorithm::SelectGroup, &[1, 1]);
        let m = members(&p);
        let mods = group_mods(&p, &m, GroupModCommand::Modify);
        assert_eq!(mods.len(), 1);
        assert_eq!((mods[0].command, mods[0].group_type), (GroupModCommand::Modify, GroupType::Select));
        let fwd = forward_rules(&p, RuleGeneration::default());
        assert_eq!(fwd.len(), 1);
        assert_eq!(
            fwd[0].instructions,
            vec![ofproto::instruction::Instruction::ApplyActions(vec![Action::Group(mods[0].group_id)])]
        );
        assert_eq!(fwd[0].priority, PROACTIVE_PRIORITY);
        let rev = proactive_reverse_rules(p.id, p.vip(), p.vip_mac(), &p.config().ports, &m, PortNo(1));
        assert_eq!(rev.len(), 2);
        assert!(rev[1].r#match.fields.contains(&Oxm::Ipv4Src(m[1].target.ip, None)));
        assert_eq!(
            LbCookie::decode(rev[1].cookie),
            Some(LbCookie::new(p.id, Some(BackendId(1)), RuleKind::Reverse))
        );
        assert_ne!(group_id(PoolId(1), 0), group_id(PoolId(0), 1));
    }
}
