"""The pure planning core: from a StackSpec and observed nodes to a Plan, then to actions."""
