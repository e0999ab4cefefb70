"""Wire formats shared by the agent and the manager side: paths, agent.json, reports."""
