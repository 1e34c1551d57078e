"""The ASGI application (uvicorn serves it; server-sent events need an async server)."""

from django.core.asgi import get_asgi_application

application = get_asgi_application()
