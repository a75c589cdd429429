"""`HEXA_SANDBOX=kubernetes`: each notebook's marimo in a pod of its own (README "Kubernetes").

`specs` builds the objects Hexa sends (pod, service, token secret) as plain Kubernetes JSON;
`spawner` is the `Spawner` that creates them through the API (lightkube) and the
`NotebookProcess` that watches a pod.
"""
