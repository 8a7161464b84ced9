"""``b12dx serve``: run the HTTP service (FastAPI under uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import handles_errors

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command()
    @handles_errors
    def serve(
        host: Annotated[
            str | None,
            typer.Option(help="Interface to listen on [env B12DX_HOST; default 127.0.0.1]."),
        ] = None,
        port: Annotated[
            int | None, typer.Option(help="Port [env B12DX_PORT; default 8000].")
        ] = None,
        public_url: Annotated[
            str | None,
            typer.Option(
                help="Base URL clients use (CDS Hooks 'aud', card links) [env B12DX_PUBLIC_URL]."
            ),
        ] = None,
        web_origin: Annotated[
            str | None, typer.Option(help="The one origin CORS allows [env B12DX_WEB_ORIGIN].")
        ] = None,
        kb: Annotated[
            str | None, typer.Option("--kb", help="Knowledge-base folder [env B12DX_KB_DIR].")
        ] = None,
        workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
        log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
        dev_no_auth: Annotated[
            bool,
            typer.Option(
                "--dev-no-auth",
                help="Accept CDS Hooks calls without a JWT (development only; logs a warning).",
            ),
        ] = False,
    ) -> None:
        """Serve the REST API, FHIR endpoints, CDS Hooks services and web pages.

        Example: b12dx serve --port 8000   (then open http://127.0.0.1:8000/docs)
        """
        import copy
        import os

        try:
            import uvicorn

            from ..service.deps import get_settings
            from ..service.settings import Settings
        except ModuleNotFoundError as exc:
            from ..errors import MissingExtraError

            raise MissingExtraError("b12dx serve", "service", exc.name or "fastapi") from None
        settings = Settings.from_env(
            host=host,
            port=port,
            public_url=public_url,
            web_origin=web_origin,
            kb_dir=kb,
            cds_dev_no_auth=True if dev_no_auth else None,
        )
        # workers re-create the app from the environment, so pass the settings through it
        for key, value in (
            ("HOST", settings.host),
            ("PORT", str(settings.port)),
            ("PUBLIC_URL", public_url),
            ("WEB_ORIGIN", web_origin),
            ("KB_DIR", kb),
            ("CDS_DEV_NO_AUTH", "1" if dev_no_auth else None),
        ):
            if value is not None:
                os.environ[f"B12DX_{key}"] = value
        if not os.environ.get("B12DX_LAUNCH_SECRET"):
            # one secret for every worker of this run (tokens do not survive a restart)
            os.environ["B12DX_LAUNCH_SECRET"] = settings.launch_secret.get_secret_value()
        get_settings.cache_clear()
        from ..kb import load_kb

        load_kb(settings.kb_dir)  # fail fast, before binding the port, on a bad KB
        # uvicorn's own access log prints query strings (launch tokens): b12dx logs requests
        # itself, without query or body, on the "b12dx" logger.
        log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
        log_config["loggers"]["b12dx"] = {
            "handlers": ["default"],
            "level": log_level.upper(),
            "propagate": False,
        }
        uvicorn.run(
            "b12dx.service.app:create_served_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_level=log_level,
            access_log=False,
            proxy_headers=False,
            log_config=log_config,
        )
