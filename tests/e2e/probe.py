"""The client probe of the e2e tests: the one bench/ uses too (swarmvip_lab.probe)."""

from swarmvip_lab.probe import Probe, ProbeResult

__all__ = ["Probe", "ProbeResult"]
