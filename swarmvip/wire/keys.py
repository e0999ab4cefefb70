"""The names swarmvip shares with the swarm, each defined once. Pure.

* object labels: on every service, config and secret swarmvip writes (deployed stacks carry
  them, so a value here never changes);
* node labels: what an operator (or `swarmvip drain`) sets on a node, in the `swarmvip.`
  namespace, read by `plan.node_labels`;
* lease labels: the write lease in the swarm spec's labels (`cluster.lease`);
* VipKey: the `stack/group` name of one VIP group, as status, drain and the TUI print it.

Agent paths inside a task live in `wire.paths`.
"""

from __future__ import annotations

from dataclasses import dataclass

LABEL_PREFIX = "swarmvip."  # every swarmvip node or object label starts with it

# Object labels. Every object: the docker stack namespace of the VIP layer (vip_namespace: so
# `docker stack ls/ps/services` see it, and the app stack's `docker stack deploy --prune` and
# `docker stack rm` never touch it), the owner, the stack and the kind.
DOCKER_STACK_PREFIX = "com.docker.stack"  # docker stack's own labels; copied to the container
STACK_NAMESPACE_LABEL = f"{DOCKER_STACK_PREFIX}.namespace"
VIP_NAMESPACE_SUFFIX = "-vip"
OWNER_LABEL = "swarmvip.owner"
OWNER = "swarmvip"  # the value of OWNER_LABEL
STACK_LABEL = "swarmvip.stack"
KIND_LABEL = "swarmvip.kind"
KIND_KEEPALIVED = "keepalived"  # a pinned keepalived service
KIND_CONTROLLER = "controller"  # the controller service (stacks/controller.yml sets it)
KIND_SPEC = "spec"  # the stored stack spec (a config)
KIND_CONFIG = "config"  # a keepalived.conf or agent.json config
KIND_SECRET = "secret"  # a VRRP password made from a file
KIND_CONTROL_KEY = "control-key"  # the swarm-wide runtime channel key (wire.command.KEY_SECRET)
KIND_RELAY = "relay"  # the swarm-wide relay service on the managers (wire.relay)
RELAY_SERVICE = "swarmvip_relay"
# A keepalived service also carries:
NODE_LABEL = "swarmvip.node"  # the id of the node it is pinned to
VRIDS_LABEL = "swarmvip.vrids"  # "group=vrid,..." of its instances
HASH_LABEL = "swarmvip.hash"  # a digest of the service spec swarmvip wrote
# The same digest with every VRRP priority left out: two specs of one shape differ only in
# priorities, which the runtime channel (wire.command) changes without restarting the task.
SHAPE_LABEL = "swarmvip.shape"
# The highest priority among its instances (diff orders updates by it). A SERVICE label that
# happens to share its key with the node label NODE_PRIORITY below: deployed services carry it,
# so the string stays.
SERVICE_TOP_PRIORITY = "swarmvip.priority"

# Node labels (values validated by plan.node_labels).
NODE_PRIORITY = "swarmvip.priority"  # also swarmvip.priority.<group>
NODE_INTERFACE = "swarmvip.interface"
NODE_UNICAST = "swarmvip.unicast"
NODE_UNICAST6 = "swarmvip.unicast6"
NODE_DRAIN = "swarmvip.drain"
NODE_LABELS = (NODE_PRIORITY, NODE_INTERFACE, NODE_UNICAST, NODE_UNICAST6, NODE_DRAIN)
DRAIN_SWARM = "swarm"  # NODE_DRAIN value: drained, and `drain --swarm` set the availability

# Lease labels, on the swarm spec.
LEASE_LEADER = "swarmvip.controller.leader"  # the holder's identity
LEASE_RENEW = "swarmvip.controller.renew"  # a counter the holder bumps on every renewal
LEASE_TTL = "swarmvip.controller.ttl"  # how long the holder may go between renewals
LEASE_EXPIRES = "swarmvip.controller.expires"  # legacy wall-clock expiry, for older readers
LEASE_LABELS = (LEASE_LEADER, LEASE_RENEW, LEASE_TTL, LEASE_EXPIRES)


def label_filter(key: str, value: str) -> str:
    """An engine label filter matching `key` equal to `value`."""
    return f"{key}={value}"


OWNED = label_filter(OWNER_LABEL, OWNER)  # the filter for "written by swarmvip"


def vip_namespace(stack: str) -> str:
    """The docker stack namespace of stack's VIP layer: `<stack>-vip`, beside the app's own
    `<stack>` (swarmvip finds its objects by STACK_LABEL, never by the namespace)."""
    return f"{stack}{VIP_NAMESPACE_SUFFIX}"


@dataclass(frozen=True, slots=True, order=True)
class VipKey:
    """One VIP group across stacks: printed and parsed as `stack/group`."""

    stack: str
    group: str

    def __str__(self) -> str:
        return f"{self.stack}/{self.group}"

    @classmethod
    def parse(cls, text: str) -> VipKey:
        """`stack/group` back into a VipKey; ValueError when there is no `/`."""
        stack, sep, group = text.partition("/")
        if not sep:
            raise ValueError(f"{text!r} is not stack/group")
        return cls(stack, group)
