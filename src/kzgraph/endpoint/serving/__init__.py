"""Putting it together: the ASGI app, data preparation, the process supervisor, the server."""
