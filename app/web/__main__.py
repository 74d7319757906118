"""`python -m app.web [--host H] [--port P]`: the API with the explorer mounted, for the
browser tests, the explorer benchmark and local use before app/api/asgi.py mounts it.
Settings come from the environment (IDGRAPH_STORE, IDGRAPH_API_KEYS, ...)."""

from __future__ import annotations

import argparse
import asyncio


def main() -> None:
    import uvicorn

    from app.api.asgi import create_app
    from app.bootstrap import start
    from app.config import Settings
    from app.web.routes import mount_explorer

    parser = argparse.ArgumentParser(prog="python -m app.web")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args()

    async def serve() -> None:
        services = await start(Settings())
        app = mount_explorer(create_app(services))
        config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                                access_log=args.access_log)
        await uvicorn.Server(config).serve()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
