"""The Docker adapter: the only package that imports docker. Converts to and from our types.

`Cluster` is the port (a Protocol, cluster/port.py) the use cases are given; `DockerCluster`
implements it over an engine, and only swarmvip.commands connects one.
"""

from swarmvip.cluster.sdk import import_docker

import_docker()  # before any module of this package imports docker

from swarmvip.cluster.core import DockerCluster  # noqa: E402
from swarmvip.cluster.port import Cluster, Connect  # noqa: E402

__all__ = ["Cluster", "Connect", "DockerCluster"]
