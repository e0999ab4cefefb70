"""The status model: a pure fold of the swarm's view and the agents' own reports."""
