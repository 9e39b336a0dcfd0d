"""The workshop's companion command: python -m workshop doctor|steps|run|client|verify|diff."""
