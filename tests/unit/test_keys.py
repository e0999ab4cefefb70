"""The shared vocabulary: label keys and the `stack/group` name of a VIP group."""

from __future__ import annotations

import pytest

from swarmvip.wire import keys
from swarmvip.wire.keys import VipKey


def test_vip_key_prints_and_parses_as_stack_slash_group() -> None:
    key = VipKey("edge", "web")
    assert str(key) == "edge/web" and f"{key}" == "edge/web"
    assert VipKey.parse("edge/web") == key
    assert VipKey.parse(str(VipKey("a", "b-c"))) == VipKey("a", "b-c")
    with pytest.raises(ValueError):
        VipKey.parse("edge")


def test_deployed_label_values_never_change() -> None:
    """Deployed objects carry these strings: a rename would orphan them."""
    assert keys.STACK_NAMESPACE_LABEL == "com.docker.stack.namespace"
    assert keys.OWNED == "swarmvip.owner=swarmvip"
    assert (keys.STACK_LABEL, keys.KIND_LABEL) == ("swarmvip.stack", "swarmvip.kind")
    assert (keys.NODE_LABEL, keys.VRIDS_LABEL) == ("swarmvip.node", "swarmvip.vrids")
    assert (keys.HASH_LABEL, keys.SERVICE_TOP_PRIORITY) == ("swarmvip.hash", "swarmvip.priority")
    lease = ("leader", "renew", "ttl", "expires")
    assert tuple(map("swarmvip.controller.{}".format, lease)) == keys.LEASE_LABELS
    assert all(k.startswith(keys.LABEL_PREFIX) for k in keys.NODE_LABELS)
