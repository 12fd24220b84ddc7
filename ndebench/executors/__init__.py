"""Executors run cells and hand each result document back to the runner, which stores it.

``local`` (default): a pool of child processes on this machine. ``dask``: an existing
dask.distributed cluster (extra ``dist``).
"""
