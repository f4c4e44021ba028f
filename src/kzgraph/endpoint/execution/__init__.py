"""How a query is answered: workers, inline answers, the remote pool, kept answers, state.

The lowest layer of the endpoint: a route asks :mod:`.state` for an answer and never sees
which of the three ways (worker process, inline thread, remote store) gave it.
"""
