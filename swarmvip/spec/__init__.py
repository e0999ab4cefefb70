"""The stack-file language: YAML in, a validated StackSpec out (and back, for storage)."""
