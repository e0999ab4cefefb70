"""The Docker adapter: the only package that imports docker. Converts to and from our types."""

from swarmvip.cluster.core import Cluster

__all__ = ["Cluster"]
